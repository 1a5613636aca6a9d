"""Verify leaves the project as it found it.

The replay runs where the recorded kernel ran (the notebook's folder), so a step that wrote a file when recorded
writes it again: a user's newer copy would be overwritten. :class:`KeepProjectFiles` copies aside, before the
replay, every file the kept steps wrote when recorded (the manifest step's ``writes``, relative to the replay's
working directory, never outside it) and puts each back afterwards, also when the replay fails; a file that was
not there before is removed again.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path
from types import TracebackType
from typing import Optional

from repro_kernel.runtime import clean_relative, within


class KeepProjectFiles:
    """A context: the files ``relatives`` (under ``workdir``) hold after it what they held before it."""

    def __init__(self, workdir: Path, relatives: Iterable[str]) -> None:
        self.workdir = workdir
        self.relatives = sorted({r for r in relatives if isinstance(r, str)})
        self.saved: list[tuple[Path, Optional[Path]]] = []  # (file, its copy; None: it did not exist)
        self.backup: Optional[Path] = None
        self.restored: list[str] = []

    def __enter__(self) -> KeepProjectFiles:
        for relative in self.relatives:
            clean = clean_relative(relative)
            path = self.workdir / clean if clean is not None else None
            if path is None or not within(self.workdir, path.parent):
                continue
            try:
                mode = os.lstat(path).st_mode
            except FileNotFoundError:
                self.saved.append((path, None))
                continue
            except OSError:
                continue
            if not stat.S_ISREG(mode):
                continue  # a folder, link or device is not the replay's to touch back
            if self.backup is None:
                self.backup = Path(tempfile.mkdtemp(prefix="repro-verify-keep-"))
            copy = self.backup / str(len(self.saved))
            shutil.copy2(path, copy, follow_symlinks=False)
            self.saved.append((path, copy))
        return self

    def __exit__(self, kind: Optional[type[BaseException]], value: Optional[BaseException],
                 traceback: Optional[TracebackType]) -> None:
        try:
            for path, copy in self.saved:
                try:
                    if copy is None:
                        if os.path.lexists(path) and stat.S_ISREG(os.lstat(path).st_mode):
                            path.unlink()
                            self.restored.append(str(path.relative_to(self.workdir)))
                    elif not _same(path, copy):
                        if os.path.islink(path):
                            path.unlink()
                        shutil.copy2(copy, path)
                        self.restored.append(str(path.relative_to(self.workdir)))
                except OSError:
                    pass  # (what cannot be put back is left as the replay wrote it)
        finally:
            if self.backup is not None:
                shutil.rmtree(self.backup, ignore_errors=True)


def _same(path: Path, copy: Path) -> bool:
    try:
        if path.stat().st_size != copy.stat().st_size:
            return False
        with open(path, "rb") as a, open(copy, "rb") as b:
            while True:
                chunk = a.read(1 << 20)
                if chunk != b.read(1 << 20):
                    return False
                if not chunk:
                    return True
    except OSError:
        return False
