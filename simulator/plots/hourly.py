"""The planner's view by hour of the day (or week): demand and agents, service level, occupancy, abandonment."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..experiment import Result
from ..figures import DAY_NAMES
from ..style import channel_colors, channel_name, format_share, format_wait, wrap_text
from .canvas import (FONT, SLIDE, TEXT, TEXT_GREY, chart, displayed_interval, new_figure, percent_axis, run_footnote,
                     set_title, thousands_axis, tidy_axes)

__all__ = ["hourly_chart", "hourly_charts", "HOURLY_ROWS_PER_SLIDE"]



#: Channel rows per slide of the over-the-day chart (:func:`hourly_charts`).
HOURLY_ROWS_PER_SLIDE = 3
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
        rows.append(_HourlyRow(name, channel_name(sc, name), colors[name], frame,
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
        ax.set_xticks(np.arange(0, len(hours), 24) + 12, [DAY_NAMES[d % 7] for d in range(len(hours) // 24)])
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
    low, high = displayed_interval(stats, share=share)
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
    thousands_axis(ax.yaxis)
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


@chart
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
    fig = new_figure((SLIDE[0], height), run_footnote(
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
                percent_axis(ax.yaxis)
            ax.yaxis.label.set_size(FONT - 2)
            _hour_axis(ax, hours, label=(c == n_panels - 1) if weekly else (r == len(rows) - 1))
            tidy_axes(ax)
            if c == 0:
                ax.set_title(wrap_text(row.title, 260 if not weekly else 400, FONT, max_lines=1), loc="left",
                             fontweight="bold", fontsize=FONT)
            else:
                ax.set_title(title, loc="left", fontsize=FONT - 1, color=TEXT_GREY)
    set_title(fig, f"Over the {'week' if weekly else 'day'}: demand, staff, service level, occupancy and "
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
    >>> list(hourly_charts(res))  # a week's hours: two channels a slide
    ['hourly', 'hourly_2']
    """
    staffed = [c.name for c in result.scenario.channels if not c.unlimited]
    per_slide = _rows_per_slide(len(_hours_of(result.hourly)) > 24)
    pages = [staffed[i:i + per_slide] for i in range(0, len(staffed), per_slide)]
    return {("hourly" if i == 0 else f"hourly_{i + 1}"): hourly_chart(result, page, service_level_target)
            for i, page in enumerate(pages)}
