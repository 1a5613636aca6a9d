"""The main job, end to end: record a demo notebook in a real kernel, check it, export it, verify the replay.

A person's session is played into a real ipykernel the way JupyterLab sends it (with cell ids), in a
realistic order: top to bottom, then a parameter is edited and only some cells are re-run. The notebook is
saved with its outputs, as a frontend would; then the three CLI commands run on it as a user would type them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

from repro_kernel.testing import LiveKernel

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "demo.ipynb"


def record(work: Path) -> Path:
    """Play a realistic session into a real kernel; save the notebook as the frontend would."""
    nb = nbformat.read(EXAMPLE, as_version=4)
    cells = {cell.id: cell for cell in nb.cells}
    order = ["start", "imports", "load", "threshold", "clean", "bootstrap", "noise", "summary"]
    # Later the analyst tightens the threshold and re-runs the summary, but forgets the cell in between.
    edits = [("threshold", "threshold = 0.7"), ("summary", None)]
    notebook = work / "demo.ipynb"
    with LiveKernel(work, notebook=notebook.name) as kernel:
        for cell_id in order + [cell_id for cell_id, _ in edits]:
            cell = cells[cell_id]
            for edited_id, source in edits:
                if edited_id == cell_id and source is not None and cell.execution_count:
                    cell.source = source
            result = kernel.run(cell.source, cell_id=cell.id)
            cell.outputs = result["cell_outputs"]
            cell.execution_count = result["reply"].get("execution_count")
    nbformat.write(nb, notebook)
    return notebook


def jupyter_repro(*args: str) -> int:
    command = ["jupyter", "repro", *args]
    print(f"\n$ {' '.join(command)}", flush=True)
    return subprocess.run(command, cwd=str(WORK)).returncode


WORK = ROOT / "demo-run"


def main() -> int:
    if WORK.exists():
        shutil.rmtree(WORK)
    (WORK / "data").mkdir(parents=True)
    shutil.copy(ROOT / "examples" / "data" / "measurements.csv", WORK / "data")
    print(f"Recording {EXAMPLE.name} in a real kernel, in {WORK} ...", flush=True)
    notebook = record(WORK)
    print(f"Saved {notebook} with its outputs; the journal is in {WORK / '.repro'}")

    check = jupyter_repro("check", notebook.name)
    export = jupyter_repro("export", notebook.name)
    verify = jupyter_repro("verify", "demo.repro") if export == 0 else 2

    print("\n=== what the demo found ===")
    print(f"check : exit {check} ({'flags found, as expected for this session' if check == 1 else 'unexpected'})")
    print(f"export: exit {export} -> {WORK / 'demo.repro'}")
    print(f"verify: exit {verify} ({'every step reproduced' if verify == 0 else 'see the table above'})")
    return 0 if (check == 1 and export == 0 and verify == 0) else 1


if __name__ == "__main__":
    sys.exit(main())
