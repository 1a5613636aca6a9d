"""Which executions a family rule can do without: a re-run that tells the rule nothing new.

A session of 10,000 executions re-runs the same cells: the same read of the same file, the same unseeded draw.
The family rules (files, randomness, GPU, network) walk their executions on every update, so the live index
keeps out of a family's list an execution that cannot change that rule's flags: one from the same cell (by
the record's cell id, which maps to the same page cell as the earlier one whatever the page) with the same
facts for that rule (of its code, :func:`_facts`, and of its record, :func:`_projection`) as executions the
list holds already. What each rule needs to be the
same is below, per family; the property test (tests/analysis/test_incremental_property.py) checks the flags
against an index that keeps everything.

Only while records are mapped by cell id (the live kernel in JupyterLab): otherwise two records of one cell
id may map to different cells, and nothing is left out.
"""

from __future__ import annotations

from typing import Any, Optional

from repro_kernel.analysis.model import Execution

# Members of one class a list keeps: enough for the rules that name the first few executions of a list
# (``rules.common._labels`` names the first 4 when no cell is on the page; ``network`` shows the first 10 URLs).
_KEEP = {"random": 4, "gpu": 1, "network": 10}


class FamilyCompactor:
    """Decides, execution by execution in session order, whether a family's list takes it."""

    def __init__(self) -> None:
        self._members: dict[tuple[Any, ...], int] = {}
        # files: per path, the last event the list holds (kind, the access dict as recorded, read live),
        # the reads it holds, and the (cell id, code) of its readers
        self._last_event: dict[str, tuple[str, dict[str, Any]]] = {}
        self._reads: dict[str, int] = {}
        self._readers: dict[str, set[tuple[str, Any]]] = {}

    def admits(self, tag: str, execution: Execution) -> bool:
        record = execution.record
        cell_id = record.get("cell_id") if record else None
        if not cell_id or record is None:
            if tag == "files":
                self._note_files(execution, None)
            return True
        if tag == "files":
            return self._files(execution, str(cell_id))
        keep = _KEEP.get(tag)
        if keep is None:
            return True
        key = (tag, cell_id, _facts(tag, execution), _projection(tag, record))
        seen = self._members.get(key, 0)
        if seen >= keep:
            return False
        self._members[key] = seen + 1
        return True

    # -- files ----------------------------------------------------------------------------------------

    def _files(self, execution: Execution, cell_id: str) -> bool:
        """Left out when each of its reads and writes repeats the last event its path's list holds (same
        kind, same hash, both known), its path has 4 reads already (the labels name the first 4 readers),
        and a reader from the same cell with the same path literals is among them (same cells, same literals)."""
        record = execution.record or {}
        reader = (cell_id, _facts("files", execution))
        accesses = _accesses(record)
        redundant = bool(accesses)
        last: dict[str, tuple[str, dict[str, Any]]] = {}
        for kind, access in accesses if redundant else ():
            path = access.get("path")
            if not isinstance(path, str):
                redundant = False
                break
            held = last.get(path) or self._last_event.get(path)
            digest = access.get("hash")
            if (held is None or held[0] != kind or not digest or access.get("pending")
                    or held[1].get("hash") != digest or held[1].get("pending")):
                redundant = False
                break
            if kind == "files_read" and (self._reads.get(path, 0) < 4 or reader not in self._readers.get(path, ())):
                redundant = False
                break
            last[path] = (kind, access)
        if redundant:
            return False
        self._note_files(execution, reader)
        return True

    def _note_files(self, execution: Execution, reader: Optional[tuple[str, Any]]) -> None:
        for kind, access in _accesses(execution.record or {}):
            path = access.get("path")
            if not isinstance(path, str):
                continue
            self._last_event[path] = (kind, access)
            if kind == "files_read":
                self._reads[path] = self._reads.get(path, 0) + 1
                if reader is not None:
                    self._readers.setdefault(path, set()).add(reader)


def _accesses(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """The record's file events in the order the files rule takes them (reads, then writes)."""
    return [(kind, access) for kind in ("files_read", "files_written") for access in record.get(kind) or ()
            if isinstance(access, dict)]


def _facts(tag: str, execution: Execution) -> tuple[Any, ...]:
    """What of the code's facts the rule of ``tag`` reads: an edit elsewhere in the cell (a comment, another
    line) keeps its re-runs in one class."""
    facts = execution.facts
    if tag == "files":
        return tuple(facts.path_literals)
    if tag == "random":
        return (tuple(facts.seeds), tuple(facts.random_draws), tuple(facts.unseeded_generators))
    if tag == "gpu":
        return (tuple(facts.imported_modules), tuple(facts.determinism), bool(facts.gpu_uses))
    return ()


def _projection(tag: str, record: dict[str, Any]) -> tuple[Any, ...]:
    """What of a record the rule of ``tag`` reads (besides the cell and the code's facts)."""
    if tag == "random":
        random = record.get("random") or {}
        sources = random.get("sources") or {}
        return (bool(random.get("unseeded_draw")), bool(random.get("generators")),
                tuple(sorted((str(s), fp.get("before") is None, bool(fp.get("before")) and fp.get("before") != fp.get("after"))
                             for s, fp in sources.items() if isinstance(fp, dict))),
                tuple((str(g.get("kind") or ""), bool(g.get("seeded"))) for g in random.get("generators") or ()
                      if isinstance(g, dict)))
    if tag == "gpu":
        return tuple(str(m.get("name")) for m in record.get("modules") or () if isinstance(m, dict))
    if tag == "network":
        return tuple((str(a.get("host") or a.get("url") or "?"), a.get("url")) for a in record.get("network") or ()
                     if isinstance(a, dict))
    return ()
