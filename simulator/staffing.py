"""Staffing search: the fewest agents that meet every target, for the whole network.

Workforce planners size each channel on its own with an Erlang calculator,
ignoring that customers who give up on one channel load another. :func:`staff`
sizes the network together:

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
   missed, add agents where they are missing (the channel, or the hour, whose
   own target fails; for network-wide targets such as ``give_up_rate``, the
   channel whose extra agent helps most per unit of cost, all candidates
   simulated side by side); then remove agents one at a time while every
   target still holds. With ``hourly=True`` the removal is tried for all hours
   at once and undone where an hour's own target fails, in the spirit of the
   iterative staffing algorithm of Feldman, Mandelbaum, Massey and Whitt (2008).

A target is met when its simulated mean meets it; the plan reports each
target's confidence interval, and ``confident`` says whether the whole
interval is on the right side. With ``hourly=True`` the run must cover a
whole day, and an open hour with no contact in any replication is not
judged: it keeps its start level and the plan says so.

Targets no staffing can meet fail before any simulation: a figure outside
its range (``service_level>=1.5``, ``mean_wait_min<0``) when parsed, and a
target the network approximation still clearly misses with ample agents
(e.g. a ``give_up_rate`` below the give-ups after unresolved contacts) in
:func:`staff`.

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 0.5, "run.warmup_hours": 2})
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

from .analytic import JourneyChain, erlang_a, erlang_c
from .experiment import Result, run_replication
from .figures import HOURLY_METRICS, figure_index, format_value, is_share
from .json_data import plain
from .network import NetworkApproximation, approximate
from .parallel import Executor, ReplicationJob, make_executor, run_jobs
from .precision import check_figure
from .scenario import Channel, Scenario

__all__ = ["Target", "StaffingPlan", "StaffingError", "staff", "channels_to_staff", "erlang_start",
           "network_start", "ERLANG_METRICS", "START_METHODS"]

#: Channel metrics the Erlang formulas give, usable for the analytic start point.
ERLANG_METRICS = ("service_level", "abandon_rate", "mean_wait_min", "p_wait", "occupancy", "mean_queue")
HOURS = 24
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

#: A plan: agents per searched channel, a whole number or 24 hourly levels.
Plan = Mapping[str, Any]


class StaffingError(ValueError):
    """The search could not find a plan (a target out of reach, or the budget spent)."""


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


def erlang_start(scenario: Scenario, channels: Sequence[str], targets: Sequence[Target],
                 hourly: bool = False) -> dict[str, Any]:
    """The analytic start point: per channel, the fewest agents Erlang A/C says meet its own targets.

    The offered load of channel ``c`` is the arrival rate times
    ``JourneyChain(scenario).expected_contacts[c]`` (every contact served, so
    it ignores re-routing after abandonment), over the hours the channel is
    open. Channels without a target among :data:`ERLANG_METRICS` keep the
    scenario's staffing. With ``hourly``, each hour gets its own level (0 when
    the channel is closed or nothing arrives).

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> erlang_start(sc, ["phone"], [Target.parse("channels.phone.service_level>=0.8")])["phone"] > 0
    True
    """
    per_customer = JourneyChain(scenario).expected_contacts
    rates = np.asarray(scenario.arrivals.rates_per_minute())
    start: dict[str, Any] = {}
    for name in channels:
        spec = scenario.channel(name)
        own = [t for t in targets if t.channel == name and t.metric in ERLANG_METRICS]
        if not own:
            start[name] = _current(spec, hourly)
            continue
        open_hours = np.array([spec.is_open(h * 60.0 + 30.0) for h in range(HOURS)])
        contact_rates = rates * per_customer[name]
        if hourly:
            start[name] = tuple(_erlang_agents(spec, contact_rates[h], own) if open_hours[h] else 0
                                for h in range(HOURS))
        else:
            start[name] = max(1, _erlang_agents(spec, float(contact_rates[open_hours].mean()), own))
    return start


def _current(spec: Channel, hourly: bool) -> Any:
    """A channel's staffing in the scenario, as a fixed level or as 24 hourly levels."""
    if hourly:
        return tuple(spec.agents_in_hour(h) for h in range(HOURS))
    return spec.agents if isinstance(spec.agents, int) else max(spec.agents)


def _erlang_agents(spec: Channel, rate: float, targets: Sequence[Target], limit: int = 100_000) -> int:
    """Fewest agents whose Erlang A (or C) figures meet ``targets`` at ``rate`` contacts per minute.

    The figures are monotone in agents, so the targets more agents help are
    bracketed by doubling and then bisected; the others (e.g. ``occupancy >=``)
    can then only hold at that level or not at all.
    """
    if rate <= 0:
        return 0

    def meets(agents: int, group: Sequence[Target]) -> bool:
        if spec.patience is not None and not spec.is_async:
            figures = erlang_a(rate, spec.handle_time.mean, agents, spec.patience.mean, spec.service_level_seconds)
        else:
            figures = erlang_c(rate, spec.handle_time.mean, agents, spec.service_level_seconds)
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


def network_start(scenario: Scenario, channels: Sequence[str], targets: Sequence[Target],
                  hourly: bool = False, *, max_agents: int = 10_000,
                  max_approximations: int = MAX_APPROXIMATIONS) -> dict[str, Any]:
    """The default start point: Erlang A/C, then agents added until the network approximation meets every target.

    Starts from :func:`erlang_start` and judges each plan with
    :func:`simulator.network.approximate`, which follows customers who give
    up on one channel into the next and gives every figure, network-wide ones
    such as ``give_up_rate`` included. While a target is missed:

    * with ``hourly``, every open hour whose own channel target fails (by
      ``approx.hourly``) gets one more agent;
    * otherwise each searched channel is tried with one more agent (with
      ``hourly``, in each open hour losing at least half as many contacts
      to abandonment as its worst hour), and the one that cuts the total
      relative shortfall the most per unit of cost is kept.

    It stops when every target is met, when one more agent cuts the total
    shortfall by less than :data:`PLATEAU` of it (a target the approximation
    cannot reach by staffing), after ``max_approximations`` approximations or
    past ``max_agents``; the simulation in :func:`staff` then confirms and
    adjusts whatever it gives.

    Parameters
    ----------
    scenario, channels, targets, hourly
        As for :func:`erlang_start`.
    max_agents
        No channel (or hour) is taken past this many agents.
    max_approximations
        The most plans approximated (each takes a fraction of a second).

    Returns
    -------
    dict
        Agents per channel in ``channels``: a whole number, or 24 hourly levels with ``hourly``.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> targets = [Target.parse("channels.phone.service_level>=0.8"), Target.parse("give_up_rate<=0.06")]
    >>> erlang = erlang_start(sc, ["phone", "chat"], targets)
    >>> network = network_start(sc, ["phone", "chat"], targets)
    >>> network["phone"] > erlang["phone"]  # re-routed customers load the phone
    True
    """
    targets = list(targets)
    goal = _Approximation(scenario, targets, list(channels), hourly)
    plan = _start_levels(scenario, goal.channels, erlang_start(scenario, goal.channels, targets, hourly), hourly)
    while len(goal.cache) < max_approximations:
        current = goal.evaluate([plan])[0]
        if current.met:
            break
        failing = current.failing_units() if hourly else set()
        if failing:
            following = _with_each(plan, failing, 1)
        elif len(goal.cache) + len(goal.channels) > max_approximations:
            break
        else:
            following = _best_addition(goal, plan, current, _Evaluation.shortfall, spread=True)
        if current.shortfall() - goal.evaluate([following])[0].shortfall() <= PLATEAU * current.shortfall():
            break  # more agents hardly help, by the approximation: leave the rest to the simulation
        if any(_level(following, u) > max_agents for u in _units(goal, following)):
            break
        plan = following
    return plan


def _start_levels(scenario: Scenario, channels: Sequence[str], plan: Plan, hourly: bool) -> dict[str, Any]:
    """A start plan as the search holds it: every searched channel, as an int or 24 ints."""
    levels = {c: _as_level(v, hourly) for c, v in plan.items() if c in channels}
    for name in channels:
        levels.setdefault(name, _current(scenario.channel(name), hourly))
    return levels


def _as_level(value: Any, hourly: bool) -> Any:
    """A start level as the search holds it: an int, or 24 ints with ``hourly``."""
    if not hourly:
        return int(value)
    if isinstance(value, (int, np.integer)):
        return (int(value),) * HOURS
    return tuple(int(x) for x in value)


#: What each start point is, in words (the ``start`` column's caption in ``contactflow staff``).
START_METHODS: dict[Callable[..., Plan], str] = {
    network_start: "Erlang A/C on each channel's offered load (the scenario's staffing for a channel with no "
                   "target of its own), then agents added, the cheapest improvement per unit of cost first, "
                   "until the network approximation (simulator.network) meets every target",
    erlang_start: "Erlang A/C on each channel's offered load, or the scenario's staffing for a channel "
                  "with no target of its own",
}


# --------------------------------------------------------------------------- evaluation


def _stat(figures: Result | NetworkApproximation, key: str) -> Mapping[str, float]:
    """A figure's mean and CI; an approximation's value is its own (zero-width) interval."""
    if isinstance(figures, NetworkApproximation):
        value = figures.value(key)
        return {"mean": value, "ci_low": value, "ci_high": value}
    return figures.stat(key)


def _hourly_stats(figures: Result | NetworkApproximation) -> pd.DataFrame:
    """Figures by (channel, hour, metric) with columns mean, ci_low, ci_high."""
    if isinstance(figures, NetworkApproximation):
        value = figures.hourly["value"]
        return pd.DataFrame({"mean": value, "ci_low": value, "ci_high": value})
    return figures.hourly  # a Result summarises it on first use


@dataclass
class _Evaluation:
    """One plan, simulated or approximated, and how it stands against the targets."""

    plan: dict[str, Any]
    result: Result | NetworkApproximation
    checks: pd.DataFrame  # target, channel, hour, mean, ci_low, ci_high, met, confident, judged, margin

    @property
    def met(self) -> bool:
        """Every target met where it can be judged (an hour with no contacts cannot)."""
        return bool(self.checks["met"][self.checks["judged"]].all())

    def failing_units(self) -> set[tuple[str, int | None]]:
        """(channel, hour) of channel targets that fail (hour None for a fixed level)."""
        return _units_of(self.checks[~self.checks["met"] & self.checks["judged"] & self.checks["channel"].notna()])

    def unjudged_units(self) -> set[tuple[str, int | None]]:
        """(channel, hour) of open hours with no contacts: their targets cannot be judged."""
        return _units_of(self.checks[~self.checks["judged"] & self.checks["channel"].notna()])

    def shortfall(self) -> float:
        """Total relative shortfall over every target (and hour) missed."""
        return float((-self.checks["margin"]).clip(lower=0).sum())

    def network_shortfall(self) -> float:
        """Total relative shortfall of the targets not tied to one searched channel (or hour)."""
        rows = self.checks[self.checks["channel"].isna()]
        return float((-rows["margin"]).clip(lower=0).sum())

    def slack(self) -> float:
        """The smallest relative margin over the targets: how comfortably the plan meets them."""
        return float(self.checks["margin"].min())

    @cached_property
    def hourly(self) -> pd.DataFrame:
        return _hourly_stats(self.result)  # computed on first use, then kept

    def hourly_mean(self, channel: str, hour: int, metric: str) -> float:
        value = self.hourly.loc[(channel, hour, metric), "mean"]
        return 0.0 if math.isnan(value) else float(value)


def _units_of(rows: pd.DataFrame) -> set[tuple[str, int | None]]:
    return {(c, None if pd.isna(h) else int(h)) for c, h in zip(rows["channel"], rows["hour"])}


class _Goal:
    """What a search aims at: the scenario, its targets, and the channels (and hours) it may staff."""

    def __init__(self, scenario: Scenario, targets: list[Target], channels: list[str], hourly: bool):
        self.scenario = scenario
        self.targets = targets
        self.channels = channels
        self.hourly = hourly
        # a channel target is checked hour by hour when searching hourly and the metric is hourly
        self.per_hour = {t.key for t in targets
                         if hourly and t.channel in channels and t.metric in HOURLY_METRICS}

    @staticmethod
    def key(plan: Plan) -> tuple:
        return tuple(sorted(plan.items()))

    def scenario_for(self, plan: Plan) -> Scenario:
        changes = {f"channels.{c}.agents": list(v) if isinstance(v, tuple) else v for c, v in plan.items()}
        return self.scenario.with_changes(changes)

    def checks(self, figures: Result | NetworkApproximation) -> pd.DataFrame:
        """One row per target (and open hour, for a target checked hour by hour)."""
        rows = []
        hourly = _hourly_stats(figures) if self.per_hour else None
        for target in self.targets:
            if target.key in self.per_hour:
                spec = self.scenario.channel(target.channel)
                for hour in range(HOURS):
                    if not spec.is_open(hour * 60.0 + 30.0):
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
        # the unit to act on when the target fails: its channel (and hour), if searched
        own = target.channel in self.channels and (hour is not None or not self.hourly)
        worst = low if target.op in (">=", ">") else high
        return {"target": str(target), "channel": target.channel if own else None, "hour": hour,
                "mean": mean, "ci_low": low, "ci_high": high, "met": judged and target.met(mean),
                "confident": judged and (target.met(worst) if not math.isnan(worst) else target.met(mean)),
                "judged": judged, "margin": target.margin(mean) if judged else math.nan}


class _Search(_Goal):
    """One simulated search: the goal, the executor and every plan simulated."""

    def __init__(self, scenario: Scenario, targets: list[Target], channels: list[str], hourly: bool,
                 replications: int, seed: int, executor: Executor, max_evaluations: int,
                 progress: Callable[[int, int], None] | None, force: bool = False):
        super().__init__(scenario, targets, channels, hourly)
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
            raise StaffingError(f"the search needed more than {self.max_evaluations} simulated plans; "
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

    def __init__(self, scenario: Scenario, targets: list[Target], channels: list[str], hourly: bool):
        super().__init__(scenario, targets, channels, hourly)
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
    """The plan with ``delta`` agents added to a channel (or to one hour of its shift plan)."""
    channel, hour = unit
    changed = dict(plan)
    if hour is None:
        changed[channel] = plan[channel] + delta
    else:
        levels = list(plan[channel])
        levels[hour] += delta
        changed[channel] = tuple(levels)
    return changed


def _with_each(plan: Plan, units: Iterable[tuple[str, int | None]], delta: int) -> dict[str, Any]:
    """The plan with ``delta`` agents added to each of the units."""
    changed = dict(plan)
    for unit in units:
        changed = _with(changed, unit, delta)
    return changed


def _level(plan: Plan, unit: tuple[str, int | None]) -> int:
    channel, hour = unit
    return plan[channel] if hour is None else plan[channel][hour]


def _agent_hours(plan: Plan) -> dict[str, float]:
    return {c: float(sum(v)) if isinstance(v, tuple) else 24.0 * v for c, v in plan.items()}


# --------------------------------------------------------------------------- the result


@dataclass
class StaffingPlan:
    """The outcome of :func:`staff`.

    Attributes
    ----------
    agents
        Per searched channel: the agents (a whole number, or 24 hourly levels with ``hourly``).
    start
        The start point the search began from (:func:`network_start` by default).
    scenario
        The scenario with ``agents`` in place.
    result
        The simulation of that scenario that confirmed it (all figures, with CIs).
    checks
        One row per target (and hour, for hourly targets): ``target, channel,
        hour, mean, ci_low, ci_high, met, confident, judged`` (``confident``:
        the whole CI meets the target; ``judged``: false for an open hour with
        no contact in any replication, which is neither met nor trimmed).
    agent_hours_per_day, cost_per_day
        Paid agent hours per channel and day, and their cost at
        ``cost_per_agent_hour`` (agents on shift are paid even when idle).
    evaluations
        Distinct plans simulated.
    start_method
        What ``start`` is, in words (see :data:`START_METHODS`).
    """

    agents: dict[str, Any]
    start: dict[str, Any]
    scenario: Scenario
    result: Result
    checks: pd.DataFrame
    evaluations: int
    targets: list[Target] = field(default_factory=list)
    start_method: str = ""

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
        for channel, hour in sorted(_units_of(self.checks[~self.checks["judged"]])):
            hours.setdefault(channel, []).append(hour)
        return hours

    @property
    def agent_hours_per_day(self) -> dict[str, float]:
        return _agent_hours(self.agents)

    @property
    def cost_per_day(self) -> float:
        return sum(self.scenario.channel(c).cost_per_agent_hour * h for c, h in self.agent_hours_per_day.items())

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (undefined numbers as None)."""
        return plain({
            "scenario": self.scenario.name,
            "agents": self.agents,
            "start": self.start,
            "start_method": self.start_method,
            "met": self.met,
            "agent_hours_per_day": self.agent_hours_per_day,
            "cost_per_day": self.cost_per_day,
            **{k: v for k, v in self.result.run_info.to_dict().items() if k != "scenario"},  # each plan's run
            "evaluations": self.evaluations,
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
    """The fewest agents per channel (or per channel and hour) that meet every target.

    Parameters
    ----------
    scenario
        The network to staff.
    targets
        Strings like ``"channels.phone.service_level>=0.8"``,
        ``"give_up_rate<=0.03"`` (a ``%`` suffix works too), or :class:`Target`.
        Any figure works (see :func:`simulator.precision.figure_index`).
    channels
        Channels whose staffing is searched (staffed ones only). Default: the
        channels named by channel targets, or every staffed channel when a
        target is network-wide (e.g. ``give_up_rate``). Others keep their staffing.
    hourly
        Search 24 hourly levels per channel (a shift plan); channel targets on
        an hourly metric (``service_level``, ``abandon_rate``,
        ``mean_wait_min``, ``occupancy``, ``mean_queue``) must then hold in
        every open hour. It needs at least one whole day simulated after the
        warm-up, so that every hour is seen; an open hour where no contact
        arrives in any replication cannot be judged: it keeps its start level
        and the plan lists it (:attr:`StaffingPlan.unjudged_hours`).
    replications, seed, days
        How each candidate plan is simulated (defaults: the scenario's
        ``[run]``); every plan uses the same seed.
    start
        A plan ``{channel: agents}`` to start from, or a function called like
        :func:`erlang_start` returning one. Default: :func:`network_start`
        (Erlang A/C, then adjusted by the network approximation); pass
        ``start=erlang_start`` for Erlang A/C per channel alone.
    workers, dask
        Where replications run; the numbers do not depend on it.
    progress
        Called as ``progress(finished, planned)`` in replications.
    max_agents
        No channel (or hour) may need more; the search fails past it.
    max_evaluations
        The most distinct plans to simulate.
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
        out; at once when even ample agents leave a target clearly missed by the
        network approximation (e.g. a ``give_up_rate`` below the give-ups that
        unresolved contacts cause with no queue at all).
    KeyError, ValueError
        For an unknown figure or channel, or a malformed target.
    """
    targets = [t if isinstance(t, Target) else Target.parse(t) for t in targets]
    if not targets:
        raise ValueError("staff needs at least one target, e.g. channels.phone.service_level>=0.8")
    if days is not None:
        scenario = scenario.with_changes({"run.days": days})
    for target in targets:
        check_figure(target.key, scenario)
    channels = channels_to_staff(scenario, targets, channels)
    if hourly and scenario.run.days < 1:
        raise ValueError(f"hourly staffing needs at least one whole day simulated after the warm-up, so that "
                         f"every hour is judged (run.days is {scenario.run.days:g}): use days=1 or more")
    replications = scenario.run.replications if replications is None else int(replications)
    seed = scenario.run.seed if seed is None else int(seed)

    _check_reachable(scenario, channels, targets, hourly)
    if start is None:
        first = network_start(scenario, channels, targets, hourly, max_agents=max_agents)
        start_method = START_METHODS[network_start]
    elif callable(start):
        first = start(scenario, channels, targets, hourly)
        start_method = START_METHODS.get(start, f"{getattr(start, '__name__', 'start')}() (start=)")
    else:
        first, start_method = dict(start), "the plan given (start=)"
    first = _start_levels(scenario, channels, first, hourly)
    # the search simulates at most one plan per staffed channel at once
    with make_executor(workers, dask, tasks=replications * len(channels)) as executor:
        search = _Search(scenario, targets, channels, hourly, replications, seed, executor,
                         max_evaluations, progress, force)
        plan = _reach_targets(search, first, max_agents)
        plan = _trim_hourly(search, plan) if hourly else _trim(search, plan)
        final = search.evaluate([plan])[0]
    return StaffingPlan(dict(plan), first, search.scenario_for(plan), final.result,
                        final.checks.drop(columns=["margin"]), len(search.cache), targets, start_method)


def channels_to_staff(scenario: Scenario, targets: Sequence[Target], channels: Sequence[str] | None = None,
                      option: str = "channels=[...]") -> list[str]:
    """The channels :func:`staff` sizes: ``channels``, or by default those the targets name (every
    staffed channel when a target is network-wide).

    Raises KeyError or ValueError for an unknown or self-service channel, or
    when there is none to staff; the message tells to name channels with
    ``option`` (the argument as the caller knows it, e.g. ``--channels NAME,NAME``).

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> channels_to_staff(sc, [Target.parse("channels.phone.service_level>=0.8")])
    ['phone']
    >>> channels_to_staff(sc, [Target.parse("give_up_rate<=0.06")])
    ['email', 'chat', 'phone']
    """
    staffed = [c.name for c in scenario.channels if not c.unlimited]
    if channels is None:
        named = [t.channel for t in targets if t.channel is not None]
        network = any(t.channel is None for t in targets)
        channels = staffed if network else [c for c in staffed if c in named]
    channels = list(dict.fromkeys(channels))
    for name in channels:
        if name not in scenario.channel_names:
            raise KeyError(f"no channel {name!r} to staff (channels: {', '.join(scenario.channel_names)})")
        if name not in staffed:
            raise ValueError(f"channel {name!r} is self-service (agents = \"unlimited\"); it has no staff to size")
    if not channels:
        raise ValueError(f"no channel to staff: name one with {option} or give a channels.NAME.* target "
                         f"(staffed channels: {', '.join(staffed) or 'none'})")
    return channels


def _check_reachable(scenario: Scenario, channels: list[str], targets: list[Target], hourly: bool) -> None:
    """Fail early when ample agents leave a target clearly missed, by the network approximation.

    Ample: three times each searched channel's peak offered load (from the
    journey chain) plus ten, in every hour. Only targets that more agents
    help are judged; a miss within :data:`UNREACHABLE_MARGIN` is left to the
    simulation, the reference.
    """
    judged = [t for t in targets if t.helped_by_agents]
    if not judged:
        return
    per_customer = JourneyChain(scenario).expected_contacts
    peak = max(scenario.arrivals.rates_per_minute())
    ample = {c: _as_level(math.ceil(3 * peak * per_customer[c] * scenario.channel(c).handle_time.mean) + 10, hourly)
             for c in channels}
    checks = _Approximation(scenario, judged, channels, hourly).evaluate([ample])[0].checks
    values = checks["target"].map({str(t): t.value for t in judged})
    missed = checks[(checks["margin"] < -UNREACHABLE_MARGIN) & ((checks["mean"] - values).abs() > 1e-6)]
    if missed.empty:
        return
    row = missed.loc[missed["margin"].idxmin()]
    metric = row["target"].split()[0].split(".")[-1]
    when = "" if pd.isna(row["hour"]) else f" at {int(row['hour']):02d}:00"
    levels = ", ".join(f"{c} {v if isinstance(v, int) else max(v)}" for c, v in ample.items())
    raise StaffingError(f"{row['target']} cannot be met by staffing {', '.join(channels)}: even with ample agents "
                        f"({levels}) the network approximation puts it at about "
                        f"{format_value(row['mean'], metric)}{when}; what is left does not come from queues "
                        "(e.g. customers who give up after unresolved contacts, closed hours, other channels)")


def _units(search: _Goal, plan: Plan) -> list[tuple[str, int | None]]:
    if not search.hourly:
        return [(c, None) for c in search.channels]
    return [(c, h) for c in search.channels for h in range(HOURS)
            if search.scenario.channel(c).is_open(h * 60.0 + 30.0)]


def _minimum(search: _Goal, unit: tuple[str, int | None], plan: Plan) -> int:
    """Fewest agents a unit may have: 1 for a fixed level; 0 for an hour, keeping one hour staffed."""
    channel, hour = unit
    if hour is None:
        return 1
    others = sum(plan[channel]) - plan[channel][hour]
    return 0 if others > 0 else 1


def _cost(search: _Goal, unit: tuple[str, int | None]) -> float:
    """Cost of one more agent in a unit (agent hours when the channel has no hourly cost)."""
    rate = search.scenario.channel(unit[0]).cost_per_agent_hour or 1.0
    return rate * (24.0 if unit[1] is None else 1.0)


def _reach_targets(search: _Search, plan: dict[str, Any], max_agents: int) -> dict[str, Any]:
    """Add agents until every target is met."""
    steps: dict[tuple, int] = {}
    while True:
        current = search.evaluate([plan])[0]
        if current.met:
            return plan
        failing = {u for u in current.failing_units() if u[0] in search.channels}
        if failing:
            for unit in failing:
                step = steps.get(unit, 1)
                plan = _with(plan, unit, step)
                steps[unit] = step if search.hourly else 2 * step  # widen the bracket while it keeps failing
        else:
            plan = _best_addition(search, plan, current)
        over = [u for u in _units(search, plan) if _level(plan, u) > max_agents]
        if over:
            where = ", ".join(c if h is None else f"{c} at {h}:00" for c, h in over)
            raise StaffingError(f"no staffing up to {max_agents} agents meets the targets ({where})")


def _addition_candidates(search: _Goal, plan: Plan, current: _Evaluation,
                         spread: bool = False) -> list[list[tuple[str, int | None]]]:
    """Where one more agent may help a network-wide target, per searched channel: the channel, or
    with hourly its hour losing the most contacts to abandonment (else with the longest queue) --
    with ``spread``, every open hour losing at least half as many as that one."""
    if not search.hourly:
        return [[(channel, None)] for channel in search.channels]
    candidates = []
    for channel in search.channels:
        open_hours = [h for c, h in _units(search, plan) if c == channel]
        score = np.array([current.hourly_mean(channel, h, "abandon_rate") * current.hourly_mean(channel, h, "contacts")
                          + 1e-9 * current.hourly_mean(channel, h, "mean_queue") for h in open_hours])
        hours = [h for h, x in zip(open_hours, score) if x >= score.max() / 2] if spread else \
            [open_hours[int(np.argmax(score))]]
        candidates.append([(channel, h) for h in hours])
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


def _trim(search: _Search, plan: dict[str, Any]) -> dict[str, Any]:
    """Remove agents one at a time, the biggest saving first, while every target holds."""
    while True:
        units = [u for u in _units(search, plan) if _level(plan, u) > _minimum(search, u, plan)]
        if not units:
            return plan
        trials = search.evaluate([_with(plan, u, -1) for u in units])
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
        units.sort(key=lambda u: current.hourly_mean(u[0], u[1], "occupancy"))
        chosen = units[:batch or len(units)]
        trial = dict(plan)
        for unit in chosen:
            if _level(trial, unit) > _minimum(search, unit, trial):
                trial = _with(trial, unit, -1)
        evaluation = search.evaluate([trial])[0]
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
