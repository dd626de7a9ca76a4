"""Warm-up length for steady-state scenarios, suggested from the data with MSER-5.

A simulation starts empty: no queue, idle agents, no backlog. For a scenario
meant as a steady state (constant arrival rate and staffing, always open),
the first hours are not representative and belong in ``run.warmup_hours``.
How long? :func:`suggest_warmup` simulates the scenario from empty with no
warm-up, averages each staffed channel's waits in time bins, and applies the
MSER-5 rule (:func:`mser`, White 1997; Franklin and White 2008): truncate
where the mean squared error of the remaining mean is smallest. MSER is
applied to each channel's series averaged over replications (as Hoad,
Robinson and Davies 2008 recommend) and, for the spread, to each replication
alone; the suggestion is the largest channel truncation of the averaged
series. Use it with
:meth:`WarmupSuggestion.apply` or ``--set run.warmup_hours=H``.

Why not the median of the replications' truncations? Measured on an
M/M/20 queue at 97 % load (a transient of many hours), single replications
are so noisy that MSER finds no truncation in most of them, and the median
was 0 in 6 of 8 runs where the averaged series gave 5 to 20 hours.

MSER is only as good as the run is long: single truncations swing with the
queue's random excursions, and a minimum in the last half of the run
(:func:`mser_is_late`) means the run is too short to show where the
transient ends. The suggestion reports the spread over replications and
warns in those cases rather than hiding them.

Near saturation MSER also cuts too early when the run is long enough: the
last part of a slow build-up is smaller than the noise of the waits (at 95 %
load on 10 agents MSER-5 finds 0.5 to 2 hours where the queue takes a day
to settle). So each channel's cut-off is checked against the exact transient
of its queue (:func:`simulator.transient.advise_warmup`, exact for Poisson
arrivals and exponential times), and the suggestion is the longer of the two,
with a warning when MSER fell short.

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
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from .experiment import run as run_scenario
from .scenario import Scenario
from .transient import MAX_SETTLING_MINUTES, advise_warmup, steady_state_problems

__all__ = ["mser", "mser_is_late", "suggest_warmup", "WarmupSuggestion", "steady_state_problems"]

#: Observations per batch of the MSER-5 rule.
MSER_BATCH = 5
#: Time bins the run is cut into for the wait series.
BINS = 500


def _statistic(series: Sequence[float], batch: int) -> np.ndarray:
    """The MSER statistic for truncating ``d`` batches, ``d = 0 .. n - 1``."""
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
    return (squares / count**2)[::-1]  # index d: the batches from d on


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
    stat = _statistic(series, batch)
    return int(np.argmin(stat[: len(stat) // 2 + 1])) * batch


def mser_is_late(series: Sequence[float], batch: int = MSER_BATCH) -> bool:
    """Whether MSER's minimum over (almost) the whole series lies in its last half.

    :func:`mser` searches the first half only; a minimum beyond it is MSER's
    sign that the series is too short to show the end of the transient. The
    last tenth (at least 2 batches) is left out of the search, where the
    statistic of a few batch means is small by chance.

    Examples
    --------
    >>> mser_is_late(np.r_[np.linspace(10.0, 0.0, 800), np.zeros(200)])
    True
    >>> mser_is_late(np.r_[np.linspace(10.0, 0.0, 100), np.zeros(900)])
    False
    """
    stat = _statistic(series, batch)
    n = len(stat)
    search = stat[: max(1, n - max(2, n // 10))]
    return int(np.argmin(search)) > n // 2


@dataclass(frozen=True, repr=False)
class WarmupSuggestion:
    """A warm-up length suggested by MSER-5, checked against the exact transient.

    Attributes
    ----------
    hours
        The suggested ``run.warmup_hours``: over the channels, the largest of
        ``per_channel`` and ``exact`` (capped at a week).
    per_channel
        Each staffed channel's MSER-5 truncation of ``series``, in hours.
    series
        The wait series averaged over replications, indexed by bin start
        (minutes), one column per channel.
    per_replication
        The truncation of each replication (rows) and channel (columns), in
        hours; NaN where a replication had too few contacts for MSER-5.
    late
        Per channel, how many replications had MSER's minimum in the last half
        of the run (see :func:`mser_is_late`): a sign the run is too short.
    exact
        Per channel, the hours its queue takes from an empty start to come
        within 1 % of its steady state, from the exact transient of its
        M/M/c(+M) queue (:func:`simulator.transient.advise_warmup`); ``inf``
        for a queue without steady state within a week.
    warnings
        Why the suggestion may not be trustworthy: a channel whose averaged
        series, or at least half of whose replications, has a late minimum;
        replications too short for MSER-5; an averaged cut-off outside the
        replications' range; or a suggestion longer than a quarter of the run.
        Empty when none applies.
    """

    hours: float
    per_channel: dict[str, float]
    series: pd.DataFrame
    per_replication: pd.DataFrame = field(default_factory=pd.DataFrame)
    late: dict[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    exact: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        channels = ", ".join(f"{c}={h:g}" for c, h in self.per_channel.items())
        return (f"WarmupSuggestion(hours={self.hours:g}, per_channel={{{channels}}}, "
                f"replications={len(self.per_replication)}, warnings={len(self.warnings)})")

    def spread(self) -> pd.DataFrame:
        """Per channel: MSER's truncation (hours), its median, min and max over replications, ``late``,
        and the ``exact`` transient's hours."""
        table = pd.DataFrame({"hours": pd.Series(self.per_channel, dtype=float),
                              "median": self.per_replication.median(),
                              "min": self.per_replication.min(), "max": self.per_replication.max(),
                              "late": pd.Series(self.late, dtype=float),
                              "exact": pd.Series(self.exact, dtype=float)})
        table.index.name = "channel"
        return table

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


def _wait_series(contacts: pd.DataFrame, width: float, bins: int) -> np.ndarray:
    """Mean wait of the contacts starting in each time bin (NaN where none did)."""
    slot = np.clip((contacts["time"].to_numpy() // width).astype(int), 0, bins - 1)
    total = np.bincount(slot, weights=contacts["wait"].to_numpy(), minlength=bins)
    count = np.bincount(slot, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / count


def _truncation(series: np.ndarray, edges: np.ndarray) -> tuple[float, bool]:
    """MSER-5 truncation of a wait series in hours (NaN if too short) and whether it is late."""
    observed = np.flatnonzero(~np.isnan(series))  # bins where some contact started
    if len(observed) < 4 * MSER_BATCH:
        return math.nan, False
    values = series[observed]
    return float(edges[observed[mser(values)]]) / 60.0, mser_is_late(values)


def suggest_warmup(scenario: Scenario, replications: int = 5, seed: int | None = None, *,
                   days: float | None = None, channels: Sequence[str] | None = None,
                   bins: int = BINS, workers: int = 1,
                   progress: Callable[[int], None] | None = None, force: bool = False) -> WarmupSuggestion:
    """Suggest ``run.warmup_hours`` for a steady-state scenario with MSER-5.

    MSER-5 is applied to each channel's wait series averaged over
    replications; each channel's truncation is checked against the exact
    transient of its queue, and the suggestion is the largest of them all.
    :meth:`WarmupSuggestion.spread` gives the truncations of the single
    replications for comparison, and ``warnings`` says when the run looks too
    short for MSER.

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
        that start in it) is one observation.
    workers
        Processes for the replications.
    progress
        Called with the number of replications finished, as in :func:`simulator.run`.
    force
        Run even when the run is estimated to be far beyond this machine
        (:mod:`simulator.runsize`); otherwise that raises
        :class:`~simulator.runsize.RunTooLarge` before anything is simulated.

    Raises
    ------
    ValueError
        If the scenario is not a steady state, or has no staffed channel.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("bank_app_first").with_changes(  # made a steady state
    ...     {"arrivals.hourly_profile": None, "channels.chat.agents": 12, "channels.phone.open_hours": None,
    ...      "run.days": 0.5})
    >>> s = suggest_warmup(sc, replications=2, seed=1)
    >>> 0 <= s.hours <= 12
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
    result = run_scenario(scenario, replications, seed, workers=workers, progress=progress, force=force)
    log = result.journeys
    width = scenario.run.end_minutes / bins
    edges = np.arange(bins + 1) * width
    run_hours = scenario.run.end_minutes / 60.0
    columns, per_channel, cuts, late, warnings = {}, {}, {}, {}, []
    for name in channels:
        contacts = log[log["channel"] == name]
        columns[name] = _wait_series(contacts, width, bins)
        hours, pooled_late = _truncation(columns[name], edges)
        per_channel[name] = 0.0 if math.isnan(hours) else hours
        found = [_truncation(_wait_series(contacts[contacts["replication"] == r], width, bins), edges)
                 for r in range(replications)]
        cuts[name] = [hours for hours, _ in found]
        late[name] = sum(is_late for _, is_late in found)
        unusable = sum(math.isnan(hours) for hours, _ in found)
        if unusable:
            warnings.append(f"{name}: {unusable} of {replications} replications have fewer than "
                            f"{4 * MSER_BATCH} time bins with contacts, too few for MSER-5; "
                            f"simulate more days (-d) or use fewer bins")
        if pooled_late or 2 * late[name] >= replications:  # not just one replication's excursion
            where = " and ".join((["the replications' average"] if pooled_late else [])
                                 + ([f"{late[name]} of {replications} replications"] if late[name] else []))
            warnings.append(f"{name}: in {where} MSER's minimum lies "
                            f"in the last half of the {run_hours:g}-hour run, so the run is too short "
                            f"to show where the transient ends; simulate more days (-d)")
    per_replication = pd.DataFrame(cuts, index=pd.RangeIndex(replications, name="replication"))
    for name in channels:
        low, high = per_replication[name].min(), per_replication[name].max()
        if replications > 1 and not low <= per_channel[name] <= high:  # False too when all are NaN
            if not math.isnan(low):
                warnings.append(f"{name}: the cut-off of the average ({per_channel[name]:.2f} h) is outside the "
                                f"single replications' range ({low:.2f}-{high:.2f} h), so MSER is unstable "
                                f"here; use more replications (-r) or days (-d)")
    exact = dict.fromkeys(channels, math.nan)
    try:
        exact.update({name: h for name, h in advise_warmup(scenario).per_channel.items() if name in exact})
    except (ValueError, ArithmeticError, np.linalg.LinAlgError):
        pass  # no analytic check for this scenario; MSER alone
    for name in channels:
        if exact[name] > per_channel[name] + 0.25:  # MSER misses what the exact transient shows
            needs = ("has no steady state within a week of an empty start" if math.isinf(exact[name])
                     else f"needs {exact[name]:.2f} h to come within 1 % of its steady state")
            warnings.append(f"{name}: MSER-5's cut-off ({per_channel[name]:.2f} h) is shorter than the exact "
                            f"transient of its queue says: it {needs}; a slow build-up drowns in the noise of "
                            "the waits, so the suggestion takes the exact figure")
    longest = {name: max(per_channel[name], min(exact[name], MAX_SETTLING_MINUTES / 60.0))
               if not math.isnan(exact[name]) else per_channel[name] for name in channels}
    hours = max(longest.values())
    if hours > run_hours / 4:
        warnings.append(f"the suggestion ({hours:.2f} h) is more than a quarter of the {run_hours:g}-hour run; "
                        f"simulate several times longer (-d) to confirm it")
    return WarmupSuggestion(math.ceil(hours * 100) / 100, per_channel,
                            pd.DataFrame(columns, index=pd.Index(edges[:-1], name="minute")),
                            per_replication, late, tuple(warnings), exact)
