"""Behaviour of the SimPy model: conservation, determinism and the rules of a journey."""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import simulator as sim
from simulator.analytic import erlang_a
from simulator.journeys import ABANDONED, CLOSED, NEXT_GIVE_UP, NEXT_RESOLVED
from simulator.model import Replication

from conftest import make_scenario


def replicate(scenario, seed=3, replication=0):
    out = Replication(scenario, seed, replication).run()
    return out, out.log.to_arrays()


def test_every_journey_ends_exactly_once_and_contacts_add_up(scenario):
    res = sim.run(scenario, replications=2, seed=5)
    log = res.journeys
    for _, journey in log.groupby(["replication", "customer"], sort=False):
        seqs = journey["seq"].to_numpy()
        assert (seqs == np.arange(len(seqs))).all()
        ends = journey["next"].isin(["give_up", "resolved"]).to_numpy()
        assert ends.sum() == 1 and ends[-1]
        # each step goes where the previous contact said it would
        assert (journey["channel"].astype(str).to_numpy()[1:]
                == journey["next"].astype(str).to_numpy()[:-1]).all()
    per_rep = res.per_replication.set_index(["replication", "table", "channel", "metric"])["value"]
    for r in range(2):
        total = sum(per_rep[(r, "channels", c, "contacts")] for c in scenario.channel_names)
        assert total == per_rep[(r, "kpis", "", "contacts")] == len(log[log.replication == r])
        for c in scenario.channel_names:
            parts = sum(per_rep[(r, "channels", c, m)] for m in ("served", "abandoned", "closed"))
            assert parts == per_rep[(r, "channels", c, "contacts")]
        assert math.isclose(per_rep[(r, "kpis", "", "resolution_rate")]
                            + per_rep[(r, "kpis", "", "give_up_rate")], 1.0)
    after = res.per_replication.query("table == 'after_call'").groupby("replication")["value"].sum()
    assert np.allclose(after, 1.0)


def test_same_seed_same_numbers_on_one_process_or_many(scenario):
    one = sim.run(scenario, replications=3, seed=42)
    again = sim.run(scenario, replications=3, seed=42, workers=2)
    pd.testing.assert_frame_equal(one.per_replication, again.per_replication)
    pd.testing.assert_frame_equal(one.journeys, again.journeys)
    other = sim.run(scenario, replications=3, seed=43)
    assert not one.per_replication["value"].equals(other.per_replication["value"])


def test_numbers_do_not_depend_on_the_order_tables_are_written_in():
    """A point of a sweep is identified by its scenario whatever the key order, so its numbers must be too."""
    from conftest import BASE

    def reordered(table):
        return dict(reversed(list(table.items())))

    data = copy.deepcopy(BASE)
    data["arrivals"]["first_channel"] = reordered(data["arrivals"]["first_channel"])
    for channel in data["channels"].values():
        channel["next"] = reordered(channel["next"])
    data["channels"]["phone"]["next_after_abandon"] = {"give_up": 0.5, "phone": 0.3, "chat": 0.2}
    data["channels"] = reordered(data["channels"])
    shuffled = sim.Scenario.from_dict(data)
    written = make_scenario({"channels.phone.next_after_abandon": {"chat": 0.2, "phone": 0.3, "give_up": 0.5}})
    keys = ["replication", "table", "channel", "metric"]
    one = sim.run(written, replications=2, seed=9).per_replication.sort_values(keys, ignore_index=True)
    two = sim.run(shuffled, replications=2, seed=9).per_replication.sort_values(keys, ignore_index=True)
    pd.testing.assert_frame_equal(one, two)


def test_numbers_do_not_depend_on_the_order_groups_and_skills_are_written_in():
    def centre(reverse):
        order = (lambda table: dict(reversed(list(table.items())))) if reverse else dict
        live = {"handle_time": {"dist": "exponential", "mean": 5}, "patience": {"dist": "exponential", "mean": 3},
                "resolve": 0.7}
        return sim.Scenario.from_dict({
            "name": "groups", "run": {"warmup_hours": 1, "days": 0.2},
            "arrivals": {"per_hour": 150, "first_channel": order({"phone": 0.4, "chat": 0.3, "email": 0.3})},
            "groups": order({"a": {"agents": [3] * 8 + [6] * 16, "skills": order({"phone": 1, "chat": 1})},
                             "b": {"agents": [2] * 8 + [5] * 16,
                                   "skills": order({"chat": 1, "phone": 1, "email": 2})}}),
            "channels": order({"phone": {**live, "next": {"give_up": 0.5, "chat": 0.5}},
                               "chat": {**live, "next": {"give_up": 0.5, "phone": 0.5}},
                               "email": {"async": True, "handle_time": {"dist": "exponential", "mean": 5},
                                         "resolve": 0.7, "next": {"give_up": 0.5, "phone": 0.5}}}),
        })

    keys = ["replication", "table", "channel", "metric"]
    one, two = (sim.run(centre(r), replications=2, seed=3).per_replication.sort_values(keys, ignore_index=True)
                for r in (False, True))
    pd.testing.assert_frame_equal(one, two)


def test_replications_are_independent_streams(scenario):
    res = sim.run(scenario, replications=2, seed=1)
    counts = res.per_replication.query("metric == 'customers'")["value"].to_numpy()
    assert counts[0] != counts[1]


def test_max_contacts_ends_the_journey_in_give_up():
    sc = make_scenario({
        "max_contacts": 4,
        "channels.web.resolve": 0.0,
        "channels.web.next": {"web": 1.0},
        "arrivals.first_channel": {"web": 1.0},
    })
    _, log = replicate(sc)
    per_customer = np.bincount(log["customer"])
    assert (per_customer == 4).all()
    assert (log["next"][log["seq"] == 3] == NEXT_GIVE_UP).all()


def test_warmup_customers_are_simulated_but_not_counted(scenario):
    out, log = replicate(scenario)
    first_times = log["time"][log["seq"] == 0]
    assert first_times.min() >= scenario.run.warmup_minutes
    assert first_times.max() < scenario.run.end_minutes
    # the measured window holds a Poisson number of arrivals
    expected = scenario.arrivals.per_hour * scenario.run.days * 24
    assert abs(len(first_times) - expected) < 5 * math.sqrt(expected)


def with_email(agents: int, patience: float, per_hour: float):
    """The test network with an async email channel (10-minute exponential answers) taking 40 % of arrivals."""
    return make_scenario({
        "channels.email": {
            "agents": agents, "async": True,
            "handle_time": {"dist": "exponential", "mean": 10.0},
            "patience": {"dist": "exponential", "mean": patience},
            "resolve": 0.5, "next": {"phone": 0.5, "give_up": 0.5},
        },
        "arrivals.first_channel": {"web": 0.4, "email": 0.4, "phone": 0.2},
        "arrivals.per_hour": per_hour,
    })


def test_async_abandoned_messages_are_still_answered():
    sc = with_email(agents=1, patience=30.0, per_hour=20)
    out, log = replicate(sc)
    email = sc.channel_names.index("email")
    rows = log["channel"] == email
    abandoned = rows & (log["outcome"] == ABANDONED)
    assert abandoned.sum() > 20  # one agent at 8 messages per hour is overloaded
    # every message the customer gave up on was answered later, as wasted work
    assert (log["wasted"][abandoned] == 1).all()
    assert log["wasted"][~abandoned].sum() == 0
    # an abandoned customer waited exactly their patience and then moved on
    assert (log["next"][abandoned] != NEXT_RESOLVED).all()
    res = sim.run(sc, replications=1, seed=3)
    ch = res.channels.loc["email"]
    assert ch.loc["wasted_contacts", "mean"] == abandoned.sum()
    assert ch.loc["abandoned", "mean"] == abandoned.sum()


def test_late_async_answers_keep_their_handle_time_and_count_in_mean_handle():
    """Every message is answered, so the handle times of all answers are i.i.d. with the true mean.

    Messages answered before the customer stops waiting are the short ones; logging a late answer
    with handle time 0 (or leaving it out) biased mean_handle_min low (8.7-9.1 min for a true 10).
    """
    sc = with_email(agents=2, patience=20.0, per_hour=25)
    res = sim.run(sc, replications=4, seed=8, days=0.5)
    log = res.journeys
    email = log[log["channel"] == "email"]
    late = email[email["wasted"]]
    assert len(late) > 50 and (late["outcome"] == "abandoned").all()
    assert (late["handle"] > 0).all()  # the work done, though the customer had left
    answered = email[email["outcome"].isin(["resolved", "unresolved"]) | email["wasted"]]
    assert len(answered) == len(email)  # every message is answered in the end
    # exponential handle times: the mean of n has standard deviation 10 / sqrt(n)
    n = len(answered)
    assert abs(answered["handle"].mean() - 10.0) < 4 * 10.0 / math.sqrt(n)
    assert email.loc[~email["wasted"], "handle"].mean() < 10.0 - 4 * 10.0 / math.sqrt(n)  # in time: short
    stat = res.channels.loc[("email", "mean_handle_min")]
    assert stat["ci_low"] <= 10.0 <= stat["ci_high"], stat.to_dict()
    per_rep = res.per_replication.query("table == 'channels' and channel == 'email'")
    per_rep = per_rep.pivot(index="replication", columns="metric", values="value")
    handled = answered.groupby("replication")["handle"].agg(["sum", "count"])
    assert np.allclose(per_rep["mean_handle_min"], handled["sum"] / handled["count"])
    assert (per_rep["served"] + per_rep["wasted_contacts"] == handled["count"]).all()
    # a journey ends when its customer leaves, not when a late answer is done
    kpi = res.per_replication.query("metric == 'mean_journey_minutes'")["value"].to_numpy()
    ends = log["time"] + log["wait"] + np.where(log["outcome"].isin(["resolved", "unresolved"]), log["handle"], 0)
    spans = (ends.groupby([log["replication"], log["customer"]]).last()
             - log.groupby(["replication", "customer"])["time"].first()).groupby(level=0).mean()
    assert np.allclose(kpi, spans.to_numpy())


def test_closed_hours_count_as_unanswered_and_follow_next():
    sc = make_scenario({
        "channels.phone.open_hours": [8, 20],
        "run.days": 1.0,
        "run.warmup_hours": 0,
    })
    _, log = replicate(sc)
    phone = sc.channel_names.index("phone")
    rows = log["channel"] == phone
    hour = (log["time"] % 1440) / 60
    closed = rows & (log["outcome"] == CLOSED)
    assert closed.any()
    assert ((hour[closed] < 8) | (hour[closed] >= 20)).all()
    assert (log["outcome"][rows & (hour >= 8) & (hour < 20)] != CLOSED).all()
    assert (log["wait"][closed] == 0).all() and (log["handle"][closed] == 0).all()
    assert (log["next"][closed] != NEXT_RESOLVED).all()


def test_open_hours_across_midnight():
    sc = make_scenario({"channels.phone.open_hours": [22, 6]})
    phone = sc.channel("phone")
    assert phone.is_open(23 * 60) and phone.is_open(60) and not phone.is_open(12 * 60)
    assert phone.open_share() == pytest.approx(8 / 24)


def test_shift_plan_changes_agents_by_the_hour():
    plan = [0] * 8 + [3] * 12 + [0] * 4  # staffed 8:00-20:00
    sc = make_scenario({
        "channels.chat.agents": plan,
        "channels.chat.patience": None,
        "run.days": 1.0,
        "run.warmup_hours": 0,
    })
    out, log = replicate(sc)
    chat = sc.channel_names.index("chat")
    rows = log["channel"] == chat
    start = log["time"][rows]
    served_at = (start + log["wait"][rows]) % 1440 / 60
    # nobody is served while no agent is on duty; night contacts wait for the morning
    assert ((served_at >= 8) & (served_at < 20 + 2)).all()
    night = ((start % 1440) / 60 < 7)
    assert (log["wait"][rows][night] > 0).all()
    staffed = out.groups["chat"].present.sum()
    assert staffed / 60 >= 36 - 1e-9  # 12 hours x 3 agents, plus any overtime to finish a contact
    assert staffed / 60 < 36 + 3


def test_hourly_profile_shapes_arrivals():
    profile = [1] * 8 + [4] * 10 + [1] * 6
    sc = make_scenario({"arrivals.hourly_profile": profile, "arrivals.per_hour": 60,
                        "run.days": 3.0, "run.warmup_hours": 0})
    _, log = replicate(sc)
    hours = (log["time"][log["seq"] == 0] // 60 % 24).astype(int)
    counts = np.bincount(hours, minlength=24)
    rates = np.asarray(sc.arrivals.rates_per_minute()) * 60 * 3  # expected per hour-of-day
    assert rates.sum() == pytest.approx(60 * 24 * 3)
    chi2 = ((counts - rates) ** 2 / rates).sum()
    assert chi2 < stats.chi2.ppf(0.999, 23)


def test_service_level_and_waits_are_consistent(scenario):
    res = sim.run(scenario, replications=2, seed=9)
    log = res.journeys
    phone = log[(log.channel == "phone") & (log.outcome != "closed")]
    rep0 = phone[phone.replication == 0]
    served = rep0.outcome.isin(["resolved", "unresolved"])
    sl = (served & (rep0.wait <= 20 / 60)).mean()
    per_rep = res.per_replication.set_index(["replication", "table", "channel", "metric"])["value"]
    assert per_rep[(0, "channels", "phone", "service_level")] == pytest.approx(sl)
    assert per_rep[(0, "channels", "phone", "mean_wait_min")] == pytest.approx(rep0.wait.mean())


def test_occupancy_matches_work_done():
    sc = make_scenario({"channels.chat.patience": None, "run.days": 2.0})
    out, log = replicate(sc)
    chat = sc.channel_names.index("chat")
    busy, staffed = out.groups["chat"].busy.sum(), out.groups["chat"].present.sum()
    start, end = out.window
    rows = (log["channel"] == chat) & (log["outcome"] <= 1)
    begun = log["time"][rows] + log["wait"][rows]
    # busy time in the window: at least the work of counted contacts served wholly inside it
    inside = (begun >= start) & (begun + log["handle"][rows] <= end)
    assert busy >= log["handle"][rows][inside].sum() - 1e-6
    assert busy <= staffed
    assert staffed == pytest.approx(4 * (end - start))


def test_self_service_never_waits(scenario):
    res = sim.run(scenario, replications=1, seed=2)
    web = res.channels.loc["web"]
    assert web.loc["p_wait", "mean"] == 0
    assert web.loc["abandoned", "mean"] == 0
    assert math.isnan(web.loc["occupancy", "mean"])


def test_metrics_streamed_in_chunks_equal_metrics_of_the_whole_log():
    from simulator.metrics import LogTotals, hourly_metrics, replication_metrics

    sc = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 0.3, "run.warmup_hours": 8})  # from 8:00
    whole = LogTotals(sc)
    out_whole = Replication(sc, 4, 0).run()
    whole.add(out_whole.log.to_arrays())

    chunks = []
    streamed = LogTotals(sc)

    def take(arrays):
        chunks.append(len(arrays["customer"]))
        streamed.add(arrays)

    out_streamed = Replication(sc, 4, 0, on_completed=take, flush_rows=500).run()
    streamed.add(out_streamed.log.to_arrays())
    assert len(chunks) > 5 and len(out_streamed.log) < 500 + 500
    assert out_whole.wasted.sum() > 0  # the preset's email has late answers
    assert (out_whole.wasted == out_streamed.wasted).all()
    for compute in (replication_metrics, hourly_metrics):
        a_rows, b_rows = compute(sc, whole, out_whole), compute(sc, streamed, out_streamed)
        assert [r[:-1] for r in a_rows] == [r[:-1] for r in b_rows]
        # equal up to the order of floating-point sums
        assert np.allclose([r[-1] for r in a_rows], [r[-1] for r in b_rows], rtol=1e-12, equal_nan=True)
    # the log's own wasted marks agree with the model's count
    a = out_whole.log.to_arrays()
    email = sc.channel_names.index("email")
    assert a["wasted"][a["channel"] == email].sum() == out_whole.wasted[email]


def test_time_integrals_do_not_grow_with_simulated_time():
    """They kept a reading per simulated hour: 1.4 GB for 100,000 days of a sparse scenario."""
    outputs = {}
    for days in (2, 40):
        sc = make_scenario({"arrivals.per_hour": 0.5, "run.days": days, "run.warmup_hours": 1})
        outputs[days] = Replication(sc, 1, 0).run()

    def size(out):
        return len(pickle.dumps((out.duration, out.queue_area, out.groups)))

    assert size(outputs[2]) == size(outputs[40])
    for days, out in outputs.items():
        assert out.duration == pytest.approx(np.full(24, days * 60.0))  # the window by hour, no more


def _ratio_interval(numerators, denominators, level=0.99):
    """Pooled ratio over replications with its cluster (replication) confidence interval."""
    a, n = np.asarray(numerators, float), np.asarray(denominators, float)
    ratio = a.sum() / n.sum()
    half = stats.t.ppf(0.5 + level / 2, len(n) - 1) * np.std(a - ratio * n, ddof=1) / math.sqrt(len(n)) / n.mean()
    return ratio - half, ratio + half


def test_contacts_after_the_window_meet_the_same_load_as_inside_it():
    """Counted customers finish their journeys after the window; arrivals must not stop meanwhile.

    Every customer spends an exponential hour on the web, then calls an Erlang A
    queue: its arrivals are Poisson (an M/M/inf output), so every call, inside
    the window or after it, should be abandoned at the exact Erlang A rate.
    """
    sc = sim.Scenario.from_dict({
        "name": "drain", "focal_channel": "phone",
        "run": {"days": 0.25, "warmup_hours": 6, "replications": 20, "seed": 3},
        "arrivals": {"per_hour": 60, "first_channel": {"web": 1.0}},
        "channels": {
            "web": {"agents": "unlimited", "handle_time": {"dist": "exponential", "mean": 60.0},
                    "resolve": 0.0, "next": {"phone": 1.0}},
            "phone": {"agents": 5, "handle_time": {"dist": "exponential", "mean": 4.4},
                      "patience": {"dist": "exponential", "mean": 5.0}, "resolve": 1.0,
                      "next": {"give_up": 1.0}},
        },
    })
    exact = erlang_a(1.0, 4.4, 5, 5.0).abandon_rate
    log = sim.run(sc).journeys
    calls = log[log["channel"] == "phone"]
    after = calls["time"] >= sc.run.end_minutes
    assert after.mean() > 0.1  # a sixth of the calls come after the window
    for part in (calls[~after], calls[after]):
        by_rep = part.groupby("replication")
        low, high = _ratio_interval(by_rep["outcome"].apply(lambda o: (o == "abandoned").sum()), by_rep.size())
        assert low <= exact <= high, (low, exact, high)
