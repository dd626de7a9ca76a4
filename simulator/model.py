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

from collections import deque
from dataclasses import dataclass
from functools import partial
from typing import Callable, Mapping

import numpy as np
import simpy

from .journeys import (
    ABANDONED, CLOSED, NEXT_GIVE_UP, NEXT_RESOLVED, RESOLVED, UNRESOLVED, JourneyLog,
)
from .scenario import GIVE_UP, Channel, Scenario
from .streams import Sampler, Streams

__all__ = ["AgentPool", "Replication", "ReplicationOutput", "ChannelStats", "DRAIN_LIMIT_MINUTES"]

#: How long after the window new (uncounted) customers keep arriving while
#: counted journeys finish: a day, far longer than a journey lasts in a stable centre.
DRAIN_LIMIT_MINUTES = 1440.0


class AgentPool:
    """The agents of one staffed channel: a first-come-first-served queue.

    The number of agents on duty may change by the hour (a shift plan); an
    agent whose shift ends finishes the contact in hand. The pool keeps the
    time integrals of busy agents, agents on duty and queue length.
    """

    __slots__ = ("env", "capacity", "busy", "waiting", "_queue", "_last",
                 "busy_area", "staffed_area", "queue_area")

    def __init__(self, env: simpy.Environment, capacity: int):
        self.env = env
        self.capacity = capacity
        self.busy = 0
        self.waiting = 0  # customers still in the queue (reneged tickets are skipped lazily)
        self._queue: deque = deque()
        self._last = 0.0
        self.busy_area = 0.0
        self.staffed_area = 0.0
        self.queue_area = 0.0

    def _advance(self) -> None:
        now = self.env.now
        dt = now - self._last
        if dt:
            busy = self.busy
            self.busy_area += busy * dt
            # agents finishing a contact after their shift ended still count as staffed
            self.staffed_area += (busy if busy > self.capacity else self.capacity) * dt
            self.queue_area += self.waiting * dt
            self._last = now

    def try_seize(self) -> bool:
        """Take a free agent at once if there is one and nobody is waiting."""
        if self.busy < self.capacity and not self.waiting:
            self._advance()
            self.busy += 1
            return True
        return False

    def join(self) -> simpy.Event:
        """Join the queue; the ticket fires with True when an agent takes over."""
        self._advance()
        ticket = self.env.event()
        self._queue.append(ticket)
        self.waiting += 1
        return ticket

    def renege(self, ticket: simpy.Event, _event=None) -> None:
        """Leave the queue (the ticket fires with False) unless already served."""
        if not ticket.triggered:
            self._advance()
            self.waiting -= 1
            ticket.succeed(False)

    def release(self) -> None:
        """An agent finishes a contact and takes the next customer, if on duty."""
        self._advance()
        if self.busy <= self.capacity and self._hand_over():
            return
        self.busy -= 1

    def set_capacity(self, capacity: int) -> None:
        """Change the number of agents on duty; new agents take waiting customers."""
        self._advance()
        self.capacity = capacity
        while self.busy < capacity and self._hand_over(extra_agent=True):
            pass

    def _hand_over(self, extra_agent: bool = False) -> bool:
        queue = self._queue
        while queue:
            ticket = queue.popleft()
            if not ticket.triggered:
                self.waiting -= 1
                if extra_agent:
                    self.busy += 1
                ticket.succeed(True)
                return True
        return False

    def snapshot(self) -> tuple[float, float, float, float]:
        """(time, busy agent-minutes, staffed agent-minutes, queue customer-minutes) so far."""
        self._advance()
        return (self.env.now, self.busy_area, self.staffed_area, self.queue_area)


class _LiveChannel:
    """What the model needs of a channel in one replication: samplers and its pool."""

    def __init__(self, env: simpy.Environment, index: int, spec: Channel,
                 names: tuple[str, ...], streams: Streams):
        self.index = index
        self.spec = spec
        self.is_async = spec.is_async
        self.open_hours = spec.open_hours
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
        self.pool = None if spec.unlimited else AgentPool(env, spec.agents_in_hour(0))


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

    __slots__ = ("reply", "counted", "row", "answered_late")

    def __init__(self, reply: simpy.Event, counted: bool):
        self.reply = reply
        self.counted = counted
        self.row: int | None = None  # None: not logged yet; -1: not in the log
        self.answered_late = False


@dataclass
class ChannelStats:
    """Time integrals of one staffed channel, sampled at every hour and at the window's ends."""

    times: np.ndarray
    busy_area: np.ndarray
    staffed_area: np.ndarray
    queue_area: np.ndarray

    def between(self, start: float, end: float) -> tuple[float, float, float]:
        """Busy agent-minutes, staffed agent-minutes and queue customer-minutes in [start, end]."""
        i, j = np.searchsorted(self.times, [start, end])
        return (self.busy_area[j] - self.busy_area[i], self.staffed_area[j] - self.staffed_area[i],
                self.queue_area[j] - self.queue_area[i])


@dataclass
class ReplicationOutput:
    """What one replication produced: the journey log and channel time integrals.

    ``log`` holds every counted contact, or, when the replication handed ended
    journeys to ``on_completed`` as it went, only those it had not handed over.
    ``wasted`` counts, per channel, async answers that came after the customer left.
    """

    log: JourneyLog
    channel_stats: dict[int, ChannelStats]
    window: tuple[float, float]
    end_time: float
    wasted: np.ndarray


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
        self.channels = [_LiveChannel(env, i, c, names, streams) for i, c in enumerate(scenario.channels)]
        self.first_channel = _categorical(streams, "arrivals.first_channel",
                                          scenario.arrivals.first_channel, names.index)
        self.unit_exponential = streams.sampler("arrivals.time", lambda rng, n: rng.exponential(1.0, n))
        self.rates = scenario.arrivals.rates_per_minute()
        self.max_contacts = scenario.max_contacts
        self.warmup = scenario.run.warmup_minutes
        self.end = scenario.run.end_minutes
        self.log = JourneyLog()
        self.on_completed = on_completed
        self.flush_rows = flush_rows
        self.wasted = np.zeros(len(self.channels), dtype=np.int64)
        self.customers = 0
        self.open_work = 1  # the window itself, then every counted journey and unanswered counted message
        self.done = env.event()
        self._snapshots: dict[int, list] = {c.index: [] for c in self.channels if c.pool}

    # -- processes ---------------------------------------------------------

    def run(self) -> ReplicationOutput:
        """Simulate until the window has ended, every counted journey has ended and each
        of their messages is answered; new (uncounted) customers keep arriving until then."""
        env = self.env
        self._take_snapshots()
        env.process(self.arrivals())
        env.process(self.window())
        env.process(self.clock())
        env.run(until=self.done)
        self._take_snapshots()
        stats = {i: ChannelStats(*map(np.asarray, zip(*rows))) for i, rows in self._snapshots.items()}
        return ReplicationOutput(self.log, stats, (self.warmup, self.end), env.now, self.wasted)

    def arrivals(self):
        """New customers: a Poisson process, non-homogeneous by hour of the day.

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
        draw = self.unit_exponential
        t = 0.0
        if len(set(rates)) == 1:  # homogeneous: no hour boundaries to cross
            rate = rates[0]
            while True:
                t += draw() / rate
                yield t
        while True:
            need = draw()
            while True:
                hour = int(t // 60.0)
                rate = rates[hour % 24]
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
        log = self.log
        seq = 0
        while True:
            ch = channels[channel]
            start = env.now
            wait = handle = 0.0
            message = None
            if ch.open_hours is not None and not ch.spec.is_open(start % 1440.0):
                outcome = CLOSED
            elif ch.pool is None:  # self-service: no queue, no agents
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
                pool = ch.pool
                served = True
                if not pool.try_seize():
                    ticket = pool.join()
                    if ch.patience is not None:
                        env.timeout(ch.patience()).callbacks.append(partial(pool.renege, ticket))
                    served = yield ticket
                    wait = env.now - start
                if served:
                    handle = ch.handle_time()
                    yield env.timeout(handle)
                    pool.release()
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
                row = log.append(customer, seq - 1, channel, start, wait, handle, outcome, nxt)
                if message is not None and outcome == ABANDONED:
                    if self.on_completed is not None:
                        row = -1  # rows move when ended journeys are handed over
                    if not message.answered_late:
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
        pool = ch.pool
        start = env.now
        if not pool.try_seize():
            yield pool.join()
        wait = env.now - start
        handle = ch.handle_time()
        yield env.timeout(handle)
        pool.release()
        if message.reply.triggered:  # the customer stopped waiting: wasted work
            if message.row is None:
                message.answered_late = True
            elif message.row >= 0:
                self.log.mark_wasted(message.row)
            if message.counted:
                self.wasted[ch.index] += 1
        else:
            message.reply.succeed((RESOLVED if ch.resolves() else UNRESOLVED, wait, handle))
        if message.counted:
            self._finish_work()

    def clock(self):
        """Hourly staffing changes and time-integral snapshots (each hour, window start and end)."""
        env = self.env
        planned = [c for c in self.channels if c.pool is not None and c.spec.has_shift_plan]
        marks = sorted({self.warmup, self.end})
        hour = 0
        while True:
            next_hour = (hour + 1) * 60.0
            while marks and marks[0] < next_hour:
                mark = marks.pop(0)
                if mark > env.now:
                    yield env.timeout(mark - env.now)
                self._take_snapshots()
            yield env.timeout(next_hour - env.now)
            hour += 1
            for c in planned:
                c.pool.set_capacity(c.spec.agents_in_hour(hour))
            self._take_snapshots()

    # -- bookkeeping -------------------------------------------------------

    def _take_snapshots(self) -> None:
        for c in self.channels:
            if c.pool is not None:
                rows = self._snapshots[c.index]
                snap = c.pool.snapshot()
                if not rows or rows[-1][0] < snap[0]:
                    rows.append(snap)

    def _finish_work(self) -> None:
        self.open_work -= 1
        if self.open_work == 0:
            self.done.succeed()


def _stop_waiting(reply: simpy.Event, patience: float, _event) -> None:
    """The customer's patience for an async reply ran out."""
    if not reply.triggered:
        reply.succeed((ABANDONED, patience, 0.0))
