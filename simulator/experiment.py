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

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from .files import atomic_write
from .journeys import journeys_frame
from .metrics import LogTotals, hourly_group_metrics, hourly_metrics, replication_metrics, summarize
from .model import Replication
from .parallel import ReplicationJob, make_executor, run_jobs
from .precision import Precision, PrecisionReport, figure_index
from .scenario import Scenario
from .transient import warmup_summary

__all__ = ["run", "Result", "run_replication"]


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
        Processes to run replications in; results do not depend on it.
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
    with make_executor(min(workers, replications) if precision is None else workers, dask) as executor:
        for _ in run_jobs([job], executor, count):
            pass
    reached = precision.report(precision.samples(job.outputs[0])) if precision is not None else None
    return Result.from_outputs(scenario, seed, job.outputs[0], precision=reached)


@dataclass
class Result:
    """The outcome of :func:`run`: per-replication metrics, their summaries and the logs.

    Attributes
    ----------
    kpis
        One row per KPI: ``mean, ci_low, ci_high, n`` (95 % Student-t interval).
    channels
        Indexed by ``(channel, metric)``.
    groups
        Indexed by ``(group, metric)``: each agent group's ``agents``,
        ``agent_hours`` (paid), ``occupancy``, ``slot_occupancy``, ``cost`` and
        ``skill_share.CHANNEL``; a channel with its own agents is a group of
        its own name.
    before_call, after_call
        Indexed by channel (and ``give_up``, ``resolved`` for ``after_call``).
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
        if table not in self.summary.index.get_level_values("table"):  # e.g. no before-the-call column
            return self.summary.iloc[:0].droplevel("table")
        return self.summary.loc[table]

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
        ``inside`` says whether the figure lies in the confidence interval and
        ``diff`` is simulated minus published.
        """
        rows = []
        for key, figure in self.scenario.reference.items():
            stat = self.stat(key)
            rows.append({"figure": key, "published": figure, **stat,
                         "diff": stat["mean"] - figure,
                         "inside": stat["ci_low"] <= figure <= stat["ci_high"]})
        return pd.DataFrame(rows).set_index("figure") if rows else pd.DataFrame()

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
            return {k: _finite(row[k]) for k in ("mean", "ci_low", "ci_high")}

        channels: dict[str, dict[str, Any]] = {}
        for (name, metric), row in self.channels.iterrows():
            channels.setdefault(name, {})[metric] = stat(row)
        groups: dict[str, dict[str, Any]] = {}
        for (name, metric), row in self.groups.iterrows():
            groups.setdefault(name, {})[metric] = stat(row)
        data = {
            "scenario": self.scenario.name,
            "replications": self.replications,
            "seed": self.seed,
            "warmup": self.warmup,
            "kpis": {k: stat(row) for k, row in self.kpis.iterrows()},
            "channels": channels,
            "groups": groups,
            "before_call": {k: stat(row) for k, row in self.before_call.iterrows()},
            "after_call": {k: stat(row) for k, row in self.after_call.iterrows()},
        }
        if self.precision is not None:
            data["precision"] = self.precision.to_dict()
        return data

    def to_json(self, indent: int | None = 2) -> str:
        """The result as one JSON document (NaN written as null)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def save(self, directory: str | Path, journeys: bool = True) -> list[Path]:
        """Write ``result.json``, the summary tables as CSV and the journeys as Parquet.

        ``journeys.parquet`` is a contact log (see
        :func:`~simulator.contact_log.to_contact_log`): ``contactflow
        estimate`` reads it as it is, each replication kept apart, and its
        ``next`` and ``wasted`` columns hold what only a simulation knows.
        Each file is written to a temporary name and renamed, so an
        interrupted save never leaves a half-written file. Returns the paths
        written.
        """
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        written = [
            atomic_write(out / "result.json", lambda p: p.write_text(self.to_json() + "\n")),
            atomic_write(out / "kpis.csv", lambda p: self.kpis.to_csv(p)),
            atomic_write(out / "channels.csv", lambda p: self.channels.to_csv(p)),
            atomic_write(out / "groups.csv", lambda p: self.groups.to_csv(p)),
            atomic_write(out / "before_call.csv", lambda p: self.before_call.to_csv(p)),
            atomic_write(out / "after_call.csv", lambda p: self.after_call.to_csv(p)),
            atomic_write(out / "per_replication.csv", lambda p: self.per_replication.to_csv(p, index=False)),
            atomic_write(out / "hourly.csv", lambda p: self.hourly.to_csv(p)),
        ]
        if journeys and self.logs is not None:
            from .contact_log import to_contact_log, write_contact_log  # it builds on this module

            written.append(write_contact_log(to_contact_log(self, simulation_columns=True),
                                             out / "journeys.parquet"))
        return written


def _finite(x: float) -> float | None:
    return None if x is None or (isinstance(x, float) and not math.isfinite(x)) else float(x)
