"""Exact results the simulation must agree with: Erlang queues and the routing chain.

Two kinds of closed-form (or exactly computed) figures live here:

* one staffed channel with Poisson arrivals and exponential handle times:
  :func:`erlang_c` (callers never give up, M/M/c), :func:`erlang_a`
  (exponential patience, M/M/c+M, Palm's model) and the loss formula
  :func:`erlang_b`; each returns a :class:`QueueFigures`;
* agents who hold several contacts at once, possibly slowing down, and
  call-back offers that thin a long queue: :func:`slot_queue`, a birth-death
  chain (M/M/(c k) without slowdown); and non-preemptive priorities among
  channels sharing agents: :func:`cobham_waits`;
* the routing of a whole scenario when capacity plays no part:
  :class:`JourneyChain`, the absorbing Markov chain of a journey, which gives
  contacts per channel, the give-up share, the avoidable-call share and the
  before/after-the-call tables exactly, including the ``max_contacts`` cut-off.

Units are the simulator's: rates per minute, times in minutes, except the
service-level threshold which is in seconds as in scenario files.

Examples
--------
>>> round(erlang_c(arrival_rate=2.0, mean_handle=1.0, agents=3).p_wait, 4)
0.4444
>>> import simulator as sim
>>> chain = JourneyChain(sim.load_scenario("nice_bcg_2016"))
>>> round(chain.resolution_rate + chain.give_up_rate, 12)
1.0
"""

from __future__ import annotations

import copy
import dataclasses
import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np
from scipy import sparse, special
from scipy.sparse.linalg import spsolve

from .figures import GIVE_UP, RESOLVED

if TYPE_CHECKING:  # the theory reads a scenario it is given; the scenario imports it (its derived warm-up)
    from .scenario import Callback, Scenario

__all__ = [
    "HourlyJourneyChain",
    "JourneyChain",
    "CallbackFigures",
    "QueueFigures",
    "callback_wait",
    "cobham_waits",
    "erlang_a",
    "erlang_b",
    "erlang_c",
    "slot_queue",
]

#: Probability mass the truncated Erlang A chain may leave out (a rigorous bound).
TRUNCATION_TOLERANCE = 1e-15
#: Largest number of states the Erlang A chain may use before giving up.
MAX_QUEUE_STATES = 2**22
#: Up to this many agents Erlang B is computed by its recurrence (one step per agent); above,
#: from the Poisson distribution, in time that does not grow with the agents.
RECURRENCE_AGENTS = 1000
#: Standard deviations beyond which a Poisson tail's mass is negligible (below e**-800, or
#: below 1e-160 for tiny means with the 64 states added to the margin).
TAIL_DEVIATIONS = 40


# --------------------------------------------------------------------------- one queue


@dataclass(frozen=True)
class QueueFigures:
    """Long-run figures of one staffed channel, per arriving contact.

    Attributes
    ----------
    offered_load
        Arrival rate times mean handle time, in Erlangs.
    agents
        Number of agents.
    p_wait
        Share of arrivals who find every agent busy and have to queue.
    mean_wait
        Mean time in the queue over *all* arrivals, in minutes (those served
        at once count 0; those who abandon count the time until they left).
    service_level
        Share of all arrivals who are answered within ``service_level_seconds``
        (served, having waited at most that long). Arrivals who abandon are
        never within the service level, however early they leave.
    service_level_seconds
        The threshold of ``service_level``.
    abandon_rate
        Share of arrivals who leave the queue before being served.
    occupancy
        Mean share of agents busy: served load divided by ``agents``.
    mean_queue
        Time-average number of customers waiting (Little: arrival rate times
        ``mean_wait``).
    slot_occupancy
        Mean share of contact slots in use (agents times concurrency); the
        same as ``occupancy`` when an agent holds one contact at a time.
    mean_service
        Mean time a served contact spends with an agent (longer than the
        handle time when contacts slow each other down).
    callbacks
        Call-back figures (:class:`CallbackFigures`) when the channel offers
        them (see :func:`slot_queue`), else None. With call backs, ``p_wait``,
        ``mean_wait`` and ``service_level`` are over the contacts who stayed
        in the live queue, ``abandon_rate`` over all arrivals.
    """

    offered_load: float
    agents: int
    p_wait: float
    mean_wait: float
    service_level: float
    service_level_seconds: float
    abandon_rate: float
    occupancy: float
    mean_queue: float
    slot_occupancy: float = math.nan
    mean_service: float = math.nan
    callbacks: "CallbackFigures | None" = None

    def channel_metrics(self) -> dict[str, float]:
        """The figures under the names of the simulation's channel table.

        Examples
        --------
        >>> sorted(erlang_c(2.0, 1.0, 3).channel_metrics())
        ['abandon_rate', 'mean_queue', 'mean_wait_min', 'occupancy', 'p_wait', 'service_level']
        """
        return {
            "p_wait": self.p_wait,
            "mean_wait_min": self.mean_wait,
            "service_level": self.service_level,
            "abandon_rate": self.abandon_rate,
            "occupancy": self.occupancy,
            "mean_queue": self.mean_queue,
        }


@dataclass(frozen=True)
class CallbackFigures:
    """Call backs of one channel: shares of arrivals ``offered`` one and who ``accepted``,
    the call backs' ``mean_wait`` (minutes until the agent calls) and the share made
    ``within_promise``."""

    offered: float
    accepted: float
    mean_wait: float
    within_promise: float


def callback_wait(callback: Callback, rate, first_free):
    """Mean wait of a call back, and the share made within the promise (numbers or arrays).

    The call back waits ``X ~ Exp(rate)`` for an agent with no live caller
    to serve, unless it becomes due first (``callback.promote_after``); then
    it goes ahead of everyone and waits ``Exp(first_free)`` for the next
    agent to free up.

    Examples
    --------
    >>> from simulator.scenario import Callback
    >>> wait, within = callback_wait(Callback(2.0, 0.5, 30.0), rate=1.0, first_free=2.0)
    >>> round(float(wait), 6), bool(within > 0.999)
    (1.0, True)
    """
    rate = np.maximum(np.asarray(rate, dtype=float), 0.0)
    due = callback.promote_after
    still = np.exp(-rate * due)  # not yet called back when it becomes due
    with np.errstate(invalid="ignore", divide="ignore"):
        before = np.where(rate > 0, -np.expm1(-rate * due) / np.where(rate > 0, rate, 1.0), due)  # E[min(X, due)]
    mean_wait = before + still / np.asarray(first_free, dtype=float)
    left = max(callback.within_minutes - due, 0.0)
    return mean_wait, (1.0 - still) + still * -np.expm1(-left * np.asarray(first_free, dtype=float))


def _check_agents(agents) -> int:
    if isinstance(agents, bool) or not isinstance(agents, numbers.Integral) or agents < 0:
        raise ValueError(f"agents must be a whole number >= 0; got {agents!r}")
    return int(agents)


def _no_agents(arrival_rate: float, mean_handle: float, mean_patience: float,
               service_level_seconds: float) -> QueueFigures:
    """A channel open with nobody on duty: every arrival waits until it gives up (or forever).

    Occupancy is undefined (NaN) without agents.
    """
    load = arrival_rate * mean_handle
    sl = float(service_level_seconds)
    if arrival_rate == 0:
        return QueueFigures(0.0, 0, 0.0, 0.0, 1.0, sl, 0.0, math.nan, 0.0)
    abandon_rate = 0.0 if math.isinf(mean_patience) else 1.0
    return QueueFigures(load, 0, 1.0, mean_patience, 0.0, sl, abandon_rate, math.nan,
                        arrival_rate * mean_patience)


def _check_queue_inputs(arrival_rate, mean_handle, agents, service_level_seconds) -> int:
    if not (isinstance(arrival_rate, numbers.Real) and math.isfinite(arrival_rate) and arrival_rate >= 0):
        raise ValueError(f"arrival_rate must be a finite number >= 0 (per minute); got {arrival_rate!r}")
    if not (isinstance(mean_handle, numbers.Real) and math.isfinite(mean_handle) and mean_handle > 0):
        raise ValueError(f"mean_handle must be a finite number > 0 (minutes); got {mean_handle!r}")
    if not (isinstance(service_level_seconds, numbers.Real) and service_level_seconds >= 0):
        raise ValueError(f"service_level_seconds must be a number >= 0; got {service_level_seconds!r}")
    return _check_agents(agents)


def erlang_b(offered_load: float, agents: int) -> float:
    """Erlang's loss formula: the share of arrivals who find all agents busy in M/M/c/c.

    Up to :data:`RECURRENCE_AGENTS` agents, computed with the recurrence
    ``B(0) = 1``, ``B(k) = a B(k-1) / (k + a B(k-1))``, which stays in [0, 1]
    and needs no factorials. With more agents, in a time that does not grow
    with them (a million agents cost what a thousand do): when ``a <= c``,
    ``B = P(X = c) / P(X <= c)`` for ``X ~ Poisson(a)`` (the denominator is at
    least about 1/2, so nothing underflows); when ``a > c``, ``1 / B = sum_j
    c (c - 1) ... (c - j + 1) / a^j``, whose terms shrink at least
    geometrically.

    Parameters
    ----------
    offered_load
        ``a``, arrival rate times mean handle time, in Erlangs (>= 0).
    agents
        ``c``, a whole number >= 0 (``B(0) = 1``).

    Returns
    -------
    float
        The blocking probability ``B(c, a)``.

    Examples
    --------
    >>> round(erlang_b(2.0, 3), 6)  # (8/6) / (1 + 2 + 2 + 8/6)
    0.210526
    >>> 0.0 < erlang_b(950.0, 1000) < 1.0
    True
    >>> erlang_b(2.0, 10**9)  # many more agents than work: nobody is blocked
    0.0
    """
    if not (isinstance(offered_load, numbers.Real) and math.isfinite(offered_load) and offered_load >= 0):
        raise ValueError(f"offered_load must be a finite number >= 0; got {offered_load!r}")
    if isinstance(agents, bool) or not isinstance(agents, numbers.Integral) or agents < 0:
        raise ValueError(f"agents must be a whole number >= 0; got {agents!r}")
    a, c = float(offered_load), int(agents)
    if c <= RECURRENCE_AGENTS or a == 0.0:
        blocking = 1.0
        for k in range(1, c + 1):
            blocking = a * blocking / (k + a * blocking)
            if blocking == 0.0:  # underflowed: stays 0
                break
        return blocking
    if a <= c:
        log_pmf = c * math.log(a) - a - special.gammaln(c + 1.0)
        return float(math.exp(log_pmf - math.log(special.pdtr(c, a))))
    # 1 / B = sum_j t_j, t_j = prod_{i < j} (c - i) / a: every term below 1, shrinking
    total, term, start, chunk = 0.0, 1.0, 0, 4096
    while start <= c:
        i = np.arange(start, min(start + chunk, c + 1), dtype=float)
        terms = term * np.cumprod(np.where(i == 0, 1.0, (c - i + 1.0) / a))
        total += float(terms.sum())
        term = float(terms[-1])
        if term < 1e-17 * total:
            break
        start += chunk
    return 1.0 / total


def erlang_c(arrival_rate: float, mean_handle: float, agents: int,
             service_level_seconds: float = 20.0) -> QueueFigures:
    """Erlang C: a channel whose customers wait as long as it takes (M/M/c).

    Poisson arrivals, exponential handle times, ``agents`` identical agents,
    first come first served, no abandonment. With ``a = arrival_rate *
    mean_handle`` and Erlang B's ``B``, the probability of waiting is
    ``C = c B / (c - a (1 - B))``; the mean wait is ``C / (c mu - lambda)`` and
    the service level ``1 - C exp(-(c mu - lambda) t)``.

    Parameters
    ----------
    arrival_rate
        Contacts per minute (>= 0).
    mean_handle
        Mean handle time in minutes (> 0).
    agents
        Number of agents, a whole number >= 0 (with none, every arrival waits
        forever and ``occupancy`` is NaN).
    service_level_seconds
        Threshold of the service level, in seconds.

    Returns
    -------
    QueueFigures
        ``abandon_rate`` is 0. When the queue is unstable (``a >= agents``) it
        grows without bound: ``p_wait = 1``, ``mean_wait = mean_queue = inf``,
        ``service_level = 0`` and ``occupancy = 1``.

    Raises
    ------
    ValueError
        For a negative rate, a handle time that is not positive, or a negative
        or fractional number of agents.

    Examples
    --------
    >>> f = erlang_c(arrival_rate=2.0, mean_handle=1.0, agents=3, service_level_seconds=30)
    >>> round(f.p_wait, 4), round(f.mean_wait, 4), round(f.occupancy, 4)
    (0.4444, 0.4444, 0.6667)
    >>> round(f.service_level, 4)  # 1 - 4/9 * exp(-0.5)
    0.7304
    >>> erlang_c(3.0, 1.0, 3).mean_wait
    inf
    """
    c = _check_queue_inputs(arrival_rate, mean_handle, agents, service_level_seconds)
    if c == 0:
        return _no_agents(arrival_rate, mean_handle, math.inf, service_level_seconds)
    load = arrival_rate * mean_handle
    if load >= c:
        return QueueFigures(load, c, 1.0, math.inf, 0.0, float(service_level_seconds), 0.0, 1.0, math.inf)
    blocking = erlang_b(load, c)
    p_wait = c * blocking / (c - load * (1.0 - blocking))
    spare_rate = c / mean_handle - arrival_rate  # c mu - lambda, per minute
    mean_wait = p_wait / spare_rate
    threshold = service_level_seconds / 60.0
    service_level = 1.0 - p_wait * math.exp(-spare_rate * threshold)
    return QueueFigures(
        offered_load=load, agents=c, p_wait=p_wait, mean_wait=mean_wait,
        service_level=service_level, service_level_seconds=float(service_level_seconds),
        abandon_rate=0.0, occupancy=load / c, mean_queue=arrival_rate * mean_wait,
    )


def _number_in_system(arrival_rate: float, service_rate: float, agents: int,
                      abandon_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Stationary distribution of the number in an M/M/c+M system, truncated exactly enough.

    Returns the states ``n`` kept and their probabilities. The birth-death
    chain has birth rate ``lambda`` and death rate ``min(n, c) mu + max(n - c,
    0) theta``. Weights are accumulated in log space; the chain is cut at a
    state ``N`` where the weights decrease with ratio ``r < 1``, so the mass
    left out above is at most ``w_N r / (1 - r)``, kept below
    :data:`TRUNCATION_TOLERANCE` of the total. Below ``c`` the weights are
    those of a Poisson distribution of mean ``a = lambda / mu``, rising up to
    ``min(a, c)``: states more than :data:`TAIL_DEVIATIONS` standard
    deviations below it carry no mass a double can hold and are left out, as
    are those that far above ``a`` when ``c`` is larger still. So the work
    grows with the square root of the load, not with the agents.
    """
    load = arrival_rate / service_rate
    peak = min(load, float(agents))
    low = max(0, math.floor(peak - TAIL_DEVIATIONS * math.sqrt(peak) - 64))
    size = min(agents, math.ceil(load + TAIL_DEVIATIONS * math.sqrt(load) + 64)) - low + 64
    log_rate = math.log(arrival_rate)
    # log weight of state `low` relative to state 0: the Poisson part, lambda^n / (n! mu^n)
    log_first = low * math.log(load) - special.gammaln(low + 1.0) if low else 0.0
    while True:
        n = np.arange(low + 1, low + size + 1, dtype=float)
        death = np.minimum(n, agents) * service_rate + np.maximum(n - agents, 0.0) * abandon_rate
        log_weight = np.concatenate(([log_first], log_first + np.cumsum(log_rate - np.log(death))))
        top = log_weight.max()
        ratio = arrival_rate / death[-1]
        if ratio < 1.0 and (log_weight[-1] - top + math.log(ratio / (1.0 - ratio))
                            < math.log(TRUNCATION_TOLERANCE)):
            weight = np.exp(log_weight - top)
            return np.arange(low, low + size + 1), weight / weight.sum()
        size *= 2
        if size > MAX_QUEUE_STATES:
            raise ValueError(
                "the queue is so long (patience very long for an overloaded channel) that "
                f"more than {MAX_QUEUE_STATES} states would be needed; use a shorter mean_patience"
            )


def _answered_within(queue_ahead: np.ndarray, service_rate: float, agents: int,
                     abandon_rate: float, threshold: float) -> float:
    """Probability that an arrival who must queue is served within ``threshold`` minutes.

    ``queue_ahead[m]`` is the probability that an arrival finds every agent
    busy and ``m`` customers already waiting.

    Derivation. A tagged customer with ``j`` customers ahead moves up at rate
    ``c mu + j theta`` (a service completion takes the head of the queue; any
    of the ``j`` ahead may abandon); with nobody ahead it is served at rate
    ``c mu``; at any time it abandons itself at rate ``theta``. In position
    ``j`` the first of these events comes after an ``Exp(c mu + (j + 1)
    theta)`` time, independent of which event it is. So, from ``m`` ahead,

    * it is served at all with probability
      ``prod_{j=0..m} (c mu + j theta) / (c mu + (j + 1) theta)
      = c mu / (c mu + (m + 1) theta)`` (the product telescopes), and
    * given that, its wait is a sum of independent exponentials with the
      arithmetic rates ``theta (b + j)``, ``j = 0..m``, ``b = c mu / theta + 1``.
      Then ``exp(-theta W)`` is a product of independent ``Beta(b + j, 1)``
      variables, which is ``Beta(b, m + 1)``; hence
      ``P(W <= t) = I_{1 - exp(-theta t)}(m + 1, b)``, the regularized
      incomplete beta function.

    The product of the two is exact for any rates (no stiff matrix
    exponential); as ``theta -> 0`` it tends to the Erlang C waiting time.
    With ``theta = 0`` the wait from ``m`` ahead is a sum of ``m + 1``
    ``Exp(c mu)`` times: ``P(W <= t)`` is the regularized lower incomplete
    gamma function ``P(m + 1, c mu t)``.
    """
    if threshold <= 0 or len(queue_ahead) == 0:
        return 0.0
    ahead = np.arange(len(queue_ahead), dtype=float)
    service = agents * service_rate
    if abandon_rate == 0:
        return float(np.dot(queue_ahead, special.gammainc(ahead + 1.0, service * threshold)))
    served_at_all = service / (service + (ahead + 1.0) * abandon_rate)
    within = special.betainc(ahead + 1.0, service / abandon_rate + 1.0,
                             -math.expm1(-abandon_rate * threshold))
    return float(np.dot(queue_ahead, served_at_all * within))


def erlang_a(arrival_rate: float, mean_handle: float, agents: int, mean_patience: float,
             service_level_seconds: float = 20.0) -> QueueFigures:
    """Erlang A (Palm's model): a channel whose waiting customers may hang up (M/M/c+M).

    Poisson arrivals, exponential handle times (rate ``mu``), ``agents``
    agents serving first come first served, and exponential patience with
    mean ``mean_patience`` (rate ``theta``): a customer still waiting when
    their patience runs out leaves. This is exactly the simulation's queue
    with ``patience = { dist = "exponential" }``.

    Method: the number in the system is a birth-death chain, solved in log
    space and truncated with a rigorous bound on the mass left out. By PASTA,
    ``p_wait`` is the probability that all agents are busy; Little's law gives
    ``mean_wait = E[queue] / lambda`` (over all arrivals, abandoners
    included) and each waiting customer abandons at rate ``theta``, so
    ``abandon_rate = theta E[queue] / lambda``. The service level is
    ``P(n < c) + sum_m P(n = c + m) P(served within t | m ahead)``; the second
    factor comes from the absorbing chain of the customer's position in the
    queue, in closed form with the incomplete beta function (see
    :func:`_answered_within`); a customer who abandons before ``t`` does not
    count as answered.

    Parameters
    ----------
    arrival_rate
        Contacts per minute (>= 0).
    mean_handle
        Mean handle time in minutes (> 0).
    agents
        Number of agents, a whole number >= 0 (with none, every arrival
        abandons after its patience and ``occupancy`` is NaN).
    mean_patience
        Mean patience in minutes (> 0); ``math.inf`` gives :func:`erlang_c`.
    service_level_seconds
        Threshold of the service level, in seconds.

    Returns
    -------
    QueueFigures
        ``occupancy = lambda (1 - abandon_rate) mu^-1 / c``. The queue is
        always stable: any overload is drained by abandonment.

    Raises
    ------
    ValueError
        For invalid inputs, or when the patience is so long for an overloaded
        channel that the queue would need more than :data:`MAX_QUEUE_STATES`
        states.

    Examples
    --------
    >>> f = erlang_a(arrival_rate=2.0, mean_handle=1.0, agents=3, mean_patience=2.0)
    >>> 0 < f.abandon_rate < f.p_wait < erlang_c(2.0, 1.0, 3).p_wait
    True
    >>> round(erlang_a(2.0, 1.0, 3, mean_patience=1e9).p_wait, 4)  # patience -> inf
    0.4444
    """
    c = _check_queue_inputs(arrival_rate, mean_handle, agents, service_level_seconds)
    if not (isinstance(mean_patience, numbers.Real) and mean_patience > 0):
        raise ValueError(f"mean_patience must be a number > 0 (minutes) or math.inf; got {mean_patience!r}")
    if math.isinf(mean_patience):
        return erlang_c(arrival_rate, mean_handle, c, service_level_seconds)
    if c == 0:
        return _no_agents(arrival_rate, mean_handle, mean_patience, service_level_seconds)
    load = arrival_rate * mean_handle
    if arrival_rate == 0:
        return QueueFigures(0.0, c, 0.0, 0.0, 1.0, float(service_level_seconds), 0.0, 0.0, 0.0)
    service_rate = 1.0 / mean_handle
    abandon_rate = 1.0 / mean_patience
    n, p = _number_in_system(arrival_rate, service_rate, c, abandon_rate)
    queue_ahead = p[n >= c]  # by customers already waiting, from 0 (empty when c is out of reach)
    p_wait = float(queue_ahead.sum())
    mean_queue = float(np.dot(np.maximum(n - c, 0), p))
    mean_busy = float(np.dot(np.minimum(n, c), p))
    within = _answered_within(queue_ahead, service_rate, c, abandon_rate, service_level_seconds / 60.0)
    return QueueFigures(
        offered_load=load, agents=c, p_wait=p_wait, mean_wait=mean_queue / arrival_rate,
        service_level=float(p[n < c].sum()) + within,
        service_level_seconds=float(service_level_seconds),
        abandon_rate=abandon_rate * mean_queue / arrival_rate,
        occupancy=mean_busy / c, mean_queue=mean_queue,
    )


# --------------------------------------------------------------------------- slots, priorities


def _slot_service_rates(agents: int, concurrency: int, slowdown, mean_handle: float) -> np.ndarray:
    """Completion rate with ``n = 1 .. agents * concurrency`` contacts in service, held as evenly
    as the distributor's rule allows (an idle agent first, then the one holding the fewest):
    ``r`` agents hold ``q + 1`` and ``agents - r`` hold ``q``, where ``n = q agents + r``; an
    agent holding ``h`` contacts finishes one at rate ``h mu / slowdown[h - 1]``."""
    factors = np.concatenate(([1.0], np.asarray(slowdown, dtype=float)))  # factors[h], h = 0..k
    n = np.arange(1, agents * concurrency + 1)
    q, r = np.divmod(n, agents)
    upper = np.minimum(q + 1, concurrency)
    return (r * upper / factors[upper] + (agents - r) * q / factors[q]) / mean_handle


def slot_queue(arrival_rate: float, mean_handle: float, agents: int, concurrency: int = 1,
               slowdown=None, mean_patience: float = math.inf, service_level_seconds: float = 20.0, *,
               callback: Callback | None = None) -> QueueFigures:
    """A channel whose agents hold up to ``concurrency`` contacts each (chat), as a birth-death chain.

    The state is the number ``n`` of the channel's contacts present (with an
    agent or waiting). Up to ``agents * concurrency`` slots they are all with
    an agent, spread as evenly as the simulation's distributor spreads them;
    the completion rate in state ``n`` is then the sum over agents of
    ``h mu / f(h)`` for an agent holding ``h`` contacts, ``f`` the
    ``slowdown`` factors (none: 1). Beyond, every slot is taken and each
    waiting customer hangs up at rate ``theta = 1 / mean_patience``.

    Exact when one agent holds the contacts (any slowdown), and for any
    number of agents without slowdown: then it is an M/M/(c k) queue, i.e.
    :func:`erlang_c` (no patience) or :func:`erlang_a` on ``c k`` slots.
    With several agents and a slowdown, assuming the contacts stay evenly
    spread is an approximation.

    Call backs (a :class:`~simulator.scenario.Callback`): an arrival who must
    wait is offered one when the simulation's expected wait, (queue + 1)
    times the handle time over the slots, exceeds ``offer_when_wait_above``,
    i.e. from a queue of ``q* = floor(offer_when_wait_above c k / h)``; it
    accepts with probability ``accept`` and leaves the live queue (the birth
    rate drops to ``lambda (1 - accept)`` there: exact). The call backs are then made by
    the same agents, after the live callers: as work that starts whenever a
    slot is free (an extra birth rate ``phi`` in the states with a free slot,
    ``phi`` solved so that every accepted call back is made); when even
    near-instant filling cannot make them all, the rest are promoted ahead of
    the live callers, as the simulation does with call backs that fall due,
    and slow the live queue's completions by their share of the slots. That
    spreading of the call backs is the approximation. A call back waits as
    Cobham's lower class behind the live callers (an exponential wait at rate
    ``R (1 - sigma_live) (1 - sigma_live - sigma_callbacks)``, ``R`` the full
    completion rate) until it is due (see :func:`callback_wait`).

    Parameters
    ----------
    arrival_rate, mean_handle, agents, mean_patience, service_level_seconds
        As for :func:`erlang_a` (``mean_patience = math.inf``: nobody hangs up).
    concurrency
        Contacts one agent may hold at once.
    slowdown
        ``concurrency`` factors: handle times stretch by ``slowdown[h - 1]``
        while an agent holds ``h`` contacts.

    Returns
    -------
    QueueFigures
        With ``slot_occupancy``, ``mean_service`` and the call-back shares;
        occupancies include the call backs. Without patience and with more
        arrivals than the slots can take, the queue grows without bound
        (``mean_wait = inf``).

    Examples
    --------
    >>> f = slot_queue(0.42, 10.0, agents=2, concurrency=3)  # 6 slots without slowdown: Erlang C
    >>> round(f.p_wait, 12) == round(erlang_c(0.42, 10.0, 6).p_wait, 12)
    True
    >>> slowed = slot_queue(0.15, 10.0, agents=1, concurrency=3, slowdown=[1.0, 1.2, 1.45])
    >>> slowed.mean_service > 10.0
    True
    """
    c = _check_queue_inputs(arrival_rate, mean_handle, agents, service_level_seconds)
    if isinstance(concurrency, bool) or not isinstance(concurrency, numbers.Integral) or concurrency < 1:
        raise ValueError(f"concurrency must be a whole number >= 1; got {concurrency!r}")
    k = int(concurrency)
    factors = tuple(slowdown) if slowdown is not None else (1.0,) * k
    if len(factors) != k or not all(f > 0 for f in factors):
        raise ValueError(f"slowdown must be {k} factors > 0; got {slowdown!r}")
    plain = callback is None
    accept = callback.accept if callback is not None else 0.0
    if k == 1 and plain and factors[0] == 1.0:
        figures = erlang_a(arrival_rate, mean_handle, c, mean_patience, service_level_seconds)
        return dataclasses.replace(figures, slot_occupancy=figures.occupancy, mean_service=float(mean_handle))
    sl = float(service_level_seconds)
    if c == 0 or arrival_rate == 0:
        base = _no_agents(arrival_rate, mean_handle, mean_patience, sl) if c == 0 else \
            QueueFigures(0.0, c, 0.0, 0.0, 1.0, sl, 0.0, 0.0, 0.0)
        return dataclasses.replace(base, slot_occupancy=base.occupancy, mean_service=float(mean_handle))
    slots = c * k
    service = _slot_service_rates(c, k, factors, mean_handle)
    full = float(service[-1])
    theta = 0.0 if math.isinf(mean_patience) else 1.0 / mean_patience
    offer_from_queue = 0 if plain else int(math.floor(callback.offer_when_wait_above * slots / mean_handle))
    threshold = math.inf if plain else slots + offer_from_queue
    tail_birth = arrival_rate * ((1.0 - accept) if not plain else 1.0)
    load = arrival_rate * mean_handle
    if callback is not None:
        overwhelmed = CallbackFigures(1.0, accept, math.inf, 0.0) if accept else CallbackFigures(1.0, 0.0, math.nan,
                                                                                                    math.nan)
    unstable = QueueFigures(load, c, 1.0, math.inf, 0.0, sl, 0.0, 1.0, math.inf, 1.0, math.inf,
                            overwhelmed if callback is not None else None)
    if theta == 0.0 and tail_birth >= full:
        return unstable

    def stationary(fill: float, scale: float = 1.0) -> np.ndarray:
        size = slots + 64
        while True:
            n = np.arange(1, size + 1)
            death = scale * service[np.minimum(n, slots) - 1] + theta * np.maximum(n - slots, 0)
            birth = np.where(n - 1 < threshold, arrival_rate, tail_birth) + np.where(n - 1 < slots, fill, 0.0)
            with np.errstate(divide="ignore"):
                log_weight = np.concatenate(([0.0], np.cumsum(np.log(birth) - np.log(death))))
            top = log_weight.max()
            ratio = tail_birth / death[-1]
            if theta == 0.0 and ratio >= 1.0:
                return None  # the live queue grows without bound
            if ratio == 0.0 or (ratio < 1.0 and log_weight[-1] - top + math.log(ratio / (1.0 - ratio))
                                < math.log(TRUNCATION_TOLERANCE)):
                p = np.exp(log_weight - top)
                return p / p.sum()
            size *= 2
            if size > MAX_QUEUE_STATES:
                raise ValueError("the queue is so long that more than "
                                 f"{MAX_QUEUE_STATES} states would be needed; use a shorter mean_patience")

    fill, scale, p = 0.0, 1.0, stationary(0.0)
    if accept > 0:
        # call backs fill free slots (phi P(a slot is free) = lambda P(offered) accept, phi up to a
        # near-instant rate); those that still cannot be made are promoted ahead of the live callers
        # and take their share of the slots, slowing the live queue's completions
        for _ in range(1000):
            free = float(p[:slots].sum())
            accepted = arrival_rate * accept * float(p[threshold:].sum())
            wanted = min(accepted / max(free, 1e-12), 100.0 * full)
            promoted = max(accepted - wanted * free, 0.0)
            target = 1.0 - min(promoted / full, 0.95)
            if abs(wanted - fill) <= 1e-10 * (1.0 + fill) and abs(target - scale) <= 1e-10:
                break
            fill, scale = 0.5 * fill + 0.5 * wanted, 0.5 * scale + 0.5 * target
            p = stationary(fill, scale)
            if p is None:
                return unstable
    states = np.arange(len(p))
    queue = np.maximum(states - slots, 0)
    offered = states >= threshold
    stays = np.where(offered, 1.0 - accept, 1.0)  # share of arrivals in each state who join the live queue
    live = float(p @ stays)
    mean_queue = float(p @ queue)
    made_back = fill * float(p[:slots].sum()) + full * (1.0 - scale)  # made in free slots, and promoted
    served_rate = arrival_rate * live - theta * mean_queue + made_back
    in_service = float(p @ np.minimum(states, slots)) * scale + slots * (1.0 - scale)
    ahead = p[slots:] * stays[slots:]
    within = _answered_within(ahead, full * scale, 1, theta, service_level_seconds / 60.0)
    callbacks = None
    if callback is not None:
        offered_share = float(p[offered].sum())
        made = arrival_rate * offered_share * accept
        # a call back waits like Cobham's lower class behind the live callers
        live_load = (arrival_rate * live - theta * mean_queue) / full
        rate = full * max(1.0 - live_load, 0.0) * max(1.0 - live_load - made / full, 0.0)
        wait, on_time = callback_wait(callback, rate, full)
        callbacks = CallbackFigures(offered_share, offered_share * accept,
                                    float(wait) if made > 0 else math.nan, float(on_time) if made > 0 else math.nan)
    return QueueFigures(
        offered_load=load, agents=c,
        p_wait=float(ahead.sum() / live), mean_wait=mean_queue / (arrival_rate * live),
        service_level=float(p[:slots] @ stays[:slots] + within) / live, service_level_seconds=sl,
        abandon_rate=theta * mean_queue / arrival_rate,
        occupancy=float(p @ np.minimum(states, c)) / c, mean_queue=mean_queue,
        slot_occupancy=in_service / slots,
        mean_service=in_service / served_rate if served_rate > 0 else float(mean_handle),
        callbacks=callbacks,
    )


def cobham_waits(arrival_rates, mean_handles, agents: int) -> np.ndarray:
    """Mean waits by class of an M/M/c queue with non-preemptive priorities (Cobham's formula).

    Classes are given best first. With ``sigma_k`` the load of classes
    ``1..k`` over ``c mu``, class ``k`` waits
    ``W_k = C(c, a) / (c mu (1 - sigma_{k-1}) (1 - sigma_k))``, ``C`` Erlang
    C's probability of waiting for the whole load ``a``. Exact when every
    class has the same exponential handle time; with different ones ``mu``
    is the overall rate (arrivals over load), a common approximation. The
    arrival-weighted mean of the waits is then Erlang C's (work conservation).

    Returns
    -------
    numpy.ndarray
        The waits in minutes, ``inf`` for classes whose cumulative load
        reaches the agents.

    Examples
    --------
    >>> waits = cobham_waits([0.35, 0.35], [5.0, 5.0], 5)
    >>> bool(waits[0] < erlang_c(0.7, 5.0, 5).mean_wait < waits[1])
    True
    >>> round(float(waits @ [0.5, 0.5]), 12) == round(erlang_c(0.7, 5.0, 5).mean_wait, 12)
    True
    """
    rates = np.asarray(arrival_rates, dtype=float)
    loads = rates * np.asarray(mean_handles, dtype=float)
    c = _check_agents(agents)
    total = float(loads.sum())
    if total <= 0:
        return np.zeros(len(rates))
    sigma = np.concatenate(([0.0], np.cumsum(loads))) / c if c else np.full(len(rates) + 1, math.inf)
    p_wait = erlang_c(rates.sum(), total / rates.sum(), c).p_wait
    rate = c * rates.sum() / total  # c mu
    with np.errstate(divide="ignore"):
        waits = p_wait / (rate * (1.0 - sigma[:-1]) * (1.0 - sigma[1:]))
    return np.where(sigma[1:] < 1.0, waits, math.inf)


# --------------------------------------------------------------------------- the routing chain


def _shares(values: Mapping[str, float] | None, names: tuple[str, ...], what: str,
            default: float) -> np.ndarray:
    shares = np.full(len(names), default)
    for name, value in (values or {}).items():
        if name not in names:
            raise ValueError(f"{what}: no channel {name!r}; channels are {', '.join(names)}")
        if not (isinstance(value, numbers.Real) and 0.0 <= value <= 1.0):
            raise ValueError(f"{what}.{name} must be a probability in [0, 1]; got {value!r}")
        shares[names.index(name)] = float(value)
    return shares


class _JourneyFigures:
    """The figures every journey chain derives the same way from its expected contacts by channel
    (``_contacts_by_channel``), its absorption (``_absorption``: resolved, given up) and its after-call
    table."""

    @cached_property
    def expected_contacts(self) -> dict[str, float]:
        """Expected contacts per customer in each channel."""
        return dict(zip(self.channel_names, map(float, self._contacts_by_channel)))

    @property
    def contacts_per_customer(self) -> float:
        """Expected contacts per customer, all channels."""
        return float(self._contacts_by_channel.sum())

    @property
    def resolution_rate(self) -> float:
        """Share of journeys that end resolved."""
        return float(self._absorption[0])

    @property
    def give_up_rate(self) -> float:
        """Share of journeys that end unresolved, including those cut off at ``max_contacts``."""
        return float(self._absorption[1])

    @property
    def callers_continue_share(self) -> float:
        """Of callers, the share whose next step after the first call is another channel."""
        table = self.after_call()
        return float(sum(v for k, v in table.items() if k in self.channel_names and k != self.focal_channel))

    def kpis(self) -> dict[str, float]:
        """The KPIs the chain defines, under the names of :data:`simulator.metrics.KPI_NAMES`.

        Examples
        --------
        >>> import simulator as sim
        >>> list(JourneyChain(sim.load_scenario("nice_bcg_2016")).kpis())  # doctest: +NORMALIZE_WHITESPACE
        ['contacts_per_customer', 'resolution_rate', 'give_up_rate', 'first_contact_resolution',
         'multichannel_share', 'caller_share', 'avoidable_call_share', 'callers_continue_share']
        """
        return {
            "contacts_per_customer": self.contacts_per_customer,
            "resolution_rate": self.resolution_rate,
            "give_up_rate": self.give_up_rate,
            "first_contact_resolution": self.first_contact_resolution,
            "multichannel_share": self.multichannel_share,
            "caller_share": self.caller_share,
            "avoidable_call_share": self.avoidable_call_share,
            "callers_continue_share": self.callers_continue_share,
        }


class JourneyChain(_JourneyFigures):
    """The absorbing Markov chain of a customer's journey through a scenario's channels.

    Each contact in channel ``i`` is served with probability ``s_i`` (the
    *served share*), reaches the channel while it is closed with probability
    ``k_i`` (the *closed share*) and is abandoned otherwise. A served contact
    resolves the need with probability ``resolve_i``; an unresolved or closed
    contact is followed by the channel's ``next`` row and an abandoned one by
    its ``next_after_abandon`` row, exactly as in
    :meth:`simulator.model.Replication.journey`. So the journey moves from
    ``i`` to channel ``j`` (or gives up) with probability::

        (s_i (1 - resolve_i) + k_i) next_i[j] + (1 - s_i - k_i) next_after_abandon_i[j]

    and ends resolved with probability ``s_i resolve_i``. A journey whose
    ``max_contacts``-th contact does not resolve it gives up.

    With the defaults (``s = 1``, ``k = 0``) the chain is the scenario with
    unlimited capacity and no opening hours: it is exact for networks of
    self-service channels that are always open. For staffed channels, pass
    served shares (e.g. ``1 - erlang_a(...).abandon_rate``); the chain then
    assumes each contact's outcome is independent of the journey so far.

    To honour ``max_contacts`` exactly, a transient state is a pair (channel,
    contacts made so far) with at most ``max_contacts - 1`` earlier contacts:
    ``C * max_contacts`` states. Expected visits come from the fundamental
    matrix ``N = (I - Q)^-1`` (a sparse solve of ``alpha N``).

    Parameters
    ----------
    scenario
        The scenario; its arrivals' ``first_channel`` row starts journeys.
    served_shares
        Per channel, the share of contacts served (default 1.0).
    closed_shares
        Per channel, the share of contacts that find it closed (default 0.0;
        opening hours are ignored unless given). ``served + closed <= 1``.

    Attributes
    ----------
    graph : networkx.DiGraph
        Nodes are the channels, ``"give_up"`` and ``"resolved"``; the edge
        attribute ``probability`` is the one-step probability above (edges of
        probability 0 are left out). The ``max_contacts`` cut-off is not in
        the graph.
    transition : numpy.ndarray
        ``C x C`` one-step probabilities between channels (rows: from).
    give_up_probability, resolve_probability : numpy.ndarray
        Per channel, the one-step probabilities of giving up and of ending
        resolved (before the ``max_contacts`` cut-off).
    served, closed, first_channel : numpy.ndarray
        Per channel, the served and closed shares and the share of journeys
        starting there, in the order of ``channel_names``.

    Examples
    --------
    >>> import simulator as sim
    >>> scenario = sim.load_scenario("nice_bcg_2016")
    >>> chain = JourneyChain(scenario)
    >>> web = scenario.channel("web")
    >>> abs(chain.graph.edges["web", "phone"]["probability"] - (1 - web.resolve) * web.next["phone"]) < 1e-12
    True
    >>> sorted(chain.after_call()) == sorted(chain.channel_names + ("give_up", "resolved"))
    True
    """

    def __init__(self, scenario: Scenario, served_shares: Mapping[str, float] | None = None,
                 closed_shares: Mapping[str, float] | None = None):
        names = scenario.channel_names
        self.scenario = scenario
        self.channel_names = names
        self.focal_channel = scenario.focal_channel
        self.max_contacts = scenario.max_contacts
        self.served = _shares(served_shares, names, "served_shares", 1.0)
        self.closed = _shares(closed_shares, names, "closed_shares", 0.0)
        too_much = [n for n, s, k in zip(names, self.served, self.closed) if s + k > 1.0 + 1e-12]
        if too_much:
            raise ValueError(f"served + closed share exceeds 1 for {', '.join(too_much)}")
        n = len(names)
        self.first_channel = np.array([scenario.arrivals.first_channel.get(c, 0.0) for c in names])
        self.resolve_probability = np.array([ch.resolve for ch in scenario.channels]) * self.served
        self.transition = np.zeros((n, n))
        self.give_up_probability = np.zeros(n)
        position = {name: i for i, name in enumerate(names)}
        for i, ch in enumerate(scenario.channels):
            follow_next = self.served[i] * (1.0 - ch.resolve) + self.closed[i]
            follow_abandon = max(1.0 - self.served[i] - self.closed[i], 0.0)
            for row, weight in ((ch.next, follow_next), (ch.next_after_abandon, follow_abandon)):
                for target, p in row.items():
                    if target == GIVE_UP:
                        self.give_up_probability[i] += weight * p
                    else:
                        self.transition[i, position[target]] += weight * p

    @cached_property
    def graph(self) -> nx.DiGraph:
        """The one-step probabilities as a graph (see the class attributes); built when first asked for."""
        graph = nx.DiGraph()
        graph.add_nodes_from(self.channel_names, kind="channel")
        graph.add_nodes_from((GIVE_UP, RESOLVED), kind="end")
        for i, name in enumerate(self.channel_names):
            for j, target in enumerate(self.channel_names):
                if self.transition[i, j] > 0:
                    graph.add_edge(name, target, probability=float(self.transition[i, j]))
            if self.give_up_probability[i] > 0:
                graph.add_edge(name, GIVE_UP, probability=float(self.give_up_probability[i]))
            if self.resolve_probability[i] > 0:
                graph.add_edge(name, RESOLVED, probability=float(self.resolve_probability[i]))
        return graph

    # -- the expanded chain: state (channel, contacts so far) ---------------

    @property
    def _focal(self) -> int:
        return self.channel_names.index(self.focal_channel)

    def transient_matrix(self) -> sparse.csr_matrix:
        """``Q`` of the expanded chain, sparse, ``C * max_contacts`` square.

        State ``k * C + i`` is "about to make contact number ``k + 1``, in
        channel ``i``". Only moves from ``k`` to ``k + 1`` exist, so ``Q`` is
        nilpotent and ``N = I + Q + ... + Q^(K-1)``.
        """
        next_contact = sparse.eye(self.max_contacts, self.max_contacts, 1)
        return sparse.kron(next_contact, sparse.csr_matrix(self.transition), format="csr")

    def absorbing_matrix(self) -> np.ndarray:
        """``R`` of the expanded chain: columns ``resolved`` and ``give_up``.

        The last layer (the ``max_contacts``-th contact) gives up whenever it
        does not resolve.
        """
        c, k = len(self.channel_names), self.max_contacts
        resolved = np.tile(self.resolve_probability, k)
        give_up = np.tile(self.give_up_probability, k)
        give_up[(k - 1) * c:] = 1.0 - self.resolve_probability
        return np.column_stack((resolved, give_up))

    def fundamental_matrix(self) -> np.ndarray:
        """Dense ``N = (I - Q)^-1`` of the expanded chain (for small chains and inspection).

        ``N[a, b]`` is the expected number of visits to state ``b`` starting
        from state ``a``; states are numbered as in :meth:`transient_matrix`.
        """
        q = self.transient_matrix().toarray()
        return np.linalg.inv(np.eye(len(q)) - q)

    @cached_property
    def _visits(self) -> np.ndarray:
        """``alpha N``: expected visits to each (contact number, channel), shape ``(K, C)``."""
        c, k = len(self.channel_names), self.max_contacts
        start = np.zeros(c * k)
        start[:c] = self.first_channel
        system = (sparse.identity(c * k, format="csc") - self.transient_matrix()).T.tocsc()
        return np.atleast_1d(spsolve(system, start)).reshape(k, c)

    @cached_property
    def _absorption(self) -> np.ndarray:
        """Probabilities of ending resolved and given up."""
        return self._visits.ravel() @ self.absorbing_matrix()

    @cached_property
    def _contacts_by_channel(self) -> np.ndarray:
        return self._visits.sum(axis=0)

    @cached_property
    def onward_contacts(self) -> dict[str, float]:
        """Expected contacts per customer in each channel that are followed by another contact.

        These are the contacts after which a customer waits a ``retry_delay``
        before trying again; the journey's last contact (resolved, given up or
        cut off at ``max_contacts``) is not one of them.

        Examples
        --------
        >>> import simulator as sim
        >>> chain = JourneyChain(sim.load_scenario("nice_bcg_2016"))
        >>> round(sum(chain.onward_contacts.values()) + 1, 12) == round(chain.contacts_per_customer, 12)
        True
        """
        moving_on = self._visits[:-1].sum(axis=0) * self.transition.sum(axis=1)
        return dict(zip(self.channel_names, map(float, moving_on)))

    @property
    def forced_give_up_rate(self) -> float:
        """Share of journeys that give up only because they reached ``max_contacts``."""
        last = self._visits[-1]
        return float(last @ (1.0 - self.resolve_probability - self.give_up_probability))

    @property
    def first_contact_resolution(self) -> float:
        """Share of journeys resolved by their first contact: ``sum_c first_c s_c resolve_c``."""
        return float(self.first_channel @ self.resolve_probability)

    @property
    def avoidable_call_share(self) -> float:
        """Expected focal contacts that are not a journey's first contact, over expected focal contacts.

        A ratio of expectations: the long-run share of avoidable calls, which
        the simulation's per-replication ratio estimates. NaN when no journey
        reaches the focal channel.
        """
        focal = self._visits[:, self._focal]
        total = focal.sum()
        return float(focal[1:].sum() / total) if total > 0 else math.nan

    @cached_property
    def multichannel_share(self) -> float:
        """Share of journeys that use two or more different channels.

        A journey is multichannel once it leaves its first channel ``f`` for
        another one; it stays in ``f`` for ``k`` more contacts with probability
        ``P_ff^k``, so the share is
        ``sum_f first_f sum_{k < K-1} P_ff^k (sum_{j != f} P_fj)``.
        """
        stay = np.diag(self.transition)
        leave = self.transition.sum(axis=1) - stay
        staying = np.ones_like(stay)
        total = np.zeros_like(stay)
        for _ in range(self.max_contacts - 1):
            total += staying * leave
            staying = staying * stay
        return float(self.first_channel @ total)

    # -- the chain until the first focal contact ---------------------------

    @cached_property
    def _until_first_focal(self) -> tuple[np.ndarray, np.ndarray]:
        """The journey until its first focal contact, with one bit of memory per channel.

        Returns ``(first_focal_at, used_before)``: ``first_focal_at[k]`` is the
        probability that the journey's first focal contact is contact number
        ``k + 1``, and ``used_before[c]`` the probability that the journey
        reaches the focal channel having used channel ``c`` before.

        The augmented chain's transient state is (current non-focal channel
        ``i``, contacts so far ``k``, whether channel ``c`` was used before),
        absorbing at the first focal contact, at resolution and at give-up.
        Remembering one channel at a time (all ``c`` side by side) instead of
        the set of channels used is exact for the before-the-call table, which
        is a marginal share per channel, and keeps the chain at
        ``2 C^2 K`` states for any number of channels. Because ``k`` grows at
        every contact, ``Q`` is nilpotent: ``alpha N = sum_k alpha Q^k`` is
        computed by carrying the state distribution forward contact by contact.
        """
        n, focal, last = len(self.channel_names), self._focal, self.max_contacts - 1
        into_focal = self.transition[:, focal].copy()
        moves = self.transition.copy()
        moves[:, focal] = 0.0  # entering the focal channel absorbs
        first_focal_at = np.zeros(self.max_contacts)
        first_focal_at[0] = self.first_channel[focal]
        mass = self.first_channel.copy()
        mass[focal] = 0.0
        used = np.zeros((n, n))  # used[c, i]: at channel i now, channel c used before
        used_before = np.zeros(n)
        for k in range(last):
            used_with_current = used.copy()
            used_with_current[np.arange(n), np.arange(n)] = mass  # channel i is used now
            first_focal_at[k + 1] = mass @ into_focal
            used_before += used_with_current @ into_focal
            mass = mass @ moves
            used = used_with_current @ moves
        return first_focal_at, used_before

    @property
    def caller_share(self) -> float:
        """Share of journeys with at least one contact in the focal channel."""
        return float(self._until_first_focal[0].sum())

    def before_call(self) -> dict[str, float]:
        """Of callers, the share who used each non-focal channel before their first call.

        Keys are the non-focal channels, as in the simulation's
        ``before_call`` table; NaN when no journey reaches the focal channel.

        Examples
        --------
        >>> import simulator as sim
        >>> table = JourneyChain(sim.load_scenario("nice_bcg_2016")).before_call()
        >>> list(table)
        ['web', 'email', 'chat']
        """
        callers = self.caller_share
        used_before = self._until_first_focal[1]
        return {
            name: float(used_before[i] / callers) if callers > 0 else math.nan
            for i, name in enumerate(self.channel_names) if name != self.focal_channel
        }

    def after_call(self) -> dict[str, float]:
        """Of callers, the distribution of the next step after their first call.

        Keys are every channel (the focal one: calling again), ``"give_up"``
        and ``"resolved"``, as in the simulation's ``after_call`` table; the
        values sum to 1 (NaN when no journey reaches the focal channel). A
        first call that is the journey's ``max_contacts``-th contact is
        followed by giving up unless it resolves.

        Examples
        --------
        >>> import simulator as sim
        >>> table = JourneyChain(sim.load_scenario("nice_bcg_2016")).after_call()
        >>> round(sum(table.values()), 12)
        1.0
        """
        first_focal_at = self._until_first_focal[0]
        callers = first_focal_at.sum()
        focal = self._focal
        if callers <= 0:
            return {name: math.nan for name in self.channel_names + (GIVE_UP, RESOLVED)}
        not_last = first_focal_at[:-1].sum()
        at_last = first_focal_at[-1]
        resolved = self.resolve_probability[focal]
        table = {name: float(not_last * self.transition[focal, j] / callers)
                 for j, name in enumerate(self.channel_names)}
        table[GIVE_UP] = float((not_last * self.give_up_probability[focal]
                                + at_last * (1.0 - resolved)) / callers)
        table[RESOLVED] = float(resolved)
        return table


# --------------------------------------------------------------------------- the chain by hour of the day


#: Above this many states (channels x slots) the hourly chain's matrix is kept sparse.
DENSE_STATES = 64


def _routed_shift(route: np.ndarray, shift: np.ndarray) -> sparse.csr_matrix | np.ndarray:
    """The matrix ``T[(i, h), (j, g)] = route[i, h, j] * shift[i, h, g]``, rows ``i * S + h``.

    A contact's next one falls within a few hours of it, so ``shift`` is
    mostly zeros, and so is ``T``: built and multiplied sparse, a week's
    chain (hundreds of states) costs a small share of the dense one. Up to
    :data:`DENSE_STATES` states (one slot: the chain without hours) it is
    dense, which is faster at that size.

    Examples
    --------
    >>> route = np.array([[[0.5, 0.5]], [[1.0, 0.0]]])        # 2 channels, 1 slot
    >>> _routed_shift(route, np.ones((2, 1, 1)))
    array([[0.5, 0.5],
           [1. , 0. ]])
    """
    n_channels, slots, _ = shift.shape
    size = n_channels * slots
    if size <= DENSE_STATES:
        return np.einsum("ihj,ihg->ihjg", route, shift).reshape(size, size)
    channel, slot, later = np.nonzero(shift)  # sorted by row (channel, slot): each row's entries together
    weights = shift[channel, slot, later]
    data = route[channel, slot, :] * weights[:, None]  # (entries, next channel)
    columns = np.arange(n_channels)[None, :] * slots + later[:, None]
    counts = np.bincount(channel * slots + slot, minlength=n_channels * slots) * n_channels
    pointers = np.concatenate(([0], np.cumsum(counts)))
    return sparse.csr_matrix((data.ravel(), columns.ravel(), pointers), shape=(size, size))


def _transposed(matrix: sparse.spmatrix | np.ndarray) -> sparse.csr_matrix | np.ndarray:
    """``matrix.T``, ready to multiply column vectors: ``v @ M`` is computed as ``M.T @ v``."""
    return matrix.T.tocsr() if sparse.issparse(matrix) else np.ascontiguousarray(matrix.T)


class HourlyJourneyChain(_JourneyFigures):
    """The journey chain with the time slot of each contact (e.g. the hour of the day) in its state.

    A generalisation of :class:`JourneyChain` for scenarios whose channels
    behave differently through the day (opening hours, shift plans, an
    arrival profile): a transient state is (channel ``i``, slot ``h``), with
    its own served share ``s[i, h]`` and closed share ``k[i, h]``, and the
    contact after one in ``(i, h)`` falls in slot ``g`` with probability
    ``shift[i, h, g]`` (how long the contact and the retry delay take).
    Otherwise the routing is :class:`JourneyChain`'s: from ``(i, h)`` the
    journey goes to channel ``j`` with probability
    ``(s (1 - resolve_i) + k) next_i[j] + (1 - s - k) next_after_abandon_i[j]``,
    and ``max_contacts`` is honoured exactly. So a customer who finds the
    call centre closed at 21:00 and retries 45 minutes later finds it closed
    again, which a chain without slots cannot know.

    With one slot (arrays of shape ``(C, 1)``) it equals :class:`JourneyChain`.

    Parameters
    ----------
    scenario
        The scenario (channels, routing rows, first-channel mix, focal channel).
    served, closed
        Arrays of shape ``(C, S)``: per channel (in ``channel_names`` order)
        and slot, the served and closed shares.
    shift
        Array ``(C, S, S)``: ``shift[i, h, g]``, the probability that the next
        contact after one in ``(i, h)`` is in slot ``g``; rows sum to 1.
    start
        Array ``(S,)``: the share of journeys starting in each slot.

    Examples
    --------
    >>> import numpy as np, simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> one = HourlyJourneyChain(sc, np.ones((4, 1)), np.zeros((4, 1)), np.ones((4, 1, 1)), np.ones(1))
    >>> round(abs(one.give_up_rate - JourneyChain(sc).give_up_rate), 12)
    0.0
    """

    def __init__(self, scenario: Scenario, served: np.ndarray, closed: np.ndarray, shift: np.ndarray,
                 start: np.ndarray):
        names = scenario.channel_names
        self.scenario = scenario
        self.channel_names = names
        self.focal_channel = scenario.focal_channel
        self.max_contacts = scenario.max_contacts
        served, closed = np.asarray(served, dtype=float), np.asarray(closed, dtype=float)
        n_channels, slots = served.shape
        if n_channels != len(names) or closed.shape != served.shape or np.shape(shift) != (n_channels, slots, slots):
            raise ValueError("served and closed must be (channels, slots) and shift (channels, slots, slots)")
        self.slots = slots
        self.served, self.closed = served, closed
        self.shift = np.asarray(shift, dtype=float)
        self.start = np.asarray(start, dtype=float) / np.sum(start)
        resolve = np.array([ch.resolve for ch in scenario.channels])
        self.resolve_probability = resolve[:, None] * served  # (C, S)
        targets = names + (GIVE_UP,)
        rows = np.zeros((n_channels, 2, len(targets)))
        for i, ch in enumerate(scenario.channels):
            for r, row in enumerate((ch.next, ch.next_after_abandon)):
                for target, p in row.items():
                    rows[i, r, targets.index(target)] += p
        follow_next = served * (1.0 - resolve[:, None]) + closed
        follow_abandon = np.maximum(1.0 - served - closed, 0.0)
        route = follow_next[:, :, None] * rows[:, None, 0, :] + follow_abandon[:, :, None] * rows[:, None, 1, :]
        self.route = route[:, :, :n_channels]  # (C, S, C): to each channel, whatever the slot
        self.give_up_probability = route[:, :, n_channels]  # (C, S)
        self._step = _routed_shift(self.route, self.shift)  # the transition matrix (sparse when large)
        self.first_state = (np.array([scenario.arrivals.first_channel.get(c, 0.0) for c in names])[:, None]
                            * self.start[None, :]).ravel()
        self.channel_of_state = np.repeat(np.arange(n_channels), slots)

    def with_start(self, start: np.ndarray) -> "HourlyJourneyChain":
        """The same chain for journeys that start by ``start`` (a weight per slot) instead: the figures
        of the journeys that start in part of the period, such as a run's window shorter than it.

        Examples
        --------
        >>> import simulator as sim
        >>> from simulator.network import approximate
        >>> chain = approximate(sim.load_scenario("bank_app_first")).chain
        >>> night = chain.with_start(np.r_[np.ones(6), np.zeros(18)])
        >>> # the phone and chat are closed at night: fewer first contacts resolve, more contacts follow
        >>> night.first_contact_resolution < chain.first_contact_resolution
        True
        >>> night.contacts_per_customer > chain.contacts_per_customer
        True
        >>> chain.with_start(chain.start).kpis() == chain.kpis()
        True
        """
        other = copy.copy(self)
        for name in [n for cls in type(self).__mro__ for n, a in vars(cls).items() if isinstance(a, cached_property)]:
            other.__dict__.pop(name, None)
        other.start = np.asarray(start, dtype=float) / np.sum(start)
        other.first_state = (self.first_state.reshape(len(self.channel_names), self.slots).sum(axis=1)[:, None]
                             * other.start[None, :]).ravel()
        return other

    @property
    def _focal(self) -> int:
        return self.channel_names.index(self.focal_channel)

    @cached_property
    def transition(self) -> np.ndarray:
        """``transition[(i, h), (j, g)]``: the next contact after one in channel ``i``, slot ``h`` is in
        channel ``j``, slot ``g``; shape ``(C S, C S)``, rows indexed ``i * S + h``."""
        return self._step.toarray() if sparse.issparse(self._step) else self._step

    @cached_property
    def visits(self) -> np.ndarray:
        """Expected visits per customer to each (contact number, channel, slot), shape ``(K, C, S)``."""
        layers = np.zeros((self.max_contacts, self.first_state.size))
        layers[0] = self.first_state
        backwards = _transposed(self._step)
        for k in range(1, self.max_contacts):
            layers[k] = backwards @ layers[k - 1]
        return layers.reshape(self.max_contacts, len(self.channel_names), self.slots)

    @cached_property
    def _absorption(self) -> tuple[float, float]:
        resolved = float(np.sum(self.visits * self.resolve_probability[None]))
        return resolved, 1.0 - resolved

    @cached_property
    def contacts_by_slot(self) -> np.ndarray:
        """Expected contacts per customer in each (channel, slot), shape ``(C, S)``."""
        return self.visits.sum(axis=0)

    @cached_property
    def _contacts_by_channel(self) -> np.ndarray:
        return self.contacts_by_slot.sum(axis=1)

    @cached_property
    def onward_contacts(self) -> dict[str, float]:
        """Expected contacts per customer in each channel that are followed by another contact."""
        moving_on = (self.visits[:-1].sum(axis=0) * self.route.sum(axis=2)).sum(axis=1)
        return dict(zip(self.channel_names, map(float, moving_on)))

    @property
    def first_contact_resolution(self) -> float:
        """Share of journeys resolved by their first contact."""
        return float(np.sum(self.visits[0] * self.resolve_probability))

    @property
    def avoidable_call_share(self) -> float:
        """Expected focal contacts that are not a journey's first, over expected focal contacts."""
        focal = self.visits[:, self._focal].sum(axis=1)
        total = focal.sum()
        return float(focal[1:].sum() / total) if total > 0 else math.nan

    @cached_property
    def multichannel_share(self) -> float:
        """Share of journeys that use two or more different channels (as :attr:`JourneyChain.multichannel_share`)."""
        slots, total = self.slots, 0.0
        for f in range(len(self.channel_names)):
            block = slice(f * slots, (f + 1) * slots)
            stay = _transposed(self._step[block, block])
            leave = self.route[f].sum(axis=1) - self.route[f, :, f]
            staying = self.first_state[block].copy()
            for _ in range(self.max_contacts - 1):
                total += staying @ leave
                staying = stay @ staying
        return float(total)

    @cached_property
    def _until_first_focal(self) -> tuple[np.ndarray, np.ndarray]:
        """``(first_focal_at, used_before)`` as in :class:`JourneyChain`, with slots.

        ``first_focal_at[k, h]``: probability that the first focal contact is
        contact ``k + 1`` and falls in slot ``h``.
        """
        slots, focal = self.slots, self._focal
        n_channels = len(self.channel_names)
        focal_states = slice(focal * slots, (focal + 1) * slots)
        into_focal = _transposed(self._step[:, focal_states])
        not_focal = np.ones(self.first_state.size)
        not_focal[focal_states] = 0.0
        moves = _transposed(self._step @ sparse.diags(not_focal) if sparse.issparse(self._step)
                            else self._step * not_focal[None, :])
        first_focal_at = np.zeros((self.max_contacts, slots))
        first_focal_at[0] = self.first_state[focal_states]
        mass = self.first_state.copy()
        mass[focal_states] = 0.0
        # used[:, c]: the mass that has used channel c; its last column is the mass itself
        used = np.zeros((mass.size, n_channels + 1))
        used_before = np.zeros(n_channels)
        states = np.arange(mass.size)
        for k in range(self.max_contacts - 1):
            used[states, self.channel_of_state] = mass
            used[:, n_channels] = mass
            reach = into_focal @ used
            first_focal_at[k + 1] = reach[:, n_channels]
            used_before += reach[:, :n_channels].sum(axis=0)
            used = moves @ used
            mass = used[:, n_channels]
        return first_focal_at, used_before

    @property
    def caller_share(self) -> float:
        """Share of journeys with at least one contact in the focal channel."""
        return float(self._until_first_focal[0].sum())

    def before_call(self) -> dict[str, float]:
        """Of callers, the share who used each non-focal channel before their first call."""
        callers = self.caller_share
        used_before = self._until_first_focal[1]
        return {name: float(used_before[i] / callers) if callers > 0 else math.nan
                for i, name in enumerate(self.channel_names) if name != self.focal_channel}

    def after_call(self) -> dict[str, float]:
        """Of callers, the distribution of the next step after their first call (sums to 1)."""
        first_focal_at = self._until_first_focal[0]
        callers = first_focal_at.sum()
        focal = self._focal
        if callers <= 0:
            return {name: math.nan for name in self.channel_names + (GIVE_UP, RESOLVED)}
        not_last, at_last = first_focal_at[:-1].sum(axis=0), first_focal_at[-1]
        resolved = self.resolve_probability[focal]
        table = {name: float(not_last @ self.route[focal, :, j] / callers)
                 for j, name in enumerate(self.channel_names)}
        table[GIVE_UP] = float((not_last @ self.give_up_probability[focal] + at_last @ (1.0 - resolved)) / callers)
        table[RESOLVED] = float(first_focal_at.sum(axis=0) @ resolved / callers)
        return table

