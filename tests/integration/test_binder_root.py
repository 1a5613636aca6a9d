"""The repository's own binder/: what repo2docker would build, rendered without a Docker engine."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

from repro_kernel.testing import run_cli

ROOT = Path(__file__).resolve().parents[2]
BINDER = ROOT / "binder"


def _requirements() -> list[str]:
    lines = [line.split("#")[0].strip() for line in (BINDER / "requirements.txt").read_text().splitlines()]
    return [line for line in lines if line]


@pytest.mark.slow
def test_repo2docker_builds_this_checkout_with_python_and_postbuild() -> None:
    exe = shutil.which("jupyter-repo2docker") or str(Path(sys.executable).with_name("jupyter-repo2docker"))
    if not Path(exe).exists():
        pytest.skip("jupyter-repo2docker is not installed (the test extra installs it)")
    result = subprocess.run([exe, "--no-build", "--debug", "--no-run", str(ROOT)], capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0, result.stderr[-2000:]
    dockerfile = result.stdout + result.stderr
    runtime = (BINDER / "runtime.txt").read_text().strip()
    assert re.fullmatch(r"python-3\.\d+", runtime)
    assert f"Building conda environment for python={runtime.split('-')[1]}" in dockerfile
    # "." is a local requirement: repo2docker must copy the whole repository before pip runs.
    copied = dockerfile.index("COPY --chown=0:0 src/ ${REPO_DIR}/")
    installed = dockerfile.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    assert copied < installed < dockerfile.index("RUN ./binder/postBuild")


def test_requirements_cover_the_package_and_what_the_examples_import() -> None:
    reqs = _requirements()
    assert any(r.startswith(".[") or r == "." for r in reqs), "this checkout itself, with its labextension"
    names = {Requirement(r).name.lower() for r in reqs if not r.startswith(".")}
    provided = importlib.metadata.packages_distributions()
    stdlib = set(sys.stdlib_module_names) | {"repro_kernel"}
    for path in sorted((ROOT / "examples").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            code = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
            for node in ast.walk(ast.parse(code)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) else []
                for module in modules:
                    top = module.split(".")[0]
                    if top in stdlib:
                        continue
                    dists = {d.lower() for d in provided.get(top, [top])}
                    assert dists & names, f"{path.name} imports {top}; add {sorted(dists)} to binder/requirements.txt"


@pytest.mark.slow
def test_postbuild_is_valid_bash_and_its_check_matches_real_output() -> None:
    post = BINDER / "postBuild"
    assert post.stat().st_mode & 0o111, "repo2docker runs it directly"
    assert subprocess.run(["bash", "-n", str(post)]).returncode == 0
    text = post.read_text()
    assert "jupyter repro install-kernel --sys-prefix" in text
    helped = run_cli("install-kernel", "--help", timeout=60)
    assert "--sys-prefix" in helped.stdout
    pattern = re.search(r'grep -E "([^"]+)"', text)
    assert pattern, "postBuild checks the extension is listed"
    listed = subprocess.run([str(Path(sys.executable).with_name("jupyter")), "labextension", "list"],
                            capture_output=True, text=True, timeout=120)
    output = listed.stdout + listed.stderr  # as postBuild sees it, colour codes and all
    grep = subprocess.run(["grep", "-E", pattern.group(1)], input=output, capture_output=True, text=True)
    assert grep.returncode == 0, output
