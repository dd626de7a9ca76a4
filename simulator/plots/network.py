"""The channel network: customers a day from each channel (or arrival) to each channel or journey end."""

from __future__ import annotations

import itertools

import matplotlib
import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..experiment import Result
from ..figures import GIVE_UP, RESOLVED
from ..style import channel_colors, channel_name, format_count, text_width, wrap_text
from .canvas import FONT, SLIDE, TEXT, TEXT_GREY, chart, new_figure, per_day_factor, run_footnote, set_title

__all__ = ["channel_graph", "flow_table", "flow_matrix"]



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
    per_day = per_day_factor(result)
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
    per_day = per_day_factor(result)
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


@chart
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
    fig = new_figure(SLIDE, run_footnote(result, "Customers a day (pooled over the replications, divided by "
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
    row_labels = ["New customers" if r == "new" else wrap_text(channel_name(sc, r), label_points, fontsize + 1,
                                                               max_lines=2) for r in rows]
    column_labels = [wrap_text(channel_name(sc, c), cell_points * 0.98, fontsize, max_lines=4) for c in columns]
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
        longest_word = max(text_width(word, fontsize) for c in columns for word in channel_name(sc, c).split())
        label_size = min(fontsize, fontsize * cell_points * 0.9 / longest_word)
        ax.set_xticks(range(n_cols), [wrap_text(channel_name(sc, c), cell_points * 0.9, label_size, max_lines=4)
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
    set_title(fig, "Where customers go after each contact (customers a day)")
    return fig
