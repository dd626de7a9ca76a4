"""Interactive charts for the web app (plotly): hover for the values, click a channel to hide it.

Only where interaction helps: the day's queues, waits and abandonment for
every channel at once are hard to read on a still image, and a planner
wants the number behind a point and to look at one channel at a time. The
data are :attr:`Result.hourly <simulator.experiment.Result.hourly>`, the
same the still :func:`simulator.plots.hourly_chart` draws, in the same
channel colours (:func:`simulator.plots.channel_colors`).

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
from ..plots import channel_colors
from ..report import SHARE_METRICS, format_stat

__all__ = ["hourly_figure", "figure_html", "HOURLY_PANELS"]

#: The panels of :func:`hourly_figure`: metric and axis title.
HOURLY_PANELS = (("contacts", "contacts a day"), ("mean_wait_min", "mean wait (min)"),
                 ("abandon_rate", "abandoned (%)"), ("agents", "agents on duty"))


def hourly_figure(result: Result):
    """The staffed channels hour by hour: contacts, mean wait, abandonment and agents on duty,
    one line per channel (its legend entry hides or shows it in every panel), hover with the 95 % CI."""
    from plotly.subplots import make_subplots

    sc = result.scenario
    names = [c.name for c in sc.channels if not c.unlimited]
    colors = channel_colors(sc.channel_names)
    fig = make_subplots(rows=len(HOURLY_PANELS), cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        subplot_titles=[title for _, title in HOURLY_PANELS])
    hourly = result.hourly
    hours = np.arange(24)
    for name in names:
        label = sc.channel(name).display_name
        frame = hourly.loc[name]
        for row, (metric, _) in enumerate(HOURLY_PANELS, start=1):
            stats = frame.xs(metric, level="metric").reindex(hours)
            share = metric in SHARE_METRICS
            scale = 100.0 if share else 1.0
            text = [format_stat(m, lo, hi, metric) for m, lo, hi in
                    zip(stats["mean"], stats["ci_low"], stats["ci_high"])]
            fig.add_scatter(x=[f"{h:02d}:00" for h in hours], y=stats["mean"].to_numpy(float) * scale,
                            mode="lines+markers", name=label, legendgroup=name, showlegend=row == 1,
                            line={"color": colors[name], "shape": "hv" if metric == "agents" else "linear"},
                            customdata=text, hovertemplate=f"{label} %{{x}}: %{{customdata}}<extra></extra>",
                            row=row, col=1)
    fig.update_layout(height=760, margin={"l": 60, "r": 20, "t": 40, "b": 40}, hovermode="x unified",
                      legend={"orientation": "h", "y": 1.06}, template="plotly_white",
                      title={"text": f"Over the day: {sc.name}, {result.replications} replication(s), "
                                     f"seed {result.seed}", "font": {"size": 14}})
    return fig


def figure_html(fig, element_id: str) -> str:
    """A plotly figure as an HTML fragment for a page that loads plotly.js itself."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=element_id,
                       config={"displaylogo": False, "responsive": True})
