"""Runners that do not tell the kernel its notebook (nbclient's `jupyter execute`, `jupyter nbconvert --execute`)
still produce a recording that check, export and verify find: the session is matched to the saved file by its
cells and bound to it on export. Nothing here sets JPY_SESSION_NAME: the runners start their kernels as users do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from repro_kernel.testing import KERNEL_NAME, run_cli

CELLS = [
    "%load_ext repro_kernel\n%repro start",
    "import random\nvalues = [random.random() for _ in range(3)]\nprint(values)",
    "total = sum(values)\ntotal",
]


def notebook(folder: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in CELLS]
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    path = folder / "analysis.ipynb"
    nbformat.write(nb, path)
    return path


RUNNERS = {
    "jupyter execute": lambda nb: [str(Path(sys.executable).with_name("jupyter-execute")), "--inplace", nb.name],
    "nbconvert --execute": lambda nb: [sys.executable, "-m", "nbconvert", "--to", "notebook", "--execute",
                                       "--inplace", nb.name],
}


@pytest.mark.slow
@pytest.mark.parametrize("runner", sorted(RUNNERS))
def test_a_runner_recording_is_checked_exported_and_verified(tmp_path: Path, runner: str) -> None:
    nb = notebook(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    ran = subprocess.run(RUNNERS[runner](nb), cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)
    assert ran.returncode == 0, ran.stderr[-2000:]

    sessions = json.loads(run_cli("sessions", str(nb), "--json").stdout)["sessions"]
    assert len(sessions) == 1 and sessions[0]["chosen"] and sessions[0]["executions"] == 2

    check = json.loads(run_cli("check", str(nb), "--json").stdout)
    assert check["session_id"] == sessions[0]["session_id"] and check["journal"]

    exported = run_cli("export", str(nb))
    assert exported.returncode == 0, exported.stderr
    assert "ran without `%repro start`" not in exported.stdout
    manifest = json.loads((tmp_path / "analysis.repro" / "manifest.json").read_text())
    assert manifest["steps"] and all(s["session_id"] == check["session_id"] for s in manifest["steps"])
    assert any(step["random"] for step in manifest["steps"])  # the draws' random state was recorded

    verified = run_cli("verify", str(tmp_path / "analysis.repro"), "--json")
    report = json.loads(verified.stdout)
    assert verified.returncode == 0 and report["reproduced"] is True, verified.stdout[-2000:]

    # The export bound the session: it is now found by name.
    again = json.loads(run_cli("sessions", str(nb), "--json").stdout)["sessions"]
    assert again[0]["notebook"] == "analysis.ipynb"


@pytest.mark.slow
def test_an_unrelated_unbound_session_is_not_taken(tmp_path: Path) -> None:
    other = tmp_path / "other.ipynb"
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(CELLS[0]), nbformat.v4.new_code_cell("z = 42\nprint(z)")]
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, other)
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    subprocess.run(RUNNERS["jupyter execute"](other), cwd=tmp_path, env=env, check=True, capture_output=True,
                   timeout=240)
    mine = notebook(tmp_path)  # never run: its cells match nothing recorded
    assert json.loads(run_cli("sessions", str(mine), "--json").stdout)["sessions"] == []


@pytest.mark.slow
def test_a_notebook_run_again_by_a_runner_after_its_export_is_judged_by_the_new_run(tmp_path: Path) -> None:
    nb = notebook(tmp_path)
    env = {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}
    for _ in range(2):  # run, export (which binds that run to the notebook), run again
        subprocess.run(RUNNERS["jupyter execute"](nb), cwd=tmp_path, env=env, check=True, capture_output=True,
                       timeout=240)
        if not (tmp_path / "analysis.repro").exists():
            assert run_cli("export", str(nb)).returncode == 0
    sessions = json.loads(run_cli("sessions", str(nb), "--json").stdout)["sessions"]
    assert len(sessions) == 2, sessions
    chosen = [s for s in sessions if s["chosen"]]
    assert len(chosen) == 1 and chosen[0] is sessions[-1] and chosen[0]["notebook"] is None, sessions
    again = run_cli("export", str(nb), "-o", str(tmp_path / "again.repro"))
    assert again.returncode == 0, again.stderr
    manifest = json.loads((tmp_path / "again.repro" / "manifest.json").read_text())
    assert {s["session_id"] for s in manifest["steps"]} == {chosen[0]["session_id"]}
    assert run_cli("verify", str(tmp_path / "again.repro")).returncode == 0
