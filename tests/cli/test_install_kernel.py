"""`jupyter repro install-kernel`: a kernelspec that records from the first cell, with a fixed hash seed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repro_kernel.testing import LiveKernel, journal_records, run_cli


def _install_kernel(prefix: Path) -> dict[str, str]:
    installed = run_cli("install-kernel", f"--prefix={prefix}", "--hash-seed=11")
    assert installed.returncode == 0, installed.stderr
    env = dict(os.environ)
    env["JUPYTER_PATH"] = str(prefix / "share" / "jupyter") + os.pathsep + env.get("JUPYTER_PATH", "")
    return env


def test_installed_kernelspec_records_from_the_first_cell(notebook_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = _install_kernel(tmp_path / "prefix")
    spec = json.loads((tmp_path / "prefix/share/jupyter/kernels/python3-repro/kernel.json").read_text())
    assert spec["env"]["PYTHONHASHSEED"] == "11"
    monkeypatch.setenv("JUPYTER_PATH", env["JUPYTER_PATH"])
    with LiveKernel(notebook_dir, kernel_name="python3-repro") as k:
        first = k.run("x = hash('reproducible')", cell_id="first")
        assert first["reply"]["status"] == "ok"
        assert k.value("__import__('os').environ['PYTHONHASHSEED']") == "11"
        x = k.value("x")
    records = journal_records(notebook_dir)
    assert [r["cell_id"] for r in records] == ["first"]
    check = subprocess.run(
        [sys.executable, "-c", "print(hash('reproducible'))"], env={**os.environ, "PYTHONHASHSEED": "11"},
        capture_output=True, text=True, check=True,
    )
    assert int(check.stdout) == x
