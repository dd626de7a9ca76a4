"""``contactflow compare``, ``sweep``, ``staff`` and ``warmup``: what-if experiments.

Also home of the options they share with ``run``: ``--precision``,
``--max-replications``, ``--workers`` and ``--dask``.
"""

from __future__ import annotations

import json
import math
import sys
import textwrap
from pathlib import Path

import click
import pandas as pd

from ..compare import compare
from ..experiment import atomic_write
from ..parallel import default_workers
from ..precision import DEFAULT_MAX_REPLICATIONS, FIGURE_HELP, Precision, check_figure
from ..report import SIGNIFICANT_NOTE, difference_cell, format_stat, format_value, table_text
from ..scenario import Scenario
from ..staffing import StaffingError, Target, erlang_start, hour_label, network_start, staff
from ..sweep import POINTS_DIR, parse_vary, sweep
from ..warmup import suggest_warmup
from .base import (EXIT_INTERRUPTED, Progress, ScenarioPath, alignment_notes, change_origins, clean_errors, fail,
                   load_with_changes, main, output_folder, parse_changes, set_variant_option, variant_scenarios)
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
        click.option("-r", "--replications", type=click.IntRange(min=1),
                     help="Replications per run (default: the scenario's run.replications)."),
        click.option("-s", "--seed", type=click.IntRange(min=0), help="Random seed (default: the scenario's run.seed)."),
        click.option("-d", "--days", type=click.FloatRange(min=0, min_open=True), help="Days simulated after the warm-up."),
        click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
                     help="Change a scenario field, e.g. --set run.warmup_hours=6 (repeatable)."),
        click.option("-w", "--workers", type=click.IntRange(min=1), default=None,
                     help="Processes for replications (default: CPU cores). Results do not depend on it."),
        click.option("--dask", metavar="ADDRESS", envvar="CONTACTFLOW_DASK", help=dask_option_help),
        click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def precision_options(command):
    """``--precision`` and ``--max-replications``."""
    command = click.option("--max-replications", type=click.IntRange(min=2), default=None,
                           help=f"Most replications --precision may run (default {DEFAULT_MAX_REPLICATIONS}).")(command)
    return click.option("--precision", "precision_texts", multiple=True, metavar="FIGURE=HALF_WIDTH",
                        help="Add replications until the figure's 95 % CI half-width is at most HALF_WIDTH, "
                             f"e.g. give_up_rate=0.002 (repeatable); for FIGURE {FIGURE_HELP}.")(command)


def _load(scenario, assignments, days):
    sc = load_with_changes(scenario, assignments)
    return sc.with_changes({"run.days": days}) if days is not None else sc


def _json_ready(frame: pd.DataFrame) -> list[dict]:
    records = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()} for r in records]


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
                    quiet, precision_texts, max_replications, show_all, as_json, out, charts):
    """Compare BASE with each VARIANT on common random numbers.

    A VARIANT is a scenario file or bundled name, or changes to BASE like
    'more chat: channels.chat.agents=25; channels.chat.resolve=0.7' (the
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
      contactflow compare nice_bcg_2016 'more chat: channels.chat.agents=25; channels.chat.resolve=0.7'
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
                        workers=workers, dask=dask, progress=bar)
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
        doc = {k: table.attrs[k] for k in ("base", "seed", "replications", "precision", "aligned")}
        doc["rows"] = _json_ready(table)
        click.echo(json.dumps(doc, indent=2, allow_nan=False))
        return
    click.echo(comparison_text(table, show_all))
    if precision is not None:
        click.echo("\n" + _precision_line(table.attrs["precision"], precision))
    if out is not None:
        click.echo(f"\nwrote {out}/comparison.csv and comparison.parquet")
    if charts is not None:
        click.echo(charts_summary(chart_files, charts))


def headline_figures(scenario: Scenario) -> list[str]:
    """The figures ``sweep`` prints and ``compare`` and ``sweep`` draw by default."""
    return ["give_up_rate", "avoidable_call_share", f"channels.{scenario.focal_channel}.service_level",
            "cost_per_customer"]


def comparison_chart(table: pd.DataFrame, base: Scenario):
    """The headline figures side by side, with their paired differences (:func:`simulator.plots.kpi_comparison`)."""
    from ..plots import kpi_comparison

    present = set(table["kpi"])
    return kpi_comparison(table, kpis=[k for k in headline_figures(base) if k in present])


def comparison_text(table: pd.DataFrame, show_all: bool = False) -> str:
    """The comparison as a text table: each scenario's mean, and each variant's paired difference."""
    base = table.attrs.get("base", table["scenario"].iloc[0])
    labels = list(dict.fromkeys(table["scenario"]))
    variants = [v for v in labels if v != base]
    shown = table
    if not show_all:
        main_rows = (table["table"] == "kpis") | (
            (table["table"] == "channels") & table["metric"].isin(COMPARE_CHANNEL_METRICS))
        # channel figures that say nothing here (self-service waits, undefined occupancy): left out
        spread = table.groupby("kpi")["mean"].transform(lambda m: m.nunique(dropna=True))
        silent = (table["table"] == "channels") & (table["ci_low"].isna() | (table["ci_low"] == table["ci_high"])) \
            & (spread <= 1) & (table["metric"] != "contacts")
        shown = table[main_rows & ~silent]
    by_scenario = {label: frame.set_index("kpi") for label, frame in shown.groupby("scenario", sort=False)}
    header = ["figure", f"{base}"]
    for v in variants:
        header += [v, f"Δ {v} [95 % CI]"]
    rows = []
    for kpi, row in by_scenario[base].iterrows():
        cells = [kpi, format_stat(row["mean"], row["ci_low"], row["ci_high"], row["metric"])]
        for v in variants:
            if kpi in by_scenario[v].index:
                other = by_scenario[v].loc[kpi]
                cells += [format_value(other["mean"], other["metric"]), difference_cell(other)]
            else:
                cells += ["–", "–"]
        rows.append(cells)
    title = (f"{base} vs {', '.join(variants)}: {table.attrs.get('replications', '?')} paired replication(s), "
             f"seed {table.attrs.get('seed', '?')}; mean [95 % CI]")
    return "\n".join([title, "", table_text(rows, header), "", SIGNIFICANT_NOTE])


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
              help="Folder for the results (default: sweep_SCENARIO). Re-running resumes from it.")
@click.option("--show", "show", multiple=True, metavar="FIGURE",
              help="Figures to print per point (default: give_up_rate, avoidable_call_share, "
                   "the focal channel's service_level, cost_per_customer); for FIGURE "
                   f"{FIGURE_HELP}. All are in the files.")
@charts_option("the shown figures against the first numeric varied field (sweep.png, .svg)")
@clean_errors
def sweep_command(scenario, vary_texts, replications, seed, days, assignments, workers, dask, quiet,
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
        _sweep_axes(vary)  # before running: a grid with nothing to put on the x axis fails now
        output_folder(charts, "--charts")
    out = out or f"sweep_{sc.name}"
    points = math.prod(len(v) for v in vary.values())
    workers = workers or default_workers()
    bar = PlannedProgress(None, quiet, "sweep")
    points_dir = Path(out) / POINTS_DIR
    before = len(list(points_dir.glob("*.parquet"))) if points_dir.is_dir() else 0
    try:
        # the folder is made and sweep.json written before any point runs
        table = sweep(sc, vary, replications=replications, seed=seed, out=out, precision=precision,
                      workers=workers, dask=dask, progress=bar)
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


def _sweep_axes(vary: dict[str, list]) -> tuple[str, str | None, list[str]]:
    """The x-axis field (the first with numbers and several values), the hue field and the rest."""
    varied = [f for f, values in vary.items() if len(values) > 1] or list(vary)[:1]
    numeric = [f for f in varied if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vary[f])]
    if not numeric:
        raise ValueError(f"--charts: no varied field has numbers to put on the x axis "
                         f"({', '.join(varied)}); vary a numeric field, or leave out --charts")
    rest = [f for f in varied if f != numeric[0]]
    return numeric[0], (rest[0] if rest else None), rest[1:]


def sweep_charts(table: pd.DataFrame, vary: dict[str, list], figures: list[str], scenario: Scenario,
                 seed: int | None) -> dict:
    """The sweep as charts (:func:`simulator.plots.sweep_chart`): ``sweep``, or ``sweep_1``, ``sweep_2``, ...
    (one per combination of the varied fields past the first two)."""
    from ..plots import sweep_chart

    x, hue, others = _sweep_axes(vary)
    frame = table
    if hue is not None and not all(isinstance(v, (int, float)) for v in vary[hue]):
        # a non-numeric hue (lists, words) is labelled as it is, like scenario names
        frame = table.assign(scenario=[f"{hue} = {v}" for v in table[hue]])
        hue = "scenario"
    reps = sorted(set(table["replications"]))
    footnote = (f"{scenario.name}: {reps[0] if len(reps) == 1 else f'{reps[0]} to {reps[-1]}'} replication(s) "
                f"per point, {'each its own seed' if seed is None else f'seed {seed} for all'}. "
                "Lines: mean; bands: 95 % confidence interval.")

    def chart(rows: pd.DataFrame, title: str | None = None):
        return sweep_chart(rows, parameter=x, kpis=figures, hue=hue, reference=scenario.reference,
                           title=title, footnote=footnote)

    if not others:
        return {"sweep": chart(frame)}
    charts = {}
    for i, (values, rows) in enumerate(frame.groupby(others, sort=False), start=1):
        values = values if isinstance(values, tuple) else (values,)
        fixed = ", ".join(f"{f} = {v}" for f, v in zip(others, values))
        charts[f"sweep_{i}"] = chart(rows, f"Sensitivity to {x} ({fixed})")
    return charts


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
                  assignments, workers, dask, quiet, max_evaluations, save_scenario, as_json):
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
        output_folder(Path(save_scenario).parent, f"--save-scenario {save_scenario}: its folder")
    names = [c.strip() for text in (channel_list, group_list) if text for c in text.split(",") if c.strip()]
    workers = workers or default_workers()
    bar = PlannedProgress(None, quiet, "staff")
    try:
        plan = staff(sc, targets, names or None, hourly=hourly, replications=replications, seed=seed,
                     start={"network": network_start, "erlang": erlang_start}[start_name],
                     workers=workers, dask=dask, progress=bar, max_evaluations=max_evaluations)
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
        click.echo(json.dumps(plan.to_dict(), indent=2, default=float))
        return
    click.echo(staffing_text(plan))
    if save_scenario is not None:
        click.echo(f"\nwrote the staffed scenario to {save_scenario}")


def _group_skills(scenario: Scenario, name: str) -> str:
    """What a group answers, by priority: ``phone 1, email 2`` (a channel's own agents: the channel)."""
    group = scenario.group(name)
    if group.own:
        return name
    return ", ".join(f"{c} {p}" for c, p in sorted(group.skills.items(), key=lambda cp: cp[1]))


def staffing_text(plan) -> str:
    """The plan, its checks with CIs, and its cost, as text."""
    sc = plan.scenario
    hourly = any(isinstance(v, tuple) for v in plan.agents.values())
    unjudged = plan.unjudged_hours
    claim = "every target in every hour with contacts" if unjudged else "every target"
    parts = [f"{sc.name}: staffing that meets {claim} ({plan.result.replications} replication(s) "
             f"per plan, seed {plan.result.seed}, {plan.evaluations} plan(s) simulated)"]
    period = plan.period_hours
    if hourly:
        hours = [h for h in range(period) if any(v[h] or plan.start[c][h] for c, v in plan.agents.items())]
        rows = [[hour_label(h, period), *(f"{plan.start[c][h]} → {plan.agents[c][h]}" for c in plan.agents)]
                for h in hours]
        parts.append("\n" + table_text(rows, ["hour", *(f"{c} (start → simulated)" for c in plan.agents)]))
    else:
        rows = [[c, _group_skills(sc, c), str(plan.start[c]), str(v)] for c, v in plan.agents.items()]
        parts.append("\n" + table_text(rows, ["group", "answers", "start", "agents"]))
    parts.append(textwrap.fill(f"(start: {plan.start_method})", width=100))
    checks = plan.checks
    rows = []
    for target, frame in checks.groupby("target", sort=False):
        if frame["hour"].notna().any():  # an hourly target: show its tightest hour
            metric, op = target.split()[0].split(".")[-1], target.split()[1]
            defined = frame.dropna(subset=["mean"])
            worst = (defined.loc[defined["mean"].idxmin() if op in (">=", ">") else defined["mean"].idxmax()]
                     if len(defined) else frame.iloc[0])
            where = f"tightest hour {hour_label(int(worst['hour']), period)}"
        else:
            metric, worst, where = target.split()[0].split(".")[-1], frame.iloc[0], "whole run"
        judged = frame[frame["judged"]]  # hours with no contacts are neither met nor missed
        met = "yes" if judged["met"].all() else "NO"
        if len(judged) < len(frame):
            met += f" ({len(frame) - len(judged)} h not judged)"
        rows.append([target, where, format_stat(worst["mean"], worst["ci_low"], worst["ci_high"], metric), met,
                     "yes" if frame["confident"].all() else "not all"])
    parts.append("\n" + table_text(rows, ["target", "where", "simulated [95 % CI]", "met", "whole CI meets it"],
                                   right=set()))
    if unjudged:
        where = "; ".join(f"{c} {', '.join(hour_label(h, period) for h in hours)}" for c, hours in unjudged.items())
        parts.append(textwrap.fill(f"not judged (no contact simulated in any replication): {where}; these hours "
                                   "keep their start level. Simulate more days (-d) or replications (-r) "
                                   "to judge them.", width=100))
    hours = plan.agent_hours_per_day
    cost = plan.result.stat("cost_total")
    days = sc.run.days
    costs = ", ".join(f"{g} {sc.group(g).cost_per_agent_hour * h:,.0f}" for g, h in hours.items())
    parts.append("\n" + "agent hours per day: " + ", ".join(f"{c} {h:,.0f}" for c, h in hours.items())
                 + f"; agent cost per day: {plan.cost_per_day:,.0f} ({costs})")
    parts.append(f"simulated cost_total over {days:g} day(s): "
                 + format_stat(cost["mean"], cost["ci_low"], cost["ci_high"], "cost_total"))
    return "\n".join(parts)


# --------------------------------------------------------------------------- warmup


@main.command("warmup")
@click.argument("scenario", type=ScenarioPath())
@click.option("-r", "--replications", type=click.IntRange(min=2), default=5, show_default=True,
              help="Replications to learn from.")
@click.option("-s", "--seed", type=click.IntRange(min=0), help="Random seed (default: the scenario's run.seed).")
@click.option("-d", "--days", type=click.FloatRange(min=0, min_open=True),
              help="Days to simulate from empty (default: the scenario's; several times the warm-up).")
@click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE", help="Change a scenario field.")
@click.option("-w", "--workers", type=click.IntRange(min=1), default=None, help="Processes (default: CPU cores).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
@clean_errors
def warmup_command(scenario, replications, seed, days, assignments, workers, quiet):
    """Suggest run.warmup_hours for a steady-state SCENARIO (MSER-5 on the waits).

    Simulates from empty with no warm-up and finds, per staffed channel and
    replication, where the start-up transient of the waits ends. The
    suggestion is the largest channel's cut-off on the waits averaged over
    replications; the single replications' cut-offs show the spread, and
    warnings (on stderr) say when the run looks too short for MSER.
    """
    sc = load_with_changes(scenario, assignments)
    bar = Progress(replications, quiet, f"{sc.name} from empty")
    try:
        suggestion = suggest_warmup(sc, replications, seed, days=days, workers=workers or default_workers(),
                                    progress=bar)
    finally:
        bar.close()
    spread = suggestion.spread()
    rows = [[c, f"{r['hours']:.2f}", f"{r['median']:.2f} [{r['min']:.2f} – {r['max']:.2f}]",
             f"{r['late']:.0f} of {replications}"] for c, r in spread.iterrows()]
    click.echo(table_text(rows, ["channel", "warm-up h (MSER-5)", "single replications: median [range]",
                                 "late minimum"]))
    for warning in suggestion.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"\nsuggested warm-up: {suggestion.hours:g} hours, the largest channel's "
               f"(scenario has {sc.run.warmup_hours:g}); use it with\n"
               f"  contactflow run {scenario} --set run.warmup_hours={suggestion.hours:g}")
