"""The HTML report: a manager's first page, self-contained, reproducible, honest intervals, and every chart
and table shows in a real browser, on screen and in print."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
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
from simulator.html_report import INTERVAL_NOTE, changed_fields, write_report
from simulator.metrics import summarize
from conftest import make_scenario

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"]
FIXTURES = Path(__file__).resolve().parent / "scenarios"
MINUS = "\u2212"


class Page(HTMLParser):
    """Collects the attributes of every <img>, the names of every tag, and element ids."""

    def __init__(self):
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.tags: set[str] = set()
        self.ids: set[str] = set()
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "href" in attrs:
            self.links.append(attrs["href"])
        if tag == "img":
            self.images.append(attrs)


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    return parser


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def text_of(fragment: str) -> str:
    return " ".join(html.unescape(re.sub("<[^>]+>", " ", fragment)).split())


#: Three variants, with long labels: tables must still fit the page. One keeps its journeys.
VARIANTS = {"more phone agents on the customer care line": ({"channels.phone.agents": 30}, True),
            "channels.chat.agents=6; channels.chat.resolve=0.7": ({"channels.chat.agents": 6,
                                                                   "channels.chat.resolve": 0.7}, False),
            "web answers half of its customers": ({"channels.web.resolve": 0.5}, False)}


@pytest.fixture(scope="module")
def six_runs():
    """The six-channel, long-label centre (tests/scenarios) and three variants, two replications each."""
    sc = sim.load_scenario(FIXTURES / "six_channels_long_labels.toml").with_changes({
        "description": "Test <network> & friends", "run.days": 0.3})
    base = sim.run(sc, replications=2, seed=21, workers=1)
    variants = {label: sim.run(sc.with_changes(changes), replications=2, seed=21, workers=1, keep_journeys=keep)
                for label, (changes, keep) in VARIANTS.items()}
    return base, variants


@pytest.fixture(scope="module")
def report(tmp_path_factory, six_runs):
    base, variants = six_runs
    path = tmp_path_factory.mktemp("report") / "report.html"
    write_report(path, base, variants, command="contactflow report six.toml -s 21",
                 changes={"run.days": 0.3})
    return path


def section(page: str, name: str) -> str:
    return page.split(f'<section id="{name}">', 1)[1].split("</section>", 1)[0]


def test_report_is_self_contained_and_reproducible(report, six_runs):
    page = report.read_text(encoding="utf-8")
    parsed = parse(page)
    assert "script" not in parsed.tags and "link" not in parsed.tags  # nothing to run, nothing to fetch
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", page)
    base, variants = six_runs
    staffed = sum(not c.unlimited for c in base.scenario.channels)
    # comparison, channel comparison, one variant's journeys, journeys, flow matrix, before/after,
    # reference, over the day (two slides for four staffed channels), waits
    assert len(parsed.images) == 3 + 2 + 2 + -(-staffed // 3) + 1
    for image in parsed.images:
        assert image["alt"]
        prefix = "data:image/png;base64,"
        assert image["src"].startswith(prefix)
        width, height = png_size(base64.b64decode(image["src"][len(prefix):]))
        assert width > 600 and height > 300
    for needle in ("seed</dt><dd>21", f"contactflow</dt><dd>{sim.__version__}", "2 replication(s) × 0.3 day(s)",
                   "contactflow report six.toml -s 21", "[channels.phone]", "avoidable_call_share",
                   "more phone agents on the customer care line", "channels.phone.agents = 30",
                   "an invented survey, for the tests", "channels.chat.resolve = 0.7"):
        assert needle in page, needle
    assert "Test &lt;network&gt; &amp; friends" in page  # text is escaped, not markup


def test_report_opens_with_a_summary_and_a_table_of_contents(report, six_runs):
    page = report.read_text(encoding="utf-8")
    parsed = parse(page)
    sections = re.findall(r'<section id="([^"]+)">', page)
    assert sections[0] == "summary" and sections[1] == "compared" and sections[-1] == "parameters"
    assert [link[1:] for link in parsed.links if link.startswith("#")] == sections  # the contents list them all
    cards = re.findall(r'<div class="card[^"]*">(.*?)</div></div>', section(page, "summary"))
    assert 3 <= len(cards) <= 5
    base, variants = six_runs
    days = base.scenario.run.days
    for label, card in zip(variants, cards):  # a card per variant: calls a day, paired, with its interval
        text = text_of(card)
        assert text.startswith(label)
        phone = [r for r in [base, variants[label]]]
        diff = (variants[label].kpis.loc["focal_contacts", "mean"] - base.kpis.loc["focal_contacts", "mean"]) / days
        shown = f"{abs(diff):,.0f}" if abs(diff) >= 9.95 else f"{abs(diff):.1f}"
        assert re.search(rf"[{MINUS}+]?{re.escape(shown)} calls a day \[", text), (text, diff)
        assert "give-up" in text and "points" in text
    assert INTERVAL_NOTE in html.unescape(page)


def comparison_rows(page: str) -> list[list[str]]:
    """The cells of the key-figures comparison table."""
    part = section(page, "compared").split("<h3>Key figures</h3>", 1)[1]
    table = part.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [[text_of(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", table)]


def test_comparison_table_gives_counts_a_day_and_marks_significant_differences(report, six_runs):
    page = report.read_text(encoding="utf-8")
    rows = comparison_rows(page)
    assert len(rows) == 8 * 4  # eight headline figures, base and three variants
    by_figure: dict[str, list[list[str]]] = {}
    figure = None
    for cells in rows:
        figure = cells[0] or figure
        by_figure.setdefault(figure, []).append(cells)
    assert "Customers a day" in by_figure and "Give-up rate" in by_figure  # readable names
    base, _ = six_runs
    assert by_figure["Customers a day"][0][2].startswith(f"{base.kpis.loc['customers', 'mean'] / 0.3:,.0f}")
    differences = [cells[3] for group in by_figure.values() for cells in group[1:]]
    assert not [d for d in differences if re.search(r"\de[+-]\d", d)]  # no scientific notation
    # Every variant serves the same customers (common random numbers): a plain 0.
    assert [cells[3] for cells in by_figure["Customers a day"]] == ["–", "0", "0", "0"]
    assert all(" points" in cells[3] for cells in by_figure["Give-up rate"][1:])  # shares: points
    marked = 0
    for d in differences:  # marked exactly when the interval excludes zero
        bounds = re.search(r"\[(\S+), (\S+)\]", d)
        if bounds:
            low, high = (float(x.replace(",", "").replace(MINUS, "-")) for x in bounds.groups())
            if 0 in (low, high):
                continue  # rounded to zero: either way
            assert d.endswith(" *") == (low > 0 or high < 0), d
            marked += d.endswith(" *")
    assert 0 < marked < len(differences)
    assert "* the 95 % CI of the difference excludes 0" in page
    assert 'class="first sig"' in page or 'class="sig"' in page  # and shown in bold
    # The channel figures of every scenario, and the full tables, folded away.
    compared = section(page, "compared")
    assert "<summary>Channel figures compared (table)</summary>" in compared
    assert "<summary>Every KPI compared (table)</summary>" in compared
    assert 'id="chart-channel-comparison"' in compared
    assert 'id="chart-journey_flow-more phone agents on the customer care line"' in compared


def test_intervals_are_clipped_to_what_a_figure_can_be(report, six_runs):
    base, _ = six_runs
    # Two replications: some Student-t intervals reach past what the figure can be (as computed, before the
    # clipping every result applies)...
    summary = summarize(base.per_replication, clip=False)
    shares = summary[summary.index.get_level_values("metric").isin(
        ["abandon_rate", "service_level", "occupancy", "share", "give_up_rate", "p_wait", "fcr"])]
    assert ((shares["ci_low"] < 0) | (shares["ci_high"] > 1)).any()
    # ...and the report shows none of that: no share interval outside 0-100 %, no negative count.
    page = report.read_text(encoding="utf-8")
    shown = page.split('<section id="compared">')[0] + page.split('<section id="journeys">')[1]
    for cell in re.findall(r'<td[^>]*>(<span class="num">.*?)</td>', shown):
        value = text_of(cell)
        bounds = re.search(r"\[(\S+), (\S+)\]", value)
        if not bounds:
            continue
        low, high = (float(x.replace(",", "").replace(MINUS, "-")) for x in bounds.groups())
        assert low >= 0, value
        if "%" in value:
            assert high <= 100, value


def test_tables_use_readable_names_and_counts_a_day(report, six_runs):
    page = report.read_text(encoding="utf-8")
    channels = section(page, "channels")
    base, _ = six_runs
    for channel in base.scenario.channels:
        assert f"<td class=\"left\">{html.escape(channel.label)}</td>" in channels
    assert "<th>contacts a day</th>" in channels
    phone_wait = base.channels.loc[("phone", "mean_wait_min"), "mean"]
    assert f"{60 * phone_wait:,.0f} s" in channels  # waits of live channels in seconds
    tables = section(page, "tables")
    assert "<summary>Every KPI (table)</summary>" in tables and "<summary>Every channel figure (table)</summary>" in tables


def test_changed_fields_lists_dotted_paths():
    a = {"run": {"seed": 1}, "channels": {"chat": {"agents": 4, "resolve": 0.6}}}
    b = {"run": {"seed": 1}, "channels": {"chat": {"agents": 6}}, "max_contacts": 5}
    assert changed_fields(a, b) == {"channels.chat.agents": 6, "channels.chat.resolve": None, "max_contacts": 5}


CHECK_PAGE = """
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
  // Tables: none wider than its box on the page, no number or interval broken over two lines.
  for (const details of document.querySelectorAll("details")) details.open = true;
  const page = document.querySelector("main").getBoundingClientRect();
  const wide = [], wrapped = [];
  for (const table of document.querySelectorAll("table")) {
    const box = table.getBoundingClientRect();
    if (box.left < page.left - 1 || box.right > page.right + 1 || table.scrollWidth > table.parentElement.clientWidth)
      wide.push(table.rows[0].cells[table.rows[0].cells.length - 1].textContent);
    for (const number of table.querySelectorAll("span.num, span.ci")) {
      if (number.getClientRects().length > 1) wrapped.push(number.textContent);
    }
  }
  document.body.setAttribute("data-wide-tables", JSON.stringify(wide));
  document.body.setAttribute("data-wrapped-cells", JSON.stringify(wrapped));
  document.body.setAttribute("data-page-overflow", document.documentElement.scrollWidth > window.innerWidth);
  document.body.setAttribute("data-checked", "yes");
});
</script>
"""


def chromium(tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([str(CHROMIUM), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=180)


needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="headless Chromium not installed at "
                                    "/usr/bin/chromium (Debian: apt-get install -y chromium)")


@needs_chromium
@pytest.mark.parametrize("width", [1400, 1000])
def test_every_chart_and_table_shows_in_headless_chromium(report, tmp_path, width):
    """On a wide and a narrow screen the charts decode and show, and every table (six channels with long
    names, three variants, full tables unfolded) fits the page with no number broken over two lines."""
    page = report.read_text(encoding="utf-8")
    probe = tmp_path / "probe.html"
    probe.write_text(page.replace("</body>", CHECK_PAGE + "</body>"), encoding="utf-8")
    done = chromium(tmp_path, f"--window-size={width},900", "--virtual-time-budget=10000", "--dump-dom",
                    probe.as_uri())
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
        width_px, height_px = png_size(base64.b64decode(original["src"].split(",", 1)[1]))
        assert (int(image["data-natural-width"]), int(image["data-natural-height"])) == (width_px, height_px)
        assert int(image["data-shown-width"]) > 300 and int(image["data-shown-height"]) > 100, image["alt"]
        assert image["data-visible"] == "true", image["alt"]


PRINT_TOOLS = all(shutil.which(tool) for tool in ("pdftoppm", "pdftotext"))


@needs_chromium
@pytest.mark.skipif(not PRINT_TOOLS, reason="pdftoppm and pdftotext (Debian: apt-get install -y poppler-utils)")
@pytest.mark.parametrize("paper, points", [("A4", (595, 842)), ("letter", (612, 792))])
def test_report_prints_on_a4_and_letter_without_cut_columns(report, tmp_path, paper, points):
    """Chromium's PDF of the report: every word inside the page's margins, every column heading of the
    main tables printed, and each page, rendered to PNG, blank along its right edge."""
    page = report.read_text(encoding="utf-8")
    probe = tmp_path / "print.html"
    probe.write_text(page.replace("</head>", f"<style>@page {{ size: {paper}; }}</style></head>"), encoding="utf-8")
    pdf = tmp_path / "report.pdf"
    done = chromium(tmp_path, "--no-pdf-header-footer", f"--print-to-pdf={pdf}", probe.as_uri())
    assert done.returncode == 0 and pdf.exists(), done.stderr[-2000:]
    boxes = subprocess.run(["pdftotext", "-bbox", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    sizes = [(float(w), float(h)) for w, h in re.findall(r'<page width="([\d.]+)" height="([\d.]+)"', boxes)]
    assert 4 <= len(sizes) <= 30
    assert all(abs(w - points[0]) < 2 and abs(h - points[1]) < 2 for w, h in sizes)
    words = re.findall(r'<word xMin="([\d.]+)" yMin="[\d.]+" xMax="([\d.]+)" yMax="[\d.]+">([^<]*)</word>', boxes)
    outside = [text for x0, x1, text in words if float(x0) < 20 or float(x1) > points[0] - 20]
    assert not outside, f"printed past the margins: {outside[:10]}"
    printed = " ".join(html.unescape(text) for _, _, text in words)
    main_tables = page.split('<section id="summary">', 1)[1]
    main_tables = re.sub(r"<details>.*?</details>", "", main_tables, flags=re.S)  # folded: not printed
    for heading in re.findall(r"<th[^>]*>([^<]+)</th>", main_tables):
        for word in html.unescape(heading).split():
            assert word in printed, f"column heading {heading!r} is not printed"
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(pdf), str(tmp_path / "page")], check=True)
    from PIL import Image
    pngs = sorted(tmp_path.glob("page-*.png"))
    assert len(pngs) == len(sizes)
    for png in pngs:
        image = Image.open(png).convert("L")
        w, h = image.size
        edge = image.crop((int(w * 0.975), 0, w, h))
        assert edge.getextrema()[0] > 245, f"{png.name}: something reaches the right edge of the page"


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
    assert 'id="chart-journey_flow-more chat"' in page  # every variant gets its journey flow
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
    # the preset is weekly: its hours of the week take two slides for its three staffed channels
    stems = {"before_after", "flow_matrix", "hourly", "hourly_2", "journey_flow", "reference", "wait_times"}
    assert names == sorted(f"{s}.{ext}" for s in stems for ext in ("png", "svg"))
    assert "wrote 14 chart files" in result.output
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


def test_report_parameters_show_what_was_run(scenario_file, tmp_path):
    out = tmp_path / "report.html"
    result = invoke("report", str(scenario_file), "-r", "2", "-d", "0.05", "-s", "5", "-q", "-w", "1",
                    "--set", "run.warmup_hours=0.5", "--set", "channels.chat.agents=5", "--out", str(out))
    assert result.exit_code == 0, result.output
    parameters = section(out.read_text(encoding="utf-8"), "parameters")
    settings = dict(re.findall(r'<td class="left">([^<]+)</td><td class="left">([^<]+)</td>', parameters))
    assert settings == {"replications": "2", "seed": "5", "days measured": "0.05", "warm-up": "0.5 h"}
    # The file says 3 replications, seed 11, half a day, an hour's warm-up: the TOML shows the run instead.
    toml = html.unescape(parameters.split("<pre>", 1)[1].split("</pre>", 1)[0])
    for line in ("replications = 2", "seed = 5", "days = 0.05", "warmup_hours = 0.5"):
        assert line in toml, line
    assert "<code>channels.chat.agents = 5</code>" in parameters and "<code>run.days = 0.05</code>" in parameters
