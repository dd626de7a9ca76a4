"""``contactflow run``, ``validate`` and ``scenarios``."""

from __future__ import annotations

import os

import click

from ..experiment import run as run_scenario
from ..report import result_text
from ..scenario import ScenarioError, bundled_scenarios, load_scenario
from .base import ScenarioPath, fail, load_with_changes, main, output_folder
from .charts import charts_option, charts_summary, write_charts
from .experiments import PlannedProgress, dask_option_help, parse_precision, precision_options


@main.command("run")
@click.argument("scenario", required=False, type=ScenarioPath())
@click.option("-r", "--replications", type=click.IntRange(min=1), help="Replications (default: the scenario's run.replications).")
@click.option("-s", "--seed", type=click.IntRange(min=0), help="Random seed (default: the scenario's run.seed).")
@click.option("-d", "--days", type=click.FloatRange(min=0, min_open=True), help="Days simulated after the warm-up.")
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
              help="Change a scenario field, e.g. --set channels.chat.agents=25 (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of tables.")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Write result.json, CSV tables and journeys.parquet here.")
@charts_option("every chart that applies")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=None,
              help="Processes for replications (default: CPU cores). Results do not depend on it.")
@click.option("--dask", metavar="ADDRESS", envvar="CONTACTFLOW_DASK", help=dask_option_help)
@precision_options
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def run_command(scenario, replications, seed, days, assignments, as_json, out, charts, workers, quiet,
                dask=None, precision_texts=(), max_replications=None):
    """Simulate SCENARIO (a TOML file or a bundled name; default: the Nice–BCG preset).

    Prints the KPIs with 95 % confidence intervals, beside the published
    figures when the scenario carries them.

    \b
    Examples:
      contactflow run
      contactflow run my_centre.toml -r 20 --set channels.chat.agents=25
      contactflow run --json > result.json
      contactflow run --charts charts/
      contactflow run --precision give_up_rate=0.002
    """
    precision = parse_precision(precision_texts, max_replications)
    try:
        sc = load_with_changes(scenario, assignments)
        if days is not None:
            sc = sc.with_changes({"run.days": days})
        if precision is not None:
            precision.check(sc)
    except ScenarioError as exc:
        fail(str(exc))
    except KeyError as exc:  # a --precision figure the scenario does not have
        fail(f"--precision: {exc.args[0]}")
    for folder, option in ((out, "--out"), (charts, "--charts")):
        if folder is not None:
            output_folder(folder, option)  # a folder that cannot be written fails now, not after the run
    reps = replications or sc.run.replications
    workers = workers or min(os.cpu_count() or 1, reps if precision is None else precision.max_replications)
    progress = PlannedProgress(None if precision else reps, quiet, f"{sc.name}")
    try:
        result = run_scenario(sc, replications=reps, seed=seed, workers=workers,
                              keep_journeys=out is not None or charts is not None, progress=progress,
                              precision=precision, dask=dask)
    except (ConnectionError, ImportError) as exc:  # --dask: unreachable scheduler, extra not installed
        fail(f"--dask: {exc.args[0]}")
    finally:
        progress.close()
    if out is not None:
        try:
            result.save(out)
        except OSError as exc:
            fail(f"--out {out}: cannot write results: {exc}")
    if charts is not None:
        from ..plots import result_charts

        chart_files = write_charts(lambda: result_charts(result), charts)
    if result.warmup["warning"]:
        click.echo(f"warning: {result.warmup['warning']}", err=True)
    if as_json:
        click.echo(result.to_json())
    else:
        click.echo(result_text(result))
        if result.precision is not None:
            click.echo("\n" + result.precision.text())
        if out is not None:
            click.echo(f"\nwrote {out}/result.json, *.csv and journeys.parquet")
        if charts is not None:
            click.echo(charts_summary(chart_files, charts))


@main.command("validate")
@click.argument("scenario", type=ScenarioPath())
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE", help="Check with a field changed.")
def validate_command(scenario, assignments):
    """Check SCENARIO and list every problem (exit status 2 when there is one)."""
    try:
        sc = load_with_changes(scenario, assignments)
    except ScenarioError as exc:
        fail(str(exc))
    def staffing(c) -> str:
        if c.unlimited:
            return "self-service"
        if c.served_by_groups:
            return "groups " + ", ".join(g.name for g in sc.groups_serving(c.name))
        return "shift plan" if c.has_shift_plan else f"{c.agents} agents"

    channels = ", ".join(f"{c.name} ({staffing(c)})" for c in sc.channels)
    click.echo(f"{scenario}: valid — {sc.name}: {channels}; focal channel {sc.focal_channel}")


@main.command("scenarios")
def scenarios_command():
    """List the bundled scenarios with their descriptions."""
    rows = []
    for name, path in bundled_scenarios().items():
        try:
            description = load_scenario(path).description
        except ScenarioError as exc:  # a broken bundled file must not hide the others
            description = f"(invalid: {exc.problems[0]})"
        rows.append((name, description))
    width = max((len(n) for n, _ in rows), default=0)
    for name, description in rows:
        click.echo(f"{name.ljust(width)}  {description}")
