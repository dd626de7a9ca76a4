"""Long runs in a background thread, with progress and a cancel button.

A :class:`Job` runs ``work(progress)`` in a thread, where ``work`` calls one of
the library's long functions (``run``, ``compare``, ``sweep``, ``staff``),
passing ``progress`` on. Each call of ``progress(finished, planned)`` records
how far the work is, and raises :class:`Cancelled` once :meth:`Job.cancel` was
called: the library then stops its workers, as it does on Ctrl-C. The web
page polls :attr:`Job.state` and :meth:`Job.fraction`, so it stays usable
while the job runs.

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 0.05})
>>> job = Job("simulate", lambda progress: sim.run(sc, replications=2, progress=progress))
>>> job.wait(60)
True
>>> job.state, job.done, job.result.replications
('done', 2, 2)
"""

from __future__ import annotations

import threading
import time
from typing import Any, Callable

__all__ = ["Job", "LatestJob", "Cancelled", "error_message"]


class Cancelled(Exception):
    """Raised inside a job's work when the user cancelled it."""


class Job:
    """``work(progress)`` in a daemon thread; ``state`` is ``running``, ``done``, ``failed`` or ``cancelled``.

    Parameters
    ----------
    what
        What the job does, for the page ("simulating", "comparing").
    work
        The computation; it gets ``progress(finished, planned=None)`` to pass
        to the library and returns the result.
    planned
        How many steps (replications) are expected, when known before the start.
    on_end
        Called (in the job's thread) once the job has ended and its state is set: a page can be told
        instead of polling.
    """

    def __init__(self, what: str, work: Callable[[Callable[..., None]], Any], planned: int | None = None,
                 on_end: Callable[[], None] | None = None):
        self.what = what
        self.done = 0
        self.planned = planned
        self.state = "running"
        self.result: Any = None
        self.error: BaseException | None = None
        self.started = time.monotonic()
        self.seconds: float | None = None
        self._work = work
        self._on_end = on_end
        self._cancel = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"contactflow {what}")
        self._thread.start()

    def progress(self, finished: int, planned: int | None = None) -> None:
        """Record progress; raise :class:`Cancelled` when the job was cancelled."""
        if self._cancel.is_set():
            raise Cancelled(self.what)
        self.done = finished
        if planned is not None:
            self.planned = planned

    def _run(self) -> None:
        try:
            self.result = self._work(self.progress)
            self.state = "cancelled" if self._cancel.is_set() else "done"
        except Cancelled:
            self.state = "cancelled"
        except Exception as exc:  # shown on the page as a message; never a traceback
            self.error = exc
            self.state = "failed"
        finally:
            self.seconds = time.monotonic() - self.started
            if self._on_end is not None:
                self._on_end()

    def cancel(self) -> None:
        """Stop at the next finished replication (the library then stops its workers)."""
        self._cancel.set()

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def cancelling(self) -> bool:
        return self.running and self._cancel.is_set()

    def fraction(self) -> float | None:
        """Share done, when the number of steps is known."""
        if not self.planned:
            return None
        return min(1.0, self.done / self.planned)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job ends (or ``timeout`` seconds pass); True when it ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def status(self) -> str:
        """One line for the page: ``simulating: 7 of 20 replications``, ``cancelled after 3.2 s``, ..."""
        if self.running:
            steps = f"{self.done} of {self.planned}" if self.planned else f"{self.done}"
            return f"{self.what}: {steps} replications done" + (" (cancelling...)" if self.cancelling else "")
        took = f"{self.seconds:.1f} s" if self.seconds is not None else ""
        if self.state == "done":
            return f"{self.what}: done in {took}"
        if self.state == "cancelled":
            return f"{self.what}: cancelled after {took}; the last results stay"
        return f"{self.what} failed: {error_message(self.error)}"


class LatestJob:
    """One job at a time for a stream of requests, always ending on the latest (the instant estimate).

    :meth:`job_for` starts the work for a request at once when nothing runs,
    and waits up to ``wait`` seconds for it, so a quick computation is
    answered in the same breath. A request made while a job runs waits for
    it, replacing any request that waited before: a user typing fast starts
    no pile of computations, and the last change is always computed. Keys
    are compared by identity (the app's scenarios are immutable objects).

    Examples
    --------
    >>> estimates = LatestJob("estimating")
    >>> job = estimates.job_for("a", lambda progress: 6 * 7, wait=10)
    >>> job.state, job.result
    ('done', 42)
    """

    def __init__(self, what: str):
        self.what = what
        self._key: Any = None
        self._job: Job | None = None
        self._pending: tuple[Any, Callable[[Callable[..., None]], Any], Callable[[], None] | None] | None = None
        self._lock = threading.Lock()

    def job_for(self, key: Any, work: Callable[[Callable[..., None]], Any], wait: float = 0.0,
                on_end: Callable[[], None] | None = None) -> Job | None:
        """The job computing ``work`` for ``key`` (started or queued if new); None while it waits its turn.

        Only a job started by this call is waited for: a caller polling a long job gets it back at
        once (waiting again at every poll would hold the caller, the app's event loop, most of the time).
        ``on_end`` is called when that job (or the one it waits behind) ends.
        """
        with self._lock:
            before = self._job
            if self._key is not key and (self._pending is None or self._pending[0] is not key):
                if self._job is not None and self._job.running:
                    self._pending = (key, work, on_end)
                else:
                    self._start(key, work, on_end)
            self._advance()
            job = self._job if self._key is key else None
        if job is not None and job is not before and job.running and wait > 0:
            job.wait(wait)
        return job

    def _start(self, key: Any, work: Callable[[Callable[..., None]], Any],
               on_end: Callable[[], None] | None = None) -> None:
        self._key, self._job, self._pending = key, Job(self.what, work, on_end=on_end), None

    def _advance(self) -> None:
        """Start the waiting request once the running job has ended."""
        if self._pending is not None and (self._job is None or not self._job.running):
            self._start(*self._pending)


def error_message(error: BaseException | None) -> str:
    """An error as one clear message, without a traceback (the library's messages name the field)."""
    if error is None:
        return ""
    if isinstance(error, KeyError) and error.args:
        return str(error.args[0])
    return str(error) or type(error).__name__
