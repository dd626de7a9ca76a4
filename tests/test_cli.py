"""The contactflow command line: output formats, overrides and clean errors."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pandas as pd
import pytest
import tomli_w
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.cli import main, parse_assignment
from conftest import DAILY_CENTRE
from strategies import valid_scenarios

SHORT = ["-r", "2", "-d", "0.05", "-q", "-w", "1"]


def invoke(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_run_preset_prints_kpis_beside_published_figures():
    result = invoke("run", *SHORT)
    assert result.exit_code == 0, result.output
    out = result.output
    assert "avoidable_call_share" in out and "published" in out and "70.0 %" in out
    assert "Before the call" in out and "After the call" in out


def test_json_is_one_document_with_every_table():
    result = invoke("run", "--json", *SHORT)
    doc = json.loads(result.stdout)
    assert doc["scenario"] == "nice_bcg_2016" and doc["replications"] == 2 and doc["seed"] == 2016
    assert set(doc) == {"scenario", "replications", "seed", "days", "warmup_hours", "warmup", "contactflow",
                        "kpis", "channels", "groups", "before_call", "after_call", "per_day"}
    stat = doc["kpis"]["avoidable_call_share"]
    assert set(stat) == {"mean", "ci_low", "ci_high"} and stat["ci_low"] <= stat["mean"] <= stat["ci_high"]
    assert set(doc["channels"]) == {"web", "email", "chat", "phone"}
    assert "service_level" in doc["channels"]["phone"]
    assert set(doc["after_call"]) == {"web", "email", "chat", "phone", "give_up", "resolved"}
    assert set(doc["before_call"]) == {"web", "email", "chat"}
    assert doc["channels"]["web"]["occupancy"]["mean"] is None  # NaN is written as null


def test_set_overrides_a_field_and_seed_reproduces():
    a = json.loads(invoke("run", DAILY_CENTRE, "--json", "--seed", "5", "--set", "channels.phone.agents=200",
                          *SHORT).stdout)
    b = json.loads(invoke("run", DAILY_CENTRE, "--json", "--seed", "5", "--set", "channels.phone.agents=200",
                          *SHORT).stdout)
    assert a == b and a["seed"] == 5
    assert a["channels"]["phone"]["abandon_rate"]["mean"] == 0.0  # 200 agents: nobody waits long


def test_out_writes_json_csv_and_parquet(tmp_path):
    out = tmp_path / "res"
    result = invoke("run", "--out", str(out), *SHORT)
    assert result.exit_code == 0
    names = {p.name for p in out.iterdir()}
    assert {"result.json", "kpis.csv", "channels.csv", "before_call.csv", "after_call.csv",
            "per_replication.csv", "journeys.parquet"} <= names
    assert not [n for n in names if n.endswith(".tmp")]
    journeys = pd.read_parquet(out / "journeys.parquet")
    kpis = pd.read_csv(out / "kpis.csv", index_col=0)
    per_rep = journeys.groupby("replication").size()
    assert per_rep.mean() == pytest.approx(kpis.loc["contacts", "mean"])
    assert json.loads((out / "result.json").read_text())["replications"] == 2


def test_out_saves_the_scenario_as_run_and_it_reproduces_the_numbers(tmp_path):
    out = tmp_path / "res"
    first = invoke("run", DAILY_CENTRE, "--out", str(out), "--set", "channels.chat.agents=9", "-s", "5", *SHORT)
    assert first.exit_code == 0, first.output
    saved = (out / "scenario.toml").read_text()
    assert "agents = 9" in saved and "service_level_seconds = 20.0" in saved  # --set and defaults written out
    again = invoke("run", str(out / "scenario.toml"), "--json", "-q", "-w", "1")  # nothing else given
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout) == json.loads((out / "result.json").read_text())


def result_files(folder):
    return sorted(p.name for p in folder.iterdir())


def test_a_failed_save_leaves_the_previous_result_set_whole(tmp_path, monkeypatch):
    out = tmp_path / "res"
    assert invoke("run", "--out", str(out), "-s", "1", *SHORT).exit_code == 0
    before = {name: (out / name).read_bytes() for name in result_files(out)}

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", full_disk)  # the last file of the set fails
    failed = CliRunner().invoke(main, ["run", "--out", str(out), "-s", "2", *SHORT])
    assert failed.exit_code == 2 and "cannot write results" in failed.output
    assert {name: (out / name).read_bytes() for name in result_files(out)} == before  # no file of run 2
    assert result_files(tmp_path) == ["res"]  # no temporary folder left beside it


@pytest.mark.parametrize("one_step", [True, False], ids=["renameat2", "two renames"])
def test_saving_again_replaces_the_whole_set(tmp_path, monkeypatch, one_step):
    import simulator as sim
    from conftest import make_scenario

    if not one_step:  # a system without an atomic exchange of two folders
        monkeypatch.setattr("simulator.files._exchange", lambda a, b: False)

    sc = make_scenario({"run.days": 0.05})
    sim.run(sc, replications=2, seed=1).save(tmp_path / "res")
    assert "journeys.parquet" in result_files(tmp_path / "res")
    sim.run(sc, replications=2, seed=2, keep_journeys=False).save(tmp_path / "res")
    assert "journeys.parquet" not in result_files(tmp_path / "res")  # not a log of the first run
    assert json.loads((tmp_path / "res" / "result.json").read_text())["seed"] == 2
    assert result_files(tmp_path) == ["res"]


def test_out_refuses_a_folder_with_other_files_before_running(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("mine")
    simulated = []
    monkeypatch.setattr("simulator.experiment.run_replication", lambda *a, **k: simulated.append(1))
    result = CliRunner().invoke(main, ["run", "--out", str(tmp_path), *SHORT])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"--out {tmp_path}: {tmp_path} holds files that are not a contactflow result (notes.txt)" in result.output
    assert not simulated and (tmp_path / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("args, expected", [
    (["run", "--set", "channels.chat.resolve=1.5"], "channels.chat.resolve: must be a probability in [0, 1]; got 1.5"),
    (["run", "--set", "channels.chat.resolv=0.5"], "did you mean 'resolve'?"),
    (["run", "--set", "nonsense"], "is not FIELD=VALUE"),
    (["run", "missing.toml"], "missing.toml: no such file or bundled scenario"),
    (["validate", "missing.toml"], "no such file"),
])
def test_bad_input_exits_2_without_traceback(args, expected):
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2
    assert expected in result.output
    assert "Traceback" not in result.output


def test_console_script_reports_every_problem_in_a_broken_file(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("""
name = "bad"
focal_channel = "call"
[arrivals]
per_hour = 10
first_channel = { web = 0.5, phone = 0.6 }
[channels.web]
agents = "unlimited"
handle_time = { dist = "exponential", mean = 0 }
resolve = 0.5
next = { web = 0.5, give_up = 0.5 }
[channels.phone]
agents = 3
handle_time = { dist = "exponential", mean = 5 }
resolve = 0.5
next = { give_up = 1.0 }
patiense = { dist = "exponential", mean = 5 }
""")
    proc = subprocess.run([sys.executable, "-m", "simulator", "validate", str(bad)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    for expected in ["focal_channel: 'call' is not a channel",
                     "arrivals.first_channel: probabilities must sum to 1; they sum to 1.1",
                     "channels.web.handle_time: mean must be from 1e-06 to 5,256,000 minutes (10 years); got 0",
                     "channels.phone.patiense: unknown key; did you mean 'patience'?"]:
        assert f"{bad}: {expected}" in proc.stderr


def test_validate_and_scenarios_list():
    result = invoke("validate", "nice_bcg_2016")
    assert result.exit_code == 0 and "valid" in result.output
    listing = invoke("scenarios").output
    assert "nice_bcg_2016" in listing and "bank_app_first" in listing


def test_help_on_every_command():
    for command in ([], ["run"], ["validate"], ["scenarios"]):
        result = invoke(*command, "--help")
        assert result.exit_code == 0 and "Usage" in result.output


def test_parse_assignment_reads_toml_values():
    assert parse_assignment("channels.chat.agents=25") == ("channels.chat.agents", 25)
    assert parse_assignment("channels.web.agents=unlimited") == ("channels.web.agents", "unlimited")
    assert parse_assignment("channels.chat.next={ phone = 0.5, give_up = 0.5 }")[1] == {"phone": 0.5, "give_up": 0.5}


def test_written_files_are_readable_by_others(tmp_path):
    import os
    import stat

    from simulator.files import atomic_write

    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "shared.txt", lambda p: p.write_text("x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644


# --------------------------------------------------------------------------- variants: one syntax everywhere


def variants_of(*texts, set_variant=(), changes=None):
    from conftest import make_scenario

    from simulator.cli.base import variant_scenarios

    return variant_scenarios(make_scenario(), texts, set_variant, changes=changes)


def test_variant_forms_give_named_scenarios(tmp_path):
    from conftest import make_scenario

    plan_b = tmp_path / "plan_b.toml"
    plan_b.write_text(make_scenario({"name": "plan_b", "channels.chat.agents": 9}).to_toml())
    variants = variants_of(
        "more chat: channels.chat.agents=6; channels.chat.resolve=0.7",  # labelled changes
        "channels.web.resolve=0.5",  # unlabelled: the changes are the name
        str(plan_b),  # a scenario file, named after its scenario
        "nice_bcg_2016",  # a bundled scenario
        set_variant=["better_chat:channels.chat.resolve=0.8", "more_phone:channels.phone.agents=10",
                     "better_chat:channels.chat.agents=5"],  # grouped by NAME
        changes={"run.days": 0.2})
    assert list(variants) == ["more chat", "channels.web.resolve=0.5", "plan_b", "nice_bcg_2016",
                              "better_chat", "more_phone"]
    assert variants["more chat"].channel("chat").agents == 6 and variants["more chat"].channel("chat").resolve == 0.7
    assert variants["channels.web.resolve=0.5"].channel("web").resolve == 0.5
    assert variants["better_chat"].channel("chat").resolve == 0.8 and variants["better_chat"].channel("chat").agents == 5
    assert variants["more_phone"].channel("phone").agents == 10
    # scenario files get the command's --set/--days changes; changes to the base inherit them from the base
    assert variants["plan_b"].channel("chat").agents == 9 and variants["plan_b"].run.days == 0.2
    assert variants["nice_bcg_2016"].run.days == 0.2
    assert variants["more chat"].run.days == make_scenario().run.days


def test_variant_names_of_our_making_stay_unique_and_values_may_hold_semicolons():
    variants = variants_of("description=a; b", "description=a; b",
                           "channels.chat.agents=6")
    assert list(variants) == ["description=a; b", "description=a; b (2)", "channels.chat.agents=6"]
    assert variants["description=a; b"].description == "a; b"  # a ';' not followed by FIELD= stays in the value


@pytest.mark.parametrize("texts, set_variant, message", [
    ((), ["nocolon"], "--set-variant 'nocolon': expected NAME:FIELD=VALUE"),
    ((), ["channels.chat.agents=5"], "expected NAME:FIELD=VALUE"),
    ((), ["test_network:channels.chat.agents=5"], "is the base scenario's name"),
    (("x: channels.chat.agents=5",), ["x:channels.chat.agents=6"], "the name 'x' is already given by VARIANT"),
    (("x: channels.chat.agents=5", "x: channels.chat.agents=6"), [], "already given"),
    ((), ["x:channels.chat.agents=5", "x:channels.chat.agents=6"], "channels.chat.agents is given twice (5 and 6)"),
    (("x: channels.chat.agentz=5",), [], "channels.chat.agentz: unknown key; did you mean 'agents'?"),
    ((), ["x:channels.chat.resolve=2"], "channels.chat.resolve: must be a probability in [0, 1]; got 2"),
    (("no_such_file.toml",), [], "no_such_file.toml: no such file or bundled scenario"),
])
def test_bad_variants_exit_2_naming_the_option(capsys, texts, set_variant, message):
    with pytest.raises(SystemExit) as exit_info:
        variants_of(*texts, set_variant=set_variant)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", [["compare"], ["report", "--out", "REPORT"]])
def test_compare_and_report_read_variants_the_same_way(tmp_path, command):
    from conftest import make_scenario

    path = tmp_path / "centre.toml"
    path.write_text(make_scenario().to_toml())
    command = [str(tmp_path / "r.html") if w == "REPORT" else w for w in command]
    variant = "more chat: channels.chat.agents=6; channels.chat.resolve=0.7"
    inline = ["--compare", variant] if command[0] == "report" else [variant]
    args = [*command, str(path), *inline, "--set-variant", "more_phone:channels.phone.agents=10",
            "--set-variant", "more_phone:channels.phone.resolve=0.8", "-r", "2", "-d", "0.05", "-q", "-w", "1"]
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    if command[0] == "compare":
        assert "Δ more chat [95 % CI]" in result.output and "Δ more_phone [95 % CI]" in result.output
    else:
        page = (tmp_path / "r.html").read_text(encoding="utf-8")
        assert "more chat" in page and "more_phone" in page and "channels.phone.resolve = 0.8" in page
        assert "--set-variant more_phone:channels.phone.agents=10" in page  # the command that rebuilds it
    bad = CliRunner().invoke(main, [*command, str(path), "--set-variant", "more_phone=3", "-q"])
    assert bad.exit_code == 2 and "expected NAME:FIELD=VALUE" in bad.output and "Traceback" not in bad.output



# --------------------------------------------------------------------------- checks at load time, --set blame


@pytest.mark.parametrize("command", [["validate"], ["run", "--charts", "CHARTS", *SHORT],
                                     ["report", "--out", "REPORT", "-q"]])
def test_bad_reference_figure_is_a_clean_error_before_running(tmp_path, command):
    import tomli_w

    from simulator import load_scenario

    data = load_scenario("nice_bcg_2016").to_dict()
    data["reference"]["figures"].update({"before_call.fax": 0.1, "avoidable_call_share": 70})
    path = tmp_path / "fax.toml"
    path.write_text(tomli_w.dumps(data))
    place = {"CHARTS": str(tmp_path / "charts"), "REPORT": str(tmp_path / "r.html")}
    result = CliRunner().invoke(main, [command[0], str(path), *(place.get(w, w) for w in command[1:])])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output == (
        f"{path}: 2 problem(s)\n"
        f"  {path}: reference.figures.avoidable_call_share: must be a share in [0, 1], e.g. 0.7 for 70 %; got 70\n"
        f"  {path}: reference.figures.\"before_call.fax\": unknown before_call column 'fax' "
        "(columns, the channels other than the focal phone: web, email, chat)\n")


def test_set_with_a_mistyped_channel_names_the_channels():
    result = CliRunner().invoke(main, ["validate", "nice_bcg_2016", "--set", "channels.chta.agents=25"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output == (
        "nice_bcg_2016: 1 problem(s)\n"
        "  nice_bcg_2016: channels.chta.agents: no channel 'chta'; did you mean 'chat'? "
        "(channels: web, email, chat, phone; a new channel needs its whole table, e.g. "
        "channels.chta={ agents = 5, ... }) (from --set channels.chta.agents=25)\n")


@pytest.mark.parametrize("args, expected", [
    (["--set", "channels.chat.agents=abc"],
     "channels.chat.agents: must be a whole number from 1 to 1,000,000, a list of 24 (or 168) "
     "hourly staffing levels, "
     "or \"unlimited\"; got 'abc' (from --set channels.chat.agents=abc)"),
    (["--set", "channels.chat.resolve=0.5",
      "--set", 'channels.chat.handle_time={ dist = "gamma", mena = 9.0, cv = 1 }'],
     "channels.chat.handle_time.mena: unknown key; did you mean 'mean'? allowed: dist, mean, cv "
     "(from --set channels.chat.handle_time={ dist = \"gamma\", mena = 9.0, cv = 1 })"),
    (["--set", "channels.chat.agents=unlimited"],
     "channels.chat.patience: self-service (agents = \"unlimited\") has no queue to abandon "
     "(after --set channels.chat.agents=unlimited)"),
    (["--set", "arrivals.per_hour=inf"],
     "arrivals.per_hour: must be a finite number >= 1e-06 and <= 1,000,000,000; got inf (from --set arrivals.per_hour=inf)"),
])
def test_set_mistakes_name_the_option_not_the_file(args, expected):
    result = CliRunner().invoke(main, ["validate", DAILY_CENTRE, *args])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"  {DAILY_CENTRE}: {expected}" in result.output.splitlines(), result.output


def test_variant_changes_name_the_assignment_at_fault(capsys):
    with pytest.raises(SystemExit):
        variants_of("x: channels.chat.agents=5; channels.chta.resolve=0.5")
    err = capsys.readouterr().err
    assert "channels.chta.resolve: no channel 'chta'; did you mean 'chat'?" in err
    assert err.rstrip().endswith("(from channels.chta.resolve=0.5)")


def test_a_file_variant_named_like_the_base_or_another_is_named_after_its_file(tmp_path):
    from conftest import make_scenario

    paths = []
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        paths.append(tmp_path / folder / "plan_b.toml")
        paths[-1].write_text(make_scenario({"channels.chat.agents": 5}).to_toml())  # named test_network, like the base
    other = tmp_path / "plan_c.toml"
    other.write_text(make_scenario({"name": "plan_b"}).to_toml())
    assert list(variants_of(*map(str, paths), str(other))) == ["plan_b", "plan_b (2)", "plan_c"]


@pytest.mark.parametrize("command", [
    ["run"], ["compare", "nice_bcg_2016", "--set-variant", "a:channels.chat.resolve=0.5"],
    ["sweep", "nice_bcg_2016", "--vary", "groups.digital.shrinkage=0.2,0.3", "-o", "{tmp}/sweep"]])
def test_an_unwritable_charts_folder_fails_before_anything_runs(command, tmp_path, monkeypatch):
    blocked = tmp_path / "file"
    blocked.write_text("")  # a file where the folder should go
    simulated = []
    monkeypatch.setattr("simulator.experiment.run_replication", lambda *a, **k: simulated.append(1))
    args = [w.replace("{tmp}", str(tmp_path)) for w in command]
    result = CliRunner().invoke(main, [*args, "-r", "1", "-d", "0.05", "-q", "--charts", str(blocked / "charts")])
    assert result.exit_code == 2, result.output
    assert f"--charts {blocked / 'charts'}: cannot write to this folder" in result.output
    assert not simulated and "Traceback" not in result.output


def test_a_set_that_breaks_a_variant_file_names_the_option(tmp_path):
    from conftest import make_scenario

    plan = tmp_path / "plan.toml"
    plan.write_text(make_scenario({"name": "plan"}).to_toml())
    # the daily centre has an email channel, the test network has none; an inline variant before the
    # file must not lend the file its own origins
    result = CliRunner().invoke(main, ["compare", DAILY_CENTRE, "x: channels.chat.agents=3", str(plan),
                                       "--set", "channels.email.agents=5", "-r", "1", "-d", "0.05", "-q"])
    assert result.exit_code == 2, result.output
    assert "channels.email.agents: no channel 'email'" in result.output
    assert "(from --set channels.email.agents=5)" in result.output


# --------------------------------------------------------------------------- scenarios at the edges


def test_a_focal_only_scenario_runs_with_every_output(tmp_path):
    """A phone-only scenario has no before-the-call table: every output says so instead of failing."""
    from conftest import focal_only_scenario

    path = tmp_path / "phone_only.toml"
    path.write_text(focal_only_scenario().to_toml())
    out, charts, page = tmp_path / "out", tmp_path / "charts", tmp_path / "r.html"
    text = invoke("run", str(path), *SHORT, "--out", str(out), "--charts", str(charts))
    assert text.exit_code == 0, text.output
    assert "phone contact\nnone: phone is the only channel\n" in text.output
    doc = json.loads(invoke("run", str(path), *SHORT, "--json").stdout)
    assert doc["before_call"] == {} and set(doc["after_call"]) == {"phone", "give_up", "resolved"}
    assert sum(s["mean"] for s in doc["after_call"].values()) == pytest.approx(1.0)
    assert json.loads((out / "result.json").read_text()) == doc
    before = pd.read_csv(out / "before_call.csv")
    assert before.empty and list(before.columns) == ["channel", "mean", "ci_low", "ci_high", "n"]
    assert {"before_after.png", "journey_flow.png", "wait_times.png"} <= {p.name for p in charts.iterdir()}
    report = invoke("report", str(path), "-r", "2", "-d", "0.05", "-q", "--out", str(page))
    assert report.exit_code == 0, report.output
    assert "No other channel: callers had nothing to try before calling." in page.read_text(encoding="utf-8")
    asked = CliRunner().invoke(main, ["run", str(path), "--precision", "before_call.web=0.1"])
    assert asked.exit_code == 2 and asked.output == (
        "--precision: before_call.web: before_call has no column 'web' (it has none: phone is the only channel)\n")


def test_a_window_without_customers_gives_empty_figures_not_errors(tmp_path):
    """No customer in a very short window: counts are 0, shares undefined, charts say so."""
    from conftest import make_scenario

    path = tmp_path / "quiet.toml"
    path.write_text(make_scenario({"arrivals.per_hour": 1e-4}).to_toml())
    charts, page = tmp_path / "charts", tmp_path / "r.html"
    result = invoke("run", str(path), *SHORT, "--charts", str(charts))
    assert result.exit_code == 0, result.output
    assert "(undefined: no customer contacted phone in the measured window)" in result.output
    report = invoke("report", str(path), "-r", "2", "-d", "0.05", "-q", "--out", str(page))
    assert report.exit_code == 0, report.output
    doc = json.loads(invoke("run", str(path), *SHORT, "--json").stdout)
    assert doc["kpis"]["customers"]["mean"] == 0 and doc["kpis"]["give_up_rate"]["mean"] is None


def test_precision_of_a_figure_no_replication_defines_is_a_clean_error(tmp_path):
    """No customer in the window: give_up_rate is undefined, so no number of replications reaches a precision."""
    from conftest import make_scenario

    path = tmp_path / "quiet.toml"
    path.write_text(make_scenario({"arrivals.per_hour": 1e-4}).to_toml())
    result = CliRunner().invoke(main, ["run", str(path), "-d", "0.05", "-q", "-w", "1",
                                       "--precision", "give_up_rate=0.2", "--max-replications", "4"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith("--precision: give_up_rate is undefined in every replication so far")


# --------------------------------------------------------------------------- property tests: every command


def through_cli(*args):
    """Invoke a command; assert it succeeded (no traceback) and return its stdout."""
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, f"{' '.join(map(str, args))} exited {result.exit_code}:\n{result.output}"
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return result.stdout


def random_scenario_file(tmp_path_factory, data):
    from simulator.scenario import Scenario

    folder = tmp_path_factory.mktemp("random")
    path = folder / "random.toml"
    path.write_text(tomli_w.dumps(data))
    return Scenario.from_dict(data), folder, path


#: Each example runs whole commands: few of them, no deadline.
QUICK_EXAMPLES = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                HealthCheck.function_scoped_fixture])


@settings(QUICK_EXAMPLES, max_examples=10)
@given(data=valid_scenarios(), seed=st.integers(0, 2**32 - 1))
def test_random_valid_scenarios_go_through_run_compare_and_analyze(tmp_path_factory, data, seed):
    """A scenario that validates (1 to 8 channels) runs through run (text, --out, --json), compare
    and analyze, each table with its expected rows."""
    sc, folder, path = random_scenario_file(tmp_path_factory, data)
    short = ["-r", "2", "-s", seed, "-q", "-w", "1"]
    others = [n for n in sc.channel_names if n != sc.focal_channel]

    text = through_cli("run", path, *short, "--out", folder / "out")
    assert "Before the call" in text and "After the call" in text
    doc = json.loads(through_cli("run", path, *short, "--json"))
    assert list(doc["before_call"]) == others
    assert list(doc["after_call"]) == [*sc.channel_names, "give_up", "resolved"]
    assert json.loads((folder / "out" / "result.json").read_text()) == doc
    if doc["kpis"]["caller_share"]["mean"]:
        assert sum(s["mean"] for s in doc["after_call"].values()) == pytest.approx(1.0)

    variant = f"fewer:arrivals.per_hour={sc.arrivals.per_hour / 2}"
    compared = json.loads(through_cli("compare", path, *short, "--json", "--set-variant", variant))
    assert compared
    analyzed = json.loads(through_cli("analyze", path, "--json"))
    assert list(analyzed["before_call"]) == others
    through_cli("analyze", path, "--simulate", *short)


@settings(QUICK_EXAMPLES, max_examples=3)
@given(data=valid_scenarios(), seed=st.integers(0, 2**32 - 1))
def test_random_valid_scenarios_give_charts_and_a_report(tmp_path_factory, data, seed):
    """A scenario that validates (1 to 8 channels) gives every chart (run --charts) and a report
    comparing it with a variant."""
    sc, folder, path = random_scenario_file(tmp_path_factory, data)
    short = ["-r", "2", "-s", seed, "-q", "-w", "1"]
    through_cli("run", path, *short, "--charts", folder / "charts")
    assert (folder / "charts" / "before_after.png").is_file()
    through_cli("report", path, *short, "--out", folder / "report.html",
                "--compare", f"more: arrivals.per_hour={sc.arrivals.per_hour * 1.5}")
    assert "Before the call" in (folder / "report.html").read_text(encoding="utf-8")


# --------------------------------------------------------------------------- Ctrl-C: one behaviour everywhere


def raise_keyboard_interrupt(*args, **kwargs):
    raise KeyboardInterrupt  # as Ctrl-C does, wherever the program is


def required_arguments(command) -> list[str]:
    """Placeholder values for a command's required arguments and options (it is not run)."""
    args = []
    for param in command.params:
        if param.required:
            args += [param.opts[0], "x"] if isinstance(param, click.Option) else [__file__]
    return args


@pytest.mark.parametrize("command", sorted(main.commands))
def test_ctrl_c_in_any_command_exits_130_with_one_line(command, monkeypatch):
    monkeypatch.setattr(main.commands[command], "callback", raise_keyboard_interrupt)
    result = CliRunner().invoke(main, [command, *required_arguments(main.commands[command])])
    assert (result.exit_code, result.output) == (130, "interrupted\n")


@pytest.mark.parametrize("args, where", [
    (["run", DAILY_CENTRE, *SHORT], "simulator.cli.run.run_scenario"),
    (["analyze", "--simulate", *SHORT], "simulator.cli.analyze.run_scenario"),
    (["analyze"], "simulator.cli.analyze.approximate"),
    (["estimate", "log.csv"], "simulator.cli.estimate.read_contact_log"),
])
def test_ctrl_c_during_the_work_of_run_analyze_and_estimate_exits_130(args, where, monkeypatch, tmp_path):
    """They printed click's 'Aborted!' and exited 1."""
    (tmp_path / "log.csv").write_text("customer,timestamp,channel,outcome\n1,0,phone,resolved\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(where, raise_keyboard_interrupt)
    result = CliRunner().invoke(main, args)
    assert (result.exit_code, result.output) == (130, "interrupted\n")


#: A Ctrl-C while a module loads: the import of ``pandas`` raises KeyboardInterrupt.
INTERRUPTED_IMPORT = """
import sys

class CtrlC:
    def find_spec(self, name, path=None, target=None):
        if name == "pandas":
            raise KeyboardInterrupt

sys.meta_path.insert(0, CtrlC())
"""


@pytest.mark.parametrize("start", [
    "from simulator.cli import entry_point; entry_point(['run'])",  # the contactflow script
    "import runpy, sys; sys.argv = ['contactflow', 'run']; runpy.run_module('simulator', run_name='__main__')",
])
def test_ctrl_c_while_the_modules_load_exits_130_with_one_line(start):
    proc = subprocess.run([sys.executable, "-c", INTERRUPTED_IMPORT + start], capture_output=True, text=True)
    assert (proc.returncode, proc.stderr, proc.stdout) == (130, "interrupted\n", "")


def test_console_script_points_at_the_entry_point_that_catches_ctrl_c():
    import tomllib
    from pathlib import Path

    project = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    assert project["project"]["scripts"]["contactflow"] == "simulator.cli:entry_point"


#: Says "loading" on stderr when the command modules start to load (inside the entry point).
ANNOUNCE_LOADING = """
import sys

class Announce:
    def find_spec(self, name, path=None, target=None):
        if name == "simulator.cli.run":
            sys.stderr.write("loading\\n")
            sys.stderr.flush()

sys.meta_path.insert(0, Announce())
"""


#: Says "running" on stderr when the first replication starts.
ANNOUNCE_RUNNING = """
import sys
import simulator.experiment

simulate = simulator.experiment.run_replication

def announced(*args, **kwargs):
    if not getattr(announced, "said", False):
        announced.said = True
        sys.stderr.write("running\\n")
        sys.stderr.flush()
    return simulate(*args, **kwargs)

simulator.experiment.run_replication = announced
"""


@pytest.mark.parametrize("announce, moment", [(ANNOUNCE_LOADING, "loading"), (ANNOUNCE_RUNNING, "running")])
def test_sigint_while_loading_or_running_exits_130_with_one_line(announce, moment):
    """A real SIGINT, sent as soon as the modules start to load, or the first replication to run:
    the end is the same (no timing: the run is long)."""
    import signal

    start = announce + "from simulator.cli import entry_point\n" + \
        f"entry_point(['run', {DAILY_CENTRE!r}, '-r', '200', '-d', '2', '-q', '-w', '1'])"
    proc = subprocess.Popen([sys.executable, "-c", start], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stderr.readline() == f"{moment}\n"
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate()
    assert (proc.returncode, stderr, stdout) == (130, "interrupted\n", "")


def test_analyze_approximates_an_agent_group(tmp_path):
    """A [groups.NAME] table is approximated (it was refused before the pools): the groups table shows it."""
    from conftest import make_scenario

    path = tmp_path / "desk.toml"
    path.write_text(make_scenario({"channels.chat.agents": None,
                                   "groups.desk": {"agents": 4, "skills": {"chat": 1}}}).to_toml())
    result = CliRunner().invoke(main, ["analyze", str(path)])
    assert result.exit_code == 0 and "Traceback" not in result.output
    assert "agent group metric" in result.output and "desk occupancy" in result.output
