"""The web app's forms as plain data: which fields a scenario shows, and what the widgets send back.

No Shiny here, so all of it is tested without a browser. A scenario is shown
as :class:`Section` s of :class:`Field` s, built from the scenario by the
tables below (one line per field: a new scenario field is one more line; a new
named table such as ``[groups.NAME]`` is one more entry in :data:`SECTIONS`).
Each field has the dotted path ``Scenario.with_changes`` takes, a ``kind``
saying how it is edited, and its current value in the scenario file's form.

The app reads its widgets back with :func:`form_changes`, which returns the
fields whose value differs from the scenario's; :func:`apply_form` sends them
to :meth:`~simulator.scenario.Scenario.with_changes`, the same validation as
``contactflow run --set``, so a bad value gets the command line's wording, and
:func:`problems_by_field` puts each problem next to its field.

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("nice_bcg_2016")
>>> sections = scenario_sections(sc)
>>> [s.title for s in sections][:4]
['Scenario', 'Run', 'Arrivals', 'Channel: Web self-service (web)']
>>> values = {("channels.chat.agents", "count"): 25, ("channels.chat.agents", "mode"): "fixed"}
>>> read = form_reader(sections, values)
>>> form_changes(sections, read)
{'channels.chat.agents': 25}
>>> apply_form(sc, sections, read).scenario.channel("chat").agents
25
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import pandas as pd

from ..distributions import DISTRIBUTIONS, Distribution
from ..scenario import AUTO, GIVE_UP, Problem, Scenario, ScenarioError, parse_value

__all__ = [
    "FieldSpec", "Field", "Section", "FormResult", "SECTIONS", "KINDS", "NONE",
    "scenario_sections", "all_fields", "widget_id", "form_reader", "field_value", "form_changes",
    "apply_form", "problems_by_field", "routing_fields", "routing_frame", "edit_row", "row_sum",
    "hourly_frame", "edit_hour", "numeric_fields", "sweep_range", "HOURS",
]

HOURS = 24
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
    "agents": ("mode", "count", "plan"),  # "unlimited" | "fixed" | "hourly"; count; 24 levels
    "distribution": ("dist", "mean", "cv", "value", "low", "high", "values"),
    "optional_distribution": ("dist", "mean", "cv", "value", "low", "high", "values"),
    "open_hours": ("mode", "open", "close"),  # "always" | "hours"
    "row": ("",),  # a probability row, edited in the routing table
    "optional_row": ("",),
    "hourly": ("mode", "plan"),  # "flat" | "profile"; 24 weights, edited in the hourly table
}
NUMBER_KINDS = ("number", "integer", "probability")
ROW_KINDS = ("row", "optional_row")
DISTRIBUTION_KINDS = ("distribution", "optional_distribution")
AGENT_MODES = {"unlimited": "self-service (unlimited)", "fixed": "a fixed number", "hourly": "an hourly plan"}
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
    FieldSpec("hourly_profile", "Over the day", "hourly", "weights by hour, any scale; edited in the hourly table"),
    FieldSpec("first_channel", "First channel", "row", "edited in the routing table"),
)
CHANNEL_FIELDS = (
    FieldSpec("label", "Label", "text"),
    FieldSpec("agents", "Agents", "agents", "a number, an hourly plan (edited in the hourly table), or self-service"),
    FieldSpec("async", "Asynchronous (a backlog, like email)", "bool"),
    FieldSpec("open_hours", "Opening hours", "open_hours", "[22, 6] spans midnight"),
    FieldSpec("handle_time", "Handle time (min)", "distribution"),
    FieldSpec("patience", "Patience (min)", "optional_distribution", "none: customers wait as long as it takes"),
    FieldSpec("resolve", "Resolves (probability)", "probability", "share of contacts served that answer the need"),
    FieldSpec("next", "Next after an unanswered contact", "row", "edited in the routing table"),
    FieldSpec("next_after_abandon", "Next after abandoning", "optional_row", "edited in the routing table"),
    FieldSpec("retry_delay", "Delay before the next contact (min)", "optional_distribution",
              "none: the scenario's"),
    FieldSpec("cost_per_contact", "Cost per contact", "number"),
    FieldSpec("cost_per_agent_hour", "Cost per agent hour", "number"),
    FieldSpec("service_level_seconds", "Service-level target (s)", "number"),
)

#: ``(table, title, fields)``: the sections, in the order shown. ``NAME.*`` repeats for each entry of
#: the table ``NAME`` (one section per channel); ``""`` is the top level of the scenario.
SECTIONS: tuple[tuple[str, str, tuple[FieldSpec, ...]], ...] = (
    ("", "Scenario", SCENARIO_FIELDS),
    ("run", "Run", RUN_FIELDS),
    ("arrivals", "Arrivals", ARRIVAL_FIELDS),
    ("channels.*", "Channel", CHANNEL_FIELDS),
)
#: Attributes of the validated objects named differently from their key in the file.
_ATTRIBUTES = {"async": "is_async"}


@dataclass(frozen=True)
class Field:
    """A field of the form: its path in the scenario, how it is edited and its value as the file has it."""

    path: str
    label: str
    kind: str
    value: Any
    help: str = ""
    choices: tuple[str, ...] = ()

    @property
    def parts(self) -> tuple[str, ...]:
        """The widgets this field reads (see :data:`KINDS`)."""
        return KINDS[self.kind]


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
    """The value a field shows: the file's, else the default the validated object took (optional kinds: None)."""
    if spec.key in table:
        return table[spec.key]
    if spec.kind == "warmup":
        return AUTO
    if spec.kind in ("optional_distribution", "optional_row", "hourly", "open_hours") or obj is None:
        return None
    value = getattr(obj, _ATTRIBUTES.get(spec.key, spec.key), None)
    if spec.kind == "agents" and value is None:
        return "unlimited"
    return _file_form(value)


def _objects(scenario: Scenario, table: str) -> Mapping[str, Any]:
    """The validated objects of a named table, by name (``channels`` -> each Channel)."""
    if table == "channels":
        return {c.name: c for c in scenario.channels}
    return {}


def scenario_sections(scenario: Scenario) -> list[Section]:
    """The form of a scenario: one section per entry of :data:`SECTIONS` (per channel for ``channels.*``).

    Examples
    --------
    >>> import simulator as sim
    >>> sections = scenario_sections(sim.load_scenario("nice_bcg_2016"))
    >>> chat = next(s for s in sections if s.key == "channels.chat")
    >>> [(f.path, f.value) for f in chat.fields if f.kind == "agents"]
    [('channels.chat.agents', 20)]
    """
    data = scenario.to_dict()
    sections = []
    for key, title, specs in SECTIONS:
        if key.endswith(".*"):
            table = key[:-2]
            objects = _objects(scenario, table)
            for name, values in (data.get(table) or {}).items():
                obj = objects.get(name)
                label = getattr(obj, "display_name", name)
                heading = f"{title}: {label} ({name})" if label != name else f"{title}: {name}"
                sections.append(_section(f"{table}.{name}", heading, specs, values, obj, scenario))
        else:
            obj = {"": scenario, "run": scenario.run, "arrivals": scenario.arrivals}.get(key)
            values = data if key == "" else (data.get(key) or {})
            sections.append(_section(key, title, specs, values, obj, scenario))
    return sections


def _section(key: str, title: str, specs: Sequence[FieldSpec], table: Mapping[str, Any], obj: Any,
             scenario: Scenario) -> Section:
    fields = []
    for spec in specs:
        path = f"{key}.{spec.key}" if key else spec.key
        choices = scenario.channel_names if spec.kind == "choice" else ()
        fields.append(Field(path, spec.label, spec.kind, _current(spec, table, obj), spec.help, choices))
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
    """
    v = f.value
    if f.kind == "agents":
        mode = "unlimited" if v == "unlimited" else "hourly" if isinstance(v, list) else "fixed"
        count = max(v) if isinstance(v, list) else (v if isinstance(v, int) else 1)
        plan = list(v) if isinstance(v, list) else [count] * HOURS
        return {"mode": mode, "count": count, "plan": plan}
    if f.kind in DISTRIBUTION_KINDS:
        spec = v if isinstance(v, Mapping) else {}
        parts: dict[str, Any] = {"dist": spec.get("dist", NONE if f.kind == "optional_distribution"
                                                   else "exponential")}
        for p in ("mean", "cv", "value", "low", "high"):
            parts[p] = spec.get(p, _DEFAULT_PARAMS[p])
        values = spec.get("values")
        parts["values"] = ", ".join(f"{x:g}" for x in values) if isinstance(values, list) else ""
        return parts
    if f.kind == "open_hours":
        hours = v if isinstance(v, list) and len(v) == 2 else None
        return {"mode": "hours" if hours else "always", "open": hours[0] if hours else 8,
                "close": hours[1] if hours else 20}
    if f.kind == "hourly":
        return {"mode": "profile" if isinstance(v, list) else "flat",
                "plan": list(v) if isinstance(v, list) else [1.0] * HOURS}
    return {"": v}


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


def field_value(f: Field, read: Callable[[str, str], Any]) -> Any:
    """The value a field's widgets say, in the scenario file's form (None leaves an optional field out).

    Nothing is checked here: a value the scenario cannot take is passed on as
    it is, for the library to refuse with its own message.

    Examples
    --------
    >>> f = Field("channels.chat.patience", "Patience", "optional_distribution", None)
    >>> field_value(f, lambda path, part: {"dist": "gamma", "mean": 4, "cv": 0.5}.get(part))
    {'dist': 'gamma', 'mean': 4, 'cv': 0.5}
    >>> field_value(f, lambda path, part: "none" if part == "dist" else None) is None
    True
    """
    kind, path = f.kind, f.path
    if kind in NUMBER_KINDS:
        return _number(read(path, ""), integer=kind == "integer")
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
    if kind == "agents":
        mode = read(path, "mode")
        if mode == "unlimited":
            return "unlimited"
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
                text = str(read(path, "values") or "").strip()
                spec[p] = parse_value(f"[{text}]") if text else []
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


@dataclass(frozen=True)
class FormResult:
    """What the form says: the changed scenario (None when it is not valid), the changes, the problems."""

    scenario: Scenario | None
    changes: Mapping[str, Any]
    problems: tuple[Problem, ...] = field(default=())

    @property
    def valid(self) -> bool:
        return self.scenario is not None


def apply_form(base: Scenario, sections: Iterable[Section], read: Callable[[str, str], Any]) -> FormResult:
    """The base scenario with the form's changes, validated by the library (as ``--set`` is).

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
    changes = form_changes(sections, read)
    if not changes:
        return FormResult(base, changes)
    labels = {f.path: f.label for f in all_fields(sections)}
    origins = {path: f"{labels.get(path, path)} in the form" for path in changes}
    try:
        return FormResult(base.with_changes(changes, origins=origins), changes)
    except ScenarioError as exc:
        return FormResult(None, changes, tuple(exc.problems))


def problems_by_field(problems: Iterable[Problem], sections: Iterable[Section]
                      ) -> tuple[dict[str, list[str]], list[str]]:
    """Each problem under the field it is about: ``({path: [message, ...]}, [problems of no field])``.

    A problem about a part of a field (``channels.chat.handle_time.mean``,
    ``channels.chat.next.phone``) goes to the field, led by that part. The
    messages are the library's, as the command line prints them.

    Examples
    --------
    >>> import simulator as sim
    >>> sections = scenario_sections(sim.load_scenario("nice_bcg_2016"))
    >>> by_field, other = problems_by_field([Problem("channels.chat.next", "probabilities must sum to 1; "
    ...                                              "they sum to 1.1")], sections)
    >>> by_field
    {'channels.chat.next': ['probabilities must sum to 1; they sum to 1.1']}
    """
    paths = sorted((f.path for f in all_fields(sections)), key=len, reverse=True)
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


def hourly_frame(plans: Mapping[str, Sequence[Any]], labels: Mapping[str, str]) -> pd.DataFrame:
    """The hourly table: one line per hour of the day, one column per plan (agents or arrival weights).

    Examples
    --------
    >>> hourly_frame({"channels.chat.agents": [3] * 24}, {"channels.chat.agents": "chat agents"}).iloc[8].tolist()
    ['08:00', '3']
    """
    frame = pd.DataFrame({"hour": [f"{h:02d}:00" for h in range(HOURS)]})
    for path, plan in plans.items():
        frame[labels.get(path, path)] = [f"{v:g}" if isinstance(v, (int, float)) else str(v) for v in plan]
    return frame


def edit_hour(plan: Sequence[Any], hour: int, text: Any) -> list[Any]:
    """The plan with one hour typed (read as TOML; the library refuses what is not a level).

    Examples
    --------
    >>> edit_hour([1] * 24, 9, "12")[8:10]
    [1, 12]
    """
    out = list(plan)
    out[hour] = parse_value(str(text)) if str(text).strip() else ""
    return out


def hourly_label(f: Field) -> str:
    """The column heading of a field in the hourly table: ``chat agents``, ``arrivals``."""
    parts = f.path.split(".")
    return f"{parts[1]} agents" if parts[0] == "channels" else parts[0]


# --------------------------------------------------------------------------- sweeps


def numeric_fields(sections: Iterable[Section]) -> dict[str, str]:
    """Fields a sweep can vary, ``{path: label}``: numbers, probabilities and fixed staffing levels."""
    out = {}
    for s in sections:
        for f in s.fields:
            fixed_agents = f.kind == "agents" and isinstance(f.value, int)
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
    if kind in ("agents", "integer"):
        step = max(1, round(value * 0.1))
        start = max(1, value - 2 * step)
        return start, start + 4 * step, step
    if kind == "probability":
        start = max(0.0, round(value - 0.2, 2))
        stop = min(1.0, round(value + 0.2, 2))
        return start, stop, round((stop - start) / 4, 4)
    start, stop = value * 0.8, value * 1.2
    return round(start, 6), round(stop, 6), round((stop - start) / 4, 6)
