"""KPIs against a varied parameter, and tornado charts of which parameters move a KPI most."""

from __future__ import annotations

import math
from typing import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ..report import format_value
from ..scenario import Scenario
from ..style import SCENARIO_COLORS, SCENARIO_MARKERS, figure_label, is_share
from .canvas import (FONT, TEXT_GREY, chart, check_columns, displayed_interval, new_figure, percent_axis, set_title,
                     shorten, tidy_axes)

__all__ = ["sweep_chart", "sweep_axes", "sweep_charts", "tornado_chart"]



def _parameter_column(frame: pd.DataFrame, parameter: str | None, reserved: Iterable[str]) -> str:
    if parameter is not None:
        check_columns(frame, [parameter], "sweep_chart")
        return parameter
    candidates = [c for c in frame.columns if c not in set(reserved)]
    if len(candidates) != 1:
        raise ValueError("sweep_chart: pass parameter=COLUMN; the DataFrame has "
                         f"{len(candidates)} candidate columns ({', '.join(map(str, candidates))})")
    return candidates[0]


@chart
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
    check_columns(frame, ("kpi", "mean", "ci_low", "ci_high"), "sweep_chart")
    if hue is None and "scenario" in frame.columns:
        hue = "scenario"
    if hue is not None:
        check_columns(frame, [hue], "sweep_chart")
    reserved = {"kpi", "mean", "ci_low", "ci_high", "n", "scenario", "diff", "diff_low", "diff_high",
                "significant", "table", "channel", "metric", "replications", "point", "point_id",
                "precision_met", hue}
    parameter = _parameter_column(frame, parameter, reserved)
    kpis = list(kpis or dict.fromkeys(frame["kpi"]))
    groups = list(dict.fromkeys(frame[hue])) if hue is not None else [None]
    n_cols = 2 if len(kpis) == 4 else min(len(kpis), 3)
    n_rows = math.ceil(len(kpis) / n_cols)
    fig = new_figure((max(12.0, 4.2 * n_cols), max(6.0, 1.2 + 3.6 * n_rows)),
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
            marker = SCENARIO_MARKERS[(g + 1) % len(SCENARIO_MARKERS)]
            low, high = displayed_interval(rows, is_share(kpi))
            ax.fill_between(x, low, high, color=color, alpha=0.2, linewidth=0)
            label = None if group is None else (str(group) if hue == "scenario"
                                                else f"{_field_label(hue)} = {_format_parameter(group)}")
            ax.plot(x, rows["mean"].to_numpy(float), color=color, linewidth=2.4, marker=marker, markersize=6,
                    label=label)
        if reference and kpi in reference:
            _reference_line(ax, frame[frame["kpi"] == kpi].sort_values(parameter), parameter, reference[kpi],
                            format_value(reference[kpi], "share" if is_share(kpi) else kpi))
        kpi_title, unit = figure_label(kpi)
        ax.set_title(shorten(kpi_title, int(fig.get_figwidth() / n_cols * 7.5)), fontsize=FONT)
        ax.set_ylabel(unit)
        if is_share(kpi):
            percent_axis(ax.yaxis)
        ax.set_xlabel(_field_label(parameter, unit=True))
        ax.yaxis.set_major_locator(MaxNLocator(5))
        tidy_axes(ax, grid="both")
        if groups != [None] and i == 0:
            ax.legend()
    for ax in grid.flat[len(kpis):]:
        ax.set_visible(False)
    set_title(fig, title or f"Sensitivity to {_field_label(parameter)}")
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


@chart
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
    check_columns(data, ("field", "direction", "value", "kpi", "base_mean", "diff", "diff_low", "diff_high"),
                  "tornado_chart")
    kpi = data["kpi"].iloc[0]
    base_mean = float(data["base_mean"].iloc[0])
    wide = data.pivot(index="field", columns="direction")
    swing = (wide[("diff", "high")] - wide[("diff", "low")]).abs()
    order = list(swing.sort_values(ascending=False).index[: top or None])
    share = is_share(kpi)
    kpi_title, unit = figure_label(kpi)
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
    fig = new_figure((12.0, max(5.0, 2.0 + 0.62 * n)), footnote)
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    labels = []
    colors = {"low": "#B9C4D2", "high": "#3D5573"}  # slates: directions, never taken for channels
    edges = {"low": "#8796AA", "high": "#3D5573"}  # a hollow light bar still stands out
    drawn = []  # displayed whisker ends, for the x limits
    for yi, field in zip(y, order):
        row = wide.loc[field]
        for direction, offset in (("low", 0.17), ("high", -0.17)):
            d, lo, hi = (row[(c, direction)] for c in ("diff", "diff_low", "diff_high"))
            significant = np.isfinite(lo) and (lo > 0 or hi < 0)
            ax.barh(yi + offset, d, left=base_mean, height=0.32, zorder=2, linewidth=1.6,
                    color=colors[direction] if significant else "white", edgecolor=edges[direction])
            if np.isfinite(lo):
                low, high = displayed_interval({"ci_low": base_mean + lo, "ci_high": base_mean + hi}, share)
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
        percent_axis(ax.xaxis)
    lo_all, hi_all = np.nanmin([*drawn, base_mean]), np.nanmax([*drawn, base_mean])
    span = max(hi_all - lo_all, 1e-9)
    left, right = lo_all - 0.08 * span, hi_all + 0.08 * span
    # Room around the bars, but no tick at an impossible value (below 0, above 100 %).
    left = -0.02 * span if left < 0 <= lo_all else left
    right = 1 + 0.02 * span if share and right > 1 >= hi_all else right
    ax.set_xlim(left, right)
    ax.xaxis.set_major_locator(MaxNLocator(6))
    tidy_axes(ax, grid="x")
    ax.tick_params(axis="y", length=0)
    handles = [Patch(facecolor=colors["low"], edgecolor=edges["low"], label="field lowered"),
               Patch(facecolor=colors["high"], edgecolor=edges["high"], label="field raised"),
               Patch(facecolor="white", edgecolor="#555555", linewidth=1.6, label="CI includes 0")]
    ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=3, borderaxespad=0.2)
    ax.annotate("lowered / base / raised value", (0, 1.0), xycoords="axes fraction", xytext=(-10, 6),
                textcoords="offset points", ha="right", va="bottom", fontsize=FONT - 2, color=TEXT_GREY)
    base_text = format_value(base_mean, "share" if share else kpi)
    subject = kpi_title.replace(": ", " ")  # "phone: service level" reads "phone service level" here
    set_title(fig, f"What moves the {subject[0].lower() + subject[1:]}? (base {base_text})")
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
