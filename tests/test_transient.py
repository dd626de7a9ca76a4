"""The start-up transient and the warm-up derived from it, against the Kolmogorov forward equations.

The reference here is independent of :mod:`simulator.transient`: the forward
equations of the M/M/c(+M) birth-death chain, integrated with scipy's stiff
ODE solver.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import sparse
from scipy.integrate import solve_ivp

import simulator as sim
from simulator.analytic import erlang_a
from simulator.cli import main
from simulator.transient import advise_warmup, queue_transient, settling_time, warmup_summary
from simulator.warmup import suggest_warmup


def forward_equations(arrival_rate, mean_handle, agents, times, mean_patience=math.inf, states=1500):
    """P(all agents busy) and the mean queue at ``times`` from an empty start, by solve_ivp."""
    n = np.arange(states + 1)
    theta = 0.0 if math.isinf(mean_patience) else 1.0 / mean_patience
    birth = np.where(n < states, arrival_rate, 0.0)
    death = np.minimum(n, agents) / mean_handle + np.maximum(n - agents, 0) * theta
    generator_t = sparse.diags([birth[:-1], death[1:], -(birth + death)], [-1, 1, 0], format="csr")
    start = np.zeros(states + 1)
    start[0] = 1.0
    solution = solve_ivp(lambda t, p: generator_t @ p, (0.0, float(max(times))), start, t_eval=times,
                         method="BDF", jac=generator_t, rtol=1e-10, atol=1e-13)
    p = solution.y.T
    return p[:, agents:].sum(axis=1), p @ np.maximum(n - agents, 0)


def queue_scenario(agents, per_hour, patience=None, warmup=None, days=0.25):
    phone = {"agents": agents, "handle_time": {"dist": "exponential", "mean": 5.0}, "resolve": 1.0,
             "next": {"give_up": 1.0}}
    if patience is not None:
        phone["patience"] = {"dist": "exponential", "mean": patience}
    run = {"days": days, "seed": 5}
    if warmup is not None:
        run["warmup_hours"] = warmup
    # half the customers help themselves on the web and leave: phone gets per_hour, a Poisson stream
    web = {"agents": "unlimited", "handle_time": {"dist": "exponential", "mean": 1.0}, "resolve": 1.0,
           "next": {"give_up": 1.0}}
    return sim.Scenario.from_dict({"name": "queue", "run": run,
                                   "arrivals": {"per_hour": 2 * per_hour,
                                                "first_channel": {"phone": 0.5, "web": 0.5}},
                                   "channels": {"phone": phone, "web": web}})


@pytest.mark.parametrize("rate, handle, agents, patience", [
    (1.9, 5.0, 10, math.inf),  # Erlang C at 95 %
    (3.0, 4.0, 12, 5.0),  # Erlang A
    (0.9, 1.0, 1, math.inf),  # M/M/1
])
def test_queue_transient_is_the_forward_equations(rate, handle, agents, patience):
    times = [0.0, 30.0, 120.0, 600.0, 1800.0]
    frame = queue_transient(rate, handle, agents, times, mean_patience=patience)
    p_wait, queue = forward_equations(rate, handle, agents, times, patience)
    assert np.allclose(frame["p_wait"], p_wait, atol=1e-7)
    assert np.allclose(frame["mean_queue"], queue, rtol=1e-6, atol=1e-7)
    steady = erlang_a(rate, handle, agents, patience) if not math.isinf(patience) else None
    if steady is not None:
        assert frame.attrs["steady_p_wait"] == pytest.approx(steady.p_wait, rel=1e-9)
        assert frame.attrs["steady_mean_queue"] == pytest.approx(steady.mean_queue, rel=1e-9)


@pytest.mark.parametrize("rate, agents", [(1.9, 10), (1.7, 10), (3.8, 20)])
def test_settling_time_is_where_the_forward_equations_come_within_one_percent(rate, agents):
    minutes = settling_time(rate, 5.0, agents)
    steady = sim.analytic.erlang_c(rate, 5.0, agents)
    p_wait, queue = forward_equations(rate, 5.0, agents, [0.99 * minutes, minutes])
    settled = (p_wait >= 0.99 * steady.p_wait) & (queue >= 0.99 * steady.mean_queue)
    assert not settled[0] and settled[1]


def test_a_queue_without_steady_state_never_settles():
    assert settling_time(2.0, 5.0, 10) == math.inf
    assert settling_time(1.999, 5.0, 10) == math.inf  # weeks: beyond what a warm-up is for


def window_bias(scenario, hours=6.0):
    """Exact expected relative bias of P(wait) and of the mean wait over the run's window (Erlang C)."""
    phone = scenario.channel("phone")
    rate = scenario.arrivals.per_hour * scenario.arrivals.first_channel["phone"] / 60.0
    start = scenario.run.warmup_minutes
    times = np.linspace(start, start + 60.0 * hours, 145)
    p_wait, queue = forward_equations(rate, 5.0, phone.agents, times)
    steady = sim.analytic.erlang_c(rate, 5.0, phone.agents)
    # an arrival at t waits for (queue ahead + 1) departures at rate c mu when all agents are busy
    wait = (queue + p_wait) * 5.0 / phone.agents
    return p_wait.mean() / steady.p_wait - 1.0, wait.mean() / steady.mean_wait - 1.0


@pytest.mark.parametrize("agents", [10, 20])
def test_the_default_warmup_leaves_no_bias_at_95_percent_load(agents):
    """At 95 % load a queue started empty is short for a day: the default warm-up must outlast it."""
    scenario = queue_scenario(agents, per_hour=0.95 * agents * 12)  # default settings: no warmup_hours
    assert scenario.run.warmup_derived and "phone" in scenario.run.warmup_reason
    p_wait_bias, wait_bias = window_bias(scenario)
    assert abs(p_wait_bias) <= 0.01 and abs(wait_bias) <= 0.01
    empty = window_bias(scenario.with_changes({"run.warmup_hours": 0}))
    assert empty[1] < -0.25  # what the runs got before: -30 to -40 % on the mean wait


def test_the_run_uses_and_reports_the_derived_warmup():
    scenario = queue_scenario(10, per_hour=114, days=0.05)
    hours = scenario.run.warmup_hours
    assert 25 < hours < 35
    result = sim.run(scenario, replications=2, seed=1)
    assert result.journeys["time"].min() >= hours * 60.0
    assert result.kpis.loc["customers", "mean"] == pytest.approx(228 * 0.05 * 24, rel=0.2)
    warmup = result.to_dict()["warmup"]
    assert warmup["hours"] == hours and warmup["derived"] and warmup["warning"] is None


def test_cli_says_which_warmup_and_warns_when_a_given_one_is_short(tmp_path):
    path = tmp_path / "queue.toml"
    path.write_text(queue_scenario(10, per_hour=114, warmup=1, days=0.02).to_toml())
    result = CliRunner().invoke(main, ["run", str(path), "-r", "2", "-w", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert "warm-up: 1 h, given in run.warmup_hours" in result.stdout
    assert "warning: run.warmup_hours = 1 is shorter than the" in result.stderr
    as_json = CliRunner().invoke(main, ["run", str(path), "-r", "2", "-w", "1", "-q", "--json",
                                        "--set", "run.warmup_hours=auto"])
    assert as_json.exit_code == 0, as_json.output
    import json

    warmup = json.loads(as_json.stdout)["warmup"]
    assert warmup["derived"] and warmup["hours"] > 25 and "phone" in warmup["reason"]
    assert "warning" not in as_json.stderr


def test_patience_and_day_patterns_set_the_advice():
    quick = advise_warmup(queue_scenario(10, per_hour=114, patience=3.0))
    assert quick.hours < 2  # customers who hang up keep the queue short: it settles fast
    day = sim.load_scenario("bank_app_first")
    assert day.run.warmup_derived and day.run.warmup_hours == 24
    summary = warmup_summary(day.with_changes({"run.warmup_hours": 2}))
    assert summary["suggested_hours"] == 24 and "shorter" in summary["warning"]


@pytest.mark.parametrize("agents, per_hour", [(10, 114), (10, 102)])
def test_the_warmup_command_never_suggests_less_than_the_exact_transient(agents, per_hour):
    """MSER-5 alone cut at 0.5 to 2 hours where the queue takes a day to settle; the suggestion must not."""
    scenario = queue_scenario(agents, per_hour, warmup=0, days=0.25)
    suggestion = suggest_warmup(scenario, replications=2, seed=3)
    exact = settling_time(per_hour / 60.0, 5.0, agents) / 60.0
    assert suggestion.hours >= exact
    assert suggestion.hours <= max(1.1 * exact, exact + 0.5) or suggestion.hours == max(suggestion.per_channel.values())
    if max(suggestion.per_channel.values()) < exact:
        assert any("exact" in w for w in suggestion.warnings)
