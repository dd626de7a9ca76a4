"""Hypothesis strategies shared by the property tests: random valid scenarios."""

from __future__ import annotations

from hypothesis import strategies as st

#: Names random scenarios draw their channels from (1 to 8 of them); "desk" is a group.
CHANNEL_NAMES = ("web", "app", "email", "chat", "phone", "ivr", "sms", "social-media")

HANDLE_TIMES = (
    {"dist": "exponential", "mean": 3.0}, {"dist": "lognormal", "mean": 4.0, "cv": 0.7},
    {"dist": "gamma", "mean": 2.0, "cv": 1.5}, {"dist": "deterministic", "value": 2.5},
    {"dist": "uniform", "low": 1.0, "high": 4.0}, {"dist": "empirical", "values": [1, 2, 6]},
)


@st.composite
def probability_row(draw, keys):
    """Probabilities over some of ``keys`` that sum to 1 within the scenario's tolerance."""
    weights = draw(st.lists(st.integers(0, 5), min_size=len(keys), max_size=len(keys)))
    if sum(weights) == 0:
        weights[0] = 1
    total = sum(weights)
    row = {k: w / total for k, w in zip(keys, weights) if w}
    last = list(row)[-1]
    row[last] = 1.0 - sum(v for k, v in row.items() if k != last)
    return row


@st.composite
def valid_scenarios(draw, min_channels: int = 1, max_channels: int = len(CHANNEL_NAMES)):
    """A valid scenario as a dict: self-service, fixed, shift-plan, async and group-served
    channels, opening hours, patience, abandonment routing, chat concurrency, call backs,
    agent groups and day-to-day variation; a short window and one replication."""
    chans = draw(st.lists(st.sampled_from(CHANNEL_NAMES), min_size=min_channels, max_size=max_channels,
                          unique=True))
    channels, grouped = {}, []
    for c in chans:
        kind = draw(st.sampled_from(["unlimited", "fixed", "plan", "async", "grouped"]))
        ch = {
            "handle_time": draw(st.sampled_from(HANDLE_TIMES)),
            "resolve": draw(st.floats(0, 1)),
            "next": draw(probability_row(chans + ["give_up"])),
        }
        if kind == "unlimited":
            ch["agents"] = "unlimited"
        else:
            if kind == "grouped":
                grouped.append(c)  # staffed by the [groups.desk] table
            else:
                ch["agents"] = draw(st.integers(1, 6)) if kind != "plan" else [draw(st.integers(0, 4))] * 23 + [2]
            if draw(st.booleans()):
                ch["patience"] = {"dist": "exponential", "mean": draw(st.floats(0.5, 30))}
            ch["async"] = kind == "async"
            if draw(st.booleans()):
                ch["next_after_abandon"] = draw(probability_row(chans + ["give_up"]))
            if draw(st.booleans()):
                ch["open_hours"] = [draw(st.integers(0, 23)), draw(st.integers(0, 23))]
                if ch["open_hours"][0] == ch["open_hours"][1]:
                    del ch["open_hours"]
            if kind != "async" and draw(st.booleans()):
                ch["concurrency"] = draw(st.integers(1, 3))
                if draw(st.booleans()):
                    ch["concurrency_slowdown"] = [1.0 + 0.25 * i for i in range(ch["concurrency"])]
            if kind != "async" and draw(st.booleans()):
                ch["callback"] = {"offer_when_wait_above": draw(st.floats(0, 5)), "accept": draw(st.floats(0, 1)),
                                  "within_minutes": draw(st.floats(10, 120))}
        channels[c] = ch
    data = {
        "name": "random",
        "focal_channel": draw(st.sampled_from(chans)),
        "max_contacts": draw(st.integers(1, 8)),
        "run": {"days": 0.05, "warmup_hours": draw(st.sampled_from([0, 0.5])), "replications": 1},
        "arrivals": {"per_hour": draw(st.floats(5, 60)), "first_channel": draw(probability_row(chans))},
        "channels": channels,
    }
    if draw(st.booleans()):
        data["arrivals"]["day_to_day_cv"] = draw(st.floats(0, 0.5))
    if grouped:
        agents = draw(st.integers(1, 6))
        data["groups"] = {"desk": {
            "agents": agents, "skills": {c: draw(st.integers(1, 2)) for c in grouped},
            "reserve": {c: draw(st.integers(0, min(1, agents - 1))) for c in grouped if draw(st.booleans())},
            "shrinkage": draw(st.sampled_from([0.0, 0.2])), "cost_per_agent_hour": 30.0}}
    return data
