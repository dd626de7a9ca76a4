"""Warm-up length for steady-state scenarios, suggested from the data with MSER-5.

A simulation starts empty: no queue, idle agents, no backlog. For a scenario
meant as a steady state (constant arrival rate and staffing, always open),
the first hours are not representative and belong in ``run.warmup_hours``.
How long? :func:`suggest_warmup` simulates the scenario from empty with no
warm-up, averages each staffed channel's waits over replications in time
bins, and applies the MSER-5 rule (:func:`mser`, White 1997; Franklin and
White 2008): truncate where the mean squared error of the remaining mean is
smallest. The suggestion is the largest truncation over the channels; use it
with :meth:`WarmupSuggestion.apply` or ``--set run.warmup_hours=H``.

Scenarios with an hourly profile, shift plans or opening hours never settle
into a steady state (the day itself is the pattern); for them, a warm-up of a
day or so lets backlogs reach their daily rhythm, and MSER does not apply.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> transient = np.r_[np.linspace(0.0, 10.0, 100), np.full(900, 10.0)] + rng.normal(0, 1, 1000)
>>> 60 <= mser(transient) <= 140
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .experiment import run as run_scenario
from .scenario import Scenario

__all__ = ["mser", "suggest_warmup", "WarmupSuggestion", "steady_state_problems"]

#: Observations per batch of the MSER-5 rule.
MSER_BATCH = 5
#: Time bins the run is cut into for the wait series.
BINS = 500


def mser(series: Sequence[float], batch: int = MSER_BATCH) -> int:
    """The MSER-``batch`` truncation point of a series: how many first observations to drop.

    The series is cut into batches of ``batch`` observations (a last partial
    batch is left out); for each ``d`` in the first half, the statistic is
    ``sum((y_i - mean(y[d:]))^2) / (n - d)^2`` over the remaining batch means
    ``y``; the truncation is the minimising ``d``, times ``batch``. NaN
    observations are left out first.

    Examples
    --------
    >>> mser([5.0] * 50 + [1.0, 1.1, 0.9, 1.0] * 100) >= 50
    True
    >>> mser(np.ones(100))
    0
    """
    x = np.asarray(series, dtype=float)
    x = x[~np.isnan(x)]
    n = len(x) // batch
    if n < 4:
        raise ValueError(f"MSER-{batch} needs at least {4 * batch} observations; got {len(x)}")
    means = x[: n * batch].reshape(n, batch).mean(axis=1)
    tail = means[::-1]
    count = np.arange(1, n + 1)
    total = np.cumsum(tail)
    total_sq = np.cumsum(tail**2)
    # for the last k batch means: sum of squared deviations = sum(y^2) - (sum y)^2 / k
    squares = total_sq - total**2 / count
    stat = (squares / count**2)[::-1]  # index d: the batches from d on
    half = n // 2 + 1
    return int(np.argmin(stat[:half])) * batch


def steady_state_problems(scenario: Scenario) -> list[str]:
    """Why a scenario is not a steady state (empty when it is)."""
    problems = []
    if scenario.arrivals.hourly_profile is not None and len(set(scenario.arrivals.hourly_profile)) > 1:
        problems.append("arrivals.hourly_profile varies by hour")
    for c in scenario.channels:
        if c.has_shift_plan and len(set(c.agents)) > 1:
            problems.append(f"channels.{c.name}.agents is a shift plan")
        if c.open_hours is not None:
            problems.append(f"channels.{c.name}.open_hours closes the channel part of the day")
    return problems


@dataclass(frozen=True)
class WarmupSuggestion:
    """A warm-up length suggested by MSER-5.

    Attributes
    ----------
    hours
        The suggested ``run.warmup_hours`` (the largest over the channels).
    per_channel
        The truncation found for each staffed channel, in hours.
    series
        The averaged wait series, indexed by bin start (minutes), one column per channel.
    """

    hours: float
    per_channel: dict[str, float]
    series: pd.DataFrame

    def apply(self, scenario: Scenario) -> Scenario:
        """The scenario with ``run.warmup_hours`` set to the suggestion.

        Examples
        --------
        >>> import simulator as sim
        >>> sc = sim.load_scenario("nice_bcg_2016")
        >>> WarmupSuggestion(1.5, {}, pd.DataFrame()).apply(sc).run.warmup_hours
        1.5
        """
        return scenario.with_changes({"run.warmup_hours": self.hours})


def suggest_warmup(scenario: Scenario, replications: int = 5, seed: int | None = None, *,
                   days: float | None = None, channels: Sequence[str] | None = None,
                   bins: int = BINS, workers: int = 1) -> WarmupSuggestion:
    """Suggest ``run.warmup_hours`` for a steady-state scenario with MSER-5.

    Parameters
    ----------
    scenario
        A steady-state scenario (see :func:`steady_state_problems`).
    replications, seed, days
        The runs to learn from; they start empty and have no warm-up. ``days``
        defaults to the scenario's; the run should be several times longer
        than the warm-up it looks for.
    channels
        Staffed channels to look at (default: all).
    bins
        Time bins the run is cut into; each bin's mean wait (over the contacts
        that start in it, pooled over replications) is one observation.
    workers
        Processes for the replications.

    Raises
    ------
    ValueError
        If the scenario is not a steady state, or has no staffed channel.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 0.5})
    >>> s = suggest_warmup(sc, replications=2, seed=1)
    >>> 0 <= s.hours <= 6
    True
    """
    problems = steady_state_problems(scenario)
    if problems:
        raise ValueError(f"{scenario.source or scenario.name}: warm-up detection needs a steady-state "
                         f"scenario, but {'; '.join(problems)}")
    staffed = [c.name for c in scenario.channels if not c.unlimited]
    channels = list(channels) if channels is not None else staffed
    for name in channels:
        if name not in staffed:
            raise ValueError(f"{name!r} is not a staffed channel (staffed: {', '.join(staffed) or 'none'})")
    if not channels:
        raise ValueError(f"{scenario.name}: no staffed channel, so no queue to warm up")
    changes = {"run.warmup_hours": 0}
    if days is not None:
        changes["run.days"] = days
    scenario = scenario.with_changes(changes)
    result = run_scenario(scenario, replications, seed, workers=workers)
    log = result.journeys
    width = scenario.run.end_minutes / bins
    edges = np.arange(bins + 1) * width
    columns = {}
    per_channel = {}
    for name in channels:
        contacts = log[log["channel"] == name]
        slot = np.clip((contacts["time"].to_numpy() // width).astype(int), 0, bins - 1)
        total = np.bincount(slot, weights=contacts["wait"].to_numpy(), minlength=bins)
        count = np.bincount(slot, minlength=bins)
        with np.errstate(invalid="ignore", divide="ignore"):
            series = total / count
        columns[name] = series
        observed = np.flatnonzero(~np.isnan(series))  # bins where some contact started
        if len(observed) < 4 * MSER_BATCH:
            per_channel[name] = 0.0
            continue
        per_channel[name] = float(edges[observed[mser(series[observed])]]) / 60.0
    hours = max(per_channel.values())
    return WarmupSuggestion(math.ceil(hours * 100) / 100, per_channel,
                            pd.DataFrame(columns, index=pd.Index(edges[:-1], name="minute")))
