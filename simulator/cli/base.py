"""The command group and what every command shares: loading with ``--set``,
variants, clean failures and progress bars."""

from __future__ import annotations

import functools
import re
import sys
import tempfile
import warnings
from pathlib import Path
from typing import Any, Mapping, Sequence

import click

from .. import __version__
from ..experiment import check_result_folder
from ..files import remove_stale_temporaries
from ..parallel import MAX_WORKERS_PER_CORE
from ..runsize import RunTooLarge
from ..scenario import (MAX_DAYS, MAX_REPLICATIONS, RELATIVE_OPERATORS, Relative, Scenario, ScenarioError,
                        load_scenario, parse_value)

from . import EXIT_INTERRUPTED, interrupted  # noqa: F401  (EXIT_INTERRUPTED: for the commands)

DEFAULT_SCENARIO = "nice_bcg_2016"
EXIT_BAD_INPUT = 2


def replications_range(least: int = 1) -> click.IntRange:
    """What ``-r`` and ``--max-replications`` take: ``least`` to ``MAX_REPLICATIONS``, like ``run.replications``."""
    return click.IntRange(least, MAX_REPLICATIONS)


#: What ``-d`` takes: like ``run.days``, more than 0 and at most ``MAX_DAYS``.
DAYS_RANGE = click.FloatRange(0, MAX_DAYS, min_open=True)


#: ``--force``, for every command that simulates.
force_option = click.option(
    "--force", is_flag=True,
    help="Simulate even a run estimated to be far beyond this machine (more than hours of work, or more "
         "memory than it has); without it such a run is refused before it starts, with the estimate.")


def refuse_run(exc: RunTooLarge) -> None:
    """Exit 2 with the estimate of a run too large, naming ``--force``."""
    fail(exc.message("--force"))


class ScenarioPath(click.ParamType):
    """A scenario file or the name of a bundled scenario (checked when loaded)."""

    name = "SCENARIO"


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``FIELD=VALUE``; the value is read as TOML (``25``, ``0.8``, ``[8, 20]``,
    ``{ phone = 0.5, give_up = 0.5 }``), or else taken as a plain string.

    ``FIELD+=N``, ``FIELD-=N``, ``FIELD*=X`` and ``FIELD/=X`` change the
    field's current value (a :class:`~simulator.scenario.Relative`).

    Examples
    --------
    >>> parse_assignment("channels.chat.agents=25"), parse_assignment("arrivals.per_hour*=1.1")
    (('channels.chat.agents', 25), ('arrivals.per_hour', Relative(op='*', operand=1.1)))
    """
    field, sep, raw = text.partition("=")
    field = field.strip()
    op = field[-1:] if field[-1:] in RELATIVE_OPERATORS else None
    if op is not None:
        field = field[:-1].strip()
    if not sep or not field:
        raise click.BadParameter(f"{text!r} is not FIELD=VALUE (e.g. channels.chat.resolve=0.8, "
                                 "or groups.digital.agents+=2, arrivals.per_hour*=1.1)", param_hint="--set")
    value = parse_value(raw)
    if op is None:
        return field, value
    try:
        return field, Relative(op, value)
    except ValueError as exc:
        raise click.BadParameter(f"{text!r}: {field}: {exc} (e.g. {field}{op}={2 if op in '*/' else 5})",
                                 param_hint="--set") from None


def parse_changes(assignments: Sequence[str], days: float | None = None) -> dict[str, Any]:
    """``--set FIELD=VALUE`` options (and ``--days``) as one dict of changes for ``Scenario.with_changes``."""
    changes: dict[str, Any] = {}
    given: dict[str, str] = {}
    for assignment in assignments:
        field, value = parse_assignment(assignment)
        if field in changes:  # which one was meant? (two relative changes would not add up either)
            raise click.BadParameter(f"{field} is given twice ({given[field]!r} and {assignment.strip()!r}); "
                                     "give it once", param_hint="--set")
        changes[field], given[field] = value, assignment.strip()
    if days is not None:
        changes["run.days"] = days
    return changes


def change_origins(assignments: Sequence[str], days: float | None = None) -> dict[str, str]:
    """Where each of :func:`parse_changes`' changes came from, for messages: ``{field: "--set FIELD=VALUE"}``."""
    origins = {parse_assignment(a)[0]: f"--set {a.strip()}" for a in assignments}
    if days is not None:
        origins["run.days"] = f"--days {days:g}"
    return origins


def load_with_changes(scenario: str | None, assignments: tuple[str, ...]) -> Scenario:
    """Load a scenario (the default preset when None) and apply ``--set`` changes.

    A problem a change causes says so, e.g. ``(from --set channels.chat.agents=abc)``.
    """
    sc = load_scenario(scenario or DEFAULT_SCENARIO)
    if assignments:
        sc = sc.with_changes(parse_changes(assignments), origins=change_origins(assignments))
    return sc


def set_option(what: str = "Change a scenario field"):
    """The ``--set`` option of a command: ``what`` it does, then the forms it takes."""
    return click.option("--set", "assignments", multiple=True, metavar="FIELD=VALUE",
                        help=f"{what}: FIELD=VALUE, or FIELD+=N, -=, *=, /= to change its current value (a shift "
                             "plan level by level, agents rounded), e.g. --set groups.digital.agents+=2, "
                             "--set arrivals.per_hour*=1.1 (repeatable).")


#: Where a list of changes splits: a ``;`` followed by the next ``FIELD=`` (so a value may hold a ``;``).
_NEXT_ASSIGNMENT = re.compile(r";\s*(?=[A-Za-z_][\w.\-]*\s*[+*/]?=)")
SET_VARIANT_EXAMPLE = "better_chat:channels.chat.resolve=0.8"
#: What a VARIANT may be, for the help of every command that takes one.
VARIANT_HELP = ("a scenario file or bundled name, or changes to the base like "
                "'more chat: groups.digital.agents+=2; channels.chat.resolve=0.7' (the label before ':' is optional)")

#: ``--workers``, shared by every command that simulates.
workers_option = click.option(
    "-w", "--workers", type=click.IntRange(min=1), default=None,
    help=f"Processes for replications (default: CPU cores; at most {MAX_WORKERS_PER_CORE} per core and one per "
         "replication to run). Results do not depend on it.")

#: ``--set-variant``, shared by every command that compares variants.
set_variant_option = click.option(
    "--set-variant", "set_variant_texts", multiple=True, metavar="NAME:FIELD=VALUE",
    help="A variant called NAME: the base with FIELD changed (repeat the NAME to change several fields, "
         f"or give other NAMEs for more variants), e.g. --set-variant {SET_VARIANT_EXAMPLE}.")


def _variant_parts(text: str) -> tuple[str | None, list[str] | None]:
    """``(label, assignments)`` of a variant text; ``assignments`` is None for a scenario file or name
    and empty for a label with nothing after its colon (``"x:"``)."""
    text = text.strip()
    if Path(text).is_file():
        return None, None
    if "=" not in text:
        label, sep, rest = text.partition(":")
        if sep and label.strip() and not rest.strip(" ;"):
            return label.strip(), []
        return None, None
    label, sep, rest = text.partition(":")
    if not sep or "=" in label:
        label, rest = "", text
    assignments = [a.strip() for a in _NEXT_ASSIGNMENT.split(rest.rstrip().rstrip(";")) if a.strip()]
    return label.strip() or None, assignments


def variant_scenarios(base: Scenario, variant_texts: Sequence[str] = (), set_variant_texts: Sequence[str] = (),
                      *, changes: Mapping[str, Any] | None = None, origins: Mapping[str, str] | None = None,
                      variant_option: str = "VARIANT") -> dict[str, Scenario]:
    """Named variants of ``base``, read the same way by every command that compares scenarios.

    Each of ``variant_texts`` (``compare``'s VARIANT arguments, ``report
    --compare``) is either

    * a scenario file or bundled name (``plan_b.toml``): named after its
      scenario (after the file, ``plan_b``, when the base or another variant
      has that name), with ``changes`` (the command's ``--set`` and
      ``--days``) applied as they were to the base, a problem they cause
      naming its ``origins`` (:func:`change_origins`); or
    * changes to the base, ``FIELD=VALUE`` separated by ``;``, optionally led
      by a label and a colon: ``"more chat: groups.digital.agents+=2;
      channels.chat.resolve=0.7"``. Without a label, the changes are the name.

    Each of ``set_variant_texts`` (``--set-variant``) is that second form with
    its label required, ``NAME:FIELD=VALUE``; the texts are grouped by NAME,
    so repeating a NAME changes several fields of one variant.

    Names are unique: a label or NAME given twice, or equal to the base's
    name, is an error; a name taken from a scenario or from the changes gets
    `` (2)``, `` (3)``, ... when it is taken.

    Returns
    -------
    dict
        ``{name: Scenario}``: the ``variant_texts`` in order, then the
        ``--set-variant`` names in order of first appearance.

    Any bad text (not FIELD=VALUE, an invalid field or value, a missing file,
    a clashing name) prints one message naming the option and the text and
    exits with status 2, without a traceback.

    Examples
    --------
    >>> sc = load_scenario("nice_bcg_2016")
    >>> variants = variant_scenarios(sc, ["more chat: groups.digital.agents+=2"],
    ...                              ["better_chat:channels.chat.resolve=0.8", "better_chat:groups.digital.shrinkage=0.2"])
    >>> list(variants), variants["better_chat"].group("digital").shrinkage
    (['more chat', 'better_chat'], 0.2)
    """
    changes = dict(changes or {})
    # (where: the options as typed, label or None, assignments or None for a file, text), in order
    entries = [(f"{variant_option} {text!r}", *_variant_parts(text), text) for text in variant_texts]
    grouped: dict[str, tuple[list[str], list[str]]] = {}  # name -> (texts, assignments)
    for text in set_variant_texts:
        label, assignments = _variant_parts(text)
        if label is None or not assignments:
            fail(f"--set-variant {text!r}: expected NAME:FIELD=VALUE, e.g. {SET_VARIANT_EXAMPLE}")
        texts, merged = grouped.setdefault(label, ([], []))
        texts.append(text)
        merged.extend(assignments)
    entries += [(" ".join(f"--set-variant {t!r}" for t in texts), name, merged, None)
                for name, (texts, merged) in grouped.items()]

    explicit: dict[str, str] = {}  # label -> where it was given
    for where, label, assignments, _ in entries:
        if assignments is None or label is None:
            continue
        if not assignments:
            fail(f"{where}: the variant {label!r} has no changes; expected FIELD=VALUE after the colon, "
                 f"e.g. '{label}: groups.digital.agents+=2'")
        if label == base.name:
            fail(f"{where}: the name {label!r} is the base scenario's name; choose another")
        if label in explicit:
            fail(f"{where}: the name {label!r} is already given by {explicit[label]}; choose another")
        explicit[label] = where

    variants: dict[str, Scenario] = {}
    for where, label, assignments, text in entries:
        try:
            if assignments is None:
                scenario = load_scenario(text.strip())
                scenario = scenario.with_changes(changes, origins=origins) if changes else scenario
                name = scenario.name
                if name == base.name or name in variants or name in explicit:
                    name = Path(text.strip()).stem  # plan_b.toml, a copy of the base renamed: "plan_b"
            else:
                fields: dict[str, Any] = {}
                typed: dict[str, str] = {}  # each field's assignment as typed, for messages
                for assignment in assignments:
                    field, value = parse_assignment(assignment)
                    if field in fields and fields[field] != value:
                        fail(f"{where}: {field} is given twice ({fields[field]!r} and {value!r})")
                    fields[field], typed[field] = value, assignment
                scenario = base.with_changes(fields, origins=typed)
                name = label or "; ".join(assignments)
        except click.BadParameter as exc:
            fail(f"{where}: {exc.message}")
        except ScenarioError as exc:
            hint = "" if assignments is not None or Path(text.strip()).exists() else (
                f"\n  (a variant is {VARIANT_HELP})")
            fail(f"{where}: {exc}{hint}")
        if label is None:  # a name of our making: keep it clear of the others
            unique, n = name, 2
            while unique in variants or unique in explicit or unique == base.name:
                unique, n = f"{name} ({n})", n + 1
            name = unique
        variants[name] = scenario
    return variants


def fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(EXIT_BAD_INPUT)


def alignment_notes(base_name: str, aligned: Mapping[str, Mapping[str, tuple[float, float]]]) -> None:
    """Say on stderr which variants run on the base's window instead of their own
    (:func:`simulator.compare.align_runs`)."""
    for label, fields in aligned.items():
        changed = ", ".join(f"{f} = {b:g} (its own: {v:g})" for f, (v, b) in fields.items())
        click.echo(f"note: {label} runs with {base_name}'s {changed}, so that runs pair", err=True)


def warn_overload(scenario: Scenario) -> None:
    """Warn on stderr about every channel overloaded at the loads the journeys bring, before a
    simulation of it: the quick check of :func:`~simulator.network.quick_overload_notes` (the rule
    ``analyze`` follows at its fixed point, in a fraction of its time)."""
    from ..network import quick_overload_notes

    try:
        notes = quick_overload_notes(scenario)
    except (ValueError, ArithmeticError):  # the check cannot say: the simulation still can
        return
    for note in notes:
        click.echo(f"warning: {note}: expect long queues and abandonment there, more the longer they last "
                   "(contactflow analyze shows the load)", err=True)


def clean_errors(command):
    """Bad input exits 2 without a traceback (Ctrl-C is the group's: :class:`CommandGroup`)."""
    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ScenarioError as exc:
            fail(str(exc))
        except RunTooLarge as exc:
            refuse_run(exc)
        except (KeyError, ValueError, ConnectionError, ImportError) as exc:
            fail(str(exc.args[0]) if exc.args else str(exc))
    return wrapper


def output_folder(path: str | Path, option: str = "--out") -> Path:
    """Create the folder ``path`` (if need be) and check it can be written, before a long run.

    Temporary files that a killed run left there are removed. Exits 2 naming
    the option, the folder and the reason when it cannot be written.
    """
    folder = Path(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        fail(f"{option} {path}: cannot write to this folder: {exc.strerror or exc}")
    remove_stale_temporaries(folder)
    return folder


def output_file(path: str | Path, option: str = "--out") -> Path:
    """Check that the file ``path`` can be written, before the work that makes it: its folder is made
    if need be (:func:`output_folder`) and it is not a folder. Exits 2 naming the option otherwise."""
    target = Path(path)
    if target.is_dir():
        fail(f"{option} {path}: is a folder; give a file name")
    output_folder(target.parent, f"{option} {path}: its folder")
    return target
def result_folder(path: str | Path) -> None:
    """Check, before a long run, that ``run --out`` can save its result set in ``path``.

    Exits 2 naming the option, the folder and the reason when it cannot
    (:func:`simulator.experiment.check_result_folder`).
    """
    try:
        check_result_folder(path)
    except OSError as exc:
        fail(f"--out {path}: {exc.strerror or exc}")


class Progress:
    """A tqdm bar on stderr, silent when stderr is not a terminal or when quiet."""

    def __init__(self, total: int, quiet: bool, desc: str):
        self.bar = None
        if not quiet and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit="rep", file=sys.stderr, leave=False)

    def __call__(self, done: int) -> None:
        if self.bar is not None:
            self.bar.update(done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


class CommandGroup(click.Group):
    """The command group: a Ctrl-C in any command exits 130 with one line (click would print
    ``Aborted!`` and exit 1)."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            interrupted()


@click.group(cls=CommandGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="contactflow")
@click.pass_context
def main(ctx: click.Context) -> None:
    """contactflow: simulate customers moving between web, email, chat and the call centre.

    Run `contactflow run` for the bundled Nice–BCG 2016 preset, `contactflow
    scenarios` to list the bundled scenarios, and `contactflow COMMAND --help`
    for each command.
    """
    quiet_numerics(ctx)


def quiet_numerics(ctx: click.Context) -> None:
    """Keep numpy's and scipy's RuntimeWarnings (a division by zero, the mean of an empty slice) off
    stderr for the command's duration, in its worker processes too (they start inside it).

    Every figure they concern is reported as undefined (``–``, ``null``) by the
    results themselves, so the warnings only bury the command's own messages.
    """
    ctx.with_resource(warnings.catch_warnings())
    warnings.simplefilter("ignore", RuntimeWarning)
