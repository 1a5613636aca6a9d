"""`jupyter repro export --mlflow`: a recorded session logged to a real MLflow SQLite store, read back."""

from __future__ import annotations

import os
import subprocess
import warnings
from pathlib import Path

import pytest

from repro_kernel.testing import START, execute_notebook, make_notebook, run_cli

pytest.importorskip("mlflow", reason="the test extra installs mlflow-skinny")


def _cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``jupyter repro ARGS`` with no MLFLOW_* variable of this machine's in its way."""
    changes: dict[str, str | None] = {k: None for k in os.environ if k.startswith("MLFLOW_")}
    changes.update(env or {})
    return run_cli(*args, cwd=cwd, timeout=180, env=changes)


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A session recorded at a git commit that seeds two generators and reads a CSV."""
    project = tmp_path_factory.mktemp("mlflow") / "project"
    project.mkdir()
    (project / "points.csv").write_text("x,y\n1,2\n3,5\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    subprocess.run([*git, "add", "points.csv"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "data"], cwd=project, check=True)
    nb = make_notebook([
        START,
        "import random\nimport numpy as np\nrandom.seed(7)\nnp.random.seed(11)",
        "rows = open('points.csv').read().splitlines()[1:]\nlen(rows)",
        "print(random.random(), np.random.rand())",
    ])
    execute_notebook(nb, project / "fit.ipynb")
    return project / "fit.ipynb"


def _commit(project: Path) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=project, capture_output=True, text=True,
                          check=True).stdout.strip()


@pytest.mark.slow
def test_export_logs_a_run_with_seeds_commit_and_artifacts(recorded: Path) -> None:
    from mlflow import MlflowClient

    project = recorded.parent
    result = _cli("export", recorded.name, "-o", "fit.repro", "--mlflow", cwd=project)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "logged MLflow run" in result.stdout
    store = project / "mlflow.db"
    assert store.is_file(), "the default store is a SQLite file beside the notebook"
    run_id = result.stdout.split("logged MLflow run ")[1].split()[0]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # MLflow's own deprecations are not under test
        client = MlflowClient(tracking_uri=f"sqlite:///{store}")
        run = client.get_run(run_id)
        artifacts = {a.path for a in client.list_artifacts(run_id)}
        manifest_copy = Path(client.download_artifacts(run_id, "manifest.json", str(project / "dl")))
        experiment = client.get_experiment(run.info.experiment_id)
    assert experiment.name == "jupyter-repro"
    assert experiment.artifact_location.startswith((project / "mlruns").as_uri())
    assert run.info.status == "FINISHED"
    params, tags = run.data.params, run.data.tags
    assert params["repro.mode"] == "slice"
    assert "step 1: random.seed(7)" in params["repro.seeds"] and "np.random.seed(11)" in params["repro.seeds"]
    assert params["requirement.numpy"] == __import__("numpy").__version__
    assert params["repro.inputs"] == "1"
    assert params["git.commit"] == tags["mlflow.source.git.commit"] == _commit(project)
    assert tags["mlflow.source.type"] == "NOTEBOOK"
    assert tags["mlflow.source.name"].endswith("fit.ipynb")
    assert tags["repro.git.dirty"] == "false", "no tracked file was modified (untracked ones count apart)"
    assert artifacts == {"manifest.json", "replay.py", "requirements.txt"}
    assert manifest_copy.read_bytes() == (project / "fit.repro" / "manifest.json").read_bytes()
    assert tags["repro.manifest.sha256"] in manifest_copy.read_text()


def test_an_explicit_store_and_experiment(recorded: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlflow import MlflowClient

    from repro_kernel.export.mlflow_log import log_export

    project = recorded.parent
    if not (project / "fit.repro").exists():
        pytest.skip("needs the export of the test above")
    uri = f"sqlite:///{project / 'mlflow.db'}"  # already migrated by the test above: keeps this one fast
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "team")
    logged = log_export(project / "fit.repro", notebook=recorded, tracking_uri=uri)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = MlflowClient(tracking_uri=uri)
        run = client.get_run(logged.run_id)
        assert client.get_experiment(run.info.experiment_id).name == "team"
    assert logged.tracking_uri == uri
    assert run.data.params["git.commit"] == _commit(project)


def test_without_mlflow_the_export_stops_first_with_the_install_line(recorded: Path, tmp_path: Path) -> None:
    project = recorded.parent
    # As if MLflow were not installed: a module named mlflow, first on the path, that cannot be imported.
    blocker = tmp_path / "no-mlflow"
    blocker.mkdir()
    (blocker / "mlflow.py").write_text("raise ModuleNotFoundError(\"No module named 'mlflow'\", name='mlflow')\n")
    path = os.pathsep.join(filter(None, [str(blocker), os.environ.get("PYTHONPATH")]))
    result = _cli("export", recorded.name, "-o", "none.repro", "--mlflow", cwd=project, env={"PYTHONPATH": path})
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "pip install 'jupyter-repro[mlflow]'" in result.stderr
    assert not (project / "none.repro").exists(), "nothing is written when the run cannot be logged"


@pytest.mark.slow
def test_a_bad_tracking_uri_is_one_line(recorded: Path) -> None:
    result = _cli("export", recorded.name, "-o", "bad.repro", "--mlflow=nosuchscheme://x", cwd=recorded.parent)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "MLflow could not log the export" in result.stderr


@pytest.mark.slow
def test_verify_logs_its_results_to_the_exports_run_with_the_inputs_as_datasets(recorded: Path) -> None:
    from mlflow import MlflowClient

    project = recorded.parent
    exported = _cli("export", recorded.name, "-o", "verified.repro", "--mlflow", cwd=project)
    assert exported.returncode == 0, exported.stderr[-2000:]
    run_id = exported.stdout.split("logged MLflow run ")[1].split()[0]
    # The store is in the repository, which does not ignore it: the export says so.
    assert "note: the MLflow store" in exported.stdout and ".gitignore" in exported.stdout
    verified = _cli("verify", "verified.repro", "--mlflow", cwd=project)
    assert verified.returncode == 0, verified.stdout[-2000:] + verified.stderr[-2000:]
    assert f"logged the verify results to MLflow run {run_id}" in verified.stdout
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
        run = client.get_run(run_id)
    metrics = run.data.metrics
    steps = metrics["verify.steps"]
    assert steps >= 2 and metrics["verify.reproduced"] == steps and metrics["verify.exit_code"] == 0
    assert run.data.tags["repro.verified"] == "true"
    datasets = [d.dataset for d in run.inputs.dataset_inputs]
    assert [d.name for d in datasets] == ["points.csv"] and len(datasets[0].digest) == 36
    # Ignored, the store gets no note.
    (project / ".gitignore").write_text("mlflow.db\nmlruns/\n")
    again = _cli("verify", "verified.repro", "--mlflow", cwd=project)
    assert again.returncode == 0 and "note:" not in again.stdout, again.stdout
