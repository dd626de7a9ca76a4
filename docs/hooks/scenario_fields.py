"""The scenario file reference, generated from the code that validates scenarios.

Nothing about a field's limits or default is written here: for every key the
validator knows (``simulator.scenario.TABLE_KEYS`` and friends), the page asks
the validator itself. It loads a small valid scenario with the field left out
(a problem saying ``missing`` makes the field required; otherwise the value
``Scenario.to_dict(complete=True)`` writes is its default), and with the field
set to a value of the wrong kind (the problem's "must be ..." is what is
allowed). Only the one-line meaning of each field is prose, in :data:`MEANING`,
and the page refuses to build when a key has no meaning or a meaning has no key.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass
from typing import Any

from simulator import scenario as scenario_module
from simulator.distributions import DISTRIBUTIONS
from simulator.scenario import Scenario, ScenarioError

#: A small valid scenario every field is probed in: self-service, a live channel with its own
#: agents, an email backlog, and a chat answered by an agent group.
BASE: dict[str, Any] = {
    "name": "probe",
    "retry_delay": {"dist": "exponential", "mean": 20.0},
    "run": {"warmup_hours": 0},
    "arrivals": {"per_hour": 60, "first_channel": {"web": 0.4, "email": 0.2, "chat": 0.2, "phone": 0.2}},
    "channels": {
        "web": {"agents": "unlimited", "handle_time": {"dist": "exponential", "mean": 5.0}, "resolve": 0.5,
                "next": {"phone": 0.5, "give_up": 0.5}},
        "email": {"agents": 3, "async": True, "handle_time": {"dist": "exponential", "mean": 8.0},
                  "resolve": 0.6, "next": {"phone": 0.5, "give_up": 0.5}},
        "chat": {"handle_time": {"dist": "exponential", "mean": 6.0}, "resolve": 0.6, "concurrency": 2,
                 "next": {"phone": 0.5, "give_up": 0.5}},
        "phone": {"agents": 8, "handle_time": {"dist": "exponential", "mean": 6.0},
                  "patience": {"dist": "exponential", "mean": 4.0}, "resolve": 0.7,
                  "next": {"phone": 0.3, "give_up": 0.7}},
    },
    "groups": {"desk": {"agents": 4, "skills": {"chat": 1}}},
}
#: Which probe table stands for ``channels.NAME`` (``callback`` is probed on the live phone) and
#: ``groups.NAME``; a channel's default is also read on the async email, in case it differs.
PROBE_CHANNEL = {"channels.*": "phone", "groups.*": "desk"}
ASYNC_CHANNEL = "email"
#: Fields probed on another channel: chat holds two contacts at once, so its slowdown takes two factors.
PROBE_CHANNEL_FOR = {"concurrency_slowdown": "chat"}
#: The probe's particulars in the validator's messages, put back in general terms.
GENERAL_TERMS = (
    (", ".join(BASE["channels"]), "the scenario's channels"),
    ("list of 2 factors", "list of `concurrency` factors"),
    (" (one per contact up to concurrency = 2)", ""),
)

#: The tables of a scenario file, in the order of the page: (path, heading, anchor, what it is).
TABLES = (
    ("", "Top level", "top-level",
     "The scenario's name and the settings every channel shares."),
    ("run", "[run]", "run",
     "How long and how often to simulate. The command line's `-d`, `-r` and `-s` override `days`, "
     "`replications` and `seed`."),
    ("arrivals", "[arrivals]", "arrivals",
     "New customers: a Poisson process, each with one need and a first channel."),
    ("channels.*", "[channels.NAME]", "channels",
     "One table per channel, any number of them. NAME starts with a letter and uses letters, digits, `_` or "
     "`-`; it is not `give_up` or `resolved`."),
    ("channels.*.callback", "[channels.NAME] callback", "callback",
     "A call-back offer on a live channel (an inline table in its `[channels.NAME]`)."),
    ("groups.*", "[groups.NAME]", "groups",
     "Agents who answer several channels by priority (optional). A channel with its own `agents` is a "
     "group of its own."),
    ("reference", "[reference]", "reference",
     "Published figures, printed beside the simulated ones (optional)."),
)

#: What each field means, by table. The limits and defaults beside them come from the validator.
MEANING: dict[str, dict[str, str]] = {
    "": {
        "name": "Name shown in every output; defaults to the file's name without `.toml`.",
        "description": "One line about the scenario (`contactflow scenarios` lists it).",
        "focal_channel": "The name of the channel whose contacts are \"calls\" for the avoidable-call and before/after "
                         "figures.",
        "max_contacts": "A journey that reaches this many contacts ends in give-up.",
        "retry_delay": "Time between an unanswered contact and the customer's next one, for every channel "
                       "(a [distribution](#distributions)); absent: at once.",
        "run": "The [`[run]`](#run) table.",
        "arrivals": "The [`[arrivals]`](#arrivals) table.",
        "channels": "One [`[channels.NAME]`](#channels) table per channel.",
        "groups": "[`[groups.NAME]`](#groups) tables of agents shared between channels.",
        "reference": "The [`[reference]`](#reference) table of published figures.",
    },
    "run": {
        "days": "Days measured, after the warm-up.",
        "warmup_hours": "Hours simulated before the measured window and not counted; `\"auto\"` derives "
                        "them from the scenario (long enough for its slowest queue to settle from empty, "
                        "or a day when the day has a pattern).",
        "replications": "Independent replications; every figure is their mean with a 95 % confidence "
                        "interval.",
        "seed": "Seed of every random stream: the same scenario and seed give the same numbers.",
    },
    "arrivals": {
        "per_hour": "Mean arrivals of new customers an hour, over the day (or the week).",
        "hourly_profile": "Weights, any scale, that shape the rate hour by hour (24 from 0:00, or 168 "
                          "for a week from Monday 0:00) while keeping the volume at `per_hour` times the "
                          "hours; absent: flat.",
        "first_channel": "Share of customers whose first contact is in each channel.",
        "day_to_day_cv": "Each day's volume is multiplied by a random factor with mean 1 and this "
                         "coefficient of variation (forecast error).",
    },
    "channels.*": {
        "label": "Display name in charts and reports; empty: the channel's name.",
        "agents": "Who answers: `\"unlimited\"` for self-service (no queue), a number of agents, or "
                  "24 (168) hourly levels, a shift plan. Left out when a `[groups.NAME]` answers the "
                  "channel.",
        "handle_time": "Time an agent (or the customer, in self-service) spends on a contact, in minutes "
                       "(a [distribution](#distributions)).",
        "patience": "How long a customer waits in the queue (or for an async reply) before abandoning "
                    "(a [distribution](#distributions)); absent: waits forever.",
        "resolve": "Probability that a served contact answers the customer's question.",
        "next": "Where an unanswered customer goes next: a probability for each channel (the same one "
                "is a retry) and `give_up`, summing to 1.",
        "next_after_abandon": "The same after abandoning the queue; absent: the `next` row.",
        "open_hours": "`[open, close]` hours of the day; a contact outside them finds the channel closed "
                      "(`[22, 6]` spans midnight); absent: always open.",
        "async": "An asynchronous channel (email): messages wait in a backlog answered in order, even "
                 "after the customer stopped waiting (wasted work).",
        "retry_delay": "This channel's own retry delay, replacing the top-level one.",
        "cost_per_contact": "Cost of each handled contact.",
        "cost_per_agent_hour": "Cost of each paid agent hour.",
        "service_level_seconds": "Threshold of the service level: the share of offered contacts answered "
                                 "within it.",
        "concurrency": "How many of the channel's contacts one agent holds at once (chat).",
        "concurrency_slowdown": "Factors by which handle times stretch while an agent holds 1, 2, ... "
                                "contacts (one per contact up to `concurrency`); absent: no slowdown.",
        "callback": "A [call-back offer](#callback) to callers facing a long wait; absent: none.",
    },
    "channels.*.callback": {
        "offer_when_wait_above": "Offer a call back when the expected wait (queue ahead times the mean "
                                 "handle time over the agents on duty) exceeds this many minutes.",
        "accept": "Probability that an offered caller accepts.",
        "within_minutes": "The promise: the call back is made within this many minutes (it goes ahead of "
                          "live callers when `offer_when_wait_above` minutes are left).",
    },
    "groups.*": {
        "label": "Display name; empty: the group's name.",
        "agents": "Agents scheduled (paid): a number, or 24 (168) hourly levels.",
        "skills": "The channels the group answers and their priority, 1 = highest: an agent who becomes "
                  "free takes the waiting contact of its best skill.",
        "reserve": "Agents kept idle per channel: the group takes that channel's contact only while at "
                   "least this many of its agents stay idle (below the group's peak staffing); "
                   "absent: none.",
        "cost_per_agent_hour": "Cost of each paid agent hour.",
        "shrinkage": "Share of paid hours not available for contacts (breaks, training, absence): "
                     "`round(agents × (1 − shrinkage))` are on duty.",
    },
    "reference": {
        "source": "Where the figures come from, printed under the table.",
        "figures": "Published values by figure name (a KPI, `\"channels.CHANNEL.METRIC\"`, "
                   "`\"before_call.CHANNEL\"`, `\"after_call.TARGET\"`; quote names with dots): a share in "
                   "[0, 1] or a number.",
    },
}

#: Tables (fields holding a table of their own fields) have no single value to probe.
SUBTABLES = {"": ("run", "arrivals", "channels", "groups", "reference")}
#: A value that is the wrong kind for every field but strings, and one for the string fields.
WRONG_KINDS = ("\u2047", 0)


@dataclass(frozen=True)
class Field:
    """One key of a scenario table, as the validator sees it."""

    table: str
    key: str
    required: bool
    default: str
    allowed: str
    meaning: str


def table_keys() -> dict[str, tuple[str, ...]]:
    """The keys of every table, from the validator's own tuples."""
    keys = dict(scenario_module.TABLE_KEYS)
    keys["channels.*.callback"] = scenario_module.CALLBACK_KEYS
    return keys


def _probe_path(table: str, key: str = "") -> tuple[str, ...]:
    """The keys of ``table`` in :data:`BASE`: ``channels.*.callback`` is ``channels, phone, callback``."""
    parts: list[str] = []
    for part in table.split(".") if table else ():
        probe_in = PROBE_CHANNEL_FOR.get(key, PROBE_CHANNEL[f"{parts[-1]}.*"]) if part == "*" else part
        parts.append(probe_in)
    return tuple(parts)


def _base_for(table: str) -> dict[str, Any]:
    data = copy.deepcopy(BASE)
    if table == "channels.*.callback":
        data["channels"]["phone"]["callback"] = {"offer_when_wait_above": 2.0, "accept": 0.5,
                                                 "within_minutes": 60.0}
    if table == "reference":
        data["reference"] = {"figures": {"give_up_rate": 0.1}}
    return data


def _node(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        data = data[key]
    return data


def _problems(data: dict[str, Any], path: str) -> list[str]:
    """The validator's messages about ``path`` (empty when ``data`` is valid)."""
    try:
        Scenario.from_dict(data, "probe.toml")
    except ScenarioError as exc:
        return [p.message for p in exc.problems if p.path == path or p.path.startswith(path + ".")]
    return []


def _allowed(message: str) -> str:
    """What a "must be ..." or "missing; needed: ..." message allows, in general terms."""
    for prefix in ("missing; needed: ", "must be "):
        message = message.removeprefix(prefix)
    message = message.split("; got ")[0].split(", got ")[0]
    for particular, general in GENERAL_TERMS:
        message = message.replace(particular, general)
    return message


def _default(table: str, key: str, data: dict[str, Any], path: tuple[str, ...]) -> str:
    """The value the scenario gets when ``key`` is left out, as the validator completes it."""
    complete = Scenario.from_dict(data, "probe.toml").to_dict(complete=True)
    try:
        parent = _node(complete, path)
    except KeyError:  # the table is left out as a whole
        return "—"
    if key not in parent:
        return "—"
    value = parent[key]
    if key == "name" and value == "probe":
        return "the file's name"
    if isinstance(value, dict) and value:  # a copy of another field's value?
        for other, other_value in parent.items():
            if other != key and other_value == value:
                return f"the `{other}` row" if other == "next" else f"its `{other}`"
        if path and data.get(key) == value:
            return f"the top-level `{key}`"
    text = _value(value)
    if table == "channels.*":  # the same on an async channel?
        async_value = _node(complete, ("channels", ASYNC_CHANNEL)).get(key)
        if async_value is not None and async_value != value:
            text = f"{text} (live), {_value(async_value)} (async)"
    return text


def probe(table: str, key: str) -> Field:
    """Ask the validator what ``key`` of ``table`` takes and what it defaults to."""
    path = _probe_path(table, key)
    dotted = ".".join([*path, key])
    if key in SUBTABLES.get(table, ()):
        required = bool(_problems({k: v for k, v in BASE.items() if k != key}, key))
        return Field(table, key, required, "—", "a table", MEANING[table][key])
    data = _base_for(table)
    without = copy.deepcopy(data)
    _node(without, path).pop(key, None)
    if table == "channels.*":
        _node(without, ("channels", ASYNC_CHANNEL)).pop(key, None)
    missing = _problems(without, dotted)
    required = any(m.startswith("missing") for m in missing)
    default = "—" if missing else _default(table, key, without, path)
    allowed = ""
    for wrong in WRONG_KINDS:
        _node(data, path)[key] = wrong
        messages = _problems(data, dotted)
        if messages:
            allowed = _allowed(messages[0])
            break
    return Field(table, key, required, default, allowed, MEANING[table][key])


def check_meanings() -> None:
    """Refuse a key without a meaning, or a meaning without a key (the code moved on)."""
    keys = table_keys()
    problems = []
    for table, names in keys.items():
        documented = MEANING.get(table, {})
        problems += [f"{table or 'top level'}.{k}: no meaning in docs/hooks/scenario_fields.py"
                     for k in names if k not in documented]
        problems += [f"{table or 'top level'}.{k}: documented but the validator has no such key"
                     for k in documented if k not in names]
    problems += [f"{t}: documented table the validator does not have" for t in MEANING if t not in keys]
    if problems:
        raise RuntimeError("scenario reference out of date:\n  " + "\n  ".join(problems))


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (int, float)):
        return f"`{value:,}`" if abs(value) >= 10_000 else f"`{value}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    """Text for a table cell: TOML inline tables as code (Markdown's attribute lists would eat ``{...}``)."""
    text = re.sub(r"(?<!`)(\{[^{}]*\})(?!`)", r"`\1`", text)
    return text.replace("|", "\\|").replace("\n", " ")


def _markdown(docstring: str) -> str:
    """A docstring's first line with reStructuredText literals as Markdown code."""
    return (docstring or "").strip().splitlines()[0].replace("``", "`")


def distribution_rows() -> list[tuple[str, str, str]]:
    """Each distribution: its name, its parameters with what they take (from the validator), its doc."""
    rows = []
    for name, cls in DISTRIBUTIONS.items():
        params = []
        for p in cls.params:
            spec = {"dist": name, **{q: 1.0 for q in cls.params}, p: WRONG_KINDS[0]}
            if p == "values":
                spec[p] = [WRONG_KINDS[0]]
            data = copy.deepcopy(BASE)
            data["channels"]["phone"]["handle_time"] = spec
            message = _problems(data, "channels.phone.handle_time")[0]
            text = message.split("; got ")[0].removeprefix(f"{p} must be ").removeprefix(
                "empirical values must be ")
            params.append(f"`{p}`: {text}")
        rows.append((name, "; ".join(params), _markdown(cls.__doc__)))
    return rows


def page() -> str:
    """The whole reference page, as Markdown."""
    check_meanings()
    keys = table_keys()
    lines = [
        "# Scenario file reference",
        "",
        "<!-- Generated by docs/hooks/scenario_fields.py from the validator in simulator.scenario: "
        "do not edit. -->",
        "",
        "A scenario is a TOML file; [Writing scenarios](../scenarios.md) shows one whole and explains how "
        "the pieces fit. This page lists every field the loader accepts. It is generated when the site is "
        "built, by asking the validator itself what each field takes and what the scenario gets when "
        "the field is left out, so it cannot drift from the code. A field that is not required and has "
        "no default (—) is off unless given. Loading reports every problem at once, naming the file, "
        "the field and what is allowed; `contactflow validate FILE` checks a file without running it.",
        "",
    ]
    for table, heading, anchor, about in TABLES:
        lines += [f"## {heading} {{#{anchor}}}", "", about, "",
                  "| field | required | allowed | default | meaning |", "| --- | --- | --- | --- | --- |"]
        for key in keys[table]:
            f = probe(table, key)
            allowed = "the name of one of the channels" if key == "focal_channel" else f.allowed
            lines.append(f"| `{key}` | {'yes' if f.required else ''} | {_cell(allowed)} | {_cell(f.default)} "
                         f"| {_cell(f.meaning)} |")
        lines.append("")
    lines += [
        "## Distributions {#distributions}",
        "",
        "Times (handle times, patience, retry delays) are in minutes, written as inline tables such as "
        "`handle_time = { dist = \"lognormal\", mean = 6.0, cv = 0.8 }`.",
        "",
        "| `dist` | parameters | what it is |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{name}` | {_cell(params)} | {_cell(doc)} |" for name, params, doc in distribution_rows()]
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(page())
