"""One wheel holds the Python package and the built labextension; it installs and works without Node.js.

The wheel is built exactly as a user or CI would (`pip wheel . --no-deps`, with build isolation), installed
with JupyterLab into a fresh virtual environment whose PATH holds nothing but that environment, and the
version is compared across package.json (the one place it is set), the wheel's name, the installed
distribution, `jupyter repro --version` and the installed labextension's package.json.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import venv
import zipfile
from collections import Counter
from pathlib import Path

import pytest
from packaging.version import Version

from tests.wheelhouse import install

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the old-stack environment
    tomllib = pytest.importorskip("tomli")

ROOT = Path(__file__).resolve().parents[2]
LABEXT = "share/jupyter/labextensions/jupyter-repro"


def _run(args: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=600, **kwargs)  # type: ignore[call-overload]


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
    install(python, str(wheel), "jupyterlab>=4,<5", "--find-links", str(dist))
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


def test_no_shared_data_target_lies_inside_another() -> None:
    """A folder and a file mapped into the same place put that file in the wheel twice once the folder holds it too.

    That is how a wheel built after the editable install failed: repro_kernel/labextension was mapped whole onto
    share/jupyter/labextensions/jupyter-repro and the top-level install.json onto .../jupyter-repro/install.json,
    and the folder by then held an install.json of its own. This holds for a fresh clone too, where the build
    hook makes the folder.
    """
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    shared = config["tool"]["hatch"]["build"]["targets"]["wheel"]["shared-data"]
    targets = sorted(shared.values())
    nested = [(outer, inner) for outer in targets for inner in targets
              if inner != outer and inner.startswith(outer.rstrip("/") + "/")]
    assert not nested, nested
    assert len(set(targets)) == len(targets), targets
    assert shared["install.json"] == f"{LABEXT}/install.json"
    for piece in ("package.json", "static", "schemas"):
        assert shared[f"repro_kernel/labextension/{piece}"] == f"{LABEXT}/{piece}"


@pytest.mark.slow
def test_wheel_holds_each_file_once_when_the_labextension_folder_has_an_install_json(tmp_path: Path) -> None:
    """`pip wheel . --no-deps` in a checkout where repro_kernel/labextension/install.json exists.

    The checkout is a copy of what the build reads (this one's labextension already built, so the build hook
    skips the JS build), with the top-level install.json also left in the labextension folder.
    """
    labextension = ROOT / "repro_kernel" / "labextension"
    if not (labextension / "static" / "style.js").is_file():
        pytest.skip("the labextension is not built here (scripts/setup.sh's editable install builds it)")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    for name in ("pyproject.toml", "package.json", "install.json", "README.md", "LICENSE", ".gitignore"):
        shutil.copy2(ROOT / name, checkout / name)
    shutil.copytree(ROOT / "repro_kernel", checkout / "repro_kernel", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / "install.json", checkout / "repro_kernel" / "labextension" / "install.json")

    dist = tmp_path / "dist"
    built = _run([sys.executable, "-m", "pip", "--disable-pip-version-check", "wheel", ".", "--no-deps",
                  "-w", str(dist)], cwd=checkout)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = dist.glob("*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        data = f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.data/data/{LABEXT}/"
        twice = [name for name, count in Counter(names).items() if count > 1]
        assert not twice, twice
        assert names.count(f"{data}install.json") == 1
        assert [n for n in names if n.endswith("/install.json")] == [f"{data}install.json"]
        assert json.loads(archive.read(f"{data}install.json")) == json.loads((ROOT / "install.json").read_text())
        assert json.loads(archive.read(f"{data}package.json"))["name"] == "jupyter-repro"
    # Every file the build made is in the wheel (build_log.json, webpack's log, is not needed at run time).
    made = {p.relative_to(labextension).as_posix() for p in labextension.rglob("*") if p.is_file()}
    missing = sorted(f for f in made - {"install.json", "build_log.json"} if f"{data}{f}" not in names)
    assert not missing, missing
    assert f"{data}static/style.js" in names
    assert any(re.match(rf"{re.escape(data)}static/remoteEntry\.[0-9a-f]+\.js$", n) for n in names)
