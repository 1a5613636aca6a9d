"""The offline analysis: a saved notebook with its ``.repro`` journal (``jupyter repro check``, the export)."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any, Literal, Optional, Union

from repro_kernel.analysis.engine import analyze
from repro_kernel.analysis.model import KINDS, SEVERITIES, Cell, Context, Flag, Report
from repro_kernel.analysis.rules.environment import current_environment, previous_environment
from repro_kernel.analysis.rules.secrets import scrubbed
from repro_kernel.analysis.sessions import (
    SessionMatch,
    build_executions,
    cells_from_dicts,
    choose_session,
    find_journal,
    recording_folder,
    synthesize_executions,
)
from repro_kernel.core.hashing import FileHashCache
from repro_kernel.core.journal import Journal
from repro_kernel.core.notebook import read_notebook
from repro_kernel.core.records import saved_copy
from repro_kernel.exceptions import JournalError


def analyze_notebook(
    path: Union[str, Path],
    *,
    journal: Union[None, Literal[False], str, Path, Journal] = None,
    session: Optional[str] = None,
) -> Report:
    """Analyse a saved notebook with its ``.repro`` journal when there is one.

    ``journal``: None finds the journal where the recorder wrote it (beside the notebook, or where the kernel of
    a runner such as papermill ran: :func:`~repro_kernel.analysis.sessions.find_journal`; none found: judge from
    the notebook alone);
    False ignores any journal; a path or an open :class:`~repro_kernel.core.journal.Journal` uses that one.
    ``session``: a session id (or a unique prefix); default the session the saved cells show
    (:func:`~repro_kernel.analysis.sessions.choose_session`, the same choice the export makes).
    Raises :class:`~repro_kernel.exceptions.NotebookError` for a missing, unreadable or invalid notebook and
    :class:`~repro_kernel.exceptions.JournalError` for a damaged journal or an unknown session.
    """
    path = Path(path)
    nb = read_notebook(path)
    page = cells_from_dicts([dict(c, source=c.get("source")) for c in nb.get("cells", [])])
    context = Context(notebook_dir=path.resolve().parent, file_facts=FileHashCache().facts,
                      notebook_metadata=dict(nb.get("metadata") or {}))
    opened: Optional[Journal] = None
    owned = False
    if journal is not False:
        if journal is None:
            try:
                opened, owned = find_journal(path, nb, session), True
            except JournalError as exc:
                if "no .repro journal" not in exc.message:
                    raise
        elif isinstance(journal, (str, Path)):
            opened, owned = Journal(Path(journal), create=False), True
        else:
            opened = journal
    try:
        records: list[dict[str, Any]] = []
        session_id: Optional[str] = None
        match: Optional[SessionMatch] = None
        if opened is not None:
            match = choose_session(opened, path.name, page, session)
            if match is not None:
                session_id, records = match.session_id, match.records
                sessions = {s["session_id"]: s for s in opened.sessions()}
                context.environment = sessions.get(session_id, {}).get("environment") or {}
                # Relative paths were recorded from the recorder's folder (the kernel's working directory:
                # papermill's --cwd, not where its output notebook lies).
                context.notebook_dir = recording_folder(opened, context.environment) or context.notebook_dir
                context.previous_environment = previous_environment(opened, path.name, session_id, {})
                context.snapshot_hashes = opened.snapshot_hashes()
                context.current_environment = current_environment()
        if records and match is not None:
            executions = build_executions(records, match.mapping)
        else:
            context.have_journal = False
            executions = synthesize_executions(page)
        flags, not_judged = analyze(executions, page, context)
        if not records and opened is not None:
            not_judged = {k: f"the journal has no session of this notebook; {v}" for k, v in not_judged.items()}
        if not records:
            flags += scrubbed(flags_from_saved_copy(nb, page, not_judged))
        return Report(flags, page, notebook=str(path),
                      journal=str(opened.database_path) if opened is not None and records else None,
                      session_id=session_id if records else None, executions=len(executions),
                      not_judged=not_judged)
    finally:
        if owned and opened is not None:
            opened.close()


def flags_from_saved_copy(nb: dict[str, Any], page: list[Cell], not_judged: dict[str, str]) -> list[Flag]:
    """Without a journal, the flags of the kinds the notebook alone cannot judge, as the recording kernel
    last computed them: the sidebar keeps them in ``metadata.repro`` on every save, so a notebook shared
    without its ``.repro/`` still carries them. Their cells must still be on the page; ``not_judged`` says
    where each carried kind came from."""


    saved = saved_copy(nb.get("metadata"))
    if saved is None or not isinstance(saved.get("flags"), list):
        return []
    on_page = {c.id for c in page}
    when: Any = saved.get("saved_at")
    try:
        stamp = datetime.datetime.fromtimestamp(float(when), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        stamp, when = "an unknown time", None
    carried: list[Flag] = []
    for item in saved["flags"]:
        if not isinstance(item, dict) or item.get("kind") not in not_judged or item.get("kind") not in KINDS:
            continue
        cells = [c for c in item.get("cells") or [] if isinstance(c, str) and c in on_page]
        if not cells or not isinstance(item.get("message"), str) or not isinstance(item.get("fix"), str):
            continue
        severity = item.get("severity") if item.get("severity") in SEVERITIES else ""
        details = dict(item.get("details") or {}) if isinstance(item.get("details"), dict) else {}
        details.update(source="metadata.repro", saved_at=when)
        carried.append(Flag(item["kind"], cells, item["message"], item["fix"], severity or "", details))
    if isinstance(saved.get("status"), dict):
        for kind in list(not_judged):
            count = sum(1 for f in carried if f.kind == kind)
            not_judged[kind] = (f"{count} flag(s) carried over from what the recording kernel "
                                f"found when the notebook was saved ({stamp}, metadata.repro); "
                                f"without it: {not_judged[kind]}")
    return carried
