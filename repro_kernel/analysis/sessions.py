"""From a journal's records to the executions the rules judge: which session, and which page cell each record
came from.

One session model for every view: ``check``, ``export``, ``verify`` and the sidebar choose the session of a
notebook with :func:`choose_session` and map its records to the page's cells with :func:`map_executions`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional, Union

from repro_kernel.analysis.model import Cell, Execution
from repro_kernel.core.dataflow import analyze_code
from repro_kernel.core.hashing import saved_output_hashes
from repro_kernel.core.journal import Journal
from repro_kernel.core.journal_layout import JOURNAL_DIRNAME
from repro_kernel.core.secrets import redact, text_of_outputs
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

    Code cells' sources go through the same redaction as recorded code (:func:`repro_kernel.core.secrets.redact`
    with ``code=True``, which the recorder's scrubber applies before anything is written), so a cell that holds a
    secret still compares equal to, and hashes as, the (redacted) code that ran from it.
    """

    found = []
    for index, raw in enumerate(cells):
        cell_id = raw.get("id") or f"cell-{index + 1}"
        count = raw.get("execution_count")
        cell_type = str(raw.get("cell_type") or "code")
        source = normalize_source(raw.get("source"))
        redacted, outputs, errors = False, "", ""
        hashes: tuple[str, ...] = ()
        if cell_type == "code":
            clean = normalize_source(redact(source, code=True))
            redacted, source = clean != source, clean
            if raw.get("outputs"):
                outputs, errors = text_of_outputs(raw["outputs"])
                hashes = saved_output_hashes(raw["outputs"])
        found.append(Cell(str(cell_id), index, cell_type, source, count if isinstance(count, int) else None,
                          redacted, outputs, errors, hashes))
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
    for name in facts.own_call_writes:  # globals a function rebinds when the cell that defines it calls it
        writes.setdefault(name, None)
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


@dataclass
class SessionMatch:
    """The recorded session chosen to judge (or replay) a saved notebook, with its records mapped to cells."""

    session: dict[str, Any]
    records: list[dict[str, Any]]
    mapping: list[Optional[str]]  # the page cell each record came from (map_executions)
    shown: dict[int, str]  # record position -> the page cell that shows that execution's output
    # Saved cells that show one of this session's executions: with its very output (the recorder's output hash),
    # with its cell id and code, with its code, by execution count alone.
    score: tuple[int, int, int, int]

    @property
    def session_id(self) -> str:
        return str(self.session["session_id"])

    @property
    def bound(self) -> bool:
        """Whether the session was recorded with its notebook's path (else it was matched by its cells)."""
        return self.session.get("notebook") is not None

    def binding_note(self, notebook: str) -> str:
        _outputs, same_id, same_code, _count = self.score
        how = f"{same_id} cells by id and code" if same_id else f"{same_code} cells by code and execution count"
        return (f"session {self.session_id[:8]} was recorded without the notebook's path (a runner such as "
                f"nbclient, papermill or nbconvert --execute); it is matched to {notebook} by {how}")


def shown_outputs(records: list[dict[str, Any]], mapping: list[Optional[str]], cells: list[Cell]) -> dict[int, str]:
    """Which execution produced what each saved cell shows: the record with the cell's execution count
    (counts are unique within a session); where two cells show one count (a copied cell), the cell the
    record maps to."""
    by_count: dict[int, int] = {}
    for pos, record in enumerate(records):
        count = record.get("execution_count")
        if isinstance(count, int):
            by_count[count] = pos
    shown: dict[int, str] = {}
    for cell in cells:
        if cell.cell_type != "code" or cell.execution_count is None:
            continue
        found = by_count.get(cell.execution_count)
        if found is not None and (found not in shown or mapping[found] == cell.id):
            shown[found] = cell.id
    return shown


def _match(session: dict[str, Any], records: list[dict[str, Any]], cells: list[Cell]) -> SessionMatch:
    mapping = map_executions(records, cells)
    shown = shown_outputs(records, mapping, cells)
    by_id = {c.id: c for c in cells}
    same_code = [pos for pos, cell_id in shown.items()
                 if normalize_source(records[pos].get("code")) == by_id[cell_id].source]
    same_id = [pos for pos in same_code if records[pos].get("cell_id") == shown[pos]]
    # What the file shows came from this session, not from a later run nobody saved (nbval, a second Run All).
    same_output = [pos for pos, cell_id in shown.items()
                   if records[pos].get("output_hash") and records[pos]["output_hash"] in by_id[cell_id].output_hashes]
    return SessionMatch(session, records, mapping, shown, (len(same_output), len(same_id), len(same_code), len(shown)))


def rank_sessions(journal: Any, notebook: str, cells: list[Cell], wanted: Optional[str] = None) -> list[SessionMatch]:
    """Every candidate session of ``notebook`` with how well it matches the saved ``cells``, oldest first.

    ``wanted``: a session id or unique prefix (``--session``): only that one. Otherwise the recorded sessions
    of this notebook or, when none names it, the sessions that recorded no notebook but ran cells with these
    ids. Sessions that ran only jupyter-repro's own magics are left out.
    """
    if wanted:
        matches = [s for s in journal.sessions() if s["session_id"].startswith(wanted)]
        if len(matches) != 1:
            raise JournalError(f"{'no' if not matches else 'more than one'} session matches {wanted!r}",
                               hint=f"list them with `jupyter repro sessions {notebook}` or give more of the id")
        candidates = matches
    else:
        # The sessions recorded with this notebook's path, and those of runners that do not tell the kernel its
        # notebook (nbclient, papermill, nbconvert --execute, `jupyter execute`), recorded without a path and
        # kept only where the file shows their work: a notebook run again by a runner after it was exported
        # (which bound the first run to it) is judged by its latest run.
        named = journal.sessions(notebook=notebook)
        unnamed = [s for s in journal.sessions(notebook=None) if s["notebook"] is None]
        candidates = sorted(named + unnamed, key=lambda s: (s.get("started_at") or 0))
        ids = {c.id for c in cells}
        ranked = []
        for session in candidates:
            records = journal.executions(session_id=session["session_id"])
            if not any(not _is_control(r.get("code") or "") for r in records):
                continue
            match = _match(session, records, cells)
            if session["notebook"] is not None or match.score[0] or match.score[2] or any(
                    r.get("cell_id") in ids for r in records):
                ranked.append(match)
        return ranked
    ranked = []
    for session in candidates:
        records = journal.executions(session_id=session["session_id"])
        if any(not _is_control(r.get("code") or "") for r in records):
            ranked.append(_match(session, records, cells))
    return ranked


def choose_session(journal: Any, notebook: str, cells: list[Cell], wanted: Optional[str] = None) -> Optional[SessionMatch]:
    """The session of ``notebook`` whose executions the saved ``cells`` show: the one model behind check,
    export and verify.

    Candidates (:func:`rank_sessions`) are ranked by how many saved cells show one of their executions with its
    very output (output hashes), then with the same cell id and code, then with the same code, then by execution
    count alone; a later session wins a tie.
    None when nothing was recorded.
    """
    best: Optional[SessionMatch] = None
    for match in rank_sessions(journal, notebook, cells, wanted):  # oldest first: a later session wins a tie
        if best is None or match.score >= best.score:
            best = match
    return best


# -- where the recorder wrote ---------------------------------------------------------------------------------


def _local_path(value: Any) -> bool:
    return isinstance(value, str) and bool(value) and "://" not in value and "\0" not in value


def _launch_dir(notebook: Path, output_path: Any) -> Optional[Path]:
    """The folder papermill ran in, from where its output lies now and the output path it was given."""
    if not _local_path(output_path) or Path(output_path).is_absolute():
        return None
    for folder in notebook.parents:
        try:
            if (folder / output_path).resolve() == notebook:
                return folder
        except (OSError, RuntimeError):
            return None
    return None


def recording_folders(notebook_path: Union[str, Path], metadata: Any = None) -> list[Path]:
    """The folders whose ``.repro/`` may hold a saved notebook's recording, the likeliest first.

    The recorder writes ``.repro/`` beside the notebook when the kernel knows its path, else in the kernel's
    working directory. A runner that writes its output notebook elsewhere (``papermill work/in.ipynb
    results/out.ipynb --cwd work``) leaves the way back in the output's ``metadata.papermill``: the input and
    output paths as given on the command line (relative to where papermill ran) and, where a runner records it,
    ``cwd``. From them: that working directory, the input notebook's folder, then the folder papermill ran in
    (the kernel's working directory when no ``--cwd`` was given); relative paths resolve against the folder
    papermill ran in, found by matching the output path to where the notebook lies now (else the current one).
    """
    path = Path(notebook_path).resolve()
    folders = [path.parent]
    runner = metadata.get("papermill") if isinstance(metadata, dict) else None
    if isinstance(runner, dict):
        launched = _launch_dir(path, runner.get("output_path"))
        base = launched or Path.cwd()
        named = [runner.get("cwd")]
        if _local_path(runner.get("input_path")):
            named.append(os.path.dirname(runner["input_path"]) or ".")
        for name in named:
            if _local_path(name):
                folders.append(base / str(name))
        folders.append(base)
    unique: list[Path] = []
    for folder in folders:
        try:
            folder = folder.resolve()
            if folder not in unique and (not unique or folder.is_dir()):
                unique.append(folder)
        except (OSError, RuntimeError, ValueError):
            continue
    return unique


def find_journal(notebook_path: Union[str, Path], nb: Any, wanted: Optional[str] = None) -> Journal:
    """Open, for reading, the journal that holds the recording of the saved notebook ``nb`` (at
    ``notebook_path``): the one of :func:`recording_folders` whose session (:func:`choose_session`, ``wanted``
    as ``--session``) the saved cells show best; a later session wins a tie, the notebook's own folder wins
    between equals. Where none matches, the journal beside the notebook.

    Raises :class:`JournalError` as :meth:`Journal.find` does: "no .repro journal" when none was found, and for a
    damaged journal beside the notebook (one elsewhere is passed over).
    """
    path = Path(notebook_path)
    folders = recording_folders(path, nb.get("metadata") if isinstance(nb, dict) else None)
    found: list[tuple[int, Journal, Optional[SessionMatch]]] = []
    cells: Optional[list[Cell]] = None
    refused: Optional[JournalError] = None
    chosen: Optional[Journal] = None
    try:
        for n, folder in enumerate(folders):
            try:
                journal = Journal.find(folder / path.name)
            except JournalError as exc:
                if n == 0 and "no .repro journal" not in exc.message:
                    raise
                continue
            if len(folders) == 1:
                return journal  # nowhere else to look: the chooser runs once, in the caller
            if cells is None:
                cells = cells_from_dicts([dict(c, source=c.get("source")) for c in nb.get("cells") or []])
            try:
                found.append((n, journal, choose_session(journal, path.name, cells, wanted)))
            except JournalError as exc:
                refused = refused or exc
                found.append((n, journal, None))
        best: Optional[tuple[tuple[int, int, int, int], float, int]] = None
        for n, journal, match in found:
            if match is not None:
                key = (match.score, float(match.session.get("started_at") or 0), -n)
                if best is None or key > best:
                    best, chosen = key, journal
        if chosen is None and refused is not None and wanted:
            raise refused
        if chosen is None and found and found[0][0] == 0:
            chosen = found[0][1]
        if chosen is None:
            raise JournalError(
                f"no .repro journal found for {notebook_path}",
                hint="record it with `%load_ext repro_kernel` then `%repro start`, or export with --mode document",
            )
    finally:
        for _n, journal, _match in found:
            if journal is not chosen:
                journal.close()
    return chosen


def recording_folder(journal: Journal, environment: Optional[dict[str, Any]] = None) -> Optional[Path]:
    """The folder the recorder worked in (the recorded relative paths start there; the kernel's working
    directory, or the notebook's folder where the kernel knew it): the one holding the journal's ``.repro/``,
    else, for a journal in the per-user fallback, the working directory the session recorded."""
    directory = Path(journal.directory)
    if directory.name == JOURNAL_DIRNAME:
        return directory.parent.resolve()
    cwd = (environment or {}).get("cwd")
    if isinstance(cwd, str) and os.path.isdir(cwd):
        return Path(cwd)
    return None
