"""Every chart of one result, and writing charts to files."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping, Sequence

from matplotlib.figure import Figure

from ..experiment import Result
from ..files import atomic_write
from .before_after import before_after_chart, reference_chart
from .canvas import DPI, styled
from .flow import flow_diagram
from .hourly import hourly_charts
from .network import flow_matrix
from .waits import wait_distribution

__all__ = ["result_charts", "save_charts"]



def result_charts(result: Result) -> dict[str, Figure]:
    """Every chart that applies to one result, by file name.

    ``before_after`` always; ``journey_flow``, ``flow_matrix`` and
    ``wait_times`` when the journeys were kept; ``reference`` when the
    scenario has published figures; ``hourly`` (and ``hourly_2``, ... for
    more than three staffed channels, one 16:9 slide each) when a channel has
    agents.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.05)
    >>> sorted(result_charts(res))
    ['before_after', 'flow_matrix', 'hourly', 'hourly_2', 'journey_flow', 'reference', 'wait_times']
    """
    charts: dict[str, Figure] = {}
    staffed = any(not c.unlimited for c in result.scenario.channels)
    if result.logs is not None:
        charts["journey_flow"] = flow_diagram(result)
        charts["flow_matrix"] = flow_matrix(result)
    charts["before_after"] = before_after_chart(result)
    if result.scenario.reference:
        charts["reference"] = reference_chart(result)
    if staffed:
        charts.update(hourly_charts(result))
        if result.logs is not None:
            charts["wait_times"] = wait_distribution(result)
    return charts


_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def save_charts(figures: Mapping[str, Figure], directory: str | Path, formats: Sequence[str] = ("png", "svg"),
                dpi: int = DPI) -> list[Path]:
    """Write each figure as ``NAME.png`` and ``NAME.svg`` (or the given formats), atomically.

    Each file is written to a temporary name beside it and renamed, so a
    reader never sees a half-written image. The directory is created. SVG
    files keep their text as text (searchable and editable), in the font
    family of the charts.

    Parameters
    ----------
    figures
        ``{file name without extension: Figure}``.
    directory
        Where to write.
    formats
        File formats matplotlib knows (``png``, ``svg``, ``pdf``, ...).
    dpi
        Resolution of raster formats: a 12 x 6.75 inch chart at 150 dpi is
        1800 x 1012 pixels.

    Returns
    -------
    The paths written, in order.

    Examples
    --------
    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> fig = Figure(figsize=(4, 3))
    >>> ax = fig.add_subplot().plot([0, 1], [0, 1])
    >>> paths = save_charts({"line": fig}, tempfile.mkdtemp())
    >>> [p.name for p in paths]
    ['line.png', 'line.svg']
    """
    out = Path(directory)
    for name in figures:
        if not _SAFE_NAME.match(name):
            raise ValueError(f"chart name {name!r} is not a safe file name (letters, digits, _ . -)")
    out.mkdir(parents=True, exist_ok=True)
    written = []
    with styled():  # the style holds at saving time too: SVG text stays text
        for name, fig in figures.items():
            for fmt in formats:
                written.append(atomic_write(out / f"{name}.{fmt}",
                                            lambda p, fig=fig, fmt=fmt: fig.savefig(p, format=fmt, dpi=dpi)))
    return written
