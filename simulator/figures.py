"""The names of the figures contactflow reports, and what kind of number each is.

A figure is named as in the tidy tables of a result: a KPI by its name
(``give_up_rate``), a channel's figure as ``channels.CHANNEL.METRIC``, an
agent group's as ``groups.GROUP.METRIC``, a column of the before- and
after-the-call tables as ``before_call.CHANNEL`` and ``after_call.TARGET``.
Scenario files (``reference.figures``), precision targets, calibration
targets, staffing targets and charts all use these names; this module is the
one list of them, below everything that computes or shows them.

How each figure is computed is in :mod:`simulator.metrics`.

Examples
--------
>>> figure_index("channels.phone.service_level")
('channels', 'phone', 'service_level')
>>> "give_up_rate" in KPI_NAMES, "give_up_rate" in SHARE_METRICS
(True, True)
"""

from __future__ import annotations

import math
from typing import Sequence

__all__ = [
    "GIVE_UP",
    "RESOLVED",
    "KPI_NAMES",
    "CHANNEL_METRICS",
    "CONCURRENCY_METRICS",
    "CALLBACK_METRICS",
    "ALL_CHANNEL_METRICS",
    "GROUP_METRICS",
    "HOURLY_GROUP_METRICS",
    "HOURLY_METRICS",
    "DAY_HOURS",
    "WEEK_HOURS",
    "DAY_NAMES",
    "hour_label",
    "SHARE_METRICS",
    "COUNT_METRICS",
    "FIGURE_HELP",
    "table_columns",
    "figure_index",
    "figure_key",
    "no_column_message",
    "is_share",
    "format_value",
    "format_stat",
]

#: Name of the routing target that ends a journey unanswered.
GIVE_UP = "give_up"
#: Name used in the after-the-call table for journeys resolved by the call.
RESOLVED = "resolved"

#: The KPIs of a run, over its customers (defined in :mod:`simulator.metrics`).
KPI_NAMES = (
    "customers", "contacts", "contacts_per_customer", "resolution_rate", "give_up_rate",
    "first_contact_resolution", "multichannel_share", "caller_share", "focal_contacts", "focal_closed",
    "avoidable_calls", "avoidable_closed", "avoidable_call_share", "callers_continue_share",
    "mean_journey_minutes", "cost_total", "cost_per_customer",
)
#: The figures of each channel.
CHANNEL_METRICS = (
    "contacts", "closed", "served", "abandoned", "abandon_rate", "resolved", "fcr",
    "mean_wait_min", "p_wait", "service_level", "mean_handle_min", "occupancy",
    "mean_queue", "agent_hours", "wasted_contacts", "cost",
)
#: Channel metrics reported only where they apply (concurrency, call backs).
CONCURRENCY_METRICS = ("slot_occupancy",)
CALLBACK_METRICS = ("callbacks_offered", "callbacks_accepted", "callbacks_made",
                    "callbacks_within_promise", "mean_callback_wait_min")
ALL_CHANNEL_METRICS = CHANNEL_METRICS + CONCURRENCY_METRICS + CALLBACK_METRICS
#: Per agent group; ``skill_share.CHANNEL`` (share of the group's busy time on
#: each skill) comes after these.
GROUP_METRICS = ("agents", "agent_hours", "occupancy", "slot_occupancy", "cost")
HOURLY_GROUP_METRICS = ("agents", "occupancy", "slot_occupancy")

#: Metrics that are shares, in [0, 1] (printed as percentages); every other metric is a count, time,
#: ratio of counts or cost, at least 0.
SHARE_METRICS = frozenset({
    "resolution_rate", "give_up_rate", "first_contact_resolution", "multichannel_share",
    "caller_share", "avoidable_call_share", "callers_continue_share",
    "abandon_rate", "fcr", "p_wait", "service_level", "occupancy", "share",
    "slot_occupancy", "callbacks_within_promise",
})

#: Figures that are totals over the measured window (they grow with ``run.days``):
#: divided by the days, they read "per day" (planners report "calls a day").
COUNT_METRICS = frozenset({
    "customers", "contacts", "focal_contacts", "focal_closed", "avoidable_calls", "avoidable_closed",
    "cost_total",
    "closed", "served", "abandoned", "resolved", "agent_hours", "wasted_contacts", "cost",
})

#: Hours in a day and in a week: hourly figures, hourly profiles and shift plans have one of these lengths
#: (a week starts on Monday at 0:00, the start of every run).
DAY_HOURS = 24
WEEK_HOURS = 168
#: The days of a week's hourly figures, from Monday.
DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

#: The figures of each channel hour by hour.
HOURLY_METRICS = ("contacts", "closed", "abandon_rate", "mean_wait_min", "service_level",
                  "mean_queue", "agents", "occupancy")

#: How figures are named, for messages.
FIGURE_HELP = ("use a KPI name, channels.CHANNEL.METRIC, groups.GROUP.METRIC, before_call.CHANNEL "
               "or after_call.TARGET")


def table_columns(channel_names: Sequence[str], focal_channel: str) -> dict[str, tuple[str, ...]]:
    """The columns of the per-channel, before-the-call and after-the-call tables of a scenario.

    Examples
    --------
    >>> table_columns(("web", "chat", "phone"), "phone")["before_call"]
    ('web', 'chat')
    >>> table_columns(("web", "phone"), "phone")["after_call"]
    ('web', 'phone', 'give_up', 'resolved')
    """
    names = tuple(channel_names)
    return {"channels": names,
            "before_call": tuple(n for n in names if n != focal_channel),
            "after_call": names + (GIVE_UP, RESOLVED)}


def figure_index(key: str) -> tuple[str, str, str]:
    """The ``(table, channel, metric)`` row of the tidy tables for a figure name.

    Examples
    --------
    >>> figure_index("give_up_rate")
    ('kpis', '', 'give_up_rate')
    >>> figure_index("channels.phone.service_level")
    ('channels', 'phone', 'service_level')
    >>> figure_index("before_call.email")
    ('before_call', 'email', 'share')
    """
    parts = key.split(".")
    if len(parts) == 1 and parts[0]:
        return ("kpis", "", parts[0])
    if len(parts) == 2 and parts[0] in ("before_call", "after_call") and parts[1]:
        return (parts[0], parts[1], "share")
    if len(parts) == 3 and parts[0] == "channels" and parts[1] and parts[2]:
        return ("channels", parts[1], parts[2])
    if len(parts) >= 3 and parts[0] == "groups" and all(parts[1:]):
        return ("groups", parts[1], ".".join(parts[2:]))  # e.g. groups.desk.skill_share.chat
    raise KeyError(f"no figure {key!r}; {FIGURE_HELP}")


def figure_key(table: str, channel: str, metric: str) -> str:
    """The figure name of a tidy row; the inverse of :func:`figure_index`.

    Examples
    --------
    >>> figure_key("channels", "chat", "abandon_rate")
    'channels.chat.abandon_rate'
    """
    if table == "kpis":
        return metric
    if table in ("channels", "groups"):
        return f"{table}.{channel}.{metric}"
    return f"{table}.{channel}"


def no_column_message(table: str, column: str, columns: Sequence[str], focal_channel: str) -> str:
    """Says that a before/after-the-call table has no such column, and which it has.

    Examples
    --------
    >>> no_column_message("before_call", "fax", ["web", "chat"], "phone")
    "before_call has no column 'fax' (columns: web, chat)"
    >>> no_column_message("before_call", "web", [], "phone")
    "before_call has no column 'web' (it has none: phone is the only channel)"
    """
    listing = f"columns: {', '.join(columns)}" if columns else f"it has none: {focal_channel} is the only channel"
    return f"{table} has no column {column!r} ({listing})"


def is_share(figure: str) -> bool:
    """Whether a figure, or a metric, is a share in [0, 1] (written in per cent).

    The shares are :data:`SHARE_METRICS`, the columns of the before- and
    after-the-call tables, and a group's ``skill_share.CHANNEL``.

    Examples
    --------
    >>> is_share("give_up_rate"), is_share("channels.phone.occupancy"), is_share("before_call.web")
    (True, True, True)
    >>> is_share("groups.desk.skill_share.chat"), is_share("skill_share.chat"), is_share("contacts")
    (True, True, False)
    """
    try:
        metric = figure_index(figure)[2]
    except KeyError:  # a metric of a figure, such as skill_share.chat
        metric = figure
    return metric in SHARE_METRICS or metric.startswith("skill_share.")


# --------------------------------------------------------------------------- written in text


def format_value(value: float, metric: str) -> str:
    """A number as a reader wants it: percentages for shares, grouped thousands for counts.

    Examples
    --------
    >>> format_value(0.1514, "give_up_rate"), format_value(12345.6, "contacts"), format_value(3.14159, "mean_wait_min")
    ('15.1 %', '12,346', '3.14')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if is_share(metric):
        return f"{100 * value:.1f} %"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.1f}"
    return f"{value:.3g}" if value else "0"


def format_stat(mean: float, low: float, high: float, metric: str) -> str:
    """``mean [low, high]`` in the metric's format (the interval omitted when undefined, or when its
    ends print the same: a constant up to rounding noise).

    Examples
    --------
    >>> format_stat(0.5, 0.41, 0.59, "share"), format_stat(30.000000000000004, 29.99999999999996, 30.00000000000005, "agents")
    ('50.0 % [41.0, 59.0]', '30')
    >>> format_stat(5.02, 4.9961, 5.05, "cost_per_customer")
    '5.02 [5.00, 5.05]'

    """
    text = format_value(mean, metric)
    if low is None or math.isnan(low) or low == high:
        return text
    if is_share(metric):
        ends = (f"{100 * low:.1f}", f"{100 * high:.1f}")
    else:
        ends = tuple(pad_decimals(format_value(end, metric), decimals_of(text)) for end in (low, high))
    return text if ends[0] == ends[1] else f"{text} [{ends[0]}, {ends[1]}]"


def decimals_of(text: str) -> int:
    """How many decimals a printed number has (0 in scientific notation)."""
    return len(text.partition(".")[2]) if "e" not in text else 0


def pad_decimals(text: str, decimals: int) -> str:
    """A printed number with trailing zeros up to ``decimals`` decimals: an interval's end as precise as
    its mean (``5.02 [5.00, 5.05]``, not ``[5, 5.05]``).

    Examples
    --------
    >>> pad_decimals("5", 2), pad_decimals("68", 2), pad_decimals("4.1", 2), pad_decimals("12.345", 1)
    ('5.00', '68.00', '4.10', '12.345')
    """
    missing = decimals - decimals_of(text)
    if missing <= 0 or "e" in text or not text[-1].isdigit():
        return text
    return text + ("" if "." in text else ".") + "0" * missing


def hour_label(hour: int, period: int = DAY_HOURS) -> str:
    """An hour of the day (or of the week, when ``period`` is a week's hours) as people read it.

    Examples
    --------
    >>> hour_label(8), hour_label(32, WEEK_HOURS)
    ('08:00', 'Tue 08:00')
    """
    return f"{hour:02d}:00" if period == DAY_HOURS else f"{DAY_NAMES[(hour // 24) % 7]} {hour % 24:02d}:00"
