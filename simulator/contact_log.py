"""Contact logs: the CRM / contact-centre export format, written and read.

A contact log has one row per contact. The columns (names configurable) are:

``customer``
    Customer or case id; the contacts of one id, in time order, are its
    journey(s).
``timestamp``
    When the contact started: an ISO 8601 date-time (``2024-03-01T08:15:00``,
    ``2024-03-01 08:15``) or a number of minutes.
``channel``
    The channel's name; it becomes a scenario channel, so it starts with a
    letter and uses letters, digits, ``_`` or ``-``.
``outcome``
    ``resolved``, ``unresolved`` (served, need not answered), ``abandoned``
    (left the queue, or stopped waiting for a reply) or ``closed`` (reached
    the channel outside its opening hours; unanswered).
``wait_min``, ``handle_min`` (optional)
    Time in the queue and time with an agent, in minutes (see
    ``duration_unit``); empty where unknown. An async message answered after
    the customer stopped waiting is ``abandoned`` with the answer's handle
    time (work done, though wasted).
``contact`` (optional)
    The contact's number in its journey, 1 for the first one. With it,
    journeys are delimited exactly; without it, a journey ends at a resolved
    contact.
``replication`` (optional)
    Separate observations of the same centre, such as a simulation's
    replications (each a run of the same period) or exports of separate
    weeks: a journey is keyed by replication and customer, and each
    replication is observed over its own time window.

:func:`to_contact_log` turns a simulation's journeys into this format and
:func:`write_contact_log` saves it (CSV, or Parquet by extension);
:func:`read_contact_log` reads and validates a log, rebuilding its journeys,
and reports every bad row by its number (CSV rows are numbered as in a
spreadsheet: the header is row 1).

Reading also refuses what damaged exports contain: rows repeated exactly
(``drop_duplicates=True`` keeps the first of each), contacts far in time from
all the others, such as a stray row dated 1900 (``drop_outliers=True`` leaves
them out), one customer's contacts overlapping in time, nested values and
timestamps of which only some have a time-zone offset. Days without any
contact split the log into periods whose lengths add up (the time between is
not observed) and are listed in :attr:`ContactLog.notes`.

Examples
--------
>>> import simulator as sim
>>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.05)
>>> frame = to_contact_log(res)
>>> list(frame.columns)
['replication', 'customer', 'contact', 'timestamp', 'channel', 'outcome', 'wait_min', 'handle_min']
>>> log = ContactLog.from_frame(frame)
>>> log.journeys == int((frame["contact"] == 1).sum())
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .files import atomic_write
from .scenario import CHANNEL_NAME, GIVE_UP, RESOLVED

__all__ = [
    "LOG_COLUMNS",
    "LOG_OUTCOMES",
    "DEFAULT_START",
    "DURATION_UNITS",
    "ContactLog",
    "ContactLogError",
    "column_names",
    "to_contact_log",
    "write_contact_log",
    "read_contact_log",
]

#: Logical column -> default column name in the file.
LOG_COLUMNS: dict[str, str] = {
    "customer": "customer",
    "timestamp": "timestamp",
    "channel": "channel",
    "outcome": "outcome",
    "wait": "wait_min",
    "handle": "handle_min",
    "contact": "contact",
    "replication": "replication",
}
REQUIRED_COLUMNS = ("customer", "timestamp", "channel", "outcome")
#: Outcomes a log may carry (case-insensitive).
LOG_OUTCOMES = ("resolved", "unresolved", "abandoned", "closed")
#: Midnight of a Monday: the first day of an exported simulation.
DEFAULT_START = datetime(2024, 1, 1)
#: Units the duration columns may be in, and their length in minutes.
DURATION_UNITS = {"min": 1.0, "s": 1.0 / 60.0, "h": 60.0}
PARQUET_SUFFIXES = (".parquet", ".pq")
#: Rows listed per kind of problem before "... and N more".
MAX_ROWS_LISTED = 5
#: A stretch without any contact is a gap in the log when it lasts at least this long (minutes) ...
MIN_GAP_MINUTES = 1440.0
#: ... and at least this many mean times between contacts (at the log's rate over its middle 90 %).
GAP_MEAN_INTERVALS = 50.0
#: A group of contacts cut off by gaps from the rest of its replication, holding at most this share
#: of it, is an outlier in time (a stray date), not a period of its own.
OUTLIER_SHARE = 0.01
#: Extra columns a simulation's log carries (:func:`to_contact_log` with ``simulation_columns=True``).
SIMULATION_COLUMNS = ("next", "wasted")


class ContactLogError(ValueError):
    """A contact log cannot be used; :attr:`problems` lists every reason.

    The message names the file, then one line per problem, each naming the
    row(s), the column, the value and what is allowed.
    """

    def __init__(self, problems: Iterable[str], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        super().__init__(problem_report(self.problems, source or "contact log"))


def problem_report(problems: Sequence[str], where: str) -> str:
    """``WHERE: N problem(s)``, then one indented ``WHERE: PROBLEM`` line per problem."""
    return "\n".join([f"{where}: {len(problems)} problem(s)"] + [f"  {where}: {p}" for p in problems])


def column_names(columns: Mapping[str, str] | str | None = None) -> dict[str, str]:
    """The column name of each logical column, defaults overridden by ``columns``.

    Parameters
    ----------
    columns
        ``{"customer": "case_id", "timestamp": "created_at"}`` or the same as
        text, ``"customer=case_id,timestamp=created_at"``. Keys are the logical
        names (``customer, timestamp, channel, outcome, wait, handle,
        contact, replication``); ``wait_min`` and ``handle_min`` are accepted for ``wait``
        and ``handle``.

    Raises
    ------
    ValueError
        For an unknown key, a key given twice (``wait`` and ``wait_min``
        count as the same), two columns mapped to one header, or a
        malformed ``KEY=NAME`` pair.

    Examples
    --------
    >>> column_names("customer=case_id, wait=queue_min")["customer"]
    'case_id'
    >>> column_names({"handle_min": "talk"})["handle"]
    'talk'
    """
    names = dict(LOG_COLUMNS)
    if columns is None:
        return names
    if isinstance(columns, str):
        pairs = []
        for part in filter(None, (p.strip() for p in columns.split(","))):
            key, sep, value = part.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise ValueError(f"column mapping {part!r} is not KEY=NAME (e.g. customer=case_id)")
            pairs.append((key.strip(), value.strip()))
    else:
        pairs = list(columns.items())
    aliases = {default: key for key, default in LOG_COLUMNS.items()}
    given: dict[str, str] = {}
    for key, value in pairs:
        logical = key if key in LOG_COLUMNS else aliases.get(key)
        if logical is None:
            raise ValueError(f"unknown log column {key!r}; allowed: {', '.join(LOG_COLUMNS)}")
        if logical in given:
            raise ValueError(f"log column {logical!r} is given twice ({given[logical]} and {key}={value}); "
                             "give each column once")
        given[logical] = f"{key}={value}"
        names[logical] = str(value)
    readers: dict[str, list[str]] = {}
    for logical, header in names.items():
        readers.setdefault(header, []).append(logical)
    shared = {header: logical for header, logical in readers.items() if len(logical) > 1}
    if shared:
        header, logical = next(iter(shared.items()))
        raise ValueError(f"log columns {' and '.join(logical)} would both read the header {header!r}; "
                         "each column needs its own (map the others elsewhere)")
    return names


# --------------------------------------------------------------------------- export


def to_contact_log(journeys: Any, *, start: datetime | None = DEFAULT_START,
                   replication: int | None = None, simulation_columns: bool = False) -> pd.DataFrame:
    """A simulation's journeys as a contact log, one row per contact, in time order.

    This is the format :func:`read_contact_log` (and ``contactflow estimate``)
    reads without any column mapping; ``contactflow run --out`` writes it as
    ``journeys.parquet``.

    Parameters
    ----------
    journeys
        A :class:`~simulator.experiment.Result` run with ``keep_journeys=True``
        or its ``journeys`` DataFrame.
    start
        The date-time of simulation minute 0 (the simulation's day starts at
        midnight, so keep it at midnight for hours of the day to match);
        ``None`` writes the timestamps as numbers of minutes.
    replication
        Export only this replication (without a ``replication`` column).
        By default every replication is exported with a ``replication``
        column: each is a separate run of the same period, so customer ids
        repeat across replications and a journey is keyed by both.
    simulation_columns
        Also write what only a simulation knows: ``next`` (the next
        contact's channel, ``give_up`` or ``resolved``), ``wasted`` (an
        async message answered after the customer left) and ``callback``
        (``none``, ``declined``, or ``called_back``: ``wait_min`` is then the
        time until the call back).

    Returns
    -------
    DataFrame
        ``replication, customer, contact, timestamp, channel, outcome,
        wait_min, handle_min`` (``contact`` counts from 1 within the journey;
        no ``replication`` when one is chosen or the journeys have none),
        sorted by replication and timestamp.

    Raises
    ------
    ValueError
        If the chosen replication is not there.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.02)
    >>> sorted(to_contact_log(res)["replication"].unique().tolist())
    [0, 1]
    >>> log = to_contact_log(res, replication=1)
    >>> str(log["timestamp"].min().date()), "replication" in log
    ('2024-01-02', False)
    >>> set(log["outcome"]) <= {"abandoned", "closed", "resolved", "unresolved"}
    True
    """
    frame = journeys if isinstance(journeys, pd.DataFrame) else journeys.journeys  # a Result
    by_replication = "replication" in frame.columns
    if by_replication and replication is not None:
        present = pd.unique(frame["replication"]).tolist()
        if replication not in present:
            raise ValueError(f"no replication {replication!r}; the journeys hold "
                             f"{', '.join(map(str, sorted(present)))}")
        frame = frame[frame["replication"] == replication]
        by_replication = False
    minutes = frame["time"].to_numpy(dtype=float)
    timestamp = (pd.Series(minutes, index=frame.index) if start is None
                 else pd.Timestamp(start) + pd.to_timedelta(minutes, unit="min"))
    log = pd.DataFrame({
        "customer": frame["customer"].to_numpy(),
        "contact": frame["seq"].to_numpy(dtype=np.int64) + 1,
        "timestamp": np.asarray(timestamp),
        "channel": frame["channel"].astype(str).to_numpy(),
        "outcome": frame["outcome"].astype(str).to_numpy(),
        "wait_min": frame["wait"].to_numpy(dtype=float),
        "handle_min": frame["handle"].to_numpy(dtype=float),
    })
    if simulation_columns:
        log["next"] = frame["next"].astype(str).to_numpy()
        log["wasted"] = frame["wasted"].to_numpy(dtype=bool)
        if "callback" in frame.columns:  # none, declined, called_back (wait_min is then until the call back)
            log["callback"] = frame["callback"].astype(str).to_numpy()
    order = ["timestamp", "customer", "contact"]
    if by_replication:
        log.insert(0, "replication", frame["replication"].to_numpy())
        order.insert(0, "replication")
    return log.sort_values(order, kind="stable").reset_index(drop=True)


def write_contact_log(log: pd.DataFrame, path: str | Path) -> Path:
    """Write a contact log as CSV, or Parquet when ``path`` ends in ``.parquet``/``.pq``.

    The file is written to a temporary name and renamed into place.

    Examples
    --------
    >>> import tempfile, simulator as sim
    >>> log = to_contact_log(sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.02))
    >>> path = write_contact_log(log, Path(tempfile.mkdtemp()) / "log.csv")
    >>> read_contact_log(path).contacts == len(log)
    True
    """
    path = Path(path)
    if path.suffix.lower() in PARQUET_SUFFIXES:
        return atomic_write(path, lambda p: log.to_parquet(p, index=False))
    return atomic_write(path, lambda p: log.to_csv(p, index=False))


# --------------------------------------------------------------------------- reading


@dataclass
class ContactLog:
    """A validated contact log with its journeys rebuilt.

    Build one with :func:`read_contact_log` or :meth:`from_frame`.

    Attributes
    ----------
    frame
        One row per contact, sorted by replication, customer, journey and time:
        ``row`` (the row's number in the file, see :meth:`row_name`),
        ``replication`` (as in the file; empty without a replication column),
        ``customer``, ``journey`` (0, 1, ... over the log), ``position`` (0
        for a journey's first contact), ``time`` (minutes; hour of the day is
        ``time % 1440 // 60``), ``channel``, ``outcome``, ``wait``, ``handle``
        (minutes, NaN where unknown), ``period`` (see :attr:`periods`),
        ``next`` (the next contact's channel, ``give_up`` after a journey's
        last unresolved contact, or ``resolved``) and ``first_journey`` (the
        customer's first journey in the log, which may have begun before the
        log did).
    origin
        The date-time of minute 0 (midnight of the first day), or None when
        the log's timestamps are numbers of minutes.
    has_wait, has_handle, has_contact, has_replication
        Whether the log has the optional wait, handle, contact and replication columns.
    columns
        The column name of each logical column, as read.
    periods
        The stretches of time the log observes, indexed by ``period``:
        ``replication``, ``start`` and ``end`` (minutes: its first and last
        contact) and ``contacts``. Each replication is one period, unless
        days without any contact split it (see :data:`MIN_GAP_MINUTES`).
    notes
        What reading found and dealt with, in words: gaps, rows left out,
        time zones converted.
    """

    frame: pd.DataFrame
    source: str = "contact log"
    origin: pd.Timestamp | None = None
    has_wait: bool = False
    has_handle: bool = False
    has_contact: bool = False
    spreadsheet_rows: bool = False
    columns: dict[str, str] = field(default_factory=lambda: dict(LOG_COLUMNS))
    periods: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    has_replication: bool = False

    def __post_init__(self) -> None:
        if self.periods is None:  # one period per replication
            if "period" not in self.frame:
                self.frame["period"] = pd.factorize(self.frame["replication"], sort=True)[0]
            self.periods = _period_table(self.frame)

    @property
    def contacts(self) -> int:
        """Number of contacts (rows)."""
        return len(self.frame)

    @property
    def journeys(self) -> int:
        """Number of journeys rebuilt from the contacts."""
        return int(self.frame["journey"].max()) + 1 if len(self.frame) else 0

    @property
    def channel_names(self) -> tuple[str, ...]:
        """The channels in the log, alphabetically."""
        return tuple(sorted(self.frame["channel"].unique()))

    def row_name(self, row: int) -> str:
        """How a row is named in messages: ``row 7`` (CSV, header = row 1) or ``data row 6``."""
        return f"row {row}" if self.spreadsheet_rows else f"data row {row}"

    def timestamp_text(self, minutes: float) -> str:
        """A time of the log as its users write it (date-time, or minutes)."""
        return _time_text(self.origin, minutes)

    @classmethod
    def from_frame(cls, raw: pd.DataFrame, *, columns: Mapping[str, str] | str | None = None,
                   channels: Sequence[str] | None = None, duration_unit: str = "min",
                   source: str | None = None, spreadsheet_rows: bool = False,
                   drop_duplicates: bool = False, drop_outliers: bool = False) -> "ContactLog":
        """Validate a contact log given as a DataFrame and rebuild its journeys.

        Parameters
        ----------
        raw
            One row per contact, in file order; columns the log does not use
            are ignored.
        columns
            Column names that differ from the defaults (see :func:`column_names`).
        channels
            The allowed channel names (default: any valid name in the log).
        duration_unit
            Unit of the wait and handle columns: ``min``, ``s`` or ``h``.
        source
            Name of the file, for messages.
        spreadsheet_rows
            Number rows as in a spreadsheet (header = row 1) instead of
            ``data row 1, 2, ...``.
        drop_duplicates
            Keep the first of rows that repeat each other exactly, instead of
            refusing the log; :attr:`notes` says how many were left out.
        drop_outliers
            Leave out contacts far in time from all the others (see
            :data:`OUTLIER_SHARE`), instead of refusing the log.

        Raises
        ------
        ContactLogError
            Listing every problem: missing columns (with the columns found),
            an empty log, nested values, empty customer ids, unparseable
            timestamps or a mix of timestamps with and without a time-zone
            offset, unknown outcomes or channels, bad durations, repeated
            rows, contacts far in time from the rest, one customer's contacts
            overlapping in time, and journeys with no first contact or
            misnumbered contacts (when the log numbers contacts).

        Examples
        --------
        >>> raw = pd.DataFrame({"customer": [1, 1], "timestamp": [0.0, 5.0],
        ...                     "channel": ["web", "phone"], "outcome": ["unresolved", "resolved"]})
        >>> ContactLog.from_frame(raw).frame["next"].tolist()
        ['phone', 'resolved']
        >>> twice = pd.concat([raw, raw])
        >>> log = ContactLog.from_frame(twice, drop_duplicates=True)
        >>> log.contacts, log.notes[0].split(" (")[0]
        (2, '2 rows repeat an earlier row exactly')
        """
        return _Reader(raw, columns, channels, duration_unit, source, spreadsheet_rows,
                       drop_duplicates, drop_outliers).build()


def read_contact_log(path: str | Path, *, columns: Mapping[str, str] | str | None = None,
                     channels: Sequence[str] | None = None, duration_unit: str = "min",
                     drop_duplicates: bool = False, drop_outliers: bool = False) -> ContactLog:
    """Read and validate a contact log (CSV, or Parquet by extension).

    Parameters
    ----------
    path
        The log; ``.parquet``/``.pq`` files are read as Parquet, anything
        else as CSV (``.csv.gz`` and other compressed CSV included).
    columns, channels, duration_unit, drop_duplicates, drop_outliers
        As in :meth:`ContactLog.from_frame`.

    Raises
    ------
    ContactLogError
        If the file is missing, unreadable or empty, or any row is bad; every
        problem names the row (CSV rows are counted as in a spreadsheet, the
        header being row 1).

    Examples
    --------
    >>> import tempfile
    >>> path = Path(tempfile.mkdtemp()) / "log.csv"
    >>> _ = path.write_text("customer,timestamp,channel,outcome\\nA,2024-03-01T08:00,web,resolved\\n")
    >>> read_contact_log(path).journeys
    1
    """
    path = Path(path)
    source = str(path)
    if not path.is_file():
        raise ContactLogError(["no such file"], source)
    parquet = path.suffix.lower() in PARQUET_SUFFIXES
    try:
        if parquet:
            raw = pd.read_parquet(path)
        else:
            raw = pd.read_csv(path, dtype=str, keep_default_na=False, skipinitialspace=True)
    except pd.errors.EmptyDataError:
        raise ContactLogError(["the file is empty: expected a header line with the columns "
                               f"{', '.join(LOG_COLUMNS[c] for c in REQUIRED_COLUMNS)}"], source) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        kind = "Parquet" if parquet else "CSV"
        raise ContactLogError([f"cannot read as {kind}: {exc}"], source) from None
    return ContactLog.from_frame(raw, columns=columns, channels=channels, duration_unit=duration_unit,
                                 source=source, spreadsheet_rows=not parquet,
                                 drop_duplicates=drop_duplicates, drop_outliers=drop_outliers)


#: Said when one customer's contacts overlap or interleave: the usual causes.
_MERGED_HINT = ("if the log merges separate runs or periods (such as a simulation's replications), give each "
                "its own value in a 'replication' column; otherwise check that customer ids are not reused")


class _Reader:
    """Validates a raw log column by column, collecting every problem."""

    def __init__(self, raw: pd.DataFrame, columns, channels, duration_unit: str,
                 source: str | None, spreadsheet_rows: bool, drop_duplicates: bool = False,
                 drop_outliers: bool = False):
        self.raw = raw.reset_index(drop=True)
        self.source = source or "contact log"
        self.spreadsheet_rows = spreadsheet_rows
        self.row_word = "row" if spreadsheet_rows else "data row"
        self.rows = np.arange(len(raw)) + (2 if spreadsheet_rows else 1)
        self.drop_duplicates, self.drop_outliers = drop_duplicates, drop_outliers
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.origin: pd.Timestamp | None = None
        self.datetimes_read: pd.Series | None = None  # the timestamps as date-times, when they are
        try:
            self.names = column_names(columns)
        except ValueError as exc:
            raise ContactLogError([str(exc)], self.source) from None
        self.channels = None if channels is None else tuple(channels)
        if duration_unit not in DURATION_UNITS:
            raise ContactLogError([f"duration unit {duration_unit!r} is not one of "
                                   f"{', '.join(DURATION_UNITS)}"], self.source)
        self.duration_factor = DURATION_UNITS[duration_unit]

    def row_list(self, rows: Sequence[int] | np.ndarray) -> str:
        """``row 3`` or ``rows 3, 5, 8, 9, 10 and 4 more``, from row numbers."""
        rows = np.asarray(rows)
        shown = ", ".join(str(r) for r in rows[:MAX_ROWS_LISTED])
        more = len(rows) - MAX_ROWS_LISTED
        plural = "s" if len(rows) > 1 else ""
        return f"{self.row_word}{plural} {shown}" + (f" and {more} more" if more > 0 else "")

    def bad_rows(self, mask: np.ndarray, column: str, what: str, values: pd.Series | None = None) -> None:
        """Record one problem for every row in ``mask``, showing the first values."""
        positions = np.flatnonzero(mask)
        if not len(positions):
            return
        shown = ""
        if values is not None:
            examples = [repr(v) for v in dict.fromkeys(map(str, values.iloc[positions[:MAX_ROWS_LISTED]]))]
            shown = f" (got {', '.join(examples)})"
        self.problems.append(f"{self.row_list(self.rows[positions])}: column {column!r}: {what}{shown}")

    def raise_problems(self) -> None:
        if self.problems:
            raise ContactLogError(self.problems, self.source)

    def time_text(self, minutes: float) -> str:
        return _time_text(self.origin, minutes)

    def build(self) -> ContactLog:
        raw = self.raw
        found = [str(c) for c in raw.columns]
        matched = self.match_headers(found)
        missing = [self.names[c] for c in REQUIRED_COLUMNS if not matched[c]]
        if missing:
            hint = ("; name yours with --columns / columns=, e.g. customer=case_id"
                    if len(found) else "")
            self.problems.append(f"missing column(s) {', '.join(missing)}; the columns found are "
                                 f"{', '.join(found) or 'none'}{hint}")
        self.raise_problems()
        # from here on, each column is named as in the file
        names = self.names = {key: matched[key][0] if matched[key] else name for key, name in self.names.items()}
        if not len(raw):
            raise ContactLogError(["no contacts: the log has a header but no rows"], self.source)
        has = {key: bool(matched[key]) for key in ("wait", "handle", "contact", "replication")}
        for key in (*REQUIRED_COLUMNS, *(k for k in has if has[k])):
            self.check_plain_values(key, names[key])
        self.raise_problems()  # nested values would make every other check meaningless

        customer = self.text(names["customer"])
        self.bad_rows((customer == "").to_numpy(), names["customer"], "empty customer id")
        time, self.origin = self.timestamps(names["timestamp"])
        channel = self.text(names["channel"])
        self.check_channels(channel, names["channel"])
        outcome = self.text(names["outcome"]).str.lower()
        bad = ~outcome.isin(LOG_OUTCOMES).to_numpy()
        self.bad_rows(bad, names["outcome"], f"unknown outcome; allowed: {', '.join(LOG_OUTCOMES)}",
                      self.raw[names["outcome"]])
        wait = self.durations(names["wait"]) if has["wait"] else np.full(len(raw), np.nan)
        handle = self.durations(names["handle"]) if has["handle"] else np.full(len(raw), np.nan)
        contact = self.contact_numbers(names["contact"]) if has["contact"] else None
        if has["replication"]:
            replication = self.text(names["replication"])
            self.bad_rows((replication == "").to_numpy(), names["replication"], "empty replication")
        else:
            replication = pd.Series("", index=raw.index, dtype=object)
        self.raise_problems()

        frame = pd.DataFrame({
            "row": self.rows, "replication": replication.to_numpy(), "customer": customer.to_numpy(),
            "time": time, "channel": channel.to_numpy(), "outcome": outcome.to_numpy(),
            "wait": wait, "handle": handle,
        })
        if contact is not None:
            frame["contact"] = contact
        frame = self.without_repeated_rows(frame)
        frame, periods = self.periods(frame, has["replication"])
        self.raise_problems()
        frame = self.journeys(frame, has["replication"])
        return ContactLog(frame, self.source, self.origin, has["wait"], has["handle"], has["contact"],
                          self.spreadsheet_rows, names, periods, self.notes, has["replication"])

    # -- columns

    def match_headers(self, found: list[str]) -> dict[str, tuple[str, ...]]:
        """The header(s) in ``found`` that each logical column matches.

        An exact match wins; otherwise a header matches when it is equal after
        stripping spaces and ignoring case (CRM exports vary). More than one
        such header is recorded as a problem.
        """
        folded: dict[str, list[str]] = {}
        for header in found:
            folded.setdefault(_fold(header), []).append(header)
        matched = {}
        for key, name in self.names.items():
            matched[key] = (name,) if name in found else tuple(folded.get(_fold(name), ()))
            if len(matched[key]) > 1:
                self.problems.append(
                    f"column {name!r}: {len(matched[key])} headers match it when case and spaces are ignored "
                    f"({', '.join(map(repr, matched[key]))}); rename all but one, or name the right one with "
                    "--columns / columns=")
        return matched

    def check_plain_values(self, key: str, column: str) -> None:
        """A used column must hold plain values: a nested one (a Parquet struct or list) is refused."""
        values = self.raw[column]
        if values.dtype != object:
            return
        nested = values.map(lambda v: isinstance(v, (dict, list, tuple, set, np.ndarray))).to_numpy(dtype=bool)
        self.bad_rows(nested, column, f"holds nested values (a record or a list), not text or numbers; the "
                      f"{key} column must be plain: flatten it in the export, or read the {key} from another "
                      f"column with --columns / columns=, e.g. {key}=NAME", values)

    def text(self, column: str) -> pd.Series:
        values = self.raw[column]
        text = values.astype("string").fillna("").str.strip()
        if pd.api.types.is_float_dtype(values):  # e.g. Parquet ids stored as 1.0, 2.0
            whole = values.notna() & (values == values.round())
            text = text.where(~whole, values[whole].astype("Int64").astype("string"))
        return text.astype(object)

    def timestamps(self, column: str) -> tuple[np.ndarray, pd.Timestamp | None]:
        """Minutes from the origin (midnight of the first day), and that origin."""
        values = self.raw[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            parsed = values.dt.tz_localize(None) if values.dt.tz is not None else values
            empty = parsed.isna().to_numpy()
            self.bad_rows(empty, column, "missing timestamp")
            return self.minutes_from_midnight(parsed)
        if pd.api.types.is_numeric_dtype(values):
            numbers = values.astype(float)
            self.bad_rows(~np.isfinite(numbers.to_numpy()), column, "missing timestamp")
            return numbers.to_numpy(), None
        text = values.astype("string").fillna("").str.strip()
        empty = (text == "").to_numpy()
        self.bad_rows(empty, column, "missing timestamp")
        numbers = pd.to_numeric(text.where(~empty), errors="coerce")
        if numbers.notna().to_numpy()[~empty].all():  # every timestamp a number of minutes
            return numbers.to_numpy(dtype=float), None
        parsed = self.datetimes(text.where(~empty), column)
        unparsed = parsed.isna().to_numpy() & ~empty
        self.bad_rows(unparsed, column, "not an ISO 8601 date-time (e.g. 2024-03-01T08:15:00) "
                      "or a number of minutes", text)
        return self.minutes_from_midnight(parsed)

    def datetimes(self, text: pd.Series, column: str) -> pd.Series:
        """Parse ISO 8601 date-times (unparseable ones become NaT), as wall-clock times of one offset.

        When the time-zone offsets differ (a log across a daylight-saving
        change), every time is converted to the first row's offset, so that
        the order and the gaps between contacts stay exact, and a note says
        so. Timestamps of which only some carry an offset are refused: the
        others' zone is unknown.
        """
        offset = text.fillna("").str.extract(_OFFSET, expand=False)
        aware = offset.notna().to_numpy()
        naive = text.notna().to_numpy() & ~aware
        if aware.any() and naive.any():
            few, many = (aware, naive) if aware.sum() <= naive.sum() else (naive, aware)
            self.bad_rows(few, column, f"{aware.sum():,} timestamps have a time-zone offset and {naive.sum():,} "
                          f"have none (e.g. {self.row_list(self.rows[many][:1])}); give every timestamp the "
                          "same form, all with an offset (2024-03-01T08:15:00+01:00) or none", text)
            return pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True).dt.tz_localize(None)
        try:
            parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
        except (ValueError, TypeError):  # mixed time-zone offsets
            by_text = {o: pd.Timestamp("2000-01-01T00:00" + o).utcoffset() for o in offset.dropna().unique()}
            offsets = offset.map(by_text)
            first = offsets[aware].iloc[0]
            others = aware & (offsets != first).to_numpy()
            self.notes.append(
                f"timestamps have different time-zone offsets (as across a daylight-saving change): "
                f"{others.sum():,} ({self.row_list(self.rows[others])}) differ from the first row's "
                f"{_offset_text(first)}; all are read as {_offset_text(first)} wall-clock times, so the order "
                "and gaps are exact but those rows' hours of the day are shifted")
            parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
            parsed = parsed.dt.tz_convert(timezone(first))
        if parsed.dt.tz is not None:
            parsed = parsed.dt.tz_localize(None)
        return parsed

    def minutes_from_midnight(self, parsed: pd.Series) -> tuple[np.ndarray, pd.Timestamp | None]:
        self.datetimes_read = parsed
        if parsed.notna().sum() == 0:
            return np.full(len(parsed), np.nan), None
        origin = parsed.min().normalize()
        minutes = (parsed - origin) / pd.Timedelta(minutes=1)
        return minutes.to_numpy(dtype=float, na_value=np.nan), origin

    def check_channels(self, channel: pd.Series, column: str) -> None:
        empty = (channel == "").to_numpy()
        self.bad_rows(empty, column, "empty channel name")
        valid = channel.map(lambda n: bool(CHANNEL_NAME.match(n)) and n not in (GIVE_UP, RESOLVED)).to_numpy()
        self.bad_rows(~valid & ~empty, column, "not usable as a scenario channel name: start with a "
                      f"letter, use letters, digits, _ or -, not {GIVE_UP!r} or {RESOLVED!r}", channel)
        if self.channels is not None:
            unknown = valid & ~channel.isin(self.channels).to_numpy()
            self.bad_rows(unknown, column, f"unknown channel; allowed: {', '.join(self.channels)}", channel)

    def durations(self, column: str) -> np.ndarray:
        values = self.raw[column]
        text = values.astype("string").fillna("").str.strip()
        empty = (text == "").to_numpy()
        numbers = pd.to_numeric(text.where(~empty), errors="coerce").to_numpy(dtype=float)
        bad = ~empty & ~(np.isfinite(numbers) & (numbers >= 0))
        self.bad_rows(bad, column, "must be a number >= 0 (or empty when unknown)", text)
        return numbers * self.duration_factor

    def contact_numbers(self, column: str) -> np.ndarray:
        text = self.raw[column].astype("string").fillna("").str.strip()
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float)
        bad = ~(np.isfinite(numbers) & (numbers >= 1) & (numbers == np.round(numbers)))
        self.bad_rows(bad, column, "must be the contact's number in its journey: a whole number >= 1", text)
        return np.where(bad, 0, numbers).astype(np.int64)

    # -- damage that exports do

    def without_repeated_rows(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Rows equal to an earlier row in every column read: refused, or left out with ``drop_duplicates``."""
        keys = [c for c in frame.columns if c != "row"]
        repeated = frame.duplicated(keys, keep="first").to_numpy()
        if not repeated.any():
            return frame
        first = frame.groupby(keys, dropna=False, sort=False)["row"].transform("first").to_numpy()
        rows = frame["row"].to_numpy()[repeated]
        pairs = ", ".join(f"{r} repeats {f}" for r, f in zip(rows[:MAX_ROWS_LISTED], first[repeated]))
        what = (f"{len(rows):,} row{'s' if len(rows) > 1 else ''} repeat an earlier row exactly "
                f"({100 * len(rows) / len(frame):.3g} % of the log; {self.row_word} {pairs}"
                f"{' ...' if len(rows) > MAX_ROWS_LISTED else ''})")
        if self.drop_duplicates:
            self.notes.append(f"{what}: left out, the first of each kept (drop duplicates)")
            return frame[~repeated]
        self.problems.append(f"{what}, as when an export is appended twice; each contact must appear once: fix "
                             "the export, or keep the first of each with --drop-duplicates / "
                             "drop_duplicates=True (separate contacts that look the same need a contact "
                             "column or finer timestamps)")
        return frame

    def periods(self, frame: pd.DataFrame, has_replication: bool) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Split each replication's time at long gaps; refuse (or leave out) contacts far from all others.

        A gap is a stretch without any contact of at least :data:`MIN_GAP_MINUTES`
        and :data:`GAP_MEAN_INTERVALS` mean times between contacts. A group of
        contacts cut off by gaps that holds at most :data:`OUTLIER_SHARE` of its
        replication is an outlier (a stray date); the other groups are periods,
        each observed from its first to its last contact.
        """
        time = frame["time"].to_numpy()
        rows = frame["row"].to_numpy()
        period = np.full(len(frame), -1, dtype=np.int64)
        outlier = np.zeros(len(frame), dtype=bool)
        gaps: list[str] = []
        strays: list[str] = []
        count = 0
        for replication, index in frame.groupby("replication", sort=True).indices.items():
            index = index[np.argsort(time[index], kind="stable")]
            t, in_order = time[index], rows[index]
            bounds = np.concatenate(([0], np.flatnonzero(np.diff(t) > _long_gap(t)) + 1, [len(t)]))
            pieces = list(zip(bounds[:-1], bounds[1:]))
            small = [hi - lo <= OUTLIER_SHARE * len(t) for lo, hi in pieces]
            if all(small):  # many small pieces: a sparse log, not stray dates
                small = [False] * len(pieces)
            kept = [piece for piece, stray in zip(pieces, small) if not stray]
            where = f" of replication {replication}" if has_replication else ""
            others = (f"the other contacts{where} run from {self.time_text(t[kept[0][0]])} to "
                      f"{self.time_text(t[kept[-1][1] - 1])}")
            for lo, hi in (piece for piece, stray in zip(pieces, small) if stray):
                outlier[index[lo:hi]] = True
                distance = min(t[lo] - t[lo - 1] if lo else math.inf, t[hi] - t[hi - 1] if hi < len(t) else math.inf)
                when = self.time_text(t[lo]) + ("" if hi - lo == 1 else f" to {self.time_text(t[hi - 1])}")
                strays.append(f"{self.row_list(np.sort(in_order[lo:hi]))}: {hi - lo} contact{'s' if hi - lo > 1 else ''} "
                              f"at {when}, {_duration_text(distance)} from every other contact ({others})")
            for (_, end), (start, _) in zip(kept[:-1], kept[1:]):
                gaps.append(f"no contact{where} from {self.time_text(t[end - 1])} to {self.time_text(t[start])} "
                            f"({_duration_text(t[start] - t[end - 1])}, between {self.row_word}s "
                            f"{in_order[end - 1]} and {in_order[start]})")
            for lo, hi in kept:
                period[index[lo:hi]] = count
                count += 1
        if strays:
            listed = strays[:MAX_ROWS_LISTED] + ([f"... and {len(strays) - MAX_ROWS_LISTED} more such group(s)"]
                                                 if len(strays) > MAX_ROWS_LISTED else [])
            if self.drop_outliers:
                self.notes.append(f"{outlier.sum():,} contact(s) far in time from all the others left out "
                                  "(drop outliers): " + "; ".join(listed))
            else:
                self.problems.append(
                    f"{outlier.sum():,} contact(s) lie far in time from all the others, usually an export error "
                    "such as a default date (1900-01-01) or a mistyped year: correct them, or leave them out "
                    "with --drop-outliers / drop_outliers=True")
                self.problems += listed
        if self.drop_outliers and outlier.any():
            frame, period = frame[~outlier], period[~outlier]
            frame = self.from_first_midnight(frame)
        if gaps:
            listed = gaps[:MAX_ROWS_LISTED] + ([f"... and {len(gaps) - MAX_ROWS_LISTED} more"]
                                               if len(gaps) > MAX_ROWS_LISTED else [])
            self.notes.append(
                f"the log has {len(gaps)} gap{'s' if len(gaps) > 1 else ''} of a day or more without any contact "
                "(a closure, missing data or separate exports); rates count only the time with contacts, and "
                "journeys near a gap are censored as at the log's ends: " + "; ".join(listed))
        frame = frame.assign(period=period)
        return frame, _period_table(frame)

    def from_first_midnight(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Times counted from the midnight of the first remaining day (after outliers were left out)."""
        if self.datetimes_read is None:
            return frame
        kept = self.datetimes_read.iloc[frame["row"].to_numpy() - self.rows[0]]
        time, self.origin = self.minutes_from_midnight(kept)
        return frame.assign(time=time)

    # -- journeys

    def journeys(self, frame: pd.DataFrame, has_replication: bool) -> pd.DataFrame:
        """Sort each customer's contacts in time, split them into journeys and add ``next``."""
        keys = ["replication", "customer", "time"] + (["contact"] if "contact" in frame else []) + ["row"]
        frame = frame.sort_values(keys, kind="stable").reset_index(drop=True)
        customer = frame["customer"].to_numpy()
        replication = frame["replication"].to_numpy()
        resolved = (frame["outcome"] == "resolved").to_numpy()
        new_customer = np.ones(len(frame), dtype=bool)
        new_customer[1:] = (customer[1:] != customer[:-1]) | (replication[1:] != replication[:-1])
        after_resolved = np.zeros(len(frame), dtype=bool)
        after_resolved[1:] = resolved[:-1] & ~new_customer[1:]
        self.check_overlaps(frame, new_customer, has_replication)
        if "contact" in frame:
            contact = frame["contact"].to_numpy()
            starts = contact == 1
            self.check_contact_numbers(frame, new_customer, after_resolved, starts, has_replication)
        else:
            starts = new_customer | after_resolved
        self.raise_problems()  # a journey must start with contact 1 before it can be numbered
        journey = np.cumsum(starts) - 1
        start_index = np.flatnonzero(starts)
        position = np.arange(len(frame)) - start_index[journey]
        ends = np.ones(len(frame), dtype=bool)
        ends[:-1] = starts[1:]
        channel = frame["channel"].to_numpy(dtype=object)
        nxt = np.empty(len(frame), dtype=object)
        nxt[:-1] = channel[1:]
        nxt[ends] = np.where(resolved[ends], RESOLVED, GIVE_UP)
        first_journey = _first_journey(new_customer, starts)
        frame.insert(3, "journey", journey)
        frame.insert(4, "position", position)
        frame["next"] = nxt
        frame["first_journey"] = first_journey
        return frame

    def check_overlaps(self, frame: pd.DataFrame, new_customer: np.ndarray, has_replication: bool) -> None:
        """A customer's contact may not start before their previous one ended (start + wait + handle if served).

        Timestamps and durations are compared within their rounding (whole
        minutes or seconds, when every value is).
        """
        time = frame["time"].to_numpy()
        wait = np.nan_to_num(frame["wait"].to_numpy())
        handle = np.nan_to_num(frame["handle"].to_numpy())
        served = frame["outcome"].isin(("resolved", "unresolved")).to_numpy()
        end = time + wait + np.where(served, handle, 0.0)  # a late async answer is after the customer left
        tolerance = _resolution(time) + _resolution(wait) + _resolution(handle) + 1e-6
        overlap = np.zeros(len(frame), dtype=bool)
        overlap[1:] = ~new_customer[1:] & (time[1:] < end[:-1] - tolerance)
        positions = np.flatnonzero(overlap)
        if not len(positions):
            return
        self.problems.append(f"{len(positions):,} contact(s) start before the same customer's previous contact "
                             f"ended: one customer's contacts follow one another; {_MERGED_HINT}; and if the "
                             "handle times include after-contact work, give the time with the customer alone")
        rows, customer, replication = (frame[c].to_numpy() for c in ("row", "customer", "replication"))
        for i in positions[:MAX_ROWS_LISTED]:
            who = _who(customer[i], replication[i], has_replication)
            self.problems.append(f"{self.row_word} {rows[i]}: {who}'s contact at {self.time_text(time[i])} starts "
                                 f"before their previous contact ({self.row_word} {rows[i - 1]}, at "
                                 f"{self.time_text(time[i - 1])}) ended at {self.time_text(end[i - 1])}")
        if len(positions) > MAX_ROWS_LISTED:
            self.problems.append(f"... and {len(positions) - MAX_ROWS_LISTED} more row(s) like that")

    def check_contact_numbers(self, frame, new_customer, after_resolved, starts, has_replication) -> None:
        contact = frame["contact"].to_numpy()
        rows = frame["row"].to_numpy()
        customer = frame["customer"].to_numpy()
        replication = frame["replication"].to_numpy()
        previous = np.concatenate(([0], contact[:-1]))
        no_first = new_customer & ~starts
        step = ~new_customer & ~starts
        restart = step & (contact <= previous)  # e.g. 1, 1, 2, 2: two journeys interleaved
        unended = after_resolved & ~starts & ~restart
        bad_step = step & (contact > previous + 1) & ~unended
        for mask, text in (
            (no_first, "a journey with no first contact: {c}'s earliest contact in the log is "
                       "contact {n}; the log must start each journey with contact 1"),
            (restart, "{c}'s contact {n} follows contact {p}: the numbers restart within a journey, as when "
                      f"two journeys of one customer interleave in time; {_MERGED_HINT}"),
            (bad_step, "{c}'s contact {n} follows contact {p}; contacts of a journey are "
                                  "numbered 1, 2, 3, ... in time order"),
            (unended, "{c}'s contact {n} follows a resolved contact; a journey ends when "
                      "resolved, so the next contact must be number 1 (a new journey)"),
        ):
            positions = np.flatnonzero(mask)
            for i in positions[:MAX_ROWS_LISTED]:
                who = _who(customer[i], replication[i], has_replication)
                self.problems.append(f"{self.row_word} {rows[i]}: {text.format(c=who, n=contact[i], p=previous[i])}")
            if len(positions) > MAX_ROWS_LISTED:
                self.problems.append(f"... and {len(positions) - MAX_ROWS_LISTED} more row(s) like that")


#: A time-zone offset at the end of an ISO 8601 timestamp.
_OFFSET = r"\d\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*([Zz]|[+-]\d\d(?::?\d\d)?)$"


def _fold(header: str) -> str:
    """A header as compared when no header matches exactly: no surrounding spaces, case folded."""
    return header.strip().casefold()


def _who(customer: Any, replication: Any, has_replication: bool) -> str:
    return f"customer {customer} of replication {replication}" if has_replication else f"customer {customer}"


def _time_text(origin: pd.Timestamp | None, minutes: float) -> str:
    """Minutes from ``origin`` as a date-time (or as minutes when there is no origin)."""
    if origin is None:
        return f"minute {minutes:g}"
    return (origin + pd.Timedelta(minutes=minutes)).isoformat(sep=" ", timespec="seconds")


def _duration_text(minutes: float) -> str:
    """``3.5 days``, ``1,234 days``, ``7.2 hours``."""
    if minutes >= 1440.0:
        days = minutes / 1440.0
        return f"{days:,.1f} days" if days < 100 else f"{days:,.0f} days"
    return f"{minutes / 60.0:.1f} hours"


def _offset_text(offset) -> str:
    total = int(offset.total_seconds() // 60)
    sign = "+" if total >= 0 else "-"
    return f"{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"


def _long_gap(sorted_times: np.ndarray) -> float:
    """The shortest stretch without contacts that counts as a gap in a log with these (sorted) times."""
    if len(sorted_times) < 2:
        return math.inf
    low, high = np.quantile(sorted_times, [0.05, 0.95])
    rate = 0.9 * len(sorted_times) / (high - low) if high > low else math.inf
    return max(MIN_GAP_MINUTES, GAP_MEAN_INTERVALS / rate)


def _resolution(minutes: np.ndarray) -> float:
    """1 (a minute) or 1/60 (a second) when every non-zero value is a whole number of it, else 0."""
    values = minutes[np.isfinite(minutes) & (minutes != 0)]
    if not len(values):
        return 0.0
    for unit in (1.0, 1.0 / 60.0):
        scaled = values / unit
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-6 * np.maximum(1.0, np.abs(scaled)) + 1e-9):
            return unit
    return 0.0


def _period_table(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per period: ``replication, start, end, contacts``."""
    grouped = frame.groupby("period", sort=True)
    table = pd.DataFrame({"replication": grouped["replication"].first(), "start": grouped["time"].min(),
                          "end": grouped["time"].max(), "contacts": grouped.size()})
    table.index.name = "period"
    return table


def _first_journey(new_customer: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """For each contact, whether its journey is its customer's first one in the log."""
    journeys_before = np.cumsum(starts)  # journey number + 1 of each contact
    first_of_customer = np.maximum.accumulate(np.where(new_customer, journeys_before, 0))
    return journeys_before == first_of_customer
