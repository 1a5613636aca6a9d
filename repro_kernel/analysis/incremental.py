"""The live analysis's session state, kept up to date record by record.

A live update must cost the same at 10,000 executions as at 10. Records only ever get appended to a session,
and what each execution read and wrote (:func:`~repro_kernel.analysis.engine.resolve_more`) does not depend on
the page, so a new record is resolved once, against the final writes so far, and indexed once
(:class:`~repro_kernel.analysis.index.SessionIndex`: the rule families it concerns, the cell it came from).
A page change (the frontend sends the cells) remaps only the executions of the cells that came or went: the
recorder keys records by JupyterLab's cell ids, so an execution belongs to its record's cell while that cell
is on the page. Records without a cell id (a console, nbclient) are mapped as
:func:`~repro_kernel.analysis.sessions.map_executions` maps them (by execution count, then by code), over
those records alone, again only when the page or those records change.

The rules then run on the index: the page rules over the cells' last executions, the family rules over their
own executions. The offline ``check`` runs the same rules on an index built from scratch; the two give the
same flags (tests/analysis/test_incremental_property.py replays random sessions record by record).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from repro_kernel.analysis.engine import resolve_more
from repro_kernel.analysis.index import SessionIndex
from repro_kernel.analysis.model import Cell, Execution, Write
from repro_kernel.analysis.sessions import _execution, map_executions

Settled = Callable[[dict[str, Any]], bool]
"""Whether a record is final in memory (the recorder's scrub thread may still redact its texts in place)."""


class IncrementalSession:
    """Executions, final writes and the index of one recording session, for the page last given."""

    def __init__(self, session_id: Optional[str]) -> None:
        self.session_id = session_id
        self.count = 0  # records taken so far
        self._last_record: Optional[dict[str, Any]] = None
        self.executions: list[Execution] = []
        self.final: dict[str, Write] = {}
        self.index = SessionIndex()
        self.rebuilds = 0  # full rebuilds after the first (a record rewritten in place, a replaced session)
        self._by_record_cell: dict[str, list[Execution]] = {}  # a record's cell id -> its executions, in order
        self._record_cell_ids: set[str] = set()  # every record's cell id (control records included)
        self._unidentified: list[dict[str, Any]] = []  # records without a cell id, in order (controls included)
        self._unidentified_at: list[Optional[Execution]] = []  # their executions (None: a control record)
        self._unidentified_dirty = False
        self._unsettled: list[tuple[Execution, tuple[Any, ...]]] = []  # records the scrub thread may rewrite
        self._page: Optional[list[Cell]] = None
        self._page_ids: set[str] = set()
        self._by_id: dict[str, Cell] = {}
        self._ids_match = False  # some record's cell id is on the page: map by ids (map_executions does)
        self._last_by_id: dict[str, Execution] = {}
        self._positions: list[int] = []  # each execution's position among the records

    # -- the update ---------------------------------------------------------------------------------

    def update(self, records: list[dict[str, Any]], page: list[Cell], settled: Optional[Settled] = None) -> bool:
        """Take the records appended since the last update and the page as it is now. Returns False when the
        state cannot continue from ``records`` (another session, records replaced or rewritten): the caller then
        starts a new one."""
        count = len(records)  # a snapshot: the cell's thread may append meanwhile
        if count < self.count or (self.count and records[self.count - 1] is not self._last_record):
            return False
        for unsettled, mark in self._unsettled:
            if unsettled.record is not None and _fingerprint(unsettled.record) != mark:
                return False  # redacted in place: what it read and wrote, and the rules' view of it, may differ
        if settled is not None:
            self._unsettled = [(e, m) for e, m in self._unsettled if e.record is not None and not settled(e.record)]
        if page is not self._page:
            self._set_page(page)
        fresh = []
        for position in range(self.count, count):
            record = records[position]
            execution = _execution(record, position)
            cell_id = record.get("cell_id")
            if cell_id:
                self._record_cell_ids.add(cell_id)
                if cell_id in self._page_ids and not self._ids_match:
                    self._ids_match = True
                    self._remap_all()
            else:
                self._unidentified.append(record)
                self._unidentified_at.append(execution)
                self._unidentified_dirty = True
            if execution is None:
                continue
            if cell_id:
                self._by_record_cell.setdefault(cell_id, []).append(execution)
                if self._ids_match and cell_id in self._page_ids:
                    execution.cell = cell_id
                    self._last_by_id[cell_id] = execution
            if settled is not None and not settled(record):
                self._unsettled.append((execution, _fingerprint(record)))
            fresh.append(execution)
            self._positions.append(position)
        if fresh:
            resolve_more(self.final, fresh)
            self.executions.extend(fresh)
        self.count = count
        self._last_record = records[count - 1] if count else None
        if not self._ids_match:
            self._map_everything(records[:count])
        elif self._unidentified_dirty:
            self._map_unidentified()
        for execution in fresh:
            self.index.add_to_families(execution)
        self._combine_last()
        return True

    # -- mapping ------------------------------------------------------------------------------------

    def _set_page(self, page: list[Cell]) -> None:
        ids = {c.id for c in page}
        gone, came = self._page_ids - ids, ids - self._page_ids
        self._page, self._page_ids, self._by_id = page, ids, {c.id: c for c in page}
        self._unidentified_dirty = True
        ids_match = any(cid in ids for cid in self._record_cell_ids) if (gone or came or not self._ids_match) else True
        if ids_match != self._ids_match:
            self._ids_match = ids_match
            if ids_match:
                self._remap_all()
            else:
                self.index.refill(self.executions, compact=False)
            return
        if not ids_match:
            return
        for cell_id in gone:
            for execution in self._by_record_cell.get(cell_id, ()):
                execution.cell = None
            self._last_by_id.pop(cell_id, None)
        for cell_id in came:
            executions = self._by_record_cell.get(cell_id)
            if executions:
                for execution in executions:
                    execution.cell = cell_id
                self._last_by_id[cell_id] = executions[-1]

    def _remap_all(self) -> None:
        """Map by cell ids from scratch (the page and the records first share an id); the family lists are
        compacted from now on (:mod:`repro_kernel.analysis.compaction`)."""
        self.index.refill(self.executions, compact=True)
        self._last_by_id = {}
        for cell_id, executions in self._by_record_cell.items():
            on_page = cell_id in self._page_ids
            for execution in executions:
                execution.cell = cell_id if on_page else None
            if on_page and executions:
                self._last_by_id[cell_id] = executions[-1]
        self._unidentified_dirty = True

    def _map_unidentified(self) -> None:
        """Records without a cell id, mapped as map_executions maps them beside records mapped by id."""
        mapping = map_executions(self._unidentified, self._page or [])
        for execution, cell in zip(self._unidentified_at, mapping):
            if execution is not None:
                execution.cell = cell
        self._unidentified_dirty = False

    def _map_everything(self, records: list[dict[str, Any]]) -> None:
        """No record's cell id is on the page (records without ids, or a page that shares none): the whole
        session is mapped by execution counts and code, as map_executions does."""
        mapping = map_executions(records, self._page or [])
        for execution, position in zip(self.executions, self._positions):
            execution.cell = mapping[position]
        self._last_by_id = {}
        self._unidentified_dirty = False

    def _combine_last(self) -> None:
        """The index's last execution of each cell: by id, and from the records mapped otherwise."""
        if self._ids_match and not self._unidentified:
            self.index.last = self._last_by_id
            return
        if not self._ids_match:  # the whole session is mapped otherwise: map_executions's case
            last: dict[str, Execution] = {}
            for execution in self.executions:
                if execution.cell is not None:
                    last[execution.cell] = execution
            self.index.last = last
            return
        last = dict(self._last_by_id)
        for other in self._unidentified_at:
            if other is not None and other.cell is not None:
                held = last.get(other.cell)
                if held is None or held.seq < other.seq:
                    last[other.cell] = other
        self.index.last = last


def _fingerprint(record: dict[str, Any]) -> tuple[Any, ...]:
    """What of a record the state took in (code, file and network accesses, error texts)."""
    return (record.get("code"), record.get("error"), tuple(record.get("recorder_errors") or ()),
            tuple((k, a.get("path"), a.get("rel")) for k in ("files_read", "files_written")
                  for a in record.get(k) or () if isinstance(a, dict)),
            tuple((a.get("host"), a.get("url")) for a in record.get("network") or () if isinstance(a, dict)))
