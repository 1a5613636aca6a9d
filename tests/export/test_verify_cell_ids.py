"""Verify's JSON report names each step's notebook cell, so the sidebar can link a step to its cell."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import nbformat

from repro_kernel.testing import LiveKernel
from tests.conftest import START, make_notebook


def test_verify_steps_carry_the_recorded_cell_ids(notebook_dir: Path) -> None:
    nb = make_notebook([START, "a = 2", "b = a * 21\nb"])
    ids = [cell.id for cell in nb.cells]
    with LiveKernel(notebook_dir, notebook="ids.ipynb") as k:
        for cell in nb.cells:
            result = k.run(cell.source, cell_id=cell.id)
            cell.outputs = result["cell_outputs"]
            cell.execution_count = result["reply"]["execution_count"]
    nbformat.write(nb, notebook_dir / "ids.ipynb")
    subprocess.run([sys.executable, "-m", "repro_kernel.cli", "export", "ids.ipynb"], cwd=notebook_dir,
                   check=True, capture_output=True)
    verify = subprocess.run([sys.executable, "-m", "repro_kernel.cli", "verify", "ids.repro", "--json"],
                            cwd=notebook_dir, capture_output=True, text=True)
    assert verify.returncode == 0, verify.stderr
    steps = json.loads(verify.stdout)["steps"]
    assert [s["cell_id"] for s in steps] == ids[1:]
    assert all(s["outcome"] == "reproduced" for s in steps)
