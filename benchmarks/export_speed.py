"""Export speed: a 1,000-execution recorded session, exported by `jupyter repro export`, side by side with
`jupyter nbconvert --to script` on the same notebook in the same run.

    python benchmarks/export_speed.py [--executions 1000] [--repeat 5]

Reports in-process times (the work itself, modules already imported) and command-line wall times (what a
user waits for, interpreter start included), medians, and the ratios against nbconvert.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repro_kernel.testing import LiveKernel, make_notebook, run_cli  # noqa: E402


def record_session(folder: Path, executions: int) -> Path:
    cells = 100
    sources = ["%load_ext repro_kernel\n%repro start\nimport random"]
    for i in range(cells):
        sources.append(f"v{i} = {'v%d + ' % (i - 1) if i else ''}random.random()\nprint(round(v{i}, 3))")
    nb = make_notebook(sources, kernel_name="python3")
    path = folder / "long.ipynb"
    order = [0] + [1 + n % cells for n in range(executions)]
    with LiveKernel(folder, path.name, kernel_name="python3", env={"PYTHONHASHSEED": "0"}, timeout=600,
                    graceful=True) as kernel:
        kernel.run_notebook(nb, order)
    nbformat.write(nb, path)
    return path


def median_time(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--executions", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="repro-export-speed-"))
    t0 = time.perf_counter()
    path = record_session(folder, args.executions)
    print(f"recorded {args.executions} executions in {time.perf_counter() - t0:.1f} s ({path})")

    from nbconvert import PythonExporter

    from repro_kernel.core.journal import Journal
    from repro_kernel.export import export_notebook

    with Journal.find(path) as journal:
        assert len(journal.executions()) == args.executions, "the session must hold every execution"
    out = folder / "out.repro"
    rows = []
    for mode in ("history", "slice"):
        seconds = median_time(lambda: export_notebook(path, mode=mode, force=True, output=out), args.repeat)
        rows.append((f"repro export --mode {mode} (in process)", seconds))
    script = median_time(lambda: PythonExporter().from_filename(str(path)), args.repeat)
    rows.append(("nbconvert --to script (in process)", script))
    cli_repro = median_time(lambda: run_cli("export", str(path), "--mode", "history", "--force", "-o", str(out),
                                             timeout=600).check_returncode(), args.repeat)
    cli_script = median_time(lambda: subprocess.run(
        [sys.executable, "-m", "nbconvert", "--to", "script", str(path), "--output-dir", str(folder / "script")],
        check=True, capture_output=True), args.repeat)
    rows += [("jupyter repro export --mode history (command)", cli_repro),
             ("jupyter nbconvert --to script (command)", cli_script)]
    for label, seconds in rows:
        print(f"{label:50s} {seconds * 1000:8.1f} ms")
    print(f"ratio in process (history / script): {rows[0][1] / script:.2f}")
    print(f"ratio commands   (history / script): {cli_repro / cli_script:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
