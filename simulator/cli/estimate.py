"""``contactflow estimate``: a scenario, with intervals, from a contact log."""

from __future__ import annotations

import math

import click

from ..contact_log import DURATION_UNITS, ContactLogError, column_names, read_contact_log
from ..estimate import Estimate, EstimateError, estimate
from ..figures import decimals_of, pad_decimals
from ..report import table_text
from ..scenario import MAX_CONTACTS_LIMIT
from .base import fail, main, output_file

#: Parameters shown as probabilities (4 decimals) rather than 4 significant digits.
_PROBABILITY_FIELDS = ("first_channel", "resolve", "next", "next_after_abandon")


def _channel_list(values: tuple[str, ...]) -> list[str]:
    return [name.strip() for value in values for name in value.split(",") if name.strip()]


def _option_names() -> dict[str, str]:
    """The running command's options by argument name, e.g. ``{"focal_channel": "--focal"}``."""
    return {p.name: max(p.opts, key=len) for p in click.get_current_context().command.params
            if isinstance(p, click.Option)}


def _value(parameter: str, x: float) -> str:
    if not math.isfinite(x):
        return "–"
    if any(f".{key}" in parameter for key in _PROBABILITY_FIELDS):
        return f"{x:.4f}"
    if abs(x) >= 1000 or parameter.endswith(".agents"):
        return f"{x:,.0f}"
    return f"{x:#.4g}".rstrip(".")  # 4 significant digits, zeros kept


def _interval(parameter: str, mean: float, low: float, high: float) -> str:
    """``[low, high]``, each end with at least the decimals of the mean as printed."""
    decimals = decimals_of(_value(parameter, mean))
    return f"[{pad_decimals(_value(parameter, low), decimals)}, {pad_decimals(_value(parameter, high), decimals)}]"


def estimate_text(est: Estimate) -> str:
    """The estimates as the command prints them: a table with intervals, then the notes."""
    s = est.summary
    pct = f"{100 * est.level:g} %"
    periods = f" in {s['periods']:,} periods ({s['periods_are']})" if s["periods"] > 1 else ""
    parts = [f"{s['source']}: {s['contacts']:,} contacts in {s['journeys']:,} journeys{periods}; "
             f"estimate [{pct} interval]",
             f"censoring window {s['censor_minutes']:g} min ({s['censor_minutes_from']})"]
    rows = []
    for parameter, r in est.parameters.iterrows():
        if parameter.endswith(".agents"):
            interval = "assumption"
        else:
            interval = _interval(parameter, r["mean"], r["ci_low"], r["ci_high"])
        rows.append([parameter, _value(parameter, r["mean"]), interval, f"{int(r['n']):,}"])
    parts.append("\n" + table_text(rows, ["parameter", "estimate", f"{pct} interval", "n"]))
    if "hourly_profile" in est.toml:
        hourly = est.hourly
        rows = [[f"{h:02d}:00", f"{int(r['arrivals']):,}", _value("rate", r["rate"]),
                 _interval("rate", r["rate"], r["ci_low"], r["ci_high"])]
                for h, r in hourly.iterrows()]
        parts.append("\nArrivals by hour of the day (journeys per hour)\n"
                     + table_text(rows, ["hour", "journeys", "rate", f"{pct} interval"]))
    if est.notes:
        parts.append("\nCheck before use:\n" + "\n".join(f"  - {note}" for note in est.notes))
    return "\n".join(parts)


@main.command("estimate")
@click.argument("log", type=click.Path(dir_okay=False))
@click.option("-o", "--out", type=click.Path(dir_okay=False),
              help="Write the estimated scenario here (TOML, intervals as comments).")
@click.option("--columns", multiple=True, metavar="KEY=NAME[,...]",
              help="Column names of the log, e.g. --columns customer=case_id,timestamp=created_at. "
                   "Keys: customer, timestamp, channel, outcome, wait, handle, contact, replication.")
@click.option("--durations-in", "duration_unit", type=click.Choice(list(DURATION_UNITS)), default="min",
              show_default=True, help="Unit of the wait and handle columns.")
@click.option("--focal", "focal_channel", metavar="CHANNEL",
              help="The call centre (default: phone if the log has it, else the busiest channel).")
@click.option("--self-service", "self_service", multiple=True, metavar="CHANNEL[,...]",
              help="Channels without agents (default: those where no contact waited or abandoned).")
@click.option("--async", "async_channels", multiple=True, metavar="CHANNEL[,...]",
              help="Channels answered asynchronously, like email (default: those that answered a message "
                   "after the customer stopped waiting; --async '' for none).")
@click.option("--max-contacts", type=click.IntRange(1, MAX_CONTACTS_LIMIT),
              help="The contact centre's cap on contacts per journey, if it has one.")
@click.option("--censor-minutes", type=click.FloatRange(min=0),
              help="Censoring window at the log's ends (default: 99th percentile of the gaps between "
                   "contacts; 0 for a complete log such as a simulation's).")
@click.option("--level", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95,
              show_default=True, help="Level of the intervals.")
@click.option("--drop-duplicates", is_flag=True,
              help="Keep the first of rows that repeat each other exactly, instead of refusing the log.")
@click.option("--drop-outliers", is_flag=True,
              help="Leave out contacts far in time from all the others (e.g. a stray date in 1900), instead "
                   "of refusing the log.")
@click.option("--name", help="The scenario's name (default: from the log's file name).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document on stdout instead of tables.")
def estimate_command(log, out, columns, duration_unit, focal_channel, self_service, async_channels,
                     max_contacts, censor_minutes, level, drop_duplicates, drop_outliers, name, as_json):
    """Estimate a scenario from LOG, a contact log (CSV, or Parquet by extension).

    LOG has one row per contact with the columns customer, timestamp (ISO 8601
    or minutes), channel, outcome (resolved, unresolved, abandoned, closed)
    and optionally wait_min, handle_min, contact (its number in the journey)
    and replication (separate runs or periods of the same centre, as in the
    journeys.parquet that `contactflow run --out` writes). Prints every
    estimate with its interval; --out writes the scenario, ready for
    `contactflow run`. A log whose rows repeat, or with contacts far in time
    from the rest, is refused with the rows named, unless --drop-duplicates
    or --drop-outliers says to leave them out.

    \b
    Examples:
      contactflow estimate crm_export.csv --out my_centre.toml
      contactflow estimate cases.parquet --columns customer=case_id,timestamp=created_at --durations-in s
      contactflow run my_centre.toml --out runs && contactflow estimate runs/journeys.parquet --censor-minutes 0
    """
    try:
        names = column_names(",".join(columns) or None)
    except ValueError as exc:
        fail(f"--columns: {exc}")
    if out is not None:  # before reading and estimating, not after
        output_file(out)
    try:
        contact_log = read_contact_log(log, columns=names, duration_unit=duration_unit,
                                       drop_duplicates=drop_duplicates, drop_outliers=drop_outliers)
        est = estimate(contact_log, focal_channel=focal_channel,
                       self_service=_channel_list(self_service) or None,
                       async_channels=_channel_list(async_channels) if async_channels else None,
                       max_contacts=max_contacts,
                       censor_minutes=censor_minutes, level=level, name=name)
    except ContactLogError as exc:
        fail(str(exc))
    except EstimateError as exc:
        fail(str(exc.naming_options(_option_names())))
    if out is not None:
        try:
            est.save(out)
        except OSError as exc:
            fail(f"--out {out}: cannot write the scenario: {exc}")
    if as_json:
        click.echo(est.to_json())
    else:
        click.echo(estimate_text(est))
        if out is not None:
            click.echo(f"\nwrote {out}; check it, then: contactflow run {out}")
