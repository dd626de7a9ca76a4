"""The notebooks run end to end (quickly, with CONTACTFLOW_FAST=1) and are stored without outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="notebook tests need the test extra: pip install '.[test]'")
nbclient = pytest.importorskip("nbclient", reason="notebook tests need the test extra: pip install '.[test]'")

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_the_three_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["01_quickstart.ipynb", "02_what_if.ipynb", "03_nice_bcg.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: clear the outputs"
    assert any("parameters" in c.metadata.get("tags", []) for c in nb.cells), "a tagged parameter cell"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_end_to_end(path, tmp_path, monkeypatch):
    monkeypatch.setenv("CONTACTFLOW_FAST", "1")  # the kernel inherits it: few replications, short runs
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, if a cell fails
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    chart_cells = [c for c in code if c.source.strip().splitlines()[-1].startswith("plots.")]
    assert chart_cells, f"{path.name} should show charts"
    for cell in chart_cells:  # each cell ending in a chart shows it as an image
        assert any("image/png" in o.get("data", {}) for o in cell.outputs), cell.source
