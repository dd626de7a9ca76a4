"""The slide every chart is drawn on: its size, fonts, title, footnote, axes and legend.

Colours, names and number formats are the ones every output shares, in
:mod:`simulator.style`; this module holds what only matplotlib charts need.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import wraps
from typing import Any, Callable, Iterable, Mapping, Sequence

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, FuncFormatter

from ..experiment import Result
from ..style import MINUS, clip_interval, format_count, text_width, wrap_text

#: Font size of axis labels, in points (titles, ticks and footnotes are sized from it).
FONT = 13
#: matplotlib settings every chart is built and saved with.
STYLE = {
    "font.size": FONT,
    "axes.titlesize": FONT + 1,
    "axes.titlelocation": "left",
    "axes.labelsize": FONT,
    "axes.labelcolor": "#333333",
    "axes.edgecolor": "#9A9A9A",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.axisbelow": True,
    "xtick.labelsize": FONT - 1,
    "ytick.labelsize": FONT - 1,
    "legend.fontsize": FONT - 1,
    "legend.frameon": False,
    "figure.titlesize": FONT + 5,
    "figure.titleweight": "bold",
    "figure.facecolor": "white",
    "savefig.facecolor": "white",
    "svg.fonttype": "none",  # text stays text in SVG files: searchable, selectable, editable
    "font.family": ["DejaVu Sans", "sans-serif"],
}
GRID = {"color": "#E3E3E3", "linewidth": 0.8}
#: Colour of footnotes and notes; of labels and values.
TEXT_GREY = "#5F5F5F"
TEXT = "#222222"
#: Size of a chart, in inches: a 16:9 slide.
SLIDE = (12.0, 6.75)
#: Resolution of raster files (1800 x 1012 pixels for a slide).
DPI = 150


@contextmanager
def styled():
    """Draw (and save) inside :data:`STYLE`."""
    with matplotlib.rc_context(STYLE):
        yield


def chart(function: Callable[..., Figure]) -> Callable[..., Figure]:
    """Build the figure inside the shared style."""
    @wraps(function)
    def wrapper(*args, **kwargs):
        with styled():
            return function(*args, **kwargs)
    return wrapper


def new_figure(size=SLIDE, footnote: str | None = None) -> Figure:
    """A figure without pyplot, with room at the bottom for the footnote (wrapped to its width)."""
    fig = Figure(figsize=size, layout="constrained")
    if footnote:
        footnote = "\n".join(wrap_text(line, size[0] * 72 - 16, FONT - 3) for line in footnote.split("\n"))
        lines = footnote.count("\n") + 1
        bottom = (0.1 + 0.19 * lines) / size[1]
        fig.get_layout_engine().set(rect=(0, bottom, 1, 1 - bottom), h_pad=0.06, w_pad=0.06)
        fig.text(0.008, 0.012, footnote, ha="left", va="bottom", fontsize=FONT - 3, color=TEXT_GREY)
    return fig


def set_title(fig: Figure, title: str) -> None:
    """The figure's title, top left, broken into lines that fit the figure."""
    size = matplotlib.rcParams["figure.titlesize"]
    width = fig.get_figwidth() * 72 - 24
    fig.suptitle("\n".join(wrap_text(line, width, size, bold=True) for line in title.split("\n")),
                 x=0.008, ha="left")


def tidy_axes(ax, grid: str | None = "y") -> None:
    """Tick and grid settings stored on the axes (so they hold when drawn later)."""
    ax.tick_params(labelsize=FONT - 1, colors="#333333", length=3, color="#9A9A9A")
    if grid:
        ax.grid(True, axis=grid, **GRID)
    else:
        ax.grid(False)


class PercentFormatter(Formatter):
    """Shares as percentages written like the tables ("15 %"), with the fewest decimals the ticks need."""

    @staticmethod
    def _decimals(values) -> int:
        for decimals in range(4):
            if all(abs(round(100 * v, decimals) - 100 * v) < 1e-6 for v in values):
                return decimals
        return 3

    def format_ticks(self, values):
        decimals = self._decimals(values)
        return [f"{100 * v:.{decimals}f} %".replace("-", MINUS) for v in values]

    def __call__(self, x, pos=None):
        return f"{100 * x:.{self._decimals([x])}f} %".replace("-", MINUS)


def percent_axis(axis) -> None:
    """Shares on this axis as percentages."""
    axis.set_major_formatter(PercentFormatter())


def thousands_axis(axis) -> None:
    """Counts on this axis with thousands separators (whole numbers without decimals)."""
    axis.set_major_formatter(FuncFormatter(
        lambda v, _: (f"{v:,.0f}" if float(v).is_integer() else format_count(v)).replace("-", MINUS)))


def run_footnote(result: Result, what: str = "") -> str:
    """Which scenario, how many replications of how many days, which seed; then ``what``."""
    sc = result.scenario
    text = (f"Scenario {sc.name}: {result.replications} replication(s) of {sc.run.days:g} day(s), "
            f"seed {result.seed}")
    return f"{text}. {what}" if what else text


def per_day_factor(result: Result) -> float:
    """Factor turning a count pooled over all replications into a count per simulated day."""
    return 1.0 / (result.replications * result.scenario.run.days)


def legend_columns(labels: Sequence[str], width_points: float, fontsize: float) -> int:
    """The most legend columns whose entries fit side by side in ``width_points``.

    Entries fill the columns top to bottom as matplotlib lays them out; each
    takes its handle, the gap after it, its text and the space between columns.
    """
    entry = [text_width(label, fontsize) + fontsize * (1.2 + 0.6 + 1.4) for label in labels]
    for ncol in range(len(labels), 1, -1):
        rows, large = divmod(len(labels), ncol)  # matplotlib's split: the first `large` columns get a row more
        sizes = [rows + 1] * large + [rows] * (ncol - large)
        starts = np.cumsum([0, *sizes])
        widths = [max(entry[a:b]) for a, b in zip(starts[:-1], starts[1:]) if b > a]
        if sum(widths) <= width_points:
            return ncol
    return 1


def legend_below(fig: Figure, ax, handles: Sequence, fontsize: float = FONT - 1) -> None:
    """A legend under the axes, in as many columns as fit the figure's width (never wider than it)."""
    ncol = legend_columns([h.get_label() for h in handles], fig.get_figwidth() * 72 - 40, fontsize)
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.01), ncol=ncol, frameon=False,
              handlelength=1.2, handletextpad=0.6, columnspacing=1.4, fontsize=fontsize)


def no_data(ax, message: str) -> None:
    """An empty panel that says why it is empty."""
    ax.text(0.5, 0.5, wrap_text(message, 260, FONT - 1), transform=ax.transAxes, ha="center", va="center",
            fontsize=FONT - 1, color=TEXT_GREY)
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)


def displayed_interval(rows: pd.DataFrame | Mapping[str, Any], share: bool) -> tuple[np.ndarray, np.ndarray]:
    """``ci_low`` and ``ci_high`` (columns, or single values) as drawn: clipped to what the figure can be
    (:func:`simulator.style.clip_interval`)."""
    return clip_interval(rows["ci_low"], rows["ci_high"], share)


def check_columns(frame: pd.DataFrame, needed: Iterable[str], what: str) -> None:
    """Raise ValueError naming the columns ``what`` needs that ``frame`` lacks."""
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: the DataFrame lacks column(s) {', '.join(missing)}; "
                         f"it has {', '.join(map(str, frame.columns))}")


@chart


def shorten(text: str, width: int = 26) -> str:
    """``text`` wrapped to about ``width`` characters of the chart font."""
    return wrap_text(text, width * 7.2, FONT)
