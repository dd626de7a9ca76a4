"""Make the charts of the README and the site: ``python docs/make_images.py`` (about two minutes on two cores).

Writes docs/images/journey_flow.png, before_after.png and what_if.png from the
bundled Nice-BCG 2016 preset, with the preset's own seed, so rerunning gives
the same pictures. The same charts come from the command line with
``contactflow run --charts DIR`` and ``contactflow report``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import simulator as sim  # noqa: E402
from simulator import plots  # noqa: E402
from simulator.compare import compare  # noqa: E402
from simulator.scenario import Relative  # noqa: E402

IMAGES = Path(__file__).resolve().parent / "images"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=None, help="default: the preset's")
    parser.add_argument("--days", type=float, default=None, help="default: the preset's week")
    parser.add_argument("--out", type=Path, default=IMAGES)
    args = parser.parse_args()
    workers = os.cpu_count() or 1

    sc = sim.load_scenario("nice_bcg_2016")
    res = sim.run(sc, replications=args.replications, days=args.days, workers=workers)
    plans = {
        "+5 voice agents an hour": sc.with_changes({"groups.voice.agents": Relative("+", 5)}),
        "+2 digital agents an hour": sc.with_changes({"groups.digital.agents": Relative("+", 2)}),
        "web answers 50 %": sc.with_changes({"channels.web.resolve": 0.5}),
    }
    table = compare(sc, plans, args.replications, days=args.days, workers=workers)
    figures = {
        "journey_flow": plots.flow_diagram(res),
        "before_after": plots.before_after_chart(res),
        "what_if": plots.kpi_comparison(table, ["give_up_rate", "avoidable_call_share",
                                                "channels.phone.mean_wait_min", "cost_per_customer"],
                                        scenario=sc),
    }
    for path in plots.save_charts(figures, args.out, formats=("png",), dpi=100):
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
