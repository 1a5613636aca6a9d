"""The slice keeps every step the recorder saw change process-wide state that no variable shows."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from repro_kernel.export import export_notebook
from repro_kernel.export.verify import render_report, verify_export
from repro_kernel.testing import START, LiveKernel, journal_records, make_notebook

SOURCES = [
    "import numpy as np\nimport warnings",
    # A helper whose effect no name shows: it is called by a cell that binds nothing and shows nothing.
    "def house_style(digits):\n    np.set_printoptions(precision=digits, suppress=True)",
    "house_style(2)",
    "table = {'quiet': 1}\nwarnings.simplefilter('ignore')",
    "x = 1",
    "print(np.array([1 / 3, 2 / 3]))",
]


def test_a_step_that_changed_process_state_is_kept_and_the_replay_prints_the_same(tmp_path: Path) -> None:
    nb = make_notebook([START, *SOURCES])
    path = tmp_path / "styled.ipynb"
    with LiveKernel(tmp_path, path.name, stop_on_error=False, graceful=True) as kernel:
        for cell in nb.cells:
            kernel.run_cell(cell, send_cell_id=False)
    nbformat.write(nb, path)
    assert nb.cells[6].outputs[0]["text"] == "[0.33 0.67]\n"
    changed = {r["code"]: r.get("process_changed") for r in journal_records(tmp_path)}
    assert changed["house_style(2)"] == ["numpy print options"]
    assert "warnings filters" in changed[SOURCES[3]]
    assert changed["x = 1"] is None  # a cell that calls nothing is not even read
    assert changed[SOURCES[5]] == []
    folder = export_notebook(path)
    manifest = json.loads((folder / "manifest.json").read_text())
    kept = {s["cell_index"]: s["reason"] for s in manifest["steps"]}
    assert "numpy print options" in kept[3], kept
    assert 5 not in kept  # `x = 1` is still dropped: nothing kept needs it
    report = verify_export(folder)
    assert report.exit_code == 0, render_report(report)
