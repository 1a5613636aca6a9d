"""papermill, run as a pipeline runs it: `papermill work/in.ipynb results/out.ipynb --cwd work -p alpha 0.5`. The
kernel runs in `work/` (where `.repro/` is written and `data.csv` is read), the output notebook lies in `results/`.
check, export and verify of `results/out.ipynb` find the recording where the kernel ran and judge it as they judge
the same notebook recorded in JupyterLab; the replay runs in the kernel's folder, carries papermill's parameters
(manifest, MLflow params, the `parameters` / `injected-parameters` tags) and papermill re-parameterises it.
Nothing here sets JPY_SESSION_NAME: papermill starts its kernels as it does for users."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from repro_kernel.analysis.sessions import recording_folders
from repro_kernel.export.mlflow_log import run_contents
from repro_kernel.kernel.notebook_path import locate_notebook, papermill_notebook
from repro_kernel.testing import KERNEL_NAME, execute_notebook, run_cli

CELLS = [
    ("%load_ext repro_kernel\n%repro start", []),
    ("alpha = 0.1", ["parameters"]),
    ("import random\nrows = open('data.csv').read().split()\nprint(alpha, rows, random.random())", []),
]


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "JPY_SESSION_NAME"}


def papermill(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    ran = subprocess.run([sys.executable, "-m", "papermill", *args, "--no-progress-bar"], cwd=cwd, env=_env(),
                         capture_output=True, text=True, timeout=240)
    assert ran.returncode == 0, ran.stderr[-3000:]
    return ran


def notebook(path: Path) -> Path:
    nb = nbformat.v4.new_notebook()
    for source, tags in CELLS:
        cell = nbformat.v4.new_code_cell(source)
        if tags:
            cell.metadata["tags"] = tags
        nb.cells.append(cell)
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "Python 3", "language": "python"}
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    (path.parent / "data.csv").write_text("x\n1\n2\n3\n")
    return path


def printed(nb_path: Path) -> str:
    """What the notebook's last code cell printed."""
    cell = nbformat.read(nb_path, as_version=4).cells[-1]
    return "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")


def flag_kinds(report: dict) -> list[tuple[str, list[int]]]:
    return sorted((f["kind"], sorted(report["cell_index"][c] for c in f["cells"])) for f in report["flags"])


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project where papermill ran work/in.ipynb into results/out.ipynb with the kernel in work/."""
    root = tmp_path_factory.mktemp("pipeline")
    notebook(root / "work" / "in.ipynb")
    (root / "results").mkdir()
    papermill("work/in.ipynb", "results/out.ipynb", "--cwd", "work", "-p", "alpha", "0.5", cwd=root)
    return root


@pytest.mark.slow
def test_check_finds_the_recording_where_the_kernel_ran(pipeline: Path, tmp_path: Path) -> None:
    out = pipeline / "results" / "out.ipynb"
    assert "0.5 ['x', '1', '2', '3']" in printed(out)
    assert (pipeline / "work" / ".repro" / "journal.sqlite").is_file()  # where the kernel ran
    assert not (pipeline / "results" / ".repro").exists()

    sessions = json.loads(run_cli("sessions", str(out), "--json").stdout)["sessions"]
    assert len(sessions) == 1 and sessions[0]["chosen"] and sessions[0]["executions"] == 3

    check = run_cli("check", str(out), "--json")
    report = json.loads(check.stdout)
    assert report["session_id"] == sessions[0]["session_id"]
    assert Path(report["journal"]).parent == (pipeline / "work" / ".repro").resolve()
    assert "absolute-path" not in {f["kind"] for f in report["flags"]}  # data.csv was read by a relative path

    # The same notebook recorded as JupyterLab records it (the kernel told its path, in the notebook's folder)
    # gets the same judgement.
    lab = tmp_path / "lab" / "out.ipynb"
    nb = nbformat.read(out, as_version=4)
    (tmp_path / "lab").mkdir()
    shutil.copy(pipeline / "work" / "data.csv", tmp_path / "lab" / "data.csv")
    for cell in nb.cells:
        cell.outputs, cell.execution_count = [], None
    execute_notebook(nb, lab)
    lab_report = json.loads(run_cli("check", str(lab), "--json").stdout)
    assert lab_report["journal"] and check.returncode == run_cli("check", str(lab)).returncode
    assert flag_kinds(report) == flag_kinds(lab_report)


@pytest.mark.slow
def test_export_replays_where_the_kernel_ran_with_papermills_parameters(pipeline: Path) -> None:
    out = pipeline / "results" / "out.ipynb"
    exported = run_cli("export", str(out))
    assert exported.returncode == 0, exported.stderr
    assert "ran without `%repro start`" not in exported.stdout
    folder = pipeline / "results" / "out.repro"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["recorded"] and all(s["random"] for s in manifest["steps"][-1:])
    assert manifest["parameters"] == {"alpha": 0.5}
    assert (folder / manifest["replay"]["workdir"]).resolve() == (pipeline / "work").resolve()
    assert manifest["replay"]["kernel_cwd"]["from_notebook"] == "../work"
    assert [i["rel"] for i in manifest["inputs"]] == ["data.csv"]

    replay = nbformat.read(folder / "replay.ipynb", as_version=4)
    tags = {t for cell in replay.cells for t in cell.metadata.get("tags", [])}
    assert {"parameters", "injected-parameters"} <= tags

    params, _tags = run_contents(folder, out)
    assert params["alpha"] == "0.5"

    verified = run_cli("verify", str(folder), "--json")
    report = json.loads(verified.stdout)
    assert verified.returncode == 0 and report["reproduced"] is True, verified.stdout[-3000:]

    # papermill re-parameterises the replay: alpha 0.7, the recorded random draw, data.csv read in work/.
    papermill("replay.ipynb", str(pipeline / "rerun.ipynb"), "-p", "alpha", "0.7", cwd=folder)
    recorded, rerun = printed(out), printed(pipeline / "rerun.ipynb")
    assert rerun.startswith("0.7 ['x', '1', '2', '3'] ")
    assert rerun.split("] ")[1] == recorded.split("] ")[1]  # the random state was restored


@pytest.mark.slow
def test_nbconvert_output_dir_replays_where_the_kernel_ran(pipeline: Path) -> None:
    elsewhere = pipeline / "exports"
    ran = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "repro", "results/out.ipynb", "--output-dir",
                          str(elsewhere)], cwd=pipeline, env=_env(), capture_output=True, text=True, timeout=240)
    assert ran.returncode == 0, ran.stderr[-3000:]
    folder = elsewhere / "out.repro"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert (folder / manifest["replay"]["workdir"]).resolve() == (pipeline / "work").resolve()
    verified = run_cli("verify", str(folder), "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["reproduced"] is True, verified.stdout[-3000:]


@pytest.mark.slow
def test_inject_paths_binds_the_session_to_the_output_notebook(tmp_path: Path) -> None:
    notebook(tmp_path / "in.ipynb")
    (tmp_path / "results").mkdir()
    papermill("in.ipynb", "results/out.ipynb", "--inject-paths", "-p", "alpha", "0.5", cwd=tmp_path)
    out = tmp_path / "results" / "out.ipynb"

    # Bound by the recorder from PAPERMILL_OUTPUT_PATH, before any export: the journal stays where the kernel ran.
    sessions = json.loads(run_cli("sessions", str(out), "--json").stdout)["sessions"]
    assert [s["notebook"] for s in sessions] == ["out.ipynb"]
    assert (tmp_path / ".repro" / "journal.sqlite").is_file()

    report = json.loads(run_cli("check", str(out), "--json").stdout)
    assert report["session_id"] == sessions[0]["session_id"]
    assert "absolute-path" not in {f["kind"] for f in report["flags"]}

    assert run_cli("export", str(out)).returncode == 0
    manifest = json.loads((tmp_path / "results" / "out.repro" / "manifest.json").read_text())
    assert manifest["parameters"]["alpha"] == 0.5
    assert manifest["replay"]["kernel_cwd"]["from_notebook"] == ".."
    verified = run_cli("verify", str(tmp_path / "results" / "out.repro"), "--json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["reproduced"] is True, verified.stdout[-3000:]


def test_the_readers_look_where_papermills_kernel_ran(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for folder in ("work", "results", "elsewhere"):
        (tmp_path / folder).mkdir()
    out = tmp_path / "results" / "out.ipynb"
    monkeypatch.chdir(tmp_path / "elsewhere")  # the reader runs anywhere: papermill's folder comes from the paths
    runner = {"input_path": "work/in.ipynb", "output_path": "results/out.ipynb"}
    assert recording_folders(out, {"papermill": runner}) == [tmp_path / "results", tmp_path / "work", tmp_path]
    assert recording_folders(out, {"papermill": dict(runner, cwd="elsewhere")})[1] == tmp_path / "elsewhere"
    assert recording_folders(out, {}) == [tmp_path / "results"]  # no runner metadata: beside the notebook only
    remote = {"input_path": "s3://bucket/in.ipynb", "output_path": "s3://bucket/out.ipynb"}
    assert recording_folders(out, {"papermill": remote}) == [tmp_path / "results", tmp_path / "elsewhere"]


def test_the_injected_output_path_names_the_notebook_not_its_folder(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "out.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path)
    name = papermill_notebook({"PAPERMILL_OUTPUT_PATH": "results/out.ipynb"})
    assert name == "out.ipynb"
    assert locate_notebook(name) == (tmp_path, "out.ipynb")  # .repro/ stays in the kernel's working directory
    assert papermill_notebook({"PAPERMILL_OUTPUT_PATH": "s3://bucket/out.ipynb"}) is None
    assert papermill_notebook({}) is None
