"""What the recorder captures, through real kernels driven like JupyterLab (with cell ids) and nbclient."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from repro_kernel.core.journal import Journal
from repro_kernel.core.records import validate_record
from repro_kernel.testing import START, LiveKernel, execute_notebook, journal_records, make_notebook


def test_cells_recorded_in_order_with_ids_code_status_and_names(notebook_dir: Path) -> None:
    with LiveKernel(notebook_dir) as k:
        assert k.run(START)["reply"]["status"] == "ok"
        k.run("a = 1\nb = a + 1", cell_id="c1")
        k.run("def f(x):\n    return x * b\nc = f(a)", cell_id="c2")
        bad = k.run("1/0", cell_id="c3")
        assert bad["reply"]["status"] == "error"
        k.run("del c\na += 1", cell_id="c1")
        k.run("import math\nif False:\n    b = 0\nimport numpy as np\nd = np.zeros(3)", cell_id="c4")
        k.run("import math\nd = d\nimport json", cell_id="c5")
        # Libraries the kernel itself had loaded: the notebook importing them by name still counts.
        k.run("import psutil\nfrom packaging.version import Version", cell_id="c6")
        k.run("import psutil", cell_id="c7")
    records = journal_records(notebook_dir)
    explicit = {m["name"]: m for m in records[6]["modules"]}
    assert set(explicit) == {"psutil", "packaging"}
    assert explicit["psutil"]["distribution"] == "psutil" and explicit["psutil"]["version"]
    assert records[7]["modules"] == [], "a module is attributed to the first cell that imports it"
    assert set(records[4]["namespace_changed"]) == {"math", "np", "d"}  # `b` was never rebound
    assert records[5]["namespace_changed"] == ["json"]  # same module, same array object
    records = records[:4]
    for record in records:
        validate_record(record)
    assert [r["cell_id"] for r in records] == ["c1", "c2", "c3", "c1"]
    assert [r["seq"] for r in records] == [1, 2, 3, 4]
    assert [r["execution_count"] for r in records] == [2, 3, 4, 5]
    assert records[0]["code"] == "a = 1\nb = a + 1"
    assert records[0]["defined"] == ["a", "b"] and records[0]["used"] == []
    assert set(records[1]["defined"]) == {"f", "c"} and set(records[1]["used"]) == {"a", "b"}
    assert records[2]["status"] == "error" and records[2]["error"] == "ZeroDivisionError"
    assert records[3]["deleted"] == ["c"] and "a" in records[3]["used"]
    assert all(r["duration_s"] >= 0 for r in records)
    assert len({r["session_id"] for r in records}) == 1
    assert records[0]["code_hash"] != records[1]["code_hash"]


@pytest.mark.slow
def test_nbclient_session_modules_files_and_outputs(notebook_dir: Path) -> None:
    (notebook_dir / "data.csv").write_text("x,y\n1,2\n3,4\n")
    outside = notebook_dir.parent / "outside.txt"
    outside.write_text("far away")
    nb = make_notebook(
        [
            START,
            "import numpy as np\nimport pandas as pd\ndf = pd.read_csv('data.csv')\ndf.x.sum()",
            f"text = open({str(outside)!r}).read()\nnp.save('arr.npy', np.arange(3))",
            "back = np.load('arr.npy')\nprint(back)",
            "from IPython.display import display, HTML\ndisplay(HTML('<b>hi</b>'))",
        ]
    )
    execute_notebook(nb, notebook_dir / "analysis.ipynb")
    records = journal_records(notebook_dir)
    assert len(records) == 4 and all(r["cell_id"] is None for r in records)
    modules = {m["name"]: m for m in records[0]["modules"]}
    import numpy
    import pandas

    assert modules["numpy"]["version"] == numpy.__version__
    assert modules["pandas"]["distribution"] == "pandas" and modules["pandas"]["version"] == pandas.__version__
    read = records[0]["files_read"]
    assert [f["rel"] for f in read] == ["data.csv"]
    from repro_kernel.core.hashing import hash_file

    assert read[0]["hash"] == hash_file(str(notebook_dir / "data.csv")) and read[0]["size"] == 12
    assert [f["rel"] for f in records[1]["files_read"]] == [None]  # outside the notebook folder
    assert records[1]["files_read"][0]["path"] == str(outside)
    assert [f["rel"] for f in records[1]["files_written"]] == ["arr.npy"]
    assert [f["rel"] for f in records[2]["files_read"]] == ["arr.npy"]
    assert records[0]["output_hash"] is not None  # the sum was displayed
    assert records[3]["output_hash"] is not None  # display() of HTML
    with Journal(notebook_dir / ".repro", create=False) as journal:
        sessions = journal.sessions()
    assert [s["notebook"] for s in sessions] == ["analysis.ipynb"]


def test_randomness_fingerprints_states_seeds_and_generators(notebook_dir: Path) -> None:
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        k.run("import numpy\nfirst_draw = numpy.random.rand()", cell_id="import-and-draw")
        k.run("import random\nu = random.random()", cell_id="py")
        k.run("import numpy as np\nnp.random.seed(7)\nv = np.random.rand(2)", cell_id="np")
        k.run("w = np.random.rand(2)", cell_id="np2")
        k.run("rng = np.random.default_rng()\ng = rng.random()", cell_id="gen")
        k.run("rng2 = np.random.default_rng(123)\nh = rng2.random()", cell_id="gen2")
        k.run("z = 1 + 1", cell_id="none")
        k.run("inline = np.random.default_rng().random(2)", cell_id="inline")
        k.run("from numpy.random import default_rng\nfirst = default_rng().random()\n"
              "seeded = default_rng(5).random()\nsecond = default_rng().random()", cell_id="bound")
        w_value = k.value("w.tolist()")
        inline = k.value("inline.tolist()")
        bound = k.value("[first, seeded, second]")
    records = {r["cell_id"]: r for r in journal_records(notebook_dir)}
    assert records["import-and-draw"]["random"]["unseeded_draw"] is True
    py = records["py"]["random"]
    assert py["sources"]["python"]["before"] != py["sources"]["python"]["after"]
    assert py["unseeded_draw"] is True
    assert records["np"]["random"]["unseeded_draw"] is False
    assert records["np"]["random"]["seeds"][0]["call"] == "np.random.seed"
    assert records["np2"]["random"]["unseeded_draw"] is False  # seeded earlier in the session
    gen = records["gen"]["random"]
    assert gen["unseeded_draw"] is True
    assert gen["generators"][0]["name"] == "rng" and gen["generators"][0]["seeded"] is False
    assert int(gen["generators"][0]["entropy"]) > 0
    gen2 = records["gen2"]["random"]["generators"][0]
    assert gen2["seeded"] is True and gen2["entropy"] == "123"
    assert records["gen2"]["random"]["unseeded_draw"] is False
    none = records["none"]["random"]["sources"]
    assert all(s["before"] == s["after"] for s in none.values())

    # Unseeded generators made inline or through a bound name: their entropy, in call order, rebuilds them.
    import numpy as np

    inline_gen = records["inline"]["random"]["generators"]
    assert [g["seeded"] for g in inline_gen] == [False]
    assert records["inline"]["random"]["unseeded_draw"] is True
    rebuilt = np.random.default_rng(np.random.SeedSequence(int(inline_gen[0]["entropy"])))
    assert rebuilt.random(2).tolist() == inline
    bound_gen = records["bound"]["random"]["generators"]
    assert [(g["seeded"], g["entropy"] if g["seeded"] else "?") for g in bound_gen] == [
        (False, "?"), (True, "5"), (False, "?")]
    redo = [np.random.default_rng(np.random.SeedSequence(int(bound_gen[0]["entropy"]))).random(),
            np.random.default_rng(5).random(),
            np.random.default_rng(np.random.SeedSequence(int(bound_gen[2]["entropy"]))).random()]
    assert redo == bound

    # The state stored before `np2` brings back exactly the numbers that cell drew.
    from repro_kernel.kernel import randomness

    ref = records["np2"]["random"]["sources"]["numpy"]["state_ref"]
    with Journal(notebook_dir / ".repro", create=False) as journal:
        assert randomness.restore(journal.get_object(ref)) == "numpy"
    assert np.random.rand(2).tolist() == w_value


def test_magics_seed_snapshot_env_status_and_usage(notebook_dir: Path) -> None:
    (notebook_dir / "input.bin").write_bytes(b"\x00\x01" * 100)
    with LiveKernel(notebook_dir) as k:
        k.run("%load_ext repro_kernel")
        assert "not recording" in k.run("%repro stop")["stdout"]
        started = k.run("%repro start")
        assert "recording session" in started["stdout"]
        assert "already recording" in k.run("%repro start")["stdout"]
        bogus = k.run("%repro frobnicate")
        assert "usage: %repro" in bogus["stderr"] and bogus["reply"]["status"] == "ok"
        assert "usage: %repro" in k.run("%repro")["stderr"]
        seeded = k.run("import numpy as np\n%repro seed 5\nq = np.random.rand()")
        assert "seeded python, numpy with 5" in seeded["stdout"]
        np_first = k.value("q")
        k.run("%repro seed 5\nq2 = np.random.rand()")
        assert k.value("q2") == np_first
        snap = k.run("%repro snapshot input.bin")
        assert "snapshot of" in snap["stdout"], snap
        missing = k.run("%repro snapshot nope.bin")
        assert "cannot snapshot" in missing["stderr"]
        env = json.loads(k.run("%repro env")["stdout"])
        assert env["python"]["version"].startswith(f"{sys.version_info.major}.")
        assert "installed" in env["distributions"]
        import time

        assert env["os"]["timezone"]["utc_offset_s"] == -time.timezone
        assert env["os"]["locale"]["preferred_encoding"]
        status = k.run("%repro status")
        html = status["outputs"][0]["data"]["text/html"]
        assert "repro-status" in html and "recording" in status["outputs"][0]["data"]["text/plain"]
        assert "stopped;" in k.run("%repro stop")["stdout"]
    records = journal_records(notebook_dir)
    seed_record = next(r for r in records if "%repro seed 5\nq =" in r["code"])
    assert seed_record["random"]["seeds"][0]["call"] == "%repro seed"
    assert seed_record["random"]["unseeded_draw"] is False
    with Journal(notebook_dir / ".repro", create=False) as journal:
        snaps = journal.snapshots()
        assert [Path(s["path"]).name for s in snaps] == ["input.bin"]
        assert journal.object_path(snaps[0]["hash"]).read_bytes() == b"\x00\x01" * 100
        assert journal.sessions()[0]["ended_at"] is not None


@pytest.mark.slow
def test_awkward_files_are_recorded_or_reported_never_crash(notebook_dir: Path) -> None:
    many = notebook_dir / "many"
    many.mkdir()
    for i in range(10_000):
        (many / f"f{i}.txt").write_text(str(i))
    (notebook_dir / "real.txt").write_text("real")
    os.symlink(notebook_dir / "real.txt", notebook_dir / "link.txt")
    weird = os.fsencode(str(notebook_dir)) + b"/caf\xe9.txt"
    with open(weird, "wb") as handle:
        handle.write(b"latin-1 name")
    with LiveKernel(notebook_dir, graceful=True) as k:  # hashes of big cells land off the cell path
        k.run(START)
        r = k.run(
            "import os\nopen('gone.txt', 'w').write('x')\nopen('gone.txt').read()\nos.remove('gone.txt')",
            cell_id="gone",
        )
        assert r["reply"]["status"] == "ok"
        r = k.run("try:\n    open('many')\nexcept IsADirectoryError:\n    pass", cell_id="dir")
        assert r["reply"]["status"] == "ok"
        k.run("open('link.txt').read()", cell_id="link")
        k.run(f"open({weird!r}).read()", cell_id="weird")
        r = k.run(
            "total = 0\nfor name in sorted(os.listdir('many')):\n"
            "    total += int(open(os.path.join('many', name)).read())",
            cell_id="many",
        )
        assert r["reply"]["status"] == "ok"
        assert k.value("total") == sum(range(10_000))
        assert k.run("1 + 1", cell_id="after")["reply"]["status"] == "ok"
        # The 10,000 hashes land off the cell's path; wait for them as a session that goes on would (a shutdown
        # gets only the kernel manager's few seconds, too few for them on a loaded machine).
        waiting = "__import__('repro_kernel').get_recorder().writer.wait_for_hashes(20)"
        assert any(k.value(waiting) for _ in range(15))
    records = {r["cell_id"]: r for r in journal_records(notebook_dir)}
    gone = records["gone"]["files_read"][0]
    assert gone["rel"] == "gone.txt" and gone["hash"] is None and "FileNotFoundError" in gone["error"]
    assert records["dir"]["files_read"][0]["error"] == "not a regular file"
    link = records["link"]["files_read"][0]
    assert link["rel"] == "link.txt" and link["hash"] is not None
    weird_read = records["weird"]["files_read"][0]
    assert os.fsencode(weird_read["path"]) == weird and weird_read["hash"] is not None
    assert len(records["many"]["files_read"]) == 10_000
    assert all(f["hash"] for f in records["many"]["files_read"])
    assert "after" in records


@pytest.mark.slow
def test_network_access_is_recorded(notebook_dir: Path) -> None:
    code = (
        "import http.server, threading, urllib.request\n"
        "srv = http.server.HTTPServer(('127.0.0.1', 0), http.server.SimpleHTTPRequestHandler)\n"
        "threading.Thread(target=srv.handle_request, daemon=True).start()\n"
        "port = srv.server_address[1]\n"
        "body = urllib.request.urlopen(f'http://127.0.0.1:{port}/?token=abc123', timeout=10).read()\n"
        "threading.Thread(target=srv.handle_request, daemon=True).start()\n"
        "import socket\n"
        "named = socket.create_connection(('localhost', port), timeout=10)\n"
        "named.close()\n"
        "srv.server_close()"
    )
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        assert k.run(code, cell_id="net")["reply"]["status"] == "ok"
        port = k.value("port")
    network = journal_records(notebook_dir)[0]["network"]
    hosts = {(n["host"], n["port"]) for n in network}
    assert ("127.0.0.1", port) in hosts
    assert any(n["url"] and n["url"].startswith(f"http://127.0.0.1:{port}/") for n in network)
    assert ("localhost", port) in hosts, "the host name a connection resolved is recorded, not only its address"
    assert not any("abc123" in (n["url"] or "") for n in network), "credentials in URLs are redacted"


def test_recorder_threads_are_not_charged_to_the_cell(tmp_path: Path) -> None:
    import threading

    from repro_kernel.kernel import audit

    audit.install()
    mine, theirs = tmp_path / "cell.txt", tmp_path / "worker.txt"
    mine.write_text("a")
    theirs.write_text("b")

    def worker() -> None:
        with audit.recorder_thread():
            theirs.read_text()

    audit.begin()
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    mine.read_text()
    reads, _writes, _net = audit.classify(audit.end(), ())
    assert list(reads) == [str(mine)]


@pytest.mark.slow
@pytest.mark.parametrize("where", ["post_run_cell", "pre_run_cell"])
def test_recorder_fault_never_changes_the_cell_and_is_reported_once(notebook_dir: Path, where: str) -> None:
    inject = (
        "from repro_kernel import get_recorder\n"
        "r = get_recorder()\n"
        "def boom(*a, **k):\n    raise RuntimeError('injected')\n"
        + ("r._build_record = boom" if where == "post_run_cell" else "import repro_kernel.kernel.randomness as rr\nrr.marks = boom")
    )
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        injected = k.run(inject)
        first = k.run("x = 40 + 2\nx")
        assert first["reply"]["status"] == "ok"
        assert first["outputs"][0]["data"]["text/plain"] == "42"
        second = k.run("y = x + 1\ny")
        assert second["outputs"][0]["data"]["text/plain"] == "43"
        failing = k.run("raise ValueError('mine')")
        assert failing["reply"]["ename"] == "ValueError"  # the user's own error, untouched
        everything = injected["stderr"] + first["stderr"] + second["stderr"] + failing["stderr"]
        reports = everything.count("recorder fault")
        assert reports == 1
        assert k.value("len(get_recorder().faults)") >= 3


@pytest.mark.slow
def test_sigkill_after_a_cell_loses_no_completed_record(notebook_dir: Path) -> None:
    import signal

    k = LiveKernel(notebook_dir)
    try:
        k.run(START)
        for i in range(5):
            assert k.run(f"v{i} = {i}", cell_id=f"k{i}")["reply"]["status"] == "ok"
        os.kill(k.pid(), signal.SIGKILL)
        k.km.provisioner.process.wait(timeout=10)  # type: ignore[union-attr]
    finally:
        k.shutdown()
    records = journal_records(notebook_dir)
    assert [r["cell_id"] for r in records] == [f"k{i}" for i in range(5)]


@pytest.mark.slow
def test_unwritable_notebook_folder_falls_back_to_user_data_dir(notebook_dir: Path, tmp_path: Path) -> None:
    (notebook_dir / ".repro").write_text("a file where the journal folder should be")
    data_dir = tmp_path / "jupyter-data"
    with LiveKernel(notebook_dir, env={"JUPYTER_DATA_DIR": str(data_dir)}) as k:
        started = k.run(START)
        assert "recording to" in started["stdout"] and "instead" in started["stdout"]
        assert started["stdout"].count("instead") == 1
        k.run("x = 1", cell_id="x")
    databases = list(data_dir.glob("repro/*/journal.sqlite"))
    assert len(databases) == 1
    with Journal(databases[0].parent, create=False) as journal:
        assert [r["cell_id"] for r in journal.executions()] == ["x"]


@pytest.mark.slow
def test_notebooks_and_sessions_side_by_side(notebook_dir: Path) -> None:
    for name, runs in (("one.ipynb", 2), ("two.ipynb", 1), ("one.ipynb", 1)):
        with LiveKernel(notebook_dir, notebook=name) as k:
            k.run(START)
            for i in range(runs):
                k.run(f"n = {i}", cell_id=f"{name}-{i}")
    with Journal(notebook_dir / ".repro", create=False) as journal:
        assert [s["notebook"] for s in journal.sessions()] == ["one.ipynb", "two.ipynb", "one.ipynb"]
        assert len(journal.executions(notebook="one.ipynb")) == 3
        assert len(journal.executions(notebook="two.ipynb")) == 1
        assert len(journal.sessions(notebook="one.ipynb")) == 2


@pytest.mark.slow
def test_notebook_path_from_older_servers_and_vs_code(notebook_dir: Path) -> None:
    # An older server's path from its root ("work/one.ipynb") while the kernel runs in the notebook's folder.
    with LiveKernel(notebook_dir, env={"JPY_SESSION_NAME": "work/one.ipynb"}) as k:
        k.run(START)
        k.run("n = 1")
    # VS Code names the notebook in the namespace instead.
    with LiveKernel(notebook_dir, env={"JPY_SESSION_NAME": ""}) as k:
        k.run(f"__vsc_ipynb_file__ = {str(notebook_dir / 'two.ipynb')!r}")
        k.run(START)
        k.run("n = 2")
    assert not (notebook_dir / "work").exists(), "no journal nested under a folder that is not there"
    with Journal(notebook_dir / ".repro", create=False) as journal:
        assert [s["notebook"] for s in journal.sessions()] == ["one.ipynb", "two.ipynb"]


@pytest.mark.slow
def test_plain_ipython_terminal_records(notebook_dir: Path) -> None:
    import subprocess

    proc = subprocess.run(
        [sys.executable, "-m", "IPython", "--no-banner", "--quick", "--colors=nocolor",
         "--InteractiveShellApp.exec_lines=['%load_ext repro_kernel', '%repro start']",
         "-c", "x = 6 * 7\nprint(x)"],
        cwd=notebook_dir, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "42" in proc.stdout
    records = journal_records(notebook_dir)
    assert [r["code"] for r in records] == ["x = 6 * 7\nprint(x)"]


@pytest.mark.slow
@pytest.mark.scientific
def test_library_imports_and_tool_caches_are_not_the_notebooks_doing(notebook_dir: Path, tmp_path: Path) -> None:
    """scikit-learn draws from `random` while being imported and matplotlib reads its font cache: neither is
    randomness or data of the notebook's own."""
    with LiveKernel(notebook_dir, env={"MPLCONFIGDIR": str(tmp_path / "mpl")}) as k:
        k.run(START)
        k.run("import sklearn\nfrom sklearn.ensemble import RandomForestClassifier", cell_id="sklearn")
        k.run("%matplotlib inline\nimport matplotlib.pyplot as plt", cell_id="matplotlib")
        k.run("fig = plt.figure()\nplt.plot([1, 2])\nplt.show()", cell_id="plot")
        k.run("import random\nx = random.random()", cell_id="draw")
    records = {r["cell_id"]: r for r in journal_records(notebook_dir)}
    assert records["sklearn"]["random"]["unseeded_draw"] is False
    assert records["draw"]["random"]["unseeded_draw"] is True
    for cell_id in ("matplotlib", "plot"):
        assert records[cell_id]["files_read"] == [], records[cell_id]["files_read"]


@pytest.mark.slow
def test_a_file_the_session_wrote_is_not_listed_as_an_input(notebook_dir: Path) -> None:
    """The inputs table (the sidebar's data list and the saved copy in metadata.repro) holds what came from
    outside; a file the session wrote and read back is its own output."""
    (notebook_dir / "raw.csv").write_text("a\n1\n")
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        k.run("text = open('raw.csv').read()\nopen('clean.csv', 'w').write(text.upper())")
        k.run("again = open('clean.csv').read()")
        listed = k.value("sorted(i['path'] for i in __import__('repro_kernel').get_recorder().inputs())")
    assert listed == ["raw.csv"]
