"""The commands on a scenario with agent groups, chat concurrency and call backs.

Each command a planner uses for what-ifs is run through the command line on
a small grouped centre (``conftest.grouped_centre``), changing the new
fields with ``--set``, ``--set-variant`` and ``--vary``, and its output is
read back: the groups are there, the changed field took effect.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from click.testing import CliRunner

import simulator as sim
from simulator.cli import main

from conftest import grouped_centre


@pytest.fixture
def centre_file(tmp_path):
    path = tmp_path / "grouped.toml"
    path.write_text(grouped_centre().to_toml())
    return path


def invoke(*args):
    result = CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result


def test_run_sets_group_concurrency_and_call_back_fields(centre_file, tmp_path):
    doc = json.loads(invoke("run", centre_file, "-r", "2", "-w", "1", "-q", "--json",
                            "--set", "groups.service_desk.agents=7", "--set", "channels.chat.concurrency=3",
                            "--set", "groups.service_desk.reserve.email=2",
                            "--set", "channels.phone.callback.accept=0.8").stdout)
    assert doc["groups"]["service_desk"]["agents"]["mean"] == pytest.approx(7)
    assert set(doc["groups"]) == {"service_desk", "chat"}  # chat's own agents are a group of its own
    assert "slot_occupancy" in doc["channels"]["chat"] and "callbacks_offered" in doc["channels"]["phone"]
    bad = CliRunner().invoke(main, ["run", str(centre_file), "--set", "groups.service_dsk.agents=7", "-q"])
    assert bad.exit_code == 2 and "no group 'service_dsk'" in bad.output and "did you mean" in bad.output


def test_compare_a_bigger_blended_group(centre_file):
    doc = json.loads(invoke("compare", centre_file, "--set-variant", "more:groups.service_desk.agents=7",
                            "--set-variant", "chats:channels.chat.concurrency=3",
                            "-r", "2", "-w", "1", "-q", "--json").stdout)
    rows = pd.DataFrame(doc["rows"])
    cost = rows[(rows["kpi"] == "groups.service_desk.cost")].set_index("scenario")["mean"]
    assert cost["more"] == pytest.approx(cost[doc["base"]] * 7 / 5)
    assert {"more", "chats"} <= set(rows["scenario"])


def test_sweep_the_agents_of_a_group(centre_file, tmp_path):
    out = tmp_path / "sweep"
    result = invoke("sweep", centre_file, "--vary", "groups.service_desk.agents=4:6:1", "-r", "2", "-w", "1", "-q",
                    "-o", out, "--show", "groups.service_desk.occupancy", "--show", "channels.phone.service_level",
                    "--charts", tmp_path / "charts")
    table = pd.read_parquet(out / "sweep.parquet")
    occupancy = table[table["kpi"] == "groups.service_desk.occupancy"].sort_values("groups.service_desk.agents")
    assert list(occupancy["groups.service_desk.agents"]) == [4, 5, 6]
    assert occupancy["mean"].is_monotonic_decreasing  # same customers (common seed), more agents
    assert "groups.service_desk.occupancy" in result.output and (tmp_path / "charts" / "sweep.png").exists()


def test_report_of_a_grouped_centre(centre_file, tmp_path):
    out = tmp_path / "report.html"
    invoke("report", centre_file, "-r", "2", "-w", "1", "-q", "--out", out, "--set", "channels.chat.concurrency=3",
           "--compare", "more: groups.service_desk.agents=6")
    page = out.read_text(encoding="utf-8")
    assert "service_desk" in page and "groups.service_desk.agents" in page


def test_analyze_shows_groups_beside_the_simulation(centre_file):
    doc = json.loads(invoke("analyze", centre_file, "--simulate", "-r", "2", "-w", "1", "-q", "--json",
                            "--set", "groups.service_desk.agents=6").stdout)
    desk = doc["groups"]["service_desk"]
    assert desk["agents"]["analytic"] == 6 and desk["agents"]["mean"] == pytest.approx(6)
    assert {"occupancy", "slot_occupancy", "agent_hours", "cost", "skill_share.phone", "skill_share.email"} <= set(desk)
    assert set(desk["occupancy"]) == {"analytic", "mean", "ci_low", "ci_high", "outside"}
    assert "callbacks_offered" in doc["channels"]["phone"]
    text = invoke("analyze", centre_file).output
    assert "agent group metric" in text and "service_desk skill_share.email" in text
    assert "email, phone share agents (service_desk)" in text  # the pool, named in the weak spots
    assert any("reserve for email" in w for w in doc["approximation"]["weaknesses"])


def test_staffing_the_blended_group_keeps_the_phone_target(centre_file):
    doc = json.loads(invoke("staff", centre_file, "--groups", "service_desk", "--target",
                            "channels.phone.service_level>=0.8", "-r", "2", "-w", "1", "-q", "--json").stdout)
    assert list(doc["agents"]) == ["service_desk"]
    staffed = sim.load_scenario(str(centre_file)).with_changes(
        {"groups.service_desk.agents": doc["agents"]["service_desk"]})
    assert staffed.group("service_desk").agents == doc["agents"]["service_desk"]


def test_run_warns_where_a_blended_channel_cannot_keep_up_as_analyze_does(centre_file):
    # three agents for calls and, in their quiet moments, emails: the emails' backlog grows through
    # the night; run's quick check (before the fixed point) names the hours analyze names
    short = CliRunner().invoke(main, ["run", str(centre_file), "-r", "2", "-w", "1", "-q",
                                      "--set", "groups.service_desk.agents=3"])
    assert short.exit_code == 0, short.output
    warned = [line for line in short.stderr.splitlines() if line.startswith("warning: email: overloaded")]
    assert len(warned) == 1
    doc = json.loads(invoke("analyze", centre_file, "--json", "--set", "groups.service_desk.agents=3").stdout)
    noted = [w for w in doc["approximation"]["weaknesses"] if w.startswith("email: overloaded")]
    assert noted and warned[0].split(" in ")[1].split(":")[0] == noted[0].split(" in ")[1].split(";")[0]
    fine = CliRunner().invoke(main, ["run", str(centre_file), "-r", "2", "-w", "1", "-q"])
    assert "overloaded" not in fine.stderr


def test_a_reserve_that_shrinkage_leaves_no_agent_for_is_refused(centre_file):
    # 2 agents less 30 % shrinkage leave 1 on duty, and the email reserve keeps 1 idle: no email would
    # ever be answered (the simulation used to run until it stopped with a traceback)
    result = CliRunner().invoke(main, ["run", str(centre_file), "-q", "--set", "groups.service_desk.agents=2",
                                       "--set", "groups.service_desk.shrinkage=0.3"])
    assert result.exit_code == 2
    assert ("groups.service_desk.reserve.email: keeps 1 agent(s) idle, but the group has at most 1 on duty "
            "(2 scheduled less 30 % shrinkage, rounded)") in result.output
    assert "Traceback" not in result.output
