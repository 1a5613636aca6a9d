"""The live analysis: the kernel's current session against the page the frontend sent.

The comm calls :func:`analyze_live` after cells run and when the page changes (injected by
``repro_kernel.load_ipython_extension``). Records only ever get appended to a session, so each update takes
only the new ones, and a page change remaps only the cells that came or went
(:class:`~repro_kernel.analysis.incremental.IncrementalSession`): an update costs the same at 10,000
executions as at 10.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

from repro_kernel.analysis.engine import analyze
from repro_kernel.analysis.incremental import IncrementalSession
from repro_kernel.analysis.model import Cell, Context, Report
from repro_kernel.analysis.rules.environment import previous_environment
from repro_kernel.analysis.rules.files import Preservation, _git_head, project_root
from repro_kernel.analysis.rules.secrets import scrubbed_inputs
from repro_kernel.analysis.sessions import cells_from_dicts, normalize_source

_live_cache: dict[str, Any] = {}


def analyze_live(recorder: Any, cells: Optional[list[dict[str, Any]]]) -> dict[str, Any]:
    """Analyse the recorder's current session against the page the frontend sent (or none).

    Returns ``{"flags": [Flag dict], "cells": {cell_id: [kind, ...]}}`` as the comm pushes it.
    """
    report = live_report(recorder, cells)
    return {"flags": [f.to_dict() for f in report.flags], "cells": report.cell_kinds()}


def live_report(recorder: Any, cells: Optional[list[dict[str, Any]]]) -> Report:
    """The :class:`Report` behind :func:`analyze_live`."""
    records: list[dict[str, Any]] = getattr(recorder, "records", None) or []  # read up to its length now
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
        page, context.positions_known = _PseudoPage.of(recorder, records), False
    state = _session_state(recorder, records, page)
    executions = state.executions
    flags, not_judged = analyze(executions, page, context, final=state.final, index=state.index)
    return Report(flags, page, notebook=getattr(recorder, "notebook", None),
                  journal=str(journal.database_path) if journal is not None else None,
                  session_id=getattr(recorder, "session_id", None), executions=len(executions),
                  not_judged=not_judged)


def _session_state(recorder: Any, records: list[dict[str, Any]], page: list[Cell]) -> IncrementalSession:
    """The recorder's :class:`IncrementalSession`, brought up to date (a new one for a new session, or when
    records were replaced or rewritten in place)."""
    key = f"state:{id(recorder)}"
    session_id = getattr(recorder, "session_id", None)
    scrubber = getattr(recorder, "scrubber", None)
    settled = scrubber.done if scrubber is not None and hasattr(scrubber, "done") else None
    state = _live_cache.get(key)
    if state is None or state.session_id != session_id or not state.update(records, page, settled):
        rebuilds = state.rebuilds + 1 if state is not None and state.session_id == session_id else 0
        state = _live_cache[key] = IncrementalSession(session_id)
        state.rebuilds = rebuilds
        state.update(records, page, settled)
    return state


class _PseudoPage:
    """Without the frontend's page: one pseudo-cell per distinct cell id (or code), in the order they first
    ran (as :func:`~repro_kernel.analysis.sessions._page_from_records`), extended record by record."""

    def __init__(self, session_id: Optional[str]) -> None:
        self.session_id = session_id
        self.count = 0
        self.last: Optional[dict[str, Any]] = None
        self.keys: set[str] = set()
        self.cells: list[Cell] = []

    @classmethod
    def of(cls, recorder: Any, records: list[dict[str, Any]]) -> list[Cell]:
        key = f"pseudo:{id(recorder)}"
        session_id = getattr(recorder, "session_id", None)
        page = _live_cache.get(key)
        count = len(records)
        if (page is None or page.session_id != session_id or page.count > count
                or (page.count and records[page.count - 1] is not page.last)):
            page = _live_cache[key] = cls(session_id)
        added: list[Cell] = []
        for record in records[page.count:count]:
            cell_key = record.get("cell_id") or "code:" + str(record.get("code_hash", ""))[7:19]
            if cell_key not in page.keys:
                page.keys.add(cell_key)
                added.append(Cell(cell_key, len(page.cells) + len(added), "code",
                                  normalize_source(record.get("code")), record.get("execution_count")))
        if added:
            page.cells = page.cells + added  # a new list: the session state sees a new page
        page.count = count
        page.last = records[count - 1] if count else None
        return page.cells


def judge_inputs(recorder: Any, inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The engine's verdict on each data input the sidebar lists: ``changed`` (the file now differs from
    what the session read) and ``preserved`` / ``kept_in`` (snapshot, git, git-lfs, dvc or None), decided by
    the same :class:`~repro_kernel.analysis.rules.files.Preservation` the ``unsnapshotted-data`` flag uses, so
    the sidebar never offers a snapshot of a file that ``check`` considers kept. A secret in a path is
    replaced by ``<redacted>``: the sidebar saves this list in ``metadata.repro``.

    Incremental: an input is judged again only when what its verdict depends on changed (the entry, the
    file's content now, whether a snapshot holds it, the commit its repository is at); otherwise the verdict
    of the last call stands, so a call costs a ``stat`` per input (cached by the recorder's file cache)."""
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
    verdicts: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = _live_cache.setdefault(f"inputs:{id(recorder)}", {})
    judged = []
    for item in inputs:
        path, digest = item.get("abspath") or item.get("path"), item.get("hash")
        current = facts(path) if path else None
        key = (tuple(sorted((k, str(v)) for k, v in item.items())), current.hash if current is not None else None,
               digest in snapshots, _git_head(Path(path).parent) if path and digest else None)
        held = verdicts.get(str(path))
        if held is not None and held[0] == key:
            judged.append(held[1])
            continue
        kept_in = preservation.where(path, digest, snapshots, facts) if path and digest else None
        verdict = scrubbed_inputs([{**item, "changed": current is not None and current.hash != digest,
                                    "preserved": kept_in is not None, "kept_in": kept_in}])[0]
        verdicts[str(path)] = (key, verdict)
        judged.append(verdict)
    return judged
