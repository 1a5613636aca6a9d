"""The pre-commit hook, run by the real `pre-commit` tool from a git commit in a temporary repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[2]
GIT = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false"]

pytest.importorskip("pre_commit", reason="the test extra installs pre-commit")


def _notebook(path: Path, cells: list[tuple[str, int]]) -> None:
    """A saved notebook whose code cells ran with these execution counts (no journal: judged from the file)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    for source, count in cells:
        cell = nbformat.v4.new_code_cell(source, execution_count=count)
        nb.cells.append(cell)
    nbformat.write(nb, path)


def _run(args: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A git repository whose .pre-commit-config.yaml uses a file:// clone of this repository's hook."""
    hooks = tmp_path / "jupyter-repro"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT"))}
    # The hook finds the jupyter-repro of the active environment, as it would for a user.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PRE_COMMIT_HOME"] = str(tmp_path / "pre-commit-cache")
    subprocess.run(["git", "clone", "-q", ROOT.as_uri(), str(hooks)], check=True, env=env)
    # Test the hook file as it is in this checkout, committed or not.
    shutil.copy(ROOT / ".pre-commit-hooks.yaml", hooks / ".pre-commit-hooks.yaml")
    subprocess.run([*GIT, "add", ".pre-commit-hooks.yaml"], cwd=hooks, check=True, env=env)
    subprocess.run([*GIT, "commit", "-q", "--allow-empty", "-m", "hook under test"], cwd=hooks, check=True, env=env)
    rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=hooks, capture_output=True, text=True,
                         check=True).stdout.strip()

    work = tmp_path / "analysis"
    work.mkdir()
    subprocess.run(["git", "init", "-q"], cwd=work, check=True, env=env)
    (work / ".pre-commit-config.yaml").write_text(
        f"repos:\n  - repo: {hooks.as_uri()}\n    rev: {rev}\n    hooks:\n      - id: jupyter-repro-check\n"
    )
    installed = _run([sys.executable, "-m", "pre_commit", "install"], work, env)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    subprocess.run([*GIT, "add", ".pre-commit-config.yaml"], cwd=work, check=True, env=env)
    return work, env


def _commit(work: Path, env: dict[str, str], *paths: str) -> subprocess.CompletedProcess[str]:
    """`git commit` with the installed hook; pre-commit's report (on stderr) is folded into stdout."""
    subprocess.run([*GIT, "add", *paths], cwd=work, check=True, env=env)
    done = _run([*GIT, "commit", "-m", "notebooks"], work, env)
    return subprocess.CompletedProcess(done.args, done.returncode, done.stdout + done.stderr, "")


@pytest.mark.slow
def test_a_clean_notebook_commits_and_a_flagged_one_is_refused(project: tuple[Path, dict[str, str]]) -> None:
    work, env = project
    _notebook(work / "clean.ipynb", [("x = 1", 1), ("y = x + 1\ny", 2)])
    clean = _commit(work, env, "clean.ipynb")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "jupyter repro check" in clean.stdout and "Passed" in clean.stdout

    # Cell 1 reads `x`, which only cell 2 (below it, run first) defines: out of order.
    _notebook(work / "messy.ipynb", [("y = x + 1\ny", 2), ("x = 1", 1)])
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True).stdout
    messy = _commit(work, env, "messy.ipynb")
    assert messy.returncode != 0, messy.stdout + messy.stderr
    assert "Failed" in messy.stdout and "out-of-order" in messy.stdout
    assert "messy.ipynb" in messy.stdout and "clean.ipynb" not in messy.stdout, "only staged notebooks"
    after = subprocess.run(["git", "rev-parse", "HEAD"], cwd=work, capture_output=True, text=True).stdout
    assert after == head, "the flagged notebook was not committed"


@pytest.mark.slow
def test_args_reach_every_notebook(project: tuple[Path, dict[str, str]]) -> None:
    """`args: [--fail-on, error]` lets warnings through; every staged notebook is checked."""
    work, env = project
    # Cell 2 ran but cell 1 never did: never-run, a warning, fails the default --fail-on warning.
    _notebook(work / "a.ipynb", [("import math", None), ("2 + 2", 1)])  # type: ignore[list-item]
    _notebook(work / "b.ipynb", [("x = 1", 1)])
    refused = _commit(work, env, "a.ipynb", "b.ipynb")
    assert refused.returncode != 0 and "never-run" in refused.stdout, refused.stdout

    config = work / ".pre-commit-config.yaml"
    config.write_text(config.read_text() + "        args: [--fail-on, error]\n")
    passed = _commit(work, env, ".pre-commit-config.yaml", "a.ipynb", "b.ipynb")
    assert passed.returncode == 0, passed.stdout
    assert "Passed" in passed.stdout

    _notebook(work / "c.ipynb", [("y = x + 1\ny", 2), ("x = 1", 1)])
    _notebook(work / "d.ipynb", [("z = 3", 1), ("w = z", 2)])
    _notebook(work / "e.ipynb", [("print(undefined_name)", 1)])
    failed = _commit(work, env, "c.ipynb", "d.ipynb", "e.ipynb")
    assert failed.returncode != 0
    assert "c.ipynb: 1 flag" in failed.stdout and "d.ipynb: 0 flags" in failed.stdout
    assert "e.ipynb" in failed.stdout and "hidden-state" in failed.stdout, "notebooks after a failing one run too"
