"""The pre-commit hook outside the environment that has jupyter-repro: one line that says what to do."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.integration.test_precommit import _commit, _notebook, project  # noqa: F401 (the fixture)


@pytest.mark.slow
def test_the_hook_says_to_activate_the_environment(project: tuple[Path, dict[str, str]]) -> None:  # noqa: F811
    work, env = project
    bare = dict(env, PATH=os.pathsep.join(p for p in env["PATH"].split(os.pathsep)
                                          if not (Path(p) / "jupyter-repro").exists()))
    _notebook(work / "a.ipynb", [("x = 1", 1)])
    refused = _commit(work, bare, "a.ipynb")
    assert refused.returncode != 0
    assert "jupyter-repro not found: activate the environment that has it" in refused.stdout, refused.stdout
    assert "command not found" not in refused.stdout
