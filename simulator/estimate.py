"""Estimating a scenario from a contact log.

:func:`estimate` reads a :class:`~simulator.contact_log.ContactLog` (one row
per contact; see :mod:`simulator.contact_log`), takes its journeys apart
contact by contact and estimates every parameter of a scenario with an
interval:

* ``arrivals.first_channel`` and every ``next`` row: Dirichlet posterior with
  the Jeffreys prior (1/2 per target). A row's support is the targets seen in
  the log (a target never seen gets probability 0; its interval's upper end
  says how large it could still be), the point estimate is the posterior mean
  over that support and the interval is the equal-tailed credible interval
  of the Beta marginal over every possible target.
* ``resolve``: resolved / served contacts, Beta posterior (Jeffreys prior).
* ``next`` is estimated from unresolved and closed contacts, as the model
  routes them; ``next_after_abandon`` from abandoned ones, written only when
  a likelihood-ratio (G) test says the two rows differ (p < 0.01); otherwise
  both kinds of contact are pooled into ``next``.
* ``arrivals.per_hour``: journeys per hour of observed time (the periods of
  the log added up: its replications, split at days without any contact),
  with an exact Poisson interval;
  the 24 hourly rates likewise, written as ``hourly_profile`` only when a
  dispersion test says the rate varies over the day (p < 0.01).
* ``handle_time``: exponential, gamma and lognormal fitted by maximum
  likelihood to the handle times of every answer (async messages answered
  after the customer left included), the lowest AIC chosen; its mean
  and cv with intervals from the chosen family.
* ``patience``: exponential only. Waits of abandoned contacts are patience
  times, waits of served ones are censored patience times, so the maximum
  likelihood rate is (abandoned contacts) / (total waiting time of offered
  contacts), with an exact Poisson interval.
* ``open_hours`` from the hours in which contacts found a channel closed, a
  top-level ``retry_delay`` from the gaps between a contact's end and the next
  one's start, ``max_contacts`` from the longest journey.

Agents are not in a contact log. They are guessed (Erlang A at the log's mean
contact rate reproducing the observed abandonment, else the served load at
85 % occupancy) and marked in the scenario as an assumption to replace.

Censoring: a log cuts journeys at both ends. With a censoring window ``W``
(default: the 99th percentile of the time between consecutive contacts of a
journey), routing steps from contacts in the last ``W`` minutes of each period
are not used (whether the customer came back is not known yet), and, unless
the log numbers its contacts, journeys whose first contact lies in a period's
first ``W`` minutes are left out of the first-channel mix and the arrival rate (they may
have begun before the log did).

Examples
--------
>>> import simulator as sim
>>> from simulator.contact_log import to_contact_log
>>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.2, seed=3)
>>> est = estimate(to_contact_log(res), source="nice.csv")
>>> est.to_scenario().channel_names
('chat', 'email', 'phone', 'web')
>>> row = est.parameters.loc["channels.web.resolve"]
>>> bool(row["ci_low"] <= row["mean"] <= row["ci_high"])
True
"""

from __future__ import annotations

import json
import math
import numbers
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from .analytic import erlang_a, erlang_c
from .contact_log import ContactLog, problem_report, read_contact_log
from .files import atomic_write, safe_file_name
from .json_data import dumps, plain
from .scenario import (DEFAULT_MAX_CONTACTS, GIVE_UP, MAX_CHANNELS, MAX_CONTACTS_LIMIT, Scenario,
                       parse_toml)

__all__ = [
    "Estimate",
    "EstimateError",
    "estimate",
    "fit_durations",
    "dirichlet_row",
    "DURATION_FAMILIES",
]

DEFAULT_LEVEL = 0.95
#: Jeffreys prior weight per category.
PRIOR = 0.5
#: Significance level of the tests that decide to write ``next_after_abandon`` and ``hourly_profile``.
TEST_ALPHA = 0.01
#: Quantile of the time between consecutive contacts used as the default censoring window.
CENSOR_QUANTILE = 0.99
#: Occupancy assumed when agents are guessed from the served load.
OCCUPANCY_ASSUMPTION = 0.85
#: Families fitted to handle times and retry delays, compared by AIC.
DURATION_FAMILIES = ("exponential", "gamma", "lognormal")
#: Handle time written when the log has none (the scenario must stay valid).
PLACEHOLDER_HANDLE = {"dist": "exponential", "mean": 5.0}
#: Retry delays shorter than this (minutes, median) count as none.
MIN_RETRY_DELAY = 0.01
#: Durations whose ``log(mean) - mean(log)`` is at most this (a cv below about 1.4e-6) count as all
#: equal, i.e. deterministic: the difference is rounding noise.
MIN_LOG_SPREAD = 1e-12
#: Gamma shapes above this are solved from the asymptotic series (Newton's steps lose precision there).
LARGE_GAMMA_SHAPE = 1000.0
PROBABILITY_DIGITS = 6


class EstimateError(ValueError):
    """The options of :func:`estimate` do not fit the log (e.g. an unknown focal channel).

    The message has the form of a :class:`~simulator.contact_log.ContactLogError`'s;
    :attr:`option` is the argument at fault (``focal_channel``, ...), or None.
    """

    def __init__(self, problem: str, source: str | None = None, option: str | None = None):
        self.problem, self.source, self.option = problem, source, option
        super().__init__(problem_report([f"{option}: {problem}" if option else problem], source or "estimate"))

    def naming_options(self, names: Mapping[str, str]) -> "EstimateError":
        """The same error with its option named as in ``names``, e.g. ``{"focal_channel": "--focal"}``."""
        return EstimateError(self.problem, self.source, names.get(self.option, self.option))


# --------------------------------------------------------------------------- statistics


def dirichlet_row(counts: Mapping[str, int], level: float = DEFAULT_LEVEL) -> pd.DataFrame:
    """Posterior of a probability row from counts, with the Jeffreys prior.

    Parameters
    ----------
    counts
        Count of each possible target (targets never seen included, with 0).
    level
        Credible level of the intervals.

    Returns
    -------
    DataFrame
        Indexed by target: ``count``, ``mean`` (posterior mean over the
        targets seen; 0 for a target never seen, so the means sum to 1),
        ``ci_low``, ``ci_high`` (equal-tailed interval of the Beta marginal
        over all targets; 0 as the lower end when a target was never seen,
        1 as the upper end when it was the only one seen) and ``n`` (the
        total count).

    Examples
    --------
    >>> row = dirichlet_row({"web": 30, "phone": 70, "give_up": 0})
    >>> row["mean"].round(3).tolist()
    [0.302, 0.698, 0.0]
    >>> float(row.loc["give_up", "ci_low"]), bool(row.loc["give_up", "ci_high"] > 0)
    (0.0, True)
    """
    names = list(counts)
    n = np.array([counts[k] for k in names], dtype=float)
    total = n.sum()
    seen = n > 0
    support = PRIOR * np.count_nonzero(seen)
    mean = np.where(seen, (n + PRIOR) / (total + support), 0.0) if total else np.full(len(n), np.nan)
    a = n + PRIOR
    b = total - n + PRIOR * (len(n) - 1)
    tail = (1.0 - level) / 2.0
    if len(n) > 1:
        low = np.where(seen, stats.beta.ppf(tail, a, b), 0.0)
        high = np.where(n == total, 1.0, stats.beta.ppf(1.0 - tail, a, b))
    else:
        low, high = np.ones(1), np.ones(1)
    return pd.DataFrame({"count": n.astype(int), "mean": mean, "ci_low": low, "ci_high": high,
                         "n": int(total)}, index=pd.Index(names, name="target"))


def _poisson_interval(count: float, exposure: float, level: float) -> tuple[float, float]:
    """Exact (Garwood) interval of a Poisson rate: ``count`` events in ``exposure``."""
    tail = (1.0 - level) / 2.0
    low = stats.chi2.ppf(tail, 2 * count) / 2.0 if count > 0 else 0.0
    high = stats.chi2.ppf(1.0 - tail, 2 * count + 2) / 2.0
    return low / exposure, high / exposure


def _gamma_shape(log_mean_minus_mean_log: float) -> float:
    """Maximum-likelihood gamma shape: solves ``log k - digamma(k) = s`` (s > 0).

    Newton's method from Minka's approximation; for large shapes (nearly
    equal durations) the series ``1/(2k) + 1/(12k^2)``, exact to about
    ``1/(60 k^3)`` there, is solved instead.
    """
    s = log_mean_minus_mean_log
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"the gamma shape needs log(mean) - mean(log) > 0; got {s!r}")
    large = (3.0 + math.sqrt(9.0 + 12.0 * s)) / (12.0 * s)
    if large > LARGE_GAMMA_SHAPE:
        return large
    k = (3.0 - s + math.sqrt((s - 3.0) ** 2 + 24.0 * s)) / (12.0 * s)
    for _ in range(50):
        step = (math.log(k) - special.digamma(k) - s) / (1.0 / k - special.polygamma(1, k))
        k_new = k - step
        k = k_new if k_new > 0 else k / 2.0
        if abs(step) < 1e-12 * k:
            break
    return k


def fit_durations(values: Sequence[float] | np.ndarray, level: float = DEFAULT_LEVEL) -> pd.DataFrame:
    """Fit exponential, gamma and lognormal distributions to durations and compare them by AIC.

    Each family is fitted by maximum likelihood; the intervals of the mean
    and the cv come from the family's own sampling distribution (exact
    chi-square for the exponential mean and the lognormal cv, Cox's method for
    the lognormal mean, Wald intervals on the log scale for the gamma).

    Parameters
    ----------
    values
        Positive durations (zero, negative and missing values are left out).
    level
        Confidence level of the intervals.

    Returns
    -------
    DataFrame
        Indexed by ``dist`` (one of :data:`DURATION_FAMILIES`): ``n``,
        ``log_likelihood``, ``aic``, ``mean``, ``mean_low``, ``mean_high``,
        ``cv``, ``cv_low``, ``cv_high`` and ``chosen`` (the lowest AIC). Empty
        with fewer than two positive values, or when they are all equal up to
        rounding (see :data:`MIN_LOG_SPREAD`): the duration is then deterministic.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> fits = fit_durations(rng.lognormal(1.0, 0.7, 2000))
    >>> fits.index[fits["chosen"]].tolist()
    ['lognormal']
    >>> bool(fits.loc["lognormal", "mean_low"] < np.exp(1 + 0.7**2 / 2) < fits.loc["lognormal", "mean_high"])
    True
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    n = len(x)
    columns = ["n", "log_likelihood", "aic", "mean", "mean_low", "mean_high", "cv", "cv_low", "cv_high"]
    mean = float(x.mean()) if n else math.nan
    logs = np.log(x)
    log_spread = math.log(mean) - float(logs.mean()) if n else math.nan  # >= 0, 0 when all are equal
    if n < 2 or log_spread <= MIN_LOG_SPREAD:
        return pd.DataFrame(columns=columns + ["chosen"], index=pd.Index([], name="dist"))
    z = stats.norm.ppf(0.5 + level / 2.0)
    tail = (1.0 - level) / 2.0
    rows = {}

    # exponential: 2 n mean_hat / mean ~ chi2(2n)
    loglik = -n * math.log(mean) - n
    rows["exponential"] = (1, loglik, mean, 2 * n * mean / stats.chi2.ppf(1 - tail, 2 * n),
                           2 * n * mean / stats.chi2.ppf(tail, 2 * n), 1.0, 1.0, 1.0)

    # gamma: mean_hat = sample mean, shape from the digamma equation
    k = _gamma_shape(log_spread)
    loglik = float(stats.gamma.logpdf(x, k, scale=mean / k).sum())
    se_log_mean = 1.0 / math.sqrt(n * k)
    se_log_k = math.sqrt(k / (n * (k * special.polygamma(1, k) - 1.0))) / k
    cv = 1.0 / math.sqrt(k)
    rows["gamma"] = (2, loglik, mean, mean * math.exp(-z * se_log_mean), mean * math.exp(z * se_log_mean),
                     cv, cv * math.exp(-z * se_log_k / 2), cv * math.exp(z * se_log_k / 2))

    # lognormal: log x ~ Normal(mu, s2)
    mu, s2 = float(logs.mean()), float(logs.var())
    loglik = float(stats.norm.logpdf(logs, mu, math.sqrt(s2)).sum() - logs.sum())
    log_mean = mu + s2 / 2
    se = math.sqrt(s2 / n + s2**2 / (2 * (n - 1)))
    s2_low = n * s2 / stats.chi2.ppf(1 - tail, n - 1)
    s2_high = n * s2 / stats.chi2.ppf(tail, n - 1)
    with np.errstate(over="ignore"):  # tiny samples: an upper end of inf says "unknown"
        rows["lognormal"] = (2, loglik, *(float(np.exp(v)) for v in (log_mean, log_mean - z * se, log_mean + z * se)),
                             *(float(np.sqrt(np.expm1(v))) for v in (s2, s2_low, s2_high)))

    frame = pd.DataFrame(
        [(n, ll, 2 * k_params - 2 * ll, *rest) for k_params, ll, *rest in rows.values()],
        columns=columns, index=pd.Index(list(rows), name="dist"))
    frame["chosen"] = frame.index == frame["aic"].idxmin()
    return frame


def _g_test(table: np.ndarray) -> float:
    """p-value of the likelihood-ratio test that the rows of a count table share one distribution."""
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0
    return float(stats.chi2_contingency(table, correction=False, lambda_="log-likelihood")[1])


def _hour_exposure(start: float, end: float) -> np.ndarray:
    """Minutes of (start, end] falling in each hour of the day."""
    exposure = np.zeros(24)
    if end <= start:
        return exposure
    first, last = int(start // 60), int(math.ceil(end / 60))
    if last - first > 24 * 7:  # whole weeks add the same to every hour
        whole_days = (last - first) // 24 - 2
        exposure += whole_days * 60.0
        start += whole_days * 1440.0
        first = int(start // 60)
    for hour in range(first, last):
        low, high = max(start, hour * 60.0), min(end, (hour + 1) * 60.0)
        if high > low:
            exposure[hour % 24] += high - low
    return exposure


def _hourly_rates(arrivals: np.ndarray, windows: Sequence[tuple[float, float]],
                  level: float) -> tuple[pd.DataFrame, float]:
    """Arrivals per hour in each hour of the day, and the p-value of "the rate is constant".

    ``arrivals`` are times in the ``(start, end]`` windows. The test is Pearson's dispersion
    test of the hourly counts against their exposure, over the hours observed
    for at least a quarter of the best-observed hour's time (a sliver of an
    hour at the log's ends would make the test unreliable).
    """
    exposure = sum(_hour_exposure(start, end) for start, end in windows) / 60.0
    counts = np.bincount((arrivals % 1440 // 60).astype(np.int64), minlength=24)[:24]
    observed = exposure > 1e-9
    rates = np.where(observed, counts / np.where(observed, exposure, 1.0), np.nan)
    intervals = np.array([_poisson_interval(k, e, level) if e > 1e-9 else (np.nan, np.nan)
                          for k, e in zip(counts, exposure)])
    table = pd.DataFrame({"arrivals": counts, "exposure_hours": exposure, "rate": rates,
                          "ci_low": intervals[:, 0], "ci_high": intervals[:, 1]},
                         index=pd.Index(range(24), name="hour"))
    tested = exposure >= 0.25 * exposure.max()
    if tested.sum() < 2 or not counts[tested].sum():
        return table, 1.0
    expected = counts[tested].sum() / exposure[tested].sum() * exposure[tested]
    dispersion = float((((counts[tested] - expected) ** 2) / expected).sum())
    return table, float(stats.chi2.sf(dispersion, tested.sum() - 1))


# --------------------------------------------------------------------------- the estimate


@dataclass
class Estimate:
    """What :func:`estimate` found: every parameter with its interval, and the scenario.

    Attributes
    ----------
    parameters
        Indexed by the scenario field path (``arrivals.per_hour``,
        ``arrivals.first_channel.web``, ``channels.chat.resolve``,
        ``channels.chat.next.phone``, ``channels.chat.handle_time.mean``,
        ``channels.chat.patience.mean``, ...): ``mean`` (the estimate, as
        written in the scenario before rounding), ``ci_low``, ``ci_high``
        (the interval at :attr:`level`) and ``n`` (observations behind it).
        Agents carry no interval: they are an assumption.
    hourly
        Indexed by hour of the day: ``arrivals``, ``exposure_hours``,
        ``rate`` (journeys per hour) and its interval.
    handle_fits
        Indexed by ``(channel, dist)``: the fits of :func:`fit_durations`.
    summary
        The log: ``source``, ``contacts``, ``journeys``, ``periods`` (observed
        separately: replications, split at days without contacts) and what they
        are (``periods_are``), the time window,
        ``censor_minutes``, journeys and steps left out, and the tests.
    notes
        Assumptions and placeholders, in words (also in the scenario's comments).
    toml
        The scenario file text, with the intervals as comments.
    """

    parameters: pd.DataFrame
    hourly: pd.DataFrame
    handle_fits: pd.DataFrame
    summary: dict[str, Any]
    notes: list[str]
    toml: str
    level: float = DEFAULT_LEVEL

    def __repr__(self) -> str:
        """One line: the log it came from; the estimates are attributes."""
        s = self.summary
        return (f"Estimate({s['source']}: {s['contacts']:,} contacts in {s['journeys']:,} journeys; "
                f"{len(self.parameters)} parameters; see .parameters, .notes, .to_scenario())")

    def to_scenario(self) -> Scenario:
        """The estimated scenario, validated (parsed from :attr:`toml`)."""
        source = f"scenario estimated from {self.summary['source']}"
        return Scenario.from_dict(parse_toml(self.toml, source), source)

    def save(self, path: str | Path) -> Path:
        """Write the scenario file (atomically: a temporary file renamed into place)."""
        return atomic_write(Path(path), lambda p: p.write_text(self.toml, encoding="utf-8"))

    def to_dict(self) -> dict[str, Any]:
        """Plain data: summary, notes, parameters and hourly rates (NaN as None)."""
        fits: dict[str, dict] = {}
        for (channel, dist), row in self.handle_fits.to_dict("index").items():
            fits.setdefault(channel, {})[dist] = row
        return plain({"summary": self.summary, "level": self.level, "notes": self.notes,
                      "parameters": self.parameters.to_dict("index"),
                      "hourly": [{"hour": h, **row} for h, row in self.hourly.to_dict("index").items()],
                      "handle_fits": fits})

    def to_json(self, indent: int | None = 2) -> str:
        """:meth:`to_dict` as one JSON document."""
        return dumps(self.to_dict(), indent=indent)


def estimate(
    log: ContactLog | pd.DataFrame | str | Path,
    *,
    columns: Mapping[str, str] | str | None = None,
    focal_channel: str | None = None,
    self_service: Sequence[str] | None = None,
    async_channels: Sequence[str] | None = None,
    max_contacts: int | None = None,
    censor_minutes: float | None = None,
    level: float = DEFAULT_LEVEL,
    name: str | None = None,
    source: str | None = None,
    drop_duplicates: bool = False,
    drop_outliers: bool = False,
) -> Estimate:
    """Estimate a scenario, with intervals, from a contact log.

    Parameters
    ----------
    log
        A :class:`~simulator.contact_log.ContactLog`, a log DataFrame (e.g.
        from :func:`~simulator.contact_log.to_contact_log`) or a file path.
    columns
        Column names that differ from the defaults, when ``log`` is a
        DataFrame or a path (see :func:`~simulator.contact_log.column_names`).
    focal_channel
        The call centre (default ``phone`` when the log has it, else the
        channel with the most contacts).
    self_service
        Channels to write as ``agents = "unlimited"``. Default: those where no
        contact waited or was abandoned.
    async_channels
        Channels answered asynchronously (email): written with ``async =
        true``; a served message's patience is censored at wait + handle.
        Default: those with a message answered after the customer stopped
        waiting (an ``abandoned`` contact with a handle time); a note says so.
    max_contacts
        The journey cap of the contact centre, if there is one: the give-up
        after a journey's ``max_contacts``-th contact is forced and not used
        for ``next``. Default: not known; the scenario gets the larger of 20
        and the longest journey.
    censor_minutes
        The censoring window ``W`` (see the module docs); 0 for a complete
        log, such as a simulation's.
    level
        Level of every interval (default 0.95).
    name, source
        The scenario's name (default from the log's file name) and the log's
        name shown in the comments.
    drop_duplicates, drop_outliers
        When ``log`` is a DataFrame or a path: leave out repeated rows and
        contacts far in time from the rest instead of refusing the log (see
        :meth:`~simulator.contact_log.ContactLog.from_frame`).

    Raises
    ------
    ContactLogError
        If the log is bad (see :func:`~simulator.contact_log.read_contact_log`).
    EstimateError
        If an option names a channel the log does not have, a journey is
        longer than ``max_contacts``, or there are fewer than two journeys.

    Examples
    --------
    >>> raw = pd.DataFrame({"customer": [1, 1, 2, 3], "timestamp": [0.0, 5.0, 30.0, 60.0],
    ...                     "channel": ["web", "phone", "phone", "web"],
    ...                     "outcome": ["unresolved", "resolved", "resolved", "resolved"]})
    >>> est = estimate(raw, censor_minutes=0)
    >>> float(est.parameters.loc["arrivals.first_channel.web", "mean"])  # (2 + 1/2) / (3 + 2/2)
    0.625
    >>> est.to_scenario().channel("web").next
    {'phone': 1.0}
    """
    if not 0 < level < 1:
        raise EstimateError(f"must be between 0 and 1; got {level!r}", source, "level")
    cleaning = {"drop_duplicates": drop_duplicates, "drop_outliers": drop_outliers}
    if isinstance(log, (str, Path)):
        log = read_contact_log(log, columns=columns, **cleaning)
    elif isinstance(log, pd.DataFrame):
        log = ContactLog.from_frame(log, columns=columns, source=source, **cleaning)
    return _Estimator(log, focal_channel=focal_channel, self_service=self_service,
                      async_channels=None if async_channels is None else tuple(async_channels),
                      max_contacts=max_contacts,
                      censor_minutes=censor_minutes, level=level, name=name,
                      source=source or log.source).run()


@dataclass
class _ChannelEstimate:
    """What is written for one channel, with the comment lines that go above and beside."""

    name: str
    fields: dict[str, Any] = field(default_factory=dict)
    comments: dict[str, str] = field(default_factory=dict)  # beside a field
    blocks: dict[str, list[str]] = field(default_factory=dict)  # above a field


class _Estimator:
    def __init__(self, log: ContactLog, *, focal_channel, self_service, async_channels, max_contacts,
                 censor_minutes, level, name, source):
        self.log = log
        self.f = log.frame
        self.level = level
        self.source = source
        self.names = log.channel_names
        self.rows: list[dict[str, Any]] = []
        self.notes: list[str] = list(log.notes)
        self.periods = log.periods
        self.summary: dict[str, Any] = {"source": source, "contacts": log.contacts, "journeys": log.journeys,
                                        "periods": len(self.periods), "periods_are": self._periods_word()}
        for option, value in (("self_service", self_service), ("async_channels", async_channels)):
            unknown = [c for c in (value or ()) if c not in self.names]
            if unknown:
                raise EstimateError(f"no channel {', '.join(map(repr, unknown))} in the log "
                                    f"(channels: {', '.join(self.names)})", source, option)
        if focal_channel is not None and focal_channel not in self.names:
            raise EstimateError(f"{focal_channel!r} is not a channel of the log "
                                f"(channels: {', '.join(self.names)})", source, "focal_channel")
        self.focal = focal_channel or ("phone" if "phone" in self.names
                                       else self.f["channel"].value_counts().idxmax())
        self.self_service = None if self_service is None else set(self_service)
        self.async_channels = self.answered_late() if async_channels is None else set(async_channels)
        longest = int(self.f["position"].max()) + 1
        if len(self.names) > MAX_CHANNELS:
            raise EstimateError(f"the log has {len(self.names):,} channels; a scenario has at most "
                                f"{MAX_CHANNELS:,}", source)
        if max_contacts is not None and not 1 <= max_contacts <= MAX_CONTACTS_LIMIT:
            raise EstimateError(f"must be from 1 to {MAX_CONTACTS_LIMIT:,}; got {max_contacts}", source,
                                "max_contacts")
        if max_contacts is None and longest > MAX_CONTACTS_LIMIT:
            row = self.f.loc[self.f["position"] == MAX_CONTACTS_LIMIT, "row"].iloc[0]
            raise EstimateError(f"{log.row_name(row)} is contact {MAX_CONTACTS_LIMIT + 1:,} of its journey; a "
                                f"scenario allows at most {MAX_CONTACTS_LIMIT:,} (a journey key that joins "
                                "many customers?)", source, "max_contacts")
        if max_contacts is not None and longest > max_contacts:
            row = self.f.loc[self.f["position"] == max_contacts, "row"].iloc[0]
            raise EstimateError(f"{log.row_name(row)} is contact {max_contacts + 1} of its journey, "
                                f"more than the {max_contacts} allowed", source, "max_contacts")
        self.max_contacts = max_contacts
        self.longest = longest
        self.name = name or _scenario_name(source)
        self.start, self.end = float(self.f["time"].min()), float(self.f["time"].max())
        # each period is observed from its first to its last contact (a replication, or a stretch between gaps)
        self.observed_minutes = float((self.periods["end"] - self.periods["start"]).sum())
        self.period_end = self.periods["end"].reindex(self.f["period"]).to_numpy()
        self.censor = self.censor_window(censor_minutes)
        self.fits = pd.DataFrame()

    # -- helpers

    def answered_late(self) -> set[str]:
        """Channels that answered a message after the customer stopped waiting: asynchronous ones."""
        f = self.f
        late = f[(f["outcome"] == "abandoned").to_numpy() & (f["handle"].to_numpy() > 0)]
        counts = late["channel"].value_counts()
        for name, count in counts.items():
            self.notes.append(f"{name}: written as async (email-like): {count:,} abandoned contacts were "
                              "answered after the customer stopped waiting; name the async channels with "
                              "--async / async_channels= to decide yourself")
        return set(counts.index)

    def add(self, parameter: str, mean: float, low: float, high: float, n: int) -> None:
        self.rows.append({"parameter": parameter, "mean": float(mean), "ci_low": float(low),
                          "ci_high": float(high), "n": int(n)})

    def add_row(self, prefix: str, row: pd.DataFrame) -> None:
        for target, r in row.iterrows():
            self.add(f"{prefix}.{target}", r["mean"], r["ci_low"], r["ci_high"], r["n"])

    def pct(self) -> str:
        return f"{100 * self.level:g} %"

    def censor_window(self, censor_minutes: float | None) -> float:
        f = self.f
        following = f["next"].isin(self.names).to_numpy()
        gaps = np.diff(f["time"].to_numpy())[following[:-1]] if len(f) > 1 else np.empty(0)
        if censor_minutes is not None:
            if not (isinstance(censor_minutes, numbers.Real) and censor_minutes >= 0):
                raise EstimateError(f"must be a number >= 0; got {censor_minutes!r}", self.source,
                                    "censor_minutes")
            window = float(censor_minutes)
            how = "given"
        else:
            window = float(np.ceil(np.quantile(gaps, CENSOR_QUANTILE))) if len(gaps) else 0.0
            how = f"the {100 * CENSOR_QUANTILE:g}th percentile of {len(gaps):,} gaps between contacts"
        self.summary["censor_minutes"] = window
        self.summary["censor_minutes_from"] = how
        return window

    # -- the pieces

    def run(self) -> Estimate:
        self.arrivals()
        channels = [self.channel(c) for c in self.names]
        retry = self.retry_delay()
        toml = self.toml(channels, retry)
        frame = pd.DataFrame(self.rows).set_index("parameter")
        est = Estimate(frame, self.hourly, self.fits, self.summary, self.notes, toml, self.level)
        est.to_scenario()  # the file written must load; a failure here is a bug
        return est

    def arrivals(self) -> None:
        f, log = self.f, self.log
        starts = f[f["position"] == 0]
        trim = not log.has_contact and self.censor > 0
        period_start = self.periods["start"].reindex(starts["period"]).to_numpy()
        left_censored = (starts["first_journey"].to_numpy() & (starts["time"].to_numpy() < period_start + self.censor)
                         ) if trim else np.zeros(len(starts), dtype=bool)
        usable = starts[~left_censored]
        self.summary["journeys_left_out_of_mix"] = int(left_censored.sum())
        if trim and left_censored.any():
            self.notes.append(f"{left_censored.sum():,} journeys starting in the log's first "
                              f"{self.censor:g} min are left out of the first-channel mix and the "
                              "arrival rate: they may have begun before the log did")
        if len(usable) < 2:
            raise EstimateError(f"{len(usable)} usable journey(s); at least two are needed "
                                "to estimate the arrival rate", self.source)
        # each period's arrivals are counted after its window opens: its first journey start, or the
        # censoring window after its start when journeys may have begun before the log did
        arrived_parts, windows = [], []
        for period, times in usable.groupby("period")["time"]:
            times = np.sort(times.to_numpy())
            window_start = self.periods.loc[period, "start"] + self.censor if trim else times[0]
            if times[-1] > window_start:
                windows.append((window_start, times[-1]))
                arrived_parts.append(times[times > window_start])
        arrived = np.concatenate(arrived_parts) if arrived_parts else np.empty(0)
        hours = sum(end - start for start, end in windows) / 60.0
        if hours <= 0 or not len(arrived):
            why = (f"no journey starts after the censoring window ({self.censor:g} min); use "
                   "--censor-minutes / censor_minutes=0 for a complete log" if trim
                   else "every journey starts at the same time")
            raise EstimateError(f"the arrival rate cannot be estimated: {why}", self.source)
        self.summary.update(arrival_window_start=log.timestamp_text(min(w[0] for w in windows)),
                            arrival_window_end=log.timestamp_text(max(w[1] for w in windows)),
                            arrival_window_hours=float(hours), arrival_windows=len(windows))
        overall = len(arrived) / hours
        low, high = _poisson_interval(len(arrived), hours, self.level)
        self.hourly, p_value = _hourly_rates(arrived, windows, self.level)
        self.summary["hourly_profile_p_value"] = p_value
        self.profile = None
        if p_value < TEST_ALPHA:
            observed = self.hourly["exposure_hours"].to_numpy() > 0
            self.profile = np.where(observed, self.hourly["rate"].to_numpy(), overall)
            if not observed.all():
                self.notes.append(f"hours {_hour_list(~observed)} are not in the log: the hourly profile "
                                  "gives them the mean rate")
            # the scenario's per_hour is the mean of the hourly rates over the day
            scale = float(self.profile.mean()) / overall
            self.add("arrivals.per_hour", overall * scale, low * scale, high * scale, len(arrived))
        else:
            self.add("arrivals.per_hour", overall, low, high, len(arrived))
        self.arrival_comment = (f"{self.pct()} interval [{_num(self.rows[-1]['ci_low'])}, "
                                f"{_num(self.rows[-1]['ci_high'])}]; {len(arrived):,} journeys in {hours:,.1f} h")
        if len(windows) > 1:
            self.arrival_comment += f" ({len(windows)} periods)"
        if self.profile is None:
            self.arrival_comment += f"; no hourly pattern (dispersion test p = {p_value:.2g})"
        first = usable["channel"].value_counts()
        self.first_row = dirichlet_row({c: int(first.get(c, 0)) for c in self.names}, self.level)
        self.add_row("arrivals.first_channel", self.first_row)

    def transitions(self, rows: pd.DataFrame) -> pd.DataFrame:
        """The contacts whose next step is observed and chosen by the customer (not forced)."""
        before_end = rows["time"].to_numpy() <= self.period_end[rows.index.to_numpy()] - self.censor
        usable = rows[(rows["outcome"] != "resolved").to_numpy() & before_end]
        if self.max_contacts is not None:
            usable = usable[usable["position"] < self.max_contacts - 1]
        return usable

    def channel(self, name: str) -> _ChannelEstimate:
        f, log = self.f, self.log
        out = _ChannelEstimate(name)
        rows = f[f["channel"] == name]
        outcome = rows["outcome"]
        served = rows[outcome.isin(("resolved", "unresolved"))]
        abandoned = rows[outcome == "abandoned"]
        closed = rows[outcome == "closed"]
        offered = rows[outcome != "closed"]
        prefix = f"channels.{name}"
        is_async = name in self.async_channels
        waited = log.has_wait and bool((offered["wait"].fillna(0) > 0).any())
        unlimited = (name in self.self_service if self.self_service is not None
                     else not is_async and not waited and abandoned.empty)

        # agents (filled in last: they depend on handle time and patience)
        out.fields["agents"] = "unlimited" if unlimited else 1
        if is_async:
            out.fields["async"] = True

        # handle time: of every answer, async messages answered after the customer left included
        answers = rows[outcome.isin(("resolved", "unresolved")) | ((outcome == "abandoned") & (rows["handle"] > 0))]
        handle = answers["handle"].to_numpy(dtype=float)
        fits = fit_durations(handle, self.level) if log.has_handle else pd.DataFrame()
        if len(fits):
            fits_indexed = fits.copy()
            fits_indexed.index = pd.MultiIndex.from_product([[name], fits.index], names=["channel", "dist"])
            self.fits = pd.concat([self.fits, fits_indexed])
            best = fits[fits["chosen"]].iloc[0]
            dist = fits.index[fits["chosen"]][0]
            spec = {"dist": dist, "mean": _round_sig(best["mean"])}
            if dist != "exponential":
                spec["cv"] = _round_sig(best["cv"])
            out.fields["handle_time"] = spec
            self.add(f"{prefix}.handle_time.mean", best["mean"], best["mean_low"], best["mean_high"], best["n"])
            self.add(f"{prefix}.handle_time.cv", best["cv"], best["cv_low"], best["cv_high"], best["n"])
            others = ", ".join(f"{d} {fits.loc[d, 'aic'] - best['aic']:+.1f}" for d in fits.index if d != dist)
            out.comments["handle_time"] = (f"mean [{_num(best['mean_low'])}, {_num(best['mean_high'])}], cv "
                                           f"[{_num(best['cv_low'])}, {_num(best['cv_high'])}]; "
                                           f"{int(best['n']):,} answered; AIC vs {others}")
        else:
            positive = np.isfinite(handle) & (handle > 0)
            if positive.any():  # every handle time the same (or a single one)
                out.fields["handle_time"] = _deterministic(handle[positive])
                out.comments["handle_time"] = f"{positive.sum()} answered contact(s), all this long"
            else:
                out.fields["handle_time"] = dict(PLACEHOLDER_HANDLE)
                why = "has no handle times" if log.has_handle else "has no handle_min column"
                out.comments["handle_time"] = f"PLACEHOLDER: the log {why} for {name}; replace"
                self.notes.append(f"{name}: handle_time is a placeholder (the log {why})")

        # patience
        patience_mean = math.inf
        if not unlimited and not abandoned.empty:
            if not log.has_wait:
                self.notes.append(f"{name}: {len(abandoned):,} abandoned contacts but no wait column: "
                                  "patience not estimated (customers wait forever in the scenario)")
            else:
                waits = offered["wait"].fillna(0.0).to_numpy()
                if is_async:
                    answered = offered["outcome"].isin(("resolved", "unresolved")).to_numpy()
                    waits = waits + np.where(answered, offered["handle"].fillna(0.0).to_numpy(), 0.0)
                exposure = float(waits.sum())
                if exposure > 0:
                    d = len(abandoned)
                    rate_low, rate_high = _poisson_interval(d, exposure, self.level)
                    patience_mean = exposure / d
                    out.fields["patience"] = {"dist": "exponential", "mean": _round_sig(patience_mean)}
                    self.add(f"{prefix}.patience.mean", patience_mean, 1.0 / rate_high, 1.0 / rate_low, len(offered))
                    out.comments["patience"] = (f"{self.pct()} interval [{_num(1 / rate_high)}, {_num(1 / rate_low)}]; "
                                                f"{d:,} of {len(offered):,} offered abandoned, "
                                                f"{exposure:,.0f} min waited")
                else:
                    self.notes.append(f"{name}: abandoned contacts have no waiting time: patience not estimated")

        # open hours
        open_hours = self.open_hours(rows, closed)
        if open_hours is not None:
            out.fields["open_hours"] = open_hours

        # resolve
        resolved = int((served["outcome"] == "resolved").sum())
        resolve = dirichlet_row({"yes": resolved, "no": len(served) - resolved}, self.level).loc["yes"]
        if len(served):
            self.add(f"{prefix}.resolve", resolve["mean"], resolve["ci_low"], resolve["ci_high"], len(served))
            out.fields["resolve"] = round(float(resolve["mean"]), PROBABILITY_DIGITS)
            out.comments["resolve"] = (f"{self.pct()} interval [{resolve['ci_low']:.4f}, {resolve['ci_high']:.4f}]; "
                                       f"{resolved:,} of {len(served):,} served")
        else:
            out.fields["resolve"] = 0.5
            out.comments["resolve"] = "PLACEHOLDER: no served contacts in the log"
            self.notes.append(f"{name}: resolve is a placeholder (no served contacts)")

        # routing
        self.routing(out, rows)

        # agents
        if not unlimited:
            out.fields["agents"], out.comments["agents"] = self.agents(
                name, offered, answers, abandoned, out.fields["handle_time"], patience_mean,
                is_async, open_hours)
        elif self.self_service is None:
            out.comments["agents"] = ("self-service: no contact waited or abandoned" if log.has_wait
                                      else "self-service: no contact abandoned (the log has no wait column)")
        return out

    def routing(self, out: _ChannelEstimate, rows: pd.DataFrame) -> None:
        """``next`` and, when it differs, ``next_after_abandon``."""
        name = out.name
        prefix = f"channels.{name}"
        targets = list(self.names) + [GIVE_UP]
        steps = self.transitions(rows)
        after_abandon = (steps["outcome"] == "abandoned").to_numpy()
        counts = [steps["next"][~after_abandon].value_counts(), steps["next"][after_abandon].value_counts()]
        table = np.array([[int(c.get(t, 0)) for t in targets] for c in counts])
        p_value = _g_test(table)
        self.summary[f"{prefix}.next_after_abandon_p_value"] = p_value
        separate = p_value < TEST_ALPHA
        groups = ([("next", table[0], "unresolved or closed contacts"),
                   ("next_after_abandon", table[1], "abandoned contacts")] if separate
                  else [("next", table.sum(axis=0), "unanswered contacts")])
        for key, row_counts, what in groups:
            row = dirichlet_row(dict(zip(targets, row_counts.tolist())), self.level)
            if row["n"].iloc[0] == 0:
                out.fields[key] = {GIVE_UP: 1.0}
                out.comments[key] = f"PLACEHOLDER: no {what} with an observed next step"
                if key == "next" and not (rows["outcome"] == "resolved").all():
                    self.notes.append(f"{name}: next is a placeholder (no observed next steps)")
                continue
            self.add_row(f"{prefix}.{key}", row)
            out.fields[key] = _rounded_row(row["mean"])
            header = f"# {key}: {self.pct()} intervals from {int(row['n'].iloc[0]):,} {what} followed"
            if key == "next_after_abandon" or (key == "next" and table[1].sum() and table[0].sum()):
                header += f" (abandoned vs other: G-test p = {p_value:.2g})"
            out.blocks[key] = [header] + _row_lines(row)

    def open_hours(self, rows: pd.DataFrame, closed: pd.DataFrame) -> list[int] | None:
        if closed.empty:
            return None
        name = rows["channel"].iloc[0]
        hours = (rows["time"] % 1440 // 60).astype(np.int64).to_numpy()
        is_closed = (rows["outcome"] == "closed").to_numpy()
        n_closed = np.bincount(hours[is_closed], minlength=24)
        n_open = np.bincount(hours[~is_closed], minlength=24)
        open_set = n_open > n_closed
        closed_set = (n_closed > 0) & (n_closed >= n_open)
        if not open_set.any():
            self.notes.append(f"{name}: every hour of the log has mostly closed contacts; open_hours not written")
            return None
        # the smallest stretch of the day holding every open hour: the complement of the longest gap
        best_gap, best_end = -1, 0
        for h in range(24):
            if open_set[h]:
                continue
            length = 0
            while length < 24 and not open_set[(h + length) % 24]:
                length += 1
            if length > best_gap:
                best_gap, best_end = length, (h + length) % 24
        if best_gap <= 0:
            self.notes.append(f"{name}: closed contacts in hours that are mostly open; open_hours not written")
            return None
        opening = best_end
        closing = (opening + 24 - best_gap) % 24
        inside = [(opening + k) % 24 for k in range(24 - best_gap)]
        if closed_set[inside].any():
            self.notes.append(f"{name}: the hours with closed contacts are not one stretch; open_hours not written")
            return None
        self.summary[f"channels.{name}.open_hours"] = [opening, closing or 24]
        return [opening, closing if closing else 24]

    def agents(self, name, offered, answers, abandoned, handle_spec, patience_mean, is_async, open_hours):
        """A guess at the number of agents, and the comment saying how it was made.

        The served load counts every answer's handle time, async messages answered after the
        customer left included (work done, though wasted).
        """
        mean_handle = handle_spec.get("mean", handle_spec.get("value"))
        open_share = 1.0
        if open_hours is not None:
            open_share = ((open_hours[1] - open_hours[0]) % 24 or 24) / 24.0
        # contacts per minute: in a complete log every contact belongs to a journey that started in the
        # arrival windows (a simulation's log ends when its last journey does, well after the last
        # arrival); in a log cut at both ends, contacts come at the same rate from start to end
        window = self.summary["arrival_window_hours"] * 60.0 if self.censor == 0 else self.observed_minutes
        minutes = max(window, 1.0) * open_share
        rate = len(offered) / minutes
        busy = float(answers["handle"].fillna(0.0).sum()) / minutes
        placeholder = handle_spec == PLACEHOLDER_HANDLE
        head = "ASSUMPTION, not in the log: replace with your staffing (a number or 24 hourly levels); "
        abandon_rate = len(abandoned) / len(offered) if len(offered) else 0.0
        guess, how = None, ""
        if not is_async and not placeholder and rate > 0:
            try:
                guess = _erlang_agents(rate, mean_handle, patience_mean, abandon_rate,
                                       float(offered["wait"].fillna(0).mean()) if self.log.has_wait else 0.0)
            except ValueError:
                guess = None
            if guess is not None:
                model = "Erlang A" if math.isfinite(patience_mean) else "Erlang C"
                what = (f"abandonment ({100 * abandon_rate:.1f} %)" if math.isfinite(patience_mean)
                        else "mean wait")
                how = (f"{model} at the log's mean rate ({60 * rate:,.1f} contacts/h) reproduces the "
                       f"observed {what} with {guess}")
        if guess is None:
            guess = max(1, math.ceil(busy / OCCUPANCY_ASSUMPTION)) if busy > 0 else 1
            how = (f"served load {busy:.2f} agents busy on average at {100 * OCCUPANCY_ASSUMPTION:g} % "
                   f"occupancy gives {guess}")
        self.add(f"channels.{name}.agents", guess, math.nan, math.nan, len(offered))
        self.notes.append(f"{name}: agents = {guess} is an assumption ({how})")
        return guess, head + how

    def retry_delay(self) -> dict[str, Any] | None:
        log, f = self.log, self.f
        if not (log.has_wait and log.has_handle):
            return None
        # the same steps as for ``next``: in the log's last censoring window a long delay is not seen yet
        following = f["next"].isin(self.names).to_numpy() & (f["time"].to_numpy() <= self.period_end - self.censor)
        if len(f) < 2 or not following[:-1].any():
            return None
        served = f["outcome"].isin(("resolved", "unresolved")).to_numpy()
        # the customer leaves an abandoned contact after the wait (a late async answer comes after that)
        ends = (f["time"] + f["wait"].fillna(0)).to_numpy() + np.where(served, f["handle"].fillna(0).to_numpy(), 0.0)
        delays = np.maximum(f["time"].to_numpy()[1:] - ends[:-1], 0.0)[following[:-1]]
        if np.median(delays) < MIN_RETRY_DELAY:
            return None
        fits = fit_durations(delays, self.level)
        if not len(fits):  # fewer than two gaps, or every gap the same
            positive = delays[delays > 0]
            if len(positive) < 2:
                return None
            return {"spec": _deterministic(positive), "comment": f"{len(positive):,} gaps between a contact's "
                    "end and the next one's start (all channels), all this long"}
        best = fits[fits["chosen"]].iloc[0]
        dist = fits.index[fits["chosen"]][0]
        self.add("retry_delay.mean", best["mean"], best["mean_low"], best["mean_high"], best["n"])
        self.add("retry_delay.cv", best["cv"], best["cv_low"], best["cv_high"], best["n"])
        spec = {"dist": dist, "mean": _round_sig(best["mean"])}
        if dist != "exponential":
            spec["cv"] = _round_sig(best["cv"])
        comment = (f"mean [{_num(best['mean_low'])}, {_num(best['mean_high'])}]; from {int(best['n']):,} gaps "
                   "between a contact's end and the next one's start (all channels)")
        return {"spec": spec, "comment": comment}

    # -- the file

    def toml(self, channels: list[_ChannelEstimate], retry: dict | None) -> str:
        log = self.log
        s = self.summary
        first_time, last_time = log.timestamp_text(self.start), log.timestamp_text(self.end)
        lines = [
            f"# Estimated by `contactflow estimate` from {self.source}:",
            f"# {log.contacts:,} contacts in {log.journeys:,} journeys, {first_time} to {last_time}"
            + (f", in {len(self.periods)} periods ({self.summary['periods_are']})." if len(self.periods) > 1 else "."),
            f"# Estimates are followed by their {self.pct()} intervals. Probabilities are posterior",
            "# means (Jeffreys prior); targets never seen in the log are left out of their row.",
            f"# Censoring window {self.censor:g} min ({s['censor_minutes_from']}):",
            "# next steps of contacts in the log's last window are not used.",
        ]
        if self.notes:
            lines.append("#")
            lines.append("# Check before use:")
            lines += [f"#   - {note}" for note in self.notes]
        description = (f"Estimated from {Path(self.source).name}: {log.contacts:,} contacts, "
                       f"{log.journeys:,} journeys")
        cap = self.max_contacts or max(DEFAULT_MAX_CONTACTS, self.longest)
        cap_comment = (f"given; the longest journey in the log has {self.longest} contacts"
                       if self.max_contacts else
                       f"not in the log: max(20, longest journey = {self.longest})")
        lines += [
            "",
            f"name = {_toml(self.name)}",
            f"description = {_toml(description)}",
            f"focal_channel = {_toml(self.focal)}",
            _line("max_contacts", cap, cap_comment),
        ]
        if retry is not None:
            lines.append(_line("retry_delay", retry["spec"], retry["comment"]))
        windows = s["arrival_windows"]
        days = max(round(s["arrival_window_hours"] / windows / 24.0, 2), 0.01)
        span = (f"the log's arrivals span {s['arrival_window_hours']:.1f} h" if windows == 1 else
                f"the log's {windows} periods' arrivals span {s['arrival_window_hours'] / windows:.1f} h on average")
        lines += [
            "",
            "[run]  # not estimated: the log's length; the warm-up is derived from the scenario when it runs",
            _line("days", days, span),
            'warmup_hours = "auto"',
            "replications = 10",
            "seed = 1",
            "",
            "[arrivals]",
            _line("per_hour", _round_sig(self.rows_for("arrivals.per_hour")["mean"]), self.arrival_comment),
        ]
        if self.profile is not None:
            lines.append(f"# hourly_profile: journeys per hour in each hour of the day (dispersion test "
                         f"p = {s['hourly_profile_p_value']:.2g}); intervals in `estimate --json`")
            lines.append(f"hourly_profile = {_toml([_round_sig(v) for v in self.profile])}")
        lines.append(f"# first_channel: {self.pct()} intervals from {int(self.first_row['n'].iloc[0]):,} journeys")
        lines += _row_lines(self.first_row)
        lines.append(f"first_channel = {_toml(_rounded_row(self.first_row['mean']))}")
        order = ("agents", "async", "open_hours", "handle_time", "patience", "resolve", "next", "next_after_abandon")
        for ch in channels:
            lines += ["", f"[channels.{ch.name}]"]
            for key in order:
                if key not in ch.fields:
                    continue
                lines += ch.blocks.get(key, [])
                lines.append(_line(key, ch.fields[key], ch.comments.get(key)))
        return "\n".join(lines) + "\n"

    def _periods_word(self) -> str:
        """What the log's periods are: its replications, or stretches between days without contacts."""
        replications = self.periods["replication"].nunique() if self.log.has_replication else 1
        if replications == len(self.periods):
            return "replications"
        return "replications, split at gaps" if replications > 1 else "split at gaps"

    def rows_for(self, parameter: str) -> dict[str, Any]:
        return next(r for r in self.rows if r["parameter"] == parameter)


def _erlang_agents(rate: float, mean_handle: float, patience_mean: float, abandon_rate: float,
                   mean_wait: float) -> int | None:
    """The fewest agents whose Erlang A (or C) figures are no worse than the observed ones."""
    load = rate * mean_handle
    high = max(2, math.ceil(load + 10 * math.sqrt(load) + 10))
    if math.isfinite(patience_mean):
        def good(c):
            return erlang_a(rate, mean_handle, c, patience_mean).abandon_rate <= abandon_rate
    else:
        if mean_wait <= 0:
            return None

        def good(c):
            return c > load and erlang_c(rate, mean_handle, c).mean_wait <= mean_wait
    if not good(high):
        return None
    low = 1
    if good(low):
        return low
    while high - low > 1:
        mid = (low + high) // 2
        if good(mid):
            high = mid
        else:
            low = mid
    return high


# --------------------------------------------------------------------------- TOML text


def _round_sig(x: float, digits: int = 5) -> float:
    if not math.isfinite(x) or x == 0:
        return float(x)
    return round(float(x), max(digits - 1 - int(math.floor(math.log10(abs(x)))), 0))


def _deterministic(durations: np.ndarray) -> dict[str, Any]:
    """A deterministic distribution for durations that are all (nearly) equal."""
    return {"dist": "deterministic", "value": _round_sig(float(durations.mean()))}


def _num(x: float) -> str:
    return f"{x:.4g}" if math.isfinite(x) else "–"


def _rounded_row(means: pd.Series) -> dict[str, float]:
    """Probabilities rounded for the file, still summing to exactly 1 (the largest absorbs the rounding)."""
    row = {k: round(float(v), PROBABILITY_DIGITS) for k, v in means.items() if v > 0}
    row = {k: v for k, v in row.items() if v > 0}
    largest = max(row, key=row.get)
    row[largest] = round(1.0 - math.fsum(v for k, v in row.items() if k != largest), PROBABILITY_DIGITS)
    return row


def _row_lines(row: pd.DataFrame) -> list[str]:
    width = max(len(str(k)) for k in row.index)
    lines = []
    for target, r in row.iterrows():
        mark = "" if r["count"] else "  (never seen)"
        lines.append(f"#   {str(target).ljust(width)}  {r['mean']:.4f}  [{r['ci_low']:.4f}, {r['ci_high']:.4f}]"
                     f"  {int(r['count']):,} of {int(r['n']):,}{mark}")
    return lines


def _toml(value: Any) -> str:
    """A value as inline TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        text = repr(float(value))
        return text if any(ch in text for ch in ".en") else text + ".0"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"cannot write {value!r} as TOML")


def _toml_key(key: str) -> str:
    return key if key and all(ch.isalnum() or ch in "_-" for ch in key) and key.isascii() else json.dumps(key)


def _line(key: str, value: Any, comment: str | None = None) -> str:
    text = f"{key} = {_toml(value)}"
    return f"{text}  # {comment}" if comment else text


def _hour_list(mask: np.ndarray) -> str:
    hours = np.flatnonzero(mask)
    return ", ".join(str(h) for h in hours[:8]) + (" ..." if len(hours) > 8 else "")


def _scenario_name(source: str) -> str:
    stem = Path(source).name.split(".")[0] if source else ""
    cleaned = safe_file_name(stem, default="")
    return f"estimated_{cleaned}" if cleaned else "estimated"
