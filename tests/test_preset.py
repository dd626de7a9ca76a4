"""The bundled Nice–BCG preset reproduces the survey's five figures."""

from __future__ import annotations

import simulator as sim


def test_default_run_of_the_preset_reproduces_the_survey_within_half_a_point():
    # Issue 3 asks for ±1.5 percentage points; refitted with `contactflow
    # calibrate` against scenarios/targets/nice_bcg_2016.toml (issue 4), a
    # default run (the scenario's own replications, days and seed, as
    # `contactflow run` does it) must land within ±0.5 point of every figure.
    sc = sim.load_scenario("nice_bcg_2016")
    assert set(sc.reference) == {"before_call.email", "avoidable_call_share",
                                 "callers_continue_share", "after_call.chat", "after_call.give_up"}
    res = sim.run(sc, keep_journeys=False, workers=2)
    assert res.replications == sc.run.replications
    table = res.reference()
    print("\n" + table.round(4).to_string())
    assert (table["diff"].abs() <= 0.005).all(), table
    # the CI must be tight enough for that check to mean something
    assert ((table["ci_high"] - table["ci_low"]) < 0.01).all(), table


def test_the_bundled_scenarios_run_without_an_overload_warning():
    # The preset leaves the night's emails for the morning shift (by design: the backlog is worked off
    # each day), and its blended groups keep up; run's quick check must not call that an overload.
    from simulator.network import quick_overload_notes

    for name in ("nice_bcg_2016", "insurer_claims"):
        assert quick_overload_notes(sim.load_scenario(name)) == [], name
