"""The warm-up suggestion reports its spread over replications and warns when the run is too short."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from simulator.cli import main
from simulator.scenario import Scenario
from simulator.warmup import WarmupSuggestion, mser, mser_is_late, suggest_warmup


def queue(days: float, per_hour: float = 194) -> Scenario:
    """M/M/20 starting empty; at 194 an hour (97 % load) its queue takes many hours to build up."""
    phone = {"agents": 20, "handle_time": {"dist": "exponential", "mean": 6.0}, "resolve": 1.0,
             "next": {"give_up": 1.0}}
    return Scenario.from_dict({"name": "queue", "run": {"days": days, "warmup_hours": 0, "seed": 2},
                               "arrivals": {"per_hour": per_hour, "first_channel": {"phone": 1.0}},
                               "channels": {"phone": phone}})


def test_mser_is_late_when_the_transient_fills_most_of_the_series():
    rng = np.random.default_rng(4)
    noise = rng.normal(0.0, 0.5, 1000)
    long_ramp = np.r_[np.linspace(10.0, 0.0, 800), np.zeros(200)] + noise
    short_ramp = np.r_[np.linspace(10.0, 0.0, 100), np.zeros(900)] + noise
    assert mser_is_late(long_ramp)
    assert mser(long_ramp) <= 505  # mser itself only searches the first half, so it cannot tell
    assert not mser_is_late(short_ramp) and not mser_is_late(noise)


def test_a_run_too_short_for_the_transient_is_flagged():
    suggestion = suggest_warmup(queue(0.1), replications=3, seed=1)  # 2.4 h of a transient of many hours
    assert suggestion.late["phone"] >= 2
    assert any("last half" in w and "too short" in w for w in suggestion.warnings)


def test_the_suggestion_comes_from_the_averaged_series_with_the_replications_spread():
    suggestion = suggest_warmup(queue(1.0, per_hour=170), replications=4, seed=3)
    edges = suggestion.series.index.to_numpy()
    waits = suggestion.series["phone"].to_numpy()
    observed = np.flatnonzero(~np.isnan(waits))
    assert suggestion.per_channel["phone"] == edges[observed[mser(waits[observed])]] / 60
    longest = max(suggestion.per_channel["phone"], suggestion.exact["phone"])  # MSER or the exact transient
    assert suggestion.hours == pytest.approx(np.ceil(longest * 100) / 100)
    cuts = suggestion.per_replication["phone"]
    assert len(cuts) == 4 and cuts.notna().all()
    spread = suggestion.spread()
    assert list(spread.columns) == ["hours", "median", "min", "max", "late", "exact"]
    assert spread.loc["phone", "median"] == cuts.median()
    assert (spread.loc["phone", "min"], spread.loc["phone", "max"]) == (cuts.min(), cuts.max())


def test_too_few_contacts_for_mser_is_a_warning_not_a_silent_zero():
    suggestion = suggest_warmup(queue(0.002), replications=2, seed=1)  # 3 minutes, about 9 contacts
    assert suggestion.per_replication["phone"].isna().all()
    assert any("too few for MSER-5" in w for w in suggestion.warnings)


def test_repr_is_short():
    series = pd.DataFrame({"phone": np.arange(500.0)})
    suggestion = WarmupSuggestion(1.5, {"phone": 1.5}, series, pd.DataFrame({"phone": [1.0, 2.0]}),
                                  {"phone": 0}, ("a warning",))
    text = repr(suggestion)
    assert text == "WarmupSuggestion(hours=1.5, per_channel={phone=1.5}, replications=2, warnings=1)"


def test_cli_warmup_shows_the_spread_and_warns_on_stderr(tmp_path):
    path = tmp_path / "queue.toml"
    path.write_text(queue(0.1).to_toml())
    result = CliRunner().invoke(main, ["warmup", str(path), "-r", "3", "-s", "1", "-w", "1"],
                                catch_exceptions=False)
    assert result.exit_code == 0
    assert "single replications: median [range]" in result.stdout and "late minimum" in result.stdout
    assert "--set run.warmup_hours=" in result.stdout
    assert "warning: phone:" in result.stderr and "last half" in result.stderr
