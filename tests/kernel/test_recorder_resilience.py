"""The recorder keeps recording, and says so, whatever the session does to it: its journal folder deleted, the
disk full, the journal locked by another process, ``print`` and ``sys.stderr`` replaced, random-state readers
patched, results whose ``repr`` raises, the extension reloaded, the namespace reset."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from repro_kernel.core.hashing import hash_text
from repro_kernel.core.journal import Journal
from repro_kernel.core.records import validate_record
from repro_kernel.testing import START, LiveKernel, journal_records

STATUS = "from repro_kernel import get_recorder as _get\n_r = _get()\n"
RECORDING = "__import__('repro_kernel').get_recorder().recording"
HOOKED = "sum(type(getattr(c, '__self__', None)).__name__ == 'Recorder' for c in get_ipython().events.callbacks['{event}'])"


def _ids(folder: Path) -> list[str]:
    return [r["cell_id"] for r in journal_records(folder)]


def _state_refs_resolve(folder: Path) -> None:
    """Every random state a record points to is in the journal's object store."""
    with Journal(folder / ".repro", create=False) as journal:
        for record in journal.executions():
            for source, info in (record["random"].get("sources") or {}).items():
                if info.get("state_ref"):
                    assert journal.has_object(info["state_ref"]), (record["cell_id"], source)


# -- the journal folder deleted mid-session ------------------------------------------------------------


def test_journal_folder_deleted_mid_session_is_recreated_and_said_once(notebook_dir: Path) -> None:
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        k.run("import random\na = random.random()", cell_id="a")
        shutil.rmtree(notebook_dir / ".repro")
        first = k.run("b = a + 1", cell_id="b")
        second = k.run("c = b + 1", cell_id="c")
        assert first["reply"]["status"] == "ok" and second["reply"]["status"] == "ok"
    told = first["stderr"] + second["stderr"]
    assert told.count("was deleted") == 1, told
    assert "recreated" in first["stderr"]
    # The session comes back whole: the executions held in memory are written again, then the new ones.
    assert _ids(notebook_dir) == ["a", "b", "c"]
    _state_refs_resolve(notebook_dir)


def test_journal_folder_that_cannot_be_recreated_falls_back_and_says_so(notebook_dir: Path, tmp_path: Path) -> None:
    data_dir = tmp_path / "jupyter-data"
    with LiveKernel(notebook_dir, env={"JUPYTER_DATA_DIR": str(data_dir)}) as k:
        k.run(START)
        k.run("a = 1", cell_id="a")
        shutil.rmtree(notebook_dir / ".repro")
        (notebook_dir / ".repro").write_text("a file where the journal folder was")
        moved = k.run("b = a + 1", cell_id="b")
        k.run("c = b + 1", cell_id="c")
        journal = k.value("__import__('repro_kernel').get_recorder().journal.directory.as_posix()")
    assert "was deleted" in moved["stderr"] and "instead" in moved["stderr"], moved["stderr"]
    assert Path(journal).is_relative_to(data_dir)
    with Journal(Path(journal), create=False) as fallback:
        assert [r["cell_id"] for r in fallback.executions()] == ["a", "b", "c"]


# -- print / sys.stderr replaced, random.getstate patched --------------------------------------------------


def test_cells_after_faults_are_recorded_and_each_kind_of_fault_is_told_once(notebook_dir: Path) -> None:
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        k.run("import builtins, io, sys\nsys.stderr = io.StringIO()\nbuiltins.print = lambda *a, **kw: None",
              cell_id="replace")
        k.run("a = 1", cell_id="a")
        patch = k.run("import random\ndef _broken(*args):\n    raise RuntimeError('patched getstate')\n"
                      "random.getstate = _broken", cell_id="patch")
        later = [k.run(f"v{i} = {i}", cell_id=f"v{i}") for i in range(3)]
        assert all(r["reply"]["status"] == "ok" for r in later)
        # Another kind of fault is told too, once.
        other = k.run(STATUS + "def _boom(*args):\n    raise KeyError('files broke')\n_r._files = _boom",
                      cell_id="other")
        again = k.run("w = 1", cell_id="w")
        status = k.run("%repro status", cell_id="status")
    told = patch["stderr"] + "".join(r["stderr"] for r in later)
    assert told.count("jupyter-repro") == 1, told
    assert "RuntimeError" in told and "patched getstate" in told
    assert (other["stderr"] + again["stderr"]).count("jupyter-repro") == 1
    assert "KeyError" in other["stderr"] + again["stderr"]
    records = {r["cell_id"]: r for r in journal_records(notebook_dir)}
    assert list(records) == ["replace", "a", "patch", "v0", "v1", "v2", "other", "w", "status"]
    for cell in ("v0", "v1", "v2"):
        assert any("random" in e and "patched getstate" in e for e in records[cell]["recorder_errors"])
        assert records[cell]["defined"] == [cell]  # the rest of the record is whole
    assert any("files" in e for e in records["w"]["recorder_errors"])
    shown = status["outputs"][0]["data"]["text/plain"]
    faults_line = next(line for line in shown.splitlines() if line.startswith("recorder faults"))
    assert int(faults_line.split()[2]) >= 6 and "random (python):RuntimeError" in faults_line, faults_line


# -- results whose repr raises -------------------------------------------------------------------------------


def test_a_result_whose_repr_raises_keeps_the_record(notebook_dir: Path) -> None:
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        k.run("big = 10**5000\nbig", cell_id="big")
        k.run("class Odd(str):\n    def __repr__(self):\n        raise RuntimeError('no repr')\n"
              "odd = Odd('x')\nodd", cell_id="odd")
        use = k.run("y = big % 7 + len(odd)\ny", cell_id="use")
        assert use["outputs"][0]["data"]["text/plain"] == str(10**5000 % 7 + 1)
        # A cell that truly cannot be recorded says so (once for this kind of fault).
        inject = k.run(STATUS + "def _boom(*args):\n    raise RuntimeError('no record')\n_r._build_record = _boom",
                       cell_id="inject")
        lost = k.run("z = 1", cell_id="lost")
        assert lost["reply"]["status"] == "ok"
    records = {r["cell_id"]: r for r in journal_records(notebook_dir)}
    assert list(records) == ["big", "odd", "use"]
    assert records["big"]["defined"] == ["big"] and records["big"]["output_hash"]
    assert "Odd" in records["odd"]["defined"] and "odd" in records["odd"]["defined"]
    assert records["odd"]["output_hash"]
    for record in records.values():
        validate_record(record)
    assert "could not be recorded" in inject["stderr"] and "no record" in inject["stderr"]
    assert "jupyter-repro" not in lost["stderr"]


# -- reload, load twice, reset, stop then start -------------------------------------------------------------


def test_reload_ext_keeps_recording_the_same_session(notebook_dir: Path) -> None:
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        k.run("a = 1", cell_id="a")
        reloaded = k.run("%reload_ext repro_kernel", cell_id="reload")
        assert reloaded["reply"]["status"] == "ok"
        k.run("b = a + 1", cell_id="b")
        assert k.value(RECORDING) is True
        assert k.value(HOOKED.format(event="pre_run_cell")) == k.value(HOOKED.format(event="post_run_cell")) == 1
        assert k.value("len(get_ipython().display_pub._hooks)") == 0
        assert k.run("%repro status", cell_id="status")["outputs"][0]["data"]["text/plain"].split()[:2] == [
            "recording", "yes"]
    records = journal_records(notebook_dir)
    assert [r["cell_id"] for r in records] == ["a", "reload", "b", "status"]
    assert len({r["session_id"] for r in records}) == 1
    assert [r["seq"] for r in records] == [1, 2, 3, 4]


def test_load_twice_reset_stop_start_and_unload_stay_consistent(notebook_dir: Path) -> None:
    hooked = HOOKED.format(event="post_run_cell")
    show = "from IPython.display import HTML, display\ndisplay(HTML('<b>same</b>'))"
    display_hooks = "len(get_ipython().display_pub._hooks)"
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        k.run(show, cell_id="show1")
        k.run("%load_ext repro_kernel", cell_id="twice")
        k.run("from math import *", cell_id="star1")
        k.run("%reset -f", cell_id="reset")
        k.run("from math import *", cell_id="star2")
        assert k.run("%repro status", cell_id="status")["reply"]["status"] == "ok"
        assert k.value(hooked) == 1
        k.run("%repro stop")
        assert k.value(hooked) == 0 and k.value(display_hooks) == 0
        k.run("%repro start")
        k.run(show, cell_id="show2")  # the same display hashes the same in the new session
        assert k.value(hooked) == 1 and k.value(RECORDING) is True and k.value(display_hooks) == 0
        k.run("%unload_ext repro_kernel")
        assert k.value(hooked) == 0 and k.value(display_hooks) == 0
        assert k.run("%repro status")["reply"]["status"] == "error"  # the magic went with the extension
        k.run("y = 2", cell_id="unloaded")
        k.run("%load_ext repro_kernel")
        k.run("z = 3", cell_id="loaded-not-started")
        assert k.value(RECORDING) is False and k.value(hooked) == 0
        assert k.run("%repro status")["reply"]["status"] == "ok"
    records = journal_records(notebook_dir)
    sessions = [r["session_id"] for r in records]
    assert [r["cell_id"] for r in records] == ["show1", "twice", "star1", "reset", "star2", "status", "show2"]
    assert len(set(sessions)) == 2 and sessions[-1] != sessions[0]
    assert [r["seq"] for r in records] == [1, 2, 3, 4, 5, 6, 1]
    assert "pi" in records[4]["defined"], "names a star import brings back after %reset are its own"
    assert records[0]["output_hash"] == records[-1]["output_hash"]


# -- disk full -------------------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A small file system of its own (tmpfs, else a loop-mounted ext2 image), so it can really fill up."""
    mount = tmp_path / "small"
    mount.mkdir()
    tried = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)],
                           capture_output=True, text=True)
    if tried.returncode != 0:
        image = tmp_path / "small.img"
        with open(image, "wb") as handle:
            handle.truncate(16 << 20)
        made = subprocess.run(["mkfs.ext2", "-q", "-F", str(image)], capture_output=True, text=True)
        tried = subprocess.run(["mount", "-o", "loop", str(image), str(mount)], capture_output=True, text=True)
        if made.returncode != 0 or tried.returncode != 0:
            pytest.skip(f"cannot mount a small file system here ({tried.stderr.strip()}): run as root")
    try:
        folder = mount / "project"
        folder.mkdir()
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def _fill(folder: Path) -> Path:
    filler = folder / "filler.bin"
    with open(filler, "wb", buffering=0) as handle:
        for size in (1 << 20, 1 << 12, 1 << 9, 1):
            try:
                while True:
                    handle.write(b"\0" * size)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC
    return filler


def test_disk_full_records_are_held_and_written_when_space_returns(small_disk: Path) -> None:
    with LiveKernel(small_disk) as k:
        k.run(START)
        k.run("import random\na = 1", cell_id="before")
        filler = _fill(small_disk)
        full = [k.run(f"v{i} = random.random()", cell_id=f"v{i}") for i in range(6)]
        assert all(r["reply"]["status"] == "ok" for r in full)
        filler.unlink()
        back = k.run("done = 1", cell_id="done")
    held = "".join(r["stderr"] for r in full)
    assert held.count("jupyter-repro") == 1 and "in memory" in held, held
    assert "written" in back["stderr"] and "6" in back["stderr"], back["stderr"]
    assert _ids(small_disk) == ["before"] + [f"v{i}" for i in range(6)] + ["done"]
    _state_refs_resolve(small_disk)


# -- the journal locked by another process --------------------------------------------------------------------

HOLD_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
db.execute("BEGIN EXCLUSIVE")
db.execute("UPDATE sessions SET notebook = notebook")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


def test_a_locked_journal_is_waited_on_briefly_and_nothing_is_dropped(notebook_dir: Path) -> None:
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        k.run("a = 1", cell_id="a")
        holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(notebook_dir / ".repro" / "journal.sqlite"),
                                   "4"], stdout=subprocess.PIPE, text=True)
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
            locked = [k.run(f"v{i} = {i}", cell_id=f"v{i}") for i in range(3)]
        finally:
            holder.wait(timeout=60)
        back = k.run("done = 1", cell_id="done")
    assert all(r["client_s"] < 2 for r in locked), [r["client_s"] for r in locked]
    held = "".join(r["stderr"] for r in locked)
    assert held.count("jupyter-repro") == 1 and "locked" in held, held
    assert "written" in back["stderr"]
    assert _ids(notebook_dir) == ["a", "v0", "v1", "v2", "done"]


# -- the code hash is of the code as shown -------------------------------------------------------------------


def test_code_hash_is_taken_over_the_redacted_code(notebook_dir: Path) -> None:
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        k.run("password = 'hunter2'", cell_id="secret")
        k.run("x = 1", cell_id="plain")
    secret, plain = journal_records(notebook_dir)
    assert secret["code"] == "password = '<redacted>'"
    assert secret["code_hash"] == hash_text(secret["code"])
    assert secret["code_hash"] != hash_text("password = 'hunter2'")
    assert secret["redacted"] is True and plain["redacted"] is False
    assert plain["code_hash"] == hash_text("x = 1")
    for record in (secret, plain):
        validate_record(record)
    blob = b"".join(p.read_bytes() for p in (notebook_dir / ".repro").rglob("*") if p.is_file())
    assert b"hunter2" not in blob
