"""Charts of results, ready for slides and papers (matplotlib).

Every chart function takes a :class:`~simulator.experiment.Result` (or a tidy
DataFrame) and returns a :class:`matplotlib.figure.Figure`. Figures are built
without pyplot, so library code never opens a window or keeps figures alive;
in a notebook run ``%matplotlib inline`` and the returned figure is shown.

All charts share one look: a bold title, axis labels with units, a grey
footnote saying which scenario, how many replications and which seed, and the
same colour for a channel in every chart (:func:`channel_colors`).

=========================  ===================================================
:func:`flow_diagram`       customers flowing from contact to contact until
                           resolved or given up (the "Sisyphus" journey)
:func:`channel_network`    the channel graph, edges as wide as the flows
:func:`before_after_chart` the before-the-call / after-the-call tables, with
                           the published figures marked
:func:`reference_chart`    every published figure beside the simulated one
:func:`kpi_comparison`     scenarios side by side and paired differences
:func:`hourly_chart`       queue, wait and abandonment by hour, with agents
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
>>> fig.axes[0].get_ylabel()
'share of callers (%)'
"""

from __future__ import annotations

import itertools
import math
import re
import textwrap
from contextlib import contextmanager
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
from .report import SHARE_METRICS, format_value, headline_figures
from .scenario import GIVE_UP, RESOLVED, Scenario

__all__ = [
    "channel_colors",
    "figure_label",
    "flow_diagram",
    "journey_states",
    "channel_graph",
    "channel_network",
    "before_after_chart",
    "reference_chart",
    "kpi_frame",
    "kpi_comparison",
    "hourly_chart",
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

#: Colours of well-known channel names (and their common spellings).
FIXED_COLORS = {
    "web": "#3B7DD8",
    "app": "#2BA6A0",
    "email": "#F0A202",
    "chat": "#8E5CC2",
    "phone": "#D1495B",
    "sms": "#E377C2",
    "social": "#9C755F",
    "ivr": "#A8A23B",
}
_ALIASES = {
    "web": ("website", "site", "online", "portal", "faq", "selfservice", "self_service", "self-service"),
    "app": ("mobile", "mobile_app", "apps", "mobileapp"),
    "email": ("mail", "e-mail", "e_mail", "emails", "messages", "message", "secure_message",
              "secure_messages", "letter"),
    "chat": ("livechat", "live_chat", "webchat", "web_chat", "messaging", "whatsapp", "chatbot", "bot"),
    "phone": ("call", "calls", "voice", "telephone", "callcentre", "call_centre", "call-centre",
              "callcenter", "call_center", "call-center", "contact_centre"),
    "sms": ("text", "texts"),
    "social": ("twitter", "facebook", "social_media"),
}
#: Colours of the journey ends and of the "later contacts" bucket.
OUTCOME_COLORS = {RESOLVED: "#4C9A5F", GIVE_UP: "#4A4A4A", "later": "#B8B8B8"}
#: Colours for channels without a fixed colour, taken in order.
PALETTE = ("#17BECF", "#EDC948", "#FF9DA7", "#9C755F", "#B07AA1", "#86BCB6",
           "#F28E2B", "#1F77B4", "#BCBD22", "#E15759", "#7F7F7F")
#: Colours of scenarios in comparisons: the base first, in grey.
SCENARIO_COLORS = ("#8C8C8C", "#1F5A96", "#E07B39", "#3E8E7E", "#9B5DE5", "#C44E52", "#B8860B")
OUTCOME_LABELS = {RESOLVED: "Resolved", GIVE_UP: "Gave up", "later": "More contacts"}

#: Human-readable names and units of the KPIs (shares are shown in %).
KPI_LABELS = {
    "customers": ("Customers", "customers"),
    "contacts": ("Contacts", "contacts"),
    "contacts_per_customer": ("Contacts per customer", "contacts"),
    "resolution_rate": ("Resolution rate", "% of customers"),
    "give_up_rate": ("Give-up rate", "% of customers"),
    "first_contact_resolution": ("First-contact resolution", "% of customers"),
    "multichannel_share": ("Customers using 2+ channels", "% of customers"),
    "caller_share": ("Customers who call", "% of customers"),
    "focal_contacts": ("Calls", "contacts"),
    "avoidable_calls": ("Avoidable calls", "calls"),
    "avoidable_call_share": ("Avoidable calls", "% of calls"),
    "callers_continue_share": ("Callers moving on to another channel", "% of callers"),
    "mean_journey_minutes": ("Journey length", "minutes"),
    "cost_total": ("Total cost", "currency units"),
    "cost_per_customer": ("Cost per customer", "currency units"),
}
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
    "svg.fonttype": "path",
}
GRID = {"color": "#E3E3E3", "linewidth": 0.8}
TEXT_GREY = "#5F5F5F"
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
        chars = int(size[0] * 72 / (0.55 * (FONT - 3)))
        footnote = "\n".join(textwrap.fill(line, chars) for line in footnote.split("\n"))
        lines = footnote.count("\n") + 1
        bottom = (0.1 + 0.19 * lines) / size[1]
        fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom), h_pad=0.06, w_pad=0.06)
        fig.text(0.008, 0.012, footnote, ha="left", va="bottom", fontsize=FONT - 3, color=TEXT_GREY)
    return fig


def _title(fig: Figure, title: str) -> None:
    fig.suptitle(title, x=0.008, ha="left")


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
        return [f"{100 * v:.{decimals}f} %" for v in values]

    def __call__(self, x, pos=None):
        return f"{100 * x:.{self._decimals([x])}f} %"


def _percent_axis(axis) -> None:
    """Shares on this axis as percentages."""
    axis.set_major_formatter(_PercentFormatter())


def _footnote(result: Result, what: str = "") -> str:
    sc = result.scenario
    text = (f"Scenario {sc.name}: {result.replications} replication(s) of {sc.run.days:g} day(s), "
            f"seed {result.seed}")
    return f"{text}. {what}" if what else text


def _per_day(result: Result) -> float:
    """Factor turning a count pooled over all replications into a count per simulated day."""
    return 1.0 / (result.replications * result.scenario.run.days)


# --------------------------------------------------------------------------- colours


def channel_colors(names: Iterable[str]) -> dict[str, str]:
    """Colour of each channel, the same in every chart.

    Well-known names (``web``, ``app``, ``email``, ``chat``, ``phone``, ``sms``,
    ``social``, ``ivr`` and common spellings such as ``call_centre``) get fixed
    colours; other names take colours from :data:`PALETTE` in the order given.
    ``give_up``, ``resolved`` and ``later`` always get the colours of
    :data:`OUTCOME_COLORS` and are added to the mapping.

    Parameters
    ----------
    names
        Channel names, in the scenario's order (``scenario.channel_names``).

    Examples
    --------
    >>> colors = channel_colors(["web", "chat", "phone", "kiosk"])
    >>> colors["phone"], colors["kiosk"], colors["resolved"]
    ('#D1495B', '#17BECF', '#4C9A5F')
    """
    names = list(names)
    colors: dict[str, str] = {}
    taken = set()
    for name in names:
        key = name.lower()
        for canonical, aliases in _ALIASES.items():
            if key in aliases:
                key = canonical
        color = FIXED_COLORS.get(key)
        if color is not None and color not in taken:
            colors[name] = color
            taken.add(color)
    spare = [c for c in PALETTE if c not in taken]
    for name in names:
        if name not in colors:
            colors[name] = spare.pop(0) if spare else PALETTE[len(colors) % len(PALETTE)]
    colors.update(OUTCOME_COLORS)
    return colors


def _label(scenario: Scenario, name: str) -> str:
    if name in OUTCOME_LABELS:
        return OUTCOME_LABELS[name]
    try:
        return scenario.channel(name).display_name
    except KeyError:
        return name


def _kpi_label(kpi: str, scenario: Scenario | None = None) -> tuple[str, str]:
    """(title, unit) of a KPI or of a ``table.channel[.metric]`` figure."""
    if kpi in KPI_LABELS:
        return KPI_LABELS[kpi]
    parts = kpi.split(".")

    def name(n: str) -> str:
        if n in OUTCOME_LABELS:
            return OUTCOME_LABELS[n].lower()
        return _label(scenario, n) if scenario is not None else n

    if parts[0] == "before_call" and len(parts) == 2:
        return f"Callers who used {name(parts[1])} before calling", "% of callers"
    if parts[0] == "after_call" and len(parts) == 2:
        if parts[1] == GIVE_UP:
            return "Callers who give up after the call", "% of callers"
        if parts[1] == RESOLVED:
            return "Callers resolved by the call", "% of callers"
        return f"Callers who turn to {name(parts[1])} after the call", "% of callers"
    if parts[0] == "channels" and len(parts) == 3:
        unit = "%" if parts[2] in SHARE_METRICS else ("minutes" if parts[2].endswith("_min") else "")
        return f"{name(parts[1])}: {parts[2].replace('_min', '').replace('_', ' ')}", unit
    return kpi.replace("_", " ").capitalize(), ""


def figure_label(kpi: str, scenario: Scenario | None = None) -> tuple[str, str]:
    """The title and unit a chart (or the web app) gives a figure named like ``give_up_rate``,
    ``channels.phone.service_level`` or ``before_call.email``.

    Examples
    --------
    >>> figure_label("avoidable_call_share")
    ('Avoidable calls', '% of calls')
    """
    return _kpi_label(kpi, scenario)


def _displayed_interval(rows: pd.DataFrame | Mapping[str, Any], share: bool) -> tuple[np.ndarray, np.ndarray]:
    """``ci_low`` and ``ci_high`` (columns, or single values) as drawn: within [0, 1] for a share, at least 0
    otherwise.

    A Student-t interval from few replications can reach past what a figure
    can be (a service level above 100 %); every figure charted is a count,
    share, time or cost, so the impossible part is not drawn.
    """
    low = np.clip(np.asarray(rows["ci_low"], dtype=float), 0.0, None)
    high = np.asarray(rows["ci_high"], dtype=float)
    return (low, np.clip(high, None, 1.0)) if share else (low, high)


def _is_share(kpi: str) -> bool:
    return kpi.split(".")[-1] in SHARE_METRICS or kpi.startswith(("before_call.", "after_call."))


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


def _step_name(step: int) -> str:
    return f"Contact {step}"


@_chart
def flow_diagram(result: Result, max_steps: int = 5, min_label_share: float = 0.025) -> Figure:
    """Alluvial chart of customer journeys: contact after contact until resolved or given up.

    Each column is one contact of the journey (1st, 2nd, ... up to
    ``max_steps``, then "later" for the customers still going, then the end);
    its blocks are the share of customers in each channel at that contact, or
    already resolved / given up. Bands between columns show where customers
    go next, coloured by where they come from. Customers of every replication
    are pooled; the title gives customers a day (mean over the replications).

    Parameters
    ----------
    result
        A result run with ``keep_journeys=True`` (the default).
    max_steps
        Contacts shown one by one (the "later" column gathers the rest).
    min_label_share
        Blocks smaller than this share of customers are not labelled.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.05)
    >>> fig = flow_diagram(res, max_steps=4)
    >>> fig.axes[0].get_xticklabels()[0].get_text()
    'Contact 1'
    """
    sc = result.scenario
    states = journey_states(result.journeys, max_steps)
    n_customers = len(states)
    if n_customers == 0:
        raise ValueError("no customers in the journey log; run longer (days) to draw the flow")
    columns = list(states.columns)
    if not (states["later"] == "later").any():
        columns.remove("later")
    colors = channel_colors(sc.channel_names)
    order = [RESOLVED, *sc.channel_names, "later", GIVE_UP]
    pad = 0.018
    node_width = 0.13

    # Node blocks per column: name -> (top, bottom) in data units (share of customers).
    blocks: list[dict[str, tuple[float, float]]] = []
    for col in columns:
        counts = states[col].value_counts()
        present = [n for n in order if counts.get(n, 0) > 0]
        column_blocks = {}
        total_height = sum(counts[n] for n in present) / n_customers + pad * (len(present) - 1)
        top = (1.0 + pad * (len(order) - 1) + total_height) / 2  # centre each column
        for name in present:
            height = counts[name] / n_customers
            column_blocks[name] = (top, top - height)
            top -= height + pad
        blocks.append(column_blocks)

    fig = _figure(SLIDE, _footnote(result, "Block height = share of customers (all replications pooled); "
                                            "bands show where they go next. Customers a day: mean over "
                                            "the replications."))
    ax = fig.add_subplot()
    for c, (left, right) in enumerate(zip(columns[:-1], columns[1:])):
        flows = states.groupby([left, right], sort=False).size()
        out_offset = {name: blocks[c][name][0] for name in blocks[c]}
        in_offset = {name: blocks[c + 1][name][0] for name in blocks[c + 1]}
        pairs = sorted(flows.index, key=lambda p: (order.index(p[0]), order.index(p[1])))
        # Incoming bands stack by source order; outgoing by target order.
        incoming = sorted(flows.index, key=lambda p: (order.index(p[1]), order.index(p[0])))
        in_top = {}
        for pair in incoming:
            height = flows[pair] / n_customers
            in_top[pair] = in_offset[pair[1]]
            in_offset[pair[1]] -= height
        for source, target in pairs:
            height = flows[(source, target)] / n_customers
            y0 = out_offset[source]
            out_offset[source] -= height
            y1 = in_top[(source, target)]
            carried = source == target and source in (RESOLVED, GIVE_UP)
            _band(ax, c + node_width / 2, y0, c + 1 - node_width / 2, y1, height,
                  colors[source], alpha=0.18 if carried else 0.42)
    for c, column_blocks in enumerate(blocks):
        for name, (top, bottom) in column_blocks.items():
            ax.add_patch(matplotlib.patches.Rectangle(
                (c - node_width / 2, bottom), node_width, top - bottom,
                facecolor=colors[name], edgecolor="white", linewidth=0.8, zorder=3))
            share = top - bottom
            if share < min_label_share:
                continue
            text = f"{100 * share:.0f} %"
            if c == 0 or c == len(blocks) - 1:
                text = f"{_label(sc, name)}  {text}" if c == 0 else f"{text}  {_label(sc, name)}"
                x, ha = (c - node_width / 2 - 0.04, "right") if c == 0 else (c + node_width / 2 + 0.04, "left")
                ax.text(x, (top + bottom) / 2, text, ha=ha, va="center", fontsize=FONT - 1, color="#222222")
            else:
                ax.text(c + node_width / 2 + 0.03, (top + bottom) / 2, text, ha="left", va="center",
                        fontsize=FONT - 3, color="#222222", zorder=4,
                        bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.75))
    labels = [_step_name(i + 1) for i in range(len(columns))]
    labels[-1] = "End"
    if "later" in columns:
        labels[-2] = f"After contact {max_steps}"
    ax.set_xticks(range(len(columns)), labels)
    ax.xaxis.set_ticks_position("top")
    ax.tick_params(axis="x", length=0, labelsize=FONT - 1, pad=6)
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlim(-1.55, len(columns) - 1 + 1.2)
    ax.set_ylim(-0.02, 1.0 + pad * (len(order) - 1) + 0.02)
    used = [n for n in order if any(n in b for b in blocks)]
    handles = [Patch(facecolor=colors[n], label=_label(sc, n)) for n in used]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=len(handles),
              frameon=False, handlelength=1.2, columnspacing=1.4, fontsize=FONT - 1)
    _title(fig, f"Customer journeys, contact by contact: {n_customers * _per_day(result):,.0f} customers a day")
    return fig


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


@_chart
def channel_network(result: Result, min_flow_share: float = 0.005, min_label_share: float = 0.04) -> Figure:
    """The channel network: node area proportional to contacts, edge width to flows.

    The channels sit on the left of a circle in the scenario's order and the
    two journey ends on its right, so every move is a chord across it.
    Retries in the same channel are given in the channel's label rather than
    drawn as loops. Edges carrying less than ``min_flow_share`` of all moves
    are left out (the footnote says so); those carrying at least
    ``min_label_share`` are labelled with customers per day.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.05)
    >>> fig = channel_network(res)
    >>> fig.axes[0].axison
    False
    """
    sc = result.scenario
    g = channel_graph(result)
    colors = channel_colors(sc.channel_names)
    names = list(sc.channel_names)
    angles = dict(zip(names, np.linspace(np.pi * 0.6, np.pi * 1.4, len(names)) if len(names) > 1
                      else [np.pi]))
    angles[RESOLVED], angles[GIVE_UP] = np.pi * 0.2, -np.pi * 0.2
    pos = {n: (1.45 * math.cos(a), math.sin(a)) for n, a in angles.items()}  # a wide ellipse
    nodes = names + [RESOLVED, GIVE_UP]
    largest = max(g.nodes[n]["contacts"] for n in nodes) or 1.0
    size_of = {n: 250 + 4200 * g.nodes[n]["contacts"] / largest for n in nodes}

    moves = [(s, t, d) for s, t, d in g.edges(data=True) if s != t]
    total_flow = sum(d["flow"] for _, _, d in moves) or 1.0
    shown = [(s, t, d) for s, t, d in moves if d["flow"] / total_flow >= min_flow_share]
    hidden = len(moves) - len(shown)
    note = "Node area = contacts (or journeys ending) per day; edge width = customers moving along it per day"
    if hidden:
        note += f"; {hidden} edge(s) under {100 * min_flow_share:g} % of moves not drawn"
    fig = _figure(SLIDE, _footnote(result, note + "."))
    ax = fig.add_subplot()
    largest_flow = max((d["flow"] for _, _, d in shown), default=1.0)
    radius = {n: math.sqrt(size_of[n] / math.pi) for n in nodes}  # points
    texts = {n: _node_text(g, sc, n, is_channel=n in names) for n in nodes}
    side = {n: -1 if n in names else 1 for n in nodes}  # channel labels on the left, ends on the right
    # Keep edge labels off the nodes, their labels and each other: centres, half-widths and half-heights
    # of the space they take, in data units (one unit is about 150 points).
    label_half = np.array([0.13, 0.055])  # of an edge label
    taken = [(np.asarray(pos[n]), radius[n] / 150 + 0.01) for n in nodes]
    for n, text in texts.items():
        lines = text.split("\n")
        half = np.array([0.6 * max(map(len, lines)), 1.35 * len(lines)]) * (FONT - 1) / 300
        taken.append((np.asarray(pos[n]) + [side[n] * ((radius[n] + 10) / 150 + half[0]), 0], half))
    for source, target, data in sorted(shown, key=lambda e: -e[2]["flow"]):
        width = 0.8 + 12 * data["flow"] / largest_flow
        nx.draw_networkx_edges(  # heads short of the node, so those arriving together stay apart
            g, pos, edgelist=[(source, target)], width=width, edge_color=colors[source], alpha=0.5,
            arrowstyle="-|>,head_length=0.5,head_width=0.3", arrowsize=6 + 1.9 * width,
            node_size=[size_of[source], size_of[target]],
            nodelist=[source, target], connectionstyle="arc3,rad=0.12", ax=ax,
            min_source_margin=2, min_target_margin=9)
        if data["flow"] / total_flow >= min_label_share:
            # Near the source, in its colour: a label at a crossing still says which edge it belongs to.
            candidates = [np.asarray(_edge_label_position(pos, source, target, rad=0.12, at=t))
                          for t in (0.3, 0.36, 0.24, 0.42, 0.18, 0.5, 0.58, 0.66, 0.74)]
            free = [c for c in candidates if all(np.any(np.abs(c - p) > half + label_half) for p, half in taken)]
            if not free:
                continue
            x, y = free[0]
            taken.append((free[0], label_half))
            ax.text(x, y, f"{data['flow']:,.0f}", ha="center", va="center", fontsize=FONT - 3,
                    fontweight="bold", color=_darker(colors[source]), zorder=5,
                    bbox=dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor=colors[source],
                              linewidth=1.0, alpha=0.9))
    nx.draw_networkx_nodes(g, pos, nodelist=nodes, node_size=[size_of[n] for n in nodes], ax=ax,
                           node_color=[colors[n] for n in nodes], edgecolors="white", linewidths=2)
    for n in nodes:
        ax.annotate(texts[n], pos[n], xytext=(side[n] * (radius[n] + 10), 0), textcoords="offset points",
                    ha="right" if side[n] < 0 else "left", va="center", fontsize=FONT - 1, color="#222222",
                    linespacing=1.35)
        ax.texts[-1].set_bbox(dict(boxstyle="round,pad=0.2", facecolor="white", edgecolor="none", alpha=0.8))
    ax.set_xlim(-2.75, 2.35)
    ax.set_ylim(-1.2, 1.2)
    ax.set_aspect("equal")
    ax.axis("off")
    _title(fig, "Channel network: where customers go after each contact (per day)")
    return fig


def _node_text(g: nx.DiGraph, scenario: Scenario, n: str, is_channel: bool) -> str:
    """The label beside a node of :func:`channel_network`: its name and flows a day."""
    node = g.nodes[n]
    if not is_channel:
        return f"{_label(scenario, n)}\n{node['contacts']:,.0f} journeys a day"
    lines = [_label(scenario, n), f"{node['contacts']:,.0f} contacts a day"]
    if node["first"] > 0:
        lines.append(f"first for {100 * node['first']:.0f} % of customers")
    if g.has_edge(n, n):
        lines.append(f"{g.edges[n, n]['flow']:,.0f} a day try it again")
    return "\n".join(lines)


def _darker(color: str, factor: float = 0.72) -> tuple[float, float, float]:
    """A darker shade of a colour, readable as text on white."""
    return tuple(factor * c for c in matplotlib.colors.to_rgb(color))


def _edge_label_position(pos, source, target, rad: float, at: float = 0.5) -> tuple[float, float]:
    """Point ``at`` (0 source, 1 target) along an ``arc3`` edge, in data coordinates (equal aspect)."""
    p0, p2 = np.asarray(pos[source], float), np.asarray(pos[target], float)
    dx, dy = p2 - p0
    control = (p0 + p2) / 2 + rad * np.array([dy, -dx])
    point = (1 - at) ** 2 * p0 + 2 * (1 - at) * at * control + at ** 2 * p2
    return float(point[0]), float(point[1])


# --------------------------------------------------------------------------- before / after


def _bars(ax, labels, frame: pd.DataFrame, colors: Sequence[str], reference: Sequence[float | None],
          horizontal: bool = False) -> None:
    """Bars with CI whiskers, value labels and published figures as black diamonds."""
    mean = frame["mean"].to_numpy(dtype=float)
    low, high = _displayed_interval(frame, share=True)
    x = np.arange(len(mean))
    err = np.vstack([np.nan_to_num(mean - low), np.nan_to_num(high - mean)])
    ax.bar(x, mean, width=0.62, color=colors, zorder=2)
    ax.errorbar(x, mean, yerr=err, fmt="none", ecolor="#222222", elinewidth=1.4, capsize=5, zorder=3)
    ax.set_xticks(x, labels)
    top = np.nanmax(np.concatenate([high, mean, [r for r in reference if r is not None] or [0.0]]))
    for xi, m, h in zip(x, mean, high):
        ax.text(xi, (h if np.isfinite(h) else m) + 0.02 * top, f"{100 * m:.1f} %", ha="center",
                va="bottom", fontsize=FONT - 2, color="#222222", zorder=4)
    for xi, r in zip(x, reference):
        if r is not None:
            ax.plot([xi + 0.38], [r], marker="D", markersize=9, color="black", zorder=5,
                    linestyle="none", markeredgecolor="white")
            ax.plot([xi - 0.31, xi + 0.31], [r, r], color="black", linewidth=1.6, linestyle=(0, (2, 1.5)),
                    zorder=4)
    ax.set_ylim(0, max(ax.get_ylim()[1], top * 1.15 if top > 0 else 1))
    _percent_axis(ax.yaxis)
    _tidy_axes(ax)


@_chart
def before_after_chart(result: Result) -> Figure:
    """Bar charts of the before-the-call and after-the-call tables, with 95 % CIs.

    Left: of the callers (customers who contacted the focal channel), the
    share who used each other channel before their first call. Right: their
    next step after the first call (calling again, another channel, giving up,
    or resolved). Published figures in the scenario's ``reference`` (keys
    ``before_call.CHANNEL`` / ``after_call.TARGET``) are drawn as black
    diamonds on a dashed line.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.05)
    >>> fig = before_after_chart(res)
    >>> [t.get_text() for t in fig.axes[0].get_xticklabels()][1:]
    ['Email', 'Chat']
    """
    sc = result.scenario
    colors = channel_colors(sc.channel_names)
    before, after = result.before_call, result.after_call
    fig = _figure(SLIDE, _footnote(result, "Bars: mean; whiskers: 95 % confidence interval."))
    axes = fig.subplots(1, 2, width_ratios=[max(len(before), 3), max(len(after), 3)], sharey=True)
    focal = _label(sc, sc.focal_channel)
    titles = ("Before the call", "After the call: next step")
    has_reference = False
    for ax, frame, table, title in zip(axes, (before, after), ("before_call", "after_call"), titles):
        names = list(frame.index)
        labels = [("Call again" if n == sc.focal_channel and table == "after_call" else _label(sc, n))
                  for n in names]
        reference = [sc.reference.get(f"{table}.{n}") for n in names]
        has_reference |= any(r is not None for r in reference)
        _bars(ax, _wrap_labels(labels), frame, [colors[n] for n in names], reference)
        ax.set_title(title)
    axes[0].set_ylabel("share of callers (%)")
    if has_reference:
        source = sc.reference_source or "published figure"
        axes[1].legend(handles=[matplotlib.lines.Line2D([], [], color="black", marker="D", linestyle=(0, (2, 1.5)),
                                                        markeredgecolor="white", markersize=9, label=source)],
                       loc="upper left")
    _title(fig, f"{focal}: what callers did before and after their first call")
    return fig


def _wrap_labels(labels: Sequence[str], width: int = 12) -> list[str]:
    """Break long tick labels on spaces so neighbours do not overlap."""
    out = []
    for label in labels:
        words, lines, line = label.split(), [], ""
        for word in words:
            if line and len(line) + 1 + len(word) > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
        out.append("\n".join(lines))
    return out


@_chart
def reference_chart(result: Result) -> Figure:
    """Every published figure of the scenario beside the simulated value and its 95 % CI.

    One row per key of ``scenario.reference``: the simulated mean as a dot
    on its confidence interval, the published value as a black bar; the right
    column gives both numbers and whether the published one is inside the CI.

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
    """
    sc = result.scenario
    table = result.reference()
    if table.empty:
        raise ValueError(f"scenario {sc.name!r} has no [reference] figures to compare with")
    colors = channel_colors(sc.channel_names)
    keys = list(table.index)
    fig = _figure((12.0, max(4.8, 2.2 + 0.7 * len(keys))),
                  _footnote(result, "Dot: simulated mean; band: its 95 % confidence interval; "
                                    "black bar: published figure."))
    ax = fig.add_subplot()
    y = np.arange(len(keys))[::-1]
    labels = []
    for yi, key in zip(y, keys):
        row = table.loc[key]
        parts = key.split(".")
        color = colors.get(parts[-1], "#1F5A96") if len(parts) == 2 else "#1F5A96"
        ax.plot([row["ci_low"], row["ci_high"]], [yi, yi], color=color, linewidth=9, alpha=0.35,
                solid_capstyle="round", zorder=2)
        ax.plot([row["published"]], [yi], marker="|", color="black", markersize=24, markeredgewidth=3, zorder=3)
        ax.plot([row["mean"]], [yi], "o", color=color, markersize=10, markeredgecolor="white", zorder=4)
        verdict = "inside the CI" if row["inside"] else f"{100 * row['diff']:+.1f} pp"
        ax.annotate(f"{100 * row['mean']:.1f} % vs {100 * row['published']:.1f} %  ({verdict})",
                    (1.0, yi), xycoords=("axes fraction", "data"), xytext=(14, 0), textcoords="offset points",
                    va="center", fontsize=FONT - 1, color="#222222")
        labels.append(_kpi_label(key, sc)[0])
    ax.annotate("simulated vs published", (1.0, len(keys) - 0.45), xycoords=("axes fraction", "data"),
                xytext=(14, 0), textcoords="offset points", va="center", fontsize=FONT - 1, color=TEXT_GREY,
                fontweight="bold")
    ax.set_yticks(y, labels)
    ax.set_ylim(-0.6, len(keys) - 0.2)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share (%)")
    _percent_axis(ax.xaxis)
    _tidy_axes(ax, grid="x")
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    handles = [matplotlib.lines.Line2D([], [], marker="o", color="#1F5A96", linewidth=7, alpha=0.6,
                                       markersize=10, label="simulated, with 95 % CI"),
               matplotlib.lines.Line2D([], [], marker="|", color="black", linestyle="none", markersize=18,
                                       markeredgewidth=3, label=sc.reference_source or "published")]
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=2, borderaxespad=0.2)
    _title(fig, "Simulated vs published figures")
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
                   base: str | None = None, title: str | None = None) -> Figure:
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
    names = _wrap_labels(scenarios, width=18)
    for i, kpi in enumerate(kpis):
        block, col = divmod(i, n_cols)
        ax = grid[block * (2 if has_diff else 1), col]
        rows = frame[frame["kpi"] == kpi].set_index("scenario").reindex(scenarios)
        share = _is_share(kpi)
        kpi_title, unit = _kpi_label(kpi)
        mean = rows["mean"].to_numpy(float)
        low, high = _displayed_interval(rows, share)
        err = np.vstack([np.nan_to_num(mean - low), np.nan_to_num(high - mean)])
        ax.barh(y, mean, height=0.62, color=[colors[s] for s in scenarios], zorder=2)
        ax.errorbar(mean, y, xerr=err, fmt="none", ecolor="#222222", elinewidth=1.3, capsize=4, zorder=3)
        for yi, m in zip(y, mean):
            if np.isfinite(m):
                ax.annotate(f"{100 * m:.1f} %" if share else _number(m), (m, yi), xytext=(4, 5),
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
            _difference_panel(dax, rows, scenarios, y, colors, share, kpi, base_name)
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
    return kpi_comparison(table, kpis=[k for k in headline_figures(base) if k in present])


def _number(value: float) -> str:
    """A number with as many decimals as its size calls for (two below 10)."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def _signed(value: float) -> str:
    """A difference with its sign and enough significant digits (``-0.0041``, ``+1,302``)."""
    return ("+" if value > 0 else "") + format_value(value, "")


def _short(text: str, width: int = 26) -> str:
    return "\n".join(_wrap_labels([text], width))


def _difference_panel(ax, rows, scenarios, y, colors, share: bool, kpi: str, base_name) -> None:
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
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: format_value(v, "")))
    unit = _kpi_label(kpi)[1]
    ax.set_xlabel("difference (percentage points)" if share else f"difference ({unit})" if unit else "difference")
    ax.set_title("paired difference vs base", fontsize=FONT - 2, color=TEXT_GREY)
    ax.set_ylim(y.min() - 0.6, y.max() + 0.6)
    _tidy_axes(ax, grid="x")
    ax.tick_params(axis="y", length=0)


# --------------------------------------------------------------------------- over the day


@_chart
def hourly_chart(result: Result, channels: Sequence[str] | None = None) -> Figure:
    """Queue length, wait and abandonment by hour of the day, per staffed channel.

    One column per channel (default: every channel with agents), three rows:
    mean queue length with the agents on duty on a second axis, mean wait
    (minutes), and the abandonment rate. Lines are means across replications,
    shaded bands their 95 % CIs; hours outside the measured window are empty.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.1)
    >>> fig = hourly_chart(res)
    >>> fig.axes[0].get_title(loc="left")
    'Email'
    """
    sc = result.scenario
    names = list(channels) if channels is not None else [c.name for c in sc.channels if not c.unlimited]
    if not names:
        raise ValueError(f"scenario {sc.name!r} has no staffed channel (all are self-service)")
    for n in names:
        sc.channel(n)  # clear error for an unknown name
    hourly = result.hourly
    colors = channel_colors(sc.channel_names)
    rows = (("mean_queue", "queue (customers)"), ("mean_wait_min", "mean wait (min)"),
            ("abandon_rate", "abandoned (%)"))
    width = max(12.0, 4.0 * len(names))
    kinds = {n: sc.channel(n).is_async for n in names}
    mixed = len(set(kinds.values())) > 1
    fig = _figure((width, 8.2), _footnote(result, "Lines: mean by hour of the day; bands: 95 % CI; "
                                                   "dashed: agents on duty (right axis)."
                                          + (" Live channels share y scales; asynchronous ones (backlogs lasting "
                                             "hours) have their own." if mixed else "")))
    grid = fig.subplots(len(rows), len(names), squeeze=False, sharex=True)
    # One y scale per metric across channels of a kind, so panels side by side compare at a
    # glance; an asynchronous channel's backlog (hours) would flatten live queues (seconds).
    first_of_kind = {kinds[n]: col for col, n in reversed(list(enumerate(names)))}
    for r in range(len(rows)):
        for col, name in enumerate(names):
            lead = first_of_kind[kinds[name]]
            if col != lead:
                grid[r, col].sharey(grid[r, lead])
                grid[r, col].tick_params(labelleft=False)
    hours = np.arange(24)
    twins = []
    for col, name in enumerate(names):
        frame = hourly.loc[name]
        for r, (metric, label) in enumerate(rows):
            ax = grid[r, col]
            stats = frame.xs(metric, level="metric").reindex(hours)
            mean = stats["mean"].to_numpy(float)
            low, high = _displayed_interval(stats, share=metric in SHARE_METRICS)
            ax.fill_between(hours + 0.5, low, high, color=colors[name], alpha=0.22, linewidth=0)
            ax.plot(hours + 0.5, mean, color=colors[name], linewidth=2.4, marker="o", markersize=3.5)
            if metric == "abandon_rate":
                _percent_axis(ax.yaxis)
            if col == 0:
                ax.set_ylabel(label)
            _tidy_axes(ax)
            if metric == "mean_queue":
                agents = frame.xs("agents", level="metric").reindex(hours)["mean"].to_numpy(float)
                twin = ax.twinx()
                if twins:
                    twin.sharey(twins[0])
                twin.step(hours, agents, where="post", color="#333333", linestyle="--", linewidth=1.4)
                top = max(np.nanmax(np.append(agents, 1)) * 1.2, twins[0].get_ylim()[1] if twins else 0)
                twin.set_ylim(0, top)
                twins.append(twin)
                twin.spines["right"].set_visible(True)
                twin.spines["top"].set_visible(False)
                last = col == len(names) - 1
                twin.tick_params(labelsize=FONT - 2, colors="#333333", length=3, labelright=last)
                if last:
                    twin.set_ylabel("agents on duty")
                twin.yaxis.set_major_locator(MaxNLocator(4, integer=True))
            if r == len(rows) - 1:
                ax.set_xlabel("hour of the day")
        grid[0, col].set_title(_label(sc, name), color=colors[name], fontweight="bold")
    for ax in grid.flat:  # after every channel is drawn: the shared scale fits them all
        ax.set_ylim(bottom=0)
        ax.set_xlim(0, 24)
        ax.set_xticks(range(0, 25, 4))
        ax.yaxis.set_major_locator(MaxNLocator(4))
    _title(fig, "Over the day: queues, waits and abandonment by hour")
    return fig


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
            low, high = _displayed_interval(rows, _is_share(kpi))
            ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)
            label = None if group is None else (str(group) if hue == "scenario"
                                                else f"{_field_label(hue)} = {_format_parameter(group)}")
            ax.plot(x, rows["mean"].to_numpy(float), color=color, linewidth=2.4, marker="o", markersize=5,
                    label=label)
        if reference and kpi in reference:
            _reference_line(ax, frame[frame["kpi"] == kpi].sort_values(parameter), parameter, reference[kpi],
                            format_value(reference[kpi], "share" if _is_share(kpi) else kpi))
        kpi_title, unit = _kpi_label(kpi)
        ax.set_title(_short(kpi_title, int(fig.get_figwidth() / n_cols * 7.5)), fontsize=FONT)
        ax.set_ylabel(unit)
        if _is_share(kpi):
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
    share = _is_share(kpi)
    kpi_title, unit = _kpi_label(kpi)
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
    colors = {"low": "#9DBBDD", "high": "#1F5A96"}
    edges = {"low": "#6F9BCB", "high": "#1F5A96"}  # a hollow light bar still stands out
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

    One panel per channel (default: every channel with agents): a histogram
    of the waits of contacts that waited at all, split into those answered
    and those who abandoned (their wait is the time until they left), as a
    share of all contacts offered. The panel says how many were answered at
    once and how many were offered a day (mean over the replications), and
    marks the mean wait and the service-level threshold.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.1)
    >>> fig = wait_distribution(res)
    >>> [ax.get_title(loc="left") for ax in fig.axes]
    ['Email', 'Chat', 'Call centre']
    """
    sc = result.scenario
    names = list(channels) if channels is not None else [c.name for c in sc.channels if not c.unlimited]
    if not names:
        raise ValueError(f"scenario {sc.name!r} has no staffed channel (all are self-service)")
    j = result.journeys
    colors = channel_colors(sc.channel_names)
    n_cols = min(len(names), 3)
    n_rows = math.ceil(len(names) / n_cols)
    fig = _figure((max(12.0, 4.2 * n_cols), 1.4 + 4.0 * n_rows),
                  _footnote(result, "Contacts that waited, as a share of all contacts offered (the longest "
                                    "1 % of waits lie beyond the axis); abandoned = left the queue or stopped "
                                    "waiting for a reply. Contacts a day: mean over the replications."))
    grid = fig.subplots(n_rows, n_cols, squeeze=False)
    for ax, name in zip(grid.flat, names):
        spec = sc.channel(name)
        rows = j[(j["channel"] == name) & (j["outcome"] != "closed")]
        wait = rows["wait"].to_numpy(float)
        abandoned = (rows["outcome"] == "abandoned").to_numpy()
        offered = len(wait)
        positive = wait > 0
        scale, unit = (60.0, "hours") if offered and np.quantile(wait, 0.99) > 180 else (1.0, "minutes")
        if positive.any():
            top = np.quantile(wait[positive], 0.99) / scale
            edges = np.linspace(0, top if top > 0 else 1.0, bins + 1)
            weights = np.full(offered, 1.0 / offered)
            clipped = wait / scale
            ax.hist([clipped[positive & ~abandoned], clipped[positive & abandoned]], bins=edges,
                    weights=[weights[positive & ~abandoned], weights[positive & abandoned]], stacked=True,
                    color=[colors[name], "#4A4A4A"], label=["answered", "abandoned"], zorder=2)
            mean = wait.mean() / scale
            ax.axvline(mean, color="#222222", linestyle="--", linewidth=1.3, zorder=3)
            ax.annotate(f"mean {_duration(mean * scale)}", (mean, 1), xycoords=("data", "axes fraction"),
                        xytext=(4, -4), textcoords="offset points", va="top", fontsize=FONT - 3, zorder=5,
                        bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85))
            sl = spec.service_level_seconds / 60.0 / scale
            if sl < edges[-1]:
                ax.axvline(sl, color=colors[name], linestyle=":", linewidth=1.8, zorder=3)
                ax.annotate(f"target {_duration(spec.service_level_seconds / 60.0)}", (sl, 0.86),
                            xycoords=("data", "axes fraction"), xytext=(4, 0), textcoords="offset points",
                            fontsize=FONT - 3, color="#222222", zorder=5,
                            bbox=dict(boxstyle="round,pad=0.15", facecolor="white", edgecolor="none", alpha=0.85))
            ax.set_xlim(-0.03 * edges[-1], edges[-1])  # keeps the x and y zero labels apart
        at_once = 1.0 - positive.mean() if offered else math.nan
        # beside the title, clear of the mean and target labels inside the panel
        ax.set_title(f"answered at once: {100 * at_once:.0f} %\n{offered * _per_day(result):,.0f} offered a day",
                     loc="right", fontsize=FONT - 3, color="#222222")
        ax.set_title(_label(sc, name), color=colors[name], fontweight="bold", loc="left")
        ax.set_xlabel(f"wait ({unit})")
        _percent_axis(ax.yaxis)
        _tidy_axes(ax)
    grid.flat[0].set_ylabel("share of contacts offered")
    grid.flat[0].legend(loc="center right")
    for ax in grid.flat[len(names):]:
        ax.set_visible(False)
    _title(fig, "How long contacts wait, per channel")
    return fig


def _duration(minutes: float) -> str:
    if minutes < 1:
        return f"{minutes * 60:.0f} s"
    if minutes < 120:
        return f"{minutes:.1f} min"
    return f"{minutes / 60:.1f} h"


# --------------------------------------------------------------------------- exports


def result_charts(result: Result) -> dict[str, Figure]:
    """Every chart that applies to one result, by file name.

    ``before_after`` and ``hourly`` always (``hourly`` when a channel has
    agents); ``journey_flow``, ``channel_network`` and ``wait_times`` when the
    journeys were kept; ``reference`` when the scenario has published figures.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.05)
    >>> sorted(result_charts(res))
    ['before_after', 'channel_network', 'hourly', 'journey_flow', 'reference', 'wait_times']
    """
    charts: dict[str, Figure] = {}
    staffed = any(not c.unlimited for c in result.scenario.channels)
    if result.logs is not None:
        charts["journey_flow"] = flow_diagram(result)
        charts["channel_network"] = channel_network(result)
    charts["before_after"] = before_after_chart(result)
    if result.scenario.reference:
        charts["reference"] = reference_chart(result)
    if staffed:
        charts["hourly"] = hourly_chart(result)
        if result.logs is not None:
            charts["wait_times"] = wait_distribution(result)
    return charts


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def save_charts(figures: Mapping[str, Figure], directory: str | Path, formats: Sequence[str] = ("png", "svg"),
                dpi: int = DPI) -> list[Path]:
    """Write each figure as ``NAME.png`` and ``NAME.svg`` (or the given formats), atomically.

    Each file is written to a temporary name beside it and renamed, so a
    reader never sees a half-written image. The directory is created.

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
    for name, fig in figures.items():
        for fmt in formats:
            written.append(atomic_write(out / f"{name}.{fmt}",
                                        lambda p, fig=fig, fmt=fmt: fig.savefig(p, format=fmt, dpi=dpi)))
    return written
