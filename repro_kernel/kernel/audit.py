"""File and network access seen through ``sys.addaudithook``.

Audit hooks cannot be removed once added, so one hook is installed per process and switched on only while
a recorded cell runs. While on, it does nothing but append a small tuple; classifying paths, hashing files
and resolving hosts all happen after the cell.
"""

from __future__ import annotations

import os
import sys
from _thread import get_ident
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Optional
from urllib.parse import urlsplit

_events: Optional[list[tuple[Any, ...]]] = None
_installed = False
# Threads of the recorder itself (the flags worker, verify): what they open is never the user's cell's.
_own_threads: set[int] = set()

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC


def _hook(event: str, args: tuple[Any, ...]) -> None:
    events = _events
    if events is None:
        return
    if _own_threads and get_ident() in _own_threads:
        return
    if event == "open":
        events.append(("open", args[0], args[1], args[2]))
    elif event == "socket.connect":
        events.append(("connect", args[1]))
    elif event == "socket.getaddrinfo":
        events.append(("resolve", args[0], args[1]))
    elif event == "urllib.Request":
        events.append(("url", args[0]))
    elif event in ("os.rename", "os.remove", "shutil.copyfile", "shutil.move"):
        events.append((event, args[0], args[1] if len(args) > 1 else None))


def install() -> None:
    global _installed
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True


@contextmanager
def recorder_thread() -> Iterator[None]:
    """Wrap the body of a recorder thread: its file and network access is not charged to a cell."""
    _own_threads.add(get_ident())
    try:
        yield
    finally:
        _own_threads.discard(get_ident())


def begin() -> None:
    """Start collecting events (call last thing before the user's code runs)."""
    global _events
    _events = []


def end() -> list[tuple[Any, ...]]:
    """Stop collecting and return what was seen (call first thing after the user's code ran)."""
    global _events
    events, _events = _events, None
    return events or []


def resume(events: list[tuple[Any, ...]]) -> None:
    """Collect again, after ``events`` (what :func:`end` returned when recording paused mid-cell)."""
    global _events
    _events = list(events)


def is_write(mode: Any, flags: Any) -> bool:
    if isinstance(mode, str):
        return any(c in mode for c in "wax+")
    if isinstance(flags, int):
        return bool(flags & _WRITE_FLAGS)
    return False


# Files that belong to Python itself, the kernel or the OS rather than to the user's data.
_SYSTEM_PREFIXES = tuple(
    {os.path.realpath(p) + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    | {"/proc/", "/sys/", "/dev/", "/etc/", "/usr/lib/", "/usr/share/", "/lib/", "/run/"}
)
_CODE_SUFFIXES = (".py", ".pyc", ".pyd", ".so", ".pth", ".dylib", ".dll")


def _tool_dirs() -> tuple[str, ...]:
    """Caches and settings of the tools themselves (matplotlib's font list, IPython and Jupyter config):
    read by libraries on their own, never the user's data."""
    home = os.path.expanduser("~")
    dirs = [
        os.path.join(home, ".cache", "matplotlib"),
        os.path.join(home, ".cache", "fontconfig"),
        os.path.join(home, ".config", "matplotlib"),
        os.path.join(home, ".matplotlib"),
        os.path.join(home, ".ipython"),
        os.path.join(home, ".jupyter"),
        os.path.join(home, ".local", "share", "jupyter"),
        os.path.join(home, ".config", "dask"),
    ]
    for variable in ("MPLCONFIGDIR", "IPYTHONDIR", "JUPYTER_CONFIG_DIR", "JUPYTER_DATA_DIR"):
        if os.environ.get(variable):
            dirs.append(os.environ[variable])
    return tuple(os.path.realpath(d) + os.sep for d in dirs)


_TOOL_DIRS = _tool_dirs()


def _host_text(raw: Any) -> Any:
    """A host name as text (the idna codec has no lenient mode: fall back to ASCII with replacements)."""
    if not isinstance(raw, bytes):
        return raw
    try:
        return raw.decode("idna")
    except UnicodeError:
        return raw.decode("ascii", "replace")


def classify(events: list[tuple[Any, ...]], ignore_dirs: tuple[str, ...]) -> tuple[
    dict[str, None], dict[str, None], list[dict[str, Any]]
]:
    """Split raw events into (paths read, paths written, network endpoints), in order, deduplicated."""
    # One getcwd for the whole cell (os.path.abspath asks the OS again for every path: a cell that opens
    # 10,000 files paid for 10,000 of them). The cell has ended: every path is taken from where it ended.
    try:
        cwd = os.getcwd()
    except OSError:  # the working folder was deleted
        cwd = os.sep

    def absolute(path: str) -> str:
        return os.path.normpath(path if os.path.isabs(path) else os.path.join(cwd, path))

    reads: dict[str, None] = {}
    writes: dict[str, None] = {}
    network: list[dict[str, Any]] = []
    seen_net: set[tuple[Any, ...]] = set()
    for event in events:
        kind = event[0]
        if kind == "open":
            raw = event[1]
            if isinstance(raw, int):
                continue  # an already-open descriptor: its path was seen when it was opened
            try:
                path = os.fsdecode(os.fspath(raw))
            except TypeError:
                continue
            path = absolute(path)
            if path.endswith(_CODE_SUFFIXES) or path.startswith(_SYSTEM_PREFIXES) or path.startswith(_TOOL_DIRS):
                continue
            if ignore_dirs and path.startswith(ignore_dirs):
                continue
            if is_write(event[2], event[3]):
                writes.setdefault(path)
            else:
                reads.setdefault(path)
        elif kind == "connect":
            address = event[1]
            if isinstance(address, tuple) and len(address) >= 2:
                host, port = str(address[0]), address[1]
                key = (host, port)
                if key not in seen_net:
                    seen_net.add(key)
                    network.append({"host": host, "port": int(port), "url": None})
            elif isinstance(address, (str, bytes)):
                continue  # a Unix socket: local, not network input
        elif kind == "resolve":
            # The host name a connection is about to use (requests, httpx, urllib all resolve first).
            host = _host_text(event[1])
            if isinstance(host, str) and "@" in host:
                host = host.rsplit("@", 1)[-1]  # `user:password@host` as some clients resolve it: keep the host
            if isinstance(host, str) and host:
                port = event[2]
                port = int(port) if isinstance(port, int) or (isinstance(port, str) and port.isdigit()) else None
                resolve_key = ("resolve", host, port)
                if resolve_key not in seen_net:
                    seen_net.add(resolve_key)
                    network.append({"host": host, "port": port, "url": None})
        elif kind == "url":
            url = event[1]
            if isinstance(url, str) and ("url", url) not in seen_net:
                seen_net.add(("url", url))
                try:
                    parts = urlsplit(url)
                    network.append({"host": parts.hostname, "port": parts.port, "url": url})
                except ValueError:  # a malformed URL (a bad port): the recorder redacts the text it keeps
                    network.append({"host": None, "port": None, "url": url})
        elif kind in ("os.rename", "shutil.copyfile", "shutil.move"):
            try:
                writes.setdefault(absolute(os.fsdecode(os.fspath(event[2]))))
            except TypeError:
                pass
    return reads, writes, network
