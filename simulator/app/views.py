"""What the web app's pages show, as plain tables and text (no Shiny).

Every value comes from a library result — :class:`~simulator.experiment.Result`,
:class:`~simulator.network.NetworkApproximation`, the tables of
:func:`~simulator.compare.compare` and :func:`~simulator.sweep.sweep` — and is
written with the library's formatting (:mod:`simulator.report`), so the page
says what the command line says.

Examples
--------
>>> import simulator as sim
>>> from simulator.network import approximate
>>> sc = sim.load_scenario("nice_bcg_2016")
>>> cards = estimate_cards(approximate(sc), card_figures(sc))
>>> cards[0]["title"], cards[0]["value"].endswith("%")
('Give-up rate', True)
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import pandas as pd

from ..compare import per_day
from ..experiment import Result
from ..figures import figure_index, figure_key
from ..html_report import changed_fields
from ..network import NetworkApproximation
from ..plots import figure_label
from ..report import (CALLBACK_HEADER, CHANNEL_COLUMNS, GROUP_HEADER, SIGNIFICANT_NOTE, callback_rows,
                      day_difference_text, format_stat, format_value, group_rows, headline_figures, shows_groups)
from ..scenario import Scenario
from .jobs import error_message

__all__ = [
    "card_figures", "kpi_cards", "estimate_cards", "kpi_table", "channel_table", "before_after_tables",
    "estimate_table", "comparison_frame", "variant_changes", "figures_frame", "SIGNIFICANT_NOTE",
    "group_table", "callback_table", "estimate_problem",
]


def _metric(key: str) -> str:
    """The metric of a figure name, which decides its format (shares in %)."""
    return figure_index(key)[2]


def card_figures(scenario: Scenario) -> list[str]:
    """The figures shown as cards: the headline figures, the focal channel's contacts, and the
    published ones the scenario carries (the survey's, for the preset).

    Examples
    --------
    >>> import simulator as sim
    >>> card_figures(sim.load_scenario("nice_bcg_2016"))[:3]
    ['give_up_rate', 'avoidable_call_share', 'channels.phone.service_level']
    """
    figures = [*headline_figures(scenario), "focal_contacts", "contacts_per_customer"]
    figures += [k for k in scenario.reference if k not in figures]
    return list(dict.fromkeys(figures))


def _card(scenario: Scenario, key: str, value: str, interval: str = "") -> dict[str, Any]:
    title, _ = figure_label(key, scenario)
    card = {"key": key, "title": title, "value": value, "interval": interval, "published": "", "inside": None}
    if key in scenario.reference:
        card["published"] = format_value(scenario.reference[key], _metric(key))
    return card


def kpi_cards(result: Result, figures: Sequence[str]) -> list[dict[str, Any]]:
    """One card per figure: ``title``, ``value`` (the mean), ``interval`` (95 % CI), and where the
    scenario carries a published figure, ``published`` and ``inside`` (is it within the CI?)."""
    cards = []
    for key in figures:
        stat = result.stat(key)
        metric = _metric(key)
        text = format_stat(stat["mean"], stat["ci_low"], stat["ci_high"], metric)
        value, _, interval = text.partition(" [")
        card = _card(result.scenario, key, value, f"[{interval}" if interval else "")
        if card["published"]:
            figure = result.scenario.reference[key]
            card["inside"] = bool(stat["ci_low"] <= figure <= stat["ci_high"])
        cards.append(card)
    return cards


def estimate_cards(approx: NetworkApproximation, figures: Sequence[str]) -> list[dict[str, Any]]:
    """The same cards from the network approximation (one value, no interval)."""
    return [_card(approx.scenario, key, format_value(approx.value(key), _metric(key))) for key in figures]


def _published(scenario: Scenario, key: str, stat: Mapping[str, float] | None) -> list[str]:
    figure = scenario.reference.get(key)
    if figure is None:
        return ["", ""]
    inside = "" if stat is None else ("✓" if stat["ci_low"] <= figure <= stat["ci_high"] else "✗")
    return [format_value(figure, _metric(key)), inside]


def kpi_table(result: Result) -> pd.DataFrame:
    """Every KPI: its name, mean [95 % CI], and the published figure with a mark when it lies in the CI."""
    sc = result.scenario
    rows = []
    for kpi, row in result.kpis.iterrows():
        stat = {k: row[k] for k in ("mean", "ci_low", "ci_high")}
        rows.append([figure_label(kpi, sc)[0], kpi, format_stat(row["mean"], row["ci_low"], row["ci_high"], kpi),
                     *_published(sc, kpi, stat)])
    columns = ["KPI", "name", "simulated [95 % CI]", "published", "in CI"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame if sc.reference else frame.iloc[:, :3]


def channel_table(result: Result, metrics: Sequence[str] = CHANNEL_COLUMNS) -> pd.DataFrame:
    """One row per channel, one column per metric, each ``mean [95 % CI]``."""
    ch = result.channels
    rows = []
    for c in result.scenario.channels:
        cells = [c.display_name]
        for m in metrics:
            row = ch.loc[(c.name, m)]
            cells.append(format_stat(row["mean"], row["ci_low"], row["ci_high"], m))
        rows.append(cells)
    return pd.DataFrame(rows, columns=["channel", *metrics])


def group_table(result: Result) -> pd.DataFrame | None:
    """The agent-group table of :func:`simulator.report.group_rows` (each figure ``mean [95 % CI]``,
    groups by their labels), or None when it would only repeat the channel table (no shared agents,
    no concurrency).

    Examples
    --------
    >>> import simulator as sim
    >>> group_table(sim.run(sim.load_scenario("bank_app_first"), replications=2, days=0.05)) is None
    True
    """
    sc = result.scenario
    if not shows_groups(sc):
        return None
    rows = group_rows(result, intervals=True)
    for row, group in zip(rows, sc.groups):
        row[0] = group.display_name
    return pd.DataFrame(rows, columns=GROUP_HEADER)


def callback_table(result: Result) -> pd.DataFrame | None:
    """The call-back figures (:func:`simulator.report.callback_rows`, ``mean [95 % CI]``) of the channels
    that offer call backs, by their labels; None when none does."""
    sc = result.scenario
    rows = callback_rows(result, intervals=True)
    if not rows:
        return None
    for row in rows:
        row[0] = sc.channel(row[0]).display_name
    return pd.DataFrame(rows, columns=CALLBACK_HEADER)


def estimate_problem(scenario: Scenario, error: BaseException) -> str:
    """Why the instant estimate is missing, as the page says it: the approximation's own message, and
    for a scenario with what it may not handle yet (agent groups, concurrency, call backs, a week's
    hourly lists), what to do.

    Examples
    --------
    >>> import simulator as sim
    >>> estimate_problem(sim.load_scenario("bank_app_first"), ValueError("no convergence"))
    'No instant estimate for bank_app_first: the network approximation failed (no convergence). Simulate for its figures.'
    """
    features = []
    if scenario.has_groups:
        features.append("agent groups")
    if any(c.concurrency > 1 for c in scenario.channels):
        features.append("concurrency")
    if any(c.callback is not None for c in scenario.channels):
        features.append("call backs")
    if scenario.period_hours > 24:
        features.append("a week's hourly lists")
    detail = error_message(error)
    if features:
        return (f"No instant estimate for {scenario.name}: the network approximation does not handle "
                f"{', '.join(features)} in this version ({type(error).__name__}: {detail}). "
                "Simulate for its figures; every other part of the app works.")
    return f"No instant estimate for {scenario.name}: the network approximation failed ({detail}). " \
           "Simulate for its figures."


def before_after_tables(result: Result) -> dict[str, pd.DataFrame]:
    """The before-the-call and after-the-call tables: share of callers [95 % CI], and the published figures."""
    sc = result.scenario
    tables = {}
    for table, frame in (("before_call", result.before_call), ("after_call", result.after_call)):
        rows = []
        for name, row in frame.iterrows():
            stat = {k: row[k] for k in ("mean", "ci_low", "ci_high")}
            rows.append([name, format_stat(row["mean"], row["ci_low"], row["ci_high"], "share"),
                         *_published(sc, f"{table}.{name}", stat)])
        out = pd.DataFrame(rows, columns=["", "share of callers [95 % CI]", "published", "in CI"])
        tables[table] = out if sc.reference else out.iloc[:, :2]
    return tables


def estimate_table(approx: NetworkApproximation) -> pd.DataFrame:
    """Every KPI of the approximation, with the published figure beside it where there is one."""
    sc = approx.scenario
    rows = [[figure_label(kpi, sc)[0], kpi, format_value(value, kpi), *_published(sc, kpi, None)[:1]]
            for kpi, value in approx.kpis["value"].items()]
    frame = pd.DataFrame(rows, columns=["KPI", "name", "estimate", "published"])
    return frame if sc.reference else frame.iloc[:, :3]


#: The figures the what-if table shows by default: KPIs, the main channel metrics, and the main figures
#: of agent groups that answer several channels.
COMPARISON_CHANNEL_METRICS = ("contacts", "abandon_rate", "service_level", "mean_wait_min", "occupancy")
COMPARISON_GROUP_METRICS = ("agents", "occupancy", "cost")


def comparison_frame(table: pd.DataFrame, days: float, show_all: bool = False) -> pd.DataFrame:
    """A :func:`~simulator.compare.compare` table as the page shows it, in per-day units: one row per
    figure, each scenario's mean, and each variant's paired difference with its 95 % CI
    ("−956 calls a day [−982, −931]"), ``*`` where the interval excludes 0.

    Examples
    --------
    >>> import simulator as sim
    >>> base = sim.load_scenario("nice_bcg_2016").with_changes({"run.days": 0.1})
    >>> t = sim.compare(base, {"better chat": base.with_changes({"channels.chat.resolve": 0.8})},
    ...                 replications=3, seed=1)
    >>> frame = comparison_frame(t, days=0.1)
    >>> frame.set_index("name").loc["focal_contacts", "Δ better chat a day [95 % CI]"].split()[1:4]
    ['calls', 'a', 'day']
    """
    daily = per_day(table, days)
    base = table.attrs.get("base", daily["scenario"].iloc[0])
    labels = list(dict.fromkeys(daily["scenario"]))
    variants = [v for v in labels if v != base]
    shown = daily
    if not show_all:
        channels = set(daily.loc[daily["table"] == "channels", "channel"])
        shared = (daily["table"] == "groups") & ~daily["channel"].isin(channels)  # not a channel's own agents
        keep = ((daily["table"] == "kpis")
                | ((daily["table"] == "channels") & daily["metric"].isin(COMPARISON_CHANNEL_METRICS))
                | (shared & daily["metric"].isin(COMPARISON_GROUP_METRICS)))
        spread = daily.groupby("kpi")["mean"].transform(lambda m: m.nunique(dropna=True))
        silent = daily["table"].isin(["channels", "groups"]) & daily["ci_low"].isna() & (spread <= 1)
        shown = daily[keep & ~silent]
    by_scenario = {label: frame.set_index("kpi") for label, frame in shown.groupby("scenario", sort=False)}
    rows = []
    for kpi, row in by_scenario[base].iterrows():
        unit = " a day" if row["per_day"] else ""
        cells = [figure_label(kpi)[0] + unit, kpi, format_stat(row["mean"], row["ci_low"], row["ci_high"],
                                                               row["metric"])]
        for v in variants:
            other = by_scenario[v].loc[kpi] if kpi in by_scenario[v].index else None
            if other is None:
                cells += ["–", "–"]
                continue
            diff = day_difference_text(other)
            cells += [format_value(other["mean"], other["metric"]),
                      diff + (" *" if other["significant"] else "")]
        rows.append(cells)
    header = ["figure", "name", f"{base} [95 % CI]"]
    for v in variants:
        header += [v, f"Δ {v} a day [95 % CI]"]
    return pd.DataFrame(rows, columns=header)


def variant_changes(base: Scenario, variant: Scenario) -> str:
    """What a variant changes against the base, ``field = value; ...`` (name and run settings aside).

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> variant_changes(sc, sc.with_changes({"channels.chat.resolve": 0.8}))
    'channels.chat.resolve = 0.8'
    """
    changed = changed_fields(base.to_dict(), variant.to_dict())
    changed.pop("name", None)
    return "; ".join(f"{k} = {_short(v)}" for k, v in changed.items()) or "(no change)"


def _short(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        return f"{value:g}"
    return str(value)


def figures_frame(result: Result) -> pd.DataFrame:
    """Every figure of a result as one tidy table (``figure, table, channel, metric, mean, ci_low,
    ci_high, n``): the CSV download of a run."""
    frame = result.summary.reset_index()
    frame.insert(0, "figure", [figure_key(*k) for k in frame[["table", "channel", "metric"]].itertuples(index=False)])
    return frame
