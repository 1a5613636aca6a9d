"""One wheel holds the Python package and the built labextension; it installs and works without Node.js.

The wheel is built exactly as a user or CI would (`pip wheel . --no-deps`, with build isolation), installed
with JupyterLab into a fresh virtual environment whose PATH holds nothing but that environment, and the
version is compared across package.json (the one place it is set), the wheel's name, the installed
distribution, `jupyter repro --version` and the installed labextension's package.json.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]
# Wheels of the dependencies, downloaded once and reused (shared with tests/export/test_binder.py), so the
# test is fast and runs offline after its first run.
WHEELHOUSE = Path(os.environ.get("REPRO_TEST_WHEELHOUSE", Path.home() / ".cache" / "jupyter-repro-test-wheels"))
LABEXT = "share/jupyter/labextensions/jupyter-repro"


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]


def _pip_install(python: Path, *requirements: str) -> None:
    base = [str(python), "-m", "pip", "--disable-pip-version-check", "install", "--no-index",
            "--find-links", str(WHEELHOUSE)]
    offline = _run([*base, *requirements])
    if offline.returncode != 0:  # first run on this machine: fill the wheelhouse from the index
        fetched = _run([str(python), "-m", "pip", "--disable-pip-version-check", "wheel", "-w", str(WHEELHOUSE),
                        *requirements])
        assert fetched.returncode == 0, fetched.stderr[-2000:]
        online = _run([*base, *requirements])
        assert online.returncode == 0, online.stderr[-2000:]


@pytest.mark.slow
def test_one_wheel_installs_and_works_without_node(tmp_path: Path) -> None:
    expected = Version(json.loads((ROOT / "package.json").read_text())["version"])

    # 1. One wheel, named with the version, holding the package and the built labextension.
    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel", ".", "--no-deps",
                  "-w", str(dist)], cwd=ROOT)
    assert built.returncode == 0, built.stderr[-3000:]
    wheels = list(dist.glob("*.whl"))
    assert len(wheels) == 1, wheels
    wheel = wheels[0]
    name, wheel_version = wheel.name.split("-")[:2]
    assert name == "jupyter_repro" and Version(wheel_version) == expected
    names = zipfile.ZipFile(wheel).namelist()
    data = f"jupyter_repro-{wheel_version}.data/data/{LABEXT}/"
    assert "repro_kernel/__init__.py" in names and "repro_kernel/cli/main.py" in names
    assert "repro_kernel/_version.py" in names, "the version file generated from package.json"
    assert f"{data}package.json" in names and f"{data}install.json" in names
    assert f"{data}static/style.js" in names
    assert any(re.match(rf"{re.escape(data)}static/remoteEntry\.[0-9a-f]+\.js$", n) for n in names)
    assert f"{data}schemas/jupyter-repro/plugin.json" in names

    # 2. A fresh environment: the wheel and JupyterLab, nothing from this checkout, no Node.js on PATH.
    env_dir = tmp_path / "fresh"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    WHEELHOUSE.mkdir(parents=True, exist_ok=True)
    _pip_install(python, str(wheel), "jupyterlab>=4,<5", "--find-links", str(dist))
    path = str(env_dir / "bin")
    assert shutil.which("node", path=path) is None, "Node.js must not be reachable"
    home = tmp_path / "home"
    home.mkdir()
    env = {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8"}  # no JUPYTER_*, no PYTHONPATH, no user dirs

    listed = _run([str(env_dir / "bin" / "jupyter"), "labextension", "list"], env=env, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    text = re.sub(r"\x1b\[[0-9;]*m", "", listed.stdout + listed.stderr)
    line = next((x for x in text.splitlines() if "jupyter-repro" in x), "")
    assert re.search(rf"jupyter-repro v{re.escape(str(expected))} enabled\s+OK", line), text
    assert str(env_dir / LABEXT.rsplit("/", 1)[0]) in text, "found in the fresh environment, nowhere else"
    installed = json.loads((env_dir / LABEXT / "package.json").read_text())
    assert Version(installed["version"]) == expected

    helped = _run([str(env_dir / "bin" / "jupyter"), "repro", "--help"], env=env, cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    for sub in ("export", "verify", "check", "install-kernel"):
        assert sub in helped.stdout
    shown = _run([str(env_dir / "bin" / "jupyter"), "repro", "--version"], env=env, cwd=tmp_path)
    assert shown.returncode == 0 and Version(shown.stdout.strip()) == expected, shown.stdout + shown.stderr
    meta = _run([str(python), "-c", "import importlib.metadata as m, repro_kernel; "
                 "print(m.version('jupyter-repro'), repro_kernel.__version__, repro_kernel.__file__)"],
                env=env, cwd=tmp_path)
    dist_version, module_version, module_file = meta.stdout.split()
    assert Version(dist_version) == Version(module_version) == expected
    assert module_file.startswith(str(env_dir)), "imported from the fresh environment, not this checkout"
