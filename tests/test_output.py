"""What the outputs say about themselves: the window they cover, per-day counts, honest marks."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import simulator as sim
from simulator.cli import main

from conftest import DAILY_CENTRE

SHORT = ["-r", "2", "-d", "0.05", "-q", "-w", "1"]


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_run_json_and_out_record_the_window_seed_and_version(tmp_path):
    doc = json.loads(invoke("run", "--json", *SHORT, "--set", "run.warmup_hours=1.5").stdout)
    assert (doc["days"], doc["warmup_hours"], doc["seed"], doc["contactflow"]) == (0.05, 1.5, 2016, sim.__version__)
    # counts per day beside the totals
    assert doc["per_day"]["kpis"]["focal_contacts"]["mean"] == pytest.approx(
        doc["kpis"]["focal_contacts"]["mean"] / 0.05)
    assert doc["per_day"]["channels"]["phone"]["contacts"]["ci_high"] == pytest.approx(
        doc["channels"]["phone"]["contacts"]["ci_high"] / 0.05)
    assert "give_up_rate" not in doc["per_day"]["kpis"]  # a share has no per-day value

    out = tmp_path / "res"
    invoke("run", "--out", str(out), *SHORT, "-s", "9")
    run = pd.read_csv(out / "run.csv")
    assert run.loc[0, ["days", "seed", "replications"]].tolist() == [0.05, 9, 2]
    assert json.loads((out / "result.json").read_text())["days"] == 0.05
    kpis = pd.read_csv(out / "kpis.csv", index_col=0)
    assert kpis.loc["contacts", "mean_per_day"] == pytest.approx(kpis.loc["contacts", "mean"] / 0.05)
    assert pd.isna(kpis.loc["give_up_rate", "mean_per_day"])


def test_run_text_says_the_window_and_gives_counts_a_day():
    out = invoke("run", DAILY_CENTRE, *SHORT).output
    assert "2 replication(s) of 0.05 day(s) after a " in out.splitlines()[0]
    assert "a day" in out and "contacts a day" in out


def test_compare_says_how_many_days_its_totals_cover_and_gives_them_per_day():
    args = ["compare", "nice_bcg_2016", "--set-variant", "b:channels.chat.resolve=0.8", *SHORT]
    text = invoke(*args).output
    assert "2 paired replication(s) of 0.05 day(s)" in text and "Δ b per day" in text and "calls a day" in text
    doc = json.loads(invoke(*args, "--json").stdout)
    assert (doc["days"], doc["contactflow"]) == (0.05, sim.__version__)
    row = next(r for r in doc["rows"] if r["scenario"] == "b" and r["kpi"] == "focal_contacts")
    assert row["diff_per_day"] == pytest.approx(row["diff"] / 0.05)
    share = next(r for r in doc["rows"] if r["scenario"] == "b" and r["kpi"] == "give_up_rate")
    assert share["diff_per_day"] is None


def test_one_replication_marks_published_figures_not_applicable_instead_of_outside():
    out = invoke("run", "-r", "1", "-d", "0.05", "-q", "-w", "1").output
    rows = [line for line in out.splitlines() if "70.0 %" in line or "15.1 %" in line]
    assert rows and all("n/a — one replication" in line and "✗" not in line for line in rows)
    assert "an interval needs at least 2 replications" in out
    res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.05)
    assert res.reference()["inside"].isna().all()


def test_a_fixed_input_the_variant_does_not_change_differs_by_zero_not_by_significant_noise():
    # phone staffing is the same in both; its agent hours are time integrals whose rounding
    # differs with the events around them (about 1e-12), which must not read as a difference
    base = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 0.2})
    table = sim.compare(base, {"chat": base.with_changes({"channels.chat.resolve": 0.8})}, replications=3, seed=2016)
    rows = table[table.scenario == "chat"].set_index("kpi")
    for key in ("channels.phone.agent_hours", "channels.phone.cost", "channels.chat.agent_hours"):
        assert rows.loc[key, "diff"] == 0 and not rows.loc[key, "significant"], key


@pytest.mark.parametrize("value, metric, text", [
    (-0.0004, "give_up_rate", "−0.04 pp"), (0.00004, "share", "+0.004 pp"), (0.115, "share", "+11.5 pp"),
    (0.0, "share", "+0.0 pp"), (-2.5e-9, "share", "−0.0000 pp"), (-1302.4, "contacts", "−1,302"),
])
def test_a_small_difference_is_shown_with_the_digits_that_tell_it_from_zero(value, metric, text):
    from simulator.report import format_difference

    assert format_difference(value, metric) == text


def test_analyze_does_not_judge_the_staffing_it_was_given():
    # bank_app_first's chat shift plan: agents finishing a contact after their shift make the simulated
    # agent hours slightly more than the plan, which is an input, not a prediction to check
    from simulator.cli.analyze import analysis_dict, analysis_text
    from simulator.network import approximate

    sc = sim.load_scenario("bank_app_first").with_changes({"run.days": 0.5})
    approx, res = approximate(sc), sim.run(sc, replications=3, keep_journeys=False)
    agent_rows = [line for line in analysis_text(approx, 0.1, res).splitlines() if " agent_hours " in line]
    assert agent_rows and all("outside" not in line and "input, not judged" in line for line in agent_rows)
    doc = analysis_dict(approx, 0.1, res)
    assert all(m["agent_hours"]["outside"] is None for m in doc["channels"].values())
    assert (doc["days"], doc["warmup_hours"], doc["replications"]) == (0.5, sc.run.warmup_hours, 3)


def test_intervals_stay_within_what_a_figure_can_be():
    # few, short replications: Student-t intervals of shares near 0 or 1 and of small counts overshoot
    res = sim.run(sim.load_scenario(DAILY_CENTRE), replications=2, days=0.02, seed=3)
    summary = res.summary
    shares = summary.index.get_level_values("metric").isin(sim.metrics.SHARE_METRICS)
    assert (summary["ci_low"].dropna() >= 0).all()
    assert (summary.loc[shares, "ci_high"].dropna() <= 1).all()
    assert (res.hourly["ci_low"].dropna() >= 0).all()
    defined = summary.dropna(subset=["ci_low"])
    assert ((defined["ci_low"] <= defined["mean"]) & (defined["mean"] <= defined["ci_high"])).all()
    # differences are not clipped: a difference can be negative
    table = sim.compare(res.scenario, {"more": res.scenario.with_changes({"channels.phone.agents": 60})},
                        replications=2, seed=3, days=0.02)
    assert (table["diff_low"] < 0).any()
    assert "clipped to what the figure can be" in invoke("run", *SHORT).output


@pytest.mark.parametrize("extra", [[], ["--channels", ","]])
def test_staff_with_nothing_to_staff_names_the_option_not_a_python_argument(extra):
    result = CliRunner().invoke(main, ["staff", "nice_bcg_2016", "--target", "channels.web.contacts>=1", *extra])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--channels" in result.output and "channels=[" not in result.output


def test_result_objects_print_as_one_short_line(tmp_path):
    from conftest import make_scenario
    from simulator.network import approximate

    sc = make_scenario({"run.days": 0.1})
    plan = sim.staff(sc, ["channels.phone.service_level>=0.5"], replications=2, seed=1, workers=1)
    res = plan.result
    for obj in (plan, res, approximate(sc)):
        text = repr(obj)
        assert "\n" not in text and len(text) < 200, text
    assert repr(plan).startswith("StaffingPlan(phone=") and "see .checks" in repr(plan)
    assert plan.to_dict()["days"] == 0.1 and plan.to_dict()["contactflow"] == sim.__version__


def test_calls_to_a_closed_centre_are_counted_and_reported_separately():
    # utility_billing_surge's phones open 8-20; exact: the log's closed focal contacts
    res = sim.run(sim.load_scenario("utility_billing_surge"), replications=2, days=0.5, seed=4)
    log = res.journeys
    phone = log[log["channel"] == "phone"]
    closed = phone[phone["outcome"] == "closed"]
    per_rep = lambda frame: frame.groupby("replication").size().reindex(range(2), fill_value=0).mean()  # noqa: E731
    kpis = res.kpis["mean"]
    assert kpis["focal_closed"] == per_rep(closed) > 0
    assert kpis["avoidable_closed"] == per_rep(closed[closed["seq"] > 0])
    assert kpis["focal_contacts"] == per_rep(phone)  # the survey's definition: every call counts
    assert kpis["focal_closed"] == res.channels.loc[("phone", "closed"), "mean"]


def _strict_json(text: str):
    def refuse(word):
        raise ValueError(f"not JSON: bare {word}")
    return json.loads(text, parse_constant=refuse)


def test_every_json_output_is_strict_json(tmp_path):
    from simulator.contact_log import to_contact_log

    # one replication leaves intervals undefined; a phone-free web channel leaves queue figures undefined
    short = ["-d", "0.05", "-q", "-w", "1"]
    res_dir = tmp_path / "res"
    commands = [
        ["run", DAILY_CENTRE, "-r", "1", *short, "--json", "--out", str(res_dir)],
        ["compare", DAILY_CENTRE, "--set-variant", "b:channels.chat.agents=25", "-r", "1", *short, "--json"],
        ["staff", DAILY_CENTRE, "--target", "channels.phone.service_level>=0.2", "--channels", "phone",
         "-r", "1", *short, "--max-evaluations", "30", "--json"],
        ["analyze", DAILY_CENTRE, "--simulate", "-r", "2", *short, "--json"],
        ["calibrate", DAILY_CENTRE, "--targets", "nice_bcg_2016", "--out", str(tmp_path / "c.toml"), "--json"],
    ]
    for args in commands:
        result = CliRunner().invoke(main, args, catch_exceptions=False)
        assert result.exit_code == 0, (args, result.output)
        _strict_json(result.stdout)
    _strict_json((res_dir / "result.json").read_text())
    log = tmp_path / "log.csv"
    to_contact_log(sim.run(sim.load_scenario("nice_bcg_2016"), 1, days=0.05), replication=0).to_csv(log, index=False)
    result = CliRunner().invoke(main, ["estimate", str(log), "--censor-minutes", "0", "--json"])
    assert result.exit_code == 0, result.output
    _strict_json(result.stdout)


@pytest.mark.parametrize("command, work", [
    (["estimate", "log.csv"], "simulator.cli.estimate.read_contact_log"),
    (["report", "-r", "2", "-d", "0.05", "-q"], "simulator.cli.charts.run_scenario"),
    (["calibrate", "nice_bcg_2016", "--targets", "nice_bcg_2016"], "simulator.cli.analyze.calibrate"),
])
def test_an_unwritable_output_file_fails_before_the_work(command, work, tmp_path, monkeypatch):
    def not_now(*args, **kwargs):
        raise AssertionError("the work started before the output path was checked")

    monkeypatch.setattr(work, not_now)
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, [*command, "--out", str(blocker / "sub" / "out.x")])
    assert result.exit_code == 2, result.output
    assert "--out" in result.output and "its folder" in result.output


def test_a_byte_order_mark_is_accepted_in_scenario_and_targets_files(tmp_path):
    from simulator.scenario import bundled_dir

    bom = b"\xef\xbb\xbf"
    scenario = tmp_path / "bom.toml"
    scenario.write_bytes(bom + Path(DAILY_CENTRE).read_bytes())  # a daily centre: a fit in a few rounds
    targets = tmp_path / "targets.toml"
    targets.write_bytes(bom + (bundled_dir() / "targets" / "nice_bcg_2016.toml").read_bytes())
    assert invoke("validate", str(scenario)).exit_code == 0
    out = tmp_path / "calibrated.toml"
    result = invoke("calibrate", str(scenario), "--targets", str(targets), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert not out.read_bytes().startswith(bom) and sim.load_scenario(out).name == "daily_centre"


def test_numeric_runtime_warnings_stay_off_stderr(monkeypatch):
    # whatever computes an undefined figure (0 / 0 here, in the run itself) must not print numpy's
    # RuntimeWarning under the command's output: the figure is shown as undefined instead
    import numpy as np
    import simulator.cli.run as run_module

    real_run = run_module.run_scenario

    def run_with_an_undefined_ratio(*args, **kwargs):
        np.float64(0.0) / np.float64(0.0)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(run_module, "run_scenario", run_with_an_undefined_ratio)
    with pytest.warns(RuntimeWarning):  # outside the command, the warning is there
        np.float64(0.0) / np.float64(0.0)
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(main, ["run", *SHORT], catch_exceptions=False)
    assert result.exit_code == 0
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]
    assert "RuntimeWarning" not in result.output


def test_the_wait_chart_warns_nothing_when_the_first_channel_has_no_wait():
    import warnings

    from simulator.plots import wait_distribution

    from conftest import make_scenario

    # chat, drawn first, has agents to spare: nobody waits, so its panel has no bars to name in a legend
    res = sim.run(make_scenario({"channels.chat.agents": 200, "run.days": 0.1}), replications=1, seed=1)
    log = res.journeys
    assert len(log[log["channel"] == "chat"]) and (log[log["channel"] == "chat"]["wait"] == 0).all()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        wait_distribution(res)
    assert not caught, [str(w.message) for w in caught]


def test_run_warns_about_an_overloaded_queue_as_analyze_does():
    overloaded = CliRunner().invoke(main, ["run", DAILY_CENTRE, *SHORT, "--set", "channels.phone.agents=20"])
    assert overloaded.exit_code == 0
    assert "warning: phone: overloaded" in overloaded.stderr
    assert "phone: overloaded" in invoke("analyze", DAILY_CENTRE, "--set", "channels.phone.agents=20").output
    fine = CliRunner().invoke(main, ["run", DAILY_CENTRE, *SHORT])
    assert "overloaded" not in fine.stderr
