"""`jupyter repro sessions`, `--help` that leads with usage and exit codes, and a reader that leaves early."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from repro_kernel.core.journal import Journal
from repro_kernel.testing import run_cli
from tests.analysis.test_sessions import ENV, saved, session

SUBCOMMANDS = ["check", "export", "verify", "diff", "sessions", "install-kernel"]


def two_sessions(folder: Path) -> Path:
    nb = saved(folder / "nb.ipynb", [("c1", "x = 1", 1), ("c2", "print(x)", 2)])
    with Journal(folder / ".repro") as journal:
        session(journal, "aaaa-first", 10.0, [("c1", "x = 1", 1), ("c2", "print(x)", 2)])
        session(journal, "bbbb-later", 20.0, [("c1", "x = 1", 5), ("c2", "print(x)", 6)])
    return nb


def test_sessions_lists_each_with_its_match_and_marks_the_one_judged(tmp_path: Path) -> None:
    nb = two_sessions(tmp_path)
    listed = run_cli("sessions", str(nb), "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)["sessions"]
    assert [r["session_id"] for r in rows] == ["aaaa-first", "bbbb-later"]
    assert [r["chosen"] for r in rows] == [True, False]
    assert rows[0]["match"] == {"same_output": 0, "same_id_and_code": 2, "same_code": 2, "same_count": 2}
    assert rows[1]["match"]["same_count"] == 0 and rows[0]["executions"] == 2 and rows[0]["python"] == ENV["python"]["version"]
    text = run_cli("sessions", str(nb))
    assert text.returncode == 0 and text.stdout.splitlines()[1].startswith("* aaaa-first")
    check = json.loads(run_cli("check", str(nb), "--json").stdout)
    assert check["session_id"] == "aaaa-first"  # the same one check judges


@pytest.mark.slow
def test_sessions_without_a_journal_and_bad_input(tmp_path: Path) -> None:
    nb = saved(tmp_path / "nb.ipynb", [("c1", "x = 1", 1)])
    none = run_cli("sessions", str(nb))
    assert none.returncode == 0 and "no recorded session" in none.stdout
    missing = run_cli("sessions", str(tmp_path / "missing.ipynb"))
    assert missing.returncode == 2 and missing.stderr.count("\n") == 1 and "does not exist" in missing.stderr
    usage = run_cli("sessions")
    assert usage.returncode == 2 and "one notebook path" in usage.stderr


# One subcommand's help in the fast lane, every one in the full run (each is a process of its own).
@pytest.mark.parametrize("name", [n if n == "check" else pytest.param(n, marks=pytest.mark.slow) for n in SUBCOMMANDS])
def test_help_leads_with_usage_and_exit_codes_and_aligns_examples(name: str) -> None:
    helped = run_cli(name, "--help")
    assert helped.returncode == 0
    lines = helped.stdout.splitlines()
    assert lines[0].startswith(f"Usage: jupyter repro {name}")
    assert any(line.startswith("Exit codes: 0 ") for line in lines[:12])
    assert "convenience aliases to configurable class-options" not in helped.stdout
    examples = lines[lines.index("Examples") + 3:]
    commands = [line for line in examples if line.strip().startswith("jupyter repro")]
    assert commands and all(line.startswith("    jupyter repro") for line in commands), commands


@pytest.mark.slow
def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path) -> None:
    nb = two_sessions(tmp_path)
    # Many flags: a notebook of 400 cells run out of order, so the report is long enough to fill the pipe.
    many = saved(tmp_path / "many.ipynb", [(f"c{i}", f"v{i} = {i}", 400 - i) for i in range(400)])
    for target in (nb, many):
        pipeline = subprocess.run(
            f"{sys.executable} -m repro_kernel.cli check {target} --no-journal | head -c 20",
            shell=True, capture_output=True, text=True, timeout=120)
        assert "Traceback" not in pipeline.stderr and "BrokenPipeError" not in pipeline.stderr, pipeline.stderr
        assert len(pipeline.stdout) <= 20
