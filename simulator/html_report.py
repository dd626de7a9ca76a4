"""One self-contained HTML report of a result (and of variants compared with it).

The report is a single file that opens in any browser with no server and no
network: charts are embedded as base64 PNG images, styles are inline, and
there is no script. It holds the KPI tables with confidence intervals, the
published figures beside the simulated ones, every chart of
:mod:`simulator.plots`, the scenario's parameters as TOML, and the seed,
replications and contactflow version needed to reproduce it.

Examples
--------
>>> import simulator as sim
>>> from simulator.html_report import report_html
>>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.05)
>>> page = report_html(res)
>>> page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
True
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
from pathlib import Path
from typing import Any, Mapping, Sequence

from matplotlib.figure import Figure

from . import __version__
from .experiment import Result
from .files import atomic_write
from .compare import comparison_table
from .plots import DEFAULT_COMPARISON_KPIS, KPI_LABELS, kpi_comparison, result_charts
from .report import CHANNEL_COLUMNS, SIGNIFICANT_NOTE, difference_cell, format_stat, format_value, warmup_text

__all__ = ["report_html", "write_report", "figure_data_uri", "changed_fields"]

#: Resolution of the embedded charts (a 12-inch-wide chart is 1320 pixels wide).
REPORT_DPI = 110

_CHART_CAPTIONS = {
    "journey_flow": ("Customer journeys, contact by contact",
                     "Each column is one contact of the journey; blocks are the share of customers in each "
                     "channel, or already resolved or given up. Bands show where customers go next."),
    "before_after": ("Before and after the call",
                     "Of the customers who called, the channels they used before their first call, and "
                     "their next step after it, with 95 % confidence intervals."),
    "reference": ("Simulated vs published figures",
                  "Each published figure beside the simulated mean and its 95 % confidence interval."),
    "channel_network": ("Channel network",
                        "Node area is contacts per day; edge width is customers moving along it per day."),
    "hourly": ("Over the day",
               "Queue length, mean wait and abandonment by hour of the day; dashed: agents on duty."),
    "wait_times": ("How long contacts wait",
                   "Waits of the contacts that waited, answered or abandoned, as a share of contacts offered."),
}

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; color: #222;
       margin: 0; background: #f6f6f4; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 1.9em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.35em; margin-top: 2em; border-bottom: 2px solid #e4e4e4; padding-bottom: 0.2em; }
p.lead { color: #555; font-size: 1.1em; margin-top: 0; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 1em 0; }
dl.meta dt { color: #666; } dl.meta dd { margin: 0; }
table { border-collapse: collapse; margin: 0.8em 0 1.2em; font-size: 0.95em; }
th, td { padding: 4px 12px; border-bottom: 1px solid #e6e6e6; text-align: right; }
th { background: #f2f2f0; font-weight: 600; }
td:first-child, th:first-child, td.left, th.left { text-align: left; }
td:not(.left) { white-space: nowrap; }
td.good { color: #2e7d32; } td.bad { color: #b23b3b; } td.sig { font-weight: 600; }
td.first { border-top: 2px solid #d4d4d4; }
div.scroll { overflow-x: auto; max-width: 100%; }
p.note { color: #555; font-size: 0.9em; margin-top: -0.6em; }
figure { margin: 1.2em 0 2em; }
figure img { width: 100%; height: auto; display: block; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.95em; margin-top: 0.4em; }
pre { background: #f6f6f4; padding: 12px 16px; overflow-x: auto; font-size: 0.88em; border-radius: 4px; }
code { background: #f1f1ef; padding: 1px 4px; border-radius: 3px; }
footer { color: #777; font-size: 0.9em; margin-top: 3em; }
"""


def figure_data_uri(fig: Figure, dpi: int = REPORT_DPI) -> str:
    """A figure as a ``data:image/png;base64,...`` URI, to embed in HTML.

    Examples
    --------
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(2, 1))
    >>> figure_data_uri(fig).startswith("data:image/png;base64,iVBOR")
    True
    """
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def changed_fields(base: Mapping[str, Any], other: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted paths whose values differ between two scenario dicts (``None`` = removed).

    Examples
    --------
    >>> changed_fields({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}})
    {'a.c': 3}
    """
    changes: dict[str, Any] = {}
    for key in list(base) + [k for k in other if k not in base]:
        path = f"{prefix}{key}"
        a, b = base.get(key), other.get(key)
        if isinstance(a, Mapping) and isinstance(b, Mapping):
            changes.update(changed_fields(a, b, f"{path}."))
        elif a != b:
            changes[path] = b
    return changes


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], classes: Sequence[Sequence[str]] | None = None,
           left: int = 1) -> str:
    """An HTML table; the first ``left`` columns are left-aligned, ``classes`` gives each cell a CSS class."""
    head = "".join(f'<th class="left">{_e(h)}</th>' if j < left else f"<th>{_e(h)}</th>"
                   for j, h in enumerate(header))
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            cls = " ".join(c for c in (classes[i][j] if classes else "", "left" if j < left else "") if c)
            cells.append(f'<td class="{cls}">{_e(cell)}</td>' if cls else f"<td>{_e(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _stat(frame, key, metric: str) -> str:
    row = frame.loc[key]
    return format_stat(row["mean"], row["ci_low"], row["ci_high"], metric)


def _kpi_table(result: Result) -> str:
    reference = result.scenario.reference
    header = ["KPI", "name", "simulated, mean [95 % CI]"] + (["published", "in CI"] if reference else [])
    rows, classes = [], []
    for kpi, row in result.kpis.iterrows():
        label = KPI_LABELS.get(kpi, (kpi.replace("_", " "), ""))[0]
        cells = [label, kpi, format_stat(row["mean"], row["ci_low"], row["ci_high"], kpi)]
        cls = ["", "", ""]
        if reference:
            cells += _reference_cells(result, kpi, kpi)
            cls += ["", "good" if cells[-1] == "yes" else "bad" if cells[-1] == "no" else ""]
        rows.append(cells)
        classes.append(cls)
    return _table(header, rows, classes, left=2)


def _reference_cells(result: Result, key: str, metric: str) -> list[str]:
    figure = result.scenario.reference.get(key)
    if figure is None:
        return ["", ""]
    stat = result.stat(key)
    return [format_value(figure, metric), "yes" if stat["ci_low"] <= figure <= stat["ci_high"] else "no"]


def _before_after_tables(result: Result) -> str:
    sc = result.scenario
    parts = []
    for table, frame, title in (("before_call", result.before_call, "Before the call"),
                                ("after_call", result.after_call, "After the call")):
        header = ["", "share of callers [95 % CI]"] + (["published", "in CI"] if sc.reference else [])
        rows, classes = [], []
        for name in frame.index:
            cells = [name, _stat(frame, name, "share")]
            cls = ["", ""]
            if sc.reference:
                cells += _reference_cells(result, f"{table}.{name}", "share")
                cls += ["", "good" if cells[-1] == "yes" else "bad" if cells[-1] == "no" else ""]
            rows.append(cells)
            classes.append(cls)
        parts.append(f"<h3>{_e(title)}</h3>" + _table(header, rows, classes))
    return "".join(parts)


def _channel_table(result: Result) -> str:
    """One row per channel metric, one column per channel (narrow enough for the page)."""
    ch = result.channels
    names = result.scenario.channel_names
    rows = [[m, *(_stat(ch, (name, m), m) for name in names)] for m in CHANNEL_COLUMNS]
    return _table(["metric", *names], rows)


def _comparison_table(results: Mapping[str, Result]) -> str:
    """The KPIs of every scenario, one row per KPI and scenario, with paired differences as the CLI prints them."""

    table = comparison_table(results)  # the first result is the base
    table = table[table["table"] == "kpis"]
    rows, classes = [], []
    for kpi, group in table.groupby("kpi", sort=False):
        for i, (_, row) in enumerate(group.iterrows()):
            rows.append([kpi if i == 0 else "", row["scenario"],
                         format_stat(row["mean"], row["ci_low"], row["ci_high"], row["metric"]), difference_cell(row)])
            first = "first" if i == 0 else ""
            classes.append([first] * 3 + [f"{first} {'sig' if row['significant'] else ''}".strip()])
    header = ["KPI", "scenario", "mean [95 % CI]", f"difference against {next(iter(results))} [95 % CI]"]
    return _table(header, rows, classes, left=2) + f'<p class="note">{_e(SIGNIFICANT_NOTE)}.</p>'


def _figure_html(name: str, fig: Figure, title: str, caption: str) -> str:
    return (f'<figure id="chart-{_e(name)}"><img alt="{_e(title)}" src="{figure_data_uri(fig)}">'
            f"<figcaption><strong>{_e(title)}.</strong> {_e(caption)}</figcaption></figure>")


def report_html(result: Result, variants: Mapping[str, Result] | None = None, *, title: str | None = None,
                command: str | None = None) -> str:
    """The report as one HTML document (a string).

    Parameters
    ----------
    result
        The base result; run it with ``keep_journeys=True`` (the default) to
        get the journey, network and wait charts.
    variants
        ``{label: Result}`` of variants to compare with the base, best run
        with the same seed and replications (common random numbers): the
        report then shows the paired differences.
    title
        Page title (default: the scenario's name).
    command
        The command line that made the report, shown so a reader can rerun it.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> base = sim.run(sc, replications=2, days=0.05)
    >>> more = sim.run(sc.with_changes({"channels.chat.agents": 25}), replications=2, days=0.05)
    >>> page = report_html(base, {"more chat agents": more})
    >>> "Scenarios compared" in page and "channels.chat.agents" in page
    True
    """
    sc = result.scenario
    variants = dict(variants or {})
    base_label = sc.name if sc.name not in variants else f"{sc.name} (base)"
    title = title or f"contactflow report: {sc.name}"
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = {
        "scenario": f"{sc.name}" + (f" ({sc.source})" if sc.source and sc.source != sc.name else ""),
        "replications": f"{result.replications} × {sc.run.days:g} day(s) after a {sc.run.warmup_hours:g} h warm-up",
        "warm-up": warmup_text(result.warmup).removeprefix("warm-up: ")
        + (f". Warning: {result.warmup['warning']}" if result.warmup["warning"] else ""),
        "seed": str(result.seed),
        "contactflow": __version__,
        "generated": now,
    }
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="lead">{_e(sc.description)}</p>' if sc.description else "",
        '<dl class="meta">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta.items()) + "</dl>",
    ]
    if command:
        parts.append(f"<p>Reproduce with <code>{_e(command)}</code> (same seed, same numbers).</p>")
    parts.append("<p>Every figure is the mean over the replications with its 95 % Student-t confidence "
                 "interval in brackets.</p>")

    charts = result_charts(result)
    if variants:
        results = {base_label: result, **variants}
        comparison = kpi_comparison(results, DEFAULT_COMPARISON_KPIS, base=base_label)
        parts.append("<h2>Scenarios compared</h2>")
        parts.append("<p>Each variant ran with the same seed and replications as the base, so the "
                     "differences are paired replication by replication (common random numbers).</p>")
        changes_rows = []
        for label, variant in variants.items():
            changed = changed_fields(sc.to_dict(), variant.scenario.to_dict())
            changed.pop("name", None)
            text = "; ".join(f"{k} = {v}" for k, v in changed.items()) or "(no parameter changed)"
            changes_rows.append([label, variant.scenario.name, text])
        parts.append(_table(["variant", "scenario", "changes against the base"], changes_rows, left=3))
        parts.append(_figure_html("comparison", comparison, "KPIs compared",
                                  "Bars: mean with 95 % CI; below: paired difference against the base."))
        parts.append(_comparison_table(results))

    parts.append(f"<h2>Key figures: {_e(sc.name)}</h2>")
    parts.append(_kpi_table(result))
    for name in ("journey_flow", "before_after", "reference"):
        if name in charts:
            parts.append(_figure_html(name, charts[name], *_CHART_CAPTIONS[name]))
    parts.append("<h2>Before and after the call</h2>")
    parts.append(_before_after_tables(result))
    if sc.reference and sc.reference_source:
        parts.append(f"<p>Published figures: {_e(sc.reference_source)}.</p>")
    parts.append("<h2>Channels</h2>")
    parts.append(_channel_table(result))
    for name in ("channel_network", "hourly", "wait_times"):
        if name in charts:
            parts.append(_figure_html(name, charts[name], *_CHART_CAPTIONS[name]))
    parts.append("<h2>Scenario parameters</h2>")
    parts.append(f"<pre>{_e(sc.to_toml())}</pre>")
    parts.append(f"<footer>Made by contactflow {_e(__version__)} on {_e(now)}. Self-contained: "
                 "open this file in any browser.</footer>")
    parts.append("</main></body></html>")
    return "\n".join(p for p in parts if p) + "\n"


def write_report(path: str | Path, result: Result, variants: Mapping[str, Result] | None = None, *,
                 title: str | None = None, command: str | None = None) -> Path:
    """Write :func:`report_html` to ``path`` atomically (temporary file, then rename).

    Examples
    --------
    >>> import tempfile, pathlib, simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.05)
    >>> out = write_report(pathlib.Path(tempfile.mkdtemp()) / "report.html", res)
    >>> out.stat().st_size > 10_000
    True
    """
    page = report_html(result, variants, title=title, command=command)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda p: p.write_text(page, encoding="utf-8"))
