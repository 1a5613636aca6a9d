"""From a journal's records to the executions the rules judge: which session, and which page cell each record
came from.

One session model for every view: ``check``, ``export``, ``verify`` and the sidebar choose the session of a
notebook with :func:`choose_session` and map its records to the page's cells with :func:`map_executions`.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Optional, Union

from repro_kernel.analysis.model import Cell, Execution
from repro_kernel.core.dataflow import analyze_code
from repro_kernel.core.redact import redact_code
from repro_kernel.exceptions import JournalError


def normalize_source(source: Union[str, list[str], None]) -> str:
    """Cell source as one string with trailing whitespace dropped (how sources and records are compared)."""
    if source is None:
        return ""
    if isinstance(source, list):
        source = "".join(source)
    return _normalize(source)


@lru_cache(maxsize=16384)
def _normalize(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.rstrip().splitlines())


def cells_from_dicts(cells: list[dict[str, Any]]) -> list[Cell]:
    """Page cells from the frontend's ``[{id, cell_type, source, execution_count}]`` or nbformat cells.

    Code cells' sources go through the same redaction as recorded code, so a cell that holds a secret still
    compares equal to the (redacted) code that ran from it.
    """

    found = []
    for index, raw in enumerate(cells):
        cell_id = raw.get("id") or f"cell-{index + 1}"
        count = raw.get("execution_count")
        cell_type = str(raw.get("cell_type") or "code")
        source = normalize_source(raw.get("source"))
        if cell_type == "code":
            source = normalize_source(redact_code(source))
        found.append(Cell(str(cell_id), index, cell_type, source, count if isinstance(count, int) else None))
    return found


def _is_code(cell: Cell) -> bool:
    if cell.cell_type != "code":
        return False
    return any(line.strip() and not line.lstrip().startswith("#") for line in cell.source.splitlines())


@lru_cache(maxsize=4096)
def _is_control(code: str) -> bool:
    """Executions of jupyter-repro's own magics say nothing about the user's work."""
    stripped = code.strip()
    return bool(stripped) and all(
        line.strip().startswith(("%load_ext repro_kernel", "%repro", "%reload_ext repro_kernel"))
        and not line.strip().startswith("%repro seed")
        for line in stripped.splitlines() if line.strip()
    )


def map_executions(records: list[dict[str, Any]], cells: list[Cell]) -> list[Optional[str]]:
    """The id of the page cell each record came from, or None (deleted, or code no cell holds now).

    By cell id when records carry them (JupyterLab); otherwise by execution count when the page's counts
    come from this session (nbclient, papermill: the saved notebook), then by identical code.
    """
    by_id = {c.id: c for c in cells}
    result: list[Optional[str]] = [None] * len(records)
    with_ids = [i for i, r in enumerate(records) if r.get("cell_id")]
    ids_match = any(records[i]["cell_id"] in by_id for i in with_ids)
    for i in with_ids:
        if records[i]["cell_id"] in by_id:
            result[i] = records[i]["cell_id"]
    pending = [i for i in range(len(records)) if not records[i].get("cell_id") or not ids_match]
    if not pending:
        return result
    code_cells = [c for c in cells if c.cell_type == "code"]
    by_count: dict[int, Cell] = {c.execution_count: c for c in code_cells if c.execution_count is not None}
    matched = agree = 0
    for i in pending:
        cell = by_count.get(records[i].get("execution_count"))  # type: ignore[arg-type]
        if cell is not None:
            matched += 1
            agree += normalize_source(records[i]["code"]) == cell.source
    counts_usable = matched > 0 and agree * 2 >= matched
    by_source: dict[str, list[Cell]] = {}
    for cell in code_cells:
        by_source.setdefault(cell.source, []).append(cell)
    code_to_cell: dict[str, str] = {}
    if counts_usable:
        for i in pending:
            cell = by_count.get(records[i].get("execution_count"))  # type: ignore[arg-type]
            if cell is not None:
                result[i] = cell.id
                code_to_cell.setdefault(normalize_source(records[i]["code"]), cell.id)
    for i in pending:
        if result[i] is not None:
            continue
        code = normalize_source(records[i]["code"])
        candidates = by_source.get(code, [])
        if len(candidates) == 1:
            result[i] = candidates[0].id
        elif code in code_to_cell:
            result[i] = code_to_cell[code]
        elif candidates:
            result[i] = candidates[0].id
    return result


def build_executions(records: list[dict[str, Any]], mapping: list[Optional[str]]) -> list[Execution]:
    """Executions with their writes (eager bindings, mutations, deletions), in the order they ran."""
    executions = []
    for index, (record, cell) in enumerate(zip(records, mapping)):
        execution = _execution(record, index)
        if execution is not None:
            execution.cell = cell
            executions.append(execution)
    return executions


def _execution(record: dict[str, Any], index: int) -> Optional[Execution]:
    code = record.get("code") or ""
    if _is_control(code):
        return None
    ok = record.get("status", "ok") == "ok"
    execution = Execution(int(record.get("seq") or index + 1), None, code, record.get("execution_count"), ok,
                          analyze_code(code), record)
    _fill_writes(execution, record.get("defined") or ())
    return execution


def _fill_writes(execution: Execution, recorded_defined: Any = ()) -> None:
    facts = execution.facts
    writes = execution.writes
    keys = facts.value_keys if execution.ok else {}
    for name in facts.eager_defined:
        writes[name] = keys.get(name)
    star = "star:" + ",".join(facts.star_imports) if facts.star_imports else None
    for name in recorded_defined:  # star imports and %run: names the namespace showed, not the AST
        if name not in writes and name not in facts.defined:
            writes[name] = star
    confirmed = (execution.record or {}).get("namespace_changed")
    if isinstance(confirmed, list):  # the recorder saw which bindings really changed
        changed = set(confirmed)
        for name in [n for n in writes if n not in changed and n in facts.value_keys]:
            del writes[name]
    for name in facts.mutated:
        writes[name] = None
    for name in facts.deleted:
        writes[name] = "<deleted>"


def synthesize_executions(cells: list[Cell]) -> list[Execution]:
    """Without a journal: the page's code cells in the order of their execution counts, as they read now."""
    ran = sorted((c for c in cells if c.cell_type == "code" and c.execution_count is not None),
                 key=lambda c: c.execution_count or 0)
    executions = []
    for seq, cell in enumerate(ran, 1):
        execution = Execution(seq, cell.id, cell.source, cell.execution_count, True, analyze_code(cell.source))
        _fill_writes(execution)
        executions.append(execution)
    return executions


def _page_from_records(records: list[dict[str, Any]]) -> list[Cell]:
    """Without the page: one pseudo-cell per distinct cell id (or code), in the order they first ran."""
    page: dict[str, Cell] = {}
    for record in records:
        key = record.get("cell_id") or "code:" + str(record.get("code_hash", ""))[7:19]
        if key not in page:
            page[key] = Cell(key, len(page), "code", normalize_source(record.get("code")),
                             record.get("execution_count"))
    return list(page.values())


def _session_records(journal: Any, name: str, page: list[Cell], wanted: Optional[str]) -> tuple[Optional[str], list[dict[str, Any]]]:
    sessions = journal.sessions(notebook=name)
    if wanted:
        matches = [s for s in journal.sessions() if s["session_id"].startswith(wanted)]
        if len(matches) != 1:
            raise JournalError(f"{'no' if not matches else 'more than one'} session matches {wanted!r}",
                               hint="list sessions with `jupyter repro check --format json` or give more of the id")
        sessions = matches
    if not sessions:
        ids = {c.id for c in page}
        sessions = [s for s in journal.sessions(notebook=None) if s["notebook"] is None and any(
            r.get("cell_id") in ids for r in journal.executions(session_id=s["session_id"]))]
    for candidate in reversed(sessions):
        records = journal.executions(session_id=candidate["session_id"])
        if any(not _is_control(r.get("code") or "") for r in records):
            return candidate["session_id"], records
    return None, []
