"""Sequential precision (stopping rule, run and CLI) and the MSER-5 warm-up suggestion."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

import simulator as sim
from simulator.cli import main
from simulator.precision import MAX_GROWTH, Precision, check_figure, figure_index, figure_key, half_width
from simulator.scenario import Scenario
from simulator.transient import settling_time
from simulator.warmup import mser, suggest_warmup

from conftest import make_scenario


# --------------------------------------------------------------------------- the rule


def test_figure_names_round_trip():
    for key in ("give_up_rate", "channels.phone.service_level", "before_call.email", "after_call.give_up"):
        assert figure_key(*figure_index(key)) == key
    with pytest.raises(KeyError, match="no figure"):
        figure_index("channels.phone")


@pytest.mark.parametrize("key, message", [
    ("give_up_rat", "not a KPI; did you mean 'give_up_rate'?"),
    ("service_level", "other figures are channels.CHANNEL.METRIC, before_call.CHANNEL or after_call.TARGET"),
    ("channels.fax.service_level", "no channel 'fax'"),
    ("channels.phone.speed", "no channel metric 'speed'"),
    ("before_call.phone", "before_call has no column 'phone'"),
])
def test_check_figure_names_what_is_allowed(key, message):
    with pytest.raises(KeyError, match=message):
        check_figure(key, make_scenario())


@pytest.mark.parametrize("texts, message", [
    (["give_up_rate"], "is not FIGURE=HALF_WIDTH"),
    (["give_up_rate=0"], "half-width > 0"),
    (["give_up_rate=abc"], "half-width > 0"),
    ([], "at least one"),
])
def test_parse_errors(texts, message):
    with pytest.raises(ValueError, match=message):
        Precision.parse(texts)


def test_stops_when_every_half_width_is_at_its_target():
    p = Precision({"a": 0.1, "b": 1.0})
    rng = np.random.default_rng(0)
    narrow, wide = rng.normal(0, 0.05, 10), rng.normal(0, 10.0, 10)
    assert half_width(narrow) <= 0.1
    assert p.replications_needed({"a": narrow, "b": narrow}) == 10
    more = p.replications_needed({"a": narrow, "b": wide})
    assert 10 < more <= MAX_GROWTH * 10  # asks for more, but never more than doubles at once
    assert Precision({"b": 1.0}, max_replications=12).replications_needed({"b": wide}) == 12
    assert Precision({"b": 1.0}, max_replications=10).replications_needed({"b": wide}) == 10


def test_the_estimate_of_replications_needed_is_the_t_interval_formula():
    p = Precision({"x": 0.5}, max_replications=10_000)
    s = 1.0
    needed = p._replications_for(s, 0.5, 5)  # the smallest n with t(n-1) s / sqrt(n) <= 0.5
    assert needed > 6
    assert stats.t.ppf(0.975, needed - 1) * s / math.sqrt(needed) <= 0.5
    assert stats.t.ppf(0.975, needed - 2) * s / math.sqrt(needed - 1) > 0.5


def test_a_skewed_figure_is_planned_with_the_width_of_its_own_interval():
    # same mean and spread, one skewed: its interval is wider, so it needs more replications
    rng = np.random.default_rng(5)
    skewed = rng.lognormal(0.0, 1.0, 10)
    half = rng.normal(0.0, 1.0, 5)
    symmetric = np.concatenate([half, -half])  # no skewness: the Student-t interval
    symmetric = skewed.mean() + symmetric * skewed.std(ddof=1) / symmetric.std(ddof=1)
    assert half_width(skewed) > 1.3 * half_width(symmetric)
    p = Precision({"x": 0.8 * half_width(symmetric)}, max_replications=1_000)
    needed = {name: p.replications_needed({"x": values}) for name, values in
              (("symmetric", symmetric), ("skewed", skewed))}
    assert 10 < needed["symmetric"] < needed["skewed"], needed


def test_a_figure_undefined_in_every_replication_is_an_error():
    with pytest.raises(ValueError, match="undefined in every replication"):
        Precision({"x": 0.1}).replications_needed({"x": np.full(3, np.nan)})


def test_run_adds_replications_until_the_target_is_met(scenario):
    sc = scenario.with_changes({"run.days": 0.25})
    res = sim.run(sc, replications=3, seed=4, keep_journeys=False, precision={"give_up_rate": 0.006})
    report = res.precision
    assert report.met and res.replications > 3 and report.replications == res.replications
    stat = res.stat("give_up_rate")
    assert (stat["ci_high"] - stat["ci_low"]) / 2 <= 0.006
    assert report.half_widths["give_up_rate"] == pytest.approx((stat["ci_high"] - stat["ci_low"]) / 2)
    # the rule only looks at finished batches: the same answer on two processes
    again = sim.run(sc, replications=3, seed=4, keep_journeys=False, precision={"give_up_rate": 0.006}, workers=2)
    assert again.replications == res.replications
    pd.testing.assert_frame_equal(again.per_replication, res.per_replication)
    # and the replications are the plain run's first ones
    plain = sim.run(sc, replications=res.replications, seed=4, keep_journeys=False)
    pd.testing.assert_frame_equal(plain.per_replication, res.per_replication)


def test_run_stops_at_the_maximum_and_says_so(scenario):
    sc = scenario.with_changes({"run.days": 0.1})
    res = sim.run(sc, replications=2, seed=4, keep_journeys=False,
                  precision=Precision({"give_up_rate": 1e-6}, max_replications=5))
    assert res.replications == 5 and not res.precision.met
    assert "NOT reached" in res.precision.text()
    assert res.to_dict()["precision"]["met"] is False


def test_cli_run_precision(tmp_path, scenario):
    path = tmp_path / "centre.toml"
    path.write_text(scenario.with_changes({"run.days": 0.25}).to_toml())
    args = ["run", str(path), "-r", "3", "-w", "1", "-q", "--precision", "give_up_rate=0.006"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0 and "precision reached after" in result.output
    doc = json.loads(CliRunner().invoke(main, [*args, "--json"]).stdout)
    assert doc["precision"]["met"] and doc["replications"] == doc["precision"]["replications"] > 3
    bad = CliRunner().invoke(main, ["run", str(path), "-q", "--precision", "channels.fax.contacts=1"])
    assert bad.exit_code == 2 and "no channel 'fax'" in bad.output


# --------------------------------------------------------------------------- warm-up


def test_mser_finds_the_end_of_a_transient():
    rng = np.random.default_rng(3)
    noise = rng.normal(0.0, 1.0, 2000)
    ramp = np.r_[np.linspace(8.0, 0.0, 300), np.zeros(1700)]
    assert 200 <= mser(ramp + noise) <= 400
    assert mser(noise) <= 100  # a stationary series needs (almost) no truncation
    with pytest.raises(ValueError, match="at least 20 observations"):
        mser(np.ones(10))


def heavy_queue(days: float = 1.0) -> Scenario:
    """M/M/20 at 97 % load: starting empty, the queue takes hours to build up."""
    phone = {"agents": 20, "handle_time": {"dist": "exponential", "mean": 6.0}, "resolve": 1.0,
             "next": {"give_up": 1.0}}
    return Scenario.from_dict({"name": "heavy", "run": {"days": days, "warmup_hours": 0, "seed": 2},
                               "arrivals": {"per_hour": 194, "first_channel": {"phone": 1.0}},
                               "channels": {"phone": phone}})


def test_suggested_warmup_covers_the_start_up_of_a_heavy_queue():
    suggestion = suggest_warmup(heavy_queue(), replications=4, seed=1)
    exact = settling_time(194 / 60, 6.0, 20) / 60  # about two days at 97 %: MSER alone saw 5 to 20 hours
    assert suggestion.hours == pytest.approx(max(exact, suggestion.per_channel["phone"]), abs=0.01)
    waits = suggestion.series["phone"]
    early = waits[waits.index < 30].mean()  # the first half hour, starting empty
    late = waits[waits.index >= 12 * 60].mean()  # the second half of the day, still filling
    assert early < late / 2
    assert suggestion.apply(heavy_queue()).run.warmup_hours == suggestion.hours


def test_warmup_refuses_a_scenario_that_is_not_a_steady_state():
    with pytest.raises(ValueError, match="hourly_profile varies"):
        suggest_warmup(make_scenario({"arrivals.hourly_profile": [1] * 12 + [2] * 12}))


def test_cli_warmup(tmp_path):
    path = tmp_path / "heavy.toml"
    path.write_text(heavy_queue(0.5).to_toml())
    result = CliRunner().invoke(main, ["warmup", str(path), "-r", "2", "-w", "1"], catch_exceptions=False)
    assert result.exit_code == 0 and "--set run.warmup_hours=" in result.output
