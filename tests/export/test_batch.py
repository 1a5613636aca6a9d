"""Batch verify without kernels: which items a path names, what a child's output means, the --since-last state,
and the JUnit / JSON / HTML reports (the JUnit read back with junitparser)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from junitparser import Error, Failure, JUnitXml, Skipped

from repro_kernel.export.batch import BatchInputError, BatchResult, batch_exit_code, expand_paths, result_from_output
from repro_kernel.export.batch_report import render_html, to_json, write_junit
from repro_kernel.export.batch_state import BatchState, StateFileError, fingerprint


def fake_export(folder: Path, inputs: list[dict[str, object]] | None = None) -> Path:
    folder.mkdir(parents=True)
    (folder / "replay.ipynb").write_text("{}")
    manifest = {"replay": {"workdir": ".."}, "inputs": inputs or [],
                "requirements": [{"distribution": "nbformat", "version": "0"}]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_folders_globs_and_files_expand_to_each_item_once_in_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = fake_export(tmp_path / "proj" / "a.repro")
    b = fake_export(tmp_path / "proj" / "sub" / "b.repro")
    (tmp_path / "proj" / ".repro").mkdir()
    (tmp_path / "proj" / "a.ipynb").write_text("{}")  # exported already: its export stands for it
    (tmp_path / "proj" / "c.ipynb").write_text("{}")  # recorded, not exported: verified from the notebook
    (tmp_path / "proj" / "sub" / "plain.ipynb").write_text("{}")  # no journal beside it: nothing to verify
    (tmp_path / "proj" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "proj" / ".ipynb_checkpoints" / "c-checkpoint.ipynb").write_text("{}")
    monkeypatch.chdir(tmp_path)
    items = expand_paths(["proj", str(b), "proj/*.ipynb"], "verify")
    assert items == [Path("proj/a.repro"), Path("proj/c.ipynb"), Path("proj/sub/b.repro"), Path("proj/a.ipynb")]
    assert a.is_dir() and b.is_dir()  # b, given again, counts once
    checked = expand_paths(["proj"], "check")  # check: every notebook, none inside an export
    assert sorted(p.name for p in checked) == ["a.ipynb", "c.ipynb", "plain.ipynb"]


@pytest.mark.parametrize(("paths", "message"), [
    ([], "no path given"),
    (["missing.repro"], "missing.repro does not exist"),
    (["nothing/*.repro"], "matches nothing"),
    (["empty"], "is a folder with no export"),
    (["file.txt"], "neither an export folder nor a notebook"),
])
def test_bad_paths_are_one_line_errors_with_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, paths: list[str],
                                                  message: str) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(BatchInputError) as caught:
        expand_paths(paths, "verify")
    assert message in caught.value.one_line() and "\n" not in caught.value.one_line()
    assert caught.value.exit_code == 2


def test_a_childs_exit_code_and_json_become_the_items_status() -> None:
    steps = [{"index": 1, "label": "In[1] cell 1", "outcome": "reproduced", "detail": ""},
             {"index": 2, "label": "In[2] cell 2", "outcome": "differs", "detail": "stdout: -1\n+2"}]
    differs = result_from_output("verify", "a.repro", 1, json.dumps({"steps": steps, "problems": []}), "", 1.0, "w")
    assert differs.status == "not-reproduced" and differs.first_failures() == [steps[1]]
    ok = result_from_output("verify", "b.repro", 0, json.dumps({"steps": steps[:1], "total_seconds": 0.5}), "", 1.0, "w")
    assert ok.passed and ok.child_seconds == 0.5
    killed = result_from_output("verify", "c.repro", -9, "", "", 1.0, "w")
    assert killed.status == "crashed" and "SIGKILL" in killed.problems[0]
    bad = result_from_output("check", "d.ipynb", 2, "", "jupyter repro check: error: d.ipynb is not a notebook\n", 1.0, "w")
    assert bad.status == "bad-input" and bad.problems == ["jupyter repro check: error: d.ipynb is not a notebook"]
    assert batch_exit_code([ok]) == 0 and batch_exit_code([ok, differs]) == 1 and batch_exit_code([differs, bad]) == 2
    assert batch_exit_code([ok, BatchResult("e", "skipped", 0)]) == 0


def test_since_last_fingerprint_follows_manifest_inputs_pins_and_options(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n1,2\n")
    export = fake_export(tmp_path / "nb.repro", [{"id": "i1", "path": "data.csv", "rel": "data.csv", "hash": "x"}])
    first = fingerprint(export, ["verify"])
    assert first is not None and first == fingerprint(export, ["verify"])
    assert fingerprint(export, ["verify", "--rtol=1e-09"]) != first
    state = BatchState(tmp_path / "state.json")
    state.record("verify", export, first, "reproduced", True)
    state.save()
    again = BatchState(tmp_path / "state.json")
    assert again.unchanged("verify", export, fingerprint(export, ["verify"]))
    assert not again.unchanged("check", export, first)  # another command has its own entry
    data.write_text("a,b\n1,3\n")
    assert not again.unchanged("verify", export, fingerprint(export, ["verify"]))  # the input changed
    manifest = export / "manifest.json"
    data.write_text("a,b\n1,2\n")
    manifest.write_text(manifest.read_text().replace('"version": "0"', '"version": "1"'))  # a pin changed
    assert fingerprint(export, ["verify"]) != first
    again.record("verify", export, first, "not-reproduced", False)  # a failure forgets the success
    assert not again.unchanged("verify", export, first)
    assert fingerprint(tmp_path / "missing.repro") is None
    (tmp_path / "broken.json").write_text("{")
    with pytest.raises(StateFileError, match="delete it to start over"):
        BatchState(tmp_path / "broken.json")


def results() -> list[BatchResult]:
    diff = "stdout: -<b>old</b> & ]]>\n+new \x1b"
    return [
        BatchResult("ok/a.repro", "reproduced", 0, 1.5, "local/1", steps=[{"index": 1, "outcome": "reproduced"}]),
        BatchResult("bad/<img src=x onerror=alert(1)>.repro", "not-reproduced", 1, 2.0, "local/2",
                    steps=[{"index": 3, "label": "In[3] cell 3", "outcome": "differs", "detail": diff}]),
        BatchResult("gone/c.repro", "bad-input", 2, 0.1, "local/1", problems=["the manifest was edited & resealed"]),
        BatchResult("same/d.repro", "skipped", 0),
    ]


def test_junit_has_one_case_per_item_and_failures_carry_the_first_differing_steps(tmp_path: Path) -> None:
    path = tmp_path / "verify.xml"
    write_junit(path, "verify", results(), 3.6)
    suites = list(JUnitXml.fromfile(str(path)))
    assert len(suites) == 1
    suite = suites[0]
    assert suite.tests == 4 and suite.failures == 1 and suite.errors == 1 and suite.skipped == 1
    cases = {case.name: case for case in suite}
    assert set(cases) == {"a.repro", "<img src=x onerror=alert(1)>.repro", "c.repro", "d.repro"}
    assert cases["a.repro"].is_passed and cases["a.repro"].classname == "ok"
    (failure,) = cases["<img src=x onerror=alert(1)>.repro"].result
    assert isinstance(failure, Failure) and failure.type == "not-reproduced"
    assert "step 3 (In[3] cell 3): differs" in failure.message and "-<b>old</b> & ]]>" in failure.text
    (error,) = cases["c.repro"].result
    assert isinstance(error, Error) and "edited & resealed" in error.message
    assert isinstance(cases["d.repro"].result[0], Skipped)


def test_json_document_has_results_and_totals() -> None:
    document = to_json("verify", results(), 3.6, 2)
    assert document["exit_code"] == 2 and document["jobs"] == 2
    assert document["totals"]["items"] == 4 and document["totals"]["failed"] == 2
    assert [r["status"] for r in document["results"]] == ["reproduced", "not-reproduced", "bad-input", "skipped"]
    assert {"path", "status", "steps", "worker", "seconds"} <= set(document["results"][1])
    json.dumps(document)  # plain JSON


def test_html_escapes_every_text_and_loads_nothing_from_outside() -> None:
    page = render_html("verify", results(), 3.6, 2)
    assert "<img" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page and "<script" not in page
    assert "-&lt;b&gt;old&lt;/b&gt; &amp; ]]&gt;" in page
    assert "http" not in page and "<link" not in page and ' src="' not in page
    assert page.count('<tr id="row-') == 4 and page.count('<section class="failure"') == 2
