"""Installing into a fresh virtual environment from a wheelhouse kept between runs (shared by the packaging
and Binder tests), so those tests are fast and work offline after their first run on a machine."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from filelock import FileLock

WHEELHOUSE = Path(os.environ.get("REPRO_TEST_WHEELHOUSE", Path.home() / ".cache" / "jupyter-repro-test-wheels"))


def pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, timeout=900)


def install(python: Path, *requirements: str) -> None:
    """``pip install requirements`` into ``python``'s environment: offline from the wheelhouse when it holds them
    all, else from the index (and the wheels are then kept). One installer at a time touches the wheelhouse."""
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    with FileLock(str(WHEELHOUSE) + ".lock", timeout=1800):
        _forget_our_own()
        offline = pip(python, "install", "--no-index", "--find-links", str(WHEELHOUSE), *requirements)
        if offline.returncode == 0:
            return
        online = pip(python, "install", "--find-links", str(WHEELHOUSE), *requirements)
        assert online.returncode == 0, online.stderr[-2000:]
        pip(python, "wheel", "-w", str(WHEELHOUSE), *requirements)  # best effort: only time is lost without it
        _forget_our_own()


def _forget_our_own() -> None:
    """The wheelhouse keeps dependencies only: a wheel of this project kept there would be installed, same
    version, instead of the checkout's."""
    for wheel in WHEELHOUSE.glob("jupyter_repro-*"):
        wheel.unlink()
