"""Calibration: adjust routing and resolve probabilities until the model matches published figures.

:func:`calibrate` fits the *free* parameters of a scenario — routing rows
(``channels.NAME.next``, ``channels.NAME.next_after_abandon``), resolve
probabilities (``channels.NAME.resolve``) and the first-channel mix
(``arrivals.first_channel``) — so that the model's figures match *targets*
such as ``before_call.email = 0.151`` or ``avoidable_call_share = 0.70``.

How
---
* **Inner model**: the routing chain at fixed served and closed shares
  (:class:`~simulator.analytic.HourlyJourneyChain`, which is
  :class:`~simulator.analytic.JourneyChain` when nothing depends on the hour
  of the day), which evaluates every target in about a millisecond. The
  shares (and the hours contacts fall in) come from the network
  approximation (:func:`simulator.network.approximate`), so finite capacity
  and opening hours count: after a fit they are recomputed for the fitted
  scenario and the fit is repeated, until they settle (a few rounds, each
  approximation starting from the last one's fixed point; the rounds are
  damped, because a fit that loads a channel more makes it abandon more,
  which the next fit overcorrects, and accelerated by Anderson's
  extrapolation over the last rounds, so a map that hardly depends on the
  shares settles in two or three rounds rather than ten).
* **Row sums kept exactly**: a row's free probabilities are written as
  ``p_k = exp(x_k) / sum_j exp(x_j)`` with one reference entry fixed at
  ``x = 0`` (no redundant parameter); a resolve probability as a logistic.
  Entries that are 0, or keys a row does not list, stay 0 — list a key with a
  small value to let the fit use that route.
* **Least squares with regularisation** (:func:`scipy.optimize.least_squares`):
  each target contributes ``weight * (model - target) / max(1, |target|)``
  and every free probability ``regularization * (p - p_start)``. With fewer
  targets than free parameters (the usual case) the fit is the one closest to
  the starting scenario that meets the targets, so it stays plausible; the
  regularisation is small enough (default 0.01) that it moves a reachable
  target by far less than the tolerance.
* **Rounding**: the fitted probabilities are rounded to ``decimals`` places,
  each row's rounding error put on its largest entry so that it still sums
  to 1 exactly; the figures reported are those of the rounded scenario.
* **Unreachable targets**: when a target misses by more than the tolerance,
  the fit is repeated with each target left out in turn; the targets whose
  removal lets the others be met are named as the conflict
  (:class:`CalibrationError`).

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("bank_app_first")
>>> targets = Targets({"before_call.app": 0.37, "avoidable_call_share": 0.70})
>>> fit = calibrate(sc, targets, free=["arrivals.first_channel", "channels.app.next"])
>>> fit.reached
True
>>> bool(abs(fit.table.loc["before_call.app", "fitted"] - 0.37) <= targets.tolerance)
True
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.optimize import least_squares

from .analytic import HourlyJourneyChain
from .figures import figure_index, no_column_message, table_columns
from .network import OUTSIDE_SLACK, _AndersonMixing, approximate
from .scenario import Scenario, ScenarioError, parse_toml, read_toml_text
from .validation import is_number, unknown_key_message

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = [
    "CHAIN_KPIS",
    "Calibration",
    "CalibrationError",
    "Targets",
    "TargetsError",
    "calibrate",
    "free_fields",
    "load_targets",
]

#: KPIs the inner model (the routing chain) defines, so the ones calibration can fit.
CHAIN_KPIS = ("contacts_per_customer", "resolution_rate", "give_up_rate", "first_contact_resolution",
              "multichannel_share", "caller_share", "avoidable_call_share", "callers_continue_share")
DEFAULT_TOLERANCE = 0.001
DEFAULT_REGULARIZATION = 0.01
DEFAULT_DECIMALS = 4
#: Most fit-then-recompute-shares rounds.
MAX_ROUNDS = 40
#: The served shares are settled when none moves by more than this between rounds.
SHARE_TOLERANCE = 1e-4
#: Weight of a round's new shares in the damped step between rounds (the rest: the shares the fit used).
ROUND_DAMPING = 0.5
#: Earlier rounds the Anderson acceleration of the rounds combines.
ROUND_DEPTH = 2
NOTE_BEGIN = "# --- calibrated by `contactflow calibrate`"
NOTE_END = "# --- end of the calibration note ---"
FREE_HELP = ("arrivals.first_channel, channels.NAME.next, channels.NAME.next_after_abandon or "
             "channels.NAME.resolve (NAME may be * for every channel)")


# --------------------------------------------------------------------------- targets


class TargetsError(ValueError):
    """A targets file or target is not valid; the message names the file and the field."""


@dataclass(frozen=True)
class Targets:
    """Figures to calibrate to.

    Parameters
    ----------
    values
        Figure name (a KPI, ``before_call.CHANNEL`` or ``after_call.TARGET``)
        to target value.
    weights
        Optional weight per figure (default 1): a larger weight fits that
        figure more tightly when the targets cannot all be met.
    tolerance
        A target is met when ``|fitted - target| <= tolerance * max(1, |target|)``.
    source
        Where the targets came from (the file), for messages and the note.
    description
        Free text from the file (``source = "..."`` in TOML).

    Examples
    --------
    >>> Targets({"avoidable_call_share": 0.7}).tolerance
    0.001
    """

    values: Mapping[str, float]
    weights: Mapping[str, float] = field(default_factory=dict)
    tolerance: float = DEFAULT_TOLERANCE
    source: str = ""
    description: str = ""

    def weight(self, key: str) -> float:
        return float(self.weights.get(key, 1.0))

    def met(self, key: str, fitted: float) -> bool:
        target = self.values[key]
        return abs(fitted - target) <= self.tolerance * max(1.0, abs(target)) + 1e-12

    def without(self, key: str) -> Targets:
        return dataclasses.replace(self, values={k: v for k, v in self.values.items() if k != key})

    def check(self, scenario: Scenario) -> None:
        """Raise :class:`TargetsError` unless every figure is one the routing chain defines for ``scenario``."""
        where = self.source or "targets"
        problems = []
        names = scenario.channel_names
        columns = table_columns(names, scenario.focal_channel)
        del columns["channels"]  # the routing chain has no queues: per-channel figures are not fitted
        for key, value in self.values.items():
            try:
                table, channel, metric = figure_index(key)
            except KeyError:
                table, channel, metric = "", "", ""
            if table == "kpis" and metric in CHAIN_KPIS:
                shares = metric != "contacts_per_customer"
            elif table in columns and channel in columns[table]:
                shares = True
            elif table in columns:
                problems.append(f"{where}: targets.{key}: "
                                f"{no_column_message(table, channel, columns[table], scenario.focal_channel)}")
                continue
            else:
                problems.append(f"{where}: targets.{key}: calibration fits the routing chain's figures: "
                                f"{', '.join(CHAIN_KPIS)}, before_call.CHANNEL or after_call.TARGET")
                continue
            if shares and not 0.0 <= value <= 1.0:
                problems.append(f"{where}: targets.{key}: a share must be in [0, 1]; got {value!r}")
            elif not shares and value < 1.0:
                problems.append(f"{where}: targets.{key}: contacts per customer is at least 1; got {value!r}")
        if problems:
            raise TargetsError("\n".join(problems))


def load_targets(path: str | Path) -> Targets:
    """Read a targets file.

    The file is TOML::

        source = "Nice-BCG 2016 survey"     # optional, free text
        tolerance = 0.001                   # optional, see Targets
        [targets]
        "before_call.email" = 0.151
        avoidable_call_share = 0.70
        [weights]                           # optional
        avoidable_call_share = 2.0

    Raises
    ------
    TargetsError
        Naming the file, the field and what is allowed.

    Examples
    --------
    >>> from simulator.scenario import bundled_dir
    >>> t = load_targets(bundled_dir() / "targets" / "nice_bcg_2016.toml")
    >>> t.values["before_call.email"]
    0.151
    """
    where = str(path)
    try:
        text = read_toml_text(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetsError(f"{where}: cannot read the targets file: {exc}") from None
    try:
        data = parse_toml(text, where)
    except ScenarioError as exc:  # malformed TOML, or nested too deeply to parse
        raise TargetsError(f"{where}: {exc.problems[0].message}") from None
    problems = []
    allowed = ("source", "tolerance", "targets", "weights")
    for key in data:
        if key not in allowed:
            problems.append(f"{where}: {key}: {unknown_key_message(key, allowed)}")

    def numbers(table: str, low: float | None, low_open: bool = False) -> dict[str, float]:
        raw = data.get(table, {})
        if not isinstance(raw, dict):
            problems.append(f"{where}: {table}: must be a table of FIGURE = number")
            return {}
        out = {}
        for key, value in raw.items():
            ok = is_number(value)
            if ok and low is not None:
                ok = value > low if low_open else value >= low
            if not ok:
                bound = "" if low is None else f" {'>' if low_open else '>='} {low:g}"
                problems.append(f"{where}: {table}.{key}: must be a number{bound}; got {value!r}")
            else:
                out[key] = float(value)
        return out

    values = numbers("targets", None)
    weights = numbers("weights", 0.0, low_open=True)
    if "targets" not in data or not data.get("targets"):
        problems.append(f"{where}: targets: needed: a [targets] table with at least one FIGURE = value")
    for key in weights:
        if key not in values:
            problems.append(f"{where}: weights.{key}: not one of the targets ({', '.join(values) or 'none'})")
    tolerance = data.get("tolerance", DEFAULT_TOLERANCE)
    if not (isinstance(tolerance, (int, float)) and not isinstance(tolerance, bool) and 0 < tolerance < 1):
        problems.append(f"{where}: tolerance: must be a number in (0, 1); got {tolerance!r}")
        tolerance = DEFAULT_TOLERANCE
    description = data.get("source", "")
    if not isinstance(description, str):
        problems.append(f"{where}: source: must be a string; got {description!r}")
        description = ""
    if problems:
        raise TargetsError("\n".join(problems))
    return Targets(values, weights, float(tolerance), where, description)


# --------------------------------------------------------------------------- free parameters


def free_fields(scenario: Scenario, fields: Iterable[str] | None = None) -> tuple[str, ...]:
    """Expand and check free-field names; the default frees the first-channel mix and every ``next`` row.

    ``next_after_abandon`` rows and resolve probabilities are only freed when
    named: they describe abandonment and agents' skill, which the
    before/after-the-call figures hardly identify.

    Raises
    ------
    TargetsError
        For a field that is not a row or resolve probability of the scenario.

    Examples
    --------
    >>> import simulator as sim
    >>> free_fields(sim.load_scenario("nice_bcg_2016"), ["channels.*.resolve"])
    ('channels.web.resolve', 'channels.email.resolve', 'channels.chat.resolve', 'channels.phone.resolve')
    """
    names = scenario.channel_names
    if fields is None:
        fields = ["arrivals.first_channel", "channels.*.next"]
    out: list[str] = []
    problems = []
    for text in fields:
        parts = text.strip().split(".")
        if parts == ["arrivals", "first_channel"]:
            expanded = [text.strip()]
        elif len(parts) == 3 and parts[0] == "channels" and parts[2] in ("next", "next_after_abandon", "resolve"):
            if parts[1] == "*":
                expanded = [f"channels.{n}.{parts[2]}" for n in names]
            elif parts[1] in names:
                expanded = [text.strip()]
            else:
                problems.append(f"--free {text}: no channel {parts[1]!r} (channels: {', '.join(names)})")
                continue
        else:
            problems.append(f"--free {text}: not a free parameter; use {FREE_HELP}")
            continue
        out += [f for f in expanded if f not in out]
    if problems:
        raise TargetsError("\n".join(problems))
    return tuple(out)


@dataclass
class _Block:
    """One free field: a probability row (softmax over its positive entries) or a resolve (logistic)."""

    path: str
    start: dict[str, float] | float
    free_keys: tuple[str, ...] = ()
    reference: str = ""

    @property
    def is_row(self) -> bool:
        return isinstance(self.start, dict)

    @property
    def size(self) -> int:
        if self.is_row:
            return max(len(self.free_keys) - 1, 0)
        return 1 if 0.0 < self.start < 1.0 else 0

    def encode(self) -> np.ndarray:
        if self.is_row:
            ref = self.start[self.reference]
            return np.array([math.log(self.start[k] / ref) for k in self.free_keys if k != self.reference])
        if self.size == 0:
            return np.empty(0)
        return np.array([math.log(self.start / (1.0 - self.start))])

    def decode(self, x: np.ndarray) -> dict[str, float] | float:
        if not self.is_row:
            return float(1.0 / (1.0 + math.exp(-x[0]))) if self.size else self.start
        if not self.free_keys:
            return dict(self.start)
        logits = dict(zip([k for k in self.free_keys if k != self.reference], x))
        logits[self.reference] = 0.0
        top = max(logits.values())
        weights = {k: math.exp(v - top) for k, v in logits.items()}
        fixed_mass = sum(v for k, v in self.start.items() if k not in self.free_keys)  # zeros stay zero
        free_mass = 1.0 - fixed_mass
        total = sum(weights.values())
        return {k: (free_mass * weights[k] / total if k in weights else v) for k, v in self.start.items()}


def _blocks(scenario: Scenario, fields: Sequence[str]) -> list[_Block]:
    blocks = []
    for path in fields:
        if path == "arrivals.first_channel":
            start: Any = dict(scenario.arrivals.first_channel)
        else:
            _, name, kind = path.split(".")
            channel = scenario.channel(name)
            start = channel.resolve if kind == "resolve" else dict(getattr(channel, kind))
        block = _Block(path, start)
        if block.is_row:
            block.free_keys = tuple(k for k, v in start.items() if v > 0)
            block.reference = max(block.free_keys, key=lambda k: start[k]) if block.free_keys else ""
        blocks.append(block)
    return blocks


def _apply(scenario: Scenario, values: Mapping[str, Any]) -> Scenario:
    """The scenario with free fields replaced, without validation (fast, for the inner loop).

    A channel whose ``next_after_abandon`` is not written in the file follows
    its ``next`` row, as when the file is loaded.
    """
    arrivals = scenario.arrivals
    if "arrivals.first_channel" in values:
        arrivals = dataclasses.replace(arrivals, first_channel=values["arrivals.first_channel"])
    channels = []
    written = scenario.data.get("channels", {})
    for c in scenario.channels:
        changes = {}
        for kind in ("next", "next_after_abandon", "resolve"):
            key = f"channels.{c.name}.{kind}"
            if key in values:
                changes[kind] = values[key]
        if "next" in changes and "next_after_abandon" not in written.get(c.name, {}) \
                and "next_after_abandon" not in changes:
            changes["next_after_abandon"] = changes["next"]
        channels.append(dataclasses.replace(c, **changes) if changes else c)
    return dataclasses.replace(scenario, arrivals=arrivals, channels=tuple(channels))


def _figures(chain: HourlyJourneyChain, keys: Sequence[str]) -> np.ndarray:
    kpis, before, after = chain.kpis(), None, None
    out = np.empty(len(keys))
    for i, key in enumerate(keys):
        table, channel, metric = figure_index(key)
        if table == "kpis":
            out[i] = kpis[metric]
        elif table == "before_call":
            before = before if before is not None else chain.before_call()
            out[i] = before[channel]
        else:
            after = after if after is not None else chain.after_call()
            out[i] = after[channel]
    return out


def _round_row(row: Mapping[str, float], decimals: int) -> dict[str, float]:
    """Round a probability row so that it still sums to 1 exactly (the error goes on the largest entry)."""
    rounded = {k: round(v, decimals) for k, v in row.items()}
    largest = max(rounded, key=lambda k: rounded[k])
    rest = math.fsum(v for k, v in rounded.items() if k != largest)
    rounded[largest] = round(1.0 - rest, decimals)
    return rounded


# --------------------------------------------------------------------------- the fit


@dataclass
class _Fit:
    values: dict[str, Any]
    fitted: np.ndarray
    cost: float


@dataclass(frozen=True)
class _Timing:
    """What the inner model takes from the network approximation: shares and timing by (channel, hour)."""

    served: np.ndarray
    closed: np.ndarray
    shift: np.ndarray
    start: np.ndarray

    @classmethod
    def of(cls, chain: HourlyJourneyChain) -> _Timing:
        return cls(chain.served, chain.closed, chain.shift, chain.start)

    def change(self, other: _Timing) -> float:
        """How far the served shares moved, at most."""
        return float(np.max(np.abs(other.served - self.served)))


class _Rounds:
    """The fit-then-recompute-shares rounds: their fixed point, found by Anderson acceleration.

    A round maps the timing the fit used to the timing of the fitted
    scenario's network approximation. Plain damped steps (halfway each round)
    settle at half the distance per round, ten rounds or so; Anderson's
    extrapolation over the last rounds' served shares (the shift of the next
    contacts moved with the same weights) finds the fixed point of a map
    that hardly depends on its input in a few, and falls back to a damped
    step with a fresh history when a round moves twice as much as the last.
    """

    def __init__(self):
        self.mixing = _AndersonMixing(ROUND_DAMPING, depth=ROUND_DEPTH)
        self.last = math.inf

    def next(self, at: _Timing, new: _Timing) -> _Timing:
        change = at.change(new)
        if change > 2.0 * self.last:
            self.mixing.forget()  # the extrapolation overshot: a damped step, and a fresh history
        self.last = change
        served, shift = self.mixing.step(at.served, new.served, (at.shift, new.shift))
        open_share = 1.0 - new.closed
        outside = float(np.max(np.maximum(-served, served - open_share)))
        if outside > OUTSIDE_SLACK or np.min(shift) < -OUTSIDE_SLACK:  # out of range: a damped step instead
            self.mixing.forget()
            served = (1.0 - ROUND_DAMPING) * at.served + ROUND_DAMPING * new.served
            shift = (1.0 - ROUND_DAMPING) * at.shift + ROUND_DAMPING * new.shift
        shift = np.maximum(shift, 0.0)
        shift = shift / shift.sum(axis=2, keepdims=True)
        return _Timing(np.clip(served, 0.0, open_share), new.closed, shift, new.start)


def _chain(scenario: Scenario, at: _Timing | HourlyJourneyChain) -> HourlyJourneyChain:
    """The routing chain of ``scenario`` at the shares and timing of ``at`` (the network approximation's)."""
    return HourlyJourneyChain(scenario, at.served, at.closed, at.shift, at.start)


def _fit(scenario: Scenario, blocks: list[_Block], targets: Targets, at: _Timing,
         regularization: float, x0: np.ndarray | None = None) -> tuple[_Fit, np.ndarray]:
    keys = list(targets.values)
    goal = np.array([targets.values[k] for k in keys])
    scale = np.array([targets.weight(k) / max(1.0, abs(targets.values[k])) for k in keys])
    sizes = [b.size for b in blocks]
    splits = np.cumsum(sizes)[:-1]
    start = np.concatenate([b.encode() for b in blocks]) if blocks else np.empty(0)
    start_probabilities = np.concatenate([_flat(b.start) for b in blocks])

    def decode(x: np.ndarray) -> dict[str, Any]:
        return {b.path: b.decode(part) for b, part in zip(blocks, np.split(x, splits))}

    def model(x: np.ndarray) -> np.ndarray:
        return _figures(_chain(_apply(scenario, decode(x)), at), keys)

    def residuals(x: np.ndarray) -> np.ndarray:
        values = decode(x)
        probabilities = np.concatenate([_flat(values[b.path]) for b in blocks])
        return np.concatenate(((model(x) - goal) * scale, regularization * (probabilities - start_probabilities)))

    x = start if x0 is None else x0
    if len(x):
        solution = least_squares(residuals, x, method="trf", x_scale=1.0, xtol=1e-12, ftol=1e-12,
                                 gtol=1e-12, max_nfev=200 * (len(x) + 1))
        x = solution.x
    values = decode(x)
    fitted = model(x)
    return _Fit(values, fitted, float(np.sum(((fitted - goal) * scale) ** 2))), x


def _flat(value: Mapping[str, float] | float) -> np.ndarray:
    return np.array(list(value.values())) if isinstance(value, Mapping) else np.array([value])


@dataclass(frozen=True)
class Calibration:
    """The outcome of :func:`calibrate`.

    Attributes
    ----------
    scenario
        The calibrated scenario (validated), with the rounded fitted values.
    start
        The scenario calibration started from.
    targets
        The targets.
    free
        The free fields, expanded.
    changes
        Each free field's fitted value (rows as dicts), as written to the file.
    table
        One row per target (index ``figure``): ``target``, ``fitted`` (of the
        rounded scenario, by the routing chain at the final served shares),
        ``residual`` (fitted - target) and ``met``.
    served_shares, closed_shares
        The shares of the network approximation the final fit used.
    rounds
        Fit-and-recompute-shares rounds.
    reached
        Whether every target is met within the tolerance.
    conflicts
        When not reached: the targets whose removal lets the others be met.
    """

    scenario: Scenario
    start: Scenario
    targets: Targets
    free: tuple[str, ...]
    changes: Mapping[str, Any]
    table: pd.DataFrame
    served_shares: Mapping[str, float]
    closed_shares: Mapping[str, float]
    rounds: int
    reached: bool
    conflicts: tuple[str, ...] = ()

    def __repr__(self) -> str:
        """One line: what was calibrated to what, and whether it worked; the details are attributes."""
        missed = int((~self.table["met"].astype(bool)).sum())
        state = "every target met" if self.reached else f"{missed} of {len(self.table)} target(s) missed"
        return (f"Calibration({self.start.name} to {self.targets.source or 'the targets'}: {state}; "
                "see .table, .changes, .scenario)")

    def message(self) -> str:
        """Why the targets cannot all be met (empty when they are)."""
        if self.reached:
            return ""
        missed = [k for k, row in self.table.iterrows() if not row["met"]]
        where = self.targets.source or "targets"
        head = (f"{where}: the targets cannot all be met by moving {', '.join(self.free)} "
                f"(missed by more than the tolerance: {', '.join(missed)})")
        if self.conflicts:
            if len(self.conflicts) == 1:
                return head + f"\n  {self.conflicts[0]} conflicts with the others: without it every other target is met"
            return (head + f"\n  these targets conflict: {', '.join(self.conflicts)} — "
                    "leaving out any one of them lets the others be met")
        return (head + "\n  no single target can be left out to meet the others: free more parameters "
                "(--free) or check the targets")

    def note(self, when: _dt.date | None = None) -> str:
        """The comment block written at the top of the calibrated scenario file."""
        when = when or _dt.date.today()
        lines = [f"{NOTE_BEGIN} on {when.isoformat()} ---",
                 (f"# to {self.targets.source or 'targets'}"
                  + (f": {self.targets.description}" if self.targets.description else "")),
                 f"# free parameters: {', '.join(self.free)}",
                 (f"# fitted with the routing chain at the network approximation's served shares "
                  f"({self.rounds} round(s)); tolerance {self.targets.tolerance:g}"),
                 "#"]
        width = max(len(k) for k in self.table.index)
        lines.append(f"# {'figure'.ljust(width)}  {'target':>8}  {'fitted':>8}  {'residual':>9}")
        for key, row in self.table.iterrows():
            lines.append(f"# {key.ljust(width)}  {row['target']:>8.4f}  {row['fitted']:>8.4f}  {row['residual']:>+9.5f}")
        lines.append(NOTE_END)
        return "\n".join(lines) + "\n"

    def toml(self, original_text: str | None = None) -> str:
        """The calibrated scenario as TOML, with the calibration note on top.

        Given the original file's text, only the lines of the free fields are
        rewritten, so every comment and the layout are kept; a previous
        calibration note is replaced. When that is not possible (the field is
        written over several lines, or the scenario was also changed with
        ``--set``), the file is written afresh from the scenario's data,
        without the original comments. Either way the text is checked to load
        as exactly the calibrated scenario.
        """
        expected = self.scenario.to_dict()
        if original_text is not None:
            edited = _edit_lines(original_text, self.changes)
            if edited is not None and tomllib.loads(edited) == expected:
                return self.note() + _strip_note(edited)
        return self.note() + "\n" + self.scenario.to_toml()


class CalibrationError(ValueError):
    """The targets cannot all be met; :attr:`calibration` holds the best fit, :attr:`conflicts` the culprits."""

    def __init__(self, calibration: Calibration):
        self.calibration = calibration
        self.conflicts = calibration.conflicts
        super().__init__(calibration.message())


def calibrate(scenario: Scenario, targets: Targets | Mapping[str, float], free: Iterable[str] | None = None, *,
              regularization: float = DEFAULT_REGULARIZATION, decimals: int = DEFAULT_DECIMALS,
              find_conflicts: bool = True) -> Calibration:
    """Fit the free parameters of ``scenario`` to ``targets``.

    Parameters
    ----------
    scenario
        The starting scenario; its values are the regularisation's anchor.
    targets
        A :class:`Targets`, or a plain ``{figure: value}`` mapping.
    free
        Free fields (see :func:`free_fields`); default: the first-channel mix
        and every channel's ``next`` row.
    regularization
        Weight of ``p - p_start`` against the targets' residuals.
    decimals
        Decimal places of the written probabilities.
    find_conflicts
        When the targets cannot be met, refit without each one to name the
        conflict (one more fit per target).

    Returns
    -------
    Calibration
        Check :attr:`Calibration.reached`; the command line turns an
        unreached calibration into :class:`CalibrationError`.

    Raises
    ------
    TargetsError
        For a target the routing chain does not define, or a bad free field.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("bank_app_first")
    >>> fit = calibrate(sc, {"give_up_rate": 0.05}, free=["channels.web.next"])
    >>> fit.reached, round(float(fit.table.loc["give_up_rate", "fitted"]), 3)
    (True, 0.05)
    """
    if not isinstance(targets, Targets):
        targets = Targets(dict(targets))
    targets.check(scenario)
    fields = free_fields(scenario, free)
    if not (regularization > 0 and math.isfinite(regularization)):
        raise TargetsError(f"regularization must be a finite number > 0; got {regularization!r}")
    blocks = _blocks(scenario, fields)
    if not any(b.size for b in blocks):
        raise TargetsError(f"nothing to fit: {', '.join(fields)} have no free probability "
                           "(rows with one positive entry, resolve 0 or 1)")
    approx = approximate(scenario)
    at = _Timing.of(approx.chain)
    x = None
    rounds = 0
    keys = list(targets.values)
    goal = np.array([targets.values[k] for k in keys])
    scale = np.array([targets.weight(k) / max(1.0, abs(targets.values[k])) for k in keys])
    mixing = _Rounds()  # the shares can swing back and forth between rounds: damped, and accelerated
    first_seen: dict[tuple, int] = {}  # the rounded values, as a key -> the first round they came in
    ends: list[tuple] = []  # each round's (cost of the rounded scenario at its own shares, changes, approx)
    last = None
    for rounds in range(1, MAX_ROUNDS + 1):
        fit, x = _fit(scenario, blocks, targets, at, regularization, x)
        changes = _rounded(fit.values, decimals)
        key = _key(changes)
        if key == last:
            new = _Timing.of(approx.chain)  # the same scenario as last round: the same approximation
        else:
            # the last round's fixed point is the start of this one's: the scenario differs in its routing only
            approx = approximate(_apply(scenario, changes), start=approx)
            new = _Timing.of(approx.chain)
        fitted = _figures(_chain(_apply(scenario, changes), new), keys)
        ends.append((float(np.sum(((fitted - goal) * scale) ** 2)), changes, approx))
        if at.change(new) <= SHARE_TOLERANCE:
            break
        if key != last and key in first_seen:
            # the rounded values came back to an earlier round's: the rounding to ``decimals`` places moves the
            # shares by more than the tolerance, so they cycle among these; keep the one closest to the targets
            _, changes, approx = min(ends[first_seen[key]:], key=lambda end: end[0])
            break
        first_seen.setdefault(key, len(ends) - 1)
        last = key
        at = mixing.next(at, new)
    new = _Timing.of(approx.chain)
    calibrated = scenario.with_changes(changes)
    chain = _chain(calibrated, new)
    served, closed = dict(approx.served_shares), dict(approx.closed_shares)
    fitted = _figures(chain, keys)
    table = pd.DataFrame({
        "target": [targets.values[k] for k in keys],
        "fitted": fitted,
        "residual": fitted - np.array([targets.values[k] for k in keys]),
        "met": [targets.met(k, f) for k, f in zip(keys, fitted)],
    }, index=pd.Index(keys, name="figure"))
    reached = bool(table["met"].all())
    conflicts: tuple[str, ...] = ()
    if not reached and find_conflicts and len(keys) > 1:
        conflicts = tuple(k for k in keys if _reachable_without(scenario, blocks, targets.without(k),
                                                                 new, regularization))
    return Calibration(calibrated, scenario, targets, fields, changes, table, served, closed, rounds,
                       reached, conflicts)


def _key(values: Mapping[str, Any]) -> tuple:
    """Rounded free values as a key, to tell when the rounds come back to the same scenario."""
    return tuple((path, tuple(v.items()) if isinstance(v, Mapping) else v) for path, v in values.items())


def _rounded(values: Mapping[str, Any], decimals: int) -> dict[str, Any]:
    return {path: (_round_row(v, decimals) if isinstance(v, Mapping) else round(v, decimals))
            for path, v in values.items()}


def _reachable_without(scenario: Scenario, blocks: list[_Block], targets: Targets, at: _Timing,
                       regularization: float) -> bool:
    fit, _ = _fit(scenario, blocks, targets, at, regularization)
    return all(targets.met(k, f) for k, f in zip(targets.values, fit.fitted))


# --------------------------------------------------------------------------- writing the file


_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")


def _toml_value(value: Any) -> str:
    def number(v: float) -> str:
        text = repr(float(v))
        return text if "e" not in text else f"{v:.12f}".rstrip("0")

    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{k} = {number(v)}" for k, v in value.items()) + " }"
    return number(value)


def _edit_lines(text: str, changes: Mapping[str, Any]) -> str | None:
    """Rewrite the value of each changed field on its own line, keeping comments; None when not possible."""
    lines = text.splitlines(keepends=True)
    table = ""
    pending = dict(changes)
    for i, line in enumerate(lines):
        header = _HEADER.match(line)
        if header:
            table = ".".join(part.strip().strip('"') for part in header.group(1).split("."))
            continue
        for path in list(pending):
            parent, _, key = path.rpartition(".")
            if parent != table:
                continue
            match = re.match(rf"^(\s*{re.escape(key)}\s*=\s*)", line)
            if not match:
                continue
            rest = line[match.end():]
            if rest.startswith("{"):
                end = rest.find("}")
                if end < 0:
                    return None  # an inline table over several lines
                tail = rest[end + 1:]
            else:
                number = re.match(r"[-+0-9._eE]+", rest)
                if not number:
                    return None
                tail = rest[number.end():]
            lines[i] = match.group(1) + _toml_value(pending.pop(path)) + tail
    return None if pending else "".join(lines)


def _strip_note(text: str) -> str:
    """The text without a previous calibration note at its top."""
    if text.startswith(NOTE_BEGIN):
        end = text.find(NOTE_END)
        if end >= 0:
            return text[end + len(NOTE_END):].lstrip("\n")
    return text
