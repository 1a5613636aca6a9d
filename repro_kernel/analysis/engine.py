"""The one engine that decides what stops a notebook from reproducing.

Live, the kernel calls :func:`analyze_live` after every cell and whenever the frontend sends the notebook's
cells; offline, ``jupyter repro check`` and the export call :func:`analyze_notebook`. Both build the same
inputs (the executions of the session that made the kernel's state, the cells now on the page, and what is
known of files and environments) and run the same rules (:func:`analyze`). The flag format is in
docs/contracts.md; what each kind means, and when it cannot be judged, is in docs/check.md.

Stable entry points (the comm, the export and the check command depend on them):

* ``analyze_live(recorder, cells) -> {"flags": [Flag dict], "cells": {cell_id: [kind, ...]}}``
* ``analyze_notebook(path, *, journal=None, session=None) -> Report``
* ``Report.to_dict()`` (JSON, ``schema_version`` 1), ``Report.flags``, ``Report.exit_code(fail_on)``
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Literal, Optional, Union

from repro_kernel.core.dataflow import CodeFacts, analyze_code
from repro_kernel.exceptions import JournalError, NotebookError

if TYPE_CHECKING:
    from repro_kernel.core.journal import Journal

REPORT_SCHEMA_VERSION = 1

KINDS = (
    "out-of-order", "stale", "edited-since-run", "never-run", "hidden-state", "unsnapshotted-data",
    "changed-data", "network-input", "unseeded-randomness", "environment-drift", "absolute-path",
    "nondeterministic-gpu",
)
SEVERITIES = ("info", "warning", "error")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
DEFAULT_SEVERITY = {
    "out-of-order": "error", "stale": "warning", "edited-since-run": "warning", "never-run": "warning",
    "hidden-state": "error", "unsnapshotted-data": "warning", "changed-data": "error",
    "network-input": "warning", "unseeded-randomness": "warning", "environment-drift": "warning",
    "absolute-path": "warning", "nondeterministic-gpu": "warning",
}
# Kinds that need the page (cell order and current sources) to be judged.
PAGE_KINDS = ("out-of-order", "edited-since-run", "never-run", "hidden-state")
# Names IPython puts in the namespace itself: never hidden state.
_IPYTHON_NAMES = frozenset({"In", "Out", "get_ipython", "exit", "quit", "display", "_", "__", "___"})
_IPYTHON_NAME = re.compile(r"^(_+|_i+|_i?\d+|_(ih|oh|dh|ii|iii)|In|Out|get_ipython|exit|quit|display)$")


@dataclass
class Flag:
    """One reason the notebook may not reproduce (docs/contracts.md, "Flags")."""

    kind: str
    cells: list[str]
    message: str
    fix: str
    severity: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.severity = self.severity or DEFAULT_SEVERITY[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "severity": self.severity, "cells": list(self.cells),
                "message": self.message, "fix": self.fix, "details": self.details}


@dataclass
class Cell:
    """A cell now on the page. ``index`` is its 0-based position among all cells (markdown included)."""

    id: str
    index: int
    cell_type: str
    source: str
    execution_count: Optional[int] = None

    @property
    def label(self) -> str:
        return f"cell {self.index + 1}"


@dataclass
class Execution:
    """One execution of the analysed session, mapped to the cell it came from (None: no cell now)."""

    seq: int
    cell: Optional[str]
    code: str
    execution_count: Optional[int]
    ok: bool
    facts: CodeFacts
    record: Optional[dict[str, Any]] = None
    writes: dict[str, Optional[str]] = field(default_factory=dict)  # name -> value key (None: unknown)
    seen: dict[str, Optional["Write"]] = field(default_factory=dict)  # name read -> the write it saw
    tags: frozenset[str] = frozenset()  # which rules have anything to look at here (computed once)

    def __post_init__(self) -> None:
        facts, record = self.facts, self.record or {}
        random = record.get("random") or {}
        tags = set()
        if facts.seeds or facts.random_draws or facts.unseeded_generators or random.get("unseeded_draw"):
            tags.add("random")
        if facts.imported_modules or record.get("modules") or facts.determinism or facts.gpu_uses:
            tags.add("gpu")
        if record.get("modules") or facts.installs:
            tags.add("environment")
        if record.get("files_read") or record.get("files_written"):
            tags.add("files")
        if record.get("network"):
            tags.add("network")
        self.tags = frozenset(tags)


@dataclass
class Write:
    """A binding, rebinding, mutation or deletion of a global name by one execution."""

    name: str
    execution: Execution
    key: Optional[str]
    seq: int = 0

    def __post_init__(self) -> None:
        self.seq = self.execution.seq

    def same_value_as(self, other: Optional["Write"]) -> bool:
        return other is not None and self.key is not None and self.key == other.key


@dataclass
class Context:
    """What the rules may know beyond the executions and the page."""

    environment: dict[str, Any] = field(default_factory=dict)  # the analysed session's, at its start
    previous_environment: Optional[dict[str, Any]] = None  # an earlier session of the same notebook
    current_environment: Optional[dict[str, Any]] = None  # where the check runs now (offline)
    snapshot_hashes: set[str] = field(default_factory=set)
    file_facts: Optional[Callable[[str], Any]] = None  # path -> hashing.FileFacts now
    notebook_dir: Optional[Path] = None
    have_journal: bool = True
    positions_known: bool = True
    notebook_metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    """The result of analysing one notebook (offline) or one live session."""

    flags: list[Flag]
    cells: list[Cell]
    notebook: Optional[str] = None
    journal: Optional[str] = None
    session_id: Optional[str] = None
    executions: int = 0
    not_judged: dict[str, str] = field(default_factory=dict)  # kind -> why it could not be judged

    @property
    def judged(self) -> list[str]:
        return [k for k in KINDS if k not in self.not_judged]

    def cell_kinds(self) -> dict[str, list[str]]:
        """``{cell_id: [kind, ...]}`` for the cell badges."""
        found: dict[str, list[str]] = {}
        for flag in self.flags:
            for cell in flag.cells:
                kinds = found.setdefault(cell, [])
                if flag.kind not in kinds:
                    kinds.append(flag.kind)
        return found

    def count(self, severity: str) -> int:
        return sum(1 for f in self.flags if f.severity == severity)

    def exit_code(self, fail_on: str = "warning") -> int:
        """0 when no flag is at or above ``fail_on`` (``none`` never fails), else 1."""
        if fail_on == "none":
            return 0
        threshold = SEVERITY_RANK[fail_on]
        return 1 if any(SEVERITY_RANK[f.severity] >= threshold for f in self.flags) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "notebook": self.notebook,
            "journal": self.journal,
            "session_id": self.session_id,
            "executions": self.executions,
            "flags": [f.to_dict() for f in self.flags],
            "cells": self.cell_kinds(),
            "cell_index": {c.id: c.index for c in self.cells},
            "judged": self.judged,
            "not_judged": dict(self.not_judged),
            "summary": {s: self.count(s) for s in reversed(SEVERITIES)},
        }


# -- inputs --------------------------------------------------------------------------------------------

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
    from repro_kernel.core.redact import redact_code

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


def resolve(executions: list[Execution]) -> dict[str, Write]:
    """Note, for every execution, the write each name it read came from; return the final writes.

    Reading a function's name charges the reader with the globals the function's body reads and rebinds
    (resolved when it runs, as Python does), so the dependency lands on the cell that calls it.
    """
    return resolve_more({}, executions)


def resolve_more(current: dict[str, Write], executions: list[Execution]) -> dict[str, Write]:
    """:func:`resolve` continued from the final writes ``current`` of earlier executions (updated in place)."""
    for execution in executions:
        seen = execution.seen
        stack = list(reversed(execution.facts.eager_used))
        lazy_writes: list[str] = []
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            write = current.get(name)
            seen[name] = write
            if write is not None:
                lazy = write.execution.facts
                stack.extend(reversed(lazy.lazy_used.get(name, ())))
                lazy_writes.extend(lazy.lazy_defined.get(name, ()))
        for name in lazy_writes:
            if name not in execution.writes:
                execution.writes[name] = None
        for name, key in execution.writes.items():
            current[name] = Write(name, execution, key)
    return current


# -- the rules --------------------------------------------------------------------------------------

def analyze(
    executions: list[Execution], cells: list[Cell], context: Context, final: Optional[dict[str, Write]] = None
) -> tuple[list[Flag], dict[str, str]]:
    """Run every rule; return the flags and, per kind that could not be judged, the reason.

    ``final``: the result of :func:`resolve` on ``executions`` when the caller keeps it (live updates).
    """
    from repro_kernel.analysis.rules import data as analysis_data

    not_judged: dict[str, str] = {}
    if final is None:
        final = resolve(executions)
    by_id = {c.id: c for c in cells}
    last: dict[str, Execution] = {}
    for execution in executions:
        if execution.cell is not None:
            last[execution.cell] = execution
    flags: list[Flag] = []
    flags += _stale(executions, last, final, by_id)
    if context.positions_known:
        flags += _out_of_order(executions, last, by_id, cells, context)
        flags += _never_run(cells, last, context)
        flags += _hidden_state(last, cells, by_id)
        if context.have_journal:
            flags += _edited(last, by_id)
        else:
            not_judged["edited-since-run"] = "needs the journal: a saved notebook does not keep the code that ran"
    else:
        for kind in PAGE_KINDS:
            not_judged[kind] = "needs the notebook's cells (order and sources)"
    data_flags, data_not_judged = analysis_data.analyze_data(executions, cells, context)
    flags += data_flags
    not_judged.update(data_not_judged)
    flags.sort(key=lambda f: (-SEVERITY_RANK[f.severity], KINDS.index(f.kind),
                              min((by_id[c].index for c in f.cells if c in by_id), default=10**9)))
    return flags, not_judged


def _label(cell_id: Optional[str], by_id: dict[str, Cell], execution: Optional[Execution] = None) -> str:
    if cell_id is not None and cell_id in by_id:
        return by_id[cell_id].label
    if execution is not None and execution.execution_count is not None:
        return f"the execution [{execution.execution_count}]"
    return "a deleted cell"


def _names(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _stale(executions: list[Execution], last: dict[str, Execution], final: dict[str, Write],
           by_id: dict[str, Cell]) -> list[Flag]:
    """Cells whose inputs changed after they last ran, one flag per execution that changed them."""
    groups: dict[int, tuple[Execution, dict[str, list[str]]]] = {}
    for cell_id, execution in last.items():
        if cell_id not in by_id:
            continue
        changed: list[Write] = []
        seq = execution.seq
        get = final.get
        for name, seen in execution.seen.items():
            now = get(name)
            if now is None or now.seq <= seq:
                continue
            if now.key is not None and (now.key == (seen.key if seen is not None else "<deleted>")):
                continue  # rebound to the same value (or deleted before it was ever defined)
            changed.append(now)
        if changed:
            latest = max(changed, key=lambda w: w.execution.seq).execution
            group = groups.setdefault(latest.seq, (latest, {}))[1]
            group[cell_id] = sorted(w.name for w in changed)
    flags = []
    for writer, stale in groups.values():
        cells = sorted(stale, key=lambda c: by_id[c].index)
        names = sorted({n for ns in stale.values() for n in ns})
        which = _cell_list([by_id[c] for c in cells])
        flags.append(Flag(
            "stale", cells,
            f"{which} read {_names(names)}, changed since by {_label(writer.cell, by_id, writer)}: "
            f"{'its output' if len(cells) == 1 else 'their outputs'} may not match the state",
            f"re-run {which} (or restart and run all)",
            details={"names": names, "changed_by": writer.cell, "by_cell": stale},
        ))
    return flags


def _cell_list(cells: list[Cell], limit: int = 4) -> str:
    if len(cells) == 1:
        return cells[0].label
    shown = ", ".join(str(c.index + 1) for c in cells[:limit])
    return f"cells {shown}" + (f" and {len(cells) - limit} more" if len(cells) > limit else "")


def _out_of_order(executions: list[Execution], last: dict[str, Execution], by_id: dict[str, Cell],
                  cells: list[Cell], context: Context) -> list[Flag]:
    flags = []
    flagged: set[str] = set()
    for cell_id, execution in last.items():
        cell = by_id.get(cell_id)
        if cell is None:
            continue
        below: dict[str, str] = {}
        itself: list[str] = []
        for name, seen in execution.seen.items():
            if seen is None or seen.execution.cell is None or seen.execution.cell not in by_id:
                continue
            writer = by_id[seen.execution.cell]
            if writer.index > cell.index:
                below[name] = writer.id
            elif writer.id == cell_id and context.have_journal and seen.key is None and name in execution.writes:
                itself.append(name)
        if below:
            writers = sorted(set(below.values()), key=lambda c: by_id[c].index)
            names = sorted(below)
            flagged.add(cell_id)
            flags.append(Flag(
                "out-of-order", [cell_id] + writers,
                f"{cell.label} uses {_names(names)}, last defined by {', '.join(by_id[w].label for w in writers)} "
                "below it: run top to bottom, it would fail or differ",
                f"move the defining code above {cell.label}, then restart and run all",
                details={"names": names, "defined_below_by": writers},
            ))
        elif itself:
            flagged.add(cell_id)
            flags.append(Flag(
                "out-of-order", [cell_id],
                f"{cell.label} ran more than once and read what its own previous run wrote ({_names(sorted(itself))})",
                f"make {cell.label} safe to re-run (don't update a name in place), then restart and run all",
                details={"names": sorted(itself), "reran": True},
            ))
    if not context.have_journal:
        flags += _count_inversions(cells, flagged)
    return flags


def _count_inversions(cells: list[Cell], flagged: set[str]) -> list[Flag]:
    """Execution counts that go backwards down the page (the only order evidence a bare notebook has)."""
    flags = []
    counted = [c for c in cells if c.cell_type == "code" and c.execution_count is not None]
    smallest_below: Optional[Cell] = None
    inversions: list[tuple[Cell, Cell]] = []
    for cell in reversed(counted):
        if smallest_below is not None and cell.execution_count > smallest_below.execution_count:  # type: ignore[operator]
            inversions.append((cell, smallest_below))
        if smallest_below is None or cell.execution_count < smallest_below.execution_count:  # type: ignore[operator]
            smallest_below = cell
    for cell, below in reversed(inversions):
        if cell.id in flagged:
            continue
        flags.append(Flag(
            "out-of-order", [cell.id, below.id],
            f"{cell.label} [{cell.execution_count}] ran after {below.label} [{below.execution_count}] below it",
            "restart the kernel and run all cells top to bottom, then save",
            severity="warning", details={"execution_counts": [cell.execution_count, below.execution_count]},
        ))
    return flags


def _never_run(cells: list[Cell], last: dict[str, Execution], context: Context) -> list[Flag]:
    flags = []
    ran_below = False
    for cell in reversed(cells):
        if cell.cell_type != "code":
            continue
        ran = cell.id in last
        if not ran and ran_below and _is_code(cell) and not _is_control(cell.source):
            flags.append(Flag(
                "never-run", [cell.id],
                f"{cell.label} never ran{' in this session' if context.have_journal else ''}, "
                "but cells below it did",
                f"run {cell.label}, or delete it if it is not needed, then restart and run all",
            ))
        ran_below = ran_below or ran
    flags.reverse()
    return flags


def _defines_now(cells: list[Cell]) -> tuple[set[str], bool]:
    names: set[str] = set()
    star = False
    for cell in cells:
        if cell.cell_type == "code":
            defined, opaque = _cell_defines(cell.source)
            names.update(defined)
            star = star or opaque
    return names, star


@lru_cache(maxsize=16384)
def _cell_defines(source: str) -> tuple[tuple[str, ...], bool]:
    """Names a cell's source defines, and whether it may define more than the AST shows (star, %run)."""
    facts = analyze_code(source)
    opaque = bool(facts.star_imports) or any(m.split()[:1] in (["run"], ["load"]) for m in facts.magics)
    return tuple(facts.defined), opaque


def _hidden_state(last: dict[str, Execution], cells: list[Cell], by_id: dict[str, Cell]) -> list[Flag]:
    defined_now, has_star = _defines_now(cells)
    flags = []
    for cell_id, execution in last.items():
        if cell_id not in by_id or not execution.ok:
            continue
        hidden: dict[str, str] = {}
        for name, seen in execution.seen.items():
            if name in defined_now or name in _IPYTHON_NAMES or _IPYTHON_NAME.match(name):
                continue
            if seen is None:
                if has_star:
                    continue  # may come from a star import or %run: nothing to go on
                hidden[name] = "defined before recording started" if execution.record else "no cell defines it"
            elif seen.execution.cell is None or seen.execution.cell not in by_id:
                hidden[name] = "defined by code no cell holds now: " + _snippet(seen.execution.code)
            elif by_id[seen.execution.cell].source != normalize_source(seen.execution.code):
                hidden[name] = f"defined by an earlier version of {by_id[seen.execution.cell].label}"
        if not hidden:
            continue
        names = sorted(hidden)
        flags.append(Flag(
            "hidden-state", [cell_id],
            f"{by_id[cell_id].label} depends on {_names(names)}, which no cell in the notebook defines now",
            f"add the code that defines {_names(names, 2)} back to a cell above {by_id[cell_id].label}",
            details={"names": names, "origin": hidden},
        ))
    return flags


def _snippet(code: str) -> str:
    line = next((ln.strip() for ln in code.splitlines() if ln.strip()), "")
    return repr(line[:60] + ("..." if len(line) > 60 else ""))


def _edited(last: dict[str, Execution], by_id: dict[str, Cell]) -> list[Flag]:
    flags = []
    for cell_id, execution in last.items():
        cell = by_id.get(cell_id)
        if cell is None or normalize_source(execution.code) == cell.source:
            continue
        flags.append(Flag(
            "edited-since-run", [cell_id],
            f"{cell.label} was edited after it last ran: its output comes from other code",
            f"run {cell.label} again (or undo the edit)",
            details={"ran": execution.code[:2000]},
        ))
    return flags


# -- entry points ---------------------------------------------------------------------------------------

_live_cache: dict[str, Any] = {}


def analyze_live(recorder: Any, cells: Optional[list[dict[str, Any]]]) -> dict[str, Any]:
    """Analyse the recorder's current session against the page the frontend sent (or none).

    Returns ``{"flags": [Flag dict], "cells": {cell_id: [kind, ...]}}`` as the comm pushes it.
    """
    report = live_report(recorder, cells)
    return {"flags": [f.to_dict() for f in report.flags], "cells": report.cell_kinds()}


def live_report(recorder: Any, cells: Optional[list[dict[str, Any]]]) -> Report:
    """The :class:`Report` behind :func:`analyze_live`."""
    from repro_kernel.analysis.rules.data import previous_environment

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


def _page_from_records(records: list[dict[str, Any]]) -> list[Cell]:
    """Without the page: one pseudo-cell per distinct cell id (or code), in the order they first ran."""
    page: dict[str, Cell] = {}
    for record in records:
        key = record.get("cell_id") or "code:" + str(record.get("code_hash", ""))[7:19]
        if key not in page:
            page[key] = Cell(key, len(page), "code", normalize_source(record.get("code")),
                             record.get("execution_count"))
    return list(page.values())


def analyze_notebook(
    path: Union[str, Path],
    *,
    journal: Union[None, Literal[False], str, Path, Journal] = None,
    session: Optional[str] = None,
) -> Report:
    """Analyse a saved notebook with its ``.repro`` journal when there is one.

    ``journal``: None finds the journal beside the notebook (none found: judge from the notebook alone);
    False ignores any journal; a path or an open :class:`~repro_kernel.core.journal.Journal` uses that one.
    ``session``: a session id (or a unique prefix); default the notebook's latest recorded session.
    Raises :class:`~repro_kernel.exceptions.NotebookError` for a missing, unreadable or invalid notebook and
    :class:`~repro_kernel.exceptions.JournalError` for a damaged journal or an unknown session.
    """
    from repro_kernel.analysis.rules.data import current_environment, previous_environment
    from repro_kernel.core.hashing import FileHashCache
    from repro_kernel.core.journal import Journal

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
                opened, owned = Journal.find(path), True
            except JournalError as exc:
                if "no .repro journal" not in exc.message:
                    raise
        elif isinstance(journal, (str, Path)):
            opened, owned = Journal(Path(journal), create=False), True
        else:
            opened = journal
    try:
        records: list[dict[str, Any]] = []
        session_id = None
        if opened is not None:
            session_id, records = _session_records(opened, path.name, page, session)
            if records:
                sessions = {s["session_id"]: s for s in opened.sessions()}
                context.environment = sessions.get(session_id, {}).get("environment") or {}
                context.previous_environment = previous_environment(opened, path.name, session_id, {})
                context.snapshot_hashes = opened.snapshot_hashes()
                context.current_environment = current_environment()
        if records:
            executions = build_executions(records, map_executions(records, page))
        else:
            context.have_journal = False
            executions = synthesize_executions(page)
        flags, not_judged = analyze(executions, page, context)
        if not records and opened is not None:
            not_judged = {k: f"the journal has no session of this notebook; {v}" for k, v in not_judged.items()}
        if not records:
            carried = flags_from_saved_copy(nb, page, not_judged)
            flags += carried
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
    import datetime

    from repro_kernel.core.records import saved_copy

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


def read_notebook(path: Path) -> dict[str, Any]:
    """Read and validate a notebook; every problem becomes one :class:`NotebookError` line."""
    import json

    import nbformat

    if not path.exists():
        raise NotebookError(f"{path} does not exist", hint="check the path")
    if path.is_dir():
        raise NotebookError(f"{path} is a folder, not a notebook", hint="name an .ipynb file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NotebookError(f"cannot read {path} ({exc})", hint="check the file's permissions and encoding") from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise NotebookError(f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})",
                            hint="the file is damaged; restore it from git or a checkpoint") from None
    if not isinstance(raw, dict) or "cells" not in raw and "worksheets" not in raw:
        raise NotebookError(f"{path} is JSON but not a Jupyter notebook (no cells)",
                            hint="name an .ipynb file saved by Jupyter")
    try:
        nb = nbformat.reads(text, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NotebookError(f"{path} is not a valid notebook ({first[:160]})",
                            hint="open and re-save it in JupyterLab, or run `jupyter trust`/nbformat to repair it") from None
    return nb


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
