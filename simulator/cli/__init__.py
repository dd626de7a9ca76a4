"""The ``contactflow`` command line.

Every command validates its input first; a bad scenario or option prints one
line per problem (file, field, what is allowed) on stderr and exits with
status 2, without a traceback. Each module here adds its commands to the
``main`` group defined in :mod:`simulator.cli.base`.
"""

from . import run  # noqa: F401  (registers the commands)
from . import estimate  # noqa: F401  (contactflow estimate)
from . import charts  # noqa: F401  (contactflow report)
from . import experiments  # noqa: F401  (contactflow compare, sweep, staff, warmup)
from . import analyze  # noqa: F401  (contactflow analyze, calibrate)
from . import app  # noqa: F401  (contactflow app)
from .base import load_with_changes, main, parse_assignment

__all__ = ["main", "load_with_changes", "parse_assignment"]
