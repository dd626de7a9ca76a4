"""The command group and what every command shares: loading with ``--set``,
clean failures and progress bars."""

from __future__ import annotations

import sys
from typing import Any

import click

from .. import __version__
from ..scenario import Scenario, ScenarioError, load_scenario, parse_toml

DEFAULT_SCENARIO = "nice_bcg_2016"
EXIT_BAD_INPUT = 2


class ScenarioPath(click.ParamType):
    """A scenario file or the name of a bundled scenario (checked when loaded)."""

    name = "SCENARIO"


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``FIELD=VALUE``; the value is read as TOML (``25``, ``0.8``, ``[8, 20]``,
    ``{ phone = 0.5, give_up = 0.5 }``), or else taken as a plain string."""
    field, sep, raw = text.partition("=")
    field = field.strip()
    if not sep or not field:
        raise click.BadParameter(f"{text!r} is not FIELD=VALUE (e.g. channels.chat.agents=25)",
                                 param_hint="--set")
    raw = raw.strip()
    try:
        value = parse_toml(f"value = {raw}")["value"]
    except ScenarioError:
        value = raw
    return field, value


def load_with_changes(scenario: str | None, assignments: tuple[str, ...]) -> Scenario:
    """Load a scenario (the default preset when None) and apply ``--set`` changes."""
    sc = load_scenario(scenario or DEFAULT_SCENARIO)
    if assignments:
        changes = dict(parse_assignment(a) for a in assignments)
        sc = sc.with_changes(changes)
    return sc


def fail(message: str) -> None:
    click.echo(message, err=True)
    sys.exit(EXIT_BAD_INPUT)


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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="contactflow")
def main() -> None:
    """contactflow: simulate customers moving between web, email, chat and the call centre.

    Run `contactflow run` for the bundled Nice–BCG 2016 preset, `contactflow
    scenarios` to list the bundled scenarios, and `contactflow COMMAND --help`
    for each command.
    """
