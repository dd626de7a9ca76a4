"""Plain JSON: every ``--json`` document and ``.json`` file contactflow writes goes through :func:`dumps`.

JSON has no NaN or infinity (Python's ``json`` writes them as the bare
words ``NaN`` and ``Infinity``, which other parsers refuse), and numpy and
pandas numbers are not JSON types. :func:`plain` turns any nest of dicts,
lists, tuples, numpy and pandas values into plain Python data, with ``None``
(``null``) for every undefined or infinite number.

Examples
--------
>>> import numpy as np
>>> plain({"mean": np.float64(0.5), "ci_low": float("nan"), "levels": (1, np.int64(2)), "wait": float("inf")})
{'mean': 0.5, 'ci_low': None, 'levels': [1, 2], 'wait': None}
>>> dumps({"x": float("nan")}, indent=None)
'{"x": null}'
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

import numpy as np
import pandas as pd

__all__ = ["plain", "dumps"]


def plain(value: Any) -> Any:
    """``value`` as plain JSON-ready data: non-finite numbers as None, numpy/pandas scalars as Python ones."""
    if isinstance(value, Mapping):
        return {str(k) if not isinstance(k, (str, int, float, bool)) else k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [plain(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return value


def dumps(value: Any, indent: int | None = 2) -> str:
    """``value`` as one strict JSON document (:func:`plain` first; never ``NaN`` or ``Infinity``)."""
    return json.dumps(plain(value), indent=indent, allow_nan=False)
