"""``jupyter repro export NOTEBOOK``: write a linear replay script, notebook, manifest and binder/ folder.

``jupyter repro export --session ID`` with no notebook: the recorded session (terminal IPython, ``ipython
script.ipy``) from the ``.repro/`` journal in the working directory (or ``--journal PATH``), every execution in
the order it ran."""

from __future__ import annotations

import json
from typing import Optional

from traitlets import Bool, Unicode

from repro_kernel.cli.app import ReproSubApp
from repro_kernel.export.manifest import MANIFEST_NAME
from repro_kernel.export.mlflow_log import log_export, require_mlflow, untracked_store_note
from repro_kernel.export.render import MODES
from repro_kernel.export.write import export_notebook, export_session


class ExportApp(ReproSubApp):
    """Write a linear replay script, notebook, manifest and binder/ folder from a recorded session."""

    name = "jupyter-repro-export"
    usage = "jupyter repro export [options] NOTEBOOK.ipynb | --session ID [--journal PATH]"
    exit_codes = "0 written, 2 bad input or usage (a notebook that cannot be read, a folder that is not an export)"
    description = __doc__
    examples = """
    jupyter repro export analysis.ipynb
    jupyter repro export analysis.ipynb -o replay/ --mode history --bundle-data --force
    jupyter repro export --session 3f2a8c1d -o replay/    # a terminal IPython / script session, no notebook
    """
    output = Unicode("", help="Folder to write (default: <notebook>.repro beside the notebook; with --session and "
                              "no notebook: session-<id>.repro here).").tag(config=True)
    mode = Unicode("slice", help="slice: only what the saved outputs need; history: every execution; "
                                 "document: the current cells top to bottom.").tag(config=True)
    bundle_data = Bool(False, help="Copy the input files into the folder so it replays on its own.").tag(
        config=True)
    bundle_secrets = Bool(False, help="With --bundle-data, also copy inputs that look like credentials (.env, "
                                      "*.pem, *.key, id_rsa*, .netrc, credentials*, *.p12, .pgpass, .npmrc, "
                                      ".pypirc, secrets.*, files detect-secrets flags); left out otherwise.").tag(
        config=True)
    force = Bool(False, help="Overwrite the output folder if it exists.").tag(config=True)
    session = Unicode("", help="Replay this recorded session (id or unique prefix) instead of the one the saved "
                               "cells show (the same one `jupyter repro check` judges); with no notebook, export "
                               "that session from the journal (terminal IPython, `ipython script.ipy`).").tag(
        config=True)
    journal = Unicode("", help="With --session and no notebook: the .repro folder (or its journal.sqlite) to read "
                               "(default: .repro/ in the working directory).").tag(config=True)
    mlflow = Unicode(None, allow_none=True, help="Also log the export as an MLflow run to this tracking URI "
                     "(--mlflow alone: MLFLOW_TRACKING_URI, else sqlite mlflow.db beside the notebook); "
                     "needs `pip install 'jupyter-repro[mlflow]'`.").tag(config=True)
    aliases = {"o": "ExportApp.output", "output": "ExportApp.output", "mode": "ExportApp.mode",
               "mlflow": "ExportApp.mlflow", "session": "ExportApp.session",
               "journal": "ExportApp.journal"}
    flags = {
        "bundle-data": ({"ExportApp": {"bundle_data": True}}, bundle_data.help),
        "bundle-secrets": ({"ExportApp": {"bundle_secrets": True}}, bundle_secrets.help),
        "force": ({"ExportApp": {"force": True}}, force.help),
        "mlflow": ({"ExportApp": {"mlflow": ""}}, "Also log the export as an MLflow run to the default store."),
    }

    def run(self) -> int:
        if self.mlflow and self.mlflow.endswith(".ipynb") and not self.extra_args:
            self.extra_args, self.mlflow = [self.mlflow], ""  # `--mlflow NB`: the flag took no URI
        if self.mlflow is not None:
            require_mlflow(self.mlflow or None)
        if self.mode not in MODES:
            self.usage_error(f"--mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        notebook: Optional[str] = None
        if self.session and not self.extra_args:
            if self.mode == "document":
                self.usage_error("--mode document replays a notebook's cells: give the notebook, or export the "
                                 "session in history mode (the default with --session and no notebook)")
            directory = export_session(self.session, output=self.output or None, force=self.force,
                                       journal=self.journal or None, bundle_data=self.bundle_data,
                                       bundle_secrets=self.bundle_secrets)
        else:
            if self.journal:
                self.usage_error("--journal goes with --session and no notebook (a notebook's journal is the "
                                 ".repro/ beside it)")
            (notebook,) = self.positional(1, "one notebook path, or --session ID to export a recorded session "
                                             "with no notebook")
            directory = export_notebook(
                notebook, mode=self.mode, force=self.force, output=self.output or None, bundle_data=self.bundle_data,
                session=self.session or None, bundle_secrets=self.bundle_secrets,
            )
        manifest = json.loads((directory / MANIFEST_NAME).read_text("utf-8"))
        print(f"wrote {directory} ({len(manifest['steps'])} steps, {manifest['mode']} mode)")
        for note in manifest.get("notes", []):
            print(f"  note: {note}")
        for caveat in manifest["not_guaranteed"]:
            print(f"  cannot guarantee: {caveat}")
        if self.mlflow is not None:
            logged = log_export(directory, notebook=notebook, tracking_uri=self.mlflow or None)
            print(f"logged MLflow run {logged.run_id} to {logged.tracking_uri} (artifacts: {logged.artifact_uri})")
            note = untracked_store_note(logged.tracking_uri)
            if note:
                print(f"  note: {note}")
        return 0
