"""Reading a saved notebook: the one reader behind check, export and verify."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from repro_kernel.exceptions import NotebookError


def read_notebook(path: Path) -> nbformat.NotebookNode:
    """Read and validate a notebook; every problem becomes one :class:`NotebookError` line."""
    if not path.exists():
        raise NotebookError(f"{path} does not exist", hint="check the path")
    if path.is_dir():
        raise NotebookError(f"{path} is a folder, not a notebook", hint="name an .ipynb file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(f"cannot read {path} ({exc})", hint="check the file's permissions and encoding") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})",
                            hint="the file is damaged; restore it from git or a checkpoint") from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise NotebookError(f"{path} is JSON but not a Jupyter notebook (no cells)",
                            hint="name an .ipynb file saved by Jupyter")
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotebookError(f"{path} is not a valid notebook ({first[:160]})",
                            hint="open and re-save it in JupyterLab, or run `jupyter trust`/nbformat to repair it") from None
    return nb
