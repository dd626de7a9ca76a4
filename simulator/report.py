"""Plain-text tables of a result, as the command line prints them.

Functions here only format: they read a :class:`~simulator.experiment.Result`
and return strings. Shares are shown as percentages, everything with its 95 %
confidence interval.
"""

from __future__ import annotations

import math

import pandas as pd

from .experiment import Result

__all__ = ["SHARE_METRICS", "is_share", "format_value", "format_stat", "result_text", "groups_text", "table_text"]

#: Metrics that are shares (printed as percentages).
SHARE_METRICS = frozenset({
    "resolution_rate", "give_up_rate", "first_contact_resolution", "multichannel_share",
    "caller_share", "avoidable_call_share", "callers_continue_share",
    "abandon_rate", "fcr", "p_wait", "service_level", "occupancy", "share",
    "slot_occupancy", "callbacks_within_promise",
})



def is_share(metric: str) -> bool:
    """Whether a metric is a share: one of :data:`SHARE_METRICS`, or a group's ``skill_share.CHANNEL``.

    Examples
    --------
    >>> is_share("service_level"), is_share("skill_share.chat"), is_share("contacts")
    (True, True, False)
    """
    return metric in SHARE_METRICS or metric.startswith("skill_share.")


#: Channel metrics shown in the text table (all are in the JSON and CSV).
CHANNEL_COLUMNS = ("contacts", "abandon_rate", "fcr", "mean_wait_min", "service_level",
                   "occupancy", "wasted_contacts", "cost")


def format_value(value: float, metric: str) -> str:
    """A number as a reader wants it: percentages for shares, grouped thousands for counts."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if is_share(metric):
        return f"{100 * value:.1f} %"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.3g}" if value else "0"


def format_stat(mean: float, low: float, high: float, metric: str) -> str:
    """``mean [low, high]`` in the metric's format (the interval omitted when undefined)."""
    text = format_value(mean, metric)
    if low is None or math.isnan(low) or low == high:
        return text
    if is_share(metric):
        return f"{text} [{100 * low:.1f}, {100 * high:.1f}]"
    return f"{text} [{format_value(low, metric)}, {format_value(high, metric)}]"


#: What the ``*`` after a paired difference means, wherever differences are shown.
SIGNIFICANT_NOTE = "* the 95 % CI of the difference excludes 0 (paired on common random numbers)"


def format_difference(value: float, metric: str) -> str:
    """A difference with its sign: percentage points for shares, the metric's format otherwise.

    Examples
    --------
    >>> format_difference(-0.0062, "give_up_rate"), format_difference(1302.4, "contacts")
    ('-0.6 pp', '+1,302')
    """
    if value is None or math.isnan(value):
        return "–"
    if is_share(metric):
        return f"{100 * value:+.1f} pp"
    return ("+" if value > 0 else "") + format_value(value, metric)


def difference_cell(row) -> str:
    """``diff [low, high] *`` of a paired comparison row (``diff, diff_low, diff_high, significant, metric``)."""
    if math.isnan(row["diff"]):
        return "–"
    text = format_difference(row["diff"], row["metric"])
    if not math.isnan(row["diff_low"]) and row["diff_low"] != row["diff_high"]:
        bounds = ", ".join(format_difference(row[k], row["metric"]).replace(" pp", "")
                           for k in ("diff_low", "diff_high"))
        text += f" [{bounds}]"
    return text + (" *" if row["significant"] else "")


def table_text(rows: list[list[str]], header: list[str], right: set[int] | None = None) -> str:
    """Align rows of strings under a header; columns in ``right`` are right-aligned."""
    right = right if right is not None else set(range(1, len(header)))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(r):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()

    rule = "  ".join("─" * w for w in widths)
    return "\n".join([line(header), rule, *(line(r) for r in rows)])


def _stat_cell(frame: pd.DataFrame, key, metric: str) -> str:
    row = frame.loc[key]
    return format_stat(row["mean"], row["ci_low"], row["ci_high"], metric)


def result_text(result: Result) -> str:
    """The KPI, channel and before/after-the-call tables of a result, with CIs.

    Where the scenario carries published reference figures (``[reference]``),
    they are shown beside the simulated ones with a mark when the published
    figure lies inside the confidence interval.
    """
    sc = result.scenario
    reference = sc.reference
    parts = [f"{sc.name}: {result.replications} replication(s) of {sc.run.days:g} day(s), "
             f"seed {result.seed}; mean [95 % CI]"]

    def ref_cells(key: str, metric: str) -> list[str]:
        if not reference:
            return []
        if key not in reference:
            return ["", ""]
        stat = result.stat(key)
        inside = stat["ci_low"] <= reference[key] <= stat["ci_high"]
        return [format_value(reference[key], metric), "✓" if inside else "✗"]

    ref_header = ["published", "in CI"] if reference else []
    kpis = result.kpis
    rows = [[k, _stat_cell(kpis, k, k), *ref_cells(k, k)] for k in kpis.index]
    parts.append("\n" + table_text(rows, ["KPI", "simulated", *ref_header]))

    ch = result.channels
    rows = [[name, *(_stat_cell(ch, (name, m), m).split(" [")[0] for m in CHANNEL_COLUMNS)]
            for name in sc.channel_names]
    parts.append("\nPer channel (means; CIs in --json and --out)\n"
                 + table_text(rows, ["channel", *CHANNEL_COLUMNS]))

    if sc.has_groups or any(c.concurrency > 1 for c in sc.channels):
        parts.append("\n" + groups_text(result))
    callback_channels = [c.name for c in sc.channels if c.callback is not None]
    if callback_channels:
        metrics = ("callbacks_offered", "callbacks_accepted", "callbacks_within_promise", "mean_callback_wait_min")
        rows = [[name, *(_stat_cell(ch, (name, m), m).split(" [")[0] for m in metrics)]
                for name in callback_channels]
        parts.append("\nCall backs (means)\n" + table_text(rows, ["channel", "offered", "accepted",
                                                                    "within promise", "mean wait (min)"]))

    for table, frame in (("before_call", result.before_call), ("after_call", result.after_call)):
        title = ("Before the call: callers who used each channel before their first "
                 f"{sc.focal_channel} contact" if table == "before_call" else
                 f"After the call: callers' next step after their first {sc.focal_channel} contact")
        rows = [[k, _stat_cell(frame, k, "share"), *ref_cells(f"{table}.{k}", "share")]
                for k in frame.index]
        parts.append(f"\n{title}\n" + table_text(rows, ["", "share", *ref_header]))
    if reference and sc.reference_source:
        parts.append(f"\npublished: {sc.reference_source}")
    return "\n".join(parts)


def groups_text(result: Result) -> str:
    """The agent-group table: agents on duty, occupancy (of agents, and of chat
    slots where agents hold several contacts), cost, and how each group's busy
    time was shared among its skills."""
    sc = result.scenario
    groups = result.groups
    rows = []
    for spec in sc.groups:
        cell = lambda m, f=None: _stat_cell(groups, (spec.name, m), f or m).split(" [")[0]  # noqa: E731
        shares = ", ".join(f"{c} {cell(f'skill_share.{c}', 'share')}" for c in spec.skills)
        rows.append([spec.name, cell("agents"), cell("occupancy"), cell("slot_occupancy"), cell("cost"), shares])
    return "Agent groups (means)\n" + table_text(
        rows, ["group", "agents", "occupancy", "slot occupancy", "cost", "busy time by skill"], right={1, 2, 3, 4})
