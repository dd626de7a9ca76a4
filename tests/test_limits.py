"""Limits: every input either runs or is refused when loaded (exit 2, naming the field and the range)."""

from __future__ import annotations

import copy
import json

import pandas as pd
import pytest
import tomli_w
from click.testing import CliRunner

from simulator.cli import main

from conftest import BASE, DAILY_CENTRE

QUICK = ["-r", "1", "-d", "0.01", "-q", "-w", "1"]
TEN_YEARS = "from 1e-06 to 5,256,000 minutes (10 years)"


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def write_scenario(tmp_path, data, name="scenario.toml"):
    path = tmp_path / name
    path.write_text(tomli_w.dumps(data))
    return path


def many_channels(count: int) -> dict:
    """The test network's phone copied ``count`` times, customers spread evenly."""
    data = copy.deepcopy(BASE)
    phone = data["channels"]["phone"]
    names = [f"queue{i}" for i in range(count)]
    channel = {**phone, "next": {"give_up": 1.0}}
    data["channels"] = {name: copy.deepcopy(channel) for name in names}
    data["focal_channel"] = names[0]
    share = {name: 1.0 / count for name in names}
    share[names[0]] = 1.0 - sum(share[n] for n in names[1:])
    data["arrivals"] = {"per_hour": 600, "first_channel": share}
    return data


@pytest.mark.parametrize("change, expected", [
    ("max_contacts=40000", "max_contacts: must be a whole number >= 1 and <= 1,000; got 40000"),
    ('channels.phone.handle_time={ dist = "gamma", mean = 5, cv = 1e200 }',
     "channels.phone.handle_time: cv must be from 0.001 to 10; got 1e+200"),
    ('channels.phone.handle_time={ dist = "lognormal", mean = 5, cv = 1e200 }',
     "channels.phone.handle_time: cv must be from 0.001 to 10; got 1e+200"),
    ('channels.phone.handle_time={ dist = "gamma", mean = 5, cv = 1e-200 }',
     "channels.phone.handle_time: cv must be from 0.001 to 10; got 1e-200"),
    ('channels.phone.handle_time={ dist = "exponential", mean = 1e300 }',
     f"channels.phone.handle_time: mean must be {TEN_YEARS}; got 1e+300"),
    ('retry_delay={ dist = "exponential", mean = 1e300 }', f"retry_delay: mean must be {TEN_YEARS}; got 1e+300"),
    ('channels.chat.patience={ dist = "deterministic", value = 1e-300 }',
     f"channels.chat.patience: value must be {TEN_YEARS}; got 1e-300"),
    ('channels.chat.handle_time={ dist = "uniform", low = 1, high = 1e12 }',
     f"channels.chat.handle_time: high must be {TEN_YEARS}; got 1000000000000.0"),
    ('channels.chat.handle_time={ dist = "empirical", values = [1, 1e300] }',
     "channels.chat.handle_time: empirical values must be a non-empty list of finite numbers from 0 to 5,256,000"),
    ('channels.chat.handle_time={ dist = "empirical", values = [1, nan] }',
     "channels.chat.handle_time: empirical values must be a non-empty list of finite numbers"),
    ('channels.chat.handle_time={ dist = "empirical", values = [0, 1e-300] }',
     "channels.chat.handle_time: empirical values must have a mean of at least 1e-06 minutes"),
    ("arrivals.per_hour=5e-324", "arrivals.per_hour: must be a number >= 1e-06 and <= 1,000,000,000; got 5e-324"),
    ("arrivals.per_hour=true", "arrivals.per_hour: must be a number >= 1e-06 and <= 1,000,000,000; got True"),
    ("arrivals.per_hour=nan", "arrivals.per_hour: must be a finite number >= 1e-06"),
    ("run.replications=1000000000", "run.replications: must be a whole number >= 1 and <= 100,000; got 1000000000"),
    ("run.days=1e7", "run.days: must be a number > 0 and <= 100,000; got 10000000.0"),
    ("run.warmup_hours=1e9", "run.warmup_hours: must be a number from 0 to 2,400,000, or \"auto\""),
    ("channels.phone.agents=1000000000",
     'channels.phone.agents: must be a whole number from 1 to 1,000,000, a list of 24 (or 168) hourly staffing '
     'levels, or "unlimited"; got 1000000000'),
    ("channels.phone.agents=2.5", "channels.phone.agents: must be a whole number from 1 to 1,000,000"),
    ("channels.phone.agents=true", "channels.phone.agents: must be a whole number from 1 to 1,000,000"),
    (f"channels.phone.agents={[5] * 23 + [10**9]}",
     "channels.phone.agents: must be a list of 24 whole numbers from 0 to 1,000,000, one per hour from 0:00, "
     "or 168 for a week from Monday 0:00; got 1000000000 for hour 23"),
    ("channels.phone.cost_per_agent_hour=1e300",
     "channels.phone.cost_per_agent_hour: must be a number >= 0 and <= 1,000,000,000; got 1e+300"),
    ("channels.phone.cost_per_contact=inf", "channels.phone.cost_per_contact: must be a finite number >= 0"),
    ("channels.phone.service_level_seconds=1e300",
     "channels.phone.service_level_seconds: must be a number > 0 and <= 315,360,000; got 1e+300"),
])
@pytest.mark.parametrize("command", ["validate", "run", "analyze"])
def test_values_out_of_range_are_refused_at_load_time(command, change, expected):
    extra = QUICK if command == "run" else []
    result = invoke(command, DAILY_CENTRE, "--set", change, *extra)
    assert result.exit_code == 2, result.output
    assert f"{DAILY_CENTRE}: {expected}" in result.output
    assert "Traceback" not in result.output


def test_tiny_profile_weights_run(tmp_path):
    """Denormal weights in the hourly profile divided by zero; they are valid and now run."""
    data = copy.deepcopy(BASE)
    data["arrivals"]["hourly_profile"] = [5e-324] + [0.0] * 23
    data["arrivals"]["per_hour"] = 60
    data["run"]["warmup_hours"] = 0
    result = invoke("run", write_scenario(tmp_path, data), "--json", *QUICK)
    assert result.exit_code == 0, result.output
    # every customer arrives between 0:00 and 1:00, at 24 times the mean rate
    assert json.loads(result.stdout)["kpis"]["customers"]["mean"] > 0


def test_a_deeply_nested_toml_array_is_malformed_toml(tmp_path):
    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 100_000 + "]" * 100_000 + "\n")
    for command in (["validate"], ["run", *QUICK]):
        result = invoke(command[0], path, *command[1:])
        assert result.exit_code == 2
        assert f"{path}: malformed TOML: arrays or inline tables nested too deeply" in result.output
    result = invoke("validate", "nice_bcg_2016", "--set", "channels.chat.agents=" + "[" * 100_000)
    assert result.exit_code == 2 and "Traceback" not in result.output


def test_more_than_a_thousand_channels_are_refused(tmp_path):
    result = invoke("validate", write_scenario(tmp_path, many_channels(1001)))
    assert result.exit_code == 2
    assert "channels: at most 1,000 channels; got 1,001" in result.output


def test_two_hundred_channels_run_and_their_journeys_are_written(tmp_path):
    """Channel numbers were kept in 8 bits: 128 channels and more overflowed."""
    path = write_scenario(tmp_path, many_channels(200))
    out = tmp_path / "out"
    result = invoke("run", path, "--out", out, "-r", "1", "-d", "0.5", "-q", "-w", "1")
    assert result.exit_code == 0, result.output
    journeys = pd.read_parquet(out / "journeys.parquet")
    assert journeys["channel"].nunique() > 127
    assert "queue199" in set(journeys["channel"].astype(str))


def test_a_thousand_channels_run():
    from simulator.experiment import run
    from simulator.scenario import Scenario

    res = run(Scenario.from_dict(many_channels(1000)), replications=1, days=0.05)
    assert len(res.channels.index.get_level_values("channel").unique()) == 1000
    assert res.kpis.loc["contacts", "mean"] == res.kpis.loc["customers", "mean"] > 0


def test_journeys_as_long_as_max_contacts_allows():
    """Contact numbers were kept in 16 bits: journeys of 32,768 contacts overflowed; now 1,000 at most."""
    from simulator.experiment import run
    from simulator.scenario import Scenario

    data = copy.deepcopy(BASE)
    data["max_contacts"] = 1000
    data["channels"]["web"].update(resolve=0.0, next={"web": 1.0})
    data["arrivals"] = {"per_hour": 10, "first_channel": {"web": 1.0}}
    data["channels"]["web"]["handle_time"] = {"dist": "deterministic", "value": 1e-3}
    res = run(Scenario.from_dict(data), replications=1, days=0.1)
    log = res.journeys
    assert log["seq"].max() == 999 and log.groupby("customer").size().eq(1000).all()
    assert res.kpis.loc["give_up_rate", "mean"] == 1.0


def test_analyze_with_a_million_agents_does_not_allocate_per_agent():
    from simulator.analytic import erlang_a, erlang_b, erlang_c

    # a billion agents cost what a thousand do
    assert erlang_b(2.0, 10**9) == 0.0
    assert erlang_c(2.0, 5.0, 10**9).p_wait == 0.0
    assert erlang_a(2.0, 5.0, 10**9, 3.0).service_level == pytest.approx(1.0)
    result = invoke("analyze", DAILY_CENTRE, "--set", "channels.phone.agents=1000000",
                    "--set", "channels.email.agents=1000000", "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["channels"]["phone"]["p_wait"]["analytic"] == pytest.approx(0.0, abs=1e-12)


def test_analyze_a_run_of_the_longest_window_models_its_backlog_over_weeks():
    """The email backlog was modelled minute by minute over the whole run: 24 GB for 100,000 days."""
    from simulator.network import approximate
    from simulator.pools import FLUID_WINDOW_DAYS
    from simulator.scenario import MAX_DAYS, load_scenario

    sc = load_scenario(DAILY_CENTRE)
    long = approximate(sc.with_changes({"run.days": MAX_DAYS, "run.warmup_hours": 336}))
    weeks = approximate(sc.with_changes({"run.days": FLUID_WINDOW_DAYS, "run.warmup_hours": 336}))
    for metric in ("abandon_rate", "mean_wait_min", "occupancy"):
        assert long.value(f"channels.email.{metric}") == pytest.approx(weeks.value(f"channels.email.{metric}"))
    # totals cover the whole window
    assert long.value("channels.email.agent_hours") == pytest.approx(
        weeks.value("channels.email.agent_hours") * MAX_DAYS / FLUID_WINDOW_DAYS)
    assert any("email: the run is long" in note for note in long.weaknesses)


@pytest.mark.parametrize("args, expected", [
    (["run", "-r", "1000000000"], "Invalid value for '-r' / '--replications': 1000000000 is not in the range 1<=x<=100000"),
    (["compare", "nice_bcg_2016", "x:run.seed=3", "-r", "1000000000"], "'--replications'"),
    (["sweep", "nice_bcg_2016", "--vary", "run.seed=1,2", "-r", "1000000000"], "'--replications'"),
    (["warmup", "nice_bcg_2016", "-r", "1000000000"], "'--replications'"),
    (["analyze", "--simulate", "-r", "1000000000"], "'--replications'"),
    (["report", "-r", "1000000000"], "'--replications'"),
    (["run", "-d", "1e6"], "Invalid value for '-d' / '--days': 1000000.0 is not in the range 0<x<=100000"),
    (["staff", "nice_bcg_2016", "--target", "give_up_rate<=0.1", "-d", "1e6"], "'--days'"),
    (["run", "--precision", "give_up_rate=0.001", "--max-replications", "1000000000"],
     "Invalid value for '--max-replications': 1000000000 is not in the range 2<=x<=100000"),
])
def test_options_out_of_range_exit_2_naming_the_option(args, expected):
    result = invoke(*args)
    assert result.exit_code == 2, result.output
    assert expected in result.output and "Traceback" not in result.output


def test_the_python_api_refuses_a_billion_replications_naming_them():
    import simulator as sim

    with pytest.raises(ValueError, match="replications must be from 1 to 100,000; got 1000000000"):
        sim.run(sim.load_scenario("nice_bcg_2016"), replications=10**9, days=0.01)
    with pytest.raises(ValueError, match="max_replications must be from 2 to 100,000"):
        sim.run(sim.load_scenario("nice_bcg_2016"), days=0.01,
                precision=sim.Precision({"give_up_rate": 0.01}, max_replications=10**9))


def test_a_precision_target_of_almost_zero_asks_for_the_most_replications_it_may():
    import numpy as np

    from simulator.precision import MAX_GROWTH, Precision

    values = {"give_up_rate": np.array([0.1, 0.2, 0.15])}
    assert Precision({"give_up_rate": 1e-300}, max_replications=100_000).replications_needed(values) == 3 * MAX_GROWTH
    assert Precision({"give_up_rate": 1e-300}, max_replications=4).replications_needed(values) == 4


@pytest.mark.parametrize("vary, expected", [
    (["channels.phone.agents=0:inf:1"], "'channels.phone.agents=0:inf:1': stop 'inf' is not a finite number"),
    (["channels.chat.resolve=0:nan:0.1"], "'channels.chat.resolve=0:nan:0.1': stop 'nan' is not a finite number"),
    (["channels.phone.agents=0:1e300:1e-300"], "values are too many for one field (at most 100,000)"),
    (["run.seed=1:90000:1", "channels.phone.agents=1:90000:1"],
     "a grid of 8,100,000,000 points is too many (at most 100,000): 90,000 run.seed x 90,000 channels.phone.agents"),
])
def test_sweep_ranges_that_cannot_be_run_are_refused(vary, expected, tmp_path):
    args = [w for v in vary for w in ("--vary", v)]
    result = invoke("sweep", "nice_bcg_2016", *args, "-o", tmp_path / "sweep", *QUICK)
    assert result.exit_code == 2, result.output
    assert f"--vary: {expected}" in result.output or expected in result.output
    assert "Traceback" not in result.output


def test_estimate_refuses_journeys_and_caps_beyond_max_contacts(tmp_path):
    rows = ["customer,timestamp,channel,outcome"]
    rows += [f"{c},{c * 10.0},phone,resolved" for c in range(1, 30)]
    rows += [f"0,{i * 0.1},web,unresolved" for i in range(1001)] + ["0,200,web,resolved"]
    log = tmp_path / "log.csv"
    log.write_text("\n".join(rows) + "\n")
    result = invoke("estimate", log, "--censor-minutes", "0")
    assert result.exit_code == 2, result.output
    assert "is contact 1,001 of its journey; a scenario allows at most 1,000" in result.output
    result = invoke("estimate", log, "--max-contacts", "40000")
    assert result.exit_code == 2 and "'--max-contacts': 40000 is not in the range 1<=x<=1000" in result.output


def test_calibrate_refuses_deep_targets_and_an_endless_regularization(tmp_path):
    targets = tmp_path / "targets.toml"
    targets.write_text("[targets]\navoidable_call_share = " + "[" * 100_000 + "\n")
    result = invoke("calibrate", "nice_bcg_2016", "--targets", targets, "--out", tmp_path / "fit.toml")
    assert result.exit_code == 2
    assert f"{targets}: malformed TOML: arrays or inline tables nested too deeply" in result.output
    result = invoke("calibrate", "nice_bcg_2016", "--targets", "nice_bcg_2016", "--out", tmp_path / "fit.toml",
                    "--regularization", "inf")
    assert result.exit_code == 2 and "regularization must be a finite number > 0; got inf" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "fit.toml").exists()


def test_numpy_numbers_are_numbers_and_numpy_booleans_are_not():
    """np.int64 agents (from np.arange in a sweep) were 'not a whole number'."""
    import numpy as np

    from simulator.scenario import ScenarioError, load_scenario

    sc = load_scenario(DAILY_CENTRE).with_changes({"channels.chat.agents": np.int64(25),
                                                       "arrivals.hourly_profile": np.ones(24)})
    assert sc.channel("chat").agents == 25 and type(sc.channel("chat").agents) is int
    assert "agents = 25" in sc.to_toml()
    with pytest.raises(ScenarioError, match="channels.chat.agents: must be a whole number .* got True"):
        sc.with_changes({"channels.chat.agents": np.bool_(True)})
