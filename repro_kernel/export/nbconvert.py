"""``jupyter nbconvert --to repro nb.ipynb``: the export as an nbconvert exporter.

The CLI (``jupyter repro export``) and the sidebar call :meth:`ReproExporter.build`; nbconvert calls
:meth:`ReproExporter.from_notebook_node`, which runs the same build and hands nbconvert's writer the folder's
files as ``resources['outputs']`` (``nb.repro/manifest.json`` ...) with ``replay.py`` as the main output.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

from nbconvert.exporters import Exporter
from nbformat import NotebookNode
from traitlets import Bool, Unicode, default

from repro_kernel.export.build import build_export
from repro_kernel.export.manifest import MANIFEST_NAME, seal_bytes, validate_manifest
from repro_kernel.export.render import dumps_listing


class ReproExporter(Exporter):
    """Export a recorded notebook session as a replay folder (script, notebook, manifest, binder/)."""

    export_from_notebook = "Reproducible replay (jupyter-repro)"
    output_mimetype = "text/x-python"

    mode = Unicode("slice", help="slice, history or document (see `jupyter repro export --help`).").tag(config=True)
    bundle_data = Bool(False, help="Copy the input files into the export folder.").tag(config=True)
    bundle_secrets = Bool(False, help="With bundle_data, also copy inputs that look like credential files (.env, "
                                      "*.pem, *.key, id_rsa*, .netrc, credentials*, ...).").tag(config=True)
    session = Unicode("", help="Replay this recorded session (id or unique prefix) instead of the one the saved "
                               "cells show.").tag(config=True)

    @default("file_extension")
    def _file_extension_default(self) -> str:
        return ".py"

    def build(self, nb: NotebookNode, notebook_path: Path, output_dir: Optional[Path] = None) -> Any:
        """The one code path: plan and render the export of ``notebook_path`` (whose content is ``nb``)."""
        return build_export(Path(notebook_path), nb=nb, mode=self.mode, bundle_data=self.bundle_data,
                            output_dir=output_dir, session=self.session or None, bundle_secrets=self.bundle_secrets)

    def build_directory(self, meta: dict[str, Any]) -> Path:
        """The folder nbconvert's FilesWriter writes into: ``--output-dir`` (``FilesWriter.build_directory``),
        else the notebook's own folder (``resources['metadata']['path']``), as the writer decides."""
        writer = self.config.get("FilesWriter") if isinstance(self.config, dict) else None
        configured = writer.get("build_directory") if isinstance(writer, dict) else None
        return Path(configured if isinstance(configured, str) and configured else meta.get("path") or ".")

    # Returns the script's text, as nbconvert's own script/python exporters do (they override it the same way).
    def from_notebook_node(  # type: ignore[override]
        self, nb: NotebookNode, resources: Optional[dict[str, Any]] = None, **kw: Any
    ) -> tuple[str, dict[str, Any]]:
        nb_copy, resources = super().from_notebook_node(nb, resources, **kw)
        meta = resources.get("metadata", {})
        name = meta.get("name") or "Notebook"
        notebook_path = Path(meta.get("path") or ".") / f"{name}.ipynb"
        base = resources.get("unique_key") or name
        folder = f"{base}.repro"
        # Where nbconvert's writer puts it (--output-dir, else the notebook's folder): the manifest's workdir is
        # relative to that place, not to the folder nbconvert runs in.
        export = self.build(nb_copy, notebook_path.resolve(), (self.build_directory(meta) / folder).resolve())
        outputs: dict[str, bytes] = {}
        for rel, data in export.files.items():
            outputs[f"{folder}/{rel}"] = data
        for rel, source in export.copies.items():
            outputs[f"{folder}/{rel}"] = Path(source).read_bytes()
        # Sealed from the contents in memory: the same digests write_export computes on disk.
        manifest = seal_bytes(export.manifest, {rel: data for rel, data in export.files.items()
                                                if not rel.startswith("files/")})
        validate_manifest(manifest)
        outputs[f"{folder}/{MANIFEST_NAME}"] = dumps_listing(manifest, "steps").encode("utf-8")
        resources.setdefault("outputs", {}).update(outputs)
        # nbconvert writes the main output as <unique_key><extension>: put replay.py inside the folder too.
        resources["unique_key"] = os.path.join(folder, "replay")
        resources["repro_export"] = export
        return export.files["replay.py"].decode("utf-8"), resources
