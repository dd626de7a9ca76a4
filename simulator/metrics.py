"""KPIs from one replication's journey log, and their summary across replications.

:func:`replication_metrics` turns a :class:`~simulator.model.ReplicationOutput`
into tidy rows ``(table, channel, metric, value)``; :func:`summarize` gives the
mean and the 95 % confidence interval of every metric across replications
(:func:`mean_interval`: Student t, corrected for the skewness of the
replications' values). Every number contactflow reports (CLI table, JSON, CSV, charts)
comes from these two functions.

The measured window is ``[warm-up end, warm-up end + days)``. Two kinds of
figure refer to it:

* contact figures (counts, waits, abandonment, service level, handle times,
  journey KPIs) are over the *counted customers*, those who arrived in the
  window, each followed to the end of its journey, even past the window's
  end; new customers keep arriving (simulated, not counted) until the last
  counted journey has ended (for at most a day,
  :data:`~simulator.model.DRAIN_LIMIT_MINUTES`), so a contact made after the
  window meets the same load as one made inside it;
* time integrals (``occupancy``, ``mean_queue``, ``agent_hours`` and the
  agent-hour part of costs, and the hourly ``agents``, ``occupancy`` and
  ``mean_queue``) are over the window itself, whoever is being served.

In a steady state the two agree: work done for counted customers after the
window balances work done inside it for customers of the warm-up.

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
    As in the survey, which asked customers what they did, every call a
    customer makes counts, including calls that find the centre closed.
``focal_closed``, ``avoidable_closed``
    Of ``focal_contacts`` and of ``avoidable_calls``, those that found the
    focal channel closed (its ``open_hours``): subtract them for the calls the
    centre answers.
``callers_continue_share``
    Of callers, share whose next step after their first call is another channel.
``mean_journey_minutes``
    From the first contact to the end of the last one.
``cost_total``, ``cost_per_customer``
    Agent hours in the window times ``cost_per_agent_hour`` plus handled
    contacts (wasted async answers included) times ``cost_per_contact``.

Per channel, waits (``mean_wait_min``, ``p_wait``, ``service_level``) are over
the live contacts offered (called-back contacts have their own
``callbacks_*`` figures); ``abandon_rate`` is over every offered contact.
Agent time of a group that answers several channels is shared among them in
proportion to the busy time each took (``agent_hours``, ``occupancy``,
``cost``); the ``groups`` table has each group's own figures.

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

# the names of the figures, imported from here too
from .figures import (ALL_CHANNEL_METRICS, CALLBACK_METRICS, CHANNEL_METRICS, CONCURRENCY_METRICS,  # noqa: F401
                      COUNT_METRICS, GIVE_UP, GROUP_METRICS, HOURLY_GROUP_METRICS, HOURLY_METRICS, KPI_NAMES,
                      SHARE_METRICS, table_columns)
from .figures import RESOLVED as RESOLVED_LABEL
from .journeys import ABANDONED, CALLED_BACK, CLOSED, NEXT_GIVE_UP, NEXT_RESOLVED, RESOLVED, UNRESOLVED
from .model import ReplicationOutput
from .scenario import Scenario

__all__ = [
    "KPI_NAMES",
    "CHANNEL_METRICS",
    "COUNT_METRICS",
    "SHARE_METRICS",
    "clip_interval",
    "INTERVAL_METHOD",
    "HOURLY_METRICS",
    "GROUP_METRICS",
    "HOURLY_GROUP_METRICS",
    "LogTotals",
    "table_columns",
    "replication_metrics",
    "hourly_metrics",
    "hourly_group_metrics",
    "summarize",
    "confidence_interval",
    "mean_interval",
    "sample_skewness",
    "MIN_SKEWNESS_REPLICATIONS",
]

#: Row of the tidy per-replication table.
Row = tuple[str, str, str, float]


def _share(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else math.nan


class LogTotals:
    """Additive totals of completed journeys: everything the KPIs are ratios of.

    The totals of two sets of whole journeys add up, so a long replication can
    hand its journey log over in chunks (:meth:`add`) and keep only the
    journeys still under way: memory stays flat however many customers there
    are. Rows of a chunk must hold whole journeys, sorted by customer then
    ``seq`` (as :meth:`~simulator.journeys.JourneyLog.to_arrays` gives them).
    """

    def __init__(self, scenario: Scenario):
        self.channel_names = scenario.channel_names
        self.focal = self.channel_names.index(scenario.focal_channel)
        self.on_time_limit = np.array([c.service_level_seconds / 60.0 for c in scenario.channels])
        self.promise = np.array([c.callback.within_minutes if c.callback else np.inf for c in scenario.channels])
        self.period = scenario.period_hours
        n = len(self.channel_names)
        self.journey = dict.fromkeys(
            ("customers", "contacts", "resolved", "first_contact_resolved", "multichannel",
             "callers", "callers_continue", "focal_contacts", "focal_closed", "avoidable", "avoidable_closed",
             "journey_minutes"), 0.0)
        self.before_call = np.zeros(n)
        self.after_call = {code: 0 for code in (*range(n), NEXT_GIVE_UP, NEXT_RESOLVED)}
        # per channel: contact counts and sums
        self.channel = {key: np.zeros(n) for key in (
            "contacts", "closed", "served", "abandoned", "resolved", "live", "wait_sum", "waited",
            "on_time", "handle_sum", "callbacks_offered", "called_back", "called_back_served",
            "called_back_on_time", "callback_wait_sum")}
        # per channel and hour of the period
        self.hourly = {key: np.zeros((n, self.period)) for key in (
            "contacts", "offered", "abandoned", "live", "wait_sum", "on_time")}

    def add(self, a: dict[str, np.ndarray]) -> None:
        """Add the journeys in the log columns ``a`` (whole journeys only)."""
        if not len(a["customer"]):
            return
        n = len(self.channel_names)
        focal = self.focal
        seq, channel, outcome, nxt = a["seq"], a["channel"].astype(np.int64), a["outcome"], a["next"]
        wait, handle, time = a["wait"], a["handle"], a["time"]
        _, customer = np.unique(a["customer"], return_inverse=True)  # 0..m-1
        m = int(customer.max()) + 1
        first, last = seq == 0, nxt < 0
        if np.count_nonzero(first) != m or np.count_nonzero(last) != m:
            raise ValueError("LogTotals.add needs whole journeys (one first and one last contact each)")

        # (customer, channel) pairs, not an m x n table: memory stays O(rows) with many channels
        pair = customer * n + channel
        is_focal = channel == focal
        focal_rows = np.flatnonzero(is_focal)
        _, first_of = np.unique(customer[focal_rows], return_index=True)
        first_calls = focal_rows[first_of]
        callers = customer[first_calls]
        first_call_seq = np.full(m, np.iinfo(np.int64).max)
        first_call_seq[callers] = seq[first_calls]
        is_caller = np.zeros(m, dtype=bool)
        is_caller[callers] = True
        before = (seq < first_call_seq[customer]) & is_caller[customer]
        after_codes = nxt[first_calls]

        j = self.journey
        j["customers"] += m
        j["contacts"] += len(seq)
        j["resolved"] += np.count_nonzero(nxt == NEXT_RESOLVED)
        j["first_contact_resolved"] += np.count_nonzero(first & (outcome == RESOLVED))
        j["multichannel"] += np.count_nonzero(np.bincount(np.unique(pair) // n, minlength=m) >= 2)
        j["callers"] += len(callers)
        j["callers_continue"] += np.count_nonzero((after_codes >= 0) & (after_codes != focal))
        j["focal_contacts"] += len(focal_rows)
        j["avoidable"] += np.count_nonzero(is_focal & (seq > 0))
        focal_closed = is_focal & (outcome == CLOSED)
        j["focal_closed"] += np.count_nonzero(focal_closed)
        j["avoidable_closed"] += np.count_nonzero(focal_closed & (seq > 0))
        # the customer's last contact ends after the wait, and after the handling if served (an
        # abandoned message's handle time, when answered late, is work done after the customer left)
        served_last = (outcome[last] == RESOLVED) | (outcome[last] == UNRESOLVED)
        j["journey_minutes"] += float(np.sum(time[last] + wait[last] + np.where(served_last, handle[last], 0.0)
                                             - time[first]))
        self.before_call += np.bincount(np.unique(pair[before]) % n, minlength=n)
        codes, counts = np.unique(after_codes, return_counts=True)
        for code, count in zip(codes.tolist(), counts.tolist()):
            self.after_call[code] += count

        closed = outcome == CLOSED
        offered = ~closed
        served = (outcome == RESOLVED) | (outcome == UNRESOLVED)
        abandoned = outcome == ABANDONED
        callback = a["callback"] if "callback" in a else np.zeros(len(seq), dtype=np.int8)
        called_back = callback == CALLED_BACK
        live = offered & ~called_back
        on_time = live & served & (wait <= self.on_time_limit[channel])
        c = self.channel
        for key, mask, weights in (
            ("contacts", None, None), ("closed", closed, None), ("served", served, None),
            ("abandoned", abandoned, None), ("resolved", outcome == RESOLVED, None),
            ("live", live, None), ("wait_sum", live, wait), ("waited", live & (wait > 0), None),
            ("on_time", on_time, None), ("handle_sum", served, handle),
            ("callbacks_offered", callback > 0, None), ("called_back", called_back, None),
            ("called_back_served", called_back & served, None),
            ("called_back_on_time", called_back & served & (wait <= self.promise[channel]), None),
            ("callback_wait_sum", called_back & served, wait),
        ):
            sel = channel if mask is None else channel[mask]
            w = None if weights is None else weights[mask]
            c[key] += np.bincount(sel, weights=w, minlength=n)
        period = self.period
        slot = channel * period + (time // 60 % period).astype(np.int64)
        h = self.hourly
        for key, mask, weights in (
            ("contacts", None, None), ("offered", offered, None), ("abandoned", abandoned, None),
            ("live", live, None), ("wait_sum", live, wait), ("on_time", on_time, None),
        ):
            sel = slot if mask is None else slot[mask]
            w = None if weights is None else weights[mask]
            h[key] += np.bincount(sel, weights=w, minlength=n * period).reshape(n, period)


def _channel_shares(scenario: Scenario, out: ReplicationOutput) -> dict[str, dict[int, np.ndarray]]:
    """Each group's agent time shared among its channels, by hour of the period:
    in proportion to the busy time each channel took, or evenly while the group was idle."""
    names = scenario.channel_names
    shares = {}
    for spec in scenario.groups:
        stats = out.groups[spec.name]
        skills = [names.index(c) for c in spec.skills]
        with np.errstate(invalid="ignore", divide="ignore"):
            busy = sum(stats.skills[i] for i in skills)
            shares[spec.name] = {i: np.where(busy > 0, stats.skills[i] / busy, 1.0 / len(skills))
                                 for i in skills}
    return shares


def replication_metrics(scenario: Scenario, totals: LogTotals, out: ReplicationOutput) -> list[Row]:
    """Every metric of one replication as ``(table, channel, metric, value)`` rows.

    ``table`` is ``"kpis"``, ``"channels"``, ``"groups"``, ``"before_call"`` or
    ``"after_call"``; ``channel`` is empty for KPIs, names the group in the
    groups table and the column of the before/after tables. ``totals`` holds
    every counted journey of the replication; ``out`` gives the time integrals
    and wasted async answers.
    """
    j, c = totals.journey, totals.channel
    rows: list[Row] = []
    costs = 0.0
    window = float(out.duration.sum())
    shares = _channel_shares(scenario, out)
    names = scenario.channel_names
    for i, spec in enumerate(scenario.channels):
        offered = c["contacts"][i] - c["closed"][i]
        served = c["served"][i]
        wasted = int(out.wasted[i])
        present = paid = busy = load = agent_cost = 0.0
        for group in scenario.groups_serving(spec.name):
            stats, share = out.groups[group.name], shares[group.name][i]
            present += float(stats.present @ share)
            group_paid = float((stats.present + stats.shrink) @ share)
            paid += group_paid
            agent_cost += group.cost_per_agent_hour * group_paid / 60.0
            busy += float(stats.skills[i].sum())
        if not spec.unlimited:
            load = float(sum(out.groups[g.name].load @ shares[g.name][i] for g in scenario.groups_serving(spec.name)))
        cost = agent_cost + spec.cost_per_contact * (served + wasted)
        costs += cost
        metrics = {
            "contacts": c["contacts"][i],
            "closed": c["closed"][i],
            "served": served,
            "abandoned": c["abandoned"][i],
            "abandon_rate": _share(c["abandoned"][i], offered),
            "resolved": c["resolved"][i],
            "fcr": _share(c["resolved"][i], served),
            "mean_wait_min": _share(c["wait_sum"][i], c["live"][i]),
            "p_wait": _share(c["waited"][i], c["live"][i]),
            "service_level": _share(c["on_time"][i], c["live"][i]),
            "mean_handle_min": _share(c["handle_sum"][i] + out.wasted_handle[i], served + wasted),
            "occupancy": _share(busy, present) if not spec.unlimited else math.nan,
            "mean_queue": _share(float(out.queue_area[i].sum()), window),
            "agent_hours": paid / 60.0,
            "wasted_contacts": wasted,
            "cost": cost,
        }
        if spec.concurrency > 1:
            metrics["slot_occupancy"] = _share(load, present)
        if spec.callback is not None:
            made = c["called_back_served"][i]
            metrics.update({
                "callbacks_offered": c["callbacks_offered"][i],
                "callbacks_accepted": c["called_back"][i],
                "callbacks_made": made,
                "callbacks_within_promise": _share(c["called_back_on_time"][i], made),
                "mean_callback_wait_min": _share(c["callback_wait_sum"][i], made),
            })
        rows += [("channels", spec.name, m, float(v)) for m, v in metrics.items()]

    for group in scenario.groups:
        stats = out.groups[group.name]
        present, busy = float(stats.present.sum()), float(stats.busy.sum())
        paid = present + float(stats.shrink.sum())
        metrics = {
            "agents": _share(present, window),
            "agent_hours": paid / 60.0,
            "occupancy": _share(busy, present),
            "slot_occupancy": _share(float(stats.load.sum()), present),
            "cost": group.cost_per_agent_hour * paid / 60.0,
        }
        for channel in group.skills:
            metrics[f"skill_share.{channel}"] = _share(float(stats.skills[names.index(channel)].sum()), busy)
        rows += [("groups", group.name, m, float(v)) for m, v in metrics.items()]

    customers, callers = j["customers"], j["callers"]
    kpis = {
        "customers": customers,
        "contacts": j["contacts"],
        "contacts_per_customer": _share(j["contacts"], customers),
        "resolution_rate": _share(j["resolved"], customers),
        "give_up_rate": _share(customers - j["resolved"], customers),
        "first_contact_resolution": _share(j["first_contact_resolved"], customers),
        "multichannel_share": _share(j["multichannel"], customers),
        "caller_share": _share(callers, customers),
        "focal_contacts": j["focal_contacts"],
        "focal_closed": j["focal_closed"],
        "avoidable_calls": j["avoidable"],
        "avoidable_closed": j["avoidable_closed"],
        "avoidable_call_share": _share(j["avoidable"], j["focal_contacts"]),
        "callers_continue_share": _share(j["callers_continue"], callers),
        "mean_journey_minutes": _share(j["journey_minutes"], customers),
        "cost_total": costs,
        "cost_per_customer": _share(costs, customers),
    }
    rows = [("kpis", "", k, float(v)) for k, v in kpis.items()] + rows

    for i, name in enumerate(names):
        if i != totals.focal:
            rows.append(("before_call", name, "share", _share(totals.before_call[i], callers)))
    after_targets = [(name, i) for i, name in enumerate(names)]
    after_targets += [(GIVE_UP, NEXT_GIVE_UP), (RESOLVED_LABEL, NEXT_RESOLVED)]
    for label, code in after_targets:
        rows.append(("after_call", label, "share", _share(totals.after_call[code], callers)))
    return rows


def hourly_metrics(scenario: Scenario, totals: LogTotals,
                   out: ReplicationOutput) -> list[tuple[str, int, str, float]]:
    """Channel metrics by hour of the period (of the day, or of the week from
    Monday 0:00), as ``(channel, hour, metric, value)`` rows.

    ``contacts`` is per hour (contacts of counted customers that started in
    that hour of the period, divided by the times that hour occurred in the
    window: per day for a daily period), ``closed`` those of them that found
    the channel closed, counted the same way; waits, abandonment and service level
    are over the contacts offered in that hour; ``mean_queue``, ``agents`` and
    ``occupancy`` are time averages over that hour within the measured window
    (a shared group's agents counted by the share of their busy time each
    channel took).
    """
    h = totals.hourly
    duration = out.duration
    occurrences = duration / 60.0
    shares = _channel_shares(scenario, out)
    rows = []
    for i, spec in enumerate(scenario.channels):
        staffed = not spec.unlimited
        present = busy = 0.0
        for group in scenario.groups_serving(spec.name):
            present = present + out.groups[group.name].present * shares[group.name][i]
            busy = busy + out.groups[group.name].skills[i]
        for hour in range(totals.period):
            live = h["live"][i, hour]
            values = {
                "contacts": _share(h["contacts"][i, hour], occurrences[hour]),
                "closed": _share(h["contacts"][i, hour] - h["offered"][i, hour], occurrences[hour]),
                "abandon_rate": _share(h["abandoned"][i, hour], h["offered"][i, hour]),
                "mean_wait_min": _share(h["wait_sum"][i, hour], live),
                "service_level": _share(h["on_time"][i, hour], live),
                "mean_queue": _share(out.queue_area[i, hour], duration[hour]),
                "agents": _share(present[hour], duration[hour]) if staffed else math.nan,
                "occupancy": _share(busy[hour], present[hour]) if staffed else math.nan,
            }
            rows += [(spec.name, hour, m, float(v)) for m, v in values.items()]
    return rows


def hourly_group_metrics(scenario: Scenario, out: ReplicationOutput) -> list[tuple[str, int, str, float]]:
    """Agent-group metrics by hour of the period, as ``(group, hour, metric, value)``
    rows: ``agents`` present on average, ``occupancy`` (busy / present) and
    ``slot_occupancy`` (contacts held over what the agents present could hold)."""
    rows = []
    duration = out.duration
    for group in scenario.groups:
        stats = out.groups[group.name]
        for hour in range(len(duration)):
            present = stats.present[hour]
            values = {"agents": _share(present, duration[hour]),
                      "occupancy": _share(stats.busy[hour], present),
                      "slot_occupancy": _share(stats.load[hour], present)}
            rows += [(group.name, hour, m, float(v)) for m, v in values.items()]
    return rows


#: Fewest replications whose skewness the interval corrects for. The sample skewness of fewer values
#: is mostly noise: with 6 normal values it passes the point where the correction is held (|G1| about
#: 0.9) a quarter of the time, widening a symmetric figure's interval by 30 % on average without covering
#: more often; with 8 by 17 %, with 10 by 10 %, with 20 by 1 %, while the correction lifts the coverage
#: of skewed figures (mean waits, exponential values) by 4-8 points (40,000 samples of each size).
MIN_SKEWNESS_REPLICATIONS = 8


def sample_skewness(values: Iterable[float]) -> float:
    """Adjusted sample skewness ``G1 = k3 / s^3`` of the non-NaN values (0 with fewer than 3 or no spread).

    ``k3 = n / ((n - 1)(n - 2)) sum (x - mean)^3`` is the unbiased third
    cumulant and ``s`` the standard deviation with ``n - 1``; ``|G1| <= sqrt(n)``.

    Examples
    --------
    >>> round(sample_skewness([1.0, 2.0, 3.0, 10.0]), 3)
    1.764
    >>> sample_skewness([1.0, 2.0, 3.0]), sample_skewness([5.0, 5.0, 5.0])
    (0.0, 0.0)
    """
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    n = len(x)
    if n < 3:
        return 0.0
    deviations = x - x.mean()
    return float(_skewness(np.sum(deviations**2), np.sum(deviations**3), n))


def _skewness(sum_squares, sum_cubes, n):
    """G1 from the sums of squared and cubed deviations of ``n`` values (arrays or numbers); 0 where undefined."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        k3 = n * sum_cubes / ((n - 1) * (n - 2))
        g = k3 / (sum_squares / (n - 1)) ** 1.5
    return np.where((n >= 3) & np.isfinite(g), g, 0.0)


def mean_interval(mean, sd, skewness, n, level: float = 0.95):
    """Confidence interval of a mean from ``n`` independent values: Student t, corrected for skewness.

    The Student-t interval ``mean ± t s / sqrt(n)`` assumes that the mean of
    the values is symmetric about the truth and independent of their spread.
    Skewed values break both: a replication's mean wait in a busy queue is
    usually below the truth, and its spread small with it, so the t interval
    misses the truth above far more often than the 2.5 % it promises (95 %
    intervals from 10 six-hour replications of a queue at 95 % load contain
    the exact mean wait about 86 % of the time). Here the Studentized mean
    ``T = sqrt(n) (mean - mu) / s`` is made symmetric by Hall's (1992)
    transformation ``g(T) = T + 2a T^2 + 4/3 a^2 T^3 + a``, with
    ``a = G1 / (6 sqrt(n))`` from the sample skewness ``G1``
    (:func:`sample_skewness`). Inverting it gives Willink's (2005) interval,
    the skewness correction of the Skart procedure for simulation output::

        [mean - s/sqrt(n) G(t), mean - s/sqrt(n) G(-t)],
        G(r) = ((1 + 6a (r - a))^(1/3) - 1) / (2a),

    ``t`` being the Student-t quantile with ``n - 1`` degrees of freedom. The
    interval reaches further on the side the values are skewed to. The cubic
    ``g`` is flat at ``T = -1/(2a)``; where ``G(-t)`` would pass that point
    (``6 |a| (t + |a|) > 1``, a sample skewness above about 1.4 with 10
    values) the inverse stops following the expansion ``g`` comes from and
    the interval jumps to 2.4 times the t interval's width for moderate
    skewness, less for strong: ``|a|`` is held at that point, so the interval
    widens steadily with the skewness, to at most about twice the t
    interval's width. It is never narrower than the t interval, and is the t
    interval without skewness and with fewer than
    :data:`MIN_SKEWNESS_REPLICATIONS` values.

    Takes numbers or arrays; NaN with fewer than 2 values.

    Examples
    --------
    >>> low, high = mean_interval(3.0, 2.0, skewness=0.0, n=10)   # Student t
    >>> round(low, 3), round(high, 3)
    (1.569, 4.431)
    >>> low, high = mean_interval(3.0, 2.0, skewness=1.0, n=10)   # skewed right: reaches further up
    >>> round(low, 3), round(high, 3)
    (1.841, 5.132)
    """
    n = np.asarray(n, dtype=float)
    sd = np.asarray(sd, dtype=float)
    ok = n > 1
    t = stats.t.ppf(0.5 + level / 2, np.where(ok, n - 1, 1))
    se = sd / np.sqrt(np.where(ok, n, 1))
    skewness = np.where(n >= MIN_SKEWNESS_REPLICATIONS, np.asarray(skewness, dtype=float), 0.0)
    a = skewness / (6 * np.sqrt(np.maximum(n, 1)))
    a = np.where(np.isfinite(a) & (se > 0), a, 0.0)
    flat = (np.sqrt(t * t + 2 / 3) - t) / 2  # the |a| at which G(-t) reaches g's flat point
    a = np.clip(a, -flat, flat)

    def inverse(r):  # G(r), written so that it stays exact as a goes to 0: (c - 1) / (2a) with c^3 - 1 = 6a (r - a)
        c = np.cbrt(1 + 6 * a * (r - a))
        return 3 * (r - a) / (c * c + c + 1)

    low = np.where(ok, mean - se * inverse(t), np.nan)
    high = np.where(ok, mean - se * inverse(-t), np.nan)
    return (float(low), float(high)) if low.ndim == 0 else (low, high)


def confidence_interval(values: Iterable[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and confidence interval (:func:`mean_interval`) of independent replication values.

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
    low, high = mean_interval(mean, float(x.std(ddof=1)), sample_skewness(x), n, level)
    return mean, low, high


#: How every interval of a figure is made, for notes under tables.
INTERVAL_METHOD = ("95 % CI: Student t across replications, corrected for their skewness from 8 replications "
                   "(Hall-Willink), clipped to what the figure can be "
                   "(0–100 % for shares, at least 0 for counts, times and costs)")


def clip_interval(low, high, share):
    """A confidence interval clipped to what a figure can be: within [0, 1] for a share, at least 0
    otherwise (every figure contactflow reports is a share, count, time, ratio of counts or cost).

    A Student-t interval from few or skewed replications can reach past those
    bounds (a service level above 100 %, a negative count); the part past
    them is impossible. Takes numbers or arrays (``share`` too, one flag per
    interval); NaN stays NaN.

    Examples
    --------
    >>> clip_interval(-0.03, 1.02, share=True)
    (0.0, 1.0)
    >>> clip_interval(0.979, 1.014, share=True)
    (0.979, 1.0)
    >>> clip_interval(-12.0, 40.0, share=False)
    (0.0, 40.0)
    """
    low = np.maximum(np.asarray(low, dtype=float), 0.0)  # np.maximum keeps NaN: undefined stays undefined
    high = np.asarray(high, dtype=float)
    low, high = np.where(share, np.minimum(low, 1.0), low), np.where(share, np.minimum(high, 1.0), high)
    return (float(low), float(high)) if np.ndim(low) == 0 and np.ndim(high) == 0 else (low, high)


def summarize(per_replication: pd.DataFrame, level: float = 0.95,
              keys: tuple[str, ...] = ("table", "channel", "metric"), clip: bool = True) -> pd.DataFrame:
    """Mean, CI and replication count of every metric in a tidy per-replication table.

    Parameters
    ----------
    per_replication
        A ``replication`` column, the ``keys`` columns and a ``value`` column.
    clip
        Clip each interval to what its metric can be (:func:`clip_interval`;
        the ``metric`` key says which are shares). Turn off for values that
        are not the metrics themselves, such as paired differences.

    Returns
    -------
    DataFrame indexed by ``keys`` with columns ``mean, ci_low, ci_high, n``,
    in the order the metrics first appear: the mean and the interval of
    :func:`mean_interval` across replications (Student t corrected for the
    replications' skewness; NaN with fewer than 2), clipped.
    """
    keys = list(keys)
    valid = per_replication.dropna(subset=["value"])
    deviation = valid["value"] - valid.groupby(keys, sort=False)["value"].transform("mean")
    moments = valid[keys].assign(value=valid["value"], squares=deviation**2, cubes=deviation**3)
    grouped = moments.groupby(keys, sort=False).agg(
        mean=("value", "mean"), std=("value", "std"), count=("value", "count"),
        squares=("squares", "sum"), cubes=("cubes", "sum"))
    # keep metrics that are NaN in every replication, in first-appearance order
    order = per_replication[keys].drop_duplicates()
    frame = order.set_index(keys).join(grouped)
    n = frame["count"].fillna(0).astype(int)
    skewness = _skewness(frame["squares"].to_numpy(), frame["cubes"].to_numpy(), n.to_numpy())
    low, high = mean_interval(frame["mean"].to_numpy(), frame["std"].to_numpy(), skewness, n.to_numpy(), level)
    if clip:
        low, high = clip_interval(low, high, frame.index.get_level_values("metric").isin(SHARE_METRICS))
    return pd.DataFrame({"mean": frame["mean"], "ci_low": low, "ci_high": high, "n": n}, index=frame.index)
