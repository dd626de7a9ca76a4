"""README and documentation statements that code can check: they stay true when the code moves.

The manual lives in docs/ (the site); README.md is the front page that links
into it. tests/test_docs.py runs their examples; this file checks what they
say in prose and tables.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulator.metrics import ALL_CHANNEL_METRICS, GROUP_METRICS, HOURLY_METRICS, KPI_NAMES
from simulator.scenario import bundled_dir

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _page(path: str) -> str:
    return (DOCS / path).read_text(encoding="utf-8")


def _section(text: str, title: str) -> str:
    start = text.index(title)
    level = title.split(" ")[0]
    end = text.find(f"\n{level} ", start + len(title))
    return text[start:end if end > 0 else None]


def test_the_concepts_page_defines_every_kpi_and_metric():
    kpis = _section(_page("concepts.md"), "## KPIs")
    missing = [k for k in (*KPI_NAMES, *ALL_CHANNEL_METRICS, *GROUP_METRICS, *HOURLY_METRICS) if f"`{k}`" not in kpis]
    assert not missing, f"docs/concepts.md's KPI tables lack {missing}"


def test_the_sweep_columns_are_those_a_sweep_writes():
    from simulator.sweep import SUMMARY_COLUMNS

    text = _page("tasks/sweeps.md")
    sentence = text[text.index("one row per point and figure"):]
    sentence = sentence[:sentence.index(";")]
    named = re.findall(r"`([a-z_]+)`", sentence)
    assert set(named) == {"point", "point_id", *SUMMARY_COLUMNS, "precision_met"}, named


def test_the_comparison_columns_are_those_compare_returns():
    from simulator.compare import COLUMNS

    text = _page("tasks/what-if.md")
    sentence = text[text.index("Columns: "):]
    sentence = sentence[:sentence.index(", then")]
    named = re.findall(r"[a-z_]+", sentence.removeprefix("Columns: "))
    assert named == list(COLUMNS[:COLUMNS.index("significant") + 1])


def test_the_throughput_claim_is_what_the_benchmark_runs_by_default():
    source = (ROOT / "benchmarks" / "throughput.py").read_text(encoding="utf-8")
    claim = re.search(r"At ([\d,]+)\s+customers \(best of (\d+)\)", _page("performance.md"))
    assert claim, "docs/performance.md no longer states the throughput benchmark's size"
    customers, repeat = int(claim.group(1).replace(",", "")), int(claim.group(2))
    assert f"else {customers:_}" in source, "the benchmark's default customers differ from the page's claim"
    assert f"1 if args.quick else {repeat}" in source, "the benchmark's default repeats differ from the page's"


def _slug(heading: str) -> str:
    """A heading's anchor, as MkDocs (and GitHub) make it."""
    return re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", heading.strip().lower()))


def test_the_readme_links_into_the_site_resolve():
    links = re.findall(r"\]\(((?:docs/)[^)#\s]+)(#[^)\s]+)?\)", README)
    assert len(links) >= 10, "README links into the documentation"
    for target, anchor in links:
        path = ROOT / target
        assert path.is_file(), f"README links to {target}, which does not exist"
        if anchor and path.suffix == ".md":
            headings = re.findall(r"^#+ (.+?)(?: \{#[\w-]+\})?$", path.read_text(encoding="utf-8"), re.MULTILINE)
            assert anchor[1:] in {_slug(h) for h in headings}, f"README links to {target}{anchor}: no such heading"


def test_every_page_is_in_the_site_navigation():
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    pages = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if "hooks" not in p.parts)
    assert [p for p in pages if p not in nav] == []


@pytest.mark.parametrize("path", sorted(bundled_dir().rglob("*.toml")), ids=lambda p: p.name)
def test_bundled_files_cite_nothing_outside_the_repository(path):
    # a path in a comment must be a file a reader of the repository (or of the wheel) can open
    cited = re.findall(r"(?<![\w/.])((?:[\w.-]+/)+[\w.-]+\.(?:md|toml|csv|py|txt))", path.read_text(encoding="utf-8"))
    missing = [c for c in cited if not (ROOT / c).exists() and not (bundled_dir() / c).exists()]
    assert not missing, f"{path.name} cites {missing}, which is not in the repository"
