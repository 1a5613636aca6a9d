"""Record one corpus notebook in one order through real kernels, export it, replay it, judge it (needs the corpus venv)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import nbformat
from compare import NORMALISATIONS, Windows, judge
from nbclient import NotebookClient
from orders import messy, top_to_bottom

from repro_kernel.testing import START, LiveKernel

CELL_TIMEOUT = 180


def _prepare(source: Path, target: Path, kernel: str) -> nbformat.NotebookNode:
    nb = nbformat.read(source, as_version=4)
    nb.nbformat_minor = max(nb.nbformat_minor, 5)
    for i, cell in enumerate(nb.cells):
        cell.id = cell.get("id") or f"cell-{i}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            cell.metadata.pop("execution", None)
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": "repro corpus", "language": "python"}
    nbformat.write(nb, target)
    return nb


def record(source: Path, folder: Path, name: str, order: str, kernel: str, env: dict[str, str]) -> dict[str, Any]:
    """Run the notebook's code cells in ``order`` (kernel restarts included) as JupyterLab does (cell ids sent),
    recording from the first cell; save it with the outputs the user saw."""
    path = folder / f"{name}.ipynb"
    nb = _prepare(source, path, kernel)
    cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    if order == "top":
        ops, notes = top_to_bottom(len(cells)), ["top to bottom"]
    else:
        ops, notes = messy(name, order, [c.source for c in cells])
    started = time.time()
    live: Optional[LiveKernel] = None
    errors, executions, restarts = 0, 0, 0

    def start() -> LiveKernel:
        kernel_ = LiveKernel(folder, path.name, kernel_name=kernel, env=env, timeout=CELL_TIMEOUT,
                             stop_on_error=True, graceful=True)
        kernel_.run(START, check=True)
        return kernel_

    try:
        live = start()
        for op in ops:
            if op[0] == "run":
                result = live.run_cell(cells[op[1]], send_cell_id=True)
                executions += 1
                errors += result["reply"].get("status") != "ok"
            elif op[0] == "edit":
                cells[op[1]].source = op[2]
            elif op[0] == "restart":
                live.shutdown()
                live = start()
                restarts += 1
    except Exception as exc:
        return {"record_error": f"{type(exc).__name__}: {exc}"[:500], "ops": len(ops)}
    finally:
        if live is not None:
            live.shutdown()
    ended = time.time()
    nbformat.write(nb, path)
    return {"moves": notes, "executions": executions, "cells": len(cells), "restarts": restarts,
            "cells_raised": errors, "record_seconds": round(ended - started, 2), "window": [started, ended]}


def _cli(*args: str, cwd: Path, timeout: float = 1800) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "repro_kernel.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout)


def _replay(export: Path, kernel: str, env: dict[str, str]) -> tuple[Any, float, Optional[str]]:
    """replay.ipynb run top to bottom in a fresh kernel by nbclient, in the export folder, outputs cleared first."""
    nb = nbformat.read(export / "replay.ipynb", as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    client = NotebookClient(nb, kernel_name=kernel, timeout=CELL_TIMEOUT * 2, allow_errors=True,
                            resources={"metadata": {"path": str(export)}})
    started = time.monotonic()
    error = None
    try:
        client.execute(env={**os.environ, **env})
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}"[:500]
    seconds = time.monotonic() - started
    nbformat.write(nb, export / "replayed-by-corpus.ipynb")
    return nb, seconds, error


def rejudge(folder: Path, name: str, result: dict[str, Any]) -> None:
    """Recompute the own judgement (and history's) of one result from its work folder, kernels not run again."""
    saved = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    for key, mode in (("own", "slice"), ("history", "history")):
        replayed_path = folder / f"{mode}.repro" / "replayed-by-corpus.ipynb"
        if key not in result or not replayed_path.exists():
            continue
        ended = replayed_path.stat().st_mtime
        windows = Windows([tuple(result["window"]), (ended - result[key]["replay_seconds"], ended)])  # type: ignore[list-item]
        manifest = json.loads((folder / f"{mode}.repro" / "manifest.json").read_text())
        cells = judge(saved, nbformat.read(replayed_path, as_version=4), manifest, windows)
        result[key].update(steps=len(cells), reproduced=sum(c["reproduced"] for c in cells),
                           failures=[c for c in cells if not c["reproduced"]])


def judge_export(folder: Path, name: str, kernel: str, env: dict[str, str], history_replay: bool,
                 window: list[float]) -> dict[str, Any]:
    out: dict[str, Any] = {"normalisations": NORMALISATIONS}
    saved = nbformat.read(folder / f"{name}.ipynb", as_version=4)
    for mode in ("slice", "history"):
        started = time.monotonic()
        done = _cli("export", f"{name}.ipynb", "--output", f"{mode}.repro", "--mode", mode, "--force", cwd=folder)
        out[f"{mode}_export"] = {"exit_code": done.returncode, "seconds": round(time.monotonic() - started, 2),
                                 "stderr": done.stderr.strip()[-1500:]}
        if done.returncode != 0:
            return out
        manifest = json.loads((folder / f"{mode}.repro" / "manifest.json").read_text())
        out[f"{mode}_export"]["steps"] = len(manifest.get("steps") or [])
    manifest = json.loads((folder / "slice.repro" / "manifest.json").read_text())
    out["slice_reasons"] = {str(s["index"]): s.get("reason") for s in manifest.get("steps") or []}
    replayed, seconds, error = _replay(folder / "slice.repro", kernel, env)
    windows = Windows([tuple(window), (time.time() - seconds, time.time())])  # type: ignore[list-item]
    cells = judge(saved, replayed, manifest, windows)
    out["own"] = {"steps": len(cells), "reproduced": sum(c["reproduced"] for c in cells),
                  "replay_seconds": round(seconds, 2), "replay_error": error,
                  "failures": [c for c in cells if not c["reproduced"]]}
    if history_replay:
        h_manifest = json.loads((folder / "history.repro" / "manifest.json").read_text())
        h_replayed, h_seconds, h_error = _replay(folder / "history.repro", kernel, env)
        h_windows = Windows([tuple(window), (time.time() - h_seconds, time.time())])  # type: ignore[list-item]
        h_cells = judge(saved, h_replayed, h_manifest, h_windows)
        out["history"] = {"steps": len(h_cells), "reproduced": sum(c["reproduced"] for c in h_cells),
                          "replay_seconds": round(h_seconds, 2), "replay_error": h_error,
                          "failures": [c for c in h_cells if not c["reproduced"]]}
    started = time.monotonic()
    done = _cli("verify", "slice.repro", "--json", "--kernel", kernel, cwd=folder)
    verify: dict[str, Any] = {"exit_code": done.returncode, "seconds": round(time.monotonic() - started, 2)}
    try:
        report = json.loads(done.stdout)
        verify.update(counts=report.get("counts"), reproduced=report.get("reproduced"),
                      replay_seconds=report.get("replay_seconds"), problems=report.get("problems"),
                      failures=[s for s in report.get("steps") or [] if s.get("outcome") != "reproduced"])
    except json.JSONDecodeError:
        verify["stderr"] = done.stderr.strip()[-1500:]
    out["verify"] = verify
    return out
