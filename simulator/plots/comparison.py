"""Scenarios side by side: KPIs with their paired differences, and channel figures."""

from __future__ import annotations

import itertools
import math
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..compare import comparison_table
from ..experiment import Result
from ..figures import SHARE_METRICS
from ..report import format_value, headline_figures
from ..scenario import Scenario
from ..style import (CHANNEL_METRIC_LABELS, SCENARIO_COLORS, channel_name, figure_label, format_number, format_share,
                     format_signed, is_share, wrap_text)
from .canvas import (FONT, SLIDE, TEXT, TEXT_GREY, chart, check_columns, displayed_interval, legend_columns, new_figure,
                     percent_axis, run_footnote, set_title, shorten, thousands_axis, tidy_axes)

__all__ = ["DEFAULT_COMPARISON_KPIS", "DEFAULT_CHANNEL_METRICS", "kpi_frame", "kpi_comparison", "comparison_chart",
           "channel_comparison"]



#: Scenario comparisons show these KPIs by default.
DEFAULT_COMPARISON_KPIS = ("give_up_rate", "avoidable_call_share", "contacts_per_customer",
                           "cost_per_customer")

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
    ...         "more chat": sim.run(sc.with_changes({"groups.digital.shrinkage": 0.1}), replications=2, days=0.05)}
    >>> frame = kpi_frame(runs, ["give_up_rate"], base="base")
    >>> list(frame.columns)
    ['scenario', 'kpi', 'mean', 'ci_low', 'ci_high', 'diff', 'diff_low', 'diff_high']
    """
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
        footnote = run_footnote(footnote_result, "Bars: mean; whiskers: 95 % CI. Below: difference "
                                                 "against the base, paired by replication (same seed), with its "
                                                 "95 % CI; a filled dot means the CI excludes zero.")
    else:
        frame = data
        check_columns(frame, _COMPARISON_COLUMNS, "kpi_comparison")
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
    fig = new_figure((max(13.33, 3.0 * n_cols + 2.8), max(height, 7.5)), footnote)
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
        low, high = displayed_interval(rows, share)
        err = np.vstack([np.nan_to_num(mean - low), np.nan_to_num(high - mean)])
        ax.barh(y, mean, height=0.62, color=[colors[s] for s in scenarios], zorder=2)
        ax.errorbar(mean, y, xerr=err, fmt="none", ecolor=TEXT, elinewidth=1.3, capsize=4, zorder=3)
        for yi, m in zip(y, mean):
            if np.isfinite(m):
                ax.annotate(format_share(m) if share else format_number(m), (m, yi), xytext=(4, 5),
                            textcoords="offset points", fontsize=FONT - 3, color="#222222", va="bottom")
        ax.set_title(shorten(kpi_title), fontsize=FONT)
        ax.set_xlabel(unit)
        if share:
            percent_axis(ax.xaxis)
        ax.xaxis.set_major_locator(MaxNLocator(4))
        right = np.nanmax(high.tolist() + mean.tolist() + [0]) * 1.25 or 1
        ax.set_xlim(0, min(right, 1.15) if share else right)  # room for the labels, no 120 % tick
        ax.set_yticks(y, names if col == 0 else [""] * len(y))
        tidy_axes(ax, grid="x")
        ax.tick_params(axis="y", length=0)
        if has_diff:
            dax = grid[block * 2 + 1, col]
            _difference_panel(dax, rows, scenarios, y, colors, share, unit, base_name)
            dax.set_yticks(y, names if col == 0 else [""] * len(y))
    for i in range(len(kpis), (n_rows // (2 if has_diff else 1)) * n_cols):
        block, col = divmod(i, n_cols)
        for r in range(2 if has_diff else 1):
            grid[block * (2 if has_diff else 1) + r, col].set_visible(False)
    set_title(fig, title or "Scenarios compared" + (f" (differences against {base_name})" if base_name else ""))
    return fig


def comparison_chart(table: pd.DataFrame, base: Scenario) -> Figure:
    """The headline figures (:func:`simulator.report.headline_figures`) of a
    :func:`simulator.compare.compare` table side by side, with their paired differences."""
    present = set(table["kpi"])
    return kpi_comparison(table, kpis=[k for k in headline_figures(base) if k in present], scenario=base)


def _signed(value: float) -> str:
    """A difference with its sign and enough significant digits (``−0.0041``, ``+1,302``)."""
    return format_signed(format_value(abs(value), ""), value)


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
    tidy_axes(ax, grid="x")
    ax.tick_params(axis="y", length=0)


#: Channel figures compared by :func:`channel_comparison` by default.
DEFAULT_CHANNEL_METRICS = ("service_level", "abandon_rate", "mean_wait_min")


@chart
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
    ...         "more chat agents": sim.run(sc.with_changes({"groups.digital.shrinkage": 0.1}), replications=2, days=0.05)}
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
    fig = new_figure(SLIDE, run_footnote(first, note))
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
            low, high = (v * scale for v in displayed_interval(rows, share))
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
            percent_axis(ax.xaxis)
        else:
            thousands_axis(ax.xaxis)
            ax.xaxis.set_major_locator(MaxNLocator(3))
        title_text = {"service_level": "Service level", "abandon_rate": "Abandonment",
                      "mean_wait_min": "Mean wait"}.get(metric, CHANNEL_METRIC_LABELS.get(metric, metric).capitalize())
        ax.set_title(title_text, loc="left")
        ax.set_xlabel({"service_level": "answered within the target", "abandon_rate": "of contacts offered",
                       "mean_wait_min": "seconds"}.get(metric, ""), fontsize=FONT - 2)
        tidy_axes(ax, grid="x")
        ax.tick_params(axis="y", length=0, labelleft=m == 0)
    axes[0].set_yticks(y, [wrap_text(channel_name(sc, n), 150, fontsize, max_lines=2) for n in names],
                       fontsize=fontsize)
    axes[0].set_ylim(-0.6, len(names) - 0.4)
    # The scenarios' key in a row of its own under the panels, as wide as the figure allows.
    key = fig.add_subplot(grid[1, :])
    key.axis("off")
    handles = [Patch(facecolor=colors[label], label=label) for label in labels]
    ncol = legend_columns(labels, fig.get_figwidth() * 72 - 40, FONT - 1)
    key.legend(handles=handles, loc="upper center", ncol=ncol, frameon=False, handlelength=1.2,
               columnspacing=1.4, fontsize=FONT - 1)
    set_title(fig, title or "Channels compared: service level, abandonment and waits")
    return fig
