"""The sidebar's data inputs carry the engine's verdict: one judge of "preserved" and "changed" for the panel
and for `check` (before, the panel counted snapshots only and offered Snapshot for a file committed to git)."""

from __future__ import annotations

import subprocess
from pathlib import Path

from repro_kernel.testing import LiveKernel


def git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.name=Test", "-c", "user.email=test@example.org", "-c", "commit.gpgsign=false",
                    *args], cwd=folder, check=True, capture_output=True)


def test_a_committed_file_is_preserved_in_the_panel_as_in_the_flags(notebook_dir: Path) -> None:
    (notebook_dir / "kept.csv").write_text("a\n1\n")
    (notebook_dir / "loose.csv").write_text("b\n2\n")
    git(notebook_dir, "init", "-q")
    git(notebook_dir, "add", "kept.csv")
    git(notebook_dir, "commit", "-q", "-m", "data")
    with LiveKernel(notebook_dir, notebook="nb.ipynb") as k:
        k.run("%load_ext repro_kernel")
        k.open_comm("c1", {"type": "hello", "version": 1, "notebook": "nb.ipynb"})
        k.send_comm("c1", {"type": "start"})
        k.comm_messages.clear()
        k.run("a = open('kept.csv').read()\nb = open('loose.csv').read()", cell_id="read")
        pushed = [m["data"] for m in k.comm_messages if m.get("data")]
        inputs = {i["path"]: i for i in [m for m in pushed if m["type"] == "status"][-1]["status"]["inputs"]}
        assert inputs["kept.csv"]["preserved"] is True and inputs["kept.csv"]["kept_in"] == "git"
        assert inputs["loose.csv"]["preserved"] is False and inputs["loose.csv"]["kept_in"] is None
        assert inputs["kept.csv"]["changed"] is False

        flags = k.wait_for_comm("flags", where=lambda d: bool(d["flags"]))
        unkept = [f["details"]["path"] for f in flags["flags"] if f["kind"] == "unsnapshotted-data"]
        assert [Path(p).name for p in unkept] == ["loose.csv"]

        (notebook_dir / "kept.csv").write_text("a\n3\n")
        status = next(r for r in k.send_comm("c1", {"type": "status"}) if r.get("type") == "status-reply")["status"]
        changed = {i["path"]: i for i in status["inputs"]}["kept.csv"]
        assert changed["changed"] is True and changed["preserved"] is True  # HEAD still holds what was read
