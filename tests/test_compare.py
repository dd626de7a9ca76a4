"""Paired comparisons on common random numbers: narrower intervals, exact properties, CLI."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest
from click.testing import CliRunner
from scipy import stats

import simulator as sim
from simulator.cli import main
from simulator.compare import COLUMNS, compare, label_variants, paired_differences
from simulator.precision import figure_index

from conftest import make_scenario

BETTER_CHAT = {"channels.chat.resolve": 0.8}  # the what-if: chat resolves 80 % instead of 60 %


def values(result, key):
    table, channel, metric = figure_index(key)
    pr = result.per_replication
    return pr[(pr.table == table) & (pr.channel == channel) & (pr.metric == metric)]["value"].to_numpy()


def test_pairing_makes_the_interval_of_a_difference_much_narrower(scenario):
    reps = 12
    variant = scenario.with_changes(BETTER_CHAT)
    paired = compare(scenario, {"better_chat": variant}, replications=reps, seed=1)
    base = sim.run(scenario, reps, seed=1, keep_journeys=False)
    independent = sim.run(variant, reps, seed=2, keep_journeys=False)  # another seed: no pairing
    t = stats.t.ppf(0.975, reps - 1)
    ratios = {}
    for key in ("focal_contacts", "avoidable_call_share", "give_up_rate", "channels.phone.service_level"):
        row = paired.query("scenario == 'better_chat' and kpi == @key").iloc[0]
        paired_half = (row["diff_high"] - row["diff_low"]) / 2
        a, b = values(independent, key), values(base, key)
        independent_half = t * math.sqrt(a.var(ddof=1) / reps + b.var(ddof=1) / reps)
        ratios[key] = independent_half / paired_half
        assert row["significant"]  # fewer calls, fewer give-ups, better phone service
    print("\nCI half-width, independent runs / paired on common random numbers: "
          + ", ".join(f"{k} {r:.1f}x" for k, r in ratios.items()))
    assert ratios["focal_contacts"] >= 2.5 and ratios["avoidable_call_share"] >= 2.5
    assert min(ratios.values()) >= 1.5


def test_table_has_the_documented_columns_and_paired_differences(scenario):
    variant = scenario.with_changes({"channels.phone.agents": 10})
    table = compare(scenario, [variant], replications=3, seed=4)
    assert list(table.columns) == list(COLUMNS)
    assert table.attrs == {"base": "test_network", "seed": 4, "replications": 3, "days": 0.5, "warmup_hours": 1.0,
                           "contactflow": sim.__version__, "precision": None, "aligned": {}}
    base_rows = table[table.scenario == "test_network"]
    assert base_rows[["diff", "diff_low", "diff_high"]].isna().all().all() and not base_rows.significant.any()
    # the same arrivals in both scenarios: the customer counts agree exactly
    customers = table.query("kpi == 'customers'")
    assert customers["mean"].nunique() == 1 and (customers.query("scenario == 'variant_1'")["diff"] == 0).all()
    # the mean of paired differences is the difference of means (where defined in every replication)
    wide = table.pivot(index="kpi", columns="scenario", values="mean")
    variant_rows = table[table.scenario == "variant_1"].set_index("kpi")
    for key in ("contacts", "give_up_rate", "channels.phone.occupancy", "after_call.give_up"):
        assert variant_rows.loc[key, "diff"] == pytest.approx(wide.loc[key, "variant_1"] - wide.loc[key, "test_network"])
    expected = (table["diff_low"] > 0) | (table["diff_high"] < 0)
    assert (table["significant"] == expected).all()
    assert {"channels.chat.service_level", "before_call.web", "after_call.resolved"} <= set(table["kpi"])


def test_a_variant_identical_to_the_base_differs_by_exactly_zero(scenario):
    table = compare(scenario, {"same": scenario}, replications=3, seed=9)
    same = table[table.scenario == "same"]
    defined = same["diff"].notna()
    assert (same.loc[defined, "diff"] == 0).all() and not same["significant"].any()


def test_variants_run_on_the_bases_window_so_they_stay_paired(scenario):
    base = scenario.with_changes({"run.days": 0.2})
    own_window = base.with_changes({"run.days": 0.1, "run.warmup_hours": 0})
    table = compare(base, {"same": own_window}, replications=2, seed=9)
    assert table.attrs["aligned"] == {"same": {"run.days": (0.1, 0.2), "run.warmup_hours": (0.0, 1.0)}}
    same = table[table.scenario == "same"]
    assert (same.loc[same["diff"].notna(), "diff"] == 0).all()  # only the window differed: nothing else does
    # days= applies to every scenario: nothing to align
    assert compare(base, {"same": own_window.with_changes({"run.warmup_hours": 1})}, replications=2, seed=9,
                   days=0.05).attrs["aligned"] == {}


def test_precision_targets_the_paired_difference(scenario):
    table = compare(scenario, {"better_chat": scenario.with_changes(BETTER_CHAT)}, replications=3, seed=5,
                    precision={"give_up_rate": 0.004})
    report = table.attrs["precision"]
    assert report["met"] and report["replications"] == table.attrs["replications"] > 3
    row = table.query("scenario == 'better_chat' and kpi == 'give_up_rate'").iloc[0]
    assert (row["diff_high"] - row["diff_low"]) / 2 <= 0.004
    assert (table.query("kpi == 'give_up_rate'")["n"] == report["replications"]).all()


def test_paired_differences_handles_metrics_only_one_side_has():
    base = pd.DataFrame({"replication": [0, 1], "table": "kpis", "channel": "", "metric": "x", "value": [1.0, 2.0]})
    extra = pd.DataFrame({"replication": [0, 1], "table": "channels", "channel": "fax", "metric": "contacts",
                          "value": [3.0, 4.0]})
    d = paired_differences(base, pd.concat([base.assign(value=[2.0, 4.0]), extra]))
    assert d.loc[("kpis", "", "x"), "diff"] == pytest.approx(1.5)
    assert math.isnan(d.loc[("channels", "fax", "contacts"), "diff"])


def test_variant_labels():
    sc = make_scenario()
    assert list(label_variants(sc, sc.with_changes(BETTER_CHAT))) == ["variant_1"]
    other = make_scenario({"name": "plan_b"})
    assert list(label_variants(sc, [other, other])) == ["plan_b", "variant_2"]
    with pytest.raises(ValueError, match="base scenario's name"):
        label_variants(sc, {"test_network": other})


def write_test_scenario(tmp_path, changes=None):
    path = tmp_path / "centre.toml"
    path.write_text(make_scenario(changes).to_toml())
    return str(path)


def test_cli_compare_prints_paired_differences_and_json(tmp_path):
    path = write_test_scenario(tmp_path, {"run.days": 0.25})
    args = ["compare", path, "--set-variant", "better_chat:channels.chat.resolve=0.8",
            "--set-variant", "more_phone:channels.phone.agents=10", "-r", "3", "-w", "1", "-q"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Δ better_chat [95 % CI]" in result.output and "Δ more_phone" in result.output
    assert " * " in result.output or result.output.count("*") > 1
    assert "excludes 0" in result.output
    doc = json.loads(CliRunner().invoke(main, [*args, "--json", "-o", str(tmp_path / "cmp")]).stdout)
    assert doc["replications"] == 3 and doc["base"] == "test_network"
    rows = pd.DataFrame(doc["rows"])
    assert set(rows["scenario"]) == {"test_network", "better_chat", "more_phone"}
    saved = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    assert len(saved) == len(rows) and (tmp_path / "cmp" / "comparison.parquet").is_file()


@pytest.mark.parametrize("extra, expected", [
    (["--set-variant", "nocolon"], "expected NAME:FIELD=VALUE"),
    (["--set-variant", "x:channels.chat.resolve=2"], "channels.chat.resolve: must be a probability"),
    (["--precision", "give_up_rate=-1"], "half-width > 0"),
    ([], "needs at least one VARIANT"),
    (["x: "], "VARIANT 'x: ': the variant 'x' has no changes; expected FIELD=VALUE after the colon"),
    (["--set-variant", "b:channels.chat.agents=5", "--precision", "bogus=1"],
     "--precision: bogus: not a KPI (KPIs: customers"),
    (["--set-variant", "b:channels.chat.agents=5", "--precision", "channels.fax.fcr=1"],
     "--precision: channels.fax.fcr: no channel 'fax'"),
])
def test_cli_compare_bad_input_exits_2(tmp_path, extra, expected):
    result = CliRunner().invoke(main, ["compare", write_test_scenario(tmp_path), *extra, "-q"])
    assert result.exit_code == 2 and expected in result.output and "Traceback" not in result.output


def test_cli_compare_reports_precision(tmp_path):
    args = ["compare", write_test_scenario(tmp_path, {"run.days": 0.25}), "--set-variant", "b:channels.chat.resolve=0.8",
            "-r", "3", "-w", "1", "-q", "--precision", "contacts=30", "--max-replications", "6"]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0
    assert "precision" in result.output and "replications: contacts (b - test_network)" in result.output


def test_cli_compare_labels_a_file_variant_after_its_file_and_notes_its_run_window(tmp_path):
    base = write_test_scenario(tmp_path, {"run.days": 0.2})
    plan_b = tmp_path / "plan_b.toml"  # a copy of the base: the same scenario name, a shorter run
    plan_b.write_text(make_scenario({"run.days": 0.1, "channels.chat.agents": 5}).to_toml())
    result = CliRunner().invoke(main, ["compare", base, str(plan_b), "-r", "2", "-w", "1", "-q", "--json"])
    assert result.exit_code == 0, result.output
    assert "note: plan_b runs with test_network's run.days = 0.2 (its own: 0.1)" in result.stderr
    doc = json.loads(result.stdout)
    assert doc["aligned"] == {"plan_b": {"run.days": [0.1, 0.2]}}
    customers = [r for r in doc["rows"] if r["kpi"] == "customers" and r["scenario"] == "plan_b"]
    assert customers[0]["diff"] == 0


def test_cli_precision_help_says_which_figures_are_accepted():
    result = CliRunner().invoke(main, ["compare", "--help"], terminal_width=200)
    assert "channels.CHANNEL.METRIC, groups.GROUP.METRIC, before_call.CHANNEL or after_call.TARGET" in " ".join(result.output.split())


def assert_valid_images(folder, stems):
    """Every chart is a PNG that decodes to a slide-sized picture and an SVG that parses."""
    from xml.etree import ElementTree

    from PIL import Image

    assert sorted(p.name for p in folder.iterdir()) == sorted(f"{s}.{e}" for s in stems for e in ("png", "svg"))
    for stem in stems:
        with Image.open(folder / f"{stem}.png") as image:
            image.load()  # decodes every pixel
            assert image.format == "PNG" and image.width > 1000 and image.height > 500
        assert ElementTree.parse(folder / f"{stem}.svg").getroot().tag.endswith("svg")


def test_cli_compare_writes_the_comparison_chart(tmp_path):
    charts = tmp_path / "charts"
    args = ["compare", write_test_scenario(tmp_path, {"run.days": 0.1}), "more chat: channels.chat.agents=6",
            "--set-variant", "better_chat:channels.chat.resolve=0.8", "-r", "2", "-w", "1", "-q", "--charts", str(charts)]
    result = CliRunner().invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "Δ more chat [95 % CI]" in result.output and "Δ better_chat" in result.output
    assert "wrote 2 chart files" in result.output
    assert_valid_images(charts, ["comparison"])
