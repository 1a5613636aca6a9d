"""Where the recorder's per-cell time goes, measured inside a running kernel.

Used by ``benchmarks/overhead.py`` (it runs :func:`breakdown` in the recorded kernels), or by hand in any
kernel where ``%repro start`` ran::

    import sys; sys.path.insert(0, "benchmarks")
    import overhead_profile; overhead_profile.breakdown(500)

It drives the recorder's own ``pre_run_cell`` / ``post_run_cell`` with synthetic trivial cells (``x = N``,
every one distinct so no cache hides the cost), times each step on its own, and profiles the callbacks with
cProfile. Nothing in ``repro_kernel`` is changed; the synthetic records do land in the (benchmark's) journal.
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import statistics
import time
from typing import Any, Callable


def _per_call_us(fn: Callable[[int], Any], n: int) -> float:
    """Median over 5 batches of the mean time of fn(i), in microseconds."""
    batches = []
    per = max(1, n // 5)
    counter = 0
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(per):
            fn(counter)
            counter += 1
        batches.append((time.perf_counter() - t0) / per * 1e6)
    return statistics.median(batches)


def callbacks_us(n: int = 300, tag: str = "") -> float:
    """Median µs of one pre_run_cell + post_run_cell pair for a fresh trivial cell, comm pushes excluded."""
    from IPython import get_ipython
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult

    import repro_kernel

    rec = repro_kernel.get_recorder(get_ipython())
    base = 20_000_000 + hash(tag) % 1_000_000 * 100
    listeners = list(rec.listeners)
    rec.listeners[:] = []
    try:
        def whole(i: int) -> None:
            info = ExecutionInfo(f"x = {base + i}", True, False, True, None)
            result = ExecutionResult(info)
            result.execution_count = i
            rec.pre_run_cell(info)
            rec.post_run_cell(result)

        return _per_call_us(whole, n)
    finally:
        rec.listeners[:] = listeners


def breakdown(n: int = 500, top: int = 25, tag: str = "") -> dict[str, Any]:
    from IPython import get_ipython
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult

    import repro_kernel
    from repro_kernel.core.dataflow import analyze_code
    from repro_kernel.core.hashing import hash_text
    from repro_kernel.kernel import randomness

    ip = get_ipython()
    rec = repro_kernel.get_recorder(ip)
    if rec is None or not rec.recording:
        raise RuntimeError("run %load_ext repro_kernel and %repro start first")

    base = 10_000_000 + hash(tag) % 1_000_000 * 100

    def cell(i: int) -> tuple[Any, Any]:
        info = ExecutionInfo(f"x = {base + i}", True, False, True, None)
        result = ExecutionResult(info)
        result.execution_count = i
        return info, result

    def whole(i: int) -> None:
        info, result = cell(i)
        rec.pre_run_cell(info)
        rec.post_run_cell(result)

    def pre_only(i: int) -> None:
        info, _ = cell(i)
        rec.pre_run_cell(info)
        rec._pending = None
        from repro_kernel.kernel import audit

        audit.end()
        rec._unhook_displays()

    sample = {}

    def keep(i: int) -> None:
        info, result = cell(i)
        rec.pre_run_cell(info)
        rec.post_run_cell(result)
        sample["record"] = rec.records[-1]

    keep(0)
    record = sample["record"]
    listeners = list(rec.listeners)

    steps: dict[str, float] = {}
    steps["whole pre+post (as configured)"] = _per_call_us(whole, n)
    if listeners:
        rec.listeners[:] = []
        steps["whole pre+post, no listeners (no comm push)"] = _per_call_us(whole, n)
        rec.listeners[:] = listeners
    steps["pre_run_cell alone"] = _per_call_us(pre_only, n)
    steps["randomness.capture() (python+numpy when loaded)"] = _per_call_us(lambda i: randomness.capture(), n)
    steps["analyze_code, new code each time (ast.parse + visit)"] = _per_call_us(
        lambda i: analyze_code(f"y = {base + 5_000_000 + i}"), n)
    steps["analyze_code, cached"] = _per_call_us(lambda i: analyze_code("x = 1"), n)
    steps["hash_text(code)"] = _per_call_us(lambda i: hash_text(f"x = {i}"), n)
    steps["json.dumps(record)"] = _per_call_us(lambda i: json.dumps(record, default=str), n)
    if rec.journal is not None:
        journal = rec.journal

        def append(i: int) -> None:
            r = dict(record)
            r["seq"] = 50_000_000 + hash(tag) % 1000 * 100_000 + i
            journal.append(r, rec.notebook)

        steps["journal.append (one SQLite transaction)"] = _per_call_us(append, n)
    steps[f"recorder.status() with {len(rec.records)} records"] = _per_call_us(lambda i: rec.status(), max(5, n // 10))
    if listeners:
        steps["listeners (comm push: record + status + flags)"] = _per_call_us(
            lambda i: rec._notify("record", record), max(5, n // 10))
        state = getattr(repro_kernel, "_STATE", {}).get(id(ip))
        channel = state[1] if state else None
        if channel is not None and getattr(channel, "comms", None):
            steps["  comm: push `record` message"] = _per_call_us(
                lambda i: channel._push("record", {"record": record}), max(5, n // 10))
            # What the cell's path pushes: the status with the latest PUSHED_TIMELINE entries, not the full one.
            status = rec.status(timeline_limit=channel.PUSHED_TIMELINE)
            steps[f"  comm: push `status` message, {channel.PUSHED_TIMELINE} timeline entries (status() precomputed)"] = \
                _per_call_us(lambda i: channel._push("status", {"status": status}), max(5, n // 10))
            full = rec.status()
            steps[f"  comm: push the full `status` (hello/start replies: {len(full['timeline'])} entries)"] = \
                _per_call_us(lambda i: channel._push("status", {"status": full}), max(5, n // 10))
            steps["  comm: _push_flags() (analysis)"] = _per_call_us(lambda i: channel._push_flags(), max(5, n // 10))
            steps["  recorder.inputs()"] = _per_call_us(lambda i: rec.inputs(), max(5, n // 10))

    prof = cProfile.Profile()
    prof.enable()
    for i in range(n):
        whole(100_000 + i)
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    cum = out.getvalue()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("tottime").print_stats(top)
    return {"n": n, "records_in_memory": len(rec.records), "steps_us": steps,
            "cprofile_cumulative": _trim(cum), "cprofile_tottime": _trim(out.getvalue())}


def _trim(text: str) -> str:
    """Drop pstats' preamble and shorten site-packages paths."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith("ncalls"):
            lines = lines[i:]
            break
    import re

    return "\n".join(re.sub(r"\S*/(site-packages|lib/python3\.\d+|repro_kernel)/", r"\1/", l) for l in lines).strip()


if __name__ == "__main__":  # pragma: no cover - by hand: an in-process IPython shell
    import sys
    import tempfile

    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "repro_kernel")
    import os

    os.chdir(tempfile.mkdtemp(prefix="repro-profile-"))
    shell.run_line_magic("repro", "start --notebook profile.ipynb")
    result = breakdown(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
    for k, v in result["steps_us"].items():
        print(f"{v:10.1f} us  {k}")
    print(result["cprofile_cumulative"])
