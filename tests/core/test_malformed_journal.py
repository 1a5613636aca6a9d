"""A journal whose files or rows are not what the recorder writes, as readers find it: something other than a
database at ``journal.sqlite``, a file cut inside its last page, JSON nested past what the decoder follows, a
session environment or record part of another type, a recorded path no file system can name.

Each is one :class:`~repro_kernel.exceptions.JournalError` (or, for a path, a file that cannot be read), never
"no journal", a hang or an exception of another kind. tests/cli/test_bad_input_fuzz.py drives the same inputs
through every command; these pin them at the reader.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from pathlib import Path
from typing import Any, Callable

import pytest

from repro_kernel.core.environment import capture_environment
from repro_kernel.core.hashing import FileHashCache
from repro_kernel.core.journal import DATABASE_NAME, Journal, fallback_dir_for
from repro_kernel.core.journal_layout import A_FILE, NOTHING, what_is_at
from repro_kernel.core.records import environment_problem, record_problem, saved_copy
from repro_kernel.exceptions import JournalError
from tests.analysis.scenarios import rec

ENV = {"python": {"version": "3.11.0", "executable": "/usr/bin/python3"}, "distributions": {"numpy": "2.1.3"}}


@pytest.fixture(autouse=True)
def own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-user fallback journal lives under this test's own Jupyter data folder."""
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "jupyter-data"))


def recorded(folder: Path, records: int = 3) -> Path:
    """``folder/nb.ipynb``'s journal: one session of ``records`` executions. Returns the notebook's path."""
    folder.mkdir(parents=True, exist_ok=True)
    with Journal(folder / ".repro") as journal:
        journal.begin_session("s1", "nb.ipynb", ENV, 1.0)
        for seq in range(1, records + 1):
            journal.append(rec(seq, f"x{seq} = {seq}", f"c{seq}"), "nb.ipynb")
        journal.end_session("s1", 9.0)
    return folder / "nb.ipynb"


def _replace(path: Path, kind: str) -> None:
    path.unlink()
    if kind == "folder":
        path.mkdir()
    elif kind == "FIFO":
        os.mkfifo(path)
    elif kind == "socket":
        here = os.getcwd()
        os.chdir(path.parent)  # bound by a short relative name: socket paths are limited to ~100 bytes
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(path.name)
        finally:
            os.chdir(here)
    elif kind == "link to a character device":
        path.symlink_to(os.devnull)
    elif kind == "dangling link":
        path.symlink_to(path.parent / "nowhere")
    elif kind == "link loop":
        path.symlink_to(path.name)


KINDS = ["folder", "FIFO", "socket", "link to a character device", "dangling link", "link loop"]


@pytest.mark.parametrize("kind", KINDS)
def test_something_else_at_the_database_path_is_named_never_no_journal(tmp_path: Path, kind: str) -> None:
    notebook = recorded(tmp_path / "project")
    database = notebook.parent / ".repro" / DATABASE_NAME
    _replace(database, kind)
    assert what_is_at(database) == "a " + kind
    with pytest.raises(JournalError) as caught:  # a FIFO is looked at, never opened: this cannot hang
        Journal.find(notebook)
    assert str(database) in caught.value.message and kind in caught.value.message, caught.value.one_line()
    assert "move the damaged" in caught.value.one_line()
    with pytest.raises(JournalError, match=kind):
        Journal(database.parent, create=False)


def test_the_fallback_journal_is_read_when_the_folders_own_is_no_file(tmp_path: Path) -> None:
    """The recorder falls back to the per-user folder when `.repro/journal.sqlite` cannot be opened (a folder
    in its place): that journal is the one to read, not an error about the one it could not write."""
    notebook = recorded(tmp_path / "project")
    (notebook.parent / ".repro" / DATABASE_NAME).unlink()
    (notebook.parent / ".repro" / DATABASE_NAME).mkdir()
    with Journal(fallback_dir_for(notebook.parent)) as journal:
        journal.begin_session("s2", "nb.ipynb", ENV, 2.0)
    with Journal.find(notebook) as found:
        assert found.directory == fallback_dir_for(notebook.parent)
        assert [s["session_id"] for s in found.sessions()] == ["s2"]


def test_what_is_at_a_path_without_a_folder_is_nothing(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    assert what_is_at(tmp_path / "a-file" / DATABASE_NAME) == NOTHING
    assert what_is_at(tmp_path / "missing" / DATABASE_NAME) == NOTHING
    assert what_is_at(tmp_path / "a\x00b") == NOTHING
    assert what_is_at(tmp_path / "a-file") == A_FILE


def test_a_journal_cut_inside_its_last_page_is_truncated(tmp_path: Path) -> None:
    notebook = recorded(tmp_path / "project", records=40)
    database = notebook.parent / ".repro" / DATABASE_NAME
    with Journal.find(notebook) as journal:  # whole pages: it opens
        assert len(journal.executions()) == 40
    size = database.stat().st_size
    os.truncate(database, size - 100)
    with pytest.raises(JournalError, match=rf"truncated \({size - 100} bytes, not a whole number of its \d+-byte"):
        Journal.find(notebook)


def _update(notebook: Path, statement: str, *args: Any) -> None:
    db = sqlite3.connect(notebook.parent / ".repro" / DATABASE_NAME)
    try:
        db.execute(statement, args)
        db.commit()
    finally:
        db.close()


@pytest.mark.parametrize(("table", "column", "read"), [
    ("executions", "record", lambda journal: journal.executions()),
    ("sessions", "environment", lambda journal: journal.sessions()),
])
def test_json_nested_past_the_decoder_is_damage_not_a_recursion_error(
    tmp_path: Path, table: str, column: str, read: Callable[[Journal], Any]
) -> None:
    notebook = recorded(tmp_path / "project")
    _update(notebook, f"UPDATE {table} SET {column}=?", "[" * 100_000 + "]" * 100_000)
    with Journal.find(notebook) as journal, pytest.raises(JournalError) as caught:
        read(journal)
    assert "is damaged" in caught.value.message and "nested too deeply" in caught.value.message


@pytest.mark.parametrize(("environment", "words"), [
    ({"python": []}, "python must be object"),
    ({"python": {"version": 3.11}}, "python.version must be string or null"),
    ({"python": "3.11"}, "python must be object"),
    ({"distributions": {"numpy": ["2.1.3"]}}, "distributions.numpy must be string or null"),
    ({"git": {"remote": 1}}, "git.remote must be string or null"),
    ({"environment_variables": []}, "environment_variables must be object"),
    ([], "a JSON list, not an object"),
])
def test_a_session_environment_of_another_shape_is_damage(tmp_path: Path, environment: Any, words: str) -> None:
    notebook = recorded(tmp_path / "project")
    _update(notebook, "UPDATE sessions SET environment=?", json.dumps(environment))
    with Journal.find(notebook) as journal, pytest.raises(JournalError) as caught:
        journal.sessions()
    assert "session s1 is damaged (its environment is" in caught.value.message and words in caught.value.message


def test_environments_the_recorder_writes_or_wrote_are_read() -> None:
    assert environment_problem(capture_environment(Path.cwd(), "nb.ipynb")) is None
    for older in ({}, {"python": {"version": "3.11.0"}, "distributions": {}}, {"git": None, "machine": {}}):
        assert environment_problem(older) is None, older


_FILE = {"path": "/p/data.txt", "rel": "data.txt", "size": 1, "mtime": 1.0, "hash": None, "error": "gone"}
_RANDOM = {"sources": {}, "generators": [], "seeds": []}


@pytest.mark.parametrize(("fields", "words"), [
    ({"random": dict(_RANDOM, generators=[1])}, "generators[0] must be object"),
    ({"random": dict(_RANDOM, generators=[{"kind": ["numpy.default_rng"]}])}, "kind must be string or null"),
    ({"random": dict(_RANDOM, generators=[{"kind": "numpy.Generator", "seeded": "no"}])}, "seeded must be boolean"),
    ({"random": dict(_RANDOM, seeds=["random.seed(3)"])}, "seeds[0] must be object"),
    ({"files_read": [dict(_FILE, path="/p/a\x00b")]}, "files_read[0].path must be a path a file system can name"),
    ({"files_written": [dict(_FILE, rel="\ud800.txt")]}, "files_written[0].rel must be a path a file system"),
])
def test_a_record_part_the_schema_leaves_open_is_checked_too(tmp_path: Path, fields: dict[str, Any],
                                                            words: str) -> None:
    record = rec(1, "x = 1", "c1", **fields)
    assert words in (record_problem(record) or ""), record_problem(record)
    notebook = recorded(tmp_path / "project")
    _update(notebook, "UPDATE executions SET record=? WHERE seq=1", json.dumps(record))
    with Journal.find(notebook) as journal, pytest.raises(JournalError) as caught:
        journal.executions()
    assert "execution 1 of session s1 is damaged" in caught.value.message
    assert caught.value.one_line().isprintable(), "a NUL or a surrogate in the record is shown escaped"


def test_record_parts_the_recorder_writes_are_read() -> None:
    assert record_problem(rec(1, "x = 1", "c1", files_read=[_FILE, dict(_FILE, path="/p/\udcff.txt", rel=None)],
                              random={"generators": [{"kind": "numpy.default_rng", "seeded": False, "entropy": "123"}],
                                      "seeds": [{"call": "random.seed", "source": "python", "value": 3}]})) is None


@pytest.mark.parametrize("path", ["a\x00b", "\ud800", "/tmp/\udcff-missing"])
def test_a_recorded_path_no_file_system_names_is_a_file_that_cannot_be_read(path: str) -> None:
    facts = FileHashCache().facts(path)
    assert facts.hash is None and facts.size is None and facts.error, facts


def test_the_saved_copy_is_checked_where_it_is_read() -> None:
    good = {"version": 1, "saved_at": 1.0, "status": {"inputs": [{"path": "a.csv", "hash": "blake3:00", "size": 1}]},
            "flags": [{"kind": "unseeded-random", "cells": ["c1"], "message": "m", "fix": "f"}], "cells": {}}
    assert saved_copy({"repro": good}) == good
    for container in ({"status": 1e308}, {"status": []}, {"status": {"inputs": {"a": 1}}}, {"flags": {"k": 1}},
                      {"cells": []}, {"cells": {"c1": "unseeded-random"}}):
        assert saved_copy({"repro": dict(good, **container)}) is None, container
    odd_items = dict(good, status={"inputs": [1, {"path": 2}, {"path": "b", "size": "big"}, {"path": "a\x00b"},
                                              *good["status"]["inputs"]]},
                     flags=[None, {"kind": ["list"]}, {"kind": {"k": 1}}, {"message": "no kind"}, *good["flags"]])
    assert saved_copy({"repro": odd_items}) == good, "items of another shape are left out, the rest carried"
    assert saved_copy({"repro": {"version": 2}}) is None and saved_copy([]) is None
