"""Terminal IPython and scripts, with no notebook: a real `ipython` driven through a pty, `ipython file.ipy` and
`ipython -c` in a subprocess; `%repro export DIR` and `jupyter repro export --session ID`, then `jupyter repro
verify` replays the session in a fresh kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from repro_kernel.testing import journal_records, run_cli

pexpect = pytest.importorskip("pexpect")

IPYTHON = [sys.executable, "-m", "IPython", "--no-banner", "--quick", "--colors=nocolor", "--no-confirm-exit",
           "--HistoryManager.enabled=False"]


def _env(folder: Path) -> dict[str, str]:
    env = dict(os.environ, IPYTHONDIR=str(folder.parent / "ipython-dir"), TERM="dumb", PYTHONHASHSEED="0")
    env.pop("JPY_SESSION_NAME", None)
    return env


def ipython_file(folder: Path, name: str, code: str, *extra: str) -> subprocess.CompletedProcess[str]:
    (folder / name).write_text(code)
    return subprocess.run([*IPYTHON, *extra, name], cwd=folder, capture_output=True, text=True, timeout=180,
                          env=_env(folder))


def verified(folder: Path, export: str) -> dict:
    result = run_cli("verify", export, "--json", cwd=folder)
    report = json.loads(result.stdout)
    report["returncode"] = result.returncode
    # Steps typed at a prompt or run from a file are named as such, not as cells that went missing.
    assert all("terminal input" in step["label"] for step in report.get("steps", [])), report.get("steps")
    return report


SCRIPT = """%load_ext repro_kernel
%repro start
import random
import numpy as np
rng = np.random.default_rng()
x = random.random()
draws = rng.normal(size=3)
x
float(draws.sum())
display(x, float(draws.sum()))
print("total", x + float(draws.sum()))
%repro export out
"""


@pytest.mark.slow
def test_ipy_script_records_each_statement_and_its_export_reproduces(notebook_dir: Path) -> None:
    proc = ipython_file(notebook_dir, "analysis.ipy", SCRIPT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "recording the rest of analysis.ipy as 10 executions" in proc.stdout + proc.stderr
    assert "Out[" not in proc.stdout  # a script displays no values; recording must not change that
    records = journal_records(notebook_dir)
    codes = [r["code"] for r in records]
    assert codes[:3] == ["import random\n", "import numpy as np\n", "rng = np.random.default_rng()\n"]
    assert "x;\n" in codes  # not displayed by the script, so not by the replay either
    assert codes[-1].startswith("%repro export out")
    assert all(r["notebook"] is None for r in [journal_sessions(notebook_dir)[-1]])
    manifest = json.loads((notebook_dir / "out" / "manifest.json").read_text())
    assert manifest["mode"] == "history" and manifest["recorded"] is True
    assert len(manifest["steps"]) == 9  # the export's own line is left out of the replay
    assert any(s["random"] for s in manifest["steps"]) and any(s["generators"] for s in manifest["steps"])
    report = verified(notebook_dir, "out")
    assert report["returncode"] == 0, report
    assert {s["outcome"] for s in report["steps"]} == {"reproduced"}
    # the displayed draws are compared by hash: the restored states gave the same numbers
    assert [s["compared"] for s in report["steps"]].count("hash") == 1


def journal_sessions(folder: Path) -> list[dict]:
    from repro_kernel.core.journal import Journal

    with Journal(folder / ".repro", create=False) as journal:
        return journal.sessions()


@pytest.mark.slow
def test_a_failing_statement_stops_the_script_and_exits_1_as_without_recording(notebook_dir: Path) -> None:
    proc = ipython_file(notebook_dir, "fails.ipy", "%load_ext repro_kernel\n%repro start\na = 1\n1 / 0\nb = 2\n")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "ZeroDivisionError" in proc.stdout + proc.stderr
    assert [r["code"] for r in journal_records(notebook_dir)] == ["a = 1\n", "1 / 0;\n"]
    assert [r["status"] for r in journal_records(notebook_dir)] == ["ok", "error"]


@pytest.mark.slow
def test_plain_python_file_says_in_one_line_why_nothing_is_recorded(notebook_dir: Path) -> None:
    code = "get_ipython().run_line_magic('load_ext', 'repro_kernel')\nget_ipython().run_line_magic('repro', 'start')\n"
    proc = ipython_file(notebook_dir, "plain.py", code + "x = 1\n")
    assert proc.returncode == 0, proc.stderr
    lines = [line for line in proc.stderr.splitlines() if "plain.py runs as plain Python" in line]
    assert len(lines) == 1 and "rename it to .ipy" in lines[0]


@pytest.mark.slow
def test_ipython_c_records_the_code_after_repro_start_and_exports_by_session_id(notebook_dir: Path) -> None:
    code = "%load_ext repro_kernel\n%repro start\nimport random\nvalue = random.random()\nvalue\n"
    proc = subprocess.run([*IPYTHON, "-c", code], cwd=notebook_dir, capture_output=True, text=True, timeout=180,
                          env=_env(notebook_dir))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("Out[") == 1  # -c shows its last value, as it does without recording
    records = journal_records(notebook_dir)
    assert [r["code"] for r in records] == ["import random\n", "value = random.random()\n", "value\n"]
    assert records[-1]["output_hash"]  # the displayed draw is what verify compares
    session = records[0]["session_id"]
    written = run_cli("export", "--session", session[:8], cwd=notebook_dir)
    assert written.returncode == 0, written.stderr
    folder = notebook_dir / f"session-{session[:8]}.repro"
    assert f"wrote {folder}" in written.stdout
    again = run_cli("export", "--session", session[:8], cwd=notebook_dir)
    assert again.returncode == 2 and again.stderr.startswith("jupyter repro export: error: ")
    assert "--force" in again.stderr and len(again.stderr.strip().splitlines()) == 1
    report = verified(notebook_dir, folder.name)
    assert report["returncode"] == 0, report
    assert [s["compared"] for s in report["steps"]][-1] == "hash"


def test_export_session_bad_input_is_one_line_and_exit_2(notebook_dir: Path) -> None:
    nothing = run_cli("export", "--session", "abc", cwd=notebook_dir)
    assert nothing.returncode == 2
    assert nothing.stderr.startswith("jupyter repro export: error: no .repro journal in ")
    assert len(nothing.stderr.strip().splitlines()) == 1
    neither = run_cli("export", cwd=notebook_dir)
    assert neither.returncode == 2 and "--session ID" in neither.stderr
    stray = run_cli("export", "nb.ipynb", "--journal", ".repro", cwd=notebook_dir)
    assert stray.returncode == 2 and "--journal goes with --session" in stray.stderr


@pytest.mark.slow
def test_interactive_terminal_through_a_pty_exports_and_verify_catches_a_draw_it_cannot_restore(
        notebook_dir: Path) -> None:
    child = pexpect.spawn(IPYTHON[0], IPYTHON[1:] + ["--simple-prompt"], cwd=str(notebook_dir),
                          env=_env(notebook_dir), encoding="utf-8", timeout=90)
    prompt = r"In \[\d+\]: "
    try:
        child.expect(prompt)
        for line in ("%load_ext repro_kernel", "%repro start", "import random", "random.random()",
                     "random.SystemRandom().random()", "%repro export out", "exit"):
            child.sendline(line)
            if line != "exit":
                child.expect(prompt)
        transcript = child.before or ""
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert (notebook_dir / "out" / "manifest.json").is_file(), transcript
    codes = [r["code"] for r in journal_records(notebook_dir)]
    assert codes == ["import random", "random.random()", "random.SystemRandom().random()", "%repro export out",
                     "exit"]
    report = verified(notebook_dir, "out")
    # The global generator's state is restored, so its draw reproduces; the OS entropy cannot be, and verify says
    # so by name (the step shows a value drawn from SystemRandom) instead of calling the replay wrong.
    outcomes = [(s["outcome"], s["compared"]) for s in report["steps"]]
    assert outcomes == [("reproduced", "status"), ("reproduced", "hash"), ("nondeterministic", "hash")], report
    assert "SystemRandom" in report["steps"][2]["detail"], report["steps"][2]
    assert report["returncode"] == 0
    # The same session from the shell, after the terminal has closed: `exit` is not replayed (it would end the
    # replay's kernel), nor is the export line.
    session = journal_records(notebook_dir)[0]["session_id"]
    written = run_cli("export", "--session", session, "-o", "again", cwd=notebook_dir)
    assert written.returncode == 0, written.stderr
    steps = json.loads((notebook_dir / "again" / "manifest.json").read_text())["steps"]
    assert [s["seq"] for s in steps] == [1, 2, 3]
