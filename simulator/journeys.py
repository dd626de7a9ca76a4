"""The journey log: one row per contact, kept in compact numpy columns.

Each row is one attempt by one customer in one channel: when it started, how
long the customer waited and was handled, the outcome and where the customer
went next. A journey is the rows of one customer in ``seq`` order; it ends at
the row whose ``next`` is ``give_up`` or ``resolved``. An async message the
customer stopped waiting for is still answered: its row is ``abandoned``, its
``wait`` is how long the customer waited and its ``handle`` the answer's
handle time (``wasted`` marks it).

Codes used in the columns:

* ``outcome``: 0 resolved, 1 unresolved (served, need not answered),
  2 abandoned (left the queue, or stopped waiting for an async reply),
  3 closed (reached the channel outside its opening hours);
* ``next``: the index of the next channel, ``-1`` give up, ``-2`` resolved;
* ``callback``: 0 none, 1 offered a call back and declined (the caller
  queued), 2 called back (``wait`` is then the time until the call back).

Examples
--------
>>> log = JourneyLog()
>>> row = log.append(0, 0, 2, 10.0, 0.5, 4.0, RESOLVED, NEXT_RESOLVED)
>>> log.to_frame(["web", "email", "chat"])[["customer", "channel", "outcome", "next"]]
   customer channel   outcome      next
0         0    chat  resolved  resolved
"""

from __future__ import annotations

from array import array
from typing import Sequence

import numpy as np
import pandas as pd

__all__ = [
    "JourneyLog",
    "OUTCOMES",
    "RESOLVED",
    "UNRESOLVED",
    "ABANDONED",
    "CLOSED",
    "NEXT_GIVE_UP",
    "NEXT_RESOLVED",
    "NO_CALLBACK",
    "CALLBACK_DECLINED",
    "CALLED_BACK",
    "journeys_frame",
]

RESOLVED, UNRESOLVED, ABANDONED, CLOSED = 0, 1, 2, 3
OUTCOMES = ("resolved", "unresolved", "abandoned", "closed")
CALLBACKS = ("none", "declined", "called_back")
NEXT_GIVE_UP = -1
NEXT_RESOLVED = -2
NO_CALLBACK, CALLBACK_DECLINED, CALLED_BACK = 0, 1, 2

# (column, array typecode, numpy dtype); "seq", "channel" and "next" are narrowed to fit the scenario
_COLUMNS = (
    ("customer", "q", np.int64),
    ("seq", "h", np.int16),
    ("channel", "b", np.int8),
    ("time", "d", np.float64),
    ("wait", "d", np.float64),
    ("handle", "d", np.float64),
    ("outcome", "b", np.int8),
    ("next", "b", np.int8),
    ("callback", "b", np.int8),
)
COLUMN_NAMES = tuple(c[0] for c in _COLUMNS) + ("wasted",)
#: Small integer types, narrowest first: (array typecode, numpy dtype).
_SMALL_INTS = (("b", np.int8), ("h", np.int16), ("i", np.intc))


def _smallest_int(largest: int) -> tuple[str, type]:
    """The narrowest :data:`_SMALL_INTS` type that holds ``-2 .. largest``."""
    for code, dtype in _SMALL_INTS:
        if largest <= np.iinfo(dtype).max:
            return code, dtype
    raise ValueError(f"{largest} does not fit in 32 bits")


class JourneyLog:
    """Append-only contact log in typed arrays (about 45 bytes per contact).

    Parameters
    ----------
    channels, max_contacts
        The scenario's number of channels and ``max_contacts``: the channel
        codes and contact numbers are stored in the narrowest integers that
        hold them (8 bits up to 128 channels, 16 bits up to 32,768).
    """

    __slots__ = COLUMN_NAMES[:-1] + ("rows", "wasted_rows", "_columns")

    def __init__(self, channels: int = 128, max_contacts: int = 32_768) -> None:
        narrowed = {"seq": _smallest_int(max_contacts - 1), "channel": _smallest_int(channels - 1),
                    "next": _smallest_int(channels - 1)}
        self._columns = tuple((name, *narrowed.get(name, (code, dtype))) for name, code, dtype in _COLUMNS)
        for name, code, _ in self._columns:
            setattr(self, name, array(code))
        self.rows = 0
        self.wasted_rows: list[int] = []  # few: only async messages answered too late

    def __len__(self) -> int:
        return self.rows

    def append(self, customer: int, seq: int, channel: int, time: float, wait: float,
               handle: float, outcome: int, next_: int, callback: int = NO_CALLBACK) -> int:
        """Add one contact; returns its row number."""
        self.customer.append(customer)
        self.seq.append(seq)
        self.channel.append(channel)
        self.time.append(time)
        self.wait.append(wait)
        self.handle.append(handle)
        self.outcome.append(outcome)
        self.next.append(next_)
        self.callback.append(callback)
        self.rows += 1
        return self.rows - 1

    def mark_wasted(self, row: int, handle: float | None = None) -> None:
        """Record that the async message of ``row`` was answered after the customer left.

        ``handle`` is the answer's handle time, written into the row when it
        was logged before the answer came (the work done, though wasted).
        """
        self.wasted_rows.append(row)
        if handle is not None:
            self.handle[row] = handle

    def to_arrays(self) -> dict[str, np.ndarray]:
        """The columns as numpy arrays, rows sorted by customer then contact number."""
        cols = {name: np.frombuffer(getattr(self, name), dtype=dtype).copy()
                if len(self) else np.empty(0, dtype=dtype)
                for name, _, dtype in self._columns}
        cols["wasted"] = np.zeros(len(self), dtype=np.int8)
        cols["wasted"][self.wasted_rows] = 1
        order = np.lexsort((cols["seq"], cols["customer"]))
        return {name: col[order] for name, col in cols.items()}

    def take_completed(self) -> dict[str, np.ndarray]:
        """Remove the rows of every ended journey and return them as :meth:`to_arrays` would.

        Rows of journeys still under way stay in the log. Marks made with
        :meth:`mark_wasted` are dropped (row numbers change), so a caller that
        takes rows out counts wasted answers itself.
        """
        cols = {name: np.frombuffer(getattr(self, name), dtype=dtype) for name, _, dtype in self._columns}
        ended = np.isin(cols["customer"], cols["customer"][cols["next"] < 0])
        taken = {name: col[ended] for name, col in cols.items()}
        taken["wasted"] = np.zeros(len(taken["customer"]), dtype=np.int8)
        kept = {name: col[~ended].tobytes() for name, col in cols.items()}
        del cols  # release the buffers before the arrays are replaced
        for name, code, _ in self._columns:
            column = array(code)
            column.frombytes(kept[name])
            setattr(self, name, column)
        self.rows = len(self.customer)
        self.wasted_rows = []
        order = np.lexsort((taken["seq"], taken["customer"]))
        return {name: col[order] for name, col in taken.items()}

    def to_frame(self, channel_names: Sequence[str]) -> pd.DataFrame:
        """The log as a DataFrame (see :func:`journeys_frame`)."""
        return journeys_frame(self.to_arrays(), channel_names)


def journeys_frame(arrays: dict[str, np.ndarray], channel_names: Sequence[str]) -> pd.DataFrame:
    """The log as a tidy DataFrame with readable categories.

    ``channel`` and ``next`` become categoricals over the channel names (``next``
    also has ``give_up`` and ``resolved``), ``outcome`` over :data:`OUTCOMES`,
    ``wasted`` a bool. Times are in minutes from the start of the run.
    """
    names = list(channel_names)
    nxt = arrays["next"].astype(np.int64)
    next_labels = names + ["give_up", "resolved"]
    next_codes = np.where(nxt == NEXT_GIVE_UP, len(names), np.where(nxt == NEXT_RESOLVED, len(names) + 1, nxt))
    frame = pd.DataFrame({
        key: arrays[key] for key in arrays if key not in ("channel", "outcome", "next", "wasted", "callback")
    })
    frame.insert(2, "channel", pd.Categorical.from_codes(arrays["channel"].astype(np.int64), names))
    frame["outcome"] = pd.Categorical.from_codes(arrays["outcome"].astype(np.int64), list(OUTCOMES))
    frame["next"] = pd.Categorical.from_codes(next_codes, next_labels)
    frame["wasted"] = arrays["wasted"].astype(bool)
    if "callback" in arrays:
        frame["callback"] = pd.Categorical.from_codes(arrays["callback"].astype(np.int64), list(CALLBACKS))
    return frame
