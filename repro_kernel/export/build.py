"""``jupyter repro export``: a recorded session becomes a folder that replays it.

:func:`build_export` reads the journal and the saved notebook, plans the steps
(:func:`~repro_kernel.export.plan.plan_steps`) and renders every file (:mod:`repro_kernel.export.render`); it is
the one code path behind the CLI, the sidebar's export action and ``jupyter nbconvert --to repro``
(:mod:`repro_kernel.export.nbconvert`). The folder holds ``replay.py``, ``replay.ipynb``, ``repro_replay.py``
(the runtime), ``manifest.json``, ``requirements.txt``, ``binder/``, ``random-states.jsonl`` (the recorded
random states) and, with ``--bundle-data``, ``files/``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import nbformat

from repro_kernel.core.journal import Journal
from repro_kernel.core.notebook import read_notebook
from repro_kernel.exceptions import BadInputError, JournalError
from repro_kernel.export.plan import plan_steps
from repro_kernel.export.render import MODES, Export, _render
from repro_kernel.export.slicing import backward_slice


def build_export(
    notebook_path: Path,
    *,
    nb: Optional[nbformat.NotebookNode] = None,
    mode: str = "slice",
    bundle_data: bool = False,
    output_dir: Optional[Path] = None,
    session: Optional[str] = None,
    bundle_secrets: bool = False,
) -> Export:
    """Plan the replay of ``notebook_path`` and render every file of its export folder.

    ``session``: replay this recorded session (id or unique prefix) instead of the one the saved cells show.
    ``bundle_secrets``: with ``bundle_data``, also copy inputs that look like credential files (``.env``, keys).
    """
    if mode not in MODES:
        raise BadInputError(f"unknown mode {mode!r}", hint=f"choose one of {', '.join(MODES)}")
    if nb is None:
        nb = read_notebook(Path(notebook_path))  # before resolving: a link loop is the reader's one line
    notebook_path = Path(notebook_path).resolve()
    output_dir = Path(output_dir) if output_dir else default_output_dir(notebook_path)
    journal: Optional[Journal] = None
    try:
        journal = Journal.find(notebook_path)
    except JournalError as exc:
        # No journal: export from the saved cells. A damaged one is an error, as for check: never a silent
        # "ran without %repro start" export.
        if "no .repro journal" not in exc.message:
            raise
        journal = None
    try:
        plan = plan_steps(notebook_path, nb, journal, mode, backward_slice, session_id=session)
        if plan.unbound_session and journal is not None:
            _bind(journal, plan.unbound_session, notebook_path.name, plan.notes)
        return _render(notebook_path, nb, journal, plan, bundle_data, output_dir.resolve(), bundle_secrets)
    finally:
        if journal is not None:
            journal.close()


def default_output_dir(notebook_path: Path) -> Path:
    return notebook_path.with_name(notebook_path.stem + ".repro")


def _bind(journal: Journal, session_id: str, notebook: str, notes: list[str]) -> None:
    """Record that a session made without the notebook's path belongs to ``notebook``, so later checks and
    exports find it by name; a journal that cannot be written (read-only clone) keeps the match for this run."""
    try:
        journal.set_session_notebook(session_id, notebook)
        notes.append(f"bound session {session_id[:8]} to {notebook} in the journal")
    except Exception as exc:  # the export does not depend on it
        notes.append(f"session {session_id[:8]} could not be bound to {notebook} in the journal ({type(exc).__name__})")
