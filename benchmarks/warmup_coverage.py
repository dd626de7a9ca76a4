"""Coverage of the exact Erlang C figures by runs with default settings, at 95 % load.

A queue at 95 % load started empty takes many hours to fill; a run that
measures too early reports waits far too short, and its confidence
intervals miss the truth. This benchmark runs the default settings
(the derived warm-up, 10 replications) ``--runs`` times with different
seeds on a 6-hour window and counts how often the 95 % CI of P(wait) and of
the mean wait contains the exact Erlang C value. Goal: at least 90 %.

The queue: ``--agents`` agents (default 20), exponential handle times of 5
minutes, Poisson arrivals at 95 % load, nobody hangs up.

Measured (100 runs, 20 agents, derived warm-up of 15.25 h, exact expected
bias under 1 %): P(wait) covered in 92 % [85, 96] of the runs, the mean wait
in 84 % [76, 90]. The mean wait falls short of the goal for a reason the
warm-up cannot remove: the mean waits of single 6-hour replications at this
load are very skewed (their standard deviation is about their mean), and a
Student-t interval from 10 such values covers less than 95 % even when
they are unbiased (about 85 % measured with 10 agents from a warm-up of 80
hours). Without the warm-up (``--warmup 0``) both fall to 30-50 %.

Usage::

    python benchmarks/warmup_coverage.py                 # 100 runs of 10 replications, about 10 minutes
    python benchmarks/warmup_coverage.py --runs 40 --agents 10 --warmup 0    # the old default: about 30 %
"""

from __future__ import annotations

import argparse
import math
import time

from scipy import stats

import simulator as sim
from simulator.analytic import erlang_c


def scenario(agents: int, warmup: float | None) -> sim.Scenario:
    """Phone and a web page that half the customers use and leave: phone gets a Poisson stream at 95 % load."""
    per_hour = 0.95 * agents * 60 / 5.0
    run = {"days": 0.25, "seed": 1}
    if warmup is not None:
        run["warmup_hours"] = warmup
    return sim.Scenario.from_dict({
        "name": "coverage", "run": run,
        "arrivals": {"per_hour": 2 * per_hour, "first_channel": {"phone": 0.5, "web": 0.5}},
        "channels": {
            "phone": {"agents": agents, "handle_time": {"dist": "exponential", "mean": 5.0}, "resolve": 1.0,
                      "next": {"give_up": 1.0}},
            "web": {"agents": "unlimited", "handle_time": {"dist": "exponential", "mean": 1.0}, "resolve": 1.0,
                    "next": {"give_up": 1.0}},
        },
    })


def wilson(hits: int, n: int, level: float = 0.95) -> tuple[float, float]:
    z = stats.norm.ppf(0.5 + level / 2)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=None, help="hours (default: derived)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sc = scenario(args.agents, args.warmup)
    rate = 0.95 * args.agents / 5.0
    exact = erlang_c(rate, 5.0, args.agents)
    print(f"M/M/{args.agents} at 95 % load, 6-hour window, 10 replications per run; warm-up {sc.run.warmup_hours:g} h"
          f" ({'derived: ' + sc.run.warmup_reason if sc.run.warmup_derived else 'given'})")
    hits = {"p_wait": 0, "mean_wait_min": 0}
    start = time.perf_counter()
    for r in range(args.runs):
        result = sim.run(sc, seed=1000 + r, keep_journeys=False, workers=args.workers)
        phone = result.channels.loc["phone"]
        for metric, value in (("p_wait", exact.p_wait), ("mean_wait_min", exact.mean_wait)):
            hits[metric] += bool(phone.loc[metric, "ci_low"] <= value <= phone.loc[metric, "ci_high"])
    seconds = time.perf_counter() - start
    ok = True
    for metric, count in hits.items():
        low, high = wilson(count, args.runs)
        ok &= count / args.runs >= 0.9
        print(f"{metric:14s} covered in {count} of {args.runs} runs: {count / args.runs:.0%} "
              f"[95 % CI {low:.0%}, {high:.0%}]")
    print(f"{seconds:.0f} s; goal (>= 90 %): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
