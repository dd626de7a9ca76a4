"""The shared look of charts and reports: colours, readable names, number formats.

Every chart of :mod:`simulator.plots` and the HTML report of
:mod:`simulator.html_report` take their colours, the names they show for
channels and figures, and the way they write numbers from here, so a channel
has one colour and one name everywhere and a number is written one way.

- **Colours.** :data:`CHANNEL_PALETTE` holds 13 channel colours chosen to stay
  apart for readers with normal colour vision and under simulated
  deuteranopia and protanopia (CIEDE2000 distance of at least 11 between any
  two of them and the journey ends' colours, :data:`OUTCOME_COLORS`). It starts
  with the Okabe–Ito colours of the common channels. Scenario colours
  (:data:`SCENARIO_COLORS`) are greys and slates, so a scenario can never be
  taken for a channel.
- **Names.** :func:`channel_name` gives a channel's label, or its name made
  readable; :func:`figure_label` gives a figure's title and unit.
- **Numbers.** Counts with thousands separators (:func:`format_count`), shares
  in per cent (:func:`format_share`), differences of shares in points
  (:func:`format_points`), waits of live channels in seconds and of
  asynchronous ones in minutes or hours (:func:`format_wait`).
- **Intervals.** :func:`clip_interval` keeps a confidence interval within what
  the figure can be (a share within 0–100 %, a count or time at least 0).

Examples
--------
>>> from simulator import style
>>> style.format_count(12345.6), style.format_share(0.1514), style.format_wait(0.7, live=True)
('12,346', '15.1 %', '42 s')
>>> style.clip_interval(-0.06, 0.14, share=True)
(0.0, 0.14)
"""

from __future__ import annotations

import math
import textwrap
from functools import lru_cache
from typing import Iterable

from matplotlib.font_manager import FontProperties
from matplotlib.textpath import TextToPath

from .figures import GIVE_UP, RESOLVED, SHARE_METRICS, is_share  # noqa: F401  (is_share: charts import it from here)
from .metrics import clip_interval  # noqa: F401  (one definition, in the data layer; charts and reports use it)
from .scenario import Scenario

__all__ = [
    "CHANNEL_PALETTE",
    "FIXED_COLORS",
    "OUTCOME_COLORS",
    "OUTCOME_LABELS",
    "SCENARIO_COLORS",
    "SCENARIO_MARKERS",
    "KPI_LABELS",
    "channel_colors",
    "channel_name",
    "figure_label",
    "is_share",
    "clip_interval",
    "format_count",
    "format_number",
    "format_share",
    "format_points",
    "format_signed",
    "format_wait",
    "text_width",
    "wrap_text",
    "MINUS",
]

# --------------------------------------------------------------------------- colours

#: Channel colours, in the order channels without a fixed colour take them.
#: The first five are Okabe & Ito's (2008) colour-blind-safe blue, vermillion,
#: reddish purple, orange and sky blue; the rest were chosen to stay apart from
#: them and from each other under simulated deuteranopia and protanopia.
CHANNEL_PALETTE = ("#0072B2", "#D55E00", "#CC79A7", "#E69F00", "#56B4E9", "#9E0F00", "#A5D296",
                   "#0F8078", "#3C704B", "#4487FF", "#802670", "#4B08E1", "#E18796")

#: Colours of well-known channel names (and their common spellings).
FIXED_COLORS = {
    "web": CHANNEL_PALETTE[0],
    "phone": CHANNEL_PALETTE[1],
    "chat": CHANNEL_PALETTE[2],
    "email": CHANNEL_PALETTE[3],
    "app": CHANNEL_PALETTE[4],
    "ivr": CHANNEL_PALETTE[5],
    "sms": CHANNEL_PALETTE[6],
    "social": CHANNEL_PALETTE[7],
}
_ALIASES = {
    "web": ("website", "site", "online", "portal", "faq", "selfservice", "self_service", "self-service"),
    "app": ("mobile", "mobile_app", "apps", "mobileapp"),
    "email": ("mail", "e-mail", "e_mail", "emails", "messages", "message", "secure_message",
              "secure_messages", "letter"),
    "chat": ("livechat", "live_chat", "webchat", "web_chat", "messaging", "whatsapp", "chatbot", "bot"),
    "phone": ("call", "calls", "voice", "telephone", "callcentre", "call_centre", "call-centre",
              "callcenter", "call_center", "call-center", "contact_centre"),
    "sms": ("text", "texts"),
    "social": ("twitter", "facebook", "social_media"),
}
#: Colours of the journey ends and of the "more contacts" bucket: a bluish
#: green that stays apart from the vermillion of phone under deuteranopia, a
#: dark grey and a light grey.
OUTCOME_COLORS = {RESOLVED: "#009E73", GIVE_UP: "#4A4A4A", "later": "#BBBBBB"}
OUTCOME_LABELS = {RESOLVED: "Resolved", GIVE_UP: "Gave up", "later": "More contacts"}
#: Colours of scenarios in comparisons, the base first: greys and slates
#: (CIELAB chroma under 12, every channel colour has over 30), so a scenario
#: is never taken for a channel. Markers tell them apart in line charts.
SCENARIO_COLORS = ("#A3A3A3", "#2B2B2B", "#5A6878", "#8E8579", "#3F4957", "#6E6E6E", "#B5AFA3")
SCENARIO_MARKERS = ("o", "s", "^", "D", "v", "P", "X")


def channel_colors(names: Iterable[str]) -> dict[str, str]:
    """Colour of each channel, the same in every chart.

    Well-known names (``web``, ``phone``, ``chat``, ``email``, ``app``,
    ``ivr``, ``sms``, ``social`` and common spellings such as ``call_centre``)
    get fixed colours; other names take the colours of :data:`CHANNEL_PALETTE`
    not yet taken, in the order given (after 13 channels, colours repeat).
    ``give_up``, ``resolved`` and ``later`` always get the colours of
    :data:`OUTCOME_COLORS` and are added to the mapping.

    Parameters
    ----------
    names
        Channel names, in the scenario's order (``scenario.channel_names``).

    Examples
    --------
    >>> colors = channel_colors(["web", "chat", "phone", "kiosk"])
    >>> colors["phone"], colors["kiosk"], colors["resolved"]
    ('#D55E00', '#E69F00', '#009E73')
    """
    names = list(names)
    colors: dict[str, str] = {}
    taken = set()
    for name in names:
        key = name.lower()
        for canonical, aliases in _ALIASES.items():
            if key in aliases:
                key = canonical
        color = FIXED_COLORS.get(key)
        if color is not None and color not in taken:
            colors[name] = color
            taken.add(color)
    spare = [c for c in CHANNEL_PALETTE if c not in taken]
    for i, name in enumerate(n for n in names if n not in colors):
        colors[name] = spare.pop(0) if spare else CHANNEL_PALETTE[i % len(CHANNEL_PALETTE)]
    colors.update(OUTCOME_COLORS)
    return colors


# --------------------------------------------------------------------------- names

#: Channel names written in capitals when a scenario gives no label.
_ACRONYMS = {"sms", "ivr", "faq", "mms", "rcs", "api"}


def channel_name(scenario: Scenario | None, name: str) -> str:
    """The one name a reader sees for a channel (or a journey end) in every chart and report.

    The channel's ``label`` when the scenario gives one; otherwise its name with
    underscores as spaces and a capital first letter (acronyms in capitals).

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> channel_name(sc, "phone"), channel_name(None, "call_centre"), channel_name(None, "sms")
    ('Call centre', 'Call centre', 'SMS')
    >>> channel_name(sc, "give_up")
    'Gave up'
    """
    if name in OUTCOME_LABELS:
        return OUTCOME_LABELS[name]
    if scenario is not None:
        try:
            label = scenario.channel(name).label
        except KeyError:
            label = ""
        if label:
            return label
    words = name.replace("_", " ").replace("-", " ").split()
    words = [w.upper() if w.lower() in _ACRONYMS else w for w in words]
    text = " ".join(words) or name
    return text[0].upper() + text[1:]


#: Human-readable names and units of the KPIs (shares are shown in %).
KPI_LABELS = {
    "customers": ("Customers", "customers"),
    "contacts": ("Contacts", "contacts"),
    "contacts_per_customer": ("Contacts per customer", "contacts"),
    "resolution_rate": ("Resolution rate", "% of customers"),
    "give_up_rate": ("Give-up rate", "% of customers"),
    "first_contact_resolution": ("First-contact resolution", "% of customers"),
    "multichannel_share": ("Customers using 2+ channels", "% of customers"),
    "caller_share": ("Customers who call", "% of customers"),
    "focal_contacts": ("Calls", "contacts"),
    "focal_closed": ("Calls to the closed centre", "calls"),
    "avoidable_calls": ("Avoidable calls", "calls"),
    "avoidable_closed": ("Avoidable calls to the closed centre", "calls"),
    "avoidable_call_share": ("Avoidable calls", "% of calls"),
    "callers_continue_share": ("Callers moving on to another channel", "% of callers"),
    "mean_journey_minutes": ("Journey length", "minutes"),
    "cost_total": ("Total cost", "currency units"),
    "cost_per_customer": ("Cost per customer", "currency units"),
}

#: Readable names of the per-channel metrics.
CHANNEL_METRIC_LABELS = {
    "contacts": "contacts", "closed": "met closed", "served": "served", "abandoned": "abandoned",
    "abandon_rate": "abandonment", "resolved": "resolved", "fcr": "first-contact resolution",
    "mean_wait_min": "mean wait", "p_wait": "share that waited", "service_level": "service level",
    "mean_handle_min": "mean handle time", "occupancy": "occupancy", "mean_queue": "mean queue",
    "agent_hours": "agent hours", "wasted_contacts": "wasted answers", "cost": "cost",
}


def figure_label(key: str, scenario: Scenario | None = None) -> tuple[str, str]:
    """(title, unit) of a KPI or of a ``table.channel[.metric]`` figure, with readable channel names.

    Examples
    --------
    >>> figure_label("give_up_rate")
    ('Give-up rate', '% of customers')
    >>> figure_label("channels.phone.service_level")
    ('Phone: service level', '%')
    >>> figure_label("after_call.give_up")
    ('Callers who give up after the call', '% of callers')
    >>> figure_label("groups.desk.occupancy")
    ('desk (group): occupancy', '%')
    """
    if key in KPI_LABELS:
        return KPI_LABELS[key]
    parts = key.split(".")

    def name(n: str) -> str:
        return OUTCOME_LABELS[n].lower() if n in OUTCOME_LABELS else channel_name(scenario, n)

    if parts[0] == "before_call" and len(parts) == 2:
        return f"Callers who used {name(parts[1])} before calling", "% of callers"
    if parts[0] == "after_call" and len(parts) == 2:
        if parts[1] == GIVE_UP:
            return "Callers who give up after the call", "% of callers"
        if parts[1] == RESOLVED:
            return "Callers resolved by the call", "% of callers"
        return f"Callers who turn to {name(parts[1])} after the call", "% of callers"
    if parts[0] == "channels" and len(parts) == 3:
        metric = parts[2]
        unit = "%" if metric in SHARE_METRICS else ("minutes" if metric.endswith("_min") else "")
        return f"{name(parts[1])}: {CHANNEL_METRIC_LABELS.get(metric, metric.replace('_', ' '))}", unit
    if parts[0] == "groups" and len(parts) >= 3:  # groups.desk.occupancy, groups.desk.skill_share.chat
        group = parts[1]
        if scenario is not None and group in scenario.group_names:
            group = scenario.group(group).display_name
        metric = ".".join(parts[2:])
        if metric.startswith("skill_share.") and len(parts) == 4:
            return f"{group} (group): busy time on {name(parts[3])}", "%"
        return f"{group} (group): {metric.replace('_', ' ')}", "%" if metric in SHARE_METRICS else ""
    return key.replace("_", " ").capitalize(), ""


# --------------------------------------------------------------------------- numbers

#: The minus sign used in charts and reports (matplotlib writes negative ticks with it too).
MINUS = "\u2212"


def _nan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def format_count(value: float) -> str:
    """A count (or a count a day) with thousands separators; one decimal below 10.

    Examples
    --------
    >>> format_count(5838.4), format_count(42.6), format_count(2.46), format_count(0)
    ('5,838', '43', '2.5', '0')
    """
    if _nan(value):
        return "–"
    value = float(value)
    if value == 0:
        return "0"
    text = f"{value:,.0f}" if abs(value) >= 9.95 else f"{value:.1f}"
    return text.replace("-", MINUS)


def format_number(value: float) -> str:
    """A quantity such as a cost or a ratio: thousands separators, and decimals when it is small.

    Examples
    --------
    >>> format_number(18254.3), format_number(312.44), format_number(31.24), format_number(3.127)
    ('18,254', '312', '31.2', '3.13')
    >>> format_number(0.0041), format_number(2e-16)
    ('0.0041', '0')
    """
    if _nan(value):
        return "–"
    value = float(value)
    magnitude = abs(value)
    if magnitude < 1e-9:  # rounding noise of a difference that is 0
        return "0"
    if magnitude >= 0.01:
        text = f"{value:,.0f}" if magnitude >= 100 else f"{value:.1f}" if magnitude >= 10 else f"{value:.2f}"
    else:  # two significant digits, never in scientific notation
        text = f"{value:.{1 - math.floor(math.log10(magnitude))}f}"
    return text.replace("-", MINUS)


def format_share(value: float, decimals: int = 1) -> str:
    """A share in per cent.

    Examples
    --------
    >>> format_share(0.0364), format_share(1.0, 0)
    ('3.6 %', '100 %')
    """
    if _nan(value):
        return "–"
    return f"{100 * float(value):.{decimals}f} %".replace("-", MINUS)


def format_signed(text: str, value: float) -> str:
    """``text`` with the sign of ``value`` in front (``+`` or the minus sign; nothing for 0)."""
    text = text.lstrip("-" + MINUS)
    return (MINUS if value < 0 else "+" if value > 0 else "") + text


def format_points(value: float, decimals: int = 1) -> str:
    """A difference of two shares in percentage points, with its sign.

    Examples
    --------
    >>> format_points(-0.0182), format_points(0.004)
    ('−1.8 points', '+0.4 points')
    """
    if _nan(value):
        return "–"
    return format_signed(f"{abs(100 * value):.{decimals}f}", round(100 * value, decimals)) + " points"


def format_wait(minutes: float, live: bool) -> str:
    """A wait: in seconds for a live channel, in minutes or hours for an asynchronous one.

    Examples
    --------
    >>> format_wait(0.7, live=True), format_wait(25.0, live=True)
    ('42 s', '1,500 s')
    >>> format_wait(95.0, live=False), format_wait(190.0, live=False)
    ('95 min', '3.2 h')
    """
    if _nan(minutes):
        return "–"
    if live:
        return f"{60 * minutes:,.0f} s"
    if minutes < 120:
        return f"{minutes:,.0f} min" if minutes >= 10 else f"{minutes:.1f} min"
    hours = minutes / 60
    return f"{hours:,.0f} h" if hours >= 9.95 else f"{hours:.1f} h"


# --------------------------------------------------------------------------- text


@lru_cache(maxsize=4096)
def text_width(text: str, size: float, bold: bool = False) -> float:
    """Width in points of a line of text in the charts' font (the widest line if there are several).

    Examples
    --------
    >>> text_width("Customer care phone line", 12) > text_width("Phone", 12)
    True
    """
    props = FontProperties(size=size, weight="bold" if bold else "normal")
    widths = [TextToPath().get_text_width_height_descent(line, props, ismath=False)[0]
              for line in text.split("\n")]
    return max(widths, default=0.0)


def wrap_text(text: str, width_points: float, size: float, max_lines: int | None = None, bold: bool = False) -> str:
    """Break ``text`` on spaces into lines no wider than ``width_points`` (a single long word stays whole;
    no-break spaces do not break).

    With ``max_lines``, the last line kept ends in an ellipsis when the text
    needed more lines.

    Examples
    --------
    >>> wrap_text("WhatsApp Business messaging", 110, 12)
    'WhatsApp\\nBusiness\\nmessaging'
    >>> wrap_text("WhatsApp Business messaging", 500, 12)
    'WhatsApp Business messaging'
    """
    words = text.split(" ")  # not on no-break spaces: "line\u00a0·\u00a0870" stays together
    words = [w for part in words for w in part.split("\n") if w]
    lines: list[str] = []
    for word in words:
        if lines and text_width(f"{lines[-1]} {word}", size, bold) <= width_points:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if max_lines is not None and len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_width(last + "…", size, bold) > width_points:
            last = last[:-1]
        lines[-1] = last.rstrip() + "…"
    return "\n".join(lines) if lines else text


def wrap_chars(text: str, chars: int) -> str:
    """Break ``text`` into lines of at most ``chars`` characters (for footnotes)."""
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))
