"""Loading and validating scenarios: every problem reported at once, with its field path."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulator as sim
from simulator.scenario import Scenario, ScenarioError, bundled_scenarios

from conftest import BASE, make_scenario
from strategies import valid_scenarios


def problems_of(data: dict) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        Scenario.from_dict(data, "bad.toml")
    return [str(p) for p in info.value.problems]


def broken(**paths) -> dict:
    data = copy.deepcopy(BASE)
    for path, value in paths.items():
        node = data
        keys = path.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return data


def test_bundled_scenarios_are_valid():
    bundled = bundled_scenarios()
    assert "nice_bcg_2016" in bundled and len(bundled) >= 3
    for name in bundled:
        sc = sim.load_scenario(name)
        assert sc.description
        assert sc.focal_channel in sc.channel_names


def test_unknown_key_suggests_the_right_one():
    data = broken(channels__chat__resolv=0.5)
    msgs = problems_of(data)
    assert any(m.startswith("channels.chat.resolv: unknown key; did you mean 'resolve'?") for m in msgs)


def test_row_that_does_not_sum_to_one_says_the_sum():
    msgs = problems_of(broken(channels__chat__next={"chat": 0.2, "phone": 0.7}))
    assert msgs == ["channels.chat.next: probabilities must sum to 1; they sum to 0.9"]


def test_probability_outside_unit_interval():
    msgs = problems_of(broken(channels__web__resolve=1.2))
    assert msgs == ["channels.web.resolve: must be a probability in [0, 1]; got 1.2"]


def test_next_naming_an_unknown_channel():
    msgs = problems_of(broken(channels__web__next={"web": 0.5, "emial": 0.5}))
    assert any("channels.web.next.emial: unknown channel 'emial'" in m for m in msgs)


def test_negative_or_zero_times():
    msgs = problems_of(broken(channels__phone__handle_time={"dist": "exponential", "mean": -2}))
    assert msgs == ["channels.phone.handle_time: mean must be from 1e-06 to 5,256,000 minutes (10 years); got -2"]
    msgs = problems_of(broken(channels__phone__patience={"dist": "uniform", "low": 0, "high": 0}))
    assert any("high must be from 1e-06 to 5,256,000 minutes (10 years)" in m for m in msgs)


def test_focal_channel_must_exist():
    msgs = problems_of(broken(focal_channel="call_centre"))
    assert msgs == ["focal_channel: 'call_centre' is not a channel (channels: web, chat, phone)"]


def test_every_problem_is_reported_at_once():
    data = broken(focal_channel="x", max_contacts=0, channels__web__resolve=-1)
    data["run"]["days"] = 0
    data["arrivals"]["per_hour"] = "many"
    msgs = problems_of(data)
    paths = {m.split(":")[0] for m in msgs}
    assert paths == {"focal_channel", "max_contacts", "channels.web.resolve", "run.days",
                     "arrivals.per_hour"}


def test_agents_forms():
    assert make_scenario({"channels.chat.agents": [2] * 24}).channel("chat").has_shift_plan
    msgs = problems_of(broken(channels__chat__agents=[1] * 23))
    assert msgs == ["channels.chat.agents: must be a list of 24 whole numbers from 0 to 1,000,000, "
                    "one per hour from 0:00, or 168 for a week from Monday 0:00; got 23 values"]
    msgs = problems_of(broken(channels__chat__agents="lots"))
    assert 'or "unlimited"' in msgs[0]
    msgs = problems_of(broken(channels__web__patience={"dist": "exponential", "mean": 1}))
    assert msgs[0].startswith("channels.web.patience: self-service")


def test_malformed_toml_gives_line_and_column(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('name = "x"\n[run\ndays = 1\n')
    with pytest.raises(ScenarioError) as info:
        sim.load_scenario(path)
    text = str(info.value)
    assert str(path) in text and "line 2" in text and "column" in text


def test_missing_file_lists_bundled_names():
    with pytest.raises(ScenarioError) as info:
        sim.load_scenario("no_such_scenario")
    assert "nice_bcg_2016" in str(info.value)


def test_with_changes_validates_and_keeps_the_original():
    sc = make_scenario()
    changed = sc.with_changes({"channels.chat.resolve": 0.9, "run.days": 3})
    assert changed.channel("chat").resolve == 0.9 and changed.run.days == 3
    assert sc.channel("chat").resolve == 0.6
    with pytest.raises(ScenarioError, match="channels.chat.resolve: must be a probability"):
        sc.with_changes({"channels.chat.resolve": 2})
    assert "patience" not in changed.with_changes({"channels.chat.patience": None}).to_dict()["channels"]["chat"]


def test_to_toml_round_trip(tmp_path):
    sc = sim.load_scenario("nice_bcg_2016")
    path = tmp_path / "copy.toml"
    path.write_text(sc.to_toml())
    again = sim.load_scenario(path)
    assert again.channels == sc.channels and again.arrivals == sc.arrivals


# -- published figures ([reference]) ----------------------------------------------


def with_figures(figures: dict) -> dict:
    data = copy.deepcopy(BASE)
    data["reference"] = {"source": "survey", "figures": figures}
    return data


def test_reference_accepts_every_kind_of_figure_name():
    figures = {"avoidable_call_share": 0.7, "mean_journey_minutes": 42.0, "before_call.web": 0.3,
               "after_call.chat": 0.1, "after_call.give_up": 0.05, "after_call.resolved": 0.5,
               "channels.phone.service_level": 0.8, "channels.chat.mean_wait_min": 1.5}
    assert Scenario.from_dict(with_figures(figures)).reference == figures


@pytest.mark.parametrize("figures, expected", [
    ({"before_call.fax": 0.1},
     """reference.figures."before_call.fax": unknown before_call column 'fax' (columns, the channels """
     "other than the focal phone: web, chat)"),
    ({"before_call.phone": 0.1}, """reference.figures."before_call.phone": unknown before_call column 'phone'"""),
    ({"before_call.cht": 0.1}, "unknown before_call column 'cht'; did you mean 'chat'?"),
    ({"after_call.giveup": 0.1}, """reference.figures."after_call.giveup": unknown after_call column 'giveup'; """
                                 "did you mean 'give_up'? (columns: web, chat, phone, give_up, resolved)"),
    ({"channels.phone.service_levl": 0.8},
     """reference.figures."channels.phone.service_levl": unknown channel metric 'service_levl'; """
     "did you mean 'service_level'? (metrics: contacts, "),
    ({"channels.phnoe.service_level": 0.8},
     "unknown channel 'phnoe'; did you mean 'phone'? (channels: web, chat, phone)"),
    ({"avoidable_call_shar": 0.7}, "reference.figures.avoidable_call_shar: unknown KPI 'avoidable_call_shar'; "
                                   "did you mean 'avoidable_call_share'? (KPIs: customers, "),
    ({"befor_call.web": 0.1}, """reference.figures."befor_call.web": not a figure name; did you mean 'before_call'? """
                              "(use a KPI name, channels.CHANNEL.METRIC, groups.GROUP.METRIC, before_call.CHANNEL or after_call.TARGET)"),
    ({"avoidable_call_share": 70}, "reference.figures.avoidable_call_share: must be a share in [0, 1], "
                                   "e.g. 0.7 for 70 %; got 70"),
    ({"channels.phone.abandon_rate": -0.1}, "must be a share in [0, 1], e.g. 0.7 for 70 %; got -0.1"),
    ({"after_call.chat": 1.5}, """reference.figures."after_call.chat": must be a share in [0, 1]"""),
    ({"mean_journey_minutes": -3}, "reference.figures.mean_journey_minutes: must be a number >= 0; got -3"),
    ({"cost_total": float("inf")}, "reference.figures.cost_total: must be a finite number >= 0; got inf"),
    ({"after_call": {"chat": 0.1}}, 'reference.figures.after_call: must be a number; got a table '
                                    '(quote a figure name with dots: "after_call.chat" = ...)'),
])
def test_reference_figures_are_checked_when_loaded(figures, expected):
    msgs = problems_of(with_figures(figures))
    assert len(msgs) == 1 and expected in msgs[0], msgs


def test_reference_reports_every_bad_figure_at_once():
    msgs = problems_of(with_figures({"before_call.fax": 0.1, "caller_share": 2, "give_up_rate": 0.1}))
    assert [m.split(":")[0] for m in msgs] == ['reference.figures."before_call.fax"', "reference.figures.caller_share"]


# -- missing fields, distributions, non-finite numbers ---------------------------


def test_missing_required_fields_say_missing_and_what_is_needed():
    data = copy.deepcopy(BASE)
    del data["arrivals"]["per_hour"]
    for key in ("resolve", "next", "agents"):
        del data["channels"]["chat"][key]
    msgs = problems_of(data)
    assert "arrivals.per_hour: missing; needed: a number >= 1e-06 and <= 1,000,000,000" in msgs
    assert "channels.chat.resolve: missing; needed: a probability in [0, 1]" in msgs
    assert ("channels.chat.next: missing; needed: a table of probabilities over web, chat, phone, give_up"
            in msgs)
    assert any(m.startswith("channels.chat.agents: missing; needed: a whole number from 1 to 1,000,000") for m in msgs)
    assert not [m for m in msgs if "None" in m]


@pytest.mark.parametrize("spec, expected", [
    ({"dist": "gamma", "mena": 9.0, "cv": 1},
     ["channels.chat.handle_time.mena: unknown key; did you mean 'mean'? allowed: dist, mean, cv",
      "channels.chat.handle_time.mean: missing; needed: a number from 1e-06 to 5,256,000 minutes (10 years) (gamma takes mean, cv)"]),
    ({"dits": "gamma", "mean": 9.0, "cv": 1},
     ["channels.chat.handle_time.dist: missing; needed: one of exponential, lognormal, gamma, deterministic, "
      "uniform, empirical",
      "channels.chat.handle_time.dits: unknown key; did you mean 'dist'? allowed: dist, mean, cv, value, "
      "low, high, values"]),
    ({"dist": "gama", "mean": 9.0},
     ["channels.chat.handle_time.dist: must be one of exponential, lognormal, gamma, deterministic, uniform, "
      "empirical; got 'gama'; did you mean 'gamma'?"]),
    ({"dist": "exponential", "mean": float("inf")},
     ["channels.chat.handle_time: mean must be a finite number from 1e-06 to 5,256,000 minutes (10 years); got inf"]),
    ({"dist": "uniform", "low": float("nan"), "high": 3},
     ["channels.chat.handle_time: low must be a finite number from 0 to 5,256,000 minutes (10 years); got nan"]),
    ({"dist": "empirical", "values": [1.0, float("inf")]},
     ["channels.chat.handle_time: empirical values must be a non-empty list of finite numbers from 0 to 5,256,000 minutes (10 years)"]),
])
def test_distribution_problems_name_the_key(spec, expected):
    assert problems_of(broken(channels__chat__handle_time=spec)) == expected


def test_distribution_api_message_names_the_key():
    with pytest.raises(ValueError, match="^mena: unknown key; did you mean 'mean'?"):
        sim.distribution({"dist": "gamma", "mena": 9.0, "cv": 1})


def test_non_finite_numbers_ask_for_a_finite_number():
    data = broken(arrivals__per_hour=float("inf"))
    data["run"]["days"] = float("nan")
    data["arrivals"]["hourly_profile"] = [1.0] * 23 + [float("inf")]
    msgs = problems_of(data)
    assert "arrivals.per_hour: must be a finite number >= 1e-06 and <= 1,000,000,000; got inf" in msgs
    assert "run.days: must be a finite number > 0 and <= 100,000; got nan" in msgs
    assert ("arrivals.hourly_profile: must be a list of 24 finite numbers >= 0, one per hour from 0:00, "
            "or 168 for a week from Monday 0:00; got inf for hour 23") in msgs
    assert "arrivals.per_hour: must be a number >= 1e-06 and <= 1,000,000,000; got 'many'" in problems_of(
        broken(arrivals__per_hour="many"))


# -- with_changes: paths that name nothing, and where a problem came from ----------------


def change_problems(changes: dict, **kwargs) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        make_scenario().with_changes(changes, **kwargs)
    return [str(p) for p in info.value.problems]


def test_with_changes_refuses_a_mistyped_channel():
    msgs = change_problems({"channels.chta.agents": 25})
    assert msgs == ["channels.chta.agents: no channel 'chta'; did you mean 'chat'? (channels: web, chat, phone; "
                    "a new channel needs its whole table, e.g. channels.chta={ agents = 5, ... }) "
                    "(from channels.chta.agents=25)"]
    assert change_problems({"channels.chta": None})[0].startswith("channels.chta: no channel 'chta'")


def test_with_changes_adds_a_channel_given_as_a_whole_table():
    sms = {"agents": 2, "handle_time": {"dist": "exponential", "mean": 3.0}, "resolve": 0.5,
           "next": {"phone": 0.5, "give_up": 0.5}}
    sc = make_scenario().with_changes({"channels.sms": sms, "channels.sms.agents": 3})
    assert sc.channel_names == ("web", "chat", "phone", "sms") and sc.channel("sms").agents == 3


def test_with_changes_refuses_to_remove_a_field_that_is_not_there():
    assert change_problems({"channels.chat.patince": None}) == [
        "channels.chat.patince: nothing to remove: unknown key; did you mean 'patience'? allowed: "
        "label, agents, handle_time, patience, resolve, next, next_after_abandon, open_hours, async, "
        "retry_delay, cost_per_contact, cost_per_agent_hour, service_level_seconds, concurrency, "
        "concurrency_slowdown, callback (from channels.chat.patince=None)"]
    assert change_problems({"channels.chat.next.phnoe": None})[0].startswith(
        "channels.chat.next.phnoe: nothing to remove: unknown key; did you mean 'phone'?")
    assert change_problems({"channels.web.patience.mean": None})[0].startswith(
        "channels.web.patience.mean: nothing to remove: channels.web.patience is not set")
    # an optional field that is already absent is fine: removing it changes nothing
    assert make_scenario().with_changes({"channels.web.open_hours": None}).channel("web").open_hours is None


def test_with_changes_says_which_change_a_problem_came_from():
    assert change_problems({"channels.chat.resolve": 2, "run.days": 2}) == [
        "channels.chat.resolve: must be a probability in [0, 1]; got 2 (from channels.chat.resolve=2)"]
    assert change_problems({"channels.chat.next.phone": 0.9}) == [
        "channels.chat.next: probabilities must sum to 1; they sum to 1.2 (from channels.chat.next.phone=0.9)"]
    # a problem elsewhere that follows from the changes names all of them
    msgs = change_problems({"channels.chat.agents": "unlimited"},
                           origins={"channels.chat.agents": "--set channels.chat.agents=unlimited"})
    assert msgs == ["channels.chat.patience: self-service (agents = \"unlimited\") has no queue to abandon "
                    "(after --set channels.chat.agents=unlimited)"]
    with pytest.raises(ScenarioError) as info:
        make_scenario().with_changes({"channels.chat.agents": "abc"})
    assert str(info.value).splitlines()[1] == (
        "  test.toml: channels.chat.agents: must be a whole number from 1 to 1,000,000, a list of 24 (or 168) "
        "hourly staffing levels, "
        "or \"unlimited\"; got 'abc' (from channels.chat.agents='abc')")


# -- property tests -----------------------------------------------------------

@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_scenarios(), st.integers(0, 2**32 - 1))
def test_random_valid_scenarios_run(data, seed):
    sc = Scenario.from_dict(data)
    res = sim.run(sc, replications=1, seed=seed)
    kpis = res.kpis["mean"]
    if kpis["customers"] > 0:
        assert 0 <= kpis["give_up_rate"] <= 1
        assert 1 <= kpis["contacts_per_customer"] <= sc.max_contacts
        assert res.after_call["mean"].sum() == pytest.approx(1.0) or kpis["caller_share"] == 0


@settings(max_examples=50, deadline=None)
@given(valid_scenarios())
def test_complete_dicts_of_random_scenarios_give_the_same_scenario(data):
    """to_dict(complete=True) writes every default out; read back, it is the same scenario."""
    import tomli_w

    from simulator.scenario import parse_toml

    sc = Scenario.from_dict(data)
    complete = sc.to_dict(complete=True)
    assert Scenario.from_dict(parse_toml(tomli_w.dumps(complete))) == sc
    assert set(complete["run"]) == {"days", "warmup_hours", "replications", "seed"}


junk = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True),
                 st.text(max_size=5), st.lists(st.integers(), max_size=3),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
FIELDS = ["name", "focal_channel", "max_contacts", "run", "run.days", "run.seed",
          "arrivals.per_hour", "arrivals.first_channel", "arrivals.hourly_profile",
          "channels.web.agents", "channels.chat.agents", "channels.chat.handle_time",
          "channels.chat.patience", "channels.phone.resolve", "channels.phone.next",
          "channels.web.next_after_abandon", "channels.chat.open_hours", "channels.chat.async",
          "channels.phone.cost_per_agent_hour", "channels.phone.bogus", "bogus", "channels"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(FIELDS), junk), min_size=1, max_size=3))
def test_random_invalid_fields_give_a_clean_error(changes):
    data = copy.deepcopy(BASE)
    from simulator.scenario import set_path
    for path, value in changes:
        try:
            set_path(data, path, value)
        except KeyError:
            pass
    try:
        Scenario.from_dict(data, "fuzz.toml")
    except ScenarioError as exc:
        assert exc.problems
        assert all(str(p) for p in exc.problems)
        assert not [p for p in exc.problems if "got None" in str(p)]  # a missing field says "missing"
        assert str(exc).startswith("fuzz.toml:")


def test_a_tiny_day_to_day_variation_runs_as_none():
    """day_to_day_cv = 1e-249 is valid: 1 / cv**2 overflowed into a ZeroDivisionError."""
    tiny = sim.run(make_scenario({"arrivals.day_to_day_cv": 1e-249, "run.days": 0.05}), replications=1, seed=3)
    none = sim.run(make_scenario({"run.days": 0.05}), replications=1, seed=3)
    assert tiny.per_replication.equals(none.per_replication)
