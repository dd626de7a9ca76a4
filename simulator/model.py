"""The SimPy model: customers arrive, try channels, queue, are served or give up.

One :class:`Replication` simulates a scenario once. Each customer is a SimPy
process (:meth:`Replication.journey`) that reads like the story: pick a first
channel; reach it (closed, self-service, a queue for an agent, or a message to
an email backlog); be answered or not; go on to the next channel or stop.
Statistics are not computed here: the model writes a
:class:`~simulator.journeys.JourneyLog` and per-channel time integrals, and
:mod:`simulator.metrics` turns them into KPIs.

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 0.05})
>>> out = Replication(sc, seed=1, replication=0).run()
>>> len(out.log) > 0
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import Callable, Mapping

import numpy as np
import simpy

from .agents import Distributor, Meter
from .journeys import (
    ABANDONED, CALLBACK_DECLINED, CALLED_BACK, CLOSED, NEXT_GIVE_UP, NEXT_RESOLVED, NO_CALLBACK, RESOLVED,
    UNRESOLVED, JourneyLog,
)
from .scenario import GIVE_UP, Channel, Scenario
from .streams import Sampler, Streams

__all__ = ["Replication", "ReplicationOutput", "GroupStats", "JourneysCannotEnd", "DRAIN_LIMIT_MINUTES"]

#: How long after the window new (uncounted) customers keep arriving while
#: counted journeys finish: a day, far longer than a journey lasts in a stable centre.
DRAIN_LIMIT_MINUTES = 1440.0

#: Day-to-day variation below this coefficient of variation is none: each day's factor is 1.
MIN_DAY_TO_DAY_CV = 1e-6


class JourneysCannotEnd(ValueError):
    """A replication whose journeys can never end: contacts wait for agents that will never take them."""


class _LiveChannel:
    """What the model needs of a channel in one replication: its samplers."""

    def __init__(self, index: int, spec: Channel, names: tuple[str, ...], streams: Streams):
        self.index = index
        self.spec = spec
        self.is_async = spec.is_async
        self.open_hours = spec.open_hours
        self.staffed = not spec.unlimited
        self.callback = spec.callback
        self.slowed = spec.concurrency_slowdown is not None
        name = spec.name
        self.handle_time = streams.sampler(f"{name}.handle_time", spec.handle_time.sample)
        self.patience = (streams.sampler(f"{name}.patience", spec.patience.sample)
                         if spec.patience is not None else None)
        self.retry_delay = (streams.sampler(f"{name}.retry_delay", spec.retry_delay.sample)
                            if spec.retry_delay is not None else None)
        p = spec.resolve
        self.resolves = streams.sampler(f"{name}.resolve", lambda rng, n: rng.random(n) < p)
        self.route = _router(streams, f"{name}.next", spec.next, names)
        self.route_after_abandon = (
            self.route if spec.next_after_abandon == spec.next
            else _router(streams, f"{name}.next_after_abandon", spec.next_after_abandon, names)
        )
        if spec.callback is not None:
            accept = spec.callback.accept
            self.accepts_callback = streams.sampler(f"{name}.callback", lambda rng, n: rng.random(n) < accept)


def _router(streams: Streams, name: str, row: Mapping[str, float], names: tuple[str, ...]) -> Sampler:
    """A sampler of next-channel codes (channel index, or -1 to give up)."""
    return _categorical(streams, name, row, lambda k: names.index(k) if k != GIVE_UP else NEXT_GIVE_UP)


def _categorical(streams: Streams, name: str, row: Mapping[str, float], code: Callable[[str], int]) -> Sampler:
    """A sampler of ``code(key)`` with the probabilities of ``row``.

    Keys are taken in sorted order, so the draws do not depend on the order in
    which a scenario file lists them: a point of a sweep is the same scenario
    (and gives the same numbers) however its tables are written.
    """
    keys = sorted(row)
    cum = np.cumsum([row[k] for k in keys])
    cum /= cum[-1]
    codes = np.asarray([code(k) for k in keys], dtype=np.int64)
    last = len(codes) - 1
    return streams.sampler(
        name, lambda rng, n: codes[np.minimum(np.searchsorted(cum, rng.random(n), side="right"), last)]
    )


class _Message:
    """An async contact: the customer's wait for a reply, and the log row once written."""

    __slots__ = ("reply", "counted", "row", "late_handle")

    def __init__(self, reply: simpy.Event, counted: bool):
        self.reply = reply
        self.counted = counted
        self.row: int | None = None  # None: not logged yet; -1: not in the log
        self.late_handle: float | None = None  # handle time of an answer after the customer left


@dataclass
class GroupStats:
    """Time integrals of one agent group in the measured window, by hour of the period
    (agent-minutes): busy agents, slots in use, agents present, scheduled but
    not available (shrinkage), and busy agents per skill (by channel index)."""

    busy: np.ndarray
    load: np.ndarray
    present: np.ndarray
    shrink: np.ndarray
    skills: dict[int, np.ndarray]


@dataclass
class ReplicationOutput:
    """What one replication produced: the journey log and time integrals.

    ``log`` holds every counted contact, or, when the replication handed ended
    journeys to ``on_completed`` as it went, only those it had not handed over.
    ``wasted`` counts, per channel, async answers that came after the customer
    left, and ``wasted_handle`` sums their handle times (minutes). Time
    integrals cover the measured window, by hour of the scenario's period:
    ``duration`` (minutes of the window in each hour), ``queue_area`` (waiting
    contacts x minutes, one row per channel) and ``groups`` (by group name).
    """

    log: JourneyLog
    window: tuple[float, float]
    end_time: float
    wasted: np.ndarray
    duration: np.ndarray
    queue_area: np.ndarray
    groups: dict[str, GroupStats]
    wasted_handle: np.ndarray


class Replication:
    """One simulation of a scenario with its own random streams.

    Parameters
    ----------
    scenario
        The validated scenario.
    seed, replication
        Together they fix every random stream (see :class:`~simulator.streams.Streams`).
    on_completed
        If given, called from time to time with the log columns of journeys
        that have ended (see :meth:`~simulator.journeys.JourneyLog.take_completed`),
        which then leave the log: memory stays flat however long the run.
    flush_rows
        How many logged contacts trigger a hand-over to ``on_completed``.
    """

    def __init__(self, scenario: Scenario, seed: int, replication: int,
                 on_completed: Callable[[dict[str, np.ndarray]], None] | None = None,
                 flush_rows: int = 200_000):
        self.scenario = scenario
        self.env = env = simpy.Environment()
        streams = Streams(seed, replication)
        names = scenario.channel_names
        self.channels = [_LiveChannel(i, c, names, streams) for i, c in enumerate(scenario.channels)]
        self.first_channel = _categorical(streams, "arrivals.first_channel",
                                          scenario.arrivals.first_channel, names.index)
        self.unit_exponential = streams.sampler("arrivals.time", lambda rng, n: rng.exponential(1.0, n))
        self.rates = scenario.arrivals.rates_per_minute()
        cv = scenario.arrivals.day_to_day_cv
        # each day's rates times a gamma factor with mean 1 and this cv (a doubly stochastic process);
        # below MIN_DAY_TO_DAY_CV the factor is 1 (and 1 / cv**2 would overflow)
        self.day_factor = (streams.sampler("arrivals.day_factor",
                                           lambda rng, n: rng.gamma(1.0 / cv ** 2, cv ** 2, n), block=64)
                           if cv >= MIN_DAY_TO_DAY_CV else None)
        self.max_contacts = scenario.max_contacts
        self.warmup = scenario.run.warmup_minutes
        self.end = scenario.run.end_minutes
        self.period = scenario.period_hours
        self.meter = Meter(self.period)
        self.duration = np.zeros(self.period)
        self.acd = Distributor(env, scenario, self.meter)
        self.log = JourneyLog(len(self.channels), scenario.max_contacts)
        self.on_completed = on_completed
        self.flush_rows = flush_rows
        self.wasted = np.zeros(len(self.channels), dtype=np.int64)
        self.wasted_handle = np.zeros(len(self.channels))
        self.customers = 0
        self.open_work = 1  # the window itself, then every counted journey and unanswered counted message
        self.done = env.event()

    # -- processes ---------------------------------------------------------

    def run(self) -> ReplicationOutput:
        """Simulate until the window has ended, every counted journey has ended and each
        of their messages is answered; new (uncounted) customers keep arriving until then."""
        env = self.env
        env.process(self.arrivals())
        env.process(self.window())
        env.process(self.clock())
        env.run(until=self.done)
        acd = self.acd
        n = len(self.channels)
        queue_area = np.zeros((n, self.period))
        for i, line in enumerate(acd.lines):
            if line is not None:
                queue_area[i] = line.area
        groups = {g.name: GroupStats(np.asarray(g.busy_area), np.asarray(g.load_area),
                                     np.asarray(g.present_area), np.asarray(g.shrink_area),
                                     {i: np.asarray(a) for i, a in g.skill_area.items()})
                  for g in acd.groups}
        return ReplicationOutput(self.log, (self.warmup, self.end), env.now, self.wasted,
                                 self.duration, queue_area, groups, self.wasted_handle)

    def arrivals(self):
        """New customers: a Poisson process, non-homogeneous by hour of the period.

        Customers who arrive in the window ``[warmup, end)`` are counted.
        Those before it (the warm-up) and after it (the drain) are simulated
        but not logged: the ones after it keep the load on the channels, so
        that a counted customer's contact made after the window meets the
        same system as one made inside it, not one emptying out. The drain's
        arrivals stop :data:`DRAIN_LIMIT_MINUTES` after the window (only a
        journey still going by then, e.g. stuck behind an ever-growing queue
        or a retry delay of weeks, meets an emptying system).
        """
        env = self.env
        warmup, end = self.warmup, self.end
        for t in self.arrival_times():
            if t >= end + DRAIN_LIMIT_MINUTES:
                break
            yield env.timeout(t - env.now)
            if warmup <= t < end:
                customer = self.customers
                self.customers += 1
                self.open_work += 1
            else:
                customer = -1  # simulated for the warm-up or the drain, not logged
            env.process(self.journey(customer, self.first_channel()))

    def window(self):
        """The measured window is observed to its end, even if quiet."""
        yield self.env.timeout(self.end)
        self._finish_work()

    def arrival_times(self):
        """Arrival instants by inverting the piecewise-constant cumulative rate."""
        rates = self.rates
        period = len(rates)
        draw = self.unit_exponential
        day_factor = self.day_factor
        t = 0.0
        if len(set(rates)) == 1 and day_factor is None:  # homogeneous: no hour boundaries to cross
            rate = rates[0]
            while True:
                t += draw() / rate
                yield t
        factor, day = 1.0, -1
        while True:
            need = draw()
            while True:
                hour = int(t // 60.0)
                if day_factor is not None and hour // 24 != day:
                    day = hour // 24
                    factor = day_factor()
                rate = rates[hour % period] * factor
                boundary = (hour + 1) * 60.0
                room = rate * (boundary - t)
                if need < room:
                    t += need / rate
                    break
                need -= room
                t = boundary
            yield t

    def journey(self, customer: int, channel: int):
        """One customer's journey through the channels until resolved or given up."""
        env = self.env
        channels = self.channels
        acd = self.acd
        log = self.log
        seq = 0
        while True:
            ch = channels[channel]
            start = env.now
            wait = handle = 0.0
            message = None
            callback = NO_CALLBACK
            if ch.open_hours is not None and not ch.spec.is_open(start % 1440.0):
                outcome = CLOSED
            elif not ch.staffed:  # self-service: no queue, no agents
                handle = ch.handle_time()
                yield env.timeout(handle)
                outcome = RESOLVED if ch.resolves() else UNRESOLVED
            elif ch.is_async:
                message = _Message(env.event(), counted=customer >= 0)
                if message.counted:
                    self.open_work += 1
                env.process(self.answer(ch, message))
                if ch.patience is not None:
                    patience = ch.patience()
                    env.timeout(patience).callbacks.append(partial(_stop_waiting, message.reply, patience))
                outcome, wait, handle = yield message.reply
            else:
                agent = acd.arrive(channel)
                if agent is None:
                    offer = ch.callback
                    # offered only when the wait looks long and the line is still open when the promise runs out
                    if (offer is not None and acd.expected_wait(channel) > offer.offer_when_wait_above
                            and ch.spec.is_open((start + offer.within_minutes) % 1440.0)):
                        callback = CALLBACK_DECLINED
                        if ch.accepts_callback():
                            callback = CALLED_BACK
                    if callback == CALLED_BACK:
                        agent = yield acd.request_callback(channel)
                    else:
                        ticket = acd.join(channel)
                        if ch.patience is not None:
                            env.timeout(ch.patience()).callbacks.append(partial(acd.renege, channel, ticket))
                        agent = yield ticket
                    wait = env.now - start
                if agent is not None:
                    handle = ch.handle_time()
                    began = env.now
                    yield acd.serve(agent, channel, handle)
                    if ch.slowed:  # the contact took longer while the agent juggled others
                        handle = env.now - began
                    acd.finish(agent)
                    outcome = RESOLVED if ch.resolves() else UNRESOLVED
                else:
                    outcome = ABANDONED

            seq += 1
            if outcome == RESOLVED:
                nxt = NEXT_RESOLVED
            elif seq >= self.max_contacts:
                nxt = NEXT_GIVE_UP
            elif outcome == ABANDONED:
                nxt = ch.route_after_abandon()
            else:
                nxt = ch.route()
            if customer >= 0:
                late = message is not None and message.late_handle is not None
                # a message answered after the customer left carries the answer's handle time
                row = log.append(customer, seq - 1, channel, start, wait,
                                 message.late_handle if late else handle, outcome, nxt, callback)
                if message is not None and outcome == ABANDONED:
                    if self.on_completed is not None:
                        row = -1  # rows move when ended journeys are handed over
                    if not late:
                        message.row = row
                    elif row >= 0:
                        log.mark_wasted(row)
            elif message is not None:
                message.row = -1
            if nxt < 0:
                break
            if ch.retry_delay is not None:
                yield env.timeout(ch.retry_delay())
            channel = nxt
        if self.on_completed is not None and len(log) >= self.flush_rows:
            self.on_completed(log.take_completed())
        if customer >= 0:
            self._finish_work()

    def answer(self, ch: _LiveChannel, message: _Message):
        """An agent answers an async message in backlog order, even if the customer left."""
        env = self.env
        acd = self.acd
        start = env.now
        agent = acd.arrive(ch.index)
        if agent is None:
            agent = yield acd.join(ch.index)
        wait = env.now - start
        handle = ch.handle_time()
        yield acd.serve(agent, ch.index, handle)
        if ch.slowed:
            handle = env.now - start - wait
        acd.finish(agent)
        if message.reply.triggered:  # the customer stopped waiting: wasted work
            if message.row is None:
                message.late_handle = handle
            elif message.row >= 0:
                self.log.mark_wasted(message.row, handle)
            if message.counted:
                self.wasted[ch.index] += 1
                self.wasted_handle[ch.index] += handle
        else:
            message.reply.succeed((RESOLVED if ch.resolves() else UNRESOLVED, wait, handle))
        if message.counted:
            self._finish_work()

    def clock(self):
        """Hourly staffing changes, and where time integrals accumulate: the hour
        of the period, inside the measured window only."""
        env = self.env
        acd, meter, duration = self.acd, self.meter, self.duration
        marks = sorted({self.warmup, self.end})
        last = 0.0
        hour = idle_hours = 0

        def tick(now: float) -> None:
            nonlocal last
            acd.advance()
            if meter.recording:
                duration[meter.slot] += now - last
            last = now

        meter.recording = self.warmup == 0.0
        while True:
            next_hour = (hour + 1) * 60.0
            while marks and marks[0] < next_hour:
                mark = marks.pop(0)
                if mark > env.now:
                    yield env.timeout(mark - env.now)
                tick(env.now)
                meter.recording = self.warmup <= env.now < self.end
            if env.now > self.end + DRAIN_LIMIT_MINUTES and env.peek() == math.inf:  # nothing else is scheduled
                idle_hours += 1
                if idle_hours > self.period:
                    raise JourneysCannotEnd(
                        f"{self.scenario.name}: {self.open_work} counted journeys can never end: after the "
                        f"window and its drain, nothing but the staffing clock happened for {self.period} hours "
                        "(contacts no agent will ever take, e.g. a channel open only while a group's reserve "
                        "is as large as its staff, and no patience)")
            else:
                idle_hours = 0
            yield env.timeout(next_hour - env.now)
            tick(env.now)
            hour += 1
            meter.slot = hour % self.period
            acd.set_hour(hour)

    # -- bookkeeping -------------------------------------------------------

    def _finish_work(self) -> None:
        self.open_work -= 1
        if self.open_work == 0:
            self.done.succeed()


def _stop_waiting(reply: simpy.Event, patience: float, _event) -> None:
    """The customer's patience for an async reply ran out."""
    if not reply.triggered:
        reply.succeed((ABANDONED, patience, 0.0))
