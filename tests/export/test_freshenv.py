"""`jupyter repro verify --fresh-env`: a real environment built with uv from the export's pins, replayed in, cached.

The session imports two tiny packages that exist only as wheels written here (never on PyPI): the recording
kernel sees them through PYTHONPATH, the test process does not, so only an environment built from the pins (with
--find-links to the wheels) can replay it. uv's download cache is kept between runs (REPRO_TEST_UV_CACHE, else
~/.cache/jupyter-repro-test-uv); the environments of each module are built in its own folder.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from repro_kernel.export import export_notebook
from repro_kernel.export.freshenv import Sources, cache_root, env_key, requirement_lines
from repro_kernel.export.manifest import seal
from repro_kernel.testing import START, execute_notebook, make_notebook, run_cli

UV_CACHE = Path(os.environ.get("REPRO_TEST_UV_CACHE", Path.home() / ".cache" / "jupyter-repro-test-uv"))
ALPHA, BETA = "jrtiny_alpha_7f3", "jrtiny_beta_7f3"  # names no index serves
SOURCES = [START, f"import {ALPHA}, {BETA}", f"print({BETA}.greet())", f"print({ALPHA}.value())",
           "print(sum(range(5)))"]


def write_wheel(folder: Path, name: str, version: str, body: str, requires: tuple[str, ...] = ()) -> Path:
    """A pure-Python wheel of ``name`` ``version`` whose package is ``body`` (and which requires ``requires``),
    written by hand (no build tool)."""
    dist = f"{name}-{version}.dist-info"
    needs = "".join(f"Requires-Dist: {r}\n" for r in requires)
    files = {f"{name}/__init__.py": body,
             f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n{needs}",
             f"{dist}/WHEEL": "Wheel-Version: 1.0\nGenerator: jupyter-repro-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = []
    for rel, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{rel},sha256={digest},{len(text.encode())}")
    files[f"{dist}/RECORD"] = "\n".join(record + [f"{dist}/RECORD,,"]) + "\n"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        for rel, text in files.items():
            wheel.writestr(rel, text)
    return path


def tiny_wheels(folder: Path) -> Path:
    """Versions 1.0 and 2.0 of both packages: alpha's value() changes between them, beta's greet() does not."""
    for version, value in (("1.0", 1), ("2.0", 2)):
        write_wheel(folder, ALPHA, version, f"def value():\n    return {value}\n")
        write_wheel(folder, BETA, version, "def greet():\n    return 'hello'\n")
    return folder


def uv_env(cache: Path) -> dict[str, str]:
    return {"UV_CACHE_DIR": str(UV_CACHE), "JUPYTER_REPRO_ENV_CACHE": str(cache)}


def record_tiny_session(where: Path, wheels: Path | None = None,
                        sources: list[str] | None = None) -> tuple[Path, Path]:
    """(export folder, wheel folder) of a session recorded with both packages at 1.0 (``wheels``: a folder of
    other releases of them; ``sources``: the cells, SOURCES by default)."""
    wheels = wheels or tiny_wheels(where / "wheels")
    site = where / "site"
    for name in (ALPHA, BETA):
        with zipfile.ZipFile(wheels / f"{name}-1.0-py3-none-any.whl") as wheel:
            wheel.extractall(site)
    nb = make_notebook(sources or SOURCES)
    path = where / "project" / "tiny.ipynb"
    execute_notebook(nb, path, env={"PYTHONPATH": str(site), "PYTHONHASHSEED": "0"})
    return export_notebook(path, mode="history"), wheels


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("fresh")
    export, wheels = record_tiny_session(where)
    return {"export": export, "wheels": wheels, "cache": where / "envs"}


def manifest_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())


def test_the_export_pins_the_tiny_packages_the_session_imported(tiny: dict[str, Path]) -> None:
    pins = {r["distribution"]: r["version"] for r in manifest_of(tiny["export"])["requirements"]}
    assert pins[ALPHA.replace("_", "-")] == "1.0" and pins[BETA.replace("_", "-")] == "1.0", pins


def test_cache_folder_honours_the_override_then_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("JUPYTER_REPRO_ENV_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_root() == tmp_path / "xdg" / "jupyter-repro" / "envs"
    monkeypatch.setenv("JUPYTER_REPRO_ENV_CACHE", str(tmp_path / "mine"))
    assert cache_root() == tmp_path / "mine"


def test_environments_are_keyed_by_python_and_pins() -> None:
    base = requirement_lines({"six": "1.17.0"}, ["ipykernel==7.4.0"])
    assert base == ["six==1.17.0", "ipykernel==7.4.0"]
    assert requirement_lines({"ipykernel": "6.0"}, ["ipykernel==7.4.0"]) == ["ipykernel==6.0"]  # the pin wins
    key = env_key("3.11.7", base, Sources())
    assert key == env_key("3.11.7", list(reversed(base)), Sources())
    assert key != env_key("3.11.8", base, Sources())
    assert key != env_key("3.11.7", ["six==1.16.0", "ipykernel==7.4.0"], Sources())


@pytest.mark.slow
def test_fresh_env_replays_in_a_built_environment_then_reuses_it(tiny: dict[str, Path]) -> None:
    export, wheels, cache = tiny["export"], tiny["wheels"], tiny["cache"]
    # Here (the test's own environment) the packages are missing: a plain verify cannot replay it.
    plain = run_cli("verify", str(export))
    assert plain.returncode == 2 and f"missing package: {ALPHA.replace('_', '-')}==1.0" in plain.stderr, plain.stderr

    t0 = time.perf_counter()
    cold = run_cli("verify", str(export), "--fresh-env", "--find-links", str(wheels), "--json", env=uv_env(cache))
    cold_s = time.perf_counter() - t0
    assert cold.returncode == 0, cold.stdout[-2000:] + cold.stderr[-2000:]
    report = json.loads(cold.stdout)
    env = report["environment"]
    assert env["fresh"] is True and env["cached"] is False
    assert env["python_version"] == manifest_of(export)["environment"]["python"]["version"]
    assert Path(env["python"]).is_relative_to(cache)
    assert f"{ALPHA.replace('_', '-')}==1.0" in env["installed"] and any(i.startswith("ipykernel==")
                                                                         for i in env["installed"])
    assert set(report["counts"]) == {"reproduced"}

    t0 = time.perf_counter()
    warm = run_cli("verify", str(export), "--fresh-env", "--find-links", str(wheels), env=uv_env(cache))
    warm_s = time.perf_counter() - t0
    assert warm.returncode == 0, warm.stdout[-2000:] + warm.stderr[-2000:]
    assert "fresh environment: yes" in warm.stdout
    print(f"fresh-env verify: cold {cold_s:.1f} s (build {env['build_seconds']:.1f} s), warm {warm_s:.1f} s")
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 1  # the second verify built nothing


@pytest.mark.slow
def test_pins_that_do_not_resolve_are_one_line_and_exit_2(tiny: dict[str, Path], tmp_path: Path) -> None:
    # Without --find-links the tiny packages are nowhere to be found.
    result = run_cli("verify", str(tiny["export"]), "--fresh-env", env=uv_env(tmp_path / "envs"))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "the pins do not resolve" in lines[0] and "--find-links" in lines[0], lines


def resealed_copy(export: Path, where: Path, change: Any) -> Path:
    import shutil

    folder = where / export.name
    shutil.copytree(export, folder)
    manifest = manifest_of(folder)
    change(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    seal(manifest, folder, sorted(manifest["integrity"]["files"]))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_a_python_that_is_not_installed_is_one_line_and_exit_2(tiny: dict[str, Path], tmp_path: Path) -> None:
    folder = resealed_copy(tiny["export"], tmp_path,
                           lambda m: m["environment"]["python"].update(version="3.99.1"))
    result = run_cli("verify", str(folder), "--fresh-env", env=uv_env(tmp_path / "envs"))
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Python 3.99.1" in lines[0] and "not installed" in lines[0], lines


@pytest.mark.slow
def test_no_network_is_one_line_and_exit_2(tiny: dict[str, Path], tmp_path: Path) -> None:
    # An index nobody listens on (the discard port of this machine): what uv meets with no network.
    result = run_cli("verify", str(tiny["export"]), "--fresh-env", "--index-url", "http://127.0.0.1:9/simple",
                     env={**uv_env(tmp_path / "envs"), "UV_HTTP_RETRIES": "0", "UV_OFFLINE": None})
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the package index" in lines[0], lines


def test_kernel_and_fresh_env_together_is_a_usage_error(tiny: dict[str, Path]) -> None:
    result = run_cli("verify", str(tiny["export"]), "--fresh-env", "--kernel", "python3")
    assert result.returncode == 2 and "--kernel" in result.stderr and len(result.stderr.strip().splitlines()) == 1
