"""Content hashing for code, outputs and data files.

BLAKE3 is used throughout: it runs at several GB/s on one core, well above the 1 GB/s target, and its
digests are stable across platforms. Files are hashed once per (path, size, mtime, inode); re-checking an
unchanged file is one ``os.stat`` and a dictionary lookup.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Optional

import blake3

from repro_kernel.runtime import file_digest, short_repr

PREFIX = "blake3:"
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


@dataclass(frozen=True)
class FileFacts:
    """What we know of one file at one moment."""

    path: str
    size: Optional[int]
    mtime: Optional[float]
    hash: Optional[str]
    error: Optional[str] = None


class FileHashCache:
    """Hash files, remembering results by (path, size, mtime_ns, inode) so unchanged files are free."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[tuple[int, int, int], str]] = {}

    def __len__(self) -> int:
        return len(self._cache)

    def facts(self, path: str) -> FileFacts:
        """Return size, mtime and content hash of ``path``, or the reason they could not be read."""
        try:
            st = os.stat(path)
        except OSError as exc:
            return FileFacts(path, None, None, None, _describe(exc))
        if not _is_regular(st.st_mode):
            return FileFacts(path, None, st.st_mtime, None, "not a regular file")
        key = (st.st_size, st.st_mtime_ns, st.st_ino)
        cached = self._cache.get(path)
        if cached is not None and cached[0] == key:
            return FileFacts(path, st.st_size, st.st_mtime, cached[1])
        try:
            digest = hash_file(path)
        except OSError as exc:
            return FileFacts(path, st.st_size, st.st_mtime, None, _describe(exc))
        self._cache[path] = (key, digest)
        return FileFacts(path, st.st_size, st.st_mtime, digest)


def _is_regular(mode: int) -> bool:
    import stat

    return stat.S_ISREG(mode)


def _describe(exc: OSError) -> str:
    name = type(exc).__name__
    return f"{name}: {exc.strerror or exc}"
