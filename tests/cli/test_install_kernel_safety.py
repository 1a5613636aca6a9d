"""`jupyter repro install-kernel` checks every option before it writes anything: a name that is not a kernel
name, a prefix that is not a folder, a hash seed Python refuses. One line, exit 2, nothing written."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repro_kernel.testing import run_cli


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def refused(*args: str, tmp_path: Path) -> str:
    """Run install-kernel with a private temporary folder; check it refused in one line and wrote nothing."""
    temp = tmp_path / "tmp"
    temp.mkdir(exist_ok=True)
    result = run_cli("install-kernel", *args, env={"TMPDIR": str(temp), "JUPYTER_DATA_DIR": str(tmp_path / "data")})
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    written = [p for p in files_under(tmp_path) if not p.startswith(("prefix-file", "tmp"))]
    assert written == [], f"refused, yet wrote {written}"
    assert files_under(temp) == []
    return lines[0]


@pytest.mark.parametrize("name", ["../../evil", "my kernel", "a/b", "..", "évil"])
def test_a_name_that_is_not_a_kernel_name_is_refused_before_anything_is_written(tmp_path: Path, name: str) -> None:
    line = refused(f"--name={name}", f"--prefix={tmp_path / 'prefix'}", tmp_path=tmp_path)
    assert "is not a kernel name" in line and "--name" in line
    assert not (tmp_path / "evil").exists()


def test_a_prefix_that_is_a_file_is_refused(tmp_path: Path) -> None:
    prefix = tmp_path / "prefix-file"
    prefix.write_text("not a folder\n")
    line = refused(f"--prefix={prefix}", tmp_path=tmp_path)
    assert "is not a folder" in line and prefix.read_text() == "not a folder\n"
    line = refused(f"--prefix={prefix / 'below'}", tmp_path=tmp_path)
    assert "is not a folder" in line


def test_a_hash_seed_python_refuses_is_refused_and_its_bounds_install(tmp_path: Path) -> None:
    for seed in ("-5", "4294967296"):
        line = refused(f"--hash-seed={seed}", f"--prefix={tmp_path / 'prefix'}", tmp_path=tmp_path)
        assert "--hash-seed" in line and "4294967295" in line
    result = run_cli("install-kernel", "--name=Repro.test-kernel_1", f"--prefix={tmp_path / 'prefix'}",
                     "--hash-seed=4294967295")
    assert result.returncode == 0, result.stderr
    spec = json.loads((tmp_path / "prefix/share/jupyter/kernels/repro.test-kernel_1/kernel.json").read_text())
    assert spec["env"]["PYTHONHASHSEED"] == "4294967295"


def test_user_and_prefix_together_are_refused(tmp_path: Path) -> None:
    line = refused("--user", f"--prefix={tmp_path / 'prefix'}", tmp_path=tmp_path)
    assert "--user" in line


def test_a_kernel_folder_that_is_a_link_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    kernels = tmp_path / "prefix" / "share" / "jupyter" / "kernels"
    kernels.mkdir(parents=True)
    (kernels / "python3-repro").symlink_to(elsewhere)
    result = run_cli("install-kernel", f"--prefix={tmp_path / 'prefix'}")
    assert result.returncode == 2 and "symbolic link" in result.stderr and "Traceback" not in result.stderr
    assert list(elsewhere.iterdir()) == []
