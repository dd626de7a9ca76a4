"""The shared look: colours that stay apart for colour-blind readers, readable names, one number format."""

from __future__ import annotations

import itertools
import math

import matplotlib.colors as mc
import numpy as np
import pytest

import simulator as sim
from simulator import style

# Machado, Oliveira & Fernandes (2009): full-severity deuteranopia and protanopia, on linear RGB.
DEUTERANOPIA = np.array([[0.367322, 0.860646, -0.227968],
                         [0.280085, 0.672501, 0.047413],
                         [-0.011820, 0.042940, 0.968881]])
PROTANOPIA = np.array([[0.152286, 1.052583, -0.204868],
                       [0.114503, 0.786281, 0.099216],
                       [-0.003882, -0.048116, 1.051998]])
SRGB_TO_XYZ = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])


def linear(rgb):
    rgb = np.asarray(rgb, float)
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def gamma(rgb):
    rgb = np.clip(rgb, 0, 1)
    return np.where(rgb <= 0.0031308, 12.92 * rgb, 1.055 * rgb ** (1 / 2.4) - 0.055)


def seen(color, vision=None):
    """The sRGB colour a reader with this colour-vision deficiency sees."""
    rgb = np.array(mc.to_rgb(color))
    return rgb if vision is None else gamma(vision @ linear(rgb))


def lab(rgb):
    xyz = SRGB_TO_XYZ @ linear(rgb) / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def ciede2000(lab1, lab2):
    """Colour difference CIEDE2000 (Sharma, Wu & Dalal 2005)."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    c_bar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(c_bar ** 7 / (c_bar ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p, h2p = math.degrees(math.atan2(b1, a1p)) % 360, math.degrees(math.atan2(b2, a2p)) % 360
    dl, dc = l2 - l1, c2p - c1p
    dh = 0.0 if c1p * c2p == 0 else (h2p - h1p + 180) % 360 - 180
    dh_big = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dh / 2))
    l_bar, cp_bar = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        h_bar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        h_bar = (h1p + h2p) / 2
    else:
        h_bar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(h_bar - 30)) + 0.24 * math.cos(math.radians(2 * h_bar))
         + 0.32 * math.cos(math.radians(3 * h_bar + 6)) - 0.2 * math.cos(math.radians(4 * h_bar - 63)))
    d_theta = 30 * math.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * math.sqrt(cp_bar ** 7 / (cp_bar ** 7 + 25 ** 7))
    s_l = 1 + 0.015 * (l_bar - 50) ** 2 / math.sqrt(20 + (l_bar - 50) ** 2)
    s_c, s_h = 1 + 0.045 * cp_bar, 1 + 0.015 * cp_bar * t
    r_t = -math.sin(math.radians(2 * d_theta)) * r_c
    return math.sqrt((dl / s_l) ** 2 + (dc / s_c) ** 2 + (dh_big / s_h) ** 2 + r_t * (dc / s_c) * (dh_big / s_h))


def test_ciede2000_matches_the_published_test_data():
    # Sharma, Wu & Dalal (2005), table 1, pairs 1, 7 and 17
    assert ciede2000((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    assert ciede2000((50, 0, 0), (50, -1, 2)) == pytest.approx(2.3669, abs=1e-4)
    assert ciede2000((50, 2.5, 0), (73, 25, -18)) == pytest.approx(27.1492, abs=1e-4)


def test_simulated_deuteranopia_confuses_red_and_green():
    # The check would be worthless if it could not see the classic confusion.
    red, green = "#D62728", "#2CA02C"  # matplotlib's default red and green
    normal = ciede2000(lab(seen(red)), lab(seen(green)))
    deutan = ciede2000(lab(seen(red, DEUTERANOPIA)), lab(seen(green, DEUTERANOPIA)))
    assert normal > 40 and deutan < 0.4 * normal


@pytest.mark.parametrize("vision", [None, DEUTERANOPIA, PROTANOPIA], ids=["normal", "deuteranopia", "protanopia"])
@pytest.mark.parametrize("n_channels", [4, 6, 12])
def test_channel_colours_stay_apart_under_colour_blindness(vision, n_channels):
    """Any two of the colours of 12 channels and the journey ends differ by CIEDE2000 >= 11."""
    names = [f"channel {i}" for i in range(n_channels)]
    colors = style.channel_colors(names)
    shown = [colors[n] for n in names] + [style.OUTCOME_COLORS[k] for k in ("resolved", "give_up", "later")]
    assert len(set(shown)) == len(shown)
    closest = min((ciede2000(lab(seen(a, vision)), lab(seen(b, vision))), a, b)
                  for a, b in itertools.combinations(shown, 2))
    assert closest[0] >= 11, closest


def test_well_known_channels_get_their_colours_and_stay_apart():
    colors = style.channel_colors(["web", "email", "chat", "phone", "app", "sms", "ivr", "social"])
    assert colors["web"] == style.FIXED_COLORS["web"] and colors["phone"] == style.FIXED_COLORS["phone"]
    assert style.channel_colors(["call_centre"])["call_centre"] == style.FIXED_COLORS["phone"]
    assert len(set(colors.values())) == len(colors)
    both = style.channel_colors(["email", "messages"])  # two spellings of one fixed colour: still distinct
    assert both["email"] != both["messages"]


def chroma(color):
    _, a, b = lab(np.array(mc.to_rgb(color)))
    return math.hypot(a, b)


def test_scenario_colours_cannot_be_taken_for_channel_colours():
    assert max(chroma(c) for c in style.SCENARIO_COLORS) < 12
    assert min(chroma(c) for c in style.CHANNEL_PALETTE) > 30
    # and the scenarios are told apart by markers too
    assert len(set(style.SCENARIO_MARKERS)) == len(style.SCENARIO_COLORS)


def test_one_readable_name_per_channel():
    sc = sim.load_scenario("nice_bcg_2016")
    assert style.channel_name(sc, "phone") == sc.channel("phone").label
    assert style.channel_name(None, "secure_messages") == "Secure messages"
    assert style.channel_name(None, "ivr") == "IVR"
    assert style.channel_name(sc, "resolved") == "Resolved" and style.channel_name(sc, "give_up") == "Gave up"
    assert style.figure_label("channels.chat.abandon_rate", sc) == ("Chat: abandonment", "%")


def test_numbers_are_written_one_way():
    assert style.format_count(1344.2) == "1,344" and style.format_count(-1344) == "−1,344"
    assert style.format_number(1234567.0) == "1,234,567"
    assert style.format_share(0.979) == "97.9 %"
    assert style.format_points(-0.0182) == "−1.8 points" and style.format_points(0.0) == "0.0 points"
    assert style.format_wait(1 / 6, live=True) == "10 s"
    assert style.format_wait(200, live=False) == "3.3 h"
    assert style.format_count(float("nan")) == "–"


def test_intervals_are_clipped_to_what_a_figure_can_be():
    assert style.clip_interval(-0.064, 0.136, share=True) == (0.0, 0.136)
    assert style.clip_interval(0.979, 1.014, share=True) == (0.979, 1.0)
    low, high = style.clip_interval(np.array([-1.0, 2.0, np.nan]), np.array([3.0, 4.0, np.nan]), share=False)
    assert list(low[:2]) == [0.0, 2.0] and list(high[:2]) == [3.0, 4.0]
    assert np.isnan(low[2]) and np.isnan(high[2])


def test_wrap_text_fits_the_width_it_is_given():
    for width in (60, 120, 240):
        wrapped = style.wrap_text("Help centre articles on the website", width, 12)
        assert all(style.text_width(line, 12) <= width for line in wrapped.split("\n") if " " in line)
    assert style.wrap_text("one two three four five", 40, 12, max_lines=2).endswith("…")
