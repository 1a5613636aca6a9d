"""The one session model: check and export judge the same recorded session of a notebook, and map its records
to the same cells (analysis.sessions.choose_session / shown_outputs)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import nbformat

from repro_kernel.analysis import analyze_notebook
from repro_kernel.analysis.sessions import cells_from_dicts, choose_session
from repro_kernel.core.journal import Journal
from repro_kernel.export import export_notebook
from tests.analysis.scenarios import rec

ENV = {"python": {"version": "3.11.0"}, "distributions": {}}


def saved(path: Path, cells: list[tuple[str, str, Optional[int]]]) -> Path:
    """A saved notebook: (cell id, source, execution count) per code cell, each showing a stream output."""
    nb = nbformat.v4.new_notebook()
    for cell_id, source, count in cells:
        cell = nbformat.v4.new_code_cell(source, id=cell_id)
        cell.execution_count = count
        if count is not None:
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=f"out {count}\n")]
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def session(journal: Journal, session_id: str, started: float, runs: list[tuple[str, str, int]],
            notebook: Optional[str] = "nb.ipynb") -> None:
    journal.begin_session(session_id, notebook, ENV, started)
    for seq, (cell_id, code, count) in enumerate(runs, 1):
        journal.append(rec(seq, code, cell_id, session_id=session_id, execution_count=count,
                           started_at=started + seq), notebook)


def replayed_session(directory: Path) -> str:
    manifest = json.loads((directory / "manifest.json").read_text())
    return next(s["session_id"] for s in manifest["sessions"] if s["replayed"])


def test_check_and_export_judge_the_session_the_saved_notebook_shows(tmp_path: Path) -> None:
    # Session A ran the notebook and the file was saved; session B (a second Run All, never saved) ran later with
    # other counts. Before, `check` took the latest session (B) and `export` the best count match (A).
    nb = saved(tmp_path / "nb.ipynb", [("c1", "x = 1", 1), ("c2", "print(x)", 2)])
    with Journal(tmp_path / ".repro") as journal:
        session(journal, "aaaa-first", 10.0, [("c1", "x = 1", 1), ("c2", "print(x)", 2)])
        session(journal, "bbbb-later", 20.0, [("c1", "x = 1", 5), ("c2", "x = 2", 6), ("c2", "print(x)", 7)])
    report = analyze_notebook(nb)
    assert report.session_id == "aaaa-first"
    assert replayed_session(export_notebook(nb, mode="history")) == "aaaa-first"


def test_a_later_session_wins_a_tie(tmp_path: Path) -> None:
    nb = saved(tmp_path / "nb.ipynb", [("c1", "x = 1", 1), ("c2", "print(x)", 2)])
    with Journal(tmp_path / ".repro") as journal:
        session(journal, "aaaa-first", 10.0, [("c1", "x = 1", 1), ("c2", "print(x)", 2)])
        session(journal, "bbbb-later", 20.0, [("c1", "x = 1", 1), ("c2", "print(x)", 2)])
    assert analyze_notebook(nb).session_id == "bbbb-later"
    assert replayed_session(export_notebook(nb, mode="history")) == "bbbb-later"


def test_cell_ids_and_code_outrank_counts(tmp_path: Path) -> None:
    # Both sessions have executions with counts 1 and 2; only the first ran the code the cells hold.
    nb = saved(tmp_path / "nb.ipynb", [("c1", "x = 1", 1), ("c2", "print(x)", 2)])
    with Journal(tmp_path / ".repro") as journal:
        session(journal, "aaaa-first", 10.0, [("c1", "x = 1", 1), ("c2", "print(x)", 2)])
        session(journal, "bbbb-later", 20.0, [("c9", "y = 3", 1), ("c8", "print(y)", 2)])
    assert analyze_notebook(nb).session_id == "aaaa-first"
    assert replayed_session(export_notebook(nb, mode="history")) == "aaaa-first"


def test_asking_for_a_session_by_prefix_is_obeyed_by_both(tmp_path: Path) -> None:
    nb = saved(tmp_path / "nb.ipynb", [("c1", "x = 1", 1), ("c2", "print(x)", 2)])
    with Journal(tmp_path / ".repro") as journal:
        session(journal, "aaaa-first", 10.0, [("c1", "x = 1", 1), ("c2", "print(x)", 2)])
        session(journal, "bbbb-later", 20.0, [("c1", "x = 1", 5), ("c2", "print(x)", 6)])
    assert analyze_notebook(nb, session="bbbb").session_id == "bbbb-later"
    assert replayed_session(export_notebook(nb, mode="history", session="bbbb")) == "bbbb-later"


def test_the_export_maps_records_to_cells_as_check_does(tmp_path: Path) -> None:
    # A copied cell shows the same count as its original: the record belongs to the cell its id names, and the
    # export's step says so (before, the export took whichever cell came last with that count).
    nb = saved(tmp_path / "nb.ipynb", [("orig", "x = 1\nprint(x)", 1), ("copy", "x = 1\nprint(x)", 1)])
    with Journal(tmp_path / ".repro") as journal:
        session(journal, "aaaa-first", 10.0, [("orig", "x = 1\nprint(x)", 1)])
    page = cells_from_dicts([dict(c) for c in nbformat.read(nb, as_version=4).cells])
    with Journal(tmp_path / ".repro") as journal:
        match = choose_session(journal, "nb.ipynb", page)
    assert match is not None and match.shown == {0: "orig"} and match.mapping == ["orig"]
    manifest = json.loads((export_notebook(nb, mode="history") / "manifest.json").read_text())
    assert [s["cell_index"] for s in manifest["steps"]] == [0]


def test_unbound_sessions_are_chosen_by_the_cells_they_ran(tmp_path: Path) -> None:
    nb = saved(tmp_path / "nb.ipynb", [("c1", "x = 1", 1)])
    with Journal(tmp_path / ".repro") as journal:
        session(journal, "aaaa-unbound", 10.0, [("c1", "x = 1", 1)], notebook=None)
        session(journal, "bbbb-other", 20.0, [("z9", "y = 1", 1)], notebook=None)
    records: Any = analyze_notebook(nb)
    assert records.session_id == "aaaa-unbound"


def test_the_session_whose_outputs_the_file_shows_outranks_a_later_unsaved_run(tmp_path: Path) -> None:
    """A second top-to-bottom run nobody saved (nbval, a second Run All) has the same ids, code and counts:
    the output hashes say which run the file shows, so export replays that one and verify passes."""
    import copy

    from repro_kernel.export.verify import render_report, verify_export
    from repro_kernel.testing import START, execute_notebook, make_notebook

    nb = make_notebook([START, "import random", "random.random()", "print('drawn')"])
    path = tmp_path / "draws.ipynb"
    execute_notebook(nb, path)
    saved = nbformat.read(path, as_version=4)
    shown = saved.cells[2].outputs[0]["data"]["text/plain"]
    execute_notebook(copy.deepcopy(nb), tmp_path / "scratch" / "draws.ipynb")  # another run...
    scratch = tmp_path / "scratch" / ".repro"
    with Journal(scratch, create=False) as other, Journal(tmp_path / ".repro") as journal:
        for session in other.sessions():  # ...moved into this notebook's journal, as if it had run here later
            journal.begin_session(session["session_id"], "draws.ipynb", session["environment"],
                                  session["started_at"] + 1000)
            for record in other.executions(session_id=session["session_id"]):
                journal.append(dict(record, started_at=record["started_at"] + 1000), "draws.ipynb")
        cells = cells_from_dicts(saved.cells)
        sessions = journal.sessions(notebook="draws.ipynb")
        assert len(sessions) == 2
        chosen = choose_session(journal, "draws.ipynb", cells)
    assert chosen is not None and chosen.session_id == sessions[0]["session_id"], chosen and chosen.score
    assert chosen.score[0] >= 1, "the file's output matched by its hash"
    folder = export_notebook(path)
    report = verify_export(folder)
    assert report.exit_code == 0, render_report(report)
    assert shown in (folder / "replay.ipynb").read_text()
