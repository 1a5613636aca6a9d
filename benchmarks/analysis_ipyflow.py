"""Stale cells, side by side: jupyter-repro's `stale` flag against ipyflow's "ready" (and "waiting") cells.

Every labelled scenario marked ``stale_case`` (tests/analysis/scenarios.py) runs twice through the tests'
harness (repro_kernel.testing.LiveKernel), sending JupyterLab's ``cellId`` with each execute request so both
tools see real cell ids: once in a plain kernel recording with jupyter-repro (then ``analyze_live`` with the page), once in ipyflow's
kernel (then ``flow().check_and_link_multiple_cells()``). ipyflow lives in its own virtual environment:

    python3 -m venv .venv-bench-ipyflow && .venv-bench-ipyflow/bin/pip install ipyflow
    python benchmarks/analysis_ipyflow.py [--ipyflow-python .venv-bench-ipyflow/bin/python] [--json out.json]

ipyflow's "ready" cells are cells whose inputs changed since they ran (our ``stale``); its "waiting" cells
are cells that read a symbol whose own inputs are out of date (transitively stale; we do not flag those).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repro_kernel.testing import LiveKernel  # noqa: E402
from tests.analysis.scenarios import KERNEL  # noqa: E402

IPYFLOW_PROBE = (
    "import json as _json\nfrom ipyflow import flow as _flow\n_r = _flow().check_and_link_multiple_cells()\n"
    "print(_json.dumps({'ready': sorted(map(str, _r.ready_cells)), 'waiting': sorted(map(str, _r.waiting_cells))}))"
)


def play(kernel: LiveKernel, scenario: Any) -> list[dict[str, Any]]:
    """Run a scenario's steps as JupyterLab would (``cellId`` with each request); return the page (as the
    frontend sends it) afterwards."""
    sources = list(scenario.cells)
    for step in scenario.steps if scenario.steps is not None else range(len(sources)):
        if isinstance(step, int):
            kernel.run(sources[step], f"c{step}")
        elif step[0] == "edit":
            sources[step[1]] = step[2]
        else:
            raise ValueError(f"step {step!r} is not used by stale scenarios")
    return [{"id": f"c{i}", "cell_type": "code", "source": s, "execution_count": None} for i, s in enumerate(sources)]


def start(kernel_name: str) -> LiveKernel:
    """A kernel in this folder, told no notebook path; errors do not stop the requests behind them."""
    return LiveKernel(Path.cwd(), notebook=None, kernel_name=kernel_name, startup_timeout=120, stop_on_error=False)


def ours(scenario: Any, folder: Path) -> set[str]:
    with start("python3") as kernel:
        kernel.run(f"%load_ext repro_kernel\n%cd {folder}\n%repro start --notebook {folder / 'nb.ipynb'}", "setup")
        page = play(kernel, scenario)
        kernel.run("%repro stop", "probe")
        out = kernel.run("import json as _j\nfrom repro_kernel import get_recorder as _g\n"
                         "from repro_kernel.analysis import analyze_live as _a\n"
                         f"print(_j.dumps(_a(_g(), {page!r})))", "probe")["stdout"]
    result = json.loads(out)
    return {c for f in result["flags"] if f["kind"] == "stale" for c in f["cells"]}


def ipyflow(scenario: Any) -> tuple[set[str], set[str]]:
    with start("ipyflow-bench") as kernel:
        play(kernel, scenario)
        result = json.loads(kernel.run(IPYFLOW_PROBE, "probe")["stdout"])
    return set(result["ready"]) - {"probe"}, set(result["waiting"]) - {"probe"}


def install_ipyflow_spec(python: Path, where: Path) -> None:
    spec = where / "kernels" / "ipyflow-bench"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipyflow.kernel", "-f", "{connection_file}"],
        "display_name": "ipyflow (benchmark)", "language": "python"}))
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [str(where), os.environ.get("JUPYTER_PATH")]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ipyflow-python", default=str(Path(__file__).resolve().parents[1] / ".venv-bench-ipyflow/bin/python"))
    parser.add_argument("--json", help="write the comparison here")
    args = parser.parse_args()
    python = Path(args.ipyflow_python)
    if not python.exists():
        sys.exit(f"analysis_ipyflow: {python} not found; create it: python3 -m venv .venv-bench-ipyflow && "
                 ".venv-bench-ipyflow/bin/pip install ipyflow")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        install_ipyflow_spec(python, Path(tmp) / "jupyter")
        for scenario in (s for s in KERNEL if s.stale_case):
            folder = Path(tmp) / scenario.name
            folder.mkdir()
            expected = {f"c{i}" for i in scenario.must.get("stale", [])}
            mine = ours(scenario, folder)
            ready, waiting = ipyflow(scenario)
            rows.append({"scenario": scenario.name, "expected": sorted(expected), "jupyter_repro": sorted(mine),
                         "ipyflow_ready": sorted(ready), "ipyflow_waiting": sorted(waiting),
                         "agree": mine == ready})
    width = max(len(r["scenario"]) for r in rows)
    print(f"{'scenario':<{width}}  {'expected':<10} {'repro':<10} {'ipyflow ready':<14} {'ipyflow waiting':<16} agree")
    for r in rows:
        print(f"{r['scenario']:<{width}}  {','.join(r['expected']) or '-':<10} {','.join(r['jupyter_repro']) or '-':<10} "
              f"{','.join(r['ipyflow_ready']) or '-':<14} {','.join(r['ipyflow_waiting']) or '-':<16} "
              f"{'yes' if r['agree'] else 'NO'}")
    agree = sum(r["agree"] for r in rows)
    right = sum(set(r["jupyter_repro"]) == set(r["expected"]) for r in rows)
    right_ipyflow = sum(set(r["ipyflow_ready"]) == set(r["expected"]) for r in rows)
    print(f"agreement {agree}/{len(rows)}; matches the labels: jupyter-repro {right}/{len(rows)}, "
          f"ipyflow (ready) {right_ipyflow}/{len(rows)}")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
