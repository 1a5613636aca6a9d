"""The tree is the architecture: layers that import downwards only, small modules, no hidden imports.

The layer and cycle contracts themselves are import-linter's (pyproject ``[tool.importlinter]``, run by
``scripts/test.sh`` as ``lint-imports``); these tests check what import-linter does not, and that the contracts
hold on this tree through its Python API.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "repro_kernel"
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "labextension" not in p.parts)
LAYERS = ["cli", "export", "analysis", "kernel", "core"]
# The extension's entry point wires the layers together when IPython loads it, and imports nothing at import
# time (the house style: nothing happens at import); `_version_info` falls back when the build left no _version.
FUNCTION_IMPORTS_ALLOWED = {"__init__.py", "_version_info.py", "testing.py"}


def test_the_package_has_one_folder_per_layer() -> None:
    for layer in LAYERS:
        assert (PACKAGE / layer / "__init__.py").is_file(), layer
    assert (PACKAGE / "runtime.py").is_file()
    flat = {p.name for p in PACKAGE.glob("*.py")}
    assert flat <= {"__init__.py", "exceptions.py", "testing.py", "runtime.py", "_version_info.py", "_version.py"}, flat


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_module_is_over_600_lines(path: Path) -> None:
    assert len(path.read_text("utf-8").splitlines()) <= 600


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_function_level_imports_of_our_own_modules(path: Path) -> None:
    if path.name in FUNCTION_IMPORTS_ALLOWED and path.parent == PACKAGE:
        return
    tree = ast.parse(path.read_text("utf-8"))
    hidden = []
    for func in ast.walk(tree):
        if not isinstance(func, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        for node in ast.walk(func):
            if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").startswith("repro_kernel")):
                hidden.append(f"line {node.lineno}: from {node.module}")
            elif isinstance(node, ast.Import) and any(a.name.startswith("repro_kernel") for a in node.names):
                hidden.append(f"line {node.lineno}: import {node.names[0].name}")
    assert not hidden, hidden


def test_the_import_contracts_hold() -> None:
    command = Path(sys.executable).with_name("lint-imports")
    if not command.exists():
        pytest.skip("import-linter is not installed in this environment (the test extra has it)")
    run = subprocess.run([str(command), "--no-logo"], cwd=PACKAGE.parent, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout[-3000:]
    assert "BROKEN" not in run.stdout and run.stdout.count("KEPT") >= 4


def test_the_layers_contract_names_every_layer_in_order() -> None:
    tomllib = pytest.importorskip("tomllib")
    config = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text("utf-8"))["tool"]["importlinter"]
    layers = next(c for c in config["contracts"] if c["type"] == "layers")["layers"]
    assert layers == [f"repro_kernel.{name}" for name in LAYERS] + ["repro_kernel.runtime"]
    kinds = {c["type"] for c in config["contracts"]}
    assert {"layers", "forbidden", "acyclic_siblings"} <= kinds
