"""The labelled scenario suite: every scenario's must/must-not flags, precision and recall per kind,
and the live engine (inside the kernel) agreeing with the offline one (``jupyter repro check``)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from repro_kernel.testing import START, execute_notebook, make_notebook
from tests.analysis import driver
from tests.analysis.scenarios import ALL, BARE, EXECUTE_NOTEBOOK, KERNEL, RECORD, score


@pytest.fixture(scope="module")
def kernel_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """All kernel scenarios, batched in one real kernel, plus the fresh-kernel ones (one kernel each)."""
    root = tmp_path_factory.mktemp("scenarios")
    saved, live = driver.run_kernel_batch(KERNEL, root / "batch")
    results = {name: driver.judge_saved(path, ids) for name, (path, ids) in saved.items()}
    for scenario in EXECUTE_NOTEBOOK:
        nb = make_notebook([START, *scenario.cells])
        order = [0] + [i + 1 for i in (scenario.steps or range(len(scenario.cells)))]
        path = root / "fresh" / scenario.name / "notebook.ipynb"
        execute_notebook(nb, path, order=order)
        results[scenario.name] = driver.judge_saved(path, {i: c.id for i, c in enumerate(nb.cells[1:])})
    return {"results": results, "live": live, "saved": saved}


@pytest.fixture(scope="module")
def offline_results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The scenarios judged without a kernel: hand-built records and bare saved notebooks."""
    results = {}
    for scenario in RECORD:
        results[scenario.name] = driver.run_record_scenario(scenario)
    bare = tmp_path_factory.mktemp("bare")
    for scenario in BARE:
        results[scenario.name] = driver.run_bare_scenario(scenario, bare / scenario.name)
    return results


@pytest.fixture(scope="module")
def all_results(kernel_runs: dict[str, Any], offline_results: dict[str, Any]) -> dict[str, Any]:
    return {**kernel_runs["results"], **offline_results}


# The kernel scenarios share one batch of real kernels (most of this module's time): the slow lane runs them.
IN_KERNELS = {s.name for s in KERNEL + EXECUTE_NOTEBOOK}


@pytest.mark.parametrize("scenario", [pytest.param(s, id=s.name, marks=[pytest.mark.slow] if s.name in IN_KERNELS
                                                    else []) for s in ALL])
def test_scenario(scenario: Any, request: pytest.FixtureRequest) -> None:
    if scenario.name in IN_KERNELS:
        got = request.getfixturevalue("kernel_runs")["results"][scenario.name]
    else:
        got = request.getfixturevalue("offline_results")[scenario.name]
    missing, extra = driver.missing_and_extra(scenario, got)
    assert not missing and not extra, f"missing {missing}, unexpected {extra}; got {driver.describe(got)}"


@pytest.mark.slow
def test_suite_size_and_precision_recall(all_results: dict[str, Any]) -> None:
    kernel_sessions = len(KERNEL) + len(EXECUTE_NOTEBOOK)
    assert len(ALL) >= 40 and kernel_sessions >= 30
    table = score(all_results)
    lines = [f"{kind:<22} tp={r['tp']:>2} fp={r['fp']:>2} fn={r['fn']:>2} tn={r['tn']:>3} "
             f"precision={r['precision'] if r['precision'] is None else round(r['precision'], 2)} "
             f"recall={r['recall'] if r['recall'] is None else round(r['recall'], 2)} "
             f"extra_cells={r['extra_cells']} {'; '.join(r.get('extra_in', []))}"
             for kind, r in table.items()]
    print("\n" + "\n".join(lines))
    report = os.environ.get("REPRO_SCENARIO_REPORT")
    if report:
        Path(report).write_text(json.dumps({"scenarios": len(ALL), "kernel_sessions": kernel_sessions,
                                            "table": table}, indent=2))
    for kind, row in table.items():
        assert row["tp"] + row["fn"] >= 1, f"no scenario must raise {kind}"
        assert row["recall"] >= 0.9, f"{kind}: recall {row['recall']}"
        assert row["precision"] is None or row["precision"] >= 0.9, f"{kind}: precision {row['precision']}"


@pytest.mark.slow
def test_live_engine_agrees_with_offline(kernel_runs: dict[str, Any]) -> None:
    """What the kernel pushes over the comm equals what `jupyter repro check` says for the same page."""
    disagreements = []
    for scenario in KERNEL:
        live = kernel_runs["live"][scenario.name]
        assert "flags" in live, f"{scenario.name}: live analysis failed: {live}"
        path, ids = kernel_runs["saved"][scenario.name]
        from repro_kernel.analysis import analyze_notebook

        offline = analyze_notebook(path).cell_kinds()
        if {k: sorted(v) for k, v in live["cells"].items()} != {k: sorted(v) for k, v in offline.items()}:
            disagreements.append((scenario.name, live["cells"], offline))
    assert not disagreements, disagreements
