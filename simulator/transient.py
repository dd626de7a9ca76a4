"""The start-up transient: how long a queue started empty takes to reach its steady state.

A simulation starts empty, so its first hours see shorter queues than the
steady state; the warm-up must outlast them. For a staffed channel with
Poisson arrivals, exponential handle times and (optionally) exponential
patience, the number of customers in the channel is a birth-death chain (the
M/M/c+M queue of :func:`~simulator.analytic.erlang_a`), and its distribution
at time ``t`` from an empty start is exact:
:func:`queue_transient` solves the Kolmogorov forward equations by
uniformization (a Poisson mixture of the steps of a discrete chain; every
term is positive, so it is stable however stiff the chain), on the state
space that :func:`~simulator.analytic.erlang_a` truncates with a rigorous
bound.

Started empty, the chain is stochastically increasing in time, so the
probability of waiting and the mean queue rise monotonically to their
steady-state values; :func:`settling_time` is the first time both are within
a relative ``tolerance`` of them. That time grows like ``1 / (1 - rho)^2``
with the load ``rho``: minutes for a centre at 80 %, a day for a small one at
95 %.

Examples
--------
>>> minutes = settling_time(arrival_rate=1.9, mean_handle=5.0, agents=10)
>>> 20 < minutes / 60 < 40  # hours, at 95 % load on 10 agents
True
>>> settling_time(arrival_rate=2.0, mean_handle=5.0, agents=10)  # no steady state
inf
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse, stats

from .analytic import _number_in_system, erlang_a
from .network import approximate

if TYPE_CHECKING:  # the scenario derives its warm-up with this module: it imports this one at run time
    from .scenario import Channel, Scenario

__all__ = ["queue_transient", "settling_time", "advise_warmup", "WarmupAdvice", "steady_state_problems",
           "warmup_summary",
           "SETTLING_TOLERANCE", "MAX_SETTLING_MINUTES", "DAY_PATTERN_WARMUP_HOURS"]

#: Relative distance from the steady state at which a queue counts as settled.
SETTLING_TOLERANCE = 0.01
#: Warm-up of a scenario whose day has a pattern (profile, shift plans, opening hours): a day.
DAY_PATTERN_WARMUP_HOURS = 24.0
_BLOCK = 32  # steps of the uniformized chain taken at once
_WORK_LIMIT = 1e9  # most multiplications settling_time spends on one queue (a few seconds)


class _TooLong(Exception):
    """The transient is too long to follow within the work limit."""
#: Longest transient :func:`settling_time` follows (a week); beyond it the answer is ``inf``.
MAX_SETTLING_MINUTES = 7 * 1440.0


def _check(arrival_rate: float, mean_handle: float, agents: int, mean_patience: float) -> None:
    if not (math.isfinite(arrival_rate) and arrival_rate > 0):
        raise ValueError(f"arrival_rate must be a finite number > 0 (per minute); got {arrival_rate!r}")
    if not (math.isfinite(mean_handle) and mean_handle > 0):
        raise ValueError(f"mean_handle must be a finite number > 0 (minutes); got {mean_handle!r}")
    if isinstance(agents, bool) or int(agents) != agents or agents < 0:
        raise ValueError(f"agents must be a whole number >= 0; got {agents!r}")
    if not mean_patience > 0:
        raise ValueError(f"mean_patience must be > 0 (minutes) or inf; got {mean_patience!r}")


class _Chain:
    """The truncated birth-death chain of one queue, uniformized, with its steady state."""

    def __init__(self, arrival_rate: float, mean_handle: float, agents: int, mean_patience: float):
        _check(arrival_rate, mean_handle, agents, mean_patience)
        self.agents = agents = int(agents)
        self.theta = theta = 0.0 if math.isinf(mean_patience) else 1.0 / mean_patience
        self.mu = mu = 1.0 / mean_handle
        self.arrival_rate = arrival_rate
        self.stable = theta > 0 or arrival_rate < agents * mu
        if not self.stable:
            return
        try:
            states, kept = _number_in_system(arrival_rate, mu, agents, theta)
            steady = np.zeros(states[-1] + 1)  # from an empty system: every state from 0
            steady[states] = kept
        except ValueError:  # the queue would need millions of states: far too long to settle anyway
            self.stable = False
            return
        # states beyond a negligible tail (below 1e-12) only slow the stepping down
        tail = np.cumsum(steady[::-1])[::-1]
        keep = max(int(np.searchsorted(-tail, -1e-12)), agents + 2)
        self.steady = steady[:keep] / steady[:keep].sum()
        size = len(self.steady)
        n = np.arange(size, dtype=float)
        self.birth = np.where(n < size - 1, arrival_rate, 0.0)
        self.death = np.minimum(n, agents) * mu + np.maximum(n - agents, 0.0) * theta
        # rate of the uniformizing Poisson clock: at least every state's total rate, and
        # b(n) + d(n + 1), which keeps the stepped chain stochastically monotone
        self.rate = float(max(np.max(self.birth + self.death), np.max(self.birth[:-1] + self.death[1:])))
        self.waiting = (n >= agents).astype(float)  # P(wait) of an arrival (PASTA)
        self.queue = np.maximum(n - agents, 0.0)
        self.steady_p_wait = float(self.steady @ self.waiting)
        self.steady_queue = float(self.steady @ self.queue)

    def slowest_decay_minutes(self) -> float:
        """About how long the slowest part of the transient takes to shrink by a factor e.

        Without abandonment, a busy queue is an M/M/1 queue served at rate
        ``c mu``, whose distance from the steady state decays like
        ``exp(-(sqrt(c mu) - sqrt(lambda))^2 t)``; the agents themselves
        settle at rate ``mu`` (and waiting customers at ``theta``).
        """
        lam, mu, c, theta = self.arrival_rate, self.mu, self.agents, self.theta
        rates = [mu if c else theta]
        if theta:
            rates.append(theta)
        else:
            rates.append((math.sqrt(c * mu) - math.sqrt(lam)) ** 2)
        return 1.0 / min(rates)

    def steps(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        """P(wait) and mean queue after ``0 .. count`` steps of the uniformized chain from empty.

        Steps are taken :data:`_BLOCK` at a time (the block's values come from
        precomputed rows ``f P^k``), and kept: asking for more continues.
        """
        if not hasattr(self, "_p"):
            stay = 1.0 - self.birth / self.rate - self.death / self.rate
            # p_next = step @ p (the transposed stepping matrix, tridiagonal)
            step = sparse.diags([stay, self.birth[:-1] / self.rate, self.death[1:] / self.rate], [0, -1, 1],
                                format="csr")
            rows, back = [], step.T.tocsr()
            for f in (self.waiting, self.queue):
                for _ in range(_BLOCK):
                    f = back @ f
                    rows.append(f)
            self._rows = np.array(rows)  # f @ p after k + 1 more steps
            self._jump = step
            for _ in range(int(math.log2(_BLOCK))):
                self._jump = self._jump @ self._jump  # step^BLOCK, banded
            self._p = np.zeros(len(self.steady))
            self._p[0] = 1.0
            self._values = [np.array([[self.waiting[0]], [self.queue[0]]])]
            self._taken = 0
        if count * (self._jump.nnz + self._rows.size) / _BLOCK > _WORK_LIMIT:  # steps so far and asked for
            raise _TooLong
        while self._taken < count:
            # einsum, not BLAS: a threaded matrix-vector product crawls on a busy machine
            self._values.append(np.einsum("kn,n->k", self._rows, self._p).reshape(2, _BLOCK))
            self._p = self._jump @ self._p
            self._taken += _BLOCK
        values = np.concatenate(self._values, axis=1)[:, : count + 1]
        return values[0], values[1]

    def at(self, sequence: np.ndarray, minutes: np.ndarray) -> np.ndarray:
        """The continuous-time values at ``minutes``: Poisson mixtures of the stepped ``sequence``."""
        steps = np.arange(len(sequence))
        return np.array([float(stats.poisson.pmf(steps, self.rate * t) @ sequence) if t > 0 else sequence[0]
                         for t in np.atleast_1d(minutes)])

    def steps_for(self, minutes: float) -> int:
        """Steps whose Poisson mixture covers ``minutes`` (all but a negligible tail)."""
        mean = self.rate * minutes
        return int(mean + 10.0 * math.sqrt(mean) + 20)


def queue_transient(arrival_rate: float, mean_handle: float, agents: int, times,
                    mean_patience: float = math.inf) -> pd.DataFrame:
    """The exact expected state of an M/M/c(+M) queue at ``times``, from an empty start.

    Parameters
    ----------
    arrival_rate, mean_handle, agents, mean_patience
        As in :func:`~simulator.analytic.erlang_a` (rates per minute, times in
        minutes); ``mean_patience = inf`` (the default) is Erlang C's queue.
    times
        Minutes from the empty start.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``minute``: ``p_wait`` (the probability that all agents are
        busy, i.e. that an arrival at that time waits) and ``mean_queue`` (the
        expected number waiting). ``attrs`` holds their steady-state values.

    Raises
    ------
    ValueError
        For invalid inputs, or a queue without steady state (load at or above
        the agents and nobody hangs up).

    Examples
    --------
    >>> frame = queue_transient(1.9, 5.0, 10, times=[0, 60, 600])
    >>> frame["p_wait"].is_monotonic_increasing
    True
    >>> bool(frame["p_wait"].iloc[-1] < frame.attrs["steady_p_wait"])
    True
    """
    chain = _Chain(arrival_rate, mean_handle, agents, mean_patience)
    if not chain.stable:
        raise ValueError("the queue has no steady state: the offered load is at or above the agents "
                         "and nobody hangs up")
    minutes = np.asarray(times, dtype=float)
    if minutes.ndim != 1 or np.any(minutes < 0) or not np.all(np.isfinite(minutes)):
        raise ValueError("times must be a list of finite minutes >= 0")
    p_wait, queue = chain.steps(chain.steps_for(float(minutes.max(initial=0.0))))
    frame = pd.DataFrame({"p_wait": chain.at(p_wait, minutes), "mean_queue": chain.at(queue, minutes)},
                         index=pd.Index(minutes, name="minute"))
    frame.attrs.update(steady_p_wait=chain.steady_p_wait, steady_mean_queue=chain.steady_queue)
    return frame


def settling_time(arrival_rate: float, mean_handle: float, agents: int, mean_patience: float = math.inf,
                  tolerance: float = SETTLING_TOLERANCE) -> float:
    """Minutes until an M/M/c(+M) queue started empty is within ``tolerance`` of its steady state.

    The first time at which both the probability of waiting and the mean
    queue are at least ``1 - tolerance`` times their steady-state values
    (both rise monotonically from an empty start, so they stay there).

    Returns
    -------
    float
        Minutes; ``0`` when the steady state has (almost) no queue; ``inf``
        when the queue has no steady state, or takes longer than
        :data:`MAX_SETTLING_MINUTES` (or so near-critical a load that its
        transient is too long to follow in a few seconds: weeks).

    Examples
    --------
    >>> settling_time(0.5, 5.0, 10) < 60  # a quiet centre: within the hour
    True
    """
    if not 0 < tolerance < 1:
        raise ValueError(f"tolerance must be in (0, 1); got {tolerance!r}")
    chain = _Chain(arrival_rate, mean_handle, agents, mean_patience)
    if not chain.stable:
        return math.inf
    goals = [(1.0 - tolerance) * chain.steady_p_wait, (1.0 - tolerance) * chain.steady_queue]
    if max(chain.steady_p_wait, chain.steady_queue) < 1e-12:
        return 0.0

    def settled(minutes: float) -> bool:
        p_wait, queue = chain.steps(chain.steps_for(minutes))
        return chain.at(p_wait, minutes)[0] >= goals[0] and chain.at(queue, minutes)[0] >= goals[1]

    if chain.slowest_decay_minutes() * math.log(1.0 / tolerance) / 4.0 > MAX_SETTLING_MINUTES:
        return math.inf  # far beyond the limit: not worth stepping through
    try:
        # the stepped chain first: the step at which both values reach their goals
        count = 1024
        while True:
            p_wait, queue = chain.steps(count)
            reached = (p_wait >= goals[0]) & (queue >= goals[1])
            if reached.any():
                step = int(np.argmax(reached))
                break
            if count / chain.rate > MAX_SETTLING_MINUTES:
                return math.inf
            count += count // 4 + 1
        # the continuous time is the Poisson mixture of steps around step / rate
        spread = 6.0 * math.sqrt(step) + 10.0
        low, high = max(step - spread, 0.0) / chain.rate, (step + spread) / chain.rate
        while not settled(high):
            low, high = high, high * 1.25
        if settled(low):
            low = 0.0
        while high - low > max(0.5, 0.002 * high):
            middle = (low + high) / 2.0
            if settled(middle):
                high = middle
            else:
                low = middle
    except _TooLong:
        return math.inf
    return high if high <= MAX_SETTLING_MINUTES else math.inf


# --------------------------------------------------------------------------- a scenario's warm-up


def steady_state_problems(scenario: Scenario) -> list[str]:
    """Why a scenario is not a steady state (empty when it is).

    Examples
    --------
    >>> import simulator as sim
    >>> steady_state_problems(sim.load_scenario("bank_app_first"))
    ['arrivals.hourly_profile varies by hour', 'channels.chat.agents is a shift plan', 'channels.phone.open_hours closes the channel part of the day']
    >>> steady_state_problems(sim.load_scenario("bank_app_first").with_changes(
    ...     {"arrivals.hourly_profile": None, "channels.chat.agents": 12, "channels.phone.open_hours": None}))
    []
    """
    problems = []
    if scenario.arrivals.hourly_profile is not None and len(set(scenario.arrivals.hourly_profile)) > 1:
        problems.append("arrivals.hourly_profile varies by hour")
    if scenario.arrivals.day_to_day_cv > 0:
        problems.append("arrivals.day_to_day_cv varies the demand from day to day")
    for c in scenario.channels:
        if c.has_shift_plan and len(set(c.agents)) > 1:
            problems.append(f"channels.{c.name}.agents is a shift plan")
        if c.open_hours is not None:
            problems.append(f"channels.{c.name}.open_hours closes the channel part of the day")
    for g in scenario.groups:
        if not g.own and g.has_shift_plan and len(set(g.agents)) > 1:
            problems.append(f"groups.{g.name}.agents is a shift plan")
    return problems


def _single_queue_problems(scenario: Scenario) -> list[str]:
    """Why a staffed channel of a steady-state scenario is not one M/M/c(+M) queue (empty when each is)."""
    problems = [f"groups.{g.name} shares agents between channels" for g in scenario.groups if not g.own]
    for c in scenario.channels:
        if c.concurrency > 1:
            problems.append(f"channels.{c.name}.concurrency lets an agent hold several contacts")
        if c.callback is not None:
            problems.append(f"channels.{c.name}.callback holds callers in a second line")
        if any(g.shrinkage for g in scenario.groups_serving(c.name)):
            problems.append(f"channels.{c.name} has agents with shrinkage")
    return problems


@dataclass(frozen=True)
class WarmupAdvice:
    """How long a scenario's warm-up should be, and why.

    Attributes
    ----------
    hours
        The suggested ``run.warmup_hours`` (rounded up to a quarter hour).
    reason
        One sentence: what the suggestion rests on.
    per_channel
        For a steady-state scenario, each staffed channel's settling time in
        hours (``inf``: no steady state, or longer than a week).
    loads
        The offered load of each staffed channel, in agents' worth of work
        (its contacts a minute times the mean handle time, over its agents).
    """

    hours: float
    reason: str
    per_channel: dict[str, float] = field(default_factory=dict)
    loads: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """As plain data (infinite hours as None)."""
        return {"hours": self.hours, "reason": self.reason,
                "per_channel": {c: (h if math.isfinite(h) else None) for c, h in self.per_channel.items()}}


def _variability(channel: Channel) -> float:
    """How much longer than an M/M/c queue's a channel's transient is: ``(1 + cv^2) / 2`` of its
    handle times (the heavy-traffic time scale), never below 1 so that the advice stays safe."""
    return max(1.0, (1.0 + channel.handle_time.cv ** 2) / 2.0)


def _quarter_hours(minutes: float) -> float:
    return math.ceil(minutes / 15.0 - 1e-9) / 4.0


def advise_warmup(scenario: Scenario, tolerance: float = SETTLING_TOLERANCE) -> WarmupAdvice:
    """The warm-up a scenario needs, derived from its queues' exact transients.

    For a steady-state scenario, each staffed channel is offered the contacts
    the network approximation (:func:`simulator.network.approximate`) sends
    it, retries included; its queue started empty takes
    :func:`settling_time` to come within ``tolerance`` of its steady state
    (the M/M/c+M queue with the channel's mean handle time and patience; an
    asynchronous channel answers every message, so its backlog is the
    M/M/c queue), stretched by ``(1 + cv^2) / 2`` for handle times more
    variable than exponential ones. A channel fed by other channels also
    waits for the journeys that bring it contacts to reach their steady flow
    (:class:`_JourneyTiming`): until its inflow is short by less than what
    would move its steady state by ``tolerance``; that time comes first. The
    advice is the slowest channel's total.
    A channel without steady state (overloaded, nobody hangs up) or slower
    than a week gets a week.

    A scenario whose day has a pattern (an hourly profile, shift plans,
    opening hours, demand varying from day to day) has no steady state: it
    gets a day, so that backlogs reach their daily rhythm. So does one whose
    channels are not one queue each (agents shared by groups, concurrency,
    call backs, shrinkage).

    Examples
    --------
    >>> import simulator as sim
    >>> steady = sim.load_scenario("bank_app_first").with_changes(
    ...     {"arrivals.hourly_profile": None, "channels.chat.agents": 12, "channels.phone.open_hours": None})
    >>> advice = advise_warmup(steady)
    >>> 0 < advice.hours < 24, sorted(advice.per_channel)
    (True, ['chat', 'messages', 'phone'])
    """
    key = (_content_key(scenario), tolerance)
    if key not in _ADVICE:
        if len(_ADVICE) >= 256:
            _ADVICE.pop(next(iter(_ADVICE)))
        _ADVICE[key] = _advise(scenario, tolerance)
    return _ADVICE[key]


_ADVICE: dict[tuple[str, float], WarmupAdvice] = {}  # advice by scenario content: a sweep asks often


def _content_key(scenario: Scenario) -> str:
    """What the advice depends on: everything but the run settings."""
    data = {k: v for k, v in scenario.to_dict().items() if k not in ("run", "reference", "description")}
    return json.dumps(data, sort_keys=True, default=str)


def _a_day(problems: list[str], why: str) -> WarmupAdvice:
    """A day's warm-up, naming the fields (the first word of each problem) that call for it."""
    fields = ", ".join(problem.split()[0] for problem in problems)
    return WarmupAdvice(DAY_PATTERN_WARMUP_HOURS, why.format(fields=fields))


def _advise(scenario: Scenario, tolerance: float) -> WarmupAdvice:
    problems = steady_state_problems(scenario)
    if problems:
        return _a_day(problems, "a day: the day has a pattern ({fields}), so there is no steady state; a day lets "
                                "queues and backlogs reach their daily rhythm")
    staffed = [c for c in scenario.channels if not c.unlimited]
    if not staffed:
        return WarmupAdvice(0.0, "none: self-service only, no queue to fill")
    problems = _single_queue_problems(scenario)
    if problems:
        return _a_day(problems, "a day: the exact transient of one queue per channel does not apply ({fields}); "
                                "a day lets the queues fill")
    approx = approximate(scenario.with_changes({"run.warmup_hours": 0, "run.days": 1}), damping=1.0,
                         max_iterations=12)
    per_channel, loads, slack = {}, {}, {}
    for c in staffed:
        rate = approx.value(f"channels.{c.name}.contacts") / 1440.0
        agents = c.agents_in_hour(0)
        loads[c.name] = rate * c.handle_time.mean / agents
        patience = c.patience.mean if c.patience is not None and not c.is_async else math.inf
        minutes = settling_time(rate, c.handle_time.mean, agents, patience, tolerance) if rate > 0 else 0.0
        per_channel[c.name] = minutes * _variability(c)
        if rate > 0 and math.isfinite(minutes):
            slack[c.name] = _rate_slack(rate, c.handle_time.mean, agents, patience, tolerance)
    inflow = dict.fromkeys(per_channel, 0.0)
    inflow.update(_JourneyTiming(scenario, approx).settling_minutes(slack) if slack else {})
    per_channel = {name: (inflow[name] + minutes) / 60.0 for name, minutes in per_channel.items()}
    slowest = max(per_channel, key=per_channel.get)
    hours = per_channel[slowest]
    load = f"offered load {100 * loads[slowest]:.0f} % of its {scenario.channel(slowest).agents} agents"
    if not math.isfinite(hours) or hours > MAX_SETTLING_MINUTES / 60.0:
        return WarmupAdvice(MAX_SETTLING_MINUTES / 60.0,
                            f"a week: {slowest} ({load}) has no steady state within a week of an empty start "
                            "(overloaded or nearly so); no warm-up makes its figures steady",
                            per_channel, loads)
    stretched = ", stretched for variable handle times" if _variability(scenario.channel(slowest)) > 1 else ""
    fed = (f", after {inflow[slowest] / 60.0:.3g} h for the journeys that bring it contacts to reach their steady flow"
           if inflow[slowest] >= 15.0 else "")
    return WarmupAdvice(_quarter_hours(hours * 60.0),
                        f"{slowest} ({load}) takes {hours:.3g} h from an empty start to come within "
                        f"{100 * tolerance:g} % of its steady state (exact M/M/c transient{stretched}{fed})",
                        per_channel, loads)


def _rate_slack(rate: float, mean_handle: float, agents: int, mean_patience: float, tolerance: float) -> float:
    """The largest relative shortfall of a queue's arrival rate that keeps its steady P(wait) and mean
    queue within ``tolerance`` of their values at the full rate (they rise with the rate)."""
    full = erlang_a(rate, mean_handle, agents, mean_patience)
    low, high = 0.0, tolerance  # a shortfall as large as the tolerance always moves them at least that much
    for _ in range(30):
        middle = (low + high) / 2.0
        less = erlang_a(rate * (1.0 - middle), mean_handle, agents, mean_patience)
        if less.p_wait >= (1.0 - tolerance) * full.p_wait and less.mean_queue >= (1.0 - tolerance) * full.mean_queue:
            low = middle
        else:
            high = middle
    return low


class _JourneyTiming:
    """When in a journey its contacts happen: a continuous-time chain over the channels.

    A customer's journey moves between channels as the network
    approximation's routing chain says (at its fixed point); a contact in
    channel ``j`` lasts its mean wait plus (if served) its mean handle time,
    and is followed, when the journey goes on, by the channel's retry delay.
    Taking these times as exponential, the chain says which share of a
    channel's contacts come later than ``t`` after the customer arrived: from
    an empty start, the channel's inflow is short of its steady flow by that
    share at time ``t``.
    """

    def __init__(self, scenario: Scenario, approx):
        chain = approx.chain
        n = len(scenario.channels)
        self.names = scenario.channel_names
        self.moves = np.asarray(chain.transition, dtype=float).reshape(n, n)
        self.start = np.asarray(chain.first_state, dtype=float).reshape(n)
        onward = self.moves.sum(axis=1)
        minutes = np.empty(n)
        for j, c in enumerate(scenario.channels):
            wait = approx.value(f"channels.{c.name}.mean_wait_min")
            wait = 0.0 if not math.isfinite(wait) else wait
            served = approx.served_shares[c.name]
            retry = c.retry_delay.mean if c.retry_delay is not None else 0.0
            minutes[j] = max(wait + served * c.handle_time.mean + onward[j] * retry, 1e-9)
        self.generator = (self.moves - np.eye(n)) / minutes[:, None]
        # contacts each channel still gets, from a contact in progress in channel j: N = (I - P)^-1
        self.later = self.moves @ np.linalg.solve(np.eye(n) - self.moves, np.eye(n))
        self.total = self.start @ np.linalg.solve(np.eye(n) - self.moves, np.eye(n))

    def shortfalls(self, minutes: np.ndarray) -> np.ndarray:
        """``[t, i]``: the share of channel ``i``'s contacts that come more than ``minutes[t]`` after the
        customer arrived (0 for a channel without contacts)."""
        from scipy.sparse.linalg import expm_multiply

        in_progress = expm_multiply(self.generator.T, self.start, start=0.0, stop=float(minutes[-1]),
                                    num=len(minutes), endpoint=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.nan_to_num((in_progress @ self.later) / self.total)

    def settling_minutes(self, slack: dict[str, float], step: float = 5.0) -> dict[str, float]:
        """Per channel, the minutes until its inflow is within ``slack[channel]`` (a share) of its steady
        flow, to within ``step`` minutes; ``inf`` beyond :data:`MAX_SETTLING_MINUTES`."""
        columns = [self.names.index(name) for name in slack]
        limits = np.array(list(slack.values()))
        horizon = 8 * 60.0
        while True:
            minutes = np.arange(0.0, horizon + step / 2, step)
            late = self.shortfalls(minutes)[:, columns] > limits  # falls monotonically
            if not late[-1].any() or horizon >= MAX_SETTLING_MINUTES:
                break
            horizon *= 2
        return {name: (math.inf if late[-1, k] else float(minutes[np.argmin(late[:, k])]))
                for k, name in enumerate(slack)}


def warmup_summary(scenario: Scenario) -> dict:
    """Which warm-up a run uses and why, and a warning when a given one is shorter than advised.

    Returns
    -------
    dict
        ``hours``; ``derived`` (True when left to :func:`advise_warmup`);
        ``reason``; ``suggested_hours`` (:func:`advise_warmup`'s); ``warning``
        (a sentence, or None).

    Examples
    --------
    >>> import simulator as sim
    >>> summary = warmup_summary(sim.load_scenario("nice_bcg_2016").with_changes({"run.warmup_hours": 0}))
    >>> summary["derived"], summary["warning"] is not None
    (False, True)
    """
    run = scenario.run
    if run.warmup_derived:
        return {"hours": run.warmup_hours, "derived": True, "reason": run.warmup_reason,
                "suggested_hours": run.warmup_hours, "warning": None}
    try:
        advice = advise_warmup(scenario)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):  # as for a derived one: nothing to compare with
        advice = None
    warning = None
    if advice is not None and run.warmup_hours < advice.hours:
        warning = (f"run.warmup_hours = {run.warmup_hours:g} is shorter than the {advice.hours:g} h this scenario "
                   f"needs ({advice.reason}): figures lean towards an emptier centre than the steady state; "
                   f'set run.warmup_hours to {advice.hours:g} or "auto" (or leave it out)')
    return {"hours": run.warmup_hours, "derived": False, "reason": "given in run.warmup_hours",
            "suggested_hours": None if advice is None else advice.hours, "warning": warning}
