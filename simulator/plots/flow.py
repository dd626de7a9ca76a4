"""Journey flows: customers moving from contact to contact until resolved or given up."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch, PathPatch
from matplotlib.path import Path as MplPath

from ..experiment import Result
from ..figures import GIVE_UP, RESOLVED
from ..style import channel_colors, channel_name, format_count, format_share, text_width, wrap_text
from .canvas import FONT, SLIDE, TEXT, chart, legend_below, new_figure, no_data, per_day_factor, run_footnote, set_title

__all__ = ["journey_states", "journey_flows", "flow_diagram", "flow_comparison"]



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
        rows += [(k, source, target, count * per_day_factor(result)) for (source, target), count in counts.items()]
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


@chart
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
    fig = new_figure(SLIDE, run_footnote(result, "Block height = customers (all replications pooled); green and grey "
                                                 "blocks: journeys that ended after the contact before; bands: "
                                                 "where customers go next. A day: pooled customers ÷ "
                                                 "(replications × days)."))
    ax = fig.add_subplot()
    _draw_flow(fig, ax, result, max_steps, lambda suggested: set_title(fig, title or suggested))
    return fig


@chart
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
    fig = new_figure(SLIDE, run_footnote(first, "Block height = customers; green and grey blocks: journeys that ended "
                                                 "after the contact before. Same seed for every scenario."))
    axes = fig.subplots(len(labels), 1, squeeze=False)[:, 0]
    set_title(fig, "Customer journeys compared")
    for ax, label in zip(axes, labels):
        def panel_title(text, ax=ax, label=label):
            ax.set_title(f"{label}: {text.split(': ', 1)[-1]}", fontsize=FONT, loc="left")
        _draw_flow(fig, ax, results[label], max_steps, panel_title, legend=False, compact=True, left_width=2.4)
    return fig


def _draw_flow(fig: Figure, ax, result: Result, max_steps: int, show_title: Callable[[str], None],
               legend: bool = True, compact: bool = False, left_width: float | None = None) -> None:
    """Draw the journey flow of ``result`` on ``ax``; ``show_title`` gets the title it suggests (before the
    labels are placed, so they are placed in the final layout). A ``compact`` flow (one of several
    compared) keeps the scenario's order in its first column; ``left_width`` fixes the room of the
    first column's labels (inches), so flows compared line up."""
    sc = result.scenario
    flows = journey_flows(result, max_steps)
    if flows.empty:
        no_data(ax, "No customer arrived in the measured window: run longer (days) to see their journeys.")
        show_title("Customer journeys, contact by contact: 0 customers a day")
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
        handles = [Patch(facecolor=colors[n], label=channel_name(sc, n) if n != "later" else
                         f"More than {max_steps} contacts") for n in used]
        legend_below(fig, ax, handles)
    show_title(f"Customer journeys, contact by contact: {format_count(per_day)} customers a day, "
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
            name_text = channel_name(sc, name) if name != "later" else f"More than {max_steps} contacts"
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
