"""The contactflow command line: output formats, overrides and clean errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest
from click.testing import CliRunner

from simulator.cli import main, parse_assignment

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
    assert set(doc) == {"scenario", "replications", "seed", "kpis", "channels", "before_call", "after_call"}
    stat = doc["kpis"]["avoidable_call_share"]
    assert set(stat) == {"mean", "ci_low", "ci_high"} and stat["ci_low"] <= stat["mean"] <= stat["ci_high"]
    assert set(doc["channels"]) == {"web", "email", "chat", "phone"}
    assert "service_level" in doc["channels"]["phone"]
    assert set(doc["after_call"]) == {"web", "email", "chat", "phone", "give_up", "resolved"}
    assert set(doc["before_call"]) == {"web", "email", "chat"}
    assert doc["channels"]["web"]["occupancy"]["mean"] is None  # NaN is written as null


def test_set_overrides_a_field_and_seed_reproduces():
    a = json.loads(invoke("run", "--json", "--seed", "5", "--set", "channels.phone.agents=200", *SHORT).stdout)
    b = json.loads(invoke("run", "--json", "--seed", "5", "--set", "channels.phone.agents=200", *SHORT).stdout)
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
                     "channels.web.handle_time: mean must be > 0; got 0",
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

    from simulator.experiment import atomic_write

    old = os.umask(0o022)
    try:
        path = atomic_write(tmp_path / "shared.txt", lambda p: p.write_text("x"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
