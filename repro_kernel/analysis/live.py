"""The live analysis: the kernel's current session against the page the frontend sent.

The comm calls :func:`analyze_live` after cells run and when the page changes (injected by
``repro_kernel.load_ipython_extension``). Records only ever get appended to a session, so each update resolves
only the new ones (:class:`_LiveState`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from repro_kernel.analysis.engine import analyze, resolve_more
from repro_kernel.analysis.model import Context, Execution, Report, Write
from repro_kernel.analysis.rules.environment import previous_environment
from repro_kernel.analysis.rules.files import Preservation, project_root
from repro_kernel.analysis.rules.secrets import scrubbed_inputs
from repro_kernel.analysis.sessions import _execution, _page_from_records, cells_from_dicts, map_executions

_live_cache: dict[str, Any] = {}


def analyze_live(recorder: Any, cells: Optional[list[dict[str, Any]]]) -> dict[str, Any]:
    """Analyse the recorder's current session against the page the frontend sent (or none).

    Returns ``{"flags": [Flag dict], "cells": {cell_id: [kind, ...]}}`` as the comm pushes it.
    """
    report = live_report(recorder, cells)
    return {"flags": [f.to_dict() for f in report.flags], "cells": report.cell_kinds()}


def live_report(recorder: Any, cells: Optional[list[dict[str, Any]]]) -> Report:
    """The :class:`Report` behind :func:`analyze_live`."""
    records: list[dict[str, Any]] = list(getattr(recorder, "records", None) or [])
    journal = getattr(recorder, "journal", None)
    context = Context(
        environment=getattr(recorder, "environment", None) or {},
        file_facts=recorder.file_cache.facts if getattr(recorder, "file_cache", None) else None,
        notebook_dir=Path(getattr(recorder, "notebook_dir", None) or Path.cwd()),
    )
    if journal is not None:
        try:
            context.snapshot_hashes = journal.snapshot_hashes()
        except Exception:
            context.snapshot_hashes = set()
        context.previous_environment = previous_environment(
            journal, getattr(recorder, "notebook", None), getattr(recorder, "session_id", None), _live_cache)
    if cells is not None:
        cached = _live_cache.get("page")
        if cached is not None and cached[0] is cells and cached[1] == len(cells):
            page = cached[2]
        else:
            page = cells_from_dicts(cells)
            _live_cache["page"] = (cells, len(cells), page)  # the comm replaces the list on every change
    else:
        page, context.positions_known = _page_from_records(records), False
    state = _LiveState.for_recorder(recorder, records)
    mapping = map_executions(records, page)
    for execution, index in zip(state.executions, state.indices):
        execution.cell = mapping[index]
    executions = state.executions
    flags, not_judged = analyze(executions, page, context, final=state.final)
    return Report(flags, page, notebook=getattr(recorder, "notebook", None),
                  journal=str(journal.database_path) if journal is not None else None,
                  session_id=getattr(recorder, "session_id", None), executions=len(executions),
                  not_judged=not_judged)


class _LiveState:
    """What a live update can keep from the previous one: records only ever get appended to a session, and
    which write each execution saw does not depend on the page, so only new records are resolved."""

    def __init__(self, session_id: Optional[str]) -> None:
        self.session_id = session_id
        self.count = 0
        self.last: Optional[dict[str, Any]] = None
        self.executions: list[Execution] = []
        self.indices: list[int] = []
        self.final: dict[str, Write] = {}

    @classmethod
    def for_recorder(cls, recorder: Any, records: list[dict[str, Any]]) -> "_LiveState":
        key = f"state:{id(recorder)}"
        state = _live_cache.get(key)
        session_id = getattr(recorder, "session_id", None)
        if (state is None or state.session_id != session_id or state.count > len(records)
                or (state.count and records[state.count - 1] is not state.last)):
            state = _live_cache[key] = cls(session_id)
        fresh = []
        for index in range(state.count, len(records)):
            execution = _execution(records[index], index)
            if execution is not None:
                fresh.append(execution)
                state.indices.append(index)
        state.executions.extend(fresh)
        resolve_more(state.final, fresh)
        state.count = len(records)
        state.last = records[-1] if records else None
        return state


def judge_inputs(recorder: Any, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The engine's verdict on each data input the sidebar lists: ``changed`` (the file now differs from
    what the session read) and ``preserved`` / ``kept_in`` (snapshot, git, git-lfs, dvc or None), decided by
    the same :class:`~repro_kernel.analysis.rules.files.Preservation` the ``unsnapshotted-data`` flag uses, so
    the sidebar never offers a snapshot of a file that ``check`` considers kept. A secret in a path is
    replaced by ``<redacted>``: the sidebar saves this list in ``metadata.repro``."""
    if not inputs:
        return inputs
    journal = getattr(recorder, "journal", None)
    try:
        snapshots = journal.snapshot_hashes() if journal is not None else set()
    except Exception:
        snapshots = set()
    context = Context(environment=getattr(recorder, "environment", None) or {},
                      notebook_dir=Path(getattr(recorder, "notebook_dir", None) or Path.cwd()))
    preservation = Preservation.for_root(project_root(context))
    facts = recorder.file_cache.facts
    judged = []
    for item in inputs:
        path, digest = item.get("abspath") or item.get("path"), item.get("hash")
        current = facts(path) if path else None
        kept_in = preservation.where(path, digest, snapshots, facts) if path and digest else None
        judged.append({**item, "changed": current is not None and current.hash != digest,
                       "preserved": kept_in is not None, "kept_in": kept_in})
    return scrubbed_inputs(judged)
