"""The queues of the network approximation: channels and the agent groups that answer them.

Channels that share agents cannot be approximated one at a time, so the
network approximation (:mod:`simulator.network`) splits a scenario into
*pools*: the connected parts of the graph linking each channel to the groups
whose skills name it. A channel with its own agents is a pool of one channel
and one group. :class:`Pool` turns the contacts per minute reaching each of
its channels, by hour of the scenario's period (of the day, or of the week),
into the channels' queue figures and the groups' busy time.

**A pool of one channel** (its own agents, or groups that answer only it):
the agents on duty in an hour (after shrinkage) are summed.

* A live channel whose customers hang up (or that offers call backs) is, hour
  by hour, the birth-death chain of :func:`~simulator.analytic.slot_queue`:
  Erlang A when an agent holds one contact at a time, M/M/(c k)+M on the
  slots with ``concurrency = k``, and with ``concurrency_slowdown`` a
  completion rate that follows how many contacts each agent holds (exact for
  one agent). Call backs: an arrival who finds at least ``q*`` callers
  waiting is offered one, ``q*`` being the queue from which the simulation's
  expected-wait rule exceeds ``offer_when_wait_above``; those who accept leave
  the live queue (the chain's arrival rate drops there). The call backs are
  made in the slots that free up with no live caller waiting (extra arrivals
  into the chain's states with a free slot), and those that cannot be are
  promoted ahead of the live callers, as when they fall due; a call back
  waits like Cobham's lower class until it is due
  (``within_minutes - offer_when_wait_above``), then for the next free agent.
  Callers who hang up and call the channel back while its queue is still as
  they left it are folded into the queue (:func:`erlang_a_with_callbacks`,
  where :func:`redials_folded`).
* An asynchronous channel, or a live one whose customers never hang up, keeps
  all its work: a fluid backlog over the run's minutes (at most
  :data:`FLUID_WARMUP_DAYS` of warm-up and :data:`FLUID_WINDOW_DAYS` of
  window, see :func:`fluid_span`; capacity: the slots
  on duty over the handle time) plus Erlang C's random wait on the slots in
  hours where no backlog builds up.

**A pool of several channels** (shared, blended groups) is a fixed point on
the busy agents ``L[g, j, h]`` each group ``g`` gives each channel ``j`` in
hour ``h``:

* A contact of ``j`` waits with the probability ``P_j`` that every agent of
  the groups answering ``j`` is busy: Erlang C for those agents (less each
  group's ``reserve`` for ``j``) and all the load they carry, where the
  groups answer every channel alike; groups that answer different channels
  are busy independently, so ``P_j`` is the product of their Erlang Cs.
* Once waiting, it is taken at rate
  ``nu_j = sum_g c_g mu_g (1 - sigma_g<j) (1 - sigma_g<=j)``, ``sigma_g<j``
  (``<=j``) the share of group ``g``'s agents busy with channels it ranks
  above ``j`` (at ``j``'s priority or above) and ``mu_g`` its completions
  per busy agent-minute. For one group this is Cobham's non-preemptive
  priority formula, ``W_j = P_j / nu_j``, exact for one exponential handle
  time: equal priorities pool into Erlang C. The wait once waiting is taken
  as exponential; with patience ``theta``, ``W_j = P_j / (theta + nu_j)``
  and ``abandon_j = theta W_j``.
* No channel gets more through than its *capacity*: the agents that the
  work its groups rank above it or beside it leaves (less a ``reserve``),
  at its handle time. In an overloaded hour Cobham's rate vanishes; the
  queue is then served at that capacity, and callers hang up until the
  calls answered fit in it (``abandon_j = 1 - capacity / lambda_j``).
* Asynchronous (and patient) channels take that capacity: a fluid backlog
  as above, with Cobham's wait in hours where none builds up — the wait of
  the hour's own arrivals, whose load (not the backlog being worked off)
  counts in their probability of waiting and Cobham's rate.
* Call backs are a class of their own, ranked just after the live contacts
  of their channel, which wait at their class's rate ``nu`` until due.
  Callers are offered one with probability ``P_j rho^q*`` (a geometric
  queue seen on arrival, ``rho = lambda / (lambda + nu_j + theta)``), but
  none where the line closes before the promise runs out (the model's
  rule). With the line open and nobody on duty, every caller is offered
  one; those call backs wait for the next agents on duty, who make them
  first (:func:`callbacks_off_duty`).
* ``concurrency`` in a shared group: an agent on a chat holds ``q`` chats on
  average, ``q`` between 1 and ``k`` as the chats in progress outnumber the
  agents free for them, so a chat costs ``h f(q) / q`` agent-minutes.
* Each channel's served contacts are split among its groups: those answered
  at once go to the best-priority groups with idle agents first (Erlang B
  overflow between priority levels), those that waited to each group in
  proportion to its term of ``nu_j``; what would take a group beyond the
  agents the channel may have there goes to the groups with some left, so
  no group is ever busy beyond its agents.

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("nice_bcg_2016")
>>> pools = build_pools(sc)
>>> [p.channel_names for p in pools]  # three groups sharing email: one pool
[('email', 'chat', 'phone')]
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
from scipy import special, stats

from .analytic import QueueFigures, _answered_within, _number_in_system, callback_wait, erlang_a, erlang_b, slot_queue
from .distributions import Deterministic, Distribution, Empirical, Exponential, Gamma, Lognormal, Uniform

if TYPE_CHECKING:  # the theory reads a scenario it is given; the scenario imports it (its derived warm-up)
    from .scenario import Channel, Scenario

__all__ = ["Pool", "ChannelQueue", "Timeline", "build_pools", "laplace_transform", "fluid_span", "redials_folded"]

#: Quantile nodes used to integrate over a handle-time distribution.
HANDLE_NODES = 400
#: Longest the fluid backlog model looks past the end of the window for a
#: message to be answered, in days.
MAX_TAIL_DAYS = 30
#: The fluid backlog model works minute by minute, so it covers at most this much of a run's
#: warm-up and window, in days (longer runs repeat the same days; they would need gigabytes).
FLUID_WARMUP_DAYS = 14
FLUID_WINDOW_DAYS = 28
#: Smallest share of an agent's time left for a class in the shared-pool rates (keeps them finite).
FLOOR = 1e-4
#: Iterations, tolerance (busy agents) and damping of a shared pool's fixed point.
POOL_ITERATIONS = 300
POOL_TOLERANCE = 1e-9
POOL_DAMPING = 0.3
#: Steps of a shared pool's fixed point without halving its best residual before it stops (it cycles).
POOL_STAGNATION = 20


# --------------------------------------------------------------------------- distributions


def quantile_nodes(dist: Distribution, n: int = HANDLE_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Values and weights that integrate functions of a time distribution (midpoint quantiles).

    Computed once per distribution (the fixed point asks for the same ones at every step); the
    arrays are shared, so read-only.
    """
    try:
        return _cached_quantile_nodes(dist, n)
    except TypeError:  # a distribution that cannot be a cache key
        return _compute_quantile_nodes(dist, n)


@lru_cache(maxsize=256)
def _cached_quantile_nodes(dist: Distribution, n: int) -> tuple[np.ndarray, np.ndarray]:
    values, weights = _compute_quantile_nodes(dist, n)
    values.flags.writeable = weights.flags.writeable = False  # shared by every caller
    return values, weights


def _compute_quantile_nodes(dist: Distribution, n: int) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(dist, Deterministic):
        return np.array([dist.value]), np.array([1.0])
    if isinstance(dist, Empirical):
        values, counts = np.unique(np.asarray(dist.values, dtype=float), return_counts=True)
        return values, counts / counts.sum()
    if isinstance(dist, Exponential):
        frozen = stats.expon(scale=dist.mean)
    elif isinstance(dist, Lognormal):
        sigma2 = math.log1p(dist.cv**2)
        frozen = stats.lognorm(s=math.sqrt(sigma2), scale=math.exp(math.log(dist.mean) - sigma2 / 2))
    elif isinstance(dist, Gamma):
        shape = 1.0 / dist.cv**2
        frozen = stats.gamma(a=shape, scale=dist.mean / shape)
    elif isinstance(dist, Uniform):
        frozen = stats.uniform(loc=dist.low, scale=dist.high - dist.low)
    else:  # an unknown distribution: a fixed-seed sample stands in for its quantiles
        values = np.sort(dist.sample(np.random.default_rng(0), 20 * n))
        return values, np.full(len(values), 1.0 / len(values))
    return frozen.ppf((np.arange(n) + 0.5) / n), np.full(n, 1.0 / n)


def laplace_transform(dist: Distribution, rate: float) -> tuple[float, float]:
    """``E[exp(-rate X)]`` and ``E[X exp(-rate X)]`` for a time distribution ``X``.

    Exact for the exponential and gamma distributions; by midpoint quantile
    integration otherwise (error far below the approximation's own).

    Examples
    --------
    >>> from simulator.distributions import Exponential
    >>> round(laplace_transform(Exponential(4.0), 0.25)[0], 6)  # 1 / (1 + 4 * 0.25)
    0.5
    """
    if isinstance(dist, (Exponential, Gamma)):
        shape = 1.0 if isinstance(dist, Exponential) else 1.0 / dist.cv**2
        scale = dist.mean / shape
        base = 1.0 + rate * scale
        return base**-shape, shape * scale * base ** (-shape - 1.0)
    values, weights = quantile_nodes(dist)
    decay = np.exp(-rate * values)
    return float(weights @ decay), float(weights @ (values * decay))


# --------------------------------------------------------------------------- time


def fluid_span(scenario: Scenario) -> tuple[float, float]:
    """The start and end of the window, in minutes, that the fluid backlog model simulates.

    The run's own, except that a warm-up beyond :data:`FLUID_WARMUP_DAYS` is
    shortened by whole periods (days, or weeks for a weekly scenario, so the
    hours of the period stay where they are) and a window beyond
    :data:`FLUID_WINDOW_DAYS` is cut there: by then a stable backlog repeats
    its pattern, and the model's minute grid stays small.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 1000, "run.warmup_hours": 1000})
    >>> start, end = fluid_span(sc)
    >>> start % 1440 == sc.run.warmup_minutes % 1440, start / 1440 >= FLUID_WARMUP_DAYS
    (True, True)
    >>> (end - start) / 1440
    28.0
    """
    start, end = scenario.run.warmup_minutes, scenario.run.end_minutes
    unit = scenario.period_hours * 60.0
    dropped = max(0, math.floor((start - FLUID_WARMUP_DAYS * 1440.0) / unit)) * unit
    start, end = start - dropped, end - dropped
    return start, min(end, start + FLUID_WINDOW_DAYS * 1440.0)


class Timeline:
    """The hours of a scenario's period and its measured window.

    ``window[h]``: minutes of the measured window in hour ``h`` of the period;
    ``open[i][h]``: share of hour ``h`` channel ``i`` is open; ``fluid_start``
    and ``fluid_end``: the part of the run the fluid backlog model covers
    (:func:`fluid_span`; ``fluid_whole`` when it is the whole run).
    """

    def __init__(self, scenario: Scenario):
        self.period = period = scenario.period_hours
        self.start, self.end = scenario.run.warmup_minutes, scenario.run.end_minutes
        self.fluid_start, self.fluid_end = fluid_span(scenario)
        self.fluid_whole = (self.fluid_start, self.fluid_end) == (self.start, self.end)
        hours = np.arange(math.floor(self.start / 60.0), math.ceil(self.end / 60.0))
        overlap = np.minimum(self.end, (hours + 1) * 60.0) - np.maximum(self.start, hours * 60.0)
        self.window = np.bincount(hours % period, weights=np.maximum(overlap, 0.0), minlength=period)
        self.open = [np.tile(_open_fraction(c), period // 24) for c in scenario.channels]
        self.open_minutes = [np.array([c.is_open(m) for m in np.arange(1440) + 0.5]) for c in scenario.channels]
        self._grids: dict[tuple[int, int], tuple] = {}

    def minutes(self, count: int, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The first ``count`` minutes from the start: midpoints, hour of the period, and whether
        channel ``i`` is open (kept: the fluid backlog asks for them at every step)."""
        key = (count, i)
        if key not in self._grids:
            t = np.arange(count) + 0.5
            self._grids[key] = (t, (t // 60 % self.period).astype(int),
                                self.open_minutes[i][(t % 1440).astype(int)])
        return self._grids[key]

    def callback_share(self, i: int, within_minutes: float) -> np.ndarray:
        """By hour of the period, the share of channel ``i``'s open minutes whose callers may be offered
        a call back: the line is still open when the promise of ``within_minutes`` runs out (the
        model's rule)."""
        is_open = self.open_minutes[i]
        later = np.roll(is_open, -int(round(within_minutes)) % 1440)
        with np.errstate(invalid="ignore", divide="ignore"):
            share = (is_open & later).reshape(24, 60).sum(axis=1) / is_open.reshape(24, 60).sum(axis=1)
        return np.tile(np.nan_to_num(share), self.period // 24)

    def per_hour(self, values) -> np.ndarray:
        """A list of 24 (or ``period``) hourly values over the whole period."""
        values = np.asarray(values, dtype=float)
        return np.tile(values, self.period // len(values))


def _open_fraction(channel: Channel) -> np.ndarray:
    """Share of each hour of the day during which the channel is open."""
    if channel.open_hours is None:
        return np.ones(24)
    start, end = channel.open_hours
    spans = [(start, end)] if start < end else [(start, 24.0), (0.0, end)]
    hours = np.arange(24, dtype=float)
    fraction = np.zeros(24)
    for low, high in spans:
        fraction += np.clip(np.minimum(hours + 1, high) - np.maximum(hours, low), 0.0, 1.0)
    return fraction


# --------------------------------------------------------------------------- results


@dataclass
class ChannelQueue:
    """A channel's queue figures for given contact rates: window averages over its offered
    contacts, ``hourly`` arrays by hour of the period, and the agents it kept busy.

    ``busy[g]`` and ``slots[g]`` are the mean agents of group ``g`` (index in
    ``scenario.groups``) busy with the channel, and the slots they filled
    (contacts in service over the concurrency), by hour of the period.
    ``callbacks`` holds the shares of offered contacts offered and accepting
    a call back, the share of call backs made within the promise and their
    mean wait.
    """

    abandon_rate: float = 0.0
    mean_wait: float = 0.0
    p_wait: float = 0.0
    service_level: float = 1.0
    mean_queue: float = 0.0
    hourly: dict[str, np.ndarray] = field(default_factory=dict)
    busy: dict[int, np.ndarray] = field(default_factory=dict)
    slots: dict[int, np.ndarray] = field(default_factory=dict)
    overloaded_hours: tuple[int, ...] = ()
    callbacks: dict[str, float] = field(default_factory=dict)
    mean_service: float = math.nan


#: Per-hour figures a live queue model gives, averaged over offered contacts by the window.
_CONTACT_WEIGHTED = ("abandon_rate", "mean_wait_min", "p_wait", "service_level", "time_waiting", "mean_service",
                     "callback_offered", "callback_accepted", "callback_within", "callback_wait")


# --------------------------------------------------------------------------- callers who call back


def redials_folded(spec: Channel, shared: bool = False) -> bool:
    """Whether callbacks of the channel's own abandoners are folded into its queue
    (:func:`erlang_a_with_callbacks`): a live channel with patience that some abandoners call
    again, one contact per agent at a fixed pace, no call-back offers, agents not shared with
    other channels. Elsewhere those callbacks are fresh Poisson arrivals.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> [redials_folded(c) for c in sc.channels]  # web, email, chat (three at a time), phone
    [False, False, False, True]
    """
    return (not shared and not spec.unlimited and not spec.is_async and spec.patience is not None
            and spec.next_after_abandon.get(spec.name, 0.0) > 0 and spec.concurrency == 1
            and spec.concurrency_slowdown in (None, (1.0,)) and spec.callback is None)


def quick_share(retry: Distribution | None, redial: float, patience: float) -> float:
    """The share of a channel's callbacks that find its queue still as their callers left it.

    A caller who hangs up and calls back at once finds the same queue: for
    the queue, it is as if they had kept waiting. One who calls back much
    later finds a queue that has forgotten them: a fresh arrival. With a
    retry delay ``D``, a queue whose deviations decay at rate ``kappa`` still
    holds ``E[exp(-kappa D)]`` (the delay's Laplace transform) of a deviation
    when the caller returns. For the waiting customers that rate is the
    abandonment the queue really loses, ``kappa = theta (1 - redial w)``,
    where ``w`` is that share itself: a fixed point.

    Examples
    --------
    >>> from simulator.distributions import Exponential
    >>> quick_share(None, 0.6, 5.0)  # calling back at once
    1.0
    >>> 0.2 < quick_share(Exponential(10.0), 0.9, 3.0) < 0.4
    True
    """
    if retry is None:
        return 1.0
    theta = 1.0 / patience
    kappa, near = theta, 1.0
    for _ in range(200):
        near = laplace_transform(retry, kappa)[0]
        new = theta * (1.0 - redial * near)
        if abs(new - kappa) < 1e-12 * theta:
            break
        kappa = 0.5 * (kappa + new)
    return near


def erlang_a_with_callbacks(rate: float, mean_handle: float, agents: int, mean_patience: float,
                            service_level_seconds: float, callbacks: float, redial: float,
                            quick: float) -> dict[str, float]:
    """An Erlang A channel some of whose abandoners call it back: the channel metrics per contact.

    ``rate`` counts every contact a minute, callbacks included; ``callbacks``
    is the share of them that are callbacks of the channel's own abandoners,
    ``redial`` the share of its abandoners who call back, ``quick`` the share
    of callbacks that find the queue as they left it (:func:`quick_share`).
    Quick callbacks are folded into the queue: their callers in effect keep
    waiting, so waiting customers leave at ``theta (1 - redial quick)``; the
    other contacts arrive as a Poisson stream. From that birth-death chain,
    per contact: abandonment ``theta E[Q] / rate`` (every hang-up counts),
    mean wait ``E[Q] / rate`` (Little), and P(wait) and the service level
    of Poisson arrivals (PASTA) and of quick callbacks (who find a queue, as
    arrivals who must wait do; those ahead of them leave at the full rate
    ``theta``). Without callbacks these are :func:`~simulator.analytic.erlang_a`'s.

    Examples
    --------
    >>> plain = erlang_a(1.5, 5.0, 10, 3.0).channel_metrics()
    >>> same = erlang_a_with_callbacks(1.5, 5.0, 10, 3.0, 20.0, 0.0, 0.9, 0.3)
    >>> all(abs(same[k] - plain[k]) < 1e-12 for k in plain)
    True
    >>> more = erlang_a_with_callbacks(1.5, 5.0, 10, 3.0, 20.0, 0.06, 0.9, 0.3)
    >>> more["abandon_rate"] > plain["abandon_rate"] and more["mean_wait_min"] > plain["mean_wait_min"]
    True
    """
    if agents == 0 or rate <= 0 or callbacks <= 0 or quick <= 0:
        return erlang_a(rate, mean_handle, agents, mean_patience, service_level_seconds).channel_metrics()
    mu, theta = 1.0 / mean_handle, 1.0 / mean_patience
    fast = quick * callbacks * rate
    births = rate - fast
    n, pi = _number_in_system(births, mu, agents, theta * (1.0 - redial * quick))
    queue = float(pi @ np.maximum(n - agents, 0))
    busy = float(pi @ np.minimum(n, agents))
    ahead = pi[n >= agents]
    waits = float(ahead.sum())
    within = _answered_within(ahead, mu, agents, theta, service_level_seconds / 60.0)
    within_if_waiting = within / waits if waits > 0 else 0.0
    return {
        "p_wait": (births * waits + fast) / rate,
        "mean_wait_min": queue / rate,
        "service_level": (births * (1.0 - waits + within) + fast * within_if_waiting) / rate,
        "abandon_rate": theta * queue / rate,
        "occupancy": busy / agents,
        "mean_queue": queue,
    }


def callbacks_off_duty(callback, lam: np.ndarray, open_share: np.ndarray, staff: np.ndarray,
                       first_free: np.ndarray, offered: np.ndarray | None = None) -> dict[str, np.ndarray] | None:
    """Call backs taken in the hours a channel is open with nobody on duty to answer it.

    A caller then faces an endless wait and is offered a call back; the call
    backs accepted in a stretch of such hours wait for the next hour with
    agents on duty (``staff[h] > 0``), where, overdue, they go first and are
    made at ``first_free[s]`` a minute once the agents on duty (one call each)
    have taken theirs. Arrays by hour of the period (it wraps round):
    ``lam`` calls a minute, ``open_share`` the share of the hour the line is
    open, ``offered`` the share of its callers who may be offered one
    (:meth:`Timeline.callback_share`; all by default). Returns per hour
    ``off`` (open, calls, nobody on duty), the mean
    ``wait`` of its call backs and the share ``within`` the promise, and
    ``made``: the call backs a minute that hour's agents make for the stretch
    before it. None when the line is never staffed or always is when open.

    Examples
    --------
    >>> from simulator.scenario import Callback
    >>> staff = np.array([0, 0, 2, 2] + [2] * 20)
    >>> r = callbacks_off_duty(Callback(2.0, 0.5, 60.0), np.full(24, 0.5), np.ones(24), staff, np.full(24, 0.4))
    >>> r["off"][:3].tolist(), float(r["made"][2] * 60)  # 2 hours x 15 call backs, made in hour 2
    ([True, True, False], 30.0)
    >>> # half an hour (or 1.5) to the shift, then 35 min: 28 call backs after the first 2, 0.4 a minute
    >>> round(float(r["wait"][1]), 2), round(float(r["wait"][0]), 2)
    (65.0, 125.0)
    """
    period = len(lam)
    off = (staff <= 0) & (open_share > 0) & (lam > 0)
    if not off.any() or not (staff > 0).any():
        return None
    accepted = lam * 60.0 * open_share * callback.accept  # call backs taken in each hour
    if offered is not None:
        accepted = accepted * offered
    staffed = np.flatnonzero(staff > 0)
    hours = np.flatnonzero(off)
    # the first staffed hour after each hour off duty (the period wraps round)
    due = staffed[np.searchsorted(staffed, hours, side="right") % len(staffed)]
    made = np.bincount(due, weights=accepted[hours], minlength=period) / 60.0
    # the agents on duty take one each at once, the rest follow at the rate agents free up
    extra = np.maximum(made[due] * 60.0 - staff[due], 0.0) / (2.0 * np.maximum(first_free[due], 1e-12))
    ahead = (due - hours) % period  # hours from the start of the hour to the agents coming on duty
    wait, within = np.zeros(period), np.zeros(period)
    wait[hours] = (ahead - 0.5) * 60.0 + extra
    within[hours] = np.clip((callback.within_minutes - extra - (ahead - 1) * 60.0) / 60.0, 0.0, 1.0)
    return {"off": off, "wait": wait, "within": within, "made": made}


# --------------------------------------------------------------------------- vectorised Erlang


def _erlang_b_table(loads: np.ndarray, agents: np.ndarray) -> np.ndarray:
    """Erlang B ``B(agents[h], loads[h])`` for every hour at once (whole agents >= 0).

    ``B = P(X = c) / P(X <= c)`` for ``X ~ Poisson(a)``, in a time that does
    not grow with the agents; where the Poisson tail underflows (a load far
    above the agents), :func:`~simulator.analytic.erlang_b` takes over.

    Examples
    --------
    >>> from simulator.analytic import erlang_b
    >>> table = _erlang_b_table(np.array([2.0, 0.0, 950.0, 5.0]), np.array([3, 4, 1000, 0]))
    >>> bool(np.allclose(table, [erlang_b(2.0, 3), 0.0, erlang_b(950.0, 1000), 1.0], rtol=1e-12, atol=0))
    True
    """
    loads = np.asarray(loads, dtype=float)
    agents = np.asarray(agents)
    c = agents.astype(float)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        log_pmf = c * np.log(loads) - loads - special.gammaln(c + 1.0)
        blocking = np.exp(log_pmf - np.log(special.pdtr(c, loads)))
    blocking = np.where(agents <= 0, 1.0, np.where(loads <= 0, 0.0, blocking))
    lost = ~np.isfinite(blocking) & np.isfinite(loads)
    if lost.any():
        a, k = np.broadcast_arrays(loads, agents)
        blocking = np.array(blocking, dtype=float)
        blocking[lost] = [erlang_b(float(x), int(n)) for x, n in zip(a[lost], k[lost])]
    return blocking


def _erlang_c_of(loads: np.ndarray, agents: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Erlang C's probability of waiting from Erlang B's ``b`` (1 where the load reaches the agents)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        c = agents * b / (agents - loads * (1.0 - b))
    return np.where((loads < agents) & (agents > 0), np.clip(c, 0.0, 1.0), np.where(loads > 0, 1.0, 0.0))


def _next_erlang_b(loads: np.ndarray, agents: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Erlang B with one agent more, from ``b = B(agents, loads)``."""
    with np.errstate(invalid="ignore"):
        return np.where(loads > 0, loads * b / (agents + 1.0 + loads * b), 0.0)


def _erlang_c_table(loads: np.ndarray, agents: np.ndarray) -> np.ndarray:
    """Erlang C's probability of waiting, hour by hour (1 where the load reaches the agents)."""
    agents = np.asarray(agents, dtype=int)
    return _erlang_c_of(loads, agents, _erlang_b_table(loads, agents))


def _impatient_queue_mean(lam: np.ndarray, speed: np.ndarray, theta: float) -> np.ndarray:
    """Mean of the birth-death chain with births ``lam`` and deaths ``speed + j theta`` (``theta > 0``),
    hour by hour, mostly in closed form.

    With ``x = speed / theta`` and ``y = lam / theta`` the weights are
    ``y^j / ((x + 1) ... (x + j))``; their sum is ``S = e^y y^-x Gamma(x + 1)
    P(x, y)`` (``P`` the regularized lower incomplete gamma function), and
    summing the balance ``(x + j + 1) w_{j+1} = y w_j`` over ``j`` gives the
    mean ``y - x + x / S``, used where ``y >= 0.9 (x + 1)``. Below (``P`` may
    underflow and the difference cancel) the series itself is summed: its
    terms shrink by a tenth or more each.

    Examples
    --------
    >>> j = np.arange(400)
    >>> w = np.exp(np.cumsum(np.concatenate(([0.0], np.log(3.0 / (2.0 + 0.5 * j[1:]))))))
    >>> truth = float(j @ w / w.sum())
    >>> bool(abs(_impatient_queue_mean(np.array([3.0]), np.array([2.0]), 0.5)[0] - truth) < 1e-12)
    True
    """
    x, y = speed / theta, lam / theta
    mean = np.zeros(len(lam))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
        log_s = y - x * np.log(y) + special.gammaln(x + 1.0) + np.log(special.gammainc(x, y))
        closed = y - x + x * np.exp(-log_s)
    use = (y > 0) & (y > 0.9 * (x + 1.0)) & np.isfinite(closed)
    mean[use] = closed[use]
    rest = (y > 0) & ~use
    series = rest & (y <= 0.9 * (x + 1.0))
    if series.any():
        first = y[series] / (x[series] + 1.0)  # the largest ratio of two terms
        j = np.arange(1, int(math.ceil(40.0 / -math.log(float(first.max())))) + 2)[:, None]
        terms = np.cumprod(y[series][None, :] / (x[series][None, :] + j), axis=0)
        mean[series] = (j * terms).sum(axis=0) / (1.0 + terms.sum(axis=0))
    slow = rest & ~series  # the closed form overflowed: the chain itself
    if slow.any():
        mean[slow] = _queue_given_busy(lam[slow], speed[slow], theta, 0.0, service_level=False,
                                       closed_form=False)["queue"]
    return mean


def _queue_given_busy(lam, speed, theta: float, threshold: float, offer_from=None, accept: float = 0.0,
                      service_level: bool = True, closed_form: bool = True) -> dict:
    """A class's queue while every agent it may use is busy, hour by hour (arrays over hours).

    A birth-death chain on the contacts waiting: births ``lam`` (``lam (1 -
    accept)`` from ``offer_from`` waiting on, where call backs are offered),
    deaths ``speed + j theta``; as Erlang A's queue given all agents busy
    when ``speed = c mu``. Returns, per arrival that finds every agent busy,
    the shares ``offered`` and ``accepted`` a call back and ``live`` who
    join the queue, the mean ``queue`` (waiting contacts given busy), and
    ``within``: the share served within ``threshold`` minutes among those
    who join (times ``live``; only with ``service_level``, which the fixed point does not need).
    Without call backs and service level the mean is in closed form
    (:func:`_impatient_queue_mean`); otherwise the chain is cut where the
    mass left out is negligible (twelve standard deviations past its mode).
    """
    lam = np.asarray(lam, dtype=float)
    speed = np.maximum(np.asarray(speed, dtype=float), 1e-12)
    hours = len(lam)
    if closed_form and offer_from is None and not service_level and theta > 0:
        return {"offered": np.zeros(hours), "accepted": np.zeros(hours), "live": np.ones(hours),
                "queue": _impatient_queue_mean(lam, speed, theta), "within": np.full(hours, np.nan)}
    offer = np.full(hours, np.inf) if offer_from is None else np.asarray(offer_from, dtype=float)
    tail = lam * (1.0 - accept) if offer_from is not None else lam
    if theta == 0 and np.any((tail >= speed) & (lam > 0)):
        size = 20000
    elif theta == 0:
        ratio = float(np.max(np.where(lam > 0, tail / speed, 0.0)))
        size = int(min(20000, max(64, math.log(1e-15) / math.log(max(ratio, 1e-12)) + 2)))
    else:
        # the weights peak at most at (lam - speed) / theta and fall like a normal of variance lam / theta
        needed = np.maximum(lam - speed, 0.0) / theta + 12.0 * np.sqrt(lam / theta) + 64.0
        size = int(min(20000, 64 + 4 * float(np.max(lam)) / theta, float(np.max(needed))))
    j = np.arange(1, size + 1)[:, None]
    birth = np.where(j - 1 < offer[None, :], lam[None, :], tail[None, :])
    with np.errstate(divide="ignore"):
        log_weight = np.vstack((np.zeros((1, hours)), np.cumsum(np.log(birth) - np.log(speed[None, :] + j * theta),
                                                               axis=0)))
    log_weight -= log_weight.max(axis=0)
    p = np.exp(log_weight)
    p /= p.sum(axis=0)
    q = np.arange(size + 1)[:, None]
    offered = q >= offer[None, :]
    stays = np.where(offered, 1.0 - accept, 1.0)
    unstable = (theta == 0) & (tail >= speed) & (lam > 0)
    result = {"offered": np.where(offered, p, 0.0).sum(axis=0), "accepted": accept * np.where(offered, p, 0.0).sum(axis=0),
              "live": (p * stays).sum(axis=0), "queue": np.where(unstable, np.inf, (p * q).sum(axis=0)),
              "within": np.full(hours, np.nan)}
    if service_level:
        ahead = q.astype(float)
        if theta == 0:
            within = special.gammainc(ahead + 1.0, speed[None, :] * threshold)
        else:
            served_at_all = speed[None, :] / (speed[None, :] + (ahead + 1.0) * theta)
            within = served_at_all * special.betainc(ahead + 1.0, speed[None, :] / theta + 1.0,
                                                     -math.expm1(-theta * threshold))
        result["within"] = np.where(unstable, 0.0, (p * stays * within).sum(axis=0))
    return result


def _expected_min_poisson(mean: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """``E[min(N, cap)]`` for ``N`` Poisson with ``mean`` (``cap`` fractional: linear between whole numbers).

    For a whole ``m``: ``m P(N >= m) + E[N; N <= m - 1] = m P(N > m - 1) + mean P(N <= m - 2)``.

    Examples
    --------
    >>> n = np.arange(200)
    >>> pmf = np.exp(n * np.log(7.5) - 7.5 - np.cumsum(np.log(np.maximum(n, 1))))
    >>> bool(abs(_expected_min_poisson(np.array([7.5]), np.array([6.0]))[0] - pmf @ np.minimum(n, 6)) < 1e-12)
    True
    """
    mean = np.asarray(mean, dtype=float)
    low = np.floor(cap)
    frac = cap - low

    def at(m):
        with np.errstate(invalid="ignore"):
            value = m * special.pdtrc(np.maximum(m - 1.0, 0.0), mean) \
                + mean * np.where(m >= 2, special.pdtr(np.maximum(m - 2.0, 0.0), mean), 0.0)
        return np.where(m > 0, value, 0.0)

    return (1.0 - frac) * at(low) + frac * at(low + 1.0)


def _room_with_reserve(agents: np.ndarray, reserve: np.ndarray, held: np.ndarray) -> np.ndarray:
    """``E[max(c - r - N, 0)]``: the agents left to a class that takes one only while ``r`` others
    stay idle, when the work ranked above it holds ``N = min(X, c)`` of the ``c`` agents (``X`` the
    contacts it has in the system, taken as Poisson) and ``E[N] = held`` (arrays of one shape, ``c``
    and ``r`` whole numbers). Read off a curve per ``(c, r)`` (:func:`_reserve_room_curve`).

    Examples
    --------
    >>> round(float(_room_with_reserve(np.array([8]), np.array([0]), np.array([7.2]))[0]), 6)  # c - E[N]
    0.8
    >>> more = _room_with_reserve(np.array([8]), np.array([1]), np.array([7.2]))[0]
    >>> bool(0.0 < more < 0.8)  # more than max(8 - 1 - 7.2, 0) = 0: the reserve binds only sometimes
    True
    """
    agents = np.asarray(agents).astype(int)
    reserve = np.asarray(reserve).astype(int)
    held = np.asarray(held, dtype=float)
    room = np.maximum(agents - reserve - held, 0.0)
    for c, r in {(int(c), int(r)) for c, r in zip(agents.ravel(), reserve.ravel()) if c > 0 and r > 0}:
        here = (agents == c) & (reserve == r)
        curve_held, curve_room = _reserve_room_curve(c, r)
        room[here] = np.interp(held[here], curve_held, curve_room)
    return room


@lru_cache(maxsize=1024)
def _reserve_room_curve(agents: int, reserve: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_room_with_reserve` for ``agents`` and ``reserve``, as values ``(held, room)`` to
    interpolate: both follow the Poisson mean ``a`` of ``X`` (``held = E[min(X, c)]``,
    ``room = c - r - E[min(X, c - r)]``) on a grid wide enough that the last ``held`` is within
    about 1e-9 of ``c`` (where the room ends at 0)."""
    top = agents + 14.0 * math.sqrt(agents) + 40.0
    a = top * np.linspace(0.0, 1.0, 801) ** 2  # dense at small means: few agents held
    held = _expected_min_poisson(a, np.full_like(a, agents))
    cap = float(agents - reserve)
    room = np.clip(cap - _expected_min_poisson(a, np.full_like(a, cap)), 0.0, cap)
    held, room = np.maximum.accumulate(np.append(held, float(agents))), np.append(room, 0.0)
    room.flags.writeable = held.flags.writeable = False
    return held, room


def _erlang_c_fractional(loads: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Erlang C's probability of waiting, hour by hour, for a fractional number of servers
    (linear between the whole numbers around it; exact for whole numbers)."""
    capacity = np.maximum(capacity, 0.0)
    low = np.floor(capacity + 1e-9).astype(int)
    frac = np.clip(capacity - low, 0.0, 1.0)
    b_low = _erlang_b_table(loads, low)
    low_c = _erlang_c_of(loads, low, b_low)
    if not (frac > 1e-9).any():
        return low_c
    high_c = _erlang_c_of(loads, low + 1, _next_erlang_b(loads, low, b_low))
    return np.where(frac > 1e-9, (1.0 - frac) * low_c + frac * high_c, low_c)


def _overflow(loads: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Share of a load offered to ``capacity`` (fractional) servers that finds them all busy (Erlang B,
    interpolated between whole numbers of servers)."""
    low = np.floor(capacity).astype(int)
    frac = capacity - low
    b_low = _erlang_b_table(loads, low)
    b_high = _next_erlang_b(loads, low, b_low)
    return np.where(loads > 0, (1.0 - frac) * b_low + frac * b_high, 0.0)


# --------------------------------------------------------------------------- pools


def build_pools(scenario: Scenario, timeline: Timeline | None = None) -> list["Pool"]:
    """The scenario's staffed channels grouped with the agent groups that connect them.

    Examples
    --------
    >>> import simulator as sim
    >>> [p.group_names for p in build_pools(sim.load_scenario("bank_app_first"))]
    [('messages',), ('chat',), ('phone',)]
    """
    timeline = timeline or Timeline(scenario)
    names = scenario.channel_names
    staffed = [i for i, c in enumerate(scenario.channels) if not c.unlimited]
    parent = {i: i for i in staffed}

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for group in scenario.groups:
        members = [names.index(c) for c in group.skills]
        for other in members[1:]:
            parent[root(other)] = root(members[0])
    parts: dict[int, list[int]] = {}
    for i in staffed:
        parts.setdefault(root(i), []).append(i)
    pools = []
    for channels in parts.values():
        groups = [g for g, spec in enumerate(scenario.groups) if names.index(next(iter(spec.skills))) in channels]
        pools.append(Pool(scenario, channels, groups, timeline))
    return pools


class Pool:
    """Channels and the agent groups that answer them, connected by skills (see the module's description).

    Parameters
    ----------
    scenario, timeline
        The scenario and its hours.
    channels, groups
        Indices in ``scenario.channels`` and ``scenario.groups``.
    """

    def __init__(self, scenario: Scenario, channels: list[int], groups: list[int], timeline: Timeline):
        self.scenario = scenario
        self.timeline = timeline
        self.channels = list(channels)
        self.groups = list(groups)
        self.specs = [scenario.channels[i] for i in self.channels]
        self.group_specs = [scenario.groups[g] for g in self.groups]
        period = timeline.period
        self.on_duty = np.array([[g.on_duty_in_hour(h) for h in range(period)] for g in self.group_specs], dtype=int)
        #: by channel of the pool, the share of each hour's callers who may be offered a call back
        self.callback_share = [timeline.callback_share(i, spec.callback.within_minutes)
                               if spec.callback is not None else None for i, spec in zip(self.channels, self.specs)]
        self.shared = len(self.channels) > 1
        self._cache: dict[tuple, QueueFigures] = {}
        self._state: tuple | None = None  # a shared pool's busy agents, kept as the next start
        self.residual = 0.0  # how much the shared pool's busy agents moved in its last step
        if self.shared:
            self._setup_shared()

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.specs)

    @property
    def key(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        """The pool's channels and groups (indices): pools of two scenarios with the same key are alike."""
        return tuple(self.channels), tuple(self.groups)

    @property
    def state(self) -> tuple | None:
        """Where a shared pool's own fixed point stands (its busy agents), or None before it ran."""
        return self._state

    def start_from(self, state: tuple | None) -> None:
        """Start the shared pool's fixed point from ``state`` (another pool's :attr:`state`, of a scenario
        alike but for its rates, routing or staffing); ignored when its shape does not fit."""
        if state is not None and self.shared and all(a.shape == (len(self.groups), len(self.classes),
                                                                  self.timeline.period) for a in state):
            self._state = tuple(a.copy() for a in state)

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.group_specs)

    def evaluate(self, rates: np.ndarray, steps: int | None = None, abandon: np.ndarray | None = None,
                 service_level: bool = True) -> dict[int, ChannelQueue]:
        """Queue figures of the pool's channels when ``rates[i, h]`` contacts a minute reach
        channel ``i`` (every channel of the scenario) in hour ``h`` of the period, closed ones included.

        A shared pool iterates its own fixed point from where the last call
        left it, at most ``steps`` times (default: until it settles);
        :attr:`residual` says how far it still moved. ``abandon[i, h]``, the
        share of channel ``i``'s contacts abandoned in hour ``h`` (from the
        network's last step), says how many of them are callbacks of its own
        abandoners (see :func:`redials_folded`). Without ``service_level`` a
        shared pool's service levels are left undefined (NaN): the network's
        fixed point needs only abandonment, waits and handle times.
        """
        if self.shared:
            return self._evaluate_shared(rates, steps or POOL_ITERATIONS, service_level)
        (i,), spec = self.channels, self.specs[0]
        agents = self.on_duty.sum(axis=0)
        if spec.callback is not None or (spec.patience is not None and not spec.is_async):
            redials = None
            if abandon is not None and redials_folded(spec):
                redials = spec.next_after_abandon[spec.name] * np.clip(abandon[i], 0.0, 1.0)
            queue = self._live_single(spec, i, rates[i], agents, redials)
        else:
            queue = self._backlog_single(spec, i, rates[i], agents)
        queue.busy, queue.slots = self._split_single(queue.hourly.pop("busy"), queue.hourly.pop("slots_used"),
                                                     queue.hourly.pop("p_wait_all"))
        return {i: queue}

    def fluid_capacity(self, rates: np.ndarray) -> dict[int, np.ndarray]:
        """Contacts a minute each channel of the pool can get through in each hour of the period when
        ``rates[i, h]`` contacts a minute reach channel ``i``, without queues: the capacity of
        :meth:`evaluate`'s rule, for a quick check of overload.

        A channel with its own agents (or groups answering only it) has them all. In a shared pool the
        agents are allocated as a fluid: each channel's offered load (agents at its handle time) takes
        the room the work ranked above it leaves (:meth:`_room`, a reserve included), in proportion to
        the room in each group.
        """
        tl = self.timeline
        if not self.shared:
            spec = self.specs[0]
            return {self.channels[0]: self.on_duty.sum(axis=0) * spec.concurrency
                    / (spec.handle_time.mean * _stretch(spec))}
        agents = self.on_duty.astype(float)
        offered = np.array([rates[self.channels[n]] * tl.open[self.channels[n]] * (not callback)
                            for n, callback in self.classes])
        demand = offered * self.full_cost[:, None]  # agents, by class and hour
        busy = np.zeros((len(self.groups), len(self.classes), tl.period))
        for _ in range(100):
            room = self._room(busy, agents)
            total = room.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                new = np.where(total > 0, room / np.where(total > 0, total, 1.0), 0.0) * np.minimum(demand, total)
            if np.max(np.abs(new - busy), initial=0.0) < 1e-9:
                break
            busy = 0.5 * (busy + new)
        room = self._room(busy, agents)
        return {self.channels[n]: room[:, x].sum(axis=0) / self.full_cost[x]
                for x, (n, callback) in enumerate(self.classes) if not callback}

    def overload(self, rates: np.ndarray, capacity: dict[int, np.ndarray]) -> dict[int, tuple[int, ...]]:
        """The hours of the period in which each channel of the pool is overloaded when ``rates[i, h]``
        contacts a minute reach channel ``i``, ``capacity[i][h]`` (contacts a minute) the most it can get
        through: offered load at or above it, or for a channel that keeps its work, a backlog its agents
        do not work off within a day (the rule of :meth:`evaluate`, :func:`_growing`)."""
        tl = self.timeline
        out = {}
        for spec, i in zip(self.specs, self.channels):
            if spec.is_async or (spec.patience is None and spec.callback is None):
                out[i] = _growing(tl, i, rates[i], capacity[i])
            else:
                hot = (rates[i] > 0) & (tl.open[i] > 0) & (rates[i] >= capacity[i])
                out[i] = tuple(int(h) for h in np.flatnonzero(hot))
        return out

    # -- one channel ---------------------------------------------------------------------------

    def _figures(self, spec: Channel, rate: float, agents: int, keeps_work: bool = False,
                 callback: bool = True) -> QueueFigures:
        """The channel's birth-death chain in one hour (``keeps_work``: nobody leaves the queue; without
        ``callback``, none is offered)."""
        patience = spec.patience.mean if spec.patience is not None and not keeps_work else math.inf
        key = (spec.name, rate, agents, keeps_work, callback)
        if key not in self._cache:
            self._cache[key] = slot_queue(
                rate, spec.handle_time.mean, agents, spec.concurrency, spec.concurrency_slowdown, patience,
                spec.service_level_seconds, callback=spec.callback if callback and not keeps_work else None)
        return self._cache[key]

    def _redial_figures(self, spec: Channel, rate: float, agents: int, callbacks: float) -> QueueFigures:
        """The channel's Erlang A in one hour when a share ``callbacks`` of its contacts are callbacks
        of its own abandoners (:func:`erlang_a_with_callbacks`)."""
        key = (spec.name, rate, agents, "redial", callbacks)
        if key not in self._cache:
            redial = spec.next_after_abandon[spec.name]
            quick = quick_share(spec.retry_delay, redial, spec.patience.mean)
            m = erlang_a_with_callbacks(rate, spec.handle_time.mean, agents, spec.patience.mean,
                                        spec.service_level_seconds, callbacks, redial, quick)
            self._cache[key] = QueueFigures(
                offered_load=rate * spec.handle_time.mean, agents=agents, p_wait=m["p_wait"],
                mean_wait=m["mean_wait_min"], service_level=m["service_level"],
                service_level_seconds=float(spec.service_level_seconds), abandon_rate=m["abandon_rate"],
                occupancy=m["occupancy"], mean_queue=m["mean_queue"], slot_occupancy=m["occupancy"],
                mean_service=float(spec.handle_time.mean))
        return self._cache[key]

    def _live_single(self, spec: Channel, i: int, rates: np.ndarray, agents: np.ndarray,
                     redials: np.ndarray | None = None) -> ChannelQueue:
        """Hour by hour, the channel's birth-death chain (with call backs taking their share of the agents;
        ``redials[h]``: the share of contacts that are callbacks of the channel's own abandoners)."""
        period = self.timeline.period
        open_share = self.timeline.open[i]
        values = {m: np.full(period, math.nan) for m in _CONTACT_WEIGHTED}
        values |= {m: np.zeros(period) for m in ("mean_queue", "busy", "slots_used", "p_wait_all")}
        overloaded = []
        k, handle = spec.concurrency, spec.handle_time.mean
        share = self.callback_share[0]
        for h in range(period):
            rate, c = float(rates[h]), int(agents[h])
            if open_share[h] <= 0:
                continue
            if redials is not None and c and rate > 0 and redials[h] > 0:
                figures = self._redial_figures(spec, rate, c, float(redials[h]))
            else:
                figures = self._figures(spec, rate, c)
            if (c == 0 and rate > 0) or (c and figures.offered_load * _stretch(spec) >= c * k):
                overloaded.append(h)
            row = _hour_figures(figures, c, open_share[h], handle)
            if share is not None and share[h] < 1.0 and c and rate > 0 and figures.callbacks is not None:
                # no call back offered where the line closes before the promise: those callers queue
                plain = _hour_figures(self._figures(spec, rate, c, callback=False), c, open_share[h], handle)
                row = {m: v if m in ("callback_within", "callback_wait")  # per call back made: as they are
                       else share[h] * v + (1.0 - share[h]) * plain.get(m, 0.0) for m, v in row.items()}
            for metric, value in row.items():
                values[metric][h] = value
        off_duty = None if spec.callback is None else callbacks_off_duty(
            spec.callback, rates, open_share, agents, agents * k / handle, share)
        if off_duty is not None:  # nobody on duty: callers are offered a call back, made when agents come
            off = off_duty["off"]
            accepted = spec.callback.accept * share
            gives_up = spec.patience is not None
            waited = spec.patience.mean if gives_up else off_duty["wait"]
            nobody = {"callback_offered": share, "callback_accepted": accepted,
                      "abandon_rate": (1.0 - accepted) * gives_up, "p_wait": 1.0, "service_level": 0.0,
                      "p_wait_all": 1.0, "mean_wait_min": waited,
                      "time_waiting": (1.0 - accepted) * waited + accepted * off_duty["wait"]}
            # the agents who come on duty first make the call backs (overdue, they go first), for as
            # long as that takes: callers meanwhile face them as callers off duty do
            first = np.where(off, 1.0, 0.0)
            for s in np.flatnonzero(off_duty["made"]):
                work, h = off_duty["made"][s] * 60.0 * handle / k, s  # agent-minutes
                while work > 1e-9 and agents[h] > 0:
                    first[h] = max(first[h], min(work / (agents[h] * 60.0), 1.0))
                    work -= first[h] * agents[h] * 60.0
                    h = (h + 1) % period
            for metric, value in nobody.items():
                value = np.broadcast_to(value, (period,))
                values[metric] = np.where(first > 0, first * value + (1.0 - first) * np.nan_to_num(values[metric]),
                                          values[metric])
            for metric in ("wait", "within"):
                values[f"callback_{metric}"][off] = off_duty[metric][off]
            values["busy"] = np.maximum(values["busy"], first * agents * open_share)
            values["slots_used"] = np.maximum(values["slots_used"], first * agents * open_share)
        return self._aggregate(spec, i, rates, values, tuple(overloaded))

    def _backlog_single(self, spec: Channel, i: int, rates: np.ndarray, agents: np.ndarray) -> ChannelQueue:
        """A channel that keeps all its work: fluid backlog on the slots, and Erlang C on them."""
        period = self.timeline.period
        k, handle = spec.concurrency, spec.handle_time.mean
        capacity = agents * k / (handle * _stretch(spec))
        p_wait, spare, queue = np.ones(period), np.zeros(period), np.full(period, math.nan)
        chains = {}
        for h in range(period):
            rate = float(rates[h])
            if agents[h] > 0 and rate < capacity[h]:
                chains[h] = figures = self._figures(spec, rate, int(agents[h]), keeps_work=True)
                p_wait[h], spare[h], queue[h] = figures.p_wait, capacity[h] - rate, figures.mean_queue
        queue_result, throughput, backlog = _backlog(self.timeline, spec, i, rates, capacity, p_wait, spare, queue)
        if backlog is None:  # every hour in its steady state: the chain's own figures
            open_share = self.timeline.open[i]
            busy, slots, service = np.zeros(period), np.zeros(period), np.full(period, handle)
            for h, figures in chains.items():
                busy[h] = figures.occupancy * agents[h] * open_share[h]
                slots[h] = figures.slot_occupancy * agents[h] * open_share[h]
                service[h] = figures.mean_service
            queue_result.hourly.update(busy=busy, slots_used=slots, mean_service=service)
            served = rates * self.timeline.window * open_share
            if served.sum() > 0:
                queue_result.mean_service = float(served @ service / served.sum())
            return queue_result
        in_service = throughput * handle * _stretch(spec)  # contacts with an agent, by hour
        queue_result.hourly["slots_used"] = in_service / k
        queue_result.hourly["busy"] = np.minimum(in_service, agents)
        return queue_result

    def _split_single(self, busy: np.ndarray, slots: np.ndarray, p_wait: np.ndarray):
        """One channel's busy agents shared among its groups (best priority first, Erlang B overflow)."""
        if len(self.groups) == 1:
            return {self.groups[0]: busy}, {self.groups[0]: slots}
        name = self.specs[0].name
        rank = np.array([[g.skills[name]] for g in self.group_specs], dtype=float)
        available = self.on_duty.astype(float)
        share = _split(busy, p_wait, rank[:, 0], available, available, available)
        with np.errstate(invalid="ignore", divide="ignore"):
            fraction = np.where(busy > 0, share / np.where(busy > 0, busy, 1.0), 0.0)
        return ({g: share[n] for n, g in enumerate(self.groups)},
                {g: slots * fraction[n] for n, g in enumerate(self.groups)})

    # -- shared groups -------------------------------------------------------------------------

    def _setup_shared(self) -> None:
        """Classes (each channel's live contacts, and its call backs) and their ranks in each group."""
        classes = []
        for n, spec in enumerate(self.specs):
            classes.append((n, False))
            if spec.callback is not None:
                classes.append((n, True))
        self.classes = classes
        inf = math.inf
        self.rank = np.array([[g.skills.get(self.specs[n].name, inf) + (0.5 if cb else 0.0) for n, cb in classes]
                              for g in self.group_specs])  # (G, X)
        self.reserve = np.array([[g.reserve.get(self.specs[n].name, 0) for n, _ in classes]
                                 for g in self.group_specs], dtype=float)
        self.serving = np.isfinite(self.rank)
        self.above = self.rank[:, None, :] < self.rank[:, :, None]  # above[g, x, y]: g ranks y above x
        self.beside = (self.rank[:, None, :] == self.rank[:, :, None]) & self.serving[:, None, :]
        self.concurrent = np.array([self.specs[n].concurrency > 1 and not cb for n, cb in classes])
        self.chats_above = self.above[:, :, :][:, :, self.concurrent].any(axis=2) if self.concurrent.any() \
            else np.zeros(self.rank.shape, dtype=bool)  # chats_above[g, x]: g ranks some chat above x
        # reserved_below[g, x, y]: g ranks y below x and keeps agents idle for x from y (a reserve on y)
        self.reserved_below = (self.rank[:, None, :] > self.rank[:, :, None]) & self.serving[:, None, :] \
            & (self.reserve[:, None, :] > 0)
        # _alike[x]: the groups answering class x, in sets that rank and reserve every class alike
        self._alike = []
        for x in range(len(classes)):
            sets: dict[tuple, list[int]] = {}
            for g in np.flatnonzero(self.serving[:, x]):
                sets.setdefault((tuple(self.rank[g]), tuple(self.reserve[g])), []).append(int(g))
            self._alike.append(list(sets.values()))
        handles = np.array([self.specs[n].handle_time.mean for n, _ in classes])
        self.handle = handles
        self.full_cost = np.array([self.specs[n].handle_time.mean * _stretch(self.specs[n]) / self.specs[n].concurrency
                                   for n, _ in classes])  # agent-minutes per contact at full concurrency
        # completions per busy agent-minute when a group has carried nothing yet
        self.default_rate = np.array([np.mean(1.0 / self.full_cost[self.serving[g]]) for g in range(len(self.groups))])

    def _all_busy(self, x: int, loads: np.ndarray, agents: np.ndarray) -> np.ndarray:
        """P(wait) of class ``x``, by hour: every agent who may take it is busy (``loads[g, h]`` of the
        ``agents[g, h]`` group ``g`` has for it).

        Groups that answer the same channels alike are one queue: Erlang C on their agents together.
        Groups that answer different ones are busy independently of each other, so a contact waits only
        when each of them is: the product of their Erlang Cs (one group: Erlang C on its agents)."""
        p_wait = np.ones(loads.shape[1])
        for members in self._alike[x]:
            p_wait = p_wait * _erlang_c_fractional(loads[members].sum(axis=0), agents[members].sum(axis=0))
        return p_wait

    def _agent_cost(self, served: np.ndarray, busy: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Agent-minutes per contact of each class in each group, and the contacts an agent on the
        class holds, both (G, X, P).

        With concurrency ``k``, a new chat goes to an idle agent first, so the
        agents holding chats are ``E[min(N, F)]``: ``N`` the chats in
        progress (taken as Poisson), ``F`` the agents not busy with other
        work; an agent on chats holds ``q = E[N] / E[min(N, F)]`` of them
        (at most ``k``), and a chat costs ``h f(q) / q`` agent-minutes.
        """
        cost = np.empty_like(served)
        held = np.ones_like(served)
        total = busy.sum(axis=1)
        capacity = self.on_duty.astype(float)
        for x, (n, _) in enumerate(self.classes):
            spec = self.specs[n]
            k = spec.concurrency
            factors = np.asarray(spec.concurrency_slowdown or (1.0,) * k)
            handle = spec.handle_time.mean
            if k == 1:
                cost[:, x] = handle * factors[0]
                continue
            free = np.maximum(capacity - (total - busy[:, x]), 1e-9)  # agents not busy with other classes
            q = np.ones_like(free)
            for _ in range(8):
                chats = served[:, x] * handle * np.interp(q, np.arange(1, k + 1), factors)
                holding = _expected_min_poisson(chats, free)
                q = np.clip(chats / np.maximum(holding, 1e-12), 1.0, k)
            held[:, x] = q
            cost[:, x] = handle * np.interp(q, np.arange(1, k + 1), factors) / q
        return cost, held

    def _chat_freeing(self, served: np.ndarray, busy: np.ndarray, held: np.ndarray,
                      waiting: np.ndarray) -> np.ndarray:
        """How often agents on chats become free of them, per minute, by group, class and hour (G, X, P).

        Chats are spread evenly: of ``A`` agents holding ``N`` chats, ``m = max(2A - N, 0)``
        hold exactly one; a new chat goes to one of them (rate ``lambda / m`` each), so one frees
        when its chat ends first: ``m mu1 mu1 / (mu1 + lambda / m)``, and only while no chat waits.
        """
        freeing = np.zeros_like(busy)
        for x, (n, _) in enumerate(self.classes):
            if not self.concurrent[x]:
                continue
            spec = self.specs[n]
            one = 1.0 / (spec.handle_time.mean * (spec.concurrency_slowdown or (1.0,))[0])
            chats = busy[:, x] * held[:, x]
            single = np.maximum(2.0 * busy[:, x] - chats, 0.0)
            arrivals = served[:, x]
            with np.errstate(invalid="ignore", divide="ignore"):
                freeing[:, x] = np.where(single > 1e-12, single * one * one / (one + arrivals / np.maximum(single, 1e-12)),
                                         0.0) * (1.0 - waiting[x][None, :])
        return freeing

    def _room(self, busy: np.ndarray, agents: np.ndarray) -> np.ndarray:
        """``room[g, x, h]``: the agents of group ``g`` that class ``x`` may have in hour ``h``: on
        average, those of the group's agents (less its reserve for ``x``) that the classes it ranks
        above ``x`` or beside it do not hold. A channel's call backs, promoted ahead of its live
        callers when they cannot be made, count as work above the live callers here (and the live
        callers not as work above them).

        Without a reserve that is the agents less the mean ``m`` held by the work above. With a
        reserve ``r``, the class takes an agent only while ``r`` others stay idle: it has
        ``E[max(c - r - N, 0)]`` agents, ``N`` the agents the work above holds, which is more than
        ``c - r - m`` (the reserve holds agents back only while the work above leaves more than
        ``r`` idle). ``N`` is taken as ``min(X, c)``, ``X`` Poisson, with mean ``m``
        (:func:`_room_with_reserve`).
        """
        room = np.zeros_like(busy)
        for x, (n, callback) in enumerate(self.classes):
            serving = self.serving[:, x][:, None]
            higher = np.einsum("gyp,gy->gp", busy, self.above[:, x, :])
            others = np.einsum("gyp,gy->gp", busy, self.beside[:, x, :]) - busy[:, x]
            if callback:
                higher = higher - busy[:, x - 1]
            elif x + 1 < len(self.classes) and self.classes[x + 1] == (n, True):
                others = others + busy[:, x + 1]
            held = np.clip(higher + others, 0.0, agents)
            reserve = np.broadcast_to(self.reserve[:, x][:, None], agents.shape)
            room[:, x] = (_room_with_reserve(agents, reserve, held) if reserve.any() else agents - held) * serving
        return room

    def _steady_busy(self, x: int, offered: np.ndarray, busy: np.ndarray, room: np.ndarray) -> np.ndarray:
        """The agents of each group the contacts of class ``x`` arriving in each hour keep busy (``(G, P)``):
        ``offered`` contacts a minute at the class's cost per contact, shared among the groups as its
        ``busy`` agents are (as its ``room`` where it has none)."""
        need = offered * self.full_cost[x]
        weights = np.where(busy.sum(axis=0) > 1e-12, busy, room)
        total = weights.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(total > 0, weights / np.where(total > 0, total, 1.0), 0.0) * need

    def _evaluate_shared(self, rates: np.ndarray, steps: int, service_level: bool = True) -> dict[int, ChannelQueue]:
        tl = self.timeline
        period = tl.period
        n_groups, n_classes = len(self.groups), len(self.classes)
        agents = self.on_duty.astype(float)  # (G, P)
        offered = np.array([rates[self.channels[n]] * tl.open[self.channels[n]] for n, _ in self.classes])  # (X, P)
        if self._state is None:
            served = np.zeros((n_groups, n_classes, period))
            busy = np.zeros_like(served)
        else:
            served, busy = (a.copy() for a in self._state)
        best, since_best = math.inf, 0
        for _ in range(steps):
            solution = self._solve_shared(rates, offered, served, busy, agents)
            new_served, new_busy = solution["served"], solution["busy"]
            self.residual = float(np.max(np.abs(new_busy - busy))) if busy.size else 0.0
            served = (1.0 - POOL_DAMPING) * served + POOL_DAMPING * new_served
            busy = (1.0 - POOL_DAMPING) * busy + POOL_DAMPING * new_busy
            if self.residual < POOL_TOLERANCE:
                break
            best, since_best = (self.residual, 0) if self.residual < 0.5 * best else (best, since_best + 1)
            if since_best >= POOL_STAGNATION:
                break  # no longer getting closer (a cycle): the network's fixed point says it did not converge
        self._state = (served, busy)
        solution = self._solve_shared(rates, offered, served, busy, agents, final=True, levels=service_level)
        return solution["queues"]

    def _solve_shared(self, rates, offered, served, busy, agents, final: bool = False, levels: bool = True) -> dict:
        """One step of the shared pool's fixed point: figures from the busy agents, and the busy agents they imply
        (and the channels' figures when ``final``; their service levels only with ``levels``)."""
        tl = self.timeline
        period = tl.period
        n_groups = len(self.groups)
        total = busy.sum(axis=1)  # (G, P)
        done = served.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            mu = np.where(total > 1e-12, done / np.where(total > 1e-12, total, 1.0), self.default_rate[:, None])
            share_of = lambda x: np.where(agents > 0, x / np.where(agents > 0, agents, 1.0), 1.0)  # noqa: E731
        cost, held = self._agent_cost(served, busy)

        def carried_guess(x):  # contacts per minute of class x, from the busy agents so far
            return served[:, x].sum(axis=0)

        def slots_free(x):  # agents free for the chats of class x, and their P(wait): Erlang C on the slots
            spec = self.specs[self.classes[x][0]]
            free = np.maximum(np.maximum(agents - self.reserve[:, x][:, None], 0.0) - (total - busy[:, x]), 0.0) \
                * self.serving[:, x][:, None]
            in_service = (busy[:, x] * held[:, x]).sum(axis=0)
            return free, _erlang_c_fractional(in_service, free.sum(axis=0) * spec.concurrency)

        chat_waiting = np.zeros((len(self.classes), period))  # the chats' P(wait), first: lower classes use it
        for x in np.flatnonzero(self.concurrent):
            chat_waiting[x] = slots_free(x)[1]

        carried = np.zeros((len(self.classes), period))  # contacts per minute each class gets through
        waiting = np.zeros_like(carried)  # P(wait) of each class's contacts
        rate_terms = np.zeros((n_groups, len(self.classes), period))
        room = self._room(busy, agents)
        capacities = np.zeros_like(carried)  # contacts a minute each class can get through
        figures: dict[int, dict] = {}
        pending = []
        for x, (n, callback) in enumerate(self.classes):
            spec = self.specs[n]
            serving = self.serving[:, x]
            effective = np.maximum(agents - self.reserve[:, x][:, None], 0.0) * serving[:, None]
            higher = np.einsum("gyp,gy->gp", busy, self.above[:, x, :])
            beside = np.einsum("gyp,gy->gp", busy, self.beside[:, x, :])
            k = spec.concurrency
            work_conserving = not callback and (spec.is_async or (spec.patience is None and spec.callback is None))
            own_total = total
            if work_conserving and k == 1:
                # the random part of the wait is that of the hour's own arrivals, so the class counts the
                # agents they keep busy, not those working off a backlog (which would leave no spare rate)
                steady = self._steady_busy(x, offered[x], busy[:, x], room[:, x])
                beside = beside + steady - busy[:, x]
                own_total = total + steady - busy[:, x]
            rate_terms[:, x] = (effective * mu * np.clip(1.0 - share_of(higher), FLOOR, 1.0)
                                * np.clip(1.0 - share_of(higher + beside), FLOOR, 1.0))
            # contacts a minute the class can get through: the agents the classes above it leave, each
            # holding as many of its contacts as it may
            capacities[x] = capacity = room[:, x].sum(axis=0) / self.full_cost[x]
            if k > 1 and not callback:
                # a chat waits only when every slot of the agents free for chats is taken
                free, p_wait = slots_free(x)
                release = free.sum(axis=0) * k / (spec.handle_time.mean * _stretch(spec))  # slots freed a minute
                nu = np.maximum(release - carried_guess(x), FLOOR * release + 1e-12)
                rate_terms[:, x] = free * nu / np.maximum(free.sum(axis=0), 1e-12)
                reach = release  # the most the class's queue can be served at
            else:
                reach = capacity
                if self.chats_above[:, x].any():
                    # chats ranked above go to free slots and seldom queue: they hold agents (out of the
                    # capacity) rather than work waiting ahead; an agent whose last chat ends before it gets
                    # another, with no chat waiting, is free for this class
                    chats = self.above[:, x, :] & self.concurrent[None, :]
                    holding = np.einsum("gyp,gy->gp", busy, chats)
                    plain_higher = higher - holding
                    base = np.maximum(effective - holding * serving[:, None], 0.0)
                    with np.errstate(invalid="ignore", divide="ignore"):
                        share_b = lambda v: np.where(base > 0, v / np.where(base > 0, base, 1.0), 1.0)  # noqa: E731
                        plain_busy = total - holding
                        mu_plain = np.where(plain_busy > 1e-12, (done - np.einsum("gyp,gy->gp", served, chats))
                                            / np.where(plain_busy > 1e-12, plain_busy, 1.0), self.default_rate[:, None])
                    freed = np.einsum("gyp,gy->gp", self._chat_freeing(served, busy, held, chat_waiting), chats)
                    rate_terms[:, x] = (base * mu_plain * np.clip(1.0 - share_b(plain_higher), FLOOR, 1.0)
                                        * np.clip(1.0 - share_b(plain_higher + beside), FLOOR, 1.0)
                                        + freed * serving[:, None])
                nu = np.maximum(rate_terms[:, x].sum(axis=0), 1e-12)  # (P,)
                # a lower channel with a reserve never fills the last agents: out of the capacity, not in the load
                reserved = np.einsum("gyp,gy->gp", busy, self.reserved_below[:, x, :])
                p_wait = self._all_busy(x, (own_total - reserved) * serving[:, None],
                                        (effective - reserved) * serving[:, None])
            waiting[x] = p_wait
            if callback:
                continue  # its arrivals come from the live class: done below
            theta = 1.0 / spec.patience.mean if spec.patience is not None and not spec.is_async else 0.0
            if work_conserving:
                pending.append((x, n, p_wait, nu, capacity))
                continue
            lam = rates[self.channels[n]]
            # given every agent busy, the class's queue: births lam (thinned past the call-back
            # threshold), deaths s + j theta, s the rate freed agents reach it (Cobham: nu + carried,
            # the carried part no more than the class's capacity: in overload nu vanishes, and a death
            # rate that followed the carried contacts would let them grow past the agents)
            speed = nu + np.minimum(carried_guess(x), reach)
            threshold = None
            if spec.callback is not None:
                on_duty = (agents * serving[:, None]).sum(axis=0)
                slots = on_duty * spec.concurrency
                threshold = np.floor(spec.callback.offer_when_wait_above * slots / spec.handle_time.mean)
            cond = _queue_given_busy(lam, speed, theta, spec.service_level_seconds / 60.0, threshold,
                                     spec.callback.accept if spec.callback is not None else 0.0, service_level=final and levels)
            if spec.callback is not None:  # no call back offered where the line closes before the promise
                share = self.callback_share[n]
                cut = (share < 1.0) & (lam > 0)
                if cut.any():
                    plain = _queue_given_busy(lam[cut], speed[cut], theta, spec.service_level_seconds / 60.0,
                                              service_level=final and levels)
                    for key, value in plain.items():
                        cond[key][cut] = share[cut] * cond[key][cut] + (1.0 - share[cut]) * value
            accepted = p_wait * cond["accepted"]
            offered_share = p_wait * cond["offered"]
            live = 1.0 - accepted
            p_live = p_wait * cond["live"] / live
            with np.errstate(invalid="ignore", divide="ignore"):
                wait_live = np.where(lam > 0, p_wait * cond["queue"] / np.where(lam > 0, lam, 1.0) / live, 0.0)
            abandon = theta * wait_live * live if theta else np.zeros_like(wait_live)  # no 0 * inf
            service_level = ((1.0 - p_wait) + p_wait * cond["within"]) / live
            off_duty = None
            if spec.callback is not None:
                off_duty = callbacks_off_duty(spec.callback, lam, tl.open[self.channels[n]], on_duty,
                                              (agents * serving[:, None] * mu).sum(axis=0), self.callback_share[n])
            if off_duty is not None:  # nobody on duty: every caller who can be is offered a call back
                off = off_duty["off"]
                accepted = np.where(off, spec.callback.accept * self.callback_share[n], accepted)
                offered_share = np.where(off, self.callback_share[n], offered_share)
                live = 1.0 - accepted
                p_live = np.where(off, 1.0, p_live)
                wait_live = np.where(off, 1.0 / theta if theta else off_duty["wait"], wait_live)
                abandon = np.where(off, live if theta else 0.0, abandon)
                service_level = np.where(off, 0.0, service_level)
            carried[x] = offered[x] * (live - abandon)
            if spec.callback is not None:  # the call backs made, first: promoted, they go ahead when overdue
                made = offered[x] * accepted
                if off_duty is not None:  # those taken off duty are made when the agents come
                    made = np.where(off_duty["off"], 0.0, made) + off_duty["made"]
                carried[x + 1] = np.minimum(made, room[:, x + 1].sum(axis=0) / self.full_cost[x + 1])
            # no more answered than the capacity: in an overloaded hour the queue is as long as it takes
            # for the callers who hang up to carry the rest off (abandon = theta x wait)
            over = (carried[x] > capacity) & (offered[x] > 0)
            if over.any() and theta:
                with np.errstate(invalid="ignore", divide="ignore"):
                    abandon = np.where(over, live - capacity / np.where(over, offered[x], 1.0), abandon)
                    wait_live = np.where(over, abandon / (theta * live), wait_live)
            carried[x] = np.minimum(carried[x], capacity)
            figures[x] = {"abandon_rate": abandon, "mean_wait_min": wait_live, "p_wait": p_live,
                          "service_level": service_level, "mean_queue": lam * live * wait_live * tl.open[self.channels[n]],
                          "time_waiting": wait_live * live, "callback_offered": offered_share,
                          "callback_accepted": accepted, "p_wait_all": p_live * live + accepted,
                          "off_duty": off_duty}
        # call backs: a lower class of their channel
        for x, (n, callback) in enumerate(self.classes):
            if not callback:
                continue
            spec = self.specs[n]
            nu = np.maximum(rate_terms[:, x].sum(axis=0), 1e-12)
            first_free = np.maximum((agents * self.serving[:, x][:, None] * mu).sum(axis=0), 1e-12)
            wait, within = callback_wait(spec.callback, nu, first_free)
            live = figures[x - 1]
            off_duty = live.pop("off_duty")
            if off_duty is not None:
                wait = np.where(off_duty["off"], off_duty["wait"], wait)
                within = np.where(off_duty["off"], off_duty["within"], within)
            live["callback_within"], live["callback_wait"] = within, wait
            live["time_waiting"] = live["time_waiting"] + live["callback_accepted"] * wait
            waiting[x] = 1.0
        queues: dict[int, ChannelQueue] = {}
        throughput: dict[int, np.ndarray] = {}
        for x, n, p_wait, nu, capacity in pending:
            spec = self.specs[n]
            i = self.channels[n]
            # the random part's spare rate cannot exceed what the capacity leaves over the arrivals
            # (Erlang C's c mu - lambda; Cobham's rate is the smaller one when stable)
            spare = np.minimum(nu, capacity - rates[i] * tl.open[i])
            queue, through, _ = _backlog(tl, spec, i, rates[i], capacity, np.minimum(p_wait, 1.0 - 1e-12), spare, None,
                                         full=final)
            carried[x] = through
            queues[x] = queue
            throughput[x] = through
        new_served = _split_classes(carried, waiting, self.rank, agents, self.reserve, busy, cost, room, rate_terms)
        new_busy = new_served * cost
        result = {"served": new_served, "busy": new_busy}
        if not final:
            return result
        out: dict[int, ChannelQueue] = {}
        for x, (n, callback) in enumerate(self.classes):
            if callback:
                continue
            spec, i = self.specs[n], self.channels[n]
            xs = [x, x + 1] if spec.callback is not None else [x]
            busy_by_group = {g: new_busy[m, xs].sum(axis=0) for m, g in enumerate(self.groups) if self.serving[m, x]}
            slots_by_group = {g: (new_busy[m, xs] * held[m, xs]).sum(axis=0) / spec.concurrency
                              for m, g in enumerate(self.groups) if self.serving[m, x]}
            if x in queues:  # its backlog says where it grows
                queue = queues[x]
            else:  # offered load at or above the capacity the work ranked above it leaves
                hot = (offered[x] > 0) & (offered[x] >= capacities[x])
                values = figures[x]
                in_service = (new_busy[:, x] * held[:, x]).sum(axis=0)
                with np.errstate(invalid="ignore", divide="ignore"):
                    values["mean_service"] = np.where(carried[x] > 0, in_service / np.where(carried[x] > 0, carried[x], 1.0),
                                                      spec.handle_time.mean * _stretch(spec, partial=True))
                queue = self._aggregate(spec, i, rates[i], values, tuple(int(h) for h in np.flatnonzero(hot)))
            queue.hourly.pop("p_wait_all", None)
            queue.busy, queue.slots = busy_by_group, slots_by_group
            out[i] = queue
        result["queues"] = out
        return result

    # -- figures over the window -------------------------------------------------------------

    def _aggregate(self, spec: Channel, i: int, rates: np.ndarray, values: dict[str, np.ndarray],
                   overloaded: tuple[int, ...]) -> ChannelQueue:
        """Window averages of hourly figures, weighted by the contacts offered in each hour."""
        tl = self.timeline
        open_share = tl.open[i]
        offered = rates * tl.window * open_share
        total = offered.sum()
        queue = ChannelQueue(hourly=values, overloaded_hours=overloaded)
        live = offered * (1.0 - np.nan_to_num(values.get("callback_accepted", np.zeros_like(offered))))
        if total > 0:
            queue.abandon_rate = float(offered @ np.nan_to_num(values["abandon_rate"]) / total)
            live_total = live.sum()
            if live_total > 0:
                queue.mean_wait = float(live @ np.nan_to_num(values["mean_wait_min"]) / live_total)
                queue.p_wait = float(live @ np.nan_to_num(values["p_wait"]) / live_total)
                queue.service_level = float(live @ np.nan_to_num(values["service_level"]) / live_total)
            served = offered * (1.0 - np.nan_to_num(values["abandon_rate"]))
            if served.sum() > 0:
                queue.mean_service = float(served @ np.nan_to_num(values["mean_service"]) / served.sum())
            if spec.callback is not None:
                accepted = offered * np.nan_to_num(values["callback_accepted"])
                queue.callbacks = {
                    "offered": float(offered @ np.nan_to_num(values["callback_offered"]) / total),
                    "accepted": float(accepted.sum() / total),
                    "within_promise": float(accepted @ np.nan_to_num(values["callback_within"]) / accepted.sum())
                    if accepted.sum() > 0 else math.nan,
                    "mean_wait": float(accepted @ np.nan_to_num(values["callback_wait"]) / accepted.sum())
                    if accepted.sum() > 0 else math.nan,
                }
        queue.mean_queue = float(values["mean_queue"] @ tl.window / tl.window.sum())
        return queue


def _hour_figures(figures: QueueFigures, agents: int, open_share: float, handle: float) -> dict[str, float]:
    """One hour's figures of a channel with its own agents, as :meth:`Pool._live_single` keeps them."""
    callbacks = figures.callbacks
    accepted = callbacks.accepted if callbacks is not None else 0.0
    row = {"abandon_rate": figures.abandon_rate, "mean_wait_min": figures.mean_wait, "p_wait": figures.p_wait,
           "service_level": figures.service_level, "mean_service": figures.mean_service if agents else handle,
           "p_wait_all": figures.p_wait * (1.0 - accepted) + accepted,
           "mean_queue": figures.mean_queue * open_share, "time_waiting": figures.mean_wait * (1.0 - accepted)}
    if agents:  # call backs included
        row["slots_used"] = figures.slot_occupancy * agents * open_share
        row["busy"] = figures.occupancy * agents * open_share
    if callbacks is not None:
        row |= {"callback_offered": callbacks.offered, "callback_accepted": accepted,
                "callback_within": callbacks.within_promise, "callback_wait": callbacks.mean_wait}
        row["time_waiting"] += accepted * callbacks.mean_wait if accepted else 0.0
    return row


def _stretch(spec: Channel, partial: bool = False) -> float:
    """How much handle times stretch when agents hold the most contacts (``partial``: one)."""
    if spec.concurrency_slowdown is None:
        return 1.0
    return spec.concurrency_slowdown[0 if partial else -1]


def _split(carried_agents: np.ndarray, p_wait: np.ndarray, rank: np.ndarray, available: np.ndarray,
           weights: np.ndarray, cap: np.ndarray | None = None) -> np.ndarray:
    """Busy agents of one class shared among groups (G, P): the part answered at once by priority
    level with Erlang B overflow over the ``available`` agents, the part that waited by ``weights``;
    no group beyond its ``cap`` (:func:`_within`) while others have room."""
    now = carried_agents * (1.0 - p_wait)
    later = carried_agents * p_wait
    share = np.zeros_like(available)
    for level in sorted(set(rank[np.isfinite(rank)])):
        members = rank == level
        capacity = available[members].sum(axis=0)
        blocked = _overflow(now, capacity)
        taken = np.minimum(now * (1.0 - blocked), capacity)
        with np.errstate(invalid="ignore", divide="ignore"):
            part = np.where(capacity > 0, available[members] / np.where(capacity > 0, capacity, 1.0), 0.0)
        share[members] += part * taken
        now = now - taken
    later = later + now
    total_weight = weights.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        by_weight = np.where(total_weight > 0, weights / np.where(total_weight > 0, total_weight, 1.0),
                             np.isfinite(rank)[:, None] / max(np.isfinite(rank).sum(), 1))
    share = share + by_weight * later
    return share if cap is None else _within(share, cap)


def _within(share: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Shares ``(G, P)`` with what exceeds a group's ``cap`` moved to the groups below theirs, in
    proportion to the room they have left (continuous in both); what exceeds every cap (the shares
    sum to more than the caps) stays with the groups in proportion to their caps.

    Examples
    --------
    >>> _within(np.array([[5.0], [1.0]]), np.array([[3.0], [4.0]]))[:, 0].tolist()
    [3.0, 3.0]
    >>> _within(np.array([[5.0], [3.0]]), np.array([[3.0], [3.0]]))[:, 0].tolist()
    [4.0, 4.0]
    """
    kept = np.minimum(share, cap)
    excess = (share - kept).sum(axis=0)
    room = cap - kept
    total_room = room.sum(axis=0)
    placed = np.minimum(excess, total_room)
    left = excess - placed
    total_cap = cap.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        kept = kept + np.where(total_room > 0, room / np.where(total_room > 0, total_room, 1.0), 0.0) * placed
        over = np.where(total_cap > 0, cap / np.where(total_cap > 0, total_cap, 1.0), 1.0 / len(share))
    return kept + over * left


def _split_classes(carried, waiting, rank, agents, reserve, busy, cost, room, rate_terms) -> np.ndarray:
    """Contacts per minute of each class served by each group, shape (G, X, P): those that waited
    in proportion to the groups' terms of Cobham's rate (``rate_terms``), and no group beyond the
    agents the classes it ranks above or beside the class leave it (``room``) while another has some."""
    served = np.zeros_like(busy)
    total = busy.sum(axis=1)
    for x in range(carried.shape[0]):
        serving = np.isfinite(rank[:, x])[:, None]
        mean_cost = np.where(serving, cost[:, x], np.nan)
        unit = np.nanmean(mean_cost, axis=0)  # agent-minutes per contact, over the serving groups
        available = np.maximum(agents - reserve[:, x][:, None] - (total - busy[:, x]), 0.0) * serving
        # the room as agents at the class's mean cost per contact: contacts a minute times `unit`
        with np.errstate(invalid="ignore", divide="ignore"):
            cap = np.where(serving, room[:, x] / np.where(serving, cost[:, x], 1.0), 0.0) * unit
        agents_needed = carried[x] * unit
        share = _split(agents_needed, waiting[x], rank[:, x], available, rate_terms[:, x], cap)
        with np.errstate(invalid="ignore", divide="ignore"):
            served[:, x] = np.where(agents_needed > 0, share / np.where(agents_needed > 0, agents_needed, 1.0), 0.0) \
                * carried[x]
    return served


# --------------------------------------------------------------------------- the fluid backlog


def _random_wait_figures(p_c, spare, theta: float, lt: float, lt1: float, threshold: float) -> dict:
    """Per-contact figures of a work-conserving queue whose wait is 0 with probability ``1 - p_c``,
    else exponential with rate ``spare``, for a customer who leaves at rate ``theta`` before the reply
    (``lt, lt1``: the handle time's Laplace transform and its derivative at ``theta``)."""
    g = 1.0 - p_c + p_c * spare / (spare + theta)  # E[exp(-theta W)]
    g1 = p_c * spare / (spare + theta) ** 2  # E[W exp(-theta W)]
    served = g * lt
    return {"served": served, "wait_served": g1 * lt, "xdecay": g1 * lt + g * lt1,
            "p_wait": p_c * spare / (spare + theta) * lt + (1.0 - served),
            "service_level": (1.0 - p_c + p_c * spare / (spare + theta)
                              * (1.0 - np.exp(-(spare + theta) * threshold))) * lt}


def _steady_backlog(tl: Timeline, spec: Channel, i: int, rates, p_c, spare, queue_c, theta, lt, lt1):
    """:func:`_backlog` when no backlog can build: each hour's figures are its random wait's."""
    period = tl.period
    r = _random_wait_figures(p_c, spare, theta, lt, lt1, spec.service_level_seconds / 60.0)
    abandon_time = (1.0 - r["served"] - theta * r["xdecay"]) / theta if theta else np.zeros(period)
    offered = rates * tl.window * tl.open[i]
    has = offered > 0
    hourly = {"abandon_rate": np.where(has, 1.0 - r["served"], math.nan),
              "mean_wait_min": np.where(has, r["wait_served"] + abandon_time, math.nan),
              "p_wait": np.where(has, r["p_wait"], math.nan),
              "service_level": np.where(has, r["service_level"], math.nan),
              "mean_queue": np.where(tl.window > 0, queue_c, 0.0)}
    hourly["time_waiting"] = hourly["mean_wait_min"]
    hourly["mean_service"] = np.full(period, spec.handle_time.mean)
    hourly["p_wait_all"] = np.nan_to_num(hourly["p_wait"])
    figures = ChannelQueue(hourly=hourly, mean_service=spec.handle_time.mean)
    total = offered.sum()
    if total > 0:
        for name, metric in (("abandon_rate", "abandon_rate"), ("mean_wait", "mean_wait_min"),
                             ("p_wait", "p_wait"), ("service_level", "service_level")):
            setattr(figures, name, float(offered[has] @ hourly[metric][has] / total))
    figures.mean_queue = float(hourly["mean_queue"] @ tl.window / tl.window.sum())
    throughput = rates * tl.open[i]
    return figures, throughput, None


def _fluid(tl: Timeline, i: int, rates: np.ndarray, capacity: np.ndarray, tail: bool = True):
    """Channel ``i``'s fluid backlog minute by minute from an empty start (:func:`fluid_span`), with
    ``rates[h]`` contacts a minute arriving while it is open and ``capacity[h]`` answered, by hour of
    the period; followed past the end until it empties (at most :data:`MAX_TAIL_DAYS`), or, without
    ``tail``, up to the end (what is answered before the end does not depend on what comes after).

    Returns the minutes' midpoints, hours of the period, inflow and capacity, and the backlog at the
    minute marks (one more value).
    """
    end = tl.fluid_end
    minutes = math.ceil(end) + (1440 if tail else 0)
    while True:
        t, hour, is_open = tl.minutes(minutes, i)
        inflow = np.where(t < end, rates[hour] * is_open, 0.0)
        cap = capacity[hour]
        net = np.concatenate(([0.0], np.cumsum(inflow - cap)))
        queue = net - np.minimum.accumulate(np.minimum(net, 0.0))  # backlog at minute marks
        if not tail or queue[-1] <= 1e-9 or minutes >= end + MAX_TAIL_DAYS * 1440:
            return t, hour, inflow, cap, queue
        minutes += 1440 * 7


def _growing(tl: Timeline, i: int, rates: np.ndarray, capacity: np.ndarray) -> tuple[int, ...]:
    """The overloaded hours of the period of channel ``i``, a channel that keeps its work, with
    ``rates[h]`` contacts a minute arriving while it is open and ``capacity[h]`` answered: the hours
    of the measured window in which its fluid backlog grows and is not worked off within a day.

    Work that keeps is overloaded on the scale of a day, not of an hour: messages left in the evening
    for the morning shift wait long (the hourly figures say how long), but agents who clear each
    day's messages keep up with them. The backlog is followed in its periodic regime, as if arrivals
    went on (a short run's backlog empties once arrivals stop); when the agents cannot answer a
    period's contacts within the period, every hour in which it grows is overloaded.
    """
    period = tl.period * 60
    t, hour, is_open = tl.minutes(2 * period + 1440, i)
    inflow = rates[hour] * is_open
    surplus = inflow - capacity[hour]
    covered = tl.window[hour] > 0
    if surplus[:period].sum() >= 0:  # no steady regime: the backlog grows from period to period
        loaded = (inflow > 0) & (surplus >= 0) & covered  # offered load at or above the capacity
        return tuple(int(h) for h in np.unique(hour[:period][loaded[:period]]))
    net = np.concatenate(([0.0], np.cumsum(surplus)))
    queue = net - np.minimum.accumulate(np.minimum(net, 0.0))  # backlog at the minute marks
    # from the second period on, the backlog repeats (it empties at least once a period)
    marks = np.arange(len(queue))
    cleared_at = np.minimum.accumulate(np.where(queue <= 1.0, marks, len(queue) + 1440)[::-1])[::-1][1:]
    lingering = cleared_at - marks[:-1] > 1440
    second = (t >= period) & (t < 2 * period)
    return tuple(int(h) for h in np.unique(hour[second & (surplus > 0) & (queue[1:] > 1.0) & lingering & covered]))


def _backlog(tl: Timeline, spec: Channel, i: int, rates: np.ndarray, capacity: np.ndarray, p_wait: np.ndarray,
             spare: np.ndarray, queue_c: np.ndarray | None,
             full: bool = True) -> tuple[ChannelQueue | None, np.ndarray, np.ndarray | None]:
    """A channel that keeps all its work, answered in order even after the customer stopped waiting.

    ``capacity[h]``: contacts a minute its agents can answer in hour ``h``;
    in hours with no backlog the wait is random: ``p_wait[h]`` to wait, then
    exponential with rate ``spare[h]`` (Erlang C: ``c mu - lambda``); those
    ``spare`` are scaled by Allen-Cunneen for non-exponential handle times.
    Returns the figures (None unless ``full``: the throughput alone is
    what a shared pool's fixed point needs), the contacts answered per minute
    by hour of the period, and the per-minute backlog (up to the end only, unless ``full``).
    """
    period = tl.period
    start, end = tl.fluid_start, tl.fluid_end
    handle = spec.handle_time
    mean_handle = handle.mean
    theta = 1.0 / spec.patience.mean if spec.patience is not None and spec.is_async else 0.0
    lt, lt1 = laplace_transform(handle, theta) if theta else (1.0, 0.0)
    threshold = spec.service_level_seconds / 60.0
    variability = (1.0 + handle.cv**2) / 2.0
    stable = (p_wait < 1.0) & (spare > 0)  # a steady state with a random wait
    p_c_h = np.where(stable, p_wait, 1.0)
    # Allen-Cunneen: an M/G/c queue waits about (1 + cv^2) / 2 times as long as M/M/c, so the
    # exponential tail of the wait decays that much faster or slower (P(wait) is kept)
    spare_h = np.where(stable, spare, 1.0) / variability
    if queue_c is None:  # the random part's mean queue from Little's law
        queue_c = np.where(stable, rates * p_wait / np.where(stable, spare, 1.0), 0.0)
    queue_c = np.where(np.isfinite(queue_c), queue_c, 0.0) * variability
    inflow_h = rates * (tl.open[i] > 0)
    if np.all(stable | (inflow_h <= 0)) and np.all(inflow_h <= capacity):
        # no minute's inflow exceeds the capacity: no backlog ever builds, every hour is its steady state
        if not full:
            return None, rates * tl.open[i], None
        return _steady_backlog(tl, spec, i, rates, p_c_h, spare_h, queue_c, theta, lt, lt1)

    t, hour, inflow, cap, queue = _fluid(tl, i, rates, capacity, tail=full)
    arrived = np.concatenate(([0.0], np.cumsum(inflow)))
    answered = arrived - queue
    through = np.diff(answered)  # contacts answered in each minute
    measured = (t >= start) & (t < end)
    in_window = np.bincount(hour, weights=measured.astype(float), minlength=period)
    norm = np.where(in_window > 0, in_window, 1.0)
    # contacts answered a minute, by hour of the period: over the window where it covers the hour
    before_end = t < end
    everywhere = np.bincount(hour, weights=through * before_end, minlength=period) / np.maximum(
        np.bincount(hour, weights=before_end.astype(float), minlength=period), 1.0)
    throughput = np.where(in_window > 0, np.bincount(hour, weights=through * measured, minlength=period) / norm,
                          everywhere)
    if not full:
        return None, throughput, queue
    # FIFO: a message arriving mid-minute is answered when `answered` reaches what arrived before it
    ahead = (arrived[:-1] + arrived[1:]) / 2.0
    reach = np.searchsorted(answered, ahead, side="left")
    inside = reach < len(answered)
    reach_c = np.minimum(reach, len(answered) - 1)
    lower = np.maximum(reach_c - 1, 0)
    step = answered[reach_c] - answered[lower]
    frac = np.where(step > 0, (ahead - answered[lower]) / np.where(step > 0, step, 1.0), 0.0)
    done_at = lower + np.clip(frac, 0.0, 1.0)
    fluid_wait = np.where(inside, np.maximum(done_at - t, 0.0), math.inf)

    p_c = p_c_h[hour]
    spare_m = spare_h[hour]
    stochastic_wait = np.where(stable[hour], p_c / spare_m, math.inf)
    # whichever predicts the longer wait; the fluid alone where the random part has no steady state
    use_fluid = ~np.isfinite(stochastic_wait) | (fluid_wait > stochastic_wait)

    r = _random_wait_figures(p_c_h, spare_h, theta, lt, lt1, threshold)  # by hour, then by minute
    served_c, wait_served_c, xdecay_c, pwait_c, sl_c = (r[k][hour] for k in ("served", "wait_served", "xdecay",
                                                                            "p_wait", "service_level"))
    queue_c = queue_c[hour]

    # per-minute figures in the fluid regime (a deterministic wait w)
    w = np.where(np.isfinite(fluid_wait), fluid_wait, 0.0)
    decay = np.where(np.isfinite(fluid_wait), np.exp(-theta * w), 0.0 if theta else 1.0)
    served_f = decay * lt
    wait_served_f = w * served_f
    xdecay_f = decay * (w * lt + lt1)
    pwait_f = np.where(w > 0, 1.0, 1.0 - served_f)
    sl_f = np.where(w <= threshold, served_f, 0.0)

    served = np.where(use_fluid, served_f, served_c)
    wait_served = np.where(use_fluid, wait_served_f, wait_served_c)
    xdecay = np.where(use_fluid, xdecay_f, xdecay_c)
    abandon_time = (1.0 - served - theta * xdecay) / theta if theta else np.zeros_like(served)
    if not theta:  # nobody gives up: the wait is the whole wait, infinite if never answered
        wait_served = np.where(use_fluid, np.where(np.isfinite(fluid_wait), fluid_wait, math.inf), wait_served_c)
    mean_wait = wait_served + abandon_time
    p_wait_m = np.where(use_fluid, pwait_f, pwait_c)
    service_level = np.where(use_fluid, sl_f, sl_c)
    queue_now = (queue[:-1] + queue[1:]) / 2.0 + np.where(use_fluid, 0.0, queue_c)

    offered = inflow * measured  # contacts of the window, by arrival minute
    by_hour = {}
    total_h = np.bincount(hour, weights=offered, minlength=period)
    for metric, values in (("abandon_rate", 1.0 - served), ("mean_wait_min", mean_wait),
                           ("p_wait", p_wait_m), ("service_level", service_level)):
        weighted = np.bincount(hour, weights=offered * np.nan_to_num(values, posinf=1e12), minlength=period)
        by_hour[metric] = np.where(total_h > 0, weighted / np.where(total_h > 0, total_h, 1.0), math.nan)
        if metric == "mean_wait_min":
            by_hour[metric] = np.where(by_hour[metric] >= 1e12, math.inf, by_hour[metric])
    by_hour["mean_queue"] = np.bincount(hour, weights=queue_now * measured, minlength=period) / norm
    by_hour["time_waiting"] = by_hour["mean_wait_min"]
    by_hour["mean_service"] = np.full(period, mean_handle)
    by_hour["p_wait_all"] = np.nan_to_num(by_hour["p_wait"])

    figures = ChannelQueue(hourly=by_hour, mean_service=mean_handle)
    total = offered.sum()
    if total > 0:  # elementwise sums: BLAS dot products of minute-long vectors start threads
        figures.abandon_rate = float((offered * (1.0 - served)).sum() / total)
        wait_total = float((offered * mean_wait).sum())
        figures.mean_wait = wait_total / total if math.isfinite(wait_total) else math.inf
        figures.p_wait = float((offered * p_wait_m).sum() / total)
        figures.service_level = float((offered * service_level).sum() / total)
    figures.mean_queue = float((queue_now * measured).sum() / measured.sum())
    figures.overloaded_hours = _growing(tl, i, rates, capacity)
    return figures, throughput, queue
