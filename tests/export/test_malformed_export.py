"""Export (and the check it runs) over inputs no recorder wrote: lone surrogates in notebook, record and
environment strings, a saved copy in ``metadata.repro`` of another shape, notebook metadata of other types, a
notebook path that is a link loop and an ``-o`` name no file system takes.

Each export is written and sealed, or refused in one :class:`~repro_kernel.exceptions.ReproError` line; never
an exception of another kind (tests/cli/test_bad_input_fuzz.py tries the same at the command line).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nbformat
import pytest

from repro_kernel.analysis import analyze_notebook
from repro_kernel.core.journal import Journal
from repro_kernel.exceptions import BadInputError, NotebookError
from repro_kernel.export import export_notebook
from repro_kernel.export.manifest import load_manifest
from repro_kernel.export.render import dumps_listing, encodable, utf8
from repro_kernel.export.write import check_replaceable
from tests.analysis.scenarios import rec

ODD = "\udcff"  # what JSON's "\udcff" reads as: a lone surrogate, which UTF-8 cannot hold


def notebook_file(path: Path, cells: list[tuple[str, str]], metadata: dict[str, Any] | None = None) -> Path:
    """A v4 notebook of code cells (id, source), each run once and printing its id, written as JSON text with
    every character past ASCII escaped (as a notebook holding a lone surrogate can only be)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata.update({"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                        "language_info": {"name": "python", "version": "3.11.0"}, **(metadata or {})})
    for count, (cell_id, source) in enumerate(cells, 1):
        cell = nbformat.v4.new_code_cell(source, id=cell_id)
        cell.execution_count = count
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"{cell_id} {ODD}\n")]
        nb.cells.append(cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb), "ascii")
    return path


def test_encodable_escapes_lone_surrogates_so_json_reads_back_the_same_value() -> None:
    value = {f"key{ODD}": [f"a{ODD}b", "\\" + ODD, "\ud800", "é ☃ 😀"]}
    listing = dumps_listing({"steps": [value], "head": value}, "steps")
    listing.encode("utf-8")  # (no surrogate left)
    assert json.loads(listing) == {"steps": [value], "head": value}
    assert utf8(f"x = '{ODD}'") == b"x = '\\udcff'" and eval(utf8(f"'{ODD}'")) == ODD  # noqa: S307
    assert encodable("plain é") == "plain é" and utf8("😀") == "😀".encode()


def test_lone_surrogates_in_the_notebook_records_and_environment_are_exported_and_sealed(tmp_path: Path) -> None:
    cells = [("c1", f"name = '{ODD}'"), ("c2", f"print(name)  # {ODD}")]
    notebook = notebook_file(tmp_path / "project" / "nb.ipynb", cells,
                             {"authors": [{"name": f"someone {ODD}"}]})
    environment = {"python": {"version": "3.11.0", "executable": f"/opt/{ODD}/python"},
                   "distributions": {"numpy": "2.1.3"}, "cwd": f"/home/{ODD}"}
    with Journal(notebook.parent / ".repro") as journal:
        journal.begin_session("s1", "nb.ipynb", environment, 1.0)
        for seq, (cell_id, code) in enumerate(cells, 1):
            journal.append(rec(seq, code, cell_id, modules=[{"name": f"m{ODD}", "distribution": f"d{ODD}",
                                                             "version": "1"}]), "nb.ipynb")
    folder = export_notebook(notebook, mode="history")
    for rel in ("replay.py", "replay.ipynb", "manifest.json", "requirements.txt", "README.md"):
        (folder / rel).read_bytes().decode("utf-8")  # every file is UTF-8
    manifest = load_manifest(folder)  # the seal holds over the escaped text
    assert manifest["environment"]["python"]["executable"] == f"/opt/{ODD}/python"
    assert "name = '\\udcff'" in (folder / "replay.py").read_text("utf-8")
    replay = json.loads((folder / "replay.ipynb").read_text("utf-8"))
    assert [c["source"].rstrip("\n") for c in replay["cells"][2:]] == [code for _, code in cells]
    assert replay["cells"][2]["outputs"][0]["text"] == f"c1 {ODD}\n"
    assert f"d{ODD}==1" in (folder / "requirements.txt").read_text("utf-8").replace("\\udcff", ODD)


def test_without_a_journal_a_notebook_with_lone_surrogates_is_exported(tmp_path: Path) -> None:
    notebook = notebook_file(tmp_path / "nb.ipynb", [("c1", f"x = '{ODD}'")])
    folder = export_notebook(notebook, mode="document")
    assert load_manifest(folder)["steps"][0]["index"] == 1
    assert json.loads((folder / "replay.ipynb").read_text("utf-8"))["cells"][2]["source"].rstrip() == f"x = '{ODD}'"


@pytest.mark.parametrize("repro", [
    {"version": 1, "status": 1e308}, {"version": 1, "status": []}, {"version": 1, "status": {"inputs": {"a": 1}}},
    {"version": 1, "status": {"inputs": [1, None, {"path": ["x"], "hash": "h"}, {"path": "a", "hash": 3}]}},
    {"version": 1, "flags": [{"kind": ["unseeded-random"], "cells": ["c1"], "message": "m", "fix": "f"},
                             {"kind": {"k": 1}}, 7]},
    {"version": 1, "flags": {"kind": "unseeded-random"}}, {"version": 1, "cells": []},
])
def test_a_saved_copy_of_another_shape_is_judged_and_exported_without_it(tmp_path: Path,
                                                                        repro: dict[str, Any]) -> None:
    notebook = notebook_file(tmp_path / "nb.ipynb", [("c1", "import random\nn = random.random()")],
                             {"repro": repro})
    report = analyze_notebook(notebook)
    assert not any(f.details.get("source") == "metadata.repro" for f in report.flags)
    folder = export_notebook(notebook, mode="history")
    assert load_manifest(folder)["inputs"] == []


@pytest.mark.parametrize("language_info", [{"name": "python", "version": 3.11}, {"name": "python", "version": []},
                                           {"name": "python", "version": {"major": 2}}])
def test_notebook_metadata_of_other_types_does_not_stop_the_check(tmp_path: Path, language_info: Any) -> None:
    notebook = notebook_file(tmp_path / "nb.ipynb", [("c1", "x = 1")], {"language_info": language_info})
    report = analyze_notebook(notebook)
    assert not any(f.kind == "environment-drift" for f in report.flags)
    export_notebook(notebook, mode="document")


def test_a_notebook_path_that_is_a_link_loop_is_one_notebook_error(tmp_path: Path) -> None:
    loop = tmp_path / "nb.ipynb"
    loop.symlink_to(loop.name)
    with pytest.raises(NotebookError, match="cannot read"):
        export_notebook(loop)
    assert not (tmp_path / "nb.repro").exists()


@pytest.mark.parametrize("name", ["x" * 300, "a\x00b"])
def test_an_output_folder_name_no_file_system_takes_is_one_line(tmp_path: Path, name: str) -> None:
    with pytest.raises(BadInputError, match="as the export folder") as caught:
        check_replaceable(tmp_path / name, force=True)
    assert "-o DIR" in caught.value.one_line()
    notebook = notebook_file(tmp_path / "nb.ipynb", [("c1", "x = 1")])
    with pytest.raises(BadInputError, match="as the export folder"):
        export_notebook(notebook, output=tmp_path / name, force=True)
