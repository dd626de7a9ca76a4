"""Scenarios: load, validate and change the description of a contact network.

A scenario is a TOML file (see ``scenarios/`` and the README) turned into
immutable, validated objects: :class:`Scenario` holds the run settings, the
arrival process and one :class:`Channel` per contact channel. Validation
reports every problem at once, each with the file, the field path and what is
allowed, through :class:`ScenarioError`.

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("nice_bcg_2016")
>>> sc.focal_channel
'phone'
>>> better_chat = sc.with_changes({"channels.chat.resolve": 0.8})
>>> better_chat.channel("chat").resolve
0.8
"""

from __future__ import annotations

import copy
import dataclasses
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from .distributions import MAX_MINUTES, Distribution, from_spec, spec_problems
from .figures import (ALL_CHANNEL_METRICS, DAY_HOURS, FIGURE_HELP, GIVE_UP, KPI_NAMES, RESOLVED, WEEK_HOURS,
                      figure_index, is_share, table_columns)
from .validation import a_number, did_you_mean, format_bound, is_number, is_whole_number, unknown_key_message

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

__all__ = [
    "Scenario",
    "Channel",
    "Group",
    "Callback",
    "Arrivals",
    "RunSettings",
    "Problem",
    "ScenarioError",
    "Relative",
    "load_scenario",
    "bundled_scenarios",
    "GIVE_UP",
    "RESOLVED",
]

#: ``run.warmup_hours = "auto"``: derive the warm-up from the scenario (the default).
AUTO = "auto"
PROBABILITY_TOLERANCE = 1e-9

CHANNEL_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

TOP_KEYS = (
    "name", "description", "focal_channel", "max_contacts", "retry_delay",
    "run", "arrivals", "channels", "groups", "reference",
)
RUN_KEYS = ("days", "warmup_hours", "replications", "seed")
ARRIVAL_KEYS = ("per_hour", "hourly_profile", "first_channel", "day_to_day_cv")
CHANNEL_KEYS = (
    "label", "agents", "handle_time", "patience", "resolve", "next",
    "next_after_abandon", "open_hours", "async", "retry_delay",
    "cost_per_contact", "cost_per_agent_hour", "service_level_seconds",
    "concurrency", "concurrency_slowdown", "callback",
)
GROUP_KEYS = ("label", "agents", "skills", "reserve", "cost_per_agent_hour", "shrinkage")
CALLBACK_KEYS = ("offer_when_wait_above", "accept", "within_minutes")
REFERENCE_KEYS = ("source", "figures")

#: Largest number of contacts one agent may hold at once (chat concurrency).
MAX_CONCURRENCY = 20

DEFAULT_MAX_CONTACTS = 20

# Limits: beyond them a scenario is not a contact centre any more, or its numbers stop being
# sound in floating point, or its arrays would not fit in memory. Loading refuses them, naming
# the range (README, "Limits"). Runs that are merely big are estimated and refused before they
# start by simulator.runsize, which the user can overrule; these limits cannot be overruled.
#: Most channels (the journey log stores channel numbers in 16 bits; the analytic engine
#: holds channel-by-channel matrices).
MAX_CHANNELS = 1000
#: Largest ``max_contacts``.
MAX_CONTACTS_LIMIT = 1000
#: Most agents in one channel (in any hour).
MAX_AGENTS = 1_000_000
#: ``arrivals.per_hour`` range: one customer in 114 years to a billion an hour (faster, the
#: gaps between arrivals fall below the resolution of the simulation clock).
MIN_PER_HOUR, MAX_PER_HOUR = 1e-6, 1e9
#: Largest ``run.days`` and ``run.warmup_hours`` (both 100,000 days, about 274 years).
MAX_DAYS = 100_000
MAX_WARMUP_HOURS = MAX_DAYS * 24
#: Most replications.
MAX_REPLICATIONS = 100_000
#: Largest cost per contact or per agent hour.
MAX_COST = 1e9
DEFAULT_SERVICE_LEVEL_SECONDS = 20.0
DEFAULT_ASYNC_SERVICE_LEVEL_SECONDS = 24 * 3600.0


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a scenario: the field path, what is allowed, and
    (``note``) where it came from when not from the file, e.g. ``from --set ...``."""

    path: str
    message: str
    note: str = ""

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return f"{text} ({self.note})" if self.note else text


class ScenarioError(ValueError):
    """A scenario is not valid; :attr:`problems` lists every reason.

    The message names the file (when there is one), then one line per problem.
    """

    def __init__(self, problems: Iterable[Problem], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        where = source or "scenario"
        lines = [f"{where}: {len(self.problems)} problem(s)"]
        lines += [f"  {where}: {p}" for p in self.problems]
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class RunSettings:
    """How long and how often to simulate.

    ``days`` are measured after ``warmup_hours``. Left out (or ``"auto"``),
    the warm-up is derived from the scenario: long enough for its slowest
    queue, started empty, to reach its steady state (or a day when the day
    has a pattern); see :func:`simulator.transient.advise_warmup`. Customers who arrive during
    the warm-up are simulated but not counted, and so are those who arrive
    after the window while counted customers finish their journeys (see
    :mod:`simulator.metrics` for what each figure covers).
    """

    days: float = 1.0
    warmup_hours: float = 0.0
    replications: int = 10
    seed: int = 1
    #: Whether ``warmup_hours`` was derived from the scenario (``warmup_hours``
    #: left out or ``"auto"``) rather than given.
    warmup_derived: bool = False
    #: Why a derived warm-up is as long as it is (see :func:`simulator.transient.advise_warmup`).
    warmup_reason: str = ""

    @property
    def warmup_minutes(self) -> float:
        return self.warmup_hours * 60.0

    @property
    def end_minutes(self) -> float:
        """End of the measured window, in minutes from the start."""
        return self.warmup_minutes + self.days * 1440.0


@dataclass(frozen=True)
class Arrivals:
    """Poisson arrivals of new customers, each with one need.

    ``per_hour`` is the mean rate over the day (or the week);
    ``hourly_profile`` (24 weights, or 168 for a week from Monday 0:00, any
    scale) shapes it hour by hour while keeping the volume at ``per_hour``
    times the hours. ``day_to_day_cv`` makes the process doubly stochastic:
    each day's rates are scaled by a random factor with mean 1 and this
    coefficient of variation (forecast error).
    """

    per_hour: float
    first_channel: Mapping[str, float]
    hourly_profile: tuple[float, ...] | None = None
    day_to_day_cv: float = 0.0

    @property
    def period_hours(self) -> int:
        """24, or 168 when the profile covers a week."""
        return len(self.hourly_profile) if self.hourly_profile is not None else DAY_HOURS

    def rates_per_minute(self) -> tuple[float, ...]:
        """The mean arrival rate in each hour of the profile's period, per minute."""
        if self.hourly_profile is None:
            return (self.per_hour / 60.0,) * DAY_HOURS
        # scaled by the largest weight first, so that tiny or huge weights neither underflow nor overflow
        top = max(self.hourly_profile)
        scaled = [w / top for w in self.hourly_profile]
        mean_weight = math.fsum(scaled) / len(scaled)
        return tuple(self.per_hour / 60.0 * w / mean_weight for w in scaled)


@dataclass(frozen=True)
class Callback:
    """A call-back offer on a live channel.

    A caller who would queue and whose expected wait (the queue ahead times
    the mean handle time over the agents on duty) exceeds
    ``offer_when_wait_above`` minutes is offered a call back and accepts with
    probability ``accept``, unless the channel closes (``open_hours``) before
    the promise of ``within_minutes`` runs out. Call backs are served after
    live callers of the channel, and ahead of everyone once
    ``offer_when_wait_above`` minutes are left before the promise.
    """

    offer_when_wait_above: float
    accept: float
    within_minutes: float

    @property
    def promote_after(self) -> float:
        """Minutes after the request at which a call back goes ahead of live callers."""
        return max(self.within_minutes - self.offer_when_wait_above, 0.0)


@dataclass(frozen=True)
class Group:
    """A group of agents who share skills: they answer several channels by priority.

    ``agents`` is the number scheduled (paid): an int, or 24 (or 168) hourly
    levels. ``shrinkage`` is the share of those paid hours not available for
    contacts (breaks, training, absence): the agents on duty in an hour are
    the scheduled ones times ``1 - shrinkage``, rounded to the nearest whole
    agent. ``skills`` maps each channel the group answers to its priority
    (1 = highest); ``reserve`` maps a channel to the number of agents that
    must stay idle for the group to take one of its contacts (a blending
    threshold). A channel with its own ``agents`` is a group of its own,
    named after the channel (``own`` is True).
    """

    name: str
    agents: int | tuple[int, ...]
    skills: Mapping[str, int]
    reserve: Mapping[str, int] = field(default_factory=dict)
    cost_per_agent_hour: float = 0.0
    shrinkage: float = 0.0
    label: str = ""
    own: bool = False

    @property
    def has_shift_plan(self) -> bool:
        return isinstance(self.agents, tuple)

    def agents_in_hour(self, hour: int) -> int:
        """Agents scheduled (paid) in hour ``hour`` from the start (Monday 0:00)."""
        if isinstance(self.agents, tuple):
            return self.agents[hour % len(self.agents)]
        return self.agents

    def on_duty_in_hour(self, hour: int) -> int:
        """Agents available for contacts in hour ``hour``, after shrinkage."""
        scheduled = self.agents_in_hour(hour)
        return scheduled if not self.shrinkage else int(math.floor(scheduled * (1.0 - self.shrinkage) + 0.5))

    @property
    def display_name(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class Channel:
    """A contact channel: who answers, how long it takes, and where customers go next.

    ``agents`` is ``None`` for unlimited self-service or for a channel served
    by agent groups (``served_by_groups``), an int for a fixed staff, or 24
    (or 168) hourly staffing levels (a shift plan). ``concurrency`` is how many
    of its contacts one agent may hold at once (chat), and
    ``concurrency_slowdown`` the factor by which handle times stretch while an
    agent holds 1, 2, ... contacts.
    """

    name: str
    handle_time: Distribution
    resolve: float
    next: Mapping[str, float]
    next_after_abandon: Mapping[str, float]
    agents: int | tuple[int, ...] | None = None
    patience: Distribution | None = None
    open_hours: tuple[float, float] | None = None
    is_async: bool = False
    retry_delay: Distribution | None = None
    cost_per_contact: float = 0.0
    cost_per_agent_hour: float = 0.0
    service_level_seconds: float = DEFAULT_SERVICE_LEVEL_SECONDS
    label: str = ""
    served_by_groups: bool = False
    concurrency: int = 1
    concurrency_slowdown: tuple[float, ...] | None = None
    callback: Callback | None = None

    @property
    def unlimited(self) -> bool:
        """True for self-service: no agents, no queue."""
        return self.agents is None and not self.served_by_groups

    @property
    def has_shift_plan(self) -> bool:
        return isinstance(self.agents, tuple)

    def agents_in_hour(self, hour: int) -> int | None:
        """The channel's own agents in hour ``hour`` from the start; None when
        unlimited or served by groups (see :meth:`Scenario.agents_for`)."""
        if isinstance(self.agents, tuple):
            return self.agents[hour % len(self.agents)]
        return self.agents

    def slowdown(self, held: int) -> float:
        """How much handle times stretch while an agent holds ``held`` contacts."""
        if self.concurrency_slowdown is None:
            return 1.0
        return self.concurrency_slowdown[min(held, self.concurrency) - 1]

    def is_open(self, minute_of_day: float) -> bool:
        """Whether the channel takes contacts at this minute of the day."""
        if self.open_hours is None:
            return True
        hour = minute_of_day / 60.0
        start, end = self.open_hours
        if start < end:
            return start <= hour < end
        return hour >= start or hour < end  # open across midnight

    def open_share(self) -> float:
        """Share of the day the channel is open."""
        if self.open_hours is None:
            return 1.0
        start, end = self.open_hours
        return ((end - start) % 24) / 24.0

    @property
    def display_name(self) -> str:
        return self.label or self.name


@dataclass(frozen=True)
class Scenario:
    """A validated contact network and how to run it.

    Build one with :func:`load_scenario` or :meth:`from_dict`; change it with
    :meth:`with_changes`, which validates the result like a file.
    """

    name: str
    description: str
    focal_channel: str
    max_contacts: int
    run: RunSettings
    arrivals: Arrivals
    channels: tuple[Channel, ...]
    reference: Mapping[str, float] = field(default_factory=dict)
    reference_source: str = ""
    source: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    groups: tuple[Group, ...] = ()

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    @property
    def group_names(self) -> tuple[str, ...]:
        return tuple(g.name for g in self.groups)

    def group(self, name: str) -> Group:
        """The agent group called ``name`` (a channel's own agents are the group of its name)."""
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(f"no group {name!r}; groups are {', '.join(self.group_names) or 'none'}")

    def groups_serving(self, channel: str) -> tuple[Group, ...]:
        """The groups that answer ``channel``, best priority first."""
        serving = [g for g in self.groups if channel in g.skills]
        return tuple(sorted(serving, key=lambda g: g.skills[channel]))

    @property
    def has_groups(self) -> bool:
        """True when some agents answer more than one channel, or some channel
        is served by a ``[groups.NAME]`` table."""
        return any(not g.own for g in self.groups)

    @property
    def period_hours(self) -> int:
        """The length of the scenario's cycle: 168 when any hourly list covers a
        week, else 24. Hourly results are by hour of this period."""
        lists = [self.arrivals.hourly_profile] if self.arrivals is not None else []
        lists += [g.agents for g in self.groups if isinstance(g.agents, tuple)]
        return WEEK_HOURS if any(v is not None and len(v) == WEEK_HOURS for v in lists) else DAY_HOURS

    def channel(self, name: str) -> Channel:
        """The channel called ``name``."""
        for c in self.channels:
            if c.name == name:
                return c
        raise KeyError(f"no channel {name!r}; channels are {', '.join(self.channel_names)}")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], source: str | None = None) -> "Scenario":
        """Validate a scenario given as nested dicts (the parsed TOML).

        Raises
        ------
        ScenarioError
            Listing every problem found.
        """
        return _Validator(data, source).build()

    def to_dict(self, complete: bool = False) -> dict[str, Any]:
        """The scenario as nested dicts, as it would be written in TOML.

        Parameters
        ----------
        complete
            Write every field with the value in use, defaults included
            (``max_contacts``, ``[run]``, each channel's
            ``service_level_seconds``, ``next_after_abandon``, ``retry_delay``
            and ``concurrency``, each group's ``shrinkage``, ...): the same
            scenario, whatever the defaults of another version. By default,
            the fields as given.

        Examples
        --------
        >>> import simulator as sim
        >>> sc = sim.load_scenario("nice_bcg_2016")
        >>> "service_level_seconds" in sc.to_dict()["channels"]["phone"]
        False
        >>> sc.to_dict(complete=True)["channels"]["phone"]["service_level_seconds"]
        20.0
        >>> Scenario.from_dict(sc.to_dict(complete=True), sc.source) == sc
        True
        """
        if not complete:
            return copy.deepcopy(dict(self.data))
        data: dict[str, Any] = {
            "name": self.name, "description": self.description, "focal_channel": self.focal_channel,
            "max_contacts": self.max_contacts, "run": _run_data(self.run),
            "arrivals": {"per_hour": self.arrivals.per_hour, "first_channel": dict(self.arrivals.first_channel),
                         "day_to_day_cv": self.arrivals.day_to_day_cv},
            "channels": {c.name: _channel_data(c) for c in self.channels},
        }
        if self.arrivals.hourly_profile is not None:
            data["arrivals"]["hourly_profile"] = list(self.arrivals.hourly_profile)
        groups = {g.name: _group_data(g) for g in self.groups if not g.own}  # own ones are their channels'
        if groups:
            data["groups"] = groups
        if self.reference:
            data["reference"] = {"source": self.reference_source, "figures": dict(self.reference)}
        return data

    def with_changes(self, changes: Mapping[str, Any], *,
                     origins: Mapping[str, str] | None = None) -> "Scenario":
        """A copy with fields replaced, given as dotted paths.

        Parameters
        ----------
        changes
            ``{"channels.chat.resolve": 0.8, "run.days": 2}``. A value may be a
            whole table, e.g. ``{"channels.chat.next": {"phone": 0.5, "give_up": 0.5}}``
            or a new channel ``{"channels.sms": {...}}``; ``None`` removes an
            optional field (e.g. ``"channels.chat.patience"``); a
            :class:`Relative` changes the field's current value, e.g.
            ``{"channels.chat.agents": Relative("+", 5)}``.
        origins
            Where each change came from, by path, for messages (e.g.
            ``"--set channels.chat.agents=25"``); by default ``PATH=VALUE``.

        Raises
        ------
        ScenarioError
            If a path names a channel the scenario does not have (or removes a
            field that is not there), or the changed scenario is not valid.
            Each problem says which change it came from: ``(from ORIGIN)``, or
            ``(after ORIGINS)`` for one that follows from them elsewhere.

        Examples
        --------
        >>> import simulator as sim
        >>> sc = sim.load_scenario("nice_bcg_2016")
        >>> sc.with_changes({"groups.voice.shrinkage": 0.25}).group("voice").shrinkage
        0.25
        >>> sc.with_changes({"arrivals.per_hour": Relative("*", 1.1)}).arrivals.per_hour
        198.0
        """
        changes = {path: _plain(value) for path, value in changes.items()}
        origins = {path: (origins or {}).get(path) or (f"{path}{value}" if isinstance(value, Relative)
                                                     else f"{path}={value!r}")
                   for path, value in changes.items()}
        data = self.to_dict()
        problems = []
        for path, value in changes.items():
            try:
                _check_change(data, path, value)
                if isinstance(value, Relative):
                    current = self._current(data, path)
                    if path == "run.warmup_hours" and current == AUTO:
                        current = self.run.warmup_hours  # the derived hours in use
                    value = value.apply(path, current)
                set_path(data, path, value)
            except (KeyError, ValueError) as exc:
                problems.append(Problem(path, str(exc.args[0]), f"from {origins[path]}"))
        if problems:
            raise ScenarioError(problems, self.source)
        try:
            return Scenario.from_dict(data, self.source)
        except ScenarioError as exc:  # the scenario was valid: each problem comes from the changes
            raise ScenarioError([_blame(p, origins) for p in exc.problems], self.source) from None

    def _current(self, data: Mapping[str, Any], path: str) -> Any:
        """The value of ``path`` in ``data`` (as changed so far), or else the value in use when the file
        leaves it out (:meth:`to_dict` with ``complete``); KeyError when it has neither."""
        for source in (lambda: data, lambda: self.to_dict(complete=True)):
            try:
                return get_path(source(), path)
            except KeyError:
                pass
        raise KeyError(f"not set in the scenario, so there is nothing to change relative to; give it a value "
                       f"with {path}=VALUE")

    def to_toml(self) -> str:
        """The scenario as TOML text (comments of the original file are not kept)."""
        import tomli_w

        return tomli_w.dumps(self.to_dict())


#: Fields whose values are whole numbers: a relative change to them is rounded (``channels.*.agents``
#: also as a shift plan's levels).
WHOLE_NUMBER_FIELDS = ("max_contacts", "run.replications", "run.seed", "channels.*.agents", "channels.*.concurrency",
                       "groups.*.agents")
RELATIVE_OPERATORS = {"+": "add", "-": "subtract", "*": "multiply by", "/": "divide by"}


@dataclass(frozen=True)
class Relative:
    """A change relative to a field's current value: ``Relative("+", 5)`` adds 5, ``Relative("*", 1.1)``
    scales by 1.1 (``-`` and ``/`` too). The command line writes them ``FIELD+=5``, ``FIELD*=1.1``.

    * A number changes by the operation; a list of numbers (an ``hourly_profile``,
      a shift plan's hourly ``agents`` levels) changes element by element.
    * Whole-number fields (:data:`WHOLE_NUMBER_FIELDS`: agents of a channel or
      group, ``concurrency``, ``max_contacts``, ``run.replications``,
      ``run.seed``) are rounded to the nearest whole
      number, halves up: ``agents = 12`` times 1.1 is 13, 25 times 1.1 is 28.
    * Adding to or subtracting from a shift plan changes its staffed hours only:
      an hour without agents stays without. Scaling keeps a 0 at 0 anyway; a
      level of 1 times 0.4 rounds to 0, an unstaffed hour.
    * Anything else (a string such as ``label`` or ``agents = "unlimited"``, a
      true/false, a distribution's table) is refused, naming the field.

    Examples
    --------
    >>> Relative("*", 1.1).apply("channels.chat.agents", [0, 10, 25])
    [0, 11, 28]
    >>> Relative("+", 2).apply("channels.chat.agents", [0, 10, 25])
    [0, 12, 27]
    >>> Relative("*", 1.1).apply("arrivals.per_hour", 500)
    550.0
    >>> str(Relative("+", 5))
    '+=5'
    """

    op: str
    operand: float

    def __post_init__(self):
        if self.op not in RELATIVE_OPERATORS:
            raise ValueError(f"unknown operation {self.op!r}; allowed: {', '.join(o + '=' for o in RELATIVE_OPERATORS)}")
        if isinstance(self.operand, bool) or not isinstance(self.operand, (int, float)) or not math.isfinite(
                self.operand):
            raise ValueError(f"{self.op}= needs a finite number after it; got {self.operand!r}")
        if self.op == "/" and self.operand == 0:
            raise ValueError("/= 0: cannot divide by zero")

    def __str__(self) -> str:
        return f"{self.op}={self.operand:g}"

    def apply(self, path: str, current: Any) -> Any:
        """The new value of field ``path`` whose value is ``current``; ValueError naming what is allowed."""
        keys = path.split(".")
        pattern = f"{keys[0]}.*.{keys[2]}" if len(keys) == 3 and keys[0] in ("channels", "groups") else path
        whole = pattern in WHOLE_NUMBER_FIELDS
        staffing = pattern.endswith(".*.agents")
        if is_number(current):
            return self._number(current, whole)
        if isinstance(current, list) and current and all(is_number(v) for v in current):
            return [v if staffing and self.op in "+-" and v == 0 else self._number(v, whole) for v in current]
        what = ("self-service (\"unlimited\"), which has no number of agents" if current == "unlimited" else
                f"a string ({current!r})" if isinstance(current, str) else
                f"true/false ({str(current).lower()})" if isinstance(current, bool) else
                f"a table; change one of its numbers, e.g. "
                f"{path}.{next((k for k, v in current.items() if is_number(v)), 'mean')}{self}"
                if isinstance(current, Mapping) else repr(current))
        raise ValueError(f"{self.op}= needs a number or a list of numbers to {RELATIVE_OPERATORS[self.op]}; "
                         f"the field is {what}")

    def _number(self, value: float, whole: bool) -> float | int:
        x = {"+": value + self.operand, "-": value - self.operand,
             "*": value * self.operand, "/": value / self.operand}[self.op]
        if whole:
            return int(math.floor(x + 0.5))
        if isinstance(x, int):
            return x
        return float(f"{x:.12g}")  # 500 * 1.1 is 550, not 550.0000000000001
def _plain(value: Any) -> Any:
    """``value`` with numpy numbers and arrays made plain Python ones, as TOML would give them.

    Examples
    --------
    >>> import numpy as np
    >>> _plain({"agents": np.int64(25), "profile": np.ones(2)}), _plain(np.bool_(True))
    ({'agents': 25, 'profile': [1.0, 1.0]}, True)
    """
    if isinstance(value, Mapping):
        return {key: _plain(v) for key, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    tolist = getattr(value, "tolist", None)  # numpy scalars and arrays
    return _plain(tolist()) if callable(tolist) and type(value).__module__ == "numpy" else value


def _run_data(run: RunSettings) -> dict[str, Any]:
    """The ``[run]`` table (:meth:`Scenario.to_dict` with ``complete``): a derived warm-up stays ``"auto"``."""
    data = {key: getattr(run, key) for key in RUN_KEYS}
    if run.warmup_derived:
        data["warmup_hours"] = AUTO
    return data


def _staffing_data(agents: int | tuple[int, ...]) -> int | list[int]:
    return list(agents) if isinstance(agents, tuple) else agents


def _channel_data(channel: Channel) -> dict[str, Any]:
    """A channel's table with every field (:meth:`Scenario.to_dict` with ``complete``)."""
    data: dict[str, Any] = {"label": channel.label}
    if not channel.served_by_groups:  # a [groups.NAME] table staffs it
        data["agents"] = "unlimited" if channel.unlimited else _staffing_data(channel.agents)
    data.update({
        "handle_time": channel.handle_time.to_spec(),
        "resolve": channel.resolve,
        "next": dict(channel.next),
        "next_after_abandon": dict(channel.next_after_abandon),
        "async": channel.is_async,
        "cost_per_contact": channel.cost_per_contact,
        "cost_per_agent_hour": channel.cost_per_agent_hour,
        "service_level_seconds": channel.service_level_seconds,
    })
    if not channel.unlimited:
        data["concurrency"] = channel.concurrency
    for key, value in (("patience", channel.patience), ("retry_delay", channel.retry_delay)):
        if value is not None:
            data[key] = value.to_spec()
    if channel.open_hours is not None:
        data["open_hours"] = list(channel.open_hours)
    if channel.concurrency_slowdown is not None:
        data["concurrency_slowdown"] = list(channel.concurrency_slowdown)
    if channel.callback is not None:
        data["callback"] = dataclasses.asdict(channel.callback)
    return data


def _group_data(group: Group) -> dict[str, Any]:
    """A ``[groups.NAME]`` table with every field (:meth:`Scenario.to_dict` with ``complete``)."""
    return {"label": group.label, "agents": _staffing_data(group.agents), "skills": dict(group.skills),
            "reserve": dict(group.reserve), "cost_per_agent_hour": group.cost_per_agent_hour,
            "shrinkage": group.shrinkage}


def _with_derived_warmup(scenario: Scenario) -> Scenario:
    """The scenario with the warm-up :func:`simulator.transient.advise_warmup` derives from it."""
    from .transient import DAY_PATTERN_WARMUP_HOURS, advise_warmup  # here: it uses the analytic engine

    try:
        advice = advise_warmup(scenario)
        hours, reason = advice.hours, advice.reason
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:  # a scenario the approximation cannot take
        hours = DAY_PATTERN_WARMUP_HOURS
        reason = f"a day: the warm-up could not be derived from the queues ({exc})"
    run = dataclasses.replace(scenario.run, warmup_hours=hours, warmup_reason=reason)
    return dataclasses.replace(scenario, run=run)


def get_path(data: Mapping[str, Any], path: str) -> Any:
    """``data[a][b][c]`` for ``path = "a.b.c"``; KeyError naming ``path`` when it is not there.

    Examples
    --------
    >>> get_path({"run": {"days": 2}}, "run.days")
    2
    """
    node: Any = data
    for key in path.split("."):
        if not isinstance(node, Mapping) or key not in node:
            raise KeyError(path)
        node = node[key]
    return node


def set_path(data: dict[str, Any], path: str, value: Any) -> None:
    """Set ``data[a][b][c] = value`` for ``path = "a.b.c"``, creating tables as needed.

    ``value=None`` removes the field instead (TOML has no null), which puts an
    optional field back to its default.
    """
    keys = path.split(".")
    if not all(keys):
        raise KeyError(f"not a field path: {path!r} (use names joined by dots, e.g. channels.chat.resolve)")
    node = data
    for i, key in enumerate(keys[:-1]):
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise KeyError(f"{'.'.join(keys[: i + 1])} is a value, not a table")
        node = child
    if value is None:
        node.pop(keys[-1], None)
    else:
        node[keys[-1]] = value


#: The keys of each fixed table, by its path (``channels.NAME`` is looked up as ``channels.*``).
TABLE_KEYS = {"": TOP_KEYS, "run": RUN_KEYS, "arrivals": ARRIVAL_KEYS, "reference": REFERENCE_KEYS,
              "channels.*": CHANNEL_KEYS, "groups.*": GROUP_KEYS}


def _check_change(data: Mapping[str, Any], path: str, value: Any) -> None:
    """Refuse a change that would create a channel by a typo, or remove a field that is not there.

    Raises KeyError with the message.
    """
    keys = path.split(".")
    for section, what, example in (("channels", "channel", "agents = 5, ..."),
                                   ("groups", "group", "agents = 5, skills = { phone = 1 }")):
        table = data.get(section)
        if (keys[0] == section and len(keys) >= 2 and isinstance(table, Mapping)
                and keys[1] not in table and (len(keys) > 2 or value is None)):
            hint = did_you_mean(keys[1], table)
            raise KeyError(f"no {what} {keys[1]!r}{'; ' + hint if hint else ''} ({section}: "
                           f"{', '.join(table) or 'none'}; a new {what} needs its whole table, "
                           f"e.g. {section}.{keys[1]}={{ {example} }})")
    if value is None and all(keys):
        parent: Any = data
        for key in keys[:-1]:
            parent = parent.get(key) if isinstance(parent, Mapping) else None
        table = (f"{keys[0]}.*" if len(keys) == 3 and keys[0] in ("channels", "groups")
                 else ".".join(keys[:-1]))
        known = TABLE_KEYS.get(table, tuple(parent) if isinstance(parent, Mapping) else None)
        if known is None:
            raise KeyError(f"nothing to remove: {'.'.join(keys[:-1])} is not set")
        if keys[-1] not in known:
            raise KeyError(f"nothing to remove: {unknown_key_message(keys[-1], known)}")


def _blame(problem: Problem, origins: Mapping[str, str]) -> Problem:
    """``problem`` noted with the changes it came from (those on its path), or else all of them."""
    def related(a: str, b: str) -> bool:
        return a == b or a.startswith(b + ".") or b.startswith(a + ".")

    near = [origin for path, origin in origins.items() if problem.path and related(problem.path, path)]
    note = f"from {', '.join(near)}" if near else f"after {', '.join(origins.values())}"
    return dataclasses.replace(problem, note=note)


def read_toml_text(path: str | Path) -> str:
    """The text of a TOML file, as UTF-8 with or without a byte-order mark (editors on Windows add one).

    Raises OSError or UnicodeDecodeError like :meth:`pathlib.Path.read_text`.
    """
    return Path(path).read_text(encoding="utf-8-sig")


def parse_toml(text: str, source: str | None = None) -> dict[str, Any]:
    """Parse TOML text, turning syntax errors into a :class:`ScenarioError`.

    Examples
    --------
    >>> parse_toml("x = [[1], [2]]")
    {'x': [[1], [2]]}
    >>> parse_toml("x = " + "[" * 100_000 + "]" * 100_000, "deep.toml")
    Traceback (most recent call last):
    ...
    simulator.scenario.ScenarioError: deep.toml: 1 problem(s)
      deep.toml: malformed TOML: arrays or inline tables nested too deeply for the parser (contactflow's files need 3 levels at most)
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError([Problem("", f"malformed TOML: {exc}")], source) from None
    except RecursionError:  # the parser recurses once per level of nesting
        raise ScenarioError([Problem("", "malformed TOML: arrays or inline tables nested too deeply for the "
                                         "parser (contactflow's files need 3 levels at most)")], source) from None


def parse_value(text: str) -> Any:
    """A field value typed as text, read as TOML (``25``, ``0.8``, ``[8, 20]``,
    ``{ phone = 0.5, give_up = 0.5 }``), or else kept as the plain string.

    Shared by ``--set FIELD=VALUE`` and the web app's fields, so a value typed
    in either is read, and refused, the same way.

    Examples
    --------
    >>> parse_value("25"), parse_value("[8, 20]"), parse_value("lots")
    (25, [8, 20], 'lots')
    """
    raw = text.strip()
    try:
        return parse_toml(f"value = {raw}")["value"]
    except ScenarioError:
        return raw


def bundled_dir() -> Path:
    """Folder of the scenarios shipped with contactflow."""
    packaged = Path(__file__).with_name("_scenarios")
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "scenarios"  # source checkout


def bundled_scenarios() -> dict[str, Path]:
    """Bundled scenario names and their files, sorted by name.

    Examples
    --------
    >>> "nice_bcg_2016" in bundled_scenarios()
    True
    """
    return {p.stem: p for p in sorted(bundled_dir().glob("*.toml"))}


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file, or a bundled scenario by name.

    Parameters
    ----------
    path
        A TOML file, or the name of a bundled scenario such as ``"nice_bcg_2016"``.

    Raises
    ------
    ScenarioError
        If the file is missing, is not valid TOML, or describes an invalid
        scenario; every problem is listed with its field path.

    Examples
    --------
    >>> import simulator as sim
    >>> sim.load_scenario("nice_bcg_2016").channel_names
    ('web', 'email', 'chat', 'phone')
    """
    p = Path(path)
    if not p.is_file():
        bundled = bundled_scenarios()
        if str(path) in bundled:
            p = bundled[str(path)]
        else:
            names = ", ".join(bundled) or "none"
            raise ScenarioError(
                [Problem("", f"no such file or bundled scenario (bundled: {names})")], str(path)
            )
    source = str(path)
    try:
        text = read_toml_text(p)
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem("", f"cannot read: {exc}")], source) from None
    return Scenario.from_dict(parse_toml(text, source), source)


# --------------------------------------------------------------------------- validation


class _Validator:
    """Collects every problem while building the scenario objects."""

    def __init__(self, data: Mapping[str, Any], source: str | None):
        self.data = data
        self.source = source
        self.problems: list[Problem] = []
        self.claimed_by_groups: set[str] = set()  # channels some [groups.NAME] table lists as a skill

    def fail(self, path: str, message: str) -> None:
        self.problems.append(Problem(path, message))

    def bad(self, path: str, allowed: str, value: Any) -> None:
        """Report ``value`` as not ``allowed``; ``None`` means the field is missing."""
        if value is None:
            self.fail(path, f"missing; needed: {allowed}")
        else:
            self.fail(path, f"must be {allowed}; got {value!r}")

    # -- generic checks

    def table(self, value: Any, path: str, allowed: tuple[str, ...]) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.fail(path, f"must be a table; got {value!r}")
            return {}
        for key in value:
            if key not in allowed:
                self.unknown_key(f"{path}.{key}" if path else key, key, allowed)
        return value

    def unknown_key(self, path: str, key: str, allowed: Iterable[str]) -> None:
        self.fail(path, unknown_key_message(key, allowed))

    def unknown_name(self, path: str, what: str, name: str, allowed: Iterable[str], listing: str) -> None:
        """Report a name that is not one of ``allowed``, e.g. ``unknown channel 'emial'; did you mean 'email'?``."""
        allowed = list(allowed)
        hint = did_you_mean(name, allowed)
        self.fail(path, f"unknown {what} {name!r}{'; ' + hint if hint else ''} ({listing}: {', '.join(allowed)})")

    def number(self, value: Any, path: str, *, low: float | None = None,
               low_open: bool = False, high: float | None = None) -> float | None:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if low_open else '>='} {format_bound(low)}")
        if high is not None:
            bounds.append(f"<= {format_bound(high)}")
        allowed = a_number(value) + (f" {' and '.join(bounds)}" if bounds else "")
        if not is_number(value) or (low is not None and (value < low or (low_open and value == low))) or (
            high is not None and value > high
        ):
            self.bad(path, allowed, value)
            return None
        return float(value)

    def integer(self, value: Any, path: str, low: int, high: int | None = None) -> int | None:
        if not is_whole_number(value) or value < low or (high is not None and value > high):
            self.bad(path, f"a whole number >= {low}" + (f" and <= {format_bound(high)}" if high is not None else ""),
                     value)
            return None
        return value

    def probability(self, value: Any, path: str) -> float | None:
        if not is_number(value) or not 0.0 <= value <= 1.0:
            self.bad(path, "a probability in [0, 1]", value)
            return None
        return float(value)

    def distribution(self, value: Any, path: str) -> Distribution | None:
        problems = spec_problems(value)
        for key, message in problems:
            self.fail(f"{path}.{key}" if key else path, message)
        return None if problems else from_spec(value)

    def row(self, value: Any, path: str, targets: tuple[str, ...]) -> dict[str, float] | None:
        """A probability row over ``targets``: keys known, values in [0, 1], sum 1."""
        if not isinstance(value, Mapping) or not value:
            self.bad(path, f"a table of probabilities over {', '.join(targets)}", value)
            return None
        row: dict[str, float] = {}
        ok = True
        for key, p in value.items():
            if key not in targets:
                self.unknown_name(f"{path}.{key}", "channel", key, targets, "allowed")
                ok = False
                continue
            prob = self.probability(p, f"{path}.{key}")
            if prob is None:
                ok = False
            else:
                row[key] = prob
        if ok:
            total = math.fsum(row.values())
            if abs(total - 1.0) > PROBABILITY_TOLERANCE:
                self.fail(path, f"probabilities must sum to 1; they sum to {total:.12g}")
                return None
            return row
        return None

    # -- sections

    def build(self) -> Scenario:
        data = self.data
        if not isinstance(data, Mapping):
            raise ScenarioError([Problem("", "a scenario must be a table")], self.source)
        self.table(data, "", TOP_KEYS)

        name = data.get("name", Path(self.source).stem if self.source else "scenario")
        if not isinstance(name, str) or not name:
            self.fail("name", f"must be a non-empty string; got {name!r}")
        description = data.get("description", "")
        if not isinstance(description, str):
            self.fail("description", f"must be a string; got {description!r}")

        channel_table = data.get("channels")
        names: tuple[str, ...] = ()
        if not isinstance(channel_table, Mapping) or not channel_table:
            self.fail("channels", "at least one [channels.NAME] table is needed")
        else:
            names = tuple(channel_table)
            if len(names) > MAX_CHANNELS:
                self.fail("channels", f"at most {format_bound(MAX_CHANNELS)} channels; got {len(names):,}")
            for n in names:
                if not CHANNEL_NAME.match(n) or n in (GIVE_UP, RESOLVED):
                    self.fail(f"channels.{n}", "channel names start with a letter, use letters, "
                              f"digits, _ or -, and are not {GIVE_UP!r} or {RESOLVED!r}")

        focal = data.get("focal_channel", "phone")
        if names and focal not in names:
            self.fail("focal_channel", f"{focal!r} is not a channel (channels: {', '.join(names)})")

        max_contacts = self.integer(data.get("max_contacts", DEFAULT_MAX_CONTACTS), "max_contacts", 1,
                                    MAX_CONTACTS_LIMIT)
        retry_delay = None
        if "retry_delay" in data:
            retry_delay = self.distribution(data["retry_delay"], "retry_delay")

        run = self.run_settings(data.get("run"))
        arrivals = self.arrivals(data.get("arrivals"), names)
        groups = self.groups(data.get("groups"), channel_table if names else {})
        # channels a group table names, even one with a problem of its own: they need no agents
        grouped = {c for g in groups for c in g.skills} | self.claimed_by_groups
        channels = tuple(
            self.channel(n, channel_table[n], names + (GIVE_UP,), retry_delay, n in grouped) for n in names
        ) if names else ()
        reference, reference_source = self.reference(data.get("reference"), names, focal)

        if self.problems:
            raise ScenarioError(self.problems, self.source)
        own = tuple(Group(name=c.name, agents=c.agents, skills={c.name: 1},
                          cost_per_agent_hour=c.cost_per_agent_hour, label=c.label, own=True)
                    for c in channels if c.agents is not None)
        scenario = Scenario(
            name=name, description=description, focal_channel=focal,
            max_contacts=max_contacts, run=run, arrivals=arrivals,
            channels=channels, reference=reference, reference_source=reference_source,
            source=self.source, data=copy.deepcopy(dict(data)), groups=groups + own,
        )
        return _with_derived_warmup(scenario) if run.warmup_derived else scenario

    def groups(self, value: Any, channel_table: Mapping[str, Any]) -> tuple[Group, ...]:
        """The ``[groups.NAME]`` tables: agents who answer several channels by priority."""
        if value is None:
            return ()
        if not isinstance(value, Mapping):
            self.fail("groups", f"must be tables [groups.NAME]; got {value!r}")
            return ()
        if len(value) > MAX_CHANNELS:
            self.fail("groups", f"at most {format_bound(MAX_CHANNELS)} groups; got {len(value):,}")
            return ()
        live = [n for n, t in channel_table.items()
                if not (isinstance(t, Mapping) and t.get("agents") == "unlimited")]
        groups = []
        for name, t in value.items():
            path = f"groups.{name}"
            if not CHANNEL_NAME.match(name):
                self.fail(path, "group names start with a letter and use letters, digits, _ or -")
            elif isinstance(channel_table.get(name), Mapping) and "agents" in channel_table[name]:
                self.fail(path, f"{name!r} is also a channel with its own agents (that is a group of its "
                          "own); give the group another name")
            if not isinstance(t, Mapping):
                self.fail(path, f"must be a table; got {t!r}")
                continue
            self.table(t, path, GROUP_KEYS)
            agents = self.staffing(t.get("agents"), f"{path}.agents", allow_unlimited=False)
            skills = self.skills(t.get("skills"), f"{path}.skills", live, channel_table)
            self.claimed_by_groups.update(skills or ())
            reserve = {}
            raw_reserve = t.get("reserve", {})
            if not isinstance(raw_reserve, Mapping):
                self.bad(f"{path}.reserve", "a table of channel = agents kept idle, e.g. { email = 2 }",
                         raw_reserve)
            else:
                for channel, r in raw_reserve.items():
                    if skills is not None and channel not in skills:
                        self.unknown_name(f"{path}.reserve.{channel}", "skill", channel, skills,
                                          "the group's skills")
                    elif (number := self.integer(r, f"{path}.reserve.{channel}", 0, MAX_AGENTS)) is not None:
                        reserve[channel] = number
            cost = self.number(t.get("cost_per_agent_hour", 0.0), f"{path}.cost_per_agent_hour", low=0,
                               high=MAX_COST)
            shrinkage = self.number(t.get("shrinkage", 0.0), f"{path}.shrinkage", low=0, high=0.95)
            if agents is not None and shrinkage is not None:
                peak = max(agents) if isinstance(agents, tuple) else agents
                on_duty = Group(name, agents=peak, skills={}, shrinkage=shrinkage).on_duty_in_hour(0)
                staff = f"{on_duty} on duty" + (f" ({peak} scheduled less {shrinkage * 100:g} % shrinkage, rounded)"
                                                if on_duty != peak else "")
                for channel, r in reserve.items():
                    if r >= on_duty:  # an agent takes it only while r others stay idle: never
                        self.fail(f"{path}.reserve.{channel}",
                                  f"keeps {r} agent(s) idle, but the group has at most {staff}, so it "
                                  f"would never answer {channel}; allowed: 0 to {max(on_duty - 1, 0)}")
            label = t.get("label", "")
            if not isinstance(label, str):
                self.fail(f"{path}.label", f"must be a string; got {label!r}")
                label = ""
            if None not in (agents, skills, cost, shrinkage):
                groups.append(Group(name=name, agents=agents, skills=skills, reserve=reserve,
                                    cost_per_agent_hour=cost, shrinkage=shrinkage, label=label))
        return tuple(groups)

    def skills(self, value: Any, path: str, live: list[str],
               channel_table: Mapping[str, Any]) -> dict[str, int] | None:
        """A group's ``skills``: staffed channel -> priority (a whole number >= 1)."""
        if not isinstance(value, Mapping) or not value:
            self.bad(path, "a table of channel = priority (1 = highest), e.g. { phone = 1, email = 2 }", value)
            return None
        skills = {}
        for channel, priority in value.items():
            if channel not in channel_table:
                self.unknown_name(f"{path}.{channel}", "channel", channel, channel_table, "channels")
            elif channel not in live:
                self.fail(f"{path}.{channel}", "self-service (agents = \"unlimited\") has no agents to share")
            elif not is_whole_number(priority) or priority < 1:
                self.bad(f"{path}.{channel}", "a priority, a whole number >= 1 (1 = highest)", priority)
            else:
                skills[channel] = priority
        return skills if len(skills) == len(value) else None

    def staffing(self, value: Any, path: str, allow_unlimited: bool) -> int | tuple[int, ...] | None:
        """Agents: a whole number >= 1, or 24 (168) hourly levels; ``"unlimited"`` where allowed."""
        if isinstance(value, list):
            return self.hourly(value, path, number=False)
        if is_whole_number(value) and 1 <= value <= MAX_AGENTS:
            return value
        self.bad(path, f"a whole number from 1 to {format_bound(MAX_AGENTS)}, a list of 24 (or 168) hourly "
                 "staffing levels" + (', or "unlimited"' if allow_unlimited else ""), value)
        return None

    def run_settings(self, value: Any) -> RunSettings:
        t = self.table(value, "run", RUN_KEYS)
        default = RunSettings()
        days = self.number(t.get("days", default.days), "run.days", low=0, low_open=True, high=MAX_DAYS)
        warmup = t.get("warmup_hours", AUTO)
        if warmup != AUTO:
            if is_number(warmup) and 0 <= warmup <= MAX_WARMUP_HOURS:
                warmup = float(warmup)
            else:
                self.bad("run.warmup_hours", f'{a_number(warmup)} from 0 to {MAX_WARMUP_HOURS:,}, or "{AUTO}" to '
                         'derive it from the scenario', warmup)
                warmup = 0.0
        reps = self.integer(t.get("replications", default.replications), "run.replications", 1, MAX_REPLICATIONS)
        seed = self.integer(t.get("seed", default.seed), "run.seed", 0)
        derived = warmup == AUTO
        return RunSettings(days or 1.0, 0.0 if derived else warmup, reps or 1, seed or 0, warmup_derived=derived)

    def arrivals(self, value: Any, names: tuple[str, ...]) -> Arrivals | None:
        if value is None:
            self.fail("arrivals", "missing; needed: an [arrivals] table with per_hour and first_channel")
            return None
        t = self.table(value, "arrivals", ARRIVAL_KEYS)
        per_hour = self.number(t.get("per_hour"), "arrivals.per_hour", low=MIN_PER_HOUR, high=MAX_PER_HOUR)
        profile = None
        if "hourly_profile" in t:
            profile = self.hourly(t["hourly_profile"], "arrivals.hourly_profile", number=True)
        day_cv = self.number(t.get("day_to_day_cv", 0.0), "arrivals.day_to_day_cv", low=0, high=2)
        if "first_channel" not in t:
            self.fail("arrivals.first_channel", "missing; needed: the share of customers starting in each channel")
            first = None
        else:
            first = self.row(t["first_channel"], "arrivals.first_channel", names) if names else None
        if per_hour is None or first is None or day_cv is None:
            return None
        return Arrivals(per_hour, first, profile, day_cv)

    def hourly(self, value: Any, path: str, number: bool) -> tuple | None:
        """24 hourly weights (``number``) or staffing levels (whole numbers up to :data:`MAX_AGENTS`)."""
        what = "finite numbers >= 0" if number else f"whole numbers from 0 to {format_bound(MAX_AGENTS)}"
        high = math.inf if number else MAX_AGENTS
        check = is_number if number else is_whole_number
        if not isinstance(value, list) or len(value) not in (DAY_HOURS, WEEK_HOURS):
            got = f"{len(value)} values" if isinstance(value, list) else repr(value)
        else:
            wrong = [(hour, v) for hour, v in enumerate(value) if not (check(v) and 0 <= v <= high)]
            got = f"{wrong[0][1]!r} for hour {wrong[0][0]}" if wrong else ""
        if got:
            self.fail(path, f"must be a list of 24 {what}, one per hour from 0:00, or 168 for a week "
                      f"from Monday 0:00; got {got}")
            return None
        if sum(value) <= 0:
            self.fail(path, "must have at least one hour above zero")
            return None
        return tuple(float(v) for v in value) if number else tuple(value)

    def channel(self, name: str, value: Any, targets: tuple[str, ...],
                retry_delay: Distribution | None, grouped: bool = False) -> Channel | None:
        path = f"channels.{name}"
        t = self.table(value, path, CHANNEL_KEYS)
        if not isinstance(value, Mapping):
            return None

        agents_value = t.get("agents")
        agents: int | tuple[int, ...] | None = None
        if grouped:
            if agents_value is not None:
                self.fail(f"{path}.agents", "the channel is answered by a [groups.NAME] table (its skills "
                          "name it); remove its own agents, or remove it from the group's skills")
        elif agents_value is None:
            self.fail(f"{path}.agents", f'missing; needed: a whole number from 1 to {format_bound(MAX_AGENTS)}, a '
                      'list of 24 (or 168) hourly '
                      'staffing levels, or "unlimited" — or a [groups.NAME] table whose skills include '
                      f'{name!r}')
        elif agents_value != "unlimited":
            agents = self.staffing(agents_value, f"{path}.agents", allow_unlimited=True)
        unlimited = agents_value == "unlimited"

        if "handle_time" not in t:
            self.fail(f"{path}.handle_time", 'missing; needed: a distribution, e.g. '
                      '{ dist = "exponential", mean = 5.0 }')
            handle = None
        else:
            handle = self.distribution(t["handle_time"], f"{path}.handle_time")
        patience = None
        if "patience" in t:
            if unlimited:
                self.fail(f"{path}.patience", "self-service (agents = \"unlimited\") has no queue to abandon")
            else:
                patience = self.distribution(t["patience"], f"{path}.patience")
        own_retry = retry_delay
        if "retry_delay" in t:
            own_retry = self.distribution(t["retry_delay"], f"{path}.retry_delay")

        resolve = self.probability(t.get("resolve"), f"{path}.resolve")
        nxt = self.row(t.get("next"), f"{path}.next", targets)
        after_abandon = nxt
        if "next_after_abandon" in t:
            after_abandon = self.row(t["next_after_abandon"], f"{path}.next_after_abandon", targets)

        open_hours = None
        if "open_hours" in t:
            oh = t["open_hours"]
            if (not isinstance(oh, list) or len(oh) != 2 or not all(is_number(h) and 0 <= h <= 24 for h in oh)
                    or oh[0] % 24 == oh[1] % 24):
                self.fail(f"{path}.open_hours", "must be [open, close] with hours in 0-24, e.g. [8, 20] "
                          f"([22, 6] spans midnight; omit it for always open); got {oh!r}")
            else:
                open_hours = (float(oh[0]), float(oh[1]))

        is_async = t.get("async", False)
        if not isinstance(is_async, bool):
            self.fail(f"{path}.async", f"must be true or false; got {is_async!r}")
            is_async = False
        if is_async and unlimited:
            self.fail(f"{path}.async", "an asynchronous channel needs agents to answer its backlog")

        cost_contact = self.number(t.get("cost_per_contact", 0.0), f"{path}.cost_per_contact", low=0, high=MAX_COST)
        cost_hour = self.number(t.get("cost_per_agent_hour", 0.0), f"{path}.cost_per_agent_hour", low=0,
                                high=MAX_COST)
        if unlimited and cost_hour:
            self.fail(f"{path}.cost_per_agent_hour", "self-service has no agents; use cost_per_contact")
        default_sl = DEFAULT_ASYNC_SERVICE_LEVEL_SECONDS if is_async else DEFAULT_SERVICE_LEVEL_SECONDS
        sl = self.number(t.get("service_level_seconds", default_sl), f"{path}.service_level_seconds",
                         low=0, low_open=True, high=MAX_MINUTES * 60)
        label = t.get("label", "")
        if not isinstance(label, str):
            self.fail(f"{path}.label", f"must be a string; got {label!r}")
        if grouped and cost_hour:
            self.fail(f"{path}.cost_per_agent_hour", "the channel is answered by agent groups; "
                      "set cost_per_agent_hour on the group")

        concurrency = 1
        if "concurrency" in t:
            if unlimited:
                self.fail(f"{path}.concurrency", "self-service has no agents to hold several contacts")
            else:
                concurrency = self.integer(t["concurrency"], f"{path}.concurrency", 1, high=MAX_CONCURRENCY)
        slowdown = None
        if "concurrency_slowdown" in t:
            raw = t["concurrency_slowdown"]
            if (concurrency is not None and (not isinstance(raw, list) or len(raw) != concurrency
                                             or not all(is_number(v) and 0 < v <= 100 for v in raw))):
                self.fail(f"{path}.concurrency_slowdown", f"must be a list of {concurrency} factors in (0, 100], "
                          "by how much handle times stretch while an agent holds 1, 2, ... contacts "
                          f"(one per contact up to concurrency = {concurrency}); got {raw!r}")
            elif concurrency is not None:
                slowdown = tuple(float(v) for v in raw)
        callback = None
        if "callback" in t:
            callback = self.callback(t["callback"], f"{path}.callback", unlimited, is_async)

        if None in (handle, resolve, nxt, after_abandon, cost_contact, cost_hour, sl, concurrency):
            return None
        return Channel(
            name=name, handle_time=handle, resolve=resolve, next=nxt,
            next_after_abandon=after_abandon, agents=agents, patience=patience,
            open_hours=open_hours, is_async=is_async, retry_delay=own_retry,
            cost_per_contact=cost_contact, cost_per_agent_hour=cost_hour,
            service_level_seconds=sl, label=label if isinstance(label, str) else "",
            served_by_groups=grouped, concurrency=concurrency, concurrency_slowdown=slowdown,
            callback=callback,
        )

    def callback(self, value: Any, path: str, unlimited: bool, is_async: bool) -> Callback | None:
        """A live channel's ``callback`` offer."""
        if unlimited or is_async:
            what = "self-service" if unlimited else "an asynchronous channel"
            self.fail(path, f"{what} has no live queue to offer a call back from")
            return None
        if not isinstance(value, Mapping):
            self.bad(path, "a table { offer_when_wait_above = MINUTES, accept = SHARE, within_minutes = MINUTES }",
                     value)
            return None
        self.table(value, path, CALLBACK_KEYS)
        offer = self.number(value.get("offer_when_wait_above"), f"{path}.offer_when_wait_above", low=0,
                            high=MAX_MINUTES)
        accept = self.probability(value.get("accept"), f"{path}.accept")
        within = self.number(value.get("within_minutes"), f"{path}.within_minutes", low=0, low_open=True,
                             high=MAX_MINUTES)
        if None in (offer, accept, within):
            return None
        return Callback(offer, accept, within)

    def reference(self, value: Any, names: tuple[str, ...], focal: str) -> tuple[dict[str, float], str]:
        t = self.table(value, "reference", REFERENCE_KEYS)
        source = t.get("source", "")
        if not isinstance(source, str):
            self.fail("reference.source", f"must be a string; got {source!r}")
            source = ""
        figures = {}
        raw = t.get("figures", {})
        if not isinstance(raw, Mapping):
            self.fail("reference.figures", f"must be a table of KPI = value; got {raw!r}")
        else:
            for key, v in raw.items():
                num = self.figure(key, v, names, focal)
                if num is not None:
                    figures[key] = num
        return figures, source

    def figure(self, key: str, value: Any, names: tuple[str, ...], focal: str) -> float | None:
        """A published figure: named as contactflow reports it (see
        :func:`~simulator.figures.figure_index`), a share in [0, 1] or a number >= 0."""
        path = f'reference.figures."{key}"' if "." in key else f"reference.figures.{key}"
        if isinstance(value, Mapping):  # before_call.email = 0.1 unquoted is a table in TOML
            example = f"{key}.{next(iter(value), 'CHANNEL')}"
            self.fail(path, f'must be a number; got a table (quote a figure name with dots: "{example}" = ...)')
            return None
        try:
            table, column, metric = figure_index(key)
        except KeyError:
            prefixes = ("before_call", "after_call", "channels", "groups")
            first = key.split(".")[0]
            hint = "" if first in prefixes else did_you_mean(first, prefixes)
            self.fail(path, f"not a figure name{'; ' + hint if hint else ''} ({FIGURE_HELP})")
            return None
        columns = table_columns(names, focal)
        checks = {  # (what, name, allowed, how the allowed are listed)
            "kpis": [("KPI", metric, KPI_NAMES, "KPIs")],
            "channels": [("channel", column, columns["channels"], "channels"),
                         ("channel metric", metric, ALL_CHANNEL_METRICS, "metrics")],
            "groups": [],
            "before_call": [("before_call column", column, columns["before_call"],
                             f"columns, the channels other than the focal {focal}")],
            "after_call": [("after_call column", column, columns["after_call"], "columns")],
        }[table] if names or table == "kpis" else []  # no channels: reported already
        wrong = next((check for check in checks if check[1] not in check[2]), None)
        if wrong:
            self.unknown_name(path, *wrong)
        if not is_share(metric):
            number = self.number(value, path, low=0)
        elif is_number(value) and 0 <= value <= 1:
            number = float(value)
        else:
            number = None
            self.bad(path, "a share in [0, 1], e.g. 0.7 for 70 %", value)
        return None if wrong else number
