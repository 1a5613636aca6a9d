"""Writing an export folder to disk: refuse to overwrite what is not an export, write atomically, seal it."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Optional

from repro_kernel.core.notebook import read_notebook
from repro_kernel.exceptions import BadInputError
from repro_kernel.export.build import default_output_dir
from repro_kernel.export.manifest import MANIFEST_NAME, seal, validate_manifest
from repro_kernel.export.nbconvert import ReproExporter
from repro_kernel.export.render import Export, dumps_listing


def _is_export_folder(directory: Path) -> bool:
    """True for a folder an earlier export wrote: its manifest names jupyter-repro as the generator."""
    try:
        manifest = json.loads((directory / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and (manifest.get("generator") or {}).get("name") == "jupyter-repro"


def check_replaceable(directory: Path, force: bool) -> None:
    """Refuse to write over ``directory`` unless it is absent, or ``force`` and it is empty or an export.

    ``--force`` replaces an earlier export, never an arbitrary folder: ``-o . --force`` must not delete a
    project.
    """
    if not directory.exists():
        return
    if not directory.is_dir():
        raise BadInputError(f"{directory} exists and is not a folder", hint="choose another -o DIR")
    if not force:
        raise BadInputError(f"{directory} already exists", hint="pass --force to overwrite it, or -o DIR")
    if any(directory.iterdir()) and not _is_export_folder(directory):
        raise BadInputError(
            f"{directory} is not a jupyter-repro export folder (no {MANIFEST_NAME} written by jupyter-repro), "
            "so --force will not replace it",
            hint="choose an empty or new -o DIR",
        )


def write_export(export: Export, directory: Path, *, force: bool = False) -> Path:
    """Write ``export`` into ``directory`` (refusing to replace an existing folder unless ``force``)."""
    directory = Path(directory)
    check_replaceable(directory, force)
    parent = directory.resolve().parent
    parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=parent))
    try:
        for rel, data in export.files.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        for rel, source in export.copies.items():
            target = staging / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
        sealed = [rel for rel in export.files if not rel.startswith("files/")]
        seal(export.manifest, staging, sealed)
        validate_manifest(export.manifest)
        (staging / MANIFEST_NAME).write_text(dumps_listing(export.manifest, "steps"), encoding="utf-8")
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(staging, directory)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return directory


def export_notebook(
    notebook_path: Path | str,
    *,
    mode: str = "slice",
    force: bool = False,
    output: Optional[Path | str] = None,
    bundle_data: bool = False,
    session: Optional[str] = None,
) -> Path:
    """Export ``notebook_path`` (the sidebar's export action and the CLI); return the folder written."""
    notebook_path = Path(notebook_path).resolve()
    directory = Path(output).resolve() if output else default_output_dir(notebook_path)
    check_replaceable(directory, force)
    nb = read_notebook(notebook_path)
    exporter = ReproExporter(mode=mode, bundle_data=bundle_data, session=session or "")
    export = exporter.build(nb, notebook_path, directory)
    return write_export(export, directory, force=force)
