"""KPIs from one replication's journey log, and their summary across replications.

:func:`replication_metrics` turns a :class:`~simulator.model.ReplicationOutput`
into tidy rows ``(table, channel, metric, value)``; :func:`summarize` gives the
mean and the 95 % Student-t confidence interval of every metric across
replications. Every number contactflow reports (CLI table, JSON, CSV, charts)
comes from these two functions.

KPI definitions (customers are those who arrived in the measured window):

``customers``, ``contacts``, ``contacts_per_customer``
    Journeys, contacts, and their ratio.
``resolution_rate`` / ``give_up_rate``
    Share of journeys that ended answered / unanswered (they sum to 1).
``first_contact_resolution``
    Share of journeys resolved by their first contact.
``multichannel_share``
    Share of customers who used two or more different channels.
``caller_share``
    Share of customers with at least one contact in the focal channel ("callers").
``focal_contacts``, ``avoidable_calls``, ``avoidable_call_share``
    Focal-channel contacts; those that are not the first contact of their
    journey (they exist only because something failed before); their share.
``callers_continue_share``
    Of callers, share whose next step after their first call is another channel.
``mean_journey_minutes``
    From the first contact to the end of the last one.
``cost_total``, ``cost_per_customer``
    Agent hours in the window times ``cost_per_agent_hour`` plus handled
    contacts (wasted async answers included) times ``cost_per_contact``.

Before-the-call table: of callers, share who used each other channel before
their first call. After-the-call table: of callers, share whose next step after
their first call is each channel (the focal one = calling again), ``give_up``
or ``resolved``; it sums to 1.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
import pandas as pd
from scipy import stats

from .journeys import ABANDONED, CLOSED, NEXT_GIVE_UP, NEXT_RESOLVED, RESOLVED, UNRESOLVED
from .model import ReplicationOutput
from .scenario import GIVE_UP, RESOLVED as RESOLVED_LABEL, Scenario

__all__ = [
    "KPI_NAMES",
    "CHANNEL_METRICS",
    "HOURLY_METRICS",
    "replication_metrics",
    "hourly_metrics",
    "summarize",
    "confidence_interval",
]

KPI_NAMES = (
    "customers", "contacts", "contacts_per_customer", "resolution_rate", "give_up_rate",
    "first_contact_resolution", "multichannel_share", "caller_share", "focal_contacts",
    "avoidable_calls", "avoidable_call_share", "callers_continue_share",
    "mean_journey_minutes", "cost_total", "cost_per_customer",
)
CHANNEL_METRICS = (
    "contacts", "closed", "served", "abandoned", "abandon_rate", "resolved", "fcr",
    "mean_wait_min", "p_wait", "service_level", "mean_handle_min", "occupancy",
    "mean_queue", "agent_hours", "wasted_contacts", "cost",
)

HOURLY_METRICS = ("contacts", "abandon_rate", "mean_wait_min", "service_level",
                  "mean_queue", "agents", "occupancy")

#: Row of the tidy per-replication table.
Row = tuple[str, str, str, float]


def _share(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


def replication_metrics(scenario: Scenario, out: ReplicationOutput) -> list[Row]:
    """Every metric of one replication as ``(table, channel, metric, value)`` rows.

    ``table`` is ``"kpis"``, ``"channels"``, ``"before_call"`` or ``"after_call"``;
    ``channel`` is empty for KPIs and names the column of the before/after tables.
    """
    a = out.log.to_arrays()
    names = scenario.channel_names
    n_channels = len(names)
    focal = names.index(scenario.focal_channel)
    customer, seq, channel = a["customer"], a["seq"], a["channel"]
    outcome, nxt, wait, handle = a["outcome"], a["next"], a["wait"], a["handle"]

    n_customers = int(np.count_nonzero(seq == 0))
    n_contacts = len(customer)
    resolved_journeys = int(np.count_nonzero(nxt == NEXT_RESOLVED))

    # Channels each customer used, and before the first focal contact.
    used = np.zeros((n_customers, n_channels), dtype=bool)
    used[customer, channel] = True
    is_focal = channel == focal
    focal_rows = np.flatnonzero(is_focal)
    _, first = np.unique(customer[focal_rows], return_index=True)
    first_calls = focal_rows[first]  # rows are sorted by customer, then seq
    callers = customer[first_calls]
    first_call_seq = np.full(n_customers, np.iinfo(np.int16).max, dtype=np.int64)
    first_call_seq[callers] = seq[first_calls]
    before = seq < first_call_seq[customer]
    used_before = np.zeros((n_customers, n_channels), dtype=bool)
    used_before[customer[before], channel[before]] = True
    after_codes = nxt[first_calls]
    n_callers = len(callers)

    rows: list[Row] = []
    costs = 0.0
    start, end = out.window
    for i, spec in enumerate(scenario.channels):
        in_channel = channel == i
        o = outcome[in_channel]
        w = wait[in_channel]
        contacts = len(o)
        closed = int(np.count_nonzero(o == CLOSED))
        offered = contacts - closed
        served_mask = (o == RESOLVED) | (o == UNRESOLVED)
        served = int(np.count_nonzero(served_mask))
        abandoned = int(np.count_nonzero(o == ABANDONED))
        resolved = int(np.count_nonzero(o == RESOLVED))
        wasted = int(np.count_nonzero(a["wasted"][in_channel]))
        offered_wait = w[o != CLOSED]
        answered_in_time = np.count_nonzero(served_mask & (w <= spec.service_level_seconds / 60.0))
        if i in out.channel_stats:
            busy, staffed, queue = out.channel_stats[i].between(start, end)
            occupancy = _share(busy, staffed)
            agent_hours = staffed / 60.0
            mean_queue = _share(queue, end - start)
        else:
            occupancy, agent_hours, mean_queue = math.nan, 0.0, 0.0
        cost = spec.cost_per_agent_hour * agent_hours + spec.cost_per_contact * (served + wasted)
        costs += cost
        metrics = {
            "contacts": contacts,
            "closed": closed,
            "served": served,
            "abandoned": abandoned,
            "abandon_rate": _share(abandoned, offered),
            "resolved": resolved,
            "fcr": _share(resolved, served),
            "mean_wait_min": float(offered_wait.mean()) if offered else math.nan,
            "p_wait": _share(np.count_nonzero(offered_wait > 0), offered),
            "service_level": _share(answered_in_time, offered),
            "mean_handle_min": float(handle[in_channel][served_mask].mean()) if served else math.nan,
            "occupancy": occupancy,
            "mean_queue": mean_queue,
            "agent_hours": agent_hours,
            "wasted_contacts": wasted,
            "cost": cost,
        }
        rows += [("channels", spec.name, m, float(v)) for m, v in metrics.items()]

    last = np.flatnonzero(nxt < 0)  # one terminal row per journey
    journey_minutes = (a["time"][last] + wait[last] + handle[last]
                       - a["time"][seq == 0]) if n_customers else np.empty(0)
    avoidable = int(np.count_nonzero(is_focal & (seq > 0)))
    kpis = {
        "customers": n_customers,
        "contacts": n_contacts,
        "contacts_per_customer": _share(n_contacts, n_customers),
        "resolution_rate": _share(resolved_journeys, n_customers),
        "give_up_rate": _share(n_customers - resolved_journeys, n_customers),
        "first_contact_resolution": _share(
            np.count_nonzero((seq == 0) & (outcome == RESOLVED)), n_customers),
        "multichannel_share": _share(np.count_nonzero(used.sum(axis=1) >= 2), n_customers),
        "caller_share": _share(n_callers, n_customers),
        "focal_contacts": len(focal_rows),
        "avoidable_calls": avoidable,
        "avoidable_call_share": _share(avoidable, len(focal_rows)),
        "callers_continue_share": _share(
            np.count_nonzero((after_codes >= 0) & (after_codes != focal)), n_callers),
        "mean_journey_minutes": float(journey_minutes.mean()) if n_customers else math.nan,
        "cost_total": costs,
        "cost_per_customer": _share(costs, n_customers),
    }
    rows = [("kpis", "", k, float(v)) for k, v in kpis.items()] + rows

    used_before_callers = used_before[callers]
    for i, name in enumerate(names):
        if i != focal:
            share = used_before_callers[:, i].mean() if n_callers else math.nan
            rows.append(("before_call", name, "share", float(share)))
    after_targets = [(name, i) for i, name in enumerate(names)]
    after_targets += [(GIVE_UP, NEXT_GIVE_UP), (RESOLVED_LABEL, NEXT_RESOLVED)]
    for label, code in after_targets:
        rows.append(("after_call", label, "share", _share(np.count_nonzero(after_codes == code), n_callers)))
    return rows


def hourly_metrics(scenario: Scenario, out: ReplicationOutput) -> list[tuple[str, int, str, float]]:
    """Channel metrics by hour of the day, as ``(channel, hour, metric, value)`` rows.

    ``contacts`` is per day (contacts of counted customers that started in that
    hour, divided by the days simulated); waits, abandonment and service level
    are over the contacts offered in that hour; ``mean_queue``, ``agents`` and
    ``occupancy`` are time averages over that hour within the measured window.
    """
    a = out.log.to_arrays()
    hour = (a["time"] // 60 % 24).astype(np.int64)
    start, end = out.window
    days = (end - start) / 1440.0
    rows = []
    for i, spec in enumerate(scenario.channels):
        in_channel = a["channel"] == i
        offered = in_channel & (a["outcome"] != CLOSED)
        served = offered & (a["outcome"] != ABANDONED)
        on_time = served & (a["wait"] <= spec.service_level_seconds / 60.0)
        count = np.bincount(hour[in_channel], minlength=24)
        n_offered = np.bincount(hour[offered], minlength=24)
        n_abandoned = np.bincount(hour[offered & (a["outcome"] == ABANDONED)], minlength=24)
        wait_sum = np.bincount(hour[offered], weights=a["wait"][offered], minlength=24)
        n_on_time = np.bincount(hour[on_time], minlength=24)
        stats = out.channel_stats.get(i)
        if stats is not None:
            t = stats.times
            inside = (t[:-1] >= start) & (t[1:] <= end)
            slot = (t[:-1][inside] // 60 % 24).astype(np.int64)
            duration = np.bincount(slot, weights=np.diff(t)[inside], minlength=24)
            busy, staffed, queue = (np.bincount(slot, weights=np.diff(x)[inside], minlength=24)
                                    for x in (stats.busy_area, stats.staffed_area, stats.queue_area))
        for h in range(24):
            values = {
                "contacts": count[h] / days,
                "abandon_rate": _share(n_abandoned[h], n_offered[h]),
                "mean_wait_min": _share(wait_sum[h], n_offered[h]),
                "service_level": _share(n_on_time[h], n_offered[h]),
                "mean_queue": _share(queue[h], duration[h]) if stats is not None else 0.0,
                "agents": _share(staffed[h], duration[h]) if stats is not None else math.nan,
                "occupancy": _share(busy[h], staffed[h]) if stats is not None else math.nan,
            }
            rows += [(spec.name, h, m, float(v)) for m, v in values.items()]
    return rows


def confidence_interval(values: Iterable[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and Student-t confidence interval of independent replication values.

    NaN values (a metric undefined in a replication) are left out. With one
    value the interval is undefined (NaN).

    Examples
    --------
    >>> m, lo, hi = confidence_interval([1.0, 2.0, 3.0])
    >>> m, round(lo, 3), round(hi, 3)
    (2.0, -0.484, 4.484)
    """
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return mean, math.nan, math.nan
    half = float(stats.t.ppf(0.5 + level / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half


def summarize(per_replication: pd.DataFrame, level: float = 0.95,
              keys: tuple[str, ...] = ("table", "channel", "metric")) -> pd.DataFrame:
    """Mean, CI and replication count of every metric in a tidy per-replication table.

    Parameters
    ----------
    per_replication
        A ``replication`` column, the ``keys`` columns and a ``value`` column.

    Returns
    -------
    DataFrame indexed by ``keys`` with columns ``mean, ci_low, ci_high, n``,
    in the order the metrics first appear.
    """
    keys = list(keys)
    valid = per_replication.dropna(subset=["value"])
    grouped = valid.groupby(keys, sort=False)["value"].agg(["mean", "std", "count"])
    # keep metrics that are NaN in every replication, in first-appearance order
    order = per_replication[keys].drop_duplicates()
    frame = order.set_index(keys).join(grouped)
    n = frame["count"].fillna(0).astype(int)
    dof = np.where(n > 1, n - 1, 1)
    half = stats.t.ppf(0.5 + level / 2, dof) * frame["std"].to_numpy() / np.sqrt(np.maximum(n, 1))
    half = np.where(n > 1, half, np.nan)
    return pd.DataFrame({"mean": frame["mean"], "ci_low": frame["mean"] - half,
                         "ci_high": frame["mean"] + half, "n": n}, index=frame.index)
