"""The live analysis, fed a session record by record (and page change by page change), ends each step in
exactly the flags a from-scratch analysis of the same records and page gives (what ``check`` runs)."""

from __future__ import annotations

from typing import Any, Optional

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from repro_kernel.analysis import Context, analyze, build_executions, map_executions
from repro_kernel.analysis.incremental import IncrementalSession
from repro_kernel.analysis.sessions import cells_from_dicts
from tests.analysis.scenarios import rec

CODES = [
    "x = 1", "x = 2", "y = x + 1", "x += 1", "del x", "def f():\n    return x * k", "k = 3", "z = f()",
    "lst = []", "lst.append(y)", "total = sum(lst)", "print(y)", "from math import *", "v = sqrt(4)",
    "import random\nr = random.random()", "import random\nrandom.seed(1)", "import numpy as np\na = np.random.rand(2)",
    "with open('/data/d.csv') as fh:\n    raw = fh.read()", "%repro status", "%load_ext repro_kernel",
    "token = 'ghp_" + "a1B2" * 9 + "'", "import torch\nt = torch.zeros(1).cuda()", "w = q", "import uuid\nuuid.uuid4()",
]
PATHS = ["/data/d.csv", "/data/e.csv"]
HOSTS = ["example.org", "127.0.0.1"]


def extras(draw: Any, seq: int) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    if draw(st.integers(0, 3)) == 0:
        path = draw(st.sampled_from(PATHS))
        fields["files_read"] = [{"path": path, "rel": None, "size": 4, "mtime": 1.0,
                                 "hash": draw(st.sampled_from(["blake3:aa", "blake3:bb", None])), "error": None}]
    if draw(st.integers(0, 5)) == 0:
        fields["files_written"] = [{"path": draw(st.sampled_from(PATHS)), "rel": None, "size": 4, "mtime": 1.0,
                                    "hash": "blake3:cc", "error": None}]
    if draw(st.integers(0, 3)) == 0:
        fields["random"] = {"sources": {"numpy": {"before": f"a{seq}", "after": f"b{seq}", "state_ref": None}},
                            "generators": [], "seeds": [], "unseeded_draw": True}
    if draw(st.integers(0, 5)) == 0:
        fields["modules"] = [{"name": "torch", "distribution": "torch",
                              "version": draw(st.sampled_from(["2.5.1", "2.6.0"]))}]
    if draw(st.integers(0, 6)) == 0:
        fields["network"] = [{"host": draw(st.sampled_from(HOSTS)), "port": 443, "url": "https://example.org/d"}]
    if draw(st.integers(0, 6)) == 0:
        fields["status"], fields["error"] = "error", "NameError"
    if draw(st.integers(0, 8)) == 0:
        fields["output_hash"] = "blake3:out"
    return fields


@st.composite
def sessions(draw: Any) -> tuple[list[dict[str, Any]], list[Any]]:
    """A first page and steps: ("run", cell index or None for a cell-less record, code, extras, whether the code
    is the cell's), ("edit", i, code), ("delete", i), ("add", code), ("send",) (the page sent again, unchanged:
    a new list); an earlier run step repeated a few times stands for re-runs."""
    page = [{"id": f"c{i}", "cell_type": draw(st.sampled_from(["code", "code", "code", "markdown"])),
             "source": draw(st.sampled_from(CODES)), "execution_count": None} for i in range(draw(st.integers(1, 6)))]
    steps: list[Any] = []
    for seq in range(1, draw(st.integers(1, 40)) + 1):
        kind = draw(st.sampled_from(["run"] * 5 + ["edit", "delete", "add", "send", "bare", "again"]))
        runs = [s for s in steps if s[0] == "run"]
        if kind == "again" and runs:  # re-runs, as a long session has them: what the live index compacts
            steps += [draw(st.sampled_from(runs))] * draw(st.integers(1, 7))
        elif kind in ("run", "bare", "again"):
            steps.append(("run", draw(st.integers(0, 8)) if kind == "run" else None, draw(st.sampled_from(CODES)),
                          extras(draw, seq), draw(st.booleans())))
        elif kind in ("edit", "delete"):
            steps.append((kind, draw(st.integers(0, 8)), draw(st.sampled_from(CODES))))
        elif kind == "add":
            steps.append(("add", draw(st.sampled_from(CODES))))
        else:
            steps.append(("send",))
    return page, steps


def from_scratch(records: list[dict[str, Any]], cells: list[dict[str, Any]], context: Context) -> list[dict[str, Any]]:
    page = cells_from_dicts(cells)
    executions = build_executions(records, map_executions(records, page))
    flags, _ = analyze(executions, page, context)
    return [f.to_dict() for f in flags]


def incremental(state: IncrementalSession, records: list[dict[str, Any]], page: Any, context: Context) -> list[dict[str, Any]]:
    assert state.update(records, page)
    flags, _ = analyze(state.executions, page, context, final=state.final, index=state.index)
    return [f.to_dict() for f in flags]


def context() -> Context:
    facts = {"/data/d.csv": "blake3:aa", "/data/e.csv": "blake3:dd"}

    class Facts:
        def __init__(self, digest: Optional[str]) -> None:
            self.hash, self.error = digest, None if digest else "FileNotFoundError"

    return Context(environment={"distributions": {"torch": "2.5.1"}, "machine": {"gpus": [{"name": "gpu"}]},
                                "python": {"version": "3.11.9"}},
                   file_facts=lambda p: Facts(facts.get(p)), snapshot_hashes={"blake3:bb"},
                   previous_environment={"distributions": {"torch": "2.6.0"}, "python": {"version": "3.11.9"}})


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sessions())
def test_record_by_record_equals_from_scratch(session: tuple[list[dict[str, Any]], list[Any]]) -> None:
    cells, steps = session
    ctx = context()
    state = IncrementalSession("s1")
    records: list[dict[str, Any]] = []
    page = cells_from_dicts(cells)
    next_id = len(cells)
    for step in steps:
        if step[0] == "run":
            _kind, index, code, fields, from_page = step
            cell = cells[index % len(cells)] if index is not None else None
            if cell is not None and from_page and cell["cell_type"] == "code":
                code = cell["source"]
            records.append(rec(len(records) + 1, code, cell["id"] if cell is not None else None, **fields))
            if cell is not None:
                cell["execution_count"] = len(records)
                page = cells_from_dicts(cells)
        elif step[0] == "edit":
            cells[step[1] % len(cells)]["source"] = step[2]
            page = cells_from_dicts(cells)
        elif step[0] == "delete" and len(cells) > 1:
            del cells[step[1] % len(cells)]
            page = cells_from_dicts(cells)
        elif step[0] == "add":
            cells.append({"id": f"c{next_id}", "cell_type": "code", "source": step[1], "execution_count": None})
            next_id += 1
            page = cells_from_dicts(cells)
        elif step[0] == "send":
            page = list(page)
        assert incremental(state, records, page, ctx) == from_scratch(records, cells, ctx)


def test_a_deleted_cell_comes_back_with_its_executions() -> None:
    """Undoing a deletion (the same cell id back on the page) maps its executions to it again."""
    ctx = context()
    cells = [{"id": "a", "cell_type": "code", "source": "x = 1"}, {"id": "b", "cell_type": "code", "source": "y = x"}]
    records = [rec(1, "x = 1", "a"), rec(2, "y = x", "b")]
    state = IncrementalSession("s1")
    full = incremental(state, records, cells_from_dicts(cells), ctx)
    gone = incremental(state, records, cells_from_dicts(cells[1:]), ctx)
    assert [f["kind"] for f in gone] == ["hidden-state"] and [f["kind"] for f in gone] != [f["kind"] for f in full]
    assert incremental(state, records, cells_from_dicts(cells), ctx) == full == from_scratch(records, cells, ctx)


def test_a_record_rewritten_in_place_asks_for_a_rebuild() -> None:
    """The recorder's scrub thread redacts a record's code in place: the state cannot go on from it."""
    records = [rec(1, "x = 1", "a")]
    state = IncrementalSession("s1")
    assert state.update(records, cells_from_dicts([{"id": "a", "source": "x = 1"}]), lambda r: False)
    records[0]["code"] = "x = 2"
    assert not state.update(records, cells_from_dicts([{"id": "a", "source": "x = 1"}]), lambda r: True)


def _read(seq: int, cell: str, digest: str) -> dict[str, Any]:
    return rec(seq, "with open('/data/d.csv') as fh:\n    raw = fh.read()", cell,
               files_read=[{"path": "/data/d.csv", "rel": None, "size": 4, "mtime": 1.0, "hash": digest, "error": None}])


def test_re_reads_left_out_of_the_files_list_change_no_flag() -> None:
    """The live index leaves re-reads of unchanged content out; a re-read of other content, or one the
    labels would name, stays in."""
    ctx = context()
    cells = [{"id": "a", "cell_type": "code", "source": "with open('/data/d.csv') as fh:\n    raw = fh.read()"},
             {"id": "b", "cell_type": "code", "source": "x = 1"}]
    records = [_read(seq, "a", "blake3:aa") for seq in range(1, 8)]
    state = IncrementalSession("s1")
    before = incremental(state, records, cells_from_dicts(cells), ctx)
    assert before == from_scratch(records, cells, ctx) and "changed-data" not in str(before)
    assert len(state.index.of("files")) == 4, "re-reads past the 4 the labels may name are left out"
    records.append(_read(8, "a", "blake3:bb"))  # the same cell now reads other content
    flags = incremental(state, records, cells_from_dicts(cells), ctx)
    assert flags == from_scratch(records, cells, ctx)
    assert "changed-data" in str(flags)
    # Without cell a on the page the flags name executions by count: the first 4, as from scratch.
    assert incremental(state, records, cells_from_dicts(cells[1:]), ctx) == from_scratch(records, cells[1:], ctx)
    few = [_read(1, "a", "blake3:aa"), _read(2, "a", "blake3:aa")]
    state = IncrementalSession("s1")
    assert incremental(state, few, cells_from_dicts(cells[1:]), ctx) == from_scratch(few, cells[1:], ctx)
    assert "[1], [2]" in str(from_scratch(few, cells[1:], ctx))
