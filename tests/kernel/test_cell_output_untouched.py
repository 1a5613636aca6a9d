"""Recording changes nothing a cell shows: the user's warnings still reach the cell's stderr, as they do in a
plain kernel (a library the recorder imports must not reroute them)."""

from __future__ import annotations

from pathlib import Path

from repro_kernel.testing import START, LiveKernel

WARN = "import warnings\nwarnings.simplefilter('always')\nwarnings.warn('careful: {}', UserWarning)"


def test_warnings_reach_the_cells_stderr_with_and_without_recording(tmp_path: Path) -> None:
    with LiveKernel(tmp_path, "nb.ipynb") as kernel:
        plain = kernel.run(WARN.replace("{}", "plain"), check=True)["stderr"]
        kernel.run(START, check=True)
        recorded = kernel.run(WARN.replace("{}", "recorded"), check=True)["stderr"]
    assert "UserWarning: careful: plain" in plain
    assert "UserWarning: careful: recorded" in recorded, recorded
    # The same form as without recording: "<file>:<line>: UserWarning: ..." and the source line.
    assert len(recorded.splitlines()) == len(plain.splitlines()) == 2
