"""The example notebooks do what they say: the tour triggers every flag it teaches and its fixes clear them;
the end-to-end example runs, exports and verifies."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import nbformat
import pytest

from repro_kernel.analysis import analyze_notebook
from repro_kernel.testing import LiveKernel, run_cli

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
            result = kernel.run_cell(cell)
            assert result["reply"]["status"] == "ok", (cell.id, result)
    for cell in code:
        if "edit_after_run" in _tour(cell):
            cell.source = _tour(cell)["edit_after_run"]
    nbformat.write(nb, path)


def _restart_and_run_all(nb: nbformat.NotebookNode, path: Path) -> None:
    with LiveKernel(path.parent, notebook=path.name) as kernel:
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            result = kernel.run_cell(cell)
            assert result["reply"]["status"] == "ok", (cell.id, result)
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
    check = run_cli("check", "tour.ipynb", cwd=fixed_dir, timeout=120)
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

    check = run_cli("check", "end_to_end.ipynb", "--json", cwd=work, timeout=300)
    flags = __import__("json").loads(check.stdout)["flags"]
    # matplotlib reads its own font cache at import: the recorder does not count tool caches as data.
    assert flags == [], flags
    export = run_cli("export", "end_to_end.ipynb", "--force", cwd=work, timeout=300)
    assert export.returncode == 0, export.stderr
    verify = run_cli("verify", "end_to_end.repro", cwd=work, timeout=300)
    assert verify.returncode == 0, verify.stdout[-2000:] + verify.stderr[-2000:]
    assert "scikit-learn==" in (work / "end_to_end.repro" / "requirements.txt").read_text()
    shutil.rmtree(work / "end_to_end.repro")
