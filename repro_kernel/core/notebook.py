"""Reading a saved notebook: the one reader behind check, export and verify.

Only a regular file is read (a FIFO would block, a device never end); whatever is wrong with it (not UTF-8,
not JSON, numbers or nesting past what Python parses, an nbformat version this nbformat does not know, content
that does not validate) is one :class:`~repro_kernel.exceptions.NotebookError` line. nbformat's own reports of an
invalid notebook (log lines and warnings, on the running application's stderr) are held back: the one line says it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from traitlets.log import get_logger

from repro_kernel.exceptions import NotebookError
from repro_kernel.runtime import NotRegularFileError, open_regular

if TYPE_CHECKING:
    import nbformat

_DAMAGED = "the file is damaged; restore it from git or a checkpoint"
_RESAVE = "open and re-save it in JupyterLab, or restore it from git or a checkpoint"


@contextlib.contextmanager
def _nbformat_quiet() -> Iterator[None]:
    """nbformat logs an invalid notebook (through the running Application's log) and warns about missing cell
    ids; the caller's NotebookError says it once instead."""
    running: Any = get_logger()
    log: logging.Logger = getattr(running, "logger", running)  # a LoggerAdapter's logger
    disabled = log.disabled
    log.disabled = True
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        log.disabled = disabled


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:160]


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook; every problem becomes one :class:`NotebookError` line."""
    path = Path(path)
    if not os.path.lexists(path):
        raise NotebookError(f"{path} does not exist", hint="check the path")
    if path.is_dir():
        raise NotebookError(f"{path} is a folder, not a notebook", hint="name an .ipynb file")
    try:
        with open_regular(path) as handle:
            data = handle.read()
    except NotRegularFileError as exc:
        raise NotebookError(f"{path} is {exc.strerror}", hint="name an .ipynb file") from None
    except OSError as exc:  # a dangling link, a link loop, no permission
        raise NotebookError(f"cannot read {path} ({exc.strerror or exc})",
                            hint="check the path and the file's permissions") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotebookError(f"cannot read {path} (not UTF-8 text: byte {exc.start} is {data[exc.start]:#04x})",
                            hint=_DAMAGED) from None
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})", hint=_DAMAGED) from None
    except (ValueError, RecursionError) as exc:  # a number past Python's 4300 digits, nesting past its stack
        what = "nested too deeply" if isinstance(exc, RecursionError) else _first_line(exc).split(";")[0]
        raise NotebookError(f"{path} is JSON this reader refuses ({what})", hint=_DAMAGED) from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise NotebookError(f"{path} is JSON but not a Jupyter notebook (no cells)",
                            hint="name an .ipynb file saved by Jupyter")
    return _to_v4(path, raw)


def _to_v4(path: Path, raw: dict[str, Any]) -> nbformat.NotebookNode:
    """``raw`` (any nbformat version nbformat knows) as a validated version 4 notebook."""
    # Imported here, not at the top: nbformat brings jsonschema and its format checkers (a second or more),
    # and a kernel that records, or a live check of the sidebar's cells, never reads a notebook file.
    import nbformat

    major = raw.get("nbformat", 1)
    if type(major) is not int or major < 1:
        raise NotebookError(f"{path} has no valid nbformat version ({repr(major)[:40]})", hint=_RESAVE)
    if major not in nbformat.versions:
        newest = max(nbformat.versions)
        if major > newest:
            raise NotebookError(f"{path} is nbformat {major}, newer than this nbformat reads ({newest})",
                                hint="upgrade nbformat and jupyter-repro (pip install -U nbformat jupyter-repro)")
        raise NotebookError(f"{path} is nbformat {major}, which nbformat no longer reads", hint=_RESAVE)
    minor = raw.get("nbformat_minor") or 0
    try:
        with _nbformat_quiet():
            nb = nbformat.versions[major].to_notebook_json(raw, minor=minor)
            nb = nbformat.convert(nb, 4)
            nbformat.validate(nb)
    except Exception as exc:  # nbformat raises anything from ValidationError to TypeError on malformed input
        raise NotebookError(f"{path} is not a valid notebook ({_first_line(exc)})", hint=_RESAVE) from None
    return nb
