"""Verify's JSON report names each step's notebook cell, so the sidebar can link a step to its cell."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest

from repro_kernel.testing import START, LiveKernel, make_notebook, run_cli


@pytest.mark.slow
def test_verify_steps_carry_the_recorded_cell_ids(notebook_dir: Path) -> None:
    nb = make_notebook([START, "a = 2", "b = a * 21\nb"])
    ids = [cell.id for cell in nb.cells]
    with LiveKernel(notebook_dir, notebook="ids.ipynb") as k:
        for cell in nb.cells:
            k.run_cell(cell)
    nbformat.write(nb, notebook_dir / "ids.ipynb")
    exported = run_cli("export", "ids.ipynb", cwd=notebook_dir)
    assert exported.returncode == 0, exported.stderr
    verify = run_cli("verify", "ids.repro", "--json", cwd=notebook_dir)
    assert verify.returncode == 0, verify.stderr
    steps = json.loads(verify.stdout)["steps"]
    assert [s["cell_id"] for s in steps] == ids[1:]
    assert all(s["outcome"] == "reproduced" for s in steps)
