"""The ``contactflow`` command line.

Every command validates its input first; a bad scenario or option prints one
line per problem (file, field, what is allowed) on stderr and exits with
status 2, without a traceback. A Ctrl-C, whenever it comes, prints one line
and exits with status 130. Each command module adds its commands to the
``main`` group defined in :mod:`simulator.cli.base`.

:func:`entry_point` is what the ``contactflow`` script and ``python -m
simulator`` call; it loads the commands (and numpy, pandas, SimPy, matplotlib
with them) itself, so that a Ctrl-C while they load ends the same way.
"""

from __future__ import annotations

import importlib
import sys
from typing import NoReturn, Sequence

#: Exit status after Ctrl-C, as a shell gives a command killed by SIGINT.
EXIT_INTERRUPTED = 130
#: The modules that register the commands on ``main``.
COMMAND_MODULES = ("run", "estimate", "charts", "experiments", "analyze", "app")
_PUBLIC = ("main", "load_with_changes", "parse_assignment")

__all__ = ["entry_point", "interrupted", "EXIT_INTERRUPTED", *_PUBLIC]


def interrupted() -> NoReturn:
    """End after Ctrl-C: one line on stderr, exit status 130."""
    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    sys.exit(EXIT_INTERRUPTED)


def _commands():
    """The ``main`` group with every command registered."""
    for name in COMMAND_MODULES:
        importlib.import_module(f".{name}", __name__)
    return importlib.import_module(".base", __name__).main


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    _commands()
    value = getattr(importlib.import_module(".base", __name__), name)
    globals()[name] = value
    return value


def entry_point(args: Sequence[str] | None = None) -> None:
    """Run the command line on ``args`` (default: ``sys.argv[1:]``); it exits with the command's status."""
    try:
        main = _commands()
    except KeyboardInterrupt:
        interrupted()
    main(args, prog_name="contactflow")
