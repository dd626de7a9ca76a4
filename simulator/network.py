"""The network approximation: every KPI of a scenario in milliseconds, with its weak spots named.

The simulation is the reference; this is the planner's seconds-fast estimate
of the same figures (:func:`approximate`). It couples two exact pieces of
:mod:`simulator.analytic` through a fixed point:

1. **Routing** — the journey chain with, per channel, the *served share*
   ``s_i`` (contacts answered by an agent or self-service) and the *closed
   share* ``k_i`` (contacts that find it closed) gives the expected contacts
   per customer ``E_i`` in every channel, and every journey KPI and the
   before/after-the-call tables. When anything depends on the hour of the day
   (an arrival profile, a shift plan, opening hours) the chain is
   :class:`~simulator.analytic.HourlyJourneyChain`: its state is (channel,
   hour), shares are per hour, and the next contact falls in a later hour
   according to the contact's mean duration and the retry delay's
   distribution, so a customer who finds the call centre closed at 21:00 and
   retries finds it closed again. Otherwise it has one slot and is exactly
   :class:`~simulator.analytic.JourneyChain`.
2. **Queues** — channel ``i`` is offered ``Lambda E_i(h)`` contacts per
   minute in hour ``h`` (traffic equations: new customers a day times the
   contacts each brings in that hour). Each staffed channel is then a queue
   whose abandonment feeds ``next_after_abandon`` in the chain:

   * a live channel with patience is an Erlang A queue (M/M/c+M), evaluated
     hour by hour with that hour's rate and agents as if the hour were in
     steady state (the pointwise-stationary approximation), with the mean of
     its patience distribution;
   * an asynchronous channel (email), or a live one whose customers never hang
     up, keeps all its work: its messages are answered in order even after the
     customer stopped waiting. Its backlog is a fluid queue simulated minute by
     minute from an empty start, exactly over the run's window (so a shift
     plan that leaves a night's messages to the morning, or an overloaded
     peak, carries its backlog over); where no fluid backlog builds up the
     wait is Erlang C's. A customer waiting for an email reply gives up when
     their (exponential) patience ends before the reply, i.e. before wait +
     handle time: ``P(abandon) = 1 - E[exp(-theta (W + S))]``, computed with
     the handle-time distribution's Laplace transform;
   * self-service has no queue: served share 1.

   The closed share of a channel with ``open_hours`` is the closed part of
   each hour.

3. **Fixed point** — ``s_i = (1 - k_i)(1 - abandon_i)`` (per hour when the
   chain has hours); the chain is solved
   again with the new shares, and so on (damped) until no share moves by
   more than ``tolerance``.

Where the approximation is weak (non-exponential times, shift plans and
arrival profiles, opening hours, asynchronous channels, overloaded hours,
retry delays), :attr:`NetworkApproximation.weaknesses` says so for the
scenario at hand rather than hiding it.

Examples
--------
>>> import simulator as sim
>>> approx = approximate(sim.load_scenario("nice_bcg_2016"))
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
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

from .analytic import HourlyJourneyChain, _answered_within, _number_in_system, erlang_a, erlang_c
from .distributions import (
    Deterministic,
    Distribution,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
    Uniform,
)
from .figures import CHANNEL_METRICS, HOURLY_METRICS, KPI_NAMES, figure_index
from .json_data import dumps, plain

if TYPE_CHECKING:  # the theory reads a scenario it is given; the scenario imports it (its derived warm-up)
    from .scenario import Channel, Scenario

__all__ = ["NetworkApproximation", "approximate", "laplace_transform"]

HOURS = 24
#: Quantile nodes used to integrate over a handle-time distribution.
HANDLE_NODES = 400
#: Longest the fluid backlog model looks past the end of the window for a
#: message to be answered, in days.
MAX_TAIL_DAYS = 30
#: The fluid backlog model works minute by minute, so it covers at most this much of a run's
#: warm-up and window, in days (longer runs repeat the same days; they would need gigabytes).
FLUID_WARMUP_DAYS = 14
FLUID_WINDOW_DAYS = 28
#: How far a handle-time cv may be from 1 before it is called "far from exponential".
CV_SLACK = 0.25


# --------------------------------------------------------------------------- helpers


def _quantile_nodes(dist: Distribution, n: int = HANDLE_NODES) -> tuple[np.ndarray, np.ndarray]:
    """Values and weights that integrate functions of a time distribution (midpoint quantiles).

    Computed once per distribution (the fixed point asks for the same ones at every step).
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
    values, weights = _quantile_nodes(dist)
    decay = np.exp(-rate * values)
    return float(weights @ decay), float(weights @ (values * decay))


def _open_fraction(channel: Channel) -> np.ndarray:
    """Share of each hour of the day during which the channel is open."""
    if channel.open_hours is None:
        return np.ones(HOURS)
    start, end = channel.open_hours
    spans = [(start, end)] if start < end else [(start, 24.0), (0.0, end)]
    hours = np.arange(HOURS, dtype=float)
    fraction = np.zeros(HOURS)
    for low, high in spans:
        fraction += np.clip(np.minimum(hours + 1, high) - np.maximum(hours, low), 0.0, 1.0)
    return fraction


def _window_minutes(scenario: Scenario) -> np.ndarray:
    """Minutes of the measured window that fall in each hour of the day."""
    start, end = scenario.run.warmup_minutes, scenario.run.end_minutes
    hours = np.arange(math.floor(start / 60.0), math.ceil(end / 60.0))
    overlap = np.minimum(end, (hours + 1) * 60.0) - np.maximum(start, hours * 60.0)
    return np.bincount(hours % HOURS, weights=np.maximum(overlap, 0.0), minlength=HOURS)


def _fluid_span(scenario: Scenario) -> tuple[float, float]:
    """The start and end of the window, in minutes, that the fluid backlog model simulates.

    The run's own, except that a warm-up beyond :data:`FLUID_WARMUP_DAYS` is
    shortened by whole days (so the hours of the day stay where they are) and
    a window beyond :data:`FLUID_WINDOW_DAYS` is cut there: by then a stable
    backlog repeats its daily pattern, and the model's minute grid stays small.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 1000, "run.warmup_hours": 1000})
    >>> start, end = _fluid_span(sc)
    >>> start % 1440 == sc.run.warmup_minutes % 1440, start / 1440 >= FLUID_WARMUP_DAYS
    (True, True)
    >>> (end - start) / 1440
    28.0
    """
    start, end = scenario.run.warmup_minutes, scenario.run.end_minutes
    dropped = max(0, math.floor(start / 1440.0) - FLUID_WARMUP_DAYS) * 1440.0
    start, end = start - dropped, end - dropped
    return start, min(end, start + FLUID_WINDOW_DAYS * 1440.0)


def _agents_by_hour(channel: Channel) -> np.ndarray:
    return np.array([channel.agents_in_hour(h) for h in range(HOURS)], dtype=int)


def _overload_sentence(channel: str, hours) -> str:
    return (f"{channel}: overloaded (offered load at or above the agents on duty, or a growing backlog) "
            f"in {_hours_text(hours)}")


def _hours_text(hours) -> str:
    hours = sorted(int(h) for h in hours)
    runs, start = [], None
    for i, h in enumerate(hours):
        if start is None:
            start = h
        if i + 1 == len(hours) or hours[i + 1] != h + 1:
            runs.append(f"{start:02d}-{h + 1:02d}h" if h > start else f"{h:02d}h")
            start = None
    return ", ".join(runs)


# --------------------------------------------------------------------------- callers who call back


def _quick_share(retry: Distribution | None, redial: float, patience: float) -> float:
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
    >>> _quick_share(None, 0.6, 5.0)  # calling back at once
    1.0
    >>> 0.2 < _quick_share(Exponential(10.0), 0.9, 3.0) < 0.4
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


def _erlang_a_with_callbacks(rate: float, mean_handle: float, agents: int, mean_patience: float,
                             service_level_seconds: float, callbacks: float, redial: float,
                             quick: float) -> dict[str, float]:
    """An Erlang A channel some of whose abandoners call it back: the channel metrics per contact.

    ``rate`` counts every contact a minute, callbacks included; ``callbacks``
    is the share of them that are callbacks of the channel's own abandoners,
    ``redial`` the share of its abandoners who call back, ``quick`` the share
    of callbacks that find the queue as they left it (:func:`_quick_share`).
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
    >>> same = _erlang_a_with_callbacks(1.5, 5.0, 10, 3.0, 20.0, 0.0, 0.9, 0.3)
    >>> all(abs(same[k] - plain[k]) < 1e-12 for k in plain)
    True
    >>> more = _erlang_a_with_callbacks(1.5, 5.0, 10, 3.0, 20.0, 0.06, 0.9, 0.3)
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


# --------------------------------------------------------------------------- one channel


@dataclass
class _ChannelFigures:
    """A channel's figures for given contacts per customer (shares of offered contacts)."""

    abandon_rate: float = 0.0
    mean_wait: float = 0.0
    p_wait: float = 0.0
    service_level: float = 1.0
    busy_minutes: float = 0.0  # agent-minutes busy over the window
    mean_queue: float = 0.0
    hourly: dict[str, np.ndarray] = field(default_factory=dict)
    overloaded_hours: tuple[int, ...] = ()


class _Network:
    """What stays fixed while the fixed point iterates: rates, weights, per-channel inputs."""

    def __init__(self, scenario: Scenario):
        self.scenario = scenario
        self.rates = np.asarray(scenario.arrivals.rates_per_minute())  # new customers per minute, by hour
        self.window = _window_minutes(scenario)
        self.traffic = self.rates * self.window  # customers arriving in the window, by hour
        self.customers = float(self.traffic.sum())
        self.open = {c.name: _open_fraction(c) for c in scenario.channels}
        # a contact is assumed to fall at a random time of the arrival profile
        self.customers_per_day = self.customers / (self.window.sum() / 1440.0)
        profile = scenario.arrivals.hourly_profile
        timed = (profile is not None and len(set(profile)) > 1) or any(
            c.open_hours is not None or c.has_shift_plan for c in scenario.channels)
        # one time slot when nothing depends on the hour of the day, else one per hour
        self.slots = HOURS if timed else 1
        self.start = self.traffic / self.customers if timed else np.ones(1)
        self.open_by_slot = np.array([self.open[c.name] if timed else [self.open[c.name].mean()]
                                      for c in scenario.channels])
        self.retry_nodes = [_quantile_nodes(c.retry_delay, 100) if c.retry_delay is not None
                            else (np.zeros(1), np.ones(1)) for c in scenario.channels]
        self._erlang_cache: dict[tuple, Any] = {}

    # -- live channels with patience: Erlang A, hour by hour ---------------

    def erlang_hours(self, channel: Channel, rates: np.ndarray, abandon: np.ndarray | None = None) -> _ChannelFigures:
        """Erlang A hour by hour; ``abandon`` (per hour, from the fixed point's last step) says how
        many contacts are callbacks of the channel's own abandoners (see :func:`_erlang_a_with_callbacks`)."""
        agents = _agents_by_hour(channel)
        open_share = self.open[channel.name]
        handle = channel.handle_time.mean
        patience = channel.patience.mean
        sl = channel.service_level_seconds
        redial = channel.next_after_abandon.get(channel.name, 0.0)
        quick = _quick_share(channel.retry_delay, redial, patience) if redial > 0 else 0.0
        callbacks = (redial * np.clip(abandon, 0.0, 1.0) if abandon is not None and quick > 0
                     else np.zeros(HOURS))
        rows = {m: np.full(HOURS, math.nan) for m in ("abandon_rate", "mean_wait_min", "p_wait",
                                                        "service_level", "mean_queue", "occupancy")}
        busy = np.zeros(HOURS)
        overloaded = []
        for h in range(HOURS):
            rate = rates[h]
            if open_share[h] <= 0:
                rows["mean_queue"][h] = 0.0
                continue
            if agents[h] == 0:  # open with nobody on duty: every waiting customer hangs up
                figures = erlang_a(rate, handle, 0, patience, sl).channel_metrics()
                if rate > 0:
                    overloaded.append(h)
            elif callbacks[h] > 0:
                figures = _erlang_a_with_callbacks(rate, handle, int(agents[h]), patience, sl, float(callbacks[h]),
                                                   redial, quick)
                if rate * handle >= agents[h]:
                    overloaded.append(h)
                busy[h] = figures["occupancy"] * agents[h]
            else:
                key = ("A", rate, handle, int(agents[h]), patience, sl)
                result = self._erlang_cache.get(key)
                if result is None:
                    result = self._erlang_cache[key] = erlang_a(rate, handle, int(agents[h]), patience, sl)
                figures = result.channel_metrics()
                if result.offered_load >= agents[h]:
                    overloaded.append(h)
                busy[h] = result.occupancy * agents[h]
            for m, v in figures.items():
                rows[m][h] = v
            rows["mean_queue"][h] *= open_share[h]
            if agents[h]:
                rows["occupancy"][h] = rows["occupancy"][h] * open_share[h]
            busy[h] *= open_share[h]
        offered = rates * self.window * open_share
        figures = _ChannelFigures(hourly=rows, overloaded_hours=tuple(overloaded))
        total = offered.sum()
        if total > 0:
            for name, metric in (("abandon_rate", "abandon_rate"), ("mean_wait", "mean_wait_min"),
                                 ("p_wait", "p_wait"), ("service_level", "service_level")):
                setattr(figures, name, float(offered @ np.nan_to_num(rows[metric]) / total))
        figures.busy_minutes = float(busy @ self.window)
        figures.mean_queue = float(rows["mean_queue"] @ self.window / self.window.sum())
        return figures

    # -- work-conserving channels: fluid backlog + Erlang C ----------------

    def backlog(self, channel: Channel, rates: np.ndarray) -> _ChannelFigures:
        """An async channel (or a live one without patience): every message is answered in order."""
        run = self.scenario.run
        start, end = _fluid_span(self.scenario)
        covered = (end - start) / (run.end_minutes - run.warmup_minutes)  # of the window, for totals
        handle = channel.handle_time
        mean_handle = handle.mean
        theta = 0.0
        if channel.patience is not None and channel.is_async:
            theta = 1.0 / channel.patience.mean
        lt, lt1 = laplace_transform(handle, theta) if theta else (1.0, 0.0)
        threshold = channel.service_level_seconds / 60.0
        agents = _agents_by_hour(channel)

        # minute grid from the empty start to the window's end, then a tail to drain the backlog
        open_minutes = np.array([channel.is_open(m) for m in np.arange(1440) + 0.5])

        def grid(minutes: int):
            t = np.arange(minutes) + 0.5
            hour = (t // 60 % HOURS).astype(int)
            inflow = np.where(t < end, rates[hour] * open_minutes[(t % 1440).astype(int)], 0.0)
            capacity = agents[hour] / mean_handle
            return t, hour, inflow, capacity

        minutes = math.ceil(end) + 1440
        while True:
            t, hour, inflow, capacity = grid(minutes)
            net = np.concatenate(([0.0], np.cumsum(inflow - capacity)))
            queue = net - np.minimum.accumulate(np.minimum(net, 0.0))  # backlog at minute marks
            if queue[-1] <= 1e-9 or minutes >= end + MAX_TAIL_DAYS * 1440:
                break
            minutes += 1440 * 7
        arrived = np.concatenate(([0.0], np.cumsum(inflow)))
        answered = arrived - queue
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

        # Erlang C per hour, where agents are on duty and the queue is stable
        hourly_c = {}
        for h in range(HOURS):
            rate = rates[h]
            if agents[h] > 0 and rate * mean_handle < agents[h]:
                key = ("C", rate, mean_handle, int(agents[h]), channel.service_level_seconds)
                if key not in self._erlang_cache:
                    self._erlang_cache[key] = erlang_c(rate, mean_handle, int(agents[h]),
                                                       channel.service_level_seconds)
                hourly_c[h] = self._erlang_cache[key]
        variability = (1.0 + handle.cv**2) / 2.0
        stochastic_wait = np.array([hourly_c[h].mean_wait * variability if h in hourly_c else math.inf
                                    for h in range(HOURS)])[hour]
        # whichever predicts the longer wait; the fluid alone where Erlang C has no steady state
        use_fluid = ~np.isfinite(stochastic_wait) | (fluid_wait > stochastic_wait)

        # per-minute figures in the Erlang C regime (exponential waits behind an atom at 0)
        p_c = np.array([hourly_c[h].p_wait if h in hourly_c else 1.0 for h in range(HOURS)])[hour]
        # Allen-Cunneen: an M/G/c queue waits about (1 + cv^2) / 2 times as long as M/M/c, so the
        # exponential tail of the wait decays that much faster or slower (P(wait) is kept)
        spare = np.array([agents[h] / mean_handle - rates[h] if h in hourly_c else 1.0
                          for h in range(HOURS)])[hour] * 2.0 / (1.0 + handle.cv**2)
        g = 1.0 - p_c + p_c * spare / (spare + theta)  # E[exp(-theta W)]
        g1 = p_c * spare / (spare + theta) ** 2  # E[W exp(-theta W)]
        served_c = g * lt
        wait_served_c = g1 * lt
        xdecay_c = g1 * lt + g * lt1
        pwait_c = p_c * spare / (spare + theta) * lt + (1.0 - served_c)
        sl_c = (1.0 - p_c + p_c * spare / (spare + theta) * (1.0 - np.exp(-(spare + theta) * threshold))) * lt
        queue_c = np.array([hourly_c[h].mean_queue * variability if h in hourly_c else 0.0
                            for h in range(HOURS)])[hour]

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
            wait_served = np.where(use_fluid, np.where(np.isfinite(fluid_wait), fluid_wait, math.inf),
                                   wait_served_c)
        mean_wait = wait_served + abandon_time
        p_wait = np.where(use_fluid, pwait_f, pwait_c)
        service_level = np.where(use_fluid, sl_f, sl_c)
        queue_now = (queue[:-1] + queue[1:]) / 2.0 + np.where(use_fluid, 0.0, queue_c)
        busy = np.where(queue[1:] > 1e-9, agents[hour], np.minimum(agents[hour], inflow * mean_handle))

        measured = (t >= start) & (t < end)
        offered = inflow * measured  # contacts of the window, by arrival minute
        by_hour = {}
        for metric, values in (("abandon_rate", 1.0 - served), ("mean_wait_min", mean_wait),
                               ("p_wait", p_wait), ("service_level", service_level)):
            weighted = np.bincount(hour, weights=offered * np.nan_to_num(values, posinf=1e12), minlength=HOURS)
            total = np.bincount(hour, weights=offered, minlength=HOURS)
            by_hour[metric] = np.where(total > 0, weighted / np.where(total > 0, total, 1.0), math.nan)
            if metric == "mean_wait_min":
                by_hour[metric] = np.where(by_hour[metric] >= 1e12, math.inf, by_hour[metric])
        in_window = np.bincount(hour, weights=measured.astype(float), minlength=HOURS)
        busy_h = np.bincount(hour, weights=busy * measured, minlength=HOURS)
        staffed_h = agents * in_window
        by_hour["mean_queue"] = np.bincount(hour, weights=queue_now * measured, minlength=HOURS) / np.where(
            in_window > 0, in_window, 1.0)
        by_hour["occupancy"] = np.where(staffed_h > 0, busy_h / np.where(staffed_h > 0, staffed_h, 1.0), math.nan)

        figures = _ChannelFigures(hourly=by_hour)
        total = offered.sum()
        if total > 0:
            figures.abandon_rate = float(offered @ (1.0 - served) / total)
            figures.mean_wait = float(offered @ mean_wait / total) if np.isfinite(offered @ mean_wait) else math.inf
            figures.p_wait = float(offered @ p_wait / total)
            figures.service_level = float(offered @ service_level / total)
        figures.busy_minutes = float(busy_h.sum()) / covered
        figures.mean_queue = float((queue_now * measured).sum() / measured.sum())
        overloaded = sorted({int(h) for h in hour[(queue[1:] > 1.0) & measured & (inflow > 0)]})
        figures.overloaded_hours = tuple(overloaded)
        return figures

    def channel_figures(self, channel: Channel, rates: np.ndarray,
                        abandon: np.ndarray | None = None) -> _ChannelFigures:
        """A channel's figures when ``rates[h]`` contacts a minute reach it in hour ``h`` (closed ones
        included) and a share ``abandon[h]`` of them was abandoned at the fixed point's last step."""
        if channel.unlimited:
            return _ChannelFigures()
        if channel.is_async or channel.patience is None:
            return self.backlog(channel, rates)
        return self.erlang_hours(channel, rates, abandon)

    def abandonment(self, served: np.ndarray) -> np.ndarray:
        """Per channel and hour, the share of open-hour contacts abandoned, from served shares ``(C, S)``."""
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(self.open_by_slot > 0, 1.0 - served / np.where(self.open_by_slot > 0,
                                                                             self.open_by_slot, 1.0), 0.0)
        return np.broadcast_to(share, (len(share), HOURS)) if self.slots == 1 else share

    # -- the journeys: the chain, by hour of the day when the day matters --

    def contact_rates(self, chain: HourlyJourneyChain) -> np.ndarray:
        """Contacts per minute reaching each channel in each hour of the day, shape ``(C, 24)``."""
        per_slot = chain.contacts_by_slot  # contacts per customer, by (channel, slot)
        if self.slots == 1:
            return per_slot * self.rates[None, :]
        return per_slot * self.customers_per_day / 60.0

    def shift(self, durations: np.ndarray) -> np.ndarray:
        """``shift[i, h, g]``: the next contact after one in (channel i, hour h) falls in hour g.

        The contact starts at a uniform minute of hour ``h``, lasts its mean
        duration ``durations[i, h]``, then the channel's retry delay passes
        (integrated over its distribution).
        """
        n = len(self.scenario.channels)
        if self.slots == 1:
            return np.ones((n, 1, 1))
        within = (np.arange(12) + 0.5) / 12.0  # where in the hour the contact starts
        out = np.zeros((n, HOURS, HOURS))
        hours = np.arange(HOURS)
        for i, c in enumerate(self.scenario.channels):
            values, weights = self.retry_nodes[i]
            moved = np.floor(within[None, :, None] + (durations[i][:, None, None] + values[None, None, :]) / 60.0)
            slot = ((hours[:, None, None] + moved) % HOURS).astype(int)
            weight = np.broadcast_to(weights[None, None, :] / len(within), slot.shape)
            for h in range(HOURS):
                out[i, h] = np.bincount(slot[h].ravel(), weights=weight[h].ravel(), minlength=HOURS)
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
        :data:`simulator.metrics.CHANNEL_METRICS`; column ``value``.
    before_call, after_call
        Indexed by channel (and ``give_up``, ``resolved``); column ``value``.
    hourly
        Indexed by ``(channel, hour, metric)``: contacts per day and the queue
        figures of each hour of the day.
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
    overloaded_hours: Mapping[str, tuple[int, ...]] = field(default_factory=dict)

    def overload_notes(self) -> list[str]:
        """One sentence per overloaded channel (offered load at or above the agents on duty, or a
        growing backlog), naming its hours: what ``analyze`` lists among the weak spots and ``run``
        warns about.

        Examples
        --------
        >>> import simulator as sim
        >>> notes = approximate(sim.load_scenario("nice_bcg_2016").with_changes({"channels.phone.agents": 20})
        ...                     ).overload_notes()
        >>> [note for note in notes if note.startswith("phone")]
        ['phone: overloaded (offered load at or above the agents on duty, or a growing backlog) in 00-24h']
        >>> approximate(sim.load_scenario("nice_bcg_2016")).overload_notes()
        []
        """
        return [_overload_sentence(name, hours) for name, hours in self.overloaded_hours.items() if hours]

    def value(self, key: str) -> float:
        """One figure, named like ``give_up_rate``, ``channels.phone.abandon_rate`` or ``before_call.email``.

        Examples
        --------
        >>> import simulator as sim
        >>> approx = approximate(sim.load_scenario("nice_bcg_2016"))
        >>> 0 < approx.value("channels.phone.abandon_rate") < 0.2
        True
        """
        table, channel, metric = figure_index(key)
        frames = {"kpis": self.kpis, "channels": self.channels,
                  "before_call": self.before_call, "after_call": self.after_call}
        index = metric if table == "kpis" else (channel, metric) if table == "channels" else channel
        try:
            return float(frames[table].loc[index, "value"])
        except KeyError:
            raise KeyError(f"no figure {key!r} in the approximation of {self.scenario.name}") from None

    def __repr__(self) -> str:
        """One line: the scenario and how the fixed point went; the figures are attributes."""
        state = f"converged in {self.iterations} iterations" if self.converged else \
            f"NOT converged after {self.iterations} iterations"
        return (f"NetworkApproximation({self.scenario.name}: {state}; {len(self.weaknesses)} weak spot(s); "
                "see .kpis, .channels, .before_call, .after_call, .weaknesses)")

    def to_dict(self) -> dict[str, Any]:
        """The approximation as plain data (non-finite numbers as None)."""
        channels: dict[str, dict[str, float]] = {}
        for (name, metric), v in self.channels["value"].items():
            channels.setdefault(name, {})[metric] = v
        return plain({
            "scenario": self.scenario.name,
            "iterations": self.iterations,
            "converged": self.converged,
            "served_shares": dict(self.served_shares),
            "closed_shares": dict(self.closed_shares),
            "kpis": dict(self.kpis["value"]),
            "channels": channels,
            "before_call": dict(self.before_call["value"]),
            "after_call": dict(self.after_call["value"]),
            "weaknesses": list(self.weaknesses),
        })

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as JSON."""
        return dumps(self.to_dict(), indent=indent)


def approximate(scenario: Scenario, *, damping: float = 0.5, tolerance: float = 1e-9,
                max_iterations: int = 500) -> NetworkApproximation:
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
        Give up iterating after this many steps (``converged`` is then False
        and a weakness says so).

    Returns
    -------
    NetworkApproximation

    Raises
    ------
    ValueError
        If ``damping`` is out of range, or agent groups answer some channels.

    Examples
    --------
    >>> import simulator as sim
    >>> approx = approximate(sim.load_scenario("bank_app_first"))
    >>> approx.converged, approx.iterations < 100
    (True, True)
    >>> bool(approx.weaknesses)  # a shift plan, an async channel, lognormal handle times...
    True
    """
    if not 0.0 < damping <= 1.0:
        raise ValueError(f"damping must be in (0, 1]; got {damping!r}")
    grouped = [c.name for c in scenario.channels if c.served_by_groups]
    if grouped:
        raise ValueError(f"the network approximation does not model agent groups ([groups.NAME] answers "
                         f"{', '.join(grouped)}); simulate the scenario instead (contactflow run)")
    network = _Network(scenario)
    channels = scenario.channels
    closed = 1.0 - network.open_by_slot  # (C, S)
    served = network.open_by_slot.copy()
    durations = np.zeros_like(served)
    iterations, converged = 0, False
    chain = HourlyJourneyChain(scenario, served, closed, network.shift(durations), network.start)
    while iterations < max_iterations:
        iterations += 1
        rates = network.contact_rates(chain)
        abandon = network.abandonment(served)
        figures = [network.channel_figures(c, rates[i], abandon[i]) for i, c in enumerate(channels)]
        new, durations = _served_and_durations(network, figures, rates)
        change = float(np.max(np.abs(new - served)))
        served = (1.0 - damping) * served + damping * new
        chain = HourlyJourneyChain(scenario, served, closed, network.shift(durations), network.start)
        if change <= tolerance:
            converged = True
            break
    rates = network.contact_rates(chain)
    abandon = network.abandonment(served)
    figures = [network.channel_figures(c, rates[i], abandon[i]) for i, c in enumerate(channels)]
    return _assemble(scenario, network, chain, dict(zip(scenario.channel_names, figures)), rates,
                     iterations, converged)


def _served_and_durations(network: _Network, figures: list[_ChannelFigures],
                          rates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Served shares and mean contact durations by (channel, slot) from the channels' figures."""
    served = np.empty((len(figures), network.slots))
    durations = np.empty_like(served)
    for i, (c, f) in enumerate(zip(network.scenario.channels, figures)):
        is_open = network.open_by_slot[i]
        if network.slots == 1 or not f.hourly:
            abandon = np.full(network.slots, f.abandon_rate)
            wait = np.full(network.slots, f.mean_wait)
        else:
            abandon = np.nan_to_num(f.hourly["abandon_rate"])
            wait = np.nan_to_num(f.hourly["mean_wait_min"], posinf=0.0)
        served[i] = is_open * (1.0 - abandon)
        durations[i] = is_open * np.nan_to_num(wait, posinf=0.0) + served[i] * c.handle_time.mean
    return served, durations


def _assemble(scenario: Scenario, network: _Network, chain: HourlyJourneyChain,
              figures: Mapping[str, _ChannelFigures], rates: np.ndarray, iterations: int,
              converged: bool) -> NetworkApproximation:
    customers = network.customers
    per_customer = chain.expected_contacts
    by_slot = chain.contacts_by_slot
    _, durations = _served_and_durations(network, list(figures.values()), rates)
    window_hours = network.window.sum() / 60.0
    channel_rows, hourly_rows = [], []
    served, closed = {}, {}
    cost_total = 0.0
    journey_minutes = 0.0
    for i, c in enumerate(scenario.channels):
        f = figures[c.name]
        contacts = customers * per_customer[c.name]
        n_closed = customers * float(by_slot[i] @ chain.closed[i])
        n_served = customers * float(by_slot[i] @ chain.served[i])
        closed[c.name] = n_closed / contacts if contacts > 0 else float(1.0 - network.open_by_slot[i].mean())
        served[c.name] = n_served / contacts if contacts > 0 else float(chain.served[i].mean())
        n_abandoned = max(contacts - n_closed - n_served, 0.0)
        staffed = 0.0 if c.unlimited else float(_agents_by_hour(c) @ network.window)
        agent_hours = staffed / 60.0
        wasted = n_abandoned if c.is_async else 0.0
        cost = c.cost_per_agent_hour * agent_hours + c.cost_per_contact * (n_served + wasted)
        cost_total += cost
        offered = contacts - n_closed
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
            "mean_handle_min": c.handle_time.mean if n_served > 0 else math.nan,
            "occupancy": f.busy_minutes / staffed if staffed > 0 else math.nan,
            "mean_queue": f.mean_queue,
            "agent_hours": agent_hours,
            "wasted_contacts": wasted,
            "cost": cost,
        }
        assert tuple(metrics) == CHANNEL_METRICS
        channel_rows += [(c.name, m, float(v)) for m, v in metrics.items()]
        # time in this channel per contact, and the retry delays after it
        journey_minutes += float(by_slot[i] @ durations[i])
        if c.retry_delay is not None:
            journey_minutes += chain.onward_contacts[c.name] * c.retry_delay.mean
        days = window_hours / 24.0
        for h in range(HOURS):
            values = {
                "contacts": rates[i, h] * network.window[h] / days if days else math.nan,
                "closed": (rates[i, h] * network.window[h] / days * (1.0 - network.open[c.name][h])
                           if days else math.nan),
                "abandon_rate": f.hourly.get("abandon_rate", np.zeros(HOURS))[h],
                "mean_wait_min": f.hourly.get("mean_wait_min", np.zeros(HOURS))[h],
                "service_level": f.hourly.get("service_level", np.ones(HOURS))[h],
                "mean_queue": f.hourly.get("mean_queue", np.zeros(HOURS))[h],
                "agents": float(c.agents_in_hour(h)) if not c.unlimited else math.nan,
                "occupancy": f.hourly.get("occupancy", np.full(HOURS, math.nan))[h],
            }
            assert tuple(values) == HOURLY_METRICS
            hourly_rows += [(c.name, h, m, float(v)) for m, v in values.items()]

    chain_kpis = chain.kpis()
    focal_contacts = customers * per_customer[scenario.focal_channel]
    focal = scenario.channel_names.index(scenario.focal_channel)
    focal_closed = customers * float(by_slot[focal] @ chain.closed[focal])
    # first contacts are made when the journey starts
    first_calls_closed = (customers * scenario.arrivals.first_channel.get(scenario.focal_channel, 0.0)
                          * float(chain.start @ chain.closed[focal]))
    kpis = {
        "customers": customers,
        "contacts": customers * chain.contacts_per_customer,
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

    channels = pd.DataFrame(channel_rows, columns=["channel", "metric", "value"]).set_index(["channel", "metric"])
    hourly = pd.DataFrame(hourly_rows, columns=["channel", "hour", "metric", "value"]).set_index(
        ["channel", "hour", "metric"])
    return NetworkApproximation(
        scenario=scenario, kpis=frame(kpis, "kpi"), channels=channels,
        before_call=frame(chain.before_call(), "channel"), after_call=frame(chain.after_call(), "channel"),
        hourly=hourly, served_shares=dict(served), closed_shares=dict(closed),
        iterations=iterations, converged=converged,
        weaknesses=tuple(_weaknesses(scenario, figures, converged, iterations)), chain=chain,
        overloaded_hours={name: f.overloaded_hours for name, f in figures.items() if f.overloaded_hours},
    )


# --------------------------------------------------------------------------- where it is weak


def _weaknesses(scenario: Scenario, figures: Mapping[str, _ChannelFigures], converged: bool,
                iterations: int) -> list[str]:
    notes = []
    if not converged:
        notes.append(f"the fixed point did not settle in {iterations} iterations: the served shares "
                     "still move; treat every figure as rough")
    profile = scenario.arrivals.hourly_profile
    varying = profile is not None and len(set(profile)) > 1
    timed = varying
    for c in scenario.channels:
        if c.unlimited:
            if c.open_hours is not None:
                timed = True
            continue
        handle = c.handle_time
        if not isinstance(handle, Exponential):
            far = " — far from 1" if abs(handle.cv - 1.0) > CV_SLACK else ""
            if c.is_async or c.patience is None:
                how = ("Erlang C's wait is scaled by (1 + cv^2) / 2 (Allen-Cunneen), an approximation for "
                       "non-exponential handle times")
            else:
                how = ("Erlang A assumes exponential ones, so waits, abandonment and service level are "
                       "approximate")
            notes.append(f"{c.name}: handle times are {handle.name} (cv {handle.cv:.2g}{far}); {how}")
        if c.patience is not None and not isinstance(c.patience, Exponential):
            notes.append(f"{c.name}: patience is {c.patience.name} (cv {c.patience.cv:.2g}); only its mean "
                         f"({c.patience.mean:g} min) is used, as if it were exponential")
        redial = c.next_after_abandon.get(c.name, 0.0)
        if redial > 0 and c.patience is not None and not c.is_async:
            delay = f"after {c.retry_delay.mean:g} min on average" if c.retry_delay is not None else "at once"
            notes.append(f"{c.name}: {redial:.0%} of those who hang up call back {delay}; callbacks that find "
                         "the queue as they left it are counted as if those callers had kept waiting, the "
                         "others as fresh arrivals (within about 6 % of the exact retrial queue for exponential "
                         "times)")
        if c.is_async:
            notes.append(f"{c.name}: asynchronous — the reply time is a fluid backlog plus Erlang C's wait, and "
                         "a customer gives up when the (exponential) patience ends before wait + handle time")
        if (c.is_async or c.patience is None) and _fluid_span(scenario) != (scenario.run.warmup_minutes,
                                                                            scenario.run.end_minutes):
            start, end = _fluid_span(scenario)
            notes.append(f"{c.name}: the run is long, so its backlog is modelled over {start / 1440:g} days of "
                         f"warm-up and {(end - start) / 1440:g} days of window, as if later days repeated them")
        elif c.patience is None:
            notes.append(f"{c.name}: customers never hang up — the queue is Erlang C plus a fluid backlog "
                         "wherever it is overloaded")
        if c.has_shift_plan or varying:
            timed = True
            kind = "a shift plan" if c.has_shift_plan else "an arrival profile"
            how = ("each hour is treated as a steady-state Erlang A queue (a queue built up in one hour "
                   "is not carried into the next)" if not (c.is_async or c.patience is None)
                   else "the backlog is carried from hour to hour by a fluid model, and the random part "
                   "of the wait is Erlang C's within each hour")
            notes.append(f"{c.name}: {kind} — {how}")
        if c.open_hours is not None:
            timed = True
        overloaded = figures[c.name].overloaded_hours
        if overloaded:
            notes.append(f"{_overload_sentence(c.name, overloaded)}; figures there are the least reliable")
    if timed:
        notes.append("the hour of the day matters here: contacts are placed in hours by the arrival profile, "
                     "each contact's mean duration and the retry delay, and a contact's outcome depends only "
                     "on its channel and hour (not on the minute within the hour, nor on the journey's other "
                     "contacts)")
        if scenario.run.warmup_hours < 2:
            notes.append(f"the run starts empty with a {scenario.run.warmup_hours:g} h warm-up, while the "
                         "approximation's journeys and retries come from days like this one: the first hours "
                         "of the window are busier here than in the simulation")
    return notes
