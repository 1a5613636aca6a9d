"""The live-update benchmark runs on a long session and finds its flags.

Speed is measured by benchmarks/analysis_live.py and reported there as figures, not asserted here: a timed
unit test on a shared, busy machine fails for the machine's reasons, not the code's.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def test_the_live_benchmark_runs_a_500_cell_session() -> None:
    spec = importlib.util.spec_from_file_location(
        "analysis_live", Path(__file__).resolve().parents[2] / "benchmarks" / "analysis_live.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    figures = bench.measure(500, 30)
    assert figures["executions"] == 600 and figures["flags"] > 0
    assert figures["min_ms"] <= figures["median_ms"]
    assert {"after_cell_median_ms", "after_edit_median_ms", "cold_ms"} <= set(figures)
