"""The teaching notebooks, executed headless against the package in this checkout."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.kernel  # each notebook runs in a real kernel

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The kernel inherits this environment: it must import yolo_lab from here.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    )
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=600,
        kernel_name="python3",
        # Run where the test owns the files: notebooks write datasets and runs
        # next to themselves.
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError on the first failing cell

    doctor_html = []
    for cell in notebook.cells:
        if cell.cell_type != "code" or "yolo_lab" not in cell.source:
            continue
        # yolo-lab itself must not write to stderr (warnings, logging) in a cell.
        streams = [o for o in cell.outputs if o.output_type == "stream" and o.name == "stderr"]
        assert streams == [], (cell.source, streams)
        doctor_html += [
            o.data["text/html"]
            for o in cell.outputs
            if "text/html" in o.get("data", {}) and "yl-doctor" in o.data["text/html"]
        ]
    if any("yolo_lab.doctor()" in c.source for c in notebook.cells if c.cell_type == "code"):
        assert doctor_html, "the doctor report did not render as HTML"
    if any("train(" in c.source for c in notebook.cells if c.cell_type == "code"):
        views = [
            o.data["application/vnd.yolo-lab.run+json"]
            for c in notebook.cells
            if c.cell_type == "code"
            for o in c.outputs
            if "application/vnd.yolo-lab.run+json" in o.get("data", {})
        ]
        assert views, "a training cell did not show its live view"
        assert (tmp_path / "runs").is_dir(), "the runs were not written next to the notebook"
