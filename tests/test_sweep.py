"""Sweeps: grids, files, resuming after Ctrl-C or a killed process, and the CLI."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
from click.testing import CliRunner

import simulator as sim
from simulator.cli import main
from simulator.scenario import ScenarioError
from simulator.sweep import POINTS_DIR, grid_points, parse_vary, point_id, sweep

from conftest import make_scenario

VARY = {"channels.phone.agents": [7, 9], "channels.chat.resolve": [0.6, 0.8]}


def short(scenario, days=0.2):
    return scenario.with_changes({"run.days": days})


@pytest.mark.parametrize("text, expected", [
    ("channels.phone.agents=40:60:10", ("channels.phone.agents", [40, 50, 60])),
    ("channels.phone.agents=40:45:10", ("channels.phone.agents", [40])),
    ("channels.chat.resolve=0.6:0.9:0.1", ("channels.chat.resolve", [0.6, 0.7, 0.8, 0.9])),
    ("channels.phone.agents=60:40:-10", ("channels.phone.agents", [60, 50, 40])),
    ("channels.chat.resolve=0.6, 0.8", ("channels.chat.resolve", [0.6, 0.8])),
    ("channels.web.agents=unlimited", ("channels.web.agents", ["unlimited"])),
    ("channels.phone.open_hours=[8, 20],[7, 22]", ("channels.phone.open_hours", [[8, 20], [7, 22]])),
])
def test_parse_vary(text, expected):
    assert parse_vary(text) == expected


@pytest.mark.parametrize("text, message", [
    ("channels.phone.agents", "is not FIELD=START:STOP:STEP"),
    ("channels.phone.agents=1:2", "a range is START:STOP:STEP"),
    ("channels.phone.agents=1:10:0", "step must be non-zero"),
    ("channels.phone.agents=10:1:1", "step must be non-zero"),
    ("channels.phone.agents=a:10:1", "start 'a' is not a number"),
])
def test_parse_vary_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_vary(text)


def test_grid_is_every_combination_with_one_row_per_point_and_figure(scenario):
    table = sweep(short(scenario), VARY, replications=2, seed=3)
    assert grid_points(VARY)[1] == {"channels.phone.agents": 7, "channels.chat.resolve": 0.8}
    assert table.attrs["points"] == 4 and table.attrs["resumed"] == 0
    assert not table.duplicated(["point", "kpi"]).any()
    per_point = table.groupby("point").size()
    assert per_point.nunique() == 1 and len(per_point) == 4
    first = table[table.point == 1].iloc[0]
    assert first["channels.phone.agents"] == 7 and first["channels.chat.resolve"] == 0.8
    assert {"kpi", "mean", "ci_low", "ci_high", "n", "replications", "point_id"} <= set(table.columns)
    # every point runs on the same seed: the same customers arrive at every point
    customers = table.query("kpi == 'customers'")["mean"]
    assert customers.nunique() == 1
    # more phone agents: better phone service, at every chat resolution
    sl = table.query("kpi == 'channels.phone.service_level'").set_index(
        ["channels.chat.resolve", "channels.phone.agents"])["mean"]
    assert sl[(0.6, 9)] > sl[(0.6, 7)] and sl[(0.8, 9)] > sl[(0.8, 7)]


def test_out_writes_points_then_the_table_and_a_rerun_resumes(scenario, tmp_path):
    sc = short(scenario)
    first = sweep(sc, VARY, replications=2, seed=3, out=tmp_path)
    assert len(list((tmp_path / POINTS_DIR).glob("*.parquet"))) == 4
    assert not list(tmp_path.rglob("*.tmp"))
    saved = pd.read_parquet(tmp_path / "sweep.parquet")
    pd.testing.assert_frame_equal(saved, first, check_dtype=False)
    assert len(pd.read_csv(tmp_path / "sweep.csv")) == len(first)
    again = sweep(sc, VARY, replications=2, seed=3, out=tmp_path)
    assert again.attrs["resumed"] == 4
    pd.testing.assert_frame_equal(again, first, check_dtype=False)
    # another seed is another sweep: nothing is reused
    other = sweep(sc, VARY, replications=2, seed=4, out=tmp_path)
    assert other.attrs["resumed"] == 0 and len(list((tmp_path / POINTS_DIR).glob("*.parquet"))) == 8


def test_a_wider_grid_reuses_the_points_it_shares(scenario, tmp_path):
    sc = short(scenario)
    sweep(sc, {"channels.phone.agents": [7, 9]}, replications=2, seed=3, out=tmp_path)
    wider = sweep(sc, {"channels.phone.agents": [5, 7, 9]}, replications=2, seed=3, out=tmp_path)
    assert wider.attrs["resumed"] == 2
    firsts = wider.groupby("point")["channels.phone.agents"].first()
    assert firsts.to_dict() == {0: 5, 1: 7, 2: 9}
    pd.testing.assert_frame_equal(wider, sweep(sc, {"channels.phone.agents": [5, 7, 9]}, replications=2, seed=3),
                                  check_dtype=False)


def test_point_ids_change_with_anything_that_changes_the_numbers(scenario):
    base = point_id(scenario, 1, 5, None, 0.95)
    assert base == point_id(make_scenario(), 1, 5, None, 0.95)
    assert base != point_id(scenario.with_changes({"channels.chat.agents": 5}), 1, 5, None, 0.95)
    assert base != point_id(scenario, 1, 6, None, 0.95)


def test_ctrl_c_keeps_the_finished_points_and_a_rerun_completes(scenario, tmp_path):
    sc = short(scenario)

    def interrupt_after(n):
        def progress(finished, planned):
            if finished >= n:
                raise KeyboardInterrupt
        return progress

    with pytest.raises(KeyboardInterrupt):
        sweep(sc, VARY, replications=2, seed=3, out=tmp_path, progress=interrupt_after(5))
    kept = len(list((tmp_path / POINTS_DIR).glob("*.parquet")))
    assert kept == 2  # two points of two replications finished before the fifth replication
    resumed = sweep(sc, VARY, replications=2, seed=3, out=tmp_path)
    assert resumed.attrs["resumed"] == 2
    pd.testing.assert_frame_equal(resumed, sweep(sc, VARY, replications=2, seed=3), check_dtype=False)


def test_a_killed_sweep_resumes_without_losing_or_repeating_a_point(scenario, tmp_path):
    path = tmp_path / "centre.toml"
    path.write_text(short(scenario, days=0.4).to_toml())
    out = tmp_path / "out"
    args = [sys.executable, "-m", "simulator", "sweep", str(path), "-r", "2", "-w", "1", "-q", "-o", str(out),
            "--vary", "channels.phone.agents=6:11:1"]
    child = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    points = out / POINTS_DIR
    try:  # wait, however long it takes, for two points to be saved
        while child.poll() is None and len(list(points.glob("*.parquet"))) < 2:
            time.sleep(0.02)
    finally:
        os.killpg(child.pid, signal.SIGKILL)  # the process and any workers, mid-sweep
        child.wait()
    saved_before = len(list(points.glob("*.parquet")))
    assert 2 <= saved_before < 6, "the sweep was not killed mid-way"
    assert not (out / "sweep.parquet").exists()

    rerun = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resumed: {saved_before} of 6" in rerun.stderr
    table = pd.read_parquet(out / "sweep.parquet")
    assert sorted(table["channels.phone.agents"].unique()) == [6, 7, 8, 9, 10, 11]
    assert not table.duplicated(["point", "kpi"]).any()
    assert len(list(points.glob("*.parquet"))) == 6 and not list(points.glob(".*"))
    fresh = sweep(short(scenario, days=0.4), {"channels.phone.agents": list(range(6, 12))}, replications=2)
    pd.testing.assert_frame_equal(table, fresh, check_dtype=False)


def test_precision_per_point(scenario):
    table = sweep(short(scenario), {"channels.phone.agents": [7, 12]}, replications=2, seed=3,
                  precision={"channels.phone.service_level": 0.03})
    reps = table.groupby("point")["replications"].first()
    assert table["precision_met"].all() and (reps > 2).all()
    sl = table.query("kpi == 'channels.phone.service_level'")
    assert ((sl["ci_high"] - sl["ci_low"]) / 2 <= 0.03).all()


def test_an_invalid_point_fails_before_anything_runs(scenario, tmp_path):
    with pytest.raises(ScenarioError, match="channels.chat.resolve: must be a probability"):
        sweep(scenario, {"channels.chat.resolve": [0.5, 1.5]}, out=tmp_path)
    assert not (tmp_path / POINTS_DIR).exists() or not list((tmp_path / POINTS_DIR).iterdir())


def test_cli_sweep_prints_points_and_writes_files(scenario, tmp_path):
    path = tmp_path / "centre.toml"
    path.write_text(short(scenario).to_toml())
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["sweep", str(path), "--vary", "channels.phone.agents=7:9:2", "-r", "2",
                                       "-w", "1", "-q", "-o", str(out), "--show", "give_up_rate"],
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["channels.phone.agents", "give_up_rate", "reps"]
    assert lines[2].startswith("7") and lines[3].startswith("9")
    assert (out / "sweep.csv").is_file() and (out / "sweep.parquet").is_file() and (out / "sweep.json").is_file()


@pytest.mark.parametrize("extra, message", [
    (["--vary", "channels.phone.agents=1:2"], "--vary: "),
    (["--vary", "channels.phone.agent=5,6"], "did you mean 'agents'?"),
    (["--vary", "channels.phone.agents=5,6", "--show", "nonsense"], "--show: nonsense: not a KPI"),
    (["--vary", "channels.phone.agents=5,6", "--precision", "bogus=1"], "bogus: not a KPI"),
    (["--vary", "channels.phone.agents=5,6", "--show", "give_up_rat"], "did you mean 'give_up_rate'?"),
    (["--vary", "channels.phone.agents=5,6", "--precision", "channels.fax.fcr=0.1"], "no channel 'fax'"),
    (["--vary", "run.replications=2,3"], "--vary run.replications and -r/--replications both set"),
    (["--vary", "run.seed=1,2", "-s", "4"], "--vary run.seed and -s/--seed both set"),
    (["--vary", "run.days=0.05,0.1", "-d", "0.1"], "--vary run.days and -d/--days both set"),
])
def test_cli_sweep_bad_input_exits_2_before_running(scenario, tmp_path, extra, message):
    path = tmp_path / "centre.toml"
    path.write_text(short(scenario, 0.05).to_toml())
    result = CliRunner().invoke(main, ["sweep", str(path), *extra, "-r", "2", "-w", "1", "-q",
                                       "-o", str(tmp_path / "o")])
    assert result.exit_code == 2 and message in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()  # the sweep makes its folder before the first point runs


def test_varied_run_fields_give_each_point_its_own(scenario):
    sc = short(scenario, 0.1)
    table = sweep(sc, {"run.seed": [1, 2], "run.replications": [2, 3]})
    firsts = table.groupby("point").first()
    assert firsts["replications"].tolist() == [2, 3, 2, 3]
    customers = table.query("kpi == 'customers'").set_index(["run.seed", "run.replications"])["mean"]
    alone = sim.run(sc.with_changes({"run.seed": 2}), replications=3).kpis.loc["customers", "mean"]
    assert customers[(2, 3)] == alone and customers[(1, 3)] != alone
    # the run window too: longer days or another warm-up, other customers
    for field, values in (("run.days", [0.1, 0.2]), ("run.warmup_hours", [0, 2])):
        means = sweep(sc, {field: values}, replications=2, seed=1).query("kpi == 'customers'")["mean"]
        assert means.nunique() == 2, field
    with pytest.raises(ValueError, match="run.seed is varied, so seed cannot also be given"):
        sweep(sc, {"run.seed": [1, 2]}, seed=3)


def test_sweep_json_records_the_effective_run_settings(scenario, tmp_path):
    path = tmp_path / "centre.toml"
    path.write_text(short(scenario).to_toml())
    args = ["sweep", str(path), "--vary", "channels.phone.agents=7,9", "-w", "1", "-q"]
    result = CliRunner().invoke(main, [*args, "-d", "0.05", "-r", "2", "-o", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "a" / "sweep.json").read_text())
    assert (manifest["days"], manifest["replications"], manifest["seed"]) == (0.05, 2, 11)
    assert manifest["warmup_hours"] == short(scenario).run.warmup_hours and manifest["contactflow"]
    result = CliRunner().invoke(main, [*args, "--vary", "run.replications=2,3", "-o", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "b" / "sweep.json").read_text())
    assert (manifest["days"], manifest["replications"]) == (0.2, None)  # varied: see "vary"


@pytest.mark.parametrize("command", ["sweep", "compare"])
def test_cli_unwritable_out_is_a_clean_error_before_running(scenario, tmp_path, command):
    path = tmp_path / "centre.toml"
    path.write_text(short(scenario, 0.05).to_toml())
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    out = blocker / "out"  # cannot be made: its parent is a file
    extra = {"sweep": ["--vary", "channels.phone.agents=7,9"], "compare": ["channels.phone.agents=9"]}[command]
    result = CliRunner().invoke(main, [command, str(path), *extra, "-r", "2", "-w", "1", "-q", "-o", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"--out {out}: cannot write" in result.output and "Not a directory" in result.output
    assert "give_up_rate" not in result.output  # nothing ran


@pytest.mark.parametrize("target, expected", [
    ("0.5", ["precision reached at 2 of 2 point(s) after 2 replications"]),
    ("1e-6", ["precision reached at 0 of 2 point(s)",
              "  point 0 (channels.phone.agents=7): precision NOT reached (stopped at --max-replications 3) "
              "after 3 replications: give_up_rate ±",
              "  point 1 (channels.phone.agents=9): precision NOT reached"]),
])
def test_cli_sweep_says_which_points_reached_the_precision(scenario, tmp_path, target, expected):
    path = tmp_path / "centre.toml"
    path.write_text(short(scenario, 0.1).to_toml())
    result = CliRunner().invoke(main, ["sweep", str(path), "--vary", "channels.phone.agents=7,9", "-r", "2",
                                       "-w", "1", "-q", "-o", str(tmp_path / "o"), "--precision",
                                       f"give_up_rate={target}", "--max-replications", "3"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    start = lines.index(expected[0])
    for offset, text in enumerate(expected):
        assert lines[start + offset].startswith(text)


@pytest.mark.parametrize("vary, stems", [
    (["--vary", "channels.phone.agents=7:9:2"], ["sweep"]),
    # a second field is one line per value; a third, one chart per value
    (["--vary", "channels.phone.agents=7:9:2", "--vary", "channels.chat.resolve=0.6,0.8",
      "--vary", "channels.phone.open_hours=[7, 22],[8, 20]"], ["sweep_1", "sweep_2"]),
])
def test_cli_sweep_writes_charts(scenario, tmp_path, vary, stems):
    from test_compare import assert_valid_images

    path = tmp_path / "centre.toml"
    path.write_text(short(scenario, 0.05).to_toml())
    charts = tmp_path / "charts"
    result = CliRunner().invoke(main, ["sweep", str(path), *vary, "-r", "2", "-w", "1", "-q",
                                       "-o", str(tmp_path / "out"), "--charts", str(charts)], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert f"wrote {2 * len(stems)} chart files to {charts}/" in result.output
    assert_valid_images(charts, stems)


def test_cli_sweep_charts_need_a_numeric_field_and_say_so_before_running(scenario, tmp_path):
    path = tmp_path / "centre.toml"
    path.write_text(short(scenario, 0.05).to_toml())
    result = CliRunner().invoke(main, ["sweep", str(path), "--vary", "channels.phone.open_hours=[7, 22],[8, 20]",
                                       "-r", "2", "-q", "-o", str(tmp_path / "out"), "--charts", str(tmp_path / "c")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert "--charts: no varied field has numbers to put on the x axis" in result.output
    assert not (tmp_path / "out").exists() and not (tmp_path / "c").exists()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_damaged_point_file_is_recomputed_and_reported(scenario, tmp_path):
    sc = short(scenario, 0.05)
    path = tmp_path / "centre.toml"
    path.write_text(sc.to_toml())
    out = tmp_path / "out"
    args = ["sweep", str(path), "--vary", "channels.phone.agents=7,9,11", "-r", "2", "-w", "1", "-q", "-o", str(out)]
    first = CliRunner().invoke(main, args)
    assert first.exit_code == 0, first.output
    files = sorted((out / POINTS_DIR).glob("*.parquet"))
    files[0].write_bytes(b"")  # a lost machine: renamed, never flushed
    files[1].write_bytes(files[1].read_bytes()[: files[1].stat().st_size // 2])  # truncated
    again = CliRunner().invoke(main, args)
    assert again.exit_code == 0, again.output
    assert again.stderr.count("recomputed a point whose saved file was damaged") == 2
    assert "resumed: 1 of 3" in again.stderr
    pd.testing.assert_frame_equal(pd.read_parquet(out / "sweep.parquet"),
                                  sweep(sc, {"channels.phone.agents": [7, 9, 11]}, replications=2),
                                  check_dtype=False)
    assert all(len(pd.read_parquet(f)) for f in files)


def test_temporary_files_of_a_killed_sweep_are_removed_but_not_a_live_writers(scenario, tmp_path):
    from simulator.files import _host

    out = tmp_path / "out"
    (out / POINTS_DIR).mkdir(parents=True)
    dead, live = _dead_pid(), os.getppid()
    stale = [out / f".sweep.parquet.{_host()}~{dead}~k1ll3d.tmp",
             out / POINTS_DIR / f".0123456789abcdef.parquet.{_host()}~{dead}~x.tmp"]
    busy = out / f".sweep.csv.{_host()}~{live}~busy.tmp"
    for file in [*stale, busy]:
        file.write_bytes(b"half")
    sweep(short(scenario, 0.05), {"channels.phone.agents": [7]}, replications=2, out=out)
    assert not any(file.exists() for file in stale)
    assert busy.exists()
    assert not [p for p in out.rglob(".*.tmp") if p != busy]


def test_cli_default_sweep_folder_stays_in_the_working_folder_whatever_the_name(scenario, tmp_path):
    work = tmp_path / "a" / "b"
    work.mkdir(parents=True)
    path = tmp_path / "centre.toml"
    path.write_text(short(scenario, 0.05).with_changes({"name": "../../etc/x y"}).to_toml())
    before = set(tmp_path.rglob("*"))
    old = os.getcwd()
    os.chdir(work)
    try:
        result = CliRunner().invoke(main, ["sweep", str(path), "--vary", "channels.phone.agents=7", "-r", "2",
                                           "-w", "1", "-q"])
    finally:
        os.chdir(old)
    assert result.exit_code == 0, result.output
    assert (work / "sweep_etc_x_y" / "sweep.parquet").is_file()
    assert all(work in p.parents for p in set(tmp_path.rglob("*")) - before if p != work)
