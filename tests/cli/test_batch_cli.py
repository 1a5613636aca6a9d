"""`jupyter repro verify|check PATH...`: a batch of real exports replayed in real kernels, N at once, with
JUnit, JSON and HTML reports, --since-last, per-item timeouts and dead kernels; and `pytest --repro`."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml

from repro_kernel.export import export_notebook
from repro_kernel.testing import START, cli_in_process, execute_notebook, make_notebook, run_cli

pytest_plugins = ["pytester"]

NOTEBOOKS = {
    # reproduces; reads a data file (so --since-last has an input to watch)
    "good": [START, "x = 21 * 2\nprint(x)", "text = open('data.txt').read()\ntext.upper()"],
    # never reproduces: it counts its own runs in a file the recording did not find and the replay does
    "pid": [START, "import pathlib\ncounter = pathlib.Path('runs.txt')\nruns = int(counter.read_text()) if counter.exists() else 0\n"
                   "counter.write_text(str(runs + 1))\nprint(runs)"],
    # reproduces, unless the replay's environment asks it to sleep or to kill its kernel
    "env": [START, "import os, time\ntime.sleep(float(os.environ.get('REPRO_BATCH_SLEEP', '0')))\n"
                   "if os.environ.get('REPRO_BATCH_DIE'):\n    os._exit(1)\nprint('ok')"],
}


def record_exports(root: Path) -> dict[str, Path]:
    """One recorded project per notebook above, each exported beside its notebook: {name: export folder}."""
    exports = {}
    for name, sources in NOTEBOOKS.items():
        (root / name).mkdir(parents=True)
        (root / name / "data.txt").write_text("some data\n")
        path = root / name / f"{name}.ipynb"
        execute_notebook(make_notebook(sources), path)
        exports[name] = export_notebook(path)
    return exports


@pytest.fixture(scope="module")
def material(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return record_exports(tmp_path_factory.mktemp("batch") / "projects")


@pytest.fixture
def projects(material: dict[str, Path], tmp_path: Path) -> Path:
    """A private copy of the three recorded projects."""
    shutil.copytree(material["good"].parent.parent, tmp_path / "projects")
    return tmp_path / "projects"


def test_a_folder_verifies_every_export_in_parallel_with_junit_html_and_a_summary(projects: Path) -> None:
    junit, page = projects.parent / "verify.xml", projects.parent / "verify.html"
    started = time.perf_counter()
    result = run_cli("verify", str(projects), "--jobs", "2", "--junit", str(junit), "--html", str(page))
    wall = time.perf_counter() - started
    assert result.returncode == 1, result.stderr
    table = result.stdout
    assert "3 items: 1 not-reproduced, 2 reproduced" in table, table
    assert "step 1 (In[2] cell 2): differs" in table and "local/1" in table and "local/2" in table
    suite = next(iter(JUnitXml.fromfile(str(junit))))
    cases = {case.name: case for case in suite}
    assert set(cases) == {"good.repro", "pid.repro", "env.repro"} and suite.failures == 1
    (failure,) = cases["pid.repro"].result
    assert isinstance(failure, Failure) and "differs" in failure.message and "stdout:" in failure.text
    assert cases["good.repro"].is_passed and cases["env.repro"].is_passed
    html = page.read_text()
    assert "pid.repro" in html and "not-reproduced" in html and "stdout:" in html
    # Two at once: the batch takes less than its items' times added up.
    seconds = [case.time for case in cases.values()]
    assert len(seconds) == 3 and all(t > 0 for t in seconds) and wall < sum(seconds) + 3.0


def test_json_lists_every_item_with_its_steps_worker_and_seconds(projects: Path) -> None:
    notebook = projects / "pid" / "pid.ipynb"
    shutil.rmtree(projects / "pid" / "pid.repro")  # recorded, not exported: verify exports it on the fly
    result = run_cli("verify", str(projects / "good" / "good.repro"), str(notebook), "--json", "--jobs", "2")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    assert document["exit_code"] == 1 and document["totals"]["items"] == 2 and document["totals"]["failed"] == 1
    good, pid = document["results"]
    assert good["path"].endswith("good.repro") and good["status"] == "reproduced" and good["exit_code"] == 0
    assert [s["outcome"] for s in good["steps"]] == ["reproduced", "reproduced"]
    assert pid["path"] == str(notebook) and pid["status"] == "not-reproduced"
    assert pid["steps"][0]["outcome"] == "differs" and pid["worker"].startswith("local/")
    assert 0 < good["child_seconds"] < good["seconds"]


def test_one_export_keeps_its_own_report_and_json(material: dict[str, Path]) -> None:
    text = run_cli("verify", str(material["good"]))
    assert text.returncode == 0 and text.stdout.startswith("jupyter repro verify ") and "┃ step" in text.stdout
    assert "2 steps: 2 reproduced" in text.stdout and "items" not in text.stdout
    one = run_cli("verify", str(material["good"]), "--json")
    assert one.returncode == 0 and json.loads(one.stdout)["folder"] == str(material["good"])


def test_since_last_skips_what_reproduced_until_its_input_or_options_change(projects: Path) -> None:
    state = projects.parent / "state.json"
    args = ["verify", str(projects / "good"), str(projects / "pid"), "--since-last", "--state-file", str(state),
            "--json", "--jobs", "2"]
    first = json.loads(run_cli(*args).stdout)
    assert [r["status"] for r in first["results"]] == ["reproduced", "not-reproduced"]
    entries = json.loads(state.read_text())["entries"]
    assert list(entries) == [f"verify {(projects / 'good' / 'good.repro').resolve()}"]  # successes only
    second = run_cli(*args)
    assert second.returncode == 1  # the failure runs again, and fails again
    assert [r["status"] for r in json.loads(second.stdout)["results"]] == ["skipped", "not-reproduced"]
    data = projects / "good" / "data.txt"
    data.write_text("other data\n")  # the export's input changed: it runs again, and no longer reproduces
    third = json.loads(run_cli(*args[:-2]).stdout)
    assert third["results"][0]["status"] == "not-reproduced" and "changed data" in third["results"][0]["problems"][0]
    assert json.loads(state.read_text())["entries"] == {}


@pytest.mark.slow
def test_a_dead_kernel_and_a_task_timeout_fail_their_item_alone(projects: Path) -> None:
    exports = [str(projects / name / f"{name}.repro") for name in ("env", "good")]
    died = run_cli("verify", *exports, "--json", env={"REPRO_BATCH_DIE": "1"})
    assert died.returncode == 1, died.stderr
    env, good = json.loads(died.stdout)["results"]
    assert env["status"] in ("crashed", "not-reproduced") and env["problems"] == ["the kernel died during the replay"]
    assert good["status"] == "reproduced"
    started = time.perf_counter()
    # The good item needs a few seconds (more on a loaded machine); the sleeping one would need 120.
    slow = run_cli("verify", *exports, "--json", "--task-timeout", "25", env={"REPRO_BATCH_SLEEP": "120"})
    assert time.perf_counter() - started < 110
    env, good = json.loads(slow.stdout)["results"]
    assert slow.returncode == 1 and env["status"] == "timeout" and "--task-timeout" in env["problems"][0]
    assert good["status"] == "reproduced"


def test_check_takes_many_notebooks_and_folders(projects: Path) -> None:
    single = {name: run_cli("check", str(projects / name / f"{name}.ipynb")).returncode for name in ("good", "env")}
    result = run_cli("check", str(projects / "good"), str(projects / "env" / "env.ipynb"), "--json")
    document = json.loads(result.stdout)
    statuses = {Path(r["path"]).stem: r["status"] for r in document["results"]}
    assert statuses == {name: ("clean" if code == 0 else "flagged") for name, code in single.items()}
    assert result.returncode == max(single.values())


@pytest.mark.parametrize(("args", "message"), [
    (["verify", "a.repro", "b.repro"], "a.repro does not exist"),
    (["verify", "'*.repro'"], "matches nothing"),
    (["verify", "x.repro", "y.repro", "--save-replayed", "r.ipynb"], "--save-replayed takes one export"),
    (["verify", "x.repro", "y.repro", "--jobs", "-2"], "--jobs must be a whole number"),
    (["verify", "x.repro", "--junit", "no/such/dir/out.xml"], "cannot write the --junit report"),
    (["check", "a.ipynb", "b.ipynb"], "one notebook path"),
])
def test_bad_batch_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = cli_in_process(*[a.strip("'") for a in args], cwd=tmp_path)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_the_pytest_plugin_costs_nothing_without_repro() -> None:
    # What it costs is what it imports: none of the replay's heavy modules until --repro is given.
    code = ("import sys; import repro_kernel.cli.pytest_plugin; "
            "print([m for m in ('nbformat', 'nbclient', 'jupyter_client', 'repro_kernel.export') if m in sys.modules])")
    heavy = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert heavy.strip() == "[]"


@pytest.mark.slow
def test_pytest_repro_collects_each_export_as_an_item_and_runs_them_with_xdist(
    material: dict[str, Path], pytester: pytest.Pytester
) -> None:
    root = material["good"].parent.parent
    without = pytester.runpytest_subprocess(str(root), "-p", "no:cacheprovider")
    assert without.ret == pytest.ExitCode.NO_TESTS_COLLECTED
    listed = pytester.runpytest_subprocess("--repro", str(root), "--collect-only", "-q", "-p", "no:cacheprovider")
    assert sorted(line.rsplit("::", 1)[-1] for line in listed.outlines if "::" in line) == [
        "env.repro", "good.repro", "pid.repro"]
    run = pytester.runpytest_subprocess("--repro", str(root), "-n", "2", "-p", "no:cacheprovider",
                                        f"--junitxml={pytester.path / 'out.xml'}")
    run.assert_outcomes(passed=2, failed=1)
    assert "step 1 (In[2] cell 2): differs" in run.stdout.str() and "stdout:" in run.stdout.str()
    suite = next(iter(JUnitXml.fromfile(str(pytester.path / "out.xml"))))
    assert suite.tests == 3 and suite.failures == 1
