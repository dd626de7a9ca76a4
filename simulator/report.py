"""Plain-text tables of a result, as the command line prints them.

Functions here only format: they read a :class:`~simulator.experiment.Result`
and return strings. Shares are shown as percentages, everything with its 95 %
confidence interval.
"""

from __future__ import annotations

import math

import pandas as pd

from .experiment import Result

__all__ = ["SHARE_METRICS", "format_value", "format_stat", "format_difference", "difference_cell",
           "day_difference_text", "headline_figures", "result_text", "table_text", "warmup_text"]

#: Metrics that are shares (printed as percentages).
SHARE_METRICS = frozenset({
    "resolution_rate", "give_up_rate", "first_contact_resolution", "multichannel_share",
    "caller_share", "avoidable_call_share", "callers_continue_share",
    "abandon_rate", "fcr", "p_wait", "service_level", "occupancy", "share",
    "slot_occupancy", "callbacks_within_promise",
})

#: Channel metrics shown in the text table (all are in the JSON and CSV).
CHANNEL_COLUMNS = ("contacts", "abandon_rate", "fcr", "mean_wait_min", "service_level",
                   "occupancy", "wasted_contacts", "cost")


def format_value(value: float, metric: str) -> str:
    """A number as a reader wants it: percentages for shares, grouped thousands for counts."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if metric in SHARE_METRICS:
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
    if metric in SHARE_METRICS:
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
    if metric in SHARE_METRICS:
        return f"{100 * value:+.1f} pp"
    return ("+" if value > 0 else "") + format_value(value, metric)


#: What a count figure counts, for differences per day ("−956 calls a day"); none for costs.
COUNT_UNITS = {
    "customers": "customers", "contacts": "contacts", "focal_contacts": "calls",
    "avoidable_calls": "avoidable calls", "closed": "closed contacts", "served": "contacts served",
    "abandoned": "abandoned contacts", "resolved": "contacts resolved", "agent_hours": "agent hours",
    "wasted_contacts": "wasted answers",
}


def day_difference_text(row) -> str:
    """A paired difference as a planner says it, from a row of :func:`simulator.compare.per_day`.

    Totals read per day with what they count, shares in percentage points,
    other figures in their own format; the 95 % interval in brackets, with
    true minus signs.

    Examples
    --------
    >>> day_difference_text({"metric": "focal_contacts", "per_day": True,
    ...                      "diff": -956.2, "diff_low": -981.7, "diff_high": -931.4})
    '−956 calls a day [−982, −931]'
    >>> day_difference_text({"metric": "give_up_rate", "per_day": False,
    ...                      "diff": -0.0062, "diff_low": -0.007, "diff_high": -0.0054})
    '−0.6 pp [−0.7, −0.5]'
    """
    metric = row["metric"]
    if row["diff"] is None or math.isnan(row["diff"]):
        return "–"
    per_day = bool(row.get("per_day", False))

    def signed(value: float) -> str:
        if per_day and abs(value) >= 100:  # whole calls, agents, currency units a day
            return f"{value:+,.0f}"
        return format_difference(value, metric).replace(" pp", "")

    text = format_difference(row["diff"], metric) if not per_day else signed(row["diff"])
    if per_day:
        unit = COUNT_UNITS.get(metric)
        text = f"{text} {unit} a day" if unit else f"{text} a day"
    low, high = row["diff_low"], row["diff_high"]
    if low is not None and not math.isnan(low) and low != high:
        text += f" [{signed(low)}, {signed(high)}]"
    return text.replace("-", "−")


def headline_figures(scenario) -> list[str]:
    """The figures ``sweep`` prints, ``compare`` and ``sweep`` draw and the web app shows first.

    Examples
    --------
    >>> import simulator as sim
    >>> headline_figures(sim.load_scenario("nice_bcg_2016"))[2]
    'channels.phone.service_level'
    """
    return ["give_up_rate", "avoidable_call_share", f"channels.{scenario.focal_channel}.service_level",
            "cost_per_customer"]


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


def warmup_text(warmup: dict) -> str:
    """One line: the warm-up used and why (see :attr:`~simulator.experiment.Result.warmup`).

    Examples
    --------
    >>> warmup_text({"hours": 6.0, "derived": False, "reason": "given in run.warmup_hours",
    ...              "suggested_hours": 3.5, "warning": None})
    'warm-up: 6 h, given in run.warmup_hours (3.5 h would do)'
    """
    text = f"warm-up: {warmup['hours']:g} h, "
    if warmup["derived"]:
        return text + f"derived: {warmup['reason']}"
    text += warmup["reason"]
    if warmup["warning"]:
        return text + f" — shorter than the {warmup['suggested_hours']:g} h this scenario needs (see the warning)"
    if warmup["suggested_hours"] is not None:
        text += f" ({warmup['suggested_hours']:g} h would do)"
    return text


def result_text(result: Result) -> str:
    """The KPI, channel and before/after-the-call tables of a result, with CIs.

    Where the scenario carries published reference figures (``[reference]``),
    they are shown beside the simulated ones with a mark when the published
    figure lies inside the confidence interval.
    """
    sc = result.scenario
    reference = sc.reference
    parts = [f"{sc.name}: {result.replications} replication(s) of {sc.run.days:g} day(s), "
             f"seed {result.seed}; mean [95 % CI]", warmup_text(result.warmup)]

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
