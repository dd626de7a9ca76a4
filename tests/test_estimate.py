"""Estimating a scenario from a contact log: the round trip and clean errors for bad logs.

The round trip simulates a network whose parameters we know, exports the
journeys as a contact log, estimates a scenario from it and checks that every
true parameter lies inside its reported interval. With some 25-35 parameters
checked at once, a few misses at 95 % are expected by chance, so each round
trip asserts two things that a correct estimator passes almost always and a
wrong one fails:

* at 95 %, at most ``binom.ppf(0.999, m, 0.05)`` of the ``m`` parameters miss
  (5 for m = 25; 6 for m = 33); misses are Binomial(m, 0.05) for independent
  intervals, and the parameters of one probability row are negatively
  correlated, which if anything spreads misses over seeds rather than piling
  them up;
* at 99.99 %, none misses (probability at most m * 1e-4, under 0.4 %), which
  catches one grossly wrong parameter that the count above would let through.

Structural zeros (a move the scenario does not allow) must come out as exactly 0.
"""

from __future__ import annotations

import json
import math
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import special, stats

import simulator as sim
from simulator.cli import main
from simulator.contact_log import (
    ContactLog, ContactLogError, column_names, read_contact_log, to_contact_log, write_contact_log,
)
from simulator.estimate import EstimateError, _gamma_shape, dirichlet_row, estimate, fit_durations

from conftest import make_scenario

#: The test network with every channel self-service: a pure absorbing Markov chain.
UNLIMITED = {
    "arrivals.per_hour": 400,
    "channels.chat.agents": "unlimited", "channels.chat.patience": None,
    "channels.phone.agents": "unlimited", "channels.phone.patience": None,
    "channels.phone.cost_per_agent_hour": None,
}
PROFILE = [1, 1, 1, 1, 1, 1, 2, 4, 6, 6, 6, 5, 5, 5, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
#: Queues that abandon, a daily profile, phone opening hours, a retry delay and a
#: different route after abandoning chat.
QUEUES = {
    "arrivals.per_hour": 200,
    "arrivals.hourly_profile": PROFILE,
    "channels.chat.agents": 6,
    "channels.phone.agents": 14,
    "channels.phone.open_hours": [8, 20],
    "channels.chat.next_after_abandon": {"phone": 0.5, "web": 0.2, "give_up": 0.3},
    "retry_delay": {"dist": "exponential", "mean": 20.0},
}


def true_value(scenario, parameter: str) -> float | None:
    """The scenario's value of an estimated parameter (None for assumptions such as agents)."""
    parts = parameter.split(".")
    if parts[0] == "arrivals":
        if parts[1] == "per_hour":
            return scenario.arrivals.per_hour
        return scenario.arrivals.first_channel.get(parts[2], 0.0)
    if parts[0] == "retry_delay":
        return getattr(scenario.channels[0].retry_delay, parts[1])
    channel = scenario.channel(parts[1])
    if parts[2] == "resolve":
        return channel.resolve
    if parts[2] in ("next", "next_after_abandon"):
        return getattr(channel, parts[2]).get(parts[3], 0.0)
    if parts[2] in ("handle_time", "patience"):
        return getattr(getattr(channel, parts[2]), parts[3])
    return None


def check_recovers(scenario, log, **options):
    """Estimate at 95 % and 99.99 % and check the true parameters against the intervals."""
    est = estimate(log, max_contacts=scenario.max_contacts, **options)
    wide = estimate(log, max_contacts=scenario.max_contacts, level=0.9999, **options)
    return est, check_intervals(scenario, est.parameters, wide.parameters)


def check_intervals(scenario, parameters: pd.DataFrame, wide: pd.DataFrame) -> int:
    """Check the true parameters against 95 % and 99.99 % intervals (see the module docs); returns how many."""
    checked, misses = 0, []
    for parameter, row in parameters.iterrows():
        truth = true_value(scenario, parameter)
        if truth is None:
            continue
        if truth == 0.0:  # a move the scenario does not allow is never seen
            assert row["mean"] == 0.0 and row["ci_low"] == 0.0, parameter
            continue
        checked += 1
        if not row["ci_low"] <= truth <= row["ci_high"]:
            misses.append(f"{parameter}: true {truth:.4g}, estimate {row['mean']:.4g} "
                          f"[{row['ci_low']:.4g}, {row['ci_high']:.4g}]")
        w = wide.loc[parameter]
        assert w["ci_low"] <= truth <= w["ci_high"], (parameter, truth, w.to_dict())
    allowed = stats.binom.ppf(0.999, checked, 0.05)
    assert len(misses) <= allowed, misses
    return checked


@pytest.fixture(scope="module")
def unlimited_run():
    sc = make_scenario(UNLIMITED)
    return sc, sim.run(sc, replications=1, seed=3, days=0.5)


@pytest.fixture(scope="module")
def queues_run():
    sc = make_scenario(QUEUES)
    return sc, sim.run(sc, replications=1, seed=5, days=1)


# --------------------------------------------------------------------------- round trips


def test_round_trip_self_service_network_through_csv(unlimited_run, tmp_path):
    sc, res = unlimited_run
    path = write_contact_log(to_contact_log(res), tmp_path / "log.csv")
    log = read_contact_log(path)
    assert log.journeys == res.kpis.loc["customers", "mean"]
    est, checked = check_recovers(sc, log)
    assert checked >= 20
    written = est.to_scenario()
    assert all(c.unlimited for c in written.channels)
    for c in written.channels:
        assert c.patience is None and "next_after_abandon" not in written.data["channels"][c.name]
        assert math.fsum(c.next.values()) == pytest.approx(1.0, abs=1e-9)
    assert "hourly_profile" not in written.data["arrivals"]  # a constant rate shows no pattern
    assert written.max_contacts == sc.max_contacts


def test_round_trip_queues_profile_opening_hours_and_retries(queues_run, tmp_path):
    sc, res = queues_run
    path = write_contact_log(to_contact_log(res), tmp_path / "log.parquet")
    est, checked = check_recovers(sc, read_contact_log(path))
    assert checked >= 30
    written = est.to_scenario()
    chat, phone, web = (written.channel(c) for c in ("chat", "phone", "web"))
    assert phone.open_hours == (8.0, 20.0)
    assert web.unlimited and not chat.unlimited and not phone.unlimited
    assert chat.next_after_abandon != chat.next  # the G-test sees chat's other route
    assert written.channels[0].retry_delay is not None
    # the hourly rates: true rate in hour h is per_hour * w_h / mean(w)
    true_rates = sc.arrivals.per_hour * np.array(PROFILE) / np.mean(PROFILE)
    hourly = est.hourly
    inside = (hourly["ci_low"] <= true_rates) & (true_rates <= hourly["ci_high"])
    assert (~inside).sum() <= stats.binom.ppf(0.999, 24, 0.05), hourly[~inside]
    assert written.arrivals.hourly_profile is not None
    assert "ASSUMPTION" in est.toml and "agents" in " ".join(est.notes)


def test_agents_guess_matches_erlang_a_for_a_steady_exponential_queue():
    """With a constant rate, exponential handle times and patience, the model is Erlang A exactly."""
    sc = make_scenario({"arrivals.per_hour": 300, "channels.chat.agents": 10, "channels.phone.agents": 25})
    res = sim.run(sc, replications=1, seed=7, days=0.5)
    written = estimate(to_contact_log(res), max_contacts=sc.max_contacts).to_scenario()
    assert abs(written.channel("chat").agents - 10) <= 1


def test_round_trip_of_a_log_cut_at_both_ends_without_contact_numbers():
    """A real export starts and ends in the middle of journeys; the censoring window copes."""
    sc = make_scenario({**UNLIMITED, "arrivals.per_hour": 300,
                        "retry_delay": {"dist": "exponential", "mean": 30.0}})
    res = sim.run(sc, replications=1, seed=11, days=1)
    log = to_contact_log(res, start=None).drop(columns="contact")
    cut = log[(log["timestamp"] >= 6 * 60) & (log["timestamp"] < 20 * 60)]
    est, _ = check_recovers(sc, cut)
    assert est.summary["censor_minutes"] > 60
    assert est.summary["journeys_left_out_of_mix"] > 0


#: Known parameters for the command-line round trip: constant rate and exponential times, so that
#: Erlang A holds for the live queues, and an async email channel whose customers often stop waiting.
ROUND_TRIP = """
name = "round_trip"
focal_channel = "phone"
max_contacts = 10
retry_delay = { dist = "exponential", mean = 15.0 }

[run]
days = 0.5
warmup_hours = 3
replications = 3
seed = 5

[arrivals]
per_hour = 120
first_channel = { web = 0.5, email = 0.15, chat = 0.15, phone = 0.2 }

[channels.web]
agents = "unlimited"
handle_time = { dist = "exponential", mean = 4.0 }
resolve = 0.4
next = { web = 0.1, email = 0.1, chat = 0.2, phone = 0.5, give_up = 0.1 }

[channels.email]
agents = 4
async = true
handle_time = { dist = "exponential", mean = 10.0 }
patience = { dist = "exponential", mean = 30.0 }
resolve = 0.6
next = { phone = 0.7, give_up = 0.3 }

[channels.chat]
agents = 5
handle_time = { dist = "exponential", mean = 6.0 }
patience = { dist = "exponential", mean = 3.0 }
resolve = 0.6
next = { chat = 0.2, phone = 0.7, give_up = 0.1 }

[channels.phone]
agents = 8
handle_time = { dist = "exponential", mean = 5.0 }
patience = { dist = "exponential", mean = 4.0 }
resolve = 0.7
next = { web = 0.3, chat = 0.2, phone = 0.4, give_up = 0.1 }
"""


def test_cli_round_trip_run_out_then_estimate_recovers_the_scenario(tmp_path):
    """`run --out` writes a log that `estimate` reads as it is, replications kept apart.

    Read as one period, three replications of the same half day gave three times the arrival rate.
    """
    runner = CliRunner()
    path = tmp_path / "centre.toml"
    path.write_text(ROUND_TRIP)
    truth = sim.load_scenario(path)
    ran = runner.invoke(main, ["run", str(path), "-q", "--out", str(tmp_path / "out")])
    assert ran.exit_code == 0, ran.output
    log = tmp_path / "out" / "journeys.parquet"
    options = ["--censor-minutes", "0", "--max-contacts", "10", "--json"]
    docs = []
    for level in ("0.95", "0.9999"):
        result = runner.invoke(main, ["estimate", str(log), "--level", level, *options])
        assert result.exit_code == 0, result.output
        docs.append(json.loads(result.stdout))
    parameters, wide = (pd.DataFrame(doc["parameters"]).T.astype(float) for doc in docs)
    assert docs[0]["summary"]["periods"] == 3 and check_intervals(truth, parameters, wide) >= 30
    # agents are a guess: Erlang A, exact here up to sampling (one agent either way), for live queues;
    # for async email, the load of every answer (late ones included) at 85 % occupancy
    assert abs(parameters.loc["channels.chat.agents", "mean"] - 5) <= 1
    assert abs(parameters.loc["channels.phone.agents", "mean"] - 8) <= 1
    kpis = json.loads((tmp_path / "out" / "result.json").read_text())
    email_load = kpis["channels"]["email"]["contacts"]["mean"] / (0.5 * 1440) * 10.0
    assert abs(parameters.loc["channels.email.agents", "mean"] - math.ceil(email_load / 0.85)) <= 1
    written = tmp_path / "estimated.toml"
    result = runner.invoke(main, ["estimate", str(log), "--censor-minutes", "0", "--max-contacts", "10",
                                  "-o", str(written)])
    assert result.exit_code == 0 and "email: written as async" in result.output
    assert sim.load_scenario(written).channel("email").is_async
    again = runner.invoke(main, ["run", str(written), "-q", "-r", "1", "-d", "0.1", "--json"])
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["kpis"]["customers"]["mean"] > 0


def test_minutes_and_datetimes_give_the_same_estimates(unlimited_run):
    _, res = unlimited_run
    by_date = estimate(to_contact_log(res)).parameters
    by_minute = estimate(to_contact_log(res, start=None)).parameters
    pd.testing.assert_frame_equal(by_date, by_minute, rtol=1e-6)


def test_written_scenario_carries_the_intervals_and_its_source(unlimited_run, tmp_path):
    sc, res = unlimited_run
    est = estimate(to_contact_log(res), source="crm_march.csv")
    path = est.save(tmp_path / "estimated.toml")
    text = path.read_text()
    assert text.startswith("# Estimated by `contactflow estimate` from crm_march.csv")
    assert "95 % interval" in text and "(never seen)" in text
    loaded = sim.load_scenario(path)
    assert loaded.name == "estimated_crm_march"
    row = est.parameters.loc["channels.web.resolve"]
    assert f"[{row['ci_low']:.4f}, {row['ci_high']:.4f}]" in text
    assert loaded.channel("web").resolve == pytest.approx(row["mean"], abs=1e-6)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_export_keeps_every_replication_apart_or_one_chosen():
    res = sim.run(make_scenario(), replications=2, seed=1, days=0.05)
    both = to_contact_log(res)
    assert both["replication"].tolist() == sorted(both["replication"])  # one run after the other
    assert set(both.loc[both["replication"] == 0, "customer"]) & set(both.loc[both["replication"] == 1, "customer"])
    log = ContactLog.from_frame(both)
    assert log.journeys == res.kpis.loc["customers", "mean"] * 2 and len(log.periods) == 2
    one = to_contact_log(res, replication=1)
    assert "replication" not in one and len(one) == (res.journeys["replication"] == 1).sum()
    assert (one["contact"] >= 1).all() and one["timestamp"].is_monotonic_increasing
    with pytest.raises(ValueError, match="no replication 5; the journeys hold 0, 1"):
        to_contact_log(res, replication=5)


# --------------------------------------------------------------------------- the statistics


def test_dirichlet_row_sums_to_one_and_bounds_unseen_targets():
    row = dirichlet_row({"a": 12, "b": 0, "c": 3}, level=0.9)
    assert math.fsum(row["mean"]) == pytest.approx(1.0)
    assert row.loc["b", "mean"] == 0 and row.loc["b", "ci_low"] == 0 < row.loc["b", "ci_high"] < 0.3
    assert (row["ci_low"] <= row["mean"]).all() and (row["mean"] <= row["ci_high"]).all()
    only = dirichlet_row({"a": 5, "b": 0})
    assert only.loc["a", "mean"] == 1.0 and only.loc["a", "ci_high"] == 1.0 and only.loc["a", "ci_low"] < 1


def test_duration_fits_choose_the_generating_family():
    rng = np.random.default_rng(2)
    gamma = fit_durations(rng.gamma(4.0, 2.0, 3000))  # mean 8, cv 0.5
    assert gamma.index[gamma["chosen"]].tolist() == ["gamma"]
    g = gamma.loc["gamma"]
    assert g["mean_low"] < 8.0 < g["mean_high"] and g["cv_low"] < 0.5 < g["cv_high"]
    assert fit_durations([3.0, 3.0]).empty


def test_durations_equal_up_to_rounding_count_as_deterministic():
    assert fit_durations([7.0, 7 + 1e-12, 7 - 1e-12, 7.0]).empty
    close = fit_durations([7.0, 7.0001, 7.0])  # cv 7e-6: a real, if tiny, spread
    assert close.index.tolist() == ["exponential", "gamma", "lognormal"]
    assert np.isfinite(close[["log_likelihood", "mean_low", "mean_high", "cv", "cv_low", "cv_high"]]).all().all()
    assert close.loc["gamma", "cv"] == pytest.approx(close.loc["lognormal", "cv"], rel=1e-3)


@pytest.mark.parametrize("s", [0.5, 1e-2, 1 / 1999, 1 / 2001, 1e-4, 1e-6])
def test_gamma_shape_solves_its_equation_on_both_sides_of_the_series_switch(s):
    k = _gamma_shape(s)
    assert math.log(k) - special.digamma(k) == pytest.approx(s, rel=1e-6)


@pytest.mark.parametrize("s", [1e-10, 1e-13])
def test_gamma_shape_of_nearly_equal_durations_is_large_and_finite(s):
    """There digamma loses the digits; log k - digamma(k) = 1/(2k) + O(1/k^2) gives k * s -> 1/2."""
    assert _gamma_shape(s) * s == pytest.approx(0.5, rel=1e-6)


def test_gamma_shape_refuses_a_spread_of_zero_or_less():
    for s in (0.0, -1e-15):
        with pytest.raises(ValueError, match=re.escape("log(mean) - mean(log) > 0")):
            _gamma_shape(s)


def test_nearly_equal_handle_times_and_retry_gaps_give_deterministic_ones(tmp_path):
    """Handle times of 4 and 7 min and 6-min retry gaps, off by rounding noise, used to crash the gamma fit."""
    rows = ["customer,timestamp,channel,outcome,wait_min,handle_min"]
    for i, noise in enumerate([0, 1e-12, -1e-12, 0, 2e-12, -2e-12]):
        rows += [f"c{i},2024-03-01T{8 + i:02d}:00:00,web,unresolved,0,{4 + noise!r}",
                 f"c{i},2024-03-01T{8 + i:02d}:10:00,phone,resolved,0,{7 + noise!r}"]
    path = write(tmp_path, "\n".join(rows) + "\n")
    written = estimate(path).to_scenario().data
    assert written["channels"]["web"]["handle_time"] == {"dist": "deterministic", "value": 4.0}
    assert written["channels"]["phone"]["handle_time"] == {"dist": "deterministic", "value": 7.0}
    assert written["retry_delay"] == {"dist": "deterministic", "value": 6.0}
    result = CliRunner().invoke(main, ["estimate", str(path)])
    assert result.exit_code == 0, result.output


# --------------------------------------------------------------------------- bad logs

GOOD = ("customer,timestamp,channel,outcome,wait_min,handle_min\n"
        "A,2024-03-01T08:00:00,web,unresolved,0,4\n"
        "A,2024-03-01T08:10:00,phone,resolved,1.5,6\n"
        "B,2024-03-01T09:00:00,phone,abandoned,2,\n"
        "B,2024-03-01T09:30:00,phone,resolved,0.5,5\n"
        "C,2024-03-01T10:00:00,web,resolved,0,3\n")


def write(tmp_path, text, name="log.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("text, expected", [
    ("", ["empty", "customer, timestamp, channel, outcome"]),
    ("customer,timestamp,channel,outcome\n", ["no contacts"]),
    ("case,created,channel,result\nA,2024-03-01T08:00,web,resolved\n",
     ["missing column(s) customer, timestamp, outcome", "columns found are case, created, channel, result"]),
    (GOOD.replace("2024-03-01T09:00:00", "yesterday"),
     ["row 4: column 'timestamp': not an ISO 8601 date-time", "'yesterday'"]),
    (GOOD.replace("abandoned", "hung up"),
     ["row 4: column 'outcome': unknown outcome; allowed: resolved, unresolved, abandoned, closed", "'hung up'"]),
    (GOOD.replace("C,2024-03-01T10:00:00,web", "C,2024-03-01T10:00:00,"), ["row 6: column 'channel': empty channel"]),
    (GOOD.replace("C,2024-03-01T10:00:00,web", "C,2024-03-01T10:00:00,Live Chat"),
     ["row 6: column 'channel': not usable as a scenario channel name", "'Live Chat'"]),
    (GOOD.replace(",2,\n", ",-2,\n"), ["row 4: column 'wait_min': must be a number >= 0", "'-2'"]),
    (GOOD.replace("\nC,", "\n,"), ["row 6: column 'customer': empty customer id"]),
])
def test_bad_logs_name_the_row_and_what_is_allowed(tmp_path, text, expected):
    path = write(tmp_path, text)
    with pytest.raises(ContactLogError) as info:
        read_contact_log(path)
    message = str(info.value)
    assert message.startswith(str(path))
    for part in expected:
        assert part in message, message
    result = CliRunner().invoke(main, ["estimate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert expected[0] in result.output


def test_every_bad_row_is_reported_at_once(tmp_path):
    text = GOOD.replace("2024-03-01T09:00:00", "soon").replace("abandoned", "lost")
    with pytest.raises(ContactLogError) as info:
        read_contact_log(write(tmp_path, text))
    assert len(info.value.problems) == 2


def test_a_journey_with_no_first_contact_is_an_error(tmp_path):
    text = ("customer,contact,timestamp,channel,outcome\n"
            "A,1,2024-03-01T08:00:00,web,unresolved\n"
            "A,2,2024-03-01T08:10:00,phone,resolved\n"
            "B,2,2024-03-01T09:00:00,phone,resolved\n")
    with pytest.raises(ContactLogError, match=r"row 4: a journey with no first contact: customer B"):
        read_contact_log(write(tmp_path, text))
    resolved_then_more = text.replace("B,2,", "A,3,")
    with pytest.raises(ContactLogError, match=r"row 4: customer A's contact 3 follows a resolved contact"):
        read_contact_log(write(tmp_path, resolved_then_more))


def test_a_log_whose_only_journey_lacks_its_first_contact_is_a_clean_error(tmp_path):
    path = write(tmp_path, "customer,contact,timestamp,channel,outcome\n"
                           "a,2,2024-03-01T08:00:00,web,unresolved\n"
                           "a,3,2024-03-01T08:10:00,phone,resolved\n")
    with pytest.raises(ContactLogError) as info:
        read_contact_log(path)
    assert info.value.problems == ["row 2: a journey with no first contact: customer a's earliest contact in the "
                                   "log is contact 2; the log must start each journey with contact 1"]
    result = CliRunner().invoke(main, ["estimate", str(path)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{path}: row 2: a journey with no first contact" in result.output


def test_unknown_channel_and_options_are_refused(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(ContactLogError, match=r"unknown channel; allowed: web, chat \(got 'phone'\)"):
        read_contact_log(path, channels=["web", "chat"])
    with pytest.raises(EstimateError, match="focal_channel: 'call' is not a channel of the log"):
        estimate(path, focal_channel="call")
    with pytest.raises(EstimateError, match="max_contacts: row 3 is contact 2 of its journey, more than the 1 allowed"):
        estimate(path, max_contacts=1)
    with pytest.raises(ValueError, match="unknown log column 'case'"):
        column_names("case=id")


@pytest.mark.parametrize("option, problem", [
    ("--self-service", "--self-service: no channel 'fax' in the log (channels: phone, web)"),
    ("--async", "--async: no channel 'fax' in the log (channels: phone, web)"),
    ("--focal", "--focal: 'fax' is not a channel of the log (channels: phone, web)"),
])
def test_cli_names_the_option_that_does_not_fit_the_log(tmp_path, option, problem):
    path = write(tmp_path, GOOD)
    result = CliRunner().invoke(main, ["estimate", str(path), option, "fax"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output == f"{path}: 1 problem(s)\n  {path}: {problem}\n"


@pytest.mark.parametrize("columns, message", [
    ("customer=customer,customer=timestamp",
     "log column 'customer' is given twice (customer=customer and customer=timestamp)"),
    ("wait=queue,wait_min=wait_min", "log column 'wait' is given twice (wait=queue and wait_min=wait_min)"),
    ("customer=id,channel=id", "log columns customer and channel would both read the header 'id'"),
    ("channel=customer", "log columns customer and channel would both read the header 'customer'"),
])
def test_each_log_column_is_mapped_once_to_a_header_of_its_own(tmp_path, columns, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        column_names(columns)
    result = CliRunner().invoke(main, ["estimate", str(write(tmp_path, GOOD)), "--columns", columns])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith(f"--columns: {message}")
    assert column_names("customer=id,channel=customer")["channel"] == "customer"  # a swap is fine


def test_missing_file_is_a_clean_error(tmp_path):
    result = CliRunner().invoke(main, ["estimate", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2 and "nope.csv: 1 problem(s)" in result.output and "no such file" in result.output


# --------------------------------------------------------------------------- reading options and the CLI


def test_renamed_columns_seconds_and_an_outcome_spelled_in_capitals(tmp_path):
    text = ("case_id;created_at;medium;result;queue_s;talk_s\n"
            "A;2024-03-01 08:00;web;Unresolved;0;240\n"
            "A;2024-03-01 08:10;phone;RESOLVED;90;360\n")
    path = write(tmp_path, text.replace(";", ","))
    log = read_contact_log(path, columns="customer=case_id,timestamp=created_at,channel=medium,"
                                         "outcome=result,wait=queue_s,handle=talk_s", duration_unit="s")
    assert log.frame["handle"].tolist() == [4.0, 6.0] and log.frame["wait"].tolist() == [0.0, 1.5]
    assert log.frame["next"].tolist() == ["phone", "resolved"]
    assert log.origin == pd.Timestamp("2024-03-01") and log.frame["time"].tolist() == [480.0, 490.0]


@pytest.mark.parametrize("header", ["Customer,Timestamp,Channel,Outcome,Wait_Min,HANDLE_MIN",
                                    "customer ,timestamp,channel, outcome ,wait_min,handle_min"])
def test_headers_match_ignoring_case_and_surrounding_spaces(tmp_path, header):
    path = write(tmp_path, header + GOOD[GOOD.index("\n"):])
    log = read_contact_log(path)
    assert log.journeys == 3 and log.has_wait and log.has_handle
    assert log.columns["customer"] == header.split(",")[0]  # named as in the file, for messages
    pd.testing.assert_frame_equal(log.frame, read_contact_log(write(tmp_path, GOOD, "good.csv")).frame)


def test_an_exact_header_wins_and_two_near_ones_are_an_error(tmp_path):
    raw = pd.DataFrame({"CUSTOMER": ["x", "y"], "customer": ["a", "b"], "timestamp": [0.0, 5.0],
                        "channel": ["web", "web"], "outcome": ["resolved", "resolved"]})
    assert ContactLog.from_frame(raw).frame["customer"].tolist() == ["a", "b"]
    path = write(tmp_path, "Customer,CUSTOMER ,timestamp,channel,outcome\nA,A,0,web,resolved\n")
    with pytest.raises(ContactLogError, match=re.escape("column 'customer': 2 headers match it when case and "
                                                        "spaces are ignored ('Customer', 'CUSTOMER ')")):
        read_contact_log(path)


def test_journeys_split_at_resolved_contacts_without_contact_numbers():
    raw = pd.DataFrame({"customer": ["A"] * 4, "timestamp": [0.0, 5.0, 100.0, 120.0],
                        "channel": ["web", "phone", "web", "chat"],
                        "outcome": ["unresolved", "resolved", "closed", "unresolved"]})
    frame = ContactLog.from_frame(raw).frame
    assert frame["journey"].tolist() == [0, 0, 1, 1]
    assert frame["next"].tolist() == ["phone", "resolved", "chat", "give_up"]
    assert frame["first_journey"].tolist() == [True, True, False, False]


def test_cli_writes_a_scenario_that_validates_and_prints_json(unlimited_run, tmp_path):
    _, res = unlimited_run
    log = write_contact_log(to_contact_log(res), tmp_path / "log.csv")
    out = tmp_path / "estimated.toml"
    runner = CliRunner()
    result = runner.invoke(main, ["estimate", str(log), "--out", str(out), "--name", "mine"])
    assert result.exit_code == 0, result.output
    assert "channels.web.resolve" in result.output and "95 % interval" in result.output
    assert f"wrote {out}" in result.output
    check = runner.invoke(main, ["validate", str(out)])
    assert check.exit_code == 0 and "valid — mine" in check.output
    doc = json.loads(runner.invoke(main, ["estimate", str(log), "--json", "--level", "0.9"]).stdout)
    assert doc["level"] == 0.9 and doc["summary"]["journeys"] == int(res.kpis.loc["customers", "mean"])
    stat = doc["parameters"]["channels.web.resolve"]
    assert stat["ci_low"] <= stat["mean"] <= stat["ci_high"] and len(doc["hourly"]) == 24


# --------------------------------------------------------------------------- damaged exports and odd forms


def estimate_json(path, *options):
    """``contactflow estimate PATH --json`` on a complete log; exits 0."""
    result = CliRunner().invoke(main, ["estimate", str(path), "--censor-minutes", "0", "--json", *options])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def refused(path, *options):
    """The output of ``contactflow estimate PATH`` on a log it must refuse (exit 2, no traceback)."""
    result = CliRunner().invoke(main, ["estimate", str(path), "--censor-minutes", "0", *options])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert result.output.startswith(f"{path}: ")
    return result.output


@pytest.fixture(scope="module")
def short_log(unlimited_run):
    """A simulation's log of one replication, its first four hours (some 2,500 contacts)."""
    _, res = unlimited_run
    log = to_contact_log(res, replication=0)
    return log[log["timestamp"] < log["timestamp"].min() + pd.Timedelta(hours=4)].reset_index(drop=True)


def test_a_log_exported_twice_is_refused_with_the_rows_named_or_deduplicated(short_log, tmp_path):
    """Every row twice read as twice the arrivals (889 an hour for a true 502), with narrower intervals."""
    once = estimate_json(write_contact_log(short_log, tmp_path / "once.csv"))
    path = write_contact_log(pd.concat([short_log, short_log]), tmp_path / "twice.csv")
    n = len(short_log)
    output = refused(path)
    assert f"{n:,} rows repeat an earlier row exactly (50 % of the log; row {n + 2} repeats 2, " in output
    assert "--drop-duplicates" in output
    kept = estimate_json(path, "--drop-duplicates")
    assert kept["parameters"] == once["parameters"]
    assert any(note.startswith(f"{n:,} rows repeat an earlier row exactly") for note in kept["notes"])


def test_a_stray_date_is_refused_with_its_row_named_or_left_out(short_log, tmp_path):
    """One row dated 1900 among thousands from 2024 made the log 124 years long: 0.011 arrivals an hour."""
    once = estimate_json(write_contact_log(short_log, tmp_path / "once.csv"))
    stray = pd.DataFrame({"customer": [10**6], "contact": [1], "timestamp": [pd.Timestamp("1900-01-01")],
                          "channel": ["web"], "outcome": ["resolved"], "wait_min": [0.0], "handle_min": [3.0]})
    damaged = pd.concat([short_log.iloc[:100], stray, short_log.iloc[100:]], ignore_index=True)
    path = write_contact_log(damaged, tmp_path / "stray.csv")
    output = refused(path)
    assert "1 contact(s) lie far in time from all the others" in output and "--drop-outliers" in output
    assert "row 102: 1 contact at 1900-01-01 00:00:00, 45,290 days from every other contact" in output
    kept = estimate_json(path, "--drop-outliers")
    assert kept["parameters"] == once["parameters"]
    assert any("far in time from all the others left out" in note for note in kept["notes"])


def test_days_without_contacts_split_the_log_into_periods(short_log):
    """Two stretches three days apart: the rate counts the time with contacts, not the gap between."""
    later = short_log.assign(customer=short_log["customer"] + 10**6,
                             timestamp=short_log["timestamp"] + pd.Timedelta(days=3))
    both = pd.concat([short_log, later], ignore_index=True)
    split = estimate(both, censor_minutes=0)
    labelled = estimate(both.assign(replication=[0] * len(short_log) + [1] * len(later)), censor_minutes=0)
    assert split.summary["periods"] == labelled.summary["periods"] == 2
    pd.testing.assert_frame_equal(split.parameters, labelled.parameters)
    # two copies of one stretch: the rate of either alone (read as one period, the days between counted)
    alone = estimate(short_log, censor_minutes=0).parameters.loc["arrivals.per_hour", "mean"]
    assert split.parameters.loc["arrivals.per_hour", "mean"] == pytest.approx(alone, rel=1e-12)
    gap = next(note for note in split.notes if "gap" in note)
    assert "no contact from 2024-01-01 " in gap and " to 2024-01-04 " in gap and "between data rows" in gap
    assert "2 periods (split at gaps)" in split.toml


def test_merged_replications_without_their_column_are_refused():
    """Customer ids restart in every replication: merged, one customer's contacts overlap in time."""
    res = sim.run(make_scenario(), replications=2, seed=1, days=0.1)
    merged = to_contact_log(res).drop(columns="replication")
    with pytest.raises(ContactLogError) as info:
        ContactLog.from_frame(merged)
    message = str(info.value)
    assert "contact(s) start before the same customer's previous contact ended" in message
    assert "give each its own value in a 'replication' column" in message
    assert re.search(r"data row \d+: customer \d+'s contact at 2024-01-01 \d\d:\d\d:\d\d starts before", message)


def test_overlapping_and_restarted_contacts_of_one_customer_are_named(tmp_path):
    overlap = ("customer,timestamp,channel,outcome,wait_min,handle_min\n"
               "A,2024-03-01T08:00:00,phone,unresolved,5,10\n"
               "A,2024-03-01T08:10:00,chat,resolved,0,4\n"
               "B,2024-03-01T08:00:00,phone,unresolved,5,10\n"
               "B,2024-03-01T08:15:00,chat,resolved,0,4\n")  # B starts when the call ends: fine
    output = refused(write(tmp_path, overlap))
    assert ("row 3: customer A's contact at 2024-03-01 08:10:00 starts before their previous contact (row 2, "
            "at 2024-03-01 08:00:00) ended at 2024-03-01 08:15:00") in output
    assert "customer B" not in output
    restart = ("customer,contact,timestamp,channel,outcome\n"
               "A,1,2024-03-01T08:00:00,web,unresolved\n"
               "A,1,2024-03-01T08:30:00,web,unresolved\n"
               "A,2,2024-03-01T08:40:00,phone,resolved\n"
               "A,2,2024-03-01T09:00:00,phone,resolved\n")
    output = refused(write(tmp_path, restart, "restart.csv"))
    assert "row 5: customer A's contact 2 follows contact 2: the numbers restart within a journey" in output


def test_contacts_that_follow_within_the_timestamps_rounding_do_not_overlap(tmp_path):
    """Whole-minute timestamps and durations: a contact right after a call may show a minute early."""
    text = ("customer,timestamp,channel,outcome,wait_min,handle_min\n"
            "A,2024-03-01T08:00,phone,unresolved,2,5\n"
            "A,2024-03-01T08:06,chat,resolved,0,4\n"
            "B,2024-03-01T09:00,web,resolved,0,3\n")
    assert read_contact_log(write(tmp_path, text)).journeys == 2


def test_nested_parquet_columns_are_ignored_when_unused_and_named_when_used(short_log, tmp_path):
    plain = estimate_json(write_contact_log(short_log, tmp_path / "plain.parquet"))
    nested = short_log.assign(meta=[{"agent": i % 7, "tags": ["a"]} for i in range(len(short_log))])
    assert estimate_json(write_contact_log(nested, tmp_path / "meta.parquet"))["parameters"] == plain["parameters"]
    bad = short_log.assign(outcome=[{"code": o} for o in short_log["outcome"]])
    output = refused(write_contact_log(bad, tmp_path / "bad.parquet"))
    assert "data rows 1, 2, 3, 4, 5 and" in output
    assert "column 'outcome': holds nested values (a record or a list), not text or numbers" in output
    assert "{'code': 'resolved'}" in output or "{'code': 'unresolved'}" in output


def test_a_csv_with_a_byte_order_mark_reads_like_one_without(short_log, tmp_path):
    plain = tmp_path / "plain.csv"
    short_log.to_csv(plain, index=False)
    marked = tmp_path / "bom.csv"
    short_log.to_csv(marked, index=False, encoding="utf-8-sig")
    assert marked.read_bytes()[:3] == b"\xef\xbb\xbf"
    assert estimate_json(marked)["parameters"] == estimate_json(plain)["parameters"]


def test_unsorted_rows_give_the_same_estimates(short_log):
    shuffled = short_log.sample(frac=1.0, random_state=3)
    pd.testing.assert_frame_equal(estimate(shuffled, censor_minutes=0).parameters,
                                  estimate(short_log, censor_minutes=0).parameters)


def test_time_zone_offsets_one_wall_clock_or_refused_when_only_some_have_one(tmp_path):
    """Across a daylight-saving change the offset changes: read as the first row's wall clock."""
    text = ("customer,timestamp,channel,outcome\n"
            "A,2024-03-30T23:00:00+01:00,web,unresolved\n"
            "A,2024-03-31T03:30:00+02:00,phone,resolved\n"
            "B,2024-03-31T09:00:00+02:00,web,resolved\n")
    log = read_contact_log(write(tmp_path, text))
    assert log.origin == pd.Timestamp("2024-03-30")
    assert log.frame["time"].tolist() == [23 * 60, 26.5 * 60, 32 * 60]  # 03:30+02:00 is 02:30+01:00
    assert log.notes and "rows 3, 4" in log.notes[0] and "read as +01:00 wall-clock times" in log.notes[0]
    mixed = text.replace("09:00:00+02:00", "09:00:00")
    output = refused(write(tmp_path, mixed, "mixed.csv"))
    assert "row 4: column 'timestamp': 2 timestamps have a time-zone offset and 1 have none" in output


def test_column_names_with_spaces_are_mapped(tmp_path):
    text = GOOD.replace("customer,timestamp,", "Case ID, Created At ,", 1)
    path = write(tmp_path, text)
    for mapping in ("customer=Case ID,timestamp=Created At", "customer = case id, timestamp = created at"):
        result = CliRunner().invoke(main, ["estimate", str(path), "--columns", mapping])
        assert result.exit_code == 0, result.output
        assert "3 journeys" in result.output


def test_a_one_channel_log_gives_a_valid_one_channel_scenario(tmp_path):
    phone = {"agents": 6, "handle_time": {"dist": "exponential", "mean": 5.0},
             "patience": {"dist": "exponential", "mean": 4.0}, "resolve": 0.7,
             "next": {"phone": 0.5, "give_up": 0.5}}
    sc = make_scenario({"channels": {"phone": phone}, "arrivals.first_channel": {"phone": 1.0}})
    res = sim.run(sc, replications=1, seed=2, days=0.3)
    path = write_contact_log(to_contact_log(res), tmp_path / "phone.csv")
    out = tmp_path / "phone.toml"
    result = CliRunner().invoke(main, ["estimate", str(path), "--censor-minutes", "0", "-o", str(out)])
    assert result.exit_code == 0, result.output
    written = sim.load_scenario(out)
    assert written.channel_names == ("phone",) and written.focal_channel == "phone"
    assert written.channel("phone").next == pytest.approx({"phone": 0.5, "give_up": 0.5}, abs=0.06)
    check = CliRunner().invoke(main, ["validate", str(out)])
    assert check.exit_code == 0, check.output
