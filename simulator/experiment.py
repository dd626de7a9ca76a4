"""Running replications of a scenario and collecting their results.

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("nice_bcg_2016")
>>> res = sim.run(sc, replications=2, seed=1, days=0.1)
>>> list(res.kpis.columns)
['mean', 'ci_low', 'ci_high', 'n']
>>> bool(res.kpis.loc["give_up_rate", "mean"] < 0.5)
True
"""

from __future__ import annotations

import dataclasses
import math
import tempfile
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from .contact_log import to_contact_log, write_contact_log
from .files import atomic_folder, atomic_write
from .journeys import journeys_frame
from .json_data import dumps, plain
from .metrics import COUNT_METRICS, LogTotals, hourly_group_metrics, hourly_metrics, replication_metrics, summarize
from .model import Replication
from .parallel import ReplicationJob, make_executor, run_jobs
from .precision import Precision, PrecisionReport, figure_index, most_replications
from .scenario import Scenario
from .transient import warmup_summary

__all__ = ["run", "Result", "RunInfo", "run_replication", "RESULT_FILES", "check_result_folder", "atomic_write",
           "atomic_folder"]

#: The files :meth:`Result.save` writes (``journeys.parquet`` when the logs were kept).
RESULT_FILES = ("result.json", "run.csv", "scenario.toml", "kpis.csv", "channels.csv", "groups.csv",
                "before_call.csv", "after_call.csv", "per_replication.csv", "hourly.csv", "journeys.parquet")


def run_replication(scenario: Scenario, seed: int, replication: int, keep_journeys: bool = True):
    """Simulate one replication.

    Returns its tidy metric rows, its hourly channel rows, (optionally) its log
    arrays, and its hourly agent-group rows.
    """
    totals = LogTotals(scenario)
    # Without the log to keep, ended journeys are summed as the run goes: flat memory.
    out = Replication(scenario, seed, replication,
                      on_completed=None if keep_journeys else totals.add).run()
    log = out.log.to_arrays()
    totals.add(log)
    return (replication_metrics(scenario, totals, out), hourly_metrics(scenario, totals, out),
            log if keep_journeys else None, hourly_group_metrics(scenario, out))


def run(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    *,
    days: float | None = None,
    keep_journeys: bool = True,
    workers: int = 1,
    progress: Callable[[int], None] | None = None,
    precision: Precision | dict[str, float] | None = None,
    dask: Any = None,
    force: bool = False,
) -> "Result":
    """Simulate ``replications`` independent replications of a scenario.

    Parameters
    ----------
    scenario
        A validated :class:`~simulator.scenario.Scenario`.
    replications, seed, days
        Override the scenario's ``[run]`` settings.
    keep_journeys
        Keep every replication's contact log (``Result.journeys``); turn off
        for long runs to save memory.
    workers
        Processes to run replications in (at most one per replication and
        :data:`~simulator.parallel.MAX_WORKERS_PER_CORE` per core); results do
        not depend on it.
    progress
        Called with the number of finished replications after each one.
    precision
        Keep adding replications until the CI half-width of each named figure
        is at most its target, e.g. ``{"give_up_rate": 0.002}`` or a
        :class:`~simulator.precision.Precision` (which also sets the maximum);
        ``replications`` is then the first batch. ``Result.precision`` reports
        what was reached.
    dask
        A Dask scheduler address or ``distributed.Client``: run the
        replications on that cluster instead of local processes (needs the
        ``distributed`` extra). Results do not depend on it either.
    force
        Run even when the run is estimated to be far beyond this machine
        (:mod:`simulator.runsize`); otherwise that raises
        :class:`~simulator.runsize.RunTooLarge` before anything is simulated.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, seed=7, days=0.1)
    >>> res.replications, res.seed
    (2, 7)
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), seed=7, days=0.1,
    ...               precision={"give_up_rate": 0.01})
    >>> res.precision.met
    True
    """
    if days is not None:
        scenario = scenario.with_changes({"run.days": days})
    replications = scenario.run.replications if replications is None else int(replications)
    seed = scenario.run.seed if seed is None else int(seed)
    if replications < 1:
        raise ValueError(f"replications must be >= 1; got {replications}")
    precision = Precision.coerce(precision)
    more = None
    if precision is not None:
        precision.check(scenario)
        replications = precision.first_batch(replications)

        def more(outputs):
            return precision.replications_needed(precision.samples(outputs[0]))

    job = ReplicationJob((scenario,), seed, replications, run_replication, keep_journeys, more)
    count = None if progress is None else (lambda finished, planned: progress(finished))
    with make_executor(workers, dask, tasks=most_replications(replications, precision)) as executor:
        for _ in run_jobs([job], executor, count, force=force):
            pass
    reached = precision.report(precision.samples(job.outputs[0])) if precision is not None else None
    return Result.from_outputs(scenario, seed, job.outputs[0], precision=reached)


@dataclass(frozen=True)
class RunInfo:
    """What a result covers: the scenario, the measured window, the replications, the seed used and
    the contactflow version. Every output of a run or comparison records it (JSON, CSV, text headers).

    Examples
    --------
    >>> import simulator as sim
    >>> info = RunInfo.of(sim.load_scenario("nice_bcg_2016"), replications=10, seed=3)
    >>> info.text()
    '10 replication(s) of 7 day(s) after a 24 h warm-up, seed 3'
    >>> info.per_day(7000.0)
    1000.0
    """

    scenario: str
    replications: int
    seed: int
    days: float
    warmup_hours: float
    contactflow: str

    @classmethod
    def of(cls, scenario: Scenario, replications: int, seed: int) -> "RunInfo":
        """The run of ``scenario`` (its ``run.days`` and ``run.warmup_hours``) with these settings."""
        from . import __version__

        return cls(scenario.name, int(replications), int(seed), float(scenario.run.days),
                   float(scenario.run.warmup_hours), __version__)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def text(self, paired: bool = False) -> str:
        """``N replication(s) of D day(s) after a W h warm-up, seed S`` for headers."""
        reps = f"{self.replications} {'paired ' if paired else ''}replication(s)"
        return f"{reps} of {self.days:g} day(s) after a {self.warmup_hours:g} h warm-up, seed {self.seed}"

    def per_day(self, total):
        """A total over the measured window (or an array of them) per day of it."""
        return total / self.days


@dataclass
class Result:
    """The outcome of :func:`run`: per-replication metrics, their summaries and the logs.

    Attributes
    ----------
    kpis
        One row per KPI: ``mean, ci_low, ci_high, n`` (95 % interval of
        :func:`~simulator.metrics.mean_interval`).
    channels
        Indexed by ``(channel, metric)``.
    groups
        Indexed by ``(group, metric)``: each agent group's ``agents``,
        ``agent_hours`` (paid), ``occupancy``, ``slot_occupancy``, ``cost`` and
        ``skill_share.CHANNEL``; a channel with its own agents is a group of
        its own name.
    before_call, after_call
        Indexed by channel (and ``give_up``, ``resolved`` for ``after_call``).
        ``before_call`` has a row per channel other than the focal one, so it
        is empty when the focal channel is the only channel; a share is NaN
        when no customer reached the focal channel.
    per_replication
        Tidy table ``replication, table, channel, metric, value``.
    hourly_per_replication
        Tidy table ``replication, channel, hour, metric, value`` (hour of the
        scenario's period: of the day, or of the week from Monday 0:00).
    hourly_groups_per_replication
        The same for agent groups: ``replication, group, hour, metric, value``.
    precision
        What sequential precision reached (None when ``run`` had no ``precision``).
    """

    scenario: Scenario
    seed: int
    replications: int
    per_replication: pd.DataFrame
    hourly_per_replication: pd.DataFrame = field(repr=False)
    summary: pd.DataFrame = field(repr=False)
    logs: list[dict[str, np.ndarray]] | None = field(default=None, repr=False)
    precision: PrecisionReport | None = field(default=None, repr=False)
    hourly_groups_per_replication: pd.DataFrame | None = field(default=None, repr=False)

    @classmethod
    def from_outputs(cls, scenario: Scenario, seed: int, outputs,
                     precision: PrecisionReport | None = None) -> "Result":
        """Assemble a result from :func:`run_replication` outputs, in replication order."""
        def tidy(index: int, columns: list[str]) -> pd.DataFrame:
            frames = []
            for r, output in enumerate(outputs):
                frame = pd.DataFrame(output[index], columns=columns)
                frame.insert(0, "replication", r)
                frames.append(frame)
            return pd.concat(frames, ignore_index=True)

        per_replication = tidy(0, ["table", "channel", "metric", "value"])
        hourly = tidy(1, ["channel", "hour", "metric", "value"])
        logs = [output[2] for output in outputs] if outputs[0][2] is not None else None
        hourly_groups = tidy(3, ["group", "hour", "metric", "value"])
        return cls(scenario, seed, len(outputs), per_replication, hourly,
                   summarize(per_replication), logs, precision, hourly_groups)

    @cached_property
    def warmup(self) -> dict[str, Any]:
        """Which warm-up the run used and why, with a warning when a given one was shorter than advised
        (see :func:`simulator.transient.warmup_summary`)."""
        return warmup_summary(self.scenario)

    def _table(self, table: str) -> pd.DataFrame:
        """One table of the summary; empty (same index levels and columns) when it has no rows,
        e.g. ``before_call`` when the focal channel is the only channel."""
        if table in self.summary.index.get_level_values("table"):
            return self.summary.loc[table]
        return self.summary.iloc[:0].droplevel("table")

    @property
    def kpis(self) -> pd.DataFrame:
        frame = self._table("kpis").droplevel("channel")
        frame.index.name = "kpi"
        return frame

    @property
    def channels(self) -> pd.DataFrame:
        return self._table("channels")

    @property
    def groups(self) -> pd.DataFrame:
        frame = self._table("groups")
        frame.index.names = ["group", "metric"]
        return frame

    @property
    def before_call(self) -> pd.DataFrame:
        return self._table("before_call").droplevel("metric")

    @property
    def after_call(self) -> pd.DataFrame:
        return self._table("after_call").droplevel("metric")

    @property
    def hourly(self) -> pd.DataFrame:
        """Channel metrics by hour of the day, indexed by ``(channel, hour, metric)``."""
        return summarize(self.hourly_per_replication, keys=("channel", "hour", "metric"))

    def __repr__(self) -> str:
        """One line: what was run; the figures are attributes."""
        return (f"Result({self.scenario.name}: {self.run_info.text()}; "
                "see .kpis, .channels, .before_call, .after_call, .journeys)")

    @property
    def run_info(self) -> RunInfo:
        """The run this result covers: window, replications, seed, version."""
        return RunInfo.of(self.scenario, self.replications, self.seed)

    @property
    def per_day(self) -> pd.DataFrame:
        """The figures that are totals over the window (:data:`~simulator.metrics.COUNT_METRICS`) per
        day of it: ``mean, ci_low, ci_high``, indexed like :attr:`summary`."""
        totals = self.summary[self.summary.index.get_level_values("metric").isin(COUNT_METRICS)]
        return self.run_info.per_day(totals[["mean", "ci_low", "ci_high"]])

    def per_day_table(self, table: str) -> pd.DataFrame:
        """:attr:`per_day` of one table (``kpis``, ``channels`` or ``groups``), indexed like that table
        (empty when it has no totals, e.g. no agent groups)."""
        per_day = self.per_day
        if table not in per_day.index.get_level_values("table"):
            return per_day.iloc[:0].droplevel(["table", "channel"] if table == "kpis" else "table")
        rows = per_day.loc[table]
        return rows.droplevel("channel") if table == "kpis" else rows

    @property
    def hourly_groups(self) -> pd.DataFrame:
        """Agent-group metrics by hour of the period, indexed by ``(group, hour, metric)``."""
        return summarize(self.hourly_groups_per_replication, keys=("group", "hour", "metric"))

    @property
    def journeys(self) -> pd.DataFrame:
        """Every replication's contact log, with a ``replication`` column."""
        if self.logs is None:
            raise ValueError("journeys were not kept; run with keep_journeys=True")
        frames = []
        for r, log in enumerate(self.logs):
            frame = journeys_frame(log, self.scenario.channel_names)
            frame.insert(0, "replication", r)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def reference(self) -> pd.DataFrame:
        """The scenario's published figures beside the simulated ones.

        Keys are ``KPI`` or ``before_call.CHANNEL`` / ``after_call.TARGET``;
        ``inside`` says whether the figure lies in the confidence interval
        (None where there is no interval: one replication) and ``diff`` is
        simulated minus published.
        """
        rows = []
        for key, figure in self.scenario.reference.items():
            stat = self.stat(key)
            rows.append({"figure": key, "published": figure, **stat,
                         "diff": stat["mean"] - figure, "inside": self.inside(key, figure)})
        return pd.DataFrame(rows).set_index("figure") if rows else pd.DataFrame()

    def inside(self, key: str, value: float) -> bool | None:
        """Whether ``value`` lies in the confidence interval of figure ``key``; None when the figure has
        no interval (fewer than 2 replications define it).

        Examples
        --------
        >>> import simulator as sim
        >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.05)
        >>> res.inside("avoidable_call_share", 0.7) is None
        True
        """
        stat = self.stat(key)
        if math.isnan(stat["ci_low"]) or math.isnan(stat["ci_high"]):
            return None
        return bool(stat["ci_low"] <= value <= stat["ci_high"])

    def stat(self, key: str) -> dict[str, float]:
        """Mean and CI of one figure named like ``give_up_rate``, ``before_call.email``
        or ``channels.phone.service_level``."""
        try:
            row = self.summary.loc[figure_index(key)]
        except KeyError:
            raise KeyError(f"no figure {key!r}; use a KPI name, before_call.CHANNEL, "
                           "after_call.TARGET or channels.CHANNEL.METRIC") from None
        return {"mean": row["mean"], "ci_low": row["ci_low"], "ci_high": row["ci_high"]}

    def to_dict(self) -> dict[str, Any]:
        """The result as plain data: every statistic as ``{"mean", "ci_low", "ci_high"}``."""
        def stat(row) -> dict[str, float | None]:
            return plain({k: row[k] for k in ("mean", "ci_low", "ci_high")})

        def by_name(frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
            named: dict[str, dict[str, Any]] = {}
            for (name, metric), row in frame.iterrows():
                named.setdefault(name, {})[metric] = stat(row)
            return named

        data = {
            **self.run_info.to_dict(),
            "warmup": self.warmup,
            "kpis": {k: stat(row) for k, row in self.kpis.iterrows()},
            "channels": by_name(self.channels),
            "groups": by_name(self.groups),
            "before_call": {k: stat(row) for k, row in self.before_call.iterrows()},
            "after_call": {k: stat(row) for k, row in self.after_call.iterrows()},
            "per_day": {
                "kpis": {k: stat(row) for k, row in self.per_day_table("kpis").iterrows()},
                "channels": by_name(self.per_day_table("channels")),
                "groups": by_name(self.per_day_table("groups")),
            },
        }
        if self.precision is not None:
            data["precision"] = self.precision.to_dict()
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """The result as one JSON document (NaN written as null)."""
        return dumps(self.to_dict(), indent=indent)

    def with_per_day(self, table: str) -> pd.DataFrame:
        """:attr:`kpis`, :attr:`channels` or :attr:`groups` with ``mean_per_day, ci_low_per_day, ci_high_per_day``
        columns (NaN for figures that are not totals over the window)."""
        frame = getattr(self, table)
        per_day = self.per_day_table(table)
        per_day.index = per_day.index.set_names(frame.index.names)
        return frame.join(per_day.add_suffix("_per_day"))

    def scenario_toml(self) -> str:
        """The scenario exactly as run, as TOML: every field with the value in use (defaults
        included), and this result's seed and replications in ``[run]``, so that running the file
        gives the same numbers.

        Examples
        --------
        >>> import simulator as sim
        >>> from simulator.scenario import parse_toml
        >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, seed=5, days=0.05)
        >>> again = sim.run(sim.Scenario.from_dict(parse_toml(res.scenario_toml())))
        >>> again.per_replication.equals(res.per_replication)
        True
        """
        import tomli_w

        from . import __version__

        data = self.scenario.to_dict(complete=True)
        data["run"].update(seed=self.seed, replications=self.replications)
        return (f"# The scenario {self.scenario.name!r} exactly as run by contactflow {__version__} "
                "(defaults written out):\n# `contactflow run` on this file gives the same numbers as "
                "result.json beside it.\n\n" + tomli_w.dumps(data))

    def save(self, directory: str | Path, journeys: bool = True) -> list[Path]:
        """Write ``result.json``, ``run.csv`` (what the run covers: :class:`RunInfo`), ``scenario.toml``
        (:meth:`scenario_toml`), the summary tables as CSV and the journeys as Parquet into the folder
        ``directory``.

        ``journeys.parquet`` is a contact log (see
        :func:`~simulator.contact_log.to_contact_log`): ``contactflow
        estimate`` reads it as it is, each replication kept apart, and its
        ``next`` and ``wasted`` columns hold what only a simulation knows.

        The files are written to a new folder beside ``directory``, which then
        takes its place (:func:`atomic_folder`): the folder holds one whole
        result set, never a mix of two runs nor half-written files. A
        ``directory`` holding files other than :data:`RESULT_FILES` is refused
        (:func:`check_result_folder`). Returns the paths written, in the final
        folder.
        """
        def write(out: Path) -> list[Path]:
            writers = [
                ("result.json", lambda p: p.write_text(self.to_json() + "\n")),
                ("run.csv", lambda p: run_csv(p, self.run_info)),
                ("scenario.toml", lambda p: p.write_text(self.scenario_toml())),
                ("kpis.csv", lambda p: self.with_per_day("kpis").to_csv(p)),
                ("channels.csv", lambda p: self.with_per_day("channels").to_csv(p)),
                ("groups.csv", lambda p: self.with_per_day("groups").to_csv(p)),
                ("before_call.csv", lambda p: self.before_call.to_csv(p)),
                ("after_call.csv", lambda p: self.after_call.to_csv(p)),
                ("per_replication.csv", lambda p: self.per_replication.to_csv(p, index=False)),
                ("hourly.csv", lambda p: self.hourly.to_csv(p)),
            ]
            if journeys and self.logs is not None:
                writers.append(("journeys.parquet", lambda p: write_contact_log(
                    to_contact_log(self, simulation_columns=True), p)))
            for name, writer in writers:
                writer(out / name)
            return [Path(name) for name, _ in writers]

        folder = check_result_folder(directory)
        names = atomic_folder(folder, write)
        return [folder / name for name in names]


def run_csv(path: Path, info: RunInfo) -> None:
    """Write ``run.csv``: one row saying what the tables beside it cover (:class:`RunInfo`)."""
    pd.DataFrame([info.to_dict()]).to_csv(path, index=False)


def check_result_folder(directory: str | Path) -> Path:
    """Check, before a long run, that :meth:`Result.save` can write to ``directory``; return its real path.

    The folder may be new, empty, or hold a previous result set (only
    :data:`RESULT_FILES`, and temporary files an interrupted save left);
    a folder beside it must be possible to create.

    Raises
    ------
    FileExistsError
        If ``directory`` is a file, or holds other files (they are named).
    OSError
        If the folder beside it cannot be created.
    """
    folder = Path(directory).resolve()
    if folder.exists() and not folder.is_dir():
        raise FileExistsError(f"{directory} is a file, not a folder")
    if folder.is_dir():
        others = sorted(p.name for p in folder.iterdir()
                        if p.name not in RESULT_FILES and not (p.name.startswith(".") and p.name.endswith(".tmp")))
        if others:
            shown = ", ".join(others[:5]) + (f" and {len(others) - 5} more" if len(others) > 5 else "")
            raise FileExistsError(f"{directory} holds files that are not a contactflow result ({shown}), "
                                  "which saving would remove; give a new or empty folder, or a previous --out folder")
    folder.parent.mkdir(parents=True, exist_ok=True)
    Path(tempfile.mkdtemp(prefix=f".{folder.name}.", suffix=".tmp", dir=folder.parent)).rmdir()
    return folder
