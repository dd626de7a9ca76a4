"""Speed of the analytic engine: ``analyze`` on the bundled scenarios, and calibration by network size.

1. ``analyze``: :func:`simulator.network.approximate` on each bundled scenario,
   the median of ``--repeat`` runs (``benchmarks/analyze_speed.py``, which
   also times the test scenarios and any file, and compares figures between
   versions). Goal: the preset well under a second.
2. ``calibrate``: networks of 4, 8 and 16 channels (one self-service web
   channel, live channels with patience, one email channel; random routing
   from a fixed seed). The targets are six figures of a "true" network
   (before the call for two channels, the avoidable-call share, the share of
   callers moving on, giving up and a chat after the call); calibration
   starts from a perturbed copy and frees the default fields (the
   first-channel mix and every ``next`` row), so the number of free
   parameters grows with the square of the channels. Reported: free
   parameters, rounds, seconds, and whether every target was met.
3. ``--planner``: the planner commands on the weekly preset and the
   insurer's blended claims line, the best of ``--repeat`` runs each (the
   machine is shared: the lowest time is the least disturbed one):
   ``contactflow calibrate nice_bcg_2016 --targets nice_bcg_2016``, and
   ``contactflow staff`` on ``insurer_claims --hourly``, ``nice_bcg_2016
   --groups voice`` and, with ``--weekly-hourly`` (many simulated weeks),
   ``nice_bcg_2016 --groups voice --hourly``, with their outcome (rounds,
   plans simulated, agent hours). ``--save FILE`` writes them to JSON and
   ``--against FILE`` prints such a file's figures (another version of the
   code) beside them: before, after, and the speed-up.

Usage::

    python benchmarks/analytic_speed.py
    python benchmarks/analytic_speed.py --channels 4 8 --repeat 3
    python benchmarks/analytic_speed.py --planner --repeat 2 --save before.json   # then, after a change:
    python benchmarks/analytic_speed.py --planner --repeat 2 --against before.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

import simulator as sim
from simulator.calibrate import Targets, calibrate, free_fields
from simulator.network import approximate
from simulator.scenario import GIVE_UP, Scenario


def network(channels: int, seed: int) -> Scenario:
    """A scenario with ``channels`` channels: web (self-service), email (async), live ones, phone (focal)."""
    rng = np.random.default_rng(seed)
    names = ["web", "email"] + [f"live{i}" for i in range(channels - 3)] + ["phone"]

    def row(allow_self: bool = True) -> dict[str, float]:
        weights = rng.dirichlet(np.ones(len(names) + 1) * 2.0)
        targets = names + [GIVE_UP]
        weights[-1] = 0.05 + 0.05 * weights[-1]
        if not allow_self:
            weights[targets.index("phone")] += 0.3
        weights /= weights.sum()
        values = np.round(weights, 4)
        values[np.argmax(values)] += 1.0 - values.sum()
        return {t: float(v) for t, v in zip(targets, values)}

    per_hour = 400.0
    spec = {}
    for name in names:
        if name == "web":
            spec[name] = {"agents": "unlimited", "handle_time": {"dist": "exponential", "mean": 5.0},
                          "resolve": 0.35, "next": row()}
        else:
            spec[name] = {"agents": 12 if name != "phone" else 30,
                          "handle_time": {"dist": "exponential", "mean": 8.0 if name == "email" else 6.0},
                          "patience": {"dist": "exponential", "mean": 480.0 if name == "email" else 4.0},
                          "resolve": 0.6, "next": row(name != "phone")}
            if name == "email":
                spec[name]["async"] = True
    first = rng.dirichlet(np.ones(len(names)) * 3.0)
    first = np.round(first, 4)
    first[np.argmax(first)] += 1.0 - first.sum()
    return Scenario.from_dict({
        "name": f"network_{channels}", "focal_channel": "phone", "max_contacts": 20,
        "run": {"days": 1, "warmup_hours": 4},
        "arrivals": {"per_hour": per_hour, "first_channel": dict(zip(names, map(float, first)))},
        "channels": spec,
    })


def perturbed(scenario: Scenario, seed: int, amount: float = 0.2) -> Scenario:
    """The scenario with every free row mixed with a random one."""
    rng = np.random.default_rng(seed)
    changes = {}
    for path in free_fields(scenario):
        row = (scenario.arrivals.first_channel if path == "arrivals.first_channel"
               else scenario.channel(path.split(".")[1]).next)
        noise = rng.dirichlet(np.ones(len(row)))
        mixed = (1 - amount) * np.array(list(row.values())) + amount * noise
        changes[path] = dict(zip(row, map(float, mixed / mixed.sum())))
    return scenario.with_changes(changes)


def bench_analyze(repeat: int) -> None:
    """``benchmarks/analyze_speed.py`` on the bundled scenarios."""
    subprocess.run([sys.executable, str(Path(__file__).with_name("analyze_speed.py")), "--repeat", str(repeat),
                    "--bundled-only"], check=True)


def bench_calibrate(sizes: list[int]) -> None:
    print("\ncalibrate (default free fields: first-channel mix + every next row)")
    print(f"  {'channels':>8s} {'free params':>11s} {'rounds':>6s} {'seconds':>8s}  met  largest |residual|")
    for n in sizes:
        truth = network(n, seed=n)
        approx = approximate(truth)
        live = [c for c in truth.channel_names if c.startswith("live")]
        keys = ["before_call.email", "before_call.web", "avoidable_call_share", "callers_continue_share",
                "after_call.give_up", f"after_call.{live[0]}"]
        targets = Targets({k: approx.value(k) for k in keys})
        start_scenario = perturbed(truth, seed=100 + n)
        params = sum(len(truth.channel(p.split(".")[1]).next) - 1 if p != "arrivals.first_channel"
                     else len(truth.arrivals.first_channel) - 1 for p in free_fields(truth))
        start = time.perf_counter()
        fit = calibrate(start_scenario, targets, find_conflicts=False)
        seconds = time.perf_counter() - start
        print(f"  {n:8d} {params:11d} {fit.rounds:6d} {seconds:8.2f}  {'yes' if fit.reached else 'NO ':3s}  "
              f"{fit.table['residual'].abs().max():.2e}")


def _calibrate_preset() -> tuple[str, float]:
    from simulator.calibrate import load_targets
    from simulator.scenario import bundled_dir

    fit = calibrate(sim.load_scenario("nice_bcg_2016"), load_targets(bundled_dir() / "targets" / "nice_bcg_2016.toml"))
    worst = float(fit.table["residual"].abs().max())
    return f"{fit.rounds} rounds, {'met' if fit.reached else 'NOT met'}, largest |residual| {worst:.1e}", worst


def _staff(name: str, group: str, hourly: bool) -> tuple[str, float]:
    from simulator.staffing import staff

    plan = staff(sim.load_scenario(name), ["channels.phone.service_level>=0.8"], groups=[group], hourly=hourly,
                 workers=2)
    hours = sum(plan.agent_hours_per_day.values())
    return f"{plan.evaluations} plans simulated, {hours:g} agent hours a day, {'met' if plan.met else 'NOT met'}", hours


#: The planner commands ``--planner`` times: name -> a function that runs it and says what came out.
PLANNER = {
    "calibrate nice_bcg_2016": _calibrate_preset,
    "staff insurer_claims --hourly": lambda: _staff("insurer_claims", "claims_handlers", True),
    "staff nice_bcg_2016 --groups voice": lambda: _staff("nice_bcg_2016", "voice", False),
    "staff nice_bcg_2016 --groups voice --hourly": lambda: _staff("nice_bcg_2016", "voice", True),
}


def bench_planner(repeat: int, weekly_hourly: bool, save: str | None, against: str | None) -> None:
    """The planner commands, best of ``repeat``; beside a ``--save`` file's figures with ``against``."""
    before = json.loads(Path(against).read_text()) if against else {}
    now = {}
    print(f"\nplanner commands (target channels.phone.service_level>=0.8; best of {repeat}; 2 workers)")
    for name, run in PLANNER.items():
        if name.endswith("voice --hourly") and not weekly_hourly:
            continue
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            outcome, _ = run()
            times.append(time.perf_counter() - start)
        now[name] = {"seconds": min(times), "outcome": outcome}
        line = f"  {name:44s} {min(times):7.1f} s  ({outcome})"
        if name in before:
            then = before[name]
            line += (f"\n  {'':44s} {then['seconds']:7.1f} s before ({then['outcome']}): "
                     f"{then['seconds'] / min(times):.1f}x faster")
        print(line, flush=True)
    if save:
        Path(save).write_text(json.dumps(now, indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="Runs of analyze per scenario (median); of each "
                        "planner command with --planner (best).")
    parser.add_argument("--channels", type=int, nargs="+", default=[4, 8, 16], help="Network sizes to calibrate.")
    parser.add_argument("--planner", action="store_true", help="Time the planner commands (calibrate, staff) only.")
    parser.add_argument("--weekly-hourly", action="store_true", help="With --planner, also staff the weekly "
                        "preset hour by hour (many simulated weeks).")
    parser.add_argument("--save", metavar="FILE", help="With --planner, write the timings to this JSON file.")
    parser.add_argument("--against", metavar="FILE", help="With --planner, print a --save file's timings beside.")
    args = parser.parse_args()
    if args.planner:
        bench_planner(args.repeat, args.weekly_hourly, args.save, args.against)
        return
    bench_analyze(args.repeat)
    bench_calibrate(args.channels)


if __name__ == "__main__":
    main()
