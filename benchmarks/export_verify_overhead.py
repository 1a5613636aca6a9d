"""Verify overhead: `jupyter repro verify` against the replay's own run time, in the same run.

    python benchmarks/export_verify_overhead.py [--repeat 3]

The replay's own run: replay.ipynb executed top to bottom in a fresh kernel (what
`jupyter nbconvert --execute replay.ipynb` does), driven by repro_kernel.testing. Verify: the same replay plus manifest/seal/data checks, the
package check, per-step comparison and the report. Both start their own kernel. Also shown: `ipython replay.py`.
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

from repro_kernel.testing import LiveKernel, environment, execute_notebook, make_notebook  # noqa: E402

CELLS = [
    "%load_ext repro_kernel\n%repro start",
    "import numpy as np\nimport pandas as pd",
    "a = np.random.normal(size=(600, 600))\nfor _ in range(6):\n    a = np.tanh(a @ a.T / 600)\nfloat(a.sum())",
    "s = 0\nfor i in range(2_000_000):\n    s += i % 7\nprint(s)",
    "df = pd.DataFrame(np.random.normal(size=(200_000, 4)), columns=list('abcd'))\n"
    "df.groupby((df.a * 10).round()).b.mean().round(6).head()",
    "t = sorted(np.random.random(300_000))\nprint(round(t[1000], 9))",
    "b = np.linalg.svd(np.random.normal(size=(400, 400)), compute_uv=False)\nb[:3].round(6)",
]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="repro-verify-overhead-"))
    path = folder / "heavy.ipynb"
    execute_notebook(make_notebook(CELLS, kernel_name="python3"), path, timeout=600, kernel_name="python3",
                     env={"PYTHONHASHSEED": "0"})
    env = {"JPY_SESSION_NAME": str(path), "PYTHONHASHSEED": "0"}

    from repro_kernel.export import export_notebook
    from repro_kernel.export.verify import verify_export

    export = export_notebook(path, mode="history", force=True)

    def plain() -> None:
        replay = nbformat.read(export / "replay.ipynb", as_version=4)
        with LiveKernel(export, notebook=None, kernel_name="python3", env=env, timeout=600, graceful=True) as kernel:
            kernel.run_notebook(replay)

    def verify() -> None:
        report = verify_export(export)
        assert report.exit_code == 0, [s for s in report.steps if s.outcome != "reproduced"]

    def script() -> None:
        subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "replay.py"], cwd=export,
                       env=environment(env), check=True, capture_output=True)

    times: dict[str, list[float]] = {"plain": [], "verify": [], "script": []}
    for _ in range(args.repeat):  # interleaved, so load on the machine hits both alike
        for name, fn in (("plain", plain), ("verify", verify), ("script", script)):
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    print(f"replay.ipynb top to bottom (replay's own run):    {med['plain']:.2f} s  {times['plain']}")
    print(f"jupyter repro verify:                           {med['verify']:.2f} s  {times['verify']}")
    print(f"ipython replay.py:                              {med['script']:.2f} s  {times['script']}")
    print(f"verify overhead vs the replay's own run: {100 * (med['verify'] / med['plain'] - 1):+.1f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
