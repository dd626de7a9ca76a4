"""Calibration: known parameters are recovered, rows stay exact, conflicts are named, files stay intact."""

from __future__ import annotations

import json
import math
import sys

import pytest
from click.testing import CliRunner
from conftest import grouped_centre, make_scenario

import simulator as sim
from simulator.calibrate import (
    CalibrationError,
    Targets,
    TargetsError,
    _strip_note,
    calibrate,
    free_fields,
    load_targets,
)
from simulator.cli import main
from simulator.network import approximate
from simulator.scenario import Scenario, bundled_dir

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

PRESET_TARGETS = bundled_dir() / "targets" / "nice_bcg_2016.toml"


def test_recovers_known_parameters_from_their_own_figures():
    truth = make_scenario()  # first channel web 0.5 / chat 0.2 / phone 0.3, resolve web 0.4, phone 0.7
    keys = ["first_contact_resolution", "caller_share", "give_up_rate", "contacts_per_customer",
            "before_call.web", "avoidable_call_share"]
    approx = approximate(truth)
    targets = Targets({k: approx.value(k) for k in keys}, tolerance=1e-4)
    start = truth.with_changes({"arrivals.first_channel": {"web": 0.4, "chat": 0.25, "phone": 0.35},
                                "channels.web.resolve": 0.3, "channels.phone.resolve": 0.6})
    fit = calibrate(start, targets, ["arrivals.first_channel", "channels.web.resolve", "channels.phone.resolve"],
                    regularization=1e-3, decimals=8)
    print("\n" + fit.table.to_string())
    assert fit.reached
    recovered = fit.scenario
    assert dict(recovered.arrivals.first_channel) == pytest.approx(dict(truth.arrivals.first_channel), abs=2e-3)
    assert recovered.channel("web").resolve == pytest.approx(0.4, abs=2e-3)
    assert recovered.channel("phone").resolve == pytest.approx(0.7, abs=2e-3)


def test_recovers_known_parameters_on_a_centre_with_shared_groups():
    """Calibration reads the network approximation's served shares, which with a blended group, chat
    slots and call backs come from the pools; the fit must still recover what produced the figures."""
    truth = grouped_centre()
    keys = ["first_contact_resolution", "caller_share", "give_up_rate", "before_call.email", "avoidable_call_share"]
    approx = approximate(truth)
    targets = Targets({k: approx.value(k) for k in keys}, tolerance=1e-4)
    start = truth.with_changes({"arrivals.first_channel": {"web": 0.3, "email": 0.2, "chat": 0.2, "phone": 0.3},
                                "channels.web.resolve": 0.4})
    fit = calibrate(start, targets, ["arrivals.first_channel", "channels.web.resolve"], regularization=1e-3,
                    decimals=8)
    print("\n" + fit.table.to_string())
    assert fit.reached
    assert dict(fit.scenario.arrivals.first_channel) == pytest.approx(dict(truth.arrivals.first_channel), abs=5e-3)
    assert fit.scenario.channel("web").resolve == pytest.approx(0.5, abs=5e-3)


def test_the_bundled_targets_are_the_presets_figures_and_its_approximation_is_near_them():
    targets = load_targets(PRESET_TARGETS)
    preset = sim.load_scenario("nice_bcg_2016")
    assert targets.values == dict(preset.reference)
    # The preset was fitted so that a default simulation lands on the survey (tests/test_preset.py
    # checks it within half a point): its routing chain, at the approximation's served shares, sits
    # off the figures by the gap between the approximation and the simulation, under a point.
    approx = approximate(preset)
    for key, value in targets.values.items():
        assert approx.value(key) == pytest.approx(value, abs=0.01), key


def test_fitted_rows_sum_to_one_exactly_and_comments_are_kept():
    bank = sim.load_scenario("bank_app_first")
    original = (bundled_dir() / "bank_app_first.toml").read_text(encoding="utf-8")
    fit = calibrate(bank, {"before_call.app": 0.37, "avoidable_call_share": 0.70})
    assert fit.reached
    text = fit.toml(original)
    data = tomllib.loads(text)
    assert Scenario.from_dict(data, fit.scenario.source) == fit.scenario
    for name, channel in data["channels"].items():
        assert math.fsum(channel["next"].values()) == 1.0, name
    assert math.fsum(data["arrivals"]["first_channel"].values()) == 1.0
    comments = [line for line in _strip_note(original).splitlines() if line.lstrip().startswith("#")]
    assert len(comments) > 10
    assert all(line in text for line in comments)
    assert text.startswith("# --- calibrated by `contactflow calibrate`")
    assert text.count("# --- end of the calibration note ---") == 1
    assert "before_call.app" in text.split("# --- end")[0]
    # calibrating the calibrated file again replaces its note rather than adding one
    again = calibrate(fit.scenario, {"before_call.app": 0.36}).toml(text)
    assert again.count("# --- end of the calibration note ---") == 1 and "0.3600" in again.split("# --- end")[0]
    # written afresh when the lines cannot be edited (here: no original text)
    assert Scenario.from_dict(tomllib.loads(fit.toml()), fit.scenario.source) == fit.scenario


def test_conflicting_targets_are_named():
    targets = Targets({"resolution_rate": 0.90, "give_up_rate": 0.20, "caller_share": 0.25})
    fit = calibrate(sim.load_scenario("bank_app_first"), targets)
    assert not fit.reached
    assert set(fit.conflicts) == {"resolution_rate", "give_up_rate"}
    message = str(CalibrationError(fit))
    assert "resolution_rate, give_up_rate" in message and "caller_share" not in message.split("conflict")[-1]


def test_bad_targets_and_free_fields_are_reported(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('tolerence = 0.1\n[targets]\n"channels.phone.abandon_rate" = 0.1\ngive_up_rate = "x"\n'
                   'caller_share = 1.4\n[weights]\nfoo = 1\n')
    with pytest.raises(TargetsError) as err:
        load_targets(bad)
    message = str(err.value)
    for expected in ("bad.toml: tolerence: unknown key; did you mean 'tolerance'?", "targets.give_up_rate: must be a number",
                     "weights.foo: not one of the targets"):
        assert expected in message
    scenario = sim.load_scenario("nice_bcg_2016")
    with pytest.raises(TargetsError, match="channels.phone.abandon_rate: calibration fits"):
        Targets({"channels.phone.abandon_rate": 0.1}, source="t.toml").check(scenario)
    with pytest.raises(TargetsError, match=r"caller_share: a share must be in \[0, 1\]"):
        Targets({"caller_share": 1.4}).check(scenario)
    with pytest.raises(TargetsError, match="no channel 'fax'"):
        free_fields(scenario, ["channels.fax.next"])
    with pytest.raises(TargetsError, match="not a free parameter"):
        free_fields(scenario, ["channels.web.agents"])


# --------------------------------------------------------------------------- command line


def test_calibrate_command_writes_a_valid_scenario(tmp_path):
    targets = tmp_path / "bank_survey.toml"
    targets.write_text('[targets]\n"before_call.app" = 0.37\navoidable_call_share = 0.70\n')
    out = tmp_path / "bank.toml"
    result = CliRunner().invoke(main, ["calibrate", "bank_app_first", "--targets", str(targets),
                                       "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "before_call.app" in result.output and "residual" in result.output
    assert sim.load_scenario(out).name == "bank_app_first"
    assert "bank_survey.toml" in out.read_text().splitlines()[1]
    # a bundled name finds the bundled targets (here the survey's, which name a channel the bank lacks)
    bundled = CliRunner().invoke(main, ["calibrate", "bank_app_first", "--targets", "nice_bcg_2016",
                                        "--out", str(tmp_path / "never.toml")])
    assert bundled.exit_code == 2 and "Traceback" not in bundled.output
    assert "scenarios/targets/nice_bcg_2016.toml: targets.before_call.email" in bundled.output


def test_calibrate_command_refuses_unreachable_targets(tmp_path):
    targets = tmp_path / "t.toml"
    targets.write_text("[targets]\nresolution_rate = 0.9\ngive_up_rate = 0.2\n")
    out = tmp_path / "never.toml"
    result = CliRunner().invoke(main, ["calibrate", "bank_app_first", "--targets", str(targets),
                                       "--out", str(out)])
    assert result.exit_code == 3
    assert "conflict" in result.output and not out.exists()
    # stdout does not claim success: it says the scenario was not calibrated
    assert result.stdout.startswith("bank_app_first: NOT calibrated") and "calibrated to" not in result.stdout
    assert "The closest fit would change" in result.stdout and "\nChanged\n" not in result.stdout
    bad = CliRunner().invoke(main, ["calibrate", "nice_bcg_2016", "--targets", str(tmp_path / "missing.toml"),
                                    "--out", str(out)])
    assert bad.exit_code == 2 and "cannot read" in bad.output and "Traceback" not in bad.output


def test_analyze_command_json_with_simulation():
    result = CliRunner().invoke(main, ["analyze", "bank_app_first", "--simulate", "-r", "2", "-d", "0.25",
                                       "--json", "-q", "-w", "1"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["approximation"]["converged"] and data["approximation"]["weaknesses"]
    entry = data["kpis"]["give_up_rate"]
    assert set(entry) == {"analytic", "mean", "ci_low", "ci_high", "outside"}
    assert "abandon_rate" in data["channels"]["chat"]
    text = CliRunner().invoke(main, ["analyze"])
    assert text.exit_code == 0 and "Where the approximation is weak" in text.output
