"""The recorder as the frontend meets it: the comm protocol, torch's random state, the output hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from repro_kernel.testing import START, LiveKernel, journal_records

NO_TORCH = "PyTorch is not importable here (scripts/setup.sh installs it through the test-torch extra)"


def test_comm_protocol_handshake_requests_and_pushes(notebook_dir: Path) -> None:
    (notebook_dir / "data.csv").write_text("a\n1\n")
    with LiveKernel(notebook_dir, notebook="nb.ipynb") as k:
        # Before the extension is loaded the kernel refuses the comm: the frontend then offers "Start".
        refused = k.open_comm("c0", {"type": "hello", "version": 1})
        assert [r["msg_type"] for r in refused] == ["comm_close"]

        k.run("%load_ext repro_kernel")
        hello = k.open_comm("c1", {"type": "hello", "version": 1, "notebook": "work/nb.ipynb", "request_id": "h"})
        reply = next(r for r in hello if r.get("type") == "hello-reply")
        assert reply["success"] is True and reply["version"] == 1 and reply["request_id"] == "h"
        assert reply["status"]["recording"] is False
        newer = k.open_comm("c9", {"type": "hello", "version": 99, "request_id": "n"})
        refusal = next(r for r in newer if r.get("type") == "hello-reply")
        assert refusal["success"] is False and "protocol 99" in refusal["error"] and "install" in refusal["error"]

        started = k.send_comm("c1", {"type": "start", "request_id": "s"})
        start_reply = next(r for r in started if r.get("type") == "start-reply")
        assert start_reply["success"] and start_reply["status"]["recording"] is True
        assert start_reply["status"]["notebook"] == "nb.ipynb"

        k.comm_messages.clear()
        k.run("import pandas as pd\ndf = pd.read_csv('data.csv')", cell_id="read")
        pushed = [m["data"] for m in k.comm_messages if m.get("data")]
        record = next(m for m in pushed if m["type"] == "record")
        assert record["entry"]["cell_id"] == "read" and record["entry"]["data"] is True
        assert record["executions"] == 1
        status = [m for m in pushed if m["type"] == "status"][-1]["status"]
        assert status["executions"] == 1
        assert status["inputs"][0]["path"] == "data.csv" and status["inputs"][0]["preserved"] is False
        assert status["timeline"][0]["data"] is True

        # The flags follow the cell from a background thread, once no cell has finished for a moment.
        flags = k.wait_for_comm("flags", where=lambda d: bool(d["flags"]))
        assert "unsnapshotted-data" in {f["kind"] for f in flags["flags"]}
        assert "unsnapshotted-data" in flags["cells"]["read"]

        snap = k.send_comm("c1", {"type": "snapshot", "paths": ["data.csv"], "request_id": 3})
        snap_reply = next(r for r in snap if r.get("type") == "snapshot-reply")
        assert snap_reply["success"] and snap_reply["snapshots"][0]["size"] == 4
        after = [r for r in snap if r.get("type") == "status"][-1]["status"]
        assert after["inputs"][0]["preserved"] is True

        cleared = k.wait_for_comm(
            "flags", where=lambda d: "unsnapshotted-data" not in {f["kind"] for f in d["flags"]})
        assert "read" not in cleared["cells"] or "unsnapshotted-data" not in cleared["cells"]["read"]

        bad = k.send_comm("c1", {"type": "snapshot", "paths": []})
        assert bad[0]["success"] is False and "non-empty list" in bad[0]["error"]
        unknown = k.send_comm("c1", {"type": "nonsense"})
        assert unknown[0]["success"] is False and "unknown message type" in unknown[0]["error"]
        nb = k.send_comm("c1", {"type": "notebook", "cells": [
            {"id": "read", "cell_type": "code", "source": "import pandas as pd", "execution_count": 2}]})
        assert nb[0]["type"] == "notebook-reply" and nb[0]["success"] is True

        stopped = k.send_comm("c1", {"type": "stop"})
        assert stopped[0]["status"]["recording"] is False


@pytest.mark.slow
@pytest.mark.torch
def test_torch_random_state_is_captured_and_restorable(notebook_dir: Path) -> None:
    torch = pytest.importorskip("torch", reason=NO_TORCH)
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        k.run("import torch\na = torch.rand(2)", cell_id="import")
        k.run("b = torch.rand(3)", cell_id="draw")
        k.run("torch.manual_seed(0)\nc = torch.rand(1)", cell_id="seeded")
        b = k.value("b.tolist()")
    records = {r["cell_id"]: r for r in journal_records(notebook_dir)}
    assert "torch" in {m["name"] for m in records["import"]["modules"]}
    draw = records["draw"]["random"]
    assert draw["sources"]["torch"]["before"] != draw["sources"]["torch"]["after"]
    assert draw["unseeded_draw"] is True
    assert records["seeded"]["random"]["unseeded_draw"] is False
    assert "torch_cuda" not in draw["sources"]  # CUDA is never initialised by the recorder

    from repro_kernel.core.journal import Journal
    from repro_kernel.kernel import randomness

    with Journal(notebook_dir / ".repro", create=False) as journal:
        randomness.restore(journal.get_object(draw["sources"]["torch"]["state_ref"]))
    assert torch.rand(3).tolist() == b


def test_output_hash_matches_the_replay_runtime() -> None:
    """The exported runtime re-implements the recorder's output hash; both must agree."""
    import blake3

    from repro_kernel.core.hashing import output_hash
    from repro_kernel.runtime import _OutputHasher

    display = {"content": {"data": {"text/plain": "Figure", "image/png": "iVBORw0KGgo=", "text/html": "<b>é</b>"}}}
    class Odd(str):
        def __repr__(self) -> str:
            raise ValueError("no repr")

    for value in (None, 3, 2.5, "text", b"raw", True, [1, 2], {"a": 1}, "x" * 20_000, 10**5000, Odd("odd")):
        for displays in ([], [display], [display, display]):
            hasher = _OutputHasher()
            digest = None
            for msg in displays:
                hasher.on_display(msg)
                if digest is None:
                    digest = blake3.blake3()
                data = msg["content"]["data"]
                for mime in sorted(data):
                    digest.update(mime.encode())
                    digest.update(data[mime].encode("utf-8"))
            ours = output_hash(digest.digest() if digest is not None else None, value)
            assert hasher.finish(value) == ours, (value, len(displays))


@pytest.mark.slow
@pytest.mark.torch
def test_frameworks_imported_inside_a_cell_get_their_import_time_state(notebook_dir: Path) -> None:
    torch = pytest.importorskip("torch", reason=NO_TORCH)
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        k.run("import numpy as np\nimport torch\na = np.random.rand(2)\nt = torch.rand(2)", cell_id="both")
        a, t = k.value("a.tolist()"), k.value("t.tolist()")
    record = journal_records(notebook_dir)[0]
    sources = record["random"]["sources"]
    assert record["random"]["unseeded_draw"] is True
    import numpy as np

    from repro_kernel.core.journal import Journal
    from repro_kernel.kernel import randomness

    with Journal(notebook_dir / ".repro", create=False) as journal:
        for source in ("numpy", "torch"):
            assert sources[source]["before"] and sources[source]["before"] != sources[source]["after"]
            randomness.restore(journal.get_object(sources[source]["state_ref"]))
    assert np.random.rand(2).tolist() == a
    assert torch.rand(2).tolist() == t
