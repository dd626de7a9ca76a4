"""``contactflow run``, ``validate`` and ``scenarios``."""

from __future__ import annotations

from pathlib import Path

import click

from ..experiment import run as run_scenario
from ..files import atomic_write
from ..parallel import default_workers
from ..precision import PrecisionError
from ..report import result_text
from ..runsize import RunTooLarge, check_run_size, estimate_run
from ..scenario import ScenarioError, bundled_scenarios, load_scenario, read_toml_text
from ..validation import did_you_mean
from .base import (DAYS_RANGE, ScenarioPath, fail, force_option, load_with_changes, main, output_file,
                   output_folder, refuse_run, replications_range, result_folder, set_option, warn_overload,
                   workers_option)
from .charts import charts_option, charts_summary, write_charts
from .experiments import PlannedProgress, dask_option_help, parse_precision, precision_options


@main.command("run")
@click.argument("scenario", required=False, type=ScenarioPath())
@click.option("-r", "--replications", type=replications_range(1), help="Replications (default: the scenario's run.replications).")
@click.option("-s", "--seed", type=click.IntRange(min=0), help="Random seed (default: the scenario's run.seed).")
@click.option("-d", "--days", type=DAYS_RANGE, help="Days simulated after the warm-up.")
@set_option()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of tables.")
@click.option("-o", "--out", type=click.Path(file_okay=False),
              help="Save the result here: result.json, CSV tables, journeys.parquet and the scenario as run "
                   "(scenario.toml); the folder is replaced as a whole.")
@charts_option("every chart that applies")
@workers_option
@click.option("--dask", metavar="ADDRESS", envvar="CONTACTFLOW_DASK", help=dask_option_help)
@precision_options
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def run_command(scenario, replications, seed, days, assignments, as_json, out, charts, workers, quiet,
                dask=None, precision_texts=(), max_replications=None, force=False):
    """Simulate SCENARIO (a TOML file or a bundled name; default: the Nice–BCG preset).

    Prints the KPIs with 95 % confidence intervals, beside the published
    figures when the scenario carries them.

    \b
    Examples:
      contactflow run
      contactflow run my_centre.toml -r 20 --set groups.digital.agents+=2
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
    reps = replications or sc.run.replications
    try:  # a run refused for its size is refused before any warning about it
        check_run_size(estimate_run([(sc, reps)], keep_journeys=out is not None or charts is not None,
                                    workers=workers or default_workers()), force=force)
    except RunTooLarge as exc:
        refuse_run(exc)
    warn_overload(sc)
    # a folder that cannot be written fails now, not after the run
    if out is not None:
        result_folder(out)
    if charts is not None:
        output_folder(charts, "--charts")
    progress = PlannedProgress(None if precision else reps, quiet, f"{sc.name}")
    try:
        result = run_scenario(sc, replications=reps, seed=seed, workers=workers or default_workers(),
                              keep_journeys=out is not None or charts is not None, progress=progress,
                              precision=precision, dask=dask, force=force)
    except RunTooLarge as exc:
        refuse_run(exc)
    except (ConnectionError, ImportError) as exc:  # --dask: unreachable scheduler, extra not installed
        fail(f"--dask: {exc.args[0]}")
    except PrecisionError as exc:
        fail(f"--precision: {exc}")
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
            click.echo(f"\nwrote {out}/result.json, scenario.toml (the scenario as run), *.csv and journeys.parquet")
        if charts is not None:
            click.echo(charts_summary(chart_files, charts))


@main.command("validate")
@click.argument("scenario", type=ScenarioPath())
@set_option("Check with a field changed")
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
@click.option("--show", "show", metavar="NAME", help="Print the bundled scenario NAME (its TOML, with comments).")
@click.option("--copy", "copy", nargs=2, metavar="NAME PATH",
              help="Write the bundled scenario NAME to PATH (a file, or a folder to write NAME.toml in), "
                   "to edit and run.")
@click.option("--force", is_flag=True, help="With --copy: overwrite PATH if it exists.")
def scenarios_command(show, copy, force):
    """List the bundled scenarios with their descriptions, or start from one.

    \b
    Examples:
      contactflow scenarios
      contactflow scenarios --show utility_billing_surge
      contactflow scenarios --copy nice_bcg_2016 my_centre.toml
    """
    bundled = bundled_scenarios()
    if show is not None or copy:
        if show is not None and copy:
            fail("--show and --copy: give one of them")
        name = show if show is not None else copy[0]
        option = "--show" if show is not None else "--copy"
        if name not in bundled:
            hint = did_you_mean(name, bundled)
            fail(f"{option} {name}: no bundled scenario of that name{'; ' + hint if hint else ''} "
                 f"(bundled: {', '.join(bundled)})")
        text = read_toml_text(bundled[name])
        if show is not None:
            click.echo(text, nl=not text.endswith("\n"))
            return
        target = Path(copy[1])
        if target.is_dir():
            target = target / f"{name}.toml"
        if target.exists() and not force:
            fail(f"--copy {name} {copy[1]}: {target} exists; use --force to overwrite it")
        output_file(target, f"--copy {name}")
        atomic_write(target, lambda p: p.write_text(text, encoding="utf-8"))
        click.echo(f"wrote {target}; edit it, then: contactflow run {target}")
        return
    rows = []
    for name, path in bundled.items():
        try:
            description = load_scenario(path).description
        except ScenarioError as exc:  # a broken bundled file must not hide the others
            description = f"(invalid: {exc.problems[0]})"
        rows.append((name, description))
    width = max((len(n) for n, _ in rows), default=0)
    for name, description in rows:
        click.echo(f"{name.ljust(width)}  {description}")
    click.echo("\nstart from one: contactflow scenarios --copy NAME my_centre.toml (or --show NAME to read it)")
