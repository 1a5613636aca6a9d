"""Run labelled scenarios and collect which cells each flag kind named.

Kernel scenarios are batched: one real kernel runs several of them, each in its own folder with its own
notebook, journal and recording session (``%repro stop``, ``%reset -f``, ``%cd``, ``%repro start --notebook``
between them: to the journal that is exactly a fresh session). A ``("restart",)`` step does the same inside
one scenario. Steps: an int runs that cell (original index); ``("edit", i, src)``, ``("delete", i)`` and
``("move", i, position)`` change the page; ``("write", rel, text)``, ``("remove", rel)`` and
``("shell", cmd)`` change the scenario's folder from outside the kernel.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any, Optional

import nbformat

from repro_kernel.analysis import Cell, Context, Report, analyze, analyze_notebook, build_executions, map_executions
from repro_kernel.testing import LiveKernel, make_notebook

Result = dict[str, set[int]]


def _render(text: str, folder: Path, root: Path) -> str:
    return text.replace("{dir}", str(folder)).replace("{root}", str(root))


def _live_flags(kernel: LiveKernel, page: list[nbformat.NotebookNode]) -> dict[str, Any]:
    """Stop recording, then ask the kernel's own engine (the comm's path) about the page."""
    cells = [{"id": c.id, "cell_type": c.cell_type, "source": c.source,
              "execution_count": c.get("execution_count")} for c in page]
    kernel.run("%repro stop")
    probe = kernel.run(
        "import json as _json\nfrom repro_kernel import get_recorder as _rec\n"
        "from repro_kernel.analysis import analyze_live as _live\n"
        f"print(_json.dumps(_live(_rec(), _json.loads({json.dumps(json.dumps(cells))}))))"
    )
    return json.loads(probe["stdout"]) if probe["stdout"].strip() else {"error": probe["outputs"]}


def _new_session(kernel: LiveKernel, folder: Path, notebook: Path, first: bool) -> None:
    prefix = "%load_ext repro_kernel\n" if first else "%repro stop\n"
    kernel.run(prefix + "%reset -f\n%cd " + str(folder))
    kernel.run(f"%repro start --notebook {notebook}")


def run_kernel_batch(
    scenarios: list[Any], root: Path
) -> tuple[dict[str, tuple[Path, dict[int, str]]], dict[str, dict[str, Any]]]:
    """Run ``scenarios`` in one kernel.

    Returns, per name, the saved notebook with original index -> cell id, and what ``analyze_live`` said
    inside the kernel at the end of the scenario (given the page as the frontend would send it).
    """
    (root / "external").mkdir(parents=True, exist_ok=True)
    (root / "external" / "ext.csv").write_text("e\n1\n")
    saved: dict[str, tuple[Path, dict[int, str]]] = {}
    live: dict[str, dict[str, Any]] = {}
    # No JPY_SESSION_NAME: each scenario names its notebook with `%repro start --notebook`.
    with LiveKernel(root, notebook=None, env={"JPY_SESSION_NAME": None}, stop_on_error=False,
                    graceful=True) as kernel:
        for number, scenario in enumerate(scenarios):
            folder = root / scenario.name
            folder.mkdir(parents=True, exist_ok=True)
            for rel, text in scenario.files.items():
                (folder / rel).write_text(text)
            path = folder / "notebook.ipynb"
            nb = make_notebook([])
            originals = [nbformat.v4.new_code_cell(_render(src, folder, root)) for src in scenario.cells]
            page = list(originals)
            _new_session(kernel, folder, path, first=number == 0)
            steps = scenario.steps if scenario.steps is not None else list(range(len(scenario.cells)))
            for step in steps:
                if isinstance(step, int):
                    ran = kernel.run(originals[step].source)
                    originals[step].outputs = ran["cell_outputs"]
                    originals[step].execution_count = ran["reply"].get("execution_count")
                elif step[0] == "edit":
                    originals[step[1]].source = _render(step[2], folder, root)
                elif step[0] == "delete":
                    page.remove(originals[step[1]])
                elif step[0] == "move":
                    page.remove(originals[step[1]])
                    page.insert(step[2], originals[step[1]])
                elif step[0] == "restart":
                    kernel.run("%repro stop\n%reset -f")
                    kernel.run(f"%repro start --notebook {path}")
                elif step[0] == "write":
                    (folder / step[1]).write_text(step[2])
                elif step[0] == "remove":
                    (folder / step[1]).unlink()
                elif step[0] == "shell":
                    subprocess.run(step[1], shell=True, cwd=folder, check=True, capture_output=True)
                else:
                    raise ValueError(f"unknown step {step!r}")
            nb.cells = page
            nbformat.write(nb, path)
            saved[scenario.name] = (path, {i: c.id for i, c in enumerate(originals)})
            live[scenario.name] = _live_flags(kernel, page)
        kernel.run("%repro stop")
    return saved, live


def kinds_by_original_index(report: Report, ids: dict[int, str]) -> Result:
    back = {cell_id: index for index, cell_id in ids.items()}
    found: Result = {}
    for flag in report.flags:
        found.setdefault(flag.kind, set()).update(back[c] for c in flag.cells if c in back)
    return found


def judge_saved(path: Path, ids: dict[int, str]) -> Result:
    return kinds_by_original_index(analyze_notebook(path), ids)


def run_record_scenario(scenario: Any) -> Result:
    context_fields = dict(scenario.context)
    ids: list[str] = context_fields.pop("ids", None) or [f"c{i}" for i in range(len(scenario.cells))]
    page = [Cell(ids[i], i, "code", src, None) for i, src in enumerate(scenario.cells)]
    context = Context(**context_fields)
    executions = build_executions(scenario.records, map_executions(scenario.records, page))
    flags, _ = analyze(executions, page, context)
    report = Report(flags, page)
    return kinds_by_original_index(report, dict(enumerate(ids)))


def run_bare_scenario(scenario: Any, folder: Path) -> Result:
    folder.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    for src, count in zip(scenario.cells, scenario.counts):
        cell = nbformat.v4.new_code_cell(src)
        cell.execution_count = count
        nb.cells.append(cell)
    path = folder / "notebook.ipynb"
    nbformat.write(nb, path)
    return judge_saved(path, {i: c.id for i, c in enumerate(nb.cells)})


def describe(result: Result) -> dict[str, list[int]]:
    return {k: sorted(v) for k, v in sorted(result.items())}


def missing_and_extra(scenario: Any, result: Result) -> tuple[list[str], list[str]]:
    missing = [f"{k}{v}" for k, v in scenario.must.items() if k not in result or not set(v) <= result[k]]
    extra = [k for k in scenario.must_not if k in result]
    return missing, extra


def first_line(text: Optional[str]) -> str:
    return (text or "").strip().splitlines()[0] if text else ""
