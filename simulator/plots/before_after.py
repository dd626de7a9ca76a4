"""The before-the-call and after-the-call tables, and the gap of every figure to its published value."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..experiment import Result
from ..report import empty_table_note
from ..style import (channel_colors, channel_name, clip_interval, figure_label, format_number, format_share,
                     format_signed, is_share, wrap_text)
from .canvas import (FONT, SLIDE, TEXT, TEXT_GREY, chart, displayed_interval, new_figure, no_data, percent_axis,
                     run_footnote, set_title, tidy_axes)

__all__ = ["before_after_chart", "reference_chart"]



def _share_bars(ax, labels: Sequence[str], frame: pd.DataFrame, colors: Sequence[str],
                reference: Sequence[float | None], fontsize: float) -> None:
    """Horizontal bars of shares, top to bottom, with CI whiskers, values at their ends and
    published figures as black diamonds on a dashed line across the bar."""
    mean = frame["mean"].to_numpy(dtype=float)
    low, high = displayed_interval(frame, share=True)
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
    percent_axis(ax.xaxis)
    tidy_axes(ax, grid="x")
    ax.tick_params(axis="y", length=0)
    ax.spines["left"].set_visible(False)


@chart
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
    fig = new_figure(SLIDE, run_footnote(result, "Bars: mean; whiskers: 95 % confidence interval (within 0–100 %)."
                                                 + key))
    rows = max(len(before), len(after), 1)
    fontsize = FONT - 1 if rows <= 9 else FONT - 2 if rows <= 12 else FONT - 3
    axes = fig.subplots(1, 2)
    focal = channel_name(sc, sc.focal_channel)
    titles = ("Before the call: channels used", "After the call: next step")
    notes = {table: empty_table_note(result, table) for table in ("before_call", "after_call")}
    for ax, frame, table, title in zip(axes, (before, after), ("before_call", "after_call"), titles):
        ax.set_title(title)
        if frame.empty:
            no_data(ax, f"The scenario has no channel but {focal}: callers had no other channel to try "
                        "before calling.")
            continue
        if notes[table] is not None:  # nobody called
            no_data(ax, f"Nothing to show: {notes[table]}.")
            continue
        names = list(frame.index)
        labels = [("Call again" if n == sc.focal_channel and table == "after_call" else channel_name(sc, n))
                  for n in names]
        reference = [sc.reference.get(f"{table}.{n}") for n in names]
        lines = 2 if rows <= 10 else 1
        _share_bars(ax, [wrap_text(label, 150, fontsize, max_lines=lines) for label in labels], frame,
                    [colors[n] for n in names], reference, fontsize)
    right = max([*np.nan_to_num(displayed_interval(after, True)[1]).tolist(),
                 *np.nan_to_num(displayed_interval(before, True)[1]).tolist(),
                 *[v for k, v in sc.reference.items() if k.startswith(("before_call.", "after_call."))], 0.05])
    for ax, table in zip(axes, ("before_call", "after_call")):
        if notes[table] is None:  # one scale for both, with room for the value labels
            ax.set_xlim(0, min(right * 1.22, 1.1))
            ax.xaxis.set_major_locator(MaxNLocator(5))
            ax.set_xlabel("share of callers")
    set_title(fig, f"{focal}: what callers did before and after their first call")
    return fig


@chart
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
    published = f" Published: {sc.reference_source}." if sc.reference_source else ""
    fig = new_figure(SLIDE, run_footnote(result, "Dot: simulated − published; bar: 95 % confidence interval of the "
                                                 "simulated figure (within what it can be) minus the published one. "
                                                 "Hollow dot: the published figure lies inside the interval." + published))
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
    tidy_axes(ax, grid="x")
    ax.spines["left"].set_visible(False)
    ax.tick_params(axis="y", length=0)
    set_title(fig, "Simulated vs published figures: how far apart they are")
    return fig
