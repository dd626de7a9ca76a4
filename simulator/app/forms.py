"""The web app's forms as plain data: which fields a scenario shows, and what the widgets send back.

No Shiny here, so all of it is tested without a browser. A scenario is shown
as :class:`Section` s of :class:`Field` s, built from the scenario by the
tables below (one line per field: a new scenario field is one more line; a new
named table such as ``[groups.NAME]`` is one entry in :data:`SECTIONS`).
Each field has the dotted path ``Scenario.with_changes`` takes, a ``kind``
saying how it is edited, and its current value in the scenario file's form.

Adding or removing an agent group changes the form itself: the app keeps a
*draft* (the scenario data with the groups added or removed and the edits
made so far, :func:`add_group`, :func:`remove_group`, :func:`form_draft`) and
builds the sections from it; :func:`apply_form` still validates the whole
form against the scenario as loaded.

The app reads its widgets back with :func:`form_changes`, which returns the
fields whose value differs from the scenario's; :func:`apply_form` sends them
to :meth:`~simulator.scenario.Scenario.with_changes`, the same validation as
``contactflow run --set``, so a bad value gets the command line's wording, and
:func:`problems_by_field` puts each problem next to its field.

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("bank_app_first")
>>> sections = scenario_sections(sc)
>>> [s.title for s in sections][:4]
['Scenario', 'Run', 'Arrivals', 'Channel: Mobile app (app)']
>>> values = {("channels.chat.agents", "count"): 25, ("channels.chat.agents", "mode"): "fixed"}
>>> read = form_reader(sections, values)
>>> form_changes(sections, read)
{'channels.chat.agents': 25}
>>> apply_form(sc, sections, read).scenario.channel("chat").agents
25
"""

from __future__ import annotations

import copy
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from ..distributions import DISTRIBUTIONS, Distribution
from ..figures import DAY_NAMES
from ..scenario import (AUTO, CHANNEL_NAME, DAY_HOURS, GIVE_UP, WEEK_HOURS, Problem, Scenario, ScenarioError,
                        parse_value, set_path)

__all__ = [
    "FieldSpec", "Field", "Section", "FormResult", "SECTIONS", "KINDS", "NONE",
    "scenario_sections", "all_fields", "widget_id", "form_reader", "field_value", "form_changes",
    "apply_form", "problems_by_field", "routing_fields", "routing_frame", "edit_row", "row_sum",
    "hourly_frame", "edit_hour", "resize_plan", "numeric_fields", "sweep_range", "HOURS", "WEEK_DAYS",
    "form_draft", "draft_changes", "add_group", "remove_group", "group_channels",
]

HOURS = DAY_HOURS
#: The rows of a weekly plan (a week starts on Monday at 0:00, like every run).
WEEK_DAYS = DAY_NAMES
#: The choice that leaves an optional field out (patience: waits forever; retry delay: the scenario's).
NONE = "none"

#: How each kind of field is edited, and the parts (widgets) it reads.
KINDS = {
    "text": ("",),
    "warmup": ("",),  # hours, or "auto"
    "number": ("",),
    "integer": ("",),
    "probability": ("",),
    "bool": ("",),
    "choice": ("",),  # one of Field.choices
    "agents": ("mode", "count", "plan"),  # "unlimited" | "fixed" | "hourly" | "groups"; count; 24 or 168 levels
    "group_agents": ("mode", "count", "plan"),  # "fixed" | "hourly"
    "distribution": ("dist", "mean", "cv", "value", "low", "high", "values"),
    "optional_distribution": ("dist", "mean", "cv", "value", "low", "high", "values"),
    "open_hours": ("mode", "open", "close"),  # "always" | "hours"
    "row": ("",),  # a probability row, edited in the routing table
    "optional_row": ("",),
    "hourly": ("mode", "plan"),  # "flat" | "profile"; 24 or 168 weights, edited in the hourly table
    "skills": (),  # one part per staffed channel (Field.choices): its priority, empty = not a skill
    "reserve": (),  # one part per staffed channel: agents kept idle, empty = none
    "callback": ("mode", "offer_when_wait_above", "accept", "within_minutes"),  # "none" | "offer"
    "factors": ("",),  # a list of numbers typed as "1, 1.2, 1.45"; empty = none
}
NUMBER_KINDS = ("number", "integer", "probability")
ROW_KINDS = ("row", "optional_row")
DISTRIBUTION_KINDS = ("distribution", "optional_distribution")
AGENT_KINDS = ("agents", "group_agents")
#: Kinds edited as one number per staffed channel (the parts are the channel names).
CHANNEL_MAP_KINDS = ("skills", "reserve")
#: Kinds a scenario may leave out (their value is None then).
OPTIONAL_KINDS = ("optional_distribution", "optional_row", "hourly", "open_hours", "reserve", "callback", "factors")
#: The agents of a channel: its own (a number or a plan), none (self-service), or agent groups'.
AGENT_MODES = {"unlimited": "self-service (unlimited)", "fixed": "a fixed number", "hourly": "an hourly plan",
               "groups": "answered by agent groups"}
GROUP_AGENT_MODES = {"fixed": "a fixed number", "hourly": "an hourly plan"}
CALLBACK_MODES = {NONE: "no call back", "offer": "offer a call back"}
#: What a call-back offer starts at when the form switches one on.
CALLBACK_START = {"offer_when_wait_above": 2.0, "accept": 0.5, "within_minutes": 60.0}
HOUR_MODES = {"always": "always open", "hours": "from ... to ..."}
PROFILE_MODES = {"flat": "the same every hour", "profile": "an hourly profile"}
#: Parameters of each distribution, in the order the form shows them.
DISTRIBUTION_PARAMS = {name: cls.params for name, cls in DISTRIBUTIONS.items()}


@dataclass(frozen=True)
class FieldSpec:
    """One line of a section's table: the key in the scenario table, its label, how it is edited, a hint."""

    key: str
    label: str
    kind: str
    help: str = ""
    #: The value shown when the file leaves the field out and no validated object says it.
    default: Any = None


SCENARIO_FIELDS = (
    FieldSpec("name", "Name", "text"),
    FieldSpec("description", "Description", "text"),
    FieldSpec("focal_channel", "Focal channel (the call centre)", "choice",
              "the channel whose contacts count as calls for the avoidable-call figures"),
    FieldSpec("max_contacts", "Most contacts per journey", "integer", "a journey ends in give-up after this many"),
    FieldSpec("retry_delay", "Delay before the next contact (min)", "optional_distribution",
              "time between an unanswered contact and the next; none: at once"),
)
RUN_FIELDS = (
    FieldSpec("days", "Days measured", "number", "simulated after the warm-up"),
    FieldSpec("warmup_hours", "Warm-up (hours)", "warmup",
              "simulated but not counted; auto: derived from the scenario"),
    FieldSpec("replications", "Replications", "integer"),
    FieldSpec("seed", "Seed", "integer"),
)
ARRIVAL_FIELDS = (
    FieldSpec("per_hour", "New customers per hour (mean over the day)", "number"),
    FieldSpec("hourly_profile", "Over the day (or the week)", "hourly",
              "weights by hour, any scale; edited in the hourly plans"),
    FieldSpec("day_to_day_cv", "Day-to-day variation (CV)", "number",
              "each day's demand is scaled by a random factor with this coefficient of variation "
              "(forecast error); 0: none", 0.0),
    FieldSpec("first_channel", "First channel", "row", "edited in the routing table"),
)
CHANNEL_FIELDS = (
    FieldSpec("label", "Label", "text", default=""),
    FieldSpec("agents", "Agents", "agents", "a number, an hourly plan (edited in the hourly plans), "
              "self-service, or the agents of groups whose skills name the channel"),
    FieldSpec("concurrency", "Concurrency (contacts an agent holds at once)", "integer",
              "chat: 2 or 3; 1: one at a time", 1),
    FieldSpec("concurrency_slowdown", "Slowdown while holding 1, 2, ... contacts", "factors",
              "one factor per contact up to the concurrency, e.g. 1, 1.2, 1.45; empty: none"),
    FieldSpec("callback", "Call back", "callback",
              "offered to callers whose expected wait (min) exceeds the threshold"),
    FieldSpec("async", "Asynchronous (a backlog, like email)", "bool", default=False),
    FieldSpec("open_hours", "Opening hours", "open_hours", "[22, 6] spans midnight"),
    FieldSpec("handle_time", "Handle time (min)", "distribution"),
    FieldSpec("patience", "Patience (min)", "optional_distribution", "none: customers wait as long as it takes"),
    FieldSpec("resolve", "Resolves (probability)", "probability", "share of contacts served that answer the need"),
    FieldSpec("next", "Next after an unanswered contact", "row", "edited in the routing table"),
    FieldSpec("next_after_abandon", "Next after abandoning", "optional_row", "edited in the routing table"),
    FieldSpec("retry_delay", "Delay before the next contact (min)", "optional_distribution",
              "none: the scenario's"),
    FieldSpec("cost_per_contact", "Cost per contact", "number", default=0.0),
    FieldSpec("cost_per_agent_hour", "Cost per agent hour", "number", "of the channel's own agents", 0.0),
    FieldSpec("service_level_seconds", "Service-level target (s)", "number", "empty: the default"),
)
GROUP_FIELDS = (
    FieldSpec("label", "Label", "text", default=""),
    FieldSpec("agents", "Agents (scheduled, paid)", "group_agents",
              "a number or an hourly plan (edited in the hourly plans)"),
    FieldSpec("skills", "Skills: priority by channel", "skills",
              "1 = highest; equal numbers: first come first served across those channels; "
              "empty: not a skill"),
    FieldSpec("reserve", "Reserve: agents kept idle", "reserve",
              "take a contact of the channel only while this many agents stay idle; empty: none"),
    FieldSpec("cost_per_agent_hour", "Cost per agent hour", "number", default=0.0),
    FieldSpec("shrinkage", "Shrinkage", "number",
              "share of paid hours not available (breaks, training, absence), 0 to 0.95", 0.0),
)

#: ``(table, title, fields)``: the sections, in the order shown. ``NAME.*`` repeats for each entry of
#: the table ``NAME`` (one section per channel); ``""`` is the top level of the scenario.
SECTIONS: tuple[tuple[str, str, tuple[FieldSpec, ...]], ...] = (
    ("", "Scenario", SCENARIO_FIELDS),
    ("run", "Run", RUN_FIELDS),
    ("arrivals", "Arrivals", ARRIVAL_FIELDS),
    ("channels.*", "Channel", CHANNEL_FIELDS),
    ("groups.*", "Agent group", GROUP_FIELDS),
)
#: Attributes of the validated objects named differently from their key in the file.
_ATTRIBUTES = {"async": "is_async"}


@dataclass(frozen=True)
class Field:
    """A field of the form: its path in the scenario, how it is edited and its value as the file has it.

    ``choices`` are the options of a ``choice``, the channels of ``skills`` and
    ``reserve``; ``period`` is the length (24 or 168) of a new hourly plan.
    """

    path: str
    label: str
    kind: str
    value: Any
    help: str = ""
    choices: tuple[str, ...] = ()
    period: int = HOURS

    @property
    def parts(self) -> tuple[str, ...]:
        """The widgets this field reads (see :data:`KINDS`; a channel each for skills and reserve)."""
        return self.choices if self.kind in CHANNEL_MAP_KINDS else KINDS[self.kind]


@dataclass(frozen=True)
class Section:
    """A group of fields: ``key`` is the table they edit (``channels.chat``), ``title`` its heading."""

    key: str
    title: str
    fields: tuple[Field, ...]


def _file_form(value: Any) -> Any:
    """A validated object's value as a scenario file writes it."""
    if isinstance(value, Distribution):
        return value.to_spec()
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, Mapping):
        return dict(value)
    return value


def _current(spec: FieldSpec, table: Mapping[str, Any], obj: Any) -> Any:
    """The value a field shows: the file's, else the default the validated object took, else the spec's
    (optional kinds, and a channel's agents left out because groups answer it: None)."""
    if spec.key in table:
        return table[spec.key]
    if spec.kind == "warmup":
        return AUTO
    if spec.kind in OPTIONAL_KINDS or spec.kind == "agents":
        return None
    if obj is None:
        return spec.default
    return _file_form(getattr(obj, _ATTRIBUTES.get(spec.key, spec.key), spec.default))


def _objects(scenario: Scenario, table: str) -> Mapping[str, Any]:
    """The validated objects of a table, by name (``channels`` -> each Channel; ``""`` the scenario)."""
    if table == "channels":
        return {c.name: c for c in scenario.channels}
    if table == "groups":
        return {g.name: g for g in scenario.groups if not g.own}
    return {"": {"": scenario}, "run": {"": scenario.run}, "arrivals": {"": scenario.arrivals}}.get(table, {})


def draft_period(data: Mapping[str, Any]) -> int:
    """168 when any hourly list of the scenario data covers a week, else 24 (as ``Scenario.period_hours``).

    Examples
    --------
    >>> draft_period({"arrivals": {"hourly_profile": [1] * 168}, "channels": {}})
    168
    """
    lists = [(data.get("arrivals") or {}).get("hourly_profile")]
    for table in ("channels", "groups"):
        lists += [t.get("agents") for t in (data.get(table) or {}).values() if isinstance(t, Mapping)]
    return WEEK_HOURS if any(isinstance(v, list) and len(v) == WEEK_HOURS for v in lists) else DAY_HOURS


def group_channels(data: Mapping[str, Any]) -> list[str]:
    """The channels agents can answer (all but self-service), in the scenario's order.

    Examples
    --------
    >>> import simulator as sim
    >>> group_channels(sim.load_scenario("nice_bcg_2016").to_dict())
    ['email', 'chat', 'phone']
    """
    return [name for name, t in (data.get("channels") or {}).items()
            if not (isinstance(t, Mapping) and t.get("agents") == "unlimited")]


def scenario_sections(scenario: Scenario, draft: Mapping[str, Any] | None = None) -> list[Section]:
    """The form of a scenario: one section per entry of :data:`SECTIONS` (per channel for ``channels.*``,
    per agent group for ``groups.*``).

    ``draft`` is the scenario data as the form has it after adding or removing
    groups (default: the scenario's own); the fields show its values, with the
    defaults of the validated draft, or of ``scenario`` where the table is as
    it was.

    Examples
    --------
    >>> import simulator as sim
    >>> sections = scenario_sections(sim.load_scenario("bank_app_first"))
    >>> phone = next(s for s in sections if s.key == "channels.phone")
    >>> [(f.path, f.value) for f in phone.fields if f.kind == "agents"]
    [('channels.phone.agents', 20)]
    """
    data = scenario.to_dict() if draft is None else draft
    shown = scenario
    if draft is not None:
        try:
            shown = Scenario.from_dict(draft, scenario.source)
        except ScenarioError:
            pass
    reference = shown.to_dict()
    period = draft_period(data)
    sections = []
    for key, title, specs in SECTIONS:
        if key.endswith(".*"):
            table = key[:-2]
            objects = _objects(shown, table)
            tables = [(f"{table}.{name}", name, values, (reference.get(table) or {}).get(name), objects.get(name))
                      for name, values in (data.get(table) or {}).items()]
        else:
            values = data if key == "" else (data.get(key) or {})
            before = reference if key == "" else (reference.get(key) or {})
            tables = [(key, "", values, before, _objects(shown, key).get(""))]
        for section_key, name, values, before, obj in tables:
            values = values if isinstance(values, Mapping) else {}
            same = isinstance(before, Mapping) and all(values.get(s.key) == before.get(s.key) for s in specs)
            obj = obj if same else None
            heading = title
            if name:
                label = getattr(obj, "display_name", None) or values.get("label") or name
                heading = f"{title}: {label} ({name})" if label != name else f"{title}: {name}"
            sections.append(_section(section_key, heading, specs, values, obj, data, period))
    return sections


def _section(key: str, title: str, specs: Sequence[FieldSpec], table: Mapping[str, Any], obj: Any,
             data: Mapping[str, Any], period: int) -> Section:
    fields = []
    for spec in specs:
        path = f"{key}.{spec.key}" if key else spec.key
        value = _current(spec, table, obj)
        choices: tuple[str, ...] = ()
        if spec.kind == "choice":
            choices = tuple(data.get("channels") or ())
        elif spec.kind in CHANNEL_MAP_KINDS:
            named = list(value) if isinstance(value, Mapping) else []
            choices = tuple(dict.fromkeys([*group_channels(data), *named]))
        fields.append(Field(path, spec.label, spec.kind, value, spec.help, choices, period))
    return Section(key, title, tuple(fields))


def all_fields(sections: Iterable[Section]) -> list[Field]:
    """Every field of the sections, in order."""
    return [f for s in sections for f in s.fields]


# --------------------------------------------------------------------------- widgets


def widget_id(path: str, part: str = "") -> str:
    """A widget id for a field's part, safe for HTML and Shiny and one-to-one with ``(path, part)``.

    Letters and digits are kept; every other character becomes ``_`` and its
    hex code, so channel names with ``-`` or ``_`` cannot collide.

    Examples
    --------
    >>> widget_id("channels.chat.agents", "count")
    'f_channels_2echat_2eagents__count'
    >>> widget_id("channels.live_chat.resolve") != widget_id("channels.live.chat_resolve")
    True
    """
    safe = re.sub(r"[^A-Za-z0-9]", lambda m: f"_{ord(m.group()):02x}", path)
    return f"f_{safe}" + (f"__{part}" if part else "")


def initial_parts(f: Field) -> dict[str, Any]:
    """What each widget of a field shows at first, by part.

    Examples
    --------
    >>> initial_parts(Field("channels.chat.agents", "Agents", "agents", 20))["mode"]
    'fixed'
    >>> initial_parts(Field("groups.desk.skills", "Skills", "skills", {"chat": 2}, choices=("chat", "phone")))
    {'chat': 2, 'phone': None}
    """
    v = f.value
    if f.kind in AGENT_KINDS:
        mode = ("unlimited" if v == "unlimited" else "hourly" if isinstance(v, list)
                else "groups" if v is None and f.kind == "agents" else "fixed")
        count = max(v) if isinstance(v, list) and v else (v if isinstance(v, int) else 1)
        plan = list(v) if isinstance(v, list) else [count] * f.period
        return {"mode": mode, "count": count, "plan": plan}
    if f.kind in DISTRIBUTION_KINDS:
        spec = v if isinstance(v, Mapping) else {}
        parts: dict[str, Any] = {"dist": spec.get("dist", NONE if f.kind == "optional_distribution"
                                                   else "exponential")}
        for p in ("mean", "cv", "value", "low", "high"):
            parts[p] = spec.get(p, _DEFAULT_PARAMS[p])
        parts["values"] = _list_text(spec.get("values"))
        return parts
    if f.kind == "open_hours":
        hours = v if isinstance(v, list) and len(v) == 2 else None
        return {"mode": "hours" if hours else "always", "open": hours[0] if hours else 8,
                "close": hours[1] if hours else 20}
    if f.kind == "hourly":
        return {"mode": "profile" if isinstance(v, list) else "flat",
                "plan": list(v) if isinstance(v, list) else [1.0] * f.period}
    if f.kind in CHANNEL_MAP_KINDS:
        table = v if isinstance(v, Mapping) else {}
        return {channel: table.get(channel) for channel in f.choices}
    if f.kind == "callback":
        offer = v if isinstance(v, Mapping) else {}
        return {"mode": "offer" if isinstance(v, Mapping) else NONE,
                **{key: offer.get(key, start) for key, start in CALLBACK_START.items()}}
    if f.kind == "factors":
        return {"": _list_text(v)}
    return {"": v}


def _list_text(values: Any) -> str:
    """A list of numbers as typed in a text field: ``1, 1.2, 1.45`` (anything else: empty)."""
    if not isinstance(values, list):
        return ""
    return ", ".join(f"{x:g}" if isinstance(x, (int, float)) and not isinstance(x, bool) else str(x)
                     for x in values)


def _number_list(text: Any) -> list[Any] | str | None:
    """Numbers typed as ``1, 1.2`` (brackets optional) as a list; empty: None; text that is not a
    list stays text, for the library to refuse with its own message."""
    typed = str(text or "").strip()
    inner = typed.removeprefix("[").removesuffix("]").strip()
    if not inner:
        return None
    value = parse_value(f"[{inner}]")
    return value if isinstance(value, list) else typed


_DEFAULT_PARAMS = {"mean": 5.0, "cv": 1.0, "value": 5.0, "low": 1.0, "high": 10.0}


def form_reader(sections: Iterable[Section], values: Mapping[tuple[str, str], Any]) -> Callable[[str, str], Any]:
    """A ``read(path, part)`` over ``values`` (``{(path, part): value}``), falling back to
    :func:`initial_parts`: what an untouched form reads. For tests and scripts; the app reads its widgets."""
    initial = {(f.path, part): value for f in all_fields(sections) for part, value in initial_parts(f).items()}

    def read(path: str, part: str = "") -> Any:
        return values.get((path, part), initial.get((path, part)))

    return read


def _number(value: Any, integer: bool) -> Any:
    """A number widget's value for the scenario: ``""`` when empty (refused with the CLI's wording),
    whole floats as ints where a whole number is wanted, text read as TOML."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ""
    if isinstance(value, str):
        value = parse_value(value)
    if integer and isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def field_value(f: Field, read: Callable[[str, str], Any]) -> Any:
    """The value a field's widgets say, in the scenario file's form (None leaves an optional field out).

    Nothing is checked here: a value the scenario cannot take is passed on as
    it is, for the library to refuse with its own message. An empty number
    where the file has no value leaves the field out (the library's default).

    Examples
    --------
    >>> f = Field("channels.chat.patience", "Patience", "optional_distribution", None)
    >>> field_value(f, lambda path, part: {"dist": "gamma", "mean": 4, "cv": 0.5}.get(part))
    {'dist': 'gamma', 'mean': 4, 'cv': 0.5}
    >>> field_value(f, lambda path, part: "none" if part == "dist" else None) is None
    True
    >>> skills = Field("groups.desk.skills", "Skills", "skills", {"chat": 2}, choices=("chat", "phone"))
    >>> field_value(skills, lambda path, part: {"chat": 2, "phone": 1}[part])
    {'chat': 2, 'phone': 1}
    """
    kind, path = f.kind, f.path
    if kind in NUMBER_KINDS:
        value = _number(read(path, ""), integer=kind == "integer")
        return None if value == "" and f.value is None else value
    if kind == "text":
        value = read(path, "")
        return "" if value is None else str(value)
    if kind == "warmup":
        value = read(path, "")
        if value is None or str(value).strip().lower() in ("", AUTO):
            return AUTO
        return _number(value, integer=False)
    if kind == "bool":
        return bool(read(path, ""))
    if kind == "choice":
        return read(path, "")
    if kind in AGENT_KINDS:
        mode = read(path, "mode")
        if mode == "unlimited":
            return "unlimited"
        if mode == "groups":
            return None
        if mode == "hourly":
            return [_number(v, integer=True) for v in read(path, "plan")]
        return _number(read(path, "count"), integer=True)
    if kind in DISTRIBUTION_KINDS:
        dist = read(path, "dist")
        if dist == NONE:
            return None
        spec: dict[str, Any] = {"dist": dist}
        for p in DISTRIBUTION_PARAMS.get(dist, ()):
            if p == "values":
                spec[p] = _number_list(read(path, "values")) or []
            else:
                spec[p] = _number(read(path, p), integer=False)
        return spec
    if kind == "open_hours":
        if read(path, "mode") == "always":
            return None
        return [_number(read(path, "open"), integer=True), _number(read(path, "close"), integer=True)]
    if kind in ROW_KINDS:
        row = read(path, "")
        return None if row is None else dict(row)
    if kind == "hourly":
        if read(path, "mode") == "flat":
            return None
        return [_number(v, integer=False) for v in read(path, "plan")]
    if kind in CHANNEL_MAP_KINDS:
        table = {channel: _number(read(path, channel), integer=True) for channel in f.choices
                 if not _empty(read(path, channel))}
        return (table or None) if kind == "reserve" else table
    if kind == "callback":
        if read(path, "mode") == NONE:
            return None
        return {key: _number(read(path, key), integer=False) for key in CALLBACK_START}
    if kind == "factors":
        return _number_list(read(path, ""))
    raise ValueError(f"unknown field kind {kind!r} (kinds: {', '.join(KINDS)})")


def form_changes(sections: Iterable[Section], read: Callable[[str, str], Any]) -> dict[str, Any]:
    """``{path: value}`` of the fields whose widgets say something else than the scenario.

    Examples
    --------
    >>> import simulator as sim
    >>> sections = scenario_sections(sim.load_scenario("nice_bcg_2016"))
    >>> form_changes(sections, form_reader(sections, {}))
    {}
    """
    changes = {}
    for f in all_fields(sections):
        value = field_value(f, read)
        if value != f.value:
            changes[f.path] = value
    return changes


def form_draft(draft: Mapping[str, Any], sections: Iterable[Section], read: Callable[[str, str], Any]
               ) -> dict[str, Any]:
    """The scenario data the form says: ``draft`` (the data its sections were built from) with the
    widgets' edits. Not validated: a value the library would refuse is kept as typed.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> sections = scenario_sections(sc)
    >>> form_draft(sc.to_dict(), sections, form_reader(sections, {("run.days", ""): 3}))["run"]["days"]
    3
    """
    data = copy.deepcopy(dict(draft))
    for path, value in form_changes(sections, read).items():
        set_path(data, path, value)
    return data


#: How deep the changes between two scenario dicts go: a channel's or group's field, a run or
#: arrivals field, a top-level field (a whole new group is one change).
_FIELD_DEPTH = {"channels": 2, "groups": 2, "run": 1, "arrivals": 1, "reference": 1}


def draft_changes(base: Mapping[str, Any], draft: Mapping[str, Any]) -> dict[str, Any]:
    """``{path: value}`` that turn the scenario data ``base`` into ``draft``, one per field
    (``None`` removes a field or a table), for :meth:`Scenario.with_changes`.

    Examples
    --------
    >>> base = {"run": {"days": 1}, "channels": {"chat": {"agents": 5, "resolve": 0.5}}}
    >>> draft = {"run": {"days": 2}, "channels": {"chat": {"resolve": 0.5}},
    ...          "groups": {"desk": {"agents": 5, "skills": {"chat": 1}}}}
    >>> draft_changes(base, draft)
    {'run.days': 2, 'channels.chat.agents': None, 'groups': {'desk': {'agents': 5, 'skills': {'chat': 1}}}}
    """
    changes: dict[str, Any] = {}

    def walk(a: Mapping[str, Any], b: Mapping[str, Any], prefix: str, depth: int | None) -> None:
        for key in [*a, *(k for k in b if k not in a)]:
            x, y = a.get(key), b.get(key)
            deeper = _FIELD_DEPTH.get(key, 0) if depth is None else depth
            if deeper > 0 and isinstance(x, Mapping) and isinstance(y, Mapping):
                walk(x, y, f"{prefix}{key}.", deeper - 1)
            elif x != y:
                changes[f"{prefix}{key}"] = copy.deepcopy(y)

    walk(base, draft, "", None)
    return changes


@dataclass(frozen=True)
class FormResult:
    """What the form says: the changed scenario (None when it is not valid), the changes, the problems."""

    scenario: Scenario | None
    changes: Mapping[str, Any]
    problems: tuple[Problem, ...] = field(default=())

    @property
    def valid(self) -> bool:
        return self.scenario is not None


def apply_form(base: Scenario, sections: Iterable[Section], read: Callable[[str, str], Any],
               draft: Mapping[str, Any] | None = None) -> FormResult:
    """The base scenario with the form's changes, validated by the library (as ``--set`` is).

    ``draft`` is the data the sections were built from, when groups were added
    or removed (default: the base's); the changes are always counted from the
    base, one per field (a new group is one change).

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> sections = scenario_sections(sc)
    >>> result = apply_form(sc, sections, form_reader(sections, {("channels.web.resolve", ""): 1.5}))
    >>> result.valid, str(result.problems[0]).split(" (")[0]
    (False, 'channels.web.resolve: must be a probability in [0, 1]; got 1.5')
    """
    sections = list(sections)
    data = base.to_dict()
    changes = draft_changes(data, form_draft(data if draft is None else draft, sections, read))
    if not changes:
        return FormResult(base, changes)
    labels = {f.path: f.label for f in all_fields(sections)}
    labels.update({s.key: s.title for s in sections if s.key})
    origins = {path: f"{labels.get(path, path)} in the form" for path in changes}
    try:
        return FormResult(base.with_changes(changes, origins=origins), changes)
    except ScenarioError as exc:
        return FormResult(None, changes, tuple(exc.problems))


def problems_by_field(problems: Iterable[Problem], sections: Iterable[Section]
                      ) -> tuple[dict[str, list[str]], list[str]]:
    """Each problem under the field it is about: ``({path: [message, ...]}, [problems of no field])``.

    A problem about a part of a field (``channels.chat.handle_time.mean``,
    ``channels.chat.next.phone``) goes to the field, led by that part; one
    about a section but none of its fields (``groups.desk``: its name) goes
    to the section's key. The messages are the library's, as the command line
    prints them.

    Examples
    --------
    >>> import simulator as sim
    >>> sections = scenario_sections(sim.load_scenario("nice_bcg_2016"))
    >>> by_field, other = problems_by_field([Problem("channels.chat.next", "probabilities must sum to 1; "
    ...                                              "they sum to 1.1")], sections)
    >>> by_field
    {'channels.chat.next': ['probabilities must sum to 1; they sum to 1.1']}
    """
    sections = list(sections)
    owners = [f.path for f in all_fields(sections)] + [s.key for s in sections if s.key]
    paths = sorted(owners, key=len, reverse=True)
    by_field: dict[str, list[str]] = {}
    other: list[str] = []
    for problem in problems:
        owner = next((p for p in paths if problem.path == p or problem.path.startswith(p + ".")), None)
        if owner is None:
            other.append(str(problem))
            continue
        rest = problem.path[len(owner) + 1:]
        by_field.setdefault(owner, []).append(f"{rest}: {problem.message}" if rest else problem.message)
    return by_field, other


# --------------------------------------------------------------------------- agent groups


def add_group(draft: Mapping[str, Any], name: str, channels: Sequence[str] = (),
              take_own_agents: bool = True) -> dict[str, Any]:
    """The scenario data with a new agent group ``[groups.NAME]`` answering ``channels`` at priority 1.

    With ``take_own_agents``, those channels' own agents move into the group:
    the channels lose their ``agents`` and ``cost_per_agent_hour``, and the
    group starts with the sum of their agents (hour by hour for plans) at their
    agent-weighted cost per hour. Otherwise the group starts with one agent and
    the channels keep theirs (the library then says which to remove).

    Raises
    ------
    ValueError
        If the name cannot name a group, or a group has it already.

    Examples
    --------
    >>> import simulator as sim
    >>> data = add_group(sim.load_scenario("bank_app_first").to_dict(), "desk", ["messages", "phone"])
    >>> data["groups"]["desk"]["agents"], data["groups"]["desk"]["skills"], "agents" in data["channels"]["phone"]
    (24, {'messages': 1, 'phone': 1}, False)
    """
    name = name.strip()
    groups = draft.get("groups") or {}
    if not CHANNEL_NAME.match(name):
        raise ValueError(f"{name!r} cannot name a group: a name starts with a letter and uses letters, "
                         "digits, _ or -")
    if name in groups:
        raise ValueError(f"there is a group {name!r} already; choose another name")
    data = copy.deepcopy(dict(draft))
    levels, costs = [], []
    for channel in channels if take_own_agents else ():
        table = data["channels"][channel]
        agents = table.get("agents")
        if (isinstance(agents, int) and not isinstance(agents, bool)) or isinstance(agents, list):
            levels.append(table.pop("agents"))
            costs.append(table.pop("cost_per_agent_hour", 0.0))
    table: dict[str, Any] = {"agents": _sum_levels(levels) if levels else 1,
                             "skills": {channel: 1 for channel in channels}}
    if levels:
        weights = [sum(v) / len(v) if isinstance(v, list) else v for v in levels]
        cost = sum(c * w for c, w in zip(costs, weights)) / sum(weights) if sum(weights) else 0.0
        if cost:
            table["cost_per_agent_hour"] = round(cost, 6)
    data.setdefault("groups", {})[name] = table
    return data


def _sum_levels(levels: Sequence[Any]) -> Any:
    """Agents added hour by hour: numbers stay a number; any plan makes a plan (a day tiles over a week)."""
    if all(isinstance(v, int) for v in levels):
        return sum(levels)
    period = max(len(v) for v in levels if isinstance(v, list))
    total = [0] * period
    for v in levels:
        plan = resize_plan(v, period) if isinstance(v, list) else [v] * period
        total = [a + b for a, b in zip(total, plan)]
    return total


def remove_group(draft: Mapping[str, Any], name: str) -> dict[str, Any]:
    """The scenario data without the agent group ``name`` (its channels then need agents: the
    library says so next to each).

    Examples
    --------
    >>> remove_group({"groups": {"desk": {"agents": 3}}, "channels": {}}, "desk")
    {'channels': {}}
    """
    data = copy.deepcopy(dict(draft))
    groups = data.get("groups") or {}
    if name not in groups:
        raise ValueError(f"no group {name!r} to remove (groups: {', '.join(groups) or 'none'})")
    del groups[name]
    if not groups:
        data.pop("groups", None)
    return data


# --------------------------------------------------------------------------- the routing table


def routing_fields(sections: Iterable[Section]) -> list[Field]:
    """The probability rows the routing table shows (an optional row only where the scenario has it)."""
    return [f for f in all_fields(sections) if f.kind in ROW_KINDS and f.value is not None]


def _row_label(path: str) -> str:
    parts = path.split(".")
    if parts[0] == "channels":
        return f"{parts[1]}: {' '.join(parts[2:]).replace('_', ' ')}"
    return path.replace("_", " ").replace(".", ": ")


def row_sum(row: Mapping[str, Any] | None) -> float:
    """The sum of a row's numbers (text that is not a number counts as NaN)."""
    if not row:
        return 0.0
    total = 0.0
    for v in row.values():
        if not isinstance(v, (int, float)) or isinstance(v, bool):
            return math.nan
        total += v
    return total


def routing_frame(rows: Mapping[str, Mapping[str, Any] | None], targets: Sequence[str]) -> pd.DataFrame:
    """The routing table: one line per row path, one column per target, then the row's ``sum``.

    Empty cells are targets the row leaves out (probability 0).

    Examples
    --------
    >>> routing_frame({"channels.chat.next": {"phone": 0.7, "give_up": 0.3}}, ["chat", "phone", "give_up"])
                    row chat phone give_up  sum
    0  chat: next        0.7     0.3  1
    """
    records = []
    for path, row in rows.items():
        row = row or {}
        record = {"row": _row_label(path)}
        for target in targets:
            v = row.get(target)
            record[target] = "" if v is None else f"{v:g}" if isinstance(v, (int, float)) else str(v)
        total = row_sum(row)
        record["sum"] = "?" if math.isnan(total) else f"{total:.6g}"
        records.append(record)
    return pd.DataFrame(records, columns=["row", *targets, "sum"])


def edit_row(row: Mapping[str, Any] | None, target: str, text: Any) -> dict[str, Any]:
    """The row with one cell typed: empty text leaves the target out; anything else is read as TOML
    (a number, or text the library refuses: ``must be a probability in [0, 1]; got 'x'``).

    Examples
    --------
    >>> edit_row({"phone": 0.7, "give_up": 0.3}, "phone", "0.5")
    {'phone': 0.5, 'give_up': 0.3}
    >>> edit_row({"phone": 0.7, "give_up": 0.3}, "give_up", "")
    {'phone': 0.7}
    """
    out = dict(row or {})
    text = "" if text is None else str(text).strip()
    if not text:
        out.pop(target, None)
    else:
        out[target] = parse_value(text)
    return out


def routing_targets(scenario: Scenario) -> list[str]:
    """Where a routing row may send a customer: every channel, then ``give_up``."""
    return [*scenario.channel_names, GIVE_UP]


# --------------------------------------------------------------------------- the hourly table


def _level_text(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) and not isinstance(v, bool) else str(v)


def hourly_frame(plan: Sequence[Any]) -> pd.DataFrame:
    """A plan (agents or arrival weights) as a day-by-hour grid: one row for a day of 24 hours, or
    seven (Monday to Sunday) for a week of 168; one column per hour.

    Examples
    --------
    >>> frame = hourly_frame([3] * 24)
    >>> frame.shape, frame.iloc[0, 0], frame.columns[9], frame.iloc[0, 9]
    ((1, 25), 'every day', '08', '3')
    >>> hourly_frame(list(range(168))).iloc[6, :3].tolist()
    ['Sun', '144', '145']
    """
    days = len(plan) // HOURS
    names = WEEK_DAYS if days == len(WEEK_DAYS) else ("every day",)
    rows = [[names[d], *(_level_text(v) for v in plan[d * HOURS:(d + 1) * HOURS])] for d in range(days)]
    return pd.DataFrame(rows, columns=["day", *(f"{h:02d}" for h in range(HOURS))])


def edit_hour(plan: Sequence[Any], hour: int, text: Any) -> list[Any]:
    """The plan with one hour typed (read as TOML; the library refuses what is not a level).
    ``hour`` counts from the plan's start (Monday 0:00 for a week: day × 24 + hour).

    Examples
    --------
    >>> edit_hour([1] * 24, 9, "12")[8:10]
    [1, 12]
    """
    out = list(plan)
    out[hour] = parse_value(str(text)) if str(text).strip() else ""
    return out


def resize_plan(plan: Sequence[Any], hours: int) -> list[Any]:
    """A plan for a day (24 hours) or a week (168): a day repeats over the week; a week keeps Monday.

    Examples
    --------
    >>> len(resize_plan([2] * 24, 168)), resize_plan(list(range(168)), 24)[-1]
    (168, 23)
    """
    if hours not in (DAY_HOURS, WEEK_HOURS):
        raise ValueError(f"a plan has 24 or 168 hours; got {hours}")
    plan = list(plan)
    if len(plan) == hours:
        return plan
    return plan[:hours] if len(plan) > hours else (plan * (hours // len(plan)))[:hours]


def hourly_label(f: Field) -> str:
    """What a plan is, for the plan picker: ``chat agents``, ``desk agents (group)``, ``arrivals``."""
    parts = f.path.split(".")
    if parts[0] == "channels":
        return f"{parts[1]} agents"
    if parts[0] == "groups":
        return f"{parts[1]} agents (group)"
    return parts[0]


# --------------------------------------------------------------------------- sweeps


def numeric_fields(sections: Iterable[Section]) -> dict[str, str]:
    """Fields a sweep can vary, ``{path: label}``: numbers, probabilities and fixed staffing levels
    (of channels and of agent groups)."""
    out = {}
    for s in sections:
        for f in s.fields:
            fixed_agents = f.kind in AGENT_KINDS and isinstance(f.value, int)
            if (f.kind in NUMBER_KINDS or fixed_agents) and f.path not in ("run.seed", "run.replications"):
                out[f.path] = f"{s.title}: {f.label}"
    return out


def sweep_range(value: float, kind: str) -> tuple[float, float, float]:
    """A starting range around a field's value: ``(start, stop, step)`` in five steps.

    Examples
    --------
    >>> sweep_range(31, "agents")
    (25, 37, 3)
    >>> sweep_range(0.65, "probability")
    (0.45, 0.85, 0.1)
    """
    if kind in (*AGENT_KINDS, "integer"):
        step = max(1, round(value * 0.1))
        start = max(1, value - 2 * step)
        return start, start + 4 * step, step
    if kind == "probability":
        start = max(0.0, round(value - 0.2, 2))
        stop = min(1.0, round(value + 0.2, 2))
        return start, stop, round((stop - start) / 4, 4)
    start, stop = value * 0.8, value * 1.2
    return round(start, 6), round(stop, 6), round((stop - start) / 4, 6)
