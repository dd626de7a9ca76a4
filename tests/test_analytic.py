"""Exact queueing and routing results, and the simulation's agreement with them.

The simulation tests compare an exact value with a simulated confidence
interval. Each test checks a family of ``m`` figures at once, so each
interval is contactflow's own (Student t corrected for skewness,
:func:`~simulator.metrics.confidence_interval`) at level ``1 - 0.05 / m``
(Bonferroni): the whole family is then wrong by chance at most 5 % of the
time. The tests also check that the intervals are narrow, so that agreement
means something.

Queue figures are averaged over long replications (6 days each, after a
4-hour warm-up): a queue at 80 % occupancy forgets its state only over hours,
so short replications give skewed per-replication waits, whose intervals the
skewness correction makes wide (a plain Student-t interval would be too
optimistic about low means).
"""

from __future__ import annotations

import copy
import itertools
import math

import numpy as np
import pytest
import scipy.linalg
from hypothesis import given, settings, strategies as st
from scipy import stats

import simulator as sim
from simulator.analytic import JourneyChain, QueueFigures, erlang_a, erlang_b, erlang_c
from simulator.metrics import confidence_interval
from simulator.scenario import GIVE_UP, RESOLVED, Scenario

FAST = settings(max_examples=60, deadline=None)


# --------------------------------------------------------------------------- helpers


def erlang_c_by_factorials(load: float, agents: int) -> float:
    """The textbook Erlang C formula, written the naive way (small ``agents`` only)."""
    top = load**agents / math.factorial(agents) * agents / (agents - load)
    return top / (sum(load**k / math.factorial(k) for k in range(agents)) + top)


def service_level_by_matrix_exponential(arrival_rate, mean_handle, agents, mean_patience, seconds):
    """Erlang A service level from the position-in-queue chain, with a dense matrix exponential.

    An independent route to the closed form used by :func:`erlang_a`.
    """
    mu, theta = 1.0 / mean_handle, 1.0 / mean_patience
    n_max = agents + 400
    n = np.arange(1, n_max + 1)
    death = np.minimum(n, agents) * mu + np.maximum(n - agents, 0) * theta
    weights = np.concatenate(([1.0], np.cumprod(arrival_rate / death)))
    p = weights / weights.sum()
    ahead = p[agents:]
    m = len(ahead)
    generator = np.zeros((m + 1, m + 1))  # states: 0..m-1 customers ahead, m = served
    for j in range(m):
        move_up = agents * mu + j * theta
        generator[j, j] = -(move_up + theta)
        generator[j, j - 1 if j else m] = move_up
    at_t = ahead @ scipy.linalg.expm(generator * seconds / 60.0)[:m, m]
    return p[:agents].sum() + at_t


def one_queue_scenario(agents, mean_handle, per_hour, mean_patience=None, seconds=20.0,
                       days=2.0, warmup_hours=4.0):
    phone = {
        "agents": agents,
        "handle_time": {"dist": "exponential", "mean": mean_handle},
        "resolve": 1.0,
        "next": {"give_up": 1.0},
        "service_level_seconds": seconds,
    }
    if mean_patience is not None:
        phone["patience"] = {"dist": "exponential", "mean": mean_patience}
    return Scenario.from_dict({
        "name": "one_queue",
        "focal_channel": "phone",
        "max_contacts": 1,
        "run": {"days": days, "warmup_hours": warmup_hours},
        "arrivals": {"per_hour": per_hour, "first_channel": {"phone": 1.0}},
        "channels": {"phone": phone},
    })


def row(weights: dict[str, int]) -> dict[str, float]:
    total = sum(weights.values())
    return {k: w / total for k, w in weights.items() if w}


def self_service(resolve, next_row, after_abandon=None, mean_handle=1.0):
    channel = {
        "agents": "unlimited",
        "handle_time": {"dist": "exponential", "mean": mean_handle},
        "resolve": resolve,
        "next": next_row,
    }
    if after_abandon is not None:
        channel["next_after_abandon"] = after_abandon
    return channel


def single_channel(resolve, retry, max_contacts):
    return Scenario.from_dict({
        "focal_channel": "phone",
        "max_contacts": max_contacts,
        "arrivals": {"per_hour": 10, "first_channel": {"phone": 1.0}},
        "channels": {"phone": self_service(resolve, row({"phone": retry, GIVE_UP: 1 - retry}))},
    })


def simulated(res, level, table, metric, channel=""):
    """Mean and CI of one metric over replications, at the given level."""
    frame = res.per_replication
    values = frame[(frame.table == table) & (frame.channel == channel) & (frame.metric == metric)]
    return confidence_interval(values.sort_values("replication")["value"], level)


def contacts_per_customer_in(res, channel, level):
    frame = res.per_replication.set_index(["replication", "table", "channel", "metric"])["value"]
    values = [frame[(r, "channels", channel, "contacts")] / frame[(r, "kpis", "", "customers")]
              for r in range(res.replications)]
    return confidence_interval(values, level)


def assert_inside(exact, interval, label, max_half_width):
    mean, low, high = interval
    assert high - low <= 2 * max_half_width, f"{label}: interval too wide to test ({low:.4g}, {high:.4g})"
    assert low <= exact <= high, f"{label}: exact {exact:.5g} outside simulated ({low:.5g}, {high:.5g}), mean {mean:.5g}"


# --------------------------------------------------------------------------- Erlang B and C


def test_erlang_c_textbook_values():
    two_erlangs = erlang_c(arrival_rate=2.0, mean_handle=1.0, agents=3, service_level_seconds=60)
    assert two_erlangs.p_wait == pytest.approx(4 / 9, rel=1e-12)
    assert two_erlangs.mean_wait == pytest.approx(4 / 9, rel=1e-12)  # C / (c mu - lambda), c mu - lambda = 1
    assert two_erlangs.service_level == pytest.approx(1 - 4 / 9 * math.exp(-1.0), rel=1e-12)
    assert two_erlangs.occupancy == pytest.approx(2 / 3)
    assert two_erlangs.mean_queue == pytest.approx(8 / 9)
    assert two_erlangs.abandon_rate == 0.0
    # M/M/1: P(wait) = rho, Wq = rho / (mu - lambda); here in minutes with a 4-minute handle
    single = erlang_c(arrival_rate=0.2, mean_handle=4.0, agents=1)
    assert single.p_wait == pytest.approx(0.8)
    assert single.mean_wait == pytest.approx(0.8 / (0.25 - 0.2))
    # c = 2, a = 1: C = 1/3
    assert erlang_c(1.0, 1.0, 2).p_wait == pytest.approx(1 / 3)


@given(agents=st.integers(1, 40), utilisation=st.floats(0.01, 0.99))
@FAST
def test_erlang_c_matches_the_factorial_formula(agents, utilisation):
    load = agents * utilisation
    assert erlang_c(load / 3.0, 3.0, agents).p_wait == pytest.approx(erlang_c_by_factorials(load, agents), rel=1e-9)


def test_erlang_b_is_stable_for_a_thousand_agents():
    blocking = erlang_b(950.0, 1000)
    assert math.isfinite(blocking) and 0.0 <= blocking <= 1.0
    # B(c, a) = P(X = c) / P(X <= c) for X ~ Poisson(a): an independent route
    assert blocking == pytest.approx(stats.poisson.pmf(1000, 950.0) / stats.poisson.cdf(1000, 950.0), rel=1e-9)
    wait = erlang_c(950.0 / 5.0, 5.0, 1000)
    assert 0.0 <= wait.p_wait <= 1.0 and math.isfinite(wait.mean_wait)
    assert erlang_b(2.0, 3) == pytest.approx((8 / 6) / (1 + 2 + 2 + 8 / 6))
    assert erlang_b(5.0, 0) == 1.0


def test_erlang_c_unstable_queue_and_bad_input():
    overloaded = erlang_c(arrival_rate=3.0, mean_handle=1.0, agents=3)
    assert (overloaded.p_wait, overloaded.mean_wait, overloaded.service_level, overloaded.occupancy) == (
        1.0, math.inf, 0.0, 1.0)
    idle = erlang_c(0.0, 5.0, 2)
    assert (idle.p_wait, idle.mean_wait, idle.service_level, idle.occupancy) == (0.0, 0.0, 1.0, 0.0)
    for args in [(1.0, 1.0, -1), (1.0, 1.0, 2.5), (-1.0, 1.0, 2), (1.0, 0.0, 2), (math.nan, 1.0, 2)]:
        with pytest.raises(ValueError):
            erlang_c(*args)
    with pytest.raises(ValueError):
        erlang_a(1.0, 1.0, 2, mean_patience=0.0)
    with pytest.raises(ValueError, match="shorter mean_patience"):  # a queue of about 9e9 customers
        erlang_a(10.0, 1.0, 1, mean_patience=1e9)
    idle = erlang_a(0.0, 5.0, 2, mean_patience=3.0)
    assert (idle.p_wait, idle.abandon_rate, idle.service_level) == (0.0, 0.0, 1.0)


# --------------------------------------------------------------------------- Erlang A


@pytest.mark.parametrize("arrival_rate, mean_patience", [(0.5, 3.0), (12.0, 0.25)])
def test_erlang_a_with_no_agents_loses_everyone_after_their_patience(arrival_rate, mean_patience):
    nobody = erlang_a(arrival_rate, 5.0, 0, mean_patience)
    assert (nobody.p_wait, nobody.abandon_rate, nobody.service_level) == (1.0, 1.0, 0.0)
    assert nobody.mean_wait == mean_patience  # everyone waits out their whole patience
    assert nobody.mean_queue == pytest.approx(arrival_rate * mean_patience)  # Little's law
    assert math.isnan(nobody.occupancy)
    # the same as one agent who never finishes a contact
    stuck = erlang_a(arrival_rate, 1e12, 1, mean_patience)
    for name in ("p_wait", "abandon_rate", "service_level", "mean_wait", "mean_queue"):
        assert getattr(stuck, name) == pytest.approx(getattr(nobody, name), rel=1e-6, abs=1e-9), name
    # without patience they wait forever; with no arrivals nobody waits
    forever = erlang_c(arrival_rate, 5.0, 0)
    assert (forever.p_wait, forever.mean_wait, forever.abandon_rate, forever.service_level) == (
        1.0, math.inf, 0.0, 0.0)
    idle = erlang_a(0.0, 5.0, 0, mean_patience)
    assert (idle.p_wait, idle.abandon_rate, idle.service_level, idle.mean_queue) == (0.0, 0.0, 1.0, 0.0)


@pytest.mark.parametrize("arrival_rate, mean_handle, agents", [(0.8, 5.0, 5), (2.0, 1.0, 3), (95.0, 2.0, 200)])
def test_erlang_a_with_endless_patience_is_erlang_c(arrival_rate, mean_handle, agents):
    patient = erlang_a(arrival_rate, mean_handle, agents, mean_patience=1e9, service_level_seconds=30)
    exact = erlang_c(arrival_rate, mean_handle, agents, service_level_seconds=30)
    for name in ("p_wait", "mean_wait", "service_level", "occupancy", "mean_queue"):
        assert getattr(patient, name) == pytest.approx(getattr(exact, name), rel=1e-5), name
    assert patient.abandon_rate < 1e-6
    assert erlang_a(arrival_rate, mean_handle, agents, math.inf) == erlang_c(arrival_rate, mean_handle, agents)


@pytest.mark.parametrize("load, agents", [(4.0, 5), (12.0, 10), (950.0, 1000)])
def test_erlang_a_with_no_patience_is_a_loss_system(load, agents):
    blocking = erlang_b(load, agents)
    impatient = erlang_a(load / 5.0, 5.0, agents, mean_patience=1e-9)  # corrections of order lambda / theta
    assert impatient.p_wait == pytest.approx(blocking, rel=1e-5)
    assert impatient.abandon_rate == pytest.approx(blocking, rel=1e-5)
    assert impatient.service_level == pytest.approx(1 - blocking, rel=1e-5)
    assert impatient.mean_wait < 1e-6
    assert impatient.occupancy == pytest.approx(load * (1 - blocking) / agents, rel=1e-5)


@pytest.mark.parametrize("arrival_rate, mean_handle, agents, mean_patience", [
    (1.0, 5.0, 5, 3.0), (2.5, 1.0, 2, 0.7), (30.0, 1.0, 25, 10.0), (0.5, 4.0, 1, 1.0)])
def test_erlang_a_service_level_matches_the_matrix_exponential(arrival_rate, mean_handle, agents, mean_patience):
    for seconds in (0.0, 10.0, 20.0, 60.0, 300.0):
        closed_form = erlang_a(arrival_rate, mean_handle, agents, mean_patience, seconds).service_level
        assert closed_form == pytest.approx(service_level_by_matrix_exponential(
            arrival_rate, mean_handle, agents, mean_patience, seconds), abs=1e-9)


@given(arrival_rate=st.floats(0.01, 20.0), mean_handle=st.floats(0.1, 10.0),
       agents=st.integers(1, 60), mean_patience=st.floats(0.05, 100.0))
@FAST
def test_erlang_a_figures_are_consistent(arrival_rate, mean_handle, agents, mean_patience):
    f = erlang_a(arrival_rate, mean_handle, agents, mean_patience, service_level_seconds=20)
    for share in (f.p_wait, f.service_level, f.abandon_rate, f.occupancy):
        assert -1e-12 <= share <= 1 + 1e-12
    assert f.abandon_rate <= f.p_wait + 1e-12
    assert f.service_level <= 1 - f.abandon_rate + 1e-9
    assert f.service_level >= 1 - f.p_wait - 1e-9  # those served at once are within any threshold
    assert f.mean_wait <= f.p_wait * mean_patience * (1 + 1e-9)  # nobody waits longer than their patience
    # busy agents (from the distribution) equal the served load (from abandonment by Little's law)
    assert f.occupancy == pytest.approx(arrival_rate * (1 - f.abandon_rate) * mean_handle / agents, rel=1e-7)
    levels = [erlang_a(arrival_rate, mean_handle, agents, mean_patience, s).service_level
              for s in (0.0, 5.0, 30.0, 120.0, 1e7)]
    assert all(a <= b + 1e-12 for a, b in itertools.pairwise(levels))
    assert levels[0] == pytest.approx(1 - f.p_wait, abs=1e-9)
    # everyone eventually served is served within a long enough threshold
    assert levels[-1] == pytest.approx(1 - f.abandon_rate, abs=1e-7)
    # patience only helps the ones who stay: Erlang C (when stable) waits more often
    if arrival_rate * mean_handle < agents:
        assert f.p_wait <= erlang_c(arrival_rate, mean_handle, agents).p_wait + 1e-9


def test_channel_metrics_use_the_simulation_names():
    metrics = erlang_a(1.0, 5.0, 5, 3.0).channel_metrics()
    assert set(metrics) <= set(sim.metrics.CHANNEL_METRICS)
    assert isinstance(erlang_c(1.0, 1.0, 2), QueueFigures)


# --------------------------------------------------------------------------- the journey chain: by hand


@pytest.mark.parametrize("resolve, retry, max_contacts", [(0.6, 0.5, 20), (0.3, 0.9, 4), (0.0, 1.0, 3), (0.5, 0.5, 1)])
def test_one_channel_chain_matches_the_geometric_sums(resolve, retry, max_contacts):
    chain = JourneyChain(single_channel(resolve, retry, max_contacts))
    again = (1 - resolve) * retry  # probability of another contact, before the cut-off
    contacts = sum(again**k for k in range(max_contacts))
    assert chain.contacts_per_customer == pytest.approx(contacts)
    assert chain.expected_contacts == {"phone": pytest.approx(contacts)}
    assert chain.resolution_rate == pytest.approx(resolve * contacts)
    assert chain.give_up_rate == pytest.approx(1 - resolve * contacts)
    assert chain.forced_give_up_rate == pytest.approx(again**max_contacts)
    assert chain.avoidable_call_share == pytest.approx((contacts - 1) / contacts)
    assert chain.caller_share == pytest.approx(1.0)
    assert chain.first_contact_resolution == pytest.approx(resolve)
    assert chain.multichannel_share == 0.0
    after = chain.after_call()
    calls_again = again if max_contacts > 1 else 0.0
    assert after == pytest.approx({"phone": calls_again, GIVE_UP: 1 - resolve - calls_again, RESOLVED: resolve})
    assert chain.callers_continue_share == 0.0
    assert chain.before_call() == {}


def test_long_journeys_approach_the_untruncated_fundamental_matrix():
    scenario = Scenario.from_dict({
        "focal_channel": "phone",
        "max_contacts": 400,
        "arrivals": {"per_hour": 10, "first_channel": {"web": 0.7, "phone": 0.3}},
        "channels": {
            "web": self_service(0.3, {"web": 0.3, "phone": 0.6, GIVE_UP: 0.1}),
            "phone": self_service(0.5, {"web": 0.4, "phone": 0.5, GIVE_UP: 0.1}),
        },
    })
    chain = JourneyChain(scenario)
    p = chain.transition
    visits = chain.first_channel @ np.linalg.inv(np.eye(2) - p)
    assert chain.expected_contacts == {"web": pytest.approx(visits[0]), "phone": pytest.approx(visits[1])}
    assert chain.forced_give_up_rate < 1e-12
    # never calling: start on the web and end there (resolved or given up) before moving to the phone
    never = 0.7 * (1 - p[0, 0] - p[0, 1]) / (1 - p[0, 0])
    assert chain.caller_share == pytest.approx(1 - never)
    # callers who used the web first are those who started there
    assert chain.before_call() == {"web": pytest.approx((0.7 - never) / (1 - never))}


def test_graph_and_fundamental_matrix():
    scenario = sim.load_scenario("nice_bcg_2016")
    chain = JourneyChain(scenario)
    graph = chain.graph
    assert set(graph.nodes) == set(scenario.channel_names) | {GIVE_UP, RESOLVED}
    for name in scenario.channel_names:
        out = sum(d["probability"] for _, _, d in graph.out_edges(name, data=True))
        assert out == pytest.approx(1.0)
    phone, web = scenario.channel("phone"), scenario.channel("web")
    assert graph.edges["phone", RESOLVED]["probability"] == pytest.approx(phone.resolve)
    assert graph.edges["web", "phone"]["probability"] == pytest.approx((1 - web.resolve) * web.next["phone"])
    n = chain.fundamental_matrix()
    start = np.zeros(len(n))
    start[: len(scenario.channels)] = chain.first_channel
    visits = (start @ n).reshape(scenario.max_contacts, -1).sum(axis=0)
    assert list(chain.expected_contacts.values()) == pytest.approx(list(visits))
    kpis = chain.kpis()
    assert set(kpis) <= set(sim.metrics.KPI_NAMES)
    assert kpis["resolution_rate"] + kpis["give_up_rate"] == pytest.approx(1.0)
    assert sum(chain.after_call().values()) == pytest.approx(1.0)
    assert list(chain.before_call()) == ["web", "email", "chat"]


def test_served_and_closed_shares_route_like_the_model():
    scenario = Scenario.from_dict({
        "focal_channel": "phone",
        "max_contacts": 5,
        "arrivals": {"per_hour": 10, "first_channel": {"phone": 1.0}},
        "channels": {
            "web": self_service(1.0, {GIVE_UP: 1.0}),
            "phone": {"agents": 3, "handle_time": {"dist": "exponential", "mean": 2.0},
                      "resolve": 0.5, "next": {"web": 1.0}, "next_after_abandon": {"phone": 1.0}},
        },
    })
    chain = JourneyChain(scenario, served_shares={"phone": 0.6}, closed_shares={"phone": 0.1})
    # unresolved (0.6 * 0.5) and closed (0.1) follow `next`; abandoned (0.3) `next_after_abandon`
    assert chain.graph.edges["phone", "web"]["probability"] == pytest.approx(0.4)
    assert chain.graph.edges["phone", "phone"]["probability"] == pytest.approx(0.3)
    assert chain.graph.edges["phone", RESOLVED]["probability"] == pytest.approx(0.3)
    with pytest.raises(ValueError, match="no channel 'chat'"):
        JourneyChain(scenario, served_shares={"chat": 0.5})
    with pytest.raises(ValueError, match="exceeds 1"):
        JourneyChain(scenario, served_shares={"phone": 0.8}, closed_shares={"phone": 0.3})


# --------------------------------------------------------------------------- the journey chain: brute force


def enumerate_journeys(scenario: Scenario, served: dict, closed: dict):
    """Every possible journey with its probability, following Replication.journey step by step."""
    def walk(channel, path, prob):
        spec = scenario.channel(channel)
        s, k = served.get(channel, 1.0), closed.get(channel, 0.0)
        path = path + [channel]
        yield prob * s * spec.resolve, path, RESOLVED
        if len(path) >= scenario.max_contacts:
            yield prob * (1 - s * spec.resolve), path, GIVE_UP
            return
        branches = [(s * (1 - spec.resolve) + k, spec.next), (1 - s - k, spec.next_after_abandon)]
        for weight, next_row in branches:
            for target, p in next_row.items():
                if weight * p == 0:
                    continue
                if target == GIVE_UP:
                    yield prob * weight * p, path, GIVE_UP
                else:
                    yield from walk(target, path, prob * weight * p)

    for first, p in scenario.arrivals.first_channel.items():
        if p > 0:
            yield from walk(first, [], p)


def brute_force_figures(scenario, served, closed):
    names, focal = scenario.channel_names, scenario.focal_channel
    figures = {"contacts": dict.fromkeys(names, 0.0), "resolved": 0.0, "fcr": 0.0, "multichannel": 0.0,
               "callers": 0.0, "avoidable": 0.0, "before": dict.fromkeys(names, 0.0),
               "after": dict.fromkeys(names + (GIVE_UP, RESOLVED), 0.0)}
    for prob, path, end in enumerate_journeys(scenario, served, closed):
        for channel in path:
            figures["contacts"][channel] += prob
        figures["resolved"] += prob * (end == RESOLVED)
        figures["fcr"] += prob * (end == RESOLVED and len(path) == 1)
        figures["multichannel"] += prob * (len(set(path)) >= 2)
        figures["avoidable"] += prob * sum(c == focal for c in path[1:])
        if focal in path:
            first_call = path.index(focal)
            figures["callers"] += prob
            for channel in set(path[:first_call]):
                figures["before"][channel] += prob
            step = path[first_call + 1] if first_call + 1 < len(path) else end
            figures["after"][step] += prob
    return figures


weights = st.integers(0, 4)


@st.composite
def networks(draw):
    names = ("web", "chat", "phone")
    targets = names + (GIVE_UP,)

    def random_row(options):
        w = {t: draw(weights) for t in options}
        if not any(w.values()):
            w[draw(st.sampled_from(options))] = 1
        return row(w)

    channels = {}
    for name in names:
        channels[name] = self_service(draw(st.sampled_from([0.0, 0.25, 0.5, 0.9])),
                                      random_row(targets), random_row(targets))
    data = {
        "focal_channel": draw(st.sampled_from(names)),
        "max_contacts": draw(st.integers(1, 5)),
        "arrivals": {"per_hour": 10, "first_channel": random_row(names)},
        "channels": channels,
    }
    served = {n: draw(st.sampled_from([1.0, 0.8, 0.5])) for n in names}
    closed = {n: draw(st.sampled_from([0.0, round(1.0 - served[n], 1), 0.1 if served[n] < 1 else 0.0]))
              for n in names}
    return Scenario.from_dict(data), served, closed


@given(networks())
@settings(max_examples=80, deadline=None)
def test_chain_equals_enumeration_of_every_journey(network):
    scenario, served, closed = network
    chain = JourneyChain(scenario, served_shares=served, closed_shares=closed)
    truth = brute_force_figures(scenario, served, closed)
    focal = scenario.focal_channel
    assert chain.expected_contacts == pytest.approx(truth["contacts"], abs=1e-12)
    assert chain.resolution_rate == pytest.approx(truth["resolved"], abs=1e-12)
    assert chain.give_up_rate == pytest.approx(1 - truth["resolved"], abs=1e-12)
    assert chain.first_contact_resolution == pytest.approx(truth["fcr"], abs=1e-12)
    assert chain.multichannel_share == pytest.approx(truth["multichannel"], abs=1e-12)
    assert chain.caller_share == pytest.approx(truth["callers"], abs=1e-12)
    if truth["contacts"][focal] > 1e-9:
        assert chain.avoidable_call_share == pytest.approx(truth["avoidable"] / truth["contacts"][focal], abs=1e-9)
    if truth["callers"] > 1e-9:
        before = {c: v / truth["callers"] for c, v in truth["before"].items() if c != focal}
        after = {c: v / truth["callers"] for c, v in truth["after"].items()}
        assert chain.before_call() == pytest.approx(before, abs=1e-9)
        assert chain.after_call() == pytest.approx(after, abs=1e-9)
        continue_share = sum(v for c, v in after.items() if c in scenario.channel_names and c != focal)
        assert chain.callers_continue_share == pytest.approx(continue_share, abs=1e-9)
    else:
        assert all(math.isnan(v) for v in chain.after_call().values())


# --------------------------------------------------------------------------- agreement with the simulation


def test_simulated_queue_agrees_with_erlang_c():
    # 5 agents, 4 Erlangs offered (occupancy 0.8), exponential everything, nobody hangs up
    scenario = one_queue_scenario(agents=5, mean_handle=5.0, per_hour=48.0, seconds=60.0, days=6.0)
    exact = erlang_c(48.0 / 60.0, 5.0, 5, service_level_seconds=60.0).channel_metrics()
    # 30 replications: even 6-day mean waits are skewed at this load, and the interval's skewness
    # correction at the Bonferroni level needs that many to be as narrow as checked
    res = sim.run(scenario, replications=30, seed=2024, keep_journeys=False)
    checks = {"p_wait": 0.04, "mean_wait_min": 0.5, "service_level": 0.04, "occupancy": 0.02}
    level = 1 - 0.05 / len(checks)
    for metric, max_half_width in checks.items():
        assert_inside(exact[metric], simulated(res, level, "channels", metric, "phone"), metric, max_half_width)


def test_simulated_queue_agrees_with_erlang_a():
    # critically loaded (5 Erlangs on 5 agents); exponential patience, mean 3 minutes
    scenario = one_queue_scenario(agents=5, mean_handle=5.0, per_hour=60.0, mean_patience=3.0, seconds=30.0,
                                  days=6.0)
    exact = erlang_a(1.0, 5.0, 5, mean_patience=3.0, service_level_seconds=30.0).channel_metrics()
    res = sim.run(scenario, replications=20, seed=2025, keep_journeys=False)
    checks = {"abandon_rate": 0.02, "p_wait": 0.03, "mean_wait_min": 0.1, "service_level": 0.03,
              "occupancy": 0.02, "mean_queue": 0.1}
    level = 1 - 0.05 / len(checks)
    for metric, max_half_width in checks.items():
        assert_inside(exact[metric], simulated(res, level, "channels", metric, "phone"), metric, max_half_width)


NETWORK = {
    "name": "self_service_network",
    "focal_channel": "phone",
    "max_contacts": 4,
    "run": {"days": 1 / 24, "warmup_hours": 0},
    "arrivals": {"per_hour": 6000, "first_channel": {"web": 0.45, "app": 0.2, "chat": 0.1, "phone": 0.25}},
    "channels": {
        "web": self_service(0.3, {"web": 0.15, "app": 0.2, "chat": 0.15, "phone": 0.4, GIVE_UP: 0.1}),
        "app": self_service(0.4, {"web": 0.2, "chat": 0.2, "phone": 0.5, GIVE_UP: 0.1}),
        "chat": self_service(0.55, {"web": 0.05, "chat": 0.2, "phone": 0.7, GIVE_UP: 0.05}),
        "phone": self_service(0.6, {"web": 0.2, "app": 0.05, "chat": 0.15, "phone": 0.5, GIVE_UP: 0.1}),
    },
}


def test_simulated_network_agrees_with_the_chain():
    scenario = Scenario.from_dict(copy.deepcopy(NETWORK))
    chain = JourneyChain(scenario)
    res = sim.run(scenario, replications=20, seed=7, keep_journeys=False)
    kpi_names = ("contacts_per_customer", "give_up_rate", "first_contact_resolution", "multichannel_share",
                 "caller_share", "avoidable_call_share", "callers_continue_share")
    before, after = chain.before_call(), chain.after_call()
    family = len(kpi_names) + len(scenario.channels) + len(before) + len(after)
    level = 1 - 0.05 / family
    assert chain.forced_give_up_rate > 0.02  # the max_contacts cut-off matters here
    kpis = chain.kpis()
    for name in kpi_names:
        assert_inside(kpis[name], simulated(res, level, "kpis", name), name, 0.02)
    for channel, expected in chain.expected_contacts.items():
        assert_inside(expected, contacts_per_customer_in(res, channel, level), f"contacts in {channel}", 0.02)
    for channel, share in before.items():
        assert_inside(share, simulated(res, level, "before_call", "share", channel), f"before {channel}", 0.01)
    for target, share in after.items():
        assert_inside(share, simulated(res, level, "after_call", "share", target), f"after {target}", 0.01)


@st.composite
def unlimited_networks(draw):
    """Random routing over 3-4 self-service channels (unlimited capacity, always open)."""
    names = ("web", "chat", "phone") if draw(st.booleans()) else ("web", "app", "chat", "phone")
    targets = names + (GIVE_UP,)

    def random_row(options):
        w = {t: draw(st.integers(0, 4)) for t in options}
        if not any(w.values()):
            w[draw(st.sampled_from(options))] = 1
        return row(w)

    return Scenario.from_dict({
        "focal_channel": "phone",
        "max_contacts": draw(st.integers(2, 8)),
        "run": {"days": 1 / 24, "warmup_hours": 0},
        "arrivals": {"per_hour": 1500, "first_channel": random_row(names)},
        "channels": {n: self_service(draw(st.sampled_from([0.1, 0.3, 0.5, 0.7])), random_row(targets))
                     for n in names},
    })


@given(unlimited_networks())
@settings(max_examples=5, deadline=None, derandomize=True)
def test_random_unlimited_networks_agree_with_the_chain_on_every_table_entry(scenario):
    # Journeys are independent when capacity is unlimited, so every figure below
    # is an honest mean over independent replications. All checks of one network
    # hold together at 95 % (Bonferroni); the networks are fixed (derandomize)
    # so the test is reproducible.
    chain = JourneyChain(scenario)
    res = sim.run(scenario, replications=20, seed=99, keep_journeys=False)
    kpis = chain.kpis()
    # (exact value, function of the CI level giving the simulated interval, label)
    checks = [(kpis[k], lambda lv, k=k: simulated(res, lv, "kpis", k), k)
              for k in ("contacts_per_customer", "give_up_rate", "first_contact_resolution",
                        "caller_share", "avoidable_call_share", "callers_continue_share")]
    checks += [(v, lambda lv, c=c: contacts_per_customer_in(res, c, lv), f"contacts in {c}")
               for c, v in chain.expected_contacts.items()]
    for table, shares in (("before_call", chain.before_call()), ("after_call", chain.after_call())):
        checks += [(v, lambda lv, t=table, c=c: simulated(res, lv, t, "share", c), f"{table}.{c}")
                   for c, v in shares.items()]
    checks = [c for c in checks if not math.isnan(c[0])]
    level = 1 - 0.05 / len(checks)
    for exact, interval, label in checks:
        mean, low, high = interval(level)
        assert high - low < 0.1 or label.startswith("contacts"), f"{label}: interval too wide ({low}, {high})"
        assert low - 1e-12 <= exact <= high + 1e-12, (
            f"{label}: chain {exact:.5g} outside simulated ({low:.5g}, {high:.5g}) for {scenario.to_dict()}")
