"""The Shiny app: pages, widgets and what happens when they change.

:func:`make_app` builds the app for a starting scenario; :func:`serve` runs it
(``contactflow app``). The logic that does not need Shiny lives in
:mod:`simulator.app.forms`, :mod:`simulator.app.views` and
:mod:`simulator.app.jobs`; this module wires it to the page.
"""

from __future__ import annotations

import asyncio
import io
import json
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from htmltools import HTMLDependency
from shiny import App, reactive, render, ui

from .. import __version__
from ..compare import compare
from ..experiment import run as run_scenario
from ..files import safe_file_name
from ..html_report import report_html
from ..network import approximate
from ..parallel import default_workers
from ..plots import comparison_chart, result_charts, save_charts, sweep_charts
from ..precision import check_figure
from ..report import SIGNIFICANT_NOTE, shows_groups, staffing_text
from ..scenario import Scenario, ScenarioError, bundled_scenarios, load_scenario, parse_toml
from ..staffing import Target, staff
from ..sweep import parse_vary, sweep
from . import forms, views
from .interactive import figure_html, hourly_figure, hourly_groups_figure
from .jobs import Job, LatestJob, error_message

__all__ = ["make_app", "serve", "MAX_VARIANTS"]

#: Variants kept beside the base in the what-if page.
MAX_VARIANTS = 4
#: Seconds between two looks at a running job.
POLL_SECONDS = 0.3
#: Seconds the page waits for the instant estimate before showing it is under way (it usually takes less;
#: the page does not answer meanwhile, so not long).
ESTIMATE_WAIT_SECONDS = 1.0
#: Replications the page offers at first (a quick look; the scenario's own number is a click away).
FIRST_REPLICATIONS = 5

#: How long an hourly plan is: a day, or a week from Monday 0:00.
_PLAN_LENGTHS = {"24": "a day (24 hours)", "168": "a week (168 hours from Monday 0:00)"}

_CHART_TITLES = {"journey_flow": "Journey flow", "before_after": "Before / after the call",
                 "hourly": "Over the day", "wait_times": "Wait times", "flow_matrix": "Where customers go",
                 "reference": "Published figures"}

_CSS = """
.field-problem { color: #b23b3b; font-size: 0.85em; margin-top: -0.6em; margin-bottom: 0.6em; }
.field-problem:empty { display: none; }
.problem-box { color: #b23b3b; white-space: pre-wrap; font-size: 0.9em; }
.kpi-cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 6px 0 12px; }
.kpi-card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 12px; min-width: 170px; flex: 1 1 170px;
            background: #fff; }
.kpi-card .title { color: #555; font-size: 0.85em; }
.kpi-card .value { font-size: 1.5em; font-weight: 600; }
.kpi-card .interval { color: #555; font-size: 0.85em; }
.kpi-card .published { font-size: 0.85em; }
.kpi-card .published.inside { color: #2e7d32; } .kpi-card .published.outside { color: #b23b3b; }
.estimate-strip { background: #f6f8fb; border: 1px solid #dfe6ef; border-radius: 6px; padding: 6px 12px;
                  margin-bottom: 10px; }
.estimate-strip h6 { margin: 4px 0; }
.weak { color: #6b5a00; font-size: 0.85em; }
.job-status { font-size: 0.9em; color: #333; margin: 4px 0; }
pre.plan { font-size: 0.82em; }
.sum-bad { background-color: #fbe3e3 !important; color: #b23b3b; font-weight: 600; }
.sum-ok { color: #2e7d32; }
table.channel-numbers td { padding: 0 8px 0 0; vertical-align: middle; }
table.channel-numbers td.channel { min-width: 60px; }
table.channel-numbers .form-group { margin-bottom: 4px; }
.section-problem { margin-top: 0; }
"""

# Problems next to the fields: the server sends {problem element id: message}; the page fills them in.
_JS = """
Shiny.addCustomMessageHandler("field_problems", function(message) {
  document.querySelectorAll(".field-problem").forEach(function(el) {
    var text = message[el.id] || "";
    el.textContent = text;
    var field = el.previousElementSibling;
    if (field) { field.querySelectorAll("input, select").forEach(function(i) {
      i.classList.toggle("is-invalid", text !== ""); }); }
  });
});
"""


def _plotly_dependency() -> HTMLDependency:
    """plotly.js from the plotly package, served by the app (no network needed)."""
    import plotly

    return HTMLDependency("plotly", plotly.__version__,
                          source={"subdir": str(Path(plotly.__file__).parent / "package_data")},
                          script={"src": "plotly.min.js"})


def _scenario_choices() -> dict[str, str]:
    return {name: name for name in bundled_scenarios()}


# --------------------------------------------------------------------------- the page


def _field_ui(f: forms.Field, gen: int) -> Any:
    """The widgets of one field, then the element its problems are written into."""
    def wid(part: str = "") -> str:
        return _wid(gen, f.path, part)

    parts = forms.initial_parts(f)
    label = f.label
    hint = ui.tags.small(f.help, class_="text-muted") if f.help else None
    kind = f.kind
    if kind in ("number", "integer", "probability"):
        step = 1 if kind == "integer" else 0.01 if kind == "probability" else "any"
        widget = ui.input_numeric(wid(), label, parts[""], step=step)
    elif kind == "text":
        widget = ui.input_text(wid(), label, parts[""] or "")
    elif kind == "warmup":
        value = parts[""]
        widget = ui.input_text(wid(), label, f"{value:g}" if isinstance(value, (int, float)) else str(value or "auto"))
    elif kind == "bool":
        widget = ui.input_checkbox(wid(), label, bool(parts[""]))
    elif kind == "choice":
        widget = ui.input_select(wid(), label, list(f.choices), selected=parts[""])
    elif kind in forms.AGENT_KINDS:
        modes = forms.AGENT_MODES if kind == "agents" else forms.GROUP_AGENT_MODES
        widget = ui.div(
            ui.input_select(wid("mode"), label, modes, selected=parts["mode"]),
            ui.panel_conditional(f"input.{wid('mode')} === 'fixed'",
                                 ui.input_numeric(wid("count"), "agents", parts["count"], min=1, step=1)),
            ui.panel_conditional(f"input.{wid('mode')} === 'hourly'",
                                 ui.tags.small("edit the levels in the hourly plans below", class_="text-muted")),
            ui.panel_conditional(f"input.{wid('mode')} === 'groups'",
                                 ui.tags.small("a group's skills name this channel (add a group below, "
                                               "or give a group this skill)", class_="text-muted")))
    elif kind in forms.CHANNEL_MAP_KINDS:
        lowest = 1 if kind == "skills" else 0
        rows = [ui.tags.tr(ui.tags.td(channel, class_="channel"),
                           ui.tags.td(ui.input_numeric(wid(channel), None, parts[channel], min=lowest, step=1,
                                                       width="90px")))
                for channel in f.choices]
        widget = ui.div(ui.tags.label(label, class_="form-label"),
                        ui.tags.table(ui.tags.tbody(*rows), class_="channel-numbers", id=wid("table")))
    elif kind == "callback":
        numbers = [ui.input_numeric(wid(key), text, parts[key], min=0, step="any")
                   for key, text in (("offer_when_wait_above", "offer when the wait exceeds (min)"),
                                     ("accept", "share who accept"), ("within_minutes", "called back within (min)"))]
        widget = ui.div(ui.input_select(wid("mode"), label, forms.CALLBACK_MODES, selected=parts["mode"]),
                        ui.panel_conditional(f"input.{wid('mode')} === 'offer'", ui.div(*numbers, class_="ms-3")))
    elif kind == "factors":
        widget = ui.input_text(wid(), label, parts[""], placeholder="none")
    elif kind in forms.DISTRIBUTION_KINDS:
        choices = {name: name for name in forms.DISTRIBUTION_PARAMS}
        if kind == "optional_distribution":
            choices = {forms.NONE: "none", **choices}
        params = []
        for p in ("mean", "cv", "value", "low", "high"):
            uses = [name for name, ps in forms.DISTRIBUTION_PARAMS.items() if p in ps]
            condition = " || ".join(f"input.{wid('dist')} === '{name}'" for name in uses)
            params.append(ui.panel_conditional(condition, ui.input_numeric(wid(p), p, parts[p], step="any")))
        params.append(ui.panel_conditional(f"input.{wid('dist')} === 'empirical'",
                                           ui.input_text(wid("values"), "values (min, comma-separated)",
                                                         parts["values"])))
        widget = ui.div(ui.input_select(wid("dist"), label, choices, selected=parts["dist"]),
                        ui.div(*params, class_="ms-3"))
    elif kind == "open_hours":
        widget = ui.div(
            ui.input_select(wid("mode"), label, forms.HOUR_MODES, selected=parts["mode"]),
            ui.panel_conditional(f"input.{wid('mode')} === 'hours'",
                                 ui.layout_columns(ui.input_numeric(wid("open"), "opens at", parts["open"],
                                                                    min=0, max=24),
                                                   ui.input_numeric(wid("close"), "closes at", parts["close"],
                                                                    min=0, max=24))))
    elif kind == "hourly":
        widget = ui.input_select(wid("mode"), label, forms.PROFILE_MODES, selected=parts["mode"])
    else:  # rows: edited in the routing table, problems shown there too
        return None
    return ui.div(ui.div(widget, hint), ui.div(id=wid("problem"), class_="field-problem"))


def _wid(gen: int, path: str, part: str = "") -> str:
    """Widget ids carry the load number, so a newly loaded scenario never reads the last one's widgets."""
    return f"g{gen}_{forms.widget_id(path, part)}"


def _section_ui(section: forms.Section, gen: int) -> Any:
    widgets = [w for w in (_field_ui(f, gen) for f in section.fields) if w is not None]
    top = []
    if section.key:  # problems of the section but none of its fields (a group's name, an unknown key)
        top.append(ui.div(id=_wid(gen, section.key, "problem"), class_="field-problem section-problem"))
    if section.key.startswith("groups."):
        top.append(ui.input_action_button(_wid(gen, section.key, "remove"), "Remove this group",
                                          class_="btn-sm btn-outline-danger mb-2"))
    return ui.accordion_panel(section.title, *top, ui.layout_column_wrap(*widgets, width="260px", fill=False,
                                                                         heights_equal="row"),
                              value=section.key or "scenario")


def _cards_ui(cards: list[dict[str, Any]], source: str = "") -> Any:
    """KPI cards; the published figures beside them name their ``source`` when hovered."""
    items = []
    for card in cards:
        published = None
        if card["published"]:
            mark = "" if card["inside"] is None else " ✓ in CI" if card["inside"] else " ✗ outside CI"
            cls = "" if card["inside"] is None else "inside" if card["inside"] else "outside"
            published = ui.div(f"published: {card['published']}{mark}", class_=f"published {cls}",
                               title=source or None)
        items.append(ui.div(ui.div(card["title"], class_="title"), ui.div(card["value"], class_="value"),
                            ui.div(card["interval"], class_="interval") if card["interval"] else None,
                            published, class_="kpi-card", **{"data-figure": card["key"]}))
    return ui.div(*items, class_="kpi-cards")


def _job_ui(job: Job | None) -> Any:
    if job is None:
        return None
    fraction = job.fraction()
    bar = None
    if job.running:
        width = f"{100 * fraction:.0f}%" if fraction is not None else "100%"
        bar = ui.div(ui.div(class_="progress-bar" + ("" if fraction is not None else
                                                     " progress-bar-striped progress-bar-animated"),
                            role="progressbar", style=f"width: {width}"), class_="progress", style="height: 8px")
    cls = "job-status" + (" text-danger" if job.state == "failed" else "")
    return ui.div(bar, ui.div(job.status(), class_=cls))


def _app_ui(start: Scenario) -> Any:
    choices = _scenario_choices()
    return ui.page_sidebar(
        ui.sidebar(
            ui.h5("Scenario"),
            ui.input_select("bundled", "Bundled scenario", choices,
                            selected=start.name if start.name in choices else None),
            ui.input_action_button("load_bundled", "Load", class_="btn-sm btn-outline-primary"),
            ui.input_file("upload", "…or upload a scenario (TOML)", accept=[".toml"], multiple=False),
            ui.output_ui("load_message"),
            ui.hr(),
            ui.output_ui("scenario_state"),
            ui.download_button("download_scenario", "Download the scenario (TOML)", class_="btn-sm"),
            ui.input_action_button("reset_form", "Undo my changes", class_="btn-sm btn-outline-secondary mt-2"),
            width=300,
        ),
        ui.head_content(ui.tags.style(_CSS), ui.tags.script(_JS)),
        _plotly_dependency(),  # not in head_content, which would drop it
        ui.div(ui.output_ui("estimate_strip"), class_="estimate-strip"),
        ui.navset_card_tab(
            ui.nav_panel("Scenario", ui.output_ui("form"),
                         ui.h5("Routing", class_="mt-3"),
                         ui.p("Where customers go: the first channel, and after an unanswered contact. "
                              "Double-click a cell to edit it; a row must sum to 1 (an empty cell is 0).",
                              class_="text-muted small"),
                         ui.output_data_frame("routing"), ui.output_ui("routing_problems"),
                         ui.h5("Agent groups", class_="mt-3"),
                         ui.p("Agents who answer several channels by priority. A new group can take the "
                              "chosen channels' own agents; a channel moves back by giving it agents again "
                              "and taking it off the group's skills.", class_="text-muted small"),
                         ui.output_ui("group_tools"),
                         ui.h5("Hourly plans", class_="mt-3"),
                         ui.output_ui("hourly_intro"), ui.output_ui("hourly_controls"),
                         ui.output_data_frame("hourly"), ui.output_ui("hourly_problems"), value="scenario"),
            ui.nav_panel("Estimate", ui.output_ui("estimate_page"), value="estimate"),
            ui.nav_panel("Simulate", _simulate_ui(), value="simulate"),
            ui.nav_panel("What-if", _whatif_ui(), value="whatif"),
            ui.nav_panel("Sweep", _sweep_ui(), value="sweep"),
            ui.nav_panel("Staffing", _staffing_ui(), value="staffing"),
            id="tabs",
        ),
        title=ui.span("contactflow", ui.tags.small(f" {__version__}: what-if analysis for contact centres",
                                                   class_="text-muted")),
        fillable=False,
    )


def _run_inputs(prefix: str) -> Any:
    return ui.layout_columns(
        ui.input_numeric(f"{prefix}_reps", "Replications", FIRST_REPLICATIONS, min=1, step=1),
        ui.input_numeric(f"{prefix}_days", "Days", None, min=0.01, step="any"),
        ui.input_numeric(f"{prefix}_seed", "Seed", None, min=0, step=1),
        col_widths=(4, 4, 4))


def _simulate_ui() -> Any:
    return ui.div(
        _run_inputs("sim"),
        ui.div(ui.input_action_button("simulate", "Simulate", class_="btn-primary"),
               ui.input_action_button("cancel_sim", "Cancel", class_="btn-outline-danger ms-2")),
        ui.output_ui("sim_status"),
        ui.output_ui("sim_results"),
    )


def _whatif_ui() -> Any:
    return ui.div(
        ui.p("The base is the scenario as loaded (or the form, when you make it the base). Each variant "
             "is the form as it is when you add it. Compare runs them all on common random numbers: "
             "the same customers in every scenario, so the differences are paired.", class_="text-muted"),
        ui.layout_columns(ui.input_text("variant_name", "Variant name", placeholder="e.g. more chat agents"),
                          ui.div(ui.input_action_button("add_variant", "Add the form as a variant",
                                                        class_="btn-outline-primary mt-4")),
                          ui.div(ui.input_action_button("form_as_base", "Make the form the base",
                                                        class_="btn-outline-secondary mt-4")),
                          col_widths=(4, 4, 4)),
        ui.output_ui("variants"),
        _run_inputs("cmp"),
        ui.input_checkbox("cmp_all", "Show every figure in the table", False),
        ui.div(ui.input_action_button("compare", "Compare", class_="btn-primary"),
               ui.input_action_button("cancel_cmp", "Cancel", class_="btn-outline-danger ms-2")),
        ui.output_ui("cmp_status"),
        ui.output_ui("cmp_results"),
    )


def _sweep_ui() -> Any:
    return ui.div(
        ui.p("Vary one field over a range; every point runs on the same seed, so neighbouring points "
             "see the same customers.", class_="text-muted"),
        ui.output_ui("sweep_inputs"),
        _run_inputs("swp"),
        ui.div(ui.input_action_button("run_sweep", "Run the sweep", class_="btn-primary"),
               ui.input_action_button("cancel_swp", "Cancel", class_="btn-outline-danger ms-2")),
        ui.output_ui("swp_status"),
        ui.output_ui("swp_results"),
    )


def _staffing_ui() -> Any:
    return ui.div(
        ui.p("The fewest agents that meet every target: Erlang A/C per channel, then the network "
             "approximation, then simulations on common random numbers to confirm and trim.",
             class_="text-muted"),
        ui.layout_columns(
            ui.input_text_area("targets", "Targets, one per line (FIGURE>=VALUE or <=; % allowed)",
                               "channels.phone.service_level>=0.8\ngive_up_rate<=7%", rows=4),
            ui.div(ui.output_ui("staff_channels"),
                   ui.input_checkbox("staff_hourly", "Staff each hour (a shift plan)", False)),
            col_widths=(7, 5)),
        _run_inputs("stf"),
        ui.div(ui.input_action_button("run_staff", "Find the staffing", class_="btn-primary"),
               ui.input_action_button("cancel_stf", "Cancel", class_="btn-outline-danger ms-2")),
        ui.output_ui("stf_status"),
        ui.output_ui("stf_results"),
    )


# --------------------------------------------------------------------------- the server


def make_app(scenario: Scenario | None = None, workers: int | None = None) -> App:
    """The Shiny app, starting on ``scenario`` (default: the bundled preset).

    ``workers`` processes run each simulation (default: the CPU cores).
    """
    start = scenario or load_scenario("nice_bcg_2016")
    workers = workers or default_workers()

    def server(input, output, session):
        base = reactive.value(start)              # the scenario as loaded
        draft = reactive.value(None)              # its data after groups were added or removed (None: as loaded)
        generation = reactive.value(0)            # one per load or added/removed group: widget ids change with it
        open_sections = reactive.value(None)      # the sections open after the form is built again
        compare_base = reactive.value(start)
        first_sections = forms.scenario_sections(start)
        rows = reactive.value(_initial_rows(first_sections))
        plans = reactive.value(_initial_plans(first_sections))
        plan_shapes = reactive.value(0)           # one per plan made a day or a week long
        load_message = reactive.value(("", ""))  # (kind, text)
        last_valid = reactive.value(start)
        variant_list: reactive.Value[dict[str, Scenario]] = reactive.value({})
        jobs: dict[str, reactive.Value] = {k: reactive.value(None) for k in ("sim", "cmp", "swp", "stf")}
        outputs: dict[str, reactive.Value] = {k: reactive.value(None) for k in ("sim", "cmp", "swp", "stf")}

        @reactive.calc
        def sections() -> list[forms.Section]:
            return forms.scenario_sections(base(), draft())

        def rebuild(scenario: Scenario, data: dict | None, opened: list[str] | None) -> None:
            """Build the form again from ``data`` (None: the scenario as it is), with fresh widgets."""
            fresh = forms.scenario_sections(scenario, data)
            draft.set(data)
            rows.set(_initial_rows(fresh))
            plans.set(_initial_plans(fresh))
            open_sections.set(opened)
            generation.set(generation() + 1)

        def load(scenario: Scenario, message: str) -> None:
            base.set(scenario)
            compare_base.set(scenario)
            last_valid.set(scenario)
            rebuild(scenario, None, None)
            variant_list.set({})
            load_message.set(("ok", message))
            _set_run_inputs(scenario)

        def _set_run_inputs(scenario: Scenario) -> None:
            for prefix in ("sim", "cmp", "swp", "stf"):
                ui.update_numeric(f"{prefix}_days", value=scenario.run.days)
                ui.update_numeric(f"{prefix}_seed", value=scenario.run.seed)

        @reactive.effect
        def _first_run_inputs():
            with reactive.isolate():
                _set_run_inputs(base())

        # ---- loading

        @reactive.effect
        @reactive.event(input.load_bundled)
        def _load_bundled():
            name = input.bundled()
            try:
                load(load_scenario(name), f"loaded {name}")
            except ScenarioError as exc:
                load_message.set(("error", str(exc)))

        @reactive.effect
        @reactive.event(input.upload)
        def _upload():
            files = input.upload()
            if not files:
                return
            name, path = files[0]["name"], files[0]["datapath"]
            try:
                text = Path(path).read_text(encoding="utf-8")
                scenario = Scenario.from_dict(parse_toml(text, name), name)
            except UnicodeDecodeError:
                load_message.set(("error", f"{name}: not a text file; a scenario is a TOML file"))
                return
            except ScenarioError as exc:
                load_message.set(("error", f"{exc}\nThe scenario you had stays."))
                return
            load(scenario, f"loaded {name}")

        @output(id="load_message")
        @render.ui
        def _load_message():
            kind, text = load_message()
            if not text:
                return None
            if kind == "error":
                return ui.div(text, class_="problem-box", id="load-error")
            return ui.div(text, class_="text-success small", id="load-ok")

        @reactive.effect
        @reactive.event(input.reset_form)
        def _reset():
            load(base(), "the form is back to the scenario as loaded")

        # ---- the form

        @render.ui
        def form():
            gen = generation()
            secs = sections()
            keys = {s.key or "scenario" for s in secs}
            opened = [k for k in (open_sections() or [secs[0].key or "scenario"]) if k in keys]
            return ui.accordion(*(_section_ui(s, gen) for s in secs), id=f"g{gen}_sections",
                                open=opened, multiple=True)

        def read(path: str, part: str = "") -> Any:
            field = _fields_by_path().get(path)
            if field is not None and field.kind in forms.ROW_KINDS:
                return rows().get(path)
            if part == "plan":
                plan = plans().get(path)
                return plan if plan is not None or field is None else forms.initial_parts(field)["plan"]
            key = _wid(generation(), path, part)
            if key in input:
                return input[key]()
            return forms.initial_parts(field).get(part) if field is not None else None

        @reactive.calc
        def _fields_by_path() -> dict[str, forms.Field]:
            return {f.path: f for f in forms.all_fields(sections())}

        @reactive.calc
        def form_result() -> forms.FormResult:
            return forms.apply_form(base(), sections(), read, draft())

        # ---- agent groups: added and removed by building the form again from the draft

        def current_data() -> dict:
            """The scenario data the form says now (valid or not), for the next structural change."""
            return forms.form_draft(draft() or base().to_dict(), sections(), read)

        def opened_now() -> list[str]:
            key = f"g{generation()}_sections"
            return list(input[key]() or []) if key in input else []

        @render.ui
        def group_tools():
            gen = generation()
            data = draft() or base().to_dict()
            channels = forms.group_channels(data)
            if not channels:
                return ui.p("Every channel is self-service: there are no agents to group.", class_="text-muted")
            return ui.div(
                ui.layout_columns(
                    ui.input_text(f"g{gen}_new_group", "New group name", placeholder="e.g. service_desk"),
                    ui.input_checkbox_group(f"g{gen}_new_group_channels", "It answers", channels, inline=True),
                    ui.input_checkbox(f"g{gen}_new_group_take", "Move these channels' own agents into it "
                                      "(their agents and cost per agent hour)", True),
                    col_widths=(3, 5, 4)),
                ui.input_action_button("add_group", "Add the group", class_="btn-sm btn-outline-primary"))

        @reactive.effect
        @reactive.event(input.add_group)
        def _add_group():
            gen = generation()
            name = input[f"g{gen}_new_group"]() or ""
            channels = list(input[f"g{gen}_new_group_channels"]() or ())
            take = bool(input[f"g{gen}_new_group_take"]())
            try:
                data = forms.add_group(current_data(), name, channels, take)
            except ValueError as exc:
                ui.notification_show(str(exc), type="error", duration=8)
                return
            rebuild(base(), data, [*opened_now(), f"groups.{name.strip()}"])

        @reactive.effect
        def _remove_group():
            gen = generation()
            for section in sections():
                key = _wid(gen, section.key, "remove")
                if section.key.startswith("groups.") and key in input and input[key]():
                    with reactive.isolate():
                        data = forms.remove_group(current_data(), section.key.split(".", 1)[1])
                        rebuild(base(), data, opened_now())
                    return

        @reactive.effect
        def _keep_valid():
            result = form_result()
            if result.valid:
                last_valid.set(result.scenario)

        @reactive.calc
        def problems() -> tuple[dict[str, list[str]], list[str]]:
            return forms.problems_by_field(form_result().problems, sections())

        @reactive.effect
        async def _send_problems():
            by_field, _ = problems()
            gen = generation()
            message = {_wid(gen, path, "problem"): "; ".join(texts) for path, texts in by_field.items()}
            await session.send_custom_message("field_problems", message)

        @render.ui
        def scenario_state():
            result = form_result()
            by_field, other = problems()
            sc = last_valid()
            changed = len(result.changes)
            if result.valid:
                state = ui.div(f"{sc.name}: valid" + (f", {changed} field(s) changed" if changed else ""),
                               class_="text-success small", id="form-state")
            else:
                lines = [f"{path}: {t}" for path, texts in by_field.items() for t in texts] + other
                state = ui.div(ui.strong(f"{len(lines)} problem(s); the estimate and runs use the last "
                                         "valid scenario"),
                               ui.div("\n".join(lines), class_="problem-box"), id="form-state")
            return state

        @render.download_button(filename=lambda: f"{safe_file_name(last_valid().name)}.toml")
        def download_scenario():
            yield last_valid().to_toml()

        # ---- routing and hourly tables

        @reactive.calc
        def routing_paths() -> list[str]:
            return [f.path for f in forms.routing_fields(sections())]

        @render.data_frame
        def routing():
            generation()
            targets = forms.routing_targets(base())
            with reactive.isolate():
                current = {p: rows().get(p) for p in routing_paths()}
            frame = forms.routing_frame(current, targets)
            return render.DataGrid(frame, editable=True, width="100%", height="auto", selection_mode="none",
                                   styles=_sum_styles)

        @routing.set_patches_fn
        def _routing_patches(*, patches):
            targets = forms.routing_targets(base())
            paths = routing_paths()
            current = dict(rows())
            out = []
            for patch in patches:
                r, c = patch["row_index"], patch["column_index"]
                path = paths[r]
                if 1 <= c <= len(targets):
                    current[path] = forms.edit_row(current.get(path), targets[c - 1], patch["value"])
                    out.append(patch)
                else:  # the row's name and its sum are not typed in
                    frame = forms.routing_frame({path: current.get(path)}, targets)
                    out.append({**patch, "value": frame.iloc[0, c]})
                total = forms.routing_frame({path: current.get(path)}, targets).iloc[0]["sum"]
                out.append({"row_index": r, "column_index": len(targets) + 1, "value": total})
            rows.set(current)
            return out

        @render.ui
        def routing_problems():
            by_field, _ = problems()
            lines = [f"{path}: {t}" for path in routing_paths() for t in by_field.get(path, [])]
            if not lines:
                return None
            return ui.div("\n".join(lines) + "\nThe last valid scenario stays until every row sums to 1.",
                          class_="problem-box", id="routing-problems")

        @reactive.calc
        def hourly_paths() -> list[str]:
            out = []
            for f in forms.all_fields(sections()):
                if f.kind in forms.AGENT_KINDS and read(f.path, "mode") == "hourly":
                    out.append(f.path)
                elif f.kind == "hourly" and read(f.path, "mode") == "profile":
                    out.append(f.path)
            return out

        @reactive.calc
        def hourly_path() -> str | None:
            """The plan the hourly grid shows."""
            paths = hourly_paths()
            chosen = input.hourly_plan() if "hourly_plan" in input else None
            return chosen if chosen in paths else (paths[0] if paths else None)

        @render.ui
        def hourly_intro():
            if hourly_paths():
                return ui.p("Agents scheduled (or arrival weights) for each hour from 0:00; a week starts on "
                            "Monday at 0:00. Double-click a cell to edit it.", class_="text-muted small")
            return ui.p("No hourly plan: choose 'an hourly plan' for the agents of a channel or a group, or "
                        "'an hourly profile' for the arrivals, and it can be edited here.", class_="text-muted small")

        @render.ui
        def hourly_controls():
            paths = hourly_paths()
            if not paths:
                return None
            fields = _fields_by_path()
            with reactive.isolate():
                path = hourly_path()
                length = len(plans().get(path) or ())
            return ui.layout_columns(
                ui.input_select("hourly_plan", "Plan", {p: forms.hourly_label(fields[p]) for p in paths},
                                selected=path),
                ui.input_select("hourly_length", "Length", _PLAN_LENGTHS, selected=str(length)),
                col_widths=(4, 4))

        @reactive.effect
        @reactive.event(input.hourly_plan)
        def _show_plan_length():
            path = hourly_path()
            if path is not None:
                ui.update_select("hourly_length", selected=str(len(plans().get(path) or ())))

        @reactive.effect
        @reactive.event(input.hourly_length)
        def _plan_length():
            path = hourly_path()
            hours = int(input.hourly_length())
            current = dict(plans())
            if path is None or current.get(path) is None or len(current[path]) == hours:
                return
            current[path] = forms.resize_plan(current[path], hours)
            plans.set(current)
            plan_shapes.set(plan_shapes() + 1)

        @render.data_frame
        def hourly():
            path = hourly_path()
            plan_shapes()
            if path is None:
                return None
            with reactive.isolate():
                plan = plans().get(path)
            return render.DataGrid(forms.hourly_frame(plan), editable=True, height="auto", width="100%",
                                   selection_mode="none")

        @hourly.set_patches_fn
        def _hourly_patches(*, patches):
            path = hourly_path()
            current = dict(plans())
            out = []
            for patch in patches:
                r, c = patch["row_index"], patch["column_index"]
                if c == 0:  # the day is not typed in
                    out.append({**patch, "value": forms.hourly_frame(current[path]).iloc[r, 0]})
                    continue
                current[path] = forms.edit_hour(current[path], r * forms.HOURS + c - 1, patch["value"])
                out.append(patch)
            plans.set(current)
            return out

        @render.ui
        def hourly_problems():
            by_field, _ = problems()
            lines = [f"{path}: {t}" for path in hourly_paths() for t in by_field.get(path, [])]
            return ui.div("\n".join(lines), class_="problem-box") if lines else None

        # ---- the instant estimate

        estimates = LatestJob("estimating")
        estimates_ended = reactive.value(0)  # one more each time an estimate ends
        loop = asyncio.get_event_loop()

        def estimate_ended() -> None:
            """Told by the estimate's thread when it ends: the page is updated then, without polling (a
            poll cancelled while it waited for the session, as when the app stops, printed a traceback)."""
            async def wake():
                async with reactive.lock():
                    with reactive.isolate():
                        estimates_ended.set(estimates_ended() + 1)
                    await reactive.flush()

            asyncio.run_coroutine_threadsafe(wake(), loop)

        @reactive.calc
        def estimate():
            """(approximation, problem, busy): the estimate of the last valid scenario, computed in the
            background so a slow approximation never freezes the page (a quick one is waited for)."""
            estimates_ended()
            sc = last_valid()
            job = estimates.job_for(sc, lambda progress: approximate(sc), wait=ESTIMATE_WAIT_SECONDS,
                                    on_end=estimate_ended)
            if job is None or job.running:
                return None, (f"Estimating {sc.name}: the network approximation is taking a while for this "
                              "scenario; the rest of the page stays usable."), True
            if job.state == "failed":  # any failure of the estimate is a message, never a traceback
                return None, views.estimate_problem(sc, job.error), False
            return job.result, None, False

        @render.ui
        def estimate_strip():
            approx, problem, busy = estimate()
            title = ui.h6("Instant estimate (network approximation) of ", ui.code(last_valid().name),
                          ui.tags.small(" — refreshes on every change; simulate for confidence intervals",
                                        class_="text-muted"))
            if approx is None:
                return ui.div(title, ui.div(problem, class_="text-muted small" if busy else "problem-box",
                                            id="estimate-busy" if busy else "estimate-problem"))
            cards = views.estimate_cards(approx, views.card_figures(approx.scenario))
            weak = len(approx.weaknesses)
            note = ui.div(f"{weak} weak spot(s) of the approximation for this scenario: see Estimate",
                          class_="weak") if weak else None
            return ui.div(title, _cards_ui(cards), note, id="estimate")

        @render.ui
        def estimate_page():
            approx, problem, busy = estimate()
            if approx is None:
                return ui.div(problem, class_="text-muted" if busy else "problem-box")
            state = "converged" if approx.converged else "NOT converged"
            parts = [ui.p(f"{approx.scenario.name}: network approximation ({approx.iterations} iterations, "
                          f"{state}) over {approx.scenario.run.days:g} day(s) after a "
                          f"{approx.scenario.run.warmup_hours:g} h warm-up.")]
            if approx.weaknesses:
                parts.append(ui.h6("Where the approximation is weak for this scenario"))
                parts.append(ui.tags.ul(*(ui.tags.li(w) for w in approx.weaknesses), class_="weak",
                                        id="weaknesses"))
            parts.append(_table_html(views.estimate_table(approx), "estimate-table"))
            return ui.div(*parts)

        # ---- jobs

        def start_job(key: str, what: str, work, planned: int | None = None) -> None:
            job = jobs[key]()
            if job is not None and job.running:
                ui.notification_show(f"{job.what} is still running; cancel it first", type="warning")
                return
            jobs[key].set(Job(what, work, planned))

        tick = reactive.value(0)

        @reactive.effect
        def _poll():
            running = False
            for key in jobs:
                job = jobs[key]()
                if job is None:
                    continue
                running = running or job.running
                with reactive.isolate():
                    if job.state == "done" and outputs[key]() is not job:
                        outputs[key].set(job)  # a cancelled or failed job leaves the last results
            with reactive.isolate():
                tick.set(tick() + 1)
            if running:
                reactive.invalidate_later(POLL_SECONDS)

        def status_ui(key: str):
            tick()
            return _job_ui(jobs[key]())

        def cancel(key: str) -> None:
            job = jobs[key]()
            if job is not None and job.running:
                job.cancel()

        def run_settings(prefix: str, sc: Scenario) -> tuple[int, float, int]:
            reps = input[f"{prefix}_reps"]()
            days = input[f"{prefix}_days"]()
            seed = input[f"{prefix}_seed"]()
            problems = []
            if not isinstance(reps, (int, float)) or reps < 1 or int(reps) != reps:
                problems.append(f"replications must be a whole number >= 1; got {reps!r}")
            if days is not None and (not isinstance(days, (int, float)) or days <= 0):
                problems.append(f"days must be a number > 0; got {days!r}")
            if seed is not None and (not isinstance(seed, (int, float)) or seed < 0 or int(seed) != seed):
                problems.append(f"seed must be a whole number >= 0; got {seed!r}")
            if problems:
                raise ValueError("; ".join(problems))
            return int(reps), float(days if days is not None else sc.run.days), \
                int(seed if seed is not None else sc.run.seed)

        # ---- simulate

        @reactive.effect
        @reactive.event(input.simulate)
        def _simulate():
            sc = last_valid()
            try:
                reps, days, seed = run_settings("sim", sc)
            except ValueError as exc:
                ui.notification_show(str(exc), type="error")
                return
            sc_days = sc.with_changes({"run.days": days}) if days != sc.run.days else sc
            start_job("sim", f"simulating {sc.name}",
                      lambda progress: run_scenario(sc_days, replications=reps, seed=seed,
                                                    workers=workers, progress=progress), reps)

        @reactive.effect
        @reactive.event(input.cancel_sim)
        def _cancel_sim():
            cancel("sim")

        @render.ui
        def sim_status():
            return status_ui("sim")

        @reactive.calc
        def sim_result():
            job = outputs["sim"]()
            return job.result if job is not None and job.state == "done" else None

        @reactive.calc
        def sim_charts():
            result = sim_result()
            return result_charts(result) if result is not None else {}

        @render.ui
        def sim_results():
            result = sim_result()
            if result is None:
                return ui.p("Simulate to see the KPIs with their 95 % confidence intervals.", class_="text-muted")
            sc = result.scenario
            tables = views.before_after_tables(result)
            shown = [n for n in _CHART_TITLES if n != "hourly" and (n != "reference" or sc.reference)]
            chart_tabs = [ui.nav_panel(_CHART_TITLES[n], ui.output_plot(f"chart_{n}", height="560px")) for n in shown]
            span = "day" if sc.period_hours == 24 else "week"
            chart_tabs.insert(2, ui.nav_panel(f"Over the {span} (interactive)", ui.output_ui("hourly_interactive")))
            return ui.div(
                ui.h5(f"{sc.name}: {result.replications} replication(s) of {sc.run.days:g} day(s), "
                      f"seed {result.seed}; mean and 95 % CI"),
                _cards_ui(views.kpi_cards(result, views.card_figures(sc)), sc.reference_source),
                ui.p(f"published: {sc.reference_source}", class_="text-muted small")
                if sc.reference and sc.reference_source else None,
                ui.layout_columns(
                    ui.div(ui.h6("Before the call"), _table_html(tables["before_call"], "before-call")),
                    ui.div(ui.h6("After the call"), _table_html(tables["after_call"], "after-call"))),
                ui.h6("Per channel"), _table_html(views.channel_table(result), "channel-table"),
                *_group_tables_ui(result),
                ui.navset_tab(*chart_tabs, id="chart_tabs"),
                ui.h6("Downloads", class_="mt-3"),
                ui.div(ui.download_button("dl_result_csv", "Results (CSV)", class_="btn-sm me-1"),
                       ui.download_button("dl_result_json", "Results (JSON)", class_="btn-sm me-1"),
                       ui.download_button("dl_charts", "Charts (PNG + SVG, zip)", class_="btn-sm me-1"),
                       ui.download_button("dl_report", "HTML report", class_="btn-sm me-1")),
                ui.tags.details(ui.tags.summary("Every KPI"), _table_html(views.kpi_table(result), "kpi-table")),
            )

        for chart_name in _CHART_TITLES:
            _chart_output(output, chart_name, sim_charts)

        @render.ui
        def hourly_interactive():
            result = sim_result()
            if result is None or not any(not c.unlimited for c in result.scenario.channels):
                return ui.p("No staffed channel to show hour by hour.")
            parts = [ui.HTML(figure_html(hourly_figure(result), "hourly-plot"))]
            if shows_groups(result.scenario):
                parts.append(ui.HTML(figure_html(hourly_groups_figure(result), "hourly-groups-plot")))
            return ui.div(*parts)

        @render.download_button(filename=lambda: f"{safe_file_name(sim_result().scenario.name)}_result.csv")
        def dl_result_csv():
            yield views.figures_frame(sim_result()).to_csv(index=False)

        @render.download_button(filename=lambda: f"{safe_file_name(sim_result().scenario.name)}_result.json")
        def dl_result_json():
            yield sim_result().to_json()

        @render.download_button(filename=lambda: f"{safe_file_name(sim_result().scenario.name)}_charts.zip")
        def dl_charts():
            yield _charts_zip(sim_charts())

        @render.download_button(filename=lambda: f"{safe_file_name(sim_result().scenario.name)}_report.html")
        def dl_report():
            yield report_html(sim_result(), command="contactflow app")

        # ---- what-if

        @reactive.effect
        @reactive.event(input.add_variant)
        def _add_variant():
            result = form_result()
            current = dict(variant_list())
            if not result.valid:
                ui.notification_show("The form has problems; fix them before adding it as a variant",
                                     type="error")
                return
            if len(current) >= MAX_VARIANTS:
                ui.notification_show(f"At most {MAX_VARIANTS} variants; remove one first", type="warning")
                return
            name = (input.variant_name() or "").strip() or f"variant {len(current) + 1}"
            if name in current or name == compare_base().name:
                ui.notification_show(f"The name {name!r} is taken; choose another", type="error")
                return
            current[name] = result.scenario
            variant_list.set(current)
            ui.update_text("variant_name", value="")

        @reactive.effect
        @reactive.event(input.form_as_base)
        def _form_as_base():
            result = form_result()
            if not result.valid:
                ui.notification_show("The form has problems; fix them first", type="error")
                return
            compare_base.set(result.scenario)

        @reactive.effect
        @reactive.event(input.remove_variant)
        def _remove_variant():
            current = dict(variant_list())
            current.pop(input.variant_to_remove(), None)
            variant_list.set(current)

        @output(id="variants")
        @render.ui
        def _variants_ui():
            current = variant_list()
            rows_ = [[compare_base().name + " (base)", views.variant_changes(base(), compare_base())
                      if compare_base() is not base() else "the scenario as loaded"]]
            rows_ += [[name, views.variant_changes(compare_base(), sc)] for name, sc in current.items()]
            import pandas as pd

            table = _table_html(pd.DataFrame(rows_, columns=["scenario", "changes"]), "variants-table")
            remove = ui.layout_columns(
                ui.input_select("variant_to_remove", None, list(current)),
                ui.input_action_button("remove_variant", "Remove", class_="btn-sm btn-outline-secondary"),
                col_widths=(4, 2)) if current else None
            return ui.div(table, remove)

        @reactive.effect
        @reactive.event(input.compare)
        def _compare():
            named = dict(variant_list())
            base_sc = compare_base()
            if not named:
                ui.notification_show("Add a variant first (change the form, then 'Add the form as a variant')",
                                     type="warning")
                return
            try:
                reps, days, seed = run_settings("cmp", base_sc)
            except ValueError as exc:
                ui.notification_show(str(exc), type="error")
                return
            planned = reps * (1 + len(named))

            def work(progress):
                table = compare(base_sc, named, replications=reps, seed=seed, days=days, workers=workers,
                                progress=progress)
                table.attrs["days"] = days
                return table

            start_job("cmp", "comparing", work, planned)

        @reactive.effect
        @reactive.event(input.cancel_cmp)
        def _cancel_cmp():
            cancel("cmp")

        @render.ui
        def cmp_status():
            return status_ui("cmp")

        @reactive.calc
        def cmp_table():
            job = outputs["cmp"]()
            return job.result if job is not None and job.state == "done" else None

        @render.ui
        def cmp_results():
            table = cmp_table()
            if table is None:
                return None
            days = _table_days(table, compare_base())
            frame = views.comparison_frame(table, days, show_all=input.cmp_all())
            return ui.div(
                ui.h5(f"{table.attrs['base']} vs {', '.join(v for v in dict.fromkeys(table['scenario']) if v != table.attrs['base'])}: "
                      f"{table.attrs['replications']} paired replication(s), seed {table.attrs['seed']}"),
                _table_html(frame, "comparison-table"),
                ui.p(SIGNIFICANT_NOTE + ". Totals are per day (the run's totals divided by its "
                     f"{days:g} day(s)).", class_="text-muted small"),
                ui.output_plot("cmp_chart", height="620px"),
                ui.div(ui.download_button("dl_cmp_csv", "Comparison (CSV)", class_="btn-sm me-1"),
                       ui.download_button("dl_cmp_json", "Comparison (JSON)", class_="btn-sm me-1"),
                       ui.download_button("dl_cmp_png", "Chart (PNG)", class_="btn-sm me-1"),
                       ui.download_button("dl_cmp_svg", "Chart (SVG)", class_="btn-sm me-1")),
            )

        @reactive.calc
        def cmp_figure():
            return comparison_chart(cmp_table(), compare_base())

        @render.plot(alt="The headline figures of every scenario and their paired differences")
        def cmp_chart():
            return cmp_figure()

        @render.download_button(filename="comparison.csv")
        def dl_cmp_csv():
            yield cmp_table().to_csv(index=False)

        @render.download_button(filename="comparison.json")
        def dl_cmp_json():
            table = cmp_table()
            doc = {k: table.attrs[k] for k in ("base", "seed", "replications", "aligned")}
            doc["rows"] = json.loads(table.to_json(orient="records"))
            yield json.dumps(doc, indent=2)

        @render.download_button(filename="comparison.png")
        def dl_cmp_png():
            yield _figure_bytes(cmp_figure(), "png")

        @render.download_button(filename="comparison.svg")
        def dl_cmp_svg():
            yield _figure_bytes(cmp_figure(), "svg")

        # ---- sweep

        @render.ui
        def sweep_inputs():
            fields = forms.numeric_fields(sections())
            sc = last_valid()
            figures = _figure_choices(sc)
            focal = f"channels.{sc.focal_channel}.agents"
            first = focal if focal in fields else next((p for p in fields if p.endswith(".agents")), next(iter(fields)))
            return ui.div(
                ui.layout_columns(
                    ui.input_select("sweep_field", "Field", fields, selected=first),
                    ui.input_select("sweep_figure", "Figure", figures,
                                    selected=f"channels.{sc.focal_channel}.service_level"),
                    col_widths=(6, 6)),
                ui.layout_columns(ui.input_numeric("sweep_start", "from", None, step="any"),
                                  ui.input_numeric("sweep_stop", "to (included)", None, step="any"),
                                  ui.input_numeric("sweep_step", "step", None, step="any"),
                                  col_widths=(4, 4, 4)))

        @reactive.effect
        @reactive.event(input.sweep_field)
        def _sweep_range():
            field = _fields_by_path().get(input.sweep_field())
            if field is None:
                return
            value = field_number(field)
            start_, stop, step = forms.sweep_range(value, field.kind)
            ui.update_numeric("sweep_start", value=start_)
            ui.update_numeric("sweep_stop", value=stop)
            ui.update_numeric("sweep_step", value=step)

        def field_number(field: forms.Field) -> float:
            sc = last_valid()
            data: Any = sc.to_dict()
            for key in field.path.split("."):
                data = data.get(key) if isinstance(data, dict) else None
            if isinstance(data, (int, float)) and not isinstance(data, bool):
                return data
            value = field.value
            return value if isinstance(value, (int, float)) and not isinstance(value, bool) else 1

        @reactive.effect
        @reactive.event(input.run_sweep)
        def _run_sweep():
            sc = last_valid()
            field, figure = input.sweep_field(), input.sweep_figure()
            start_, stop, step = input.sweep_start(), input.sweep_stop(), input.sweep_step()
            try:
                if None in (start_, stop, step):
                    raise ValueError("give the range: from, to and step")
                _, values = parse_vary(f"{field}={start_:g}:{stop:g}:{step:g}")
                reps, days, seed = run_settings("swp", sc)
                check_figure(figure, sc)
                vary = {field: values}
                changed = sc.with_changes({"run.days": days})
                for v in values:  # every point is checked before anything runs, like the CLI's sweep
                    changed.with_changes({field: v})
            except (ValueError, KeyError, ScenarioError) as exc:
                ui.notification_show(error_message(exc), type="error", duration=10)
                return
            start_job("swp", f"sweeping {field}",
                      lambda progress: (sweep(changed, vary, replications=reps, seed=seed, workers=workers,
                                              progress=progress), vary, figure, changed, seed),
                      reps * len(values))

        @reactive.effect
        @reactive.event(input.cancel_swp)
        def _cancel_swp():
            cancel("swp")

        @render.ui
        def swp_status():
            return status_ui("swp")

        @reactive.calc
        def swp_output():
            job = outputs["swp"]()
            return job.result if job is not None and job.state == "done" else None

        @reactive.calc
        def swp_figure():
            table, vary, figure, sc, seed = swp_output()
            return sweep_charts(table, vary, [figure], sc, seed)["sweep"]

        @render.ui
        def swp_results():
            out = swp_output()
            if out is None:
                return None
            table, vary, figure, sc, seed = out
            field = next(iter(vary))
            rows_ = table[table["kpi"] == figure][[field, "mean", "ci_low", "ci_high", "replications"]]
            metric = table[table["kpi"] == figure]["metric"].iloc[0]
            from ..report import format_stat

            shown = rows_.assign(**{f"{figure} [95 % CI]": [format_stat(m, lo, hi, metric) for m, lo, hi in
                                                         zip(rows_["mean"], rows_["ci_low"], rows_["ci_high"])]})
            return ui.div(ui.output_plot("swp_chart", height="480px"),
                          _table_html(shown[[field, f"{figure} [95 % CI]", "replications"]], "sweep-table"),
                          ui.download_button("dl_swp_csv", "Sweep (CSV)", class_="btn-sm me-1"),
                          ui.download_button("dl_swp_png", "Chart (PNG)", class_="btn-sm me-1"),
                          ui.download_button("dl_swp_svg", "Chart (SVG)", class_="btn-sm"))

        @render.plot(alt="The figure against the varied field, with its 95 % confidence band")
        def swp_chart():
            return swp_figure()

        @render.download_button(filename="sweep.csv")
        def dl_swp_csv():
            yield swp_output()[0].to_csv(index=False)

        @render.download_button(filename="sweep.png")
        def dl_swp_png():
            yield _figure_bytes(swp_figure(), "png")

        @render.download_button(filename="sweep.svg")
        def dl_swp_svg():
            yield _figure_bytes(swp_figure(), "svg")

        # ---- staffing

        @render.ui
        def staff_channels():
            sc = last_valid()
            staffed = [c.name for c in sc.channels if c.agents is not None]  # a group's channels have no agents
            return ui.input_checkbox_group("staff_channel_list", "Channels to staff (none ticked: "
                                           "those the targets name)", staffed)

        @reactive.effect
        @reactive.event(input.run_staff)
        def _run_staff():
            sc = last_valid()
            lines = [line.strip() for line in (input.targets() or "").splitlines() if line.strip()]
            try:
                if not lines:
                    raise ValueError("give at least one target, e.g. channels.phone.service_level>=0.8")
                targets = [Target.parse(line) for line in lines]
                for target in targets:
                    check_figure(target.key, sc)
                reps, days, seed = run_settings("stf", sc)
                hourly = bool(input.staff_hourly())
                if hourly and days < 1:
                    raise ValueError(f"staffing each hour needs at least one whole day simulated (days is "
                                     f"{days:g})")
            except (ValueError, KeyError) as exc:
                ui.notification_show(error_message(exc), type="error", duration=10)
                return
            channels = list(input.staff_channel_list() or ()) or None
            changed = sc.with_changes({"run.days": days})
            start_job("stf", "staffing",
                      lambda progress: staff(changed, targets, channels, hourly=hourly, replications=reps,
                                             seed=seed, workers=workers, progress=progress))

        @reactive.effect
        @reactive.event(input.cancel_stf)
        def _cancel_stf():
            cancel("stf")

        @render.ui
        def stf_status():
            return status_ui("stf")

        @reactive.calc
        def stf_plan():
            job = outputs["stf"]()
            return job.result if job is not None and job.state == "done" else None

        @render.ui
        def stf_results():
            plan = stf_plan()
            if plan is None:
                return None
            return ui.div(ui.tags.pre(staffing_text(plan), class_="plan", id="staffing-plan"),
                          ui.download_button("dl_staffed", "The staffed scenario (TOML)", class_="btn-sm"))

        @render.download_button(filename=lambda: f"{stf_plan().scenario.name}_staffed.toml")
        def dl_staffed():
            yield stf_plan().scenario.to_toml()

    return App(_app_ui(start), server)


def _chart_output(output, name: str, charts) -> None:
    """The still chart ``name`` of the last simulation (from :func:`simulator.plots.result_charts`)."""
    @output(id=f"chart_{name}")
    @render.plot(alt=_CHART_TITLES[name])
    def _chart():
        figures = charts()
        if name not in figures:
            return None
        return figures[name]


def _table_days(table, base: Scenario) -> float:
    """The days each scenario of a comparison ran: the base's, unless the run overrode them."""
    days = table.attrs.get("days")
    return float(days) if days else base.run.days


def _initial_rows(sections: list[forms.Section]) -> dict[str, Any]:
    return {f.path: f.value for f in forms.all_fields(sections) if f.kind in forms.ROW_KINDS}


def _initial_plans(sections: list[forms.Section]) -> dict[str, list]:
    return {f.path: forms.initial_parts(f)["plan"] for f in forms.all_fields(sections)
            if f.kind in (*forms.AGENT_KINDS, "hourly")}


def _group_tables_ui(result) -> list[Any]:
    """The agent-group table (when agents are shared or hold several contacts) and the call-back table."""
    parts = []
    groups = views.group_table(result)
    if groups is not None:
        parts += [ui.h6("Agent groups"), _table_html(groups, "group-table"),
                  ui.p("Slot occupancy: the share of the contacts agents could hold at once that they held.",
                       class_="text-muted small")]
    callbacks = views.callback_table(result)
    if callbacks is not None:
        parts += [ui.h6("Call backs"), _table_html(callbacks, "callback-table")]
    return parts


def _sum_styles(frame) -> list[dict[str, Any]]:
    """The routing table's sum column: red where a row does not sum to 1."""
    bad = []
    for i, total in enumerate(frame["sum"]):
        try:
            ok = abs(float(total) - 1.0) <= 1e-9
        except (TypeError, ValueError):
            ok = False
        if not ok:
            bad.append(i)
    last = len(frame.columns) - 1
    styles: list[dict[str, Any]] = [{"location": "body", "cols": [last], "class": "sum-ok"}]
    if bad:
        styles.append({"location": "body", "rows": bad, "cols": [last], "class": "sum-bad"})
    return styles


def _figure_choices(scenario: Scenario) -> dict[str, str]:
    """Figures a sweep can show: every KPI, every channel metric, and the figures of agent groups that
    answer several channels, by name."""
    from ..figures import CHANNEL_METRICS, GROUP_METRICS, KPI_NAMES

    keys = list(KPI_NAMES)
    keys += [f"channels.{c.name}.{m}" for c in scenario.channels for m in CHANNEL_METRICS]
    keys += [f"groups.{g.name}.{m}" for g in scenario.groups if not g.own for m in GROUP_METRICS]
    return {k: k for k in keys}


def _table_html(frame, element_id: str) -> Any:
    return ui.HTML(frame.to_html(index=False, classes="table table-sm table-striped", border=0,
                                 table_id=element_id, na_rep="–", justify="left"))


def _figure_bytes(fig, fmt: str) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=150)
    return buffer.getvalue()


def _charts_zip(figures) -> bytes:
    """Every chart as PNG and SVG (:func:`simulator.plots.save_charts`), in one zip."""
    with tempfile.TemporaryDirectory() as folder:
        paths = save_charts(figures, folder)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in paths:
                archive.write(path, path.name)
    return buffer.getvalue()


def serve(scenario: Scenario | None = None, host: str = "127.0.0.1", port: int = 8050,
          open_browser: bool = True, workers: int | None = None, announce=print) -> None:
    """Run the app until interrupted, after announcing its address."""
    import uvicorn

    app = make_app(scenario, workers)
    address = f"http://{host if host not in ('0.0.0.0', '::') else '127.0.0.1'}:{port}"
    announce(f"contactflow app: {address} (Ctrl-C to stop)")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, lambda: webbrowser.open(address)).start()
    uvicorn.run(app, host=host, port=port, log_level="warning")

