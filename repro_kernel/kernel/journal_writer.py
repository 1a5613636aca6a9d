"""How the recorder writes its journal without ever losing a record in silence.

Every write goes through :class:`JournalWriter`. A write that cannot happen now (the disk is full, another
process holds the journal's lock, the folder became unwritable) is held in memory, in order and bounded, and
retried at the next cell: the user is told once when holding starts and once when all of it is written. A
locked journal is waited on for a moment only, so a cell never stalls behind another process.

A journal folder deleted while recording (``rm -rf .repro``, ``git clean -x``) is noticed by one ``stat`` per
cell and recreated, or the journal falls back as :meth:`Journal.for_notebook_dir` does for an unwritable
folder; the session's executions, which the recorder holds in memory, are written into it again.

Files too big (or too many) to hash on the cell's path are hashed by :class:`PendingHashes`, one background
thread: the record is written with those entries ``"pending": true`` and completed, in memory and in the
journal, when their hashes land. Writes from that thread and the cell's go through one lock.

Nothing is written with a secret in it: every record, the session's environment and the hashes' error messages
pass through the recorder's :class:`~repro_kernel.kernel.scrub.Scrubber` here, on the way to the journal; a record
too big to scan on the cell's path is written as a placeholder and rewritten by the scrub thread
(:class:`~repro_kernel.kernel.scrub.ScrubQueue`) a moment later.
"""

from __future__ import annotations

import copy
import errno
import functools
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from typing import Any, Optional, TypeVar

import blake3

from repro_kernel.core.hashing import FileHashCache
from repro_kernel.core.journal import Journal
from repro_kernel.core.records import complete_hashes
from repro_kernel.kernel import audit
from repro_kernel.kernel.scrub import Scrubber, ScrubQueue

Write = Callable[[Journal], object]
Opener = Callable[[], "tuple[Journal, Optional[str]]"]
Say = Callable[[str], None]

Landed = Callable[[dict[str, Any], Mapping[str, Optional[str]]], None]
Key = tuple[int, int, int]
F = TypeVar("F", bound=Callable[..., Any])

# What a write that may work later raises: SQLite's locked / full / I/O errors, and the file system's.
RETRYABLE = (sqlite3.Error, OSError)


def _locked(method: F) -> F:
    """Run ``method`` holding the writer's lock: the cell's writes and the hashing thread's never interleave
    (nor does either with the other changing a record the journal is serialising)."""
    @functools.wraps(method)
    def run(self: "JournalWriter", *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            return method(self, *args, **kwargs)
    return run  # type: ignore[return-value]


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

    def __init__(self, journal: Journal, say: Say, reopen: Opener, scrubber: Optional[Scrubber] = None,
                 scrubbed: Optional[Callable[[dict[str, Any]], None]] = None) -> None:
        """``scrubbed(record)``: told (on the scrub thread) when a record's secrets were taken out after it was
        written as a placeholder."""
        self.journal = journal
        self.lock = threading.RLock()
        self.scrubber = scrubber if scrubber is not None else Scrubber.for_kernel()
        self.scrubs = ScrubQueue(self.scrubber, self.lock, self._append_now, scrubbed)
        self._say = say
        self._reopen = reopen
        self._held: deque[tuple[bool, Write, int]] = deque()  # (is a record, write, bytes)
        self._held_bytes = 0
        self._held_records = 0
        self._held_digests: set[str] = set()
        self._refused = 0
        self._reason: Optional[str] = None
        self._session: Optional[list[Any]] = None  # begin_session's arguments, to begin it again
        self.hashes: Optional[PendingHashes] = None  # the background hashing thread, once a cell needs it
        self._identity = self._stat()
        self._busy_wait(self.BUSY_WAIT_S)

    @property
    def held(self) -> int:
        """Records waiting in memory for the journal."""
        return self._held_records

    # -- writes --------------------------------------------------------------------------------------------

    def begin_session(self, session_id: str, notebook: Optional[str], environment: dict[str, Any],
                      started_at: float) -> None:
        environment = self.scrubber.json(environment)
        self._session = [session_id, notebook, environment, started_at]
        self._write(lambda j: j.begin_session(session_id, notebook, environment, started_at), 1024)

    def set_session_notebook(self, session_id: str, notebook: str) -> None:
        if self._session is not None:
            self._session[1] = notebook
        self._write(lambda j: j.set_session_notebook(session_id, notebook), 64)

    def end_session(self, session_id: str, ended_at: float) -> None:
        self._write(lambda j: j.end_session(session_id, ended_at), 64)

    @_locked
    def append(self, record: dict[str, Any], notebook: Optional[str]) -> None:
        """Write ``record`` with its secrets taken out (in place: the recorder's copy is the one written). Few
        texts not scanned yet: scrubbed now; more: a placeholder now, the record itself from the scrub thread."""
        scrubber = self.scrubber
        if not scrubber.done(record):
            if not scrubber.cheap(record):
                self._append_now(scrubber.placeholder(record), notebook)
                self.scrubs.submit(record, notebook)
                return
            scrubber.scrub(record)
        self._append_now(record, notebook)

    def _append_now(self, record: dict[str, Any], notebook: Optional[str]) -> None:
        self._write(lambda j: j.append(record, notebook), 2048 + len(record.get("code") or ""), is_record=True)

    @_locked
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

    @_locked
    def complete_hashes(self, record: dict[str, Any], hashes: Mapping[str, Optional[str]],
                        errors: Mapping[str, str]) -> None:
        """The hashes of ``record``'s pending files landed: into the record in memory (what the live analysis
        reads, and what a write still held will store), then into the journal."""
        hashes, errors = self.scrubber.hash_keys(hashes, errors)  # the record may hold the paths scrubbed
        if not complete_hashes(record, hashes, errors):
            return
        session_id, seq = record["session_id"], record["seq"]
        self._write(lambda j: j.complete_hashes(session_id, seq, hashes, errors), 256 + 160 * len(hashes))

    def _put_held(self, journal: Journal, data: bytes, digest: str) -> None:
        journal.put_object(data)
        self._held_digests.discard(digest)

    @_locked
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

    @_locked
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

    @_locked
    def settle(self) -> bool:
        """Scrub what waits for it, write what is held, waiting a little longer for a lock; True when nothing
        is held any more."""
        self.scrubs.finish()
        if not self._held:
            return True
        self._busy_wait(self.CLOSING_BUSY_WAIT_S)
        done = self.flush()
        if not done:
            self._busy_wait(self.HELD_BUSY_WAIT_S)
        return done

    def wait_for_hashes(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the hashing thread (``%repro stop``); say what is left."""
        if self.hashes is None or self.hashes.wait(timeout):
            return True
        self._say(f"jupyter-repro: {self.hashes.queued} files are still being hashed after {timeout:g} s; their "
                  "hashes are written to the journal when done, while this kernel runs")
        return False

    def close(self, hash_wait: float = 0.0) -> None:
        """Wait up to ``hash_wait`` seconds for pending hashes, write what is held, say what could not be, and
        close the journal."""
        if self.hashes is not None:
            self.hashes.stop(hash_wait)
        self.scrubs.stop()
        with self.lock:
            self._close()

    def _close(self) -> None:
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

    @_locked
    def recreate(self, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Open the journal again (recreating its folder, or falling back) and write the session's begin and
        ``history`` (its executions so far) into it again; then say so. Returns ``history`` as written (without
        the random states that were lost). Raises what opening raises."""
        self.scrubs.finish()  # every record of ``history`` scrubbed before it is written again
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


class PendingHashes:
    """One background thread that hashes the files a cell left ``pending`` and completes their records.

    :meth:`submit` (on the cell's path) only queues; the thread hashes through the shared
    :class:`FileHashCache` (so the cell's next ``stat`` finds the result) and writes through the
    :class:`JournalWriter`. While anything is queued, the journal's ``hashing.lock`` is held, telling readers in
    other processes that waiting for those hashes can end. What it opens is never charged to a cell.

    It stays out of the cells' way: it starts a moment after a cell hands it work (so the cell's own reply
    goes first) and gives up the interpreter lock after each file.
    """

    SETTLE_S = 0.02

    def __init__(self, writer: JournalWriter, cache: FileHashCache, landed: Optional[Landed] = None) -> None:
        self.writer = writer
        self.cache = cache
        self.landed = landed
        self._jobs: deque[tuple[Optional[dict[str, Any]], dict[str, Key], float]] = deque()
        self._busy = False
        self._current = 0  # files of the job being hashed now
        self._closing = False
        self._cond = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._holder: Optional[Journal] = None  # the journal whose hashing.lock this process holds
        self._queued: set[tuple[str, Key]] = set()  # (path, key) of every file waiting or being hashed

    @property
    def queued(self) -> int:
        """Files waiting to be hashed."""
        with self._cond:
            return sum(len(job[1]) for job in self._jobs) + self._current

    def submit(self, record: Optional[dict[str, Any]], paths: dict[str, Key]) -> None:
        """Hash ``paths`` (path -> the (size, mtime_ns, inode) the cell saw) and complete ``record``; with no
        record, only fill the cache. Call before the record is written: the lock is held from here on."""
        with self._cond:
            if self._closing:
                return
            self._hold()
            self._jobs.append((record, paths, time.monotonic()))
            self._queued.update(paths.items())
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="repro-hashes", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def warm(self, path: str, key: Key) -> None:
        """A view asked for a file's hash that is not known yet: hash it in the background (once)."""
        if (path, key) not in self._queued:
            self.submit(None, {path: key})

    def _hold(self) -> None:
        journal = self.writer.journal
        if self._holder is not journal:
            if self._holder is not None:
                self._holder.hashing.release()
            self._holder = journal if journal.hashing.hold() else None

    def _release(self) -> None:
        if self._holder is not None:
            self._holder.hashing.release()
            self._holder = None

    def _run(self) -> None:
        with audit.recorder_thread():
            while True:
                with self._cond:
                    while not self._jobs and not self._closing:
                        self._busy, self._current = False, 0
                        self._release()
                        self._cond.notify_all()
                        self._cond.wait()
                    if not self._jobs:
                        self._busy = False
                        self._release()
                        self._cond.notify_all()
                        return
                    record, paths, handed = self._jobs.popleft()
                    self._busy, self._current = True, len(paths)
                    self._hold()  # the journal may have been recreated elsewhere since
                settle = handed + self.SETTLE_S - time.monotonic()
                if settle > 0:
                    time.sleep(settle)
                self._work(record, paths)

    def _work(self, record: Optional[dict[str, Any]], paths: dict[str, Key]) -> None:
        hashes: dict[str, Optional[str]] = {}
        errors: dict[str, str] = {}
        for path, key in paths.items():
            try:
                digest, error = self.cache.complete(path, key)
            except Exception as exc:  # never let one file stop the thread
                digest, error = None, f"{type(exc).__name__}: {exc}"
            hashes[path] = digest
            if error is not None:
                errors[path] = error
            self._queued.discard((path, key))
            time.sleep(0)  # a cell running now gets the interpreter back at once
        if record is None:
            return
        with self.writer.lock:
            if self._closing:  # the session's journal is closing or closed: the entries stay pending
                return
            try:
                self.writer.complete_hashes(record, hashes, errors)
            except Exception as exc:
                errors = {path: f"not hashed ({type(exc).__name__})" for path in paths}
                complete_hashes(record, *self.writer.scrubber.hash_keys(dict.fromkeys(paths), errors))
        if self.landed is not None:
            try:
                self.landed(record, hashes)
            except Exception:
                pass

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for everything queued to be hashed and written; True when done."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._jobs or self._busy:
                left = deadline - time.monotonic()
                if left <= 0 or self._thread is None or not self._thread.is_alive():
                    return not self._jobs and not self._busy
                self._cond.wait(min(left, 0.5))
        return True

    def stop(self, timeout: float) -> bool:
        """Wait (up to ``timeout`` s) as :meth:`wait` does, then end the thread; what is left stays pending in
        the journal. True when nothing was left."""
        done = self.wait(timeout)
        with self._cond:
            self._closing = True
            self._jobs.clear()
            self._queued.clear()
            self._cond.notify_all()
            self._release()  # a file still being hashed is dropped: readers need not wait for it
        return done
