"""Helpers every validator shares: spotting a typo, naming what is allowed, reading numbers.

The scenario file (:mod:`simulator.scenario`), distribution specs
(:mod:`simulator.distributions`), calibration targets, figure names and the
command line all check what users wrote with these, so that every message
reads the same: the field, what is allowed, and the closest name when a name
is mistyped.

Examples
--------
>>> did_you_mean("emial", ["web", "email", "phone"])
"did you mean 'email'?"
>>> unknown_key_message("maen", ["dist", "mean"])
"unknown key; did you mean 'mean'? allowed: dist, mean"
>>> is_number(3), is_number(True), is_number(float("nan"))
(True, False, False)
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Iterable

__all__ = ["did_you_mean", "unknown_key_message", "format_bound", "is_number", "is_whole_number", "a_number"]


def did_you_mean(name: Any, allowed: Iterable[str]) -> str:
    """``"did you mean 'x'?"`` for the entry of ``allowed`` closest to a mistyped ``name``, else ``""``.

    Examples
    --------
    >>> did_you_mean("chta", ["chat", "phone"]), did_you_mean("fax", ["chat", "phone"])
    ("did you mean 'chat'?", '')
    """
    close = difflib.get_close_matches(name, list(allowed), n=1, cutoff=0.6) if isinstance(name, str) else []
    return f"did you mean {close[0]!r}?" if close else ""


def unknown_key_message(key: str, allowed: Iterable[str]) -> str:
    """The message for a key a table does not take, e.g. ``unknown key; did you mean 'mean'? allowed: ...``.

    Examples
    --------
    >>> unknown_key_message("colour", ["mean", "cv"])
    'unknown key; allowed: mean, cv'
    """
    allowed = list(allowed)
    hint = did_you_mean(key, allowed)
    return f"unknown key; {hint + ' ' if hint else ''}allowed: {', '.join(allowed)}"


def format_bound(x: float) -> str:
    """A limit as people read it: ``5,256,000``, ``0.001``, ``1e-06``.

    Examples
    --------
    >>> format_bound(5256000), format_bound(1e-3), format_bound(1e-6), format_bound(2.5)
    ('5,256,000', '0.001', '1e-06', '2.5')
    """
    if float(x).is_integer() and abs(x) < 1e15:
        return f"{int(x):,}"
    return f"{x:g}"


def is_number(v: Any) -> bool:
    """Whether ``v`` is a finite int or float (not a bool: TOML's ``true`` is no number).

    Examples
    --------
    >>> is_number(2.5), is_number("2.5"), is_number(float("inf"))
    (True, False, False)
    """
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def is_whole_number(v: Any) -> bool:
    """Whether ``v`` is an int (not a bool).

    Examples
    --------
    >>> is_whole_number(3), is_whole_number(3.0), is_whole_number(False)
    (True, False, False)
    """
    return isinstance(v, int) and not isinstance(v, bool)


def a_number(v: Any) -> str:
    """How to name the numbers allowed, given a bad value: "a finite number" when it is inf or nan.

    Examples
    --------
    >>> a_number(float("nan")), a_number("x")
    ('a finite number', 'a number')
    """
    return "a finite number" if isinstance(v, float) and not math.isfinite(v) else "a number"
