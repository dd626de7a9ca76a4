"""Charts of results, ready for slides and papers (matplotlib).

Every chart function takes a :class:`~simulator.experiment.Result` (or a tidy
DataFrame) and returns a :class:`matplotlib.figure.Figure`. Figures are built
without pyplot, so library code never opens a window or keeps figures alive;
in a notebook run ``%matplotlib inline`` and the returned figure is shown.

All charts share one look (:mod:`simulator.style`): a bold title, axis labels
with units, a grey footnote saying which scenario, how many replications and
which seed, one colour-blind-safe colour and one readable name for a channel
in every chart, counts with thousands separators, and confidence intervals
drawn only within what a figure can be. Every chart fits a 16:9 slide with 1
to 12 channels and long channel names; SVG files keep their text as text.

=========================  ===================================================
:func:`flow_diagram`       customers flowing from contact to contact until
                           resolved or given up (the "Sisyphus" journey)
:func:`flow_comparison`    the journey flows of a base and its variants
:func:`flow_matrix`        from → to heatmap of customers a day between
                           channels and journey ends (redials on the diagonal)
:func:`before_after_chart` the before-the-call / after-the-call tables, with
                           the published figures marked
:func:`reference_chart`    the gap of each simulated figure to its published
                           value, with its interval
:func:`kpi_comparison`     scenarios side by side and paired differences
:func:`channel_comparison` service level, abandonment and waits per channel,
                           scenarios side by side
:func:`hourly_chart`       the planner's view by hour: demand and agents,
                           service level, occupancy, abandonment
:func:`sweep_chart`        KPIs against a varied parameter, with CI bands
:func:`tornado_chart`      which parameters move a KPI most
                           (data from :func:`tornado_data`)
:func:`wait_distribution`  how long contacts wait, per channel
=========================  ===================================================

:func:`result_charts` makes every chart that applies to one result and
:func:`save_charts` writes figures as PNG and SVG (atomically).

Examples
--------
>>> import simulator as sim
>>> from simulator import plots
>>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.1)
>>> fig = plots.before_after_chart(res)
>>> fig.axes[0].get_xlabel()
'share of callers'
"""

from __future__ import annotations

import itertools
import math
import re
import textwrap
from contextlib import contextmanager
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import matplotlib
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath
from matplotlib.ticker import Formatter, FuncFormatter, MaxNLocator

from .experiment import Result
from .files import atomic_write
from .precision import check_figure
from .figures import GIVE_UP, RESOLVED, SHARE_METRICS
from .report import empty_table_note, format_value, headline_figures
from .scenario import Scenario
from .style import (CHANNEL_METRIC_LABELS, CHANNEL_PALETTE, FIXED_COLORS, KPI_LABELS, MINUS, OUTCOME_COLORS, OUTCOME_LABELS,
                    SCENARIO_COLORS, SCENARIO_MARKERS, channel_colors, channel_name, clip_interval,
                    figure_label, format_count, format_number, format_share, format_signed, format_wait, is_share,
                    text_width, wrap_text)

__all__ = [
    "channel_colors",
    "figure_label",
    "journey_states",
    "journey_flows",
    "flow_diagram",
    "flow_comparison",
    "channel_graph",
    "flow_table",
    "flow_matrix",
    "before_after_chart",
    "reference_chart",
    "kpi_frame",
    "kpi_comparison",
    "channel_comparison",
    "hourly_chart",
    "hourly_charts",
    "sweep_chart",
    "sweep_axes",
    "sweep_charts",
    "comparison_chart",
    "tornado_fields",
    "tornado_data",
    "tornado_chart",
    "wait_distribution",
    "result_charts",
    "save_charts",
    "KPI_LABELS",
]

# --------------------------------------------------------------------------- look

#: Scenario comparisons show these KPIs by default.
DEFAULT_COMPARISON_KPIS = ("give_up_rate", "avoidable_call_share", "contacts_per_customer",
                           "cost_per_customer")

FONT = 13
STYLE = {
    "font.size": FONT,
    "axes.titlesize": FONT + 1,
    "axes.titlelocation": "left",
    "axes.labelsize": FONT,
    "axes.labelcolor": "#333333",
    "axes.edgecolor": "#9A9A9A",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
    "xtick.labelsize": FONT - 1,
    "ytick.labelsize": FONT - 1,
    "legend.fontsize": FONT - 1,
    "legend.frameon": False,
    "figure.titlesize": FONT + 5,
    "figure.titleweight": "bold",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.fonttype": "none",  # text stays text in SVG files: searchable, selectable, editable
    "font.family": ["DejaVu Sans", "sans-serif"],
}
GRID = {"color": "#E3E3E3", "linewidth": 0.8}
TEXT_GREY = "#5F5F5F"
TEXT = "#222222"
SLIDE = (12.0, 6.75)  # inches, 16:9
DPI = 150


@contextmanager
def _styled():
    with matplotlib.rc_context(STYLE):
        yield


def _chart(function: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the figure inside the shared style."""
    @wraps(function)
    def wrapper(*args, **kwargs):
        with _styled():
            return function(*args, **kwargs)
    return wrapper


def _figure(size=SLIDE, footnote: str | None = None) -> Figure:
    fig = Figure(figsize=size, layout="constrained")
    if footnote:
        footnote = "\n".join(wrap_text(line, size[0] * 72 - 16, FONT - 3) for line in footnote.split("\n"))
        lines = footnote.count("\n") + 1
        bottom = (0.1 + 0.19 * lines) / size[1]
        fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom), h_pad=0.06, w_pad=0.06)
        fig.text(0.008, 0.012, footnote, ha="left", va="bottom", fontsize=FONT - 3, color=TEXT_GREY)
    return fig


def _title(fig: Figure, title: str) -> None:
    """The figure's title, top left, broken into lines that fit the figure."""
    size = matplotlib.rcParams["figure.titlesize"]
    width = fig.get_figwidth() * 72 - 24
    fig.suptitle("\n".join(wrap_text(line, width, size, bold=True) for line in title.split("\n")),
                 x=0.008, ha="left")


def _tidy_axes(ax, grid: str | None = "y") -> None:
    """Tick and grid settings stored on the axes (so they hold when drawn later)."""
    ax.tick_params(labelsize=FONT - 1, colors="#333333", length=3, color="#9A9A9A")
    if grid:
        ax.grid(True, axis=grid, **GRID)
    else:
        ax.grid(False)


class _PercentFormatter(Formatter):
    """Shares as percentages written like the tables ("15 %"), with the fewest decimals the ticks need."""

    @staticmethod
    def _decimals(values) -> int:
        for decimals in range(4):
            if all(abs(round(100 * v, decimals) - 100 * v) < 1e-6 for v in values):
                return decimals
        return 3

    def format_ticks(self, values):
        decimals = self._decimals(values)
        return [f"{100 * v:.{decimals}f} %".replace("-", MINUS) for v in values]

    def __call__(self, x, pos=None):
        return f"{100 * x:.{self._decimals([x])}f} %".replace("-", MINUS)


def _percent_axis(axis) -> None:
    """Shares on this axis as percentages."""
    axis.set_major_formatter(_PercentFormatter())


def _thousands_axis(axis) -> None:
    """Counts on this axis with thousands separators (whole numbers without decimals)."""
    axis.set_major_formatter(FuncFormatter(
        lambda v, _: (f"{v:,.0f}" if float(v).is_integer() else format_count(v)).replace("-", MINUS)))


def _footnote(result: Result, what: str = "") -> str:
    sc = result.scenario
    text = (f"Scenario {sc.name}: {result.replications} replication(s) of {sc.run.days:g} day(s), "
            f"seed {result.seed}")
    return f"{text}. {what}" if what else text


def _per_day(result: Result) -> float:
    """Factor turning a count pooled over all replications into a count per simulated day."""
    return 1.0 / (result.replications * result.scenario.run.days)


def _legend_columns(labels: Sequence[str], width_points: float, fontsize: float) -> int:
    """The most legend columns whose entries fit side by side in ``width_points``.

    Entries fill the columns top to bottom as matplotlib lays them out; each
    takes its handle, the gap after it, its text and the space between columns.
    """
    entry = [text_width(label, fontsize) + fontsize * (1.2 + 0.6 + 1.4) for label in labels]
    for ncol in range(len(labels), 1, -1):
        rows, large = divmod(len(labels), ncol)  # matplotlib's split: the first `large` columns get a row more
        sizes = [rows + 1] * large + [rows] * (ncol - large)
        starts = np.cumsum([0, *sizes])
        widths = [max(entry[a:b]) for a, b in zip(starts[:-1], starts[1:]) if b > a]
        if sum(widths) <= width_points:
            return ncol
    return 1


def _legend_below(fig: Figure, ax, handles: Sequence, fontsize: float = FONT - 1) -> None:
    """A legend under the axes, in as many columns as fit the figure's width (never wider than it)."""
    ncol = _legend_columns([h.get_label() for h in handles], fig.get_figwidth() * 72 - 40, fontsize)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=ncol, frameon=False,
              handlelength=1.2, handletextpad=0.6, columnspacing=1.4, fontsize=fontsize)


def _no_data(ax, message: str) -> None:
    """An empty panel that says why it is empty."""
    ax.text(0.5, 0.5, wrap_text(message, 260, FONT - 1), transform=ax.transAxes, ha="center", va="center",
            fontsize=FONT - 1, color=TEXT_GREY)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _label(scenario: Scenario, name: str) -> str:
    return channel_name(scenario, name)


def _displayed_interval(rows: pd.DataFrame | Mapping[str, Any], share: bool) -> tuple[np.ndarray, np.ndarray]:
    """``ci_low`` and ``ci_high`` (columns, or single values) as drawn: clipped to what the figure can be
    (:func:`simulator.style.clip_interval`)."""
    return clip_interval(rows["ci_low"], rows["ci_high"], share)


# --------------------------------------------------------------------------- journeys


def journey_states(journeys: pd.DataFrame, max_steps: int = 5) -> pd.DataFrame:
    """Where each customer is at contact 1, 2, ..., ``max_steps``, later, and at the end.

    Parameters
    ----------
    journeys
        The contact log (:attr:`Result.journeys`).
    max_steps
        Contacts shown one by one; customers with more contacts are in the
        ``later`` bucket of the column after them.

    Returns
    -------
    DataFrame with one row per customer (index ``(replication, customer)``) and
    columns ``contact 1`` ... ``contact N``, ``later`` and ``end``: the channel
    of that contact, or ``resolved`` / ``give_up`` once the journey has ended
    (``later`` also holds ``later`` for customers still going).

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.05)
    >>> states = journey_states(res.journeys, max_steps=3)
    >>> list(states.columns)
    ['contact 1', 'contact 2', 'contact 3', 'later', 'end']
    >>> set(states["end"]) <= {"resolved", "give_up"}
    True
    """
    if max_steps < 1:
        raise ValueError(f"max_steps must be >= 1; got {max_steps}")
    j = journeys
    ends = j[j["next"].isin([GIVE_UP, RESOLVED])]
    key = ["replication", "customer"] if "replication" in j.columns else ["customer"]
    outcome = ends.set_index(key)["next"].astype(str)
    contacts = ends.set_index(key)["seq"].astype(int) + 1
    states = pd.DataFrame(index=outcome.index)
    for step in range(max_steps):
        rows = j[j["seq"] == step].set_index(key)["channel"].astype(str)
        column = rows.reindex(states.index)
        states[f"contact {step + 1}"] = column.where(column.notna(), outcome)
    states["later"] = outcome.where(contacts <= max_steps, "later")
    states["end"] = outcome
    return states


def journey_flows(result: Result, max_steps: int = 5) -> pd.DataFrame:
    """Customers a day moving from node to node of the journey-flow chart (:func:`flow_diagram`).

    Column ``k`` (0-based) holds contact ``k + 1`` of each journey still going
    (node = its channel) and the journeys that ended after contact ``k``
    (node ``resolved`` or ``give_up``). The last column, ``max_steps``, holds
    the journeys that ended after contact ``max_steps`` and, as node ``later``,
    those that needed more contacts. A journey that has ended is in no later
    column: end nodes have no way out.

    Returns
    -------
    DataFrame with one row per band: ``column`` (of its source), ``source``,
    ``target`` and ``customers`` (a day: pooled over the replications, divided
    by replications × days); the bands out of column 0 add up to the customers a day.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.05)
    >>> flows = journey_flows(res, max_steps=3)
    >>> set(flows.loc[flows["column"] == 2, "target"]) <= {"resolved", "give_up", "later"}
    True
    >>> bool(flows["source"].isin(["resolved", "give_up", "later"]).any())  # ends have no way out
    False
    """
    nodes = _flow_nodes(journey_states(result.journeys, max_steps), max_steps)
    rows = []
    for k in range(max_steps):
        pair = pd.DataFrame({"source": nodes[k], "target": nodes[k + 1]}).dropna()
        pair = pair[~pair["source"].isin(_ENDS)]
        counts = pair.groupby(["source", "target"], sort=False).size()
        rows += [(k, source, target, count * _per_day(result)) for (source, target), count in counts.items()]
    return pd.DataFrame(rows, columns=["column", "source", "target", "customers"])


#: The nodes where journeys stop in the journey-flow chart.
_ENDS = (RESOLVED, GIVE_UP, "later")


def _flow_nodes(states: pd.DataFrame, max_steps: int) -> list[pd.Series]:
    """Each customer's node in each column of the journey flow (NaN once the journey has ended)."""
    nodes = []
    going = pd.Series(True, index=states.index)
    for k in range(max_steps + 1):
        value = states[f"contact {k + 1}"] if k < max_steps else states["later"]
        nodes.append(value.where(going))
        going = going & ~value.isin([RESOLVED, GIVE_UP])
    return nodes


def _weighted_crossings(layout: list[dict[str, float]], flows: pd.DataFrame) -> float:
    """How much the bands cross: the sum over pairs of crossing bands of the product of their widths."""
    total = 0.0
    for k, bands in flows.groupby("column"):
        y0 = bands["source"].map(layout[k]).to_numpy(float)
        y1 = bands["target"].map(layout[k + 1]).to_numpy(float)
        w = bands["customers"].to_numpy(float)
        crossing = (np.subtract.outer(y0, y0) * np.subtract.outer(y1, y1)) < 0
        total += float(np.triu(crossing, 1).astype(float).ravel() @ np.outer(w, w).ravel())
    return total


def _order_channels(flows: pd.DataFrame, sizes: list[dict[str, float]], first_order: Sequence[str],
                    pad: float, sweeps: int = 4, keep_first: bool = False) -> tuple[list[list[str]], float, float]:
    """Order the channel nodes of every column to reduce crossing bands (barycentre heuristic).

    Sweeps left to right (a node moves to the mean height of the nodes its
    bands come from) and right to left (of those they go to), keeping the
    layout with the fewest weighted crossings, the scenario's order included.
    Resolved stays on top, gave up at the bottom; with ``keep_first`` the
    first column keeps the scenario's order. Returns the orders, their
    weighted crossings and those of the scenario's order.
    """
    columns = len(sizes)

    def start_order(k):
        return [n for n in first_order if n in sizes[k]]

    orders = [start_order(k) for k in range(columns)]
    baseline = _weighted_crossings(_flow_layout(orders, sizes, pad, centres=True), flows)
    best, best_score = [list(o) for o in orders], baseline
    for sweep in range(sweeps):
        steps = range(1, columns) if sweep % 2 == 0 else range(columns - 2, 0 if keep_first else -1, -1)
        for k in steps:
            layout = _flow_layout(orders, sizes, pad, centres=True)
            if sweep % 2 == 0:
                bands = flows[flows["column"] == k - 1]
                near, far, side = "target", "source", k - 1
            else:
                bands = flows[flows["column"] == k]
                near, far, side = "source", "target", k + 1
            weights = bands.assign(y=bands[far].map(layout[side]))
            centre = weights.groupby(near).apply(lambda g: np.average(g["y"], weights=g["customers"]),
                                                 include_groups=False)
            orders[k] = sorted(orders[k], key=lambda n: -centre.get(n, layout[k][n]))
        score = _weighted_crossings(_flow_layout(orders, sizes, pad, centres=True), flows)
        if score < best_score - 1e-9:
            best, best_score = [list(o) for o in orders], score
    return best, best_score, baseline


def _flow_layout(orders: list[list[str]], sizes: list[dict[str, float]], pad: float,
                 centres: bool = False) -> list[dict[str, Any]]:
    """(top, bottom) of every node, each column centred on 0.5: resolved on top, then the
    channels in ``orders``, later, gave up at the bottom. With ``centres``, the middle of each node."""
    layout = []
    for k, column_sizes in enumerate(sizes):
        names = ([RESOLVED] if RESOLVED in column_sizes else []) + list(orders[k])
        names += [n for n in ("later", GIVE_UP) if n in column_sizes]
        height = sum(column_sizes[n] for n in names) + pad * (len(names) - 1)
        top = 0.5 + height / 2
        column = {}
        for name in names:
            column[name] = (top + top - column_sizes[name]) / 2 if centres else (top, top - column_sizes[name])
            top -= column_sizes[name] + pad
        layout.append(column)
    return layout


@_chart
def flow_diagram(result: Result, max_steps: int = 5, title: str | None = None) -> Figure:
    """Customer journeys, contact by contact, until they end resolved or given up (a Sankey diagram).

    Column 1 holds every customer's first contact, by channel; each next
    column the contact after it, for the journeys still going, and the
    journeys that have just ended, in end nodes (resolved on top, gave up at
    the bottom) that no band leaves. The last column gathers the customers who
    needed more than ``max_steps`` contacts. Bands show where customers go
    next, coloured by where they come from; channels are ordered in each
    column to reduce crossing bands (:func:`journey_flows` has the numbers).
    Blocks are labelled with the channel and customers a day (pooled over
    the replications, divided by replications × days) where there is room.

    Parameters
    ----------
    result
        A result run with ``keep_journeys=True`` (the default).
    max_steps
        Contacts shown one by one.
    title
        Replaces the default title.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.05)
    >>> fig = flow_diagram(res, max_steps=4)
    >>> fig.axes[0].get_xticklabels()[0].get_text()
    'Contact 1'
    """
    sc = result.scenario
    fig = _figure(SLIDE, _footnote(result, "Block height = customers (all replications pooled); green and grey "
                                            "blocks: journeys that ended after the contact before; bands: "
                                            "where customers go next. A day: pooled customers ÷ "
                                            "(replications × days)."))
    ax = fig.add_subplot()
    _draw_flow(fig, ax, result, max_steps, lambda suggested: _title(fig, title or suggested))
    return fig


@_chart
def flow_comparison(results: Mapping[str, Result], max_steps: int = 4) -> Figure:
    """The journey flows of several scenarios, one above the other on one slide, in the same colours.

    Made to compare a base and a variant at a glance (one thing changed at a
    time); each panel is a :func:`flow_diagram` of its scenario, titled with
    its label and customers a day.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> runs = {"today": sim.run(sc, replications=1, days=0.05),
    ...         "better web": sim.run(sc.with_changes({"channels.web.resolve": 0.5}), replications=1, days=0.05)}
    >>> fig = flow_comparison(runs)
    >>> [ax.get_title(loc="left").split(":")[0] for ax in fig.axes]
    ['today', 'better web']
    """
    labels = list(results)
    if not labels:
        raise ValueError("flow_comparison needs at least one result")
    first = results[labels[0]]
    fig = _figure(SLIDE, _footnote(first, "Block height = customers; green and grey blocks: journeys that ended "
                                           "after the contact before. Same seed for every scenario."))
    axes = fig.subplots(len(labels), 1, squeeze=False)[:, 0]
    _title(fig, "Customer journeys compared")
    for ax, label in zip(axes, labels):
        def panel_title(text, ax=ax, label=label):
            ax.set_title(f"{label}: {text.split(': ', 1)[-1]}", fontsize=FONT, loc="left")
        _draw_flow(fig, ax, results[label], max_steps, panel_title, legend=False, compact=True, left_width=2.4)
    return fig


def _draw_flow(fig: Figure, ax, result: Result, max_steps: int, set_title: Callable[[str], None],
               legend: bool = True, compact: bool = False, left_width: float | None = None) -> None:
    """Draw the journey flow of ``result`` on ``ax``; ``set_title`` gets the title it suggests (before the
    labels are placed, so they are placed in the final layout). A ``compact`` flow (one of several
    compared) keeps the scenario's order in its first column; ``left_width`` fixes the room of the
    first column's labels (inches), so flows compared line up."""
    sc = result.scenario
    flows = journey_flows(result, max_steps)
    if flows.empty:
        _no_data(ax, "No customer arrived in the measured window: run longer (days) to see their journeys.")
        set_title("Customer journeys, contact by contact: 0 customers a day")
        return
    per_day = flows.loc[flows["column"] == 0, "customers"].sum()
    columns = max_steps + 1
    sizes: list[dict[str, float]] = [dict() for _ in range(columns)]
    for (k, source), customers in flows.groupby(["column", "source"])["customers"].sum().items():
        sizes[k][source] = customers / per_day
    for (k, target), customers in flows.groupby(["column", "target"])["customers"].sum().items():
        sizes[k + 1][target] = customers / per_day
    while columns > 2 and not sizes[columns - 1]:
        columns -= 1
    sizes = sizes[:columns]
    flows = flows[flows["column"] < columns - 1]
    pad = 0.022 if not compact else 0.03
    orders, _, _ = _order_channels(flows, sizes, sc.channel_names, pad, keep_first=compact)
    layout = _flow_layout(orders, sizes, pad)
    colors = channel_colors(sc.channel_names)
    node_width = 0.09

    # Bands: out of each node in the order of their targets (top first), into each in that of their sources.
    out_top = {(k, n): top for k, column in enumerate(layout) for n, (top, _) in column.items()}
    in_top = dict(out_top)
    centre = [{n: (t + b) / 2 for n, (t, b) in column.items()} for column in layout]
    bands = flows.assign(y0=[centre[k][n] for k, n in zip(flows["column"], flows["source"])],
                         y1=[centre[k + 1][n] for k, n in zip(flows["column"], flows["target"])])
    incoming = {}
    for row in bands.sort_values(["column", "y0"], ascending=[True, False]).itertuples():
        height = row.customers / per_day
        incoming[(row.column, row.source, row.target)] = in_top[(row.column + 1, row.target)]
        in_top[(row.column + 1, row.target)] -= height
    for row in bands.sort_values(["column", "y1"], ascending=[True, False]).itertuples():
        height = row.customers / per_day
        y0 = out_top[(row.column, row.source)]
        out_top[(row.column, row.source)] -= height
        _band(ax, row.column + node_width / 2, y0, row.column + 1 - node_width / 2,
              incoming[(row.column, row.source, row.target)], height, colors[row.source], alpha=0.4)
    for k, column in enumerate(layout):
        for name, (top, bottom) in column.items():
            ax.add_patch(matplotlib.patches.Rectangle(
                (k - node_width / 2, bottom), node_width, top - bottom, facecolor=colors[name],
                edgecolor="white", linewidth=0.6, zorder=3))

    labels = [f"Contact {k + 1}" for k in range(columns)]
    if columns == max_steps + 1:
        labels[-1] = f"After contact {max_steps}"
    ax.set_xticks(range(columns), labels)
    ax.xaxis.set_ticks_position("top")
    ax.tick_params(axis="x", length=0, labelsize=FONT - 1 - compact, pad=4)
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    top = max(t for column in layout for t, _ in column.values())
    bottom = min(b for column in layout for _, b in column.values())
    ax.set_ylim(bottom - 0.01, top + 0.01)

    if legend:
        used = [n for n in [*sc.channel_names, RESOLVED, GIVE_UP, "later"] if any(n in c for c in layout)]
        handles = [Patch(facecolor=colors[n], label=_label(sc, n) if n != "later" else
                         f"More than {max_steps} contacts") for n in used]
        _legend_below(fig, ax, handles)
    set_title(f"Customer journeys, contact by contact: {format_count(per_day)} customers a day, "
              f"{format_share(result.kpis.loc['resolution_rate', 'mean'], 0)} resolved")

    # Room for the first column's labels on the left and the last one's on the right, in inches.
    fontsize = FONT - 2 - compact
    fig.draw_without_rendering()
    box = ax.get_position()
    axes_inches = box.width * fig.get_figwidth(), box.height * fig.get_figheight()
    points_per_unit = axes_inches[1] * 72 / (top - bottom + 0.02)
    line = fontsize * 1.1 * 1.2  # points per line of text (line spacing 1.1)

    def fits(k, name, text, placed):
        """Where the label goes (centre, half height), or None: inside the columns a label may not
        reach past the gaps around its block; no label may cover another."""
        half = ((text.count("\n") + 1) * line + 0.5 * fontsize) / 2 / points_per_unit  # and the box's pad
        t, b = layout[k][name]
        y = (t + b) / 2
        if k > 0 and 2 * half > (t - b) + 1.8 * pad:
            return None
        if any(y - half < upper and y + half > lower for upper, lower in placed):
            return None
        return y, half

    def labels_of(k: int, column: dict, room: float, styles: Sequence[str],
                  line_room: float = 0.0) -> list[tuple[str, float, str]]:
        """(node, height, text) of the labels that fit, largest blocks first, each in the first style
        that fits: "full" (name over count, ``room`` wide), "count", "compact" (name and count in at
        most two lines ``room`` wide), "line" (name and count on one line, ``line_room`` wide)."""
        placed: list[tuple[float, float]] = []
        chosen = []
        for name in sorted(column, key=lambda n: column[n][1] - column[n][0]):  # largest first
            a_day = format_count(sizes[k][name] * per_day)
            name_text = _label(sc, name) if name != "later" else f"More than {max_steps} contacts"
            texts = {"full": f"{wrap_text(name_text, room, fontsize, max_lines=3 if k == 0 else None)}\n"
                             f"{a_day} a day",
                     "count": f"{a_day} a day",
                     "compact": wrap_text(f"{name_text}\u00a0·\u00a0{a_day}", room, fontsize, max_lines=2),
                     "line": wrap_text(f"{name_text}\u00a0·\u00a0{a_day}", line_room, fontsize, max_lines=1)}
            for style in styles:
                text = texts[style]
                if (style == "full" and k > 0 and text.count("\n") > 2) or \
                        max(text_width(part, fontsize) for part in text.split("\n")) > (
                            line_room if style == "line" else room):
                    continue
                spot = fits(k, name, text, placed)
                if spot is not None:
                    placed.append((spot[0] + spot[1], spot[0] - spot[1]))
                    chosen.append((name, spot[0], text))
                    break
        return chosen

    # The first column names every channel: name over count, or on one line where two do not fit.
    # Heights do not depend on the columns' spacing, so the labels are chosen first and the left margin
    # made as wide as they are (at most 2.75 inches).
    room = 2.3 * 72 if left_width is None else (left_width - 0.15) * 72
    first = max((labels_of(0, layout[0], room, styles, line_room=max(room, 2.6 * 72) if left_width is None else room)
                 for styles in (["full"], ["full", "compact"], ["compact"], ["compact", "line"], ["line"])),
                key=len)  # the most channels named; the first such wins
    if left_width is None:
        left_width = min(2.75, max([text_width(text, fontsize) for _, _, text in first] + [36]) / 72 + 0.15)
    right_width = 1.35
    step = (axes_inches[0] - left_width - right_width) / max(columns - 1, 1)
    ax.set_xlim(-node_width / 2 - left_width / step, columns - 1 + node_width / 2 + right_width / step)
    for _, y, text in first:
        ax.text(-node_width / 2 - 0.06 / step, y, text, ha="right", va="center", fontsize=fontsize,
                color=TEXT, linespacing=1.1)
    for k, column in enumerate(layout[1:], start=1):
        room = (step - node_width * step - 0.1) * 72 if k < columns - 1 else (right_width - 0.1) * 72
        for _, y, text in labels_of(k, column, room, ["full", "count"]):
            ax.text(k + node_width / 2 + 0.05 / step, y, text, ha="left", va="center", fontsize=fontsize,
                    color=TEXT, linespacing=1.1, zorder=4,
                    bbox=dict(boxstyle="round,pad=0.12", facecolor="white", edgecolor="none", alpha=0.8))


def _band(ax, x0: float, y0: float, x1: float, y1: float, height: float, color: str, alpha: float) -> None:
    """A band of constant height from (x0, y0 top) to (x1, y1 top), S-shaped."""
    xm = (x0 + x1) / 2
    top = [(x0, y0), (xm, y0), (xm, y1), (x1, y1)]
    bottom = [(x1, y1 - height), (xm, y1 - height), (xm, y0 - height), (x0, y0 - height)]
    vertices = top + bottom + [(x0, y0)]
    codes = ([MplPath.MOVETO] + [MplPath.CURVE4] * 3 + [MplPath.LINETO] + [MplPath.CURVE4] * 3
             + [MplPath.CLOSEPOLY])
    ax.add_patch(PathPatch(MplPath(vertices, codes), facecolor=color, edgecolor="none", alpha=alpha,
                           zorder=2))


# --------------------------------------------------------------------------- network


def channel_graph(result: Result) -> nx.DiGraph:
    """The channels as a directed graph weighted by the simulated flows.

    Nodes are the channels plus ``resolved`` and ``give_up``; node attribute
    ``contacts`` is contacts per day (journeys ending there, for the two
    ends), ``first`` the share of customers starting there. Edge attribute
    ``flow`` is customers moving along the edge per day (``source == target``
    is a retry in the same channel), ``share`` the share of the source's
    contacts that went that way.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.05)
    >>> g = channel_graph(res)
    >>> sorted(g.nodes)
    ['chat', 'email', 'give_up', 'phone', 'resolved', 'web']
    >>> g.nodes["phone"]["contacts"] > 0
    True
    """
    sc = result.scenario
    j = result.journeys
    per_day = _per_day(result)
    g = nx.DiGraph(scenario=sc.name)
    contacts = j["channel"].value_counts()
    first = j.loc[j["seq"] == 0, "channel"].value_counts(normalize=True)
    for name in sc.channel_names:
        g.add_node(name, contacts=float(contacts.get(name, 0)) * per_day, first=float(first.get(name, 0.0)))
    ends = j["next"].value_counts()
    for end in (RESOLVED, GIVE_UP):
        g.add_node(end, contacts=float(ends.get(end, 0)) * per_day, first=0.0)
    flows = j.groupby(["channel", "next"], observed=True).size()
    for (source, target), count in flows.items():
        if count:
            g.add_edge(str(source), str(target), flow=float(count) * per_day,
                       share=float(count) / float(contacts[source]))
    return g


def flow_table(result: Result) -> pd.DataFrame:
    """Customers a day moving from each channel to each next step: the data of :func:`flow_matrix`.

    Rows are ``new`` (customers starting their journey, by first channel) and
    the channels (a contact there, then the next step); columns are the
    channels, ``resolved`` and ``give_up``. The diagonal is customers trying
    the same channel again (for the phone: redials). Each channel's row adds up
    to its contacts a day; pooled over the replications, divided by
    replications × days.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.05)
    >>> table = flow_table(res)
    >>> list(table.columns)
    ['web', 'email', 'chat', 'phone', 'resolved', 'give_up']
    >>> bool(table.loc["phone", "phone"] > 0)  # redials
    True
    """
    names = list(result.scenario.channel_names)
    j = result.journeys
    per_day = _per_day(result)
    moves = j.groupby(["channel", "next"], observed=True).size()
    table = pd.DataFrame(0.0, index=["new", *names], columns=[*names, RESOLVED, GIVE_UP])
    for (source, target), count in moves.items():
        table.loc[str(source), str(target)] += count * per_day
    starts = j.loc[j["seq"] == 0, "channel"].astype(str).value_counts()
    for name, count in starts.items():
        table.loc["new", name] += count * per_day
    return table


#: A light-to-dark slate scale for counts: no hue, so it is never read as a channel.
_COUNT_MAP = matplotlib.colors.LinearSegmentedColormap.from_list(
    "contactflow_counts", ["#FFFFFF", "#DCE3EC", "#8FA3BC", "#3D5573", "#15202E"])


@_chart
def flow_matrix(result: Result) -> Figure:
    """Where customers go after a contact in each channel: a from → to heatmap of customers a day.

    One row per channel the contact was in (and a first row for customers
    starting their journey), one column per next step: another channel, the
    same one again (the outlined diagonal: for the phone, redials), resolved
    or gave up. Cells give customers a day with thousands separators; the
    right column gives each row's total (contacts a day). Readable with a
    dozen channels, where a drawn graph is not.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.05)
    >>> fig = flow_matrix(res)
    >>> fig.axes[0].get_xlabel()
    'next step'
    """
    sc = result.scenario
    table = flow_table(result)
    colors = channel_colors(sc.channel_names)
    rows, columns = list(table.index), list(table.columns)
    values = table.to_numpy(float)
    fig = _figure(SLIDE, _footnote(result, "Customers a day (pooled over the replications, divided by "
                                            "replications × days). Outlined: trying the same channel again. "
                                            "Shading grows with the square root of the count."))
    ax = fig.add_subplot()
    norm = matplotlib.colors.PowerNorm(0.5, vmin=0, vmax=max(values.max(), 1e-9))
    ax.imshow(np.ma.masked_equal(values, 0), cmap=_COUNT_MAP, norm=norm, aspect="auto",
              interpolation="nearest")
    n_rows, n_cols = values.shape
    # A first guess of the cells' width, to size labels; measured once the layout is done (below).
    cell_points = (SLIDE[0] - 2.6) * 72 / (n_cols + 0.6)
    fontsize = max(7.0, min(FONT - 1, cell_points / 4.2, 300 / n_rows / 1.6))
    for name in sc.channel_names:
        i, j = rows.index(name), columns.index(name)
        ax.add_patch(matplotlib.patches.Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, edgecolor=TEXT,
                                                  linewidth=1.6, zorder=3))
    ax.axhline(0.5, color="#9A9A9A", linewidth=1.0)  # new customers apart from moves
    ax.axvline(len(sc.channel_names) - 0.5, color="#9A9A9A", linewidth=1.0)  # the ends apart from channels
    label_points = 150
    row_labels = ["New customers" if r == "new" else wrap_text(_label(sc, r), label_points, fontsize + 1,
                                                               max_lines=2) for r in rows]
    column_labels = [wrap_text(_label(sc, c), cell_points * 0.98, fontsize, max_lines=4) for c in columns]
    ax.set_yticks(range(n_rows), row_labels, fontsize=fontsize + 1)
    ax.set_xticks(range(n_cols), column_labels, fontsize=fontsize)
    ax.xaxis.set_ticks_position("top")
    ax.xaxis.set_label_position("top")
    ax.set_xlabel("next step", fontsize=FONT - 1, color=TEXT_GREY)
    ax.set_ylabel("contact in", fontsize=FONT - 1, color=TEXT_GREY)
    ax.tick_params(length=0, pad=16)
    # Cells no bigger than a number needs: a small matrix does not fill the slide with empty colour.
    ax.set_box_aspect(min(n_rows * 0.6, 4.6) / min(n_cols * 1.25, 8.6))
    for label, name in zip(ax.get_yticklabels(), rows):
        label.set_linespacing(1.05)
    for label in ax.get_xticklabels():
        label.set_linespacing(1.05)
    # Channel colour keys: a bar left of each row label's cell, one above each column's.
    left = (matplotlib.transforms.blended_transform_factory(ax.transAxes, ax.transData)
            + matplotlib.transforms.ScaledTranslation(-11 / 72, 0, fig.dpi_scale_trans))
    up = (matplotlib.transforms.blended_transform_factory(ax.transData, ax.transAxes)
          + matplotlib.transforms.ScaledTranslation(0, 4 / 72, fig.dpi_scale_trans))
    for i, name in enumerate(rows):
        if name != "new":
            ax.add_patch(matplotlib.patches.Rectangle((0, i - 0.32), 0.006, 0.64, facecolor=colors[name],
                                                      edgecolor="none", transform=left, clip_on=False))
    for j, name in enumerate(columns):
        ax.add_patch(matplotlib.patches.Rectangle((j - 0.32, 1), 0.64, 0.012, facecolor=colors[name],
                                                  edgecolor="none", transform=up, clip_on=False))
    for _ in range(2):  # wrap the column labels to the cells' measured width
        fig.draw_without_rendering()
        cell_points = ax.get_position().width * fig.get_figwidth() * 72 / n_cols
        longest_word = max(text_width(word, fontsize) for c in columns for word in _label(sc, c).split())
        label_size = min(fontsize, fontsize * cell_points * 0.9 / longest_word)
        ax.set_xticks(range(n_cols), [wrap_text(_label(sc, c), cell_points * 0.9, label_size, max_lines=4)
                                      for c in columns], fontsize=label_size)
        for label in ax.get_xticklabels():
            label.set_linespacing(1.05)
    for i, j in itertools.product(range(n_rows), range(n_cols)):
        if values[i, j] <= 0:
            continue
        text = format_count(values[i, j])
        size = min(fontsize, fontsize * cell_points * 0.9 / text_width(text, fontsize))
        ax.text(j, i, text, ha="center", va="center", fontsize=size,
                color="white" if norm(values[i, j]) > 0.55 else TEXT)
    totals = values.sum(axis=1)
    for i, total in enumerate(totals):
        ax.annotate(format_count(total), (1.0, i), xycoords=("axes fraction", "data"), xytext=(8, 0),
                    textcoords="offset points", ha="left", va="center", fontsize=fontsize, color=TEXT)
    ax.annotate("a day", (1.0, -0.5), xycoords=("axes fraction", "data"), xytext=(8, 4),
                textcoords="offset points", ha="left", va="bottom", fontsize=fontsize, color=TEXT_GREY)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xticks(np.arange(-0.5, n_cols), minor=True)
    ax.set_yticks(np.arange(-0.5, n_rows), minor=True)
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="minor", length=0)
    _title(fig, "Where customers go after each contact (customers a day)")
    return fig


# --------------------------------------------------------------------------- before / after


def _share_bars(ax, labels: Sequence[str], frame: pd.DataFrame, colors: Sequence[str],
                reference: Sequence[float | None], fontsize: float) -> None:
    """Horizontal bars of shares, top to bottom, with CI whiskers, values at their ends and
    published figures as black diamonds on a dashed line across the bar."""
    mean = frame["mean"].to_numpy(dtype=float)
    low, high = _displayed_interval(frame, share=True)
    y = np.arange(len(mean))[::-1]
    err = np.vstack([np.nan_to_num(mean - low), np.nan_to_num(high - mean)])
    ax.barh(y, mean, height=0.66, color=colors, zorder=2)
    ax.errorbar(mean, y, xerr=err, fmt="none", ecolor=TEXT, elinewidth=1.3, capsize=3.5, zorder=3)
    ax.set_yticks(y, labels, fontsize=fontsize)
    for label in ax.get_yticklabels():
        label.set_linespacing(1.0)
    for yi, m, h, r in zip(y, mean, high, reference):
        end = max(v for v in (m, h, r if r is not None else 0.0) if np.isfinite(v))
        ax.annotate(format_share(m), (end, yi), xytext=(6, 0), textcoords="offset points", ha="left",
                    va="center", fontsize=fontsize, color=TEXT, zorder=4)
        if r is not None:
            ax.plot([r, r], [yi - 0.42, yi + 0.42], color="black", linewidth=1.6, linestyle=(0, (2, 1.5)),
                    zorder=4)
            ax.plot([r], [yi + 0.42], marker="D", markersize=7, color="black", markeredgecolor="white",
                    linestyle="none", zorder=5)
    ax.set_ylim(len(mean) - 0.4 - max(len(mean), 5), len(mean) - 0.4)  # a few bars stay bar-shaped
    _percent_axis(ax.xaxis)
    _tidy_axes(ax, grid="x")
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)


@_chart
def before_after_chart(result: Result) -> Figure:
    """Bar charts of the before-the-call and after-the-call tables, with 95 % CIs.

    Left: of the callers (customers who contacted the focal channel), the
    share who used each other channel before their first call. Right: their
    next step after the first call (calling again, another channel, giving up,
    or resolved). Published figures in the scenario's ``reference`` (keys
    ``before_call.CHANNEL`` / ``after_call.TARGET``) are drawn as black
    diamonds on a dashed line. Bars are horizontal, so long channel names
    stay readable; a scenario with no channel but the focal one gets a left
    panel that says so, and a run in which nobody called two such panels.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.05)
    >>> fig = before_after_chart(res)
    >>> [t.get_text() for t in fig.axes[0].get_yticklabels()]
    ['Web self-service', 'Email', 'Chat']
    """
    sc = result.scenario
    colors = channel_colors(sc.channel_names)
    before, after = result.before_call, result.after_call
    published = [k for k in sc.reference if k.startswith(("before_call.", "after_call."))]
    key = (f" Black diamond on a dashed line: {sc.reference_source or 'published figure'}." if published else "")
    fig = _figure(SLIDE, _footnote(result, "Bars: mean; whiskers: 95 % confidence interval (within 0–100 %)."
                                   + key))
    rows = max(len(before), len(after), 1)
    fontsize = FONT - 1 if rows <= 9 else FONT - 2 if rows <= 12 else FONT - 3
    axes = fig.subplots(1, 2)
    focal = _label(sc, sc.focal_channel)
    titles = ("Before the call: channels used", "After the call: next step")
    notes = {table: empty_table_note(result, table) for table in ("before_call", "after_call")}
    for ax, frame, table, title in zip(axes, (before, after), ("before_call", "after_call"), titles):
        ax.set_title(title)
        if frame.empty:
            _no_data(ax, f"The scenario has no channel but {focal}: callers had no other channel to try "
                         "before calling.")
            continue
        if notes[table] is not None:  # nobody called
            _no_data(ax, f"Nothing to show: {notes[table]}.")
            continue
        names = list(frame.index)
        labels = [("Call again" if n == sc.focal_channel and table == "after_call" else _label(sc, n))
                  for n in names]
        reference = [sc.reference.get(f"{table}.{n}") for n in names]
        lines = 2 if rows <= 10 else 1
        _share_bars(ax, [wrap_text(label, 150, fontsize, max_lines=lines) for label in labels], frame,
                    [colors[n] for n in names], reference, fontsize)
    right = max([*np.nan_to_num(_displayed_interval(after, True)[1]).tolist(),
                 *np.nan_to_num(_displayed_interval(before, True)[1]).tolist(),
                 *[v for k, v in sc.reference.items() if k.startswith(("before_call.", "after_call."))], 0.05])
    for ax, table in zip(axes, ("before_call", "after_call")):
        if notes[table] is None:  # one scale for both, with room for the value labels
            ax.set_xlim(0, min(right * 1.22, 1.1))
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.set_xlabel("share of callers")
    _title(fig, f"{focal}: what callers did before and after their first call")
    return fig


@_chart
def reference_chart(result: Result) -> Figure:
    """How far each simulated figure is from its published value: simulated − published, with its 95 % CI.

    One row per key of ``scenario.reference``: the gap in percentage points
    (in the figure's own unit for a count or time) as a dot on its
    confidence interval (the simulated interval, clipped to what the figure
    can be, minus the published value). A row whose interval contains 0
    agrees with the publication; the dot is hollow then. The right column
    gives both values.

    Raises
    ------
    ValueError
        If the scenario has no reference figures.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.05)
    >>> fig = reference_chart(res)
    >>> len(fig.axes[0].get_yticklabels()) == len(res.scenario.reference)
    True
    >>> fig.axes[0].get_xlabel()
    'simulated − published (percentage points)'
    """
    sc = result.scenario
    table = result.reference()
    if table.empty:
        raise ValueError(f"scenario {sc.name!r} has no [reference] figures to compare with")
    colors = channel_colors(sc.channel_names)
    keys = list(table.index)
    shares = [is_share(k) for k in keys]
    if not all(shares) and any(shares):
        keys = [k for k in keys if is_share(k)]  # one axis: the shares (counts and times are in the tables)
    share = is_share(keys[0])
    scale = 100.0 if share else 1.0
    fig = _figure(SLIDE, _footnote(result, "Dot: simulated − published; bar: 95 % confidence interval of the simulated "
                                    "figure (within what it can be) minus the published one. Hollow dot: the "
                                    "published figure lies inside the interval."
                                    + (f" Published: {sc.reference_source}." if sc.reference_source else "")))
    ax = fig.add_subplot()
    y = np.arange(len(keys))[::-1]
    labels, spans = [], []
    for yi, key in zip(y, keys):
        row = table.loc[key]
        parts = key.split(".")
        color = colors.get(parts[-1], "#3D5573") if len(parts) == 2 else "#3D5573"
        low, high = clip_interval(row["ci_low"], row["ci_high"], share=is_share(key))
        gap, gap_low, gap_high = ((v - row["published"]) * scale for v in (row["mean"], low, high))
        if np.isfinite(gap_low):
            ax.plot([gap_low, gap_high], [yi, yi], color=color, linewidth=7, alpha=0.45, solid_capstyle="butt",
                    zorder=2)
            spans += [gap_low, gap_high]
        inside = bool(np.isfinite(low) and low <= row["published"] <= high)
        ax.plot([gap], [yi], "o", color=color, markersize=10, zorder=4, markeredgewidth=2.2,
                markerfacecolor="white" if inside else color, markeredgecolor=color)
        spans.append(gap)
        shown = format_share if is_share(key) else format_number
        verdict = ("no CI: one replication" if not np.isfinite(low) else "inside the CI" if inside else
                   format_signed(f"{abs(gap):.1f}", gap) + (" points" if share else ""))
        ax.annotate(f"{shown(row['mean'])} vs {shown(row['published'])}  ({verdict})", (1.0, yi),
                    xycoords=("axes fraction", "data"), xytext=(14, 0), textcoords="offset points", va="center",
                    fontsize=FONT - 1, color=TEXT)
        labels.append(wrap_text(figure_label(key, sc)[0], 260, FONT - 1, max_lines=2))
    ax.annotate("simulated vs published", (1.0, len(keys) - 0.5), xycoords=("axes fraction", "data"),
                xytext=(14, 0), textcoords="offset points", va="center", fontsize=FONT - 1, color=TEXT_GREY,
                fontweight="bold")
    ax.axvline(0, color=TEXT, linewidth=1.3, zorder=1)
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, len(keys) - 0.1)
    reach = max(abs(v) for v in spans if np.isfinite(v)) if spans else 1.0
    ax.set_xlim(-reach * 1.15 - 0.1 * scale / 100, reach * 1.15 + 0.1 * scale / 100)
    ax.xaxis.set_major_locator(MaxNLocator(7, symmetric=True))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_signed(f"{abs(v):g}", v)))
    ax.set_xlabel("simulated − published (percentage points)" if share else "simulated − published")
    _tidy_axes(ax, grid="x")
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    _title(fig, "Simulated vs published figures: how far apart they are")
    return fig


# --------------------------------------------------------------------------- comparisons


_COMPARISON_COLUMNS = ("scenario", "kpi", "mean", "ci_low", "ci_high")


def kpi_frame(results: Mapping[str, Result], kpis: Sequence[str] | None = None,
              base: str | None = None) -> pd.DataFrame:
    """Tidy comparison table of several results: the input format of :func:`kpi_comparison`.

    A selection from :func:`simulator.compare.comparison_table`, which
    computes the paired differences.

    Parameters
    ----------
    results
        ``{scenario label: Result}``, in display order.
    kpis
        Figures to compare (KPI names, ``before_call.CHANNEL``, ``after_call.TARGET``
        or ``channels.CHANNEL.METRIC``); default :data:`DEFAULT_COMPARISON_KPIS`.
    base
        Label of the base scenario; when given, each row also gets the paired
        difference against it, replication by replication (meaningful when the
        runs used the same seed: common random numbers).

    Returns
    -------
    DataFrame with columns ``scenario, kpi, mean, ci_low, ci_high`` and, with a
    base, ``diff, diff_low, diff_high`` (NaN on the base's own rows).

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> runs = {"base": sim.run(sc, replications=2, days=0.05),
    ...         "more chat": sim.run(sc.with_changes({"channels.chat.agents": 25}), replications=2, days=0.05)}
    >>> frame = kpi_frame(runs, ["give_up_rate"], base="base")
    >>> list(frame.columns)
    ['scenario', 'kpi', 'mean', 'ci_low', 'ci_high', 'diff', 'diff_low', 'diff_high']
    """
    from .compare import comparison_table

    kpis = list(kpis or DEFAULT_COMPARISON_KPIS)
    labels = list(results)
    if not labels:
        raise ValueError("kpi_frame needs at least one result")
    if base is not None:
        if base not in results:
            raise KeyError(f"base {base!r} is not one of the results ({', '.join(labels)})")
        for label, result in results.items():
            if result.replications != results[base].replications:
                raise ValueError(f"paired differences need the same replications: {label!r} has "
                                 f"{result.replications}, the base {base!r} has {results[base].replications}")
    first = base if base is not None else labels[0]
    table = comparison_table({first: results[first], **{k: v for k, v in results.items() if k != first}})
    missing = [k for k in kpis if not (table["kpi"] == k).any()]
    if missing:
        raise KeyError(f"no figure {', '.join(map(repr, missing))} in the results; use a KPI name, "
                       "before_call.CHANNEL, after_call.TARGET or channels.CHANNEL.METRIC")
    table = table.set_index(["scenario", "kpi"]).loc[list(itertools.product(labels, kpis))].reset_index()
    columns = list(_COMPARISON_COLUMNS) + (["diff", "diff_low", "diff_high"] if base is not None else [])
    return table[columns]


def _check_columns(frame: pd.DataFrame, needed: Iterable[str], what: str) -> None:
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: the DataFrame lacks column(s) {', '.join(missing)}; "
                         f"it has {', '.join(map(str, frame.columns))}")


@_chart
def kpi_comparison(data: pd.DataFrame | Mapping[str, Result], kpis: Sequence[str] | None = None,
                   base: str | None = None, title: str | None = None, scenario: Scenario | None = None) -> Figure:
    """Scenarios side by side, one panel per KPI, with CI whiskers; paired differences below.

    Parameters
    ----------
    data
        Either a tidy DataFrame with columns ``scenario, kpi, mean, ci_low,
        ci_high`` and optionally ``diff, diff_low, diff_high`` (the paired
        difference against a base scenario and its CI; NaN for the base
        itself) -- the format :func:`kpi_frame` returns -- or a dict
        ``{label: Result}``, turned into that table with :func:`kpi_frame`.
    kpis
        KPIs to show, in order (default: those in the table, or
        :data:`DEFAULT_COMPARISON_KPIS` for a dict).
    base
        For a dict: the label of the base scenario, to add the paired
        differences (default: the first label). Ignored for a DataFrame,
        whose ``diff`` columns say it all.
    title
        Figure title.
    scenario
        For a DataFrame: the base scenario, whose channel labels name the
        channel figures (a dict of results has its own).

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({
    ...     "scenario": ["base", "more chat"], "kpi": ["give_up_rate"] * 2,
    ...     "mean": [0.05, 0.04], "ci_low": [0.045, 0.036], "ci_high": [0.055, 0.044],
    ...     "diff": [float("nan"), -0.01], "diff_low": [float("nan"), -0.013],
    ...     "diff_high": [float("nan"), -0.007]})
    >>> fig = kpi_comparison(frame)
    >>> len(fig.axes)
    2
    """
    if isinstance(data, Mapping):
        labels = list(data)
        if not labels:
            raise ValueError("kpi_comparison needs at least one result")
        frame = kpi_frame(data, kpis, base=base if base is not None else (labels[0] if len(labels) > 1 else None))
        footnote_result = next(iter(data.values()))
        scenario = footnote_result.scenario
        footnote = _footnote(footnote_result, "Bars: mean; whiskers: 95 % CI. Below: difference "
                                              "against the base, paired by replication (same seed), with its "
                                              "95 % CI; a filled dot means the CI excludes zero.")
    else:
        frame = data
        _check_columns(frame, _COMPARISON_COLUMNS, "kpi_comparison")
        footnote = ("Bars: mean; whiskers: 95 % CI. Below: difference against the base with its 95 % CI; "
                    "a filled dot means the CI excludes zero.")
        if "seed" in frame.attrs and "replications" in frame.attrs:  # the table simulator.compare returns
            footnote = (f"{frame.attrs['replications']} replication(s) per scenario, seed {frame.attrs['seed']} "
                        f"for all (common random numbers). " + footnote)
    kpis = list(kpis or dict.fromkeys(frame["kpi"]))
    frame = frame[frame["kpi"].isin(kpis)]
    scenarios = list(dict.fromkeys(frame["scenario"]))
    has_diff = "diff" in frame.columns and frame["diff"].notna().any()
    base_name = None
    if has_diff:
        base_rows = frame.groupby("scenario", sort=False)["diff"].apply(lambda s: s.isna().all())
        base_name = next((s for s, is_base in base_rows.items() if is_base), None)
    colors = {s: SCENARIO_COLORS[i % len(SCENARIO_COLORS)] for i, s in enumerate(scenarios)}
    if base_name is not None and base_name != scenarios[0]:
        colors[base_name], colors[scenarios[0]] = colors[scenarios[0]], colors[base_name]

    n_cols = min(len(kpis), 4)
    n_rows = math.ceil(len(kpis) / n_cols) * (2 if has_diff else 1)
    height = 1.6 + n_rows * (1.1 + 0.45 * len(scenarios))
    fig = _figure((max(13.33, 3.0 * n_cols + 2.8), max(height, 7.5)), footnote)
    grid = fig.subplots(n_rows, n_cols, squeeze=False)
    y = np.arange(len(scenarios))[::-1]
    names = [wrap_text(name, 140, FONT - 1, max_lines=3) for name in scenarios]
    for i, kpi in enumerate(kpis):
        block, col = divmod(i, n_cols)
        ax = grid[block * (2 if has_diff else 1), col]
        rows = frame[frame["kpi"] == kpi].set_index("scenario").reindex(scenarios)
        share = is_share(kpi)
        kpi_title, unit = figure_label(kpi, scenario)
        factor, unit = _unit_of(kpi, scenario, unit)
        rows = rows.assign(**{c: rows[c] * factor for c in ("mean", "ci_low", "ci_high", "diff", "diff_low",
                                                             "diff_high") if c in rows})
        mean = rows["mean"].to_numpy(float)
        low, high = _displayed_interval(rows, share)
        err = np.vstack([np.nan_to_num(mean - low), np.nan_to_num(high - mean)])
        ax.barh(y, mean, height=0.62, color=[colors[s] for s in scenarios], zorder=2)
        ax.errorbar(mean, y, xerr=err, fmt="none", ecolor=TEXT, elinewidth=1.3, capsize=4, zorder=3)
        for yi, m in zip(y, mean):
            if np.isfinite(m):
                ax.annotate(format_share(m) if share else format_number(m), (m, yi), xytext=(4, 5),
                            textcoords="offset points", fontsize=FONT - 3, color="#222222", va="bottom")
        ax.set_title(_short(kpi_title), fontsize=FONT)
        ax.set_xlabel(unit)
        if share:
            _percent_axis(ax.xaxis)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        right = np.nanmax(high.tolist() + mean.tolist() + [0]) * 1.25 or 1
        ax.set_xlim(0, min(right, 1.15) if share else right)  # room for the labels, no 120 % tick
        ax.set_yticks(y, names if col == 0 else [""] * len(y))
        _tidy_axes(ax, grid="x")
        ax.tick_params(axis="y", length=0)
        if has_diff:
            dax = grid[block * 2 + 1, col]
            _difference_panel(dax, rows, scenarios, y, colors, share, unit, base_name)
            dax.set_yticks(y, names if col == 0 else [""] * len(y))
    for i in range(len(kpis), (n_rows // (2 if has_diff else 1)) * n_cols):
        block, col = divmod(i, n_cols)
        for r in range(2 if has_diff else 1):
            grid[block * (2 if has_diff else 1) + r, col].set_visible(False)
    _title(fig, title or "Scenarios compared" + (f" (differences against {base_name})" if base_name else ""))
    return fig


def comparison_chart(table: pd.DataFrame, base: Scenario) -> Figure:
    """The headline figures (:func:`simulator.report.headline_figures`) of a
    :func:`simulator.compare.compare` table side by side, with their paired differences."""
    present = set(table["kpi"])
    return kpi_comparison(table, kpis=[k for k in headline_figures(base) if k in present], scenario=base)


def _signed(value: float) -> str:
    """A difference with its sign and enough significant digits (``−0.0041``, ``+1,302``)."""
    return format_signed(format_value(abs(value), ""), value)


def _short(text: str, width: int = 26) -> str:
    return wrap_text(text, width * 7.2, FONT)


def _unit_of(kpi: str, scenario: Scenario | None, unit: str) -> tuple[float, str]:
    """(factor, unit) a figure is drawn in: the waits of live channels in seconds."""
    parts = kpi.split(".")
    if parts[-1] == "mean_wait_min" and scenario is not None and len(parts) == 3:
        try:
            if not scenario.channel(parts[1]).is_async:
                return 60.0, "seconds"
        except KeyError:
            pass
    return 1.0, unit


def _difference_panel(ax, rows, scenarios, y, colors, share: bool, unit: str, base_name) -> None:
    diff = rows["diff"].to_numpy(float)
    low, high = rows["diff_low"].to_numpy(float), rows["diff_high"].to_numpy(float)
    scale = 100.0 if share else 1.0
    ax.axvline(0, color="#555555", linewidth=1.2, zorder=1)
    for yi, s, d, lo, hi in zip(y, scenarios, diff, low, high):
        if not np.isfinite(d):
            if s == base_name:
                ax.text(0, yi, "  base", va="center", ha="left", fontsize=FONT - 3, color=TEXT_GREY)
            continue
        significant = np.isfinite(lo) and (lo > 0 or hi < 0)
        ax.plot([lo * scale, hi * scale], [yi, yi], color=colors[s], linewidth=3.2, solid_capstyle="round",
                zorder=2)
        ax.plot([d * scale], [yi], "o", color=colors[s], markersize=8, zorder=3,
                markerfacecolor=colors[s] if significant else "white", markeredgewidth=2)
        ax.annotate(_signed(d * scale) + (" pp" if share else ""), (d * scale, yi), xytext=(0, 9),
                    textcoords="offset points", ha="center", fontsize=FONT - 3, color="#222222")
    finite = np.concatenate([low[np.isfinite(low)], high[np.isfinite(high)], [0.0]]) * scale
    span = max(abs(finite.min()), abs(finite.max())) * 1.3 or 1.0
    ax.set_xlim(-span, span)
    # Few ticks, in steps of 1, 2 or 5: short labels that stay apart in a narrow panel.
    ax.xaxis.set_major_locator(MaxNLocator(3, symmetric=True, steps=[1, 2, 5, 10]))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_signed(format_value(abs(v), ""), v)))
    ax.set_xlabel("difference (percentage points)" if share else f"difference ({unit})" if unit else "difference")
    ax.set_title("paired difference vs base", fontsize=FONT - 2, color=TEXT_GREY)
    ax.set_ylim(y.min() - 0.6, y.max() + 0.6)
    _tidy_axes(ax, grid="x")
    ax.tick_params(axis="y", length=0)


#: Channel figures compared by :func:`channel_comparison` by default.
DEFAULT_CHANNEL_METRICS = ("service_level", "abandon_rate", "mean_wait_min")


@_chart
def channel_comparison(results: Mapping[str, Result], metrics: Sequence[str] = DEFAULT_CHANNEL_METRICS,
                       channels: Sequence[str] | None = None, title: str | None = None) -> Figure:
    """Channel figures of several scenarios side by side: one panel per metric, one group of bars per channel.

    Made for variants of one centre (same channels): service level,
    abandonment and mean wait of every staffed channel, one bar per scenario
    (base first, in grey and slate: never taken for a channel) with its 95 %
    CI. Waits of live channels are in seconds; asynchronous channels, whose
    waits are hours, get no bar in the wait panel (it says so).

    Parameters
    ----------
    results
        ``{label: Result}``, the base first.
    metrics
        Channel metrics, one panel each.
    channels
        Channels to show (default: every staffed channel of the first result).

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> runs = {"today": sim.run(sc, replications=2, days=0.05),
    ...         "+5 chat agents": sim.run(sc.with_changes({"channels.chat.agents": 25}), replications=2, days=0.05)}
    >>> fig = channel_comparison(runs)
    >>> [ax.get_title(loc="left") for ax in fig.axes[:3]]
    ['Service level', 'Abandonment', 'Mean wait']
    """
    labels = list(results)
    if not labels:
        raise ValueError("channel_comparison needs at least one result")
    first = results[labels[0]]
    sc = first.scenario
    names = list(channels) if channels is not None else [c.name for c in sc.channels if not c.unlimited]
    if not names:
        raise ValueError(f"scenario {sc.name!r} has no staffed channel (all are self-service)")
    note = "Bars: mean; whiskers: 95 % CI (within what a figure can be). Same seed for every scenario."
    fig = _figure(SLIDE, _footnote(first, note))
    grid = fig.add_gridspec(2, len(metrics), height_ratios=[1, 0.001])
    axes = [fig.add_subplot(grid[0, 0])]
    axes += [fig.add_subplot(grid[0, m], sharey=axes[0]) for m in range(1, len(metrics))]
    colors = {label: SCENARIO_COLORS[i % len(SCENARIO_COLORS)] for i, label in enumerate(labels)}
    fontsize = FONT - 1 if len(names) <= 6 else FONT - 2
    group = 0.8
    bar = group / len(labels)
    y = np.arange(len(names))[::-1]
    for m, (ax, metric) in enumerate(zip(axes, metrics)):
        share = metric in SHARE_METRICS
        scale = 60.0 if metric == "mean_wait_min" else 1.0  # waits in seconds
        for i, label in enumerate(labels):
            channels_table = results[label].channels
            rows = pd.DataFrame([channels_table.loc[(n, metric)] for n in names])
            if metric == "mean_wait_min":  # asynchronous waits (hours) would flatten live ones (seconds)
                rows.loc[[sc.channel(n).is_async for n in names], ["mean", "ci_low", "ci_high"]] = np.nan
            mean = rows["mean"].to_numpy(float) * scale
            low, high = (v * scale for v in _displayed_interval(rows, share))
            offset = group / 2 - bar * (i + 0.5)
            ax.barh(y + offset, mean, height=bar * 0.9, color=colors[label], zorder=2)
            ax.errorbar(mean, y + offset, xerr=np.vstack([np.nan_to_num(mean - low), np.nan_to_num(high - mean)]),
                        fmt="none", ecolor=TEXT, elinewidth=1.0, capsize=2, zorder=3)
        if metric == "mean_wait_min":
            for yi, n in zip(y, names):
                if sc.channel(n).is_async:
                    ax.text(0.02, yi, "hours: in the tables", transform=ax.get_yaxis_transform(), va="center",
                            fontsize=FONT - 3, color=TEXT_GREY)
        if share:
            ax.set_xlim(0, 1.0)
            ax.set_xticks([0, 0.5, 1])
            _percent_axis(ax.xaxis)
        else:
            _thousands_axis(ax.xaxis)
            ax.xaxis.set_major_locator(MaxNLocator(3))
        title_text = {"service_level": "Service level", "abandon_rate": "Abandonment",
                      "mean_wait_min": "Mean wait"}.get(metric, CHANNEL_METRIC_LABELS.get(metric, metric).capitalize())
        ax.set_title(title_text, loc="left")
        ax.set_xlabel({"service_level": "answered within the target", "abandon_rate": "of contacts offered",
                       "mean_wait_min": "seconds"}.get(metric, ""), fontsize=FONT - 2)
        _tidy_axes(ax, grid="x")
        ax.tick_params(axis="y", length=0, labelleft=m == 0)
    axes[0].set_yticks(y, [wrap_text(_label(sc, n), 150, fontsize, max_lines=2) for n in names], fontsize=fontsize)
    axes[0].set_ylim(-0.6, len(names) - 0.4)
    # The scenarios' key in a row of its own under the panels, as wide as the figure allows.
    key = fig.add_subplot(grid[1, :])
    key.axis("off")
    handles = [Patch(facecolor=colors[label], label=label) for label in labels]
    ncol = _legend_columns(labels, fig.get_figwidth() * 72 - 40, FONT - 1)
    key.legend(handles=handles, loc="upper center", ncol=ncol, frameon=False, handlelength=1.2,
               columnspacing=1.4, fontsize=FONT - 1)
    _title(fig, title or "Channels compared: service level, abandonment and waits")
    return fig


# --------------------------------------------------------------------------- over the day


#: Channel rows per slide of the over-the-day chart (:func:`hourly_charts`).
HOURLY_ROWS_PER_SLIDE = 3
_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_CLOSED_SHADE = "#ECECEC"


@dataclass
class _HourlyRow:
    """One row of the over-the-day chart: a thing with hourly figures (a channel; later an agent group)
    and the panels drawn for it, left to right."""

    name: str
    title: str
    color: str
    frame: pd.DataFrame  # hourly figures indexed by (hour, metric), columns mean, ci_low, ci_high
    panels: tuple[str, ...]
    closed: np.ndarray  # per hour: True where closed all hour
    live: bool = True
    service_level_seconds: float = 20.0


def _hourly_rows(result: Result, names: Sequence[str]) -> list[_HourlyRow]:
    sc = result.scenario
    colors = channel_colors(sc.channel_names)
    hourly = result.hourly
    rows = []
    for name in names:
        spec = sc.channel(name)
        frame = hourly.loc[name].swaplevel().sort_index() if name in hourly.index.get_level_values(0) else None
        hours = _hours_of(hourly)
        closed = np.array([not any(spec.is_open((h % 24) * 60 + m) for m in (1, 15, 30, 45, 59)) for h in hours])
        rows.append(_HourlyRow(name, _label(sc, name), colors[name], frame,
                               ("demand", "service_level", "occupancy", "abandon_rate"), closed,
                               live=not spec.is_async, service_level_seconds=spec.service_level_seconds))
    return rows


def _hours_of(hourly: pd.DataFrame) -> np.ndarray:
    """The hours of the hourly table: 0–23 (hour of the day) or 0–167 (hour of the week)."""
    last = int(hourly.index.get_level_values("hour").max()) if len(hourly) else 23
    return np.arange(168 if last >= 24 else 24)


def _hour_axis(ax, hours: np.ndarray, label: bool) -> None:
    if len(hours) > 24:
        ax.set_xlim(0, len(hours))
        ax.set_xticks(np.arange(0, len(hours), 24) + 12, [_DAY_NAMES[d % 7] for d in range(len(hours) // 24)])
        ax.set_xticks(np.arange(0, len(hours) + 1, 24), minor=True)
        ax.tick_params(axis="x", which="major", length=0)
        ax.tick_params(axis="x", which="minor", length=4)
        if label:
            ax.set_xlabel("hour of the week")
    else:
        ax.set_xlim(0, 24)
        ax.set_xticks(range(0, 25, 6))
        if label:
            ax.set_xlabel("hour of the day")


def _shade_closed(ax, closed: np.ndarray) -> None:
    """Grey bands over the hours a channel is closed."""
    hours = np.flatnonzero(closed)
    if not len(hours):
        return
    starts = hours[np.r_[True, np.diff(hours) > 1]]
    ends = hours[np.r_[np.diff(hours) > 1, True]] + 1
    for a, b in zip(starts, ends):
        ax.axvspan(a, b, color=_CLOSED_SHADE, zorder=0, linewidth=0)


def _hourly_stat(row: _HourlyRow, metric: str, hours: np.ndarray) -> pd.DataFrame:
    return row.frame.loc[metric].reindex(hours) if metric in row.frame.index.get_level_values(0) else \
        pd.DataFrame(np.nan, index=hours, columns=["mean", "ci_low", "ci_high"])


def _line_with_band(ax, hours, stats: pd.DataFrame, color: str, share: bool) -> None:
    mean = stats["mean"].to_numpy(float)
    low, high = _displayed_interval(stats, share=share)
    ax.fill_between(hours + 0.5, low, high, color=color, alpha=0.25, linewidth=0, zorder=2)
    ax.plot(hours + 0.5, mean, color=color, linewidth=2.0, marker="o" if len(hours) <= 24 else None,
            markersize=3, zorder=3)


def _demand_panel(fig, ax, row: _HourlyRow, hours: np.ndarray, headline: bool) -> None:
    """Contacts offered (and meeting the channel closed) an hour, and agents on duty on its own axis."""
    contacts = _hourly_stat(row, "contacts", hours)["mean"].to_numpy(float)
    closed = np.nan_to_num(_hourly_stat(row, "closed", hours)["mean"].to_numpy(float))
    offered = np.nan_to_num(contacts) - closed
    ax.bar(hours + 0.5, offered, width=0.85, color=row.color, alpha=0.75, zorder=2, label="offered")
    if closed.any():
        ax.bar(hours + 0.5, closed, bottom=offered, width=0.85, facecolor="white", edgecolor="#6B6B6B",
               hatch="////", linewidth=0.6, zorder=2, label="met it closed")
    ax.set_ylabel("contacts an hour")
    ax.set_ylim(0, max(np.nanmax(np.append(offered + closed, 0)) * 1.15, 1))
    ax.yaxis.set_major_locator(MaxNLocator(4, integer=True))
    _thousands_axis(ax.yaxis)
    agents = _hourly_stat(row, "agents", hours)["mean"].to_numpy(float)
    twin = ax.twinx()
    twin.step(np.append(hours, hours[-1] + 1), np.append(agents, agents[-1]), where="post", color=TEXT,
              linewidth=1.6, zorder=4)
    twin.set_ylim(0, max(np.nanmax(np.append(agents, 1)) * 1.15, 1))
    twin.yaxis.set_major_locator(MaxNLocator(4, integer=True))
    twin.set_ylabel("agents on duty")
    twin.spines["right"].set_visible(True)
    twin.tick_params(labelsize=FONT - 2, colors="#333333", length=3, color="#9A9A9A")
    twin.yaxis.label.set_size(FONT - 2)


def _service_level_panel(fig, ax, row: _HourlyRow, hours: np.ndarray, target: float | None) -> None:
    _line_with_band(ax, hours, _hourly_stat(row, "service_level", hours), row.color, share=True)
    within = (format_wait(row.service_level_seconds / 60, live=True) if row.live
              else format_wait(row.service_level_seconds / 60, live=False))
    ax.set_ylabel(f"answered in {within}")
    if target is not None:
        ax.axhline(target, color=TEXT, linestyle="--", linewidth=1.2, zorder=1)
        ax.annotate(f"target {format_share(target, 0)}", (0.0, target), xycoords=("axes fraction", "data"),
                    xytext=(3, 2), textcoords="offset points", fontsize=FONT - 3, color=TEXT, va="bottom",
                    zorder=5, bbox=dict(boxstyle="round,pad=0.1", facecolor="white", edgecolor="none", alpha=0.8))


def _share_panel(metric: str, label: str):
    def panel(fig, ax, row: _HourlyRow, hours: np.ndarray, _=None) -> None:
        _line_with_band(ax, hours, _hourly_stat(row, metric, hours), row.color, share=True)
        ax.set_ylabel(label)
    return panel


#: The panels of a row of the over-the-day chart: (title, drawing function, share axis).
_HOURLY_PANELS = {
    "demand": ("Contacts and agents", _demand_panel, False),
    "service_level": ("Service level", _service_level_panel, True),
    "occupancy": ("Occupancy", _share_panel("occupancy", "agents busy"), True),
    "abandon_rate": ("Abandonment", _share_panel("abandon_rate", "of contacts offered"), True),
}


@_chart
def hourly_chart(result: Result, channels: Sequence[str] | None = None,
                 service_level_target: float | None = 0.8) -> Figure:
    """The planner's view over the day: per staffed channel, demand and staff, service level,
    occupancy and abandonment, hour by hour.

    One row per channel (default: every channel with agents), four panels,
    each with its own labelled axes: contacts offered an hour (bars; hatched:
    contacts that met the channel closed) with the agents on duty (line, on
    its own right-hand axis); the service level (answered within the
    channel's ``service_level_seconds``) against ``service_level_target``;
    occupancy; abandonment. Lines are means across replications with their
    95 % CIs (within 0–100 %); closed hours are shaded. A weekly result
    (168 hours) is drawn hour by hour of the week, each channel's panels
    stacked in a column. Pass three channels or fewer (two for a week) for a
    16:9 slide (:func:`hourly_charts` splits a centre into slides).

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.1)
    >>> fig = hourly_chart(res, ["phone"])
    >>> [ax.get_title(loc="left") for ax in fig.axes[:4:]][:1]
    ['Call centre']
    >>> fig.axes[0].get_ylabel(), fig.axes[4].get_ylabel()
    ('contacts an hour', 'agents on duty')
    """
    sc = result.scenario
    names = list(channels) if channels is not None else [c.name for c in sc.channels if not c.unlimited]
    if not names:
        raise ValueError(f"scenario {sc.name!r} has no staffed channel (all are self-service)")
    for n in names:
        if sc.channel(n).unlimited:
            raise ValueError(f"{n!r} is self-service: it has no agents, queue or service level to chart")
    rows = _hourly_rows(result, names)
    hours = _hours_of(result.hourly)
    weekly = len(hours) > 24
    per_slide = _rows_per_slide(weekly)
    extra = math.ceil(len(rows) / per_slide) - 1
    height = SLIDE[1] * (1 + extra) if weekly else (SLIDE[1] if not extra else 1.25 + 1.85 * len(rows))
    fig = _figure((SLIDE[0], height), _footnote(
        result, f"Lines: mean by hour of the {'week' if weekly else 'day'} over the replications; bands: 95 % "
                "CI (within 0–100 %). Bars: contacts offered in the hour (mean over the days); hatched: contacts "
                "that met the channel closed. Grey: closed hours. Dashed: service-level target."))
    n_panels = len(rows[0].panels)
    # A day: a row of panels per channel. A week (168 hours): a column per channel, its panels stacked,
    # each as wide as the column so the days stay apart.
    grid = (fig.subplots(len(rows), n_panels, squeeze=False) if not weekly
            else fig.subplots(n_panels, len(rows), squeeze=False).T)
    for r, row in enumerate(rows):
        for c, panel in enumerate(row.panels):
            ax = grid[r, c]
            title, draw, share = _HOURLY_PANELS[panel]
            _shade_closed(ax, row.closed)
            draw(fig, ax, row, hours, service_level_target)
            if share:
                ax.set_ylim(0, 1.05)
                ax.set_yticks([0, 0.5, 1])
                _percent_axis(ax.yaxis)
            ax.yaxis.label.set_size(FONT - 2)
            _hour_axis(ax, hours, label=(c == n_panels - 1) if weekly else (r == len(rows) - 1))
            _tidy_axes(ax)
            if c == 0:
                ax.set_title(wrap_text(row.title, 260 if not weekly else 400, FONT, max_lines=1), loc="left",
                             fontweight="bold", fontsize=FONT)
            else:
                ax.set_title(title, loc="left", fontsize=FONT - 1, color=TEXT_GREY)
    _title(fig, f"Over the {'week' if weekly else 'day'}: demand, staff, service level, occupancy and "
                "abandonment by hour")
    return fig


def _rows_per_slide(weekly: bool) -> int:
    return 2 if weekly else HOURLY_ROWS_PER_SLIDE


def hourly_charts(result: Result, service_level_target: float | None = 0.8) -> dict[str, Figure]:
    """The over-the-day chart of every staffed channel, as slides of at most three channels each
    (two for a week).

    Named ``hourly`` for the first slide, ``hourly_2``, ``hourly_3``, ... for
    the next ones; empty when no channel has agents.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.1)
    >>> list(hourly_charts(res))
    ['hourly']
    """
    staffed = [c.name for c in result.scenario.channels if not c.unlimited]
    per_slide = _rows_per_slide(len(_hours_of(result.hourly)) > 24)
    pages = [staffed[i:i + per_slide] for i in range(0, len(staffed), per_slide)]
    return {("hourly" if i == 0 else f"hourly_{i + 1}"): hourly_chart(result, page, service_level_target)
            for i, page in enumerate(pages)}


# --------------------------------------------------------------------------- sweeps


def _parameter_column(frame: pd.DataFrame, parameter: str | None, reserved: Iterable[str]) -> str:
    if parameter is not None:
        _check_columns(frame, [parameter], "sweep_chart")
        return parameter
    candidates = [c for c in frame.columns if c not in set(reserved)]
    if len(candidates) != 1:
        raise ValueError("sweep_chart: pass parameter=COLUMN; the DataFrame has "
                         f"{len(candidates)} candidate columns ({', '.join(map(str, candidates))})")
    return candidates[0]


@_chart
def sweep_chart(frame: pd.DataFrame, parameter: str | None = None, kpis: Sequence[str] | None = None,
                hue: str | None = None, reference: Mapping[str, float] | None = None,
                title: str | None = None, footnote: str | None = None) -> Figure:
    """KPIs against a varied parameter: one panel per KPI, mean line with a 95 % CI band.

    Parameters
    ----------
    frame
        Tidy table with one column for the varied parameter (its values on
        the x axis), and ``kpi, mean, ci_low, ci_high``, such as the table
        :func:`simulator.sweep.sweep` returns (its bookkeeping columns
        ``point, point_id, table, channel, metric, n, replications`` are ignored).
    parameter
        Name of the parameter column (found by itself when it is the only
        other column).
    kpis
        KPIs to show, in order (default: all in the table).
    hue
        A column to draw one line per value of, e.g. a second swept field
        (default: ``scenario`` when the table has it).
    reference
        Published figures by KPI name (``scenario.reference``), drawn as
        dashed horizontal lines on their panels.
    title, footnote
        Replace the default title and footnote.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"channels.chat.agents": [10, 15, 20] * 1, "kpi": ["give_up_rate"] * 3,
    ...                       "mean": [0.06, 0.05, 0.045], "ci_low": [0.055, 0.046, 0.041],
    ...                       "ci_high": [0.065, 0.054, 0.049]})
    >>> fig = sweep_chart(frame)
    >>> fig.axes[0].get_xlabel()
    'chat agents'
    """
    _check_columns(frame, ("kpi", "mean", "ci_low", "ci_high"), "sweep_chart")
    if hue is None and "scenario" in frame.columns:
        hue = "scenario"
    if hue is not None:
        _check_columns(frame, [hue], "sweep_chart")
    reserved = {"kpi", "mean", "ci_low", "ci_high", "n", "scenario", "diff", "diff_low", "diff_high",
                "significant", "table", "channel", "metric", "replications", "point", "point_id",
                "precision_met", hue}
    parameter = _parameter_column(frame, parameter, reserved)
    kpis = list(kpis or dict.fromkeys(frame["kpi"]))
    groups = list(dict.fromkeys(frame[hue])) if hue is not None else [None]
    n_cols = 2 if len(kpis) == 4 else min(len(kpis), 3)
    n_rows = math.ceil(len(kpis) / n_cols)
    fig = _figure((max(12.0, 4.2 * n_cols), max(6.0, 1.2 + 3.6 * n_rows)),
                  footnote or "Lines: mean; bands: 95 % confidence interval.")
    grid = fig.subplots(n_rows, n_cols, squeeze=False)
    for i, kpi in enumerate(kpis):
        ax = grid.flat[i]
        for g, group in enumerate(groups):
            rows = frame[frame["kpi"] == kpi]
            if group is not None:
                rows = rows[rows[hue] == group]
            rows = rows.sort_values(parameter)
            x = rows[parameter].to_numpy(float)
            color = SCENARIO_COLORS[(g + 1) % len(SCENARIO_COLORS)]
            marker = SCENARIO_MARKERS[(g + 1) % len(SCENARIO_MARKERS)]
            low, high = _displayed_interval(rows, is_share(kpi))
            ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)
            label = None if group is None else (str(group) if hue == "scenario"
                                                else f"{_field_label(hue)} = {_format_parameter(group)}")
            ax.plot(x, rows["mean"].to_numpy(float), color=color, linewidth=2.4, marker=marker, markersize=6,
                    label=label)
        if reference and kpi in reference:
            _reference_line(ax, frame[frame["kpi"] == kpi].sort_values(parameter), parameter, reference[kpi],
                            format_value(reference[kpi], "share" if is_share(kpi) else kpi))
        kpi_title, unit = figure_label(kpi)
        ax.set_title(_short(kpi_title, int(fig.get_figwidth() / n_cols * 7.5)), fontsize=FONT)
        ax.set_ylabel(unit)
        if is_share(kpi):
            _percent_axis(ax.yaxis)
        ax.set_xlabel(_field_label(parameter, unit=True))
        ax.yaxis.set_major_locator(MaxNLocator(5))
        _tidy_axes(ax, grid="both")
        if groups != [None] and i == 0:
            ax.legend()
    for ax in grid.flat[len(kpis):]:
        ax.set_visible(False)
    _title(fig, title or f"Sensitivity to {_field_label(parameter)}")
    return fig


def sweep_axes(vary: dict[str, list]) -> tuple[str, str | None, list[str]]:
    """The x-axis field of a sweep's charts (the first with numbers and several values), the hue field
    and the rest; a ValueError when no varied field has numbers."""
    varied = [f for f, values in vary.items() if len(values) > 1] or list(vary)[:1]
    numeric = [f for f in varied if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vary[f])]
    if not numeric:
        raise ValueError(f"no varied field has numbers to put on the x axis "
                         f"({', '.join(varied)}); vary a numeric field, or leave out --charts")
    rest = [f for f in varied if f != numeric[0]]
    return numeric[0], (rest[0] if rest else None), rest[1:]


def sweep_charts(table: pd.DataFrame, vary: dict[str, list], figures: list[str], scenario: Scenario,
                 seed: int | None) -> dict:
    """A :func:`simulator.sweep.sweep` table as charts (:func:`sweep_chart`): ``sweep``, or ``sweep_1``,
    ``sweep_2``, ... (one per combination of the varied fields past the first two); ``seed`` is the
    common seed (None when each point has its own)."""
    x, hue, others = sweep_axes(vary)
    frame = table
    if hue is not None and not all(isinstance(v, (int, float)) for v in vary[hue]):
        # a non-numeric hue (lists, words) is labelled as it is, like scenario names
        frame = table.assign(scenario=[f"{hue} = {v}" for v in table[hue]])
        hue = "scenario"
    reps = sorted(set(table["replications"]))
    footnote = (f"{scenario.name}: {reps[0] if len(reps) == 1 else f'{reps[0]} to {reps[-1]}'} replication(s) "
                f"per point, {'each its own seed' if seed is None else f'seed {seed} for all'}. "
                "Lines: mean; bands: 95 % confidence interval.")

    def chart(rows: pd.DataFrame, title: str | None = None):
        return sweep_chart(rows, parameter=x, kpis=figures, hue=hue, reference=scenario.reference,
                           title=title, footnote=footnote)

    if not others:
        return {"sweep": chart(frame)}
    charts = {}
    for i, (values, rows) in enumerate(frame.groupby(others, sort=False), start=1):
        values = values if isinstance(values, tuple) else (values,)
        fixed = ", ".join(f"{f} = {v}" for f, v in zip(others, values))
        charts[f"sweep_{i}"] = chart(rows, f"Sensitivity to {x} ({fixed})")
    return charts


def _reference_line(ax, rows: pd.DataFrame, parameter: str, value: float, shown: str) -> None:
    """A dashed line at a published figure, labelled at the end and on the side of it farthest from the lines."""
    ax.axhline(value, color="black", linestyle="--", linewidth=1.3, zorder=1)
    x = rows[parameter].to_numpy(float)
    candidates = []  # (clearance, end, above): how far the lines at that end stay on the other side
    for end, at in ((0.0, x.min()), (1.0, x.max())):
        means = rows.loc[x == at, "mean"].to_numpy(float)
        candidates += [(np.min(value - means), end, True), (np.min(means - value), end, False)]
    _, end, above = max(candidates)
    ax.annotate(f"published {shown}", (end, value), xycoords=("axes fraction", "data"),
                xytext=(6 if end == 0 else -6, 4 if above else -4), textcoords="offset points",
                ha="left" if end == 0 else "right", va="bottom" if above else "top",
                fontsize=FONT - 3, color="#222222", zorder=5,
                bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.8))


def tornado_fields(scenario: Scenario) -> list[str]:
    """The scalar numeric fields :func:`tornado_data` varies by default.

    The arrival rate, and per channel: ``resolve``, ``agents`` (when a fixed
    number; shift plans are left alone), the mean of ``handle_time`` and
    ``patience`` (``value`` for a deterministic time; uniform and empirical
    times are left alone). Routing rows are never varied: changing one
    probability of a row would break its sum.

    Examples
    --------
    >>> import simulator as sim
    >>> fields = tornado_fields(sim.load_scenario("nice_bcg_2016"))
    >>> fields[:3]
    ['arrivals.per_hour', 'channels.web.resolve', 'channels.web.handle_time.mean']
    """
    fields = ["arrivals.per_hour"]
    data = scenario.to_dict()
    for channel in scenario.channels:
        raw = data["channels"][channel.name]
        prefix = f"channels.{channel.name}"
        fields.append(f"{prefix}.resolve")
        if isinstance(channel.agents, int):
            fields.append(f"{prefix}.agents")
        for time in ("handle_time", "patience"):
            spec = raw.get(time)
            if isinstance(spec, Mapping):
                for key in ("mean", "value"):
                    if key in spec:
                        fields.append(f"{prefix}.{time}.{key}")
                        break
    return fields


def _get_path(data: Mapping[str, Any], path: str) -> Any:
    node: Any = data
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            raise KeyError(path)
        node = node[key]
    return node


def _varied(path: str, value: Any, factor: float) -> float | int:
    """``value * factor``: probabilities clipped to [0, 1], whole numbers rounded and moved by >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(path)
    if isinstance(value, int):
        varied = int(round(value * factor))
        if varied == value:
            varied = value + (1 if factor > 1 else -1)
        return max(varied, 1)
    varied = value * factor
    if path.endswith(".resolve"):
        varied = min(max(varied, 0.0), 1.0)
    return float(varied)


def tornado_data(scenario: Scenario, kpi: str, fields: Sequence[str] | None = None, change: float = 0.1,
                 replications: int | None = None, seed: int | None = None, *, days: float | None = None,
                 workers: int = 1) -> pd.DataFrame:
    """Vary each field one at a time by ``-change`` and ``+change`` and record a KPI.

    Every run (the base and each variation) uses the same seed: common random
    numbers, so the differences against the base are paired per replication
    and their confidence intervals are much narrower than the KPI's own.

    Only scalar numeric fields are varied (see :func:`tornado_fields`):
    probabilities (``resolve``) are clipped to [0, 1]; whole numbers
    (``agents``) are rounded and moved by at least one; routing rows are not
    varied because their probabilities must keep summing to 1.

    Parameters
    ----------
    scenario
        The base scenario.
    kpi
        The figure to watch: a KPI name, ``before_call.CHANNEL``,
        ``after_call.TARGET`` or ``channels.CHANNEL.METRIC``.
    fields
        Dotted field paths to vary (default: :func:`tornado_fields`).
    change
        Relative change, e.g. ``0.1`` for ±10 %.
    replications, seed, days, workers
        As for :func:`simulator.run` (default: the scenario's settings).

    Returns
    -------
    DataFrame with one row per field and direction: ``field, direction``
    (``"low"`` / ``"high"``), ``base_value, value`` (the field's value),
    ``kpi, base_mean, mean, ci_low, ci_high`` (the KPI in the varied run) and
    ``diff, diff_low, diff_high`` (paired difference against the base run,
    with its 95 % CI).

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> data = tornado_data(sc, "give_up_rate", ["channels.chat.resolve"], replications=2, days=0.05)
    >>> list(data["direction"])
    ['low', 'high']
    >>> round(float(data["value"].iloc[1]), 3)
    0.715
    """
    from .compare import compare

    if not 0 < change < 1:
        raise ValueError(f"change must be a fraction between 0 and 1 (0.1 for ±10 %); got {change}")
    check_figure(kpi, scenario)  # a clear error before the long part
    fields = list(fields) if fields is not None else tornado_fields(scenario)
    data = scenario.to_dict()
    variants, settings = {}, []
    for path in fields:
        try:
            value = _get_path(data, path)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError
        except (KeyError, TypeError):
            raise ValueError(f"{path}: not a numeric field of scenario {scenario.name!r}; vary fields such "
                             f"as {', '.join(tornado_fields(scenario)[:4])}") from None
        for direction, factor in (("low", 1 - change), ("high", 1 + change)):
            new_value = _varied(path, value, factor)
            variants[f"{path} {direction}"] = scenario.with_changes({path: new_value})
            settings.append({"field": path, "direction": direction, "base_value": value, "value": new_value})
    # One seed for the base and every variant: common random numbers, paired differences.
    table = compare(scenario, variants, replications, seed, days=days, workers=workers)
    table = table[table["kpi"] == kpi].set_index("scenario")
    base_mean = table.loc[scenario.name, "mean"]
    rows = [{**setting, "kpi": kpi, "base_mean": base_mean,
             **table.loc[label, ["mean", "ci_low", "ci_high", "diff", "diff_low", "diff_high"]].to_dict()}
            for setting, label in zip(settings, variants)]
    frame = pd.DataFrame(rows)
    frame.attrs.update(scenario=scenario.name, change=change, replications=table.attrs["replications"],
                       seed=table.attrs["seed"])
    return frame


@_chart
def tornado_chart(data: pd.DataFrame, top: int | None = 12) -> Figure:
    """Tornado chart of :func:`tornado_data`: which parameters move the KPI most.

    One row per field, sorted by how far the KPI moves; bars go from the base
    value to the KPI with the field lowered (light) and raised (dark), with
    the 95 % CI of the paired difference as whiskers (drawn only within what
    the KPI can be). A bar whose CI includes zero is hollow, like the open
    dots of :func:`kpi_comparison`.

    Parameters
    ----------
    data
        The output of :func:`tornado_data` (columns ``field, direction,
        value, kpi, base_mean, diff, diff_low, diff_high``).
    top
        Show only the ``top`` most influential fields (None: all); the
        footnote says how many were left out.

    Examples
    --------
    >>> import pandas as pd
    >>> data = pd.DataFrame({"field": ["channels.chat.resolve"] * 2, "direction": ["low", "high"],
    ...     "base_value": [0.65] * 2, "value": [0.585, 0.715], "kpi": ["give_up_rate"] * 2,
    ...     "base_mean": [0.05] * 2, "diff": [0.004, -0.003], "diff_low": [0.002, -0.005],
    ...     "diff_high": [0.006, -0.001]})
    >>> fig = tornado_chart(data)
    >>> len(fig.axes[0].patches)
    2
    """
    _check_columns(data, ("field", "direction", "value", "kpi", "base_mean", "diff", "diff_low", "diff_high"),
                   "tornado_chart")
    kpi = data["kpi"].iloc[0]
    base_mean = float(data["base_mean"].iloc[0])
    wide = data.pivot(index="field", columns="direction")
    swing = (wide[("diff", "high")] - wide[("diff", "low")]).abs()
    order = list(swing.sort_values(ascending=False).index[: top or None])
    share = is_share(kpi)
    kpi_title, unit = figure_label(kpi)
    n = len(order)
    change = data.attrs.get("change")
    shown = f"Top {n} of {len(wide)} fields shown. " if n < len(wide) else ""
    footnote = (f"{shown}Bars: change in the KPI when the field is lowered (light) or raised (dark)"
                + (f" by {100 * change:g} %" if change else "")
                + "; whiskers: 95 % CI of the paired difference (same seed for every run); "
                  "hollow bar: the CI includes zero.")
    if "scenario" in data.attrs:
        footnote = (f"Scenario {data.attrs['scenario']}: {data.attrs['replications']} replication(s) per run, "
                    f"seed {data.attrs['seed']}.\n" + footnote)
    fig = _figure((12.0, max(5.0, 2.0 + 0.62 * n)), footnote)
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    labels = []
    colors = {"low": "#B9C4D2", "high": "#3D5573"}  # slates: directions, never taken for channels
    edges = {"low": "#8796AA", "high": "#3D5573"}  # a hollow light bar still stands out
    drawn = []  # displayed whisker ends, for the x limits
    for yi, field in zip(y, order):
        row = wide.loc[field]
        for direction, offset in (("low", 0.17), ("high", -0.17)):
            d, lo, hi = (row[(c, direction)] for c in ("diff", "diff_low", "diff_high"))
            significant = np.isfinite(lo) and (lo > 0 or hi < 0)
            ax.barh(yi + offset, d, left=base_mean, height=0.32, zorder=2, linewidth=1.6,
                    color=colors[direction] if significant else "white", edgecolor=edges[direction])
            if np.isfinite(lo):
                low, high = _displayed_interval({"ci_low": base_mean + lo, "ci_high": base_mean + hi}, share)
                ax.errorbar(base_mean + d, yi + offset, xerr=[[base_mean + d - low], [high - base_mean - d]],
                            fmt="none", ecolor="#555555", elinewidth=1.0, capsize=2.5, zorder=3)
                drawn += [float(low), float(high)]
            drawn.append(base_mean + d)
        unit_text = _field_unit(field)
        values = " / ".join(_format_parameter(row[key]) for key in
                            (("value", "low"), ("base_value", "low"), ("value", "high")))
        labels.append(f"{_field_label(field)}\n{values}" + (f" {unit_text}" if unit_text else ""))
    ax.axvline(base_mean, color="#333333", linewidth=1.3, zorder=4)
    ax.set_yticks(y, labels)
    for tick in ax.get_yticklabels():
        tick.set_linespacing(1.25)
    ax.spines["left"].set_visible(False)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel(f"{kpi_title} ({unit})" if unit else kpi_title)
    if share:
        _percent_axis(ax.xaxis)
    lo_all, hi_all = np.nanmin([*drawn, base_mean]), np.nanmax([*drawn, base_mean])
    span = max(hi_all - lo_all, 1e-9)
    left, right = lo_all - 0.08 * span, hi_all + 0.08 * span
    # Room around the bars, but no tick at an impossible value (below 0, above 100 %).
    left = -0.02 * span if left < 0 <= lo_all else left
    right = 1 + 0.02 * span if share and right > 1 >= hi_all else right
    ax.set_xlim(left, right)
    ax.xaxis.set_major_locator(MaxNLocator(6))
    _tidy_axes(ax, grid="x")
    ax.tick_params(axis="y", length=0)
    handles = [Patch(facecolor=colors["low"], edgecolor=edges["low"], label="field lowered"),
               Patch(facecolor=colors["high"], edgecolor=edges["high"], label="field raised"),
               Patch(facecolor="white", edgecolor="#555555", linewidth=1.6, label="CI includes 0")]
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, borderaxespad=0.2)
    ax.annotate("lowered / base / raised value", (0, 1.0), xycoords="axes fraction", xytext=(-10, 6),
                textcoords="offset points", ha="right", va="bottom", fontsize=FONT - 2, color=TEXT_GREY)
    base_text = format_value(base_mean, "share" if share else kpi)
    subject = kpi_title.replace(": ", " ")  # "phone: service level" reads "phone service level" here
    _title(fig, f"What moves the {subject[0].lower() + subject[1:]}? (base {base_text})")
    return fig


#: Scenario fields that are distributions of times (in minutes).
_TIME_PARTS = ("handle_time", "patience", "retry_delay")


def _field_unit(path: str) -> str:
    """The unit of a scenario field's value, for labels ("min" for a time distribution's mean)."""
    parts = path.split(".")
    if len(parts) >= 2 and parts[-2] in _TIME_PARTS and parts[-1] in ("mean", "value", "low", "high"):
        return "min"
    if parts[-1].endswith("_seconds"):
        return "s"
    if parts[-1].endswith("_hours"):
        return "h"
    return ""


def _field_label(path: str, unit: bool = False) -> str:
    """A field path as words ("phone handle time"), with its unit in brackets if asked."""
    parts = path.split(".")
    if parts[0] == "channels" and len(parts) >= 3:
        parts = parts[1:]
    words = " ".join(p.replace("_", " ") for p in parts if p not in ("mean", "value"))
    return f"{words} ({_field_unit(path)})" if unit and _field_unit(path) else words


def _format_parameter(value: float) -> str:
    if isinstance(value, (int, np.integer)) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:.3g}"


# --------------------------------------------------------------------------- waits


@_chart
def wait_distribution(result: Result, channels: Sequence[str] | None = None, bins: int = 30) -> Figure:
    """How long contacts wait, per staffed channel (from the journey log).

    One panel per channel (default: every channel with agents), all on one
    16:9 slide: a histogram of the waits of contacts that waited at all,
    split into those answered and those who abandoned (their wait is the
    time until they left), as a share of all contacts offered. Waits of live
    channels are in seconds, of asynchronous ones in minutes or hours. Each
    panel says how many were answered at once and how many were offered a day
    (pooled over the replications, divided by replications × days), and marks
    the mean wait and the service-level threshold.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.1)
    >>> fig = wait_distribution(res)
    >>> [ax.get_title(loc="left") for ax in fig.axes]
    ['Email', 'Chat', 'Call centre']
    >>> fig.axes[2].get_xlabel()
    'wait (seconds)'
    """
    sc = result.scenario
    names = list(channels) if channels is not None else [c.name for c in sc.channels if not c.unlimited]
    if not names:
        raise ValueError(f"scenario {sc.name!r} has no staffed channel (all are self-service)")
    j = result.journeys
    colors = channel_colors(sc.channel_names)
    n_cols = {1: 1, 2: 2, 3: 3, 4: 2, 5: 3, 6: 3}.get(len(names), 4)
    n_rows = math.ceil(len(names) / n_cols)
    fontsize = FONT - 3 if n_rows <= 2 else FONT - 4
    fig = _figure(SLIDE, _footnote(result, "Contacts that waited, as a share of all contacts offered (the "
                                            "longest 1 % of waits lie beyond the axis); bars in the channel's "
                                            "colour: answered; grey: abandoned (left the queue or stopped waiting "
                                            "for a reply). A day: pooled ÷ (replications × days)."))
    grid = fig.subplots(n_rows, n_cols, squeeze=False)
    panel_points = (SLIDE[0] - 0.6) * 72 / n_cols
    label_box = dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85)
    for ax, name in zip(grid.flat, names):
        spec = sc.channel(name)
        live = not spec.is_async
        rows = j[(j["channel"] == name) & (j["outcome"] != "closed")]
        wait = rows["wait"].to_numpy(float)
        abandoned = (rows["outcome"] == "abandoned").to_numpy()
        offered = len(wait)
        positive = wait > 0
        if live:
            scale, unit = 1 / 60, "seconds"
        else:
            scale, unit = (60.0, "hours") if offered and np.quantile(wait, 0.99) > 180 else (1.0, "minutes")
        if positive.any():
            top = np.quantile(wait[positive], 0.99) / scale
            edges = np.linspace(0, top if top > 0 else 1.0, bins + 1)
            weights = np.full(offered, 1.0 / offered)
            clipped = wait / scale
            ax.hist([clipped[positive & ~abandoned], clipped[positive & abandoned]], bins=edges,
                    weights=[weights[positive & ~abandoned], weights[positive & abandoned]], stacked=True,
                    color=[colors[name], OUTCOME_COLORS[GIVE_UP]], label=["answered", "abandoned"], zorder=2)
            mean = wait.mean() / scale
            ax.axvline(mean, color=TEXT, linestyle="--", linewidth=1.3, zorder=3)
            ax.annotate(f"mean {format_wait(mean * scale, live)}", (mean, 0.62),
                        xycoords=("data", "axes fraction"), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=fontsize, zorder=5, bbox=label_box)
            sl = spec.service_level_seconds / 60.0 / scale
            if sl < edges[-1]:
                ax.axvline(sl, color=TEXT, linestyle=":", linewidth=1.8, zorder=3)
                ax.annotate(f"target {format_wait(spec.service_level_seconds / 60.0, live)}", (sl, 0.42),
                            xycoords=("data", "axes fraction"), xytext=(4, 0), textcoords="offset points",
                            va="center", fontsize=fontsize, color=TEXT, zorder=5, bbox=label_box)
            ax.set_xlim(-0.03 * edges[-1], edges[-1])  # keeps the x and y zero labels apart
            ax.set_ylim(0, ax.get_ylim()[1] * 1.35)  # room for the note in the upper right
            ax.xaxis.set_major_locator(MaxNLocator(5 if n_cols <= 3 else 4))
            _thousands_axis(ax.xaxis)
        ax.set_title(wrap_text(_label(sc, name), panel_points - 20, FONT - 1, max_lines=2), fontweight="bold",
                     loc="left", fontsize=FONT - 1)
        if not offered:
            _no_data(ax, "No contact offered in the measured window.")
            continue
        # the figure every other output reports (replications averaged), not the pooled log's share
        at_once = 1.0 - result.channels.loc[(name, "p_wait"), "mean"]
        ax.text(0.98, 0.97, f"{format_share(at_once, 0)} answered at once\n"
                            f"{format_count(offered * _per_day(result))} offered a day",
                transform=ax.transAxes, ha="right", va="top", fontsize=fontsize, color=TEXT, zorder=5,
                bbox=label_box)
        ax.set_xlabel(f"wait ({unit})", fontsize=FONT - 2)
        _percent_axis(ax.yaxis)
        ax.yaxis.set_major_locator(MaxNLocator(4))
        _tidy_axes(ax)
        ax.tick_params(labelsize=FONT - 2 if n_cols <= 3 else FONT - 3)
    for row in grid:
        row[0].set_ylabel("share offered", fontsize=FONT - 2)
    for ax in grid.flat[len(names):]:
        ax.set_visible(False)
    _title(fig, "How long contacts wait, per channel")
    return fig


# --------------------------------------------------------------------------- exports


def result_charts(result: Result) -> dict[str, Figure]:
    """Every chart that applies to one result, by file name.

    ``before_after`` always; ``journey_flow``, ``flow_matrix`` and
    ``wait_times`` when the journeys were kept; ``reference`` when the
    scenario has published figures; ``hourly`` (and ``hourly_2``, ... for
    more than three staffed channels, one 16:9 slide each) when a channel has
    agents.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.05)
    >>> sorted(result_charts(res))
    ['before_after', 'flow_matrix', 'hourly', 'journey_flow', 'reference', 'wait_times']
    """
    charts: dict[str, Figure] = {}
    staffed = any(not c.unlimited for c in result.scenario.channels)
    if result.logs is not None:
        charts["journey_flow"] = flow_diagram(result)
        charts["flow_matrix"] = flow_matrix(result)
    charts["before_after"] = before_after_chart(result)
    if result.scenario.reference:
        charts["reference"] = reference_chart(result)
    if staffed:
        charts.update(hourly_charts(result))
        if result.logs is not None:
            charts["wait_times"] = wait_distribution(result)
    return charts


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def save_charts(figures: Mapping[str, Figure], directory: str | Path, formats: Sequence[str] = ("png", "svg"),
                dpi: int = DPI) -> list[Path]:
    """Write each figure as ``NAME.png`` and ``NAME.svg`` (or the given formats), atomically.

    Each file is written to a temporary name beside it and renamed, so a
    reader never sees a half-written image. The directory is created. SVG
    files keep their text as text (searchable and editable), in the font
    family of the charts.

    Parameters
    ----------
    figures
        ``{file name without extension: Figure}``.
    directory
        Where to write.
    formats
        File formats matplotlib knows (``png``, ``svg``, ``pdf``, ...).
    dpi
        Resolution of raster formats: a 12 x 6.75 inch chart at 150 dpi is
        1800 x 1012 pixels.

    Returns
    -------
    The paths written, in order.

    Examples
    --------
    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(4, 3))
    >>> ax = fig.add_subplot().plot([0, 1], [0, 1])
    >>> paths = save_charts({"line": fig}, tempfile.mkdtemp())
    >>> [p.name for p in paths]
    ['line.png', 'line.svg']
    """
    out = Path(directory)
    for name in figures:
        if not _SAFE_NAME.match(name):
            raise ValueError(f"chart name {name!r} is not a safe file name (letters, digits, _ . -)")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with _styled():  # the style holds at saving time too: SVG text stays text
        for name, fig in figures.items():
            for fmt in formats:
                written.append(atomic_write(out / f"{name}.{fmt}",
                                            lambda p, fig=fig, fmt=fmt: fig.savefig(p, format=fmt, dpi=dpi)))
    return written
