"""Interactive charts for the web app (plotly): hover for the values, click a channel to hide it.

Only where interaction helps: the day's queues, waits and abandonment for
every channel at once are hard to read on a still image, and a planner
wants the number behind a point and to look at one channel at a time. The
data are :attr:`Result.hourly <simulator.experiment.Result.hourly>`, the
same the still :func:`simulator.plots.hourly_chart` draws, in the same
channel colours (:func:`simulator.plots.channel_colors`), by hour of the
scenario's period: of the day, or of the week from Monday 0:00 when the
scenario is weekly. Agent groups have their own figure
(:attr:`Result.hourly_groups <simulator.experiment.Result.hourly_groups>`).

Examples
--------
>>> import simulator as sim
>>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.1)
>>> fig = hourly_figure(res)
>>> sorted({trace.legendgroup for trace in fig.data})
['chat', 'email', 'phone']
"""

from __future__ import annotations

import numpy as np

from ..experiment import Result
from ..figures import SHARE_METRICS, hour_label
from ..plots import channel_colors
from ..report import format_stat

__all__ = ["hourly_figure", "hourly_groups_figure", "hour_labels", "figure_html", "HOURLY_PANELS",
           "GROUP_PANELS"]

#: The panels of :func:`hourly_figure`: metric and axis title.
HOURLY_PANELS = (("contacts", "contacts a day"), ("mean_wait_min", "mean wait (min)"),
                 ("abandon_rate", "abandoned (%)"), ("agents", "agents on duty"))
#: The panels of :func:`hourly_groups_figure`.
GROUP_PANELS = (("occupancy", "occupancy (%)"), ("slot_occupancy", "slot occupancy (%)"),
                ("agents", "agents on duty"))
def hour_labels(period: int) -> list[str]:
    """The x axis of an hourly figure: ``08:00`` for a day, ``Tue 08:00`` for a week.

    Examples
    --------
    >>> hour_labels(24)[8], hour_labels(168)[32], len(hour_labels(168))
    ('08:00', 'Tue 08:00', 168)
    """
    return [hour_label(h, period) for h in range(period)]


def _add_lines(fig, frame, metric: str, row: int, label: str, group: str, color: str, first: bool,
               hours, labels) -> None:
    """One line (mean by hour, the 95 % CI on hover) of a metric in a panel."""
    stats = frame.xs(metric, level="metric").reindex(hours)
    scale = 100.0 if metric in SHARE_METRICS else 1.0
    text = [format_stat(m, lo, hi, metric) for m, lo, hi in zip(stats["mean"], stats["ci_low"], stats["ci_high"])]
    fig.add_scatter(x=labels, y=stats["mean"].to_numpy(float) * scale, mode="lines+markers", name=label,
                    legendgroup=group, showlegend=first,
                    line={"color": color, "shape": "hv" if metric == "agents" else "linear"},
                    marker={"size": 4 if len(labels) > 24 else 6},
                    customdata=text, hovertemplate=f"{label} %{{x}}: %{{customdata}}<extra></extra>", row=row, col=1)


def _layout(fig, title: str, height: int, period: int) -> None:
    # the title on top, the legend under it, both above the first panel's own title
    fig.update_layout(height=height, margin={"l": 60, "r": 20, "t": 95, "b": 40}, hovermode="x unified",
                      legend={"orientation": "h", "x": 0, "yref": "container", "y": 1 - 38 / height,
                              "yanchor": "top"},
                      template="plotly_white",
                      title={"text": title, "font": {"size": 14}, "yref": "container", "y": 1 - 10 / height,
                             "yanchor": "top"})
    if period > 24:  # a tick a day (Monday 00:00, ...) so a week stays readable
        fig.update_xaxes(tickmode="array", tickvals=hour_labels(period)[::24], tickangle=0)


def hourly_figure(result: Result):
    """The staffed channels hour by hour: contacts, mean wait, abandonment and agents on duty,
    one line per channel (its legend entry hides or shows it in every panel), hover with the 95 % CI;
    over the week (hour of the week from Monday 0:00) when the scenario is weekly."""
    from plotly.subplots import make_subplots

    sc = result.scenario
    period = sc.period_hours
    names = [c.name for c in sc.channels if not c.unlimited]
    colors = channel_colors(sc.channel_names)
    fig = make_subplots(rows=len(HOURLY_PANELS), cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        subplot_titles=[title for _, title in HOURLY_PANELS])
    hours, labels = np.arange(period), hour_labels(period)
    for name in names:
        frame = result.hourly.loc[name]
        for row, (metric, _) in enumerate(HOURLY_PANELS, start=1):
            _add_lines(fig, frame, metric, row, sc.channel(name).display_name, name, colors[name], row == 1,
                       hours, labels)
    span = "day" if period == 24 else "week"
    _layout(fig, f"Over the {span}: {sc.name}, {result.replications} replication(s), seed {result.seed}", 760,
            period)
    return fig


def hourly_groups_figure(result: Result):
    """The agent groups hour by hour: occupancy, slot occupancy and agents on duty, one line per group.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.1)
    >>> sorted({trace.legendgroup for trace in hourly_groups_figure(res).data})
    ['back_office', 'digital', 'voice']
    """
    from plotly.subplots import make_subplots

    sc = result.scenario
    period = sc.period_hours
    palette = channel_colors([*sc.channel_names, *(g for g in sc.group_names if g not in sc.channel_names)])
    fig = make_subplots(rows=len(GROUP_PANELS), cols=1, shared_xaxes=True, vertical_spacing=0.06,
                        subplot_titles=[title for _, title in GROUP_PANELS])
    hours, labels = np.arange(period), hour_labels(period)
    for group in sc.groups:
        frame = result.hourly_groups.loc[group.name]
        for row, (metric, _) in enumerate(GROUP_PANELS, start=1):
            _add_lines(fig, frame, metric, row, group.display_name, group.name, palette[group.name], row == 1,
                       hours, labels)
    _layout(fig, f"Agent groups over the {'day' if period == 24 else 'week'}: {sc.name}", 600, period)
    return fig


def figure_html(fig, element_id: str) -> str:
    """A plotly figure as an HTML fragment for a page that loads plotly.js itself."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=element_id,
                       config={"displaylogo": False, "responsive": True})
