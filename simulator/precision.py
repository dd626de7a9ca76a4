"""Sequential precision: add replications until the confidence intervals are narrow enough.

A planner asks for "the give-up rate to within ±0.2 points", not for "ten
replications". :class:`Precision` holds such targets (a CI half-width per
figure) and decides, after each complete batch of replications, how many
replications in total are needed: it stops when every half-width is at or
below its target, or at ``max_replications``. The decision only looks at
finished batches, so it does not depend on how many workers ran them.

Figures are named as everywhere in contactflow (:func:`figure_index`): a KPI
(``give_up_rate``), ``channels.CHANNEL.METRIC``, ``before_call.CHANNEL`` or
``after_call.TARGET``.

Examples
--------
>>> p = Precision.parse(["give_up_rate=0.002"], max_replications=50)
>>> p.targets
{'give_up_rate': 0.002}
>>> import numpy as np
>>> rng = np.random.default_rng(1)
>>> p.replications_needed({"give_up_rate": rng.normal(0.05, 0.004, 5)}) > 5
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
from scipy import stats

# figure_index, figure_key, no_column_message and FIGURE_HELP are imported from here too
from .figures import (ALL_CHANNEL_METRICS, FIGURE_HELP, GROUP_METRICS, KPI_NAMES, figure_index,  # noqa: F401
                      figure_key, no_column_message, table_columns)
from .metrics import confidence_interval
from .scenario import MAX_REPLICATIONS, Scenario
from .validation import did_you_mean

__all__ = [
    "Precision",
    "PrecisionError",
    "PrecisionReport",
    "figure_index",
    "figure_key",
    "check_figure",
    "no_column_message",
    "replication_values",
    "most_replications",
    "DEFAULT_MAX_REPLICATIONS",
]

DEFAULT_MAX_REPLICATIONS = 100
#: A batch never more than multiplies the replications by this, so one noisy
#: early estimate of the spread cannot send a run far past what it needs.
MAX_GROWTH = 2.0


# --------------------------------------------------------------------------- figures of a scenario


class PrecisionError(ValueError):
    """A figure cannot be estimated to a precision (it is undefined in every replication)."""


def check_figure(key: str, scenario: Scenario) -> tuple[str, str, str]:
    """:func:`figure_index`, also checking that the scenario has that figure.

    Raises
    ------
    KeyError
        Naming what is allowed.

    Examples
    --------
    >>> import simulator as sim
    >>> check_figure("channels.fax.service_level", sim.load_scenario("nice_bcg_2016"))
    Traceback (most recent call last):
    ...
    KeyError: "channels.fax.service_level: no channel 'fax' (channels: web, email, chat, phone)"
    """
    table, channel, metric = figure_index(key)
    names = scenario.channel_names
    columns = table_columns(names, scenario.focal_channel)
    if table == "kpis" and metric not in KPI_NAMES:
        hint = did_you_mean(metric, KPI_NAMES)
        raise KeyError(f"{key}: not a KPI{'; ' + hint if hint else ''} (KPIs: {', '.join(KPI_NAMES)}; "
                       "other figures are channels.CHANNEL.METRIC, before_call.CHANNEL or after_call.TARGET)")
    if table == "channels" and channel not in names:
        raise KeyError(f"{key}: no channel {channel!r} (channels: {', '.join(names)})")
    if table in ("before_call", "after_call") and channel not in columns[table]:
        raise KeyError(f"{key}: {no_column_message(table, channel, columns[table], scenario.focal_channel)}")
    if table == "channels" and metric not in ALL_CHANNEL_METRICS:
        raise KeyError(f"{key}: no channel metric {metric!r} (metrics: {', '.join(ALL_CHANNEL_METRICS)})")
    if table == "groups":
        if channel not in scenario.group_names:
            raise KeyError(f"{key}: no group {channel!r} (groups: {', '.join(scenario.group_names)})")
        skills = [f"skill_share.{c}" for c in scenario.group(channel).skills]
        if metric not in GROUP_METRICS + tuple(skills):
            raise KeyError(f"{key}: no group metric {metric!r} (metrics: {', '.join(GROUP_METRICS + tuple(skills))})")
    return table, channel, metric


def replication_values(outputs: Sequence[Any], key: str) -> np.ndarray:
    """One figure's value in each replication, from :func:`~simulator.experiment.run_replication` outputs.

    NaN where the figure is undefined in a replication (or absent).
    """
    index = figure_index(key)
    values = np.full(len(outputs), math.nan)
    for r, output in enumerate(outputs):
        for table, channel, metric, value in output[0]:
            if (table, channel, metric) == index:
                values[r] = value
                break
    return values


# --------------------------------------------------------------------------- the rule


def half_width(values: np.ndarray, level: float = 0.95) -> float:
    """Half the width of the CI of the mean (:func:`~simulator.metrics.confidence_interval`: Student t
    corrected for skewness; NaN values left out; NaN below 2 values)."""
    _, low, high = confidence_interval(values, level)
    return (high - low) / 2.0


@dataclass(frozen=True)
class PrecisionReport:
    """What sequential precision achieved.

    Attributes
    ----------
    targets
        The half-width asked for, per figure (or per ``"figure (scenario - base)"``
        for a comparison).
    half_widths
        The half-width reached.
    replications
        Replications run.
    met
        Whether every target was reached (False when stopped by ``max_replications``).
    """

    targets: Mapping[str, float]
    half_widths: Mapping[str, float]
    replications: int
    max_replications: int
    met: bool

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON."""
        return {
            "replications": self.replications,
            "max_replications": self.max_replications,
            "met": self.met,
            "figures": {k: {"target": self.targets[k],
                            "half_width": None if math.isnan(h) else h}
                        for k, h in self.half_widths.items()},
        }

    def text(self) -> str:
        """One line for people, e.g. ``precision reached after 24 replications: give_up_rate ±0.0018 (target 0.002)``."""
        parts = ", ".join(f"{k} ±{h:.3g} (target {self.targets[k]:g})" for k, h in self.half_widths.items())
        state = (f"precision reached after {self.replications} replications" if self.met else
                 f"precision NOT reached: stopped at the maximum of {self.replications} replications")
        return f"{state}: {parts}"


@dataclass(frozen=True)
class Precision:
    """Targets for the CI half-width of some figures, and the most replications to spend.

    Parameters
    ----------
    targets
        ``{figure: half_width}``, e.g. ``{"give_up_rate": 0.002}``; see :func:`figure_index`.
    max_replications
        Stop there even if a target is not reached (the report says so).
    level
        Confidence level of the intervals.

    Examples
    --------
    >>> Precision({"channels.phone.service_level": 0.01}).max_replications
    100
    """

    targets: Mapping[str, float]
    max_replications: int = DEFAULT_MAX_REPLICATIONS
    level: float = 0.95

    def __post_init__(self) -> None:
        if not self.targets:
            raise ValueError("precision needs at least one FIGURE=HALF_WIDTH target")
        for key, target in self.targets.items():
            figure_index(key)
            if not (isinstance(target, (int, float)) and math.isfinite(target) and target > 0):
                raise ValueError(f"precision target for {key} must be a half-width > 0; got {target!r}")
        if not 2 <= self.max_replications <= MAX_REPLICATIONS:
            raise ValueError(f"max_replications must be from 2 to {MAX_REPLICATIONS:,}; got {self.max_replications}")
        object.__setattr__(self, "targets", dict(self.targets))

    @classmethod
    def parse(cls, texts: Iterable[str], max_replications: int = DEFAULT_MAX_REPLICATIONS) -> "Precision":
        """From ``FIGURE=HALF_WIDTH`` strings, as given to ``--precision``.

        Examples
        --------
        >>> Precision.parse(["give_up_rate=0.002", "channels.phone.service_level=0.01"]).targets
        {'give_up_rate': 0.002, 'channels.phone.service_level': 0.01}
        """
        targets = {}
        for text in texts:
            key, sep, raw = text.partition("=")
            key = key.strip()
            try:
                value = float(raw)
            except ValueError:
                value = math.nan
            if not sep or not key or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{text!r} is not FIGURE=HALF_WIDTH with a half-width > 0 "
                                 "(e.g. give_up_rate=0.002)")
            targets[key] = value
        return cls(targets, max_replications)

    @classmethod
    def coerce(cls, value: "Precision | Mapping[str, float] | None") -> "Precision | None":
        """A :class:`Precision` from itself, a ``{figure: half_width}`` mapping, or None."""
        if value is None or isinstance(value, Precision):
            return value
        return cls(dict(value))

    def check(self, scenario: Scenario) -> None:
        """Raise a KeyError naming what is allowed if the scenario lacks a target figure."""
        for key in self.targets:
            check_figure(key, scenario)

    def first_batch(self, replications: int) -> int:
        """Replications to start with: at least 2 (a CI needs them), at most the maximum."""
        return min(max(2, replications), self.max_replications)

    def replications_needed(self, samples: Mapping[str, np.ndarray]) -> int:
        """Total replications needed, given each target's per-replication values so far.

        ``samples`` maps a target's figure name (or a label starting with it,
        such as ``"give_up_rate (variant - base)"``) to its values, one per
        replication. Returns the current number when every half-width is at
        its target or the maximum is reached; otherwise the estimate from the
        spread so far (the smallest ``n`` with ``t(n-1) s / sqrt(n)`` at the
        target, ``s`` scaled by how much wider than that the interval is for
        the figure's skewness), at least one more and at most
        :data:`MAX_GROWTH` times more.
        """
        n = max(len(v) for v in samples.values())
        if n >= self.max_replications:
            return n
        most = min(self.max_replications, max(n + 1, int(math.ceil(MAX_GROWTH * n))))
        needed = n
        for label, values in samples.items():
            target = self._target(label)
            valid = values[~np.isnan(values)]
            if len(valid) < 2:
                if n >= 2 and len(valid) == 0:
                    raise PrecisionError(f"{label} is undefined in every replication so far (e.g. a share "
                                         "of no customers); it cannot be estimated to a precision")
                needed = max(needed, n + 1)
                continue
            width = half_width(valid, self.level)
            if width <= target:
                continue
            # a skewed figure's interval is wider than t s / sqrt(n): plan with the spread that width implies
            spread = float(np.std(valid, ddof=1))
            student = stats.t.ppf(0.5 + self.level / 2, len(valid) - 1) * spread / math.sqrt(len(valid))
            needed = max(needed, self._replications_for(spread * width / student, target, n, most))
        return min(needed, most)

    def samples(self, outputs: Sequence[Any]) -> dict[str, np.ndarray]:
        """Each target figure's per-replication values in one scenario's replication outputs."""
        return {key: replication_values(outputs, key) for key in self.targets}

    def report(self, samples: Mapping[str, np.ndarray]) -> PrecisionReport:
        """The half-widths reached by ``samples`` against the targets."""
        widths = {label: half_width(values, self.level) for label, values in samples.items()}
        targets = {label: self._target(label) for label in samples}
        met = all(not math.isnan(w) and w <= targets[label] for label, w in widths.items())
        n = max(len(v) for v in samples.values())
        return PrecisionReport(targets, widths, n, self.max_replications, met)

    def _target(self, label: str) -> float:
        return self.targets[label.split(" ")[0]]

    def _replications_for(self, spread: float, target: float, n: int, most: int | None = None) -> int:
        """The smallest ``m > n`` whose half-width ``t(m-1) spread / sqrt(m)`` is at the target, or ``most``
        (default: the maximum)."""
        most = self.max_replications if most is None else most
        ratio = stats.norm.ppf(0.5 + self.level / 2) * spread / target  # the normal approximation: m = ratio^2
        m = max(n + 1, most if ratio >= math.sqrt(most) else math.ceil(ratio**2))
        while m < most and stats.t.ppf(0.5 + self.level / 2, m - 1) * spread / math.sqrt(m) > target:
            m += 1
        return m


def most_replications(replications: int, precision: Precision | None) -> int:
    """The most replications a run that starts with ``replications`` may end up with.

    Examples
    --------
    >>> most_replications(5, None), most_replications(5, Precision({"give_up_rate": 0.01}, 40))
    (5, 40)
    """
    return replications if precision is None else max(replications, precision.max_replications)
