"""Charts of results, ready for slides and papers (matplotlib).

Every chart function takes a :class:`~simulator.experiment.Result` (or a tidy
DataFrame) and returns a :class:`matplotlib.figure.Figure`. Figures are built
without pyplot, so library code never opens a window or keeps figures alive;
in a notebook run ``%matplotlib inline`` and the returned figure is shown.

All charts share one look (:mod:`simulator.style`, and the slide of
:mod:`simulator.plots.canvas`): a bold title, axis labels
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
:func:`tornado_chart`      which parameters move a KPI most (data from
                           :func:`simulator.sensitivity.tornado_data`)
:func:`wait_distribution`  how long contacts wait, per channel
=========================  ===================================================

:func:`result_charts` makes every chart that applies to one result and
:func:`save_charts` writes figures as PNG and SVG (atomically).

One module per kind of chart: :mod:`~simulator.plots.flow`,
:mod:`~simulator.plots.network`, :mod:`~simulator.plots.before_after`,
:mod:`~simulator.plots.comparison`, :mod:`~simulator.plots.hourly`,
:mod:`~simulator.plots.sweep`, :mod:`~simulator.plots.waits` and
:mod:`~simulator.plots.export`; every public name is imported here, so
``from simulator.plots import flow_diagram`` works.

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

from ..sensitivity import tornado_data, tornado_fields
from ..style import KPI_LABELS, channel_colors, figure_label
from .before_after import before_after_chart, reference_chart
from .comparison import (DEFAULT_CHANNEL_METRICS, DEFAULT_COMPARISON_KPIS, channel_comparison, comparison_chart,
                         kpi_comparison, kpi_frame)
from .export import result_charts, save_charts
from .flow import flow_comparison, flow_diagram, journey_flows, journey_states
from .hourly import hourly_chart, hourly_charts
from .network import channel_graph, flow_matrix, flow_table
from .sweep import sweep_axes, sweep_chart, sweep_charts, tornado_chart
from .waits import wait_distribution

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
    "DEFAULT_COMPARISON_KPIS",
    "DEFAULT_CHANNEL_METRICS",
]
