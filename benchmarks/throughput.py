"""Throughput benchmark: contactflow against a bare SimPy loop and Ciw.

All three simulate the same four-channel network:

* web self-service (unlimited capacity), email, chat and phone with fixed agents;
* exponential handle times, unlimited patience, no retry delay;
* after a contact the customer is resolved with the channel's ``resolve``
  probability, otherwise goes on by the channel's ``next`` row (which may say
  ``give_up``): the effective routing probability from i to j is
  ``(1 - resolve_i) * next_i[j]``;
* Poisson arrivals with a first-channel mix.

Engines:

1. contactflow with every metric on (``simulator.run(..., replications=1,
   keep_journeys=False)``; the time includes computing the metrics);
2. the simplest idiomatic SimPy program of the network (``simpy.Resource`` per
   staffed channel, one process per customer, ``random`` draws, counting
   contacts only);
3. Ciw (per-node Poisson arrivals, exponential services, a transition matrix;
   resolved and give-up both exit the network).

A contact is a service visit, self-service included. The script prints each
engine's contacts per second and contacts per customer (they must agree for the
comparison to be fair), then the ratios against the team's goals:
contactflow >= 4x Ciw's rate, bare SimPy / contactflow <= 1.5.

Then contactflow alone on the same network with real omnichannel operations:
phone and email answered by one blended group of agents (phone first, email in
its idle time) and chats held two at a time. Ciw has no agent groups, priorities
across nodes or servers holding several customers, so there is nothing to
compare it with: it is reported against contactflow's own single-skill run
(the price of the blended distributor and the chat slots).

``--memory`` runs contactflow with one million customers in a child process,
with ``keep_journeys=False`` and then ``True``, and reports each child's peak
RSS (goal: under 1 GiB). ``--profile`` runs contactflow under cProfile.

Usage::

    python benchmarks/throughput.py                 # default: 100,000 customers, best of 3
    python benchmarks/throughput.py --quick         # smoke run
    python benchmarks/throughput.py --customers 200000 --repeat 3
    python benchmarks/throughput.py --memory
    python benchmarks/throughput.py --profile
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import subprocess
import sys
import time

# --------------------------------------------------------------------------- the network

CHANNELS = ("web", "email", "chat", "phone")
#: Agents per channel; None is unlimited self-service.
AGENTS = {"web": None, "email": 12, "chat": 13, "phone": 24}
#: Mean handle time in minutes (exponential).
HANDLE_MEAN = {"web": 5.0, "email": 8.0, "chat": 9.0, "phone": 6.0}
RESOLVE = {"web": 0.35, "email": 0.6, "chat": 0.65, "phone": 0.7}
NEXT = {
    "web": {"web": 0.15, "email": 0.15, "chat": 0.2, "phone": 0.45, "give_up": 0.05},
    "email": {"email": 0.1, "chat": 0.1, "phone": 0.7, "give_up": 0.1},
    "chat": {"web": 0.05, "email": 0.1, "chat": 0.1, "phone": 0.7, "give_up": 0.05},
    "phone": {"web": 0.2, "email": 0.1, "chat": 0.15, "phone": 0.45, "give_up": 0.1},
}
PER_HOUR = 300.0
FIRST_CHANNEL = {"web": 0.45, "email": 0.15, "chat": 0.12, "phone": 0.28}
GOAL_VS_CIW = 4.0
#: The blended variant: phone and email share one group (their agents together), chats two at a time.
BLENDED_GROUP = {"agents": AGENTS["phone"] + AGENTS["email"], "skills": {"phone": 1, "email": 2}}
CHAT_CONCURRENCY = 2
GOAL_BARE_OVER_CF = 1.5
GOAL_MEMORY_MIB = 1024.0
MEMORY_CUSTOMERS = 1_000_000


def transition_matrix() -> list[list[float]]:
    """Effective routing probabilities between channels: (1 - resolve_i) * next_i[j]."""
    return [[(1.0 - RESOLVE[a]) * NEXT[a].get(b, 0.0) for b in CHANNELS] for a in CHANNELS]


def expected_contacts_per_customer() -> float:
    """Visits per customer from the traffic equations v = f + v P."""
    import numpy as np

    p = np.array(transition_matrix())
    f = np.array([FIRST_CHANNEL[c] for c in CHANNELS])
    visits = np.linalg.solve(np.eye(len(CHANNELS)) - p.T, f)
    return float(visits.sum())


def utilisations() -> dict[str, float]:
    import numpy as np

    p = np.array(transition_matrix())
    lam = PER_HOUR / 60.0 * np.array([FIRST_CHANNEL[c] for c in CHANNELS])
    rates = np.linalg.solve(np.eye(len(CHANNELS)) - p.T, lam)
    return {c: rates[i] * HANDLE_MEAN[c] / AGENTS[c] for i, c in enumerate(CHANNELS) if AGENTS[c]}


def scenario_dict(customers: int, seed: int, async_email: bool = False, blended: bool = False) -> dict:
    """The network as a contactflow scenario (the parsed-TOML form); ``blended``: phone and email
    answered by one group by priority, chats two at a time on half the chat agents."""
    channels = {}
    for c in CHANNELS:
        spec = {
            "agents": "unlimited" if AGENTS[c] is None else AGENTS[c],
            "handle_time": {"dist": "exponential", "mean": HANDLE_MEAN[c]},
            "resolve": RESOLVE[c],
            "next": dict(NEXT[c]),
        }
        if c == "email" and async_email:
            spec["async"] = True
        if blended and c in BLENDED_GROUP["skills"]:
            del spec["agents"]
        if blended and c == "chat":
            spec["agents"] = math.ceil(AGENTS["chat"] / CHAT_CONCURRENCY)
            spec["concurrency"] = CHAT_CONCURRENCY
        channels[c] = spec
    extra = {"groups": {"desk": dict(BLENDED_GROUP)}} if blended else {}
    return {**extra,
        "name": "throughput_benchmark",
        "focal_channel": "phone",
        "max_contacts": 1_000_000,  # no cap: the other engines have none
        "run": {"days": customers / (PER_HOUR * 24.0), "warmup_hours": 0,
                "replications": 1, "seed": seed},
        "arrivals": {"per_hour": PER_HOUR, "first_channel": dict(FIRST_CHANNEL)},
        "channels": channels,
    }


# --------------------------------------------------------------------------- engines
# Each returns (customers, contacts, contacts of finished customers / finished customers).


def run_contactflow(customers: int, seed: int, async_email: bool = False,
                    keep_journeys: bool = False, blended: bool = False):
    import simulator
    from simulator.scenario import Scenario

    sc = Scenario.from_dict(scenario_dict(customers, seed, async_email, blended))
    res = simulator.run(sc, replications=1, keep_journeys=keep_journeys)
    kpis = res.kpis["mean"]
    n, contacts = int(kpis["customers"]), int(kpis["contacts"])
    return n, contacts, contacts / n


def run_bare_simpy(customers: int, seed: int):
    import simpy

    rng = random.Random(seed)
    rand, expo = rng.random, rng.expovariate
    env = simpy.Environment()
    index = {c: i for i, c in enumerate(CHANNELS)}
    resources = [simpy.Resource(env, AGENTS[c]) if AGENTS[c] else None for c in CHANNELS]
    service_rate = [1.0 / HANDLE_MEAN[c] for c in CHANNELS]
    resolve = [RESOLVE[c] for c in CHANNELS]
    routes = []  # per channel: (cumulative probabilities, targets); target -1 = give up
    for c in CHANNELS:
        cum, targets, acc = [], [], 0.0
        for k, p in NEXT[c].items():
            acc += p
            cum.append(acc)
            targets.append(index.get(k, -1))
        routes.append((cum, targets))
    first_cum, acc = [], 0.0
    for c in CHANNELS:
        acc += FIRST_CHANNEL[c]
        first_cum.append(acc)
    contacts = 0

    def pick(cum, u):
        for i, edge in enumerate(cum):
            if u < edge:
                return i
        return len(cum) - 1

    def customer(ch):
        nonlocal contacts
        while True:
            contacts += 1
            res = resources[ch]
            if res is None:
                yield env.timeout(expo(service_rate[ch]))
            else:
                with res.request() as req:
                    yield req
                    yield env.timeout(expo(service_rate[ch]))
            if rand() < resolve[ch]:
                return
            cum, targets = routes[ch]
            ch = targets[pick(cum, rand())]
            if ch < 0:
                return

    def arrivals():
        rate = PER_HOUR / 60.0
        for _ in range(customers):
            yield env.timeout(expo(rate))
            env.process(customer(pick(first_cum, rand())))

    env.process(arrivals())
    env.run()
    return customers, contacts, contacts / customers


def run_ciw(customers: int, seed: int):
    import ciw

    ciw.seed(seed)
    lam = PER_HOUR / 60.0
    network = ciw.create_network(
        arrival_distributions=[ciw.dists.Exponential(rate=lam * FIRST_CHANNEL[c]) for c in CHANNELS],
        service_distributions=[ciw.dists.Exponential(rate=1.0 / HANDLE_MEAN[c]) for c in CHANNELS],
        number_of_servers=[float("inf") if AGENTS[c] is None else AGENTS[c] for c in CHANNELS],
        routing=transition_matrix(),
    )
    sim = ciw.Simulation(network)
    sim.simulate_until_max_customers(customers, method="Complete")
    records = sim.get_all_records()
    finished = sim.nodes[-1].all_individuals
    finished_contacts = sum(len(ind.data_records) for ind in finished)
    return len(finished), len(records), finished_contacts / len(finished)


ENGINES = {
    "contactflow": run_contactflow,
    "bare SimPy": run_bare_simpy,
    "Ciw": run_ciw,
}
#: ``--engines`` names of the engines.
ENGINE_KEYS = {"contactflow": "contactflow", "simpy": "bare SimPy", "ciw": "Ciw"}


# --------------------------------------------------------------------------- reporting


def measure(name, fn, customers, seed, repeat, **kw):
    best = None
    for r in range(repeat):
        t0 = time.perf_counter()
        n, contacts, per_customer = fn(customers, seed + r, **kw)
        wall = time.perf_counter() - t0
        row = {"engine": name, "customers": n, "contacts": contacts,
               "per_customer": per_customer, "wall": wall, "rate": contacts / wall}
        if best is None or row["rate"] > best["rate"]:
            best = row
    return best


def print_table(rows, expected):
    print()
    print(f"{'engine':<22}{'customers':>11}{'contacts':>11}{'contacts/cust':>15}"
          f"{'wall s':>9}{'contacts/s':>13}")
    print("-" * 81)
    for r in rows:
        print(f"{r['engine']:<22}{r['customers']:>11,}{r['contacts']:>11,}{r['per_customer']:>15.3f}"
              f"{r['wall']:>9.2f}{r['rate']:>13,.0f}")
    print(f"{'(expected)':<22}{'':>11}{'':>11}{expected:>15.3f}")


def verdict(ok: bool) -> str:
    return "OK" if ok else "MISSED"


def benchmark(args) -> None:
    staff = ", ".join(f"{c}={AGENTS[c] or 'unlimited'}" for c in CHANNELS)
    print(f"Network: {len(CHANNELS)} channels, {PER_HOUR:g} customers/hour, agents {staff}")
    print("Agent utilisation: " + ", ".join(f"{c} {u:.0%}" for c, u in utilisations().items()))
    print(f"Customers per engine: {args.customers:,}; best of {args.repeat}; seed {args.seed}"
          + ("; contactflow email is async" if args.async_email else ""))
    import simulator  # noqa: F401  (import time is not measured)
    import simpy  # noqa: F401
    if "Ciw" in args.engines:
        try:
            import ciw  # noqa: F401
        except ImportError:
            sys.exit("Ciw is not installed: pip install '.[bench]' (or leave it out: --engines contactflow,simpy)")

    rows = {}
    for name, fn in ENGINES.items():
        if name not in args.engines:
            continue
        kw = {"async_email": True} if name == "contactflow" and args.async_email else {}
        print(f"  running {name} ...", flush=True)
        rows[name] = measure(name, fn, args.customers, args.seed, args.repeat, **kw)

    expected = expected_contacts_per_customer()
    print_table(list(rows.values()), expected)
    for r in rows.values():
        if abs(r["per_customer"] - expected) > 0.05 * expected:
            print(f"WARNING: {r['engine']} gives {r['per_customer']:.3f} contacts per customer, "
                  f"expected {expected:.3f}: the comparison is not like for like")

    print()
    cf = rows.get("contactflow")
    if cf and "Ciw" in rows:
        ratio = cf["rate"] / rows["Ciw"]["rate"]
        print(f"contactflow / Ciw        = {ratio:5.2f}x   (goal >= {GOAL_VS_CIW:g})   "
              f"{verdict(ratio >= GOAL_VS_CIW)}")
    if cf and "bare SimPy" in rows:
        ratio = rows["bare SimPy"]["rate"] / cf["rate"]
        print(f"bare SimPy / contactflow = {ratio:5.2f}x   (goal <= {GOAL_BARE_OVER_CF:g})  "
              f"{verdict(ratio <= GOAL_BARE_OVER_CF)}")
    if args.customers < 20_000:
        print("note: a run this small is dominated by contactflow's fixed per-run cost "
              "(validation, metrics summary, ~20 ms); judge the goals on the default size")
    if cf and not args.no_blended:
        blended_run(args, cf)


def blended_run(args, single) -> None:
    """contactflow on the network with a blended group and chat concurrency, against its own single-skill run."""
    print()
    print(f"Blended network (contactflow only: Ciw has no agent groups, priorities across nodes or servers "
          f"holding several customers): phone and email answered by one group of {BLENDED_GROUP['agents']} agents "
          f"(phone first), chats {CHAT_CONCURRENCY} at a time on "
          f"{math.ceil(AGENTS['chat'] / CHAT_CONCURRENCY)} agents")
    row = measure("contactflow (blended)", run_contactflow, args.customers, args.seed, args.repeat,
                  async_email=args.async_email, blended=True)
    print_table([single, row], expected_contacts_per_customer())
    print(f"\nblended / single-skill contactflow = {row['rate'] / single['rate']:5.2f}x "
          f"(contacts per second, same customers and routing)")


# --------------------------------------------------------------------------- memory


def memory_child(args) -> None:
    """Run contactflow once and print a JSON line (the parent measures RSS)."""
    t0 = time.perf_counter()
    n, contacts, per_customer = run_contactflow(args.customers, args.seed,
                                                async_email=args.async_email,
                                                keep_journeys=args.keep_journeys)
    print(json.dumps({"customers": n, "contacts": contacts, "wall": time.perf_counter() - t0}))


def run_child(customers: int, seed: int, keep_journeys: bool, async_email: bool):
    cmd = [sys.executable, os.path.abspath(__file__), "--_memory-child",
           "--customers", str(customers), "--seed", str(seed)]
    if keep_journeys:
        cmd.append("--keep-journeys")
    if async_email:
        cmd.append("--async-email")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    out = proc.stdout.read()
    proc.stdout.close()
    _, status, usage = os.wait4(proc.pid, 0)  # this child's own resource usage
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"memory child failed with exit code {proc.returncode}")
    info = json.loads(out.strip().splitlines()[-1])
    # ru_maxrss is in KiB on Linux, bytes on macOS.
    kib = usage.ru_maxrss / 1024 if sys.platform == "darwin" else usage.ru_maxrss
    info["peak_mib"] = kib / 1024
    return info


def memory(args) -> None:
    customers = args.customers if args.customers_given else MEMORY_CUSTOMERS
    print(f"contactflow peak memory, {customers:,} customers, one replication, child process")
    print()
    print(f"{'keep_journeys':<15}{'customers':>11}{'contacts':>12}{'wall s':>9}{'peak RSS MiB':>14}  goal")
    print("-" * 70)
    for keep in (False, True):
        info = run_child(customers, args.seed, keep, args.async_email)
        print(f"{str(keep):<15}{info['customers']:>11,}{info['contacts']:>12,}{info['wall']:>9.1f}"
              f"{info['peak_mib']:>14.0f}  < {GOAL_MEMORY_MIB:.0f} {verdict(info['peak_mib'] < GOAL_MEMORY_MIB)}",
              flush=True)


# --------------------------------------------------------------------------- profile


def profile(args) -> None:
    import cProfile
    import pstats

    import simulator  # noqa: F401

    prof = cProfile.Profile()
    prof.enable()
    run_contactflow(args.customers, args.seed, async_email=args.async_email)
    prof.disable()
    stats = pstats.Stats(prof).strip_dirs()
    print("Top functions by own time:")
    stats.sort_stats("tottime").print_stats(20)
    print("Top functions by cumulative time:")
    stats.sort_stats("cumulative").print_stats(25)


# --------------------------------------------------------------------------- main


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--customers", type=int, default=None,
                   help="customers per engine (default 100,000; --memory: 1,000,000)")
    p.add_argument("--quick", action="store_true", help="tiny smoke run (2,000 customers)")
    p.add_argument("--repeat", type=int, default=None,
                   help="runs per engine; the best is kept (default 3; 1 with --quick)")
    p.add_argument("--seed", type=int, default=12345)
    p.add_argument("--engines", default=",".join(ENGINE_KEYS),
                   help="comma-separated subset of: " + ", ".join(ENGINE_KEYS))
    p.add_argument("--async-email", action="store_true",
                   help="model email as an async channel in contactflow (same queueing "
                        "with unlimited patience, but exercises the message path)")
    p.add_argument("--memory", action="store_true",
                   help="peak RSS of contactflow with one million customers")
    p.add_argument("--no-blended", action="store_true",
                   help="skip contactflow's run on the blended network (group and chat concurrency)")
    p.add_argument("--profile", action="store_true", help="cProfile contactflow")
    p.add_argument("--keep-journeys", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--_memory-child", dest="memory_child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    args.customers_given = args.customers is not None
    if args.customers is None:
        args.customers = 2_000 if args.quick else 100_000
    if args.repeat is None:
        args.repeat = 1 if args.quick else 3
    keys = {e.strip().lower() for e in args.engines.split(",") if e.strip()}
    unknown = keys - set(ENGINE_KEYS)
    if unknown:
        p.error(f"unknown engine(s) {', '.join(sorted(unknown))}; choose from {', '.join(ENGINE_KEYS)}")
    args.engines = {ENGINE_KEYS[k] for k in keys}

    if args.memory_child:
        memory_child(args)
    elif args.memory:
        if args.quick and not args.customers_given:
            args.customers, args.customers_given = 20_000, True
        memory(args)
    elif args.profile:
        profile(args)
    else:
        benchmark(args)


if __name__ == "__main__":
    main()
