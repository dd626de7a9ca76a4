"""``contactflow analyze`` (the network approximation, optionally beside a simulation) and ``calibrate``."""

from __future__ import annotations

import dataclasses
import math
import sys
import time
from pathlib import Path

import click

from ..calibrate import (
    Calibration,
    CalibrationError,
    TargetsError,
    calibrate,
    load_targets,
)
from .. import __version__
from ..files import atomic_write
from ..json_data import dumps, plain
from ..experiment import run as run_scenario
from ..network import NetworkApproximation, approximate
from ..parallel import default_workers
from ..report import format_stat, format_value, table_text
from ..runsize import RunTooLarge
from ..scenario import ScenarioError, bundled_dir, read_toml_text
from .base import (DAYS_RANGE, Progress, ScenarioPath, fail, force_option, load_with_changes, main, output_file,
                   refuse_run, replications_range, set_option, workers_option)

__all__ = ["EXIT_UNREACHABLE", "analysis_dict", "analysis_text", "calibration_text"]

#: Exit status of ``calibrate`` when the targets cannot all be met (2 is bad input).
EXIT_UNREACHABLE = 3
#: Channel metrics the text table shows (every metric is in --json).
ANALYZE_CHANNEL_METRICS = ("contacts", "closed", "abandon_rate", "mean_wait_min", "p_wait", "service_level",
                           "occupancy", "slot_occupancy", "mean_queue", "agent_hours", "cost", "callbacks_offered",
                           "callbacks_within_promise", "mean_callback_wait_min")
#: Queue metrics that say nothing about a self-service channel.
_QUEUE_METRICS = {"abandon_rate", "mean_wait_min", "p_wait", "service_level", "occupancy", "mean_queue",
                  "agent_hours"}
OUTSIDE = "✗ outside"


# --------------------------------------------------------------------------- analyze


def _rows(approx: NetworkApproximation, result=None):
    """``(table, label, key, metric, analytic, simulated stat or None)`` for every figure shown or dumped."""
    out = []
    for kpi, value in approx.kpis["value"].items():
        out.append(("kpis", kpi, (kpi,), kpi, value))
    for (name, metric), value in approx.channels["value"].items():
        out.append(("channels", f"{name} {metric}", (name, metric), metric, value))
    for (name, metric), value in approx.groups["value"].items():
        out.append(("groups", f"{name} {metric}", (name, metric), metric, value))
    for table in ("before_call", "after_call"):
        for column, value in getattr(approx, table)["value"].items():
            out.append((table, column, (column,), "share", value))
    rows = []
    for table, label, key, metric, value in out:
        stat = None
        if result is not None:
            frame = getattr(result, table)
            row = frame.loc[key if len(key) > 1 else key[0]]
            stat = {k: float(row[k]) for k in ("mean", "ci_low", "ci_high")}
        rows.append((table, label, key, metric, float(value), stat))
    return rows


def fixed_inputs(scenario) -> set[tuple[str, ...]]:
    """``(table, *key)`` of the ``_rows`` whose analytic value is the scenario's staffing, not a
    prediction: agent hours, agents on duty of a group, and the cost of channels, groups (and the
    total) paid by the agent hour only. Their simulated value differs only by the time agents finish
    a contact past the end of a shift, so they are not marked as outside the simulated interval."""
    fixed = {("channels", c.name, "agent_hours") for c in scenario.channels}
    fixed |= {("channels", c.name, "cost") for c in scenario.channels if not c.cost_per_contact}
    fixed |= {("groups", g.name, m) for g in scenario.groups for m in ("agents", "agent_hours", "cost")}
    if all(not c.cost_per_contact for c in scenario.channels):
        fixed.add(("kpis", "cost_total"))
    return fixed


#: The mark of a :func:`fixed_inputs` figure.
INPUT_MARK = "input, not judged"


def _outside(value: float, stat: dict | None) -> bool | None:
    if stat is None or any(math.isnan(stat[k]) for k in ("ci_low", "ci_high")) or math.isnan(value):
        return None
    slack = 1e-9 * max(1.0, abs(value))  # a constant figure (agent hours) has a zero-width CI
    return not (stat["ci_low"] - slack <= value <= stat["ci_high"] + slack)


def analysis_text(approx: NetworkApproximation, seconds: float, result=None) -> str:
    """The approximation's figures (and the simulated ones beside them), then its weaknesses."""
    sc = approx.scenario
    state = "converged" if approx.converged else "NOT converged"
    head = (f"{sc.name}: network approximation ({approx.iterations} iterations, {state}, "
            f"{seconds:.2f} s) over {sc.run.days:g} day(s) after a {sc.run.warmup_hours:g} h warm-up")
    if result is not None:
        head += (f"\nsimulated: {result.replications} replication(s), seed {result.seed}; mean [95 % CI]; "
                 f"{OUTSIDE} marks an analytic value outside the simulated CI")
    parts = [head]
    rows = _rows(approx, result)
    header = ["analytic"] + (["simulated [95 % CI]", "analytic - simulated", "mark"] if result is not None else [])

    inputs = fixed_inputs(sc)

    def cells(table, key, metric, value, stat):
        line = [format_value(value, metric)]
        if result is not None:
            outside = _outside(value, stat)
            diff = value - stat["mean"]
            line += [format_stat(stat["mean"], stat["ci_low"], stat["ci_high"], metric),
                     _signed(diff, metric), INPUT_MARK if (table, *key) in inputs else OUTSIDE if outside else ""]
        return line

    sections = (("kpis", "KPI"), ("channels", "channel metric"), ("groups", "agent group metric"),
                ("before_call", "before the call"), ("after_call", "after the call"))
    self_service = {c.name for c in sc.channels if c.unlimited}
    # a channel's own agents are a group of their own: the groups table only adds something with shared
    # groups or chat slots (it is always in --json)
    show_groups = sc.has_groups or any(c.concurrency > 1 for c in sc.channels)
    for table, title in sections:
        if table == "groups" and not show_groups:
            continue
        shown = []
        for t, label, key, metric, value, stat in rows:
            if t != table:
                continue
            if table == "channels" and (metric not in ANALYZE_CHANNEL_METRICS
                                        or (key[0] in self_service and metric in _QUEUE_METRICS)):
                continue
            shown.append([label, *cells(table, key, metric, value, stat)])
        parts.append("\n" + table_text(shown, [title, *header]))
    if result is not None:
        parts.append(f"\n{INPUT_MARK}: agent hours and agent-hour costs are the scenario's staffing; the simulated "
                     "ones add the time agents finish a contact past the end of a shift.")
    if approx.weaknesses:
        parts.append("\nWhere the approximation is weak for this scenario:\n"
                     + "\n".join(f"  - {w}" for w in approx.weaknesses))
    return "\n".join(parts)


def _signed(diff: float, metric: str) -> str:
    if math.isnan(diff):
        return "–"
    if abs(diff) < 1e-9:
        return "0"
    text = format_value(abs(diff), metric)
    if metric in ("share",) or text.endswith("%"):
        text = text.replace(" %", " pp")
    return ("+" if diff >= 0 else "−") + text


def analysis_dict(approx: NetworkApproximation, seconds: float, result=None) -> dict:
    """The approximation (and the simulation) as one JSON-ready document."""
    sc = approx.scenario
    data: dict = {
        "scenario": sc.name, "days": sc.run.days, "warmup_hours": sc.run.warmup_hours, "contactflow": __version__,
        "approximation": {
            "iterations": approx.iterations, "converged": approx.converged, "seconds": seconds,
            "served_shares": dict(approx.served_shares), "closed_shares": dict(approx.closed_shares),
            "weaknesses": list(approx.weaknesses),
        },
    }
    if result is not None:  # the simulation's own window is the scenario's
        data["replications"], data["seed"] = result.replications, result.seed
    for table in ("kpis", "channels", "groups", "before_call", "after_call"):
        data[table] = {}
    inputs = fixed_inputs(approx.scenario)
    for table, _, key, _, value, stat in _rows(approx, result):
        entry = {"analytic": value}
        if stat is not None:
            entry.update(stat)
            entry["outside"] = None if (table, *key) in inputs else _outside(value, stat)
        if table in ("channels", "groups"):
            data[table].setdefault(key[0], {})[key[1]] = entry
        else:
            data[table][key[0]] = entry
    return plain(data)


@main.command("analyze")
@click.argument("scenario", required=False, type=ScenarioPath())
@click.option("--simulate", is_flag=True, help="Also simulate, and show the simulated figures with their 95 % CIs.")
@click.option("-r", "--replications", type=replications_range(2),
              help="Replications with --simulate (default: the scenario's run.replications).")
@click.option("-s", "--seed", type=click.IntRange(min=0), help="Random seed with --simulate (default: the scenario's).")
@click.option("-d", "--days", type=DAYS_RANGE, help="Days after the warm-up.")
@set_option()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of tables.")
@workers_option
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def analyze_command(scenario, simulate, replications, seed, days, assignments, as_json, workers, quiet, force):
    """Every KPI of SCENARIO in well under a second, by the network approximation.

    Traffic equations give each channel's load, Erlang A (or Erlang C and a
    fluid backlog for email) each channel's abandonment — with chat slots,
    call backs, and Erlang C with Cobham's priorities where agent groups
    share channels — and the routing chain the journeys, iterated to a
    fixed point, hour by hour of the day or week when the scenario has a
    profile or a shift plan. The figures' weak spots for this scenario are
    listed below them, then the agent groups. With --simulate, the simulated
    figures are shown beside them, marked where the analytic value falls
    outside the simulated 95 % CI.

    \b
    Examples:
      contactflow analyze
      contactflow analyze bank_app_first --simulate -r 10
      contactflow analyze my_centre.toml --set groups.digital.agents+=2 --json
    """
    try:
        sc = load_with_changes(scenario, assignments)
        if days is not None:
            sc = sc.with_changes({"run.days": days})
    except ScenarioError as exc:
        fail(str(exc))
    started = time.perf_counter()
    try:
        approx = approximate(sc)
    except ValueError as exc:
        fail(f"{sc.source or sc.name}: {exc}")
    seconds = time.perf_counter() - started
    result = None
    if simulate:
        reps = replications or max(sc.run.replications, 2)
        progress = Progress(reps, quiet, sc.name)
        try:
            result = run_scenario(sc, replications=reps, seed=seed, keep_journeys=False, progress=progress,
                                  workers=workers or default_workers(), force=force)
        except RunTooLarge as exc:
            refuse_run(exc)
        finally:
            progress.close()
    if as_json:
        click.echo(dumps(analysis_dict(approx, seconds, result)))
    else:
        click.echo(analysis_text(approx, seconds, result))


# --------------------------------------------------------------------------- calibrate


def calibration_text(fit: Calibration) -> str:
    """Each target, the fitted value and the residual; then what changed (or, when the targets cannot all
    be met, what the closest fit would change)."""
    sc = fit.start
    how = f"{fit.rounds} round(s) of fit + network approximation; tolerance {fit.targets.tolerance:g}"
    targets = fit.targets.source or "the targets"
    parts = [f"{sc.name}: calibrated to {targets} ({how})" if fit.reached else
             f"{sc.name}: NOT calibrated: {targets} cannot all be met ({how}); the closest fit, not written:"]
    rows = [[key, f"{row['target']:.4g}", f"{row['fitted']:.4f}", f"{row['residual']:+.5f}",
             "yes" if row["met"] else "NO"] for key, row in fit.table.iterrows()]
    parts.append("\n" + table_text(rows, ["target", "value", "fitted", "residual", "met"]))
    rows = []
    for path, new in fit.changes.items():
        old = _field(fit.start, path)
        if isinstance(new, dict):
            for key, value in new.items():
                if abs(value - old[key]) > 0:
                    rows.append([path, key, f"{old[key]:.4f}", f"{value:.4f}", f"{value - old[key]:+.4f}"])
        elif abs(new - old) > 0:
            rows.append([path, "", f"{old:.4f}", f"{new:.4f}", f"{new - old:+.4f}"])
    if rows:
        title = "Changed" if fit.reached else "The closest fit would change"
        parts.append(f"\n{title}\n" + table_text(rows, ["field", "key", "was", "now", "change"], right={2, 3, 4}))
    else:
        parts.append("\nNothing changed: the scenario already meets the targets at this rounding.")
    return "\n".join(parts)


def _field(scenario, path: str):
    if path == "arrivals.first_channel":
        return dict(scenario.arrivals.first_channel)
    _, name, kind = path.split(".")
    value = getattr(scenario.channel(name), kind)
    return dict(value) if isinstance(value, dict) or hasattr(value, "items") else value


def _load_targets(text: str):
    """A targets file, or the name of a bundled one (``scenarios/targets/NAME.toml``)."""
    path = Path(text)
    if not path.is_file():
        bundled = bundled_dir() / "targets" / f"{text}.toml"
        if bundled.is_file():
            return dataclasses.replace(load_targets(bundled), source=f"scenarios/targets/{text}.toml")
    return load_targets(path)


@main.command("calibrate")
@click.argument("scenario", type=ScenarioPath())
@click.option("--targets", "targets_file", required=True, metavar="TARGETS.toml",
              help="The figures to match (a TOML file with a [targets] table, or a bundled name such as nice_bcg_2016).")
@click.option("--free", "free", multiple=True, metavar="FIELD",
              help="A parameter to adjust: arrivals.first_channel, channels.NAME.next, "
                   "channels.NAME.next_after_abandon or channels.NAME.resolve; NAME may be * (repeatable). "
                   "Default: arrivals.first_channel and channels.*.next.")
@click.option("-o", "--out", required=True, type=click.Path(dir_okay=False),
              help="Write the calibrated scenario here (only when every target is met).")
@set_option("Change a scenario field first")
@click.option("--regularization", type=click.FloatRange(min=0, min_open=True), default=0.01, show_default=True,
              help="Pull toward the starting values (per probability, against the targets' residuals).")
@click.option("--decimals", type=click.IntRange(1, 12), default=4, show_default=True,
              help="Decimal places of the written probabilities.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of tables.")
def calibrate_command(scenario, targets_file, free, out, assignments, regularization, decimals, as_json):
    """Fit SCENARIO's routing to published figures and write the calibrated scenario.

    Adjusts the free parameters (keeping every probability row summing to
    1) so that the routing chain, at the served shares of the network
    approximation, matches each target; prints each target, the fitted
    value and the residual. The new file keeps the original's comments and
    starts with a note saying what it was calibrated to. When the targets
    cannot all be met, it names the ones that conflict, writes nothing and
    exits with status 3.

    \b
    Examples:
      contactflow calibrate nice_bcg_2016 --targets nice_bcg_2016 --out nice.toml
      contactflow calibrate my_centre.toml --targets survey.toml --free arrivals.first_channel \\
          --free 'channels.*.resolve' --out my_centre_calibrated.toml
    """
    output_file(out)  # before the fit, not after it
    try:
        sc = load_with_changes(scenario, assignments)
        targets = _load_targets(targets_file)
        fit = calibrate(sc, targets, free or None, regularization=regularization, decimals=decimals)
    except (ScenarioError, TargetsError) as exc:
        fail(str(exc))
    if not fit.reached:
        if as_json:
            click.echo(dumps(_calibration_dict(fit, None)))
        else:
            click.echo(calibration_text(fit))
        click.echo(str(CalibrationError(fit)), err=True)
        click.echo(f"nothing written to {out}", err=True)
        sys.exit(EXIT_UNREACHABLE)
    original = None
    if sc.source and Path(sc.source).is_file() and not assignments:
        original = read_toml_text(sc.source)
    elif not assignments:
        bundled = bundled_dir() / f"{scenario}.toml"
        original = read_toml_text(bundled) if bundled.is_file() else None
    text = fit.toml(original)
    try:
        atomic_write(Path(out), lambda p: p.write_text(text, encoding="utf-8"))
    except OSError as exc:
        fail(f"--out {out}: cannot write the scenario: {exc}")
    if as_json:
        click.echo(dumps(_calibration_dict(fit, out)))
    else:
        click.echo(calibration_text(fit))
        click.echo(f"\nwrote {out}; check it with: contactflow run {out}")


def _calibration_dict(fit: Calibration, out) -> dict:
    return {
        "scenario": fit.start.name,
        "targets": fit.targets.source,
        "free": list(fit.free),
        "reached": fit.reached,
        "conflicts": list(fit.conflicts),
        "rounds": fit.rounds,
        "figures": {k: {"target": float(r["target"]), "fitted": float(r["fitted"]),
                        "residual": float(r["residual"]), "met": bool(r["met"])} for k, r in fit.table.iterrows()},
        "changes": {k: v for k, v in fit.changes.items()},
        "out": out,
    }
