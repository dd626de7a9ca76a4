"""Safe output files: atomic and durable writes, stale temporaries, file names from free text."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from simulator import files
from simulator.files import atomic_write, remove_stale_temporaries, safe_file_name


def test_atomic_write_flushes_the_data_to_disk_before_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(files.os, "fsync", lambda fd: (events.append(("fsync", os.fstat(fd).st_size)),
                                                        real_fsync(fd)))
    monkeypatch.setattr(files.os, "replace", lambda a, b: (events.append(("replace", 0)), real_replace(a, b)))
    path = atomic_write(tmp_path / "a.txt", lambda p: p.write_text("12345"))
    assert path.read_text() == "12345"
    assert events[0] == ("fsync", 5) and events[1] == ("replace", 0)
    assert len(events) == 3  # then the folder, so the new name survives a crash too
    assert not list(tmp_path.glob(".*"))


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    (tmp_path / "a.txt").write_text("old")

    def fail(path):
        path.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(tmp_path / "a.txt", fail)
    assert (tmp_path / "a.txt").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["a.txt"]


def test_only_temporaries_no_live_process_will_finish_are_removed(tmp_path):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    host = files._host()
    dead = tmp_path / f".r.json.{host}~{child.pid}~abc.tmp"
    mine = tmp_path / f".r.json.{host}~{os.getpid()}~abc.tmp"
    live = tmp_path / f".r.json.{host}~{os.getppid()}~abc.tmp"
    elsewhere = tmp_path / f".r.json.otherhost~{child.pid}~abc.tmp"
    old = tmp_path / ".r.json.abc_ef12.tmp"  # from before writers were named
    users = tmp_path / ".notes.tmp"  # not written by contactflow
    kept_file = tmp_path / "r.json"
    for f in (dead, mine, live, elsewhere, old, users, kept_file):
        f.write_text("x")
    two_days_ago = os.path.getmtime(old) - 2 * 86400
    for f in (old, users):
        os.utime(f, (two_days_ago, two_days_ago))
    assert sorted(remove_stale_temporaries(tmp_path)) == sorted([dead, old])
    assert all(f.exists() for f in (mine, live, elsewhere, users, kept_file))


@pytest.mark.parametrize("text, expected", [
    ("nice_bcg_2016", "nice_bcg_2016"),
    ("../../etc/x", "etc_x"),
    ("/etc/passwd", "etc_passwd"),
    ("..", "scenario"),
    ("", "scenario"),
    ("a\\b:c*?d", "a_b_c_d"),
    ("Centre d'appels été", "Centre_d_appels_été"),
    (".hidden", "hidden"),
    ("x" * 300, "x" * 100),
])
def test_safe_file_name_keeps_one_name_in_its_folder(text, expected):
    assert safe_file_name(text) == expected


def test_cli_run_out_removes_what_a_killed_run_left_there(tmp_path):
    from click.testing import CliRunner

    from simulator.cli import main

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    out = tmp_path / "out"
    out.mkdir()
    left = out / f".journeys.parquet.{files._host()}~{child.pid}~abc.tmp"
    left.write_bytes(b"half a file")
    result = CliRunner().invoke(main, ["run", "nice_bcg_2016", "-d", "0.02", "-r", "2", "-w", "1", "-q",
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert not left.exists() and not list(out.glob(".*"))
