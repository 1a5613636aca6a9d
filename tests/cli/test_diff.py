"""`jupyter repro diff A B`: two runs compared, the likeliest cause of the first differing output ranked first.

One notebook recorded three times into one journal: with a tiny package at 1.0, then at 2.0 (its value() changes),
then at 1.0 again with the data file it reads changed. Every diff below compares real sessions and exports.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from repro_kernel.core.journal import Journal
from repro_kernel.export import export_notebook
from repro_kernel.testing import START, execute_notebook, make_notebook, run_cli
from tests.export.test_freshenv import ALPHA, tiny_wheels

A = ALPHA.replace("_", "-")
SOURCES = [START, f"import {ALPHA} as tiny", "text = open('data.txt').read()\ntext", "tiny.value()", "len(text)",
           "import random\nround(random.random(), 6)"]  # unseeded: every session draws another number


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    where = tmp_path_factory.mktemp("diff")
    wheels = tiny_wheels(where / "wheels")
    sites = {}
    for version in ("1.0", "2.0"):
        with zipfile.ZipFile(wheels / f"{ALPHA}-{version}-py3-none-any.whl") as wheel:
            wheel.extractall(where / f"site-{version}")
        sites[version] = str(where / f"site-{version}")
    project = where / "project"
    project.mkdir()
    path = project / "nb.ipynb"
    found: dict[str, str] = {"notebook": str(path)}
    sessions = (("v1", "1.0", "one"), ("v2", "2.0", "one"), ("data", "1.0", "two!"), ("again", "1.0", "one"))
    for _name, version, data in sessions:
        (project / "data.txt").write_text(data)
        execute_notebook(make_notebook(SOURCES), path, env={"PYTHONPATH": sites[version], "PYTHONHASHSEED": "0"})
    found["export"] = str(export_notebook(path, mode="history"))  # of the last session, which the file shows
    with Journal(project / ".repro", create=False) as journal:
        ids = [s["session_id"] for s in journal.sessions()]
    found.update({name: f"{path}:{sid[:10]}" for name, sid in zip([s[0] for s in sessions], ids)})
    return found


def diff_json(a: str, b: str) -> tuple[int, dict]:
    result = run_cli("diff", a, b, "--format", "json")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.mark.slow  # the module's four recorded sessions take ~25 s
def test_an_export_and_the_notebook_it_came_from_are_equivalent(runs: dict[str, str]) -> None:
    result = run_cli("diff", runs["export"], runs["notebook"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "equivalent: the runs agree" in result.stdout


@pytest.mark.slow  # the module's four recorded sessions take ~25 s
def test_a_package_release_is_named_first_on_the_step_it_changed(runs: dict[str, str]) -> None:
    code, report = diff_json(runs["v1"], runs["v2"])
    assert code == 1 and report["equivalent"] is False
    assert report["first_difference"]["a"] == 3  # tiny.value(), after the import and the read
    top = report["differences"][0]
    assert (top["kind"], top["what"], top["a"], top["b"]) == ("packages", f"package {A}", "1.0", "2.0"), top
    kinds = [d["kind"] for d in report["differences"]]
    assert "inputs" not in kinds and "code" not in kinds
    text = run_cli("diff", runs["v1"], runs["v2"]).stdout
    assert f"1. packages: package {A}: 1.0 -> 2.0" in text and "first difference: A step 3" in text, text


@pytest.mark.slow  # the module's four recorded sessions take ~25 s
def test_changed_data_is_named_first_when_the_step_that_read_it_differs(runs: dict[str, str]) -> None:
    code, report = diff_json(runs["v1"], runs["data"])
    assert code == 1
    assert report["first_difference"]["a"] == 2  # the step that read data.txt
    top = report["differences"][0]
    assert top["kind"] == "inputs" and top["what"] == "input data.txt" and top["a"] != top["b"], top
    assert all(d["kind"] != "packages" for d in report["differences"])


@pytest.mark.slow  # the module's four recorded sessions take ~25 s
def test_unseeded_randomness_is_named_on_the_step_that_drew(runs: dict[str, str]) -> None:
    code, report = diff_json(runs["v1"], runs["again"])
    assert code == 1 and report["first_difference"]["a"] == 5, report["first_difference"]
    top = report["differences"][0]
    assert top["kind"] == "random state" and "before step 5" in top["what"], report["differences"]
    assert [d["kind"] for d in report["differences"]].count("random state") == 1  # not the steps that never drew


@pytest.mark.slow  # the module's four recorded sessions take ~25 s
def test_two_runs_of_the_same_code_with_the_same_results_are_equivalent(runs: dict[str, str]) -> None:
    code, report = diff_json(runs["v1"], runs["v1"])
    assert code == 0 and report["equivalent"] is True and report["differences"] == []


@pytest.mark.parametrize("args, words", [
    (["missing.repro", "other.repro"], "neither an export folder"),
    (["ONLY_ONE"], "two runs"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, args: list[str], words: str) -> None:
    result = run_cli("diff", *args, cwd=tmp_path)
    assert result.returncode == 2 and words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.slow  # the module's four recorded sessions take ~25 s
def test_an_unknown_session_is_one_line_and_exit_2(runs: dict[str, str]) -> None:
    result = run_cli("diff", runs["notebook"] + ":ffffffffff", runs["v1"])
    assert result.returncode == 2 and "no session matches" in result.stderr, result.stderr
