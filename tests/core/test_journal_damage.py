"""The journal as readers find it: damaged (a dropped table, a record that is not JSON or is ``{}``, a truncated
file, garbage bytes), read-only (a folder nobody may write, a write-protected database), in the per-user fallback
the recorder wrote to, and how durable its commits are.

Damage is always one :class:`JournalError` line naming the next step, from ``Journal`` and from the real
``check`` and ``export`` command lines (exit 2, no traceback), never a record silently dropped. The journals are
real: recorded by a real kernel, then damaged with SQLite or by hand.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

from repro_kernel.core.journal import DATABASE_NAME, Journal, fallback_dir_for
from repro_kernel.exceptions import JournalError
from repro_kernel.testing import START, LiveKernel, execute_notebook, make_notebook, run_cli

CELLS = [START, "rows = open('data.csv').read().splitlines()", "total = len(rows)\nprint(total)"]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A notebook recorded by a real kernel, its journal closed (checkpointed) when the kernel stopped."""
    folder = tmp_path_factory.mktemp("recorded")
    (folder / "data.csv").write_text("a,b\n1,2\n3,4\n")
    execute_notebook(make_notebook(CELLS), folder / "nb.ipynb")
    assert (folder / ".repro" / DATABASE_NAME).is_file()
    return folder


def _copy(recorded: Path, target: Path) -> Path:
    shutil.copytree(recorded, target)
    return target


def _sql(statement: str, *args: object) -> Callable[[Path], None]:
    def damage(db: Path) -> None:
        with sqlite3.connect(db) as connection:
            connection.execute(statement, args)
        connection.close()
    return damage


def _record_edit(edit: Callable[[dict], object]) -> Callable[[Path], None]:
    """Replace the first execution's record with what ``edit`` makes of it (a dict is stored as JSON)."""
    def damage(db: Path) -> None:
        with sqlite3.connect(db) as connection:
            (text,) = connection.execute("SELECT record FROM executions ORDER BY seq LIMIT 1").fetchone()
            changed = edit(json.loads(text))
            stored = changed if isinstance(changed, str) else json.dumps(changed)
            connection.execute("UPDATE executions SET record = ? WHERE seq = (SELECT MIN(seq) FROM executions)",
                               (stored,))
        connection.close()
    return damage


def _truncate(db: Path) -> None:
    os.truncate(db, db.stat().st_size // 2)


def _garbage(db: Path) -> None:
    db.write_bytes(os.urandom(db.stat().st_size))


def _empty_file(db: Path) -> None:
    db.write_bytes(b"")


def _without(name: str) -> Callable[[dict], dict]:
    return lambda record: {k: v for k, v in record.items() if k != name}


# Damage found when the journal is opened, and damage found in a record when it is read.
ON_OPEN = {
    "dropped sessions table": _sql("DROP TABLE sessions"),
    "dropped executions table": _sql("DROP TABLE executions"),
    "dropped snapshots table": _sql("DROP TABLE snapshots"),
    "truncated file": _truncate,
    "garbage bytes": _garbage,
    "empty file": _empty_file,
}
IN_RECORD = {
    "record not JSON": _record_edit(lambda r: '{"schema_version": 1, "session_id": '),
    "record {}": _record_edit(lambda r: {}),
    "record a JSON list": _record_edit(lambda r: [r]),
    "record without files_read": _record_edit(_without("files_read")),
    "record with a bad status": _record_edit(lambda r: {**r, "status": "maybe"}),
    "record of another row": _record_edit(lambda r: {**r, "seq": r["seq"] + 100}),
}


@pytest.fixture(params=sorted({**ON_OPEN, **IN_RECORD}))
def damaged(request: pytest.FixtureRequest, recorded: Path, tmp_path: Path) -> Path:
    folder = _copy(recorded, tmp_path / "project")
    {**ON_OPEN, **IN_RECORD}[request.param](folder / ".repro" / DATABASE_NAME)
    return folder


def test_damage_is_one_journal_error_that_names_the_next_step(damaged: Path) -> None:
    with pytest.raises(JournalError) as caught:
        with Journal.find(damaged / "nb.ipynb") as journal:
            for session in journal.sessions():
                journal.executions(session_id=session["session_id"])
    line = caught.value.one_line()
    assert "\n" not in line and "journal" in line and "aside" in line, line


def test_healthy_copy_reads_every_step(recorded: Path, tmp_path: Path) -> None:
    """The control: the undamaged journal gives every recorded execution, nothing pending."""
    folder = _copy(recorded, tmp_path / "project")
    with Journal.find(folder / "nb.ipynb") as journal:
        records = journal.executions()
        assert [r["code"] for r in records] == CELLS[1:]
        assert journal.pending_note is None and not journal.read_only


def _cli_in_process(*args: str) -> subprocess.CompletedProcess[str]:
    """``jupyter repro ARGS`` in this process (a fresh process costs seconds on a busy machine)."""
    from repro_kernel.cli.check import CheckApp
    from repro_kernel.cli.export import ExportApp
    from repro_kernel.cli.main import ReproApp, main

    out, err = io.StringIO(), io.StringIO()
    code: object = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code
        finally:
            for app in (ReproApp, CheckApp, ExportApp):
                app.clear_instance()
    return subprocess.CompletedProcess(args, code or 0, out.getvalue(), err.getvalue())


def _one_line_exit_2(result: subprocess.CompletedProcess[str]) -> bool:
    lines = result.stderr.strip().splitlines()
    return result.returncode == 2 and len(lines) == 1 and "Traceback" not in result.stderr and "journal" in lines[0]


@pytest.mark.parametrize("command", ["check", "export"])
def test_check_and_export_on_a_damaged_journal_exit_2_with_one_line(damaged: Path, command: str) -> None:
    result = _cli_in_process(command, str(damaged / "nb.ipynb"))
    assert _one_line_exit_2(result), (result.returncode, result.stderr, result.stdout[:300])
    assert not (damaged / "nb.repro").exists()


@pytest.mark.slow
def test_real_command_lines_on_damaged_journals(recorded: Path, tmp_path: Path) -> None:
    """``python -m repro_kernel.cli check|export nb.ipynb`` in their own processes, on every kind of damage."""
    jobs = []
    for name, damage in {**ON_OPEN, **IN_RECORD}.items():
        folder = _copy(recorded, tmp_path / name.replace(" ", "-").replace("{}", "empty-object"))
        damage(folder / ".repro" / DATABASE_NAME)
        jobs += [(name, command, folder / "nb.ipynb") for command in ("check", "export")]
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda job: run_cli(job[1], str(job[2]), timeout=600), jobs))
    problems = [f"{command} on {name}: exit {r.returncode}, stderr {r.stderr!r}, stdout {r.stdout[:200]!r}"
                for (name, command, _), r in zip(jobs, results) if not _one_line_exit_2(r)]
    assert not problems, "\n".join(problems)


# -- read-only journals -----------------------------------------------------------------------------------


@contextmanager
def immutable(*paths: Path) -> Iterator[None]:
    """``chattr +i`` (root can still not write there); skip where the file system or the user cannot."""
    done: list[Path] = []
    try:
        for path in paths:
            result = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
            if result.returncode != 0:
                pytest.skip(f"cannot make {path} immutable here (chattr: {result.stderr.strip() or 'failed'}); "
                            "a read-only folder needs chattr +i when the tests run as root")
            done.append(path)
        probe = paths[0] / ".probe" if paths[0].is_dir() else paths[0]
        try:
            probe.open("a").close()
        except OSError:
            pass
        else:
            pytest.skip("chattr +i did not make the path read-only here")
        yield
    finally:
        for path in reversed(done):
            subprocess.run(["chattr", "-i", str(path)], check=False)


def test_journal_in_a_folder_nobody_may_write_is_read_immutable(recorded: Path, tmp_path: Path) -> None:
    folder = _copy(recorded, tmp_path / "project")
    journal_dir = folder / ".repro"
    with immutable(journal_dir):
        with Journal.find(folder / "nb.ipynb") as journal:
            assert journal.read_only
            assert [r["code"] for r in journal.executions()] == CELLS[1:]
        result = run_cli("check", str(folder / "nb.ipynb"), timeout=240)
        assert result.returncode in (0, 1), result.stderr
        assert "journal session" in result.stdout, result.stdout
        assert not (journal_dir / f"{DATABASE_NAME}-shm").exists()


def test_write_protected_database_is_read(recorded: Path, tmp_path: Path) -> None:
    folder = _copy(recorded, tmp_path / "project")
    with immutable(folder / ".repro" / DATABASE_NAME):
        with Journal.find(folder / "nb.ipynb") as journal:
            assert [r["code"] for r in journal.executions()] == CELLS[1:]


def test_read_only_journal_with_unmerged_log_says_what_to_do(tmp_path: Path) -> None:
    """A write-ahead log SQLite cannot read without writing beside it: one line, not stale records."""
    live = Journal(tmp_path / "live")
    live.begin_session("s1", "nb.ipynb", {}, 1.0)  # the open connection keeps it in journal.sqlite-wal
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in (DATABASE_NAME, f"{DATABASE_NAME}-wal"):
        shutil.copy(tmp_path / "live" / name, copy / name)
    live.close()
    with immutable(copy):
        with pytest.raises(JournalError, match="folder you can write"):
            Journal(copy, create=False)


# -- the fallback journal -----------------------------------------------------------------------------------


def test_check_finds_the_fallback_journal_of_an_unwritable_folder(tmp_path: Path) -> None:
    data_dir = tmp_path / "jupyter-data"
    folder = tmp_path / "project"
    folder.mkdir()
    nb = make_notebook(CELLS[:1] + ["x = 1"])
    nb.cells[1].execution_count = 2
    nbformat.write(nb, folder / "nb.ipynb")
    env = {"JUPYTER_DATA_DIR": str(data_dir)}
    with immutable(folder):
        with LiveKernel(folder, env=env, graceful=True) as kernel:
            started = kernel.run(START)
            kernel.run("x = 1")
            session = kernel.value("__import__('repro_kernel').get_recorder().session_id")
        assert "instead" in started["stdout"] + started["stderr"]
        result = run_cli("check", str(folder / "nb.ipynb"), env=env, timeout=240)
    assert f"journal session {session[:8]}" in result.stdout, (result.stdout, result.stderr)
    old = os.environ.get("JUPYTER_DATA_DIR")
    os.environ["JUPYTER_DATA_DIR"] = str(data_dir)
    try:
        assert Journal.find(folder / "nb.ipynb").directory == fallback_dir_for(folder)
    finally:
        os.environ.pop("JUPYTER_DATA_DIR") if old is None else os.environ.update(JUPYTER_DATA_DIR=old)


def test_fallback_written_after_the_folders_own_journal_is_the_one_read(recorded: Path, tmp_path: Path) -> None:
    """`.repro/` holds an older journal and became read-only: the recorder fell back, and readers follow it."""
    folder = _copy(recorded, tmp_path / "project")
    env = {"JUPYTER_DATA_DIR": str(tmp_path / "jupyter-data")}
    with immutable(folder / ".repro"):
        with LiveKernel(folder, env=env, graceful=True) as kernel:
            kernel.run(START)
            kernel.run("y = 2")
            session = kernel.value("__import__('repro_kernel').get_recorder().session_id")
        result = run_cli("sessions", str(folder / "nb.ipynb"), env=env, timeout=240)
    assert session[:12] in result.stdout, (result.stdout, result.stderr)


# -- durability ---------------------------------------------------------------------------------------------

SYNC = "__import__('repro_kernel').get_recorder().journal._db.execute('PRAGMA synchronous').fetchone()[0]"


def test_durable_recording_syncs_every_commit(tmp_path: Path) -> None:
    """synchronous=NORMAL (1) by default; FULL (2) with `%repro start --durable` or REPRO_DURABLE=1."""
    with LiveKernel(tmp_path) as kernel:
        kernel.run(START)
        assert kernel.value(SYNC) == 1
        kernel.run("%repro stop")
        kernel.run("%repro start --durable")
        assert kernel.value(SYNC) == 2
        kernel.run("%repro stop")
        kernel.run("%repro start")
        assert kernel.value(SYNC) == 1  # the flag is for that session only
        kernel.run("%repro stop")
        kernel.run("import os\nos.environ['REPRO_DURABLE'] = '1'")
        kernel.run("%repro start")
        assert kernel.value(SYNC) == 2
        kernel.run("%repro stop")
        kernel.run("os.environ.pop('REPRO_DURABLE')\n__import__('repro_kernel').get_recorder().durable = True")
        kernel.run("%repro start")
        assert kernel.value(SYNC) == 2
