"""The `repro` comm's deltas (docs/contracts.md, "Deltas"): a frontend that accepts them gets the full state on
`hello`, then small deltas (timeline entries, changed flags, counters) coalesced over runs of cells, and pages
of the timeline on request; a frontend that does not keeps protocol 1's pushes."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from repro_kernel.testing import LiveKernel


def deltas(k: LiveKernel, comm_id: str) -> list[dict[str, Any]]:
    found = [m["data"] for m in list(k.comm_messages) if m.get("comm_id") == comm_id and m["data"].get("type") == "delta"]
    return found


def send(k: LiveKernel, comm_id: str, data: dict[str, Any]) -> list[dict[str, Any]]:
    """``send_comm``, keeping the pushes that came before the kernel went idle (they carry the request as
    their parent) with the others."""
    replies = k.send_comm(comm_id, data)
    for r in replies:
        if r.get("type") == "delta":
            k.comm_messages.append({"comm_id": comm_id, "data": {k_: v for k_, v in r.items() if k_ != "msg_type"}})
    return replies


def wait_deltas(k: LiveKernel, comm_id: str, until: Any, timeout: float = 20) -> list[dict[str, Any]]:
    """Read pushes until ``until(deltas so far)`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        seen = deltas(k, comm_id)
        if until(seen):
            return seen
        try:
            out = k.kc.get_iopub_msg(timeout=0.2)
        except Exception:
            continue
        if out["msg_type"] == "comm_msg":
            k.comm_messages.append(out["content"])
    raise AssertionError(f"no such deltas within {timeout} s: {deltas(k, comm_id)}")


def apply(state: dict[str, Any], delta: dict[str, Any]) -> None:
    """What the frontend's model does with a delta (src/model.ts, applyDelta)."""
    flags = delta.get("flags")
    if flags:
        held = {} if flags["reset"] else state["flags"]
        for gone in flags["remove"]:
            held.pop(gone, None)
        held.update({f["id"]: f for f in flags["upsert"]})
        state["flags"] = {i: held[i] for i in flags["order"]}
    cells = delta.get("cells")
    if cells:
        held_cells = {} if cells["reset"] else state["cells"]
        held_cells.update(cells["changed"])
        state["cells"] = {c: k for c, k in held_cells.items() if k}
    state["timeline"] += delta.get("records") or []
    state["counters"] = delta.get("counters") or state["counters"]


def test_deltas_carry_changes_coalesced_and_match_the_full_state(notebook_dir: Path) -> None:
    (notebook_dir / "data.csv").write_text("a\n1\n")
    with LiveKernel(notebook_dir, notebook="nb.ipynb") as k:
        k.run("%load_ext repro_kernel\n%repro start")
        hello = k.open_comm("d1", {"type": "hello", "version": 1, "accept": ["delta"], "request_id": "h"})
        reply = next(r for r in hello if r.get("type") == "hello-reply")
        assert reply["success"] and reply["delta"] == 1 and reply["status"]["recording"] is True
        k.open_comm("old", {"type": "hello", "version": 1, "request_id": "o"})  # a frontend of protocol 1
        cells = [{"id": "a", "cell_type": "code", "source": "x = 1"},
                 {"id": "b", "cell_type": "code", "source": "y = x + 1"},
                 {"id": "c", "cell_type": "code", "source": "with open('data.csv') as f:\n    raw = f.read()"}]
        send(k, "d1", {"type": "notebook", "cells": cells})
        first = wait_deltas(k, "d1", lambda ds: any(d.get("flags") for d in ds))
        assert first[0]["flags"]["reset"] is True and first[0]["seq"] == 1

        k.comm_messages.clear()
        for cell in cells[:2] + cells[:1] * 30:  # x = 1 again and again: back to back
            k.run(cell["source"], cell_id=cell["id"])
        k.run(cells[2]["source"], cell_id="c")
        got = wait_deltas(k, "d1", lambda ds: sum(len(d.get("records") or ()) for d in ds) >= 33
                          and any("unsnapshotted-data" in str(d.get("flags")) for d in ds))
        assert len(got) < 33, "deltas are coalesced over a run of cells"
        assert [d["seq"] for d in got] == sorted(d["seq"] for d in got)
        entries = [e for d in got for e in d.get("records") or ()]
        assert [e["cell_id"] for e in entries[:3]] == ["a", "b", "a"] and entries[-1]["data"] is True
        assert [d["counters"] for d in got if d.get("counters")][-1]["executions"] == 33
        assert all(len(str(d)) < 8000 for d in got), "a delta stays small"
        # the comm of protocol 1 still gets its pushes; the delta comm gets none of them
        old = [m["data"]["type"] for m in k.comm_messages if m.get("comm_id") == "old"]
        assert "record" in old and "status" in old
        assert not [m for m in k.comm_messages if m.get("comm_id") == "d1" and m["data"]["type"] in ("record", "status")]

        # Applying the deltas in order gives exactly the full state a fresh hello gets.
        state: dict[str, Any] = {"flags": {}, "cells": {}, "timeline": [], "counters": None}
        for d in first + got:
            apply(state, d)
        k.comm_messages.clear()
        send(k, "d1", {"type": "flags", "request_id": "f"})
        full = wait_deltas(k, "d1", lambda ds: any((d.get("flags") or {}).get("reset") for d in ds))[-1]
        assert [f["id"] for f in full["flags"]["upsert"]] == list(state["flags"])
        assert {c: v for c, v in full["cells"]["changed"].items() if v} == state["cells"]
        assert "unsnapshotted-data" in state["cells"]["c"]

        # A snapshot clears the flag: the next delta removes it and says so for the cell.
        k.comm_messages.clear()
        send(k, "d1", {"type": "snapshot", "paths": ["data.csv"]})
        after = wait_deltas(k, "d1", lambda ds: any((d.get("flags") or {}).get("remove") for d in ds))
        for d in after:
            apply(state, d)
        assert "unsnapshotted-data" not in str(state["flags"]) and "c" not in state["cells"]
        assert any(d.get("status") for d in after) and any(d.get("inputs") for d in after)


def test_timeline_pages(notebook_dir: Path) -> None:
    with LiveKernel(notebook_dir, notebook="nb.ipynb") as k:
        k.run("%load_ext repro_kernel\n%repro start")
        k.open_comm("d1", {"type": "hello", "version": 1, "accept": ["delta"]})
        for n in range(25):
            k.run(f"x = {n}", cell_id=f"c{n % 3}")
        latest = next(r for r in k.send_comm("d1", {"type": "timeline", "limit": 10}) if r.get("type") == "timeline-reply")
        assert latest["success"] and len(latest["entries"]) == 10 and latest["more"] is True
        seqs = [e["seq"] for e in latest["entries"]]
        older = next(r for r in k.send_comm("d1", {"type": "timeline", "limit": 10, "before": seqs[0]})
                     if r.get("type") == "timeline-reply")
        assert [e["seq"] for e in older["entries"]] == list(range(seqs[0] - 10, seqs[0]))
        bad = next(r for r in k.send_comm("d1", {"type": "timeline", "limit": 0}) if r.get("type") == "timeline-reply")
        assert bad["success"] is False and "limit" in bad["error"]
