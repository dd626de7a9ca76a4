"""``contactflow app``: the web app for planners (needs the ``app`` extra)."""

from __future__ import annotations

import click

from ..app import APP_EXTRA
from ..scenario import ScenarioError, load_scenario
from .base import DEFAULT_SCENARIO, ScenarioPath, fail, main, workers_option


@main.command("app")
@click.argument("scenario", required=False, type=ScenarioPath())
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; only this machine by default (0.0.0.0 opens it to the network).")
@click.option("--port", type=click.IntRange(0, 65535), default=8050, show_default=True, help="Port to listen on.")
@click.option("--no-browser", is_flag=True, help="Do not open a browser tab.")
@workers_option
def app_command(scenario, host, port, no_browser, workers):
    """Open contactflow in the browser, starting on SCENARIO (default: the Nice–BCG preset).

    Pick or upload a scenario, change it in forms (every change is checked,
    with the messages of `contactflow validate`), see the network
    approximation's estimate as you type, simulate with a progress bar,
    compare variants on common random numbers, sweep a field, search for a
    staffing plan, and download the results, charts, report and scenario.

    \b
    Examples:
      contactflow app
      contactflow app my_centre.toml --port 8060 --no-browser
    """
    try:
        sc = load_scenario(scenario or DEFAULT_SCENARIO)
    except ScenarioError as exc:
        fail(str(exc))
    try:
        import plotly  # noqa: F401
        import shiny  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        fail(f"contactflow app needs the web app's packages ({exc.name} is missing): {APP_EXTRA}")
    from ..app.server import serve

    try:
        serve(sc, host=host, port=port, open_browser=not no_browser, workers=workers,
              announce=lambda text: click.echo(text))
    except OSError as exc:  # the port is taken, the host is not this machine's
        fail(f"contactflow app: cannot listen on {host}:{port}: {exc.strerror or exc}")
    except KeyboardInterrupt:
        pass
