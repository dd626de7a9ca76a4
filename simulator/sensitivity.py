"""Sensitivity: which parameters move a figure most (the data of a tornado chart).

:func:`tornado_data` varies each numeric field of a scenario one at a time,
down and up by the same relative change, and records a figure in each run
with its paired difference against the base (common random numbers);
:func:`simulator.plots.tornado_chart` draws it.

Examples
--------
>>> import simulator as sim
>>> tornado_fields(sim.load_scenario("nice_bcg_2016"))[0]
'arrivals.per_hour'
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import pandas as pd

from .compare import compare
from .precision import check_figure
from .scenario import Scenario, get_path

__all__ = ["tornado_fields", "tornado_data"]


def tornado_fields(scenario: Scenario) -> list[str]:
    """The scalar numeric fields :func:`tornado_data` varies by default.

    The arrival rate, and per channel: ``resolve``, ``agents`` (when a fixed
    number; shift plans are left alone), the mean of ``handle_time`` and
    ``patience`` (``value`` for a deterministic time; uniform and empirical
    times are left alone). Routing rows are never varied: changing one
    probability of a row would break its sum.

    Examples
    --------
    >>> import simulator as sim
    >>> fields = tornado_fields(sim.load_scenario("nice_bcg_2016"))
    >>> fields[:3]
    ['arrivals.per_hour', 'channels.web.resolve', 'channels.web.handle_time.mean']
    """
    fields = ["arrivals.per_hour"]
    data = scenario.to_dict()
    for channel in scenario.channels:
        raw = data["channels"][channel.name]
        prefix = f"channels.{channel.name}"
        fields.append(f"{prefix}.resolve")
        if isinstance(channel.agents, int):
            fields.append(f"{prefix}.agents")
        for time in ("handle_time", "patience"):
            spec = raw.get(time)
            if isinstance(spec, Mapping):
                for key in ("mean", "value"):
                    if key in spec:
                        fields.append(f"{prefix}.{time}.{key}")
                        break
    return fields


def _varied(path: str, value: Any, factor: float) -> float | int:
    """``value * factor``: probabilities clipped to [0, 1], whole numbers rounded and moved by >= 1."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(path)
    if isinstance(value, int):
        varied = int(round(value * factor))
        if varied == value:
            varied = value + (1 if factor > 1 else -1)
        return max(varied, 1)
    varied = value * factor
    if path.endswith(".resolve"):
        varied = min(max(varied, 0.0), 1.0)
    return float(varied)


def tornado_data(scenario: Scenario, kpi: str, fields: Sequence[str] | None = None, change: float = 0.1,
                 replications: int | None = None, seed: int | None = None, *, days: float | None = None,
                 workers: int = 1) -> pd.DataFrame:
    """Vary each field one at a time by ``-change`` and ``+change`` and record a KPI.

    Every run (the base and each variation) uses the same seed: common random
    numbers, so the differences against the base are paired per replication
    and their confidence intervals are much narrower than the KPI's own.

    Only scalar numeric fields are varied (see :func:`tornado_fields`):
    probabilities (``resolve``) are clipped to [0, 1]; whole numbers
    (``agents``) are rounded and moved by at least one; routing rows are not
    varied because their probabilities must keep summing to 1.

    Parameters
    ----------
    scenario
        The base scenario.
    kpi
        The figure to watch: a KPI name, ``before_call.CHANNEL``,
        ``after_call.TARGET`` or ``channels.CHANNEL.METRIC``.
    fields
        Dotted field paths to vary (default: :func:`tornado_fields`).
    change
        Relative change, e.g. ``0.1`` for ±10 %.
    replications, seed, days, workers
        As for :func:`simulator.run` (default: the scenario's settings).

    Returns
    -------
    DataFrame with one row per field and direction: ``field, direction``
    (``"low"`` / ``"high"``), ``base_value, value`` (the field's value),
    ``kpi, base_mean, mean, ci_low, ci_high`` (the KPI in the varied run) and
    ``diff, diff_low, diff_high`` (paired difference against the base run,
    with its 95 % CI).

    Examples
    --------
    >>> import simulator as sim
    >>> sc = sim.load_scenario("nice_bcg_2016")
    >>> data = tornado_data(sc, "give_up_rate", ["channels.chat.resolve"], replications=2, days=0.05)
    >>> list(data["direction"])
    ['low', 'high']
    >>> round(float(data["value"].iloc[1]), 3)
    0.715
    """
    if not 0 < change < 1:
        raise ValueError(f"change must be a fraction between 0 and 1 (0.1 for ±10 %); got {change}")
    check_figure(kpi, scenario)  # a clear error before the long part
    fields = list(fields) if fields is not None else tornado_fields(scenario)
    data = scenario.to_dict()
    variants, settings = {}, []
    for path in fields:
        try:
            value = get_path(data, path)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError
        except (KeyError, TypeError):
            raise ValueError(f"{path}: not a numeric field of scenario {scenario.name!r}; vary fields such "
                             f"as {', '.join(tornado_fields(scenario)[:4])}") from None
        for direction, factor in (("low", 1 - change), ("high", 1 + change)):
            new_value = _varied(path, value, factor)
            variants[f"{path} {direction}"] = scenario.with_changes({path: new_value})
            settings.append({"field": path, "direction": direction, "base_value": value, "value": new_value})
    # One seed for the base and every variant: common random numbers, paired differences.
    table = compare(scenario, variants, replications, seed, days=days, workers=workers)
    table = table[table["kpi"] == kpi].set_index("scenario")
    base_mean = table.loc[scenario.name, "mean"]
    rows = [{**setting, "kpi": kpi, "base_mean": base_mean,
             **table.loc[label, ["mean", "ci_low", "ci_high", "diff", "diff_low", "diff_high"]].to_dict()}
            for setting, label in zip(settings, variants)]
    frame = pd.DataFrame(rows)
    frame.attrs.update(scenario=scenario.name, change=change, replications=table.attrs["replications"],
                       seed=table.attrs["seed"])
    return frame
