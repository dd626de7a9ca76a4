"""One self-contained HTML report of a result (and of variants compared with it).

The report is a single file that opens in any browser with no server and no
network: charts are embedded as base64 PNG images, styles are inline, and
there is no script. It opens with a summary a manager reads in a minute (three
to five headline cards), then the charts, then tables with readable names and
counts a day; the full tables are folded away (``<details>``). It prints on A4
or Letter without cut columns. Intervals are clipped to what a figure can be
(:func:`simulator.style.clip_interval`) and the method is stated. Variants get
their paired differences, their channel figures and their own journey flows.
The parameters section shows the scenario as it was run.

Examples
--------
>>> import simulator as sim
>>> from simulator.html_report import report_html
>>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.05)
>>> page = report_html(res)
>>> page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
True
>>> 'class="card"' in page and "<details" in page
True
"""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import pandas as pd
from matplotlib.figure import Figure

from . import __version__
from .compare import comparison_table
from .experiment import Result
from .figures import ALL_CHANNEL_METRICS, COUNT_METRICS, KPI_NAMES, SHARE_METRICS
from .files import atomic_write
from .plots import (DEFAULT_COMPARISON_KPIS, channel_comparison, flow_diagram, kpi_comparison,
                    result_charts)
from .report import SIGNIFICANT_NOTE, empty_table_note, reference_mark, warmup_text
from .scenario import Scenario
from .style import (CHANNEL_METRIC_LABELS, KPI_LABELS, MINUS, channel_name, clip_interval, format_count,
                    format_number, format_share, format_signed, format_wait)

__all__ = ["report_html", "write_report", "figure_data_uri", "changed_fields", "INTERVAL_NOTE"]

#: Resolution of the embedded charts (a 12-inch-wide chart is 1320 pixels wide).
REPORT_DPI = 110

#: How the intervals are computed and shown, stated once in every report.
INTERVAL_NOTE = ("Each figure is the mean over the replications with its 95 % confidence interval in brackets: "
                 "Student t, corrected for the skewness of the replications' values from 8 replications on "
                 "(Hall-Willink), so it reaches further on the side they are skewed to. An interval is shown "
                 "only within what the figure can be: shares within 0–100 %, counts, times and costs at least "
                 "0 (an interval from few replications can reach further; run more replications to narrow "
                 "it). Differences between scenarios are paired replication by replication (same seed: common "
                 "random numbers) and are not clipped.")

_CHART_CAPTIONS = {
    "journey_flow": ("Customer journeys, contact by contact",
                     "Each column is one contact of the journey; blocks are customers a day in each channel. "
                     "Green and grey blocks are journeys that ended after the contact before: resolved or "
                     "given up. Bands show where customers go next."),
    "flow_matrix": ("Where customers go after each contact",
                    "Customers a day from each channel (rows) to their next step (columns); the outlined "
                    "diagonal is customers trying the same channel again."),
    "before_after": ("Before and after the call",
                     "Of the customers who called, the channels they used before their first call, and "
                     "their next step after it, with 95 % confidence intervals."),
    "reference": ("Simulated vs published figures",
                  "How far each simulated figure is from the published one, in percentage points, with the "
                  "interval of the simulated figure."),
    "hourly": ("Over the day",
               "Per staffed channel: contacts offered and agents on duty, service level against its target, "
               "occupancy and abandonment, hour by hour; closed hours shaded."),
    "wait_times": ("How long contacts wait",
                   "Waits of the contacts that waited, answered or abandoned, as a share of contacts offered; "
                   "live channels in seconds."),
}

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; color: #222;
       margin: 0; background: #f6f6f4; line-height: 1.45; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 32px 48px; background: #fff; }
h1 { font-size: 1.9em; margin: 0.2em 0 0.1em; }
h2 { font-size: 1.35em; margin-top: 2em; border-bottom: 2px solid #e4e4e4; padding-bottom: 0.2em; }
h3 { font-size: 1.1em; margin-top: 1.4em; }
p.lead { color: #555; font-size: 1.1em; margin-top: 0; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 1em 0; }
dl.meta dt { color: #666; } dl.meta dd { margin: 0; }
nav.toc { background: #f6f6f4; padding: 10px 16px; border-radius: 4px; margin: 1.2em 0; }
nav.toc ol { margin: 0.3em 0 0; padding-left: 1.4em; columns: 2; column-gap: 32px; }
nav.toc a { color: #1f4e79; text-decoration: none; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(210px, 1fr)); gap: 12px; margin: 1em 0; }
.card { border: 1px solid #dcdcdc; border-left: 5px solid #3d5573; border-radius: 4px; padding: 10px 14px; }
.card.flat { border-left-color: #a3a3a3; }
.card-title { color: #555; font-size: 0.9em; }
.card-main { font-size: 1.45em; font-weight: 650; margin: 0.15em 0; }
.card-ci { color: #666; font-size: 0.85em; }
.card-sub { font-size: 0.9em; margin-top: 0.3em; }
table { border-collapse: collapse; margin: 0.8em 0 1.2em; font-size: 0.95em; }
th, td { padding: 4px 12px; border-bottom: 1px solid #e6e6e6; text-align: right; vertical-align: top; }
th { background: #f2f2f0; font-weight: 600; }
td:first-child, th:first-child, td.left, th.left { text-align: left; }
.num { white-space: nowrap; }
.ci { color: #666; font-size: 0.85em; white-space: nowrap; }
td .ci { display: block; }
td.good { color: #2e7d32; } td.bad { color: #b23b3b; } td.sig { font-weight: 600; }
td.first { border-top: 2px solid #d4d4d4; }
div.scroll { overflow-x: auto; max-width: 100%; }
p.note { color: #555; font-size: 0.9em; margin-top: -0.6em; }
figure { margin: 1.2em 0 2em; }
figure img { width: 100%; height: auto; display: block; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.95em; margin-top: 0.4em; }
details { margin: 0.8em 0; } summary { cursor: pointer; color: #1f4e79; }
pre { background: #f6f6f4; padding: 12px 16px; overflow-x: auto; font-size: 0.88em; border-radius: 4px;
      white-space: pre-wrap; word-break: break-word; }
code { background: #f1f1ef; padding: 1px 4px; border-radius: 3px; word-break: break-all; }
footer { color: #777; font-size: 0.9em; margin-top: 3em; }
@page { margin: 14mm 12mm; }
@media print {
  body { background: #fff; font-size: 9.5pt; }
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; margin-top: 1.2em; }
  h3 { break-after: avoid; }
  figure, .cards, .card, tr { break-inside: avoid; }
  figure img { border: none; }
  table { font-size: 8.5pt; }
  th, td { padding: 2px 6px; }
  div.scroll, pre { overflow: visible; }
  nav.toc ol { columns: 2; }
  .cards { grid-template-columns: repeat(auto-fit, minmax(150px, 1fr)); }
  details > summary { color: #555; list-style: none; }
  details:not([open]) > summary::after { content: " (folded: open the report in a browser to see it)"; }
  a { color: inherit; }
}
"""


# --------------------------------------------------------------------------- small pieces


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
           left: int = 1, raw: bool = False) -> str:
    """An HTML table; the first ``left`` columns are left-aligned, ``classes`` gives each cell a CSS class.

    Cells are escaped, except with ``raw`` (cells made by :func:`_cell`, already HTML).
    """
    head = "".join(f'<th class="left">{_e(h)}</th>' if j < left else f"<th>{_e(h)}</th>"
                   for j, h in enumerate(header))
    body = []
    for i, row in enumerate(rows):
        cells = []
        for j, cell in enumerate(row):
            cls = " ".join(c for c in (classes[i][j] if classes else "", "left" if j < left else "") if c)
            content = cell if raw and j >= left else _e(cell)
            cells.append(f'<td class="{cls}">{content}</td>' if cls else f"<td>{content}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>'


def _figure_html(name: str, fig: Figure, title: str, caption: str) -> str:
    return (f'<figure id="chart-{_e(name)}"><img alt="{_e(title)}" src="{figure_data_uri(fig)}">'
            f"<figcaption><strong>{_e(title)}.</strong> {_e(caption)}</figcaption></figure>")


def _details(summary: str, content: str) -> str:
    return f"<details><summary>{_e(summary)}</summary>{content}</details>"


# --------------------------------------------------------------------------- figures as a reader wants them

#: Figures summed over the run (:data:`~simulator.metrics.COUNT_METRICS`): shown a day.
_PER_DAY_KPIS = COUNT_METRICS & set(KPI_NAMES)
_PER_DAY_CHANNEL = COUNT_METRICS & set(ALL_CHANNEL_METRICS)


@dataclass(frozen=True)
class _Shown:
    """How one figure is shown: its label, its kind of number, and whether it is a count a day."""

    key: str
    label: str
    kind: str  # share, count, number, minutes, wait_live, wait_async
    per_day: bool

    def text(self, value: float, signed: bool = False) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return "–"
        if self.kind == "share":
            text = f"{abs(100 * value):.1f}" + (" points" if signed else " %")
        elif self.kind == "count":
            text = format_count(abs(value))
        elif self.kind == "wait_live":
            text = format_wait(abs(value), live=True)
        elif self.kind == "wait_async":
            text = format_wait(abs(value), live=False)
        elif self.kind == "minutes":
            text = f"{format_number(abs(value))} min"
        else:
            text = format_number(abs(value))
        shown_zero = not re.search(r"[1-9]", text)  # rounds to zero: no sign
        if signed:
            return format_signed(text, 0.0 if shown_zero else value)
        return (MINUS + text) if value < 0 and not shown_zero else text

    def bound(self, value: float, signed: bool = False) -> str:
        """An interval bound: the number only (no unit words)."""
        text = self.text(value, signed)
        for unit in (" points", " %", " min", " s", " h"):
            text = text.replace(unit, "")
        return text


def _shown(key: str, scenario: Scenario) -> _Shown:
    parts = key.split(".")
    if len(parts) == 1:
        label = KPI_LABELS.get(key, (key.replace("_", " ").capitalize(), ""))[0]
        if key == "focal_contacts":
            label = f"Calls ({channel_name(scenario, scenario.focal_channel)})"
        if key == "avoidable_call_share":
            label = "Avoidable calls (share of calls)"
        per_day = key in _PER_DAY_KPIS
        kind = ("share" if key in SHARE_METRICS else "count" if per_day and key != "cost_total"
                else "minutes" if key == "mean_journey_minutes" else "number")
        return _Shown(key, label + (" a day" if per_day else ""), kind, per_day)
    if parts[0] == "channels":
        _, name, metric = parts
        spec = scenario.channel(name)
        label = CHANNEL_METRIC_LABELS.get(metric, metric.replace("_", " "))
        per_day = metric in _PER_DAY_CHANNEL
        if metric == "mean_wait_min":
            kind = "wait_async" if spec.is_async else "wait_live"
        elif metric == "mean_handle_min":
            kind = "minutes"
        elif metric in SHARE_METRICS:
            kind = "share"
        elif per_day and metric not in ("cost", "agent_hours"):
            kind = "count"
        else:
            kind = "number"
        return _Shown(key, label + (" a day" if per_day else ""), kind, per_day)
    return _Shown(key, channel_name(scenario, parts[1]), "share", False)


def _stat_cell(shown: _Shown, mean: float, low: float, high: float, days: float) -> str:
    """``mean`` and, below it, its interval clipped to what the figure can be (HTML)."""
    factor = 1.0 / days if shown.per_day else 1.0
    mean, low, high = mean * factor, low * factor, high * factor
    text = f'<span class="num">{_e(shown.text(mean))}</span>'
    if low is None or math.isnan(low) or low == high:
        return text
    low, high = clip_interval(low, high, share=shown.kind == "share")
    if shown.bound(low) == shown.bound(high):
        return text
    return text + f' <span class="ci">[{_e(shown.bound(low))}, {_e(shown.bound(high))}]</span>'


def _stat(result: Result, key: str) -> str:
    stat = result.stat(key)
    return _stat_cell(_shown(key, result.scenario), stat["mean"], stat["ci_low"], stat["ci_high"],
                      result.scenario.run.days)


def _difference_cell(shown: _Shown, row: Mapping[str, Any], days: float) -> str:
    """``diff [low, high] *`` of a paired comparison row, a day for counts (HTML)."""
    if row["diff"] is None or math.isnan(row["diff"]):
        return "–"
    factor = 1.0 / days if shown.per_day else 1.0
    diff, low, high = (row[k] * factor for k in ("diff", "diff_low", "diff_high"))
    text = f'<span class="num">{_e(shown.text(diff, signed=True))}</span>'
    if not math.isnan(low) and shown.bound(low, True) != shown.bound(high, True):
        text += f' <span class="ci">[{_e(shown.bound(low, True))}, {_e(shown.bound(high, True))}]</span>'
    return text + (" *" if row["significant"] else "")


def _published_cells(result: Result, key: str) -> list[str]:
    figure = result.scenario.reference.get(key)
    if figure is None:
        return ["", ""]
    return [f'<span class="num">{_e(format_share(figure) if _shown(key, result.scenario).kind == "share" else format_number(figure))}</span>',
            reference_mark(result, key, ("yes", "no"))]


# --------------------------------------------------------------------------- sections

#: Headline KPIs in the main table (the full table is folded away).
HEADLINE_KPIS = ("customers", "contacts_per_customer", "give_up_rate", "first_contact_resolution",
                 "focal_contacts", "avoidable_call_share", "callers_continue_share", "cost_per_customer")
#: Channel columns of the main channel table.
CHANNEL_SUMMARY = ("contacts", "service_level", "mean_wait_min", "abandon_rate", "occupancy", "cost")


def _kpi_rows(result: Result, keys: Sequence[str], with_keys: bool) -> str:
    sc = result.scenario
    reference = sc.reference
    header = (["figure"] + (["name"] if with_keys else []) + ["mean [95 % CI]"]
              + (["published", "in CI"] if reference else []))
    rows, classes = [], []
    for key in keys:
        shown = _shown(key, sc)
        cells = [shown.label] + ([key] if with_keys else []) + [_stat(result, key)]
        cls = [""] * len(cells)
        if reference:
            published = _published_cells(result, key)
            cells += published
            cls += ["", "good" if published[1] == "yes" else "bad" if published[1] == "no" else ""]
        rows.append(cells)
        classes.append(cls)
    return _table(header, rows, classes, left=2 if with_keys else 1, raw=True)


def _channel_summary(result: Result) -> str:
    """One row per channel, the figures a planner looks at first, counts a day."""
    sc = result.scenario
    header = ["channel", "contacts a day", "service level", "mean wait", "abandoned", "occupancy", "cost a day"]
    rows = []
    for name in sc.channel_names:
        spec = sc.channel(name)
        cells = [channel_name(sc, name)]
        for metric in CHANNEL_SUMMARY:
            if spec.unlimited and metric in ("service_level", "mean_wait_min", "abandon_rate", "occupancy"):
                cells.append("self-service" if metric == "service_level" else "–")
            else:
                cells.append(_stat(result, f"channels.{name}.{metric}"))
        rows.append(cells)
    return _table(header, rows, raw=True)


def _channel_full(result: Result) -> str:
    """Every channel metric, one row per channel and metric (narrow at any channel count)."""
    sc = result.scenario
    rows, classes = [], []
    for name in sc.channel_names:
        for i, metric in enumerate(result.channels.loc[name].index):
            key = f"channels.{name}.{metric}"
            rows.append([channel_name(sc, name) if i == 0 else "", _shown(key, sc).label, metric,
                         _stat(result, key)])
            classes.append(["first" if i == 0 else ""] * 4)
    return _table(["channel", "figure", "name", "mean [95 % CI]"], rows, classes, left=3, raw=True)


def _before_after_tables(result: Result) -> str:
    sc = result.scenario
    focal = channel_name(sc, sc.focal_channel)
    parts = []
    for table, frame, title in (("before_call", result.before_call, f"Before the call: channels callers used "
                                 f"before their first call to {focal}"),
                                ("after_call", result.after_call, "After the call: callers' next step")):
        if frame.empty:
            parts.append(f"<h3>{_e(title)}</h3><p>No other channel: callers had nothing to try before calling.</p>")
            continue
        header = ["", "share of callers [95 % CI]"] + (["published", "in CI"] if sc.reference else [])
        rows, classes = [], []
        for name in frame.index:
            key = f"{table}.{name}"
            label = "Call again" if table == "after_call" and name == sc.focal_channel else channel_name(sc, name)
            cells = [label, _stat(result, key)]
            cls = ["", ""]
            if sc.reference:
                published = _published_cells(result, key)
                cells += published
                cls += ["", "good" if published[1] == "yes" else "bad" if published[1] == "no" else ""]
            rows.append(cells)
            classes.append(cls)
        note = empty_table_note(result, table)  # nobody called: every share is undefined
        parts.append(f"<h3>{_e(title)}</h3>" + _table(header, rows, classes, raw=True)
                     + (f"<p>Undefined: {_e(note)}.</p>" if note else ""))
    return "".join(parts)


def _comparison_rows(table: pd.DataFrame, keys: Sequence[str], scenario: Scenario, base_label: str) -> str:
    """One row per figure and scenario: the mean with its interval, and the paired difference against the base."""
    days = scenario.run.days
    rows, classes = [], []
    for key in keys:
        group = table[table["kpi"] == key]
        shown = _shown(key, scenario)
        for i, (_, row) in enumerate(group.iterrows()):
            rows.append([shown.label if i == 0 else "", row["scenario"],
                         _stat_cell(shown, row["mean"], row["ci_low"], row["ci_high"], days),
                         _difference_cell(shown, row, days)])
            first = "first" if i == 0 else ""
            classes.append([first] * 3 + [f"{first} {'sig' if row['significant'] else ''}".strip()])
    header = ["figure", "scenario", "mean [95 % CI]", f"difference against {base_label} [95 % CI]"]
    return _table(header, rows, classes, left=2, raw=True)


def _diff(table: pd.DataFrame, label: str, key: str) -> Mapping[str, Any] | None:
    rows = table[(table["scenario"] == label) & (table["kpi"] == key)]
    return rows.iloc[0] if len(rows) else None


def _card(title: str, main: str, interval: str = "", subs: Sequence[str] = (), flat: bool = False) -> str:
    parts = [f'<div class="card{" flat" if flat else ""}"><div class="card-title">{_e(title)}</div>',
             f'<div class="card-main">{_e(main)}</div>']
    if interval:
        parts.append(f'<div class="card-ci">{_e(interval)}</div>')
    parts += [f'<div class="card-sub">{_e(s)}</div>' for s in subs]
    return "".join(parts) + "</div>"


def _plain(cell_html: str) -> tuple[str, str]:
    """(value, interval) of a cell made by :func:`_stat_cell` or :func:`_difference_cell`, as text."""
    text = html.unescape(_strip(cell_html)).replace(" *", "")
    value, _, interval = text.partition(" [")
    return value, ("[" + interval) if interval else ""


def _strip(fragment: str) -> str:
    return re.sub("<[^>]+>", "", fragment)


def _base_cards(result: Result) -> list[str]:
    sc = result.scenario
    days = sc.run.days
    kpis = result.kpis
    focal = channel_name(sc, sc.focal_channel)
    cards = []
    value, interval = _plain(_stat(result, "customers"))
    cards.append(_card("Customers a day", value, interval,
                       [f"{format_number(kpis.loc['contacts_per_customer', 'mean'])} contacts each"]))
    value, interval = _plain(_stat(result, "give_up_rate"))
    cards.append(_card("Customers who gave up", value, interval,
                       [f"{format_share(kpis.loc['first_contact_resolution', 'mean'])} resolved at the first contact"]))
    value, interval = _plain(_stat(result, "avoidable_calls"))
    cards.append(_card(f"Avoidable calls to {focal} a day", value, interval,
                       [f"{format_share(kpis.loc['avoidable_call_share', 'mean'])} of its "
                        f"{format_count(kpis.loc['focal_contacts', 'mean'] / days)} calls a day"]))
    focal_spec = sc.channel(sc.focal_channel)
    if not focal_spec.unlimited:
        value, interval = _plain(_stat(result, f"channels.{sc.focal_channel}.service_level"))
        wait = result.stat(f"channels.{sc.focal_channel}.mean_wait_min")["mean"]
        abandon = result.stat(f"channels.{sc.focal_channel}.abandon_rate")["mean"]
        within = format_wait(focal_spec.service_level_seconds / 60, live=not focal_spec.is_async)
        cards.append(_card(f"{focal}: answered within {within}", value, interval,
                           [f"mean wait {format_wait(wait, live=not focal_spec.is_async)}; "
                            f"{format_share(abandon)} abandoned"]))
    if kpis.loc["cost_total", "mean"] > 0:
        value, interval = _plain(_stat(result, "cost_per_customer"))
        cards.append(_card("Cost per customer", value, interval,
                           [f"{format_count(kpis.loc['cost_total', 'mean'] / days)} a day"]))
    return cards


def _variant_card(table: pd.DataFrame, label: str, scenario: Scenario) -> str:
    days = scenario.run.days
    calls = _diff(table, label, "focal_contacts")
    value, interval = _plain(_difference_cell(_shown("focal_contacts", scenario), calls, days))
    subs = []
    for key, words in (("give_up_rate", "give-up"), ("cost_per_customer", "cost per customer")):
        row = _diff(table, label, key)
        if row is None or (key == "cost_per_customer" and not table.loc[table["kpi"] == key, "mean"].any()):
            continue
        diff_value, diff_interval = _plain(_difference_cell(_shown(key, scenario), row, days))
        subs.append(f"{words} {diff_value} {diff_interval}".strip())
    return _card(label, f"{value} calls a day", interval, subs, flat=not bool(calls["significant"]))


def _parameters(result: Result, changes: Mapping[str, Any] | None) -> str:
    """The scenario as run: replications and seed as run, the run window after ``--set``."""
    sc = result.scenario
    as_run = sc.with_changes({"run.replications": result.replications, "run.seed": result.seed})
    settings = [["replications", str(result.replications)], ["seed", str(result.seed)],
                ["days measured", f"{sc.run.days:g}"], ["warm-up", f"{sc.run.warmup_hours:g} h"]]
    parts = [_table(["run setting", "as run"], settings, left=2)]
    if changes:
        listed = "".join(f"<li><code>{_e(k)} = {_e(v)}</code></li>" for k, v in changes.items())
        parts.append(f"<p>Changed from the scenario file for this run:</p><ul>{listed}</ul>")
    parts.append(_details("The scenario as run (TOML)", f"<pre>{_e(as_run.to_toml())}</pre>"))
    return "".join(parts)


# --------------------------------------------------------------------------- the page


def report_html(result: Result, variants: Mapping[str, Result] | None = None, *, title: str | None = None,
                command: str | None = None, changes: Mapping[str, Any] | None = None) -> str:
    """The report as one HTML document (a string).

    Parameters
    ----------
    result
        The base result; run it with ``keep_journeys=True`` (the default) to
        get the journey, flow and wait charts.
    variants
        ``{label: Result}`` of variants to compare with the base, run with the
        same seed and replications (common random numbers): the report then
        shows the paired differences, the channel figures of every scenario
        and each variant's journey flow (when its journeys were kept).
    title
        Page title (default: the scenario's name).
    command
        The command line that made the report, shown so a reader can rerun it.
    changes
        Fields changed from the scenario file for this run (``--set``), listed
        with the parameters.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> base = sim.run(sc, replications=2, days=0.05)
    >>> more = sim.run(sc.with_changes({"groups.digital.shrinkage": 0.1}), replications=2, days=0.05)
    >>> page = report_html(base, {"more chat agents": more})
    >>> "Variants compared" in page and "groups.digital.shrinkage" in page
    True
    """
    sc = result.scenario
    variants = dict(variants or {})
    base_label = sc.name if sc.name not in variants else f"{sc.name} (base)"
    title = title or f"contactflow report: {sc.name}"
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    meta = {
        "scenario": f"{sc.name}" + (f" ({sc.source})" if sc.source and sc.source != sc.name else ""),
        "run": f"{result.replications} replication(s) × {sc.run.days:g} day(s) after a {sc.run.warmup_hours:g} h "
               "warm-up",
        "warm-up": warmup_text(result.warmup).removeprefix("warm-up: ")
        + (f". Warning: {result.warmup['warning']}" if result.warmup["warning"] else ""),
        "seed": str(result.seed),
        "contactflow": __version__,
        "generated": now,
    }
    charts = result_charts(result)
    sections: list[tuple[str, str, str]] = []  # (id, heading, html)

    table = None
    if variants:
        results = {base_label: result, **variants}
        table = comparison_table(results)
        cards = [_variant_card(table, label, sc) for label in list(variants)[:4]]
        cards += _base_cards(result)[:max(0, 4 - len(cards))]
    else:
        cards = _base_cards(result)
    summary = [f'<div class="cards">{"".join(cards)}</div>']
    if variants and len(variants) > 4:
        summary.append(f"<p>{len(variants) - 4} more variant(s) in the comparison below.</p>")
    if variants:
        summary.append("<p>Cards of variants: the paired difference against the base a day, with its 95 % "
                       "confidence interval; a grey edge means the interval includes 0 (no clear change).</p>")
    summary.append(f'<p class="method">{_e(INTERVAL_NOTE)}</p>')
    sections.append(("summary", "Summary", "".join(summary)))

    if variants:
        parts = ["<p>Each variant ran with the same seed and replications as the base, so the "
                 "differences are paired replication by replication (common random numbers).</p>"]
        changes_rows = []
        for label, variant in variants.items():
            changed = changed_fields(sc.to_dict(), variant.scenario.to_dict())
            changed.pop("name", None)
            text = "; ".join(f"{k} = {v}" for k, v in changed.items()) or "(no parameter changed)"
            changes_rows.append([label, variant.scenario.name, text])
        parts.append(_table(["variant", "scenario", "changes against the base"], changes_rows, left=3))
        parts.append(_figure_html("comparison", kpi_comparison(results, DEFAULT_COMPARISON_KPIS, base=base_label),
                                  "Key figures compared",
                                  "Bars: mean with 95 % CI; below: paired difference against the base."))
        staffed = [c.name for c in sc.channels if not c.unlimited]
        if staffed:
            parts.append(_figure_html("channel-comparison", channel_comparison(results), "Channels compared",
                                      "Service level, abandonment and mean wait of every staffed channel, "
                                      "per scenario, with 95 % CIs."))
        parts.append("<h3>Key figures</h3>")
        parts.append(_comparison_rows(table, [k for k in table["kpi"].unique() if k in HEADLINE_KPIS],
                                      sc, base_label))
        parts.append(f'<p class="note">{_e(SIGNIFICANT_NOTE)}; counts a day.</p>')
        channel_keys = [f"channels.{n}.{m}" for n in staffed for m in ("service_level", "abandon_rate",
                                                                        "mean_wait_min")]
        if channel_keys:
            parts.append(_details("Channel figures compared (table)",
                                  _comparison_rows(table, channel_keys, sc, base_label)))
        kpi_keys = [k for k in table.loc[table["table"] == "kpis", "kpi"].unique()]
        parts.append(_details("Every KPI compared (table)", _comparison_rows(table, kpi_keys, sc, base_label)))
        for label, variant in variants.items():
            if variant.logs is not None:
                fig = flow_diagram(variant, title=f"{label}: customer journeys, contact by contact")
                parts.append(_figure_html(f"journey_flow-{label}", fig, f"{label}: customer journeys",
                                          "The variant's journeys, to set beside the base's below."))
        sections.append(("compared", "Variants compared", "".join(parts)))

    journeys = [_figure_html(n, charts[n], *_CHART_CAPTIONS[n]) for n in ("journey_flow", "flow_matrix")
                if n in charts]
    if journeys:
        sections.append(("journeys", "Customer journeys", "".join(journeys)))
    parts = [_figure_html("before_after", charts["before_after"], *_CHART_CAPTIONS["before_after"]),
             _before_after_tables(result)]
    if sc.reference:
        parts.append(_figure_html("reference", charts["reference"], *_CHART_CAPTIONS["reference"]))
        if sc.reference_source:
            parts.append(f"<p>Published figures: {_e(sc.reference_source)}.</p>")
    sections.append(("before-after", "Before and after the call", "".join(parts)))

    parts = [_channel_summary(result)]
    parts += [_figure_html(n, fig, *_CHART_CAPTIONS["hourly" if n.startswith("hourly") else n])
              for n, fig in charts.items() if n.startswith("hourly") or n == "wait_times"]
    sections.append(("channels", "Channels", "".join(parts)))

    key_figures = [k for k in HEADLINE_KPIS if k in result.kpis.index]
    tables = [_kpi_rows(result, key_figures, with_keys=False),
              _details("Every KPI (table)", _kpi_rows(result, list(result.kpis.index), with_keys=True)),
              _details("Every channel figure (table)", _channel_full(result))]
    sections.append(("tables", f"Key figures: {sc.name}", "".join(tables)))
    sections.append(("parameters", "Parameters as run", _parameters(result, changes)))

    toc = "".join(f'<li><a href="#{_e(i)}">{_e(h)}</a></li>' for i, h, _ in sections)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(title)}</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>{_e(title)}</h1>",
        f'<p class="lead">{_e(sc.description)}</p>' if sc.description else "",
        '<dl class="meta">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in meta.items()) + "</dl>",
        f"<p>Reproduce with <code>{_e(command)}</code> (same seed, same numbers).</p>" if command else "",
        f'<nav class="toc"><strong>Contents</strong><ol>{toc}</ol></nav>',
    ]
    parts += [f'<section id="{_e(i)}"><h2>{_e(h)}</h2>{content}</section>' for i, h, content in sections]
    parts.append(f"<footer>Made by contactflow {_e(__version__)} on {_e(now)}. Self-contained: "
                 "open this file in any browser.</footer>")
    parts.append("</main></body></html>")
    return "\n".join(p for p in parts if p) + "\n"


def write_report(path: str | Path, result: Result, variants: Mapping[str, Result] | None = None, *,
                 title: str | None = None, command: str | None = None,
                 changes: Mapping[str, Any] | None = None) -> Path:
    """Write :func:`report_html` to ``path`` atomically (temporary file, then rename).

    Examples
    --------
    >>> import tempfile, pathlib, simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.05)
    >>> out = write_report(pathlib.Path(tempfile.mkdtemp()) / "report.html", res)
    >>> out.stat().st_size > 10_000
    True
    """
    page = report_html(result, variants, title=title, command=command, changes=changes)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(path, lambda p: p.write_text(page, encoding="utf-8"))
