"""contactflow: a multichannel contact-flow simulator.

Customers with a question try web self-service, email, chat or the call
centre; when a channel does not answer them they try another, or the same one
again, or give up. contactflow simulates that network with SimPy and reports
what planners care about, with confidence intervals.

Examples
--------
>>> import simulator as sim
>>> sc = sim.load_scenario("nice_bcg_2016")
>>> res = sim.run(sc.with_changes({"channels.chat.resolve": 0.8}), replications=2, days=0.1)
>>> "avoidable_call_share" in res.kpis.index
True
"""

from .distributions import from_spec as distribution
from .experiment import Result, run
from .scenario import (
    Channel, Scenario, ScenarioError, bundled_scenarios, load_scenario,
)
from .compare import compare
from .precision import Precision
from .runsize import RunTooLarge, estimate_run
from .staffing import StaffingPlan, staff
from .sweep import sweep
from .warmup import suggest_warmup

__version__ = "0.1.0"

__all__ = [
    "load_scenario",
    "bundled_scenarios",
    "run",
    "Result",
    "Scenario",
    "Channel",
    "ScenarioError",
    "distribution",
    "compare",
    "sweep",
    "staff",
    "StaffingPlan",
    "Precision",
    "suggest_warmup",
    "estimate_run",
    "RunTooLarge",
    "__version__",
]
