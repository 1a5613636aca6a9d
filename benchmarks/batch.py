"""Batch verify: wall time of `jupyter repro verify DIR --jobs 1` against `--jobs 2`, and the coordinator's own cost.

    python benchmarks/batch.py [--n 200] [--jobs 2] [--out benchmarks/results/batch-DATE.json]

One real notebook (NumPy randomness, a CSV read, a pandas summary, a little pure-Python work) is recorded once
through the tests' kernel harness and exported; the project (notebook, journal, data, export) is copied N
times into one folder. The copies are identical: each export's seal and input hashes must match its data, so other
data or seeds would mean N recordings. Then the whole folder is verified with
`--jobs 1` and with `--jobs J`, each as one `jupyter repro verify DIR --json` process, as a user runs it.

Figures:
- wall: the command's wall time, seen from outside (interpreter start included);
- ratio: wall(--jobs 1) / wall(--jobs J);
- coordinator overhead per export: with `--jobs 1` the coordinator runs one child at a time, so what its own wall
  (``wall_seconds`` of the JSON) holds beyond its children's wall times (``seconds`` of each result) is its own work:
  expanding the folder, scheduling, reading each child's JSON, the summary and reports. Divided by N.
- child start per export: a child's wall time beyond what verify itself measured (``child_seconds``): the
  interpreter start and imports of the `jupyter repro verify` process each export gets.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from repro_kernel.export import export_notebook  # noqa: E402
from repro_kernel.testing import START, execute_notebook, make_notebook  # noqa: E402

CELLS = [
    START,
    "import numpy as np\nimport pandas as pd\nimport json",
    "seed = json.load(open('seed.json'))['seed']\nrng = np.random.default_rng(seed)\nnoise = rng.normal(size=1000)",
    "df = pd.read_csv('data.csv')\ndf['t2'] = df.t * 2 + noise[: len(df)]\ndf.describe().round(6)",
    "total = 0\nfor i in range(200_000):\n    total += (i * seed) % 7\nprint(total)",
    "print(round(float(df.t2.sum()), 6))",
]


def build(root: Path, n: int) -> Path:
    """N exports under root/exports (one recording, copied with other data and seeds)."""
    source = root / "source"
    source.mkdir(parents=True)
    (source / "data.csv").write_text("t\n" + "\n".join(str(i * 0.5) for i in range(50)) + "\n")
    (source / "seed.json").write_text('{"seed": 1}')
    execute_notebook(make_notebook(CELLS), source / "nb.ipynb")
    export_notebook(source / "nb.ipynb")
    exports = root / "exports"
    for copy in range(n):
        target = exports / f"p{copy:03d}"
        shutil.copytree(source, target)
    return exports


def verify(folder: Path, jobs: int) -> tuple[float, dict]:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "repro_kernel.cli", "verify", str(folder), "--json", "--jobs",
                           str(jobs)], capture_output=True, text=True)
    wall = time.perf_counter() - started
    document = json.loads(done.stdout)
    if done.returncode != 0:
        bad = [r for r in document["results"] if r["status"] != "reproduced"]
        raise SystemExit(f"verify --jobs {jobs} exited {done.returncode}: {bad[:2]}")
    return wall, document


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="repro-batch-bench-"))
    try:
        t0 = time.perf_counter()
        exports = build(root, args.n)
        setup = time.perf_counter() - t0
        one_wall, one = verify(exports, 1)
        many_wall, many = verify(exports, args.jobs)
        items = one["results"]
        coordinator = (one["wall_seconds"] - sum(r["seconds"] for r in items)) / len(items)
        child_start = statistics.median(r["seconds"] - r["child_seconds"] for r in items)
        verify_alone = statistics.median(r["child_seconds"] for r in items)
        figures = {
            "n": args.n, "jobs": args.jobs, "cores": len(os.sched_getaffinity(0)), "setup_s": round(setup, 2),
            "wall_jobs1_s": round(one_wall, 2), f"wall_jobs{args.jobs}_s": round(many_wall, 2),
            "ratio": round(one_wall / many_wall, 3),
            "coordinator_overhead_ms_per_export": round(coordinator * 1000, 2),
            "child_start_ms_per_export_median": round(child_start * 1000, 1),
            "verify_s_per_export_median": round(verify_alone, 3),
            "date": time.strftime("%Y-%m-%d"), "python": sys.version.split()[0],
        }
        print(json.dumps(figures, indent=1))
        if args.out:
            args.out.write_text(json.dumps(figures, indent=1) + "\n")
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
