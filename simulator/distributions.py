"""Time distributions for handle times, patience and retry delays.

Every distribution is a small immutable object that knows its mean and
coefficient of variation (used by the analytic engine) and draws samples in
blocks from a :class:`numpy.random.Generator` (used by the model).

Scenario files write them inline::

    handle_time = { dist = "lognormal", mean = 6.0, cv = 0.8 }

Examples
--------
>>> import numpy as np
>>> from simulator.distributions import from_spec
>>> d = from_spec({"dist": "gamma", "mean": 4.0, "cv": 0.5})
>>> d.mean, d.cv
(4.0, 0.5)
>>> d.sample(np.random.default_rng(1), 3).shape
(3,)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from .validation import did_you_mean, format_bound, is_number, unknown_key_message

__all__ = [
    "Distribution",
    "Exponential",
    "Lognormal",
    "Gamma",
    "Deterministic",
    "Uniform",
    "Empirical",
    "DISTRIBUTIONS",
    "from_spec",
    "spec_problems",
    "MIN_MINUTES",
    "MAX_MINUTES",
    "MIN_CV",
    "MAX_CV",
]

#: Shortest time a distribution's parameters may give, in minutes (60 microseconds): any
#: contact lasts longer, and shorter means make rates that overflow in the analytic engine.
MIN_MINUTES = 1e-6
#: Longest, in minutes: 10 years. No contact, patience or retry delay lasts longer, and a
#: longer one would keep a run (which ends when every journey has ended) going for centuries.
MAX_MINUTES = 10 * 365 * 1440
#: Range of a coefficient of variation (lognormal, gamma) where sampling is numerically sound:
#: a gamma shape ``1 / cv**2`` of 1e6 to 0.01 (below that most draws underflow to 0), and a
#: lognormal sigma of 0.001 to 2.15.
MIN_CV, MAX_CV = 1e-3, 10.0


#: What a time parameter may be, for messages.
TIME_RANGE = f"from {format_bound(MIN_MINUTES)} to {format_bound(MAX_MINUTES)} minutes (10 years)"


class Distribution:
    """Base class: a positive random time, in minutes."""

    name: ClassVar[str]
    #: Parameter names of the inline spec, besides ``dist``.
    params: ClassVar[tuple[str, ...]]

    #: Mean, in minutes; subclasses provide it as a field or a property.
    mean: float
    #: Coefficient of variation (standard deviation / mean).
    cv: float

    def sample(self, rng: np.random.Generator, size: int) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def to_spec(self) -> dict[str, Any]:
        """The inline-table form, as written in a scenario file."""
        spec: dict[str, Any] = {"dist": self.name}
        for p in self.params:
            value = getattr(self, p)
            spec[p] = list(value) if isinstance(value, tuple) else value
        return spec

    def __str__(self) -> str:
        args = ", ".join(f"{p}={getattr(self, p)!r}" for p in self.params if p != "values")
        if self.name == "empirical":
            args = f"{len(self.values)} values, mean={self.mean:.3g}"  # type: ignore[attr-defined]
        return f"{self.name}({args})"


@dataclass(frozen=True)
class Exponential(Distribution):
    """Exponential time with the given mean (memoryless; the Erlang models' assumption)."""

    mean: float
    name: ClassVar[str] = "exponential"
    params: ClassVar[tuple[str, ...]] = ("mean",)

    @property
    def cv(self) -> float:
        return 1.0

    def sample(self, rng, size):
        return rng.exponential(self.mean, size)


@dataclass(frozen=True)
class Lognormal(Distribution):
    """Lognormal time given by its mean and coefficient of variation."""

    mean: float
    cv: float
    name: ClassVar[str] = "lognormal"
    params: ClassVar[tuple[str, ...]] = ("mean", "cv")

    def sample(self, rng, size):
        sigma2 = math.log1p(self.cv**2)
        mu = math.log(self.mean) - sigma2 / 2
        return rng.lognormal(mu, math.sqrt(sigma2), size)


@dataclass(frozen=True)
class Gamma(Distribution):
    """Gamma time given by its mean and coefficient of variation (cv = 1 is exponential)."""

    mean: float
    cv: float
    name: ClassVar[str] = "gamma"
    params: ClassVar[tuple[str, ...]] = ("mean", "cv")

    def sample(self, rng, size):
        shape = 1.0 / self.cv**2
        return rng.gamma(shape, self.mean / shape, size)


@dataclass(frozen=True)
class Deterministic(Distribution):
    """Always the same value."""

    value: float
    name: ClassVar[str] = "deterministic"
    params: ClassVar[tuple[str, ...]] = ("value",)

    @property
    def mean(self) -> float:
        return self.value

    @property
    def cv(self) -> float:
        return 0.0

    def sample(self, rng, size):
        return np.full(size, float(self.value))


@dataclass(frozen=True)
class Uniform(Distribution):
    """Uniform time between ``low`` and ``high``."""

    low: float
    high: float
    name: ClassVar[str] = "uniform"
    params: ClassVar[tuple[str, ...]] = ("low", "high")

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2

    @property
    def cv(self) -> float:
        return (self.high - self.low) / math.sqrt(12) / self.mean

    def sample(self, rng, size):
        return rng.uniform(self.low, self.high, size)


@dataclass(frozen=True)
class Empirical(Distribution):
    """Resamples a list of observed values with replacement."""

    values: tuple[float, ...]
    name: ClassVar[str] = "empirical"
    params: ClassVar[tuple[str, ...]] = ("values",)

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def cv(self) -> float:
        return float(np.std(self.values) / np.mean(self.values))

    def sample(self, rng, size):
        return rng.choice(np.asarray(self.values, dtype=float), size)


#: Distribution classes by the name used in scenario files.
DISTRIBUTIONS: dict[str, type[Distribution]] = {
    cls.name: cls for cls in (Exponential, Lognormal, Gamma, Deterministic, Uniform, Empirical)
}


#: Every key some inline spec takes, for the unknown-key hint when ``dist`` is missing or unknown.
_ALL_KEYS = ("dist", *dict.fromkeys(p for cls in DISTRIBUTIONS.values() for p in cls.params))


def _check_spec(spec: Any) -> tuple[type[Distribution] | None, list[tuple[str, str]]]:
    """Return the class named by an inline spec and every problem with it, as ``(key, message)``."""
    if not isinstance(spec, dict):
        return None, [("", f"must be an inline table like {{ dist = \"exponential\", mean = 5.0 }}, got {spec!r}")]
    name = spec.get("dist")
    cls = DISTRIBUTIONS.get(name) if isinstance(name, str) else None
    allowed = ("dist", *cls.params) if cls else _ALL_KEYS
    problems = [(key, unknown_key_message(key, allowed)) for key in spec if key not in allowed]
    names = ", ".join(DISTRIBUTIONS)
    if name is None:
        problems.insert(0, ("dist", f"missing; needed: one of {names}"))
    elif cls is None:
        hint = did_you_mean(name, DISTRIBUTIONS)
        problems.insert(0, ("dist", f"must be one of {names}; got {name!r}" + (f"; {hint}" if hint else "")))
    if cls is None:
        return None, problems
    missing = [p for p in cls.params if p not in spec]
    for p in missing:
        needed = "a non-empty list of numbers >= 0" if cls is Empirical else f"a number {_bound(p)}"
        problems.append((p, f"missing; needed: {needed} ({name} takes {', '.join(cls.params)})"))
    if missing:
        return cls, problems
    if cls is Empirical:
        values = spec["values"]
        if (
            not isinstance(values, list)
            or not values
            or not all(is_number(v) and 0 <= v <= MAX_MINUTES for v in values)
        ):
            problems.append(("", "empirical values must be a non-empty list of finite numbers "
                                 f"from 0 to {format_bound(MAX_MINUTES)} minutes (10 years)"))
        elif math.fsum(values) / len(values) < MIN_MINUTES:
            problems.append(("", f"empirical values must have a mean of at least {format_bound(MIN_MINUTES)} "
                                 "minutes (they must not all be zero)"))
        return cls, problems
    bad_value = False
    for p in cls.params:
        v = spec[p]
        low, high = _limits(p)
        if not is_number(v):
            problems.append(("", f"{p} must be a finite number {_bound(p)}; got {v!r}"))
        elif not low <= v <= high:
            problems.append(("", f"{p} must be {_bound(p)}; got {v!r}"))
        else:
            continue
        bad_value = True
    if cls is Uniform and not bad_value and spec["high"] <= spec["low"]:
        problems.append(("", f"high must be > low; got low={spec['low']}, high={spec['high']}"))
    return cls, problems


def _limits(param: str) -> tuple[float, float]:
    """The smallest and largest value a distribution parameter may take."""
    if param == "cv":
        return MIN_CV, MAX_CV
    return (0.0 if param == "low" else MIN_MINUTES), MAX_MINUTES


def _bound(param: str) -> str:
    """What a parameter may be, for messages: ``from 0.001 to 10``, ``from 1e-06 to ... minutes (10 years)``."""
    if param == "cv":
        return f"from {format_bound(MIN_CV)} to {format_bound(MAX_CV)}"
    return TIME_RANGE.replace(format_bound(MIN_MINUTES), "0", 1) if param == "low" else TIME_RANGE


def spec_problems(spec: Any) -> list[tuple[str, str]]:
    """List what is wrong with an inline distribution spec (empty when valid).

    Each problem is ``(key, message)``: ``key`` is the spec's key at fault (a
    mistyped or missing one), or ``""`` for the spec as a whole.
    """
    return _check_spec(spec)[1]


def from_spec(spec: dict[str, Any]) -> Distribution:
    """Build a distribution from its inline-table form.

    Raises
    ------
    ValueError
        If the spec is not valid; the message says what is allowed.

    Examples
    --------
    >>> from_spec({"dist": "exponential", "mean": 3})
    Exponential(mean=3.0)
    """
    cls, problems = _check_spec(spec)
    if problems:
        raise ValueError("; ".join(f"{key}: {message}" if key else message for key, message in problems))
    assert cls is not None
    if cls is Empirical:
        return Empirical(tuple(float(v) for v in spec["values"]))
    return cls(*(float(spec[p]) for p in cls.params))
