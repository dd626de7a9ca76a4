"""Shared agent groups, chat concurrency, call backs and weekly time against exact results.

As in ``test_analytic.py``, each test checks a family of ``m`` figures with
contactflow's intervals at level ``1 - 0.05 / m`` (Bonferroni) over long
replications, and checks that the intervals are narrow enough for agreement
to mean something. The exact values are computed here from the queueing
formulas (``../shared/reference/omnichannel-operations.md``) or from a
continuous-time Markov chain built in the test, never copied from a run.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import sparse, stats
from scipy.sparse.linalg import spsolve

import simulator as sim
from simulator.analytic import erlang_a, erlang_c
from simulator.metrics import confidence_interval
from simulator.scenario import Scenario, ScenarioError
from test_analytic import assert_inside, simulated


def exponential(mean):
    return {"dist": "exponential", "mean": mean}


def staffed_channel(mean_handle, **extra):
    return {"handle_time": exponential(mean_handle), "resolve": 1.0, "next": {"give_up": 1.0}, **extra}


def centre(channels, first_channel, per_hour, groups=None, days=6.0, warmup_hours=6.0, **arrivals):
    data = {
        "name": "centre", "focal_channel": next(iter(channels)), "max_contacts": 1,
        "run": {"days": days, "warmup_hours": warmup_hours},
        "arrivals": {"per_hour": per_hour, "first_channel": first_channel, **arrivals},
        "channels": channels,
    }
    if groups:
        data["groups"] = groups
    return Scenario.from_dict(data)


def check_family(res, exact: dict, widths: dict, table="channels"):
    """Every ``exact[(channel, metric)]`` inside its Bonferroni interval of half-width at most ``widths[metric]``."""
    level = 1 - 0.05 / len(exact)
    for (channel, metric), value in exact.items():
        assert_inside(value, simulated(res, level, table, metric, channel), f"{channel}.{metric}", widths[metric])


# --------------------------------------------------------------------------- pooling and priorities


def two_channels_one_group(priorities, agents=5, mean_handle=5.0, per_hour=48.0, seconds=60.0):
    channels = {name: staffed_channel(mean_handle, service_level_seconds=seconds) for name in ("a", "b")}
    groups = {"desk": {"agents": agents, "skills": dict(zip(("a", "b"), priorities)), "cost_per_agent_hour": 30.0}}
    return centre(channels, {"a": 0.5, "b": 0.5}, per_hour, groups)


def test_two_channels_sharing_a_group_at_equal_priority_are_one_erlang_c_queue():
    scenario = two_channels_one_group((1, 1))
    pooled = erlang_c(48.0 / 60.0, 5.0, 5, service_level_seconds=60.0)
    res = sim.run(scenario, replications=20, seed=11, keep_journeys=False)
    exact = {}
    for channel in ("a", "b"):
        exact |= {(channel, "p_wait"): pooled.p_wait, (channel, "mean_wait_min"): pooled.mean_wait,
                  (channel, "service_level"): pooled.service_level}
    check_family(res, exact, {"p_wait": 0.04, "mean_wait_min": 0.5, "service_level": 0.04})
    group = res.groups.loc["desk"]
    assert group.loc["occupancy", "ci_low"] <= 0.8 <= group.loc["occupancy", "ci_high"]
    assert group.loc["agents", "mean"] == pytest.approx(5.0)
    assert group.loc["cost", "mean"] == pytest.approx(5 * 30.0 * 6 * 24)
    shares = group.loc["skill_share.a", "mean"] + group.loc["skill_share.b", "mean"]
    assert shares == pytest.approx(1.0)
    # the group's cost is shared among its channels; the total is the group's
    channel_costs = res.channels.xs("cost", level="metric")["mean"].sum()
    assert channel_costs == pytest.approx(group.loc["cost", "mean"])


def cobham_waits(arrival_rates, mean_handle, agents):
    """Mean waits by class of the M/M/c queue with non-preemptive priorities (Cobham)."""
    mu = 1.0 / mean_handle
    total = sum(arrival_rates)
    waiting = erlang_c(total, mean_handle, agents).p_wait
    sigma = np.concatenate(([0.0], np.cumsum(arrival_rates) / (agents * mu)))
    return [waiting / (agents * mu * (1 - sigma[k]) * (1 - sigma[k + 1])) for k in range(len(arrival_rates))]


def test_priorities_agree_with_cobhams_formula():
    scenario = two_channels_one_group((1, 2), per_hour=42.0)  # 3.5 Erlangs on 5 agents
    high, low = cobham_waits([0.35, 0.35], 5.0, 5)
    res = sim.run(scenario, replications=20, seed=12, keep_journeys=False)
    check_family(res, {("a", "mean_wait_min"): high, ("b", "mean_wait_min"): low},
                 {"mean_wait_min": 0.35})
    # work conservation: the arrival-weighted mean wait is Erlang C's
    assert (high + low) / 2 == pytest.approx(erlang_c(0.7, 5.0, 5).mean_wait, rel=1e-12)


def test_the_best_priority_group_takes_an_arriving_contact():
    # a specialist group (priority 1) and a generalist one (priority 2) both idle: the specialist answers
    channels = {"a": staffed_channel(5.0)}
    groups = {"specialists": {"agents": 2, "skills": {"a": 1}},
              "generalists": {"agents": 2, "skills": {"a": 2}}}
    res = sim.run(centre(channels, {"a": 1.0}, 6.0, groups, days=2.0), replications=2, seed=1,
                  keep_journeys=False)
    specialist = res.groups.loc[("specialists", "occupancy"), "mean"]
    generalist = res.groups.loc[("generalists", "occupancy"), "mean"]
    assert specialist > 0.1 and generalist < specialist / 5


# --------------------------------------------------------------------------- concurrency


def test_concurrency_without_slowdown_is_an_erlang_c_queue_on_the_slots():
    # 2 agents x 3 chats = 6 slots; 4.2 Erlangs offered
    channels = {"chat": staffed_channel(10.0, agents=2, concurrency=3, service_level_seconds=60.0)}
    res = sim.run(centre(channels, {"chat": 1.0}, 25.2), replications=20, seed=13, keep_journeys=False)
    slots = erlang_c(0.42, 10.0, 6, service_level_seconds=60.0)
    check_family(res, {("chat", "p_wait"): slots.p_wait, ("chat", "mean_wait_min"): slots.mean_wait,
                       ("chat", "service_level"): slots.service_level,
                       ("chat", "slot_occupancy"): 0.7},
                 {"p_wait": 0.04, "mean_wait_min": 0.5, "service_level": 0.04, "slot_occupancy": 0.02})


def test_concurrency_with_patience_is_an_erlang_a_queue_on_the_slots():
    channels = {"chat": staffed_channel(10.0, agents=2, concurrency=3, patience=exponential(3.0))}
    res = sim.run(centre(channels, {"chat": 1.0}, 36.0), replications=20, seed=14, keep_journeys=False)
    slots = erlang_a(0.6, 10.0, 6, mean_patience=3.0)
    check_family(res, {("chat", "abandon_rate"): slots.abandon_rate, ("chat", "p_wait"): slots.p_wait,
                       ("chat", "mean_wait_min"): slots.mean_wait},
                 {"abandon_rate": 0.02, "p_wait": 0.03, "mean_wait_min": 0.1})


def birth_death(arrival_rate, death_rates):
    """Stationary distribution of a birth-death chain with constant birth rate."""
    weights = np.concatenate(([1.0], np.cumprod(arrival_rate / np.asarray(death_rates))))
    return weights / weights.sum()


def test_one_agent_with_slowdown_is_a_birth_death_chain():
    slowdown = [1.0, 1.2, 1.45]
    mu, arrival_rate, k = 1 / 10.0, 0.15, 3
    n = np.arange(1, 400)
    held = np.minimum(n, k)
    p = birth_death(arrival_rate, held * mu / np.asarray(slowdown)[held - 1])
    states = np.arange(len(p))
    exact_queue = float(np.sum(np.maximum(states - k, 0) * p))
    channels = {"chat": staffed_channel(10.0, agents=1, concurrency=3, concurrency_slowdown=slowdown)}
    res = sim.run(centre(channels, {"chat": 1.0}, arrival_rate * 60, days=8.0), replications=20, seed=15,
                  keep_journeys=False)
    check_family(res, {("chat", "p_wait"): float(p[k:].sum()),
                       ("chat", "mean_wait_min"): exact_queue / arrival_rate,
                       ("chat", "slot_occupancy"): float(np.sum(np.minimum(states, k) * p)) / k,
                       ("chat", "occupancy"): float(1 - p[0])},
                 {"p_wait": 0.05, "mean_wait_min": 1.5, "slot_occupancy": 0.03, "occupancy": 0.03})


def test_handle_times_stretch_with_the_contacts_in_hand():
    # deterministic 10-minute chats, up to two at once, slowed 1.5x while both are held:
    # each chat's logged handle time is its wall time, over which it got exactly 10 minutes of work
    slowdown = {1: 1.0, 2: 1.5}
    channels = {"chat": {**staffed_channel(10.0, agents=1, concurrency=2, concurrency_slowdown=[1.0, 1.5]),
                         "handle_time": {"dist": "deterministic", "value": 10.0}}}
    scenario = centre(channels, {"chat": 1.0}, 9.0, days=0.5, warmup_hours=0.0)
    log = sim.run(scenario, replications=1, seed=3).journeys
    served = log[log["outcome"] == "resolved"]
    began = (served["time"] + served["wait"]).to_numpy()
    ended = began + served["handle"].to_numpy()
    cuts = np.unique(np.concatenate([began, ended]))
    mids = (cuts[:-1] + cuts[1:]) / 2
    held = ((began[:, None] < mids) & (ended[:, None] > mids)).sum(axis=0)
    assert held.max() == 2  # the agent did juggle two chats
    window_end = scenario.run.end_minutes  # after it, uncounted customers' chats (not in the log) share the agent
    for start, end in zip(began, ended):
        if end > window_end:
            continue
        inside = (mids > start) & (mids < end)
        work = np.sum(np.diff(cuts)[inside] / np.vectorize(slowdown.get)(held[inside]))
        assert work == pytest.approx(10.0, abs=1e-6)
    assert served["handle"].max() > 10.0


# --------------------------------------------------------------------------- blending with a reserve


def blended_chain(agents, reserve, phone, email, queue_cap):
    """Stationary distribution of a group taking phone calls first and emails only while
    ``reserve`` agents stay idle; states (on phone, on email, phone queue, email queue),
    those reachable from the empty centre with queues up to ``queue_cap``."""
    (lp, mp), (le, me) = phone, email

    def freed(a, b, qp, qe, on_phone):
        """The state after an agent (on the phone, or on email) finishes and picks its next work."""
        a, b = (a - 1, b) if on_phone else (a, b - 1)
        idle_others = agents - (a + b) - 1  # the free agent is not idle yet
        if qp:
            return a + 1, b, qp - 1, qe
        if qe and idle_others >= reserve:
            return a, b + 1, qp, qe - 1
        return a, b, qp, qe

    def moves(state):
        a, b, qp, qe = state
        idle = agents - a - b
        yield (a + 1, b, qp, qe) if qp == 0 and idle > 0 else (a, b, qp + 1, qe), lp
        yield (a, b + 1, qp, qe) if qe == 0 and idle > reserve else (a, b, qp, qe + 1), le
        if a:
            yield freed(a, b, qp, qe, True), a * mp
        if b:
            yield freed(a, b, qp, qe, False), b * me

    index, transitions, todo = {(0, 0, 0, 0): 0}, [], [(0, 0, 0, 0)]
    while todo:
        state = todo.pop()
        for target, rate in moves(state):
            if max(target[2:]) > queue_cap:
                continue
            if target not in index:
                index[target] = len(index)
                todo.append(target)
            transitions.append((index[state], index[target], rate))
    n = len(index)
    rows, cols, rates = zip(*transitions)
    generator = sparse.coo_matrix((rates, (rows, cols)), shape=(n, n)).tocsr()
    generator = generator - sparse.diags(np.asarray(generator.sum(axis=1)).ravel())
    system = generator.T.tolil()
    system[0, :] = 1.0  # replace one balance equation by the normalisation
    rhs = np.zeros(n)
    rhs[0] = 1.0
    return list(index), spsolve(system.tocsr(), rhs)


def test_a_blended_group_with_a_reserve_agrees_with_its_markov_chain():
    agents, reserve = 3, 1
    phone, email = (0.2, 1 / 5.0), (0.1, 1 / 8.0)
    states, p = blended_chain(agents, reserve, phone, email, queue_cap=40)
    s = np.array(states)
    idle = agents - s[:, 0] - s[:, 1]
    exact = {
        ("phone", "p_wait"): float(p[(s[:, 2] > 0) | (idle == 0)].sum()),
        ("phone", "mean_wait_min"): float(p @ s[:, 2]) / phone[0],
        ("email", "p_wait"): float(p[(s[:, 3] > 0) | (idle <= reserve)].sum()),
        ("email", "mean_wait_min"): float(p @ s[:, 3]) / email[0],
    }
    assert p[s[:, 3] >= 35].sum() < 1e-6  # the truncation is harmless
    channels = {"phone": staffed_channel(5.0), "email": staffed_channel(8.0, **{"async": True})}
    groups = {"desk": {"agents": agents, "skills": {"phone": 1, "email": 2}, "reserve": {"email": reserve}}}
    scenario = centre(channels, {"phone": 2 / 3, "email": 1 / 3}, 18.0, groups)
    res = sim.run(scenario, replications=20, seed=16, keep_journeys=False)
    check_family(res, exact, {"p_wait": 0.04, "mean_wait_min": 1.5})


# --------------------------------------------------------------------------- call backs


def callback_centre(accept=0.6, days=1.0):
    phone = staffed_channel(6.0, agents=4, patience=exponential(4.0),
                            callback={"offer_when_wait_above": 1.0, "accept": accept, "within_minutes": 30.0})
    phone["resolve"] = 0.7
    phone["next"] = {"phone": 0.5, "give_up": 0.5}
    return Scenario.from_dict({
        "name": "callbacks", "focal_channel": "phone",
        "run": {"days": days, "warmup_hours": 2.0},
        "arrivals": {"per_hour": 42.0, "first_channel": {"phone": 1.0}},
        "channels": {"phone": phone},
    })


def test_call_backs_are_contacts_that_end_exactly_once():
    res = sim.run(callback_centre(), replications=3, seed=5)
    log = res.journeys
    for _, journey in log.groupby(["replication", "customer"]):
        assert list(journey["seq"]) == list(range(len(journey)))
        assert (journey["next"].isin(["give_up", "resolved"])).sum() == 1
        assert journey["next"].iloc[-1] in ("give_up", "resolved")
    called_back = log[log["callback"] == "called_back"]
    assert len(called_back) > 50
    assert called_back["outcome"].isin(["resolved", "unresolved"]).all()  # call backs never abandon
    phone = res.channels.loc["phone"]["mean"]
    assert phone["callbacks_made"] == phone["callbacks_accepted"] <= phone["callbacks_offered"]
    assert phone["callbacks_offered"] == pytest.approx((log["callback"] != "none").sum() / 3)
    assert 0 < phone["callbacks_within_promise"] <= 1
    # offered ones accept with their probability
    offered = (log["callback"] != "none").sum()
    accepted = stats.binomtest(len(called_back), offered, 0.6)
    assert accepted.pvalue > 0.001


def test_call_backs_shorten_the_live_queue_and_refusing_them_changes_nothing():
    never = sim.run(callback_centre(accept=0.0), replications=2, seed=6, keep_journeys=False)
    without = sim.run(callback_centre().with_changes({"channels.phone.callback": None}), replications=2, seed=6,
                      keep_journeys=False)
    for metric in ("mean_wait_min", "abandon_rate", "service_level"):
        assert never.channels.loc[("phone", metric), "mean"] == without.channels.loc[("phone", metric), "mean"]
    assert never.channels.loc[("phone", "callbacks_offered"), "mean"] > 0
    usually = sim.run(callback_centre(accept=0.9), replications=2, seed=6, keep_journeys=False)
    assert (usually.channels.loc[("phone", "abandon_rate"), "mean"]
            < without.channels.loc[("phone", "abandon_rate"), "mean"])


def test_call_backs_and_groups_give_the_same_numbers_serially_and_in_parallel():
    scenario = callback_centre(days=0.5)
    serial = sim.run(scenario, replications=3, seed=9, keep_journeys=False)
    parallel = sim.run(scenario, replications=3, seed=9, keep_journeys=False, workers=2)
    assert serial.per_replication.equals(parallel.per_replication)


# --------------------------------------------------------------------------- weeks and uncertain demand


def weekly_profile():
    workday = [0] * 8 + [1] * 10 + [0] * 6
    return workday * 5 + [0] * 48  # Monday to Friday, 8:00 to 18:00


def test_a_weekly_profile_and_shift_plan_give_hour_of_week_results():
    plan = [a * 3 for a in weekly_profile()]
    scenario = centre({"phone": staffed_channel(4.0, agents=plan, patience=exponential(5.0))},
                      {"phone": 1.0}, 10.0, days=14.0, warmup_hours=0.0, hourly_profile=weekly_profile())
    assert scenario.period_hours == 168
    res = sim.run(scenario, replications=2, seed=4)
    hourly = res.hourly.xs("contacts", level="metric")["mean"].loc["phone"]
    assert len(hourly) == 168
    assert (hourly[np.array(weekly_profile()) == 0] == 0).all()
    # 10 an hour over the week, all in 50 open hours: 33.6 an open hour
    open_hours = hourly[np.array(weekly_profile()) == 1]
    assert open_hours.mean() == pytest.approx(10.0 * 168 / 50, rel=0.05)
    agents = res.hourly_groups.xs("agents", level="metric")["mean"].loc["phone"]
    assert agents.iloc[9] == pytest.approx(3.0) and agents.iloc[5 * 24 + 9] == pytest.approx(0.0)
    assert res.journeys.groupby(["replication", "customer"])["next"].apply(
        lambda n: n.isin(["give_up", "resolved"]).sum()).eq(1).all()
    again = sim.run(scenario, replications=2, seed=4)
    assert res.per_replication.equals(again.per_replication)


def test_day_to_day_variation_scales_each_days_arrivals():
    cv, per_day = 0.2, 2400.0
    web = {"agents": "unlimited", "handle_time": exponential(1.0), "resolve": 1.0, "next": {"give_up": 1.0}}
    scenario = centre({"web": web}, {"web": 1.0}, per_day / 24, days=1.0, warmup_hours=0.0, day_to_day_cv=cv)
    res = sim.run(scenario, replications=60, seed=8, keep_journeys=False)
    daily = res.per_replication.query("metric == 'customers'")["value"].to_numpy()
    n = len(daily)
    variance = per_day + (cv * per_day) ** 2  # a Poisson count with a gamma-distributed mean
    chi2 = (n - 1) * daily.var(ddof=1) / variance
    assert stats.chi2.ppf(0.0005, n - 1) < chi2 < stats.chi2.ppf(0.9995, n - 1)
    mean, low, high = confidence_interval(daily, 0.999)
    assert low <= per_day <= high


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize("change, message", [
    ({"groups": {"desk": {"agents": 3, "skills": {"phone": 1}}}}, "remove its own agents"),
    ({"groups": {"desk": {"agents": 3, "skills": {"fax": 1}}}}, "unknown channel 'fax'"),
    ({"groups": {"desk": {"agents": 3, "skills": {"web": 1}}}}, "self-service"),
    ({"groups": {"desk": {"agents": 3, "skills": {"chat": 0}}}}, "priority, a whole number >= 1"),
    ({"groups": {"desk": {"agents": 3, "skills": {"chat": 1}, "reserve": {"phone": 1}}}}, "unknown skill 'phone'"),
    ({"groups": {"desk": {"agents": 3, "skills": {"chat": 1}, "shrinkage": 1.0}}}, "<= 0.95"),
    # a reserve as large as the staff would never take the channel: its journeys could never end
    ({"groups": {"desk": {"agents": [0] * 8 + [2] * 16, "skills": {"chat": 1}, "reserve": {"chat": 2}}}},
     "but the group has at most 2 on duty, so it would never answer chat"),
    ({"groups": {"desk": {"agents": 2, "skills": {"chat": 1}, "reserve": {"chat": 1}, "shrinkage": 0.3}}},
     r"at most 1 on duty \(2 scheduled less 30 % shrinkage, rounded\), so it would never answer chat"),
    ({"groups": {"phone": {"agents": 3, "skills": {"chat": 1}}}}, "also a channel with its own agents"),
    ({"channels.chat.concurrency_slowdown": [1.0, 1.2]}, "list of 3 factors"),
    ({"channels.web.concurrency": 2}, "self-service has no agents"),
    ({"channels.email.callback": {"offer_when_wait_above": 1, "accept": 0.5, "within_minutes": 60}},
     "asynchronous channel"),
    ({"channels.phone.callback": {"offer_when_wait_above": 1, "accept": 1.5, "within_minutes": 60}},
     "probability"),
    ({"arrivals.hourly_profile": [1.0] * 100}, "168 for a week"),
    ({"arrivals.day_to_day_cv": -0.1}, ">= 0"),
])
def test_bad_groups_concurrency_and_callbacks_name_the_field(change, message):
    base = {
        "name": "v", "focal_channel": "phone",
        "arrivals": {"per_hour": 10, "first_channel": {"web": 0.5, "phone": 0.5}},
        "channels": {
            "web": {"agents": "unlimited", "handle_time": exponential(1.0), "resolve": 1.0, "next": {"give_up": 1.0}},
            "email": staffed_channel(5.0, agents=2, **{"async": True}),
            "chat": staffed_channel(5.0, agents=2, concurrency=3),
            "phone": staffed_channel(5.0, agents=2),
        },
    }
    scenario = Scenario.from_dict(base)
    if "groups" in change:
        data = scenario.to_dict() | change
        with pytest.raises(ScenarioError, match=message):
            Scenario.from_dict(data)
    else:
        with pytest.raises(ScenarioError, match=message):
            scenario.with_changes(change)


def test_a_channel_needs_agents_or_a_group():
    with pytest.raises(ScenarioError, match=r"channels\.chat\.agents: missing.*groups"):
        Scenario.from_dict({
            "arrivals": {"per_hour": 10, "first_channel": {"chat": 1.0}}, "focal_channel": "chat",
            "channels": {"chat": staffed_channel(5.0)},
        })


def test_a_group_with_a_bad_field_still_staffs_its_channels():
    """One problem, the group's: its channels are not also reported as missing their agents."""
    with pytest.raises(ScenarioError) as caught:
        Scenario.from_dict({
            "arrivals": {"per_hour": 10, "first_channel": {"chat": 1.0}}, "focal_channel": "chat",
            "channels": {"chat": staffed_channel(5.0)},
            "groups": {"desk": {"agents": -3, "skills": {"chat": 1}}},
        })
    assert [p.path for p in caught.value.problems] == ["groups.desk.agents"]


def test_shrinkage_keeps_paid_hours_and_lowers_agents_on_duty():
    channels = {"a": staffed_channel(5.0)}
    groups = {"desk": {"agents": 10, "skills": {"a": 1}, "shrinkage": 0.3, "cost_per_agent_hour": 20.0}}
    res = sim.run(centre(channels, {"a": 1.0}, 30.0, groups, days=1.0, warmup_hours=0.0), replications=2,
                  seed=2, keep_journeys=False)
    desk = res.groups.loc["desk"]["mean"]
    assert desk["agents"] == pytest.approx(7.0)
    assert desk["agent_hours"] == pytest.approx(10 * 24)
    assert desk["cost"] == pytest.approx(10 * 24 * 20.0)


def test_call_backs_are_not_offered_when_the_line_closes_before_the_promise():
    scenario = callback_centre(days=2.0).with_changes({"channels.phone.open_hours": [8, 20],
                                                       "arrivals.per_hour": 60.0})
    log = sim.run(scenario, replications=1, seed=3).journeys
    offered = log[log["callback"] != "none"]
    assert len(offered) > 20
    minute_of_day = offered["time"] % 1440
    assert (minute_of_day + 30.0 < 20 * 60).all()  # promised within 30 minutes, closing at 20:00
