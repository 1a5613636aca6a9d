"""The `.repro/` layout on disk: where a notebook's journal lives, the SQLite tables it holds, and what a reader
finds at the database's path before opening anything there.

:class:`~repro_kernel.core.journal.Journal` reads and writes the journal; this module only names its places and
looks at them (``os.stat``, never ``open``: a FIFO planted at ``journal.sqlite`` would block a reader forever).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

JOURNAL_DIRNAME = ".repro"
DATABASE_NAME = "journal.sqlite"
JOURNAL_FORMAT_VERSION = 1

SCHEMA = """
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
COLUMNS = {
    "sessions": {"session_id", "notebook", "started_at", "ended_at", "environment"},
    "executions": {"session_id", "seq", "notebook", "cell_id", "execution_count", "code_hash", "started_at",
                   "record"},
    "snapshots": {"hash", "path", "size", "created_at"},
}

# What :func:`what_is_at` says of a path.
A_FILE = "a file"  # a regular file, links followed
NOTHING = "nothing"  # nothing there, or no folder to hold it (the recorder then wrote to its fallback)


def journal_dir_for(notebook_dir: Path) -> Path:
    """The `.repro/` folder for notebooks in ``notebook_dir``."""
    return Path(notebook_dir) / JOURNAL_DIRNAME


def fallback_dir_for(notebook_dir: Path) -> Path:
    """Per-user place for the journal when the notebook's folder cannot be written."""
    from jupyter_core.paths import jupyter_data_dir

    key = hashlib.sha256(str(Path(notebook_dir).resolve()).encode("utf-8", "surrogatepass")).hexdigest()
    return Path(jupyter_data_dir()) / "repro" / key[:16]


def what_is_at(path: Path) -> str:
    """What ``path`` is, looked at without opening it: :data:`A_FILE`, :data:`NOTHING` (also when its folder is
    missing or is no folder), or a few words for anything else ("a FIFO", "a link to a character device",
    "a dangling link", "a link loop", ...)."""
    try:
        if not os.path.isdir(path.parent):
            return NOTHING
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "a dangling link" if os.path.lexists(path) else NOTHING
    except NotADirectoryError:
        return NOTHING
    except OSError as exc:
        return "a link loop" if exc.errno == errno.ELOOP else f"unreadable ({exc.strerror or exc})"
    except ValueError:  # a NUL byte, a surrogate the file system cannot name: no such file
        return NOTHING
    if stat.S_ISREG(mode):
        return A_FILE
    kind = next((name for test, name in ((stat.S_ISDIR, "a folder"), (stat.S_ISFIFO, "a FIFO"),
                                         (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                                         (stat.S_ISBLK, "a block device")) if test(mode)), "not a regular file")
    return f"a link to {kind}" if os.path.islink(path) else kind


def last_written(directory: Path) -> float:
    """When the journal in ``directory`` was last written (its database or its write-ahead log)."""
    times = []
    for name in (DATABASE_NAME, DATABASE_NAME + "-wal"):
        try:
            times.append((directory / name).stat().st_mtime)
        except OSError:
            pass
    return max(times, default=0.0)


def file_size(path: Path) -> int:
    """``path``'s size in bytes; 0 when it cannot be read."""
    try:
        return path.stat().st_size
    except OSError:
        return 0
