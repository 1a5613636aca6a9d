"""A DVC-tracked input: kept when the working copy or the DVC cache holds what was read; the fix names DVC."""

from __future__ import annotations

import hashlib
from pathlib import Path

from repro_kernel.analysis import analyze_notebook
from repro_kernel.core.hashing import hash_file
from repro_kernel.core.journal import Journal
from tests.analysis.scenarios import rec
from tests.analysis.test_sessions import ENV, saved

CSV = "a,b\n1,2\n"


def project(folder: Path, *, cache: bool) -> Path:
    (folder / ".dvc").mkdir()
    data = folder / "data.csv"
    data.write_text(CSV)
    md5 = hashlib.md5(CSV.encode()).hexdigest()
    (folder / "data.csv.dvc").write_text(f"outs:\n- md5: {md5}\n  size: {len(CSV)}\n  path: data.csv\n")
    if cache:
        blob = folder / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
        blob.parent.mkdir(parents=True)
        blob.write_text(CSV)
    code = "import pandas as pd\ndf = pd.read_csv('data.csv')"
    nb = saved(folder / "nb.ipynb", [("c1", code, 1)])
    read = {"path": str(data), "rel": "data.csv", "hash": hash_file(str(data)), "size": len(CSV)}
    with Journal(folder / ".repro") as journal:
        journal.begin_session("s1", "nb.ipynb", ENV, 1.0)
        journal.append(rec(1, code, "c1", files_read=[read]), "nb.ipynb")
    return nb


def kinds(nb: Path) -> dict[str, list]:
    found: dict[str, list] = {}
    for flag in analyze_notebook(nb).flags:
        found.setdefault(flag.kind, []).append(flag)
    return found


def test_unchanged_dvc_file_is_kept(tmp_path: Path) -> None:
    flags = kinds(project(tmp_path, cache=False))
    assert "unsnapshotted-data" not in flags and "changed-data" not in flags


def test_changed_dvc_file_whose_read_version_is_in_the_cache_is_kept_and_the_fix_is_dvc_checkout(tmp_path: Path) -> None:
    nb = project(tmp_path, cache=True)
    (tmp_path / "data.csv").write_text("a,b\n9,9\n")
    flags = kinds(nb)
    assert "unsnapshotted-data" not in flags
    (changed,) = flags["changed-data"]
    assert "dvc checkout data.csv" in changed.fix and "%repro snapshot" not in changed.fix


def test_changed_dvc_file_not_in_the_cache_says_dvc_not_kept_nowhere(tmp_path: Path) -> None:
    nb = project(tmp_path, cache=False)
    (tmp_path / "data.csv").write_text("a,b\n9,9\n")
    flags = kinds(nb)
    (unkept,) = flags["unsnapshotted-data"]
    assert "kept nowhere" not in unkept.message and "tracked by DVC" in unkept.message
    assert "dvc checkout data.csv" in unkept.fix and "dvc add data.csv" in unkept.fix
    assert "%repro snapshot" not in unkept.fix
