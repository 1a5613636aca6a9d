"""``--since-last``: remember which exports reproduced, and skip them while nothing they depend on changed.

The state file (``.jupyter-repro-state.json`` in the folder the command runs in, or ``--state-file FILE``) is
one small JSON document: ``{"version": 1, "entries": {"<command> <absolute export path>": {"fingerprint":
"sha256:...", "status": ..., "at": <epoch seconds>}}}``. Only successes are recorded; a failure removes its
entry, so it runs again next time. Delete the file to start over.

An export's fingerprint covers what verify depends on: the bytes of its ``manifest.json`` (which seals the
script, the replay notebook, the runtime, the random states, the recorded input hashes and the pinned
requirements), every input file's size, modification time and inode where the replay will read it, the versions
of the pinned distributions installed here (an upgrade runs it again), this interpreter, and the options the
command was given. A notebook (exported on the fly) is never skipped: which data it reads is known only once
it is exported.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

from repro_kernel.exceptions import BadInputError
from repro_kernel.runtime import clean_relative

STATE_NAME = ".jupyter-repro-state.json"
STATE_VERSION = 1


class StateFileError(BadInputError):
    """The state file of ``--since-last`` cannot be read or written."""


def _installed(distribution: str) -> Optional[str]:
    try:
        return importlib.metadata.version(distribution)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        return None


def _input_path(folder: Path, manifest: dict[str, Any], item: dict[str, Any]) -> Optional[Path]:
    """Where the replay reads an input (the runtime's rule), or None for an entry that names no safe path."""
    if item.get("bundled"):
        bundled = clean_relative(str(item["bundled"]))
        return folder / bundled if bundled else None
    workdir = folder / str((manifest.get("replay") or {}).get("workdir") or ".")
    if item.get("rel") is not None:
        rel = clean_relative(str(item["rel"]))
        return workdir / rel if rel else None
    return Path(str(item["abspath"])) if item.get("abspath") else None


def fingerprint(export: Path, options: Sequence[str] = ()) -> Optional[str]:
    """The export's fingerprint (see the module docstring), or None when it has none (a notebook, an unreadable
    or malformed manifest): such an item always runs."""
    try:
        raw = (export / "manifest.json").read_bytes()
        manifest = json.loads(raw)
    except (OSError, ValueError):
        return None
    if not isinstance(manifest, dict):
        return None
    digest = hashlib.sha256(raw)
    parts: list[Any] = [sys.executable, sys.version, list(options)]
    try:
        for item in manifest.get("inputs") or ():
            path = _input_path(export.resolve(), manifest, item)
            if path is None:
                return None
            try:
                stat = path.stat()
                parts.append([str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino])
            except OSError:
                parts.append([str(path), None])
        for requirement in manifest.get("requirements") or ():
            name = str(requirement.get("distribution"))
            parts.append([name, requirement.get("version"), _installed(name)])
    except (AttributeError, TypeError):
        return None
    digest.update(json.dumps(parts, default=str).encode("utf-8", "surrogatepass"))
    return "sha256:" + digest.hexdigest()


class BatchState:
    """The state file: read once at the start of a batch, written once at its end (atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.entries: dict[str, dict[str, Any]] = {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return
        except (OSError, ValueError) as exc:
            raise StateFileError(f"cannot read the --since-last state file {self.path} ({exc})",
                                 hint="delete it to start over") from None
        if not (isinstance(data, dict) and data.get("version") == STATE_VERSION and isinstance(data.get("entries"), dict)):
            raise StateFileError(f"{self.path} is not a jupyter-repro state file of version {STATE_VERSION}",
                                 hint="delete it to start over, or name another with --state-file")
        self.entries = data["entries"]

    @staticmethod
    def key(command: str, item: Path) -> str:
        return f"{command} {os.path.realpath(item)}"

    def unchanged(self, command: str, item: Path, print_: Optional[str]) -> bool:
        """Whether ``item`` succeeded last time with this same fingerprint."""
        entry = self.entries.get(self.key(command, item))
        return print_ is not None and isinstance(entry, dict) and entry.get("fingerprint") == print_

    def record(self, command: str, item: Path, print_: Optional[str], status: str, passed: bool) -> None:
        key = self.key(command, item)
        if passed and print_ is not None:
            self.entries[key] = {"fingerprint": print_, "status": status, "at": round(time.time(), 3)}
        else:
            self.entries.pop(key, None)

    def save(self) -> None:
        folder = self.path.parent if str(self.path.parent) else Path(".")
        try:
            handle, temporary = tempfile.mkstemp(prefix=".repro-state-", dir=folder)
            with os.fdopen(handle, "w", encoding="utf-8") as out:
                json.dump({"version": STATE_VERSION, "entries": self.entries}, out, indent=1, sort_keys=True)
            os.replace(temporary, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError, UnboundLocalError):
                os.unlink(temporary)
            raise StateFileError(f"cannot write the --since-last state file {self.path} ({exc.strerror or exc})",
                                 hint="name a writable file with --state-file") from None
