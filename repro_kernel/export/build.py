"""``jupyter repro export``: a recorded session becomes a folder that replays it.

:func:`build_export` reads the journal and the saved notebook, plans the steps
(:func:`~repro_kernel.export.plan.plan_steps`) and renders every file (:mod:`repro_kernel.export.render`); it is
the one code path behind the CLI, the sidebar's export action and ``jupyter nbconvert --to repro``
(:mod:`repro_kernel.export.nbconvert`). The folder holds ``replay.py``, ``replay.ipynb``, ``repro_replay.py``
(the runtime), ``manifest.json``, ``requirements.txt``, ``binder/``, ``random-states.jsonl`` (the recorded
random states) and, with ``--bundle-data``, ``files/``.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Optional

import nbformat

from repro_kernel.analysis.sessions import find_journal
from repro_kernel.core.journal import Journal
from repro_kernel.core.notebook import read_notebook
from repro_kernel.exceptions import BadInputError, JournalError
from repro_kernel.export.plan import find_session, plan_session, plan_steps
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
        journal = find_journal(notebook_path, nb, session)  # beside it, or where papermill's kernel ran
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


# -- a session with no notebook (terminal IPython, `ipython script.ipy`) --------------------------------------------


def open_session_journal(journal_path: Optional[Path] = None, where: Optional[Path] = None) -> Journal:
    """The journal that holds sessions recorded in ``where`` (default: the working directory): its ``.repro/``
    (or the per-user fallback the recorder writes to when that folder cannot be written); or ``journal_path``:
    a ``.repro`` folder, its ``journal.sqlite``, or a folder holding ``.repro/``."""
    if journal_path is not None:
        path = Path(journal_path)
        if path.is_file():
            path = path.parent
        elif (path / ".repro").is_dir() and not (path / "journal.sqlite").exists():
            path = path / ".repro"
        if not path.is_dir():
            raise BadInputError(f"no journal at {journal_path}", hint="give --journal the .repro folder a session "
                                "was recorded to (`%repro status` shows it)")
        return Journal(path, create=False)
    folder = Path(where or Path.cwd()).resolve()
    try:
        return Journal.find(folder / "session")  # looks beside it: folder/.repro, then the per-user fallback
    except JournalError as exc:
        if "no .repro journal" not in exc.message:
            raise
        raise JournalError(f"no .repro journal in {folder}", hint="run this where `%repro start` recorded (the "
                           "folder that holds .repro/), or pass --journal PATH") from None


def session_label(session: dict[str, Any]) -> str:
    """How an export of a session with no notebook names what it replays."""
    short = session["session_id"][:8]
    return f"session {short} of {session['notebook']}" if session.get("notebook") else f"IPython session {short}"


def default_session_dir(session_id: str, where: Optional[Path] = None) -> Path:
    return Path(where or Path.cwd()) / f"session-{session_id[:8]}.repro"


def build_session_export(
    session: str,
    *,
    journal_path: Optional[Path] = None,
    where: Optional[Path] = None,
    output_dir: Optional[Path] = None,
    bundle_data: bool = False,
    bundle_secrets: bool = False,
) -> Export:
    """Plan and render the replay of recorded ``session`` (id or unique prefix) with no notebook: every execution
    in the order it ran (:func:`~repro_kernel.export.plan.plan_session`), in the folder the kernel ran in."""
    journal = open_session_journal(journal_path, where)
    try:
        chosen = find_session(journal, session)
        plan = plan_session(journal, session, _session_workdir(journal, chosen, where))
        label = session_label(chosen)
        plan.notes.append(f"exported from the journal with no notebook ({label}, {journal.directory}): every "
                          "recorded execution is replayed and compared by its recorded output hash")
        output_dir = Path(output_dir) if output_dir else default_session_dir(chosen["session_id"], where)
        # The renderer reads a notebook file (its name, kernelspec and digest): give it one made of the
        # session's own code, named for the session, outside the user's folders.
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(step.code) for step in plan.steps]
        with tempfile.TemporaryDirectory(prefix="repro-session-") as tmp:
            stand_in = Path(tmp) / label
            nbformat.write(nb, str(stand_in))
            export = _render(stand_in, nb, journal, plan, bundle_data, output_dir.resolve(), bundle_secrets)
        digest = export.manifest["notebook"]["sha256"]
        export.manifest["notebook"] = {"name": label, "path": label, "sha256": digest, "kernelspec": None,
                                       "language": "python"}
        kernel_cwd = export.manifest["replay"].get("kernel_cwd")
        if isinstance(kernel_cwd, dict):  # no notebook: the session's own folder is where its kernel ran
            kernel_cwd["from_notebook"] = "."
        export.manifest["flags"] = None
        export.manifest["flags_note"] = ("no notebook to judge: `jupyter repro check` runs the rules on a saved "
                                         "notebook")
        return export
    finally:
        journal.close()


def _session_workdir(journal: Journal, session: dict[str, Any], where: Optional[Path]) -> Path:
    """Where the kernel ran: the folder holding its ``.repro/`` (the recorder puts it in the working directory
    when there is no notebook), else the recorded working directory, else ``where``."""
    directory = Path(journal.directory).resolve()
    if directory.name == ".repro":
        return directory.parent
    recorded = (session.get("environment") or {}).get("cwd")
    if isinstance(recorded, str) and Path(recorded).is_dir():
        return Path(recorded)
    return Path(where or Path.cwd()).resolve()
