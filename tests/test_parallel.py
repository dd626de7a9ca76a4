"""Serial, process-pool and Dask runs give identical numbers; interruptions stop the workers."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pandas as pd
import pytest
from click.testing import CliRunner

import simulator as sim
from simulator.cli import main
from simulator.compare import compare
from simulator.experiment import run_replication
from simulator.parallel import (
    ProcessExecutor, ReplicationJob, SerialExecutor, make_executor, run_jobs,
)
from simulator.sweep import sweep


def short(scenario):
    return scenario.with_changes({"run.days": 0.2})


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, silence_logs=40) as cluster:
        yield cluster.scheduler_address


def test_serial_equals_process_pool(scenario):
    sc = short(scenario)
    serial = sim.run(sc, replications=4, seed=8)
    pooled = sim.run(sc, replications=4, seed=8, workers=2)
    pd.testing.assert_frame_equal(serial.per_replication, pooled.per_replication)
    pd.testing.assert_frame_equal(serial.hourly_per_replication, pooled.hourly_per_replication)
    pd.testing.assert_frame_equal(serial.journeys, pooled.journeys)


def test_serial_equals_dask_for_run_compare_and_sweep(scenario, dask_cluster, tmp_path):
    sc = short(scenario)
    serial = sim.run(sc, replications=3, seed=8)
    on_dask = sim.run(sc, replications=3, seed=8, dask=dask_cluster)
    pd.testing.assert_frame_equal(serial.per_replication, on_dask.per_replication)
    pd.testing.assert_frame_equal(serial.journeys, on_dask.journeys)

    variant = {"more_chat": sc.with_changes({"channels.chat.agents": 6})}
    pd.testing.assert_frame_equal(compare(sc, variant, 2, seed=3), compare(sc, variant, 2, seed=3, dask=dask_cluster))
    vary = {"channels.phone.agents": [7, 9]}
    pd.testing.assert_frame_equal(sweep(sc, vary, 2, seed=3), sweep(sc, vary, 2, seed=3, dask=dask_cluster,
                                                                     out=tmp_path / "sw"))


def test_cli_run_on_dask_prints_the_same_json(tmp_path, dask_cluster, scenario):
    path = tmp_path / "centre.toml"
    path.write_text(short(scenario).to_toml())
    args = ["run", str(path), "--json", "-r", "2", "-q"]
    local = CliRunner().invoke(main, [*args, "-w", "1"], catch_exceptions=False)
    remote = CliRunner().invoke(main, [*args, "--dask", dask_cluster], catch_exceptions=False)
    assert local.exit_code == remote.exit_code == 0
    assert json.loads(local.stdout) == json.loads(remote.stdout)


def test_an_unreachable_dask_scheduler_is_a_clean_error(tmp_path, scenario, monkeypatch):
    pytest.importorskip("distributed")
    monkeypatch.setattr("simulator.parallel.DASK_CONNECT_TIMEOUT", "1s")
    path = tmp_path / "centre.toml"
    path.write_text(short(scenario).to_toml())
    result = CliRunner().invoke(main, ["run", str(path), "-r", "2", "-q", "--dask", "tcp://127.0.0.1:9"])
    assert result.exit_code == 2 and "cannot reach the Dask scheduler" in result.output
    assert "Traceback" not in result.output


def test_jobs_finish_in_order_and_ask_for_more_deterministically(scenario):
    sc = short(scenario)

    def jobs():  # the second job asks for two more replications after its first batch
        return [ReplicationJob((sc,), 1, 2, run_replication, key="a"),
                ReplicationJob((sc, sc.with_changes({"channels.chat.agents": 6})), 1, 2, run_replication,
                               more=lambda outputs: 4, key="b")]

    results = {}
    for executor in (SerialExecutor(), ProcessExecutor(2)):
        with executor:
            seen = [(job.key, [len(o) for o in outputs]) for job, outputs in run_jobs(jobs(), executor)]
            results[type(executor).__name__] = seen
    assert results["SerialExecutor"] == results["ProcessExecutor"] == [("a", [2]), ("b", [4, 4])]


def test_progress_counts_every_replication(scenario):
    calls = []
    sim.run(short(scenario), replications=3, seed=1, workers=2, progress=calls.append)
    assert calls == [1, 2, 3]


def test_a_failing_task_raises_from_any_executor():
    for executor in (make_executor(1), make_executor(2)):
        with pytest.raises(ZeroDivisionError):
            with executor:
                executor.submit(divmod, 1, 0).result()


ABORT_SCRIPT = """
import time
from simulator.parallel import ProcessExecutor
try:
    with ProcessExecutor(2) as executor:
        for _ in range(4):
            executor.submit(time.sleep, 30)
        time.sleep(0.5)
        raise KeyboardInterrupt  # as Ctrl-C would, while the workers are busy
except KeyboardInterrupt:
    print("interrupted")
"""


def test_abort_stops_running_workers_at_once():
    started = time.perf_counter()
    # in a child process: the whole process must end, not only the with block
    proc = subprocess.run([sys.executable, "-c", ABORT_SCRIPT], capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip() == "interrupted"
    assert time.perf_counter() - started < 20  # the workers' 2 x 30 s of sleep were cut short
