"""``contactflow report``: one self-contained HTML report, optionally comparing variants.

Also home of :func:`write_charts`, which ``run``, ``compare`` and ``sweep``
call for ``--charts DIR`` to write their charts as PNG and SVG.
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Callable, Sequence

import click

from ..compare import align_runs
from ..experiment import Result
from ..experiment import run as run_scenario
from ..parallel import default_workers
from ..scenario import Scenario
from ..runsize import check_run_size, estimate_run
from .base import (DAYS_RANGE, VARIANT_HELP, Progress, ScenarioPath, alignment_notes, change_origins, clean_errors,
                   fail, force_option, load_with_changes, main, output_file, parse_changes, replications_range,
                   set_option, set_variant_option, variant_scenarios, workers_option)

__all__ = ["write_charts", "charts_option", "charts_summary"]


def charts_option(what: str):
    """The ``--charts DIR`` option of a command that writes ``what`` as PNG and SVG."""
    return click.option("--charts", type=click.Path(file_okay=False), metavar="DIR",
                        help=f"Write {what} here as PNG and SVG.")


def charts_summary(paths: Sequence[Path], directory: str) -> str:
    """The line a command prints after writing its charts."""
    return (f"wrote {len(paths)} chart files to {str(directory).rstrip('/')}/ "
            f"({', '.join(sorted({p.stem for p in paths}))}; PNG and SVG)")


def write_charts(make_figures: Callable[[], dict], directory: str, option: str = "--charts") -> list[Path]:
    """Make the figures and save them as PNG and SVG in ``directory``.

    A chart that cannot be drawn (e.g. no customer in a very short run) or a
    directory that cannot be written ends the command cleanly (exit 2).
    """
    from ..plots import save_charts

    try:
        return save_charts(make_figures(), directory)
    except ValueError as exc:
        fail(f"{option} {directory}: cannot draw the charts: {exc}")
    except OSError as exc:
        fail(f"{option} {directory}: cannot write charts: {exc}")
    raise AssertionError("not reached: fail() exits")


@main.command("report")
@click.argument("scenario", required=False, type=ScenarioPath())
@click.option("-c", "--compare", "variants", multiple=True, metavar="VARIANT",
              help=f"A variant to compare with SCENARIO (repeatable): {VARIANT_HELP}.")
@set_variant_option
@click.option("-o", "--out", type=click.Path(dir_okay=False), default="report.html", show_default=True,
              help="The HTML file to write.")
@click.option("-r", "--replications", type=replications_range(1), help="Replications (default: the scenario's).")
@click.option("-s", "--seed", type=click.IntRange(min=0), help="Random seed (default: the scenario's).")
@click.option("-d", "--days", type=DAYS_RANGE, help="Days simulated after the warm-up.")
@set_option("Change a field of SCENARIO and of every variant scenario file")
@click.option("--title", help="Title of the report (default: the scenario's name).")
@workers_option
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@clean_errors
def report_command(scenario, variants, set_variant_texts, out, replications, seed, days, assignments, title,
                   workers, quiet, force):
    """Write one self-contained HTML report of SCENARIO (default: the Nice–BCG preset).

    The report opens with a one-minute summary (headline cards), then every
    chart, the tables with 95 % confidence intervals (the full tables folded
    away), the published figures, the scenario's parameters as run, the seed
    and the contactflow version; it opens in any browser without a server and
    prints on A4 or Letter. Each variant (--compare, --set-variant; the same
    syntax as `contactflow compare`) runs with the same seed and
    replications, and the report shows its paired differences against
    SCENARIO, its channel figures and its journey flow.

    \b
    Examples:
      contactflow report --out nice_bcg.html
      contactflow report -r 20 --compare 'more chat: groups.digital.agents+=2' \\
          --compare 'channels.web.resolve=0.5' --out what_if.html
      contactflow report my_centre.toml --compare my_centre_2025.toml
      contactflow report --set-variant more_phone:channels.phone.agents=70 --out phones.html
    """
    try:
        base = load_with_changes(scenario, assignments)
        if days is not None:
            base = base.with_changes({"run.days": days})
    except click.BadParameter as exc:
        fail(f"--set: {exc.message}")
    labels = variant_scenarios(base, variants, set_variant_texts, changes=parse_changes(assignments, days),
                               origins=change_origins(assignments, days),
                               variant_option="--compare")
    output_file(out)  # before the runs, not after them
    base, labels, aligned = align_runs(base, labels)
    alignment_notes(base.name, aligned)
    reps = replications or base.run.replications
    seed = base.run.seed if seed is None else seed
    workers = workers or default_workers()
    # the whole report at once: the base (its journeys kept for the charts), then each variant
    check_run_size(estimate_run([(base, reps)], keep_journeys=True, workers=workers), force=force)
    check_run_size(estimate_run([(base, reps), *((sc, reps) for sc in labels.values())], workers=workers),
                   force=force)

    def simulate(sc: Scenario, keep_journeys: bool) -> Result:
        progress = Progress(reps, quiet, sc.name)
        try:
            return run_scenario(sc, replications=reps, seed=seed, workers=workers,
                                keep_journeys=keep_journeys, progress=progress, force=force)
        finally:
            progress.close()

    from ..html_report import write_report

    result = simulate(base, keep_journeys=True)
    compared = {label: simulate(sc, keep_journeys=True) for label, sc in labels.items()}  # their journey flows
    words = ["contactflow", "report", *([scenario] if scenario else [])]
    words += [w for a in assignments for w in ("--set", a)] + [w for v in variants for w in ("--compare", v)]
    words += [w for v in set_variant_texts for w in ("--set-variant", v)]
    words += ["-r", str(reps), "-s", str(seed)] + (["-d", f"{days:g}"] if days is not None else [])
    words += ["--out", str(out)]
    command = " ".join(shlex.quote(w) for w in words)
    try:
        path = write_report(out, result, compared, title=title, command=command,
                            changes=parse_changes(assignments, days))
    except OSError as exc:
        fail(f"--out {out}: cannot write the report: {exc}")
    click.echo(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB): {base.name}"
               + (f" compared with {', '.join(compared)}" if compared else "")
               + f", {reps} replication(s), seed {seed}")
