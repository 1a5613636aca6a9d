"""Every command over bad input, generated rather than hand-picked (DESIGN.md: bad input gets one line that names
the next step and a non-zero exit, never a traceback).

Valid artifacts are built once, in this process: a notebook whose ``.repro`` journal holds its recorded session
(:class:`~repro_kernel.core.journal.Journal` and ``tests.analysis.scenarios.rec``, as tests/analysis/test_sessions.py
builds one) and its history-mode export with the data bundled. A seeded RNG then mutates them systematically:

* JSON documents (the notebook, ``manifest.json``, ``replay.ipynb``, a journal record, a session's environment):
  every key and item at every level dropped, renamed, given a value of another type or an odd value of its own
  type; the bytes truncated at random offsets, made non-UTF-8, given huge numbers or deep nesting; nbformat 3 and
  future versions, cells that are not dicts, sources that are lists of ints;
* ``manifest.json`` mutated as above twice: as it is (the seal must catch it) and re-sealed with the manifest
  module's own helpers, so that what is bad is the content itself; sealed files changed and re-sealed too;
* files replaced by folders, dangling links, link loops, links to a device, FIFOs and sockets;
* the journal's SQLite file truncated or overwritten, its tables dropped, its rows retyped.

Each mutated input goes through every command that takes it, in this process
(:func:`repro_kernel.testing.cli_in_process`), and a seeded sample also as a real process. Every answer must be
exit 2 with one line on stderr (exit 1 where the docs say so: verify's changed data, check's flags) or, where the
mutation left a valid input, exit 0/1 with nothing on stderr; never a traceback, never "internal error" (the CLI's
last line of defence must find nothing here: each crash gets a real fix), never a hang. A verify that gets as far
as starting a kernel stops there (every check before the replay passed) and a seeded sample of those replays for
real: two in the fast lane; the slow variant tries every operation and value at every path and replays forty.

A failure in a module this test's author does not own is listed in ``PENDING`` with where its fix belongs; it is
shown (the test xfails) rather than hidden, and the entry goes once the fix lands.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import random
import re
import shutil
import socket
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

import nbformat
import pytest

from repro_kernel.cli.main import ReproApp
from repro_kernel.core.hashing import hash_file
from repro_kernel.core.journal import Journal
from repro_kernel.export import export_notebook
from repro_kernel.export.manifest import canonical, seal_digests, sha256_file
from repro_kernel.testing import cli_in_process, run_cli
from tests.analysis.scenarios import rec

SEED = int(os.environ.get("REPRO_FUZZ_SEED", "20250611"))
ENV = {"python": {"version": "3.11.0", "executable": "/usr/bin/python3"}, "distributions": {"numpy": "2.1.3"},
       "kernel": {"ipykernel": "6.29.5"}}
CELLS = [  # (cell id, code, what it printed)
    ("c1", "text = open('data.txt').read()", None),
    ("c2", "import random\nrandom.seed(3)\nn = random.randint(1, 9)", None),
    ("c3", "print(len(text.split()), n > 0)", "2 True\n"),
]
SAVED_COPY = {"version": 1, "saved_at": 1700000000.5,
              "status": {"recording": True, "inputs": [{"path": "data.txt", "hash": None, "size": 11}]},
              "flags": [{"kind": "unseeded-random", "severity": "warning", "cells": ["c2"], "message": "m",
                         "fix": "f", "details": {}}],
              "cells": {"c2": ["unseeded-random"]}}

Doc = Any
Path_ = tuple[Any, ...]


# -- the valid artifacts ---------------------------------------------------------------------------------------


def build_project(folder: Path) -> None:
    """``folder/nb.ipynb`` with its journal (one session, three executions, one data input) and its export
    ``folder/nb.repro`` (history mode, data bundled)."""
    folder.mkdir(parents=True)
    data = folder / "data.txt"
    data.write_text("alpha\nbeta\n")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.0"}
    nb.metadata["repro"] = copy.deepcopy(SAVED_COPY)
    nb.cells.append(nbformat.v4.new_markdown_cell("# A recorded notebook", id="m0"))
    for count, (cell_id, code, printed) in enumerate(CELLS, 1):
        cell = nbformat.v4.new_code_cell(code, id=cell_id)
        cell.execution_count = count
        if printed:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=printed)]
        nb.cells.append(cell)
    nbformat.write(nb, folder / "nb.ipynb")
    read = {"path": str(data), "rel": "data.txt", "size": data.stat().st_size, "mtime": data.stat().st_mtime,
            "hash": hash_file(str(data)), "error": None}
    with Journal(folder / ".repro") as journal:
        journal.begin_session("s1", "nb.ipynb", ENV, 1.0)
        for seq, (cell_id, code, _) in enumerate(CELLS, 1):
            journal.append(rec(seq, code, cell_id, files_read=[read] if seq == 1 else []), "nb.ipynb")
        journal.end_session("s1", 9.0)
    export_notebook(folder / "nb.ipynb", mode="history", bundle_data=True, output=folder / "nb.repro")


# -- mutations -------------------------------------------------------------------------------------------------

OTHER_TYPES: list[Any] = [None, True, -1, 2**64, 1e308, float("nan"), "", "\udcff", [], {}, [1, 2], {"k": [None]}]


def odd_values(value: Any) -> list[Any]:
    """Values of ``value``'s own type that a careless reader trips over."""
    if isinstance(value, bool):
        return [not value]
    if isinstance(value, int):
        return [0, -1, 2**63, -(10**30)]
    if isinstance(value, float):
        return [-1.0, 0.0, float("inf"), float("nan")]
    if isinstance(value, str):
        return ["", " ", "x" * 5000, "../../../etc/passwd", "/etc/passwd", "a\x00b", "\udcff", "\u202eé", value * 2]
    if isinstance(value, list):
        return [[], value * 2, [[]], [value]]
    if isinstance(value, dict):
        return [{}, {"": value}]
    return [0]


def json_paths(doc: Doc, prefix: Path_ = ()) -> Iterator[Path_]:
    """Every key and item at every level, parents first."""
    items = doc.items() if isinstance(doc, dict) else enumerate(doc) if isinstance(doc, list) else ()
    for key, value in items:
        yield (*prefix, key)
        yield from json_paths(value, (*prefix, key))


def operations(doc: Doc, path: Path_) -> dict[str, list[tuple[str, Any]]]:
    """What can be done at ``path``, by kind of operation."""
    value = _get(doc, path)
    return {"drop": [("drop", None)], "rename": [("rename", None)],
            "retype": [("retype", v) for v in OTHER_TYPES if type(v) is not type(value)],
            "revalue": [("revalue", v) for v in odd_values(value)]}


def _get(doc: Doc, path: Path_) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def apply(doc: Doc, path: Path_, op: str, value: Any) -> Doc:
    doc = copy.deepcopy(doc)
    parent, key = _get(doc, path[:-1]), path[-1]
    if op == "drop":
        del parent[key]
    elif op == "rename":  # a dict key renamed; a list item doubled
        if isinstance(parent, dict):
            parent["_" + key] = parent.pop(key)
        else:
            parent.insert(key, copy.deepcopy(parent[key]))
    else:
        parent[key] = copy.deepcopy(value)
    return doc


def tree_mutations(doc: Doc, rng: random.Random, full: bool) -> Iterator[tuple[str, Doc]]:
    """Every path mutated: by one seeded operation (fast) or by every operation and value (full)."""
    for path in json_paths(doc):
        ops = operations(doc, path)
        chosen = [c for kind in ops.values() for c in kind] if full else \
            [rng.choice(ops[rng.choice([k for k in ops if ops[k]])])]
        for op, value in chosen:
            shown = "/".join(str(p) for p in path)
            yield f"{op} {shown}" + (f" -> {_short(value)}" if op in ("retype", "revalue") else ""), \
                apply(doc, path, op, value)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def dumps(doc: Doc) -> bytes:
    return json.dumps(doc, indent=1).encode("utf-8")


def byte_mutations(data: bytes, rng: random.Random, full: bool) -> Iterator[tuple[str, bytes, bool]]:
    """The bytes of a JSON file damaged: truncated, non-UTF-8, other encodings, huge numbers, deep nesting; with
    whether the result is certainly no longer what it was (a flipped byte may land inside a string)."""
    yield "empty file", b"", True
    end = len(data.rstrip())
    for offset in sorted(rng.sample(range(1, len(data)), 24 if full else 5)):
        yield f"truncated at byte {offset}", data[:offset], offset < end
    offset = rng.randrange(len(data))
    yield f"non-UTF-8 bytes at {offset}", data[:offset] + b"\xff\xfe\xc3\x28" + data[offset:], True
    yield "UTF-16", data.decode("utf-8").encode("utf-16"), True
    yield "UTF-8 BOM", b"\xef\xbb\xbf" + data, False
    yield "latin-1 text", data.replace(b'"', '"\xe9'.encode("latin-1"), 1), True
    yield "a NUL byte", data[:offset] + b"\x00" + data[offset:], True
    yield "a 5000-digit number", re.sub(rb"(?<=: )\d+", b"9" * 5000, data, count=1), True
    yield "1e999999", re.sub(rb"(?<=: )\d+", b"1e999999", data, count=1), True
    yield "-Infinity and NaN", re.sub(rb"(?<=: )\d+", b"-Infinity", data, count=1).replace(b": true", b": NaN", 1), \
        True
    yield "deeply nested", data[:1] + b'"deep": ' + b"[" * 100_000 + b"]" * 100_000 + b", " + data[1:], True
    yield "a JSON list", b"[" + data + b"]", True
    yield "not JSON at all", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", True
    for _ in range(12 if full else 3):
        at = rng.randrange(len(data))
        yield f"byte {at} flipped", data[:at] + bytes([data[at] ^ rng.choice([1, 0x20, 0x80])]) + data[at + 1:], False


FILE_KINDS = ("folder", "FIFO", "dangling link", "link loop", "link to a device", "socket", "missing")


def replace_with(path: Path, kind: str) -> None:
    """Put something that is not a regular file where ``path`` was."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()
    if kind == "folder":
        path.mkdir()
        (path / "inside.txt").write_text("x")
    elif kind == "FIFO":
        os.mkfifo(path)
    elif kind == "dangling link":
        path.symlink_to(path.parent / "nowhere-at-all")
    elif kind == "link loop":
        path.symlink_to(path.name)
    elif kind == "link to a device":
        path.symlink_to(os.devnull)
    elif kind == "socket":  # bound by a short relative name: socket paths are limited to ~100 bytes
        here = os.getcwd()
        os.chdir(path.parent)
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.bind(path.name)
        finally:
            os.chdir(here)


def reseal(manifest: Doc, digests: Optional[dict[str, str]] = None) -> Doc:
    """Seal ``manifest`` again with the manifest module's helpers (with ``digests``: the sealed files' new
    SHA-256s), so that its seal passes and what is bad is its content; one that cannot be sealed is left."""
    integrity = manifest.get("integrity") if isinstance(manifest, dict) else None
    if not isinstance(integrity, dict):
        return manifest
    if digests is not None:
        return seal_digests(manifest, digests)
    try:
        integrity["manifest"] = hashlib.sha256(canonical(manifest)).hexdigest()
    except (TypeError, ValueError, AttributeError):
        pass
    return manifest


# -- cases -----------------------------------------------------------------------------------------------------


@dataclass
class Case:
    """One mutated input: ``apply`` damages a fresh copy of the project; ``commands`` name their target."""

    kind: str  # notebook | journal | export
    name: str
    apply: Callable[[Path], None]
    must_refuse: bool = False  # exit 0 is wrong whatever else holds (the input is damaged for certain)


def write(rel: str, data: bytes) -> Callable[[Path], None]:
    def do(project: Path) -> None:
        target = project / rel
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif os.path.lexists(target):
            target.unlink()
        target.write_bytes(data)
    return do


def notebook_cases(base: Path, rng: random.Random, full: bool) -> Iterator[Case]:
    raw = (base / "nb.ipynb").read_bytes()
    doc = json.loads(raw)
    for name, data, damaged in byte_mutations(raw, rng, full):
        yield Case("notebook", f"notebook bytes: {name}", write("nb.ipynb", data), must_refuse=damaged)
    for name, mutated in tree_mutations(doc, rng, full):
        without_journal = name.split()[1].startswith("metadata/repro")  # the saved copy is read without one
        yield Case("notebook", f"notebook: {name}", _nb_writer(dumps(mutated), drop_journal=without_journal))
    for name, mutated in structural_notebooks(doc):
        yield Case("notebook", f"notebook: {name}", write("nb.ipynb", dumps(mutated)))
    for kind in FILE_KINDS:
        yield Case("notebook", f"notebook path: {kind}", lambda p, k=kind: replace_with(p / "nb.ipynb", k),
                   must_refuse=True)


def _nb_writer(data: bytes, drop_journal: bool) -> Callable[[Path], None]:
    def do(project: Path) -> None:
        (project / "nb.ipynb").write_bytes(data)
        if drop_journal:
            shutil.rmtree(project / ".repro")
    return do


def structural_notebooks(doc: Doc) -> Iterator[tuple[str, Doc]]:
    """Whole-notebook shapes the per-path mutations do not reach: other nbformat versions and odd cells."""
    for major, minor in ((1, 0), (2, 0), (3, 0), (4, 99), (5, 0), (99, 0), ("4", 5), (4.0, 5), (4, -1), (4, "5"),
                         (4, 10**20)):
        yield f"nbformat {major!r}.{minor!r}", dict(doc, nbformat=major, nbformat_minor=minor)
    v4 = nbformat.reads(json.dumps(doc), as_version=4)
    yield "a real nbformat 3 notebook", json.loads(nbformat.writes(nbformat.convert(v4, 3), version=3))
    yield "nbformat 3 without worksheets", {"nbformat": 3, "nbformat_minor": 0, "metadata": {}}
    yield "nbformat 3 with a bad worksheet", {"nbformat": 3, "nbformat_minor": 0, "metadata": {},
                                             "worksheets": [{"cells": [{"cell_type": "code", "input": 1}]}]}
    yield "4.4 cells without ids", dict(doc, nbformat_minor=4, cells=[{k: v for k, v in c.items() if k != "id"}
                                                                       for c in doc["cells"]])
    yield "4.5 cells without ids", dict(doc, cells=[{k: v for k, v in c.items() if k != "id"} for c in doc["cells"]])
    for odd in (1, "cell", None, [], [1, 2]):
        yield f"cells that are not dicts ({odd!r})", dict(doc, cells=[odd, *doc["cells"]])
    code = [i for i, c in enumerate(doc["cells"]) if c["cell_type"] == "code"]
    for name, source in (("a list of ints", [1, 2, 3]), ("a list with None", ["x = 1\n", None]), ("bytes-like", [[104]]),
                         ("a dict", {"text": "x"})):
        yield f"source {name}", _with_cell(doc, code[0], source=source)
    yield "duplicate cell ids", _with_cell(doc, code[1], id=doc["cells"][code[0]]["id"])
    yield "a cell id of 500 characters", _with_cell(doc, code[0], id="a" * 500)
    yield "an unknown cell type", _with_cell(doc, code[0], cell_type="sql")
    yield "an unknown output type", _with_cell(doc, code[2], outputs=[{"output_type": "hologram"}])
    yield "outputs that are not dicts", _with_cell(doc, code[2], outputs=["2 True\n"])
    yield "display data with non-text data", _with_cell(doc, code[2], outputs=[
        {"output_type": "display_data", "data": {"text/plain": 3, "image/png": ["x"]}, "metadata": {}}])
    yield "execution counts reversed", {**doc, "cells": [dict(c, execution_count=10 - i) if c["cell_type"] == "code"
                                                         else c for i, c in enumerate(doc["cells"])]}
    yield "2000 cells", dict(doc, cells=[dict(doc["cells"][code[0]], id=f"k{i}", execution_count=i + 1)
                                         for i in range(2000)])
    yield "metadata that is a list", dict(doc, metadata=[])
    yield "a saved copy of another version", dict(doc, metadata=dict(doc["metadata"], repro={"version": 99}))


def _with_cell(doc: Doc, index: int, **fields: Any) -> Doc:
    doc = copy.deepcopy(doc)
    doc["cells"][index].update(fields)
    return doc


def journal_cases(base: Path, rng: random.Random, full: bool) -> Iterator[Case]:
    database = ".repro/journal.sqlite"
    raw = (base / database).read_bytes()
    offsets = [0, 50, 100, 4096] + sorted(rng.sample(range(101, len(raw)), 6 if full else 2))
    for offset in offsets:
        yield Case("journal", f"journal truncated at byte {offset}", write(database, raw[:offset]), must_refuse=True)
    for _ in range(8 if full else 3):
        at = rng.randrange(100, len(raw) - 64)
        garbage = bytes(rng.randrange(256) for _ in range(64))
        yield Case("journal", f"journal bytes {at}-{at + 64} overwritten",
                   write(database, raw[:at] + garbage + raw[at + 64:]))
    yield Case("journal", "journal file is text", write(database, b"not a database\n"), must_refuse=True)
    for kind in FILE_KINDS[:-1]:
        yield Case("journal", f"journal file: {kind}", lambda p, k=kind: replace_with(p / database, k),
                   must_refuse=True)
    for kind in FILE_KINDS[:-1]:
        yield Case("journal", f".repro folder: {kind}", lambda p, k=kind: replace_with(p / ".repro", k))
    yield Case("journal", "a garbage write-ahead log", write(database + "-wal", b"\x37\x7f\x06\x82" + b"x" * 4000))
    for table in ("sessions", "executions", "snapshots"):
        yield Case("journal", f"table {table} dropped", _sql(f"DROP TABLE {table}"), must_refuse=table != "snapshots")
    for version in (0, 2, -1):
        yield Case("journal", f"format version {version}", _sql(f"PRAGMA user_version={version}"), must_refuse=True)
    for column in ("record", "environment"):
        table = "executions" if column == "record" else "sessions"
        for text in ("not json", "{}", "[]", "null", "1", '"text"', "NaN", "[" * 10_000):
            yield Case("journal", f"{table}.{column} = {_short(text)}",
                       _sql(f"UPDATE {table} SET {column}=?", (text,)), must_refuse=column == "record")
    for column, value in (("started_at", "yesterday"), ("notebook", None),
                          ("notebook", "other.ipynb"), ("ended_at", "later"), ("session_id", "other")):
        yield Case("journal", f"sessions.{column} = {value!r}", _sql(f"UPDATE sessions SET {column}=?", (value,)))
    yield Case("journal", "an execution of a session that does not exist",
               _sql("UPDATE executions SET session_id='ghost' WHERE seq=2"))
    yield Case("journal", "column executions.record dropped", _sql("ALTER TABLE executions DROP COLUMN record"),
               must_refuse=True)
    db = sqlite3.connect(base / database)
    try:
        records = {seq: json.loads(text) for seq, text in db.execute("SELECT seq, record FROM executions")}
        environment = json.loads(db.execute("SELECT environment FROM sessions").fetchone()[0])
    finally:
        db.close()
    for seq, record in records.items():
        for name, mutated in tree_mutations(record, rng, full):
            yield Case("journal", f"record {seq}: {name}", _sql("UPDATE executions SET record=? WHERE seq=?",
                                                                (json.dumps(mutated), seq)))
    for name, mutated in tree_mutations(environment, rng, full):
        yield Case("journal", f"session environment: {name}", _sql("UPDATE sessions SET environment=?",
                                                                   (json.dumps(mutated),)))


def _sql(statement: str, args: tuple[Any, ...] = ()) -> Callable[[Path], None]:
    def do(project: Path) -> None:
        db = sqlite3.connect(project / ".repro" / "journal.sqlite")
        try:
            db.execute(statement, args)
            db.commit()
        finally:
            db.close()
    return do


def export_cases(base: Path, rng: random.Random, full: bool) -> Iterator[Case]:
    folder = base / "nb.repro"
    raw = (folder / "manifest.json").read_bytes()
    manifest = json.loads(raw)
    sealed = manifest["integrity"]["files"]
    for name, data, _ in byte_mutations(raw, rng, full):  # any change at all breaks the seal
        yield Case("export", f"manifest bytes: {name}", write("nb.repro/manifest.json", data),
                   must_refuse=data.rstrip() != raw.rstrip())
    for kind in FILE_KINDS:
        yield Case("export", f"manifest.json: {kind}", lambda p, k=kind: replace_with(p / "nb.repro/manifest.json", k),
                   must_refuse=True)
    yield Case("export", "manifest.json: a link out of the folder", _link_out("manifest.json"), must_refuse=True)
    before = canonical(manifest)
    for name, mutated in tree_mutations(manifest, rng, full):
        if isinstance(mutated, dict) and _canonical_or_none(mutated) == before:
            continue  # the same content (a list doubled where it was empty): nothing for the seal to catch
        yield Case("export", f"manifest: {name}", write("nb.repro/manifest.json", dumps(mutated)), must_refuse=True)
    for name, mutated in tree_mutations(manifest, rng, full):
        yield Case("export", f"manifest re-sealed: {name}", write("nb.repro/manifest.json", dumps(reseal(mutated))))
    for rel in sealed:
        for kind in FILE_KINDS:
            yield Case("export", f"sealed {rel}: {kind}", lambda p, r=rel, k=kind: replace_with(p / "nb.repro" / r, k),
                       must_refuse=True)
        yield Case("export", f"sealed {rel}: a link out of the folder", _link_out(rel), must_refuse=True)
        yield Case("export", f"sealed {rel}: truncated", _truncate(rel, reseal_it=False), must_refuse=True)
        yield Case("export", f"sealed {rel}: truncated and re-sealed", _truncate(rel, reseal_it=True))
    replay_nb = json.loads((folder / manifest["replay"]["notebook"]).read_bytes())
    for name, mutated in tree_mutations(replay_nb, rng, full):
        yield Case("export", f"replay.ipynb re-sealed: {name}", _sealed_content(manifest["replay"]["notebook"],
                                                                                dumps(mutated)))
    for item in manifest["inputs"]:
        if item.get("bundled"):
            for kind in FILE_KINDS:
                yield Case("export", f"bundled {item['bundled']}: {kind}",
                           lambda p, r=item["bundled"], k=kind: replace_with(p / "nb.repro" / r, k), must_refuse=True)
            yield Case("export", f"bundled {item['bundled']}: changed", write(f"nb.repro/{item['bundled']}", b"gamma\n"),
                       must_refuse=True)
    yield Case("export", "an unsealed module in the folder", write("nb.repro/helper.py", b"import os\n"),
               must_refuse=True)
    for kind in ("FIFO", "dangling link", "socket"):
        yield Case("export", f"the export folder: {kind}", lambda p, k=kind: replace_with(p / "nb.repro", k),
                   must_refuse=True)
    yield Case("export", "the export folder is a file", write("nb.repro", b"{}"), must_refuse=True)


def _canonical_or_none(manifest: Doc) -> Optional[bytes]:
    try:
        return canonical(manifest)
    except (TypeError, ValueError, AttributeError):
        return None


def _link_out(rel: str) -> Callable[[Path], None]:
    def do(project: Path) -> None:
        target = project / "nb.repro" / rel
        outside = project / f"outside-{target.name}"
        shutil.copyfile(target, outside)
        target.unlink()
        target.symlink_to(outside)
    return do


def _truncate(rel: str, *, reseal_it: bool) -> Callable[[Path], None]:
    def do(project: Path) -> None:
        target = project / "nb.repro" / rel
        data = target.read_bytes()
        if reseal_it:
            _sealed_content(rel, data[: len(data) // 2])(project)
        else:
            target.write_bytes(data[: len(data) // 2])
    return do


def _sealed_content(rel: str, data: bytes) -> Callable[[Path], None]:
    """``rel`` in the export given ``data``, and the manifest re-sealed over it."""
    def do(project: Path) -> None:
        folder = project / "nb.repro"
        (folder / rel).write_bytes(data)
        manifest = json.loads((folder / "manifest.json").read_bytes())
        digests = dict(manifest["integrity"]["files"], **{rel: sha256_file(folder / rel)})
        (folder / "manifest.json").write_bytes(dumps(reseal(manifest, digests)))
    return do


def commands(case: Case, project: Path) -> list[list[str]]:
    nb, out = str(project / "nb.ipynb"), str(project / "out.repro")
    if case.kind == "export":
        return [["verify", str(project / "nb.repro")]]
    runs = [["check", nb], ["sessions", nb], ["export", nb, "--mode", "history", "-o", out, "--force"]]
    return runs + [["check", nb, "--no-journal", "--json"]] if case.kind == "notebook" else runs


# -- failures whose fix belongs elsewhere -----------------------------------------------------------------------

# (what the failure line matches, where the fix belongs). Each was reported to its module's owner with the input
# above; a failure that matches none fails the test.
PENDING: list[tuple[str, str]] = []


def pending_fix(failure: str) -> Optional[str]:
    """Where the fix of ``failure`` belongs, when it is one of PENDING's."""
    return next((where for pattern, where in PENDING if re.search(pattern, failure)), None)


# -- judging ---------------------------------------------------------------------------------------------------


def judge(case: Case, args: list[str], result: subprocess.CompletedProcess[str]) -> Optional[str]:
    """What is wrong with one answer (None: it is what DESIGN.md asks)."""
    err, code = result.stderr, result.returncode
    lines = err.strip().splitlines()
    if "Traceback" in err or "internal error" in err or "CRITICAL" in err:
        return "crashed"
    if code not in (0, 1, 2):
        return f"exit {code}"
    if len(lines) > 1:
        return f"{len(lines)} lines on stderr"
    if code == 2 and not lines:
        return "exit 2 without a word"
    if lines and not lines[0].startswith("jupyter repro"):
        return "stderr is not our one line"
    if code in (0, 1) and lines and not (code == 1 and args[0] == "verify"):
        return f"exit {code} with a line on stderr"
    if case.must_refuse and code == 0:
        return "exit 0 on damaged input"
    return None


class ReachedReplay(BaseException):
    """A verify in the fast lane got as far as starting a kernel: every check before the replay passed."""


@dataclass
class Tally:
    inputs: int = 0
    runs: int = 0
    subprocesses: int = 0
    replays: int = 0
    reached: list[tuple[Case, Path]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    pending: dict[str, list[str]] = field(default_factory=dict)  # where the fix belongs -> its failures
    started: float = field(default_factory=time.monotonic)
    slowest: list[tuple[float, str]] = field(default_factory=list)

    def record(self, case: Case, args: list[str], result: subprocess.CompletedProcess[str], how: str) -> None:
        problem = judge(case, args, result)
        if problem:
            tail = (result.stderr.strip().splitlines() or [""])[-1][:300]
            self.fail(f"[{how}] {case.name} | jupyter repro {args[0]} -> {problem} (exit {result.returncode}): {tail}")

    def fail(self, failure: str) -> None:
        where = pending_fix(failure)
        if where is None:
            self.failures.append(failure)
        else:
            self.pending.setdefault(where, []).append(failure)


def fresh_copy(base: Path, project: Path, case: Case) -> None:
    """The project as ``case`` needs it: verify reads only the export, the others never the export."""
    unused = ".repro" if case.kind == "export" else "nb.repro"
    shutil.copytree(base, project, symlinks=True, ignore=lambda folder, names: [unused] if unused in names else [])


def run_case(case: Case, base: Path, work: Path, tally: Tally) -> Path:
    project = work / f"case{tally.inputs}"
    fresh_copy(base, project, case)
    case.apply(project)
    tally.inputs += 1
    for args in commands(case, project):
        tally.runs += 1
        began = time.monotonic()
        try:
            result = cli_in_process(*args, timeout=10)
        except ReachedReplay:
            tally.reached.append((case, project))
            continue
        except TimeoutError as exc:
            tally.fail(f"[in process] {case.name} | jupyter repro {args[0]} -> hang: {exc}")
            continue
        except Exception as exc:
            tally.fail(f"[in process] {case.name} | jupyter repro {args[0]} -> escaped: {exc!r}")
            continue
        finally:
            tally.slowest = sorted([*tally.slowest, (time.monotonic() - began, f"{case.name} | {args[0]}")])[-5:]
        tally.record(case, args, result, "in process")
    return project


def all_cases(base: Path, full: bool) -> list[Case]:
    rng = random.Random(SEED)
    return [*notebook_cases(base, rng, full), *journal_cases(base, rng, full), *export_cases(base, rng, full)]


def fuzz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, full: bool) -> Tally:
    from nbclient import NotebookClient

    base = tmp_path / "base"
    build_project(base)
    cases = all_cases(base, full)
    tally = Tally()

    def no_kernel(*args: Any, **kwargs: Any) -> Any:
        raise ReachedReplay()

    if full:  # the valid artifacts are valid: the replay of the intact export reproduces every step
        baseline = cli_in_process("verify", str(base / "nb.repro"), timeout=180)
        assert baseline.returncode == 0, baseline.stdout + baseline.stderr
    monkeypatch.setattr(NotebookClient, "setup_kernel", no_kernel)
    with pytest.raises(ReachedReplay):  # (in the fast lane: every check before the replay passes)
        cli_in_process("verify", str(base / "nb.repro"))
    work = tmp_path / "cases"
    work.mkdir()
    for case in cases:
        project = run_case(case, base, work, tally)
        if not any(p == project for _, p in tally.reached):
            shutil.rmtree(project, ignore_errors=True)
    rng = random.Random(SEED + 1)
    monkeypatch.undo()  # a seeded sample of the verifies that reached the replay run it for real
    for case, project in rng.sample(tally.reached, min(40 if full else 2, len(tally.reached))):
        args = ["verify", str(project / "nb.repro")]
        tally.replays += 1
        try:
            tally.record(case, args, cli_in_process(*args, timeout=180), "replayed")
        except TimeoutError as exc:
            tally.fail(f"[replayed] {case.name} | jupyter repro verify -> hang: {exc}")
    # A seeded sample as real processes: the console script's own streams, encodings and exit.
    refused = [c for c in cases if c.kind != "export" or c.must_refuse]
    fifo = next(c for c in cases if c.name == "notebook path: FIFO")  # a hang in a real process, not only here
    for case in [fifo, *rng.sample(refused, 10 if full else 1)]:
        project = work / f"process{tally.subprocesses}"
        fresh_copy(base, project, case)
        case.apply(project)
        args = commands(case, project)[0]
        tally.subprocesses += 1
        try:
            tally.record(case, args, run_cli(*args, timeout=120), "process")
        except subprocess.TimeoutExpired:
            tally.fail(f"[process] {case.name} | jupyter repro {args[0]} -> hang")
    return tally


def report(tally: Tally) -> None:
    pending = sum(len(v) for v in tally.pending.values())
    print(f"\nbad-input fuzz (seed {SEED}): {tally.inputs} mutated inputs, {tally.runs} commands in process, "
          f"{len(tally.reached)} reached the replay, {tally.replays} replayed, {tally.subprocesses} processes; "
          f"{len(tally.failures)} failures, {pending} pending elsewhere; {time.monotonic() - tally.started:.1f} s; "
          "slowest: " + "; ".join(f"{name} {seconds:.2f} s" for seconds, name in reversed(tally.slowest)))
    for where, failures in tally.pending.items():
        print(f"  pending ({len(failures)}): {where}\n    e.g. {failures[0][:400]}")
    assert not tally.failures, "\n".join(tally.failures[:80]) + (
        f"\n... and {len(tally.failures) - 80} more" if len(tally.failures) > 80 else "")
    if tally.pending:
        pytest.xfail(f"{pending} failures whose fixes belong to other modules: " + "; ".join(tally.pending))


def test_every_command_over_mutated_notebooks_journals_and_exports(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report(fuzz(tmp_path, monkeypatch, full=False))


@pytest.mark.slow
@pytest.mark.timeout(3600)
@pytest.mark.skipif(not os.environ.get("REPRO_FUZZ_FULL"), reason="the full fuzz (9,000+ mutated inputs, about 10 "
                    "minutes on 2 cores) is a long lane of its own: REPRO_FUZZ_FULL=1 python -m pytest -m slow "
                    "tests/cli/test_bad_input_fuzz.py; the fast lane runs the same generators on a sample")
def test_every_operation_and_value_at_every_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    report(fuzz(tmp_path, monkeypatch, full=True))


# -- bad option values, for every subcommand ------------------------------------------------------------------

ODD_OPTION_VALUES = ["abc", "-1", "nan", "inf", "1e999", "", "x" * 300, "\udcff"]


def option_cases() -> Iterator[list[str]]:
    """Every alias of every subcommand given odd values and no value, every flag given a value, unknown options
    and repeated positionals; derived from the apps' own aliases and flags, so a new option is tried too."""
    from traitlets.utils.importstring import import_item

    for sub, (target, _) in ReproApp.subcommands.items():
        app = import_item(str(target))
        # A target that never exists: a value the option takes ends in the one-line "does not exist" (exit 2);
        # install-kernel gets an argument it refuses, so that nothing is ever installed.
        tail = ["unexpected-argument"] if sub == "install-kernel" else ["missing-target.ipynb"]
        for alias in app.aliases:
            option = f"-{alias}" if len(alias) == 1 else f"--{alias}"
            for value in ODD_OPTION_VALUES:
                yield [sub, f"{option}={value}", *tail]
            yield [sub, *tail, option]
            yield [sub, option, "1", option, "1", *tail]
        for flag in app.flags:
            yield [sub, f"--{flag}=yes", *tail]
        yield [sub, "--nope", *tail]
        yield [sub, "--nope"]
        yield [sub, "--NoSuchApp.trait=1", *tail]
        yield [sub, f"--{app.__name__}.no_such_trait=1", *tail]
        yield [sub, "-", "--", *tail]
        yield [sub, *tail, *tail]
    yield ["--nope", "check", "missing-target.ipynb"]
    yield ["--log-level=loud", "check", "missing-target.ipynb"]
    yield ["no-such-subcommand"]


def test_bad_option_values_are_one_line_and_exit_2_for_every_subcommand(tmp_path: Path) -> None:
    failures, pending, tried = [], {}, 0
    for args in option_cases():
        tried += 1
        result = cli_in_process(*args, cwd=tmp_path, timeout=30)
        lines = result.stderr.strip().splitlines()
        if result.returncode != 2 or len(lines) != 1 or "Traceback" in result.stderr \
                or "internal error" in result.stderr or not lines[0].startswith("jupyter repro"):
            failure = f"{args!r} -> exit {result.returncode}: {result.stderr.strip()[-300:]!r}"
            where = pending_fix(failure)
            if where is None:
                failures.append(failure)
            else:
                pending.setdefault(where, []).append(failure)
    print(f"\nbad option values: {tried} command lines, {len(failures)} failures, "
          f"{sum(len(v) for v in pending.values())} pending elsewhere")
    assert tried > 150 and not failures, "\n".join(failures)
    assert not list(tmp_path.iterdir()), "a command with a bad option wrote something"
    if pending:
        pytest.xfail("; ".join(pending))


@pytest.mark.parametrize(("args", "named"), [
    (["verify", "--rtol", "abc", "x.repro"], "--rtol"),
    (["verify", "--timeout", "-1", "x.repro"], "--timeout"),
    (["verify", "--image-tolerance", "x", "x.repro"], "--image-tolerance"),
    (["check", "--format", "xml", "x.ipynb"], "--format"),
    (["install-kernel", "--hash-seed", "abc"], "--hash-seed"),
    (["export", "--mode"], "--mode"),
    (["export", "--mod", "history", "x.ipynb"], "did you mean --mode?"),
    (["check", "--nope", "x.ipynb"], "--nope"),
    (["check", "a.ipynb", "b.ipynb"], "one notebook path"),
    (["--nope", "check", "x.ipynb"], "--nope"),
])
def test_the_one_line_names_the_option(tmp_path: Path, args: list[str], named: str) -> None:
    result = cli_in_process(*args, cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert named in result.stderr and "CRITICAL" not in result.stderr, result.stderr


def test_a_bug_is_one_line_and_exit_2_with_the_traceback_on_request(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from repro_kernel.cli.check import CheckApp

    def broken(self: CheckApp) -> int:
        raise TypeError("unsupported operand")

    monkeypatch.setattr(CheckApp, "run", broken)
    plain = cli_in_process("check", "nb.ipynb", cwd=tmp_path)
    assert plain.returncode == 2 and plain.stderr == (
        "jupyter repro check: internal error: TypeError: unsupported operand (please report it with --debug output)\n")
    for debug, env in ((["--debug"], {}), ([], {"JUPYTER_REPRO_DEBUG": "1"})):
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        shown = cli_in_process("check", "nb.ipynb", *debug, cwd=tmp_path)
        assert shown.returncode == 2 and "Traceback" in shown.stderr and "in broken" in shown.stderr
        assert shown.stderr.splitlines()[-1] == plain.stderr.strip()
