"""Safe paths inside a folder someone else may have crafted.

A journal arrives in a cloned repository (``.repro/`` is just files) and an export folder arrives from a
colleague: any path they name may climb out with ``..``, be absolute, or pass through a symbolic link that
points elsewhere. Every reader and writer of such a folder (export, its ``files/`` bundle, verify, the snapshot
store) goes through :func:`inside`, and writes through :func:`write_file` / :func:`copy_file`, which never
follow a link at the file they create. A refusal is one :class:`~repro_kernel.exceptions.BadInputError` line
naming the next step.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path, PurePath
from typing import Union

from repro_kernel.exceptions import BadInputError
from repro_kernel.runtime import NotRegularFileError, clean_relative, open_regular, within

__all__ = ["NotRegularFileError", "copy_file", "inside", "open_regular", "relative_name", "symlinks_out",
           "write_file"]

CRAFTED = "the folder was crafted or edited: move it aside and export (or record) again from a copy you trust"
_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)

Relative = Union[str, PurePath]


def relative_name(relative: Relative, *, what: str = "path", hint: str = CRAFTED) -> str:
    """``relative`` normalised, when it names something inside whatever folder it is joined to; else refuse
    (absolute, empty, or climbing out with ``..``). Purely lexical: see :func:`inside` for links."""
    text = relative.as_posix() if isinstance(relative, PurePath) else relative
    clean = clean_relative(text) if isinstance(text, str) else None
    if clean is None:
        raise BadInputError(f"refusing {what} {text!r}: it leads outside its folder", hint=hint)
    return clean


def inside(root: Path, relative: Relative, *, what: str = "path", hint: str = CRAFTED) -> Path:
    """``root / relative`` with every link resolved, when it stays inside ``root`` (resolved too); else one
    :class:`BadInputError` line. The file itself need not exist."""
    clean = relative_name(relative, what=what, hint=hint)
    real_root = Path(os.path.realpath(root))
    target = Path(os.path.realpath(real_root / clean))
    if not within(real_root, target) or target == real_root:
        raise BadInputError(f"refusing {what} {clean}: it resolves to {target}, outside {real_root}", hint=hint)
    return target


def symlinks_out(folder: Path) -> list[Path]:
    """The symbolic links under ``folder`` (not followed) that point outside it or nowhere."""
    found = []
    for parent, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = Path(parent) / name
            if path.is_symlink() and (not path.exists() or not within(folder, path)):
                found.append(path)
    return found


def _open_new(root: Path, relative: Relative, what: str, hint: str) -> int:
    target = inside(root, relative, what=what, hint=hint)
    target.parent.mkdir(parents=True, exist_ok=True)
    # O_NOFOLLOW: a link planted at the file itself is refused (ELOOP), never written through.
    return os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_NOFOLLOW | _O_BINARY, 0o666)


def write_file(root: Path, relative: Relative, data: bytes, *, what: str = "file", hint: str = CRAFTED) -> Path:
    """Write ``data`` to ``root / relative`` (folders made as needed), never outside ``root``, never through a
    link."""
    with os.fdopen(_open_new(root, relative, what, hint), "wb") as handle:
        handle.write(data)
    return inside(root, relative, what=what, hint=hint)


def copy_file(root: Path, relative: Relative, source: Path, *, what: str = "file", hint: str = CRAFTED) -> Path:
    """Copy the regular file ``source`` to ``root / relative`` under the rules of :func:`write_file`."""
    with open_regular(source) as reader, os.fdopen(_open_new(root, relative, what, hint), "wb") as writer:
        shutil.copyfileobj(reader, writer, 1 << 22)
    return inside(root, relative, what=what, hint=hint)
