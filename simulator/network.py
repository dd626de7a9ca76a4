"""The network approximation: every KPI of a scenario without simulating it, with its weak spots named.

The simulation is the reference; this is the planner's quick estimate of the
same figures (:func:`approximate`): a few hundredths of a second for a
scenario of one day, a few seconds for a week of agent groups shared by
several channels, whose pools of channels iterate a fixed point of their own.
It couples two pieces through a fixed point:

1. **Routing** — the journey chain with, per channel, the *served share*
   ``s_i`` (contacts answered by an agent or self-service) and the *closed
   share* ``k_i`` (contacts that find it closed) gives the expected contacts
   per customer ``E_i`` in every channel, and every journey KPI and the
   before/after-the-call tables. When anything depends on the hour (an
   arrival profile, a shift plan, opening hours) the chain is
   :class:`~simulator.analytic.HourlyJourneyChain`: its state is (channel,
   hour of the scenario's period — of the day, or of the week from Monday
   0:00 when a profile or a shift plan has 168 values), shares are per hour,
   and the next contact falls in a later hour according to the contact's
   mean duration and the retry delay's distribution, so a customer who finds
   the call centre closed at 21:00 and retries finds it closed again.
   Otherwise it has one slot and is exactly
   :class:`~simulator.analytic.JourneyChain`.
2. **Queues** — channel ``i`` is offered ``Lambda E_i(h)`` contacts per
   minute in hour ``h`` (traffic equations). Staffed channels are grouped in
   *pools* with the agent groups whose skills connect them
   (:mod:`simulator.pools`, which states each method in full):

   * a channel with its own agents (or groups that answer only it) is, hour
     by hour, a birth-death chain: Erlang A (M/M/c+M) with its patience's
     mean, M/M/(c k)+M on the slots with ``concurrency = k``, with a
     state-dependent completion rate under ``concurrency_slowdown``, and with
     a thinner queue beyond the call-back offer threshold — evaluated as if
     each hour were in steady state (the pointwise-stationary approximation);
   * an asynchronous channel (email), or a live one whose customers never
     hang up, keeps all its work: a fluid backlog simulated minute by minute
     from an empty start over the run's window (so a night's messages wait
     for the morning), plus Erlang C's random wait where no backlog builds
     up. A customer waiting for an email reply gives up when their
     (exponential) patience ends before wait + handle time:
     ``P(abandon) = 1 - E[exp(-theta (W + S))]``, computed with the
     handle-time distribution's Laplace transform;
   * channels sharing agent groups: the probability of waiting is Erlang C
     for every agent that may answer the channel and all the load they
     carry; once waiting, the contact is taken at Cobham's rate for
     non-preemptive priorities, generalised to several groups and per-class
     handle times (exact for one group and one exponential handle time:
     equal priorities pool into one Erlang C queue, different ones give
     Cobham's waits); no channel gets more through than the agents the
     work ranked above it leaves (in overload its callers hang up until
     it does), and asynchronous channels work a backlog off at that
     capacity; a ``reserve`` of ``r`` keeps ``r`` agents idle while the
     work above leaves them; call backs are a class just below their
     channel's live contacts. Which group carries how much of each channel
     is itself a fixed point (the best-priority groups answer arrivals
     first; none beyond its agents);
   * self-service has no queue: served share 1.

   Agents on duty are the scheduled ones less ``shrinkage`` (rounded, as in
   the simulation); costs count every paid hour. The closed share of a
   channel with ``open_hours`` is the closed part of each hour.

3. **Fixed point** — ``s_i = (1 - k_i)(1 - abandon_i)`` (per hour when the
   chain has hours); the chain is solved again with the new shares, and so
   on (damped, with Anderson acceleration) until no share moves by more
   than ``tolerance``. Callers who
   hang up and call the same channel back come while its queue is still
   long: for a channel with its own agents, one contact at a time and no
   call-back offers, those who find the queue as they left it count as if
   they had kept waiting (:func:`~simulator.pools.erlang_a_with_callbacks`),
   the others as fresh arrivals; elsewhere all are fresh arrivals.

Where the approximation is weak (non-exponential times, shift plans and
arrival profiles, opening hours, asynchronous channels, shared groups,
reserves, concurrency with slowdown, call backs, day-to-day variation of
demand, overloaded hours, retry delays), :attr:`NetworkApproximation.weaknesses`
says so for the scenario at hand rather than hiding it. A channel is
overloaded in an hour when its offered load reaches the agents it can have
there, or, for one that keeps its work (email), when its backlog grows;
:func:`quick_overload_notes` applies that rule to the loads before the fixed
point, for ``run``'s warning.

Examples
--------
>>> import simulator as sim
>>> approx = approximate(sim.load_scenario("bank_app_first"))
>>> approx.converged
True
>>> 0.6 < approx.value("avoidable_call_share") < 0.8
True
>>> list(approx.kpis.columns)
['value']
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .analytic import HourlyJourneyChain
from .distributions import Exponential
from .figures import (CHANNEL_METRICS, DAY_NAMES, GROUP_METRICS, HOURLY_GROUP_METRICS, HOURLY_METRICS, KPI_NAMES,
                      WEEK_HOURS, figure_index)
from .json_data import dumps, plain
from .pools import (POOL_TOLERANCE, ChannelQueue, Pool, Timeline, build_pools, laplace_transform, quantile_nodes,
                    redials_folded)

if TYPE_CHECKING:  # the theory reads a scenario it is given; the scenario imports it (its derived warm-up)
    from .scenario import Scenario

__all__ = ["NetworkApproximation", "approximate", "laplace_transform", "quick_overload_notes"]

#: How far a handle-time cv may be from 1 before it is called "far from exponential".
CV_SLACK = 0.25
#: Iterations of the fixed point without halving its best step before it stops (not converged).
STAGNATION = 20
#: Earlier steps the fixed point's Anderson acceleration combines.
ANDERSON_DEPTH = 5
#: How far Anderson's extrapolation may leave the shares' range and be projected back into it
#: (beyond, the step is a plain damped one and the history starts afresh).
OUTSIDE_SLACK = 1e-3
#: Rounds of the journeys and the agents' fluid capacities in the quick overload check.
QUICK_ROUNDS = 3
#: Steps of a shared pool's own fixed point per step of the network's (both then settle together).
POOL_STEPS = 5


def _hours_text(hours, period: int = 24) -> str:
    """Hours of the period as runs: ``08-10h, 14h``, or ``Mon 08-18h, ...`` for a week.

    Examples
    --------
    >>> _hours_text([8, 9, 14])
    '08-10h, 14h'
    >>> _hours_text([8, 9, 32], 168)
    'Mon 08-10h, Tue 08h'
    """
    hours = sorted(int(h) for h in hours)
    runs, start = [], None
    for i, h in enumerate(hours):
        if start is None:
            start = h
        if i + 1 == len(hours) or hours[i + 1] != h + 1 or (period == WEEK_HOURS and (h + 1) % 24 == 0):
            day = f"{DAY_NAMES[start // 24]} " if period == WEEK_HOURS else ""
            first, last = start % 24, h % 24
            runs.append(f"{day}{first:02d}-{last + 1:02d}h" if h > start else f"{day}{first:02d}h")
            start = None
    return ", ".join(runs)


def quick_overload_notes(scenario: Scenario) -> list[str]:
    """One sentence per channel overloaded at the loads the journeys bring before anyone hangs up:
    the check ``run`` makes before simulating, in a fraction of :func:`approximate`'s time.

    The loads are those of the first step of the fixed point (every contact answered when its
    channel is open); each pool of channels checks them against its agents without its queues
    (:meth:`~simulator.pools.Pool.overload`), by the rule :attr:`NetworkApproximation.overloaded_hours`
    follows at the fixed point.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("bank_app_first")
    >>> notes = quick_overload_notes(sc.with_changes({"channels.phone.agents": 5}))
    >>> [note for note in notes if note.startswith("phone")]  # doctest: +NORMALIZE_WHITESPACE
    ['phone: overloaded (offered load at or above the agents on duty, or a backlog not worked off
      within a day) in 07-22h']
    >>> [note for note in quick_overload_notes(sc) if note.startswith("phone")]
    []
    """
    network = _Network(scenario)
    closed = 1.0 - network.open_by_slot
    served, durations = network.open_by_slot.copy(), np.zeros_like(closed)
    for _ in range(QUICK_ROUNDS):
        chain = HourlyJourneyChain(scenario, served, closed, network.shift(durations), network.start)
        rates = network.contact_rates(chain)
        capacity = {}
        for pool in network.pools:
            capacity.update(pool.fluid_capacity(rates))
        served, durations = _fluid_shares(network, rates, capacity)
    hours = {}
    for pool in network.pools:
        hours.update(pool.overload(rates, capacity))
    return [_overload_sentence(c.name, hours[i], network.period) for i, c in enumerate(scenario.channels)
            if hours.get(i)]


def _fluid_shares(network: _Network, rates: np.ndarray, capacity: dict[int, np.ndarray]):
    """Served shares and contact durations by (channel, slot) when every live channel answers what its
    capacity allows and the rest hang up, and channels that keep their work answer it all."""
    served = np.array(network.open_by_slot, dtype=float)
    durations = np.zeros_like(served)
    for i, c in enumerate(network.scenario.channels):
        share = np.ones(network.period)
        if i in capacity and not (c.is_async or (c.patience is None and c.callback is None)):
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(rates[i] > 0, np.clip(capacity[i] / np.where(rates[i] > 0, rates[i], 1.0), 0.0, 1.0),
                                 1.0)
        share = _by_slot(network, share) if network.slots == 1 else share
        served[i] = network.open_by_slot[i] * share
        durations[i] = served[i] * c.handle_time.mean
    return served, durations


def _overload_sentence(channel: str, hours, period: int = 24) -> str:
    return (f"{channel}: overloaded (offered load at or above the agents on duty, or a backlog not worked off "
            f"within a day) in {_hours_text(hours, period)}")


class _Network:
    """What stays fixed while the fixed point iterates: rates, weights, pools."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.timeline = timeline = Timeline(scenario)
        self.period = period = timeline.period
        self.rates = timeline.per_hour(scenario.arrivals.rates_per_minute())  # new customers per minute, by hour
        self.window = timeline.window
        self.traffic = self.rates * self.window  # customers arriving in the window, by hour
        self.customers = float(self.traffic.sum())
        # the queues are those of the period repeating itself, whatever part of it the window covers: its
        # journeys start through the whole period (a window of one day of a weekly scenario is that day
        # of every week, not the week's customers arriving on that day)
        arrivals_by_hour = self.rates * 60.0
        self.customers_per_period = float(arrivals_by_hour.sum())
        profile = scenario.arrivals.hourly_profile
        timed = (profile is not None and len(set(profile)) > 1) or any(
            c.open_hours is not None for c in scenario.channels) or any(
            g.has_shift_plan and len(set(g.agents)) > 1 for g in scenario.groups)
        # one time slot when nothing depends on the hour, else one per hour of the period
        self.slots = period if timed else 1
        self.start = arrivals_by_hour / self.customers_per_period if timed else np.ones(1)
        # the journeys counted are those that start in the window: when it covers the hours of the period
        # unevenly (a day of a weekly scenario), their starts, not the period's, weight the journey figures
        window_start = self.traffic / self.customers if timed and self.customers > 0 else self.start
        self.window_start = None if np.allclose(window_start, self.start) else window_start
        self.open_by_slot = np.array([timeline.open[i] if timed else [timeline.open[i].mean()]
                                      for i in range(len(scenario.channels))])
        self.retry_nodes = [quantile_nodes(c.retry_delay, 100) if c.retry_delay is not None
                            else (np.zeros(1), np.ones(1)) for c in scenario.channels]
        self.pools: list[Pool] = build_pools(scenario, timeline)
        self.on_duty = np.array([[g.on_duty_in_hour(h) for h in range(period)] for g in scenario.groups],
                                dtype=float).reshape(len(scenario.groups), period)
        self.scheduled = np.array([[g.agents_in_hour(h) for h in range(period)] for g in scenario.groups],
                                  dtype=float).reshape(len(scenario.groups), period)

    def queue_figures(self, rates: np.ndarray, served: np.ndarray, steps: int | None = None,
                      service_level: bool = True) -> list[ChannelQueue]:
        """Every channel's queue figures when ``rates[i, h]`` contacts a minute reach channel ``i``
        in hour ``h`` of the period (closed ones included); self-service has none. ``served`` (the
        chain's served shares) says how many contacts are callbacks of a channel's own abandoners.
        Pools of shared groups take at most ``steps`` steps of their own fixed point (default: until
        it settles); their service levels are computed only with ``service_level``."""
        figures = [ChannelQueue() for _ in self.scenario.channels]
        abandon = self.abandonment(served)
        for pool in self.pools:
            for i, queue in pool.evaluate(rates, steps, abandon, service_level).items():
                figures[i] = queue
        return figures

    def abandonment(self, served: np.ndarray) -> np.ndarray:
        """Per channel and hour of the period, the share of open-hour contacts abandoned, from the
        chain's served shares ``(C, slots)``."""
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(self.open_by_slot > 0, 1.0 - served / np.where(self.open_by_slot > 0,
                                                                             self.open_by_slot, 1.0), 0.0)
        return np.broadcast_to(share, (len(share), self.period)) if self.slots == 1 else share

    @property
    def settled(self) -> bool:
        """Whether every pool of shared groups has reached its own fixed point."""
        return all(pool.residual < POOL_TOLERANCE for pool in self.pools)

    # -- the journeys: the chain, by hour of the period when the hour matters --

    def contact_rates(self, chain: HourlyJourneyChain) -> np.ndarray:
        """Contacts per minute reaching each channel in each hour of the period, shape ``(C, period)``."""
        per_slot = chain.contacts_by_slot  # contacts per customer, by (channel, slot)
        if self.slots == 1:
            return per_slot * self.rates[None, :]
        return per_slot * self.customers_per_period / 60.0

    def shift(self, durations: np.ndarray) -> np.ndarray:
        """``shift[i, h, g]``: the next contact after one in (channel i, hour h) falls in hour g.

        The contact starts at a uniform minute of hour ``h``, lasts its mean
        duration ``durations[i, h]``, then the channel's retry delay passes
        (integrated over its distribution): after ``d`` hours in all it falls
        ``floor(d)`` hours later with probability ``1 - frac(d)`` and one hour
        more otherwise (exact for the uniform start, and continuous in ``d``).
        """
        n = len(self.scenario.channels)
        if self.slots == 1:
            return np.ones((n, 1, 1))
        period = self.period
        out = np.zeros((n, period, period))
        hours = np.arange(period)
        for i in range(n):
            values, weights = self.retry_nodes[i]
            later = (durations[i][:, None] + values[None, :]) / 60.0  # (hour, node)
            whole = np.floor(later)
            frac = later - whole
            rows = []
            for step, share in ((whole, 1.0 - frac), (whole + 1.0, frac)):
                slot = ((hours[:, None] + step) % period).astype(int)
                rows.append((hours[:, None] * period + slot, share * weights[None, :]))
            index = np.concatenate([r.ravel() for r, _ in rows])
            weight = np.concatenate([w.ravel() for _, w in rows])
            out[i] = np.bincount(index, weights=weight, minlength=period * period).reshape(period, period)
        return out


# --------------------------------------------------------------------------- the result


@dataclass(frozen=True)
class NetworkApproximation:
    """Every figure the approximation defines, in tables shaped like :class:`~simulator.experiment.Result`.

    Attributes
    ----------
    scenario
        The scenario approximated.
    kpis
        One row per KPI (index ``kpi``), column ``value``; the KPIs of
        :data:`simulator.metrics.KPI_NAMES`, counts over the run's window.
    channels
        Indexed by ``(channel, metric)`` with the metrics of
        :data:`simulator.metrics.CHANNEL_METRICS` (and ``slot_occupancy``,
        ``callbacks_*`` where the simulation has them); column ``value``.
    groups
        Indexed by ``(group, metric)``: each agent group's ``agents`` on duty,
        ``agent_hours`` (paid), ``occupancy``, ``slot_occupancy``, ``cost`` and
        ``skill_share.CHANNEL``; a channel with its own agents is a group of
        its own name.
    before_call, after_call
        Indexed by channel (and ``give_up``, ``resolved``); column ``value``.
    hourly
        Indexed by ``(channel, hour, metric)``: contacts per day (per week
        for a weekly period) and the queue figures of each hour of the period.
    hourly_groups
        Indexed by ``(group, hour, metric)``: agents on duty, occupancy and
        slot occupancy by hour of the period.
    served_shares, closed_shares
        Per channel, the shares at the fixed point.
    iterations, converged
        How many fixed-point iterations ran and whether the shares settled
        within the tolerance.
    weaknesses
        Where this scenario strays from the approximation's assumptions, one
        sentence each.
    chain
        The :class:`~simulator.analytic.HourlyJourneyChain` at the fixed point
        (with one time slot when nothing in the scenario depends on the hour).
    """

    scenario: Scenario
    kpis: pd.DataFrame
    channels: pd.DataFrame
    before_call: pd.DataFrame
    after_call: pd.DataFrame
    hourly: pd.DataFrame = field(repr=False)
    served_shares: Mapping[str, float] = field(default_factory=dict)
    closed_shares: Mapping[str, float] = field(default_factory=dict)
    iterations: int = 0
    converged: bool = True
    weaknesses: tuple[str, ...] = ()
    chain: HourlyJourneyChain | None = field(default=None, repr=False)
    groups: pd.DataFrame = field(default=None, repr=False)
    hourly_groups: pd.DataFrame = field(default=None, repr=False)
    overloaded_hours: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    fixed_point: _FixedPoint | None = field(default=None, repr=False, compare=False)

    def overload_notes(self) -> list[str]:
        """One sentence per overloaded channel (offered load at or above the agents on duty, or a
        backlog not worked off within a day), naming its hours: what ``analyze`` lists among the weak
        spots and ``run`` warns about.

        Examples
        --------
        >>> import simulator as sim
        >>> sc = sim.load_scenario("bank_app_first")
        >>> notes = approximate(sc.with_changes({"channels.phone.agents": 5})).overload_notes()
        >>> [note for note in notes if note.startswith("phone")]  # doctest: +NORMALIZE_WHITESPACE
        ['phone: overloaded (offered load at or above the agents on duty, or a backlog not worked off
          within a day) in 07-22h']
        >>> [note for note in approximate(sc).overload_notes() if note.startswith("phone")]
        []
        """
        period = self.scenario.period_hours
        return [_overload_sentence(name, hours, period) for name, hours in self.overloaded_hours.items() if hours]

    def value(self, key: str) -> float:
        """One figure, named like ``give_up_rate``, ``channels.phone.abandon_rate``,
        ``groups.desk.occupancy`` or ``before_call.email``.

        Examples
        --------
        >>> import simulator as sim
        >>> approx = approximate(sim.load_scenario("nice_bcg_2016"))
        >>> 0 < approx.value("channels.phone.abandon_rate") < 0.2
        True
        """
        table, channel, metric = figure_index(key)
        frames = {"kpis": self.kpis, "channels": self.channels, "groups": self.groups,
                  "before_call": self.before_call, "after_call": self.after_call}
        index = metric if table == "kpis" else (channel, metric) if table in ("channels", "groups") else channel
        try:
            return float(frames[table].loc[index, "value"])
        except KeyError:
            raise KeyError(f"no figure {key!r} in the approximation of {self.scenario.name}") from None

    def __repr__(self) -> str:
        """One line: the scenario and how the fixed point went; the figures are attributes."""
        state = f"converged in {self.iterations} iterations" if self.converged else \
            f"NOT converged after {self.iterations} iterations"
        return (f"NetworkApproximation({self.scenario.name}: {state}; {len(self.weaknesses)} weak spot(s); "
                "see .kpis, .channels, .groups, .before_call, .after_call, .weaknesses)")

    def to_dict(self) -> dict[str, Any]:
        """The approximation as plain data (non-finite numbers as None)."""
        def nested(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
            out: dict[str, dict[str, float]] = {}
            for (name, metric), v in frame["value"].items():
                out.setdefault(name, {})[metric] = v
            return out

        return plain({
            "scenario": self.scenario.name,
            "iterations": self.iterations,
            "converged": self.converged,
            "served_shares": dict(self.served_shares),
            "closed_shares": dict(self.closed_shares),
            "kpis": dict(self.kpis["value"]),
            "channels": nested(self.channels),
            "groups": nested(self.groups),
            "before_call": dict(self.before_call["value"]),
            "after_call": dict(self.after_call["value"]),
            "weaknesses": list(self.weaknesses),
        })

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON."""
        return dumps(self.to_dict(), indent=indent)


@dataclass(frozen=True)
class _FixedPoint:
    """Where an approximation's fixed point ended: the start of a related scenario's (``approximate(start=)``)."""

    served: np.ndarray  # (C, slots)
    durations: np.ndarray  # (C, slots)
    pools: Mapping[tuple, tuple]  # a shared pool's key -> its state

    def fits(self, network: _Network) -> bool:
        return self.served.shape == (len(network.scenario.channels), network.slots) and bool(
            np.all(self.served <= network.open_by_slot + 1e-12))


def approximate(scenario: Scenario, *, damping: float = 0.5, tolerance: float = 1e-9,
                max_iterations: int = 500, start: NetworkApproximation | None = None) -> NetworkApproximation:
    """Approximate every KPI of a scenario without simulating it.

    Parameters
    ----------
    scenario
        A validated scenario.
    damping
        Weight of the new served shares at each step (0 < damping <= 1):
        ``s <- (1 - damping) s + damping s_new``.
    tolerance
        Stop when no served share moves by more than this.
    max_iterations
        Give up iterating after this many steps, or after :data:`STAGNATION`
        steps that do not halve the largest change so far (``converged`` is
        then False and a weakness says so).
    start
        The approximation of a scenario alike but for its routing, rates or
        staffing (same channels, groups and hours): the fixed point starts
        where that one's ended (served shares, contact durations, the shared
        pools' busy agents) instead of from every contact served, so a
        calibration's or a staffing search's next approximation takes a few
        iterations instead of dozens. The result is the same fixed point,
        within ``tolerance``; a start that does not fit is ignored.

    Returns
    -------
    NetworkApproximation

    Examples
    --------
    >>> import simulator as sim
    >>> approx = approximate(sim.load_scenario("bank_app_first"))
    >>> approx.converged, approx.iterations < 100
    (True, True)
    >>> bool(approx.weaknesses)  # a shift plan, an async channel, lognormal handle times...
    True
    >>> busier = approximate(sim.load_scenario("bank_app_first").with_changes({"arrivals.per_hour": 310}),
    ...                      start=approx)
    >>> busier.converged, busier.iterations < approx.iterations
    (True, True)
    """
    if not 0.0 < damping <= 1.0:
        raise ValueError(f"damping must be in (0, 1]; got {damping!r}")
    network = _Network(scenario)
    closed = 1.0 - network.open_by_slot  # (C, S)
    served = network.open_by_slot.copy()
    durations = np.zeros_like(served)
    warm = start.fixed_point if start is not None else None
    if warm is not None and warm.fits(network):
        served, durations = warm.served.copy(), warm.durations.copy()
        for pool in network.pools:
            pool.start_from(warm.pools.get(pool.key))
    iterations, converged = 0, False
    chain = HourlyJourneyChain(scenario, served, closed, network.shift(durations), network.start)
    best, since_best = math.inf, 0
    mixing = _AndersonMixing(damping)
    while iterations < max_iterations:
        iterations += 1
        rates = network.contact_rates(chain)
        figures = network.queue_figures(rates, served, POOL_STEPS, service_level=False)
        new, durations = _served_and_durations(network, figures)
        change = float(np.max(np.abs(new - served)))
        if change <= tolerance and not network.settled:
            # the shares have settled: the shared pools settle too (at once, not a few steps per
            # iteration), and the shares must still hold there
            figures = network.queue_figures(rates, served, service_level=False)
            new, durations = _served_and_durations(network, figures)
            change = float(np.max(np.abs(new - served)))
        if change > 2.0 * best:
            mixing.forget()  # the extrapolation overshot: plain damped steps from here
        best, since_best = (change, 0) if change < 0.5 * best else (best, since_best + 1)
        if since_best >= STAGNATION:
            break  # the shares stopped getting closer: not converged, and said so
        proposal = mixing.step(served, new)
        outside = float(np.max(np.maximum(-proposal, proposal - network.open_by_slot)))
        if outside <= OUTSIDE_SLACK:  # shares that sit at 0 or 1 overshoot by rounding: back into range
            served = np.clip(proposal, 0.0, network.open_by_slot)
        else:  # the extrapolation left the shares' range: a damped step, and a fresh history
            mixing.forget()
            served = (1.0 - damping) * served + damping * new
        chain = HourlyJourneyChain(scenario, served, closed, network.shift(durations), network.start)
        if change <= tolerance and network.settled:
            converged = True
            break
    rates = network.contact_rates(chain)
    figures = network.queue_figures(rates, served)
    fixed_point = _FixedPoint(served, durations, {pool.key: pool.state for pool in network.pools if pool.shared})
    return _assemble(scenario, network, chain, figures, rates, iterations, converged, fixed_point)


class _AndersonMixing:
    """Anderson acceleration of the damped fixed-point step ``x + damping (g(x) - x)``.

    The last :data:`ANDERSON_DEPTH` steps say how the residual ``g(x) - x``
    answers a move of ``x``; the next point is the combination of them whose
    residual is smallest (least squares), then damped. On a smooth map this
    converges in a fraction of the damped steps (Walker and Ni, 2011).
    """

    def __init__(self, damping: float, depth: int = ANDERSON_DEPTH):
        self.damping = damping
        self.depth = depth
        self.points: list[list[np.ndarray]] = []
        self.residuals: list[list[np.ndarray]] = []

    def forget(self) -> None:
        self.points, self.residuals = [], []

    def step(self, x: np.ndarray, gx: np.ndarray, *along: tuple[np.ndarray, np.ndarray]):
        """The next point from ``x`` and its image ``gx``.

        ``along``: pairs ``(y, g(y))`` of arrays that move with ``x`` (e.g. computed from the same
        state), extrapolated with the weights ``x``'s residuals give; then the next point of each is
        returned too, as a list ``[x, y, ...]``.
        """
        pairs = [(x, gx), *along]
        self.points.append([a.ravel().copy() for a, _ in pairs])
        self.residuals.append([(ga - a).ravel() for a, ga in pairs])
        if len(self.points) > self.depth + 1:
            self.points.pop(0)
            self.residuals.pop(0)
        weights = None
        if len(self.points) > 1:
            d_residual = np.diff(np.array([r[0] for r in self.residuals]), axis=0).T
            weights = np.linalg.lstsq(d_residual, self.residuals[-1][0], rcond=None)[0]
        out = []
        for n, (a, _) in enumerate(pairs):
            residual = self.residuals[-1][n]
            move = self.damping * residual
            if weights is not None:
                d_residual = np.diff(np.array([r[n] for r in self.residuals]), axis=0).T
                d_point = np.diff(np.array([p[n] for p in self.points]), axis=0).T
                move = move - (d_point + self.damping * d_residual) @ weights
            out.append((a.ravel() + move).reshape(a.shape))
        return out if along else out[0]


def _by_slot(network: _Network, hourly: np.ndarray) -> np.ndarray:
    """Hourly values as the chain's slots: themselves, or their mean when there is one slot."""
    values = np.nan_to_num(hourly, posinf=0.0)
    if network.slots == 1:
        return np.full(1, values.mean())
    return values


def _served_and_durations(network: _Network, figures: list[ChannelQueue]) -> tuple[np.ndarray, np.ndarray]:
    """Served shares and mean contact durations by (channel, slot) from the channels' figures."""
    served = np.empty((len(figures), network.slots))
    durations = np.empty_like(served)
    for i, (c, f) in enumerate(zip(network.scenario.channels, figures)):
        is_open = network.open_by_slot[i]
        service = f.mean_service if math.isfinite(f.mean_service) else c.handle_time.mean
        if network.slots == 1 or not f.hourly:
            abandon = np.full(network.slots, f.abandon_rate)
            wait = np.full(network.slots, f.mean_wait)
            if "time_waiting" in f.hourly and network.slots == 1:
                wait = np.full(1, _window_mean(network, i, f.hourly["time_waiting"]))
            service = np.full(network.slots, service)
        else:
            abandon = np.nan_to_num(f.hourly["abandon_rate"])
            wait = np.nan_to_num(f.hourly.get("time_waiting", f.hourly["mean_wait_min"]), posinf=0.0)
            service = np.where(np.isfinite(f.hourly.get("mean_service", np.full(network.slots, np.nan))),
                               f.hourly.get("mean_service", np.zeros(network.slots)), service)
        served[i] = is_open * (1.0 - abandon)
        durations[i] = is_open * np.nan_to_num(wait, posinf=0.0) + served[i] * service
    return served, durations


def _window_mean(network: _Network, i: int, hourly: np.ndarray) -> float:
    """An hourly figure averaged over the window's offered contacts of channel ``i`` (by arrival share)."""
    weights = network.rates * network.window * network.timeline.open[i]
    values = np.nan_to_num(hourly, posinf=0.0)
    return float(weights @ values / weights.sum()) if weights.sum() > 0 else float(values.mean())


def _group_tables(scenario: Scenario, network: _Network, figures: list[ChannelQueue]):
    """Busy agents by group, channel and hour, and each group's share of its time per channel.

    Returns ``busy[g][i]``, ``slots[g]`` and ``share[g][i]`` (arrays by hour):
    a group's agent time is shared among its channels in proportion to the
    busy time each took (evenly while it is idle), as in the simulation.
    """
    period = network.period
    names = scenario.channel_names
    busy = [{names.index(c): np.zeros(period) for c in g.skills} for g in scenario.groups]
    slots = [np.zeros(period) for _ in scenario.groups]
    for i, f in enumerate(figures):
        for g, values in f.busy.items():
            busy[g][i] = busy[g][i] + np.nan_to_num(values)
        for g, values in f.slots.items():
            slots[g] = slots[g] + np.nan_to_num(values)
    share = []
    for g, by_channel in enumerate(busy):
        total = sum(by_channel.values())
        with np.errstate(invalid="ignore", divide="ignore"):
            share.append({i: np.where(total > 0, b / np.where(total > 0, total, 1.0), 1.0 / len(by_channel))
                          for i, b in by_channel.items()})
    return busy, slots, share


def _assemble(scenario: Scenario, network: _Network, chain: HourlyJourneyChain,
              figures: list[ChannelQueue], rates: np.ndarray, iterations: int,
              converged: bool, fixed_point: _FixedPoint | None = None) -> NetworkApproximation:
    customers = network.customers
    per_customer = chain.expected_contacts
    by_slot = chain.contacts_by_slot
    journeys = chain if network.window_start is None else chain.with_start(network.window_start)
    _, durations = _served_and_durations(network, figures)
    window = network.window
    period = network.period
    busy, slots, share = _group_tables(scenario, network, figures)
    channel_rows, hourly_rows = [], []
    served, closed = {}, {}
    cost_total = 0.0
    journey_minutes = 0.0
    for i, c in enumerate(scenario.channels):
        f = figures[i]
        contacts = customers * per_customer[c.name]
        n_closed = customers * float(by_slot[i] @ chain.closed[i])
        n_served = customers * float(by_slot[i] @ chain.served[i])
        closed[c.name] = n_closed / contacts if contacts > 0 else float(1.0 - network.open_by_slot[i].mean())
        served[c.name] = n_served / contacts if contacts > 0 else float(chain.served[i].mean())
        n_abandoned = max(contacts - n_closed - n_served, 0.0)
        present = paid = busy_minutes = load = agent_cost = 0.0
        present_h, busy_h = np.zeros(period), np.zeros(period)
        for g, group in enumerate(scenario.groups):
            if i not in share[g]:
                continue
            present_h = present_h + network.on_duty[g] * share[g][i]
            busy_h = busy_h + busy[g][i]
            group_paid = float((network.scheduled[g] * share[g][i]) @ window)
            paid += group_paid
            agent_cost += group.cost_per_agent_hour * group_paid / 60.0
            if c.concurrency > 1:
                load += float((slots[g] * share[g][i]) @ window)
        present = float(present_h @ window)
        busy_minutes = float(busy_h @ window)
        wasted = n_abandoned if c.is_async else 0.0
        cost = agent_cost + c.cost_per_contact * (n_served + wasted)
        cost_total += cost
        offered = contacts - n_closed
        service = f.mean_service if math.isfinite(f.mean_service) else c.handle_time.mean
        metrics = {
            "contacts": contacts,
            "closed": n_closed,
            "served": n_served,
            "abandoned": n_abandoned,
            "abandon_rate": f.abandon_rate if offered > 0 else math.nan,
            "resolved": n_served * c.resolve,
            "fcr": c.resolve if n_served > 0 else math.nan,
            "mean_wait_min": f.mean_wait if offered > 0 else math.nan,
            "p_wait": f.p_wait if offered > 0 else math.nan,
            "service_level": f.service_level if offered > 0 else math.nan,
            "mean_handle_min": service if n_served > 0 else math.nan,
            "occupancy": busy_minutes / present if present > 0 else math.nan,
            "mean_queue": f.mean_queue,
            "agent_hours": paid / 60.0,
            "wasted_contacts": wasted,
            "cost": cost,
        }
        assert tuple(metrics) == CHANNEL_METRICS
        if c.concurrency > 1:
            metrics["slot_occupancy"] = load / present if present > 0 else math.nan
        if c.callback is not None:
            cb = f.callbacks or {"offered": 0.0, "accepted": 0.0, "within_promise": math.nan, "mean_wait": math.nan}
            metrics.update({
                "callbacks_offered": offered * cb["offered"],
                "callbacks_accepted": offered * cb["accepted"],
                "callbacks_made": offered * cb["accepted"],
                "callbacks_within_promise": cb["within_promise"] if cb["accepted"] > 0 else math.nan,
                "mean_callback_wait_min": cb["mean_wait"] if cb["accepted"] > 0 else math.nan,
            })
        channel_rows += [(c.name, m, float(v)) for m, v in metrics.items()]
        # time in this channel per contact, and the retry delays after it
        journey_minutes += float(journeys.contacts_by_slot[i] @ durations[i])
        if c.retry_delay is not None:
            journey_minutes += journeys.onward_contacts[c.name] * c.retry_delay.mean
        occurrences = window / 60.0  # times each hour of the period occurred in the window
        for h in range(period):
            values = {
                "contacts": rates[i, h] * 60.0 if occurrences[h] else math.nan,
                "closed": rates[i, h] * 60.0 * (1.0 - network.timeline.open[i][h]) if occurrences[h] else math.nan,
                "abandon_rate": f.hourly.get("abandon_rate", np.zeros(period))[h],
                "mean_wait_min": f.hourly.get("mean_wait_min", np.zeros(period))[h],
                "service_level": f.hourly.get("service_level", np.ones(period))[h],
                "mean_queue": f.hourly.get("mean_queue", np.zeros(period))[h],
                "agents": present_h[h] if not c.unlimited else math.nan,
                "occupancy": busy_h[h] / present_h[h] if not c.unlimited and present_h[h] > 0 else math.nan,
            }
            assert tuple(values) == HOURLY_METRICS
            hourly_rows += [(c.name, h, m, float(v)) for m, v in values.items()]

    group_rows, hourly_group_rows = [], []
    for g, group in enumerate(scenario.groups):
        on_duty = float(network.on_duty[g] @ window)
        total_busy = sum(busy[g].values())
        busy_minutes = float(total_busy @ window)
        paid_hours = float(network.scheduled[g] @ window) / 60.0
        metrics = {
            "agents": on_duty / window.sum() if window.sum() else math.nan,
            "agent_hours": paid_hours,
            "occupancy": busy_minutes / on_duty if on_duty > 0 else math.nan,
            "slot_occupancy": float(slots[g] @ window) / on_duty if on_duty > 0 else math.nan,
            "cost": group.cost_per_agent_hour * paid_hours,
        }
        assert tuple(metrics) == GROUP_METRICS
        for channel in group.skills:
            skill = float(busy[g][scenario.channel_names.index(channel)] @ window)
            metrics[f"skill_share.{channel}"] = skill / busy_minutes if busy_minutes > 0 else math.nan
        group_rows += [(group.name, m, float(v)) for m, v in metrics.items()]
        for h in range(period):
            present = network.on_duty[g, h]
            values = {"agents": present,
                      "occupancy": total_busy[h] / present if present > 0 else math.nan,
                      "slot_occupancy": slots[g][h] / present if present > 0 else math.nan}
            assert tuple(values) == HOURLY_GROUP_METRICS
            hourly_group_rows += [(group.name, h, m, float(v)) for m, v in values.items()]

    chain_kpis = journeys.kpis()
    focal_contacts = customers * per_customer[scenario.focal_channel]
    focal = scenario.channel_names.index(scenario.focal_channel)
    focal_closed = customers * float(by_slot[focal] @ chain.closed[focal])
    # first contacts are made when the journey starts
    first_calls_closed = (customers * scenario.arrivals.first_channel.get(scenario.focal_channel, 0.0)
                          * float(journeys.start @ chain.closed[focal]))
    kpis = {
        "customers": customers,
        "contacts": customers * journeys.contacts_per_customer,
        "contacts_per_customer": chain_kpis["contacts_per_customer"],
        "resolution_rate": chain_kpis["resolution_rate"],
        "give_up_rate": chain_kpis["give_up_rate"],
        "first_contact_resolution": chain_kpis["first_contact_resolution"],
        "multichannel_share": chain_kpis["multichannel_share"],
        "caller_share": chain_kpis["caller_share"],
        "focal_contacts": focal_contacts,
        "focal_closed": focal_closed,
        "avoidable_calls": focal_contacts * chain_kpis["avoidable_call_share"],
        "avoidable_closed": max(focal_closed - first_calls_closed, 0.0),
        "avoidable_call_share": chain_kpis["avoidable_call_share"],
        "callers_continue_share": chain_kpis["callers_continue_share"],
        "mean_journey_minutes": journey_minutes,
        "cost_total": cost_total,
        "cost_per_customer": cost_total / customers if customers else math.nan,
    }
    assert tuple(kpis) == KPI_NAMES

    def frame(items, index_name) -> pd.DataFrame:
        result = pd.DataFrame({"value": [float(v) for v in items.values()]}, index=list(items))
        result.index.name = index_name
        return result

    def tidy(rows, columns) -> pd.DataFrame:
        return pd.DataFrame(rows, columns=[*columns, "value"]).set_index(columns)

    return NetworkApproximation(
        scenario=scenario, kpis=frame(kpis, "kpi"), channels=tidy(channel_rows, ["channel", "metric"]),
        before_call=frame(journeys.before_call(), "channel"), after_call=frame(journeys.after_call(), "channel"),
        hourly=tidy(hourly_rows, ["channel", "hour", "metric"]), served_shares=dict(served),
        closed_shares=dict(closed), iterations=iterations, converged=converged,
        weaknesses=tuple(_weaknesses(scenario, network, figures, converged, iterations)), chain=chain,
        groups=tidy(group_rows, ["group", "metric"]),
        hourly_groups=tidy(hourly_group_rows, ["group", "hour", "metric"]),
        overloaded_hours={c.name: f.overloaded_hours for c, f in zip(scenario.channels, figures)
                          if f.overloaded_hours},
        fixed_point=fixed_point,
    )


# --------------------------------------------------------------------------- where it is weak


def _weaknesses(scenario: Scenario, network: _Network, figures: list[ChannelQueue], converged: bool,
                iterations: int) -> list[str]:
    notes = []
    if not converged:
        notes.append(f"the fixed point did not settle in {iterations} iterations: the served shares "
                     "still move; treat every figure as rough")
    period = network.period
    profile = scenario.arrivals.hourly_profile
    varying = profile is not None and len(set(profile)) > 1
    timed = varying
    shared = {i: pool for pool in network.pools if pool.shared for i in pool.channels}
    for i, c in enumerate(scenario.channels):
        if c.unlimited:
            if c.open_hours is not None:
                timed = True
            continue
        handle = c.handle_time
        if not isinstance(handle, Exponential):
            far = " — far from 1" if abs(handle.cv - 1.0) > CV_SLACK else ""
            if c.is_async or (c.patience is None and c.callback is None):
                how = ("Erlang C's wait is scaled by (1 + cv^2) / 2 (Allen-Cunneen), an approximation for "
                       "non-exponential handle times")
            else:
                how = ("the queue model assumes exponential ones, so waits, abandonment and service level are "
                       "approximate")
            notes.append(f"{c.name}: handle times are {handle.name} (cv {handle.cv:.2g}{far}); {how}")
        if c.patience is not None and not isinstance(c.patience, Exponential):
            notes.append(f"{c.name}: patience is {c.patience.name} (cv {c.patience.cv:.2g}); only its mean "
                         f"({c.patience.mean:g} min) is used, as if it were exponential")
        redial = c.next_after_abandon.get(c.name, 0.0)
        if redial > 0 and c.patience is not None and not c.is_async:
            delay = f"after {c.retry_delay.mean:g} min on average" if c.retry_delay is not None else "at once"
            if redials_folded(c, shared=i in shared):
                how = ("callbacks that find the queue as they left it are counted as if those callers had kept "
                       "waiting, the others as fresh arrivals (within about 6 % of the exact retrial queue for "
                       "exponential times)")
            else:
                how = ("they are counted as fresh arrivals, but they come back while the queue is still long: "
                       "waits and abandonment are short by up to about 30 % when they call back within minutes")
            notes.append(f"{c.name}: {redial:.0%} of those who hang up call back {delay}; {how}")
        if c.is_async:
            notes.append(f"{c.name}: asynchronous — the reply time is a fluid backlog plus a random wait, and "
                         "a customer gives up when the (exponential) patience ends before wait + handle time")
        elif c.patience is None and c.callback is None:
            notes.append(f"{c.name}: customers never hang up — the queue is a fluid backlog wherever it is "
                         "overloaded, plus a random wait elsewhere")
        if (c.is_async or (c.patience is None and c.callback is None)) and not network.timeline.fluid_whole:
            start, end = network.timeline.fluid_start, network.timeline.fluid_end
            notes.append(f"{c.name}: the run is long, so its backlog is modelled over {start / 1440:g} days of "
                         f"warm-up and {(end - start) / 1440:g} days of window, as if later days repeated them")
        groups = scenario.groups_serving(c.name)
        has_plan = any(g.has_shift_plan and len(set(g.agents)) > 1 for g in groups)
        if has_plan or varying:
            timed = True
            kind = "a shift plan" if has_plan else "an arrival profile"
            how = ("each hour is treated as a steady-state queue (a queue built up in one hour "
                   "is not carried into the next)" if not (c.is_async or (c.patience is None and c.callback is None))
                   else "the backlog is carried from hour to hour by a fluid model, and the random part "
                   "of the wait is that of each hour's steady state")
            notes.append(f"{c.name}: {kind} — {how}")
        if c.open_hours is not None:
            timed = True
        if c.concurrency > 1 and c.concurrency_slowdown is not None and len(set(c.concurrency_slowdown)) > 1 \
                and (i in shared or max(g.on_duty_in_hour(h) for g in groups for h in range(period)) > 1):
            notes.append(f"{c.name}: chats slow down as agents hold more of them — the approximation assumes the "
                         "chats stay evenly spread over the agents (exact for one agent)")
        if c.callback is not None:
            where = ("its queue seen on arrival is taken as a birth-death chain given every agent busy"
                     if i in shared else "exact in the birth-death chain")
            notes.append(f"{c.name}: call backs — the live queue loses the callers who accept one beyond the offer "
                         f"threshold ({where}), but the call backs are made as if they filled the moments agents "
                         "free up (promoted when they cannot be), and their wait is Cobham's lower class until due; "
                         "those taken with nobody on duty wait for the next agents, who make them first, but the "
                         "longer queue they leave behind that morning is missing")
        overloaded = figures[i].overloaded_hours
        if overloaded:
            notes.append(f"{_overload_sentence(c.name, overloaded, period)}; figures there are the least reliable")
    for pool in network.pools:
        if not pool.shared:
            if len(pool.groups) > 1:
                notes.append(f"{pool.channel_names[0]}: answered by groups {', '.join(pool.group_names)} — their "
                             "agents are pooled (exact for the channel), but how its work is split among the groups "
                             "is an Erlang B overflow approximation")
            continue
        notes.append(f"{', '.join(pool.channel_names)} share agents ({', '.join(pool.group_names)}): the probability "
                     "of waiting is Erlang C for every agent who may answer (groups that answer different "
                     "channels taken as busy independently), and the wait once waiting follows "
                     "Cobham's non-preemptive priority formula, exact only for one group, one exponential handle "
                     "time and no patience; with patience the wait is taken as exponential")
        if any(g.reserve for g in pool.group_specs):
            reserved = sorted({f"{c} ({g.name} keeps {r})" for g in pool.group_specs for c, r in g.reserve.items() if r})
            notes.append(f"reserve for {', '.join(reserved)}: the channel sees that many fewer agents, and the "
                         "channels above it see its agents as out of the group rather than as work ahead of them")
        if any(scenario.channels[i].concurrency > 1 for i in pool.channels):
            notes.append(f"{', '.join(pool.channel_names)}: agents of a shared group who hold several chats are "
                         "counted as agent time per chat (the handle time over the chats an agent holds on average)")
        for i in pool.channels:
            chat = scenario.channels[i]
            if chat.concurrency == 1:
                continue
            answering = [m for m, g in enumerate(pool.group_specs) if chat.name in g.skills]
            above = {j for m in answering for j in pool.channels
                     if pool.group_specs[m].skills.get(scenario.channels[j].name, math.inf)
                     < pool.group_specs[m].skills[chat.name]}
            staffed = pool.on_duty[answering].sum(axis=0)
            hot = sorted({h for j in above for h in figures[j].overloaded_hours
                          if network.timeline.open[i][h] > 0 and staffed[h] > 0})
            if hot:
                notes.append(f"{chat.name}: where the work ranked above it is overloaded ({_hours_text(hot, period)}), "
                             "agents who hold chats keep taking new ones (an agent on a chat takes nothing else), so "
                             "chats keep the agents they had; the approximation leaves them only what that work "
                             "leaves, so it overstates their waits and abandonment there")
    if scenario.arrivals.day_to_day_cv > 0:
        notes.append(f"arrivals vary from day to day (cv {scenario.arrivals.day_to_day_cv:g}): the approximation "
                     "uses the mean rates, and queues are convex in the load, so busy days' longer waits and higher "
                     "abandonment are missing: simulated waits and abandonment are higher on average")
    if timed:
        unit = "week" if period == WEEK_HOURS else "day"
        notes.append(f"the hour of the {unit} matters here: contacts are placed in hours by the arrival profile, "
                     "each contact's mean duration and the retry delay, and a contact's outcome depends only "
                     "on its channel and hour (not on the minute within the hour, nor on the journey's other "
                     "contacts)")
        if scenario.run.warmup_hours < 2:
            notes.append(f"the run starts empty with a {scenario.run.warmup_hours:g} h warm-up, while the "
                         f"approximation's journeys and retries come from {unit}s like this one: the first hours "
                         "of the window are busier here than in the simulation")
    return notes
