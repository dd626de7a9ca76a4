"""The HTML report: self-contained, reproducible, and every chart shows in a real browser."""

from __future__ import annotations

import base64
import html
import json
import re
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest
from click.testing import CliRunner

import simulator as sim
from simulator.cli import main
from simulator.html_report import changed_fields, write_report
from simulator.metrics import KPI_NAMES
from conftest import make_scenario

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]


class Images(HTMLParser):
    """Collects the attributes of every <img> and the names of every tag."""

    def __init__(self):
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "img":
            self.images.append(dict(attrs))


def parse(page: str) -> Images:
    parser = Images()
    parser.feed(page)
    return parser


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    sc = make_scenario().with_changes({
        "description": "Test <network> & friends",
        "reference.source": "test survey",
        "reference.figures": {"before_call.web": 0.3, "avoidable_call_share": 0.6},
    })
    base = sim.run(sc, replications=2, days=0.1, seed=21)
    variants = {label: sim.run(sc.with_changes(changes), replications=2, days=0.1, seed=21, keep_journeys=False)
                for label, changes in VARIANTS.items()}
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(path, base, variants, command="contactflow report test.toml -s 21")
    return path


#: Three variants, with long labels: the comparison table must still fit the page.
VARIANTS = {"more phone agents": {"channels.phone.agents": 12},
            "channels.chat.agents=6; channels.chat.resolve=0.7": {"channels.chat.agents": 6,
                                                                  "channels.chat.resolve": 0.7},
            "web answers half of its customers": {"channels.web.resolve": 0.5}}


def test_report_is_self_contained_and_reproducible(report):
    page = report.read_text(encoding="utf-8")
    parsed = parse(page)
    assert "script" not in parsed.tags and "link" not in parsed.tags  # nothing to run, nothing to fetch
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    assert len(parsed.images) == 7  # comparison, flow, before/after, reference, network, hourly, waits
    for image in parsed.images:
        assert image["alt"]
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        width, height = png_size(base64.b64decode(image["src"][len(prefix):]))
        assert width > 600 and height > 300
    for needle in ("seed</dt><dd>21", f"contactflow</dt><dd>{sim.__version__}", "2 × 0.1 day(s)",
                   "contactflow report test.toml -s 21", "[channels.phone]", "avoidable_call_share",
                   "more phone agents", "channels.phone.agents = 12", "test survey",
                   "channels.chat.resolve = 0.7"):
        assert needle in page, needle
    assert "Test &lt;network&gt; &amp; friends" in page  # text is escaped, not markup


def comparison_rows(page: str) -> list[list[str]]:
    """The cells of the KPI comparison table (the table after the comparison chart)."""
    table = page.split('id="chart-comparison"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[html.unescape(re.sub("<[^>]+>", "", cell)) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table)]


def test_comparison_table_formats_differences_like_the_cli_and_marks_significant_ones(report):
    page = report.read_text(encoding="utf-8")
    rows = comparison_rows(page)
    assert len(rows) == 4 * len(KPI_NAMES)  # a row per KPI and scenario: base and three variants
    by_kpi: dict[str, list[list[str]]] = {}
    kpi = None
    for cells in rows:
        kpi = cells[0] or kpi
        by_kpi.setdefault(kpi, []).append(cells)
    differences = [cells[3] for group in by_kpi.values() for cells in group[1:]]
    assert not [d for d in differences if re.search(r"\de[+-]\d", d)]  # no scientific notation
    # Every variant serves the same customers (common random numbers): a plain 0, not "+0 [+0, +0]".
    assert [cells[3] for cells in by_kpi["customers"]] == ["–", "0", "0", "0"]
    assert all(" pp" in cells[3] for cells in by_kpi["give_up_rate"][1:])  # shares: percentage points
    marked = 0
    for d in differences:  # marked exactly when the interval excludes zero
        bounds = re.search(r"\[(\S+), (\S+)\]", d)
        if bounds:
            low, high = (float(x.replace(",", "")) for x in bounds.groups())
            if 0 in (low, high):
                continue  # rounded to zero: either way
            assert d.endswith(" *") == (low > 0 or high < 0), d
            marked += d.endswith(" *")
    assert 0 < marked < len(differences)
    assert "* the 95 % CI of the difference excludes 0" in page
    assert 'class="sig"' in page  # and shown in bold


def test_changed_fields_lists_dotted_paths():
    a = {"run": {"seed": 1}, "channels": {"chat": {"agents": 4, "resolve": 0.6}}}
    b = {"run": {"seed": 1}, "channels": {"chat": {"agents": 6}}, "max_contacts": 5}
    assert changed_fields(a, b) == {"channels.chat.agents": 6, "channels.chat.resolve": None, "max_contacts": 5}


CHECK_IMAGES = """
<script>
window.addEventListener("load", () => {
  for (const img of document.images) {
    const box = img.getBoundingClientRect();
    const style = getComputedStyle(img);
    img.setAttribute("data-natural-width", img.naturalWidth);
    img.setAttribute("data-natural-height", img.naturalHeight);
    img.setAttribute("data-shown-width", Math.round(box.width));
    img.setAttribute("data-shown-height", Math.round(box.height));
    img.setAttribute("data-visible", style.display !== "none" && style.visibility === "visible"
                     && style.opacity !== "0" && img.complete);
  }
  // Tables: none wider than its box on the page, no number broken over two lines.
  const page = document.querySelector("main").getBoundingClientRect();
  const wide = [], wrapped = [];
  for (const table of document.querySelectorAll("table")) {
    const box = table.getBoundingClientRect();
    if (box.left < page.left - 1 || box.right > page.right + 1 || table.scrollWidth > table.parentElement.clientWidth)
      wide.push(table.rows[0].cells[table.rows[0].cells.length - 1].textContent);
    for (const cell of table.querySelectorAll("td:not(.left)")) {
      const range = document.createRange();
      range.selectNodeContents(cell);
      if (cell.textContent.trim() && range.getClientRects().length > 1) wrapped.push(cell.textContent);
    }
  }
  document.body.setAttribute("data-wide-tables", JSON.stringify(wide));
  document.body.setAttribute("data-wrapped-cells", JSON.stringify(wrapped));
  document.body.setAttribute("data-page-overflow", document.documentElement.scrollWidth > window.innerWidth);
  document.body.setAttribute("data-checked", "yes");
});
</script>
"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed at /usr/bin/chromium "
                                                   "(Debian: apt-get install -y chromium)")
def test_every_chart_and_table_shows_in_headless_chromium(report, tmp_path):
    """At 1400 px the charts decode and show, and every table (three variants compared) fits the page."""
    page = report.read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", CHECK_IMAGES + "</body>"), encoding="utf-8")
    done = subprocess.run(
        [str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1400,900",
         "--virtual-time-budget=10000", "--dump-dom", probe.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert 'data-checked="yes"' in done.stdout, "the page's load event never ran"
    body = re.search(r"<body([^>]*)>", done.stdout).group(1)
    checks = {k: html.unescape(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', body)}
    assert checks["page-overflow"] == "false"
    assert json.loads(checks["wide-tables"]) == []
    assert json.loads(checks["wrapped-cells"]) == []
    shown = parse(done.stdout).images
    expected = parse(page).images
    assert len(shown) == len(expected)
    for image, original in zip(shown, expected):
        width, height = png_size(base64.b64decode(original["src"].split(",", 1)[1]))
        assert (int(image["data-natural-width"]), int(image["data-natural-height"])) == (width, height), image["alt"]
        assert int(image["data-shown-width"]) > 300 and int(image["data-shown-height"]) > 100, image["alt"]
        assert image["data-visible"] == "true", image["alt"]


# --------------------------------------------------------------------------- command line


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def scenario_file(tmp_path):
    path = tmp_path / "centre.toml"
    path.write_text(make_scenario().to_toml(), encoding="utf-8")
    return path


def test_report_command_compares_variants(scenario_file, tmp_path):
    out = tmp_path / "sub" / "report.html"
    result = invoke("report", str(scenario_file), "-r", "2", "-d", "0.05", "-s", "8", "-q", "-w", "1",
                    "--compare", "more chat: channels.chat.agents=6; channels.chat.resolve=0.7",
                    "--compare", "channels.web.resolve=0.5", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert f"wrote {out}" in result.output
    page = out.read_text(encoding="utf-8")
    assert "more chat" in page and "channels.web.resolve=0.5" in page
    assert "channels.chat.resolve = 0.7" in page
    assert "--compare &#x27;more chat: channels.chat.agents=6; channels.chat.resolve=0.7&#x27;" in page
    assert "-s 8" in page and not list(out.parent.glob("*.tmp"))


def test_report_runs_variants_on_the_bases_window_so_they_pair(tmp_path):
    # a variant file with its own (shorter) run would not pair with the base
    base, short = tmp_path / "base.toml", tmp_path / "short.toml"
    base.write_text(make_scenario().with_changes({"run.days": 0.05}).to_toml(), encoding="utf-8")
    short.write_text(make_scenario().with_changes({"run.days": 0.02, "name": "short"}).to_toml(), encoding="utf-8")
    result = CliRunner().invoke(main, ["report", str(base), "-r", "2", "-q", "-w", "1",
                                       "--compare", str(short), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0, result.output
    assert "note: short runs with" in result.output and "run.days = 0.05 (its own: 0.02)" in result.output


@pytest.mark.parametrize("variant, message", [
    ("x: channels.chat.agentz=3", "channels.chat.agentz: unknown key; did you mean 'agents'?"),
    ("channels.chat.resolve=2", "channels.chat.resolve: must be a probability in [0, 1]; got 2"),
    ("no_such_file.toml", "no_such_file.toml: no such file or bundled scenario"),
])
def test_report_command_rejects_bad_variants_cleanly(scenario_file, tmp_path, variant, message):
    result = CliRunner().invoke(main, ["report", str(scenario_file), "--compare", variant,
                                       "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "r.html").exists()


def test_run_charts_writes_png_and_svg(tmp_path):
    out = tmp_path / "charts"
    result = invoke("run", "-r", "2", "-d", "0.05", "-q", "-w", "1", "--charts", str(out))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in out.iterdir())
    stems = {"before_after", "channel_network", "hourly", "journey_flow", "reference", "wait_times"}
    assert names == sorted(f"{s}.{ext}" for s in stems for ext in ("png", "svg"))
    assert "wrote 12 chart files" in result.output
    blocked = tmp_path / "file"
    blocked.write_text("")
    bad = CliRunner().invoke(main, ["run", "-r", "1", "-d", "0.05", "-q", "--charts", str(blocked / "x")])
    assert bad.exit_code == 2 and "--charts" in bad.output and "Traceback" not in bad.output


def test_report_command_ctrl_c_exits_130_like_the_other_commands(scenario_file, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("simulator.cli.charts.run_scenario", interrupted)
    result = CliRunner().invoke(main, ["report", str(scenario_file), "-q", "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 130
    assert "interrupted" in result.output and "Aborted" not in result.output
    assert not (tmp_path / "r.html").exists()
