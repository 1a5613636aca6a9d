"""`jupyter repro check`: exit codes, formats, and one-line errors for bad input."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest

from repro_kernel.analysis import analyze_notebook
from repro_kernel.cli.check import CheckApp
from repro_kernel.core.journal import Journal
from repro_kernel.testing import run_cli
from tests.analysis.scenarios import rec


def check(*args: str) -> subprocess.CompletedProcess[str]:
    """The same CheckApp in this process (a fresh process per call costs seconds on a busy machine)."""
    out, err = io.StringIO(), io.StringIO()
    code: Any = 0
    CheckApp.clear_instance()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            app = CheckApp.instance()
            app.initialize(list(args))
            app.start()
        except SystemExit as exc:
            code = exc.code
        finally:
            CheckApp.clear_instance()
    return subprocess.CompletedProcess(args, code or 0, out.getvalue(), err.getvalue())


@pytest.mark.slow
def test_real_command_line(tmp_path: Path) -> None:
    ok = bare(tmp_path / "ok.ipynb", [("x = 1", 1)])
    result = run_cli("check", str(ok), "--json", timeout=120)  # the real command line, in its own process
    assert result.returncode == 0 and json.loads(result.stdout)["flags"] == []
    result = run_cli("check", str(tmp_path / "missing.ipynb"), timeout=120)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "does not exist" in result.stderr


def bare(path: Path, cells: list[tuple[str, Any]]) -> Path:
    nb = nbformat.v4.new_notebook()
    for source, count in cells:
        cell = nbformat.v4.new_code_cell(source)
        cell.execution_count = count
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def recorded(folder: Path, cells: list[str], codes: list[str], counts: list[Any]) -> Path:
    """A notebook plus a journal holding one session that ran ``codes`` (execution counts 1, 2, ...)."""
    path = bare(folder / "nb.ipynb", list(zip(cells, counts)))
    with Journal(folder / ".repro") as journal:
        journal.begin_session("s1", "nb.ipynb", {"python": {"version": "3.11.0"}, "distributions": {}}, 1.0)
        for seq, code in enumerate(codes, 1):
            journal.append(rec(seq, code), "nb.ipynb")
    return path


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda d: d / "missing.ipynb", "does not exist"),
        (lambda d: d, "is a folder"),
        (lambda d: (d / "bad.ipynb").write_text("{not json") and d / "bad.ipynb", "not valid JSON"),
        (lambda d: (d / "list.ipynb").write_text("[1, 2]") and d / "list.ipynb", "not a Jupyter notebook"),
        (lambda d: (d / "inv.ipynb").write_text(json.dumps({"cells": [{"cell_type": "code"}], "metadata": {},
                                                              "nbformat": 4, "nbformat_minor": 5}))
         and d / "inv.ipynb", "not a valid notebook"),
        (lambda d: (d / "bin.ipynb").write_bytes(b"\xff\xfe\x00") and d / "bin.ipynb", "cannot read"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, setup: Any, expected: str) -> None:
    result = check(str(setup(tmp_path)))
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["--format", "yaml"], ["--fail-on", "fatal"], ["extra.ipynb"], []])
def test_bad_usage_exit_2(tmp_path: Path, args: list[str]) -> None:
    nb = bare(tmp_path / "ok.ipynb", [("x = 1", 1)])
    result = check(*([str(nb)] if args != [] else []), *args)
    assert result.returncode == 2 and "error" in result.stderr and "Traceback" not in result.stderr


def test_clean_notebook_exits_0_and_says_what_it_could_not_judge(tmp_path: Path) -> None:
    result = check(str(bare(tmp_path / "ok.ipynb", [("x = 1", 1), ("y = x + 1", 2)])))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 flags" in result.stdout and "not judged: edited-since-run" in result.stdout


def test_flags_exit_1_and_fail_on_threshold(tmp_path: Path) -> None:
    nb = bare(tmp_path / "nb.ipynb", [("a = 1", 1), ("b = 2", None), ("c = a + 1", 2)])  # never-run: warning
    assert check(str(nb)).returncode == 1
    assert check(str(nb), "--fail-on", "error").returncode == 0
    assert check(str(nb), "--fail-on", "none").returncode == 0
    text = check(str(nb)).stdout
    assert "never-run" in text and "cells 2" in text and "fix:" in text


def test_json_format(tmp_path: Path) -> None:
    nb = bare(tmp_path / "nb.ipynb", [("y = x + 1", 2), ("x = 1", 1)])
    result = check(str(nb), "--format", "json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["schema_version"] == 1 and report["journal"] is None
    flag = report["flags"][0]
    assert flag["kind"] == "out-of-order" and flag["severity"] == "error"
    assert set(flag) == {"kind", "severity", "cells", "message", "fix", "details"}
    first, second = (c.id for c in nbformat.read(nb, 4).cells)
    assert flag["cells"] == [first, second]
    assert report["cells"][first] == ["out-of-order"]
    assert "edited-since-run" in report["not_judged"] and report["summary"]["error"] == 1


def test_with_journal_judges_edits_and_staleness(tmp_path: Path) -> None:
    nb = recorded(tmp_path, ["x = 1", "y = x * 2", "x = 5"], ["x = 1", "y = x * 2", "x = 3"], [1, 2, 3])
    report = analyze_notebook(nb)
    kinds = {f.kind: f for f in report.flags}
    assert set(kinds) == {"stale", "edited-since-run"}
    assert report.session_id == "s1" and report.not_judged == {}
    result = check(str(nb), "--format", "json")
    assert json.loads(result.stdout)["journal"].endswith("journal.sqlite")
    assert check(str(nb), "--no-journal").returncode == 1  # the bare view sees a stale y too
    assert "edited-since-run" not in {f["kind"] for f in json.loads(check(str(nb), "--no-journal", "--json").stdout)["flags"]}


def test_unknown_session_and_damaged_journal_exit_2(tmp_path: Path) -> None:
    nb = recorded(tmp_path, ["x = 1"], ["x = 1"], [1])
    result = check(str(nb), "--session", "nope")
    assert result.returncode == 2 and "no session matches" in result.stderr
    (tmp_path / ".repro" / "journal.sqlite").write_bytes(b"garbage" * 100)
    for suffix in ("-wal", "-shm"):
        (tmp_path / ".repro" / f"journal.sqlite{suffix}").unlink(missing_ok=True)
    result = check(str(nb))
    assert result.returncode == 2 and "journal" in result.stderr and "Traceback" not in result.stderr


def test_old_nbformat_3_notebook_is_read(tmp_path: Path) -> None:
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": ""}, "worksheets": [{"cells": [
        {"cell_type": "code", "input": "y = x + 1", "language": "python", "outputs": [], "prompt_number": 2,
         "metadata": {}},
        {"cell_type": "code", "input": "x = 1", "language": "python", "outputs": [], "prompt_number": 1,
         "metadata": {}}], "metadata": {}}]}
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(v3))
    result = check(str(path), "--json")
    assert result.returncode == 1, result.stderr
    assert [f["kind"] for f in json.loads(result.stdout)["flags"]] == ["out-of-order"]


def test_without_a_journal_the_saved_copy_in_metadata_carries_what_only_the_kernel_knew(tmp_path: Path) -> None:
    """A notebook shared without `.repro/`: the flags the recording kernel found (kept by the sidebar in
    `metadata.repro` on save) are reported for the kinds the file alone cannot judge."""
    path = bare(tmp_path / "shared.ipynb", [("import pandas as pd\ndf = pd.read_csv('sales.csv')", 1),
                                            ("total = df.amount.sum()", 2)])
    nb = nbformat.read(path, as_version=4)
    first, second = nb.cells[0].id, nb.cells[1].id
    nb.metadata["repro"] = {
        "version": 1, "saved_at": 1764547200.0, "status": {"recording": True, "executions": 2},
        "flags": [
            {"kind": "unsnapshotted-data", "severity": "warning", "cells": [first],
             "message": "sales.csv was read but its content is kept nowhere", "fix": "%repro snapshot sales.csv"},
            {"kind": "edited-since-run", "severity": "warning", "cells": ["a-cell-deleted-since"],
             "message": "gone", "fix": "re-run it"},
            {"kind": "hidden-state", "severity": "error", "cells": [second],
             "message": "judged from the file itself, not carried", "fix": "-"},
        ],
        "cells": {first: ["unsnapshotted-data"]},
    }
    nbformat.write(nb, path)
    report = analyze_notebook(path)
    carried = [f for f in report.flags if f.details.get("source") == "metadata.repro"]
    assert [(f.kind, f.cells) for f in carried] == [("unsnapshotted-data", [first])]
    assert "2025-12-01 00:00 UTC" in report.not_judged["unsnapshotted-data"]
    assert not any(f.kind == "hidden-state" for f in report.flags), "kinds the file can judge are not carried"
    result = check(str(path), "--format", "json")
    assert result.returncode == 1
    assert "unsnapshotted-data" in {f["kind"] for f in json.loads(result.stdout)["flags"]}
    nb.metadata["repro"]["saved_at"] = float("nan")
    nbformat.write(nb, path)
    assert "an unknown time" in analyze_notebook(path).not_judged["unsnapshotted-data"]
    del nb.metadata["repro"]
    nbformat.write(nb, path)
    assert not analyze_notebook(path).flags, "without the saved copy nothing is carried"
