"""The package's imports flow one way, from the scenario up to the outputs, without cycles.

The import graph is read from the source with :mod:`ast`: every ``import`` and
``from ... import`` of a ``simulator`` module, at module level or inside a
function, relative or absolute. Importing ``simulator.a.b`` also runs
``simulator/a/__init__.py``, so it counts as importing the package ``simulator.a``
too (unless the importer is inside it). Imports under ``if TYPE_CHECKING:``
never run and are left out: they name the types of annotations, as the queueing
theory does for the scenario it is given (the scenario derives its warm-up with
that theory, so the theory cannot import it).
"""

from __future__ import annotations

import ast
from pathlib import Path

import simulator

PACKAGE = Path(simulator.__file__).resolve().parent

#: The layers, bottom first: a module imports modules of its own layer and of the layers below it, never
#: of a layer above. A name stands for the module and, for a subpackage, every module in it.
LAYERS: dict[str, tuple[str, ...]] = {
    "names": ("simulator", "simulator.validation", "simulator.files", "simulator.json_data", "simulator.figures",
              "simulator.distributions"),
    "theory": ("simulator.analytic", "simulator.pools", "simulator.network", "simulator.transient"),
    "scenario": ("simulator.scenario",),
    "model": ("simulator.streams", "simulator.journeys", "simulator.agents", "simulator.model",
              "simulator.contact_log"),
    "metrics": ("simulator.metrics", "simulator.precision"),
    "experiments": ("simulator.runsize", "simulator.parallel", "simulator.experiment", "simulator.compare",
                    "simulator.sweep", "simulator.sensitivity", "simulator.warmup"),
    "analysis": ("simulator.staffing", "simulator.calibrate", "simulator.estimate"),
    "outputs": ("simulator.style", "simulator.report", "simulator.plots", "simulator.html_report",
                "simulator.cli", "simulator.app", "simulator.__main__"),
}

#: What each layer holds (the documentation's module reference is laid out by layer with these words).
LAYER_ROLES: dict[str, str] = {
    "names": "What every layer checks and names: typo hints and number checks, atomic files, JSON, the names "
             "of the figures, the distributions; and the package itself (its public names load their modules "
             "on first use).",
    "theory": "Queueing theory on a scenario it is given: Erlang formulas, journey chains, the network "
              "approximation, agent pools, the start-up transient.",
    "scenario": "The scenario: its fields, their checks, and its derived warm-up (from the start-up transient).",
    "model": "The discrete-event model and the journey log it writes, and the contact-log files of that log.",
    "metrics": "The figures of a replication's journey log, and their precision across replications.",
    "experiments": "Running replications; comparing, sweeping and varying scenarios; the size of a run before "
                   "it starts.",
    "analysis": "What is built on experiments and theory: staffing, calibration, estimation from contact logs.",
    "outputs": "What people read: text, charts, the HTML report, the command line and the web app.",
}


def modules() -> dict[str, Path]:
    """Every module of the package by its dotted name (a package by its own name)."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = ("simulator", *path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def type_checking(node: ast.AST) -> bool:
    """Whether ``node`` is ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``)."""
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    """Every import statement in ``tree``, at any depth (functions, classes, try blocks), except those under
    ``if TYPE_CHECKING:``: they never run, and only name the types of annotations."""
    found, todo = [], [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            found.append(node)
        children = list(ast.iter_child_nodes(node))
        if type_checking(node):
            children = node.orelse
        todo.extend(children)
    return found


def import_graph() -> dict[str, dict[str, str]]:
    """``{importer: {imported: "file:line"}}`` over the package's modules."""
    known = modules()
    graph: dict[str, dict[str, str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges = graph.setdefault(name, {})
        for node in imports(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    source = ".".join(base + ([node.module] if node.module else []))
                else:
                    source = node.module or ""
                # ``from pkg import sub`` imports the submodule pkg.sub; ``from mod import name`` the module
                targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source
                           for alias in node.names]
            else:
                continue
            for target in targets:
                while target not in known and "." in target:  # simulator.x.attribute -> simulator.x
                    target = target.rpartition(".")[0]
                if target not in known:
                    continue  # not a simulator module
                where = f"{path.relative_to(PACKAGE.parent)}:{node.lineno}"
                if target != name:
                    edges.setdefault(target, where)
                # importing simulator.a.b runs simulator/a/__init__.py first (an importer inside simulator.a
                # has run it already)
                chain = target.split(".")
                for end in range(2, len(chain)):
                    ancestor = ".".join(chain[:end])
                    if not name.startswith(ancestor + "."):
                        edges.setdefault(ancestor, where)
    return graph


def cycles(graph: dict[str, dict[str, str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(graph[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def layer_of(module: str) -> str | None:
    """The layer of a module: the most specific name in :data:`LAYERS` that covers it."""
    best = None
    for layer, names in LAYERS.items():
        for prefix in names:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[1])):
                best = (layer, prefix)
    return best[0] if best else None


def test_the_graph_sees_every_kind_of_import():
    """Function-level, relative, ``from . import`` and subpackage imports are all edges."""
    graph = import_graph()
    assert "simulator.experiment" in graph["simulator.cli.run"]  # from ..experiment import ..., in a subpackage
    assert "simulator.app.server" in graph["simulator.cli.app"]  # from ..app.server import serve, in a function
    assert "simulator.app" in graph["simulator.cli.app"]  # ... which runs simulator/app/__init__.py first
    assert "simulator.app.forms" in graph["simulator.app.server"]  # from . import forms
    assert "simulator" in graph["simulator.experiment"]  # from . import __version__
    assert "simulator.plots" not in graph["simulator.plots.flow"]  # its own package is no import


def shortest_cycle(graph: dict[str, dict[str, str]], start: str) -> list[str]:
    """A shortest path of imports from ``start`` back to itself (breadth first)."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in graph[node]:
                if child == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [start, *reversed(path[:-1]), start]
                if child not in came_from:
                    came_from[child] = node
                    following.append(child)
        frontier = following
    return []


def test_no_import_cycles():
    graph = import_graph()
    report = []
    for component in cycles(graph):
        path = shortest_cycle(graph, component[0])
        report.append(f"{len(component)} modules import each other ({', '.join(component)}), e.g.:")
        report += [f"    {a} imports {b} at {graph[a][b]}" for a, b in zip(path, path[1:])]
    assert not report, "import cycles:\n" + "\n".join(report)


def test_every_module_has_a_layer():
    missing = [name for name in modules() if layer_of(name) is None]
    assert not missing, f"modules without a layer (add them to LAYERS in {Path(__file__).name}): {missing}"


def test_every_layer_says_what_it_holds():
    """The module reference of the documentation lays the modules out by layer, with these words."""
    assert list(LAYER_ROLES) == list(LAYERS)


def test_lower_layers_never_import_higher_ones():
    order = list(LAYERS)
    upward = [f"{a} ({layer_of(a)}) imports {b} ({layer_of(b)}) at {where}"
              for a, targets in import_graph().items() for b, where in targets.items()
              if layer_of(a) and layer_of(b) and order.index(layer_of(a)) < order.index(layer_of(b))]
    assert not upward, f"imports against the layers ({' < '.join(order)}):\n" + "\n".join(upward)


def test_type_checking_imports_are_left_out():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import a\nelse:\n    import b\n"
                     "def f():\n    import c\n")
    found = [node.module if isinstance(node, ast.ImportFrom) else node.names[0].name for node in imports(tree)]
    assert sorted(found) == ["b", "c", "typing"]


def test_a_cycle_is_found_and_named():
    """The cycle finder itself, on a graph with a cycle of three and a cycle-free tail."""
    graph = {"a": {"b": ""}, "b": {"c": ""}, "c": {"a": "", "d": ""}, "d": {}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b": ""}, "b": {}}) == []
    assert shortest_cycle(graph, "b") == ["b", "c", "a", "b"]
