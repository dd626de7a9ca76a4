"""Charts: the expected elements, numbers that match the result, readable labels, valid files."""

from __future__ import annotations

import itertools
import struct
import xml.etree.ElementTree as ET

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.patches import PathPatch, Rectangle

import simulator as sim
from simulator import plots
from conftest import make_scenario

REFERENCE = {"reference": {"source": "test survey",
                           "figures": {"before_call.web": 0.3, "after_call.give_up": 0.05,
                                       "avoidable_call_share": 0.6}}}


def with_reference(changes=None):
    sc = make_scenario(changes)
    return sc.with_changes({"reference.source": "test survey",
                            "reference.figures": REFERENCE["reference"]["figures"]})


@pytest.fixture(scope="module")
def result():
    """Three replications of the test network, with published figures to mark."""
    return sim.run(with_reference(), replications=3, days=0.25, seed=5)


@pytest.fixture(scope="module")
def single():
    """One replication: pooled shares equal that replication's KPIs exactly."""
    return sim.run(make_scenario(), replications=1, days=0.25, seed=9)


def drawn(fig):
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    return fig.canvas.get_renderer()


def visible_texts(fig):
    """Every piece of text a reader sees: titles, labels, tick labels, annotations, legends."""
    texts = [fig._suptitle] + list(fig.texts) if fig._suptitle else list(fig.texts)
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [ax.title, ax._left_title, ax._right_title, ax.xaxis.label, ax.yaxis.label]
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            margin = 1e-9 * max(abs(low), abs(high), 1)
            texts += [label for loc, label in zip(axis.get_majorticklocs(), axis.get_majorticklabels())
                      if low - margin <= loc <= high + margin]
        texts += list(ax.texts)
        legend = ax.get_legend()
        if legend is not None:
            texts += list(legend.get_texts())
    unique = {id(t): t for t in texts}
    return [t for t in unique.values() if t.get_visible() and t.get_text().strip()]


def assert_readable(fig):
    """No two labels overlap, and every label lies inside the figure."""
    renderer = drawn(fig)
    texts = visible_texts(fig)
    boxes = [t.get_window_extent(renderer) for t in texts]
    bounds = fig.bbox
    for text, box in zip(texts, boxes):
        assert (box.x0 >= bounds.x0 - 1 and box.x1 <= bounds.x1 + 1 and box.y0 >= bounds.y0 - 1
                and box.y1 <= bounds.y1 + 1), f"{text.get_text()!r} sticks out of the figure"
    for (a, box_a), (b, box_b) in itertools.combinations(zip(texts, boxes), 2):
        overlap_w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        overlap_h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        assert not (overlap_w > 1 and overlap_h > 1), f"{a.get_text()!r} overlaps {b.get_text()!r}"


def bar_patches(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


# --------------------------------------------------------------------------- colours


def test_channel_colors_are_fixed_for_known_names_and_distinct_for_the_rest():
    a = plots.channel_colors(["web", "chat", "phone", "kiosk", "letters"])
    b = plots.channel_colors(["kiosk", "phone"])
    assert a["web"] == plots.FIXED_COLORS["web"] and a["phone"] == plots.FIXED_COLORS["phone"]
    assert a["phone"] == b["phone"]  # the same channel, the same colour, whatever else is there
    assert plots.channel_colors(["call_centre"])["call_centre"] == plots.FIXED_COLORS["phone"]
    assert a["resolved"] == plots.OUTCOME_COLORS["resolved"] and a["give_up"] == plots.OUTCOME_COLORS["give_up"]
    channels = ["web", "chat", "phone", "kiosk", "letters"]
    assert len({a[n] for n in channels} | {a["resolved"], a["give_up"]}) == len(channels) + 2
    both = plots.channel_colors(["email", "messages"])  # two names for one fixed colour: still distinct
    assert both["email"] != both["messages"]


# --------------------------------------------------------------------------- before / after


def test_before_after_has_one_bar_per_row_with_ci_whiskers_and_published_marks(result):
    fig = plots.before_after_chart(result)
    before_ax, after_ax = fig.axes[:2]
    colors = plots.channel_colors(result.scenario.channel_names)
    for ax, frame in ((before_ax, result.before_call), (after_ax, result.after_call)):
        bars = bar_patches(ax)
        assert len(bars) == len(frame)
        assert [b.get_height() for b in bars] == pytest.approx(frame["mean"].tolist())
        assert [matplotlib.colors.to_hex(b.get_facecolor()) for b in bars] == [colors[n].lower() for n in frame.index]
        whiskers = [c for c in ax.collections if isinstance(c, LineCollection)][0].get_segments()
        assert len(whiskers) == len(frame)
        for segment, (_, row) in zip(whiskers, frame.iterrows()):
            assert sorted(segment[:, 1]) == pytest.approx([row["ci_low"], row["ci_high"]])
    assert [t.get_text() for t in before_ax.get_xticklabels()] == ["web", "chat"]
    assert "Call again" in [t.get_text() for t in after_ax.get_xticklabels()]
    assert before_ax.get_ylabel() == "share of callers (%)"
    diamonds = {ax: [line for line in ax.lines if line.get_marker() == "D"] for ax in (before_ax, after_ax)}
    assert [d.get_ydata()[0] for d in diamonds[before_ax]] == [0.3]
    assert [d.get_ydata()[0] for d in diamonds[after_ax]] == [0.05]
    assert "test survey" in [t.get_text() for t in after_ax.get_legend().get_texts()]
    assert_readable(fig)


def test_reference_chart_has_a_row_per_published_figure(result):
    fig = plots.reference_chart(result)
    ax = fig.axes[0]
    assert len(ax.get_yticklabels()) == 3
    published = sorted(line.get_xdata()[0] for line in ax.lines if line.get_marker() == "|")
    assert published == sorted(REFERENCE["reference"]["figures"].values())
    assert_readable(fig)
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


def test_flow_diagram_blocks_and_bands(result):
    fig = plots.flow_diagram(result, max_steps=4)
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[:4] == ["Contact 1", "Contact 2", "Contact 3", "Contact 4"] and labels[-1] == "End"
    blocks = [p for p in ax.patches if isinstance(p, Rectangle)]
    bands = [p for p in ax.patches if isinstance(p, PathPatch)]
    assert bands
    # Each column's blocks add up to all customers.
    by_column = {}
    for block in blocks:
        column = round(block.get_x() + block.get_width() / 2)
        by_column[column] = by_column.get(column, 0.0) + block.get_height()
    assert len(by_column) == len(labels)
    assert list(by_column.values()) == pytest.approx([1.0] * len(labels))
    colors = {matplotlib.colors.to_hex(b.get_facecolor()) for b in blocks}
    expected = plots.channel_colors(result.scenario.channel_names)
    assert {expected[n].lower() for n in ("web", "chat", "phone", "resolved", "give_up")} <= colors
    # The title counts customers a day, not the pool of every replication's customers.
    per_day = result.kpis.loc["customers", "mean"] / result.scenario.run.days
    assert f"{per_day:,.0f} customers a day" in fig._suptitle.get_text()
    assert_readable(fig)


def test_channel_graph_conserves_flows(single):
    g = plots.channel_graph(single)
    per_day = 1 / single.scenario.run.days
    kpis = single.kpis["mean"]
    for name in single.scenario.channel_names:
        out = sum(d["flow"] for _, _, d in g.out_edges(name, data=True))
        assert out == pytest.approx(g.nodes[name]["contacts"])  # every contact goes somewhere
        assert sum(d["share"] for _, _, d in g.out_edges(name, data=True)) == pytest.approx(1.0)
        inflow = sum(d["flow"] for _, _, d in g.in_edges(name, data=True))
        starts = g.nodes[name]["first"] * kpis["customers"] * per_day
        assert inflow + starts == pytest.approx(g.nodes[name]["contacts"])
    assert g.nodes["resolved"]["contacts"] == pytest.approx(kpis["resolution_rate"] * kpis["customers"] * per_day)


def test_channel_network_sizes_nodes_by_contacts(result):
    fig = plots.channel_network(result)
    ax = fig.axes[0]
    nodes = ax.collections[-1]
    g = plots.channel_graph(result)
    order = list(result.scenario.channel_names) + ["resolved", "give_up"]
    sizes = nodes.get_sizes()
    contacts = [g.nodes[n]["contacts"] for n in order]
    assert np.argmax(sizes) == np.argmax(contacts) and np.argmin(sizes) == np.argmin(contacts)
    assert any("contacts a day" in t.get_text() for t in ax.texts)
    # Edge labels are framed in their source channel's colour, so a label at a crossing is not ambiguous.
    colors = plots.channel_colors(result.scenario.channel_names)
    flows = {f"{d['flow']:,.0f}": s for s, t, d in g.edges(data=True) if s != t}
    edge_labels = [t for t in ax.texts if t.get_text() in flows]
    assert edge_labels
    for label in edge_labels:
        frame = matplotlib.colors.to_hex(label.get_bbox_patch().get_edgecolor())
        assert frame == colors[flows[label.get_text()]].lower(), label.get_text()
    assert_readable(fig)


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
    for ax, kpi in zip(value_axes, kpis):
        bars = bar_patches(ax)
        assert len(bars) == 2
        assert sorted(b.get_width() for b in bars) == pytest.approx(sorted(r.stat(kpi)["mean"] for r in runs.values()))
        assert any(isinstance(c, LineCollection) for c in ax.collections)  # CI whiskers
    assert value_axes[0].get_xlabel() == "% of customers"
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
    assert sorted(t.get_text() for t in cost.texts if t.get_text() != "  base") == ["+0.0012", "-0.0041"]
    assert [t.get_text() for t in fig.axes[4].texts if "pp" in t.get_text()] == ["-1 pp", "-0.004 pp"]
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


# --------------------------------------------------------------------------- over the day, sweeps


def test_hourly_chart_panels_and_agents_axis(result):
    fig = plots.hourly_chart(result)
    staffed = ["chat", "phone"]
    titles = [ax.get_title(loc="left") for ax in fig.axes if ax.get_title(loc="left")]
    assert titles == staffed
    assert [fig.axes[0].get_ylabel(), fig.axes[2].get_ylabel(), fig.axes[4].get_ylabel()] == \
        ["queue (customers)", "mean wait (min)", "abandoned (%)"]
    twins = [ax for ax in fig.axes if ax.get_ylabel() == "agents on duty"]
    assert len(twins) == 1
    agent_lines = [ax.lines[0] for ax in fig.axes if ax.lines and ax.lines[0].get_linestyle() == "--"]
    # fixed staffing: 4 chat agents, 8 phone agents in every hour of the measured window
    assert [np.nanmax(line.get_ydata()) for line in agent_lines] == pytest.approx([4, 8])
    # One scale per metric across channels (and one for the agents), labelled once.
    main = np.array([ax for ax in fig.axes if ax.get_ylabel() != "agents on duty" and ax not in
                     [line.axes for line in agent_lines]]).reshape(3, 2)
    for row in main:
        assert row[0].get_ylim() == row[1].get_ylim()
        assert not any(t.get_visible() and t.get_text() for t in row[1].get_yticklabels())
    agent_axes = [line.axes for line in agent_lines]
    assert agent_axes[0].get_ylim() == agent_axes[1].get_ylim()
    assert_readable(fig)


def test_hourly_chart_gives_an_asynchronous_channel_its_own_scale():
    # An email backlog lasts hours; on a shared scale, live queues of seconds would look empty.
    res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.1, keep_journeys=False)
    fig = plots.hourly_chart(res)
    panels = {ax.get_title(loc="left"): ax for ax in fig.axes if ax.get_title(loc="left")}
    email, chat, phone = panels["Email"], panels["Chat"], panels["Call centre"]
    shared = email.get_shared_y_axes()
    assert shared.joined(chat, phone) and not shared.joined(email, chat)
    assert any("asynchronous ones" in text.get_text() for text in fig.texts)  # the footnote says so


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
    assert plots._varied("channels.web.resolve", 0.95, 1.1) == 1.0  # clipped to a probability
    assert plots._varied("channels.chat.agents", 4, 0.9) == 3  # rounding would not move it: moved by one
    assert plots._varied("channels.chat.agents", 1, 0.9) == 1  # at least one agent
    assert plots._varied("arrivals.per_hour", 100.0, 1.1) == pytest.approx(110.0)


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


def test_wait_distribution_matches_the_channel_metrics(single):
    fig = plots.wait_distribution(single)
    axes = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title(loc="left") for ax in axes] == ["chat", "phone"]
    for ax, name in zip(axes, ["chat", "phone"]):
        p_wait = single.channels.loc[(name, "p_wait"), "mean"]
        note = ax.get_title(loc="right")  # beside the channel's name, clear of the labels in the panel
        assert note.startswith(f"answered at once: {100 * (1 - p_wait):.0f} %")
        contacts = single.channels.loc[(name, "contacts"), "mean"] / single.scenario.run.days
        assert note.endswith(f"\n{contacts:,.0f} offered a day")
        # Stacked bars: the top layer's heights are the totals; all waits but the longest 1 % are shown.
        heights = np.array([p.get_height() for p in bar_patches(ax)]).reshape(2, -1)
        shown = heights.sum()
        assert 0.985 * p_wait <= shown <= p_wait + 1e-12
    assert_readable(fig)


# --------------------------------------------------------------------------- files


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_result_charts_and_save_charts_write_valid_png_and_svg(result, tmp_path):
    charts = plots.result_charts(result)
    assert set(charts) == {"journey_flow", "channel_network", "before_after", "reference", "hourly", "wait_times"}
    paths = plots.save_charts({"before_after": charts["before_after"]}, tmp_path / "out")
    assert [p.name for p in paths] == ["before_after.png", "before_after.svg"]
    assert png_size(paths[0]) == (1800, 1012)  # 12 x 6.75 inches at 150 dpi: slide size
    root = ET.parse(paths[1]).getroot()
    assert root.tag.endswith("svg") and root.get("width") == "864pt"
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.endswith(".tmp")]
    with pytest.raises(ValueError, match="not a safe file name"):
        plots.save_charts({"../x": charts["before_after"]}, tmp_path)


def test_result_charts_without_journeys_skips_the_journey_charts():
    res = sim.run(make_scenario(), replications=2, days=0.05, keep_journeys=False)
    assert set(plots.result_charts(res)) == {"before_after", "hourly"}


def chart_texts(fig):
    return [t.get_text() for t in visible_texts(fig)]


def test_charts_of_a_focal_only_scenario_say_what_they_cannot_show():
    from conftest import focal_only_scenario

    res = sim.run(focal_only_scenario(), replications=2, days=0.05, seed=3)
    assert res.before_call.empty and list(res.before_call.columns) == ["mean", "ci_low", "ci_high", "n"]
    assert res.to_dict()["before_call"] == {}
    charts = plots.result_charts(res)
    before_ax, after_ax = charts["before_after"].axes
    assert "Nothing to show: phone is the\nonly channel" in [t.get_text() for t in before_ax.texts]
    assert len(bar_patches(after_ax)) == 3 and after_ax.get_ylabel() == "share of callers (%)"
    assert_readable(charts["before_after"])


def test_charts_without_customers_say_so():
    res = sim.run(make_scenario({"arrivals.per_hour": 1e-4}), replications=2, days=0.05, seed=3)
    assert res.kpis.loc["customers", "mean"] == 0
    charts = plots.result_charts(res)  # every chart, none raises
    assert any(t.startswith("No customer arrived") for t in chart_texts(charts["journey_flow"]))
    assert chart_texts(charts["wait_times"]).count("No contact offered\nin the measured window") == 2
    assert all(t.get_text().startswith("Nothing to show: no customer")
               for ax in charts["before_after"].axes for t in ax.texts)
    for fig in charts.values():
        assert_readable(fig)
