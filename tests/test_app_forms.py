"""The web app's logic without a browser: forms, views and background jobs (simulator.app)."""

from __future__ import annotations

import pytest

import simulator as sim
from simulator.app import forms, views
from simulator.app.jobs import Job
from simulator.cli import main
from simulator.scenario import Problem, load_scenario

from conftest import DAILY_CENTRE


@pytest.fixture(scope="module")
def preset():
    """Four channels with their own agents (the former daily preset): every per-channel field kind."""
    return load_scenario(DAILY_CENTRE)


#: A weekly profile: busier on weekdays from 8:00 to 20:00, quieter at the weekend.
WEEK_PROFILE = [(4.0 if 8 <= h % 24 < 20 else 1.0) * (0.5 if h >= 120 else 1.0) for h in range(168)]


@pytest.fixture(scope="module")
def grouped(preset):
    """The preset with a service desk answering phone and chat (reserve for chat), chat concurrency with
    slowdown, a call back on the phone line, a 168-hour profile and day-to-day variation; email keeps
    its own agents."""
    data = preset.to_dict()
    for name in ("phone", "chat"):
        del data["channels"][name]["agents"]
        data["channels"][name].pop("cost_per_agent_hour", None)
    data["groups"] = {"desk": {"label": "Service desk", "agents": 40, "skills": {"phone": 1, "chat": 2},
                               "reserve": {"chat": 1}, "cost_per_agent_hour": 30.0, "shrinkage": 0.2}}
    data["channels"]["chat"].update(concurrency=2, concurrency_slowdown=[1.0, 1.25])
    data["channels"]["phone"]["callback"] = {"offer_when_wait_above": 2.0, "accept": 0.6, "within_minutes": 60}
    data["arrivals"].update(hourly_profile=WEEK_PROFILE, day_to_day_cv=0.1)
    return sim.Scenario.from_dict(data, "grouped.toml")


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


def test_every_field_kind_reads_back_what_the_scenario_says(preset, grouped):
    """Each field's widgets, read untouched, give the file's value (so only real edits are changes)."""
    kinds = set()
    for scenario in (preset, grouped):
        sections = forms.scenario_sections(scenario)
        read = forms.form_reader(sections, {})
        for f in forms.all_fields(sections):
            assert forms.field_value(f, read) == f.value, f.path
        kinds |= {f.kind for f in forms.all_fields(sections)}
    assert kinds == set(forms.KINDS)  # every kind is exercised


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
    ({("channels.chat.handle_time", "mean"): -2}, "channels.chat.handle_time",
     "mean must be from 1e-06 to 5,256,000 minutes (10 years); got -2"),
    ({("channels.chat.next", ""): {"phone": 0.7, "give_up": 0.4}}, "channels.chat.next",
     "probabilities must sum to 1; they sum to 1.1"),
    ({("channels.chat.next", ""): {"phone": "lots", "give_up": 0.4}}, "channels.chat.next",
     "phone: must be a probability in [0, 1]; got 'lots'"),
    ({("channels.phone.open_hours", "mode"): "hours", ("channels.phone.open_hours", "open"): 8,
      ("channels.phone.open_hours", "close"): 8}, "channels.phone.open_hours", "must be [open, close]"),
])
def test_bad_values_get_the_cli_message_next_to_their_field(preset, values, path, message):
    _assert_problem_next_to(preset, values, path, message)


def _assert_problem_next_to(scenario, values, path, message):
    """The form with ``values`` is refused, with ``message`` next to the field ``path`` (and nowhere else)."""
    result, sections = _apply(scenario, values)
    assert not result.valid
    by_field, other = forms.problems_by_field(result.problems, sections)
    assert other == []
    assert any(message in text for text in by_field[path]), by_field


def test_form_messages_are_the_command_line_messages(preset, tmp_path):
    """The same bad value typed in the form and given to --set is refused in the same words."""
    from click.testing import CliRunner

    cli = CliRunner().invoke(main, ["validate", DAILY_CENTRE, "--set", "channels.web.resolve=1.5"])
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
    frame = forms.hourly_frame(plan)
    assert frame.shape == (1, 25) and frame.loc[0, "day"] == "every day" and frame.loc[0, "03"] == "0"
    assert forms.hourly_label(field) == "chat agents"


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


def test_the_estimate_runs_one_job_at_a_time_and_ends_on_the_latest_request():
    """A slow estimate never piles up: requests made while it runs wait, the newest replacing the older."""
    import threading

    from simulator.app.jobs import LatestJob

    release = threading.Event()
    started = []

    def work(name):
        def run(progress):
            started.append(name)
            if name == "first":
                release.wait(60)
            return name.upper()
        return run

    estimates = LatestJob("estimating")
    first = estimates.job_for("first", work("first"))
    assert first.running
    assert estimates.job_for("second", work("second")) is None  # waits its turn...
    assert estimates.job_for("third", work("third")) is None    # ... and is replaced by a newer request
    release.set()
    assert first.wait(60) and first.result == "FIRST"
    third = estimates.job_for("third", work("third"), wait=60)
    assert third.state == "done" and third.result == "THIRD"
    assert estimates.job_for("third", work("third")) is third and started.count("third") == 1  # not again
    assert "second" not in started
    failing = LatestJob("estimating").job_for("x", lambda progress: 1 / 0, wait=60)
    assert failing.state == "failed" and isinstance(failing.error, ZeroDivisionError)


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


# --------------------------------------------------------------------------- agent groups, weeks, call backs


def _field(sections, path):
    return next(f for f in forms.all_fields(sections) if f.path == path)


def test_a_grouped_weekly_scenario_shows_its_groups_and_new_fields(grouped):
    result, sections = _apply(grouped, {})
    assert result.valid and result.changes == {}
    assert [s.title for s in sections if s.key.startswith("groups.")] == ["Agent group: Service desk (desk)"]
    skills = _field(sections, "groups.desk.skills")
    assert skills.value == {"phone": 1, "chat": 2}
    assert skills.parts == ("email", "chat", "phone")  # every staffed channel, web (self-service) is not
    assert forms.initial_parts(skills) == {"email": None, "chat": 2, "phone": 1}
    assert forms.initial_parts(_field(sections, "channels.phone.agents"))["mode"] == "groups"
    assert _field(sections, "channels.chat.concurrency").value == 2
    assert forms.initial_parts(_field(sections, "channels.chat.concurrency_slowdown")) == {"": "1, 1.25"}
    assert forms.initial_parts(_field(sections, "channels.phone.callback"))["mode"] == "offer"
    assert forms.initial_parts(_field(sections, "channels.email.callback"))["mode"] == forms.NONE
    assert _field(sections, "arrivals.day_to_day_cv").value == 0.1
    # a weekly scenario: every hourly plan the form starts has 168 hours, the profile its own 168
    assert grouped.period_hours == 168
    assert len(forms.initial_parts(_field(sections, "groups.desk.agents"))["plan"]) == 168
    assert forms.initial_parts(_field(sections, "arrivals.hourly_profile"))["plan"] == WEEK_PROFILE
    assert "groups.desk.agents" in forms.numeric_fields(sections)  # a sweep can vary a group's agents


def test_group_agents_skills_and_reserve_become_library_changes(grouped):
    values = {("groups.desk.agents", "count"): 44, ("groups.desk.skills", "chat"): 1,
              ("groups.desk.reserve", "chat"): None,
              ("groups.desk.shrinkage", ""): 0.3, ("groups.desk.label", ""): "Front office",
              ("channels.chat.concurrency", ""): 3, ("channels.chat.concurrency_slowdown", ""): "1, 1.2, 1.45",
              ("channels.phone.callback", "accept"): 0.8, ("arrivals.day_to_day_cv", ""): 0.2}
    result, _ = _apply(grouped, values)
    assert result.valid, result.problems
    desk = result.scenario.group("desk")
    assert desk.agents == 44 and desk.skills == {"phone": 1, "chat": 1} and desk.reserve == {}
    assert desk.shrinkage == 0.3 and desk.display_name == "Front office"
    chat = result.scenario.channel("chat")
    assert chat.concurrency == 3 and chat.concurrency_slowdown == (1.0, 1.2, 1.45)
    assert result.scenario.channel("phone").callback.accept == 0.8
    assert result.scenario.arrivals.day_to_day_cv == 0.2
    assert result.changes["groups.desk.reserve"] is None  # the reserve emptied: the field is left out
    assert "reserve" not in result.scenario.to_dict()["groups"]["desk"]


@pytest.mark.parametrize("values, path, message", [
    ({("groups.desk.skills", "chat"): 0}, "groups.desk.skills",
     "chat: must be a priority, a whole number >= 1 (1 = highest); got 0"),
    ({("groups.desk.skills", "phone"): None, ("groups.desk.skills", "chat"): None}, "groups.desk.skills",
     "must be a table of channel = priority"),
    ({("groups.desk.skills", "chat"): None}, "groups.desk.reserve", "chat: unknown skill 'chat'"),
    ({("groups.desk.agents", "count"): 0}, "groups.desk.agents", "got 0"),
    ({("groups.desk.shrinkage", ""): 0.99}, "groups.desk.shrinkage", "must be a number >= 0 and <= 0.95; got 0.99"),
    ({("channels.chat.concurrency", ""): 3}, "channels.chat.concurrency_slowdown", "must be a list of 3 factors"),
    ({("channels.chat.concurrency_slowdown", ""): "fast"}, "channels.chat.concurrency_slowdown", "got 'fast'"),
    ({("channels.phone.callback", "accept"): 1.5}, "channels.phone.callback",
     "accept: must be a probability in [0, 1]; got 1.5"),
    ({("channels.email.callback", "mode"): "offer"}, "channels.email.callback",
     "an asynchronous channel has no live queue to offer a call back from"),
    ({("arrivals.day_to_day_cv", ""): 5}, "arrivals.day_to_day_cv", "must be a number >= 0 and <= 2; got 5"),
])
def test_bad_group_and_channel_values_get_the_library_message_next_to_their_field(grouped, values, path, message):
    _assert_problem_next_to(grouped, values, path, message)


def test_a_group_field_is_refused_in_the_words_of_the_command_line(grouped, tmp_path):
    from click.testing import CliRunner

    path = tmp_path / "grouped.toml"
    path.write_text(grouped.to_toml(), encoding="utf-8")
    cli = CliRunner().invoke(main, ["validate", str(path), "--set", "groups.desk.shrinkage=0.99"])
    assert cli.exit_code == 2
    result, sections = _apply(grouped, {("groups.desk.shrinkage", ""): 0.99})
    (message,) = forms.problems_by_field(result.problems, sections)[0]["groups.desk.shrinkage"]
    assert f"groups.desk.shrinkage: {message}" in cli.output


def test_moving_a_channel_between_its_own_agents_and_a_group(grouped):
    # chat given its own agents while the desk still lists it: the library says which to remove
    back = {("channels.chat.agents", "mode"): "fixed", ("channels.chat.agents", "count"): 10}
    result, sections = _apply(grouped, back)
    by_field, _ = forms.problems_by_field(result.problems, sections)
    assert "remove its own agents, or remove it from the group's skills" in by_field["channels.chat.agents"][0]
    # ... taken off the desk's skills (and its reserve) too, it is a channel of its own again
    back |= {("groups.desk.skills", "chat"): None, ("groups.desk.reserve", "chat"): None}
    result, _ = _apply(grouped, back)
    assert result.valid, result.problems
    assert result.scenario.channel("chat").agents == 10 and result.scenario.group("desk").skills == {"phone": 1}

    # email into the desk: its own agents (and their cost) go, the desk takes the skill
    into = {("channels.email.agents", "mode"): "groups", ("groups.desk.skills", "email"): 3}
    result, sections = _apply(grouped, into)
    by_field, _ = forms.problems_by_field(result.problems, sections)
    assert by_field["channels.email.cost_per_agent_hour"] == [
        "the channel is answered by agent groups; set cost_per_agent_hour on the group"]
    result, _ = _apply(grouped, into | {("channels.email.cost_per_agent_hour", ""): 0})
    assert result.valid and result.scenario.channel("email").served_by_groups
    assert result.scenario.groups_serving("email")[0].name == "desk"


def test_adding_and_removing_a_group_rebuilds_the_form_and_keeps_the_edits(grouped):
    sections = forms.scenario_sections(grouped)
    read = forms.form_reader(sections, {("run.days", ""): 3.0})  # an edit made before the new group
    draft = forms.add_group(forms.form_draft(grouped.to_dict(), sections, read), "back_office", ["email"])
    email = grouped.channel("email")
    assert draft["groups"]["back_office"] == {"agents": email.agents, "skills": {"email": 1},
                                              "cost_per_agent_hour": email.cost_per_agent_hour}
    sections = forms.scenario_sections(grouped, draft)
    assert [s.key for s in sections if s.key.startswith("groups.")] == ["groups.desk", "groups.back_office"]
    assert forms.initial_parts(_field(sections, "channels.email.agents"))["mode"] == "groups"
    read = forms.form_reader(sections, {("groups.back_office.agents", "count"): 30})
    result = forms.apply_form(grouped, sections, read, draft)
    assert result.valid, result.problems
    assert set(result.changes) == {"run.days", "channels.email.agents", "channels.email.cost_per_agent_hour",
                                   "groups.back_office"}
    back_office = result.scenario.group("back_office")
    assert back_office.agents == 30 and result.scenario.run.days == 3.0
    # what the app downloads reads back as the same scenario
    saved = sim.Scenario.from_dict(sim.scenario.parse_toml(result.scenario.to_toml()), "saved.toml")
    assert saved.group("back_office") == back_office and saved.to_dict() == result.scenario.to_dict()

    # the desk removed: phone and chat have nobody to answer them, and the library says so by each
    draft = forms.remove_group(draft, "desk")
    sections = forms.scenario_sections(grouped, draft)
    result = forms.apply_form(grouped, sections, forms.form_reader(sections, {}), draft)
    assert not result.valid and result.changes["groups.desk"] is None
    by_field, _ = forms.problems_by_field(result.problems, sections)
    for name in ("phone", "chat"):
        assert by_field[f"channels.{name}.agents"][0].startswith("missing; needed: a whole number from 1 to")
    # removing the group it added leaves the scenario as it was
    draft = forms.remove_group(forms.add_group(grouped.to_dict(), "night", ["email"], take_own_agents=False),
                               "night")
    sections = forms.scenario_sections(grouped, draft)
    assert forms.apply_form(grouped, sections, forms.form_reader(sections, {}), draft).changes == {}


def test_a_new_group_takes_plans_hour_by_hour_and_names_are_checked(preset):
    data = preset.to_dict()
    data["channels"]["chat"]["agents"] = [0] * 8 + [10] * 12 + [0] * 4
    draft = forms.add_group(data, "desk", ["chat", "phone"])
    phone = preset.channel("phone").agents
    assert draft["groups"]["desk"]["agents"] == [phone + a for a in data["channels"]["chat"]["agents"]]
    with pytest.raises(ValueError, match="cannot name a group"):
        forms.add_group(data, "my desk", ["chat"])
    with pytest.raises(ValueError, match="there is a group 'desk' already"):
        forms.add_group(draft, "desk", ["email"])
    # a group without skills: the library's message is next to the skills field
    draft = forms.add_group(data, "spare", [])
    sections = forms.scenario_sections(preset, draft)
    result = forms.apply_form(preset, sections, forms.form_reader(sections, {}), draft)
    by_field, _ = forms.problems_by_field(result.problems, sections)
    assert by_field["groups.spare.skills"][0].startswith("must be a table of channel = priority")


def test_weekly_plans_are_a_day_by_hour_grid(grouped):
    sections = forms.scenario_sections(grouped)
    profile = _field(sections, "arrivals.hourly_profile")
    plan = forms.initial_parts(profile)["plan"]
    frame = forms.hourly_frame(plan)
    assert frame.shape == (7, 25) and list(frame["day"]) == list(forms.WEEK_DAYS)
    assert frame.loc[5, "09"] == f"{WEEK_PROFILE[5 * 24 + 9]:g}"  # Saturday 09:00
    wednesday_9 = 2 * 24 + 9
    plan = forms.edit_hour(plan, wednesday_9, "7.5")
    result, _ = _apply(grouped, {("arrivals.hourly_profile", "plan"): plan})
    assert result.valid and result.scenario.arrivals.hourly_profile[wednesday_9] == 7.5
    # a group's agents as a weekly plan, weekend hours empty
    desk_plan = [0 if h >= 120 else 40 for h in range(168)]
    result, _ = _apply(grouped, {("groups.desk.agents", "mode"): "hourly", ("groups.desk.agents", "plan"): desk_plan})
    assert result.valid and result.scenario.group("desk").agents_in_hour(130) == 0
    # a bad level: the library's message, naming the hour
    bad = forms.edit_hour(desk_plan, 3, "-1")
    result, sections = _apply(grouped, {("groups.desk.agents", "mode"): "hourly", ("groups.desk.agents", "plan"): bad})
    assert "got -1 for hour 3" in forms.problems_by_field(result.problems, sections)[0]["groups.desk.agents"][0]
    # a day's plan made weekly repeats, a week made daily keeps Monday
    assert forms.resize_plan([1, 2] * 12, 168)[24:26] == [1, 2] and forms.resize_plan(desk_plan, 24) == [40] * 24


def test_group_and_call_back_results_are_the_librarys(grouped):
    result = sim.run(grouped.with_changes({"run.days": 0.25}), replications=2, seed=3)
    table = views.group_table(result).set_index("group")
    assert list(table.index) == ["Service desk", "Email"]  # email's own agents are a group of their own
    occupancy = result.groups.loc[("desk", "occupancy")]
    assert table.loc["Service desk", "occupancy"] == sim.report.format_stat(
        occupancy["mean"], occupancy["ci_low"], occupancy["ci_high"], "occupancy")
    shares = table.loc["Service desk", "busy time by skill"]
    assert shares.startswith("phone ") and ", chat " in shares
    callbacks = views.callback_table(result)
    assert list(callbacks["channel"]) == ["Call centre"]
    offered = result.channels.loc[("phone", "callbacks_offered")]
    assert callbacks.loc[0, "offered"] == sim.report.format_stat(offered["mean"], offered["ci_low"],
                                                                  offered["ci_high"], "callbacks_offered")
    # the interactive view runs over the week, hour of the week from Monday 0:00
    from simulator.app.interactive import hourly_figure, hourly_groups_figure

    trace = hourly_figure(result).data[0]
    assert len(trace.x) == 168 and trace.x[32] == "Tue 08:00"
    assert {t.legendgroup for t in hourly_groups_figure(result).data} == {"desk", "email"}


def test_the_what_if_table_shows_shared_groups(grouped):
    base = grouped.with_changes({"run.days": 0.1})
    bigger = base.with_changes({"groups.desk.agents": 44})
    table = sim.compare(base, {"bigger desk": bigger}, replications=2, seed=5)
    frame = views.comparison_frame(table, days=0.1).set_index("name")
    assert {"groups.desk.agents", "groups.desk.occupancy", "groups.desk.cost"} <= set(frame.index)
    assert not any(name.startswith("groups.email.") for name in frame.index)  # email's own agents: its channel rows
    assert frame.loc["groups.desk.agents", "figure"] == "desk (group): agents"
    # agents on duty, after the desk's shrinkage: 35 of 44 against 32 of 40
    more = bigger.group("desk").on_duty_in_hour(0) - base.group("desk").on_duty_in_hour(0)
    assert frame.loc["groups.desk.agents", "Δ bigger desk a day [95 % CI]"] == f"+{more} *"


def test_an_estimate_that_fails_is_a_message(grouped):
    message = views.estimate_problem(grouped, TypeError("int() argument must be a number"))
    assert message.startswith("No instant estimate for daily_centre: the network approximation does not handle "
                              "agent groups, concurrency, call backs, a week's hourly lists in this version")
    assert "Simulate for its figures" in message
