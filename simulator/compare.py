"""Paired comparisons of scenarios on common random numbers.

"If chat resolved 80 % instead of 65 %, how many calls would we avoid?" The
answer is a difference with a confidence interval. :func:`compare` runs the
base and every variant with the same seed, so replication ``r`` of each sees
the same customers arriving at the same instants, choosing the same first
channels, and each channel hands out the same sequence of handle times,
patience, resolutions and routing draws (see :mod:`simulator.streams`). The
difference ``variant - base`` is then taken replication by replication and its
interval computed from those paired differences (as every interval:
:func:`~simulator.metrics.mean_interval`, Student t corrected for skewness): the noise the
scenarios share cancels, and the interval is several times narrower than
comparing two independent runs (see ``tests/test_compare.py``).

Examples
--------
>>> import simulator as sim
>>> base = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 0.1})
>>> table = compare(base, {"better_chat": base.with_changes({"channels.chat.resolve": 0.8})},
...                 replications=3, seed=1)
>>> row = table.query("scenario == 'better_chat' and kpi == 'focal_contacts'").iloc[0]
>>> bool(row["diff"] < 0)  # fewer calls
True
"""

from __future__ import annotations

import dataclasses

from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from .experiment import Result, RunInfo, run_replication
from .metrics import COUNT_METRICS, summarize
from .parallel import ReplicationJob, make_executor, run_jobs
from .precision import Precision, figure_key, most_replications, replication_values
from .scenario import Scenario

__all__ = ["compare", "per_day", "paired_differences", "label_variants", "run_mismatches", "align_runs", "COLUMNS", "PAIRED_RUN_FIELDS"]

#: Columns of the table :func:`compare` returns.
COLUMNS = ("scenario", "kpi", "table", "channel", "metric", "mean", "ci_low", "ci_high", "n",
           "diff", "diff_low", "diff_high", "significant",
           "mean_per_day", "ci_low_per_day", "ci_high_per_day", "diff_per_day", "diff_low_per_day",
           "diff_high_per_day")
#: Relative size below which a paired difference is floating-point rounding, taken as 0.
NOISE = 1e-9
#: What a comparison covers, in its ``attrs``: the :class:`~simulator.experiment.RunInfo` fields but the
#: scenario's name (``attrs["base"]`` names the base).
RUN_ATTRS = ("replications", "seed", "days", "warmup_hours", "contactflow")
#: The columns of :data:`COLUMNS` that are also given per day of the window, for totals.
PER_DAY_COLUMNS = ("mean", "ci_low", "ci_high", "diff", "diff_low", "diff_high")
KEYS = ["table", "channel", "metric"]
#: Run settings every scenario of a comparison takes from the base: pairing needs the same window.
PAIRED_RUN_FIELDS = ("run.days", "run.warmup_hours")


def label_variants(base: Scenario, variants: Scenario | Sequence[Scenario] | Mapping[str, Scenario]
                   ) -> dict[str, Scenario]:
    """Name the variants: mapping keys, else scenario names made unique.

    A variant made with :meth:`~simulator.scenario.Scenario.with_changes`
    keeps its base's name, so unnamed variants that would clash are called
    ``variant_1``, ``variant_2``, ...

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> list(label_variants(sc, [sc.with_changes({"channels.chat.resolve": 0.8})]))
    ['variant_1']
    """
    if isinstance(variants, Scenario):
        variants = [variants]
    if isinstance(variants, Mapping):
        labelled = dict(variants)
        if base.name in labelled:
            raise ValueError(f"variant name {base.name!r} is the base scenario's name; choose another")
        return labelled
    labelled: dict[str, Scenario] = {}
    for i, variant in enumerate(variants, start=1):
        name = variant.name
        if name == base.name or name in labelled:
            name = f"variant_{i}"
        labelled[name] = variant
    return labelled


def run_mismatches(base: Scenario, variant: Scenario) -> dict[str, tuple[float, float]]:
    """The :data:`PAIRED_RUN_FIELDS` where ``variant`` differs: ``{field: (variant's, base's)}``.

    Warm-ups that both scenarios derive (``run.warmup_hours`` left out) are
    not a mismatch: :func:`align_runs` gives them the longer one.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> run_mismatches(sc, sc.with_changes({"run.days": 1}))
    {'run.days': (1.0, 7.0)}
    """
    values = {f: (getattr(variant.run, f[4:]), getattr(base.run, f[4:])) for f in PAIRED_RUN_FIELDS}
    if base.run.warmup_derived and variant.run.warmup_derived:
        del values["run.warmup_hours"]
    return {f: (float(v), float(b)) for f, (v, b) in values.items() if v != b}


def align_runs(base: Scenario, variants: Mapping[str, Scenario]
               ) -> tuple[Scenario, dict[str, Scenario], dict[str, dict[str, tuple[float, float]]]]:
    """The base and variants on one run window (:data:`PAIRED_RUN_FIELDS`), so that runs pair.

    Variants take the base's ``run.days`` and ``run.warmup_hours``. When the
    base derives its warm-up, so do the variants that derive theirs, and all
    of these take the longest derived warm-up: each needs at least its own.

    Returns ``(base, variants, aligned)``: the scenarios, changed where
    needed, and for each variant whose own settings were replaced its
    :func:`run_mismatches`.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> base, variants, aligned = align_runs(sc, {"short": sc.with_changes({"run.days": 1})})
    >>> variants["short"].run.days, aligned
    (7.0, {'short': {'run.days': (1.0, 7.0)}})
    """
    if base.run.warmup_derived:
        longest = max([base, *(v for v in variants.values() if v.run.warmup_derived)],
                      key=lambda s: s.run.warmup_hours)
        if longest is not base:
            base = _with_warmup(base, longest.run.warmup_hours, "the longest derived warm-up of the compared "
                                f"scenarios: {longest.run.warmup_reason}")
    aligned = {label: fields for label, v in variants.items() if (fields := run_mismatches(base, v))}
    same_run = {f: getattr(base.run, f[4:]) for f in PAIRED_RUN_FIELDS}
    paired = {}
    for label, variant in variants.items():
        if label in aligned:
            variant = variant.with_changes({f: same_run[f] for f in aligned[label]})
        if base.run.warmup_derived and variant.run.warmup_derived:
            variant = _with_warmup(variant, base.run.warmup_hours, base.run.warmup_reason)
        paired[label] = variant
    return base, paired, aligned


def _with_warmup(scenario: Scenario, hours: float, reason: str) -> Scenario:
    """A scenario whose derived warm-up is ``hours`` instead of its own."""
    if scenario.run.warmup_hours == hours:
        return scenario
    return dataclasses.replace(scenario, run=dataclasses.replace(scenario.run, warmup_hours=hours,
                                                                 warmup_reason=reason))


def paired_differences(base: pd.DataFrame, variant: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Mean and CI of ``variant - base``, replication by replication, for every metric.

    Parameters
    ----------
    base, variant
        Tidy per-replication tables (``replication, table, channel, metric,
        value``, as :attr:`~simulator.experiment.Result.per_replication`) of two
        scenarios run with the same seed.

    Returns
    -------
    DataFrame indexed by ``(table, channel, metric)`` with ``diff, diff_low,
    diff_high, n``; metrics only one scenario has, or undefined in one of
    them in every replication, get NaN. A replication's difference smaller
    than :data:`NOISE` times the values is taken as 0: it is floating-point
    rounding (time integrals such as agent hours add up differently around
    other events), not a difference.

    Examples
    --------
    >>> rows = lambda values: pd.DataFrame({"replication": [0, 1, 2], "table": "kpis",
    ...                                     "channel": "", "metric": "x", "value": values})
    >>> d = paired_differences(rows([1.0, 2.0, 3.0]), rows([1.5, 2.5, 3.6]))
    >>> round(float(d.loc[("kpis", "", "x"), "diff"]), 3)
    0.533
    """
    merged = base.merge(variant, on=["replication", *KEYS], how="outer", suffixes=("_base", "_variant"),
                        sort=False)
    difference = merged["value_variant"] - merged["value_base"]
    scale = np.maximum(merged["value_variant"].abs(), merged["value_base"].abs())
    merged["value"] = difference.mask(difference.abs() <= NOISE * scale, 0.0)
    summary = summarize(merged[["replication", *KEYS, "value"]], level, clip=False)
    return summary.rename(columns={"mean": "diff", "ci_low": "diff_low", "ci_high": "diff_high"})


def compare(
    base: Scenario,
    variants: Scenario | Sequence[Scenario] | Mapping[str, Scenario],
    replications: int | None = None,
    seed: int | None = None,
    *,
    days: float | None = None,
    precision: Precision | Mapping[str, float] | None = None,
    workers: int = 1,
    dask: Any = None,
    progress: Callable[[int, int], None] | None = None,
    level: float = 0.95,
    force: bool = False,
) -> pd.DataFrame:
    """Run a base scenario and its variants on common random numbers; pair their differences.

    Parameters
    ----------
    base
        The scenario the variants are compared with.
    variants
        One scenario, a list (named by :func:`label_variants`) or ``{name: scenario}``.
    replications, seed, days
        As in :func:`simulator.run`; default to the base's ``[run]`` settings,
        and the same seed is used for every scenario (that is what pairs them).
        Every variant also runs with the base's ``run.days`` and
        ``run.warmup_hours`` (``days`` when given), whatever its own: paired
        replications must measure the same window. Variants whose own values
        differed are listed in ``table.attrs["aligned"]``.
    precision
        Keep adding replications (to every scenario alike) until the CI of each
        variant's *difference* from the base is at most the half-width given
        per figure, e.g. ``{"give_up_rate": 0.001}``. The report is in
        ``table.attrs["precision"]``.
    workers, dask
        Where replications run (see :mod:`simulator.parallel`); the numbers do not depend on it.
    progress
        Called as ``progress(finished, planned)``, counting one scenario's replication each.
    level
        Confidence level of every interval.
    force
        Run even when the run is estimated to be far beyond this machine
        (:mod:`simulator.runsize`); otherwise that raises
        :class:`~simulator.runsize.RunTooLarge` before anything is simulated.

    Returns
    -------
    pandas.DataFrame
        One row per scenario and figure, with the columns of :data:`COLUMNS`:
        ``kpi`` is the figure's name (``give_up_rate``,
        ``channels.phone.service_level``, ``before_call.email``; see
        :func:`simulator.precision.figure_index`), ``mean, ci_low, ci_high, n``
        the scenario's own estimate, and for variants ``diff, diff_low,
        diff_high`` the paired difference from the base with its interval;
        ``significant`` is True where that interval excludes 0. The base's
        rows have NaN differences. Figures that are totals over the window
        (:data:`~simulator.metrics.COUNT_METRICS`) are also given per day
        (``mean_per_day`` ... ``diff_high_per_day``, by :func:`per_day`; NaN
        for the others).
        ``attrs`` holds ``base``, what the run covers (``seed``,
        ``replications``, ``days``, ``warmup_hours``, ``contactflow``: the
        :class:`~simulator.experiment.RunInfo` fields), ``precision`` (a
        dict, or None) and ``aligned`` (``{variant: {field: (its value, the
        base's)}}`` for the run settings replaced by the base's).

    Examples
    --------
    >>> import simulator as sim
    >>> base = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 0.1})
    >>> t = compare(base, [base.with_changes({"groups.voice.shrinkage": 0.2})], replications=3, seed=2)
    >>> t.attrs["replications"], sorted(t["scenario"].unique())
    (3, ['nice_bcg_2016', 'variant_1'])
    """
    named = label_variants(base, variants)
    if not named:
        raise ValueError("compare needs at least one variant")
    if days is not None:
        base = base.with_changes({"run.days": days})
        named = {label: v.with_changes({"run.days": days}) for label, v in named.items()}
    base, named, aligned = align_runs(base, named)
    scenarios = [base, *named.values()]
    labels = [base.name, *named]
    replications = base.run.replications if replications is None else int(replications)
    seed = base.run.seed if seed is None else int(seed)
    precision = Precision.coerce(precision)
    more = None
    if precision is not None:
        for scenario in scenarios:
            precision.check(scenario)
        replications = precision.first_batch(replications)

        def more(outputs):
            return precision.replications_needed(_difference_samples(precision, labels, outputs))

    job = ReplicationJob(scenarios, seed, replications, run_replication, more=more)
    tasks = len(scenarios) * most_replications(replications, precision)
    with make_executor(workers, dask, tasks=tasks) as executor:
        for _ in run_jobs([job], executor, progress, force=force):
            pass
    results = [Result.from_outputs(s, seed, outputs) for s, outputs in zip(scenarios, job.outputs)]
    table = comparison_table(dict(zip(labels, results)), level)
    table.attrs.update({
        "base": base.name, **run_attrs(results[0].run_info), "aligned": aligned,
        "precision": (precision.report(_difference_samples(precision, labels, job.outputs)).to_dict()
                      if precision is not None else None),
    })
    return table


def comparison_table(results: Mapping[str, Result], level: float = 0.95) -> pd.DataFrame:
    """The tidy comparison of results run on the same seed; the first one is the base.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 0.05})
    >>> a, b = sim.run(sc, 2, seed=1), sim.run(sc.with_changes({"groups.digital.shrinkage": 0.1}), 2, seed=1)
    >>> list(comparison_table({"now": a, "more_chat": b}).columns) == list(COLUMNS)
    True
    """
    base_label, base = next(iter(results.items()))
    frames = []
    for label, result in results.items():
        frame = summarize(result.per_replication, level)
        if label == base_label:
            diffs = pd.DataFrame(np.nan, index=frame.index, columns=["diff", "diff_low", "diff_high"])
        else:
            diffs = paired_differences(base.per_replication, result.per_replication, level)
            diffs = diffs[["diff", "diff_low", "diff_high"]].reindex(frame.index)
        frame = frame.join(diffs).reset_index()
        frame.insert(0, "scenario", label)
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True)
    table.insert(1, "kpi", [figure_key(*row) for row in table[KEYS].itertuples(index=False)])
    table["significant"] = (table["diff_low"] > 0) | (table["diff_high"] < 0)
    daily = per_day(table, base.run_info.days)
    for column in PER_DAY_COLUMNS:
        table[f"{column}_per_day"] = daily[column].where(daily["per_day"])
    return table[list(COLUMNS)]


def run_attrs(info: RunInfo) -> dict:
    """What a comparison covers, for its ``attrs``: the :data:`RUN_ATTRS` of the base's :class:`RunInfo`."""
    return {k: v for k, v in info.to_dict().items() if k in RUN_ATTRS}
def per_day(table: pd.DataFrame, days: float) -> pd.DataFrame:
    """The comparison with totals (:data:`~simulator.metrics.COUNT_METRICS`) divided by ``days``.

    Planners think in calls a day, not calls over a run of ``days`` days.
    Means, intervals and differences of the totals are divided (a linear
    change of scale: the intervals stay exact); shares and averages are left
    as they are. The column ``per_day`` says which rows were divided.

    Examples
    --------
    >>> t = pd.DataFrame({"metric": ["focal_contacts", "give_up_rate"], "mean": [2000.0, 0.06],
    ...                   "ci_low": [1900.0, 0.05], "ci_high": [2100.0, 0.07], "diff": [-200.0, -0.01],
    ...                   "diff_low": [-220.0, -0.02], "diff_high": [-180.0, 0.0]})
    >>> per_day(t, 2)[["mean", "diff", "per_day"]].values.tolist()
    [[1000.0, -100.0, True], [0.06, -0.01, False]]
    """
    if not days > 0:
        raise ValueError(f"days must be > 0; got {days!r}")
    out = table.copy()
    counts = out["metric"].isin(COUNT_METRICS)
    columns = [c for c in PER_DAY_COLUMNS if c in out.columns]
    out.loc[counts, columns] = out.loc[counts, columns] / days
    out["per_day"] = counts
    return out


def _difference_samples(precision: Precision, labels: list[str], outputs) -> dict[str, np.ndarray]:
    """Per-replication paired differences of each precision figure, per variant."""
    samples = {}
    for key in precision.targets:
        base = replication_values(outputs[0], key)
        for label, variant_outputs in zip(labels[1:], outputs[1:]):
            samples[f"{key} ({label} - {labels[0]})"] = replication_values(variant_outputs, key) - base
    return samples
