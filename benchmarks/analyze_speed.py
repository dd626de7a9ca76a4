"""Seconds of ``analyze``'s network approximation, per scenario, and how far its figures moved.

The web app refreshes its estimate on every change, so
:func:`simulator.network.approximate` must take a fraction of a second
(issue 12), weekly scenarios with shared agent groups included. This prints,
for each bundled scenario, each scenario of ``tests/scenarios`` and each
TOML file given, the median seconds of ``--repeat`` runs (the scenario loaded
once, outside the timing), the fixed point's iterations and whether it
converged.

``--save FILE`` writes every figure of every scenario to a JSON file;
``--against FILE`` compares with such a file (from another version of the
code) and prints, per scenario, the largest absolute difference of any
figure and which one: a speed-up should leave the figures where they were.

Usage::

    python benchmarks/analyze_speed.py
    python benchmarks/analyze_speed.py my_centre.toml --repeat 5
    python benchmarks/analyze_speed.py --save before.json      # then, after a change:
    python benchmarks/analyze_speed.py --against before.json
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from pathlib import Path

import simulator as sim
from simulator.network import approximate

HERE = Path(__file__).resolve().parent
TEST_SCENARIOS = HERE.parent / "tests" / "scenarios"


def scenarios(paths: list[str], bundled_only: bool = False) -> list[tuple[str, sim.Scenario]]:
    """The bundled scenarios, those of tests/scenarios, and the files given, by a short name."""
    out = [(name, sim.load_scenario(name)) for name in sim.bundled_scenarios()]
    files = [] if bundled_only else sorted(TEST_SCENARIOS.glob("*.toml")) + [Path(p) for p in paths]
    out += [(path.name, sim.load_scenario(path)) for path in files]
    return out


def figures(approx) -> dict[str, float]:
    """Every figure of an approximation, by its key (``channels.phone.p_wait``, ...)."""
    out = {f"kpis.{k}": v for k, v in approx.kpis["value"].items()}
    for table in ("channels", "groups"):
        out.update({f"{table}.{n}.{m}": v for (n, m), v in getattr(approx, table)["value"].items()})
    for table in ("before_call", "after_call"):
        out.update({f"{table}.{k}": v for k, v in getattr(approx, table)["value"].items()})
    out.update({f"hourly.{c}.{h}.{m}": v for (c, h, m), v in approx.hourly["value"].items()})
    return {k: float(v) for k, v in out.items()}


def largest_difference(now: dict[str, float], before: dict[str, float]) -> tuple[float, str]:
    """The largest absolute difference between two sets of figures (NaN against NaN is none)."""
    worst, where = 0.0, ""
    for key in now.keys() | before.keys():
        a, b = now.get(key, math.nan), before.get(key, math.nan)
        if math.isnan(a) and math.isnan(b) or a == b:
            continue
        diff = abs(a - b) if math.isfinite(a) and math.isfinite(b) else math.inf
        if diff > worst:
            worst, where = diff, key
    return worst, where


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="*", help="More scenario files to time.")
    parser.add_argument("--repeat", type=int, default=3, help="Runs per scenario (the median is printed).")
    parser.add_argument("--save", metavar="FILE", help="Write every figure of every scenario to this JSON file.")
    parser.add_argument("--against", metavar="FILE", help="Compare the figures with those of a --save file.")
    parser.add_argument("--bundled-only", action="store_true", help="Only the bundled scenarios.")
    args = parser.parse_args()
    before = json.loads(Path(args.against).read_text()) if args.against else {}
    saved = {}
    print(f"network approximation, median of {args.repeat} run(s)")
    for name, sc in scenarios(args.files, args.bundled_only):
        times = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            approx = approximate(sc)
            times.append(time.perf_counter() - start)
        line = (f"  {name:32s} {statistics.median(times):7.3f} s  {approx.iterations:4d} iterations"
                f"{'' if approx.converged else ', NOT converged'}")
        now = figures(approx)
        saved[name] = now
        if name in before:
            worst, where = largest_difference(now, before[name])
            line += f"; largest change {worst:.1e}" + (f" ({where})" if worst else "")
        print(line, flush=True)
    if args.save:
        Path(args.save).write_text(json.dumps(saved, allow_nan=True))


if __name__ == "__main__":
    main()
