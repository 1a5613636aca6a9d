"""How long one live analysis update takes for a 500-cell session (target: under 5 ms).

A realistic session is synthesised: 500 cells on the page (JupyterLab cell ids), 600 executions (some
cells re-run, a few edited), imports, functions, pandas-style mutation, files read, randomness. Each update
is what the comm does after a cell: ``analyze_live(recorder, cells)`` on the whole session.

    python benchmarks/analysis_live.py [--cells 500] [--updates 200]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repro_kernel.analysis import analyze_live  # noqa: E402
from repro_kernel.core.hashing import FileHashCache  # noqa: E402
from repro_kernel.core.journal import Journal  # noqa: E402
from tests.analysis.scenarios import rec  # noqa: E402


def cell_code(i: int) -> str:
    kind = i % 10
    if kind == 0:
        return f"import math\nimport numpy as np\ndef load(v):\n    return {{'a': v}}\nv{i} = np.arange({i % 7 + 3})"
    if kind == 1:
        return f"def f{i}(a, b=2):\n    return a * k{max(i - 10, 1)} + b\nk{i} = {i}"
    if kind == 2:
        return f"df{i} = load(v{i - 2})\ndf{i}['c'] = df{i}['a'] * 2"
    if kind == 3:
        return f"df{i - 1}.dropna(inplace=True)\ntotal{i} = sum(x * x for x in v{i - 3})"
    if kind == 4:
        return f"%%time\nr{i} = f{i - 3}(k{i - 3})\nprint(r{i})"
    if kind == 5:
        return f"items{i} = []\nfor j in range(10):\n    items{i}.append(j * r{i - 1})"
    if kind == 6:
        return f"with open('data{i % 3}.csv') as fh:\n    raw{i} = fh.read()"
    if kind == 7:
        return f"sample{i} = np.random.rand(3)\nmean{i} = sample{i}.mean()"
    if kind == 8:
        return f"class Model{i}:\n    def fit(self, X):\n        return X + k{i - 7}\nm{i} = Model{i}().fit(v{i - 8})"
    return f"summary{i} = {{'n': len(items{i - 4}), 'mean': mean{i - 2}}}\nsummary{i}"


def build(cells: int, folder: Path) -> tuple[Any, list[dict[str, Any]]]:
    for n in range(3):
        (folder / f"data{n}.csv").write_text("a,b\n1,2\n" * 100)
    page = [{"id": f"cell-{i}", "cell_type": "code", "source": cell_code(i), "execution_count": None}
            for i in range(cells)]
    records = []
    order = list(range(cells)) + [i for i in range(0, cells, 5)]  # run all, then re-run every fifth cell
    for seq, index in enumerate(order, 1):
        code = page[index]["source"]
        extra: dict[str, Any] = {}
        if index % 10 == 6:
            path = folder / f"data{index % 3}.csv"
            extra["files_read"] = [{"path": str(path), "rel": path.name, "size": path.stat().st_size,
                                    "mtime": path.stat().st_mtime, "hash": FileHashCache().facts(str(path)).hash,
                                    "error": None}]
        if index % 10 == 7:
            extra["random"] = {"sources": {"numpy": {"before": f"a{seq}", "after": f"b{seq}", "state_ref": None}},
                               "generators": [], "seeds": [], "unseeded_draw": True}
        if index % 10 == 0 and seq == 1:
            extra["modules"] = [{"name": "numpy", "distribution": "numpy", "version": "2.1.3"}]
        records.append(rec(seq, code, f"cell-{index}", **extra))
        page[index]["execution_count"] = seq
    for index in range(3, cells, 50):  # a few cells edited after they ran
        page[index]["source"] += "\n# edited"
    journal = Journal(folder / ".repro")
    journal.begin_session("bench", "bench.ipynb", {}, 0.0)
    recorder = SimpleNamespace(
        records=records, journal=journal, file_cache=FileHashCache(), notebook_dir=folder, notebook="bench.ipynb",
        session_id="bench", environment={"python": {"version": "3.11.9"}, "distributions": {"numpy": "2.1.3"},
                                         "machine": {"gpus": []}, "environment_variables": {}, "git": None},
    )
    return recorder, page


def measure(cells: int, updates: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        recorder, page = build(cells, Path(tmp))
        first = time.perf_counter()
        result = analyze_live(recorder, page)
        cold = time.perf_counter() - first
        timings, cpu = [], []
        for _ in range(updates):
            start, start_cpu = time.perf_counter(), time.thread_time()
            analyze_live(recorder, page)
            timings.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - start_cpu)
        # What really happens between two updates: a cell runs (one new record, its count on the page), or
        # the user edits a cell (the frontend sends a new cells list).
        executions = len(recorder.records)
        after_cell, after_edit = [], []
        picker = random.Random(5)
        for n in range(updates // 2):
            index = picker.randrange(cells)
            seq = len(recorder.records) + 1
            recorder.records.append(rec(seq, page[index]["source"], f"cell-{index}"))
            page = [dict(c) for c in page]
            page[index]["execution_count"] = seq
            start = time.perf_counter()
            analyze_live(recorder, page)
            after_cell.append(time.perf_counter() - start)
            index = picker.randrange(cells)
            page = [dict(c) for c in page]
            page[index]["source"] += f"\n# edit {n}"
            start = time.perf_counter()
            analyze_live(recorder, page)
            after_edit.append(time.perf_counter() - start)
        recorder.journal.close()
    timings.sort()
    return {
        "cells": cells, "executions": executions, "flags": len(result["flags"]),
        "cold_ms": cold * 1000, "median_ms": statistics.median(timings) * 1000,
        "p95_ms": timings[int(len(timings) * 0.95) - 1] * 1000, "min_ms": timings[0] * 1000,
        "cpu_median_ms": statistics.median(cpu) * 1000,
        "after_cell_median_ms": statistics.median(after_cell) * 1000,
        "after_cell_p95_ms": sorted(after_cell)[int(len(after_cell) * 0.95) - 1] * 1000,
        "after_edit_median_ms": statistics.median(after_edit) * 1000,
        "after_edit_p95_ms": sorted(after_edit)[int(len(after_edit) * 0.95) - 1] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=500)
    parser.add_argument("--updates", type=int, default=200)
    args = parser.parse_args()
    figures = measure(args.cells, args.updates)
    print(f"{figures['cells']} cells, {figures['executions']} executions, {figures['flags']} flags: "
          f"update median {figures['median_ms']:.2f} ms, p95 {figures['p95_ms']:.2f} ms, "
          f"min {figures['min_ms']:.2f} ms, CPU time median {figures['cpu_median_ms']:.2f} ms "
          f"(first, uncached: {figures['cold_ms']:.1f} ms); target < 5 ms")
    print(f"after a new execution: median {figures['after_cell_median_ms']:.2f} ms, "
          f"p95 {figures['after_cell_p95_ms']:.2f} ms; after an edit (new cells list): median "
          f"{figures['after_edit_median_ms']:.2f} ms, p95 {figures['after_edit_p95_ms']:.2f} ms")
    with open("/proc/loadavg") as handle:
        print(f"load average while measuring: {handle.read().split()[0]} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
