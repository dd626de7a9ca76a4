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
    ``duration_unit``); empty where unknown.
``contact`` (optional)
    The contact's number in its journey, 1 for the first one. With it,
    journeys are delimited exactly; without it, a journey ends at a resolved
    contact.

:func:`to_contact_log` turns a simulation's journeys into this format and
:func:`write_contact_log` saves it (CSV, or Parquet by extension);
:func:`read_contact_log` reads and validates a log, rebuilding its journeys,
and reports every bad row by its number (CSV rows are numbered as in a
spreadsheet: the header is row 1).

Examples
--------
>>> import simulator as sim
>>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=1, days=0.05)
>>> frame = to_contact_log(res)
>>> list(frame.columns)
['customer', 'contact', 'timestamp', 'channel', 'outcome', 'wait_min', 'handle_min']
>>> log = ContactLog.from_frame(frame)
>>> log.journeys == int((frame["contact"] == 1).sum())
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .experiment import Result
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
        contact``); ``wait_min`` and ``handle_min`` are accepted for ``wait``
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


def to_contact_log(journeys: Result | pd.DataFrame, *, start: datetime | None = DEFAULT_START,
                   replication: int | None = None) -> pd.DataFrame:
    """A simulation's journeys as a contact log, one row per contact, in time order.

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
        Which replication to export. Each replication is a separate run of
        the same period, so one log holds one of them; it may be left out when
        there is only one.

    Returns
    -------
    DataFrame
        ``customer, contact, timestamp, channel, outcome, wait_min, handle_min``
        (``contact`` counts from 1 within the journey), sorted by timestamp.

    Raises
    ------
    ValueError
        If several replications are present and none is chosen, or the chosen
        one is not there.

    Examples
    --------
    >>> import simulator as sim
    >>> res = sim.run(sim.load_scenario("nice_bcg_2016"), replications=2, days=0.02)
    >>> log = to_contact_log(res, replication=1)
    >>> str(log["timestamp"].min().date())
    '2024-01-01'
    >>> set(log["outcome"]) <= {"abandoned", "closed", "resolved", "unresolved"}
    True
    """
    frame = journeys.journeys if isinstance(journeys, Result) else journeys
    if "replication" in frame.columns:
        present = sorted(pd.unique(frame["replication"]))
        if replication is None:
            if len(present) > 1:
                raise ValueError(f"the journeys hold {len(present)} replications; choose one with "
                                 f"replication= (one of {present[0]}..{present[-1]}): each is a separate "
                                 "run of the same period")
        elif replication not in present:
            raise ValueError(f"no replication {replication!r}; the journeys hold {', '.join(map(str, present))}")
        else:
            frame = frame[frame["replication"] == replication]
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
    return log.sort_values(["timestamp", "customer", "contact"], kind="stable").reset_index(drop=True)


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
        One row per contact, sorted by customer, journey and time:
        ``row`` (the row's number in the file, see :meth:`row_name`),
        ``customer``, ``journey`` (0, 1, ... over the log), ``position`` (0
        for a journey's first contact), ``time`` (minutes; hour of the day is
        ``time % 1440 // 60``), ``channel``, ``outcome``, ``wait``, ``handle``
        (minutes, NaN where unknown), ``next`` (the next contact's channel,
        ``give_up`` after a journey's last unresolved contact, or
        ``resolved``) and ``first_journey`` (the customer's first journey in
        the log, which may have begun before the log did).
    origin
        The date-time of minute 0 (midnight of the first day), or None when
        the log's timestamps are numbers of minutes.
    has_wait, has_handle, has_contact
        Whether the log has the optional wait, handle and contact columns.
    columns
        The column name of each logical column, as read.
    """

    frame: pd.DataFrame
    source: str = "contact log"
    origin: pd.Timestamp | None = None
    has_wait: bool = False
    has_handle: bool = False
    has_contact: bool = False
    spreadsheet_rows: bool = False
    columns: dict[str, str] = field(default_factory=lambda: dict(LOG_COLUMNS))

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
        if self.origin is None:
            return f"minute {minutes:g}"
        return (self.origin + pd.Timedelta(minutes=minutes)).isoformat(sep=" ", timespec="seconds")

    @classmethod
    def from_frame(cls, raw: pd.DataFrame, *, columns: Mapping[str, str] | str | None = None,
                   channels: Sequence[str] | None = None, duration_unit: str = "min",
                   source: str | None = None, spreadsheet_rows: bool = False) -> "ContactLog":
        """Validate a contact log given as a DataFrame and rebuild its journeys.

        Parameters
        ----------
        raw
            One row per contact, in file order.
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

        Raises
        ------
        ContactLogError
            Listing every problem: missing columns (with the columns found),
            an empty log, empty customer ids, unparseable timestamps,
            unknown outcomes or channels, bad durations, and journeys with no
            first contact (when the log numbers contacts).

        Examples
        --------
        >>> raw = pd.DataFrame({"customer": [1, 1], "timestamp": [0.0, 5.0],
        ...                     "channel": ["web", "phone"], "outcome": ["unresolved", "resolved"]})
        >>> ContactLog.from_frame(raw).frame["next"].tolist()
        ['phone', 'resolved']
        """
        return _Reader(raw, columns, channels, duration_unit, source, spreadsheet_rows).build()


def read_contact_log(path: str | Path, *, columns: Mapping[str, str] | str | None = None,
                     channels: Sequence[str] | None = None, duration_unit: str = "min") -> ContactLog:
    """Read and validate a contact log (CSV, or Parquet by extension).

    Parameters
    ----------
    path
        The log; ``.parquet``/``.pq`` files are read as Parquet, anything
        else as CSV (``.csv.gz`` and other compressed CSV included).
    columns, channels, duration_unit
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
                                 source=source, spreadsheet_rows=not parquet)


class _Reader:
    """Validates a raw log column by column, collecting every problem."""

    def __init__(self, raw: pd.DataFrame, columns, channels, duration_unit: str,
                 source: str | None, spreadsheet_rows: bool):
        self.raw = raw.reset_index(drop=True)
        self.source = source or "contact log"
        self.spreadsheet_rows = spreadsheet_rows
        self.rows = np.arange(len(raw)) + (2 if spreadsheet_rows else 1)
        self.problems: list[str] = []
        try:
            self.names = column_names(columns)
        except ValueError as exc:
            raise ContactLogError([str(exc)], self.source) from None
        self.channels = None if channels is None else tuple(channels)
        if duration_unit not in DURATION_UNITS:
            raise ContactLogError([f"duration unit {duration_unit!r} is not one of "
                                   f"{', '.join(DURATION_UNITS)}"], self.source)
        self.duration_factor = DURATION_UNITS[duration_unit]

    def row_list(self, positions: np.ndarray) -> str:
        word = "row" if self.spreadsheet_rows else "data row"
        shown = ", ".join(str(r) for r in self.rows[positions[:MAX_ROWS_LISTED]])
        more = len(positions) - MAX_ROWS_LISTED
        plural = "s" if len(positions) > 1 else ""
        return f"{word}{plural} {shown}" + (f" and {more} more" if more > 0 else "")

    def bad_rows(self, mask: np.ndarray, column: str, what: str, values: pd.Series | None = None) -> None:
        """Record one problem for every row in ``mask``, showing the first values."""
        positions = np.flatnonzero(mask)
        if not len(positions):
            return
        shown = ""
        if values is not None:
            examples = [repr(v) for v in dict.fromkeys(values.iloc[positions[:MAX_ROWS_LISTED]].tolist())]
            shown = f" (got {', '.join(examples)})"
        self.problems.append(f"{self.row_list(positions)}: column {column!r}: {what}{shown}")

    def raise_problems(self) -> None:
        if self.problems:
            raise ContactLogError(self.problems, self.source)

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

        customer = self.text(names["customer"])
        self.bad_rows((customer == "").to_numpy(), names["customer"], "empty customer id")
        time, origin = self.timestamps(names["timestamp"])
        channel = self.text(names["channel"])
        self.check_channels(channel, names["channel"])
        outcome = self.text(names["outcome"]).str.lower()
        bad = ~outcome.isin(LOG_OUTCOMES).to_numpy()
        self.bad_rows(bad, names["outcome"], f"unknown outcome; allowed: {', '.join(LOG_OUTCOMES)}",
                      self.raw[names["outcome"]])
        has = {key: bool(matched[key]) for key in ("wait", "handle", "contact")}
        wait = self.durations(names["wait"]) if has["wait"] else np.full(len(raw), np.nan)
        handle = self.durations(names["handle"]) if has["handle"] else np.full(len(raw), np.nan)
        contact = self.contact_numbers(names["contact"]) if has["contact"] else None
        self.raise_problems()

        frame = pd.DataFrame({
            "row": self.rows, "customer": customer.to_numpy(), "time": time,
            "channel": channel.to_numpy(), "outcome": outcome.to_numpy(),
            "wait": wait, "handle": handle,
        })
        if contact is not None:
            frame["contact"] = contact
        frame = self.journeys(frame)
        return ContactLog(frame, self.source, origin, has["wait"], has["handle"], has["contact"],
                          self.spreadsheet_rows, names)

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
        parsed = _parse_datetimes(text.where(~empty))
        unparsed = parsed.isna().to_numpy() & ~empty
        self.bad_rows(unparsed, column, "not an ISO 8601 date-time (e.g. 2024-03-01T08:15:00) "
                      "or a number of minutes", text)
        return self.minutes_from_midnight(parsed)

    @staticmethod
    def minutes_from_midnight(parsed: pd.Series) -> tuple[np.ndarray, pd.Timestamp | None]:
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

    # -- journeys

    def journeys(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Sort each customer's contacts in time, split them into journeys and add ``next``."""
        keys = ["customer", "time"] + (["contact"] if "contact" in frame else []) + ["row"]
        frame = frame.sort_values(keys, kind="stable").reset_index(drop=True)
        customer = frame["customer"].to_numpy()
        resolved = (frame["outcome"] == "resolved").to_numpy()
        new_customer = np.ones(len(frame), dtype=bool)
        new_customer[1:] = customer[1:] != customer[:-1]
        after_resolved = np.zeros(len(frame), dtype=bool)
        after_resolved[1:] = resolved[:-1] & ~new_customer[1:]
        if "contact" in frame:
            contact = frame["contact"].to_numpy()
            starts = contact == 1
            self.check_contact_numbers(frame, new_customer, after_resolved, starts)
            self.raise_problems()  # a journey must start with contact 1 before it can be numbered
        else:
            starts = new_customer | after_resolved
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
        frame.insert(2, "journey", journey)
        frame.insert(3, "position", position)
        frame["next"] = nxt
        frame["first_journey"] = first_journey
        return frame

    def check_contact_numbers(self, frame, new_customer, after_resolved, starts) -> None:
        contact = frame["contact"].to_numpy()
        rows = frame["row"].to_numpy()
        customer = frame["customer"].to_numpy()
        previous = np.concatenate(([0], contact[:-1]))
        no_first = new_customer & ~starts
        bad_step = ~new_customer & ~starts & (contact != previous + 1)
        unended = after_resolved & ~starts
        word = "row" if self.spreadsheet_rows else "data row"
        for mask, text in (
            (no_first, "a journey with no first contact: customer {c}'s earliest contact in the log is "
                       "contact {n}; the log must start each journey with contact 1"),
            (bad_step, "customer {c}'s contact {n} follows contact {p}; contacts of a journey are "
                       "numbered 1, 2, 3, ... in time order"),
            (unended, "customer {c}'s contact {n} follows a resolved contact; a journey ends when "
                      "resolved, so the next contact must be number 1 (a new journey)"),
        ):
            positions = np.flatnonzero(mask)
            for i in positions[:MAX_ROWS_LISTED]:
                self.problems.append(f"{word} {rows[i]}: {text.format(c=customer[i], n=contact[i], p=previous[i])}")
            if len(positions) > MAX_ROWS_LISTED:
                self.problems.append(f"... and {len(positions) - MAX_ROWS_LISTED} more row(s) like that")


def _fold(header: str) -> str:
    """A header as compared when no header matches exactly: no surrounding spaces, case folded."""
    return header.strip().casefold()


def _first_journey(new_customer: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """For each contact, whether its journey is its customer's first one in the log."""
    journeys_before = np.cumsum(starts)  # journey number + 1 of each contact
    first_of_customer = np.maximum.accumulate(np.where(new_customer, journeys_before, 0))
    return journeys_before == first_of_customer


def _parse_datetimes(text: pd.Series) -> pd.Series:
    """Parse ISO 8601 date-times; unparseable ones become NaT.

    Time-zone offsets are dropped after converting to the first offset's
    wall clock when they agree, or to UTC when they are mixed.
    """
    try:
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
    except (ValueError, TypeError):  # mixed time-zone offsets
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce", utc=True)
    if pd.api.types.is_datetime64_any_dtype(parsed):
        return parsed.dt.tz_localize(None) if parsed.dt.tz is not None else parsed
    # mixed naive and aware values come back as objects: parse one by one
    return pd.Series([_one_datetime(v) for v in text], index=text.index, dtype="datetime64[ns]")


def _one_datetime(value: Any) -> Any:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return pd.NaT
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        return pd.NaT
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts
