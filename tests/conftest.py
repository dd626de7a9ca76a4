"""Shared helpers: small scenarios built in code."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

from simulator.scenario import Scenario, set_path

#: Four channels with their own agents at a steady rate (tests/scenarios/daily_centre.toml): the former
#: daily preset, for tests that need a channel's own agents, a steady state or a cheap run.
DAILY_CENTRE = str(Path(__file__).resolve().parent / "scenarios" / "daily_centre.toml")

BASE = {
    "name": "test_network",
    "description": "three channels for tests",
    "focal_channel": "phone",
    "max_contacts": 10,
    "run": {"days": 0.5, "warmup_hours": 1, "replications": 3, "seed": 11},
    "arrivals": {"per_hour": 120, "first_channel": {"web": 0.5, "chat": 0.2, "phone": 0.3}},
    "channels": {
        "web": {
            "agents": "unlimited",
            "handle_time": {"dist": "exponential", "mean": 4.0},
            "resolve": 0.4,
            "next": {"web": 0.2, "chat": 0.3, "phone": 0.4, "give_up": 0.1},
        },
        "chat": {
            "agents": 4,
            "handle_time": {"dist": "exponential", "mean": 6.0},
            "patience": {"dist": "exponential", "mean": 3.0},
            "resolve": 0.6,
            "next": {"chat": 0.2, "phone": 0.7, "give_up": 0.1},
        },
        "phone": {
            "agents": 8,
            "handle_time": {"dist": "lognormal", "mean": 5.0, "cv": 0.8},
            "patience": {"dist": "exponential", "mean": 4.0},
            "resolve": 0.7,
            "next": {"web": 0.3, "chat": 0.2, "phone": 0.4, "give_up": 0.1},
            "cost_per_agent_hour": 30.0,
        },
    },
}


def make_scenario(changes: dict | None = None, base: dict | None = None) -> Scenario:
    """The test network with dotted-path changes applied (validated)."""
    data = copy.deepcopy(base or BASE)
    for path, value in (changes or {}).items():
        set_path(data, path, value)
    return Scenario.from_dict(data, "test.toml")


def focal_only_scenario(changes: dict | None = None) -> Scenario:
    """The test network's phone channel alone: the focal channel is the only channel."""
    data = copy.deepcopy(BASE)
    data["name"] = "phone_only"
    data["channels"] = {"phone": data["channels"]["phone"]}
    data["channels"]["phone"]["next"] = {"phone": 0.4, "give_up": 0.6}
    data["arrivals"]["first_channel"] = {"phone": 1.0}
    return make_scenario(changes, data)


@pytest.fixture
def scenario() -> Scenario:
    return make_scenario()


def grouped_centre(days: float = 0.25, replications: int = 2) -> Scenario:
    """A small centre with a blended group (phone first, email in its idle time with one agent kept free),
    chats three at a time answered by their own agents, and phone call backs; quick to simulate."""
    def exponential(mean):
        return {"dist": "exponential", "mean": mean}

    return Scenario.from_dict({
        "name": "grouped", "focal_channel": "phone", "max_contacts": 6,
        "run": {"days": days, "warmup_hours": 1, "replications": replications, "seed": 3},
        "arrivals": {"per_hour": 40, "first_channel": {"web": 0.4, "email": 0.15, "chat": 0.2, "phone": 0.25}},
        "channels": {
            "web": {"agents": "unlimited", "handle_time": exponential(3.0), "resolve": 0.5,
                    "next": {"chat": 0.3, "phone": 0.5, "give_up": 0.2}},
            "email": {"async": True, "handle_time": exponential(8.0), "patience": exponential(600.0),
                      "resolve": 0.7, "next": {"phone": 0.5, "give_up": 0.5}},
            "chat": {"agents": 2, "handle_time": exponential(10.0), "patience": exponential(4.0), "resolve": 0.65,
                     "concurrency": 2, "next": {"phone": 0.6, "give_up": 0.4}, "cost_per_agent_hour": 25.0},
            "phone": {"handle_time": exponential(6.0), "patience": exponential(5.0), "resolve": 0.75,
                      "callback": {"offer_when_wait_above": 2.0, "accept": 0.5, "within_minutes": 60.0},
                      "next": {"phone": 0.4, "email": 0.2, "give_up": 0.4}},
        },
        "groups": {"service_desk": {"agents": 5, "skills": {"phone": 1, "email": 2}, "reserve": {"email": 1},
                                    "cost_per_agent_hour": 30.0}},
    }, "grouped.toml")
