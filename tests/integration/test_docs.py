"""Every command shown in a bash code block of README.md and docs/*.md runs, in a temporary project recorded
from the demo notebook by scripts/demo.py itself; the few that cannot run here are listed with the reason."""

from __future__ import annotations

import importlib.util
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_RUN = {
    "./scripts/demo.sh": "scripts/test.sh runs it as a suite of its own (it installs the venv)",
    "./scripts/test.sh": "CI runs it: it is the whole test suite, this test included",
    "pip install jupyter-repro": "needs the release on PyPI; tests/integration/test_packaging.py installs the wheel",
    'pip install "jupyter-repro[mlflow]"': "needs the release on PyPI; the test extra installs the same packages",
}


def commands() -> list[tuple[str, str, int]]:
    """(document, command, expected exit code) for each line of each bash block; `# exit N` sets the code."""
    found = []
    for doc in DOCS:
        for block in re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", doc.read_text(), re.S):
            for line in block.splitlines():
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                command, _, comment = line.partition("  #")
                expected = re.search(r"\bexit (\d)", comment)
                found.append((doc.name, command.strip(), int(expected.group(1)) if expected else 0))
    return found


def test_the_docs_show_commands_and_every_skip_is_still_shown() -> None:
    shown = {command for _, command, _ in commands()}
    assert len(shown) >= 10
    stale = set(NOT_RUN) - shown
    assert not stale, f"listed as not run but no longer in the docs: {stale}"


def test_every_image_and_local_link_in_the_docs_exists() -> None:
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", doc.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            assert (doc.parent / target).exists(), f"{doc.name} links to missing {target}"


@pytest.mark.slow
def test_every_documented_command_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `jupyter` is this environment's, as for a user who activated it.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    spec = importlib.util.spec_from_file_location("demo", ROOT / "scripts" / "demo.py")
    assert spec and spec.loader
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    project = tmp_path / "project"
    demo.WORK = project  # the main job, in a temporary folder instead of demo-run/
    assert demo.main() == 0, "scripts/demo.py: check exit 1, export and verify exit 0"
    shutil.rmtree(project / "demo.repro")  # the docs export it themselves

    env = dict(os.environ, HOME=str(tmp_path / "home"))  # `install-kernel --user` lands in a throwaway home
    env.pop("MLFLOW_TRACKING_URI", None)
    ran = 0
    for doc, command, expected in commands():
        if command in NOT_RUN:
            continue
        if command.startswith(("python ", "pip ")):
            pytest.fail(f"{doc}: `{command}` is neither run here nor listed in NOT_RUN")
        result = subprocess.run(shlex.split(command), cwd=project, env=env, capture_output=True, text=True,
                                timeout=300)
        assert result.returncode == expected, f"{doc}: `{command}` exit {result.returncode}, expected {expected}:\n" \
            f"{result.stdout[-1500:]}\n{result.stderr[-1500:]}"
        ran += 1
    assert ran >= 8
    assert (project / "demo.repro" / "manifest.json").is_file()
    assert (project / "mlflow.db").is_file(), "export --mlflow logged to the local store"
    assert (tmp_path / "home" / ".local" / "share" / "jupyter" / "kernels").is_dir()
