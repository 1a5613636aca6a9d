"""What Binder would do, without Docker: a fresh virtual environment built only from the exported binder/
folder (no jupyter-repro in it: the replay needs only its bundled runtime) runs the replay, and
`jupyter repro verify --kernel` compares it step by step from outside."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from repro_kernel.export import export_notebook
from repro_kernel.testing import START, execute_notebook, make_notebook
from tests.wheelhouse import install
from tests.wheelhouse import pip as _pip

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_a_fresh_venv_from_the_binder_folder_verifies_and_reproduces(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "scores.csv").write_text("name,score\nada,3\ngrace,5\n")
    nb = make_notebook([
        START,
        "import csv\nimport random",
        "rows = list(csv.DictReader(open('scores.csv')))\nrows",
        "random.shuffle(rows)\nprint([r['name'] for r in rows], random.random())",
        "%time best = max(rows, key=lambda r: int(r['score']))\nbest['name']",
    ])
    execute_notebook(nb, project / "scores.ipynb")
    export = export_notebook(project / "scores.ipynb", bundle_data=True, output=tmp_path / "shared" / "scores.repro")
    shutil.rmtree(project)  # only the exported folder travels

    runtime = (export / "binder" / "runtime.txt").read_text().strip()
    assert runtime == "python-%d.%d" % sys.version_info[:2], "this test builds the venv with the same Python"

    env_dir = tmp_path / "binder-venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    python = env_dir / "bin" / "python"
    requirements = (export / "binder" / "requirements.txt").read_text()
    assert "jupyter-repro" not in requirements, "no index may serve that version: a Binder build would fail"
    install(python, "-r", str(export / "binder" / "requirements.txt"))
    kernel = _pip(python, "list", "--format=json")
    installed = {p["name"].lower() for p in json.loads(kernel.stdout)}
    assert "jupyter-repro" not in installed and "numpy" not in installed, "only what binder/ asks for"
    spec = subprocess.run([str(python), "-m", "ipykernel", "install", "--prefix", str(env_dir), "--name",
                           "binder-replay"], capture_output=True, text=True, timeout=120)
    assert spec.returncode == 0, spec.stderr
    # The replay itself, as a Binder user runs it: replay.ipynb top to bottom in that environment's kernel.
    clean_env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "VIRTUAL_ENV", "PYTHON"))}
    clean_env["PATH"] = f"{env_dir / 'bin'}:{clean_env.get('PATH', '')}"
    ran = subprocess.run([str(python), "-m", "ipykernel_launcher", "--version"], capture_output=True, text=True,
                         env=clean_env, timeout=60)
    assert ran.returncode == 0, ran.stderr
    # Compared step by step from outside, in that environment's kernel.
    outside = dict(os.environ, JUPYTER_PATH=str(env_dir / "share" / "jupyter"))
    result = subprocess.run([sys.executable, "-m", "repro_kernel.cli", "verify", str(export), "--kernel",
                             "binder-replay", "--json"], capture_output=True, text=True, timeout=300,
                            env=outside, cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["reproduced"] is True and report["counts"] == {"reproduced": 4}


@pytest.mark.slow
def test_repo2docker_reads_the_binder_folder_without_a_docker_engine(tmp_path: Path) -> None:
    """`jupyter-repo2docker --no-build --debug` renders the Dockerfile Binder would build: no engine needed."""
    exe = shutil.which("jupyter-repo2docker") or str(Path(sys.executable).with_name("jupyter-repo2docker"))
    if not Path(exe).exists():
        pytest.skip("jupyter-repo2docker is not installed (pip install jupyter-repo2docker)")
    project = tmp_path / "project"
    nb = make_notebook([START, "import numpy as np\nnp.arange(3).sum()"])
    execute_notebook(nb, project / "tiny.ipynb")
    export = export_notebook(project / "tiny.ipynb")
    result = subprocess.run([exe, "--no-build", "--debug", "--no-run", str(export)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    dockerfile = result.stdout + result.stderr
    assert "Building conda environment for python=%d.%d" % sys.version_info[:2] in dockerfile
    assert 'pip install --no-cache-dir -r "binder/requirements.txt"' in dockerfile
    import numpy

    assert f"numpy=={numpy.__version__}" in (export / "binder" / "requirements.txt").read_text()
