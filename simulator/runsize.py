"""How big a run is, estimated from its scenarios before anything is simulated.

contactflow simulates every customer, so a run's time grows with the
customers and their contacts and with the simulated hours (a clock reads every
staffed channel each hour); its memory grows with the journey log when it is
kept, with each replication's result tables and with the customers in the
system at once. :func:`estimate_run` estimates all of them from the scenarios
in milliseconds:

* customers: the arrival rate times the simulated time (warm-up and window),
  for every replication;
* contacts: customers times the expected contacts per customer of the routing
  chain (:class:`~simulator.analytic.JourneyChain`), cut at
  ``max_contacts``, with each staffed channel's served share from a fluid
  model: the agents on duty over the mean handle time against the contacts
  offered; contacts made in closed hours follow ``next``;
* time: contacts at :data:`CONTACTS_PER_SECOND` per core, plus the hourly
  clock, shared among the workers;
* memory: the journey log when kept (:data:`LOG_BYTES_PER_CONTACT`), the
  result rows, and in each worker the customers in the system: the arrival
  rate times a journey's mean duration (Little's law), plus the backlog an
  overloaded channel whose customers never leave piles up, plus the patience
  timers still pending (one per contact for as long as its patience).

:func:`check_run_size` refuses, with :class:`RunTooLarge`, a run estimated to
take more than :data:`MAX_WALL_HOURS` hours or more than
:data:`MAX_MEMORY_SHARE` of this machine's memory: one that would run until
killed. ``force=True`` (``--force`` on the command line) runs it anyway.

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("nice_bcg_2016")
>>> size = estimate_run([(sc, 10)])
>>> 300_000 < size.customers < 400_000  # 180 an hour for a week and a day, 10 times
True
>>> check_run_size(size)  # a few seconds: fine
>>> huge = estimate_run([(sc.with_changes({"arrivals.per_hour": 1e9}), 10)])
>>> check_run_size(huge)
Traceback (most recent call last):
...
simulator.runsize.RunTooLarge: ...
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from .analytic import JourneyChain
from .pools import _open_fraction
from .scenario import Scenario
from .validation import format_bound

__all__ = [
    "RunSize",
    "RunTooLarge",
    "estimate_run",
    "check_run_size",
    "machine_memory",
    "CONTACTS_PER_SECOND",
    "MAX_WALL_HOURS",
    "MAX_MEMORY_SHARE",
]

#: Contacts simulated per second on one core, all metrics on (measured: 150,000 to 200,000,
#: see benchmarks/throughput.py); the lower end, so that estimates err long.
CONTACTS_PER_SECOND = 150_000
#: Seconds per simulated hour for the hourly clock, and per staffed channel it reads (measured).
CLOCK_SECONDS_PER_HOUR = 2e-6
CLOCK_SECONDS_PER_CHANNEL_HOUR = 2e-6
#: Bytes per contact of a journey log that is kept, at the peak (the arrays, their sorted copy
#: and the table they become: benchmarks/scaling.py measures 160).
LOG_BYTES_PER_CONTACT = 200
#: Bytes per customer in the system (a SimPy process, its events and timers: 900 to 1,600 measured).
BYTES_PER_CUSTOMER_IN_SYSTEM = 2_000
#: Bytes per patience timer still pending after its customer was served (about 700 measured); they
#: stay until the patience would have run out, so a patience long beyond the run holds one per contact.
BYTES_PER_PENDING_TIMER = 1_000
#: Bytes and seconds per row of a replication's result tables (metrics by channel and hour).
BYTES_PER_RESULT_ROW = 300
SECONDS_PER_RESULT_ROW = 3e-6
#: What one process holds before it simulates anything (Python, numpy, pandas, SimPy).
BASE_BYTES = 200e6
#: A run estimated to take longer than this, in hours of wall time, is refused (unless forced).
MAX_WALL_HOURS = 6.0
#: ... as is one estimated to need more than this share of the machine's memory.
MAX_MEMORY_SHARE = 0.8
#: Fixed-point rounds of the fluid served shares: an estimate, not the network approximation.
FLUID_ROUNDS = 8


def machine_memory() -> float | None:
    """This machine's physical memory in bytes, or None where the system does not say."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not POSIX
        return None


@dataclass(frozen=True)
class RunSize:
    """The estimated size of a run: what it simulates, how long it takes and the memory it needs.

    Attributes
    ----------
    replications
        Replications of all scenarios together (a comparison of 3 scenarios with
        10 replications each counts 30).
    customers, contacts
        Simulated customers (warm-up included) and their contacts, over every replication.
    simulated_hours
        Hours simulated, over every replication.
    cpu_seconds
        Processor time, at :data:`CONTACTS_PER_SECOND`.
    workers
        Processes the replications are shared among.
    memory_bytes
        Peak memory, all processes together.
    log_bytes
        The part of ``memory_bytes`` that the kept journey logs take (0 when not kept).
    description
        What runs, e.g. ``"10 replications of nice_bcg_2016 (2 days after a 6 h warm-up)"``.
    """

    replications: int
    customers: float
    contacts: float
    simulated_hours: float
    cpu_seconds: float
    workers: int
    memory_bytes: float
    log_bytes: float
    description: str

    @property
    def wall_seconds(self) -> float:
        """Time until the run ends, its replications shared among the workers."""
        return self.cpu_seconds / max(1, min(self.workers, self.replications))

    def problems(self, memory: float | None = None) -> list[str]:
        """Why the run is far beyond this machine (empty when it is not).

        ``memory`` is the machine's memory in bytes (default: :func:`machine_memory`).
        """
        memory = machine_memory() if memory is None else memory
        found = []
        if self.wall_seconds > MAX_WALL_HOURS * 3600:
            found.append(f"it would take about {_duration(self.wall_seconds)} "
                         f"(the limit is {format_bound(MAX_WALL_HOURS)} hours)")
        if memory and self.memory_bytes > MAX_MEMORY_SHARE * memory:
            found.append(f"it would need about {_bytes(self.memory_bytes)} of memory, and this machine has "
                         f"{_bytes(memory)}")
        return found

    def text(self) -> str:
        """The estimate in one sentence.

        Examples
        --------
        >>> import simulator as sim
        >>> print(estimate_run([(sim.load_scenario("nice_bcg_2016"), 10)], workers=2).text())  # doctest: +ELLIPSIS
        10 replications of nice_bcg_2016 (7 days after a 24 h warm-up): about ... customers and ... contacts; ... on 2 workers; memory about ...
        """
        log = f", {_bytes(self.log_bytes)} of it the journey log kept" if self.log_bytes else ""
        workers = f"{self.workers} worker{'s' if self.workers > 1 else ''}"
        return (f"{self.description}: about {_count(self.customers)} customers and {_count(self.contacts)} "
                f"contacts; about {_duration(self.cpu_seconds)} of processor time at "
                f"{CONTACTS_PER_SECOND:,} contacts a second, {_duration(self.wall_seconds)} on {workers}; "
                f"memory about {_bytes(self.memory_bytes)}{log}")


class RunTooLarge(ValueError):
    """A run far beyond what this machine can do; :attr:`size` is the estimate.

    The message says why, gives the estimate and how to insist:
    ``force=True`` in Python; :meth:`message` words it for another interface
    (the command line's ``--force``).
    """

    def __init__(self, size: RunSize, reasons: list[str]):
        self.size = size
        self.reasons = reasons
        super().__init__(self.message("force=True"))

    def message(self, force: str) -> str:
        """The refusal, naming ``force`` (e.g. ``"--force"``) as the way to run it anyway."""
        return (f"this run is far beyond what this machine can do: {'; '.join(self.reasons)}. Estimate: "
                f"{self.size.text()}. Shorten run.days or run.warmup_hours, lower the arrivals or the "
                f"replications, or use {force} to run it anyway")


def estimate_run(runs: Iterable[tuple[Scenario, int]], *, keep_journeys: bool = False,
                 workers: int = 1) -> RunSize:
    """Estimate the size of a run of each ``(scenario, replications)`` in ``runs``.

    Parameters
    ----------
    runs
        The scenarios and how many replications of each are simulated.
    keep_journeys
        Whether every replication's journey log is kept (``run --out``, ``--charts``).
    workers
        Processes the replications are shared among.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> one, ten = estimate_run([(sc, 1)]), estimate_run([(sc, 10)])
    >>> round(ten.contacts / one.contacts, 6)
    10.0
    """
    runs = [(scenario, int(reps)) for scenario, reps in runs]
    replications = sum(reps for _, reps in runs)
    customers = contacts = hours = cpu = log_bytes = result_bytes = 0.0
    per_worker = 0.0  # the largest replication's own memory
    for scenario, reps in runs:
        load = _ScenarioLoad(scenario)
        rows = load.result_rows
        customers += reps * load.customers
        contacts += reps * load.contacts
        hours += reps * load.hours
        cpu += reps * (load.contacts / CONTACTS_PER_SECOND + rows * SECONDS_PER_RESULT_ROW + load.hours * (
            CLOCK_SECONDS_PER_HOUR + CLOCK_SECONDS_PER_CHANNEL_HOUR * load.staffed))
        result_bytes += reps * rows * BYTES_PER_RESULT_ROW
        log = load.contacts * LOG_BYTES_PER_CONTACT if keep_journeys else 0.0
        log_bytes += reps * log
        per_worker = max(per_worker, load.in_system * BYTES_PER_CUSTOMER_IN_SYSTEM
                         + load.pending_timers * BYTES_PER_PENDING_TIMER + log)
    processes = max(1, min(workers, replications))
    memory = BASE_BYTES + result_bytes + log_bytes + processes * per_worker
    if workers > 1:
        memory += processes * BASE_BYTES
    names = list(dict.fromkeys(scenario.name for scenario, _ in runs))
    first = runs[0][0] if runs else None
    what = names[0] if len(names) == 1 else f"{len(runs)} scenarios like {names[0]}" if names else "nothing"
    window = (f" ({format_bound(first.run.days)} day{'s' if first.run.days != 1 else ''} after a "
              f"{first.run.warmup_hours:g} h warm-up)" if first is not None else "")
    description = f"{replications:,} replication{'s' if replications != 1 else ''} of {what}{window}"
    return RunSize(replications, customers, contacts, hours, cpu, max(1, workers), memory, log_bytes, description)


def check_run_size(size: RunSize, *, force: bool = False, memory: float | None = None) -> None:
    """Raise :class:`RunTooLarge` when ``size`` is far beyond this machine, unless ``force``.

    ``memory`` is the machine's memory in bytes (default: :func:`machine_memory`).
    """
    if force:
        return
    reasons = size.problems(memory)
    if reasons:
        raise RunTooLarge(size, reasons)


class _ScenarioLoad:
    """One replication of a scenario: customers, contacts, hours, customers in the system, result rows."""

    def __init__(self, scenario: Scenario):
        run = scenario.run
        minutes = run.warmup_minutes + run.days * 1440.0
        per_minute = scenario.arrivals.per_hour / 60.0  # the day's mean rate, whatever the profile
        self.hours = minutes / 60.0
        self.customers = per_minute * minutes
        channels = scenario.channels
        staffed = [c for c in channels if not c.unlimited]
        self.staffed = len(staffed)
        names = len(channels)
        period = scenario.period_hours  # hourly results: 8 metrics per channel and hour, and per group
        self.result_rows = 15 + names * (18 + 8 * period) + len(scenario.groups) * 8 * period

        open_share = np.array([c.open_share() for c in channels])
        handle = np.array([c.handle_time.mean for c in channels])
        capacity = np.array([_agent_minutes_a_day(scenario, c) for c in channels])
        patient = np.array([c.unlimited or c.patience is None for c in channels])
        served_when_open = np.ones(len(channels))
        for _ in range(FLUID_ROUNDS):
            visits = _expected_contacts(scenario, open_share * served_when_open, 1.0 - open_share)
            work = per_minute * 1440.0 * visits * open_share * handle  # agent-minutes asked for a day
            share = np.where(work > 0, np.minimum(1.0, capacity / np.where(work > 0, work, 1.0)), 1.0)
            served_when_open = np.where(patient, 1.0, 0.5 * served_when_open + 0.5 * share)
        visits = _expected_contacts(scenario, open_share * served_when_open, 1.0 - open_share)
        self.contacts = self.customers * float(visits.sum())

        # Little's law: customers in the system = arrival rate x a journey's mean duration
        patience = np.array([c.patience.mean if c.patience is not None else 0.0 for c in channels])
        retry = np.array([c.retry_delay.mean if c.retry_delay is not None else 0.0 for c in channels])
        waiting = np.where(served_when_open < 1.0, patience, 0.0)
        journey_minutes = float(visits @ (handle + waiting + retry))
        # work-conserving channels (async, or customers who never hang up) pile up what they cannot do
        conserving = np.array([not c.unlimited and (c.is_async or c.patience is None) for c in channels])
        excess = np.where(conserving, np.maximum(work - capacity, 0.0) / handle / 1440.0, 0.0)  # contacts a minute
        self.in_system = per_minute * journey_minutes + float(excess.sum()) * minutes
        # a contact's patience timer stays scheduled for its whole length, served or not
        self.pending_timers = per_minute * float(visits @ np.minimum(patience, minutes))


def _agent_minutes_a_day(scenario: Scenario, channel) -> float:
    """Agent-minutes a day that answer ``channel`` in its open hours, times its concurrency.

    A group that answers several channels is counted as shared evenly among
    them (its priorities are left out: this is for an estimate).
    """
    if channel.unlimited:
        return 0.0
    period = scenario.period_hours
    open_by_hour = np.resize(_open_fraction(channel), period)
    minutes = sum(60.0 * float(np.dot([g.on_duty_in_hour(h) for h in range(period)], open_by_hour)) / len(g.skills)
                  for g in scenario.groups_serving(channel.name))
    return minutes * 24.0 / period * channel.concurrency


def _expected_contacts(scenario: Scenario, served: np.ndarray, closed: np.ndarray) -> np.ndarray:
    """Expected contacts per customer in each channel, cut at ``max_contacts``.

    Power iteration of the routing chain, contact after contact, stopping when
    the journeys still under way are negligible; when they settle into a
    steady share that goes on (routes that rarely end), the rest up to
    ``max_contacts`` is summed as a geometric series.
    """
    names = scenario.channel_names
    chain = JourneyChain(scenario, dict(zip(names, np.minimum(served, 1.0 - closed))), dict(zip(names, closed)))
    step = chain.transition.T
    under_way = chain.first_channel.copy()
    total = under_way.copy()
    mass = float(under_way.sum())
    for contact in range(2, scenario.max_contacts + 1):
        under_way = step @ under_way
        next_mass = float(under_way.sum())
        total += under_way
        if next_mass < 1e-12:
            break
        ratio = next_mass / mass if mass > 0 else 0.0
        left = scenario.max_contacts - contact
        if contact > 50 and left > 0:  # settled: the rest shrinks (or not) by the same ratio each contact
            rest = left if ratio >= 1.0 else ratio * (1.0 - ratio**left) / (1.0 - ratio)
            total += under_way * rest
            break
        mass = next_mass
    return total


def _number(x: float) -> str:
    """Two significant digits, without an exponent below a million: ``5.4``, ``97``, ``540``, ``12,000``."""
    return f"{x:.2g}" if x < 10 else f"{float(f'{x:.2g}'):,.0f}" if x < 1e6 else f"{x:.2g}"


def _count(x: float) -> str:
    """A count as people say it: ``270,000``, ``24 million``, ``540 billion``, ``3.2e+16``.

    Examples
    --------
    >>> _count(268_512), _count(2.4e7), _count(5.4e11), _count(3.2e16)
    ('269,000', '24 million', '540 billion', '3.2e+16')
    """
    if x < 1e6:
        return f"{round(x, -3 if x >= 1e4 else 0):,.0f}"
    for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if x >= scale:
            return _number(x) if x >= 1e15 else f"{_number(x / scale)} {word}"
    return f"{x:,.0f}"  # pragma: no cover


def _duration(seconds: float) -> str:
    """``40 s``, ``12 minutes``, ``9.3 hours``, ``110 days``, ``1,200 years``."""
    if seconds < 90:
        return f"{max(seconds, 1):.0f} s"
    for size, unit in ((365 * 86400, "years"), (2 * 86400, "days"), (3600, "hours")):
        if seconds >= size:
            return f"{_number(seconds / size)} {unit}"
    return f"{seconds / 60:.0f} minutes"


def _bytes(n: float) -> str:
    """``350 MB``, ``4.2 GB``, ``92 TB``."""
    for size, unit in ((1e12, "TB"), (1e9, "GB")):
        if n >= size:
            return f"{_number(n / size)} {unit}"
    return f"{n / 1e6:.0f} MB"
