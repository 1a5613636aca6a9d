"""Record, export and verify corpus notebooks through real kernels (used by the benchmark and the tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat

from repro_kernel.testing import LiveKernel, make_notebook
from tests.export.corpus.notebooks import DATA, SETUP, Action


def record(folder: Path, name: str, cells: list[str], actions: list[Action], kernel: str = "python3") -> Path:
    """Run ``actions`` on a notebook of ``cells`` in one real kernel (recording from the first cell); save it."""
    folder.mkdir(parents=True, exist_ok=True)
    for file, text in DATA.items():
        (folder / file).write_text(text)
    nb = make_notebook([SETUP, *cells], kernel_name=kernel)
    path = folder / f"{name}.ipynb"
    handles = list(nb.cells)  # actions name cells by their original position, even after deletions
    with LiveKernel(folder, path.name, kernel_name=kernel, env={"PYTHONHASHSEED": "0"}, timeout=300,
                    stop_on_error=False, graceful=True) as live:
        live.run_cell(handles[0], send_cell_id=False)
        for action in actions:
            if isinstance(action, int):
                live.run_cell(handles[action + 1], send_cell_id=False)
            elif action[0] == "edit":
                handles[action[1] + 1].source = action[2]
            elif action[0] == "delete":
                nb.cells.remove(handles[action[1] + 1])
    nbformat.write(nb, path)
    return path


def evaluate(path: Path, mode: str = "history") -> dict[str, Any]:
    """Export ``path`` and verify it; the per-step outcomes."""
    from repro_kernel.export import export_notebook
    from repro_kernel.export.verify import verify_export

    folder = export_notebook(path, mode=mode, force=True, output=path.with_name(f"{path.stem}.{mode}.repro"))
    report = verify_export(folder)
    return {"notebook": path.name, "mode": mode, "exit_code": report.exit_code,
            "steps": [(s.index, s.outcome, s.compared, s.detail) for s in report.steps],
            "problems": report.problems, "warnings": report.warnings}
