"""How long contacts wait, per channel."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..experiment import Result
from ..figures import GIVE_UP
from ..style import OUTCOME_COLORS, channel_colors, channel_name, format_count, format_share, format_wait, wrap_text
from .canvas import (FONT, SLIDE, TEXT, chart, new_figure, no_data, per_day_factor, percent_axis, run_footnote,
                     set_title, thousands_axis, tidy_axes)

__all__ = ["wait_distribution"]



@chart
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
    fig = new_figure(SLIDE, run_footnote(result, "Contacts that waited, as a share of all contacts offered (the "
                                                 "longest 1 % of waits lie beyond the axis); bars in the channel's "
                                                 "colour: answered; grey: abandoned (left the queue or stopped "
                                                 "waiting for a reply). A day: pooled ÷ (replications × days)."))
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
            thousands_axis(ax.xaxis)
        ax.set_title(wrap_text(channel_name(sc, name), panel_points - 20, FONT - 1, max_lines=2), fontweight="bold",
                     loc="left", fontsize=FONT - 1)
        if not offered:
            no_data(ax, "No contact offered in the measured window.")
            continue
        # the figure every other output reports (replications averaged), not the pooled log's share
        at_once = 1.0 - result.channels.loc[(name, "p_wait"), "mean"]
        ax.text(0.98, 0.97, f"{format_share(at_once, 0)} answered at once\n"
                            f"{format_count(offered * per_day_factor(result))} offered a day",
                transform=ax.transAxes, ha="right", va="top", fontsize=fontsize, color=TEXT, zorder=5,
                bbox=label_box)
        ax.set_xlabel(f"wait ({unit})", fontsize=FONT - 2)
        percent_axis(ax.yaxis)
        ax.yaxis.set_major_locator(MaxNLocator(4))
        tidy_axes(ax)
        ax.tick_params(labelsize=FONT - 2 if n_cols <= 3 else FONT - 3)
    for row in grid:
        row[0].set_ylabel("share offered", fontsize=FONT - 2)
    for ax in grid.flat[len(names):]:
        ax.set_visible(False)
    set_title(fig, "How long contacts wait, per channel")
    return fig
