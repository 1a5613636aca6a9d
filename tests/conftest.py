"""Shared fixtures: real notebooks executed by real kernels through nbclient, in temporary folders."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Optional

import nbformat
import pytest
from nbclient import NotebookClient

from repro_kernel.core.journal import Journal
from repro_kernel.testing import KERNEL_NAME

START = "%load_ext repro_kernel\n%repro start"


def make_notebook(sources: Iterable[str]) -> nbformat.NotebookNode:
    """A v4 notebook whose code cells hold ``sources`` (a source starting with '#md ' is markdown)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    for source in sources:
        if source.startswith("#md "):
            nb.cells.append(nbformat.v4.new_markdown_cell(source[4:]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


def execute_notebook(
    nb: nbformat.NotebookNode,
    path: Path,
    *,
    order: Optional[list[int]] = None,
    allow_errors: bool = True,
    timeout: int = 120,
    env: Optional[dict[str, str]] = None,
) -> nbformat.NotebookNode:
    """Run ``nb``'s cells in a real kernel, in ``order`` (indices, repeats allowed), save it at ``path``.

    The kernel's working directory is the notebook's folder and the kernel is told the notebook's path
    (as jupyter_server does through JPY_SESSION_NAME), so the journal lands in ``path.parent/.repro``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    kernel_env = dict(os.environ)
    kernel_env["JPY_SESSION_NAME"] = str(path)
    if env:
        kernel_env.update(env)
    client = NotebookClient(
        nb,
        timeout=timeout,
        allow_errors=allow_errors,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(path.parent)}},
    )
    indices = list(range(len(nb.cells))) if order is None else order
    with client.setup_kernel(env=kernel_env):
        for index in indices:
            cell = nb.cells[index]
            if cell.cell_type == "code":
                client.execute_cell(cell, index)
    nbformat.write(nb, path)
    return nb


def journal_records(folder: Path) -> list[dict[str, Any]]:
    with Journal(folder / ".repro", create=False) as journal:
        return journal.executions()


@pytest.fixture
def notebook_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    folder.mkdir()
    return folder


@pytest.fixture(scope="session", autouse=True)
def _kernel_uses_this_python() -> None:
    """The tests' kernel must import this checkout's repro_kernel: check once, fail clearly if not."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(KERNEL_NAME)
    exe = spec.argv[0]
    if exe in ("python", "python3", "{python}") or Path(exe).resolve() == Path(sys.executable).resolve():
        return
    pytest.exit(f"kernel {KERNEL_NAME!r} runs {exe}, not {sys.executable}; install the kernelspec "
                f"from this environment (python -m ipykernel install --sys-prefix)", returncode=2)
