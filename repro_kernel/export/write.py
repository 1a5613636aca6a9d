"""Writing an export folder to disk: refuse to overwrite what is not an export, write atomically, seal it."""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
from pathlib import Path
from typing import Optional

from repro_kernel.core.notebook import read_notebook
from repro_kernel.core.paths import NotRegularFileError, copy_file, open_regular, symlinks_out, write_file
from repro_kernel.exceptions import BadInputError
from repro_kernel.export.build import build_session_export, default_output_dir, default_session_dir, open_session_journal
from repro_kernel.export.manifest import MANIFEST_NAME, seal, validate_manifest
from repro_kernel.export.nbconvert import ReproExporter
from repro_kernel.export.plan import find_session
from repro_kernel.export.render import Export, dumps_listing, utf8


def _is_export_folder(directory: Path) -> bool:
    """True for a folder an earlier export wrote: its manifest names jupyter-repro as the generator."""
    try:
        with open_regular(directory / MANIFEST_NAME, follow_symlinks=False) as handle:
            manifest = json.loads(handle.read().decode("utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(manifest, dict) and (manifest.get("generator") or {}).get("name") == "jupyter-repro"


def check_replaceable(directory: Path, force: bool) -> None:
    """Refuse to write over ``directory`` unless it is absent, or ``force`` and it is empty or an export.

    ``--force`` replaces an earlier export, never an arbitrary folder: ``-o . --force`` must not delete a
    project. A link at ``directory``, or one inside it that points out, is refused: the export writes a real
    folder, and never through a link someone planted.
    """
    try:
        mode: Optional[int] = os.lstat(directory).st_mode
    except (FileNotFoundError, NotADirectoryError):
        mode = None  # nothing there (a parent that is a file is refused when the folder is made)
    except (OSError, ValueError) as exc:  # a name past the file system's limit, a NUL byte, no permission
        raise BadInputError(f"cannot use {directory} as the export folder "
                            f"({getattr(exc, 'strerror', None) or exc})", hint="choose another -o DIR") from None
    if mode is not None and stat.S_ISLNK(mode):
        raise BadInputError(f"{directory} is a symbolic link; an export writes a real folder",
                            hint="remove the link or choose another -o DIR")
    if mode is None:
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
    links = symlinks_out(directory)
    if links:
        raise BadInputError(
            f"{directory} holds {links[0].relative_to(directory)}, a symbolic link that points outside it, so "
            "--force will not replace it",
            hint="remove the link (or the folder) and export again, or choose another -o DIR",
        )


def _write_into(export: Export, staging: Path) -> None:
    """Every file of ``export`` into ``staging`` (fresh and ours), by the names it gives, none leaving it."""
    hint = "the journal or notebook names a file outside the export folder: record the notebook again"
    for rel, data in export.files.items():
        write_file(staging, rel, data, what="export file", hint=hint)
    for rel, source in export.copies.items():
        try:
            copy_file(staging, rel, source, what="bundled input", hint=hint)
        except (FileNotFoundError, NotRegularFileError, PermissionError) as exc:
            raise BadInputError(f"cannot bundle {source} ({exc.strerror or exc})",
                                hint="restore the file, or export without --bundle-data") from None
    sealed = [rel for rel in export.files if not rel.startswith("files/")]
    seal(export.manifest, staging, sealed)
    validate_manifest(export.manifest)
    write_file(staging, MANIFEST_NAME, utf8(dumps_listing(export.manifest, "steps")))


def write_export(export: Export, directory: Path, *, force: bool = False) -> Path:
    """Write ``export`` into ``directory`` (refusing to replace an existing folder unless ``force``).

    The files go into a fresh folder beside ``directory`` that then replaces it, so a failed export leaves
    nothing half-written; a folder that cannot be written is one line, not a traceback.
    """
    directory = Path(directory).absolute()
    check_replaceable(directory, force)
    parent = directory.parent.resolve()
    try:
        parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=parent))
    except OSError as exc:
        raise BadInputError(f"cannot write the export folder {directory} ({exc.strerror or exc})",
                            hint="choose a folder you can write with -o DIR") from None
    target = parent / directory.name
    try:
        _write_into(export, staging)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except OSError as exc:
        raise BadInputError(f"cannot write the export folder {directory} ({exc.strerror or exc})",
                            hint="choose a folder you can write with -o DIR") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def export_notebook(
    notebook_path: Path | str,
    *,
    mode: str = "slice",
    force: bool = False,
    output: Optional[Path | str] = None,
    bundle_data: bool = False,
    session: Optional[str] = None,
    bundle_secrets: bool = False,
) -> Path:
    """Export ``notebook_path`` (the sidebar's export action and the CLI); return the folder written.

    Every text file was scanned for secrets when it was rendered (:mod:`repro_kernel.core.secrets`); the seal
    covers the redacted contents. ``bundle_secrets``: with ``bundle_data``, copy credential-like inputs too."""
    nb = read_notebook(Path(notebook_path))  # first: a path that cannot be read (a link loop) is its one line
    notebook_path = Path(notebook_path).resolve()
    directory = Path(output).absolute() if output else default_output_dir(notebook_path)
    check_replaceable(directory, force)
    exporter = ReproExporter(mode=mode, bundle_data=bundle_data, session=session or "", bundle_secrets=bundle_secrets)
    export = exporter.build(nb, notebook_path, directory)
    return write_export(export, directory, force=force)


def export_session(
    session: str,
    *,
    output: Optional[Path | str] = None,
    force: bool = False,
    journal: Optional[Path | str] = None,
    where: Optional[Path | str] = None,
    bundle_data: bool = False,
    bundle_secrets: bool = False,
) -> Path:
    """Export recorded ``session`` (id or unique prefix) with no notebook: terminal IPython's ``%repro export``
    and ``jupyter repro export --session ID``; return the folder written (default
    ``session-<id>.repro`` in ``where``, the working directory)."""
    folder = Path(where).resolve() if where else Path.cwd()
    journal_path = Path(journal) if journal else None
    if output:
        directory = Path(output).absolute()
    else:
        with open_session_journal(journal_path, folder) as found:
            directory = default_session_dir(find_session(found, session)["session_id"], folder)
    check_replaceable(directory, force)
    export = build_session_export(session, journal_path=journal_path, where=folder, output_dir=directory,
                                  bundle_data=bundle_data, bundle_secrets=bundle_secrets)
    return write_export(export, directory, force=force)
