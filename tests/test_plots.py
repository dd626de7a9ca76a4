"""Charts: the expected elements, numbers that match the result, readable labels, valid files."""

from __future__ import annotations

import dataclasses
import itertools
import math
import struct
import xml.etree.ElementTree as ET
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.patches import PathPatch, Polygon, Rectangle

import simulator as sim
from simulator import plots
from simulator.plots.flow import _order_channels
from simulator.plots.hourly import _CLOSED_SHADE
from simulator.sensitivity import _varied
from simulator import style as sim_style
from conftest import make_scenario

REFERENCE = {"reference": {"source": "test survey",
                           "figures": {"before_call.web": 0.3, "after_call.give_up": 0.05,
                                       "avoidable_call_share": 0.6}}}
FIXTURES = Path(__file__).resolve().parent / "scenarios"


def with_reference(changes=None):
    sc = make_scenario(changes)
    return sc.with_changes({"reference.source": "test survey",
                            "reference.figures": REFERENCE["reference"]["figures"]})


def twelve_channels() -> sim.Scenario:
    """Twelve channels with long labels: six self-service, six staffed (two of them asynchronous)."""
    kinds = ["self"] * 6 + ["live"] * 4 + ["async"] * 2
    names = [f"c{i:02d}" for i in range(12)]
    labels = ["Help centre articles on the website", "Mobile banking app self-service", "Interactive voice menu",
              "Community forum answers", "Chatbot on the website", "Account pages and FAQ",
              "WhatsApp Business messaging", "Live chat with an adviser", "Customer care phone line",
              "Premium customers' phone line", "Secure email messages", "Letters and complaints"]
    channels = {}
    for i, (name, kind) in enumerate(zip(names, kinds)):
        merged = {}
        for target, p in ((names[(i + 1) % 12], 0.3), (names[(i + 5) % 12], 0.2), ("c08", 0.2), ("give_up", 0.1),
                          (name, 0.2)):
            merged[target] = round(merged.get(target, 0.0) + p, 6)
        spec = {"label": labels[i], "handle_time": {"dist": "exponential", "mean": 4.0 if kind == "self" else 6.0},
                "resolve": 0.5, "next": merged}
        if kind == "self":
            spec["agents"] = "unlimited"
        else:
            spec.update(agents=3, patience={"dist": "exponential", "mean": 5.0 if kind == "live" else 300.0},
                        cost_per_agent_hour=30.0)
            if kind == "async":
                spec["async"] = True
        if name == "c06":
            spec["open_hours"] = [1, 20]
        channels[name] = spec
    data = {"name": "twelve_channels", "focal_channel": "c08", "max_contacts": 8,
            "run": {"days": 0.25, "warmup_hours": 0.5, "replications": 2, "seed": 12},
            "arrivals": {"per_hour": 90, "first_channel": {n: round(1 / 12, 6) for n in names[:11]}
                         | {"c11": round(1 - 11 * round(1 / 12, 6), 6)}},
            "channels": channels}
    return sim.Scenario.from_dict(data, "twelve_channels.toml")


@pytest.fixture(scope="module")
def result():
    """Three replications of the test network, with published figures to mark."""
    return sim.run(with_reference(), replications=3, days=0.25, seed=5)


@pytest.fixture(scope="module")
def single():
    """One replication: pooled shares equal that replication's KPIs exactly."""
    return sim.run(make_scenario(), replications=1, days=0.25, seed=9)


@pytest.fixture(scope="module")
def six():
    """Six channels with long labels, closed hours, a shift plan and a backlog (tests/scenarios)."""
    return sim.run(sim.load_scenario(FIXTURES / "six_channels_long_labels.toml"), replications=2, days=0.5,
                   workers=1)


@pytest.fixture(scope="module")
def one():
    """One channel only: the before-the-call table is empty (tests/scenarios)."""
    return sim.run(sim.load_scenario(FIXTURES / "one_channel.toml"), replications=2, days=0.5, workers=1)


@pytest.fixture(scope="module")
def twelve():
    return sim.run(twelve_channels(), workers=1)


@pytest.fixture(scope="module")
def groups():
    """Agent groups, chat concurrency, call backs, and a week of hourly profile and shift plan (tests/scenarios)."""
    return sim.run(sim.load_scenario(FIXTURES / "groups_weekly.toml"), workers=1)


def drawn(fig):
    """Lay the figure out as it is drawn (text extents and all), without rasterising it."""
    FigureCanvasAgg(fig)
    fig.draw_without_rendering()
    return fig.canvas.get_renderer()


def visible_texts(fig):
    """Every piece of text a reader sees: titles, labels, tick labels, annotations, legends."""
    texts = [fig._suptitle] + list(fig.texts) if fig._suptitle else list(fig.texts)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        for axis in (ax.xaxis, ax.yaxis):
            if not axis.get_visible() or not ax.axison:  # e.g. the x axis of a twin, an axes turned off
                continue
            low, high = sorted(axis.get_view_interval())
            margin = 1e-9 * max(abs(low), abs(high), 1)
            for ticks, labels in ((axis.get_majorticklocs(), axis.get_majorticklabels()),
                                  (axis.get_minorticklocs(), axis.get_minorticklabels())):
                texts += [label for loc, label in zip(ticks, labels) if low - margin <= loc <= high + margin]
        texts += list(ax.texts)
        legend = ax.get_legend()
        if legend is not None:
            texts += list(legend.get_texts())
    for legend in fig.legends:
        texts += list(legend.get_texts())
    unique = {id(t): t for t in texts}
    return [t for t in unique.values() if t.get_visible() and t.get_text().strip()]


def assert_readable(fig):
    """No two text boxes overlap, every text box and legend lies inside the figure."""
    renderer = drawn(fig)
    texts = visible_texts(fig)
    boxes = [t.get_window_extent(renderer) for t in texts]
    bounds = fig.bbox
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend() is not None] + list(fig.legends)
    for what, box in [(repr(t.get_text()), b) for t, b in zip(texts, boxes)] + \
            [("a legend", legend.get_window_extent(renderer)) for legend in legends]:
        assert (box.x0 >= bounds.x0 - 1 and box.x1 <= bounds.x1 + 1 and box.y0 >= bounds.y0 - 1
                and box.y1 <= bounds.y1 + 1), f"{what} sticks out of the figure"
    for (a, box_a), (b, box_b) in itertools.combinations(zip(texts, boxes), 2):
        overlap_w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        overlap_h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        assert not (overlap_w > 1 and overlap_h > 1), f"{a.get_text()!r} overlaps {b.get_text()!r}"


def assert_slide(fig):
    """16:9, the shape of a slide."""
    width, height = fig.get_size_inches()
    assert width / height == pytest.approx(16 / 9, rel=0.01), (width, height)


def bar_patches(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


# --------------------------------------------------------------------------- every chart, every centre


@pytest.mark.parametrize("centre", ["one", "result", "six", "twelve", "groups"])
def test_every_chart_is_a_readable_slide_from_one_to_twelve_channels(centre, request):
    """No label overlaps another or leaves the figure, legends fit, every chart is 16:9.

    The tests below check what each chart shows; this one checks that it can be read.
    """
    res = request.getfixturevalue(centre)
    charts = plots.result_charts(res)
    n_staffed = sum(not c.unlimited for c in res.scenario.channels)
    per_slide = 2 if res.scenario.period_hours == 168 else 3
    pages = ["hourly"] + [f"hourly_{i}" for i in range(2, math.ceil(n_staffed / per_slide) + 1)]
    assert set(charts) == {"journey_flow", "flow_matrix", "before_after", "wait_times", *pages} | (
        {"reference"} if res.scenario.reference else set())
    for name, fig in charts.items():
        assert_slide(fig)
        try:
            assert_readable(fig)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from None


# --------------------------------------------------------------------------- before / after


def whisker_segments(ax):
    return [c for c in ax.collections if isinstance(c, LineCollection)][0].get_segments()


def test_before_after_has_one_bar_per_row_with_ci_whiskers_and_published_marks(result):
    fig = plots.before_after_chart(result)
    before_ax, after_ax = fig.axes[:2]
    colors = plots.channel_colors(result.scenario.channel_names)
    for ax, frame in ((before_ax, result.before_call), (after_ax, result.after_call)):
        bars = sorted(bar_patches(ax), key=lambda b: -b.get_y())  # top to bottom, the table's order
        assert len(bars) == len(frame)
        assert [b.get_width() for b in bars] == pytest.approx(frame["mean"].tolist())
        assert [matplotlib.colors.to_hex(b.get_facecolor()) for b in bars] == [colors[n].lower() for n in frame.index]
        whiskers = sorted(whisker_segments(ax), key=lambda seg: -seg[0, 1])
        assert len(whiskers) == len(frame)
        for segment, (_, row) in zip(whiskers, frame.iterrows()):
            low, high = max(row["ci_low"], 0.0), min(row["ci_high"], 1.0)  # within what a share can be
            assert sorted(segment[:, 0]) == pytest.approx([low, high])
    assert [t.get_text() for t in before_ax.get_yticklabels()] == ["Web", "Chat"]  # readable names
    assert "Call again" in [t.get_text() for t in after_ax.get_yticklabels()]
    assert before_ax.get_xlabel() == "share of callers"
    diamonds = {ax: [line for line in ax.lines if line.get_marker() == "D"] for ax in (before_ax, after_ax)}
    assert [d.get_xdata()[0] for d in diamonds[before_ax]] == [0.3]
    assert [d.get_xdata()[0] for d in diamonds[after_ax]] == [0.05]
    assert "test survey" in " ".join(fig.texts[0].get_text().split())  # the footnote names the diamonds


def test_before_after_with_only_the_focal_channel_says_the_table_is_empty(one):
    assert one.before_call.empty
    fig = plots.before_after_chart(one)
    empty, after = fig.axes[:2]
    assert not bar_patches(empty) and "no other channel to try" in " ".join(empty.texts[0].get_text().split())
    assert len(bar_patches(after)) == len(one.after_call)


def test_reference_chart_draws_the_gap_to_each_published_figure_with_its_interval(result):
    fig = plots.reference_chart(result)
    ax = fig.axes[0]
    table = result.reference()
    assert len(ax.get_yticklabels()) == len(table) == 3
    assert ax.get_xlabel() == "simulated − published (percentage points)"
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    bars = [line for line in ax.lines if line.get_linestyle() == "-" and line.get_marker() == "None"]
    for dot, bar, (key, row) in zip(dots, bars, table.iterrows()):
        assert dot.get_xdata()[0] == pytest.approx(100 * (row["mean"] - row["published"]))
        low, high = max(row["ci_low"], 0.0), min(row["ci_high"], 1.0)
        assert sorted(bar.get_xdata()) == pytest.approx([100 * (low - row["published"]),
                                                         100 * (high - row["published"])])
        hollow = matplotlib.colors.to_hex(dot.get_markerfacecolor()) == "#ffffff"
        assert hollow == bool(low <= row["published"] <= high)  # hollow: the publication agrees
    assert any(line.get_xdata()[0] == 0 for line in ax.lines if line.get_linestyle() == "-"
               and len(set(line.get_xdata())) == 1)  # the zero line
    with pytest.raises(ValueError, match="no \\[reference\\] figures"):
        plots.reference_chart(sim.run(make_scenario(), replications=2, days=0.05))


# --------------------------------------------------------------------------- journeys


def test_journey_states_agree_with_the_replications_kpis(single):
    states = plots.journey_states(single.journeys, max_steps=3)
    kpis = single.kpis["mean"]
    assert len(states) == kpis["customers"]
    assert (states["end"] == "resolved").mean() == pytest.approx(kpis["resolution_rate"])
    assert (states["contact 2"] == "resolved").mean() == pytest.approx(kpis["first_contact_resolution"])
    # A journey that has ended stays ended; "later" holds exactly those with more than 3 contacts.
    for left, right in itertools.pairwise(["contact 1", "contact 2", "contact 3", "later", "end"]):
        ended = states[left].isin(["resolved", "give_up"])
        assert (states.loc[ended, right] == states.loc[ended, left]).all()
    contacts = single.journeys.groupby("customer").size()
    assert (states["later"] == "later").sum() == (contacts > 3).sum()


def test_journey_flows_end_in_end_nodes_and_conserve_customers(single):
    flows = plots.journey_flows(single, max_steps=3)
    days = single.scenario.run.days
    journeys = single.journeys
    contacts = journeys.groupby("customer").size()
    outcome = journeys[journeys["next"].isin(["resolved", "give_up"])].set_index("customer")["next"].astype(str)
    # Bands out of column 0 carry every customer; nothing leaves an end node.
    assert flows.loc[flows["column"] == 0, "customers"].sum() == pytest.approx(len(contacts) / days)
    assert not flows["source"].isin(["resolved", "give_up", "later"]).any()
    # The end node after contact k holds exactly the journeys of k contacts, by outcome.
    for k in (1, 2, 3):
        ends = flows[(flows["column"] == k - 1) & flows["target"].isin(["resolved", "give_up"])]
        for end in ("resolved", "give_up"):
            expected = ((contacts == k) & (outcome.reindex(contacts.index) == end)).sum() / days
            assert ends.loc[ends["target"] == end, "customers"].sum() == pytest.approx(expected)
    later = flows.loc[flows["target"] == "later", "customers"].sum()
    assert later == pytest.approx((contacts > 3).sum() / days)
    # What flows into a column flows on out of it (or ends there).
    for k in (1, 2):
        into = flows[(flows["column"] == k - 1) & ~flows["target"].isin(["resolved", "give_up"])]["customers"].sum()
        assert flows.loc[flows["column"] == k, "customers"].sum() == pytest.approx(into)


def test_crossing_reduction_untangles_swapped_channels():
    # Column 0: A above B. A goes on to B, B to A: in the scenario's order the two bands cross.
    flows = pd.DataFrame({"column": [0, 0], "source": ["A", "B"], "target": ["B", "A"], "customers": [5.0, 4.0]})
    sizes = [{"A": 0.5, "B": 0.4}, {"A": 0.4, "B": 0.5}]
    orders, crossings, baseline = _order_channels(flows, sizes, ["A", "B"], pad=0.02)
    assert baseline == pytest.approx(20.0) and crossings == 0.0
    assert orders[0].index("A") < orders[0].index("B") and orders[1] == ["B", "A"]


def test_flow_diagram_blocks_bands_and_labels(six):
    fig = plots.flow_diagram(six, max_steps=4)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["Contact 1", "Contact 2", "Contact 3", "Contact 4", "After contact 4"]
    blocks = [p for p in ax.patches if isinstance(p, Rectangle)]
    bands = [p for p in ax.patches if isinstance(p, PathPatch)]
    flows = plots.journey_flows(six, max_steps=4)
    assert len(bands) == len(flows)
    per_day = flows.loc[flows["column"] == 0, "customers"].sum()
    by_column: dict[int, float] = {}
    for block in blocks:
        column = round(block.get_x() + block.get_width() / 2)
        by_column[column] = by_column.get(column, 0.0) + block.get_height()
    # Each column holds the customers still going before it: all of them in the first two.
    for k, height in by_column.items():
        expected = flows.loc[flows["column"] == max(k - 1, 0), "customers"].sum() / per_day
        assert height == pytest.approx(expected if k > 0 else 1.0)
    colors = {matplotlib.colors.to_hex(b.get_facecolor()) for b in blocks}
    expected = plots.channel_colors(six.scenario.channel_names)
    assert {expected[n].lower() for n in ("web", "phone", "resolved", "give_up")} <= colors
    texts = [t.get_text() for t in ax.texts]
    # Blocks are labelled with the readable name and customers a day.
    assert any(t.startswith("Customer care phone line") and t.endswith(" a day") for t in texts)
    assert any(t.startswith("Resolved\n") for t in texts)
    per_day_kpi = six.kpis.loc["customers", "mean"] / six.scenario.run.days
    assert f"{per_day_kpi:,.0f} customers a day" in fig._suptitle.get_text()
    assert_readable(fig)


def test_flow_comparison_puts_base_and_variant_one_above_the_other(single):
    variant = sim.run(make_scenario({"channels.web.resolve": 0.8}), replications=1, days=0.25, seed=9)
    fig = plots.flow_comparison({"today": single, "web answers 80 %": variant})
    titles = [ax.get_title(loc="left") for ax in fig.axes]
    assert titles[0].startswith("today: ") and titles[1].startswith("web answers 80 %: ")
    assert_slide(fig)
    assert_readable(fig)


def test_flow_table_rows_add_up_to_the_channel_contacts(single):
    table = plots.flow_table(single)
    days = single.scenario.run.days
    for name in single.scenario.channel_names:
        assert table.loc[name].sum() == pytest.approx(single.channels.loc[(name, "contacts"), "mean"] / days)
    assert table.loc["new"].sum() == pytest.approx(single.kpis.loc["customers", "mean"] / days)
    assert table.loc["new", ["resolved", "give_up"]].sum() == 0
    g = plots.channel_graph(single)  # the graph and the table agree
    for source, target, data in g.edges(data=True):
        assert table.loc[source, target] == pytest.approx(data["flow"])


def test_flow_matrix_shows_every_flow_with_redials_outlined(six):
    fig = plots.flow_matrix(six)
    ax = fig.axes[0]
    table = plots.flow_table(six)
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in ax.texts
             if isinstance(t.get_position()[0], (int, np.integer)) or float(t.get_position()[0]).is_integer()}
    for i, j in itertools.product(range(table.shape[0]), range(table.shape[1])):
        value = table.iloc[i, j]
        assert cells.get((i, j)) == (sim_style.format_count(value) if value > 0 else None), (i, j)
    outlined = [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]
    names = list(six.scenario.channel_names)
    assert sorted((round(p.get_y() + 0.5), round(p.get_x() + 0.5)) for p in outlined) == \
        sorted((1 + names.index(n), names.index(n)) for n in names)  # the diagonal: trying again
    phone = 1 + names.index("phone")
    assert table.iloc[phone, names.index("phone")] > 0  # redials are there, not left out
    assert [t.get_text() for t in ax.get_yticklabels()][phone] == "Customer care phone\nline"


# --------------------------------------------------------------------------- comparisons


def test_kpi_frame_same_scenario_same_seed_differs_by_exactly_zero():
    sc = make_scenario()
    runs = {"a": sim.run(sc, replications=3, days=0.1, seed=4, keep_journeys=False),
            "b": sim.run(sc, replications=3, days=0.1, seed=4, keep_journeys=False)}
    frame = plots.kpi_frame(runs, ["give_up_rate", "contacts_per_customer"], base="a")
    assert list(frame.columns) == ["scenario", "kpi", "mean", "ci_low", "ci_high", "diff", "diff_low", "diff_high"]
    assert frame.loc[frame["scenario"] == "a", "diff"].isna().all()
    b = frame[frame["scenario"] == "b"]
    assert (b["diff"] == 0).all() and (b["diff_low"] == 0).all() and (b["diff_high"] == 0).all()
    with pytest.raises(KeyError, match="base 'c'"):
        plots.kpi_frame(runs, base="c")


def test_kpi_comparison_from_results_has_bars_whiskers_and_differences():
    sc = make_scenario()
    runs = {"today": sim.run(sc, replications=3, days=0.1, keep_journeys=False),
            "more phone agents": sim.run(sc.with_changes({"channels.phone.agents": 12}), replications=3,
                                         days=0.1, keep_journeys=False)}
    kpis = ["give_up_rate", "channels.phone.mean_wait_min"]
    fig = plots.kpi_comparison(runs, kpis)
    value_axes, diff_axes = fig.axes[:2], fig.axes[2:4]
    for ax, kpi, unit in zip(value_axes, kpis, (1, 60)):  # the waits of a live channel in seconds
        bars = bar_patches(ax)
        assert len(bars) == 2
        assert sorted(b.get_width() for b in bars) == pytest.approx(sorted(unit * r.stat(kpi)["mean"]
                                                                           for r in runs.values()))
        assert any(isinstance(c, LineCollection) for c in ax.collections)  # CI whiskers
    assert value_axes[0].get_xlabel() == "% of customers" and value_axes[1].get_xlabel() == "seconds"
    assert diff_axes[1].get_xlabel() == "difference (seconds)"
    assert [t.get_text() for t in value_axes[0].get_yticklabels()] == ["today", "more phone agents"]
    assert diff_axes[0].get_xlabel() == "difference (percentage points)"
    wait_diff = [line for line in diff_axes[1].lines if line.get_marker() == "o"]
    assert len(wait_diff) == 1 and wait_diff[0].get_xdata()[0] < 0  # more agents: shorter waits
    assert_readable(fig)


def test_kpi_comparison_labels_small_differences_with_significant_digits():
    # Four panels, one with cost differences of a few thousandths: ticks stay apart, labels are not "-0.00".
    nan = float("nan")
    kpis = ["give_up_rate", "avoidable_call_share", "contacts_per_customer", "cost_per_customer"]
    rows = []
    for kpi, base, diffs in (("give_up_rate", 0.05, (-0.01, -0.00004)), ("avoidable_call_share", 0.7, (0.02, 0.001)),
                             ("contacts_per_customer", 2.0, (-0.03, 0.01)),
                             ("cost_per_customer", 5.0, (-0.0041, 0.0012))):
        rows.append(("base", kpi, base, nan, nan, nan))
        for scenario, d in zip(("plan B", "plan C"), diffs):
            rows.append((scenario, kpi, base + d, d, d - abs(d) / 6, d + abs(d) / 6 if d < 0 else d + 0.0015))
    frame = pd.DataFrame(rows, columns=["scenario", "kpi", "mean", "diff", "diff_low", "diff_high"])
    frame = frame.assign(ci_low=frame["mean"] * 0.98, ci_high=frame["mean"] * 1.02)
    fig = plots.kpi_comparison(frame, kpis)
    cost = fig.axes[7]
    assert sorted(t.get_text() for t in cost.texts if t.get_text() != "  base") == ["+0.0012", "−0.0041"]
    assert [t.get_text() for t in fig.axes[4].texts if "pp" in t.get_text()] == ["−1 pp", "−0.004 pp"]
    assert_readable(fig)


def test_kpi_comparison_takes_the_documented_tidy_format():
    frame = pd.DataFrame({"scenario": ["base", "plan B", "plan C"] * 2,
                          "kpi": ["give_up_rate"] * 3 + ["cost_per_customer"] * 3,
                          "mean": [0.05, 0.04, 0.045, 3.0, 3.4, 3.1],
                          "ci_low": [0.045, 0.036, 0.04, 2.9, 3.3, 3.0],
                          "ci_high": [0.055, 0.044, 0.05, 3.1, 3.5, 3.2]})
    fig = plots.kpi_comparison(frame)
    assert len([ax for ax in fig.axes if ax.get_visible()]) == 2  # no diff columns: one row
    assert [len(bar_patches(ax)) for ax in fig.axes[:2]] == [3, 3]
    assert_readable(fig)
    with pytest.raises(ValueError, match="lacks column\\(s\\) ci_high"):
        plots.kpi_comparison(frame.drop(columns="ci_high"))


def test_channel_comparison_shows_each_scenarios_channel_figures(six):
    sc = six.scenario
    variant = sim.run(sc.with_changes({"channels.chat.agents": 9}), replications=2, days=0.5, workers=1,
                      keep_journeys=False)
    fig = plots.channel_comparison({"today": six, "+4 chat advisers": variant})
    service, abandon, wait = fig.axes[:3]
    staffed = ["email", "whatsapp", "chat", "phone"]
    assert [t.get_text().replace("\n", " ") for t in service.get_yticklabels()] == [
        sc.channel(n).label for n in staffed]
    bars = sorted(bar_patches(wait), key=lambda b: (-round(b.get_y() + b.get_height() / 2), b.get_y()))
    # Waits of live channels in seconds, the base's bar (light grey) first in each group.
    phone_today = [b for b in bars if matplotlib.colors.to_hex(b.get_facecolor()) == sim_style.SCENARIO_COLORS[0].lower()]
    assert phone_today[-1].get_width() == pytest.approx(60 * six.channels.loc[("phone", "mean_wait_min"), "mean"])
    assert "hours: in the tables" in [t.get_text() for t in wait.texts]  # the email backlog has no bar
    colors = {matplotlib.colors.to_hex(b.get_facecolor()) for b in bar_patches(service)}
    assert colors == {c.lower() for c in sim_style.SCENARIO_COLORS[:2]}  # greys: never a channel's colour
    assert [t.get_text() for t in fig.axes[3].get_legend().get_texts()] == ["today", "+4 chat advisers"]
    assert_slide(fig)
    assert_readable(fig)


# --------------------------------------------------------------------------- over the day, sweeps


def test_hourly_chart_gives_every_panel_its_own_labelled_axes(six):
    fig = plots.hourly_chart(six, ["whatsapp", "phone"])
    main = [ax for ax in fig.axes if ax.get_title(loc="left")]
    twins = [ax for ax in fig.axes if ax not in main]
    assert [ax.get_title(loc="left") for ax in main] == [
        "WhatsApp Business messaging", "Service level", "Occupancy", "Abandonment",
        "Customer care phone line", "Service level", "Occupancy", "Abandonment"]
    assert all(ax.get_ylabel() for ax in main)  # every panel says what its axis is
    assert [ax.get_ylabel() for ax in main[:4]] == ["contacts an hour", "answered in 20 s", "agents busy",
                                                    "of contacts offered"]
    # Agents on duty on their own axis, labelled in each channel's panel (not only the last one's).
    assert [ax.get_ylabel() for ax in twins] == ["agents on duty", "agents on duty"]
    scenario = six.scenario
    for twin, name in zip(twins, ["whatsapp", "phone"]):
        steps = twin.lines[0].get_ydata()[:-1]
        hours = np.arange(24)
        measured = six.hourly.loc[name].xs("agents", level="metric").reindex(hours)["mean"].to_numpy()
        np.testing.assert_allclose(steps, measured)
        plan = [scenario.channel(name).agents_in_hour(h) for h in hours]
        window = np.isfinite(measured)
        # the shift plan, where measured (an agent whose shift ended finishes the contact in hand)
        assert np.allclose(measured[window], np.array(plan)[window], atol=0.1)
    # Service level against its target.
    target = [line for line in main[1].lines if line.get_linestyle() == "--"]
    assert [line.get_ydata()[0] for line in target] == [0.8]


def test_hourly_chart_shades_closed_hours_and_shows_contacts_that_met_them(six):
    fig = plots.hourly_chart(six, ["whatsapp"])
    demand = fig.axes[0]
    spec = six.scenario.channel("whatsapp")  # open 7:00-21:00
    shaded = sorted((round(p.get_x()), round(p.get_x() + p.get_width())) for p in demand.patches
                    if isinstance(p, Polygon) or (isinstance(p, Rectangle) and p.get_facecolor()[:3] == (
                        matplotlib.colors.to_rgb(_CLOSED_SHADE))))
    assert shaded == [(0, 7), (21, 24)]
    assert spec.open_hours == (7, 21)
    hatched = [p for p in demand.patches if isinstance(p, Rectangle) and p.get_hatch()]
    closed = six.hourly.loc["whatsapp"].xs("closed", level="metric")["mean"]
    assert sorted(round(p.get_x() + p.get_width() / 2 - 0.5) for p in hatched if p.get_height() > 0) == \
        sorted(h for h, v in closed.items() if v > 0)
    assert all(h < 7 or h >= 21 for h, v in closed.items() if v > 0)  # only closed hours turn contacts away


def test_hourly_closed_contacts_add_up_to_the_channels_closed_contacts():
    # Over one whole day each hour occurs once: the hours' closed contacts add up to the channel's.
    res = sim.run(sim.load_scenario(FIXTURES / "six_channels_long_labels.toml"), replications=2, days=1,
                  workers=1, keep_journeys=False)
    per_hour, totals = res.hourly_per_replication, res.per_replication
    for name in res.scenario.channel_names:
        rows = per_hour[(per_hour["channel"] == name) & (per_hour["metric"] == "closed")]
        closed = totals[(totals["table"] == "channels") & (totals["channel"] == name) & (totals["metric"] == "closed")]
        assert rows.groupby("replication")["value"].sum().to_numpy() == pytest.approx(closed["value"].to_numpy())
    phone = totals[(totals["channel"] == "phone") & (totals["metric"] == "closed")]["value"]
    assert (phone > 0).all()  # the phone line closes at night: the check has teeth


def test_hourly_chart_draws_a_weekly_result_by_hour_of_the_week(six):
    # The model will give 168 hours for weekly scenarios: the chart reads the hours it is given.
    per_hour = six.hourly_per_replication
    week = pd.concat([per_hour.assign(hour=per_hour["hour"] + 24 * day) for day in range(7)], ignore_index=True)
    weekly = dataclasses.replace(six, hourly_per_replication=week)
    fig = plots.hourly_chart(weekly, ["phone"])
    demand = fig.axes[0]
    assert [t.get_text() for t in demand.get_xticklabels()] == ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    assert demand.get_xlim() == (0, 168) and fig.axes[3].get_xlabel() == "hour of the week"
    assert_slide(fig)
    assert len([p for p in demand.patches if isinstance(p, Rectangle) and not p.get_hatch()
                and p.get_facecolor()[:3] != matplotlib.colors.to_rgb(_CLOSED_SHADE)]) == 168
    assert_readable(fig)


def test_hourly_charts_split_twelve_channels_into_slides(twelve):
    pages = plots.hourly_charts(twelve)
    staffed = [c.name for c in twelve.scenario.channels if not c.unlimited]
    assert list(pages) == ["hourly", "hourly_2"]
    shown = [ax.get_title(loc="left") for fig in pages.values() for ax in fig.axes[::1]
             if ax.get_title(loc="left") and ax.get_title(loc="left") not in
             ("Service level", "Occupancy", "Abandonment")]
    assert shown == [twelve.scenario.channel(n).label for n in staffed]
    for fig in pages.values():
        assert_slide(fig)
    with pytest.raises(ValueError, match="self-service"):
        plots.hourly_chart(twelve, ["c00"])


def test_sweep_chart_one_panel_per_kpi_with_ci_band():
    frame = pd.DataFrame({
        "channels.phone.agents": [6, 8, 10] * 2,
        "kpi": ["give_up_rate"] * 3 + ["mean_journey_minutes"] * 3,
        "mean": [0.08, 0.06, 0.05, 12.0, 10.0, 9.5], "ci_low": [0.07, 0.05, 0.045, 11.0, 9.2, 9.0],
        "ci_high": [0.09, 0.07, 0.055, 13.0, 10.8, 10.0], "n": [3] * 6})
    fig = plots.sweep_chart(frame)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert len(axes) == 2
    assert list(axes[0].lines[0].get_xdata()) == [6, 8, 10]
    assert axes[0].get_xlabel() == "phone agents" and axes[1].get_ylabel() == "minutes"
    assert len(axes[0].collections) == 1  # the CI band
    assert_readable(fig)
    with pytest.raises(ValueError, match="pass parameter=COLUMN"):
        plots.sweep_chart(frame.assign(other=1))


def test_sweep_chart_published_label_stays_clear_of_the_line():
    frame = pd.DataFrame({"channels.chat.agents": [15, 20, 25], "kpi": ["before_call.email"] * 3,
                          "mean": [0.145, 0.148, 0.152], "ci_low": [0.12, 0.09, 0.07],
                          "ci_high": [0.17, 0.21, 0.23]})
    fig = plots.sweep_chart(frame, reference={"before_call.email": 0.151})
    ax = fig.axes[0]
    renderer = drawn(fig)
    label = [t for t in ax.texts if t.get_text() == "published 15.1 %"][0]
    box = label.get_window_extent(renderer).expanded(1.0, 1.0)
    points = ax.transData.transform(np.column_stack([frame["channels.chat.agents"], frame["mean"]]))
    assert not any(box.x0 - 4 <= x <= box.x1 + 4 and box.y0 - 4 <= y <= box.y1 + 4 for x, y in points)
    assert_readable(fig)


def test_intervals_are_drawn_within_what_a_figure_can_be():
    # Two replications give wide Student-t intervals that leave [0, 1] for a share
    # and go below 0 for a time; the charts draw only the possible part.
    frame = pd.DataFrame({
        "channels.phone.agents": [6, 8] * 2,
        "kpi": ["channels.phone.service_level"] * 2 + ["mean_journey_minutes"] * 2,
        "mean": [0.5, 0.95, 0.4, 0.2], "ci_low": [-0.2, 0.7, -1.0, -0.5], "ci_high": [1.2, 1.3, 2.0, 0.9]})
    fig = plots.sweep_chart(frame)
    share_band, time_band = (ax.collections[0].get_paths()[0].vertices[:, 1] for ax in fig.axes[:2])
    assert share_band.min() == 0.0 and share_band.max() == 1.0
    assert time_band.min() == 0.0 and time_band.max() == 2.0
    compared = plots.kpi_comparison(frame.rename(columns={"channels.phone.agents": "scenario"})
                                    .assign(scenario=lambda f: f["scenario"].map({6: "six", 8: "eight"})))
    share_axis = compared.axes[0]
    assert share_axis.get_xlim()[1] <= 1.15  # no axis running to 120 %
    whisker_ends = np.concatenate([seg[:, 0] for seg in share_axis.collections[0].get_segments()])
    assert whisker_ends.min() >= 0.0 and whisker_ends.max() <= 1.0


def test_tornado_fields_are_scalar_and_varied_values_stay_valid():
    sc = sim.load_scenario("utility_billing_surge")
    fields = plots.tornado_fields(sc)
    assert "arrivals.per_hour" in fields
    assert not any(f.endswith(".next") or ".next." in f for f in fields)
    shift_plans = [c.name for c in sc.channels if c.has_shift_plan]
    assert shift_plans and not any(f"channels.{n}.agents" == f for n in shift_plans for f in fields)
    assert _varied("channels.web.resolve", 0.95, 1.1) == 1.0  # clipped to a probability
    assert _varied("channels.chat.agents", 4, 0.9) == 3  # rounding would not move it: moved by one
    assert _varied("channels.chat.agents", 1, 0.9) == 1  # at least one agent
    assert _varied("arrivals.per_hour", 100.0, 1.1) == pytest.approx(110.0)


def test_tornado_data_uses_one_seed_for_every_run():
    sc = make_scenario()
    data = plots.tornado_data(sc, "give_up_rate", ["channels.phone.cost_per_agent_hour", "channels.chat.resolve"],
                              replications=2, days=0.1, seed=3)
    assert list(data["direction"]) == ["low", "high", "low", "high"]
    cost = data[data["field"] == "channels.phone.cost_per_agent_hour"]
    # Cost does not change the simulation: with common random numbers the KPI is identical.
    assert (cost["diff"] == 0).all() and (cost["diff_low"] == 0).all()
    chat = data[data["field"] == "channels.chat.resolve"]
    assert list(chat["value"]) == pytest.approx([0.54, 0.66])
    fig = plots.tornado_chart(data)
    ax = fig.axes[0]
    assert len(bar_patches(ax)) == 4
    assert ax.get_yticklabels()[0].get_text().startswith("chat resolve")  # the field that moves it most first
    assert_readable(fig)
    with pytest.raises(ValueError, match="channels.chat.next: not a numeric field"):
        plots.tornado_data(sc, "give_up_rate", ["channels.chat.next"], replications=1, days=0.05)


def tornado_frame(n_fields: int) -> pd.DataFrame:
    """tornado_data's format for a share KPI at 90 %, with intervals reaching past 100 %."""
    fields = ["channels.phone.patience.mean", "channels.email.handle_time.mean", "channels.phone.agents",
              "retry_delay.mean", "arrivals.per_hour"] + [f"channels.c{i}.resolve" for i in range(n_fields)]
    rows = []
    for i, field in enumerate(fields[:n_fields]):
        d = 0.004 * (n_fields - i)
        for direction, sign in (("low", -1), ("high", 1)):
            low, high = (sign * d - 0.15, sign * d + 0.15) if i == 0 else (sign * d - 0.002, sign * d + 0.002)
            rows.append({"field": field, "direction": direction, "base_value": 5.0, "value": 5.0 + sign * 0.5,
                         "kpi": "channels.phone.service_level", "base_mean": 0.9, "diff": sign * d,
                         "diff_low": low, "diff_high": high})
    return pd.DataFrame(rows)


def test_tornado_chart_draws_intervals_within_a_share_and_marks_units_and_zero():
    fig = plots.tornado_chart(tornado_frame(15), top=12)
    ax = fig.axes[0]
    whisker_ends = np.concatenate([seg[:, 0] for c in ax.collections if isinstance(c, LineCollection)
                                   for seg in c.get_segments()])
    assert whisker_ends.min() >= 0 and whisker_ends.max() <= 1.0  # not past 100 %
    assert ax.get_xlim()[1] < 1.05
    ticks = [loc for loc in ax.get_xticks() if ax.get_xlim()[0] <= loc <= ax.get_xlim()[1]]
    assert max(ticks) <= 1.0
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert len(labels) == 12
    assert labels[0] == "phone patience\n4.5 / 5 / 5.5 min"  # a time: minutes
    assert labels[1].startswith("email handle time\n") and labels[1].endswith(" min")
    assert labels[2] == "phone agents\n4.5 / 5 / 5.5" and labels[3].startswith("retry delay\n")
    assert "Top 12 of 15 fields shown" in fig.texts[0].get_text()
    # The first field's CI includes zero: hollow bars; the others are filled.
    bars = bar_patches(ax)
    hollow = [b for b in bars if matplotlib.colors.to_hex(b.get_facecolor()) == "#ffffff"]
    assert len(bars) == 24 and len(hollow) == 2
    assert {round(b.get_y() + b.get_height() / 2) for b in hollow} == {11}  # the top row
    assert "CI includes 0" in [t.get_text() for t in ax.get_legend().get_texts()]
    assert_readable(fig)
    every = plots.tornado_chart(tornado_frame(5), top=12)
    assert "fields shown" not in every.texts[0].get_text()


# --------------------------------------------------------------------------- waits


def test_wait_distribution_matches_the_channel_metrics(six):
    fig = plots.wait_distribution(six)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    staffed = ["email", "whatsapp", "chat", "phone"]
    assert [ax.get_title(loc="left") for ax in axes] == [six.scenario.channel(n).label for n in staffed]
    for ax, name in zip(axes, staffed):
        p_wait = six.channels.loc[(name, "p_wait"), "mean"]
        note = ax.texts[-1].get_text()
        offered = (six.channels.loc[(name, "contacts"), "mean"] - six.channels.loc[(name, "closed"), "mean"])
        assert note == (f"{sim_style.format_share(1 - p_wait, 0)} answered at once\n"
                        f"{sim_style.format_count(offered / six.scenario.run.days)} offered a day")
        # Waits of live channels in seconds, of the email backlog in minutes or hours.
        assert ax.get_xlabel() in (("wait (minutes)", "wait (hours)") if name == "email" else ("wait (seconds)",))
        # Stacked bars: the top layer's heights are the totals; all waits but the longest 1 % are shown.
        heights = np.array([p.get_height() for p in bar_patches(ax)]).reshape(2, -1)
        shown = heights.sum()
        assert 0.985 * p_wait <= shown <= p_wait + 1e-12
    phone = axes[3]
    journeys = six.journeys
    mean_wait = journeys.loc[(journeys["channel"] == "phone") & (journeys["outcome"] != "closed"), "wait"].mean()
    mean_line = [line for line in phone.lines if line.get_linestyle() == "--"][0]
    assert mean_line.get_xdata()[0] == pytest.approx(60 * mean_wait)  # seconds
    assert any(t.get_text() == f"mean {60 * mean_wait:,.0f} s" for t in phone.texts)


# --------------------------------------------------------------------------- files


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_save_charts_writes_slides_as_png_and_svg_that_keeps_its_text(result, tmp_path):
    charts = {"before_after": plots.before_after_chart(result)}
    paths = plots.save_charts(charts, tmp_path / "out")
    assert [p.name for p in paths] == ["before_after.png", "before_after.svg"]
    assert png_size(paths[0]) == (1800, 1012)  # 12 x 6.75 inches at 150 dpi: slide size
    root = ET.parse(paths[1]).getroot()
    assert root.tag.endswith("svg") and root.get("width") == "864pt"
    # Text stays text (searchable, selectable, translatable), not outlines.
    words = " ".join(t.text or "" for t in root.iter() if t.tag.endswith("text"))
    assert "what callers did before and after their first call" in words and "Call again" in words
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ValueError, match="not a safe file name"):
        plots.save_charts({"../x": charts["before_after"]}, tmp_path)


def test_result_charts_without_journeys_skips_the_journey_charts():
    res = sim.run(make_scenario(), replications=2, days=0.05, keep_journeys=False)
    assert set(plots.result_charts(res)) == {"before_after", "hourly"}


def chart_texts(fig):
    """Every text a reader sees, its line breaks (wrapping) as spaces."""
    return [" ".join(t.get_text().split()) for t in visible_texts(fig)]


def test_a_focal_only_result_has_an_empty_before_call_table_everywhere():
    from conftest import focal_only_scenario

    res = sim.run(focal_only_scenario(), replications=2, days=0.05, seed=3)
    assert res.before_call.empty and list(res.before_call.columns) == ["mean", "ci_low", "ci_high", "n"]
    assert res.to_dict()["before_call"] == {} and list(res.after_call.index) == ["phone", "give_up", "resolved"]
    before = chart_texts(plots.before_after_chart(res))
    assert any(t.startswith("The scenario has no channel but") for t in before)


def test_charts_without_customers_say_so():
    res = sim.run(make_scenario({"arrivals.per_hour": 1e-4}), replications=2, days=0.05, seed=3)
    assert res.kpis.loc["customers", "mean"] == 0
    charts = plots.result_charts(res)  # every chart, none raises
    assert "No customer arrived in the measured window: run longer (days) to see their journeys." in \
        chart_texts(charts["journey_flow"])
    assert chart_texts(charts["wait_times"]).count("No contact offered in the measured window.") == 2
    notes = [t for t in chart_texts(charts["before_after"]) if t.startswith("Nothing to show")]
    assert notes == ["Nothing to show: no customer contacted phone in the measured window."] * 2
    for fig in charts.values():
        assert_readable(fig)
