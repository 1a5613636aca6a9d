"""Secrets kept out of every byte the recorder writes: the journal (``.repro/``, which users commit and share),
the status the sidebar saves in ``metadata.repro``, and the recorder's own messages.

Every text passes through one function, :func:`repro_kernel.core.secrets.redact` (``code=True`` for cell code),
through :class:`Scrubber`: code is redacted by that function alone, so that the saved notebook's code, redacted
the same way by ``analysis.sessions.cells_from_dicts``, still matches (and hashes as) the journal's; other texts
(file paths, URLs, hosts, error and fault messages, names, the environment) also lose the values of this
kernel's secret-named environment variables (an echoed ``$MY_TOKEN``).

The cost stays off the cell's path. Scans are cached by text, so a cell run again, or a file read again, costs
a dictionary lookup. A record with few characters not scanned yet (:attr:`Scrubber.INLINE_CHARS`) is scrubbed
where it is written; a bigger one is written at once as a *placeholder*, each text not scanned yet replaced by
``<redacted>`` (so that the record is in the journal should the kernel die the next instant, and holds no
secret), and :class:`ScrubQueue`'s thread scans it, scrubs the record in place (in memory, which the live
analysis reads, and in the journal, which it rewrites) a moment later.
"""

from __future__ import annotations

import re
import threading
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Optional

from repro_kernel.core.hashing import hash_text
from repro_kernel.core.redact import REDACTED
from repro_kernel.core.secrets import environment_secrets, is_inert, redact
from repro_kernel.kernel import audit

# Record fields that are ids, hashes or fixed words, never a secret: left as they are (a cell id must still
# match the page's, a hash the file's).
_KEPT = frozenset({
    "schema_version", "session_id", "cell_id", "code_hash", "output_hash", "status", "hash", "state_ref",
    "before", "after", "entropy", "kind", "source", "distribution", "version", "fingerprint",
})
_PENDING_NOTE = ("secrets: this record was written while its texts were still being searched for secrets, so "
                 "each of them is kept as `<redacted>` (the recorder rewrites it a moment later; this note stays "
                 "only when the kernel stopped before that)")
_MIN_KNOWN = 6


class Scrubber:
    """The recorder's redaction: :meth:`code` and :meth:`text`, cached by text, and whole records."""

    INLINE_CHARS = 512  # characters not scanned yet that a record may hold and still be scrubbed inline
    CACHE = 1 << 16  # texts remembered (then forgotten all at once: a later scan only costs time)

    def __init__(self, known: Iterable[str] = ()) -> None:
        values = sorted({v for v in known if len(v) >= _MIN_KNOWN and REDACTED not in v and v.strip() == v},
                        key=len, reverse=True)
        self._known = re.compile("|".join(re.escape(v) for v in values)) if values else None
        self._cache: dict[tuple[str, bool], str] = {}
        self._done: set[tuple[Any, Any]] = set()  # (session_id, seq) of the records scrubbed already

    @classmethod
    def for_kernel(cls) -> Scrubber:
        """A scrubber that knows this kernel's secret environment values."""
        return cls(environment_secrets())

    # -- texts -----------------------------------------------------------------------------------------

    def code(self, text: str) -> str:
        return self._get(text, True)

    def text(self, text: str) -> str:
        return self._get(text, False)

    def _get(self, text: str, code: bool) -> str:
        key = (text, code)
        found = self._cache.get(key)
        if found is not None:
            return found
        try:
            new = redact(text, code=code)
            if not code and self._known is not None:
                new = self._known.sub(REDACTED, new)
        except Exception:  # never keep a text that could not be searched for secrets
            new = REDACTED
        if len(self._cache) >= self.CACHE:
            self._cache.clear()
        self._cache[key] = new
        return new

    def scanned(self, text: str, code: bool = False) -> bool:
        return (text, code) in self._cache or (not code and is_inert(text))

    def shown(self, text: Optional[str], *, scan: bool = True) -> Optional[str]:
        """``text`` as a view may show it; with ``scan`` False (on the cell's path, while records wait to be
        scrubbed) a text not scanned yet is shown as ``<redacted>`` until it is."""
        if not isinstance(text, str):
            return text
        if scan or self.scanned(text):
            return self.text(text)
        return REDACTED

    def json(self, value: Any) -> Any:
        """A JSON-like document (the session's environment) with every string value scrubbed (keys kept)."""
        return _walk(value, "", self._scrub_leaf)

    def _scrub_leaf(self, key: str, text: str) -> str:
        return self.code(text) if key == "code" else self.text(text)

    # -- records ---------------------------------------------------------------------------------------

    def done(self, record: Mapping[str, Any]) -> bool:
        return (record.get("session_id"), record.get("seq")) in self._done

    def unscanned(self, record: Mapping[str, Any]) -> int:
        """Characters of ``record``'s texts not scanned yet (0: scrubbing it costs lookups only)."""
        return self._unscanned(record, None)

    def _unscanned(self, record: Mapping[str, Any], enough: Optional[int]) -> int:
        if self.done(record):
            return 0
        total = 0

        def count(key: str, text: str) -> str:
            nonlocal total
            if not self.scanned(text, key == "code"):
                total += len(text)
                if enough is not None and total > enough:
                    raise _Enough
            return text

        try:
            _record_walk(record, count)
        except _Enough:
            pass
        return total

    def cheap(self, record: Mapping[str, Any]) -> bool:
        # Counting stops once the record is known to be too big (a cell that read 10,000 files).
        return self._unscanned(record, self.INLINE_CHARS) <= self.INLINE_CHARS

    def warm(self, record: Mapping[str, Any]) -> None:
        """Scan ``record``'s texts (into the cache), leaving the record as it is."""
        if not self.done(record):
            _record_walk(record, self._scrub_leaf)

    def scrub(self, record: dict[str, Any]) -> dict[str, Any]:
        """Scrub ``record`` in place (once): every text redacted, ``code_hash`` of the redacted code, and
        ``redacted`` set when its code lost a secret. Returns ``record``."""
        if self.done(record):
            return record
        raw = record.get("code")
        for key, value in _record_walk(record, self._scrub_leaf).items():
            record[key] = value  # one assignment a field: a reader on another thread sees old or new
        self._seal(record, raw)
        self._done.add((record.get("session_id"), record.get("seq")))
        return record

    def placeholder(self, record: Mapping[str, Any]) -> dict[str, Any]:
        """A copy of ``record`` safe to write now: texts scanned already scrubbed, the others ``<redacted>``."""

        def leaf(key: str, text: str) -> str:
            return self._scrub_leaf(key, text) if self.scanned(text, key == "code") else REDACTED

        copy = {**record, **_record_walk(record, leaf)}
        self._seal(copy, record.get("code"))
        copy["recorder_errors"] = [*copy.get("recorder_errors", ()), _PENDING_NOTE]
        return copy
    @staticmethod
    def _seal(record: dict[str, Any], raw: Any) -> None:
        code = record.get("code")
        if isinstance(code, str):
            record["code_hash"] = hash_text(code)  # of the code as kept: a hash of a credential would help guess it
            record["redacted"] = bool(record.get("redacted")) or code != raw

    def hash_keys(self, hashes: Mapping[str, Optional[str]], errors: Mapping[str, str]) -> tuple[
        dict[str, Optional[str]], dict[str, str]
    ]:
        """Hashes that landed for raw paths, keyed by the raw and the scrubbed path (a record scrubbed in the
        meantime holds the latter), with the error messages scrubbed."""
        keyed: dict[str, Optional[str]] = dict(hashes)
        told: dict[str, str] = {path: self.text(message) for path, message in errors.items()}
        for path, digest in hashes.items():
            shown = self.text(path)
            if shown != path:
                keyed.setdefault(shown, digest)
                if path in told:
                    told.setdefault(shown, told[path])
        return keyed, told


class _Enough(Exception):
    """Stops a count that has gone past what it needed to know."""


# A CellRecord's fields (core/records.py) by what they hold: ids, numbers and flags are left alone; names are
# kept without a scan when they are too short to be any token format; lists of file entries and network
# endpoints have their texts under known keys. Any other field (a later schema's) is walked whole.
_RECORD_KEPT = frozenset({
    "schema_version", "session_id", "seq", "execution_count", "cell_id", "code_hash", "started_at", "duration_s",
    "status", "output_hash", "redacted",
})
_TEXTS = ("code", "error")
_NAME_LISTS = ("defined", "used", "deleted", "mutated", "namespace_changed", "recorder_errors")
_ENTRY_TEXTS = {"files_read": ("path", "rel", "error"), "files_written": ("path", "rel", "error"),
                "network": ("host", "url"), "modules": ("name", "distribution")}
_ENTRY_KEPT = frozenset({"size", "mtime", "hash", "pending", "port", "version"})
_KNOWN = _RECORD_KEPT | frozenset(_TEXTS) | frozenset(_NAME_LISTS) | frozenset(_ENTRY_TEXTS) | {"random"}
_SHORT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,9}")  # no token format is this short


def _record_walk(record: Mapping[str, Any], leaf: Callable[[str, str], str]) -> dict[str, Any]:
    """The fields of ``record`` that ``leaf(key, text)`` changes, each a new value (lists and entries copied
    where something changed); the others are left out."""
    changed: dict[str, Any] = {}
    get = record.get
    for key in _TEXTS:
        value = get(key)
        if isinstance(value, str):
            new = leaf(key, value)
            if new is not value:
                changed[key] = new
    short = _SHORT_NAME.fullmatch
    for key in _NAME_LISTS:
        value = get(key)
        if not value or _all_short(value, short):
            continue
        items = [n if isinstance(n, str) and short(n) else _walk(n, key, leaf) for n in value]
        if any(a is not b for a, b in zip(items, value)):
            changed[key] = items
    for key, texts in _ENTRY_TEXTS.items():
        value = get(key)
        if value:
            entries = [_entry(entry, key, texts, leaf) for entry in value]
            if any(a is not b for a, b in zip(entries, value)):
                changed[key] = entries
    random = get("random")
    if random:
        new_random = dict(random)
        for k, v in random.items():
            if k != "sources" and v and not isinstance(v, (bool, int, float)):
                new_random[k] = _walk(v, k, leaf)
        if any(new_random[k] is not random[k] for k in random):
            changed["random"] = new_random
    for key in record.keys() - _KNOWN:
        value = record[key]
        new = _walk(value, key, leaf)
        if new is not value:
            changed[key] = new
    return changed


def _all_short(names: Any, short: Callable[[str], Any]) -> bool:
    try:
        return all(map(short, names))
    except TypeError:  # not all of them strings
        return False


def _entry(entry: Any, key: str, texts: tuple[str, ...], leaf: Callable[[str, str], str]) -> Any:
    if not isinstance(entry, dict):
        return _walk(entry, key, leaf)
    fix = {}
    for k, v in entry.items():
        if isinstance(v, str):
            if k in texts:
                new = leaf(k, v)
            elif k in _ENTRY_KEPT:
                continue
            else:
                new = _walk(v, k, leaf)
        elif isinstance(v, (list, dict)):
            new = _walk(v, k, leaf)
        else:
            continue
        if new is not v:
            fix[k] = new
    return {**entry, **fix} if fix else entry


def _walk(value: Any, key: str, leaf: Callable[[str, str], str]) -> Any:
    """``value`` with each string under a key not in ``_KEPT`` given to ``leaf(key, text)``; containers are
    copied only where something changed."""
    if isinstance(value, str):
        return value if key in _KEPT else leaf(key, value)
    if isinstance(value, dict):
        out = None
        for k, item in list(value.items()):
            new = _walk(item, k if isinstance(k, str) else "", leaf)
            if new is not item:
                if out is None:
                    out = dict(value)
                out[k] = new
        return value if out is None else out
    if isinstance(value, list):
        items = list(value)
        changed = False
        for index, item in enumerate(items):
            new = _walk(item, key, leaf)
            if new is not item:
                items[index], changed = new, True
        return items if changed else value
    return value


Write = Callable[[dict[str, Any], Optional[str]], None]


class ScrubQueue:
    """One background thread that scans the records too big to scrub on the cell's path, scrubs them in place
    and writes them again (their placeholder is in the journal already), in the order they came.

    The scan runs without any lock; the scrub and the write hold ``lock`` (the journal writer's), so that they
    never interleave with the cell's writes or the hashing thread's. :meth:`finish` does what is left on the
    calling thread (``%repro stop``, shutdown, a journal recreated)."""

    def __init__(self, scrubber: Scrubber, lock: Any, write: Write,
                 landed: Optional[Callable[[dict[str, Any]], None]] = None) -> None:
        self.scrubber = scrubber
        self.lock = lock
        self.write = write
        self.landed = landed
        self._jobs: deque[tuple[dict[str, Any], Optional[str]]] = deque()
        self._current: Optional[tuple[dict[str, Any], Optional[str]]] = None
        self._cond = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._closed = False

    @property
    def busy(self) -> bool:
        """Records wait to be scrubbed."""
        return bool(self._jobs) or self._current is not None

    def submit(self, record: dict[str, Any], notebook: Optional[str]) -> None:
        with self._cond:
            if self._closed:
                return
            self._jobs.append((record, notebook))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="repro-scrub", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        with audit.recorder_thread():
            while True:
                with self._cond:
                    while not self._jobs and not self._closed:
                        self._current = None
                        self._cond.notify_all()
                        self._cond.wait()
                    if self._closed:
                        self._current = None
                        self._cond.notify_all()
                        return
                    self._current = job = self._jobs.popleft()
                try:
                    self.scrubber.warm(job[0])  # the slow part: no lock held
                except Exception:
                    pass  # scrubbing it below redacts what cannot be scanned
                self._complete(job)

    def _complete(self, job: tuple[dict[str, Any], Optional[str]]) -> None:
        record, notebook = job
        with self.lock:
            if self._closed or self.scrubber.done(record):
                return
            self.scrubber.scrub(record)
            try:
                self.write(record, notebook)
            except Exception:
                pass  # the placeholder stays; the writer holds or reports what it cannot write
        if self.landed is not None:
            try:
                self.landed(record)
            except Exception:
                pass

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the queue to empty; True when it did."""
        with self._cond:
            return self._cond.wait_for(lambda: not self.busy or self._thread is None
                                       or not self._thread.is_alive(), timeout) and not self._jobs

    def finish(self) -> None:
        """Scrub and write, on this thread and now, every record still waiting (the one the thread is on, too:
        scrubbing is done once, whoever comes first)."""
        with self._cond:
            jobs = ([self._current] if self._current is not None else []) + list(self._jobs)
            self._jobs.clear()
        for job in jobs:
            self._complete(job)

    def stop(self) -> None:
        """Finish what is queued, then end the thread."""
        self.finish()
        with self._cond:
            self._closed = True
            self._cond.notify_all()
