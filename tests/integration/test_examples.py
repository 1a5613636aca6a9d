"""The example notebooks do what they say: the tour triggers every flag it teaches and its fixes clear them;
the end-to-end example runs, exports and verifies."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from repro_kernel.analysis import analyze_notebook
from repro_kernel.testing import LiveKernel

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
# What the tour only describes (it would need the network, a package upgrade or a GPU).
DESCRIBED_ONLY = {"network-input", "environment-drift", "nondeterministic-gpu"}


def _tour(cell: Any) -> dict[str, Any]:
    return dict(cell.metadata.get("repro_tour") or {})


def _play_as_found(nb: nbformat.NotebookNode, path: Path) -> None:
    """Run the tour the way its text tells a reader to trigger each flag, and save it as a frontend would."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    order: list[Any] = []
    for cell in code:
        tour = _tour(cell)
        if tour.get("skip") or cell in order:
            continue
        after = tour.get("order", "")
        if after.startswith("after:"):  # run the named cell (below this one) first
            order.append(next(c for c in code if c.id == after.split(":", 1)[1]))
        order.append(cell)
    with LiveKernel(path.parent, notebook=path.name) as kernel:
        for cell in order:
            result = kernel.run(cell.source, cell_id=cell.id)
            assert result["reply"]["status"] == "ok", (cell.id, result)
            cell.outputs = result["cell_outputs"]
            cell.execution_count = result["reply"].get("execution_count")
    for cell in code:
        if "edit_after_run" in _tour(cell):
            cell.source = _tour(cell)["edit_after_run"]
    nbformat.write(nb, path)


def _restart_and_run_all(nb: nbformat.NotebookNode, path: Path) -> None:
    with LiveKernel(path.parent, notebook=path.name) as kernel:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            result = kernel.run(cell.source, cell_id=cell.id)
            assert result["reply"]["status"] == "ok", (cell.id, result)
            cell.outputs = result["cell_outputs"]
            cell.execution_count = result["reply"].get("execution_count")
    nbformat.write(nb, path)


@pytest.mark.slow
def test_the_tour_triggers_each_flag_and_its_fixes_clear_them(tmp_path: Path) -> None:
    nb = nbformat.read(EXAMPLES / "tour.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "committed without outputs"
    taught = {_tour(c)["kind"] for c in nb.cells if "kind" in _tour(c)}
    from repro_kernel.analysis import KINDS

    assert taught | DESCRIBED_ONLY == set(KINDS), "every kind is either triggered or described"
    text = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    for kind in KINDS:
        assert f"`{kind}`" in text, f"the tour explains {kind}"

    work = tmp_path / "tour"
    work.mkdir()
    path = work / "tour.ipynb"
    _play_as_found(nb, path)
    found = analyze_notebook(path)
    by_kind: dict[str, set[str]] = {}
    for flag in found.flags:
        by_kind.setdefault(flag.kind, set()).update(flag.cells)
    for cell in nb.cells:
        kind = _tour(cell).get("kind")
        if kind:  # the flag names the cell the tour says it will (the trigger, or the cell it affects)
            expected = set(_tour(cell).get("flags", [cell.id]))
            assert expected <= by_kind.get(kind, set()), (kind, sorted((f.kind, f.cells) for f in found.flags))

    for cell in nb.cells:
        if "fixed" in _tour(cell):
            cell.source = _tour(cell)["fixed"]
    fixed_dir = tmp_path / "fixed"
    fixed_dir.mkdir()
    fixed = fixed_dir / "tour.ipynb"
    _restart_and_run_all(nb, fixed)
    report = analyze_notebook(fixed)
    assert [(f.kind, f.cells) for f in report.flags] == [], report.flags
    check = subprocess.run([sys.executable, "-m", "repro_kernel.cli", "check", "tour.ipynb"], cwd=fixed_dir,
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.mark.slow
def test_end_to_end_trains_plots_exports_and_verifies(tmp_path: Path) -> None:
    nb = nbformat.read(EXAMPLES / "end_to_end.ipynb", as_version=4)
    work = tmp_path / "e2e"
    work.mkdir()
    path = work / "end_to_end.ipynb"
    _restart_and_run_all(nb, path)
    accuracy = next(c for c in nb.cells if c.get("id") == "train").outputs[0]["data"]["text/plain"]
    assert 0.8 < float(accuracy) <= 1.0
    assert (work / "importances.png").stat().st_size > 1000

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "repro_kernel.cli", *args], cwd=work, capture_output=True,
                              text=True, timeout=300)

    check = cli("check", "end_to_end.ipynb", "--json")
    flags = __import__("json").loads(check.stdout)["flags"]
    # matplotlib reads its own font cache at import: the recorder does not count tool caches as data.
    assert flags == [], flags
    export = cli("export", "end_to_end.ipynb", "--force")
    assert export.returncode == 0, export.stderr
    verify = cli("verify", "end_to_end.repro")
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
    assert "scikit-learn==" in (work / "end_to_end.repro" / "requirements.txt").read_text()
    shutil.rmtree(work / "end_to_end.repro")
