"""Content hashing for code, outputs and data files.

BLAKE3 is used throughout: it runs at several GB/s on one core, well above the 1 GB/s target, and its
digests are stable across platforms. Files are hashed once per (path, size, mtime, inode); re-checking an
unchanged file is one ``os.stat`` and a dictionary lookup. The recorder hashes big or many files off the cell's
path (:meth:`FileHashCache.lookup` leaves them ``pending``, :meth:`FileHashCache.complete` hashes them later).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG
from typing import Any, Optional

import blake3

from repro_kernel.runtime import file_digest, hash_display, short_repr

try:
    import fcntl
except ImportError:  # Windows: no flock; readers then wait for pending hashes up to their bound
    fcntl = None  # type: ignore[assignment]

PREFIX = "blake3:"
HASHING_LOCK_NAME = "hashing.lock"
_CHUNK = 1 << 22  # 4 MiB reads keep memory flat whatever the file's size


def hash_bytes(data: bytes) -> str:
    """Return the prefixed BLAKE3 digest of ``data``."""
    return PREFIX + blake3.blake3(data).hexdigest()


def hash_text(text: str) -> str:
    """Return the prefixed BLAKE3 digest of ``text`` encoded as UTF-8 (surrogates kept)."""
    return hash_bytes(text.encode("utf-8", "surrogatepass"))


def hash_file(path: str) -> str:
    """The prefixed BLAKE3 digest of a file's content, in constant memory (:func:`runtime.file_digest`)."""
    return file_digest(path, "blake3")


def output_hash(display_digest: Optional[bytes], value: Any) -> Optional[str]:
    """The recorder's hash of what a cell showed: the BLAKE3 digest of its rich displays (mime type and
    data, in mime order, message after message) and of its result value.

    The result enters as its repr when it is a small scalar or string, else as its type's name (a repr of a
    large object would cost time in proportion to the user's data; one that raises, such as an int past
    Python's digit limit or an odd subclass's, also counts as its type's name). None when the cell showed
    nothing. The exported replay runtime (repro_kernel/runtime.py) computes the same hash; a test pins the two.
    """
    parts: list[bytes] = []
    if display_digest is not None:
        parts.append(display_digest)
    if value is not None:
        text = short_repr(value) if isinstance(value, (int, float, str, bool, bytes)) else None
        if text is not None:
            parts.append(text.encode("utf-8", "surrogatepass"))
        else:
            kind = type(value)
            parts.append(f"<{kind.__module__}.{kind.__qualname__}>".encode("utf-8", "surrogatepass"))
    return hash_bytes(b"\0".join(parts)) if parts else None


def saved_output_hashes(outputs: Any) -> tuple[str, ...]:
    """What :func:`output_hash` would have given for the execution whose saved ``outputs`` (nbformat) these are,
    where the file can tell: its rich displays, and its result read as a scalar's repr. Empty when the cell
    shows nothing the hash covers; a result that was no scalar hashed as its type, which the file does not keep,
    so a miss is no evidence against an execution, only a hit is evidence for it."""
    if not isinstance(outputs, list):
        return ()
    displays = [o for o in outputs if isinstance(o, dict) and o.get("output_type") == "display_data"]
    results = [o for o in outputs if isinstance(o, dict) and o.get("output_type") == "execute_result"]
    digest: Optional[bytes] = None
    if displays:
        hasher = blake3.blake3()
        for out in displays:
            data = out.get("data")
            hash_display(hasher, {"content": {"data": data if isinstance(data, dict) else {}}})
        digest = hasher.digest()
    parts = [digest] if digest is not None else []
    if results:
        data = results[-1].get("data")
        text = data.get("text/plain") if isinstance(data, dict) else None
        text = "".join(text) if isinstance(text, list) else text
        if not isinstance(text, str):
            return ()
        parts.append(text.encode("utf-8", "surrogatepass"))
    return (hash_bytes(b"\0".join(parts)),) if parts else ()


@dataclass(frozen=True)
class FileFacts:
    """What we know of one file at one moment; ``pending``: its hash is left to a background worker."""

    path: str
    size: Optional[int]
    mtime: Optional[float]
    hash: Optional[str]
    error: Optional[str] = None
    pending: bool = False
    key: Optional[tuple[int, int, int]] = None  # (size, mtime_ns, inode) when the file was seen


class FileHashCache:
    """Hash files, remembering results by (path, size, mtime_ns, inode) so unchanged files are free.

    ``defer_over`` (bytes): :meth:`facts` hashes larger files not in the cache no more, but says they are
    ``pending`` and hands them to ``on_deferred(path, key)`` (the recorder's background worker); None hashes
    every file there and then. The cache is shared between threads: each entry is set in one assignment.
    """

    def __init__(self, *, defer_over: Optional[int] = None,
                 on_deferred: Optional[Callable[[str, tuple[int, int, int]], None]] = None) -> None:
        self._cache: dict[str, tuple[tuple[int, int, int], str]] = {}
        self.defer_over = defer_over
        self.on_deferred = on_deferred

    def __len__(self) -> int:
        return len(self._cache)

    def facts(self, path: str) -> FileFacts:
        """Return size, mtime and content hash of ``path``, or the reason they could not be read (or, for a
        file over ``defer_over`` bytes not in the cache, that its hash is pending)."""
        found, _ = self.lookup(path, self.defer_over)
        if found.pending and found.key is not None and self.on_deferred is not None:
            self.on_deferred(path, found.key)
        return found

    def lookup(self, path: str, hash_up_to: Optional[int]) -> tuple[FileFacts, bool]:
        """:meth:`facts`, hashing ``path`` there and then only if it holds at most ``hash_up_to`` bytes (None:
        whatever its size; negative: none); returns the facts and whether the file was read to hash it (not for
        a cached one). A file left unhashed comes back ``pending`` with its ``key``, for :meth:`complete`."""
        try:
            st = os.stat(path)
        except (OSError, ValueError) as exc:  # ValueError: a NUL byte, a surrogate no file system name holds
            return FileFacts(path, None, None, None, _describe(exc)), False
        if not S_ISREG(st.st_mode):
            return FileFacts(path, None, st.st_mtime, None, "not a regular file"), False
        key = _key(st)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            return FileFacts(path, st.st_size, st.st_mtime, cached[1], key=key), False
        if hash_up_to is not None and st.st_size > hash_up_to:
            return FileFacts(path, st.st_size, st.st_mtime, None, pending=True, key=key), False
        try:
            digest = hash_file(path)
        except (OSError, ValueError) as exc:
            return FileFacts(path, st.st_size, st.st_mtime, None, _describe(exc), key=key), True
        self._cache[path] = (key, digest)
        return FileFacts(path, st.st_size, st.st_mtime, digest, key=key), True

    def complete(self, path: str, key: tuple[int, int, int]) -> tuple[Optional[str], Optional[str]]:
        """Hash ``path`` as it was when seen with ``key`` (its cached hash when it still is): ``(hash, None)``,
        or ``(None, why)`` when it changed or went away in between (its content then is not known)."""
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            return cached[1], None
        try:
            if _key(os.stat(path)) != key:
                return None, CHANGED_BEFORE_HASHED
            digest = hash_file(path)
            if _key(os.stat(path)) != key:
                return None, CHANGED_BEFORE_HASHED
        except (OSError, ValueError) as exc:
            return None, _describe(exc)
        self._cache[path] = (key, digest)
        return digest, None


CHANGED_BEFORE_HASHED = "changed before it could be hashed"


def _key(st: os.stat_result) -> tuple[int, int, int]:
    return st.st_size, st.st_mtime_ns, st.st_ino


class HashingLock:
    """``hashing.lock`` in a journal folder: a recording kernel holds a shared ``flock`` on it while it still
    has file hashes to write into that journal, so a reader (another process) knows whether waiting for a
    ``pending`` hash can end. The lock goes with the process: a kernel that died holds none."""

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / HASHING_LOCK_NAME
        self._fd: Optional[int] = None

    def hold(self) -> bool:
        """Take the shared lock (once); True when held."""
        if self._fd is not None or fcntl is None:
            return self._fd is not None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:
            return False
        for _ in range(50):  # a reader's probe holds it for microseconds
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                self._fd = fd
                return True
            except BlockingIOError:
                time.sleep(0.001)
            except OSError:
                break
        os.close(fd)
        return False

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the lock

    def held_elsewhere(self) -> bool:
        """Whether some other holder has the lock now; True where this platform cannot tell."""
        if fcntl is None:
            return True
        try:
            fd = os.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return False
        except OSError:
            return True
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError: held; anything else: cannot tell
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)


def _describe(exc: Exception) -> str:
    name = type(exc).__name__
    return f"{name}: {getattr(exc, 'strerror', None) or exc}"
