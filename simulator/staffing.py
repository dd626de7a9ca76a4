"""Staffing search: the fewest agents that meet every target, for the whole network.

Workforce planners size each channel on its own with an Erlang calculator,
ignoring that customers who give up on one channel load another. :func:`staff`
sizes the network together. What it sizes are agent groups
(:class:`~simulator.scenario.Group`): a channel with its own agents is a group
of its own name, and a ``[groups.NAME]`` table answers several channels; a
plan gives each searched group a level, or one level per hour of the
scenario's period (a day, or a week) with ``hourly=True``. Targets stay
per channel (or network-wide, or per group):

1. **Start point** (analytic, a fraction of a second per plan): each searched
   channel's offered load is the arrival rate times its expected contacts
   per customer (the :class:`~simulator.analytic.JourneyChain`), and the
   fewest agents that meet the channel's own targets come from Erlang A
   (exponential patience with the channel's mean) or Erlang C (no patience,
   or an asynchronous backlog); with ``hourly=True`` hour by hour, giving a
   shift plan (:func:`erlang_start`). Channels with no target of their own
   start from the scenario's staffing. That ignores that customers who give
   up on one channel load another, and it cannot see network-wide targets
   such as ``give_up_rate``; so :func:`network_start` (the default) then adds
   agents, the cheapest improvement per unit of cost first, until the
   network approximation (:func:`simulator.network.approximate`) says every
   target is met. Pass ``start=`` to use another (:func:`erlang_start`, a
   current plan).
2. **Confirm and adjust** (simulation, on common random numbers so that
   neighbouring plans are compared on the same customers): while a target is
   missed, add agents where they are missing (the group that answers the
   channel, or the hour, whose own target fails, at the best priority; for
   network-wide targets such as ``give_up_rate``, the group whose extra agent
   helps most per unit of its cost, all candidates simulated side by side); then remove agents one at a time while every
   target still holds. With ``hourly=True`` the removal is tried for all hours
   at once and undone where an hour's own target fails, in the spirit of the
   iterative staffing algorithm of Feldman, Mandelbaum, Massey and Whitt (2008).

A target is met when its simulated mean meets it; the plan reports each
target's confidence interval, and ``confident`` says whether the whole
interval is on the right side. With ``hourly=True`` the run must cover a
whole period (a day, or a week for a weekly scenario), and an open hour
with no contact in any replication is not judged: it keeps its start level
and the plan says so.

Targets no staffing can meet fail before any simulation: a figure outside
its range (``service_level>=1.5``, ``mean_wait_min<0``) when parsed, and a
target the network approximation still clearly misses with ample agents
(e.g. a ``give_up_rate`` below the give-ups after unresolved contacts) in
:func:`staff`.

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("bank_app_first").with_changes({"run.days": 0.5, "run.warmup_hours": 8})
>>> plan = staff(sc, ["channels.phone.service_level>=0.8"], channels=["phone"], replications=3)
>>> plan.met and plan.agents["phone"] > 0
True
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .analytic import JourneyChain, slot_queue
from .experiment import Result, run_replication
from .figures import HOURLY_METRICS, figure_index, format_value, hour_label, is_share
from .json_data import plain
from .network import NetworkApproximation, approximate
from .parallel import Executor, ReplicationJob, make_executor, run_jobs
from .precision import check_figure
from .scenario import Channel, Group, Scenario

__all__ = ["Target", "StaffingPlan", "StaffingError", "staff", "staffing_units", "erlang_start",
           "network_start", "staffing_changes", "hour_label", "ERLANG_METRICS", "START_METHODS"]

#: Channel metrics the Erlang formulas give, usable for the analytic start point.
ERLANG_METRICS = ("service_level", "abandon_rate", "mean_wait_min", "p_wait", "occupancy", "mean_queue")
#: Most network approximations :func:`network_start` computes; past it, it starts from the best plan so far.
MAX_APPROXIMATIONS = 100
#: :func:`network_start` stops adding agents when one more cuts the targets' shortfall by less than this share.
PLATEAU = 0.01
#: Figures that move one way as agents are added: +1 rise, -1 fall (others may go either way, e.g. costs).
STAFFING_DIRECTION = {"service_level": 1, "resolution_rate": 1, "abandon_rate": -1, "mean_wait_min": -1,
                      "p_wait": -1, "mean_queue": -1, "occupancy": -1, "give_up_rate": -1}
#: A target the network approximation misses with ample agents by more than this share of it is out of reach.
UNREACHABLE_MARGIN = 0.1
_TARGET = re.compile(r"^\s*(?P<key>[A-Za-z_][\w.\-]*)\s*(?P<op>>=|<=|>|<)\s*(?P<value>[^\s%]+)\s*(?P<pct>%?)\s*$")

#: A plan: agents per searched group, a whole number or one level per hour of the period.
Plan = Mapping[str, Any]


class StaffingError(ValueError):
    """The search could not find a plan (a target out of reach, or the budget spent)."""


class _BudgetSpent(StaffingError):
    """The search needs more simulated plans than ``max_evaluations`` allows."""


@dataclass(frozen=True)
class Target:
    """A service target on one figure, e.g. ``channels.phone.service_level >= 0.8``.

    Examples
    --------
    >>> t = Target.parse("give_up_rate<=3%")
    >>> t.key, t.op, t.value
    ('give_up_rate', '<=', 0.03)
    >>> t.met(0.025), t.met(0.04)
    (True, False)
    >>> Target.parse("channels.phone.service_level>=0.8").channel
    'phone'
    """

    key: str
    op: str
    value: float

    def __post_init__(self):
        try:
            metric = figure_index(self.key)[2]
        except KeyError:
            return  # named when checked against the scenario
        share = is_share(metric)
        high = 1.0 if share else math.inf
        impossible = {">=": self.value > high, ">": self.value >= high,
                      "<=": self.value < 0.0, "<": self.value <= 0.0}[self.op]
        if impossible:
            allowed = "a share, from 0 to 1 (0 % to 100 %)" if share else "never below 0"
            raise ValueError(f"'{self}' can never be met: {self.key if metric == 'share' else metric} is {allowed}")

    @classmethod
    def parse(cls, text: str) -> "Target":
        """From ``FIGURE>=VALUE`` (or ``<=``, ``>``, ``<``); a trailing ``%`` divides by 100."""
        match = _TARGET.match(text)
        value = math.nan
        if match:
            try:
                value = float(match["value"]) / (100.0 if match["pct"] else 1.0)
            except ValueError:
                pass
        if not match or not math.isfinite(value):
            raise ValueError(f"{text!r} is not a target like 'channels.phone.service_level>=0.8' "
                             "or 'give_up_rate<=0.03' (operators: >=, <=, >, <)")
        return cls(match["key"], match["op"], value)

    @property
    def channel(self) -> str | None:
        """The channel of a ``channels.CHANNEL.METRIC`` target, else None (a network target)."""
        parts = self.key.split(".")
        return parts[1] if len(parts) == 3 and parts[0] == "channels" else None

    @property
    def metric(self) -> str:
        return self.key.split(".")[-1]

    @property
    def helped_by_agents(self) -> bool | None:
        """Whether more agents bring the figure towards the target (None: not known, e.g. a cost)."""
        direction = STAFFING_DIRECTION.get(self.metric)
        return None if direction is None else (direction > 0) == (self.op in (">=", ">"))

    def met(self, value: float) -> bool:
        """Whether ``value`` meets the target (an undefined value, NaN, counts as met)."""
        if value is None or math.isnan(value):
            return True
        return {">=": value >= self.value, "<=": value <= self.value,
                ">": value > self.value, "<": value < self.value}[self.op]

    def margin(self, value: float) -> float:
        """How far ``value`` is on the right side of the target, relative to it (negative: missed by).

        NaN for an undefined value.
        """
        if value is None or math.isnan(value):
            return math.nan
        above = value - self.value if self.op in (">=", ">") else self.value - value
        return above / max(abs(self.value), 1e-9)

    def __str__(self) -> str:
        return f"{self.key} {self.op} {self.value:g}"


# --------------------------------------------------------------------------- start point


def erlang_start(scenario: Scenario, units: Sequence[str], targets: Sequence[Target],
                 hourly: bool = False) -> dict[str, Any]:
    """The analytic start point: per agent group, the fewest agents Erlang A/C says meet its channels' targets.

    The offered load of channel ``c`` is the arrival rate times
    ``JourneyChain(scenario).expected_contacts[c]`` (every contact served, so
    it ignores re-routing after abandonment), over the hours the channel is
    open. A channel with targets among :data:`ERLANG_METRICS` needs the
    fewest agents that meet them by Erlang A or C (on its slots, with
    concurrency); one without needs its offered load. A group gets what its
    channels need (a channel answered by several groups shared among them by
    their size), over ``1 - shrinkage``; groups with no channel target keep
    the scenario's staffing. With ``hourly``, each hour of the period gets its
    own level (0 when its channels are closed or nothing arrives).

    ``units`` are group names (a channel's own agents are the group of its name).

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("bank_app_first")
    >>> erlang_start(sc, ["phone"], [Target.parse("channels.phone.service_level>=0.8")])["phone"] > 0
    True
    """
    period = scenario.period_hours
    per_customer = JourneyChain(scenario).expected_contacts
    rates = np.resize(np.asarray(scenario.arrivals.rates_per_minute()), period)
    needs: dict[str, np.ndarray] = {}
    targeted = set()
    for spec in scenario.channels:
        if spec.unlimited:
            continue
        own = [t for t in targets if t.channel == spec.name and t.metric in ERLANG_METRICS]
        open_hours = np.array([spec.is_open((h % 24) * 60.0 + 30.0) for h in range(period)])  # of a day or a week
        contact_rates = rates * per_customer[spec.name]
        if own:
            targeted.add(spec.name)
            if hourly:
                need = np.array([_erlang_agents(spec, contact_rates[h], own) if open_hours[h] else 0
                                 for h in range(period)], dtype=float)
            else:
                level = max(1, _erlang_agents(spec, float(contact_rates[open_hours].mean()), own))
                need = np.full(period, float(level))
        else:
            load = contact_rates * spec.handle_time.mean * (spec.concurrency_slowdown or (1.0,))[-1] / spec.concurrency
            need = np.where(open_hours, load, 0.0) if hourly else np.full(period, load[open_hours].mean())
        needs[spec.name] = need
    start: dict[str, Any] = {}
    for name in units:
        group = scenario.group(name)
        if not targeted & set(group.skills):
            start[name] = _current(group, hourly, period)
            continue
        total = np.zeros(period)
        for channel in group.skills:
            serving = scenario.groups_serving(channel)
            size = sum(max(g.agents_in_hour(0), 1) if not g.has_shift_plan else max(max(g.agents), 1) for g in serving)
            mine = max(group.agents_in_hour(0), 1) if not group.has_shift_plan else max(max(group.agents), 1)
            total = total + needs[channel] * mine / size
        scheduled = np.ceil(total / (1.0 - group.shrinkage) - 1e-9).astype(int)
        start[name] = tuple(int(x) for x in scheduled) if hourly else max(1, int(scheduled.max()))
    return start


def _current(group: Group, hourly: bool, period: int) -> Any:
    """A group's staffing in the scenario, as a fixed level or as one level per hour of the period."""
    if hourly:
        return tuple(group.agents_in_hour(h) for h in range(period))
    return group.agents if isinstance(group.agents, int) else max(group.agents)


def _erlang_agents(spec: Channel, rate: float, targets: Sequence[Target], limit: int = 100_000) -> int:
    """Fewest agents whose Erlang A (or C) figures meet ``targets`` at ``rate`` contacts per minute
    (on the slots, with concurrency: :func:`~simulator.analytic.slot_queue`).

    The figures are monotone in agents, so the targets more agents help are
    bracketed by doubling and then bisected; the others (e.g. ``occupancy >=``)
    can then only hold at that level or not at all.
    """
    if rate <= 0:
        return 0

    def meets(agents: int, group: Sequence[Target]) -> bool:
        patience = spec.patience.mean if spec.patience is not None and not spec.is_async else math.inf
        figures = slot_queue(rate, spec.handle_time.mean, agents, spec.concurrency, spec.concurrency_slowdown,
                             patience, spec.service_level_seconds)
        metrics = figures.channel_metrics()
        return all(t.met(metrics[t.metric]) for t in group)

    helped = [t for t in targets if t.helped_by_agents]
    short, enough = 0, 1  # short: known to miss (0 agents); enough: the guess to try
    while not meets(enough, helped):
        if enough >= limit:
            raise StaffingError(f"channel {spec.name}: no staffing up to {limit} agents meets "
                                f"{', '.join(map(str, helped))} by Erlang's formulas")
        short, enough = enough, min(2 * enough, limit)
    while enough - short > 1:
        middle = (short + enough) // 2
        short, enough = (short, middle) if meets(middle, helped) else (middle, enough)
    others = [t for t in targets if not t.helped_by_agents]
    if not meets(enough, others):
        raise StaffingError(f"channel {spec.name}: no staffing meets {', '.join(map(str, targets))} together by "
                            f"Erlang's formulas ({enough} agents are needed for "
                            f"{', '.join(map(str, helped))}, and more agents only move the others away)")
    return enough


def network_start(scenario: Scenario, units: Sequence[str], targets: Sequence[Target],
                  hourly: bool = False, *, max_agents: int = 10_000,
                  max_approximations: int = MAX_APPROXIMATIONS) -> dict[str, Any]:
    """The default start point: Erlang A/C, then agents added until the network approximation meets every target.

    Starts from :func:`erlang_start` and judges each plan with
    :func:`simulator.network.approximate`, which follows customers who give
    up on one channel into the next and gives every figure, network-wide ones
    such as ``give_up_rate`` included. While a target is missed:

    * with ``hourly``, every open hour whose own channel target fails (by
      ``approx.hourly``) gets one more agent, in the group that answers the
      channel at the best priority;
    * otherwise each searched group is tried with one more agent (with
      ``hourly``, in each open hour losing at least half as many contacts
      to abandonment as its worst hour), and the one that cuts the total
      relative shortfall the most per unit of its cost is kept.

    It stops when every target is met, when one more agent cuts the total
    shortfall by less than :data:`PLATEAU` of it (a target the approximation
    cannot reach by staffing), after ``max_approximations`` approximations or
    past ``max_agents``; the simulation in :func:`staff` then confirms and
    adjusts whatever it gives.

    Parameters
    ----------
    scenario, units, targets, hourly
        As for :func:`erlang_start` (``units``: group names).
    max_agents
        No group (or hour) is taken past this many agents.
    max_approximations
        The most plans approximated (each takes a fraction of a second).

    Returns
    -------
    dict
        Agents per group in ``units``: a whole number, or one level per hour of the period with ``hourly``.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("bank_app_first")
    >>> targets = [Target.parse("channels.phone.service_level>=0.8"), Target.parse("give_up_rate<=0.06")]
    >>> erlang = erlang_start(sc, ["phone", "messages"], targets)
    >>> network = network_start(sc, ["phone", "messages"], targets)
    >>> network["phone"] > erlang["phone"]  # re-routed customers load the phone
    True
    """
    targets = list(targets)
    goal = _Approximation(scenario, targets, list(units), hourly)
    plan = _start_levels(scenario, goal.units, erlang_start(scenario, goal.units, targets, hourly), hourly)
    while len(goal.cache) < max_approximations:
        current = goal.evaluate([plan])[0]
        if current.met:
            break
        failing = current.failing_units() if hourly else set()
        if failing:
            following = _with_each(plan, failing, 1)
        elif len(goal.cache) + len(goal.units) > max_approximations:
            break
        else:
            following = _best_addition(goal, plan, current, _Evaluation.shortfall, spread=True)
        if current.shortfall() - goal.evaluate([following])[0].shortfall() <= PLATEAU * current.shortfall():
            break  # more agents hardly help, by the approximation: leave the rest to the simulation
        if any(_level(following, u) > max_agents for u in _units(goal, following)):
            break
        plan = following
    return plan


def _start_levels(scenario: Scenario, units: Sequence[str], plan: Plan, hourly: bool) -> dict[str, Any]:
    """A start plan as the search holds it: every searched group, as an int or one int per hour of the period."""
    period = scenario.period_hours
    levels = {g: _as_level(v, hourly, period) for g, v in plan.items() if g in units}
    for name in units:
        levels.setdefault(name, _current(scenario.group(name), hourly, period))
    return levels


def _as_level(value: Any, hourly: bool, period: int) -> Any:
    """A start level as the search holds it: an int, or one int per hour of the period with ``hourly``."""
    if not hourly:
        return int(value)
    if isinstance(value, (int, np.integer)):
        return (int(value),) * period
    values = tuple(int(x) for x in value)
    return values * (period // len(values)) if len(values) < period and period % len(values) == 0 else values


#: What each start point is, in words (the ``start`` column's caption in ``contactflow staff``).
START_METHODS: dict[Callable[..., Plan], str] = {
    network_start: "Erlang A/C on each channel's offered load, summed per agent group (the scenario's staffing "
                   "for a group with no channel target), then agents added, the cheapest improvement per unit of "
                   "cost first, until the network approximation (simulator.network) meets every target",
    erlang_start: "Erlang A/C on each channel's offered load, summed per agent group, or the scenario's "
                  "staffing for a group with no channel target",
}


# --------------------------------------------------------------------------- evaluation


def _stat(figures: Result | NetworkApproximation, key: str) -> Mapping[str, float]:
    """A figure's mean and CI; an approximation's value is its own (zero-width) interval."""
    if isinstance(figures, NetworkApproximation):
        value = figures.value(key)
        return {"mean": value, "ci_low": value, "ci_high": value}
    return figures.stat(key)


def _hourly_stats(figures: Result | NetworkApproximation, groups: bool = False) -> pd.DataFrame:
    """Figures by (channel, hour, metric), or by (group, hour, metric), with columns mean, ci_low, ci_high."""
    if isinstance(figures, NetworkApproximation):
        value = (figures.hourly_groups if groups else figures.hourly)["value"]
        return pd.DataFrame({"mean": value, "ci_low": value, "ci_high": value})
    return figures.hourly_groups if groups else figures.hourly  # a Result summarises them on first use


@dataclass
class _Evaluation:
    """One plan, simulated or approximated, and how it stands against the targets."""

    plan: dict[str, Any]
    result: Result | NetworkApproximation
    checks: pd.DataFrame  # target, channel, group, hour, mean, ci_low, ci_high, met, confident, judged, margin

    @property
    def met(self) -> bool:
        """Every target met where it can be judged (an hour with no contacts cannot)."""
        return bool(self.checks["met"][self.checks["judged"]].all())

    def failing_units(self) -> set[tuple[str, int | None]]:
        """(group, hour) to act on for the channel targets that fail (hour None for a fixed level)."""
        return _units_of(self.checks[~self.checks["met"] & self.checks["judged"] & self.checks["group"].notna()])

    def unjudged_units(self) -> set[tuple[str, int | None]]:
        """(group, hour) of open hours with no contacts: their targets cannot be judged."""
        return _units_of(self.checks[~self.checks["judged"] & self.checks["group"].notna()])

    def shortfall(self) -> float:
        """Total relative shortfall over every target (and hour) missed."""
        return float((-self.checks["margin"]).clip(lower=0).sum())

    def network_shortfall(self) -> float:
        """Total relative shortfall of the targets not tied to one searched group (or hour)."""
        rows = self.checks[self.checks["group"].isna()]
        return float((-rows["margin"]).clip(lower=0).sum())

    def slack(self) -> float:
        """The smallest relative margin over the targets: how comfortably the plan meets them."""
        return float(self.checks["margin"].min())

    @cached_property
    def hourly(self) -> pd.DataFrame:
        return _hourly_stats(self.result)  # computed on first use, then kept

    @cached_property
    def hourly_groups(self) -> pd.DataFrame:
        return _hourly_stats(self.result, groups=True)

    def hourly_mean(self, channel: str, hour: int, metric: str) -> float:
        value = self.hourly.loc[(channel, hour, metric), "mean"]
        return 0.0 if math.isnan(value) else float(value)

    def group_hourly_mean(self, group: str, hour: int, metric: str) -> float:
        value = self.hourly_groups.loc[(group, hour, metric), "mean"]
        return 0.0 if math.isnan(value) else float(value)


def _units_of(rows: pd.DataFrame) -> set[tuple[str, int | None]]:
    return {(g, None if pd.isna(h) else int(h)) for g, h in zip(rows["group"], rows["hour"])}


class _Goal:
    """What a search aims at: the scenario, its targets, and the agent groups (and hours) it may staff."""

    def __init__(self, scenario: Scenario, targets: list[Target], units: list[str], hourly: bool):
        self.scenario = scenario
        self.targets = targets
        self.units = units
        self.hourly = hourly
        self.period = scenario.period_hours
        # the group to act on for a channel's target: of the searched groups answering it, the best priority
        self.unit_of: dict[str, str] = {}
        for channel in scenario.channel_names:
            searched = [g.name for g in scenario.groups_serving(channel) if g.name in units]
            if searched:
                self.unit_of[channel] = searched[0]
        # a channel target is checked hour by hour when searching hourly and the metric is hourly
        self.per_hour = {t.key for t in targets
                         if hourly and t.channel in self.unit_of and t.metric in HOURLY_METRICS}

    @staticmethod
    def key(plan: Plan) -> tuple:
        return tuple(sorted(plan.items()))

    def scenario_for(self, plan: Plan) -> Scenario:
        return self.scenario.with_changes(staffing_changes(self.scenario, plan))

    def open_hours(self, group: str) -> list[int]:
        """Hours of the period in which some channel of the group is open."""
        specs = [self.scenario.channel(c) for c in self.scenario.group(group).skills]
        return [h for h in range(self.period) if any(c.is_open((h % 24) * 60.0 + 30.0) for c in specs)]

    def checks(self, figures: Result | NetworkApproximation) -> pd.DataFrame:
        """One row per target (and open hour, for a target checked hour by hour)."""
        rows = []
        hourly = _hourly_stats(figures) if self.per_hour else None
        for target in self.targets:
            if target.key in self.per_hour:
                spec = self.scenario.channel(target.channel)
                for hour in range(self.period):
                    if not spec.is_open((hour % 24) * 60.0 + 30.0):
                        continue
                    stat = hourly.loc[(target.channel, hour, target.metric)]
                    contacts = hourly.loc[(target.channel, hour, "contacts"), "mean"]
                    rows.append(self._row(target, hour, stat["mean"], stat["ci_low"], stat["ci_high"],
                                          judged=bool(contacts > 0)))
            else:
                stat = _stat(figures, target.key)
                rows.append(self._row(target, None, stat["mean"], stat["ci_low"], stat["ci_high"]))
        return pd.DataFrame(rows)

    def _row(self, target: Target, hour: int | None, mean: float, low: float, high: float,
             judged: bool = True) -> dict:
        """A check; an hour without contacts is not judged: neither met nor failing, nor to be trimmed."""
        # the unit to act on when the target fails: the group answering its channel (and hour), or the
        # group of a groups.* target, if searched
        group = target.key.split(".")[1] if target.key.startswith("groups.") else None
        unit = (group if group in self.units else None) if group else self.unit_of.get(target.channel)
        if hour is None and self.hourly:
            unit = None
        worst = low if target.op in (">=", ">") else high
        return {"target": str(target), "channel": target.channel, "group": unit, "hour": hour,
                "mean": mean, "ci_low": low, "ci_high": high, "met": judged and target.met(mean),
                "confident": judged and (target.met(worst) if not math.isnan(worst) else target.met(mean)),
                "judged": judged, "margin": target.margin(mean) if judged else math.nan}


def staffing_changes(scenario: Scenario, plan: Plan) -> dict[str, Any]:
    """The ``--set`` changes that put a plan's levels in place: ``channels.NAME.agents`` for a channel's
    own agents, ``groups.NAME.agents`` for a ``[groups.NAME]`` table.

    Examples
    --------
    >>> import simulator as sim
    >>> staffing_changes(sim.load_scenario("nice_bcg_2016"), {"voice": 60})
    {'groups.voice.agents': 60}
    >>> staffing_changes(sim.load_scenario("bank_app_first"), {"phone": 25})
    {'channels.phone.agents': 25}
    """
    changes = {}
    for name, value in plan.items():
        table = "channels" if scenario.group(name).own else "groups"
        changes[f"{table}.{name}.agents"] = list(value) if isinstance(value, tuple) else value
    return changes


class _Search(_Goal):
    """One simulated search: the goal, the executor and every plan simulated."""

    def __init__(self, scenario: Scenario, targets: list[Target], units: list[str], hourly: bool,
                 replications: int, seed: int, executor: Executor, max_evaluations: int,
                 progress: Callable[[int, int], None] | None, force: bool = False):
        super().__init__(scenario, targets, units, hourly)
        self.force = force
        self.replications = replications
        self.seed = seed
        self.executor = executor
        self.max_evaluations = max_evaluations
        self.progress = progress
        self.cache: dict[tuple, _Evaluation] = {}
        self.done = 0

    def evaluate(self, plans: Iterable[Plan]) -> list[_Evaluation]:
        """Simulate the plans not seen yet (side by side, same seed) and check the targets."""
        plans = [dict(p) for p in plans]
        new = {}
        for plan in plans:
            k = self.key(plan)
            if k not in self.cache and k not in new:
                new[k] = plan
        if len(self.cache) + len(new) > self.max_evaluations:
            raise _BudgetSpent(f"the search needed more than {self.max_evaluations} simulated plans; "
                               "raise max_evaluations or give a closer start")
        if new:
            jobs = [ReplicationJob((self.scenario_for(p),), self.seed, self.replications, run_replication, key=k)
                    for k, p in new.items()]
            planned = self.done + len(jobs) * self.replications

            def report(finished, _planned):
                if self.progress is not None:
                    self.progress(self.done + finished, planned)

            for job, outputs in run_jobs(jobs, self.executor, report, force=self.force):
                result = Result.from_outputs(job.scenarios[0], self.seed, outputs[0])
                self.cache[job.key] = _Evaluation(new[job.key], result, self.checks(result))
            self.done = planned
        return [self.cache[self.key(p)] for p in plans]


class _Approximation(_Goal):
    """Plans judged by the network approximation instead of the simulation (a fraction of a second each)."""

    def __init__(self, scenario: Scenario, targets: list[Target], units: list[str], hourly: bool):
        super().__init__(scenario, targets, units, hourly)
        self.cache: dict[tuple, _Evaluation] = {}

    def evaluate(self, plans: Iterable[Plan]) -> list[_Evaluation]:
        evaluations = []
        for plan in plans:
            k = self.key(plan)
            if k not in self.cache:
                approx = approximate(self.scenario_for(plan))
                self.cache[k] = _Evaluation(dict(plan), approx, self.checks(approx))
            evaluations.append(self.cache[k])
        return evaluations


def _with(plan: Plan, unit: tuple[str, int | None], delta: int) -> dict[str, Any]:
    """The plan with ``delta`` agents added to a group (or to one hour of its shift plan)."""
    group, hour = unit
    changed = dict(plan)
    if hour is None:
        changed[group] = plan[group] + delta
    else:
        levels = list(plan[group])
        levels[hour] += delta
        changed[group] = tuple(levels)
    return changed


def _with_each(plan: Plan, units: Iterable[tuple[str, int | None]], delta: int) -> dict[str, Any]:
    """The plan with ``delta`` agents added to each of the units."""
    changed = dict(plan)
    for unit in units:
        changed = _with(changed, unit, delta)
    return changed


def _level(plan: Plan, unit: tuple[str, int | None]) -> int:
    group, hour = unit
    return plan[group] if hour is None else plan[group][hour]


def _agent_hours(plan: Plan) -> dict[str, float]:
    """Paid agent hours per group and day (a weekly plan's hours over 7)."""
    return {g: float(sum(v)) * 24.0 / len(v) if isinstance(v, tuple) else 24.0 * v for g, v in plan.items()}


# --------------------------------------------------------------------------- the result


@dataclass
class StaffingPlan:
    """The outcome of :func:`staff`.

    Attributes
    ----------
    agents
        Per searched agent group (a channel's own agents are the group of its
        name): the agents scheduled, a whole number, or one level per hour of
        the scenario's period (24, or 168 from Monday 0:00) with ``hourly``.
    start
        The start point the search began from (:func:`network_start` by default).
    scenario
        The scenario with ``agents`` in place.
    result
        The simulation of that scenario that confirmed it (all figures, with CIs).
    checks
        One row per target (and hour, for hourly targets): ``target, channel,
        group, hour, mean, ci_low, ci_high, met, confident, judged``
        (``group``: the searched group that answers the target's channel;
        ``confident``: the whole CI meets the target; ``judged``: false for an
        open hour with no contact in any replication, which is neither met nor
        trimmed).
    agent_hours_per_day, cost_per_day
        Paid agent hours per group and day, and their cost at each group's
        ``cost_per_agent_hour`` (agents on shift are paid even when idle).
    evaluations
        Distinct plans simulated.
    start_method
        What ``start`` is, in words (see :data:`START_METHODS`).
    trimmed
        False when the search reached ``max_evaluations`` while removing
        agents: the plan meets every target but may keep agents it could spare.
    """

    agents: dict[str, Any]
    start: dict[str, Any]
    scenario: Scenario
    result: Result
    checks: pd.DataFrame
    evaluations: int
    targets: list[Target] = field(default_factory=list)
    start_method: str = ""
    trimmed: bool = True

    def __repr__(self) -> str:
        """One line: the plan, whether it meets the targets, its cost; the details are attributes."""
        def level(v):
            return f"{min(v)}–{max(v)} by hour" if isinstance(v, tuple) else str(v)

        plan = ", ".join(f"{c}={level(v)}" for c, v in self.agents.items())
        met = "every target met" if self.met else "NOT every target met"
        return (f"StaffingPlan({plan}; {met}; agent cost per day {self.cost_per_day:,.0f}; "
                f"{self.evaluations} plan(s) simulated; see .checks, .result, .scenario)")

    @property
    def met(self) -> bool:
        """Whether every target is met (by its simulated mean), in every hour (none left unjudged)."""
        return bool(self.checks["met"].all())

    @property
    def unjudged_hours(self) -> dict[str, list[int]]:
        """Per channel, the open hours whose targets could not be judged (no contacts simulated)."""
        hours: dict[str, list[int]] = {}
        rows = self.checks[~self.checks["judged"]]
        for channel, hour in sorted({(c, int(h)) for c, h in zip(rows["channel"], rows["hour"])}):
            hours.setdefault(channel, []).append(hour)
        return hours

    @property
    def period_hours(self) -> int:
        """24, or 168 when the scenario (and so an hourly plan) covers a week."""
        return self.scenario.period_hours

    @property
    def agent_hours_per_day(self) -> dict[str, float]:
        return _agent_hours(self.agents)

    @property
    def cost_per_day(self) -> float:
        return sum(self.scenario.group(g).cost_per_agent_hour * h for g, h in self.agent_hours_per_day.items())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (undefined numbers as None)."""
        return plain({
            "scenario": self.scenario.name,
            "agents": self.agents,
            "start": self.start,
            "period_hours": self.period_hours,
            "start_method": self.start_method,
            "met": self.met,
            "agent_hours_per_day": self.agent_hours_per_day,
            "cost_per_day": self.cost_per_day,
            **{k: v for k, v in self.result.run_info.to_dict().items() if k != "scenario"},  # each plan's run
            "evaluations": self.evaluations,
            "trimmed": self.trimmed,
            "checks": self.checks.to_dict(orient="records"),
            "unjudged_hours": self.unjudged_hours,
            "cost_total": self.result.stat("cost_total"),
        })


# --------------------------------------------------------------------------- the search


def staff(
    scenario: Scenario,
    targets: Iterable[str | Target],
    channels: Sequence[str] | None = None,
    *,
    groups: Sequence[str] | None = None,
    hourly: bool = False,
    replications: int | None = None,
    seed: int | None = None,
    days: float | None = None,
    start: Plan | Callable[..., Plan] | None = None,
    workers: int = 1,
    dask: Any = None,
    progress: Callable[[int, int], None] | None = None,
    max_agents: int = 10_000,
    max_evaluations: int = 200,
    force: bool = False,
) -> StaffingPlan:
    """The fewest agents per agent group (or per group and hour) that meet every target.

    Parameters
    ----------
    scenario
        The network to staff.
    targets
        Strings like ``"channels.phone.service_level>=0.8"``,
        ``"give_up_rate<=0.03"`` (a ``%`` suffix works too), or :class:`Target`.
        Any figure works (see :func:`simulator.precision.figure_index`).
    channels, groups
        What is searched: names of agent groups, or of channels (a channel
        stands for its own agents, or for every group that answers it); both
        parameters accept both. Default: the groups that answer the channels
        named by channel targets (and the groups named by ``groups.*``
        targets), or every group when a target is network-wide (e.g.
        ``give_up_rate``). Others keep their staffing.
    hourly
        Search one level per hour of the scenario's period per group (a shift
        plan: 24 hours, or 168 from Monday 0:00 for a weekly scenario); channel
        targets on an hourly metric (``service_level``, ``abandon_rate``,
        ``mean_wait_min``, ``occupancy``, ``mean_queue``) must then hold in
        every open hour. It needs at least one whole period simulated after
        the warm-up, so that every hour is seen; an open hour where no contact
        arrives in any replication cannot be judged: it keeps its start level
        and the plan lists it (:attr:`StaffingPlan.unjudged_hours`).
    replications, seed, days
        How each candidate plan is simulated (defaults: the scenario's
        ``[run]``); every plan uses the same seed.
    start
        A plan ``{group: agents}`` to start from, or a function called like
        :func:`erlang_start` returning one. Default: :func:`network_start`
        (Erlang A/C, then adjusted by the network approximation); pass
        ``start=erlang_start`` for Erlang A/C per channel alone.
    workers, dask
        Where replications run; the numbers do not depend on it.
    progress
        Called as ``progress(finished, planned)`` in replications.
    max_agents
        No group (or hour) may need more; the search fails past it.
    max_evaluations
        The most distinct plans to simulate (see ``StaffingPlan.trimmed``).
    force
        Run even when simulating a round of plans is estimated to be far beyond this machine
        (:mod:`simulator.runsize`); otherwise that raises
        :class:`~simulator.runsize.RunTooLarge` before anything is simulated.

    Returns
    -------
    StaffingPlan

    Raises
    ------
    StaffingError
        When no plan within ``max_agents`` meets the targets, or the budget runs
        out before one does (run out while removing agents, the search keeps
        the last plan that meets them: ``trimmed`` is then False); at once when even ample agents leave a target clearly missed by the
        network approximation (e.g. a ``give_up_rate`` below the give-ups that
        unresolved contacts cause with no queue at all).
    KeyError, ValueError
        For an unknown figure, channel or group, or a malformed target.
    """
    targets = [t if isinstance(t, Target) else Target.parse(t) for t in targets]
    if not targets:
        raise ValueError("staff needs at least one target, e.g. channels.phone.service_level>=0.8")
    if days is not None:
        scenario = scenario.with_changes({"run.days": days})
    for target in targets:
        check_figure(target.key, scenario)
    units = staffing_units(scenario, targets, None if channels is None and groups is None
                           else [*(channels or []), *(groups or [])])
    period = scenario.period_hours
    if hourly and scenario.run.days < period / 24:
        what = "day" if period == 24 else "week (the scenario is weekly)"
        raise ValueError(f"hourly staffing needs at least one whole {what} simulated after the warm-up, so that "
                         f"every hour is judged (run.days is {scenario.run.days:g}): use days={period // 24} or more")
    replications = scenario.run.replications if replications is None else int(replications)
    seed = scenario.run.seed if seed is None else int(seed)

    _check_reachable(scenario, units, targets, hourly)
    if start is None:
        first = network_start(scenario, units, targets, hourly, max_agents=max_agents)
        start_method = START_METHODS[network_start]
    elif callable(start):
        first = start(scenario, units, targets, hourly)
        start_method = START_METHODS.get(start, f"{getattr(start, '__name__', 'start')}() (start=)")
    else:
        first, start_method = dict(start), "the plan given (start=)"
    first = _start_levels(scenario, units, first, hourly)
    # the search simulates at most one plan per staffed group at once
    with make_executor(workers, dask, tasks=replications * len(units)) as executor:
        search = _Search(scenario, targets, units, hourly, replications, seed, executor,
                         max_evaluations, progress, force)
        plan = _reach_targets(search, first, max_agents)
        trimmed = True
        try:
            plan = _trim_hourly(search, plan) if hourly else _trim(search, plan)
        except _StoppedTrimming as stop:  # every plan it keeps meets the targets: the last one stands
            plan, trimmed = stop.plan, False
        final = search.evaluate([plan])[0]
    return StaffingPlan(dict(plan), first, search.scenario_for(plan), final.result,
                        final.checks.drop(columns=["margin"]), len(search.cache), targets, start_method,
                        trimmed)


def staffing_units(scenario: Scenario, targets: Sequence[Target], names: Sequence[str] | None = None,
                   option: str = "channels=[...] or groups=[...]") -> list[str]:
    """The agent groups :func:`staff` sizes, from channel or group ``names`` or, by default, from the targets.

    A channel stands for its own agents (the group of its name) or for every
    group that answers it. Default: the groups answering the staffed channels
    of channel targets and the groups of ``groups.*`` targets, or every group
    when a target is network-wide. When nothing is left to staff, the message
    tells to name channels or groups with ``option`` (the argument as the
    caller knows it, e.g. ``--channels NAME,NAME``).

    Raises
    ------
    KeyError
        For a name that is neither a channel nor a group.
    ValueError
        For a self-service channel named, or when nothing is left to staff.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> staffing_units(sc, [Target.parse("channels.phone.service_level>=0.8")])  # the group answering it
    ['voice']
    >>> staffing_units(sc, [Target.parse("give_up_rate<=0.06")])
    ['voice', 'digital', 'back_office']
    """
    if names is None:
        network = any(t.channel is None and not t.key.startswith("groups.") for t in targets)
        if network:
            return list(scenario.group_names)
        names = [t.channel for t in targets if t.channel is not None and not scenario.channel(t.channel).unlimited]
        names += [t.key.split(".")[1] for t in targets if t.key.startswith("groups.")]
    units: list[str] = []
    for name in dict.fromkeys(names):
        if name in scenario.group_names:
            units.append(name)
        elif name in scenario.channel_names:
            if scenario.channel(name).unlimited:
                raise ValueError(f"channel {name!r} is self-service (agents = \"unlimited\"); it has no staff to size")
            units += [g.name for g in scenario.groups_serving(name)]
        else:
            groups = [g for g in scenario.group_names if g not in scenario.channel_names]
            known = f"channels: {', '.join(scenario.channel_names)}" + (f"; groups: {', '.join(groups)}" if groups else "")
            raise KeyError(f"no channel {name!r} (nor group) to staff ({known})")
    units = list(dict.fromkeys(units))
    if not units:
        staffed = [c.name for c in scenario.channels if not c.unlimited]
        shared = [g for g in scenario.group_names if g not in scenario.channel_names]
        raise ValueError(f"nothing to staff: name a channel or group with {option}, or give a channels.NAME.* "
                         f"or groups.NAME.* target (staffed channels: {', '.join(staffed) or 'none'}"
                         + (f"; groups: {', '.join(shared)})" if shared else ")"))
    return units


def _check_reachable(scenario: Scenario, units: list[str], targets: list[Target], hourly: bool) -> None:
    """Fail early when ample agents leave a target clearly missed, by the network approximation.

    Ample: three times the peak offered load of each searched group's
    channels (from the journey chain, in agents: over the concurrency) plus
    ten, in every hour. Only targets that more agents help are judged; a
    miss within :data:`UNREACHABLE_MARGIN` is left to the simulation, the
    reference.
    """
    judged = [t for t in targets if t.helped_by_agents]
    if not judged:
        return
    per_customer = JourneyChain(scenario).expected_contacts
    peak = max(scenario.arrivals.rates_per_minute())
    ample = {}
    for name in units:
        group = scenario.group(name)
        load = sum(peak * per_customer[c] * scenario.channel(c).handle_time.mean / scenario.channel(c).concurrency
                   for c in group.skills)
        ample[name] = _as_level(math.ceil((3 * load + 10) / (1.0 - group.shrinkage)), hourly, scenario.period_hours)
    checks = _Approximation(scenario, judged, units, hourly).evaluate([ample])[0].checks
    values = checks["target"].map({str(t): t.value for t in judged})
    missed = checks[(checks["margin"] < -UNREACHABLE_MARGIN) & ((checks["mean"] - values).abs() > 1e-6)]
    if missed.empty:
        return
    row = missed.loc[missed["margin"].idxmin()]
    metric = row["target"].split()[0].split(".")[-1]
    when = "" if pd.isna(row["hour"]) else f" at {hour_label(int(row['hour']), scenario.period_hours)}"
    levels = ", ".join(f"{c} {v if isinstance(v, int) else max(v)}" for c, v in ample.items())
    raise StaffingError(f"{row['target']} cannot be met by staffing {', '.join(units)}: even with ample agents "
                        f"({levels}) the network approximation puts it at about "
                        f"{format_value(row['mean'], metric)}{when}; what is left does not come from queues "
                        "(e.g. customers who give up after unresolved contacts, closed hours, other channels)")


def _units(search: _Goal, plan: Plan) -> list[tuple[str, int | None]]:
    if not search.hourly:
        return [(g, None) for g in search.units]
    return [(g, h) for g in search.units for h in search.open_hours(g)]


def _minimum(search: _Goal, unit: tuple[str, int | None], plan: Plan) -> int:
    """Fewest agents a unit may have: 1 for a fixed level; 0 for an hour, keeping one hour staffed."""
    group, hour = unit
    if hour is None:
        return 1
    others = sum(plan[group]) - plan[group][hour]
    return 0 if others > 0 else 1


def _cost(search: _Goal, unit: tuple[str, int | None]) -> float:
    """Cost of one more agent in a unit, per day (agent hours when the group has no hourly cost)."""
    rate = search.scenario.group(unit[0]).cost_per_agent_hour or 1.0
    return rate * (24.0 if unit[1] is None else 24.0 / search.period)


def _reach_targets(search: _Search, plan: dict[str, Any], max_agents: int) -> dict[str, Any]:
    """Add agents until every target is met."""
    steps: dict[tuple, int] = {}
    while True:
        current = search.evaluate([plan])[0]
        if current.met:
            return plan
        failing = {u for u in current.failing_units() if u[0] in search.units}
        if failing:
            for unit in failing:
                step = steps.get(unit, 1)
                plan = _with(plan, unit, step)
                steps[unit] = step if search.hourly else 2 * step  # widen the bracket while it keeps failing
        else:
            plan = _best_addition(search, plan, current)
        over = [u for u in _units(search, plan) if _level(plan, u) > max_agents]
        if over:
            where = ", ".join(g if h is None else f"{g} at {hour_label(h, search.period)}" for g, h in over)
            raise StaffingError(f"no staffing up to {max_agents} agents meets the targets ({where})")


def _addition_candidates(search: _Goal, plan: Plan, current: _Evaluation,
                         spread: bool = False) -> list[list[tuple[str, int | None]]]:
    """Where one more agent may help a network-wide target, per searched group: the group, or
    with hourly its hour losing the most contacts to abandonment over its channels (else with the
    longest queues) -- with ``spread``, every open hour losing at least half as many as that one."""
    if not search.hourly:
        return [[(group, None)] for group in search.units]
    candidates = []
    for group in search.units:
        open_hours = search.open_hours(group)
        channels = list(search.scenario.group(group).skills)
        score = np.array([sum(current.hourly_mean(c, h, "abandon_rate") * current.hourly_mean(c, h, "contacts")
                              + 1e-9 * current.hourly_mean(c, h, "mean_queue") for c in channels)
                          for h in open_hours])
        hours = [h for h, x in zip(open_hours, score) if x >= score.max() / 2] if spread else \
            [open_hours[int(np.argmax(score))]]
        candidates.append([(group, h) for h in hours])
    return candidates


def _best_addition(search: _Search | _Approximation, plan: dict[str, Any], current: _Evaluation,
                   shortfall: Callable[[_Evaluation], float] = _Evaluation.network_shortfall,
                   spread: bool = False) -> dict[str, Any]:
    """One more agent (per hour, with ``spread``) where it reduces the shortfall most per unit of
    cost, candidates evaluated side by side."""
    candidates = _addition_candidates(search, plan, current, spread)
    trials = search.evaluate([_with_each(plan, units, 1) for units in candidates])
    base = shortfall(current)
    gains = [(base - shortfall(t)) / sum(_cost(search, u) for u in units) for units, t in zip(candidates, trials)]
    return trials[int(np.argmax(gains))].plan


class _StoppedTrimming(Exception):
    """The trim ran out of simulated plans; ``plan``, the last one it kept, meets every target."""

    def __init__(self, plan: dict[str, Any]):
        super().__init__()
        self.plan = plan


def _trials(search: _Search, plans: list[dict[str, Any]], kept: dict[str, Any]) -> list[_Evaluation]:
    """``search.evaluate(plans)`` while trimming ``kept``: past the budget, trimming stops at ``kept``."""
    try:
        return search.evaluate(plans)
    except _BudgetSpent:
        raise _StoppedTrimming(kept) from None


def _trim(search: _Search, plan: dict[str, Any]) -> dict[str, Any]:
    """Remove agents one at a time, the biggest saving first, while every target holds."""
    while True:
        units = [u for u in _units(search, plan) if _level(plan, u) > _minimum(search, u, plan)]
        if not units:
            return plan
        trials = _trials(search, [_with(plan, u, -1) for u in units], plan)
        feasible = [(u, t) for u, t in zip(units, trials) if t.met]
        if not feasible:
            return plan
        _, best = max(feasible, key=lambda ut: (_cost(search, ut[0]), ut[1].slack()))
        plan = best.plan


def _trim_hourly(search: _Search, plan: dict[str, Any]) -> dict[str, Any]:
    """Remove an agent from many hours at once, the idlest first; undo it where an hour's target fails.

    A batch that only breaks a network-wide target (no hour to blame) is
    halved and retried; an hour that cannot lose an agent on its own is kept.
    """
    frozen: set[tuple] = set()
    batch: int | None = None  # None: every hour that can spare an agent
    while True:
        current = search.evaluate([plan])[0]
        frozen |= current.unjudged_units()  # no contacts to judge them by: they keep their level
        units = [u for u in _units(search, plan)
                 if u not in frozen and _level(plan, u) > _minimum(search, u, plan)]
        if not units:
            return plan
        units.sort(key=lambda u: current.group_hourly_mean(u[0], u[1], "occupancy"))
        chosen = units[:batch or len(units)]
        trial = dict(plan)
        for unit in chosen:
            if _level(trial, unit) > _minimum(search, unit, trial):
                trial = _with(trial, unit, -1)
        evaluation = _trials(search, [trial], plan)[0]
        if evaluation.met:
            plan, batch = trial, None
            continue
        failing = evaluation.failing_units() & set(chosen)
        if failing:
            frozen |= failing
        elif len(chosen) == 1:
            frozen |= set(chosen)
        else:
            batch = len(chosen) // 2
