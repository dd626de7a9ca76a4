"""contactflow: a multichannel contact-flow simulator.

Customers with a question try web self-service, email, chat or the call
centre; when a channel does not answer them they try another, or the same one
again, or give up. contactflow simulates that network with SimPy and reports
what planners care about, with confidence intervals.

The public names below load their modules (numpy, pandas, SimPy, scipy) on
first use, so ``import simulator`` is quick and the command line can end
cleanly on a Ctrl-C at any moment.

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("nice_bcg_2016")
>>> res = sim.run(sc.with_changes({"channels.chat.resolve": 0.8}), replications=2, days=0.1)
>>> "avoidable_call_share" in res.kpis.index
True
"""

from __future__ import annotations

import importlib
import sys
import types

__version__ = "0.1.0"

#: Each public name: (module, name in that module).
_PUBLIC = {
    "load_scenario": ("scenario", "load_scenario"),
    "bundled_scenarios": ("scenario", "bundled_scenarios"),
    "run": ("experiment", "run"),
    "Result": ("experiment", "Result"),
    "Scenario": ("scenario", "Scenario"),
    "Channel": ("scenario", "Channel"),
    "ScenarioError": ("scenario", "ScenarioError"),
    "distribution": ("distributions", "from_spec"),
    "compare": ("compare", "compare"),
    "sweep": ("sweep", "sweep"),
    "staff": ("staffing", "staff"),
    "StaffingPlan": ("staffing", "StaffingPlan"),
    "Precision": ("precision", "Precision"),
    "suggest_warmup": ("warmup", "suggest_warmup"),
    "estimate_run": ("runsize", "estimate_run"),
    "RunTooLarge": ("runsize", "RunTooLarge"),
}

__all__ = [*_PUBLIC, "__version__"]


class _Package(types.ModuleType):
    """This package, its public names imported from their modules on first use."""

    def __getattr__(self, name: str):
        if name not in _PUBLIC:
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        module, attribute = _PUBLIC[name]
        value = getattr(importlib.import_module(f".{module}", self.__name__), attribute)
        super().__setattr__(name, value)
        return value

    def __setattr__(self, name: str, value) -> None:
        # Importing a submodule sets it as an attribute of its package: simulator.compare and
        # simulator.sweep stay the functions, not the modules of the same name.
        if name in _PUBLIC and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)

    def __dir__(self):
        return sorted(set(super().__dir__()) | set(_PUBLIC))


sys.modules[__name__].__class__ = _Package
