"""Serial, process-pool and Dask runs give identical numbers; interruptions stop the workers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest
from click.testing import CliRunner

import simulator as sim
from simulator.cli import main
from simulator.compare import compare
from simulator.experiment import run_replication
from simulator.parallel import (
    DaskAddressError, DaskExecutor, ProcessExecutor, ReplicationJob, SerialExecutor, check_dask_address,
    make_executor, run_jobs,
)
from simulator.sweep import sweep

from conftest import DAILY_CENTRE


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
    monkeypatch.setattr("simulator.parallel.DASK_CONNECT_TIMEOUT", 1.0)
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
futures = []
try:
    with ProcessExecutor(2) as executor:
        futures = [executor.submit(time.sleep, 30) for _ in range(4)]
        time.sleep(0.5)
        raise KeyboardInterrupt  # as Ctrl-C would, while the workers are busy
except KeyboardInterrupt:
    # leaving the block did not wait for the tasks: none of them ran to its end
    print("interrupted; tasks finished:", sum(f.done() and not f.cancelled() and f.exception() is None
                                               for f in futures))
"""


def test_abort_stops_running_workers_at_once():
    # in a child process: the whole process must end, not only the with block
    proc = subprocess.run([sys.executable, "-c", ABORT_SCRIPT], capture_output=True, text=True,
                          timeout=600)  # a guard against a hang, not a measure of time
    assert proc.stdout.strip() == "interrupted; tasks finished: 0"


@pytest.mark.parametrize("address", ["nonsense", "", "  ", "http://127.0.0.1:18787", "tcp://127.0.0.1",
                                     "tcp://127.0.0.1:99999", "tcp://:8786", "tcp://host:8786/path"])
def test_a_malformed_dask_address_is_refused_before_connecting(address):
    with pytest.raises(DaskAddressError, match="is not a Dask scheduler address.*use tcp://HOST:PORT"):
        check_dask_address(address)


def test_dask_address_forms_that_are_accepted():
    for address in ("tcp://10.0.0.5:8786", "10.0.0.5:8786", "tls://scheduler.example:8786", "[::1]:8786"):
        assert check_dask_address(address) == address


@pytest.mark.parametrize("address", ["nonsense", "", "http://127.0.0.1:18787"])
def test_cli_malformed_dask_address_exits_2_without_making_a_client(tmp_path, scenario, address, monkeypatch):
    distributed = pytest.importorskip("distributed")
    path = tmp_path / "centre.toml"
    path.write_text(short(scenario).to_toml())
    args = ["run", str(path), "-r", "2", "-q", "--dask", address]
    # a half-made Client used to hold the interpreter for 20 s at exit: none is made at all
    made = []

    class RecordedClient(distributed.Client):
        def __init__(self, *args, **kwargs):
            made.append(args)
            raise OSError("no client in this test")

    monkeypatch.setattr(distributed, "Client", RecordedClient)
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and not made
    # and a real process ends with the message alone
    proc = subprocess.run([sys.executable, "-m", "simulator", *args], capture_output=True, text=True,
                          timeout=600)  # a guard against a hang, not a measure of time
    assert proc.returncode == 2
    assert "--dask:" in proc.stderr and "is not a Dask scheduler address" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture(params=["silent", "http"])
def not_a_scheduler(request):
    """A TCP server on 127.0.0.1 that accepts connections but is no Dask scheduler: ``(address,
    silent)``, ``silent`` when it never answers (else it answers in HTTP, like a dashboard)."""
    server = socket.create_server(("127.0.0.1", 0))
    held = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:  # closed at teardown
                return
            held.append(conn)
            if request.param == "http":  # like a dashboard port: answers in HTTP, keeps the connection
                conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")

    threading.Thread(target=serve, daemon=True).start()
    yield f"tcp://127.0.0.1:{server.getsockname()[1]}", request.param == "silent"
    server.close()
    for conn in held:
        conn.close()


def test_a_server_that_is_not_a_dask_scheduler_fails_within_the_timeout(not_a_scheduler):
    pytest.importorskip("distributed")
    address, silent = not_a_scheduler
    # a silent server is given up on after the timeout (which the message gives), not waited for forever
    expected = "no Dask scheduler answered at .* within 1 s" if silent else "cannot reach the Dask scheduler"
    with pytest.raises(ConnectionError, match=expected):
        DaskExecutor(address, timeout=1.0)


def test_cli_dask_timeout_comes_from_the_environment(tmp_path, scenario, monkeypatch, not_a_scheduler):
    pytest.importorskip("distributed")
    path = tmp_path / "centre.toml"
    path.write_text(short(scenario).to_toml())
    address, silent = not_a_scheduler
    args = ["run", str(path), "-r", "2", "-q", "--dask", address]
    monkeypatch.setenv("CONTACTFLOW_DASK_TIMEOUT", "1")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "--dask: " in result.output and "Traceback" not in result.output
    if silent:  # the timeout used is the environment's
        assert f"no Dask scheduler answered at {address} within 1 s" in result.output
    monkeypatch.setenv("CONTACTFLOW_DASK_TIMEOUT", "soon")
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "CONTACTFLOW_DASK_TIMEOUT must be a positive number" in result.output


ORPHAN_SCRIPT = """
import multiprocessing, os, time
from simulator.parallel import ProcessExecutor
executor = ProcessExecutor(2)
futures = [executor.submit(time.sleep, 10**6) for _ in range(2)]  # tasks that never end by themselves
time.sleep(1.0)  # both workers started and initialised
print(" ".join(str(p.pid) for p in multiprocessing.active_children()), flush=True)
time.sleep(10**6)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie waiting for its new parent to reap it has exited too
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
@pytest.mark.parametrize("watch", ["default", "polling"])
def test_workers_exit_when_the_main_process_is_killed(watch):
    # "polling": pretend not to be on Linux, so the workers poll the parent id instead of using prctl
    script = ORPHAN_SCRIPT if watch == "default" else ORPHAN_SCRIPT.replace(
        "executor = ", "import sys; sys.platform = 'elsewhere'  # after the imports\nexecutor = ", 1)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(pid) for pid in proc.stdout.readline().split()]
        assert len(workers) == 2 and all(_alive(pid) for pid in workers)
        proc.kill()  # kill -9: no chance to stop its pool
        proc.wait()
        guard = time.monotonic() + 600  # a guard against a hang, not a measure of time
        while any(_alive(pid) for pid in workers) and time.monotonic() < guard:
            time.sleep(0.1)
        assert not [pid for pid in workers if _alive(pid)]
    finally:
        proc.kill()
        proc.stdout.close()


# --------------------------------------------------------------------------- how many processes


@pytest.fixture
def started_pools(monkeypatch):
    """The worker counts of the process pools started (each runs serially here instead)."""
    from simulator.parallel import SerialExecutor

    started = []

    class RecordedPool(SerialExecutor):
        def __init__(self, workers):
            started.append(workers)

    monkeypatch.setattr("simulator.parallel.ProcessExecutor", RecordedPool)
    return started


SMALL = ["-r", "2", "-d", "0.05", "-q", "-w", "1000"]


@pytest.mark.parametrize("command, tasks", [
    (["run", DAILY_CENTRE], 2),
    (["compare", DAILY_CENTRE, "--set-variant", "x:channels.chat.agents=9"], 4),  # 2 scenarios x 2
    (["sweep", DAILY_CENTRE, "--vary", "channels.chat.agents=8,9,10", "-o", "{tmp}/sweep"], 6),  # 3 points x 2
    (["staff", DAILY_CENTRE, "--target", "channels.chat.service_level>=0.5", "--channels", "chat"], 2),
    (["analyze", DAILY_CENTRE, "--simulate"], 2),
    (["report", DAILY_CENTRE, "-o", "{tmp}/r.html"], 2),
])
def test_workers_are_capped_by_the_work_and_the_cores_in_every_command(command, tasks, started_pools, tmp_path):
    """--workers 1000 started 1,000 processes in sweep, compare and staff whatever the work."""
    from simulator.parallel import MAX_WORKERS_PER_CORE, default_workers

    args = [a.replace("{tmp}", str(tmp_path)) for a in command]
    result = CliRunner().invoke(main, [*args, *SMALL])
    assert result.exit_code == 0, result.output
    most = min(tasks, MAX_WORKERS_PER_CORE * default_workers())
    assert started_pools and set(started_pools) == {most}


def test_warmup_workers_are_capped_too(started_pools):
    result = CliRunner().invoke(main, ["warmup", DAILY_CENTRE, "-r", "2", "-d", "0.1", "-q", "-w", "1000"])
    assert result.exit_code == 0, result.output
    assert started_pools == [2]


def test_the_python_api_caps_workers_the_same_way(started_pools):
    sc = sim.load_scenario(DAILY_CENTRE).with_changes({"run.days": 0.05})
    sim.sweep(sc, {"channels.chat.agents": [8, 9]}, replications=1, seed=1, workers=1000)
    sim.compare(sc, [sc.with_changes({"channels.chat.agents": 9})], replications=1, seed=1, workers=1000)
    assert started_pools == [2, 2]
    sim.run(sc, replications=1, workers=1000)  # one replication: this process
    assert started_pools == [2, 2]
