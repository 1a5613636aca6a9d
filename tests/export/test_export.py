"""`jupyter repro export`: the folder it writes, its manifest, modes, refusal to overwrite, best effort."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import nbformat
import pytest

from repro_kernel.core.records import load_schema
from repro_kernel.export import binder_url, export_notebook
from repro_kernel.export.manifest import load_manifest
from repro_kernel.testing import START, execute_notebook, make_notebook, run_cli
from tests.export.conftest import manifest_of

EXPECTED_FILES = {"replay.py", "replay.ipynb", "repro_replay.py", "manifest.json", "requirements.txt",
                  "binder/requirements.txt", "binder/runtime.txt", "binder/README.md", "README.md"}


def test_export_writes_the_folder_and_a_manifest_valid_against_the_shipped_schema(project: Path) -> None:
    result = run_cli("export", str(project))
    assert result.returncode == 0, result.stderr
    folder = project.with_name("weather.repro")
    written = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    assert EXPECTED_FILES <= written
    assert "random-states.jsonl" in written
    manifest = manifest_of(folder)
    jsonschema.validate(manifest, load_schema("manifest"))
    assert manifest["schema_version"] == 1 and manifest["recorded"] is True
    assert manifest["hash_seed"] == "0"
    assert manifest["inputs"][0]["path"] == "weather.csv"
    assert manifest["inputs"][0]["hash"].startswith("blake3:") and manifest["inputs"][0]["sha256"]
    reqs = {r["distribution"]: r["version"] for r in manifest["requirements"]}
    assert "numpy" in reqs and "pandas" in reqs and "jupyter-repro" not in reqs
    import numpy

    assert reqs["numpy"] == numpy.__version__
    assert f"numpy=={numpy.__version__}" in (folder / "requirements.txt").read_text().splitlines()
    # What pandas requires is pinned too, though the kernel loaded dateutil (jupyter_client) before recording.
    from importlib import metadata

    dateutil = next(r for r in manifest["requirements"] if r["distribution"] == "python-dateutil")
    assert dateutil["version"] == metadata.version("python-dateutil") and dateutil["required_by"] == "pandas"
    assert f"python-dateutil=={dateutil['version']}" in (folder / "requirements.txt").read_text().splitlines()
    assert (folder / "binder/runtime.txt").read_text().strip() == "python-%d.%d" % sys.version_info[:2]
    binder = (folder / "binder/requirements.txt").read_text()
    assert "jupyter-repro" not in binder and "ipykernel" in binder, "no pin an index may not serve"
    for step in manifest["steps"]:
        assert step["code_hash"].startswith("blake3:")
    random_steps = [s for s in manifest["steps"] if s["random"].get("numpy")]
    states = {json.loads(line)["ref"] for line in (folder / "random-states.jsonl").read_text().splitlines()}
    assert random_steps and all(s["random"]["numpy"] in states for s in random_steps)
    assert any(s["generators"] for s in manifest["steps"]), "the unseeded default_rng() entropy is carried"
    assert manifest["flags"] is None or any(f["kind"] == "unseeded-randomness" for f in manifest["flags"])
    load_manifest(folder)  # seal and files intact


def test_history_replays_every_execution_in_run_order_with_the_code_as_it_ran(project: Path) -> None:
    folder = export_notebook(project, mode="history")
    manifest = manifest_of(folder)
    counts = [s["execution_count"] for s in manifest["steps"]]
    assert counts == sorted(counts) and len(counts) == len(set(counts))
    script = (folder / "replay.py").read_text()
    # The edited cell replays the code that ran (no seed), the deleted cell is kept, recording magics are not.
    assert "np.random.default_rng()\n" in script and "default_rng(7)" not in script
    assert "unused = 123" in script
    assert "%repro" not in script and "load_ext repro_kernel" not in script
    assert script.count("x = np.random.rand(4)") == 2, "a re-run is a second step"
    assert "get_ipython().run_line_magic('time'" in script and manifest["replay"]["ipython_syntax"] is True
    nb = nbformat.read(folder / "replay.ipynb", as_version=4)
    nbformat.validate(nb)
    step_cells = [c for c in nb.cells if "repro" in c.metadata]
    assert [c.metadata["repro"]["step"] for c in step_cells] == [s["index"] for s in manifest["steps"]]
    assert step_cells[0].source.startswith("import random")
    assert any(c.outputs for c in step_cells), "replay.ipynb carries the recorded outputs"


def test_slice_keeps_only_what_the_saved_outputs_need_and_document_follows_the_page(project: Path) -> None:
    history = manifest_of(export_notebook(project, mode="history", output=project.parent / "h"))
    sliced = manifest_of(export_notebook(project, mode="slice", output=project.parent / "s"))
    document = manifest_of(export_notebook(project, mode="document", output=project.parent / "d"))
    assert len(sliced["steps"]) < len(history["steps"])
    sliced_code = (project.parent / "s" / "replay.py").read_text()
    assert "unused = 123" not in sliced_code, "the deleted cell's execution feeds no saved output"
    assert "pd.read_csv" in sliced_code and "random.choice" in sliced_code
    assert any("--mode history" in n for n in sliced["notes"])
    document_code = (project.parent / "d" / "replay.py").read_text()
    assert "default_rng(7)" in document_code, "document mode replays the current sources"
    assert [s["cell_index"] for s in document["steps"]] == sorted(s["cell_index"] for s in document["steps"])
    assert any("edited after it ran" in c for c in document["not_guaranteed"])


def test_refuses_to_overwrite_without_force_in_one_line(project: Path) -> None:
    first = export_notebook(project)
    (first / "marker").write_text("mine")
    again = run_cli("export", str(project))
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "--force" in again.stderr and "Traceback" not in again.stderr
    assert (first / "marker").exists(), "nothing was touched"
    assert export_notebook(project, force=True) == first and not (first / "marker").exists()


@pytest.mark.slow
def test_force_replaces_an_export_but_never_another_folder(project: Path, tmp_path: Path) -> None:
    precious = tmp_path / "mine"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work")
    result = run_cli("export", str(project), "-o", str(precious), "--force")
    assert result.returncode == 2 and "not a jupyter-repro export folder" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert (precious / "thesis.tex").read_text() == "years of work"
    result = run_cli("export", str(project), "-o", str(project.parent), "--force")
    assert result.returncode == 2 and project.exists(), "-o . --force never deletes the project"
    empty = tmp_path / "empty"
    empty.mkdir()
    assert export_notebook(project, output=empty, force=True) == empty.resolve()
    assert (empty / "manifest.json").exists()


@pytest.mark.parametrize("content,what", [("{not json", "not valid JSON"),
                                          pytest.param(None, "does not exist", marks=pytest.mark.slow)])
def test_bad_notebooks_get_one_line_and_exit_2(tmp_path: Path, content: str | None, what: str) -> None:
    path = tmp_path / "broken.ipynb"
    if content is not None:
        path.write_text(content)
    result = run_cli("export", str(path))
    assert result.returncode == 2 and what in result.stderr and result.stderr.count("\n") == 1


@pytest.mark.slow
def test_unknown_mode_is_a_usage_error(project: Path) -> None:
    result = run_cli("export", str(project), "--mode", "everything")
    assert result.returncode == 2 and "--mode" in result.stderr


def test_bundle_data_copies_inputs_and_replays_anywhere(project: Path, tmp_path: Path) -> None:
    folder = export_notebook(project, bundle_data=True, output=tmp_path / "out" / "bundle")
    manifest = manifest_of(folder)
    assert manifest["replay"]["workdir"] == "files"
    assert manifest["inputs"][0]["bundled"] == "files/weather.csv"
    assert (folder / "files/weather.csv").read_text() == (project.parent / "weather.csv").read_text()
    moved = tmp_path / "elsewhere"
    shutil.move(str(folder), moved)
    shutil.rmtree(project.parent)  # the original project, its data and journal are gone
    run = subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "replay.py"], cwd=moved,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "replay finished" in run.stderr


def test_nbconvert_exporter_shares_the_code_path(project: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "nbconvert", "--to", "repro", project.name],
                            cwd=project.parent, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    folder = project.with_name("weather.repro")
    nbconvert_manifest = load_manifest(folder)
    ours = manifest_of(export_notebook(project, output=project.parent / "cli"))
    assert [s["replay_code_sha256"] for s in nbconvert_manifest["steps"]] == \
        [s["replay_code_sha256"] for s in ours["steps"]]
    assert (folder / "replay.py").read_text() == (project.parent / "cli" / "replay.py").read_text()


@pytest.mark.slow
def test_notebook_recorded_without_repro_exports_best_effort(tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    nb = make_notebook(["import numpy as np", "a = np.arange(5)\na * 2", "print(a.sum())"])
    execute_notebook(nb, folder / "plain.ipynb")
    result = run_cli("export", str(folder / "plain.ipynb"))
    assert result.returncode == 0, result.stderr
    assert "cannot guarantee: no recorded session" in result.stdout
    manifest = manifest_of(folder / "plain.repro")
    assert manifest["recorded"] is False and len(manifest["steps"]) == 3
    assert any("random states are not restored" in c for c in manifest["not_guaranteed"])
    assert any(r["distribution"] == "numpy" for r in manifest["requirements"])
    verify = run_cli("verify", str(folder / "plain.repro"), "--json")
    assert verify.returncode == 0, verify.stdout + verify.stderr
    assert json.loads(verify.stdout)["counts"] == {"reproduced": 3}


@pytest.mark.slow
def test_without_a_journal_the_inputs_in_metadata_repro_are_checked(tmp_path: Path) -> None:
    """A notebook shared without `.repro/`: the input hashes the sidebar saved in `metadata.repro` still guard
    the replay."""
    from repro_kernel.core.hashing import hash_file

    folder = tmp_path / "shared"
    folder.mkdir()
    (folder / "sales.csv").write_text("amount\n3\n4\n")
    nb = make_notebook(["print('setup')", "total = sum(int(x) for x in open('sales.csv').read().split()[1:])\ntotal"])
    path = folder / "shared.ipynb"
    execute_notebook(nb, path)
    saved = nbformat.read(path, as_version=4)
    saved.metadata["repro"] = {"version": 1, "saved_at": 1.0, "flags": [], "cells": {}, "status": {
        "recording": True, "inputs": [{"path": "sales.csv", "abspath": "/elsewhere/sales.csv", "size": 12,
                                       "hash": hash_file(str(folder / "sales.csv"))}]}}
    nbformat.write(saved, path)
    manifest = manifest_of(export_notebook(path))
    assert [(i["path"], i["steps"]) for i in manifest["inputs"]] == [("sales.csv", [2])]
    assert any("checked by hash" in c for c in manifest["not_guaranteed"])
    assert run_cli("verify", str(folder / "shared.repro"), "--json").returncode == 0
    (folder / "sales.csv").write_text("amount\n3\n5\n")
    changed = run_cli("verify", str(folder / "shared.repro"))
    assert changed.returncode != 0 and "sales.csv" in changed.stdout + changed.stderr


@pytest.mark.slow
def test_a_cell_holding_a_secret_is_not_taken_for_edited_and_its_export_says_what_is_missing(
        tmp_path: Path) -> None:
    from repro_kernel.analysis import analyze_notebook

    folder = tmp_path / "secret"
    nb = make_notebook([START, "password = 'hunter2-correct-horse-battery'\nlength = len(password)",
                        "print(length)"])
    path = folder / "secret.ipynb"
    execute_notebook(nb, path)
    report = analyze_notebook(path)
    assert report.journal is not None and report.executions == 2
    assert not [f for f in report.flags if f.kind in ("edited-since-run", "hidden-state")], report.flags
    manifest = manifest_of(export_notebook(path, mode="history"))
    assert "hunter2" not in (folder / "secret.repro" / "replay.py").read_text()
    assert any("credentials in its code" in c for c in manifest["not_guaranteed"])


def test_binder_url_from_remote_commit_and_path() -> None:
    git = {"commit": "abc123", "remote": "git@github.com:org/proj.git", "dirty": []}
    url, _ = binder_url(git, "work/analysis.repro/replay.ipynb")
    assert url == "https://mybinder.org/v2/gh/org/proj/abc123?labpath=work/analysis.repro/replay.ipynb"
    url, _ = binder_url({**git, "remote": "https://gitlab.com/grp/proj"}, "nb.ipynb")
    assert url == "https://mybinder.org/v2/gl/grp%2Fproj/abc123?labpath=nb.ipynb"
    url, _ = binder_url({**git, "remote": "https://example.org/x.git"}, None)
    assert url == "https://mybinder.org/v2/git/https%3A%2F%2Fexample.org%2Fx.git/abc123"
    url, note = binder_url(git, "analysis.repro/replay.ipynb", ref="main")
    assert url == "https://mybinder.org/v2/gh/org/proj/main?labpath=analysis.repro/replay.ipynb"
    assert "branch main" in note and "commit this export folder" in note
    assert binder_url(None, "nb.ipynb")[0] is None
    assert "uncommitted" in binder_url({**git, "dirty": ["a.py"]}, None)[1]


def test_binder_readme_carries_the_url_built_from_remote_commit_and_path(project: Path) -> None:
    folder = export_notebook(project)
    manifest = manifest_of(folder)
    # The export folder is not in the recorded commit: the link names the branch that will hold it.
    branch = manifest["git"]["branch"]
    assert branch and branch != manifest["git"]["commit"]
    expected = f"https://mybinder.org/v2/gh/example/weather/{branch}?labpath=weather.repro/replay.ipynb"
    assert manifest["binder"]["url"] == expected
    assert expected in (folder / "binder/README.md").read_text()
