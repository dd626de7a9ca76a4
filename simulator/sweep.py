"""Sweeps: a scenario over a grid of field values, saved point by point and resumable.

"How do give-up and cost move as phone agents go from 40 to 70 and chat
resolution from 60 % to 80 %?" :func:`sweep` runs every point of the grid
(every combination of the values), all on the same seed so neighbouring
points are compared on common random numbers, and returns one row per point
and figure with its mean and confidence interval. Varying ``run.seed``,
``run.replications`` or ``run.days`` gives each point its own.

With ``out``, each finished point is written at once to
``out/points/POINT_ID.parquet`` (to a temporary name, then renamed), and at the
end every point is gathered into ``out/sweep.parquet`` and ``out/sweep.csv``.
A point's id is a hash of everything that determines its numbers (the changed
scenario, seed, replications, precision), so running the same sweep again
skips the points already saved: an interrupted sweep (Ctrl-C, a killed
process, a lost machine) loses at most the points that were running. Files
are flushed to disk before they are renamed into place; a point file damaged
all the same (empty, truncated) is run again and listed in
``attrs["recomputed"]``, and temporary files left by a killed process are
removed on the next run.

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 0.05})
>>> table = sweep(sc, {"groups.voice.shrinkage": [0.2, 0.3]}, replications=2, seed=1)
>>> sorted(table["groups.voice.shrinkage"].unique().tolist())
[0.2, 0.3]
>>> table.query("kpi == 'give_up_rate'")[["groups.voice.shrinkage", "mean"]].shape
(2, 2)
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import pandas as pd

from . import __version__
from .experiment import Result, run_replication
from .files import atomic_write, remove_stale_temporaries
from .metrics import summarize
from .parallel import ReplicationJob, make_executor, run_jobs
from .precision import Precision, figure_key, most_replications
from .scenario import Scenario, ScenarioError, parse_toml

__all__ = ["sweep", "parse_vary", "grid_points", "point_id", "POINTS_DIR"]

#: Sub-folder of ``out`` holding one file per finished point.
POINTS_DIR = "points"
#: Most values of one varied field, and most points in a grid.
MAX_POINTS = 100_000
SUMMARY_COLUMNS = ["kpi", "table", "channel", "metric", "mean", "ci_low", "ci_high", "n", "replications"]


def _number(text: str, what: str, spec: str) -> float | int:
    try:
        value = parse_toml(f"value = {text.strip()}")["value"]
    except ScenarioError:
        value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{spec!r}: {what} {text.strip()!r} is not a number")
    if not math.isfinite(value):
        raise ValueError(f"{spec!r}: {what} {text.strip()!r} is not a finite number")
    return value


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """Read ``FIELD=START:STOP:STEP`` (STOP included) or ``FIELD=v1,v2,...``.

    Values are read as TOML (``25``, ``0.8``, ``"text"``, ``[8, 20]``, inline
    tables); a range of whole numbers gives whole numbers.

    Raises
    ------
    ValueError
        Saying what is wrong with ``text``.

    Examples
    --------
    >>> parse_vary("channels.phone.agents=40:60:10")
    ('channels.phone.agents', [40, 50, 60])
    >>> parse_vary("channels.chat.resolve=0.6:0.8:0.1")
    ('channels.chat.resolve', [0.6, 0.7, 0.8])
    >>> parse_vary("channels.chat.agents=10,15")
    ('channels.chat.agents', [10, 15])
    """
    field, sep, raw = text.partition("=")
    field, raw = field.strip(), raw.strip()
    if not sep or not field or not raw:
        raise ValueError(f"{text!r} is not FIELD=START:STOP:STEP or FIELD=v1,v2,... "
                         "(e.g. channels.phone.agents=40:60:5)")
    if ":" in raw and raw[0] not in "[{\"'":
        parts = raw.split(":")
        if len(parts) != 3:
            raise ValueError(f"{text!r}: a range is START:STOP:STEP, e.g. 40:60:5")
        start, stop, step = (_number(p, name, text) for p, name in zip(parts, ("start", "stop", "step")))
        if step == 0 or (stop - start) * step < 0:
            raise ValueError(f"{text!r}: the step must be non-zero and go from start towards stop")
        count = math.floor((stop - start) / step + 1e-9) + 1 if math.isfinite((stop - start) / step) else math.inf
        if count > MAX_POINTS:
            many = "more than a float can count" if math.isinf(count) else f"{count:,}"
            raise ValueError(f"{text!r}: {many} values are too many for one field (at most {MAX_POINTS:,})")
        whole = all(isinstance(v, int) for v in (start, stop, step))
        values = [start + i * step if whole else round(start + i * step, 12) for i in range(count)]
        return field, values
    try:
        values = parse_toml(f"value = [{raw}]")["value"]
    except ScenarioError:
        values = [v.strip() for v in raw.split(",")]  # bare words
    if not values:
        raise ValueError(f"{text!r}: no values")
    return field, values


def grid_points(vary: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the values, the last field varying fastest.

    Examples
    --------
    >>> grid_points({"a": [1, 2], "b": ["x", "y"]})
    [{'a': 1, 'b': 'x'}, {'a': 1, 'b': 'y'}, {'a': 2, 'b': 'x'}, {'a': 2, 'b': 'y'}]
    """
    fields = list(vary)
    for field in fields:
        if isinstance(vary[field], (str, bytes)) or not len(vary[field]):
            raise ValueError(f"vary[{field!r}] must be a non-empty list of values")
    size = math.prod(len(vary[f]) for f in fields)
    if size > MAX_POINTS:
        raise ValueError(f"a grid of {size:,} points is too many (at most {MAX_POINTS:,}): "
                         f"{' x '.join(f'{len(vary[f]):,} {f}' for f in fields)}")
    return [dict(zip(fields, combo)) for combo in itertools.product(*(vary[f] for f in fields))]


def point_id(scenario: Scenario, seed: int, replications: int, precision: Precision | None,
             level: float) -> str:
    """A short hash of everything that determines a point's numbers.

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> point_id(sc, 1, 10, None, 0.95) == point_id(sc, 1, 10, None, 0.95) != point_id(sc, 2, 10, None, 0.95)
    True
    """
    identity = {
        "scenario": scenario.to_dict(), "seed": seed, "replications": replications, "level": level,
        "precision": None if precision is None else {
            "targets": dict(precision.targets), "max": precision.max_replications, "level": precision.level},
    }
    text = json.dumps(identity, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _column_value(value: Any) -> Any:
    """Varied values as table cells: tables and lists as JSON text."""
    return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list, tuple)) else value


def sweep(
    scenario: Scenario,
    vary: Mapping[str, Sequence[Any]],
    replications: int | None = None,
    seed: int | None = None,
    *,
    days: float | None = None,
    out: str | Path | None = None,
    precision: Precision | Mapping[str, float] | None = None,
    workers: int = 1,
    dask: Any = None,
    progress: Callable[[int, int], None] | None = None,
    level: float = 0.95,
    force: bool = False,
) -> pd.DataFrame:
    """Run a scenario at every point of a grid of field values.

    Parameters
    ----------
    scenario
        The scenario to change.
    vary
        ``{field: values}`` with dotted field paths as in
        :meth:`~simulator.scenario.Scenario.with_changes`; see :func:`parse_vary`.
    replications, seed, days
        As in :func:`simulator.run`; every point uses the same seed. The
        fields ``run.replications``, ``run.seed`` and ``run.days`` may be
        varied instead (then leave the argument out): each point then runs
        with its own value.
    out
        Folder to save each point as it finishes and the whole table at the
        end; points already saved there by the same sweep are not run again.
    precision
        Per point, add replications until the figures' CIs are narrow enough
        (see :class:`~simulator.precision.Precision`).
    workers, dask
        Where replications run; the numbers do not depend on it.
    progress
        Called as ``progress(finished, planned)`` in replications of the points still to run.
    level
        Confidence level of the intervals.
    force
        Run even when the points still to run are estimated to be far beyond this machine
        (:mod:`simulator.runsize`); otherwise that raises
        :class:`~simulator.runsize.RunTooLarge` before anything is simulated.

    Returns
    -------
    pandas.DataFrame
        One row per point and figure: ``point`` (its number in the grid), one
        column per varied field, ``point_id``, then ``kpi, table, channel,
        metric, mean, ci_low, ci_high, n, replications`` (and
        ``precision_met`` with ``precision``). ``attrs`` holds ``points``,
        ``resumed`` (points read back from ``out``), ``recomputed`` (saved
        point files that were damaged, run again) and ``out``.

    Raises
    ------
    ScenarioError
        If a point of the grid is not a valid scenario (before anything runs).
    ValueError
        If a run field is both varied and given as an argument.
    """
    points = grid_points(vary)
    fields = list(vary)
    given = {"run.replications": replications, "run.seed": seed, "run.days": days}
    for field, value in given.items():
        if value is not None and field in vary:
            name = field.split(".")[1]
            raise ValueError(f"{field} is varied, so {name} cannot also be given; give one of them")
    precision = Precision.coerce(precision)
    if precision is not None:
        precision.check(scenario)
    overrides = {field: value for field, value in given.items() if value is not None}
    changed = [scenario.with_changes({**overrides, **point}) for point in points]
    # every point's seed and replications come from its own scenario: the common ones, or varied
    seeds = [s.run.seed for s in changed]
    counts = [s.run.replications if precision is None else precision.first_batch(s.run.replications)
              for s in changed]
    ids = [point_id(changed[i], seeds[i], counts[i], precision, level) for i in range(len(points))]

    folder = Path(out) / POINTS_DIR if out is not None else None
    frames: dict[int, pd.DataFrame] = {}
    damaged: list[Path] = []
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        for place in (Path(out), folder):  # temporary files of a process killed while writing
            remove_stale_temporaries(place)
        # the run settings every point shares; None for one that is varied (see "vary")
        common = {"seed": seeds[0], "replications": counts[0], "days": changed[0].run.days,
                  "warmup_hours": changed[0].run.warmup_hours}
        common = {name: None if f"run.{name}" in vary else value for name, value in common.items()}
        manifest = {"scenario": scenario.name, "source": scenario.source, "contactflow": __version__,
                    "vary": vary, **common,
                    "points": len(points),
                    "precision": None if precision is None else dict(precision.targets)}
        atomic_write(Path(out) / "sweep.json",
                     lambda p: p.write_text(json.dumps(manifest, indent=2, default=str) + "\n"))
        for i, pid in enumerate(ids):
            saved = folder / f"{pid}.parquet"
            if saved.is_file():
                frame = _read_point(saved, precision)
                if frame is None:
                    damaged.append(saved)
                else:
                    frames[i] = frame
    resumed = len(frames)

    more = None
    if precision is not None:
        def more(outputs):
            return precision.replications_needed(precision.samples(outputs[0]))

    jobs = [ReplicationJob((changed[i],), seeds[i], counts[i], run_replication, more=more, key=i)
            for i in range(len(points)) if i not in frames]
    if jobs:
        tasks = sum(most_replications(job.replications, precision) for job in jobs)
        with make_executor(workers, dask, tasks=tasks) as executor:
            for job, outputs in run_jobs(jobs, executor, progress, force=force):
                i = job.key
                result = Result.from_outputs(changed[i], seeds[i], outputs[0])
                met = None if precision is None else precision.report(precision.samples(outputs[0])).met
                frame = _point_frame(result, met, level)
                if folder is not None:
                    atomic_write(folder / f"{ids[i]}.parquet", lambda p, f=frame: f.to_parquet(p, index=False))
                frames[i] = frame
                job.outputs = []  # a long sweep keeps only the summaries
    table = pd.concat([_with_point(frames[i], i, points[i], ids[i]) for i in range(len(points))],
                      ignore_index=True)
    if out is not None:
        atomic_write(Path(out) / "sweep.parquet", lambda p: table.to_parquet(p, index=False))
        atomic_write(Path(out) / "sweep.csv", lambda p: table.to_csv(p, index=False))
    table.attrs.update({"points": len(points), "resumed": resumed, "fields": fields,
                        "out": None if out is None else str(out), "recomputed": [str(p) for p in damaged]})
    return table


def _point_columns(precision: Precision | None) -> list[str]:
    """The columns a point's file holds: every figure's summary (not the point's place in a grid)."""
    return SUMMARY_COLUMNS + (["precision_met"] if precision is not None else [])


def _read_point(path: Path, precision: Precision | None) -> pd.DataFrame | None:
    """A saved point's summary, or None when the file is damaged (empty, truncated, not a point's table)."""
    try:
        frame = pd.read_parquet(path)[_point_columns(precision)]
    except (OSError, ValueError, KeyError):  # pyarrow's errors derive from OSError and ValueError
        return None
    return frame if len(frame) else None


def _point_frame(result: Result, precision_met: bool | None, level: float) -> pd.DataFrame:
    """Every figure's mean and CI at one point, as saved in its file."""
    summary = summarize(result.per_replication, level).reset_index()
    summary.insert(0, "kpi", [figure_key(*row) for row in
                              summary[["table", "channel", "metric"]].itertuples(index=False)])
    summary["replications"] = result.replications
    frame = summary[SUMMARY_COLUMNS].copy()
    if precision_met is not None:
        frame["precision_met"] = precision_met
    return frame


def _with_point(frame: pd.DataFrame, index: int, point: Mapping[str, Any], pid: str) -> pd.DataFrame:
    """A point's rows led by its number in this grid, its field values and its id.

    A saved point may be reused by another grid that reaches the same
    scenario, so these columns are added here, not stored.
    """
    front = {"point": index, **{f: _column_value(v) for f, v in point.items()}, "point_id": pid}
    frame = frame.copy()
    for position, (name, value) in enumerate(front.items()):
        frame.insert(position, name, [value] * len(frame))
    return frame
