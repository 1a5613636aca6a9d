"""Shared fixtures. Kernels are driven through repro_kernel.testing (LiveKernel, execute_notebook, run_cli)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from repro_kernel.testing import KERNEL_NAME


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
