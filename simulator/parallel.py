"""Where replications run: in this process, in a pool of processes, or on a Dask cluster.

A replication is a pure function of its scenario, seed and replication number
(see :mod:`simulator.streams`), so the numbers never depend on where or in
which order replications run: a serial run, a process pool and a Dask cluster
give identical results.

Two layers:

* executors (:class:`SerialExecutor`, :class:`ProcessExecutor`,
  :class:`DaskExecutor`, chosen by :func:`make_executor`) submit tasks and
  wait for the first ones to finish, each behind the same small interface;
* :func:`run_jobs` schedules :class:`ReplicationJob` objects on an executor.
  A job is one or more scenarios replicated on common random numbers (the same
  seed, replication by replication) until its ``more`` rule is satisfied, in
  batches; the rule only ever sees complete batches, so how many replications
  a job ends up with does not depend on the executor either. Finished jobs are
  yielded as soon as they complete, which is what lets a sweep save each point
  the moment it is done.

Examples
--------
>>> import simulator as sim
>>> from simulator.experiment import run_replication
>>> sc = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 0.05})
>>> job = ReplicationJob((sc,), seed=1, replications=2, task=run_replication)
>>> with make_executor(workers=1) as executor:
...     [(done.key, len(outputs[0])) for done, outputs in run_jobs([job], executor)]
[(None, 2)]
"""

from __future__ import annotations

import math
import os
import signal
import sys
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import dataclass, field
from typing import Any, Callable, Hashable, Iterable, Iterator, Sequence

from .runsize import check_run_size, estimate_run
from .scenario import MAX_REPLICATIONS, Scenario

__all__ = [
    "Executor",
    "SerialExecutor",
    "ProcessExecutor",
    "DaskExecutor",
    "DaskAddressError",
    "check_dask_address",
    "make_executor",
    "default_workers",
    "worker_count",
    "MAX_WORKERS_PER_CORE",
    "ReplicationJob",
    "run_jobs",
]

#: Tasks kept submitted per worker: enough to keep every worker busy, few
#: enough that an interruption loses little.
TASKS_PER_WORKER = 2
#: Local processes at most per CPU core: replications are CPU-bound, so more
#: processes than cores only cost memory and start-up time.
MAX_WORKERS_PER_CORE = 2
DASK_EXTRA = "pip install 'contactflow[distributed]'"
#: Seconds to wait for a Dask scheduler to answer (``CONTACTFLOW_DASK_TIMEOUT`` overrides it).
DASK_CONNECT_TIMEOUT = 10.0
#: Address schemes a Dask scheduler listens on; ``HOST:PORT`` alone means tcp.
DASK_SCHEMES = ("tcp", "tls", "ws", "wss", "ucx")
DASK_ADDRESS_FORMS = "tcp://HOST:PORT, tls://HOST:PORT, ws://HOST:PORT, wss://HOST:PORT, ucx://HOST:PORT or HOST:PORT"


class DaskAddressError(ValueError, ConnectionError):
    """A malformed Dask scheduler address (both a ValueError and a ConnectionError)."""


def default_workers() -> int:
    """The number of CPU cores this process may use (the CLI's default ``--workers``)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def worker_count(workers: int | None, tasks: int | None = None) -> int:
    """How many local processes to start: ``workers`` (None: one), but no more than the ``tasks``
    that can run at once, nor than :data:`MAX_WORKERS_PER_CORE` per CPU core.

    Every command and function that runs replications in processes goes
    through this (by :func:`make_executor`), so ``--workers 1000`` never
    starts a thousand processes.

    Examples
    --------
    >>> worker_count(1000, tasks=3)
    3
    >>> worker_count(1000) == MAX_WORKERS_PER_CORE * default_workers()
    True
    >>> worker_count(None, tasks=10)
    1
    """
    count = min(1 if workers is None else int(workers), MAX_WORKERS_PER_CORE * default_workers())
    if tasks is not None:
        count = min(count, int(tasks))
    return max(1, count)


class Executor:
    """Runs tasks somewhere; the interface every executor offers.

    ``capacity`` is how many tasks :func:`run_jobs` keeps submitted at once;
    ``parallelism`` how many run at the same time.
    Use an executor as a context manager: leaving the block normally waits for
    nothing (every task has been collected); leaving it with an exception
    (Ctrl-C included) cancels what has not run yet and stops the workers.
    """

    capacity: int = 1
    parallelism: int = 1

    def submit(self, fn: Callable, *args) -> Any:
        """Start ``fn(*args)``; returns a future with ``result()``."""
        raise NotImplementedError

    def wait(self, futures: set) -> set:
        """Block until at least one of ``futures`` is finished; return the finished ones."""
        raise NotImplementedError

    def close(self, abort: bool = False) -> None:
        """Release the workers; ``abort`` cancels queued tasks and stops running ones."""

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(abort=exc_type is not None)


class SerialExecutor(Executor):
    """Runs each task in this process, at once, when it is submitted.

    Examples
    --------
    >>> with SerialExecutor() as ex:
    ...     ex.submit(pow, 2, 10).result()
    1024
    """

    capacity = 1

    def submit(self, fn: Callable, *args) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except Exception as exc:  # re-raised by result(), as from any executor
            future.set_exception(exc)
        return future

    def wait(self, futures: set) -> set:
        return {f for f in futures if f.done()}


def _exit_when_orphaned(parent: int) -> None:
    """Poll once a second; end this process when ``parent`` is no longer its parent."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _init_worker(parent: int) -> None:
    """Leave Ctrl-C to the parent, which stops the workers cleanly; die with the parent.

    A parent killed outright (``kill -9``) cannot stop its workers, so each
    worker watches it: on Linux the kernel sends SIGKILL when the parent goes
    (``PR_SET_PDEATHSIG``; the pool's processes are started and stopped by the
    same ``with`` block, so the starting thread outlives them), elsewhere a
    daemon thread polls the parent id.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watched = False
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            watched = libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0
        except (OSError, AttributeError):  # pragma: no cover - no usable libc
            watched = False
    if os.getppid() != parent:  # the parent died before the watch started
        os._exit(1)
    if not watched:
        threading.Thread(target=_exit_when_orphaned, args=(parent,), daemon=True,
                         name="contactflow-parent-watch").start()


class ProcessExecutor(Executor):
    """Runs tasks in ``workers`` processes on this machine.

    Examples
    --------
    >>> with ProcessExecutor(2) as ex:
    ...     sorted(f.result() for f in [ex.submit(pow, 2, k) for k in (3, 4)])
    [8, 16]
    """

    def __init__(self, workers: int):
        if workers < 1:
            raise ValueError(f"workers must be >= 1; got {workers}")
        self.workers = self.parallelism = workers
        self.capacity = workers * TASKS_PER_WORKER
        self._pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(os.getpid(),))

    def submit(self, fn: Callable, *args) -> Future:
        return self._pool.submit(fn, *args)

    def wait(self, futures: set) -> set:
        return wait_futures(futures, return_when=FIRST_COMPLETED).done

    def close(self, abort: bool = False) -> None:
        if not abort:
            self._pool.shutdown(wait=True)
            return
        terminate = getattr(self._pool, "terminate_workers", None)  # Python >= 3.14
        if terminate is not None:
            terminate()
            return
        # Older Pythons: stop the running replications, which would otherwise finish
        # (with those already handed to the workers) before this process can exit.
        processes = list((getattr(self._pool, "_processes", None) or {}).values())
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            process.terminate()
        for process in processes:
            process.join(timeout=5)


def check_dask_address(address: str) -> str:
    """``address`` stripped, if it has the form of a Dask scheduler address; else a :class:`DaskAddressError`.

    Examples
    --------
    >>> check_dask_address(" tcp://10.0.0.5:8786 ")
    'tcp://10.0.0.5:8786'
    >>> check_dask_address("http://10.0.0.5:8787")
    Traceback (most recent call last):
    ...
    simulator.parallel.DaskAddressError: 'http://10.0.0.5:8787' is not a Dask scheduler address: its scheme must be one of tcp, tls, ws, wss, ucx (use tcp://HOST:PORT, tls://HOST:PORT, ws://HOST:PORT, wss://HOST:PORT, ucx://HOST:PORT or HOST:PORT)
    """
    text = str(address).strip()
    scheme, sep, location = text.partition("://")
    if not sep:
        scheme, location = "tcp", text
    host, colon, port = location.rpartition(":")
    problem = None
    if not text:
        problem = "it is empty"
    elif scheme not in DASK_SCHEMES:
        problem = f"its scheme must be one of {', '.join(DASK_SCHEMES)}"
    elif not colon or not port:
        problem = "it has no port"
    elif not port.isdigit() or not 0 < int(port) < 65536:
        problem = f"its port {port!r} is not a number from 1 to 65535"
    elif not host.strip("[]") or "/" in location:
        problem = "it has no host" if not host.strip("[]") else "it has a path"
    if problem:
        raise DaskAddressError(f"{text!r} is not a Dask scheduler address: {problem} (use {DASK_ADDRESS_FORMS})")
    return text


def dask_connect_timeout() -> float:
    """Seconds to wait for a scheduler: ``CONTACTFLOW_DASK_TIMEOUT`` or :data:`DASK_CONNECT_TIMEOUT`."""
    text = os.environ.get("CONTACTFLOW_DASK_TIMEOUT", "").strip()
    if not text:
        return DASK_CONNECT_TIMEOUT
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not seconds > 0 or math.isinf(seconds):
        raise DaskAddressError(f"CONTACTFLOW_DASK_TIMEOUT must be a positive number of seconds; got {text!r}")
    return seconds


def _connect(distributed: Any, address: str, timeout: float) -> Any:
    """A :class:`distributed.Client` for ``address``, or a ConnectionError within about ``timeout`` seconds.

    ``Client(timeout=...)`` bounds reaching the address but not the reply:
    a server that accepts and never answers as a scheduler (a dashboard's
    HTTP port, say) would keep it waiting forever. So the client is made in a
    daemon thread that is abandoned (and closes its client if it ever gets
    one) when the time is up.
    """
    lock = threading.Lock()
    outcome: dict[str, Any] = {}

    def attempt() -> None:
        try:
            client = distributed.Client(address, set_as_default=False, timeout=timeout)
        except Exception as exc:  # reported by the caller; keep only the text
            with lock:
                outcome["error"] = f"{type(exc).__name__}: {exc}"
            return
        with lock:
            if outcome.get("abandoned"):
                client.close()
            else:
                outcome["client"] = client

    thread = threading.Thread(target=attempt, daemon=True, name="contactflow-dask-connect")
    thread.start()
    thread.join(timeout + 2.0)  # the client's own timeout first, when it applies
    with lock:
        if "client" in outcome:
            return outcome["client"]
        error = outcome.get("error")
        outcome["abandoned"] = True
    if error is None:
        raise ConnectionError(f"no Dask scheduler answered at {address} within {timeout:g} s (is it the "
                              f"scheduler's address, usually port 8786, and not the dashboard's?)")
    raise ConnectionError(f"cannot reach the Dask scheduler at {address}: {error}")


class DaskExecutor(Executor):
    """Sends tasks to a Dask cluster (``pip install 'contactflow[distributed]'``).

    Parameters
    ----------
    address
        The scheduler's address (``"tcp://10.0.0.5:8786"``, see
        :func:`check_dask_address`), or an existing :class:`distributed.Client`,
        which is left open on close. The workers need contactflow installed
        (the same version).
    timeout
        Seconds to wait for the scheduler to answer (default:
        :func:`dask_connect_timeout`); then a :class:`ConnectionError`.

    Examples
    --------
    >>> from distributed import LocalCluster  # doctest: +SKIP
    >>> with LocalCluster(n_workers=2, processes=True) as cluster:  # doctest: +SKIP
    ...     with DaskExecutor(cluster.scheduler_address) as ex:
    ...         ex.submit(pow, 2, 10).result()
    1024
    """

    def __init__(self, address: Any, timeout: float | None = None):
        try:
            import distributed
        except ImportError:  # pragma: no cover - exercised without the extra
            raise ImportError(f"running on a Dask cluster needs the distributed extra: {DASK_EXTRA}") from None
        self._distributed = distributed
        if isinstance(address, distributed.Client):
            self.client, self._own_client = address, False
        else:
            address = check_dask_address(address)
            self.client = _connect(distributed, address, dask_connect_timeout() if timeout is None else timeout)
            self._own_client = True
        try:
            threads = sum(self.client.nthreads().values())
        except BaseException:
            if self._own_client:
                self.client.close()
            raise
        self.parallelism = max(1, threads)
        self.capacity = self.parallelism * TASKS_PER_WORKER
        # finished futures arrive here; bound to our client, not to a process-wide default one
        self._finished = distributed.as_completed(loop=self.client.loop)

    def submit(self, fn: Callable, *args) -> Any:
        future = self.client.submit(fn, *args, pure=False)
        self._finished.add(future)
        return future

    def wait(self, futures: set) -> set:
        done = {next(self._finished)}
        done.update(self._finished.next_batch(block=False))
        return done & futures

    def close(self, abort: bool = False) -> None:
        if abort:
            self._finished.clear()
        if self._own_client:
            self.client.close()


def make_executor(workers: int | None = 1, dask: Any = None, tasks: int | None = None) -> Executor:
    """The executor for ``workers`` local processes, or for a Dask cluster when ``dask`` is given.

    Parameters
    ----------
    workers
        Local processes; 1 (or None) runs in this process. Capped by
        :func:`worker_count`.
    dask
        A Dask scheduler address or :class:`distributed.Client`; overrides ``workers``.
    tasks
        The most tasks that can run at once (e.g. the replications to run):
        no more processes than that are started.

    Examples
    --------
    >>> type(make_executor(1)).__name__
    'SerialExecutor'
    >>> type(make_executor(1000, tasks=1)).__name__
    'SerialExecutor'
    """
    if dask is not None and dask is not False:
        return DaskExecutor(dask)
    workers = worker_count(workers, tasks)
    if workers == 1:
        return SerialExecutor()
    return ProcessExecutor(workers)


# --------------------------------------------------------------------------- jobs


@dataclass
class ReplicationJob:
    """Replications of one or more scenarios on common random numbers.

    Replication ``r`` of every scenario uses the random streams of
    ``(seed, r)``, so the scenarios see the same arrivals, first channels and
    per-channel draw sequences, and their differences can be paired.

    Attributes
    ----------
    scenarios
        The scenarios, replicated side by side.
    seed
        The common seed.
    replications
        The first batch. ``more`` may ask for more after each complete batch.
    task
        ``task(scenario, seed, replication, keep_journeys)`` runs one
        replication (:func:`simulator.experiment.run_replication`); it must be
        picklable (a module-level function) for process pools and Dask.
    keep_journeys
        Passed to ``task``.
    more
        ``more(outputs)`` with ``outputs[s][r]`` the output of replication
        ``r`` of scenario ``s``: the total number of replications the job
        needs. Returning the current number (or fewer) finishes the job.
    key
        Anything that identifies the job to the caller (a sweep point, a staffing plan).
    """

    scenarios: Sequence[Scenario]
    seed: int
    replications: int
    task: Callable
    keep_journeys: bool = False
    more: Callable[[list[list[Any]]], int] | None = None
    key: Hashable = None
    outputs: list[list[Any]] = field(default_factory=list, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 1 <= self.replications <= MAX_REPLICATIONS:
            raise ValueError(f"replications must be from 1 to {MAX_REPLICATIONS:,}; got {self.replications}")
        self.scenarios = tuple(self.scenarios)
        self.outputs = [[] for _ in self.scenarios]

    def tasks(self, start: int, stop: int) -> Iterator[tuple[int, int]]:
        """(scenario index, replication) pairs for replications ``start .. stop - 1``, made as they are taken."""
        return ((s, r) for r in range(start, stop) for s in range(len(self.scenarios)))


def run_jobs(jobs: Iterable[ReplicationJob], executor: Executor,
             progress: Callable[[int, int], None] | None = None, *,
             force: bool = False) -> Iterator[tuple[ReplicationJob, list[list[Any]]]]:
    """Run the jobs' replications on ``executor``; yield ``(job, outputs)`` as each job finishes.

    Tasks are submitted in job order, at most ``executor.capacity`` at a time,
    and a job's extra batches go ahead of jobs not yet started, so jobs finish
    roughly in order and an interruption loses only the replications in flight.
    ``outputs[s]`` lists scenario ``s``'s outputs in replication order.

    Parameters
    ----------
    progress
        Called as ``progress(finished, planned)`` in replications (one
        scenario's replication each) after each one; ``planned`` grows when a
        job asks for more.
    force
        Run even what :func:`simulator.runsize.check_run_size` finds far
        beyond this machine; otherwise such jobs raise
        :class:`~simulator.runsize.RunTooLarge` before anything is simulated.

    Notes
    -----
    When the consumer stops early or an exception (Ctrl-C included) is raised,
    tasks not yet finished are cancelled; the caller's ``with executor`` block
    stops the workers.
    """
    jobs = list(jobs)
    size = estimate_run(((scenario, job.replications) for job in jobs for scenario in job.scenarios),
                        keep_journeys=any(job.keep_journeys for job in jobs), workers=executor.parallelism)
    check_run_size(size, force=force)
    # batches of tasks, each (job, iterator of (scenario, replication)): tasks are made as they are
    # submitted, so a million replications do not make a million task objects up front
    queue: deque = deque()
    pending: dict[int, list] = {}  # id(job) -> [outstanding tasks, results by (scenario, rep)]
    for job in jobs:
        queue.append((job, job.tasks(0, job.replications)))
        pending[id(job)] = [len(job.scenarios) * job.replications, {}]
    planned = sum(state[0] for state in pending.values())
    finished = 0
    in_flight: dict[Any, tuple[ReplicationJob, int, int]] = {}
    try:
        while queue or in_flight:
            while queue and len(in_flight) < executor.capacity:
                job, batch = queue[0]
                task = next(batch, None)
                if task is None:
                    queue.popleft()
                    continue
                s, r = task
                future = executor.submit(job.task, job.scenarios[s], job.seed, r, job.keep_journeys)
                in_flight[future] = (job, s, r)
            for future in executor.wait(set(in_flight)):
                job, s, r = in_flight.pop(future)
                state = pending[id(job)]
                state[1][(s, r)] = future.result()
                state[0] -= 1
                finished += 1
                if progress is not None:
                    progress(finished, planned)
                if state[0]:
                    continue
                for s_, r_ in sorted(state[1]):
                    job.outputs[s_].append(state[1][(s_, r_)])
                state[1] = {}
                total = job.more(job.outputs) if job.more is not None else len(job.outputs[0])
                have = len(job.outputs[0])
                if total > have:
                    queue.appendleft((job, job.tasks(have, total)))
                    state[0] = len(job.scenarios) * (total - have)
                    planned += state[0]
                    if progress is not None:
                        progress(finished, planned)
                else:
                    del pending[id(job)]
                    yield job, job.outputs
    finally:
        for future in in_flight:
            future.cancel()
