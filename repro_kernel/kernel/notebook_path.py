"""Which notebook a kernel serves: what the frontend told it, and where that file is from the kernel's side.

The recorder binds each session to its notebook by these (``.repro/`` goes beside the notebook); the frontend
can still name the notebook later, over the comm (``Recorder.set_notebook``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional


def notebook_from_environment(shell: Any) -> Optional[str]:
    """The notebook path the frontend told the kernel about, if any: jupyter_server's `JPY_SESSION_NAME`,
    IPython's `__session__`, VS Code's `__vsc_ipynb_file__`, else the name papermill injected
    (:func:`papermill_notebook`)."""
    user_ns = shell.user_ns
    for candidate in (os.environ.get("JPY_SESSION_NAME"), user_ns.get("__session__"),
                      user_ns.get("__vsc_ipynb_file__")):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            return candidate
    return papermill_notebook(user_ns)


def papermill_notebook(user_ns: Any) -> Optional[str]:
    """The output notebook's file name, where papermill's ``--inject-paths`` (or ``--inject-output-path``) put
    ``PAPERMILL_OUTPUT_PATH`` in the namespace; None otherwise or for a remote output (``s3://...``).

    The name only: papermill's paths are relative to where papermill ran, which need not be the kernel's
    working directory (``--cwd``). The recording stays in the kernel's working directory, named by the output
    notebook's file, and the readers find it from the output's ``metadata.papermill``
    (:func:`repro_kernel.analysis.sessions.recording_folders`)."""
    value = user_ns.get("PAPERMILL_OUTPUT_PATH") if hasattr(user_ns, "get") else None
    if not isinstance(value, str) or "://" in value or "\0" in value:
        return None
    name = value.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    return name if name.endswith(".ipynb") and name not in (".ipynb",) else None


def locate_notebook(notebook: Optional[str]) -> tuple[Path, Optional[str]]:
    """The folder and file name of ``notebook`` seen from the kernel's working directory; the working
    directory and None when there is no notebook."""
    if not notebook:
        return Path.cwd(), None
    path = Path(notebook)
    if not path.is_absolute():
        candidate = Path.cwd() / path
        here = Path.cwd() / path.name
        if not candidate.is_file() and (here.is_file() or not candidate.parent.is_dir()):
            # A path from the server's root (older jupyter_server) while the kernel runs in the
            # notebook's own folder: the name is what locates it.
            candidate = here
        path = candidate
    return path.parent, path.name
