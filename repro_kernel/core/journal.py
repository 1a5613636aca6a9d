"""The journal: the `.repro/` folder beside a notebook, source of truth for everything recorded.

SQLite in WAL mode gives one durable transaction per cell: once a cell's record is committed, killing the
kernel cannot lose it. Large blobs (random states, data snapshots) live beside the database under
``objects/``, named by their BLAKE3 digest, so identical states are stored once.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Callable, Optional

import blake3

from repro_kernel.core.hashing import hash_file
from repro_kernel.core.paths import inside, open_regular
from repro_kernel.exceptions import JournalError

JOURNAL_DIRNAME = ".repro"
DATABASE_NAME = "journal.sqlite"
JOURNAL_FORMAT_VERSION = 1
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    session_id TEXT PRIMARY KEY,
    notebook TEXT,
    started_at REAL NOT NULL,
    ended_at REAL,
    environment TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS executions (
    session_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    notebook TEXT,
    cell_id TEXT,
    execution_count INTEGER,
    code_hash TEXT NOT NULL,
    started_at REAL NOT NULL,
    record TEXT NOT NULL,
    PRIMARY KEY (session_id, seq)
);
CREATE INDEX IF NOT EXISTS executions_by_notebook ON executions (notebook, started_at);
CREATE TABLE IF NOT EXISTS snapshots (
    hash TEXT NOT NULL,
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (hash, path)
);
"""


def journal_dir_for(notebook_dir: Path) -> Path:
    """The `.repro/` folder for notebooks in ``notebook_dir``."""
    return Path(notebook_dir) / JOURNAL_DIRNAME


def fallback_dir_for(notebook_dir: Path) -> Path:
    """Per-user place for the journal when the notebook's folder cannot be written."""
    from jupyter_core.paths import jupyter_data_dir

    key = hashlib.sha256(str(Path(notebook_dir).resolve()).encode("utf-8", "surrogatepass")).hexdigest()
    return Path(jupyter_data_dir()) / "repro" / key[:16]


class Journal:
    """Read and write one `.repro/` folder."""

    def __init__(self, directory: Path, *, create: bool = True) -> None:
        self.directory = Path(directory)
        self.objects_dir = self.directory / "objects"
        self.database_path = self.directory / DATABASE_NAME
        if not create and not self.database_path.exists():
            raise JournalError(
                f"no journal at {self.directory}",
                hint="record the notebook with `%load_ext repro_kernel` then `%repro start` first",
            )
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
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0 and create:
                self._db.executescript(_SCHEMA)
                self._db.execute(f"PRAGMA user_version={JOURNAL_FORMAT_VERSION}")
            elif version != JOURNAL_FORMAT_VERSION:
                raise JournalError(
                    f"journal {self.database_path} has format version {version}, this jupyter-repro reads "
                    f"version {JOURNAL_FORMAT_VERSION}",
                    hint="upgrade jupyter-repro (pip install -U jupyter-repro)",
                )
        except sqlite3.DatabaseError as exc:
            raise JournalError(
                f"journal {self.database_path} cannot be read ({exc})",
                hint="move the damaged .repro/ folder aside and record again",
            ) from exc

    # -- opening ---------------------------------------------------------------------------------------

    @classmethod
    def for_notebook_dir(cls, notebook_dir: Path) -> tuple["Journal", Optional[str]]:
        """Open (creating) the journal for a folder; returns (journal, warning when it had to fall back)."""
        primary = journal_dir_for(notebook_dir)
        try:
            return cls(primary), None
        except (OSError, JournalError, sqlite3.Error) as exc:
            fallback = fallback_dir_for(notebook_dir)
            try:
                journal = cls(fallback)
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
        """Open the existing journal that holds ``notebook_path``'s records, read-only in spirit."""
        notebook_dir = Path(notebook_path).resolve().parent
        for candidate in (journal_dir_for(notebook_dir), fallback_dir_for(notebook_dir)):
            if (candidate / DATABASE_NAME).exists():
                return cls(candidate, create=False)
        raise JournalError(
            f"no .repro journal found for {notebook_path}",
            hint="record it with `%load_ext repro_kernel` then `%repro start`, or export with --mode document",
        )

    def set_busy_timeout(self, seconds: float) -> None:
        """How long a write waits for a lock another process holds before failing (the recorder waits briefly
        and keeps the record in memory; tools reading the journal keep the long default)."""
        self._db.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def close(self) -> None:
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

    def sessions(self, notebook: Optional[str] = None) -> list[dict[str, Any]]:
        """Sessions, oldest first; with ``notebook``, only those recorded for that notebook file name."""
        query = "SELECT session_id, notebook, started_at, ended_at, environment FROM sessions"
        args: tuple[Any, ...] = ()
        if notebook is not None:
            query += " WHERE notebook = ?"
            args = (notebook,)
        rows = self._db.execute(query + " ORDER BY started_at", args).fetchall()
        return [
            {
                "session_id": r[0],
                "notebook": r[1],
                "started_at": r[2],
                "ended_at": r[3],
                "environment": json.loads(r[4]),
            }
            for r in rows
        ]

    def executions(
        self, *, session_id: Optional[str] = None, notebook: Optional[str] = None
    ) -> list[dict[str, Any]]:
        """CellRecords in the order they ran (by session start, then sequence number)."""
        query = (
            "SELECT e.record FROM executions e JOIN sessions s USING (session_id)"
        )
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
        return [json.loads(r[0]) for r in self._db.execute(query, args)]

    def count_executions(self, session_id: str) -> int:
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
        rows = self._db.execute("SELECT hash, path, size, created_at FROM snapshots ORDER BY created_at")
        return [{"hash": r[0], "path": r[1], "size": r[2], "created_at": r[3]} for r in rows]

    def snapshot_hashes(self) -> set[str]:
        return {r[0] for r in self._db.execute("SELECT hash FROM snapshots")}

    def iter_object_digests(self) -> Iterator[str]:
        for sub in self.objects_dir.iterdir():
            if sub.is_dir():
                for f in sub.iterdir():
                    if not f.name.startswith(".tmp-"):
                        yield sub.name + f.name
