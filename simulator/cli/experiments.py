"""``contactflow compare``, ``sweep``, ``staff`` and ``warmup``: what-if experiments.

Also home of the options they share with ``run``: ``--precision``,
``--max-replications``, ``--workers`` and ``--dask``.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import click
import pandas as pd

from ..compare import RUN_ATTRS, compare
from ..files import atomic_write, safe_file_name
from ..json_data import dumps
from ..parallel import default_workers
from ..precision import DEFAULT_MAX_REPLICATIONS, FIGURE_HELP, Precision, check_figure
from ..report import (CLOSED_KPIS, COMPARISON_METHOD, SIGNIFICANT_NOTE, day_difference_text, difference_cell,
                      format_stat, format_value, headline_figures, staffing_text, table_text)
from ..staffing import StaffingError, Target, erlang_start, network_start, staff, staffing_units
from ..sweep import POINTS_DIR, parse_vary, sweep
from ..warmup import suggest_warmup
from .base import (DAYS_RANGE, EXIT_INTERRUPTED, Progress, ScenarioPath, alignment_notes, change_origins,
                   clean_errors, fail, force_option, load_with_changes, main, output_file, output_folder,
                   parse_changes, replications_range, set_option, set_variant_option, variant_scenarios,
                   workers_option)
from ..plots import comparison_chart, sweep_axes, sweep_charts
from .charts import charts_option, charts_summary, write_charts

__all__ = ["parse_precision", "dask_option_help", "PlannedProgress"]

#: Channel metrics the comparison table shows (every figure is in --json and --out).
COMPARE_CHANNEL_METRICS = ("contacts", "abandon_rate", "service_level", "mean_wait_min", "occupancy")

dask_option_help = ("Run on the Dask cluster whose scheduler is at ADDRESS (e.g. tcp://10.0.0.5:8786) "
                    "instead of local processes; needs contactflow[distributed]. "
                    "Also read from CONTACTFLOW_DASK.")


class PlannedProgress(Progress):
    """A progress bar whose total may grow (more replications asked for by --precision).

    Called as ``progress(finished)`` or ``progress(finished, planned)``; with
    ``total=None`` the bar counts without an ETA.
    """

    def __call__(self, done: int, planned: int | None = None) -> None:
        if self.bar is not None and planned is not None and planned != self.bar.total:
            self.bar.total = planned
            self.bar.refresh()
        super().__call__(done)


def parse_precision(texts: tuple[str, ...], max_replications: int | None) -> Precision | None:
    """``--precision FIGURE=HALF_WIDTH`` options as a :class:`Precision`; exits 2 when malformed."""
    if not texts:
        return None
    try:
        return Precision.parse(texts, max_replications or DEFAULT_MAX_REPLICATIONS)
    except (ValueError, KeyError) as exc:
        fail(f"--precision: {exc.args[0]}")
    raise AssertionError("not reached: fail() exits")


def check_figures(option: str, figures, scenarios) -> None:
    """Exit 2 naming ``option`` and what is allowed unless every scenario has every figure."""
    for scenario in scenarios:
        for figure in figures:
            try:
                check_figure(figure, scenario)
            except KeyError as exc:
                fail(f"{option}: {exc.args[0]}")


def experiment_options(command):
    """The options every experiment command shares, in one place."""
    options = [
        click.option("-r", "--replications", type=replications_range(1),
                     help="Replications per run (default: the scenario's run.replications)."),
        click.option("-s", "--seed", type=click.IntRange(min=0), help="Random seed (default: the scenario's run.seed)."),
        click.option("-d", "--days", type=DAYS_RANGE, help="Days simulated after the warm-up."),
        set_option(),
        workers_option,
        click.option("--dask", metavar="ADDRESS", envvar="CONTACTFLOW_DASK", help=dask_option_help),
        force_option,
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def precision_options(command):
    """``--precision`` and ``--max-replications``."""
    command = click.option("--max-replications", type=replications_range(2), default=None,
                           help=f"Most replications --precision may run (default {DEFAULT_MAX_REPLICATIONS}).")(command)
    return click.option("--precision", "precision_texts", multiple=True, metavar="FIGURE=HALF_WIDTH",
                        help="Add replications until the figure's 95 % CI half-width is at most HALF_WIDTH, "
                             f"e.g. give_up_rate=0.002 (repeatable); for FIGURE {FIGURE_HELP}.")(command)


def _load(scenario, assignments, days):
    sc = load_with_changes(scenario, assignments)
    return sc.with_changes({"run.days": days}) if days is not None else sc


# --------------------------------------------------------------------------- compare


@main.command("compare")
@click.argument("base", type=ScenarioPath())
@click.argument("variants", nargs=-1, metavar="[VARIANT]...")
@set_variant_option
@experiment_options
@precision_options
@click.option("--all", "show_all", is_flag=True, help="Show every figure (default: KPIs and the main channel metrics).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of a table.")
@click.option("-o", "--out", type=click.Path(file_okay=False), help="Write comparison.csv and comparison.parquet here.")
@charts_option("a chart of the headline figures and their paired differences (comparison.png, .svg)")
@clean_errors
def compare_command(base, variants, set_variant_texts, replications, seed, days, assignments, workers, dask,
                    force, quiet, precision_texts, max_replications, show_all, as_json, out, charts):
    """Compare BASE with each VARIANT on common random numbers.

    A VARIANT is a scenario file or bundled name, or changes to BASE like
    'more chat: groups.digital.agents+=2; channels.chat.resolve=0.7' (the
    label before ':' is optional); --set-variant NAME:FIELD=VALUE is the same
    with one field per option. Every scenario runs with the same seed, so
    each replication sees the same customers; each figure's difference from
    BASE is paired replication by replication, which makes its confidence
    interval much narrower than comparing independent runs. --set and --days
    apply to every scenario; every VARIANT runs with BASE's run.days and
    run.warmup_hours (pairing needs the same window), and a note says so
    when a VARIANT's own differ.

    \b
    Examples:
      contactflow compare nice_bcg_2016 --set-variant better_chat:channels.chat.resolve=0.8
      contactflow compare nice_bcg_2016 'more chat: groups.digital.agents+=2; channels.chat.resolve=0.7'
      contactflow compare my_centre.toml plan_b.toml -r 20 --precision focal_contacts=20 --charts charts/
      contactflow compare nice_bcg_2016 --set-variant more_phone:channels.phone.agents=70 --json
    """
    precision = parse_precision(precision_texts, max_replications)
    base_sc = _load(base, assignments, days)
    named = variant_scenarios(base_sc, variants, set_variant_texts, changes=parse_changes(assignments, days),
                              origins=change_origins(assignments, days))
    if not named:
        fail("compare needs at least one VARIANT (a scenario, or changes like 'label: FIELD=VALUE; ...') "
             "or --set-variant NAME:FIELD=VALUE")
    if precision is not None:
        check_figures("--precision", precision.targets, [base_sc, *named.values()])
    folder = output_folder(out) if out is not None else None
    if charts is not None:
        output_folder(charts, "--charts")
    scenarios = 1 + len(named)
    reps = replications or base_sc.run.replications
    workers = workers or default_workers()
    bar = PlannedProgress(None if precision else reps * scenarios, quiet, "compare")
    try:
        table = compare(base_sc, named, replications=reps, seed=seed, precision=precision,
                        workers=workers, dask=dask, progress=bar, force=force)
    finally:
        bar.close()
    alignment_notes(table.attrs["base"], table.attrs["aligned"])
    if folder is not None:
        try:
            atomic_write(folder / "comparison.csv", lambda p: table.to_csv(p, index=False))
            atomic_write(folder / "comparison.parquet", lambda p: table.to_parquet(p, index=False))
        except OSError as exc:
            fail(f"--out {out}: cannot write the comparison: {exc}")
    if charts is not None:
        chart_files = write_charts(lambda: {"comparison": comparison_chart(table, base_sc)}, charts)
    if as_json:
        doc = {k: table.attrs[k] for k in ("base", *RUN_ATTRS, "precision", "aligned")}
        doc["rows"] = table.to_dict(orient="records")
        click.echo(dumps(doc))
        return
    click.echo(comparison_text(table, show_all))
    if precision is not None:
        click.echo("\n" + _precision_line(table.attrs["precision"], precision))
    if out is not None:
        click.echo(f"\nwrote {out}/comparison.csv and comparison.parquet")
    if charts is not None:
        click.echo(charts_summary(chart_files, charts))


def comparison_text(table: pd.DataFrame, show_all: bool = False) -> str:
    """The comparison as a text table: each scenario's mean, and each variant's paired difference
    (also per day, for totals over a window other than one day)."""
    attrs = table.attrs
    base = attrs.get("base", table["scenario"].iloc[0])
    labels = list(dict.fromkeys(table["scenario"]))
    variants = [v for v in labels if v != base]
    days = attrs.get("days")
    per_day = days is not None and days != 1
    shown = table
    if not show_all:
        main_rows = (table["table"] == "kpis") | (
            (table["table"] == "channels") & table["metric"].isin(COMPARE_CHANNEL_METRICS))
        # channel figures that say nothing here (self-service waits, undefined occupancy): left out
        spread = table.groupby("kpi")["mean"].transform(lambda m: m.nunique(dropna=True))
        silent = (table["table"] == "channels") & (table["ci_low"].isna() | (table["ci_low"] == table["ci_high"])) \
            & (spread <= 1) & (table["metric"] != "contacts")
        never_closed = table["kpi"].isin(CLOSED_KPIS) & (table.groupby("kpi")["mean"].transform("max") == 0)
        shown = table[main_rows & ~silent & ~never_closed]
    by_scenario = {label: frame.set_index("kpi") for label, frame in shown.groupby("scenario", sort=False)}
    header = ["figure", f"{base}"]
    for v in variants:
        header += [v, f"Δ {v} [95 % CI]"] + ([f"Δ {v} per day"] if per_day else [])
    rows = []
    for kpi, row in by_scenario[base].iterrows():
        cells = [kpi, format_stat(row["mean"], row["ci_low"], row["ci_high"], row["metric"])]
        for v in variants:
            if kpi in by_scenario[v].index:
                other = by_scenario[v].loc[kpi]
                cells += [format_value(other["mean"], other["metric"]), difference_cell(other)]
                if per_day:
                    cells.append("" if math.isnan(other["diff_per_day"]) else day_difference_text(
                        {"metric": other["metric"], "per_day": True,
                         **{k: other[f"{k}_per_day"] for k in ("diff", "diff_low", "diff_high")}}))
            else:
                cells += ["–", "–"] + (["–"] if per_day else [])
        rows.append(cells)
    covers = (f"{attrs['replications']} paired replication(s) of {days:g} day(s) after a "
              f"{attrs['warmup_hours']:g} h warm-up, seed {attrs['seed']}" if days is not None else
              f"{attrs.get('replications', '?')} paired replication(s), seed {attrs.get('seed', '?')}")
    title = f"{base} vs {', '.join(variants)}: {covers}; mean [95 % CI]"
    if per_day:
        title += f"\ncounts and costs are totals over the {days:g} day(s); 'Δ ... per day' divides them by {days:g}"
    return "\n".join([title, "", table_text(rows, header), "", SIGNIFICANT_NOTE, COMPARISON_METHOD])


def _precision_line(report: dict, precision: Precision) -> str:
    state = ("precision reached" if report["met"] else
             f"precision NOT reached (stopped at --max-replications {precision.max_replications})")
    parts = ", ".join(f"{k} ±{v['half_width']:.3g} (target {v['target']:g})" if v["half_width"] is not None
                      else f"{k} undefined" for k, v in report["figures"].items())
    return f"{state} after {report['replications']} replications: {parts}"


# --------------------------------------------------------------------------- sweep

@main.command("sweep")
@click.argument("scenario", type=ScenarioPath())
@click.option("--vary", "vary_texts", multiple=True, required=True, metavar="FIELD=START:STOP:STEP|v1,v2,...",
              help="A field and its values: a range with STOP included (channels.phone.agents=40:60:5) "
                   "or a list (channels.chat.resolve=0.6,0.7,0.8). Repeat for a grid.")
@experiment_options
@precision_options
@click.option("-o", "--out", type=click.Path(file_okay=False), default=None,
              help="Folder for the results (default: sweep_NAME, from the scenario's name). "
                   "Re-running resumes from it.")
@click.option("--show", "show", multiple=True, metavar="FIGURE",
              help="Figures to print per point (default: give_up_rate, avoidable_call_share, "
                   "the focal channel's service_level, cost_per_customer); for FIGURE "
                   f"{FIGURE_HELP}. All are in the files.")
@charts_option("the shown figures against the first numeric varied field (sweep.png, .svg)")
@clean_errors
def sweep_command(scenario, vary_texts, replications, seed, days, assignments, workers, dask, force, quiet,
                  precision_texts, max_replications, out, show, charts):
    """Run SCENARIO at every point of a grid of field values.

    Each point is saved to OUT/points/ as soon as it finishes; OUT/sweep.parquet
    and OUT/sweep.csv gather them at the end (one row per point and figure,
    with mean and 95 % CI). Running the same command again skips the points
    already saved, so an interrupted sweep loses only the points in flight.

    Every point runs on the same seed (-s) and replications (-r), unless
    run.seed or run.replications is varied: then each point has its own.

    With --charts, the shown figures are drawn against the first varied field
    with numeric values, one line per value of the next varied field (and one
    chart per combination of any further ones), with 95 % CI bands.

    \b
    Examples:
      contactflow sweep nice_bcg_2016 --vary channels.phone.agents=50:70:5 --charts charts/
      contactflow sweep nice_bcg_2016 --vary channels.phone.agents=50:70:10 --vary channels.chat.resolve=0.6,0.8
    """
    precision = parse_precision(precision_texts, max_replications)
    sc = _load(scenario, assignments, days)
    vary = {}
    for text in vary_texts:
        try:
            field, values = parse_vary(text)
        except ValueError as exc:
            fail(f"--vary: {exc}")
        if field in vary:
            fail(f"--vary: {field} is given twice")
        vary[field] = values
    for field, option, value in (("run.replications", "-r/--replications", replications),
                                 ("run.seed", "-s/--seed", seed), ("run.days", "-d/--days", days)):
        if value is not None and field in vary:
            fail(f"--vary {field} and {option} both set {field}; give one of them")
    figures = list(show) or headline_figures(sc)
    check_figures("--show", figures, [sc])  # before running, not after every point has run
    if precision is not None:
        check_figures("--precision", precision.targets, [sc])
        figures += [k for k in precision.targets if k not in figures]
    if charts is not None:
        try:
            sweep_axes(vary)  # before running: a grid with nothing to put on the x axis fails now
        except ValueError as exc:
            fail(f"--charts: {exc}")
        output_folder(charts, "--charts")
    out = out or f"sweep_{safe_file_name(sc.name)}"  # a name is free text: keep the folder here
    points = math.prod(len(v) for v in vary.values())
    workers = workers or default_workers()
    bar = PlannedProgress(None, quiet, "sweep")
    points_dir = Path(out) / POINTS_DIR
    before = len(list(points_dir.glob("*.parquet"))) if points_dir.is_dir() else 0
    try:
        # the folder is made and sweep.json written before any point runs
        table = sweep(sc, vary, replications=replications, seed=seed, out=out, precision=precision,
                      workers=workers, dask=dask, progress=bar, force=force)
    except ConnectionError:
        raise  # --dask: reported by clean_errors
    except OSError as exc:
        fail(f"--out {out}: cannot write the sweep there: {exc.strerror or exc}")
    except KeyboardInterrupt:
        bar.close()
        saved = len(list(points_dir.glob("*.parquet"))) if points_dir.is_dir() else 0
        click.echo(f"interrupted: {saved - before} new point(s) saved in {points_dir} "
                   f"({points} in the grid); run the same command again to resume", err=True)
        sys.exit(EXIT_INTERRUPTED)
    finally:
        bar.close()
    for damaged in table.attrs["recomputed"]:
        click.echo(f"recomputed a point whose saved file was damaged (empty or truncated): {damaged}", err=True)
    if table.attrs["resumed"]:
        click.echo(f"resumed: {table.attrs['resumed']} of {points} point(s) were already saved in {out}", err=True)
    text = sweep_text(table, list(vary), figures)
    if charts is not None:
        common_seed = None if "run.seed" in vary else sc.run.seed if seed is None else seed
        chart_files = write_charts(lambda: sweep_charts(table, vary, figures, sc, common_seed), charts)
    click.echo(text)
    if precision is not None:
        click.echo("\n" + sweep_precision_text(table, list(vary), precision))
    click.echo(f"\nwrote {out}/sweep.parquet and {out}/sweep.csv ({points} points)")
    if charts is not None:
        click.echo(charts_summary(chart_files, charts))


def sweep_text(table: pd.DataFrame, fields: list[str], figures: list[str]) -> str:
    """One line per point: the varied values and each figure's mean [95 % CI]."""
    missing = [f for f in figures if f not in set(table["kpi"])]
    if missing:
        raise KeyError(f"--show: no figure {', '.join(missing)}; use a KPI name, channels.CHANNEL.METRIC, "
                       "before_call.CHANNEL or after_call.TARGET")
    indexed = table.set_index(["point", "kpi"])
    rows = []
    for point, frame in table.groupby("point", sort=True):
        first = frame.iloc[0]
        cells = [str(first[f]) for f in fields]
        for figure in figures:
            row = indexed.loc[(point, figure)]
            cells.append(format_stat(row["mean"], row["ci_low"], row["ci_high"], row["metric"]))
        cells.append(str(int(first["replications"])))
        rows.append(cells)
    return table_text(rows, [*fields, *figures, "reps"], right=set(range(len(fields), len(fields) + len(figures) + 1)))


def sweep_precision_text(table: pd.DataFrame, fields: list[str], precision: Precision) -> str:
    """How many points reached ``--precision``, then each point that stopped at the maximum, with its half-widths."""
    firsts = table.groupby("point", sort=True).first()
    met = firsts["precision_met"].astype(bool)
    reps = sorted(set(firsts.loc[met, "replications"].astype(int)))
    after = "" if not reps else f" after {reps[0]}" + (f" to {reps[-1]}" if len(reps) > 1 else "") + " replications"
    lines = [f"precision reached at {int(met.sum())} of {len(firsts)} point(s){after}"]
    rows = table.set_index(["point", "kpi"])
    for point in firsts.index[~met]:
        figures = {}
        for key, target in precision.targets.items():
            row = rows.loc[(point, key)]
            width = (row["ci_high"] - row["ci_low"]) / 2
            figures[key] = {"target": target, "half_width": None if math.isnan(width) else width}
        report = {"met": False, "replications": int(firsts.loc[point, "replications"]), "figures": figures}
        where = ", ".join(f"{f}={firsts.loc[point, f]}" for f in fields)
        lines.append(f"  point {point} ({where}): {_precision_line(report, precision)}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- staff


@main.command("staff")
@click.argument("scenario", type=ScenarioPath())
@click.option("--target", "target_texts", multiple=True, required=True, metavar="FIGURE>=VALUE",
              help="A target every plan must meet, e.g. 'channels.phone.service_level>=0.8' or "
                   "'give_up_rate<=3%' (operators >=, <=, >, <; repeatable).")
@click.option("--channels", "channel_list", metavar="NAME,NAME",
              help="Channels to staff: a channel's own agents, or every agent group that answers it "
                   "(default: those named by channel targets, or everything when a target is network-wide).")
@click.option("--groups", "group_list", metavar="NAME,NAME",
              help="Agent groups to staff ([groups.NAME] tables, or channels' own agents by the channel's name). "
                   "--channels and --groups may be combined, and each takes either kind of name.")
@click.option("--hourly", is_flag=True, help="Staff each hour (a shift plan: of the day, or of the week from "
                                             "Monday 0:00 for a weekly scenario) instead of a fixed level.")
@click.option("--start", "start_name", type=click.Choice(["network", "erlang"]), default="network", show_default=True,
              help="Where the simulated search starts: Erlang A/C per channel adjusted by the network "
                   "approximation, or Erlang A/C per channel alone.")
@experiment_options
@click.option("--max-evaluations", type=click.IntRange(min=1), default=200, show_default=True,
              help="Most distinct plans to simulate.")
@click.option("--save-scenario", type=click.Path(dir_okay=False), help="Write the staffed scenario to this TOML file.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of tables.")
@clean_errors
def staff_command(scenario, target_texts, channel_list, group_list, hourly, start_name, replications, seed, days,
                  assignments, workers, dask, force, quiet, max_evaluations, save_scenario, as_json):
    """The fewest agents per agent group (or per hour with --hourly) that meet every target.

    What is sized are agent groups: a channel with its own agents is a group
    of its own name, and a [groups.NAME] table answers several channels;
    targets stay per channel (service level, abandonment, waits), network-wide
    (give_up_rate) or per group (groups.NAME.occupancy). Starts from Erlang
    A/C on each channel's offered load (from the routing chain), summed per
    group, adds agents until the network approximation meets every target
    (it follows customers who give up on one channel into another, and sees
    network-wide targets such as give_up_rate), then simulates the whole
    network on common random numbers to confirm and adjust. Prints the plan,
    each target's simulated value with its 95 % CI, and the cost per group.

    \b
    Examples:
      contactflow staff nice_bcg_2016 --target "channels.phone.service_level>=0.8" --channels phone
      contactflow staff nice_bcg_2016 --target "channels.phone.service_level>=0.8" --target "give_up_rate<=0.08"
      contactflow staff utility_billing_surge --hourly --target "channels.phone.service_level>=0.7" -r 10
      contactflow staff my_centre.toml --groups service_desk --target "channels.email.service_level>=0.9"
    """
    try:
        targets = [Target.parse(text) for text in target_texts]
    except ValueError as exc:
        fail(f"--target: {exc}")
    sc = _load(scenario, assignments, days)
    period_days = sc.period_hours // 24
    if hourly and sc.run.days < period_days:
        what = "day" if period_days == 1 else "week (the scenario is weekly)"
        fail(f"--hourly needs at least one whole {what} simulated after the warm-up, so that every hour is judged "
             f"(run.days is {sc.run.days:g}): use -d {period_days} or more")
    if save_scenario is not None:  # before the search, not after it
        output_file(save_scenario, "--save-scenario")
    given = [text for text in (channel_list, group_list) if text is not None]
    names = [c.strip() for text in given for c in text.split(",") if c.strip()] if given else None
    try:  # what to staff, checked now and named as the options are
        units = staffing_units(sc, targets, names, option="--channels NAME,NAME or --groups NAME,NAME")
    except (KeyError, ValueError) as exc:
        options = [f"{option} {text!r}" for option, text in (("--channels", channel_list), ("--groups", group_list))
                   if text is not None]
        fail(f"{', '.join(options) + ': ' if options else ''}{exc.args[0]}")
    workers = workers or default_workers()
    bar = PlannedProgress(None, quiet, "staff")
    try:
        plan = staff(sc, targets, groups=units, hourly=hourly, replications=replications, seed=seed,
                     start={"network": network_start, "erlang": erlang_start}[start_name],
                     workers=workers, dask=dask, progress=bar, max_evaluations=max_evaluations, force=force)
    except StaffingError as exc:
        fail(f"{sc.source or sc.name}: {exc}")
    finally:
        bar.close()
    if save_scenario is not None:
        try:
            atomic_write(Path(save_scenario), lambda p: p.write_text(plan.scenario.to_toml()))
        except OSError as exc:
            fail(f"--save-scenario {save_scenario}: cannot write the staffed scenario: {exc}")
    if as_json:
        click.echo(dumps(plan.to_dict()))
        return
    click.echo(staffing_text(plan))
    if save_scenario is not None:
        click.echo(f"\nwrote the staffed scenario to {save_scenario}")


# --------------------------------------------------------------------------- warmup


@main.command("warmup")
@click.argument("scenario", type=ScenarioPath())
@click.option("-r", "--replications", type=replications_range(2), default=5, show_default=True,
              help="Replications to learn from.")
@click.option("-s", "--seed", type=click.IntRange(min=0), help="Random seed (default: the scenario's run.seed).")
@click.option("-d", "--days", type=DAYS_RANGE,
              help="Days to simulate from empty (default: the scenario's; several times the warm-up).")
@set_option()
@workers_option
@force_option
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@clean_errors
def warmup_command(scenario, replications, seed, days, assignments, workers, force, quiet):
    """Suggest run.warmup_hours for a steady-state SCENARIO (MSER-5 on the waits).

    Simulates from empty with no warm-up and finds, per staffed channel and
    replication, where the start-up transient of the waits ends. Each
    channel's cut-off on the waits averaged over replications is checked
    against the exact transient of its queue (M/M/c or M/M/c+M at its offered
    load); the suggestion is the largest of them. The single replications'
    cut-offs show the spread, and warnings (on stderr) say when the run looks
    too short for MSER or MSER fell short of the exact transient.
    """
    sc = load_with_changes(scenario, assignments)
    bar = Progress(replications, quiet, f"{sc.name} from empty")
    try:
        suggestion = suggest_warmup(sc, replications, seed, days=days, workers=workers or default_workers(),
                                    progress=bar, force=force)
    finally:
        bar.close()
    spread = suggestion.spread()
    rows = [[c, f"{r['hours']:.2f}", f"{r['median']:.2f} [{r['min']:.2f} – {r['max']:.2f}]",
             f"{r['late']:.0f} of {replications}",
             "–" if math.isnan(r["exact"]) else "> a week" if math.isinf(r["exact"]) else f"{r['exact']:.2f}"]
            for c, r in spread.iterrows()]
    click.echo(table_text(rows, ["channel", "warm-up h (MSER-5)", "single replications: median [range]",
                                 "late minimum", "exact transient h"]))
    for warning in suggestion.warnings:
        click.echo(f"warning: {warning}", err=True)
    has = (f"{sc.run.warmup_hours:g}, derived" if sc.run.warmup_derived else f"{sc.run.warmup_hours:g}")
    click.echo(f"\nsuggested warm-up: {suggestion.hours:g} hours, the largest channel's MSER-5 cut-off or exact "
               f"transient, whichever is longer (scenario has {has}); use it with\n"
               f"  contactflow run {scenario} --set run.warmup_hours={suggestion.hours:g}")
