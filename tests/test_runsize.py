"""Run size: runs far beyond the machine are refused before they start, with the estimate and --force."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

import simulator as sim
from simulator import runsize
from simulator.analytic import JourneyChain
from simulator.cli import main
from simulator.runsize import CONTACTS_PER_SECOND, LOG_BYTES_PER_CONTACT, RunTooLarge, estimate_run

from conftest import DAILY_CENTRE

QUICK = ["-r", "1", "-d", "0.01", "-q", "-w", "1"]


def invoke(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def assert_refused(result):
    assert result.exit_code == 2, result.output
    text = result.output
    assert "this run is far beyond what this machine can do: it would take about" in text
    for words in ("customers", "contacts", f"at {CONTACTS_PER_SECOND:,} contacts a second", "memory about",
                  "use --force to run it anyway"):
        assert words in text
    assert "Traceback" not in text


@pytest.mark.parametrize("args", [
    ["run", "--set", "arrivals.per_hour=1e9"],  # ran until killed
    ["run", "--set", "run.warmup_hours=1e6", "-w", "1"],
    ["run", "-d", "100000", "-w", "1"],
    ["run", "-d", "100000", "-w", "1", "--out", "OUT"],
    ["compare", DAILY_CENTRE, "x:run.seed=3", "-d", "100000", "-w", "1"],
    ["sweep", DAILY_CENTRE, "--vary", "run.seed=1,2", "-d", "100000", "-w", "1", "-o", "OUT"],
    ["staff", DAILY_CENTRE, "--target", "give_up_rate<=0.1", "-d", "100000", "-w", "1"],
    ["warmup", DAILY_CENTRE, "-d", "100000", "-w", "1"],
    ["analyze", "--simulate", "-d", "100000", "-w", "1"],
    ["report", "-d", "100000", "-w", "1", "--out", "OUT/report.html"],
])
def test_a_run_far_beyond_the_machine_is_refused_with_its_estimate(args, tmp_path):
    result = invoke(*[str(tmp_path / "out") if a == "OUT" else a.replace("OUT", str(tmp_path)) for a in args],
                    "-q")
    assert_refused(result)


def test_the_estimate_names_the_kept_journey_log(tmp_path):
    result = invoke("run", "-d", "100000", "-w", "1", "--out", tmp_path / "out", "-q")
    assert_refused(result)
    assert "of it the journey log kept" in result.output


def test_force_runs_it_anyway(monkeypatch):
    monkeypatch.setattr(runsize, "MAX_WALL_HOURS", 1e-9)  # any run is "too long" now
    assert_refused(invoke("run", *QUICK))
    result = invoke("run", *QUICK, "--force")
    assert result.exit_code == 0, result.output
    assert "customers" in result.output
    sc = sim.load_scenario(DAILY_CENTRE)
    with pytest.raises(RunTooLarge, match="use force=True to run it anyway"):
        sim.run(sc, replications=1, days=0.01)
    assert sim.run(sc, replications=1, days=0.01, force=True).replications == 1
    with pytest.raises(RunTooLarge):
        sim.compare(sc.with_changes({"run.days": 0.01}), [sc.with_changes({"run.days": 0.01, "run.seed": 2})],
                    replications=1)


def test_customers_and_contacts_are_those_of_the_routing_chain_when_capacity_is_ample():
    sc = sim.load_scenario(DAILY_CENTRE).with_changes(
        {f"channels.{c}.agents": 10_000 for c in ("email", "chat", "phone")})
    size = estimate_run([(sc, 3)])
    hours = sc.run.warmup_hours + 24 * sc.run.days
    assert size.customers == pytest.approx(3 * sc.arrivals.per_hour * hours)
    assert size.contacts / size.customers == pytest.approx(JourneyChain(sc).contacts_per_customer, rel=1e-9)
    kept = estimate_run([(sc, 3)], keep_journeys=True)
    assert kept.log_bytes == pytest.approx(size.contacts * LOG_BYTES_PER_CONTACT)
    assert kept.memory_bytes > size.memory_bytes + kept.log_bytes  # and a worker holds the log it builds


def test_an_overloaded_channel_whose_customers_hang_up_and_call_again_makes_more_contacts():
    sc = sim.load_scenario(DAILY_CENTRE)
    overloaded = sc.with_changes({"channels.phone.agents": 5})
    assert estimate_run([(overloaded, 1)]).contacts > 1.3 * estimate_run([(sc, 1)]).contacts
    # which the simulation confirms
    simulated = [sim.run(s, replications=1, days=0.2, force=True).kpis.loc["contacts_per_customer", "mean"]
                 for s in (sc, overloaded)]
    assert simulated[1] > 1.3 * simulated[0]


def test_the_estimate_is_refused_only_far_beyond_the_machine():
    sc = sim.load_scenario(DAILY_CENTRE)
    assert estimate_run([(sc, 10)], workers=2).problems(memory=16e9) == []
    # 100,000 days of a sparse scenario: long in simulated time, quick to simulate
    sparse = sc.with_changes({"run.days": 100_000, "arrivals.per_hour": 0.01})
    assert estimate_run([(sparse, 10)], workers=1).problems(memory=16e9) == []
    assert estimate_run([(sc, 10)], keep_journeys=True).problems(memory=100e6) != []
