"""Scaling benchmark: replications per second by workers, and a run's time and memory by size.

Two measurements:

1. **Workers**: replications per second of the bundled ``nice_bcg_2016``
   scenario (half a day each, journey logs not kept) with 1 and 2 local
   worker processes (``--workers`` to choose), and optionally on a Dask
   ``LocalCluster`` with 2 single-threaded worker processes (``--dask``). The
   speed-up should be close to the number of cores; the numbers are identical
   whichever way they run, and the script checks it.
2. **Size**: one replication of the throughput benchmark's network
   (``benchmarks/throughput.py``) with 10^4 to 10^6 customers, each in a child
   process: wall time of the run (imports excluded), time per customer, and
   peak RSS, also above what the imports alone take, with the journey log
   not kept (``keep_journeys=False``; ``--keep-journeys`` to compare). Time
   should grow linearly. Memory still grows with customers: a replication keeps
   its journey log until its metrics are computed at the end, whatever
   ``keep_journeys`` says (which only decides whether the log is returned).

Usage::

    python benchmarks/scaling.py                    # both, up to 1e6 customers
    python benchmarks/scaling.py --quick            # smoke run
    python benchmarks/scaling.py --dask             # also a Dask LocalCluster
    python benchmarks/scaling.py --sizes 10000,100000 --workers 1,2,4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import throughput  # the same network as the throughput benchmark

DEFAULT_SIZES = (10_000, 100_000, 1_000_000)


def replications_per_second(args) -> None:
    import pandas as pd

    import simulator as sim
    from simulator.parallel import default_workers

    sc = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": args.days})
    reps = args.replications
    print(f"Replications per second: nice_bcg_2016, {args.days:g} day(s) each, {reps} replications, "
          f"journey logs not kept; {default_workers()} core(s) available")
    print()
    print(f"{'where':<26}{'wall s':>9}{'reps/s':>9}{'speed-up':>10}")
    print("-" * 54)
    reference = None
    base_rate = None
    runs = [(f"{w} worker process(es)", dict(workers=w)) for w in args.workers]
    cluster = None
    if args.dask:
        from distributed import LocalCluster

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=40)
        runs.append(("Dask LocalCluster, 2 workers", dict(dask=cluster.scheduler_address)))
    try:
        for label, where in runs:
            # warm up: Dask workers import contactflow on their first task
            sim.run(sc.with_changes({"run.days": 0.01}), replications=4, keep_journeys=False, **where)
            t0 = time.perf_counter()
            res = sim.run(sc, replications=reps, seed=1, keep_journeys=False, **where)
            wall = time.perf_counter() - t0
            rate = reps / wall
            base_rate = base_rate or rate
            print(f"{label:<26}{wall:>9.2f}{rate:>9.2f}{rate / base_rate:>9.2f}x", flush=True)
            if reference is None:
                reference = res.per_replication
            else:
                pd.testing.assert_frame_equal(reference, res.per_replication)
    finally:
        if cluster is not None:
            cluster.close()
    print("(every run gave identical per-replication numbers)")


def size_child(customers: int, keep_journeys: bool) -> None:
    """Run one replication and print a JSON line; the parent reads this process's peak RSS."""
    import resource

    import simulator as sim
    from simulator.scenario import Scenario

    sc = Scenario.from_dict(throughput.scenario_dict(customers, seed=12345))
    after_import = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t0 = time.perf_counter()
    res = sim.run(sc, replications=1, keep_journeys=keep_journeys)
    wall = time.perf_counter() - t0
    kpis = res.kpis["mean"]
    print(json.dumps({"customers": int(kpis["customers"]), "contacts": int(kpis["contacts"]), "wall": wall,
                      "import_mib": _mib(after_import)}))


def _mib(maxrss: int) -> float:
    return maxrss / 1024 / (1024 if sys.platform == "darwin" else 1)  # bytes on macOS, KiB on Linux


def run_size_child(customers: int, keep_journeys: bool) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--_size-child", str(customers)]
    if keep_journeys:
        cmd.append("--keep-journeys")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"size child for {customers} customers failed")
    info = json.loads(out.strip().splitlines()[-1])
    info["peak_mib"] = _mib(usage.ru_maxrss)
    return info


def time_and_memory(args) -> None:
    kept = "kept" if args.keep_journeys else "not kept"
    print()
    print(f"One replication by size: the throughput benchmark's network, journey log {kept}, "
          "each in a child process")
    print()
    print(f"{'customers':>11}{'contacts':>12}{'wall s':>9}{'us/customer':>13}{'peak RSS MiB':>14}"
          f"{'above import':>14}")
    print("-" * 73)
    for customers in args.sizes:
        info = run_size_child(customers, args.keep_journeys)
        print(f"{info['customers']:>11,}{info['contacts']:>12,}{info['wall']:>9.2f}"
              f"{1e6 * info['wall'] / info['customers']:>13.1f}{info['peak_mib']:>14.0f}"
              f"{info['peak_mib'] - info['import_mib']:>14.0f}", flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="smoke run: small sizes, few replications")
    p.add_argument("--workers", default="1,2", help="comma-separated worker counts (default 1,2)")
    p.add_argument("--replications", type=int, default=None, help="replications per measurement (default 16)")
    p.add_argument("--days", type=float, default=0.5, help="days per replication (default 0.5)")
    p.add_argument("--dask", action="store_true", help="also run on a Dask LocalCluster (needs the extra)")
    p.add_argument("--sizes", default=None, help="comma-separated customer counts (default 1e4,1e5,1e6)")
    p.add_argument("--keep-journeys", action="store_true", help="keep the journey log in the size runs")
    p.add_argument("--only", choices=("workers", "size"), help="run one of the two measurements")
    p.add_argument("--_size-child", dest="size_child", type=int, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.size_child:
        size_child(args.size_child, args.keep_journeys)
        return
    args.workers = [int(w) for w in args.workers.split(",")]
    args.replications = args.replications or (4 if args.quick else 16)
    if args.quick:
        args.days = min(args.days, 0.05)
    args.sizes = ([int(float(s)) for s in args.sizes.split(",")] if args.sizes
                  else [2_000, 20_000] if args.quick else list(DEFAULT_SIZES))
    if args.only != "size":
        replications_per_second(args)
    if args.only != "workers":
        time_and_memory(args)


if __name__ == "__main__":
    main()
