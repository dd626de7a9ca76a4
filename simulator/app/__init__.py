"""contactflow in the browser: the web app for planners (``contactflow app``).

* :mod:`simulator.app.forms`: a scenario as form fields and back (plain functions, no Shiny);
* :mod:`simulator.app.views`: what the pages show, as tables and text from the library's results;
* :mod:`simulator.app.jobs`: long runs in a background thread, with progress and cancel;
* :mod:`simulator.app.server`: the Shiny app (needs the ``app`` extra: ``pip install "contactflow[app]"``).

Everything the app shows comes from the library the command line uses: the
same validation, simulation, comparison, sweep, staffing search, network
approximation, charts and formatting.
"""

#: How to get what the app needs, for messages.
APP_EXTRA = 'pip install "contactflow[app]"  (from a source checkout: pip install ".[app]")'
