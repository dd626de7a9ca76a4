"""Plain-text tables of a result, as the command line prints them.

Functions here only format: they read a :class:`~simulator.experiment.Result`
and return strings. Shares are shown as percentages, everything with its 95 %
confidence interval.
"""

from __future__ import annotations

import math
import textwrap
from typing import TYPE_CHECKING

import pandas as pd

from .experiment import Result
from .figures import SHARE_METRICS, format_stat, format_value, hour_label, is_share  # noqa: F401  (some imported from here)
from .metrics import INTERVAL_METHOD

if TYPE_CHECKING:
    from .scenario import Scenario
    from .staffing import StaffingPlan

__all__ = ["SHARE_METRICS", "is_share", "format_value", "format_stat", "format_difference", "difference_cell",
           "day_difference_text", "headline_figures", "reference_mark", "result_text", "table_text", "groups_text",
           "shows_groups", "group_rows", "callback_rows", "GROUP_HEADER", "CALLBACK_HEADER", "warmup_text",
           "staffing_text"]


#: KPIs about calls to a closed centre: left out of text tables when the focal channel is always open.
CLOSED_KPIS = ("focal_closed", "avoidable_closed")
#: Channel metrics shown in the text table (all are in the JSON and CSV).
CHANNEL_COLUMNS = ("contacts", "abandon_rate", "fcr", "mean_wait_min", "service_level",
                   "occupancy", "wasted_contacts", "cost")


#: What the ``*`` after a paired difference means, wherever differences are shown.
SIGNIFICANT_NOTE = "* the 95 % CI of the difference excludes 0 (paired on common random numbers)"
#: How the intervals of a comparison are made.
COMPARISON_METHOD = (f"{INTERVAL_METHOD}; a difference's: the same across the paired differences, "
                     "replication by replication")


def format_difference(value: float, metric: str) -> str:
    """A difference with its sign: percentage points for shares, the metric's format otherwise.

    A small difference keeps the decimals that tell it from 0 (up to 4), so
    a difference whose interval excludes 0 never reads as ``−0.0 pp``. The
    minus sign is a true one (U+2212), as in every difference shown.

    Examples
    --------
    >>> format_difference(-0.0062, "give_up_rate"), format_difference(1302.4, "contacts")
    ('−0.6 pp', '+1,302')
    >>> format_difference(-0.0004, "give_up_rate")
    '−0.04 pp'
    """
    if value is None or math.isnan(value):
        return "–"
    if is_share(metric):
        points = 100 * value
        decimals = 1
        while decimals < 4 and points and round(points, decimals) == 0:
            decimals += 1
        return f"{points:+.{decimals}f} pp".replace("-", "\u2212")
    return (("+" if value > 0 else "") + format_value(value, metric)).replace("-", "\u2212")


#: What a count figure counts, for differences per day ("−956 calls a day"); none for costs.
COUNT_UNITS = {
    "customers": "customers", "contacts": "contacts", "focal_contacts": "calls",
    "avoidable_calls": "avoidable calls", "closed": "closed contacts", "served": "contacts served",
    "abandoned": "abandoned contacts", "resolved": "contacts resolved", "agent_hours": "agent hours",
    "wasted_contacts": "wasted answers", "focal_closed": "calls to the closed centre",
    "avoidable_closed": "avoidable calls to the closed centre",
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
    if low is not None and not math.isnan(low) and signed(low) != signed(high):  # a fixed input has none
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
    diff, low, high = row["diff"], row["diff_low"], row["diff_high"]
    if math.isnan(diff):
        return "–"
    text = format_difference(diff, row["metric"])
    if not math.isnan(low):
        bounds = [format_difference(x, row["metric"]).replace(" pp", "") for x in (low, high)]
        if bounds[0] != bounds[1]:  # a fixed input's difference has no interval to show
            text += f" [{', '.join(bounds)}]"
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


#: How a published figure is marked when its simulated figure has no interval, and why.
NO_INTERVAL = "n/a — one replication"
NO_INTERVAL_NOTE = ("n/a: one replication has no confidence interval; an interval needs at least 2 replications "
                    "(-r 2 or more; about 10 for a useful one)")


def reference_mark(result: Result, key: str, marks: tuple[str, str] = ("✓", "✗")) -> str:
    """Whether the published figure ``key`` lies in the simulated CI: ``marks[0]``, ``marks[1]``, or
    :data:`NO_INTERVAL` when there is no interval."""
    inside = result.inside(key, result.scenario.reference[key])
    if inside is None:
        return NO_INTERVAL if result.replications == 1 else "n/a — no interval"
    return marks[0] if inside else marks[1]
def empty_table_note(result: Result, table: str) -> str | None:
    """Why the ``before_call`` or ``after_call`` table of a result has nothing to show, or None.

    The before-the-call table has no row when the focal channel is the only
    channel; both tables are undefined (NaN) when no customer contacted the
    focal channel in the measured window.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> empty_table_note(sim.run(sc, replications=2, days=0.05), "before_call") is None
    True
    >>> phone_only = sim.load_scenario("bank_app_first").with_changes({
    ...     "channels.app": None, "channels.web": None, "channels.messages": None, "channels.chat": None,
    ...     "arrivals.first_channel": {"phone": 1.0}, "channels.phone.next_after_abandon": None,
    ...     "channels.phone.next": {"phone": 0.5, "give_up": 0.5}})
    >>> empty_table_note(sim.run(phone_only, replications=2, days=0.05), "before_call")
    'phone is the only channel'
    """
    frame = getattr(result, table)
    focal = result.scenario.focal_channel
    if frame.empty:
        return f"{focal} is the only channel"
    if frame["mean"].isna().all():
        return f"no customer contacted {focal} in the measured window"
    return None


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
    info = result.run_info
    parts = [f"{sc.name}: {info.text()}; mean [95 % CI]", warmup_text(result.warmup)]

    def ref_cells(key: str, metric: str) -> list[str]:
        if not reference:
            return []
        if key not in reference:
            return ["", ""]
        return [format_value(reference[key], metric), reference_mark(result, key)]

    ref_header = ["published", "in CI"] if reference else []
    kpis = result.kpis
    # totals over a window other than one day are also given per day (planners count "calls a day")
    per_day = result.per_day if info.days != 1 else None
    day_header = ["a day"] if per_day is not None else []

    def day_cells(key: tuple, metric: str) -> list[str]:
        if per_day is None:
            return []
        if key not in per_day.index:
            return [""]
        return [format_stat(*per_day.loc[key, ["mean", "ci_low", "ci_high"]], metric)]

    shown = [k for k in kpis.index if k not in CLOSED_KPIS or sc.channel(sc.focal_channel).open_hours is not None]
    rows = [[k, _stat_cell(kpis, k, k), *day_cells(("kpis", "", k), k), *ref_cells(k, k)] for k in shown]
    parts.append("\n" + table_text(rows, ["KPI", "simulated", *day_header, *ref_header]))

    ch = result.channels
    columns = [c for m in CHANNEL_COLUMNS for c in ((m, f"{m} a day") if per_day is not None and m == "contacts"
                                                    else (m,))]
    rows = [[name, *(format_value((per_day.loc[("channels", name, "contacts"), "mean"] if m.endswith(" a day")
                                   else ch.loc[(name, m), "mean"]), m.split()[0]) for m in columns)]
            for name in sc.channel_names]
    totals = f"totals over {info.days:g} day(s); " if per_day is not None else ""
    parts.append(f"\nPer channel (means; {totals}CIs in --json and --out)\n"
                 + table_text(rows, ["channel", *columns]))

    if shows_groups(sc):
        parts.append("\n" + groups_text(result))
    if any(c.callback is not None for c in sc.channels):
        parts.append("\nCall backs (means)\n" + table_text(callback_rows(result), CALLBACK_HEADER))

    for table, frame in (("before_call", result.before_call), ("after_call", result.after_call)):
        title = ("Before the call: callers who used each channel before their first "
                 f"{sc.focal_channel} contact" if table == "before_call" else
                 f"After the call: callers' next step after their first {sc.focal_channel} contact")
        note = empty_table_note(result, table)
        if frame.empty:
            parts.append(f"\n{title}\nnone: {note}")
            continue
        rows = [[k, _stat_cell(frame, k, "share"), *ref_cells(f"{table}.{k}", "share")]
                for k in frame.index]
        parts.append(f"\n{title}\n" + table_text(rows, ["", "share", *ref_header])
                     + (f"\n(undefined: {note})" if note else ""))
    if reference and sc.reference_source:
        parts.append(f"\npublished: {sc.reference_source}")
    parts.append(f"\n{INTERVAL_METHOD}")
    if reference and result.replications == 1:
        parts.append(NO_INTERVAL_NOTE)
    return "\n".join(parts)


#: The agent-group table: the figures of ``Result.groups`` it shows, then the busy time by skill.
GROUP_COLUMNS = ("agents", "occupancy", "slot_occupancy", "cost")
GROUP_HEADER = ["group", "agents", "occupancy", "slot occupancy", "cost", "busy time by skill"]
#: The call-back table: the channel figures it shows.
CALLBACK_COLUMNS = ("callbacks_offered", "callbacks_accepted", "callbacks_within_promise", "mean_callback_wait_min")
CALLBACK_HEADER = ["channel", "offered", "accepted", "within promise", "mean wait (min)"]


def shows_groups(scenario) -> bool:
    """Whether the agent-group table says more than the channel table: agents shared by several
    channels, or holding several contacts at once."""
    return scenario.has_groups or any(c.concurrency > 1 for c in scenario.channels)


def _cell(frame: pd.DataFrame, key, metric: str, intervals: bool) -> str:
    text = _stat_cell(frame, key, metric)
    return text if intervals else text.split(" [")[0]


def group_rows(result: Result, intervals: bool = False) -> list[list[str]]:
    """The agent-group table's rows (:data:`GROUP_HEADER`): each group's agents on duty,
    occupancy (of agents, and of chat slots where agents hold several contacts), cost, and how its
    busy time was shared among its skills; means, or ``mean [95 % CI]`` with ``intervals``
    (the busy-time shares are means either way).

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.5)
    >>> group_rows(res)[0][0], group_rows(res)[0][-1]
    ('voice', 'phone ... %, email ... %')
    """
    groups = result.groups
    rows = []
    for spec in result.scenario.groups:
        cells = [_cell(groups, (spec.name, m), m, intervals) for m in GROUP_COLUMNS]
        shares = ", ".join(f"{c} {_cell(groups, (spec.name, f'skill_share.{c}'), 'share', False)}"
                           for c in spec.skills)
        rows.append([spec.name, *cells, shares])
    return rows


def callback_rows(result: Result, intervals: bool = False) -> list[list[str]]:
    """The call-back table's rows (:data:`CALLBACK_HEADER`), one per channel that offers call backs."""
    channels = result.channels
    return [[c.name, *(_cell(channels, (c.name, m), m, intervals) for m in CALLBACK_COLUMNS)]
            for c in result.scenario.channels if c.callback is not None]


def groups_text(result: Result) -> str:
    """The agent-group table (:func:`group_rows`) as text, means only."""
    return "Agent groups (means)\n" + table_text(group_rows(result), GROUP_HEADER, right={1, 2, 3, 4})


def _group_skills(scenario: Scenario, name: str) -> str:
    """What a group answers, by priority: ``phone 1, email 2`` (a channel's own agents: the channel)."""
    group = scenario.group(name)
    if group.own:
        return name
    return ", ".join(f"{c} {p}" for c, p in sorted(group.skills.items(), key=lambda cp: cp[1]))


def staffing_text(plan: StaffingPlan) -> str:
    """The plan, its checks with CIs, and its cost, as text."""
    sc = plan.scenario
    hourly = any(isinstance(v, tuple) for v in plan.agents.values())
    unjudged = plan.unjudged_hours
    claim = "every target in every hour with contacts" if unjudged else "every target"
    parts = [f"{sc.name}: staffing that meets {claim} ({plan.result.replications} replication(s) "
             f"per plan, seed {plan.result.seed}, {plan.evaluations} plan(s) simulated)"]
    if not plan.trimmed:
        parts.append(f"(stopped removing agents at the limit of {plan.evaluations} simulated plans "
                     "(max-evaluations): every target is met, but some agents may be spared)")
    period = plan.period_hours
    if hourly:
        hours = [h for h in range(period) if any(v[h] or plan.start[c][h] for c, v in plan.agents.items())]
        rows = [[hour_label(h, period), *(f"{plan.start[c][h]} → {plan.agents[c][h]}" for c in plan.agents)]
                for h in hours]
        parts.append("\n" + table_text(rows, ["hour", *(f"{c} (start → simulated)" for c in plan.agents)]))
    else:
        rows = [[c, _group_skills(sc, c), str(plan.start[c]), str(v)] for c, v in plan.agents.items()]
        parts.append("\n" + table_text(rows, ["group", "answers", "start", "agents"]))
    parts.append(textwrap.fill(f"(start: {plan.start_method})", width=100))
    checks = plan.checks
    rows = []
    for target, frame in checks.groupby("target", sort=False):
        if frame["hour"].notna().any():  # an hourly target: show its tightest hour
            metric, op = target.split()[0].split(".")[-1], target.split()[1]
            defined = frame.dropna(subset=["mean"])
            worst = (defined.loc[defined["mean"].idxmin() if op in (">=", ">") else defined["mean"].idxmax()]
                     if len(defined) else frame.iloc[0])
            where = f"tightest hour {hour_label(int(worst['hour']), period)}"
        else:
            metric, worst, where = target.split()[0].split(".")[-1], frame.iloc[0], "whole run"
        judged = frame[frame["judged"]]  # hours with no contacts are neither met nor missed
        met = "yes" if judged["met"].all() else "NO"
        if len(judged) < len(frame):
            met += f" ({len(frame) - len(judged)} h not judged)"
        rows.append([target, where, format_stat(worst["mean"], worst["ci_low"], worst["ci_high"], metric), met,
                     "yes" if frame["confident"].all() else "not all"])
    parts.append("\n" + table_text(rows, ["target", "where", "simulated [95 % CI]", "met", "whole CI meets it"],
                                   right=set()))
    if unjudged:
        where = "; ".join(f"{c} {', '.join(hour_label(h, period) for h in hours)}" for c, hours in unjudged.items())
        parts.append(textwrap.fill(f"not judged (no contact simulated in any replication): {where}; these hours "
                                   "keep their start level. Simulate more days (-d) or replications (-r) "
                                   "to judge them.", width=100))
    hours = plan.agent_hours_per_day
    cost = plan.result.stat("cost_total")
    days = sc.run.days
    costs = ", ".join(f"{g} {sc.group(g).cost_per_agent_hour * h:,.0f}" for g, h in hours.items())
    parts.append("\n" + "agent hours per day: " + ", ".join(f"{c} {h:,.0f}" for c, h in hours.items())
                 + f"; agent cost per day: {plan.cost_per_day:,.0f} ({costs})")
    parts.append(f"simulated cost_total over {days:g} day(s): "
                 + format_stat(cost["mean"], cost["ci_low"], cost["ci_high"], "cost_total"))
    return "\n".join(parts)
