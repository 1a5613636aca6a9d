"""The journal: the `.repro/` folder beside a notebook, source of truth for everything recorded.

SQLite in WAL mode gives one transaction per cell: once a cell's record is committed, killing the kernel cannot
lose it. With ``synchronous=NORMAL`` (the default) a power loss or an OS crash may lose the last cells committed
before it; ``durable=True`` (``c.Recorder.durable``) syncs every commit to disk (``synchronous=FULL``) so that
nothing committed is lost even then. Large blobs (random states, data snapshots) live beside the database under
``objects/``, named by their BLAKE3 digest, so identical states are stored once.

Readers (check, export, verify, sessions) open an existing journal without changing it: read-write when they
can, else read-only, else (a folder nobody may write, so no ``-wal``/``-shm`` beside it) as an immutable file.
Damage (a FIFO, folder or dangling link where ``journal.sqlite`` should be, a file cut inside a page, a missing
table, a failed ``PRAGMA quick_check``, a record that is not a CellRecord, a session environment of another shape:
:mod:`repro_kernel.core.records` checks what is read back) is a :class:`~repro_kernel.exceptions.JournalError`,
never a silent drop and never "no journal". A record whose file hashes the recorder
still computes in the background (``"pending": true``) is waited for, within a bound, while the recording kernel
is alive (it holds ``hashing.lock``); :attr:`Journal.pending_note` says what was waited for or is still missing.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Optional

import blake3

from repro_kernel.core.hashing import HashingLock, hash_file
from repro_kernel.core.journal_layout import (
    A_FILE,
    COLUMNS,
    DATABASE_NAME,
    JOURNAL_DIRNAME,
    JOURNAL_FORMAT_VERSION,
    NOTHING,
    SCHEMA,
    fallback_dir_for,
    file_size,
    journal_dir_for,
    last_written,
    what_is_at,
)
from repro_kernel.core.paths import inside, open_regular
from repro_kernel.core.records import complete_hashes, environment_problem, pending_paths, record_problem
from repro_kernel.exceptions import JournalError

HASH_WAIT_VARIABLE = "REPRO_HASH_WAIT"  # seconds readers wait for pending hashes (docs/configuration.md)
DEFAULT_HASH_WAIT_S = 60.0
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_PENDING_MARK = '"pending": true'  # as json.dumps writes it; inside a string it would read '\"pending\"'
__all__ = ["DATABASE_NAME", "JOURNAL_DIRNAME", "JOURNAL_FORMAT_VERSION", "Journal", "fallback_dir_for",
           "hash_wait_seconds", "journal_dir_for"]


def hash_wait_seconds() -> float:
    """How long readers wait for the recorder's pending hashes: ``$REPRO_HASH_WAIT`` seconds, else 60."""
    raw = os.environ.get(HASH_WAIT_VARIABLE, "").strip()
    try:
        return max(0.0, float(raw)) if raw else DEFAULT_HASH_WAIT_S
    except ValueError:
        return DEFAULT_HASH_WAIT_S


class Journal:
    """Read and write one `.repro/` folder.

    ``create``: the recorder's journal, made if missing; else an existing journal, opened for reading (see the
    module's docstring). ``durable``: sync every commit to disk, so a power loss loses no committed cell.
    """

    def __init__(self, directory: Path, *, create: bool = True, durable: bool = False) -> None:
        self.directory = Path(directory)
        self.objects_dir = self.directory / "objects"
        self.database_path = self.directory / DATABASE_NAME
        self.read_only = False  # opened read-only (a folder or file that cannot be written)
        self._hash_deadline: Optional[float] = None
        self._hash_waited = 0.0
        self._hashes_landed: dict[tuple[str, int], int] = {}  # execution -> its files hashed while waiting
        self._still_pending: dict[tuple[str, int], list[str]] = {}
        self._hasher_alive = False  # whether a recording kernel was still hashing when the wait ended
        self.hashing = HashingLock(self.directory)  # held by the recorder while it has hashes to write here
        there = what_is_at(self.database_path)  # looked at, not opened: SQLite would block on a FIFO
        if there == NOTHING and not create:
            raise JournalError(
                f"no journal at {self.directory}",
                hint="record the notebook with `%load_ext repro_kernel` then `%repro start` first",
            )
        if there not in (NOTHING, A_FILE):
            raise JournalError(f"journal {self.database_path} is {there}, not a journal file", hint=self._damaged)
        try:
            if create:
                self.objects_dir.mkdir(parents=True, exist_ok=True)
                ignore = self.directory / ".gitignore"
                if not ignore.exists():
                    ignore.write_text("# written by jupyter-repro: the journal stays out of git\n*\n")
                self._db = sqlite3.connect(
                    str(self.database_path), isolation_level=None, check_same_thread=False, timeout=10
                )
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            else:
                self._db = self._open_existing()
                self._check_size()
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0 and create:
                self._db.executescript(SCHEMA)
                self._db.execute(f"PRAGMA user_version={JOURNAL_FORMAT_VERSION}")
            elif version == 0 and not self._tables():
                raise JournalError(f"journal {self.database_path} is empty (it has no tables)", hint=self._damaged)
            elif version != JOURNAL_FORMAT_VERSION:
                raise JournalError(
                    f"journal {self.database_path} has format version {version}, this jupyter-repro reads "
                    f"version {JOURNAL_FORMAT_VERSION}",
                    hint="upgrade jupyter-repro (pip install -U jupyter-repro)",
                )
            self._check_tables()
            if not create:
                self._quick_check()
        except sqlite3.DatabaseError as exc:
            self._close_quietly()
            raise JournalError(
                f"journal {self.database_path} cannot be read ({exc})", hint=self._damaged) from exc
        except JournalError:
            self._close_quietly()
            raise

    @property
    def _damaged(self) -> str:
        return (f"move the damaged {self.directory} folder aside (check and export then judge the saved notebook "
                "alone) and record the notebook again")

    def _open_existing(self) -> sqlite3.Connection:
        """An existing journal for reading: read-write (a reader may bind a session to its notebook), else
        read-only, else, in a folder that cannot be written (no -wal/-shm can be made), immutable."""
        uri = self.database_path.resolve().as_uri()
        modes = ["rw", "ro"]
        if not os.access(self.directory, os.W_OK):
            modes.append("ro&immutable=1")
        failure: Optional[sqlite3.OperationalError] = None
        for mode in modes:
            try:
                db = sqlite3.connect(f"{uri}?mode={mode}", uri=True, isolation_level=None,
                                     check_same_thread=False, timeout=10)
            except sqlite3.OperationalError as exc:
                failure = exc
                continue
            try:
                db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # reading WAL needs the -shm file
            except sqlite3.OperationalError as exc:
                db.close()
                failure = exc
                continue
            self.read_only = mode != "rw"
            if mode.endswith("immutable=1") and file_size(self.directory / (DATABASE_NAME + "-wal")):
                db.close()
                raise JournalError(
                    f"journal {self.database_path} has recent records in {DATABASE_NAME}-wal that SQLite reads only "
                    f"where it may write: {self.directory} cannot be written",
                    hint="copy the notebook with its .repro/ folder to a folder you can write and run this there",
                )
            return db
        assert failure is not None
        raise failure

    def _tables(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def _check_size(self) -> None:
        """A database is whole pages: one that is not was cut short (a truncated copy or download)."""
        size, page = file_size(self.database_path), self._db.execute("PRAGMA page_size").fetchone()[0]
        if page and size % page:
            raise JournalError(f"journal {self.database_path} is truncated ({size} bytes, not a whole number of "
                               f"its {page}-byte pages)", hint=self._damaged)

    def _check_tables(self) -> None:
        """Every table and column the journal format has is there (a dropped or rebuilt table is damage)."""
        for table, columns in COLUMNS.items():
            found = {r[1] for r in self._db.execute(f"PRAGMA table_info({table})")}
            if not found:
                raise JournalError(f"journal {self.database_path} has no {table} table", hint=self._damaged)
            if columns - found:
                raise JournalError(f"journal {self.database_path}: table {table} lacks "
                                   f"{', '.join(sorted(columns - found))}", hint=self._damaged)

    def _quick_check(self) -> None:
        """SQLite's own consistency check of every page (no index-content cross check: that is
        ``integrity_check``), about a second for a gigabyte of journal."""
        found = [r[0] for r in self._db.execute("PRAGMA quick_check(3)")]
        if found != ["ok"]:
            raise JournalError(f"journal {self.database_path} is damaged ({'; '.join(map(str, found))[:200]})",
                               hint=self._damaged)

    @contextmanager
    def _reading(self) -> Iterator[None]:
        """A query's SQLite failure as the one-line damage it is (a page torn by a crash or a truncated copy)."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            raise JournalError(f"journal {self.database_path} cannot be read ({exc})", hint=self._damaged) from exc

    def _close_quietly(self) -> None:
        db = getattr(self, "_db", None)
        if db is not None:
            try:
                db.close()
            except sqlite3.Error:
                pass

    # -- opening ---------------------------------------------------------------------------------------

    @classmethod
    def for_notebook_dir(cls, notebook_dir: Path, *, durable: bool = False) -> tuple["Journal", Optional[str]]:
        """Open (creating) the journal for a folder; returns (journal, warning when it had to fall back)."""
        primary = journal_dir_for(notebook_dir)
        try:
            return cls(primary, durable=durable), None
        except (OSError, JournalError, sqlite3.Error) as exc:
            fallback = fallback_dir_for(notebook_dir)
            try:
                journal = cls(fallback, durable=durable)
            except (OSError, sqlite3.Error) as second:
                raise JournalError(
                    f"cannot write a journal in {primary} ({exc}) nor in {fallback} ({second})",
                    hint="make one of them writable, or set c.Recorder.journal_dir to a folder you can write",
                ) from second
            return journal, (
                f"jupyter-repro: cannot write {primary} ({exc}); recording to {fallback} instead"
            )

    @classmethod
    def find(cls, notebook_path: Path) -> "Journal":
        """Open, for reading, the existing journal that holds ``notebook_path``'s records.

        Looked for in ``.repro/`` beside the notebook, then in the per-user fallback the recorder writes to when
        that folder cannot be written (:func:`fallback_dir_for`); when both hold a journal, the one written
        last (the recorder fell back after the folder's own journal was written).
        """
        notebook_dir = Path(notebook_path).resolve().parent
        there = {d: what_is_at(d / DATABASE_NAME) for d in (journal_dir_for(notebook_dir),
                                                             fallback_dir_for(notebook_dir))}
        found = [d for d, kind in there.items() if kind == A_FILE]
        odd = [d for d, kind in there.items() if kind not in (A_FILE, NOTHING)]
        if not found and odd:  # what the recorder cannot have written: damage, never "no journal"
            return cls(odd[0], create=False)  # (raises the JournalError that names what is there)
        if not found:
            raise JournalError(
                f"no .repro journal found for {notebook_path}",
                hint="record it with `%load_ext repro_kernel` then `%repro start`, or export with --mode document",
            )
        latest = max(found, key=last_written)  # the first of equals: the notebook's own folder
        return cls(latest, create=False)

    def set_busy_timeout(self, seconds: float) -> None:
        """How long a write waits for a lock another process holds before failing (the recorder waits briefly
        and keeps the record in memory; tools reading the journal keep the long default)."""
        self._db.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def close(self) -> None:
        self.hashing.release()
        self._db.close()

    def __enter__(self) -> "Journal":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- sessions and executions --------------------------------------------------------------------------

    def begin_session(
        self, session_id: str, notebook: Optional[str], environment: dict[str, Any], started_at: float
    ) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO sessions (session_id, notebook, started_at, ended_at, environment) "
            "VALUES (?, ?, ?, NULL, ?)",
            (session_id, notebook, started_at, json.dumps(environment, default=str)),
        )

    def set_session_notebook(self, session_id: str, notebook: str) -> None:
        with self._db:
            self._db.execute("BEGIN")
            self._db.execute("UPDATE sessions SET notebook=? WHERE session_id=?", (notebook, session_id))
            self._db.execute(
                "UPDATE executions SET notebook=? WHERE session_id=? AND notebook IS NULL",
                (notebook, session_id),
            )

    def end_session(self, session_id: str, ended_at: Optional[float] = None) -> None:
        self._db.execute(
            "UPDATE sessions SET ended_at=? WHERE session_id=?", (ended_at or time.time(), session_id)
        )

    def append(self, record: dict[str, Any], notebook: Optional[str]) -> None:
        """Commit one CellRecord (one transaction)."""
        self._db.execute(
            "INSERT OR REPLACE INTO executions (session_id, seq, notebook, cell_id, execution_count, "
            "code_hash, started_at, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record["session_id"],
                record["seq"],
                notebook,
                record["cell_id"],
                record["execution_count"],
                record["code_hash"],
                record["started_at"],
                json.dumps(record, default=str),
            ),
        )

    def complete_hashes(self, session_id: str, seq: int, hashes: Mapping[str, Optional[str]],
                        errors: Optional[Mapping[str, str]] = None) -> bool:
        """Write the hashes the recorder's background worker computed into execution ``seq`` of
        ``session_id`` (one transaction): ``hashes`` maps a path to its hash, or to None with the reason in
        ``errors``; those entries are no longer pending. False when the execution is not in the journal
        (yet: a record still held in memory is written with its hashes)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            row = self._db.execute("SELECT record FROM executions WHERE session_id = ? AND seq = ?",
                                   (session_id, seq)).fetchone()
            if row is None:
                return False
            record = json.loads(row[0])
            if complete_hashes(record, hashes, errors):
                self._db.execute("UPDATE executions SET record = ? WHERE session_id = ? AND seq = ?",
                                 (json.dumps(record, default=str), session_id, seq))
        return True

    def sessions(self, notebook: Optional[str] = None) -> list[dict[str, Any]]:
        """Sessions, oldest first; with ``notebook``, only those recorded for that notebook file name."""
        query = "SELECT session_id, notebook, started_at, ended_at, environment FROM sessions"
        args: tuple[Any, ...] = ()
        if notebook is not None:
            query += " WHERE notebook = ?"
            args = (notebook,)
        with self._reading():
            rows = self._db.execute(query + " ORDER BY started_at", args).fetchall()
        found = []
        for r in rows:
            environment, problem = _loads(r[4])
            problem = problem or environment_problem(environment)
            if problem is not None:
                problem = f"its environment is {problem}"
            elif not isinstance(r[0], str):
                problem = "its id is not text"
            if problem is not None:
                raise JournalError(f"journal {self.database_path}: session {str(r[0])[:8]} is damaged ({problem})",
                                   hint=self._damaged)
            found.append({"session_id": r[0], "notebook": r[1], "started_at": r[2], "ended_at": r[3],
                          "environment": environment})
        return found

    def executions(
        self, *, session_id: Optional[str] = None, notebook: Optional[str] = None, wait: Optional[float] = None
    ) -> list[dict[str, Any]]:
        """CellRecords in the order they ran (by session start, then sequence number).

        A record that is not a CellRecord raises :class:`JournalError`. Records with file hashes the recording
        kernel still computes (``"pending": true``) are read again until they land, while that kernel is alive,
        for at most ``wait`` seconds (default ``$REPRO_HASH_WAIT``, else 60) over the life of this journal
        object; what is still pending then keeps ``hash`` null (:attr:`pending_note` says so).
        """
        query = "SELECT e.session_id, e.seq, e.record FROM executions e JOIN sessions s USING (session_id)"
        where, args = [], []
        if session_id is not None:
            where.append("e.session_id = ?")
            args.append(session_id)
        if notebook is not None:
            where.append("e.notebook = ?")
            args.append(notebook)
        if where:
            query += " WHERE " + " AND ".join(where)
        query += " ORDER BY s.started_at, e.seq"
        with self._reading():
            rows = self._db.execute(query, args).fetchall()
        records: list[dict[str, Any]] = []
        pending: dict[tuple[str, int], int] = {}
        for sid, seq, text in rows:
            record = self._record(sid, seq, text)
            if isinstance(text, str) and _PENDING_MARK in text and pending_paths(record):
                pending[(sid, seq)] = len(records)
            elif self._still_pending:
                self._still_pending.pop((sid, seq), None)  # landed since an earlier read
            records.append(record)
        if pending:
            self._wait_for_hashes(records, pending, wait)
        return records

    def _record(self, session_id: Any, seq: Any, text: Any) -> dict[str, Any]:
        """The CellRecord stored as ``text`` in the row (``session_id``, ``seq``), or the damage, in one line."""
        record, problem = _loads(text)
        if problem is None:
            problem = record_problem(record)
            if problem is None and (record["session_id"] != session_id or record["seq"] != seq):
                problem = "its session or sequence number is not the row's"
        if problem is not None:
            raise JournalError(f"journal {self.database_path}: execution {seq} of session {str(session_id)[:8]} "
                               f"is damaged ({problem})", hint=self._damaged)
        return record

    def _wait_for_hashes(self, records: list[dict[str, Any]], pending: dict[tuple[str, int], int],
                         wait: Optional[float]) -> None:
        now = time.monotonic()
        if wait is not None:
            deadline = now + wait
        else:  # one bound for every read through this journal object: check reads several sessions
            if self._hash_deadline is None:
                self._hash_deadline = now + hash_wait_seconds()
            deadline = self._hash_deadline
        started, pause = now, 0.05
        while pending and time.monotonic() < deadline and self.hashing.held_elsewhere():
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause = min(pause * 1.5, 0.5)
            for (sid, seq), index in list(pending.items()):
                with self._reading():
                    row = self._db.execute("SELECT record FROM executions WHERE session_id = ? AND seq = ?",
                                           (sid, seq)).fetchone()
                if row is None:
                    continue
                record = self._record(sid, seq, row[0])
                if not pending_paths(record):
                    self._hashes_landed[(sid, seq)] = len(pending_paths(records[index]))
                    self._still_pending.pop((sid, seq), None)
                    records[index] = record
                    del pending[(sid, seq)]
        self._hash_waited += time.monotonic() - started
        for key, index in pending.items():
            self._still_pending[key] = pending_paths(records[index])
        if pending:
            self._hasher_alive = self.hashing.held_elsewhere()

    @property
    def pending_note(self) -> Optional[str]:
        """One line for check and export to print: how long they waited for the recorder's pending file hashes,
        and which files are still not hashed (they count as not hashed); None when nothing was pending."""
        left = [path for paths in self._still_pending.values() for path in paths]
        if left:
            shown = ", ".join(Path(p).name for p in left[:3]) + (f" and {len(left) - 3} more" if len(left) > 3 else "")
            why = (f"still being hashed by the recording kernel after {self._hash_waited:.0f} s; run this again once "
                   f"it is idle, or wait longer with {HASH_WAIT_VARIABLE}=SECONDS" if self._hasher_alive else
                   "never hashed (the recording kernel stopped before it could hash them); re-run the cells that "
                   "read them to record their hashes")
            return f"{len(left)} recorded file{'s' if len(left) != 1 else ''} ({shown}) {why}; they count as not hashed"
        landed = sum(self._hashes_landed.values())
        if landed:
            return (f"waited {self._hash_waited:.1f} s for the recording kernel to hash {landed} "
                    f"file{'s' if landed != 1 else ''} its cells read or wrote")
        return None

    def count_executions(self, session_id: str) -> int:
        with self._reading():
            row = self._db.execute(
                "SELECT COUNT(*) FROM executions WHERE session_id = ?", (session_id,)
            ).fetchone()
        return int(row[0])

    # -- content-addressed objects --------------------------------------------------------------------------

    def object_path(self, digest: str) -> Path:
        """Where the object ``digest`` (hex, or ``blake3:<hex>``) lives: always inside this journal's
        ``objects/``, never through a link out of it (a journal in a cloned repository is just files)."""
        hexdigest = digest.removeprefix("blake3:") if isinstance(digest, str) else ""
        if not _HEX_DIGEST.fullmatch(hexdigest):
            raise JournalError(
                f"journal {self.directory} names object {str(digest)[:80]!r}, which is not a BLAKE3 digest",
                hint="the journal was edited: move the .repro/ folder aside and record the notebook again",
            )
        return inside(self.directory, f"objects/{hexdigest[:2]}/{hexdigest[2:]}", what="journal object",
                      hint="the journal was edited: move the .repro/ folder aside and record the notebook again")

    def _store(self, target: Path, write: Callable[[str], object]) -> None:
        """Fill ``target`` atomically: ``write`` fills a temporary file beside it, which replaces it."""
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        os.close(fd)
        try:
            write(tmp)
            os.replace(tmp, target)  # replaces a link at target itself, never writes through one
        finally:
            if os.path.lexists(tmp):
                os.unlink(tmp)

    def put_object(self, data: bytes) -> str:
        """Store ``data`` once; return its BLAKE3 hex digest (no prefix)."""
        digest = blake3.blake3(data).hexdigest()
        target = self.object_path(digest)
        if not target.is_file():
            self._store(target, lambda tmp: Path(tmp).write_bytes(data))
        return digest

    def get_object(self, digest: str) -> bytes:
        target = self.object_path(digest)
        try:
            with open_regular(target, follow_symlinks=False) as handle:
                return bytes(handle.read())
        except OSError as exc:
            raise JournalError(
                f"object {digest[:12]} is missing from {self.objects_dir}",
                hint="the journal was copied without its objects/ folder; copy the whole .repro/ folder",
            ) from exc

    def has_object(self, digest: str) -> bool:
        return self.object_path(digest).is_file()

    def snapshot_file(self, path: Path, content_hash: str) -> Path:
        """Copy ``path`` into the store under its content hash (given as ``blake3:<hex>``)."""
        target = self.object_path(content_hash)

        def copy(tmp: str) -> None:
            with open_regular(path) as reader, open(tmp, "wb") as writer:
                shutil.copyfileobj(reader, writer, 1 << 22)
            copied = hash_file(tmp)
            if copied != content_hash:
                # The file changed between hashing and copying: never store content under another hash.
                raise JournalError(
                    f"{path} changed while it was being snapshotted ({content_hash[:19]} became "
                    f"{copied[:19]})",
                    hint="run the snapshot again once nothing is writing the file",
                )

        if not target.is_file():
            self._store(target, copy)
        size = target.stat().st_size
        self._db.execute(
            "INSERT OR REPLACE INTO snapshots (hash, path, size, created_at) VALUES (?, ?, ?, ?)",
            (content_hash, str(path), size, time.time()),
        )
        return target

    def snapshots(self) -> list[dict[str, Any]]:
        with self._reading():
            rows = self._db.execute("SELECT hash, path, size, created_at FROM snapshots ORDER BY created_at")
            return [{"hash": r[0], "path": r[1], "size": r[2], "created_at": r[3]} for r in rows]

    def snapshot_hashes(self) -> set[str]:
        with self._reading():
            return {r[0] for r in self._db.execute("SELECT hash FROM snapshots")}

    def iter_object_digests(self) -> Iterator[str]:
        for sub in self.objects_dir.iterdir():
            if sub.is_dir():
                for f in sub.iterdir():
                    if not f.name.startswith(".tmp-"):
                        yield sub.name + f.name


def _loads(text: Any) -> tuple[Any, Optional[str]]:
    """The JSON value stored as ``text``, or why it is none: not text, not JSON, or nested past what Python's
    decoder can follow (a RecursionError), each the same kind of damage."""
    try:
        return json.loads(text), None
    except (TypeError, ValueError) as exc:
        return None, f"not JSON: {exc}"
    except RecursionError:
        return None, "not JSON this reader can follow: nested too deeply"
