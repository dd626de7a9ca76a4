"""README statements that code can check: they stay true when the code moves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from simulator.metrics import KPI_NAMES
from simulator.scenario import bundled_dir

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    start = README.index(title)
    end = README.find("\n## ", start + len(title))
    return README[start:end if end > 0 else None]


def test_the_kpi_table_defines_every_kpi():
    table = _section("## KPIs")
    missing = [k for k in KPI_NAMES if f"`{k}`" not in table]
    assert not missing, f"README's KPI table lacks {missing}"


def test_the_sweep_columns_are_those_a_sweep_writes():
    from simulator.sweep import SUMMARY_COLUMNS

    text = _section("### Sweeps")
    sentence = text[text.index("one row per point and figure"):]
    sentence = sentence[:sentence.index(".\n") if ".\n" in sentence else None]
    named = re.findall(r"`([a-z_]+)`", sentence)
    assert set(named) >= {"point", "point_id", *SUMMARY_COLUMNS, "precision_met"}, named
    assert set(named) <= {"point", "point_id", *SUMMARY_COLUMNS, "precision_met"}, named


def test_the_throughput_claim_is_what_the_benchmark_runs_by_default():
    source = (ROOT / "benchmarks" / "throughput.py").read_text(encoding="utf-8")
    claim = re.search(r"At ([\d,]+)\s+customers \(best of (\d+)\)", README)
    assert claim, "README no longer states the throughput benchmark's size"
    customers, repeat = int(claim.group(1).replace(",", "")), int(claim.group(2))
    assert f"else {customers:_}" in source, "the benchmark's default customers differ from README's claim"
    assert f"1 if args.quick else {repeat}" in source, "the benchmark's default repeats differ from README's"


@pytest.mark.parametrize("path", sorted(bundled_dir().rglob("*.toml")), ids=lambda p: p.name)
def test_bundled_files_cite_nothing_outside_the_repository(path):
    # a path in a comment must be a file a reader of the repository (or of the wheel) can open
    cited = re.findall(r"(?<![\w/.])((?:[\w.-]+/)+[\w.-]+\.(?:md|toml|csv|py|txt))", path.read_text(encoding="utf-8"))
    missing = [c for c in cited if not (ROOT / c).exists() and not (bundled_dir() / c).exists()]
    assert not missing, f"{path.name} cites {missing}, which is not in the repository"
