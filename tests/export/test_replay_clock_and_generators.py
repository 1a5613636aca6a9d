"""What the replay restores before each step beyond the global random states: the clock at the instant the
execution started when recorded, and the state of every generator a variable holds."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import nbformat

from repro_kernel.export import export_notebook
from repro_kernel.export.verify import render_report, verify_export
from repro_kernel.runtime import Replay
from repro_kernel.testing import START, LiveKernel, make_notebook, run_cli

# The session is recorded "in 2001": the kernel's clock is moved there before recording starts (that cell is
# not part of the notebook), so the replay, today, shows the recorded dates only if it sets the clock.
TRAVEL = ("import datetime as _d, time_machine as _tm\n"
          "_travel = _tm.travel(_d.datetime(2001, 2, 3, 12, 30, 5), tick=True)\n_travel.start()")


def _record(folder: Path, sources: list[str], order: list[int], before: str = "",
            env: Optional[dict[str, Optional[str]]] = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    nb = make_notebook([START, *sources])
    path = folder / "nb.ipynb"
    with LiveKernel(folder, path.name, stop_on_error=False, graceful=True, env=env) as kernel:
        if before:
            kernel.run(before, check=True)
        for index in [0, *(i + 1 for i in order)]:
            kernel.run_cell(nb.cells[index], send_cell_id=False)
    nbformat.write(nb, path)
    return path


def test_each_step_runs_on_the_recorded_clock_so_dates_printed_then_come_back(tmp_path: Path) -> None:
    path = _record(tmp_path, [
        "import datetime, time\nstamp = datetime.datetime.now()",
        "print('today', datetime.date.today(), 'at', stamp.strftime('%H:%M'))",
        "print('Date:', time.strftime('%a, %d %b %Y'), '| year', time.localtime().tm_year)",
        "print('elapsed under a minute:', 0 <= (datetime.datetime.now() - stamp).total_seconds() < 60)",
    ], order=[0, 1, 2, 3], before=TRAVEL)
    saved = nbformat.read(path, as_version=4)
    assert "today 2001-02-03 at 12:30" in saved.cells[2].outputs[0]["text"]
    folder = export_notebook(path)
    steps = json.loads((folder / "manifest.json").read_text())["steps"]
    assert all(981_100_000 < s["started_at"] < 981_300_000 for s in steps)  # 2001-02-03, as recorded
    replayed = tmp_path / "replayed.ipynb"
    report = verify_export(folder, save_replayed=replayed)
    assert report.exit_code == 0, render_report(report)
    assert {s.outcome for s in report.steps} == {"reproduced"}
    # Not by masking: the replay itself printed the recorded dates, today.
    text = replayed.read_text()
    assert "today 2001-02-03 at 12:30" in text and "| year 2001" in text and "Sat, 03 Feb 2001" in text
    assert "elapsed under a minute: True" in text  # the clock moves on during a step, from the recorded instant


def test_generators_held_in_variables_come_back_at_every_step(tmp_path: Path) -> None:
    sources = [
        "import random\nimport numpy as np\nrng = np.random.default_rng(0)\nr = random.Random(5)\n"
        "legacy = np.random.RandomState(3)",
        "_ = rng.normal(size=4)\n_ = r.random()\n_ = legacy.rand(2)",  # advances them, shows nothing
        "print(rng.integers(0, 1000, size=3), r.randint(0, 1000), legacy.randint(0, 1000))",
        "unrelated = 1",
    ]
    path = _record(tmp_path, sources, order=[0, 1, 2, 3, 1, 1, 2])
    folder = export_notebook(path)
    report = verify_export(folder)
    assert report.exit_code == 0, render_report(report)
    manifest = json.loads((folder / "manifest.json").read_text())
    last = manifest["steps"][-1]
    assert {"var:rng", "var:r", "var:legacy"} <= set(last["random"]), last["random"]
    # Each step starts from the recorded state of the generators, whatever they hold when it begins: a
    # namespace whose generators are somewhere else entirely draws what the recorded step printed.
    import random

    import numpy as np

    namespace = {"rng": np.random.default_rng(99), "r": random.Random(1), "legacy": np.random.RandomState(8)}
    namespace["np"] = np
    Replay(folder).step(last["index"], namespace)
    shown = nbformat.read(path, as_version=4).cells[3].outputs[0]["text"]
    drawn = f"{namespace['rng'].integers(0, 1000, size=3)} {namespace['r'].randint(0, 1000)} " \
            f"{namespace['legacy'].randint(0, 1000)}\n"
    assert drawn == shown
    # A name that no longer holds a generator is left alone.
    other = {"rng": "not a generator", "r": 3, "legacy": None}
    Replay(folder).step(last["index"], other)
    assert other == {"rng": "not a generator", "r": 3, "legacy": None}


def test_an_output_no_run_can_repeat_is_flagged_and_not_counted_as_a_failure(tmp_path: Path) -> None:
    path = _record(tmp_path, [
        "import os\nprint('kernel', os.getpid())",
        "import numpy as np\nnp.zeros(2)",
        # Computes with uninitialised memory but shows something else: a difference there is a difference.
        "buf = np.empty(3)\nprint('flag', os.environ.get('REPRO_TEST_FLAG'))",
    ], order=[0, 1, 2], env={"REPRO_TEST_FLAG": "on"})
    check = run_cli("check", str(path), "--json")
    flags = json.loads(check.stdout)["flags"]
    volatile = [f for f in flags if f["kind"] == "nondeterministic-output"]
    cell_ids = [c.id for c in nbformat.read(path, as_version=4).cells]
    assert [(f["cells"], f["details"]["calls"]) for f in volatile] == [([cell_ids[1]], ["os.getpid"])], flags
    folder = export_notebook(path)
    report = verify_export(folder)  # this process has no REPRO_TEST_FLAG: the third step prints None
    outcomes = [s.outcome for s in report.steps]
    assert outcomes == ["nondeterministic", "reproduced", "differs"], render_report(report)
    assert report.exit_code == 1
    assert "os.getpid()" in report.steps[0].detail and "nondeterministic" in render_report(report)


def test_verify_puts_back_the_files_the_replay_rewrites(tmp_path: Path) -> None:
    path = _record(tmp_path, [
        "with open('summary.txt', 'w') as f:\n    f.write('recorded\\n')",
        "with open('scratch.txt', 'w') as f:\n    f.write('tmp\\n')",
        "print(open('summary.txt').read().strip(), open('scratch.txt').read().strip())",
    ], order=[0, 1, 2])
    folder = export_notebook(path)
    (tmp_path / "summary.txt").write_text("edited by the user since\n")
    (tmp_path / "scratch.txt").unlink()
    report = verify_export(folder)
    assert report.exit_code == 0, render_report(report)
    assert (tmp_path / "summary.txt").read_text() == "edited by the user since\n"
    assert not (tmp_path / "scratch.txt").exists()
    assert any("summary.txt" in w and "scratch.txt" in w for w in report.warnings), report.warnings


def test_a_library_that_bound_default_rng_before_the_first_draw_gets_the_recorded_entropy(tmp_path: Path) -> None:
    # As arch does: `from numpy.random import default_rng` at import, an unseeded call steps later. The replay
    # hands the recorded entropy to that name too, not only to numpy.random's attribute and the session's.
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "simlib.py").write_text("from numpy.random import default_rng\n\n\n"
                                        "def simulate():\n    return default_rng().integers(0, 10**9, size=3)\n")
    path = _record(tmp_path, ["import simlib", "unrelated = 1", "print(simlib.simulate())"], order=[0, 1, 2])
    folder = export_notebook(path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert [g.get("entropy") is not None for g in manifest["steps"][-1]["generators"]] == [True]
    report = verify_export(folder)
    assert report.exit_code == 0 and [s.outcome for s in report.steps][-1] == "reproduced", render_report(report)
