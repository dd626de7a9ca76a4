"""Small things planners need: relative changes (FIELD+=N, FIELD*=X) and starting from a bundled scenario."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import simulator as sim
from simulator.cli import load_with_changes, main
from simulator.cli.base import variant_scenarios
from simulator.scenario import Relative


def invoke(*args):
    return CliRunner().invoke(main, list(args))


def test_relative_changes_add_to_and_scale_the_current_value():
    sc = load_with_changes("nice_bcg_2016", ("groups.digital.agents+=5", "arrivals.per_hour*=1.1",
                                             "channels.phone.handle_time.mean/=2", "run.warmup_hours+=1",
                                             "channels.email.cost_per_contact+=0.5"))
    base = sim.load_scenario("nice_bcg_2016")
    # a shift plan: every level on duty gains 5, the hours off stay off
    assert sc.group("digital").agents == tuple(0 if level == 0 else level + 5 for level in base.group("digital").agents)
    assert sc.arrivals.per_hour == 198.0  # 180 * 1.1, without floating-point dust
    assert sc.channel("phone").handle_time.mean == base.channel("phone").handle_time.mean / 2
    assert sc.run.warmup_hours == base.run.warmup_hours + 1
    assert sc.channel("email").cost_per_contact == 0.5  # not in the file: its default, 0, plus 0.5
    flat = load_with_changes("bank_app_first", ("channels.phone.agents+=5",))  # a fixed level
    assert flat.channel("phone").agents == sim.load_scenario("bank_app_first").channel("phone").agents + 5


def test_a_shift_plan_scales_level_by_level_rounded_and_keeps_its_hours_off():
    plan = sim.load_scenario("bank_app_first").channel("chat").agents
    scaled = load_with_changes("bank_app_first", ("channels.chat.agents*=1.1",)).channel("chat").agents
    assert scaled == tuple(int(level * 1.1 + 0.5) for level in plan)  # nearest whole number, halves up
    off = [0] * 8 + [4] * 12 + [0] * 4
    sc = sim.load_scenario("bank_app_first").with_changes({"channels.chat.agents": off})
    assert sc.with_changes({"channels.chat.agents": Relative("+", 2)}).channel("chat").agents == tuple(
        0 if level == 0 else level + 2 for level in off)


@pytest.mark.parametrize("assignment, message", [
    ("channels.chat.label+=5", "channels.chat.label: += needs a number or a list of numbers to add; "
                               "the field is a string ('Chat')"),
    ("channels.web.agents*=2", 'the field is self-service ("unlimited")'),
    ("channels.phone.handle_time*=1.1", "change one of its numbers, e.g. channels.phone.handle_time.mean*=1.1"),
    ("channels.chat.patience.cv+=1", "channels.chat.patience.cv: not set in the scenario"),
    ("groups.digital.agents*=0.01", "groups.digital.agents: must have at least one hour above zero"),
    ("groups.back_office.agents-=40", "groups.back_office.agents: must be a list of 24 whole numbers from 0 to"),
    ("channels.chat.agents+=many", "+= needs a finite number after it; got 'many'"),
    ("channels.chat.agents/=0", "cannot divide by zero"),
])
def test_a_relative_change_that_cannot_apply_names_the_field_and_what_is_allowed(assignment, message):
    result = invoke("validate", "nice_bcg_2016", "--set", assignment)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert message in result.output, result.output


def test_the_same_field_set_twice_is_refused():
    result = invoke("validate", "nice_bcg_2016", "--set", "channels.chat.agents+=1", "--set", "channels.chat.agents+=1")
    assert result.exit_code == 2 and "channels.chat.agents is given twice" in result.output


def test_variants_take_relative_changes_in_every_form(tmp_path):
    base = sim.load_scenario("nice_bcg_2016")
    plan_b = tmp_path / "plan_b.toml"
    plan_b.write_text(base.with_changes({"name": "plan_b", "groups.back_office.agents": 30}).to_toml())
    variants = variant_scenarios(base, ["more: groups.digital.agents+=5; arrivals.per_hour*=1.2", str(plan_b)],
                                 ["fewer:groups.voice.agents-=3"],
                                 changes={"groups.back_office.agents": Relative("*", 2)})
    on_duty = [level > 0 for level in base.group("digital").agents]
    assert variants["more"].group("digital").agents == tuple(
        level + 5 if on else 0 for level, on in zip(base.group("digital").agents, on_duty))
    assert variants["more"].arrivals.per_hour == 216.0
    assert variants["plan_b"].group("back_office").agents == 60  # --set applies to the file's own value
    assert variants["fewer"].group("voice").agents == tuple(
        level - 3 if level else 0 for level in base.group("voice").agents)
    # through a command: compare's inline variant and --set
    result = CliRunner().invoke(main, ["compare", "nice_bcg_2016", "--set-variant", "b:groups.digital.agents+=5",
                                       "--set", "arrivals.per_hour*=0.5", "-r", "2", "-d", "0.02", "-q", "-w", "1",
                                       "--json"])
    assert result.exit_code == 0, result.output


def test_scenarios_show_prints_a_bundled_scenario_and_copy_writes_it_once(tmp_path):
    from simulator.scenario import bundled_scenarios

    shown = invoke("scenarios", "--show", "utility_billing_surge")
    assert shown.exit_code == 0 and shown.output == bundled_scenarios()["utility_billing_surge"].read_text()
    target = tmp_path / "my_centre.toml"
    assert invoke("scenarios", "--copy", "nice_bcg_2016", str(target)).exit_code == 0
    assert sim.load_scenario(target).name == "nice_bcg_2016"  # ready to edit and run, comments kept
    assert target.read_text() == bundled_scenarios()["nice_bcg_2016"].read_text()
    target.write_text("# my edits\n")
    again = invoke("scenarios", "--copy", "nice_bcg_2016", str(target))
    assert again.exit_code == 2 and "use --force" in again.output and target.read_text() == "# my edits\n"
    assert invoke("scenarios", "--copy", "nice_bcg_2016", str(target), "--force").exit_code == 0
    assert target.read_text().startswith("# --- calibrated")
    assert invoke("scenarios", "--copy", "bank_app_first", str(tmp_path)).exit_code == 0  # into a folder
    assert (tmp_path / "bank_app_first.toml").is_file()
    wrong = invoke("scenarios", "--show", "nice_bcg")
    assert wrong.exit_code == 2 and "did you mean 'nice_bcg_2016'" in wrong.output
