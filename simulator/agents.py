"""Agents and waiting lines: which contact a free agent takes next.

This is the model's automatic contact distributor. Every staffed channel has
one :class:`WaitingLine` (first come, first served) and, when it offers call
backs, a second line of call-back requests. Agents belong to groups
(:class:`~simulator.scenario.Group`; a channel with its own ``agents`` is a
group of its own) and a group answers the channels of its ``skills``.

The rules, in the order they are applied:

* **An arriving contact** whose channel has nobody waiting goes to an agent
  available for it: first a group that lists the channel at the best
  (lowest) priority number; within those, an idle agent before one who
  already holds contacts of the channel (concurrency), the one holding the
  fewest, then the agent idle for longest. Otherwise it waits in its
  channel's line.
* **An agent who becomes free** takes, non-preemptively, the waiting contact
  of its highest-priority skill; across channels of equal priority, the one
  that has waited longest. A call-back request ranks just below the live
  contacts of its channel, and ahead of everything once it is due (see
  :attr:`~simulator.scenario.Callback.promote_after`).
* **Reserve** (blending threshold): a group takes a contact of a channel with
  ``reserve = r`` only if at least ``r`` of its agents stay idle afterwards.
* **Ties** (groups with equally good offers, lines whose heads joined at
  the same moment, groups whose staff changes at the same hour) go by name,
  so the numbers do not depend on the order of a scenario's tables.
* **Concurrency**: an agent holds contacts of one channel at a time, up to
  that channel's ``concurrency``; with ``concurrency_slowdown`` every contact
  in hand progresses at ``1 / factor(n)`` while the agent holds ``n``.
* **Shifts**: when fewer agents are due on duty, idle agents leave at once
  (the most recently idle first) and busy ones when they finish all they hold,
  taking no new work meanwhile.

Each line and group keeps time integrals (queue length, busy agents, agents
present, ...) by hour of the scenario's period, inside the measured window
only (see :class:`Meter`): memory does not grow with simulated time.

Examples
--------
>>> import simpy
>>> import simulator as sim
>>> sc = sim.load_scenario("bank_app_first")
>>> env = simpy.Environment()
>>> acd = Distributor(env, sc, Meter(24))
>>> phone = sc.channel_names.index("phone")
>>> agent = acd.arrive(phone)          # an idle agent takes the call at once
>>> agent.group.name, acd.groups[agent.group.index].busy
('phone', 1)
"""

from __future__ import annotations

import math
from collections import deque
from functools import partial

import simpy

from .scenario import Group, Scenario

__all__ = ["Meter", "WaitingLine", "Agent", "AgentGroup", "Distributor"]


class Meter:
    """Where time integrals accumulate: the hour of the period, or nowhere
    (``recording`` False) outside the measured window."""

    __slots__ = ("period", "slot", "recording")

    def __init__(self, period: int):
        self.period = period
        self.slot = 0
        self.recording = False


class WaitingLine:
    """Contacts of one channel waiting for an agent, first come first served.

    Tickets are ``(time joined, event)``; the event fires with the
    :class:`Agent` who takes the contact, or with ``None`` when the customer
    gives up waiting. Abandoned tickets stay in the deque until they reach the
    head; :attr:`waiting` counts the live ones.
    """

    __slots__ = ("env", "channel", "tickets", "waiting", "meter", "area", "_last", "promote_after")

    def __init__(self, env: simpy.Environment, channel: int, meter: Meter, promote_after: float = math.inf):
        self.env = env
        self.channel = channel
        self.tickets: deque = deque()
        self.waiting = 0
        self.meter = meter
        self.area = [0.0] * meter.period  # waiting contacts x minutes, by hour of the period
        self._last = 0.0
        self.promote_after = promote_after  # call-back lines: when a request goes ahead of live contacts

    def advance(self) -> None:
        """Add the time since the last change to the integral."""
        now = self.env.now
        dt = now - self._last
        if dt:
            if self.meter.recording:
                self.area[self.meter.slot] += self.waiting * dt
            self._last = now

    def join(self) -> simpy.Event:
        """Queue a contact; returns its ticket."""
        self.advance()
        ticket = self.env.event()
        self.tickets.append((self.env.now, ticket))
        self.waiting += 1
        return ticket

    def renege(self, ticket: simpy.Event, _event=None) -> None:
        """The customer stops waiting (the ticket fires with None), unless already taken."""
        if not ticket.triggered:
            self.advance()
            self.waiting -= 1
            ticket.succeed(None)

    def head_time(self) -> float:
        """When the first live ticket joined (infinity when nobody waits)."""
        tickets = self.tickets
        while tickets:
            joined, ticket = tickets[0]
            if not ticket.triggered:
                return joined
            tickets.popleft()
        return math.inf

    def pop(self) -> simpy.Event:
        """Take the first live ticket (call :meth:`head_time` first)."""
        self.advance()
        self.waiting -= 1
        return self.tickets.popleft()[1]


class Agent:
    """One agent: the channel of the contacts in hand and, with a slowdown,
    the work left on each."""

    __slots__ = ("group", "channel", "held", "idle_since", "bucket", "jobs", "factor", "updated", "version")

    def __init__(self, group: "AgentGroup"):
        self.group = group
        self.channel = -1
        self.held = 0
        self.idle_since = 0.0
        self.bucket: dict | None = None  # the group's dict of agents holding as many contacts
        self.jobs: list[list] = []  # [work left at factor 1, completion event] (slowdown only)
        self.factor = 1.0
        self.updated = 0.0
        self.version = 0

    # -- contacts that slow each other down (concurrency_slowdown)

    def _progress(self, now: float) -> None:
        if self.jobs:
            done = (now - self.updated) / self.factor
            for job in self.jobs:
                job[0] -= done
        self.updated = now

    def _schedule(self, env: simpy.Environment, slowdown: tuple[float, ...]) -> None:
        self.version += 1
        if not self.jobs:
            return
        self.factor = slowdown[len(self.jobs) - 1]
        work = min(job[0] for job in self.jobs)
        env.timeout(max(work, 0.0) * self.factor).callbacks.append(
            partial(self._complete, env, slowdown, self.version))

    def _complete(self, env, slowdown, version, _event) -> None:
        if version != self.version:  # rescheduled since
            return
        self._progress(env.now)
        least = min(job[0] for job in self.jobs)
        finished = [job for job in self.jobs if job[0] <= least + 1e-9]
        self.jobs = [job for job in self.jobs if job[0] > least + 1e-9]
        for job in finished:
            job[1].succeed()
        self._schedule(env, slowdown)

    def work(self, env: simpy.Environment, handle: float, slowdown: tuple[float, ...]) -> simpy.Event:
        """Start ``handle`` minutes of work that slows down with the contacts in hand."""
        self._progress(env.now)
        done = env.event()
        self.jobs.append([handle, done])
        self._schedule(env, slowdown)
        return done


class AgentGroup:
    """The agents of one :class:`~simulator.scenario.Group` in one replication.

    ``capacity`` is the number due on duty this hour; agents finishing work
    after their shift ended are still ``present``. Time integrals, by hour of
    the period: ``busy_area`` (agents holding a contact), ``load_area`` (slots
    in use: each busy agent counts its contacts over the channel's
    concurrency), ``present_area``, ``shrink_area`` (scheduled but not
    available) and ``skill_area`` (agents busy on each skill).
    """

    def __init__(self, env: simpy.Environment, spec: Group, index: int, scenario: Scenario,
                 lines: list[WaitingLine | None], callback_lines: list[WaitingLine | None], meter: Meter):
        self.env = env
        self.spec = spec
        self.name = spec.name
        self.index = index
        self.meter = meter
        names = scenario.channel_names
        # channels in name order, so that ties go the same way however the scenario lists them
        self.skills = [names.index(c) for c in sorted(spec.skills)]
        self.concurrency = {i: scenario.channels[i].concurrency for i in self.skills}
        self.reserve = {names.index(c): r for c, r in spec.reserve.items() if r}
        # skill levels by priority: (live lines, call-back lines)
        levels: dict[int, tuple[list, list]] = {}
        for channel, priority in sorted(spec.skills.items()):
            i = names.index(channel)
            live, callbacks = levels.setdefault(priority, ([], []))
            live.append(lines[i])
            if callback_lines[i] is not None:
                callbacks.append(callback_lines[i])
        self.levels = [levels[p] for p in sorted(levels)]
        self.callback_lines = [line for _, cbs in self.levels for line in cbs]
        self.lines = lines
        # agents holding 1..k-1 contacts of a concurrent skill, by count
        self.buckets = {i: [{} for _ in range(k)] for i, k in self.concurrency.items() if k > 1}
        self.idle: deque[Agent] = deque()
        self.spare: list[Agent] = []
        self.busy = 0
        self.load = 0.0
        self.capacity = 0
        self.scheduled = 0
        self.busy_on = dict.fromkeys(self.skills, 0)
        period = meter.period
        self.busy_area = [0.0] * period
        self.load_area = [0.0] * period
        self.present_area = [0.0] * period
        self.shrink_area = [0.0] * period
        self.skill_area = {i: [0.0] * period for i in self.skills}
        self._last = 0.0
        self.set_staff(spec.on_duty_in_hour(0), spec.agents_in_hour(0))

    @property
    def present(self) -> int:
        return self.busy + len(self.idle)

    def advance(self) -> None:
        """Add the time since the last change to the integrals."""
        now = self.env.now
        dt = now - self._last
        if dt:
            meter = self.meter
            if meter.recording:
                s = meter.slot
                busy = self.busy
                self.busy_area[s] += busy * dt
                self.load_area[s] += self.load * dt
                present = busy + len(self.idle)
                self.present_area[s] += present * dt
                self.shrink_area[s] += (self.scheduled - self.capacity) * dt
                if busy:
                    for i, n in self.busy_on.items():
                        if n:
                            self.skill_area[i][s] += n * dt
            self._last = now

    # -- taking contacts

    def available(self, channel: int) -> tuple[float, float] | None:
        """How good this group's best agent for an arriving contact is:
        ``(contacts in hand, idle since)``, lower is better; None if none can take it."""
        idle = self.idle
        reserve = self.reserve.get(channel, 0)
        if idle and len(idle) > reserve:
            return (0, idle[0].idle_since)
        buckets = self.buckets.get(channel)
        if buckets is not None and self.busy + len(idle) <= self.capacity:
            for held in range(1, len(buckets)):
                if buckets[held]:
                    return (held, 0.0)
        return None

    def take(self, channel: int) -> Agent:
        """Give an arriving contact to the agent :meth:`available` found."""
        self.advance()
        idle = self.idle
        if idle and len(idle) > self.reserve.get(channel, 0):
            agent = idle.popleft()
            self._begin(agent, channel)
        else:
            buckets = self.buckets[channel]
            held = next(h for h in range(1, len(buckets)) if buckets[h])
            agent = next(iter(buckets[held]))
            self._add(agent)
        return agent

    def _begin(self, agent: Agent, channel: int) -> None:
        """``agent`` (not idle any more) takes a first contact of ``channel``."""
        agent.channel = channel
        agent.held = 1
        self.busy += 1
        self.busy_on[channel] += 1
        k = self.concurrency[channel]
        self.load += 1.0 / k
        if k > 1:
            self._place(agent)

    def _add(self, agent: Agent) -> None:
        """``agent`` takes one more contact of the channel it holds."""
        agent.held += 1
        self.load += 1.0 / self.concurrency[agent.channel]
        self._place(agent)

    def _place(self, agent: Agent) -> None:
        if agent.bucket is not None:
            del agent.bucket[agent]
        buckets = self.buckets.get(agent.channel)
        if buckets is not None and 0 < agent.held < len(buckets):
            agent.bucket = buckets[agent.held]
            agent.bucket[agent] = None
        else:
            agent.bucket = None

    def _fill(self, agent: Agent, line: WaitingLine) -> None:
        """``agent`` takes waiting contacts of ``line`` while it has free slots."""
        k = self.concurrency[line.channel]
        while agent.held < k and line.waiting and self.present <= self.capacity:
            line.head_time()  # drop abandoned tickets at the head
            ticket = line.pop()
            self._add(agent)
            ticket.succeed(agent)

    def _pick(self) -> WaitingLine | None:
        """The line a free agent of this group serves next, by the rules above."""
        now = self.env.now
        due, due_time = None, math.inf
        for line in self.callback_lines:
            if line.waiting:
                joined = line.head_time()
                if joined + line.promote_after <= now and joined < due_time:
                    due, due_time = line, joined
        if due is not None:
            return due
        idle = len(self.idle)
        for live, callbacks in self.levels:
            for group_of_lines in (live, callbacks):
                best, best_time = None, math.inf
                for line in group_of_lines:
                    if line.waiting and idle >= self.reserve.get(line.channel, 0):
                        joined = line.head_time()
                        if joined < best_time:
                            best, best_time = line, joined
                if best is not None:
                    return best
        return None

    def _serve_next(self, agent: Agent) -> None:
        """A free agent takes its next contact, or becomes idle."""
        line = self._pick()
        if line is None:
            agent.channel = -1
            agent.idle_since = self.env.now
            self.idle.append(agent)
            return
        line.head_time()
        ticket = line.pop()
        self._begin(agent, line.channel)
        ticket.succeed(agent)
        if self.concurrency[line.channel] > 1:
            self._fill(agent, self.lines[line.channel])

    def finish(self, agent: Agent) -> None:
        """``agent`` has finished one contact."""
        self.advance()
        channel = agent.channel
        k = self.concurrency[channel]
        agent.held -= 1
        self.load -= 1.0 / k
        if agent.held:
            line = self.lines[channel]
            if line.waiting and self.present <= self.capacity:
                line.head_time()
                ticket = line.pop()
                self._add(agent)
                ticket.succeed(agent)
            else:
                self._place(agent)
            return
        if agent.bucket is not None:
            del agent.bucket[agent]
            agent.bucket = None
        self.busy -= 1
        self.busy_on[channel] -= 1
        if self.present >= self.capacity:  # its shift has ended: it leaves
            agent.channel = -1
            self.spare.append(agent)
            if self.present == self.capacity:
                self._refill_partial()
            return
        self._serve_next(agent)

    def _refill_partial(self) -> None:
        """Nobody is waiting to leave any more: agents with free slots take waiting contacts."""
        for channel, buckets in self.buckets.items():
            line = self.lines[channel]
            for held in range(1, len(buckets)):
                for agent in list(buckets[held]):
                    if not line.waiting:
                        break
                    self._fill(agent, line)

    # -- shifts

    def set_staff(self, on_duty: int, scheduled: int) -> None:
        """Change the agents due on duty (and scheduled, for shrinkage)."""
        self.advance()
        self.scheduled = scheduled
        self.capacity = on_duty
        while self.idle and self.present > on_duty:
            self.spare.append(self.idle.pop())
        while self.present < on_duty:
            agent = self.spare.pop() if self.spare else Agent(self)
            self._serve_next(agent)
        self._refill_partial()


class Distributor:
    """The lines and agent groups of one replication, and the rules that match them.

    See the module's description for the rules.
    """

    def __init__(self, env: simpy.Environment, scenario: Scenario, meter: Meter):
        self.env = env
        self.meter = meter
        channels = scenario.channels
        self.lines: list[WaitingLine | None] = [
            None if c.unlimited else WaitingLine(env, i, meter) for i, c in enumerate(channels)]
        self.callback_lines: list[WaitingLine | None] = [
            WaitingLine(env, i, meter, c.callback.promote_after) if c.callback is not None else None
            for i, c in enumerate(channels)]
        self.groups = [AgentGroup(env, g, i, scenario, self.lines, self.callback_lines, meter)
                       for i, g in enumerate(scenario.groups)]
        by_name = {g.name: g for g in self.groups}
        # groups act in name order (staffing changes at the same instant, ties between equal offers),
        # so that the numbers do not depend on the order in which the scenario lists them
        self._acting = sorted(self.groups, key=lambda g: g.name)
        #: per channel: the groups that answer it, as lists of equal priority, best first
        self.serving: list[list[list[AgentGroup]]] = []
        for c in channels:
            levels: dict[int, list[AgentGroup]] = {}
            for spec in sorted(scenario.groups_serving(c.name), key=lambda g: g.name):
                levels.setdefault(spec.skills[c.name], []).append(by_name[spec.name])
            self.serving.append([levels[p] for p in sorted(levels)])
        self.slowdown = [c.concurrency_slowdown for c in channels]
        self.mean_handle = [c.handle_time.mean for c in channels]
        self.concurrency = [c.concurrency for c in channels]

    def arrive(self, channel: int) -> Agent | None:
        """An agent for an arriving contact at once, or None if it must wait."""
        if self.lines[channel].waiting:
            return None
        for level in self.serving[channel]:
            if len(level) == 1:
                group = level[0]
                if group.available(channel) is not None:
                    return group.take(channel)
                continue
            offers = [(offer, i) for i, group in enumerate(level)
                      if (offer := group.available(channel)) is not None]
            if offers:
                return level[min(offers)[1]].take(channel)
        return None

    def join(self, channel: int) -> simpy.Event:
        """Wait in the channel's line; the ticket fires with the agent, or None on abandoning."""
        return self.lines[channel].join()

    def renege(self, channel: int, ticket: simpy.Event, _event=None) -> None:
        """The customer's patience ran out (see :meth:`WaitingLine.renege`)."""
        self.lines[channel].renege(ticket)

    def serve(self, agent: Agent, channel: int, handle: float) -> simpy.Event:
        """The event of the end of ``handle`` minutes of work by ``agent``."""
        slowdown = self.slowdown[channel]
        if slowdown is None:
            return self.env.timeout(handle)
        return agent.work(self.env, handle, slowdown)

    def finish(self, agent: Agent) -> None:
        """``agent`` is done with a contact and takes its next one."""
        agent.group.finish(agent)

    def expected_wait(self, channel: int) -> float:
        """A caller's expected wait if they joined now: the contacts ahead (and
        itself) times the mean handle time over the agent slots on duty."""
        slots = sum(g.capacity for level in self.serving[channel] for g in level) * self.concurrency[channel]
        if not slots:
            return math.inf
        return (self.lines[channel].waiting + 1) * self.mean_handle[channel] / slots

    def request_callback(self, channel: int) -> simpy.Event:
        """Queue a call-back request; it fires with the agent who calls back."""
        return self.callback_lines[channel].join()

    def set_hour(self, hour: int) -> None:
        """Staff every group for hour ``hour`` from the start."""
        for group in self._acting:
            spec = group.spec
            if spec.has_shift_plan or spec.shrinkage:
                group.set_staff(spec.on_duty_in_hour(hour), spec.agents_in_hour(hour))

    def advance(self) -> None:
        """Bring every integral up to now (before the meter changes slot)."""
        for line in self.lines:
            if line is not None:
                line.advance()
        for line in self.callback_lines:
            if line is not None:
                line.advance()
        for group in self.groups:
            group.advance()
