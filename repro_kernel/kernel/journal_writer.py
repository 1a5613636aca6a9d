"""How the recorder writes its journal without ever losing a record in silence.

Every write goes through :class:`JournalWriter`. A write that cannot happen now (the disk is full, another
process holds the journal's lock, the folder became unwritable) is held in memory, in order and bounded, and
retried at the next cell: the user is told once when holding starts and once when all of it is written. A
locked journal is waited on for a moment only, so a cell never stalls behind another process.

A journal folder deleted while recording (``rm -rf .repro``, ``git clean -x``) is noticed by one ``stat`` per
cell and recreated, or the journal falls back as :meth:`Journal.for_notebook_dir` does for an unwritable
folder; the session's executions, which the recorder holds in memory, are written into it again.
"""

from __future__ import annotations

import copy
import errno
import os
import sqlite3
from collections import deque
from collections.abc import Callable
from typing import Any, Optional

import blake3

from repro_kernel.core.journal import Journal

Write = Callable[[Journal], None]
Opener = Callable[[], "tuple[Journal, Optional[str]]"]
Say = Callable[[str], None]

# What a write that may work later raises: SQLite's locked / full / I/O errors, and the file system's.
RETRYABLE = (sqlite3.Error, OSError)


def describe(exc: BaseException) -> str:
    """Why a write failed, in the user's words."""
    text = str(exc)
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT) or "full" in text:
        return "the disk is full"
    if "closed database" in text:
        return "its folder is gone and cannot be recreated"
    if "locked" in text or "busy" in text:
        return "it is locked by another process"
    if isinstance(exc, OSError) and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS) or "readonly" in text:
        return "it cannot be written"
    return f"{type(exc).__name__}: {text}"


class JournalWriter:
    """Writes one session's records and objects to a journal, holding what cannot be written yet."""

    HOLD_RECORDS = 10_000
    HOLD_BYTES = 256 << 20
    BUSY_WAIT_S = 0.25  # how long one cell waits on a journal another process has locked
    HELD_BUSY_WAIT_S = 0.02  # while records are held: each later cell just tries
    CLOSING_BUSY_WAIT_S = 2.0  # `%repro stop` and shutdown try harder before saying what is lost

    def __init__(self, journal: Journal, say: Say, reopen: Opener) -> None:
        self.journal = journal
        self._say = say
        self._reopen = reopen
        self._held: deque[tuple[bool, Write, int]] = deque()  # (is a record, write, bytes)
        self._held_bytes = 0
        self._held_records = 0
        self._held_digests: set[str] = set()
        self._refused = 0
        self._reason: Optional[str] = None
        self._session: Optional[list[Any]] = None  # begin_session's arguments, to begin it again
        self._identity = self._stat()
        self._busy_wait(self.BUSY_WAIT_S)

    @property
    def held(self) -> int:
        """Records waiting in memory for the journal."""
        return self._held_records

    # -- writes --------------------------------------------------------------------------------------------

    def begin_session(self, session_id: str, notebook: Optional[str], environment: dict[str, Any],
                      started_at: float) -> None:
        self._session = [session_id, notebook, environment, started_at]
        self._write(lambda j: j.begin_session(session_id, notebook, environment, started_at), 1024)

    def set_session_notebook(self, session_id: str, notebook: str) -> None:
        if self._session is not None:
            self._session[1] = notebook
        self._write(lambda j: j.set_session_notebook(session_id, notebook), 64)

    def end_session(self, session_id: str, ended_at: float) -> None:
        self._write(lambda j: j.end_session(session_id, ended_at), 64)

    def append(self, record: dict[str, Any], notebook: Optional[str]) -> None:
        self._write(lambda j: j.append(record, notebook), 2048 + len(record.get("code") or ""), is_record=True)

    def put_object(self, data: bytes) -> str:
        """Store ``data`` (now, or once the journal can be written); its digest, as ``Journal.put_object``."""
        if not self._held:
            try:
                return self.journal.put_object(data)
            except RETRYABLE as exc:
                self._start_holding(exc)
        digest = blake3.blake3(data).hexdigest()
        if digest not in self._held_digests and self._hold(lambda j: self._put_held(j, data, digest), len(data)):
            self._held_digests.add(digest)
        return digest

    def _put_held(self, journal: Journal, data: bytes, digest: str) -> None:
        journal.put_object(data)
        self._held_digests.discard(digest)

    def _write(self, write: Write, size: int, *, is_record: bool = False) -> None:
        if self._held:
            self.flush()
        if not self._held:
            try:
                write(self.journal)
                return
            except RETRYABLE as exc:
                self._start_holding(exc)
        self._hold(write, size, is_record=is_record)

    # -- holding ----------------------------------------------------------------------------------------

    def _start_holding(self, exc: BaseException) -> None:
        self._reason = describe(exc)
        self._busy_wait(self.HELD_BUSY_WAIT_S)
        self._say(
            f"jupyter-repro: cannot write the journal {self.journal.database_path} now ({self._reason}); keeping "
            f"the records in memory (up to {self.HOLD_RECORDS:,}) and writing them, in order, as soon as it can. "
            "Your cells are unaffected."
        )

    def _hold(self, write: Write, size: int, *, is_record: bool = False) -> bool:
        if self._held_records >= self.HOLD_RECORDS or self._held_bytes + size > self.HOLD_BYTES:
            self._refused += is_record
            if self._refused == 1 and is_record:
                self._say(
                    f"jupyter-repro: {self._held_records:,} executions are already waiting for the journal "
                    f"{self.journal.database_path} ({self._reason}); the next ones are counted but not kept until "
                    "it can be written again."
                )
            return False
        self._held.append((is_record, write, size))
        self._held_bytes += size
        self._held_records += is_record
        return True

    def flush(self) -> bool:
        """Write what is held, in order; True when nothing is held any more."""
        if not self._held:
            return True
        written = 0
        while self._held:
            is_record, write, size = self._held[0]
            try:
                write(self.journal)
            except RETRYABLE as exc:
                self._reason = describe(exc)
                return False
            self._held.popleft()
            self._held_bytes -= size
            self._held_records -= is_record
            written += is_record
        refused, self._refused = self._refused, 0
        self._busy_wait(self.BUSY_WAIT_S)
        self._say(
            f"jupyter-repro: the journal can be written again: the {written} executions held in memory are written "
            f"to {self.journal.database_path}"
            + (f"; {refused} executions run while more were held than it keeps were not recorded." if refused
               else ".")
        )
        return True

    def settle(self) -> bool:
        """Write what is held, waiting a little longer for a lock; True when nothing is held any more."""
        if not self._held:
            return True
        self._busy_wait(self.CLOSING_BUSY_WAIT_S)
        done = self.flush()
        if not done:
            self._busy_wait(self.HELD_BUSY_WAIT_S)
        return done

    def close(self) -> None:
        """Write what is held, say what could not be, and close the journal."""
        if not self.settle():
            self._say(
                f"jupyter-repro: {self._held_records} executions could not be written to the journal "
                f"{self.journal.database_path} ({self._reason}) and are lost with this session."
            )
            self._held.clear()
        try:
            self.journal.close()
        except sqlite3.Error:
            pass

    def _busy_wait(self, seconds: float) -> None:
        # The journal opens its connection with a long busy timeout, meant for tools reading it; the recorder
        # waits briefly and holds instead.
        try:
            self.journal.set_busy_timeout(seconds)
        except sqlite3.Error:
            pass

    # -- a journal folder deleted while recording ------------------------------------------------------------

    def _stat(self) -> Optional[tuple[int, int]]:
        try:
            st = os.stat(self.journal.database_path)
        except OSError:
            return None
        return st.st_dev, st.st_ino

    def lost(self) -> bool:
        """True when the journal's database is no longer the file this writer opened (one ``stat``)."""
        return self._stat() != self._identity or self._identity is None

    def recreate(self, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Open the journal again (recreating its folder, or falling back) and write the session's begin and
        ``history`` (its executions so far) into it again; then say so. Returns ``history`` as written (without
        the random states that were lost). Raises what opening raises."""
        old = self.journal
        try:
            snapshots = len(old.snapshots())  # still readable: the connection holds the deleted file open
        except sqlite3.Error:
            snapshots = 0
        try:
            old.close()
        except sqlite3.Error:
            pass
        journal, warning = self._reopen()
        self.journal = journal
        self._identity = self._stat()
        self._busy_wait(self.HELD_BUSY_WAIT_S if self._held else self.BUSY_WAIT_S)
        # Everything held is written again below, the records from ``history``; objects and the rest stay held.
        held, self._held = self._held, deque()
        self._held_bytes = self._held_records = 0
        for is_record, write, size in held:
            if not is_record:
                self._hold(write, size)
        notebook = self._session[1] if self._session is not None else None
        if self._session is not None:
            session = list(self._session)
            self._write(lambda j: j.begin_session(*session), 1024)
        lost_states = 0
        written = []
        for record in history:
            again, missing = self._without_lost_states(record, journal)
            lost_states += missing
            self.append(again, notebook)
            written.append(again)
        where = "recreated it" if journal.directory == old.directory else f"recording to {journal.directory} instead"
        self._say(
            f"jupyter-repro: the journal folder {old.directory} was deleted while recording; {where} and "
            + ("wrote" if not self._held else "will write (once it can be written)")
            + f" this session's {len(history)} executions into it again"
            + (f" ({lost_states} random states they referred to were lost with the folder)" if lost_states else "")
            + (f"; the {snapshots} snapshots (`%repro snapshot`) went with it: take them again" if snapshots else "")
            + ". To discard a session, `%repro stop` it before deleting its journal."
            + (f" ({warning.removeprefix('jupyter-repro: ')})" if warning else "")
        )
        return written

    def _without_lost_states(self, record: dict[str, Any], journal: Journal) -> tuple[dict[str, Any], int]:
        """``record`` with its references to random states that went with the old folder taken out."""
        sources = (record.get("random") or {}).get("sources") or {}
        gone = [s for s, info in sources.items() if info.get("state_ref") and info["state_ref"] not in
                self._held_digests and not journal.has_object(info["state_ref"])]
        if not gone:
            return record, 0
        again = copy.deepcopy(record)
        for source in gone:
            again["random"]["sources"][source]["state_ref"] = None
        again.setdefault("recorder_errors", []).append(
            f"random: the state of {', '.join(gone)} before this cell was lost when the journal folder was deleted")
        return again, len(gone)
