"""Coverage of the exact Erlang C figures by runs with default settings, at 95 % load.

A queue at 95 % load started empty takes many hours to fill, and a run that
measures too early reports waits far too short; the derived warm-up removes
that bias. What is then left is the interval itself: the mean waits of
single 6-hour replications at this load are very skewed (their standard
deviation is about their mean, their skewness about 3), and a Student-t
interval from 10 of them misses the exact value above far more often than
the 2.5 % it promises, even from an exactly stationary start. contactflow's
intervals correct for that skewness (:func:`simulator.metrics.mean_interval`).

This benchmark runs the default settings (the derived warm-up, 10
replications) ``--runs`` times with different seeds on a 6-hour window and
counts how often the 95 % CI of P(wait) and of the mean wait contains the
exact Erlang C value, for the Student-t interval and for contactflow's,
computed from the same replications. Goal: at least 90 %. It also checks the
target: the mean over every replication against the exact value (a small
negative difference is the ratio bias of a per-replication mean wait, E[S/N]
below E[S]/E[N], of order 1/customers per replication).

The queue: ``--agents`` agents (default 20), exponential handle times of 5
minutes, Poisson arrivals at 95 % load, nobody hangs up; a web page that half
the customers use and leave.

Measured (100 runs, 20 agents, derived warm-up of 15.25 h): see
docs/performance.md. Without the warm-up (``--warmup 0``) both fall to 30-50 %.

Usage::

    python benchmarks/warmup_coverage.py                 # 100 runs of 10 replications, about 3 minutes
    python benchmarks/warmup_coverage.py --runs 40 --agents 10 --warmup 0    # the old default: about 30 %
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from scipy import stats

import simulator as sim
from simulator.analytic import erlang_c
from simulator.metrics import clip_interval, mean_interval, sample_skewness

FIGURES = {"p_wait": "P(wait)", "mean_wait_min": "mean wait"}


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
    """Wilson score interval of a binomial proportion."""
    z = stats.norm.ppf(0.5 + level / 2)
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def student_t(values: np.ndarray, share: bool) -> tuple[float, float]:
    """The plain Student-t interval (no skewness correction), clipped as contactflow clips."""
    low, high = mean_interval(values.mean(), values.std(ddof=1), 0.0, len(values))
    return clip_interval(low, high, share)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--warmup", type=float, default=None, help="hours (default: derived)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    sc = scenario(args.agents, args.warmup)
    exact = erlang_c(0.95 * args.agents / 5.0, 5.0, args.agents)
    truth = {"p_wait": exact.p_wait, "mean_wait_min": exact.mean_wait}
    print(f"M/M/{args.agents} at 95 % load, 6-hour window, {sc.run.replications} replications per run; warm-up "
          f"{sc.run.warmup_hours:g} h ({'derived: ' + sc.run.warmup_reason if sc.run.warmup_derived else 'given'})")
    # per figure and method: [covered, truth below the interval, truth above, width]
    tally = {(m, k): [] for m in FIGURES for k in ("t", "cf")}
    values = {m: [] for m in FIGURES}
    start = time.perf_counter()
    for r in range(args.runs):
        result = sim.run(sc, seed=1000 + r, keep_journeys=False, workers=args.workers)
        pr = result.per_replication
        for metric in FIGURES:
            x = pr[(pr.channel == "phone") & (pr.metric == metric)].sort_values("replication")["value"].to_numpy()
            values[metric].append(x)
            row = result.channels.loc[("phone", metric)]
            for method, (low, high) in (("t", student_t(x, metric == "p_wait")),
                                        ("cf", (row["ci_low"], row["ci_high"]))):
                tally[metric, method].append((low <= truth[metric] <= high, truth[metric] < low,
                                              truth[metric] > high, high - low))
    seconds = time.perf_counter() - start

    print("\nThe target: mean over every replication against the exact value")
    for metric, label in FIGURES.items():
        x = np.concatenate(values[metric])
        half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
        print(f"  {label:9s} exact {truth[metric]:.4f}, replications {x.mean():.4f} ± {half:.4f} "
              f"({x.mean() / truth[metric] - 1:+.1%}); replication values: sd/mean "
              f"{x.std(ddof=1) / x.mean():.2f}, skewness {sample_skewness(x):.2f}")

    print(f"\nCoverage of the exact value by the 95 % CI over {args.runs} runs [Wilson 95 % CI]")
    print(f"  {'figure':9s}  {'Student t':>24s}  {'contactflow':>24s}  misses below/above (t; cf)  width cf/t")
    ok = True
    for metric, label in FIGURES.items():
        cells = []
        for method in ("t", "cf"):
            rows = np.array(tally[metric, method], dtype=float)
            hits = int(rows[:, 0].sum())
            low, high = wilson(hits, args.runs)
            cells.append(f"{hits / args.runs:.0%} [{low:.0%}, {high:.0%}]")
            if method == "cf":
                ok &= hits / args.runs >= 0.9
        t_rows, cf_rows = (np.array(tally[metric, k], dtype=float) for k in ("t", "cf"))
        misses = (f"{t_rows[:, 1].mean():.0%}/{t_rows[:, 2].mean():.0%}; "
                  f"{cf_rows[:, 1].mean():.0%}/{cf_rows[:, 2].mean():.0%}")
        ratio = np.mean(cf_rows[:, 3] / t_rows[:, 3])
        print(f"  {label:9s}  {cells[0]:>24s}  {cells[1]:>24s}  {misses:>26s}  {ratio:10.2f}")
    print(f"\n{seconds:.0f} s; goal (contactflow's intervals >= 90 %): {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
