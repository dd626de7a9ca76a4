"""The web app's logic without a browser: forms, views and background jobs (simulator.app)."""

from __future__ import annotations

import pytest

import simulator as sim
from simulator.app import forms, views
from simulator.app.jobs import Job
from simulator.cli import main
from simulator.scenario import Problem, load_scenario


@pytest.fixture(scope="module")
def preset():
    return load_scenario("nice_bcg_2016")


def _apply(scenario, values):
    sections = forms.scenario_sections(scenario)
    return forms.apply_form(scenario, sections, forms.form_reader(sections, values)), sections


@pytest.mark.parametrize("name", sorted(sim.bundled_scenarios()))
def test_an_untouched_form_changes_nothing(name):
    scenario = load_scenario(name)
    result, sections = _apply(scenario, {})
    assert result.valid and result.changes == {} and result.scenario is scenario
    paths = [f.path for f in forms.all_fields(sections)]
    assert len(paths) == len(set(paths))
    for c in scenario.channels:  # every channel field has a place in the form
        assert f"channels.{c.name}.agents" in paths and f"channels.{c.name}.next" in paths


def test_every_field_kind_reads_back_what_the_scenario_says(preset):
    """Each field's widgets, read untouched, give the file's value (so only real edits are changes)."""
    sections = forms.scenario_sections(preset)
    read = forms.form_reader(sections, {})
    for f in forms.all_fields(sections):
        assert forms.field_value(f, read) == f.value, f.path
    assert {f.kind for f in forms.all_fields(sections)} == set(forms.KINDS)  # every kind is exercised


def test_edits_become_library_changes(preset):
    values = {("channels.chat.agents", "count"): 12, ("channels.web.resolve", ""): 0.5,
              ("channels.phone.agents", "mode"): "hourly",
              ("channels.phone.agents", "plan"): [0] * 8 + [40] * 12 + [0] * 4,
              ("channels.phone.open_hours", "mode"): "hours", ("channels.phone.open_hours", "open"): 8,
              ("channels.phone.open_hours", "close"): 20,
              ("channels.chat.patience", "dist"): "gamma", ("channels.chat.patience", "cv"): 0.5,
              ("channels.email.async", ""): True, ("run.days", ""): 1.0}
    result, _ = _apply(preset, values)
    assert result.valid, result.problems
    sc = result.scenario
    assert sc.channel("chat").agents == 12 and sc.channel("web").resolve == 0.5
    assert sc.channel("phone").agents[9] == 40 and sc.channel("phone").open_hours == (8.0, 20.0)
    assert sc.channel("chat").patience.to_spec() == {"dist": "gamma", "mean": 4.0, "cv": 0.5}
    assert sc.run.days == 1.0
    assert set(result.changes) == {"channels.chat.agents", "channels.web.resolve", "channels.phone.agents",
                                   "channels.phone.open_hours", "channels.chat.patience", "run.days"}


def test_optional_fields_are_removed_and_self_service_has_no_agents(preset):
    values = {("channels.chat.agents", "mode"): "unlimited", ("channels.chat.patience", "dist"): forms.NONE,
              ("channels.chat.cost_per_agent_hour", ""): 0.0}
    result, _ = _apply(preset, values)
    assert result.valid, result.problems
    assert result.scenario.channel("chat").unlimited and result.scenario.channel("chat").patience is None


@pytest.mark.parametrize("values, path, message", [
    ({("channels.web.resolve", ""): 1.5}, "channels.web.resolve", "must be a probability in [0, 1]; got 1.5"),
    ({("channels.chat.agents", "count"): 0}, "channels.chat.agents", "got 0"),
    ({("run.days", ""): None}, "run.days", "got ''"),
    ({("channels.chat.handle_time", "mean"): -2}, "channels.chat.handle_time", "mean must be > 0; got -2"),
    ({("channels.chat.next", ""): {"phone": 0.7, "give_up": 0.4}}, "channels.chat.next",
     "probabilities must sum to 1; they sum to 1.1"),
    ({("channels.chat.next", ""): {"phone": "lots", "give_up": 0.4}}, "channels.chat.next",
     "phone: must be a probability in [0, 1]; got 'lots'"),
    ({("channels.phone.open_hours", "mode"): "hours", ("channels.phone.open_hours", "open"): 8,
      ("channels.phone.open_hours", "close"): 8}, "channels.phone.open_hours", "must be [open, close]"),
])
def test_bad_values_get_the_cli_message_next_to_their_field(preset, values, path, message):
    result, sections = _apply(preset, values)
    assert not result.valid
    by_field, other = forms.problems_by_field(result.problems, sections)
    assert other == []
    assert any(message in text for text in by_field[path]), by_field


def test_form_messages_are_the_command_line_messages(preset, tmp_path):
    """The same bad value typed in the form and given to --set is refused in the same words."""
    from click.testing import CliRunner

    cli = CliRunner().invoke(main, ["validate", "nice_bcg_2016", "--set", "channels.web.resolve=1.5"])
    assert cli.exit_code == 2
    result, sections = _apply(preset, {("channels.web.resolve", ""): 1.5})
    (message,) = forms.problems_by_field(result.problems, sections)[0]["channels.web.resolve"]
    assert f"channels.web.resolve: {message}" in cli.output


def test_problems_of_no_field_are_listed_apart(preset):
    sections = forms.scenario_sections(preset)
    by_field, other = forms.problems_by_field([Problem("reference.figures.x", "not a figure name")], sections)
    assert by_field == {} and other == ["reference.figures.x: not a figure name"]


def test_the_routing_table_shows_sums_and_edits_rows(preset):
    sections = forms.scenario_sections(preset)
    rows = {f.path: f.value for f in forms.routing_fields(sections)}
    assert list(rows)[:2] == ["arrivals.first_channel", "channels.web.next"]
    assert "channels.web.next_after_abandon" not in rows  # self-service: nothing to abandon
    frame = forms.routing_frame(rows, forms.routing_targets(preset))
    assert list(frame.columns) == ["row", "web", "email", "chat", "phone", "give_up", "sum"]
    assert set(frame["sum"]) == {"1"}
    edited = forms.edit_row(rows["channels.chat.next"], "phone", "0.9")
    assert forms.row_sum(edited) == pytest.approx(1.2004)
    assert forms.routing_frame({"channels.chat.next": edited}, forms.routing_targets(preset))["sum"][0] == "1.2004"
    assert "phone" not in forms.edit_row(edited, "phone", " ")


def test_hourly_plans_edit_by_hour(preset):
    field = next(f for f in forms.all_fields(forms.scenario_sections(preset)) if f.path == "channels.chat.agents")
    plan = forms.initial_parts(field)["plan"]
    assert plan == [20] * 24
    plan = forms.edit_hour(plan, 3, "0")
    frame = forms.hourly_frame({field.path: plan}, {field.path: forms.hourly_label(field)})
    assert list(frame.columns) == ["hour", "chat agents"] and frame.iloc[3, 1] == "0"


def test_a_new_section_is_one_table_entry(monkeypatch, preset):
    """The forms come from SECTIONS: a named table (e.g. groups) is one more entry, no new code."""
    extra = forms.FieldSpec("resolve", "Resolves", "probability")
    monkeypatch.setattr(forms, "SECTIONS", forms.SECTIONS + (("channels.*", "Again", (extra,)),))
    sections = forms.scenario_sections(preset)
    assert [s.title for s in sections][-1] == "Again: Call centre (phone)"


def test_widget_ids_are_unique_and_safe():
    ids = {forms.widget_id(p, part) for p in ("channels.a_b.c", "channels.a.b_c", "channels.a-b.c")
           for part in ("", "mode")}
    assert len(ids) == 6 and all(i.replace("_", "").isalnum() for i in ids)


def test_sweep_fields_and_ranges(preset):
    fields = forms.numeric_fields(forms.scenario_sections(preset))
    assert "channels.phone.agents" in fields and "channels.web.agents" not in fields
    assert "run.seed" not in fields
    start, stop, step = forms.sweep_range(31, "agents")
    assert start < 31 < stop and (stop - start) / step == 4


def test_views_show_library_figures(preset):
    sc = preset.with_changes({"run.days": 0.1})
    result = sim.run(sc, replications=3, seed=4)
    cards = views.kpi_cards(result, views.card_figures(sc))
    by_key = {c["key"]: c for c in cards}
    stat = result.stat("avoidable_call_share")
    assert by_key["avoidable_call_share"]["published"] == "70.0 %"
    assert by_key["avoidable_call_share"]["inside"] == (stat["ci_low"] <= 0.70 <= stat["ci_high"])
    assert by_key["give_up_rate"]["value"] == f"{100 * result.stat('give_up_rate')['mean']:.1f} %"
    assert list(views.channel_table(result)["channel"]) == [c.display_name for c in sc.channels]
    frame = views.figures_frame(result)
    assert frame.set_index("figure").loc["give_up_rate", "mean"] == result.stat("give_up_rate")["mean"]


def test_comparison_in_per_day_units(preset):
    base = preset.with_changes({"run.days": 0.5})
    variant = base.with_changes({"channels.chat.resolve": 0.85})
    table = sim.compare(base, {"better chat": variant}, replications=3, seed=2)
    frame = views.comparison_frame(table, days=0.5).set_index("name")
    row = table.set_index(["scenario", "kpi"]).loc[("better chat", "focal_contacts")]
    text = frame.loc["focal_contacts", "Δ better chat a day [95 % CI]"]
    assert text.startswith(f"{row['diff'] / 0.5:+,.0f}".replace("-", "−") + " calls a day [")
    assert frame.loc["give_up_rate", "Δ better chat a day [95 % CI]"].split()[1] == "pp"
    assert views.variant_changes(base, variant) == "channels.chat.resolve = 0.85"


def test_a_job_reports_progress_and_can_be_cancelled(preset):
    sc = preset.with_changes({"run.days": 0.05})
    job = Job("simulating", lambda progress: sim.run(sc, replications=3, progress=progress), planned=3)
    assert job.wait(120) and job.state == "done" and job.fraction() == 1.0
    assert job.result.replications == 3 and "done" in job.status()

    started = []

    def slow(progress):
        def count(finished):
            started.append(finished)
            if finished == 1:
                job2.cancel()
            progress(finished)
        return sim.run(sc, replications=50, progress=count)

    job2 = Job("simulating", slow, planned=50)
    assert job2.wait(120)
    assert job2.state == "cancelled" and job2.result is None and max(started) < 50
    assert "cancelled" in job2.status()

    failing = Job("comparing", lambda progress: sim.compare(sc, {}, replications=2))
    assert failing.wait(30) and failing.state == "failed"
    assert failing.status() == "comparing failed: compare needs at least one variant"


def test_the_app_command_says_how_to_install_what_it_needs(monkeypatch):
    """Without the app extra, `contactflow app` names the missing package and the install command."""
    import builtins

    from click.testing import CliRunner

    real_import = builtins.__import__

    def no_shiny(name, *args, **kwargs):
        if name == "shiny" or name.startswith("shiny."):
            raise ImportError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_shiny)
    result = CliRunner().invoke(main, ["app", "--no-browser"])
    assert result.exit_code == 2
    assert "shiny is missing" in result.output and 'pip install "contactflow[app]"' in result.output


def test_the_app_command_refuses_a_bad_scenario(tmp_path):
    from click.testing import CliRunner

    bad = tmp_path / "bad.toml"
    bad.write_text("name = [", encoding="utf-8")
    result = CliRunner().invoke(main, ["app", str(bad), "--no-browser"])
    assert result.exit_code == 2 and "malformed TOML" in result.output and "Traceback" not in result.output
