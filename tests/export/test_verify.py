"""`jupyter repro verify`: replay in a fresh kernel, per-step comparison, and every bad input in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from repro_kernel.export import export_notebook
from repro_kernel.export.manifest import seal
from repro_kernel.export.verify import render_report, verify_export
from repro_kernel.testing import run_cli
from tests.export.conftest import manifest_of


@pytest.fixture(scope="module")
def exported(recorded: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import shutil

    target = tmp_path_factory.mktemp("verify") / "project"
    shutil.copytree(recorded.parent, target, ignore=shutil.ignore_patterns("weather.repro"))
    return export_notebook(target / recorded.name, mode="history")


def clone(exported: Path, where: Path) -> Path:
    """A private copy of the project holding the export (the replay reads the data beside it)."""
    import shutil

    shutil.copytree(exported.parent, where)
    return where / exported.name


def test_history_replay_reproduces_every_step_including_unseeded_randomness(exported: Path) -> None:
    report = verify_export(exported)
    assert report.exit_code == 0, render_report(report)
    assert {s.outcome for s in report.steps} == {"reproduced"}
    manifest = manifest_of(exported)
    assert len(report.steps) == len(manifest["steps"])
    by_index = {s.index: s for s in report.steps}
    # Steps whose outputs the saved notebook shows are compared output by output, the others by hash/status.
    assert all(by_index[s["index"]].compared == "outputs" for s in manifest["steps"] if s["recorded_outputs"])
    table = render_report(report)
    assert "reproduced" in table and f"{len(report.steps)} steps" in table


def test_json_report_through_the_cli_the_way_the_sidebar_reads_it(exported: Path) -> None:
    result = run_cli("verify", str(exported), "--json")
    assert result.returncode == 0, result.stderr[-1500:]
    report = json.loads(result.stdout)
    assert report["reproduced"] is True and report["exit_code"] == 0
    assert report["counts"] == {"reproduced": len(manifest_of(exported)["steps"])}
    assert {"index", "label", "outcome", "compared", "detail", "seconds"} <= set(report["steps"][0])


@pytest.mark.slow
def test_changed_data_is_reported_in_one_line_naming_the_file_and_both_hashes(exported: Path,
                                                                              tmp_path: Path) -> None:
    import shutil

    project = tmp_path / "p"
    shutil.copytree(exported.parent, project)
    csv = project / "weather.csv"
    csv.write_text(csv.read_text().replace("Oslo,3.5", "Oslo,4.5"))
    recorded_hash = manifest_of(project / exported.name)["inputs"][0]["hash"]
    result = run_cli("verify", str(project / exported.name))
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "changed data: weather.csv" in lines[0] and recorded_hash in lines[0]
    assert lines[0].count("blake3:") == 2
    # The script itself stops before the step that reads it, naming the file and both hashes.
    run = subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "replay.py"],
                         cwd=project / exported.name, capture_output=True, text=True, timeout=120)
    assert run.returncode != 0
    assert "weather.csv changed since it was recorded" in run.stdout + run.stderr
    assert recorded_hash in run.stdout + run.stderr


@pytest.mark.slow
def test_tampered_manifest_and_script_are_bad_input(exported: Path, tmp_path: Path) -> None:
    import shutil

    folder = clone(exported, tmp_path / "t")
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["steps"][0]["random"] = {}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = run_cli("verify", str(folder))
    assert result.returncode == 2
    assert "modified after export" in result.stderr and result.stderr.count("\n") == 1
    shutil.rmtree(folder.parent)
    folder = clone(exported, folder.parent)
    with open(folder / "replay.py", "a") as handle:
        handle.write("\nimport os\n")
    result = run_cli("verify", str(folder), "--json")
    assert result.returncode == 2 and "replay.py was modified after export" in result.stderr
    assert json.loads(result.stdout)["problems"], "--json still reports on stdout"
    (folder / "manifest.json").write_text("{\"schema_version\": 99}")
    result = run_cli("verify", str(folder))
    assert result.returncode == 2 and "schema_version 99" in result.stderr


@pytest.mark.slow
def test_missing_packages_are_reported_one_line_each(exported: Path, tmp_path: Path) -> None:

    folder = clone(exported, tmp_path / "m")
    manifest = manifest_of(folder)
    manifest["requirements"].append({"distribution": "no-such-dist-xyz", "version": "1.0", "modules": ["nsd"]})
    sealed = [k for k in manifest["integrity"]["files"]]
    seal(manifest, folder, sealed)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = run_cli("verify", str(folder))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"jupyter repro verify: missing package: no-such-dist-xyz==1.0 is not installed for kernel python3; "
        f"pip install -r {folder.resolve() / 'requirements.txt'}"]


@pytest.mark.slow
def test_a_step_that_no_longer_reproduces_is_shown_with_a_short_diff(exported: Path, tmp_path: Path) -> None:

    folder = clone(exported, tmp_path / "d")
    manifest = manifest_of(folder)
    # Drop the recorded random state of the steps that draw from NumPy: their outputs must now differ.
    for step in manifest["steps"]:
        step["random"].pop("numpy", None)
    seal(manifest, folder, list(manifest["integrity"]["files"]))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    report = verify_export(folder)
    assert report.exit_code == 1
    differs = [s for s in report.steps if s.outcome == "differs"]
    assert differs and any("array([" in s.detail for s in differs)
    assert all(len(s.detail.splitlines()) <= 7 for s in differs)


@pytest.mark.slow
def test_rtol_accepts_small_numeric_noise(exported: Path, tmp_path: Path) -> None:

    import nbformat

    folder = clone(exported, tmp_path / "r")
    nb = nbformat.read(folder / "replay.ipynb", as_version=4)
    changed = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") != "stream":
                continue
            first, _, rest = out["text"].partition("\n")
            try:
                value = float(first)
            except ValueError:
                continue
            out["text"] = f"{value * (1 + 1e-9)!r}\n{rest}"
            changed += 1
    assert changed, "the recorded session prints a number"
    nbformat.write(nb, folder / "replay.ipynb")
    manifest = manifest_of(folder)
    seal(manifest, folder, list(manifest["integrity"]["files"]))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    strict = verify_export(folder)
    loose = verify_export(folder, rtol=1e-6)
    assert strict.exit_code == 1, render_report(strict)
    assert loose.exit_code == 0, render_report(loose)


@pytest.mark.slow
def test_verify_accepts_a_notebook_and_bad_targets_get_one_line(exported: Path, tmp_path: Path) -> None:
    notebook = exported.parent / "weather.ipynb"
    report = verify_export(notebook)
    assert report.exit_code == 0
    result = run_cli("verify", str(tmp_path / "nothing-here"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    result = run_cli("verify", str(exported), "--kernel", "no-such-kernel")
    assert result.returncode == 2 and "no kernel named" in result.stderr


def test_clock_text_printed_in_the_session_is_not_a_difference_and_a_changed_date_in_the_data_is(
        tmp_path: Path) -> None:
    import time

    from repro_kernel.testing import START, execute_notebook, make_notebook

    nb = make_notebook([
        START,
        "import datetime, time\nprint('fitted at', datetime.datetime.now(), 'on', time.strftime('%a, %d %b %Y'))",
        "print('Time:', time.strftime('%H:%M:%S'), '|', time.ctime())",
        "print('data from', datetime.date(1999, 1, 1))",
    ])
    execute_notebook(nb, tmp_path / "clock.ipynb")
    folder = export_notebook(tmp_path / "clock.ipynb", mode="history")
    time.sleep(1.1)  # the replay's seconds are not the recording's
    report = verify_export(folder)
    assert report.exit_code == 0, render_report(report)
    assert [s.outcome for s in report.steps] == ["reproduced"] * 3
    # The date in the data is compared as it is: a recording that showed another one differs.
    replay = folder / "replay.ipynb"
    text = replay.read_text()
    assert "data from 1999-01-01" in text
    replay.write_text(text.replace("data from 1999-01-01", "data from 1999-01-02"))
    manifest = manifest_of(folder)
    seal(manifest, folder, list(manifest["integrity"]["files"]))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    changed = verify_export(folder)
    assert [s.outcome for s in changed.steps] == ["reproduced", "reproduced", "differs"], render_report(changed)


def test_a_session_seeded_with_the_magic_verifies_its_line_included(tmp_path: Path) -> None:
    from repro_kernel.testing import START, execute_notebook, make_notebook

    nb = make_notebook([START, "import random\nimport numpy as np", "%repro seed 42",
                        "print(random.random(), np.random.rand())"])
    execute_notebook(nb, tmp_path / "seeded.ipynb")
    assert nb.cells[2].outputs[0]["text"] == "jupyter-repro: seeded python, numpy with 42\n"
    folder = export_notebook(tmp_path / "seeded.ipynb")
    report = verify_export(folder)
    assert report.exit_code == 0, render_report(report)
    seeded = next(s for s in manifest_of(folder)["steps"] if s["cell_index"] == 2)
    (result,) = [s for s in report.steps if s.index == seeded["index"]]
    assert result.compared == "outputs" and result.outcome == "reproduced", render_report(report)


def test_nbval_tags_sanitizers_full_diffs_and_the_replayed_notebook(tmp_path: Path) -> None:
    """The comparison tuned as nbval users tune it: a tagged cell's output is not compared, a sanitize file's
    regexes apply to both sides, --diff full shows every changed line, --save-replayed keeps what ran."""
    import nbformat

    from repro_kernel.testing import START, execute_notebook, make_notebook

    nb = make_notebook([
        START,
        "import os, time",
        "print(time.perf_counter_ns())",                   # cannot be the same twice: tagged
        "print('worker', os.getpid(), 'ready')",           # the pid differs: sanitised
        "print('\\n'.join(f'line {i}' for i in range(12)))",
    ])
    nb.cells[2].metadata["tags"] = ["nbval-ignore-output"]
    execute_notebook(nb, tmp_path / "tuned.ipynb")
    saved = nbformat.read(tmp_path / "tuned.ipynb", as_version=4)
    saved.cells[2].metadata["tags"] = ["nbval-ignore-output"]  # as the user tagged it in JupyterLab
    nbformat.write(saved, tmp_path / "tuned.ipynb")
    folder = export_notebook(tmp_path / "tuned.ipynb", mode="history")
    sanitize = tmp_path / "sanitize.cfg"
    sanitize.write_text("[pids]\nregex: worker \\d+\nreplace: worker PID\n")

    plain = verify_export(folder)
    # The pid differs: a value no run can repeat (nondeterministic-output), so not a failure of the replay;
    # the sanitize file makes it compare equal.
    assert [s.outcome for s in plain.steps][1:3] == ["reproduced", "nondeterministic"], render_report(plain)
    assert plain.exit_code == 0 and "os.getpid()" in plain.steps[2].detail
    assert plain.steps[1].compared == "none" and "nbval-ignore-output" in plain.steps[1].detail
    saved_to = tmp_path / "replayed.ipynb"
    tuned = verify_export(folder, sanitize_with=sanitize, save_replayed=saved_to)
    assert tuned.exit_code == 0, render_report(tuned)
    assert tuned.steps[2].outcome == "reproduced", render_report(tuned)
    replayed = nbformat.read(saved_to, as_version=4)
    assert any("worker" in "".join(o.get("text", "") for o in c.get("outputs", [])) for c in replayed.cells)

    # A step that differs in many lines: a short diff by default, the whole of it with --diff full.
    replay_nb = nbformat.read(folder / "replay.ipynb", as_version=4)
    last = [c for c in replay_nb.cells if c.get("outputs")][-1]
    last.outputs[0]["text"] = last.outputs[0]["text"].replace("line ", "LINE ")  # the recording showed another
    nbformat.write(replay_nb, folder / "replay.ipynb")
    manifest = manifest_of(folder)
    seal(manifest, folder, list(manifest["integrity"]["files"]))
    (folder / "manifest.json").write_text(json.dumps(manifest))
    short = verify_export(folder, sanitize_with=sanitize).steps[-1]
    full = verify_export(folder, sanitize_with=sanitize, full_diff=True).steps[-1]
    assert short.outcome == full.outcome == "differs"
    assert full.detail.count("LINE") == 12 and short.detail.count("LINE") < 12

    bad = tmp_path / "bad.cfg"
    bad.write_text("[x]\nregex: (unclosed\n")
    result = run_cli("verify", str(folder), "--sanitize-with", str(bad), cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "section [x]" in result.stderr


def test_a_traceback_the_recorded_cell_showed_without_failing_is_compared_as_an_output(tmp_path: Path) -> None:
    # A display formatter that raises (IPython prints its traceback and the cell goes on, status ok), as
    # `display_png(Image("missing.png"))` does in a real tutorial run without its image.
    from repro_kernel.testing import START, execute_notebook, make_notebook

    bad = "class Bad:\n    def _repr_html_(self):\n        raise ValueError('no picture')\n\nBad()"
    nb = make_notebook([START, bad, "print('after')"])
    execute_notebook(nb, tmp_path / "shows.ipynb")
    assert any(o.get("output_type") == "error" for o in nb.cells[1].outputs), nb.cells[1].outputs
    folder = export_notebook(tmp_path / "shows.ipynb")
    step = next(s for s in manifest_of(folder)["steps"] if s["cell_index"] == 1)
    assert step["status"] == "ok"
    report = verify_export(folder)
    assert report.exit_code == 0 and {s.outcome for s in report.steps} == {"reproduced"}, render_report(report)
