"""Shared helpers: small scenarios built in code."""

from __future__ import annotations

import copy

import pytest

from simulator.scenario import Scenario, set_path

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
