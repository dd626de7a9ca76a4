"""Rules for the test suite itself, from the developers' guide."""

from __future__ import annotations

import re
from pathlib import Path

#: Clocks a test would time something with (benchmarks/ measures time, tests do not).
STOPWATCHES = re.compile(r"\b(perf_counter|process_time|thread_time|timeit)\b|\btime\.time\(")


def test_no_test_times_what_it_runs():
    """A test that asserts wall-clock time fails on a loaded machine and passes on a broken fast one."""
    here = Path(__file__).parent
    found = [f"{path.name}:{number}: {line.strip()}"
             for path in sorted(here.glob("*.py")) if path.name != Path(__file__).name
             for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
             if STOPWATCHES.search(line)]
    assert not found, "tests must not time what they run:\n" + "\n".join(found)
