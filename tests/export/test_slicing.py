"""The backward slice that slice-mode exports keep: exact kept positions for small recorded sessions.

Records are built in memory the way the recorder builds them (``analyze_code`` fills defined/used/deleted/
mutated, ``CellRecord.to_dict`` gives the journal's shape); one test records a real session and verifies it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import pytest

from repro_kernel.core.dataflow import analyze_code
from repro_kernel.core.records import CellRecord, FileAccess
from repro_kernel.export import backward_slice

_MISSING: Any = object()


def record(code: str, seq: int, *, status: str = "ok", reads: tuple[str, ...] = (),
           writes: tuple[str, ...] = (), changed: Optional[list[str]] = _MISSING) -> dict[str, Any]:
    """A CellRecord dict as the recorder's ``_build_record`` makes it; ``changed`` is ``namespace_changed``
    (left out of the dict when not given, ``None`` when the recorder could not tell)."""
    facts = analyze_code(code)
    rec = CellRecord(
        session_id="s", seq=seq, execution_count=seq, cell_id=None, code=code, code_hash=f"h{seq}",
        started_at=0.0, status=status, error="ValueError" if status == "error" else None,
        defined=list(facts.defined), used=list(facts.used), deleted=list(facts.deleted),
        mutated=list(facts.mutated),
        files_read=[FileAccess(p, Path(p).name, 2, 0.0, "blake3:00") for p in reads],
        files_written=[FileAccess(p, Path(p).name, 2, 0.0, "blake3:00") for p in writes],
    ).to_dict()
    if changed is _MISSING:
        del rec["namespace_changed"]
    else:
        rec["namespace_changed"] = changed
    return rec


def session(*codes: str) -> list[dict[str, Any]]:
    return [record(code, n) for n, code in enumerate(codes, 1)]


def kept(records: list[dict[str, Any]], targets: Optional[list[int]] = None) -> list[int]:
    """The kept positions for ``targets`` (by default the last execution only)."""
    return backward_slice(records, [len(records) - 1] if targets is None else targets).kept


# -- the plain cases ---------------------------------------------------------------------------------------------

def test_a_plain_chain_keeps_its_definers_and_drops_the_rest() -> None:
    records = session("a = 1", "b = a + 1", "unrelated = 9", "c = b * 2", "print(c)")
    assert kept(records) == [0, 1, 3, 4]
    assert kept(records, [1, 2]) == [0, 1, 2]


def test_a_redefinition_kills_the_earlier_definer() -> None:
    records = session("x = 1", "x = 2", "print(x)")
    assert kept(records) == [1, 2]
    confirmed = [record("x = 1", 1, changed=["x"]), record("x = 2", 2, changed=["x"]), record("print(x)", 3)]
    assert kept(confirmed) == [1, 2]
    # Augmented assignment reads the old value: nothing is killed.
    assert kept(session("x = 1", "x += 2", "print(x)")) == [0, 1, 2]


def test_a_deleted_name() -> None:
    probe = "try:\n    x\nexcept NameError:\n    print('gone')"
    assert kept(session("x = 1", "y = 2", "del x", probe)) == [0, 2, 3]
    # Rebinding after the deletion makes both the deletion and the first binding unnecessary.
    assert kept(session("x = 1", "del x", "x = 2", "print(x)")) == [2, 3]


def test_a_file_written_then_read_keeps_the_writer() -> None:
    write = "with open('out.txt', 'w') as fh:\n    fh.write('hi')"
    read = "print(open('out.txt').read())"
    records = [record(write, 1, writes=("/p/out.txt",)), record("other = 1", 2),
               record(read, 3, reads=("/p/out.txt",))]
    assert kept(records) == [0, 2]
    # A second write of the whole file replaces the first.
    rewrite = [record(write, 1, writes=("/p/out.txt",)), record(write, 2, writes=("/p/out.txt",)),
               record(read, 3, reads=("/p/out.txt",))]
    assert kept(rewrite) == [1, 2]
    # A write that raised may have left the file unwritten: the earlier writer stays.
    failed = [record(write, 1, writes=("/p/out.txt",)), record(write, 2, status="error", writes=("/p/out.txt",)),
              record(read, 3, reads=("/p/out.txt",))]
    assert kept(failed) == [0, 1, 2]


def test_a_stateful_magic_is_kept_whatever_names_it_touches() -> None:
    records = session("%matplotlib inline", "import matplotlib.pyplot as plt", "unused = 1", "plt.plot([1, 2])")
    assert kept(records) == [0, 1, 3]


# -- writes through a called function ----------------------------------------------------------------------------

def test_a_call_that_mutates_through_the_function_body_is_kept() -> None:
    records = session("data = []", "def add(x):\n    data.append(x)", "add(1)", "print(data)")
    result = backward_slice(records, [3])
    assert result.kept == [0, 1, 2, 3]
    assert "data" in result.reasons[2] and "add" in result.reasons[2]
    # Without a later use of `data` the call is not needed.
    assert kept(session("data = []", "def add(x):\n    data.append(x)", "add(1)", "print('hi')")) == [3]


def test_a_function_defined_and_called_in_the_same_cell() -> None:
    records = session("data = []", "def add(x):\n    data.append(x)\n\nadd(1)", "print(data)")
    assert kept(records) == [0, 1, 2]
    # Defined but not called there, and never called later: the definition is not needed.
    assert kept(session("data = []", "def add(x):\n    data.append(x)", "print(data)")) == [0, 2]


def test_mutation_through_a_chain_of_functions() -> None:
    records = session(
        "data = {}",
        "def store(k, v):\n    data[k] = v",
        "def put(k):\n    store(k, len(k))",
        "put('ab')",
        "other = 3",
        "print(data)",
    )
    assert kept(records) == [0, 1, 2, 3, 5]


def test_a_call_of_a_redefined_function_uses_the_definition_in_force() -> None:
    records = session(
        "data = []",
        "def add(x):\n    data.append(x)",
        "add(1)",
        "def add(x):\n    return x",  # the later definition writes nothing, but add(1) ran the first one
        "print(data)",
    )
    assert kept(records) == [0, 1, 2, 4]


def test_a_global_assigned_inside_a_function_body() -> None:
    records = session("x = 1", "def setx():\n    global x\n    x = 2", "setx()", "print(x)")
    # The def does not bind x itself (it must not kill `x = 1`); the call may, but not certainly.
    assert kept(records) == [0, 1, 2, 3]


def test_a_function_reads_the_global_in_force_when_it_is_called() -> None:
    records = session("k = 3\ndef f():\n    return k", "k = 4", "print(f())")
    assert kept(records) == [0, 1, 2]


# -- assignments that may not have happened -------------------------------------------------------------------------

def test_a_step_that_raised_kills_nothing() -> None:
    records = [record("x = 1", 1), record("x = int('nope')", 2, status="error"), record("print(x)", 3)]
    assert kept(records) == [0, 1, 2]
    ok = [record("x = 1", 1), record("x = int('7')", 2), record("print(x)", 3)]
    assert kept(ok) == [1, 2]


def test_a_conditional_assignment_kills_only_what_the_recorder_saw_change() -> None:
    cond = "if flag:\n    x = 5"
    not_taken = [record("flag = False", 1), record("x = 1", 2), record(cond, 3, changed=[]),
                 record("print(x)", 4)]
    assert kept(not_taken) == [0, 1, 2, 3]
    taken = [record("flag = True", 1), record("x = 1", 2), record(cond, 3, changed=["x"]),
             record("print(x)", 4)]
    assert kept(taken) == [0, 2, 3]
    # Records that do not say (an older journal, or the recorder could not tell) keep the old rule.
    for unknown in (_MISSING, None):
        records = [record("flag = False", 1), record("x = 1", 2), record(cond, 3, changed=unknown),
                   record("print(x)", 4)]
        assert kept(records) == [0, 2, 3]


# -- end to end: record, export in slice mode, verify -------------------------------------------------------------

# -- what the code alone cannot rule out is kept (safety over size) -----------------------------------------

def test_a_dropped_call_of_an_imported_function_is_kept() -> None:
    # init_printing() changes how every later output prints, and no name shows it.
    records = session("from sympy import init_printing, Symbol", "init_printing()", "x = Symbol('x')", "x**2",
                      "print('unrelated')")
    assert kept(records, [3]) == [0, 1, 2, 3]
    reasons = backward_slice(records, [3]).reasons
    assert "init_printing" in reasons[1]
    # A pure display call is not a change of state.
    assert kept(session("import numpy as np", "print(np.pi)", "y = 2", "y"), [3]) == [2, 3]


def test_names_written_as_strings_are_uses() -> None:
    records = session("df1a = [1]", "df2a = [2]", "other = 3", "show('df1a', 'df2a')")
    assert kept(records) == [0, 1, 3]
    # A string that names no variable of the session changes nothing.
    assert kept(session("price = 1", "col = 'volume'", "col")) == [1, 2]


def test_an_in_place_change_through_a_view_keeps_the_view_and_the_change() -> None:
    records = session("import numpy as np", "arr = np.arange(10)", "s = arr[5:8]", "s[:] = 64", "t = 1", "arr")
    assert kept(records) == [0, 1, 2, 3, 5]
    # The same through a reshape, and a plain alias of a list.
    assert kept(session("import numpy as np", "a = np.zeros(4)", "m = a.reshape(2, 2)", "m[0, 0] = 1", "a")) == [
        0, 1, 2, 3, 4]
    assert kept(session("x = []", "y = x", "y.append(1)", "x")) == [0, 1, 2, 3]


def test_a_generator_advanced_by_cells_that_show_nothing_is_kept() -> None:
    records = session("import numpy as np", "rng = np.random.default_rng(0)", "rng.normal()", "z = 5",
                      "rng.integers(10)")
    assert kept(records) == [0, 1, 2, 4]
    assert "rng" in backward_slice(records, [4]).reasons[2]
    # A method known not to change its receiver does not keep its step.
    assert kept(session("data = [3, 1]", "data.count(1)", "data")) == [0, 2]


@pytest.mark.slow
def test_fitting_a_model_a_module_made_does_not_make_the_cell_a_definer_of_the_module() -> None:
    # statsmodels' examples: every `res = smf.ols(...).fit()` used to count as a mutation of `smf`, so each re-run
    # of such a cell was kept for every later use of smf.
    records = session("import statsmodels.formula.api as smf", "res1 = smf.ols('y ~ x', d).fit()",
                      "res2 = smf.ols('y ~ x', d).fit()", "print(res2)")
    assert kept(records) == [0, 2, 3]
    # kept where the module or what a bare call returns may change: a name rebound by a non-import, a dropped call
    assert kept(session("import m", "r = m.f().fit()", "m = Model()", "r2 = m.f().fit()", "print(m)")) == [2, 3, 4]
    assert kept(session("import m", "r = m.f().fit()", "m.registry().append(1)", "print(m.registry())")) == [0, 2, 3]
    assert kept(session("sc = Scaler()", "r = sc.make().fit(X)", "print(sc)")) == [0, 1, 2]


def test_slice_export_of_a_mutation_through_a_function_reproduces(tmp_path: Path) -> None:
    from repro_kernel.export import export_notebook
    from repro_kernel.export.verify import render_report, verify_export
    from repro_kernel.testing import START, execute_notebook, make_notebook
    from tests.export.conftest import manifest_of

    project = tmp_path / "project"
    nb = make_notebook([START, "data = []", "def add(x):\n    data.append(x)", "add(1)", "unused = 5",
                        "print(data)"])
    execute_notebook(nb, project / "calls.ipynb", env={"PYTHONHASHSEED": "0"})
    assert nb.cells[5].outputs[0]["text"] == "[1]\n"
    folder = export_notebook(project / "calls.ipynb", mode="slice")
    steps = manifest_of(folder)["steps"]
    script = (folder / "replay.py").read_text()
    assert "add(1)" in script and "unused = 5" not in script
    assert len(steps) == 4
    report = verify_export(folder)
    assert report.exit_code == 0, render_report(report)
    assert {s.outcome for s in report.steps} == {"reproduced"}


@pytest.mark.slow
def test_slice_export_of_idioms_the_code_alone_cannot_show_reproduces(tmp_path: Path) -> None:
    """Run as people work (top to bottom, then cells again): views changed in place, a generator advanced by
    cells that show nothing, variables named in strings, and module state set by a dropped call."""
    import nbformat

    from repro_kernel.export import export_notebook
    from repro_kernel.export.verify import render_report, verify_export
    from repro_kernel.testing import START, LiveKernel, make_notebook
    from tests.export.conftest import manifest_of

    project = tmp_path / "project"
    project.mkdir()
    (project / "settings.py").write_text("SCALE = 1\n\ndef configure(scale):\n    global SCALE\n    SCALE = scale\n")
    nb = make_notebook([
        START,
        "import numpy as np\nimport settings",
        "arr = np.arange(10)\ns = arr[5:8]",
        "s[:] = 64",
        "rng = np.random.default_rng(7)",
        "rng.normal()",
        "def show(*names):\n    print([globals()[n] for n in names])",
        "df1a, df2a = [1, 2], [3]",
        "settings.configure(10)",
        "print(arr.tolist(), rng.integers(1000), settings.SCALE)",
        "show('df1a', 'df2a')",
    ])
    path = project / "idioms.ipynb"
    order = list(range(11)) + [5, 9, 10]  # then the draw again, and the last two again
    with LiveKernel(project, path.name, env={"PYTHONHASHSEED": "0"}) as kernel:
        kernel.run_notebook(nb, order)
    nbformat.write(nb, path)
    assert "[0, 1, 2, 3, 4, 64, 64, 64, 8, 9]" in nb.cells[9].outputs[0]["text"]
    assert nb.cells[9].outputs[0]["text"].rstrip().endswith(" 10")
    folder = export_notebook(path, mode="slice")
    steps = manifest_of(folder)["steps"]
    script = (folder / "replay.py").read_text()
    for needed in ("s[:] = 64", "rng.normal()", "settings.configure(10)", "df1a, df2a"):
        assert needed in script, needed
    assert len(steps) < len(order), "the slice still leaves out what it can prove unneeded"
    why = " | ".join(str(step.get("reason")) for step in steps)
    for reason in ("may change rng (a method call)", "through a name that shares its value", "settings.configure"):
        assert reason in why, why
    report = verify_export(folder)
    assert report.exit_code == 0, render_report(report)
    assert {s.outcome for s in report.steps} == {"reproduced"}


def test_a_method_called_on_a_builtin_s_result_adds_no_unresolved_name() -> None:
    records = session("text = open('data.txt').read()", "len(text)")
    result = backward_slice(records, [1])
    assert result.kept == [0, 1] and result.unresolved == set()
