"""Record, export and verify corpus notebooks through real kernels (used by the benchmark and the tests)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import nbformat
from nbclient import NotebookClient

from tests.corpus.notebooks import DATA, SETUP, Action


def record(folder: Path, name: str, cells: list[str], actions: list[Action], kernel: str = "python3") -> Path:
    """Run ``actions`` on a notebook of ``cells`` in one real kernel (recording from the first cell); save it."""
    folder.mkdir(parents=True, exist_ok=True)
    for file, text in DATA.items():
        (folder / file).write_text(text)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell(SETUP)] + [nbformat.v4.new_code_cell(c) for c in cells]
    path = folder / f"{name}.ipynb"
    env = dict(os.environ, JPY_SESSION_NAME=str(path), PYTHONHASHSEED="0")
    client = NotebookClient(nb, timeout=300, allow_errors=True, kernel_name=kernel,
                            resources={"metadata": {"path": str(folder)}})
    handles = list(nb.cells)  # actions name cells by their original position, even after deletions
    with client.setup_kernel(env=env):
        client.execute_cell(handles[0], 0)
        for action in actions:
            if isinstance(action, int):
                cell = handles[action + 1]
                client.execute_cell(cell, nb.cells.index(cell))
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
