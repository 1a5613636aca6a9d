"""Reading git state runs no program a repository configures (fsmonitor, filters, diff drivers, hooks, ...).

Each repository here names, in its own .git/config, scripts that leave a marker file when they run; the
recorder's git capture (`git_state`, `%repro start`) and the offline judge of preserved inputs
(`Preservation`, behind `jupyter repro check` and the export) read it, and no marker may appear, while what
they record stays right.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional

import nbformat
import pytest

from repro_kernel.analysis import analyze_notebook
from repro_kernel.analysis.rules.files import Preservation
from repro_kernel.core.environment import git_state
from repro_kernel.core.gitsafe import SAFE_CONFIG, GitFailed, SafeGit, named_overrides
from repro_kernel.core.hashing import hash_file
from repro_kernel.core.journal import Journal
from repro_kernel.testing import START, LiveKernel, make_notebook

HOOKS = ("post-index-change", "post-checkout", "reference-transaction", "pre-auto-gc", "pre-commit", "post-commit")


def _git(folder: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True, text=True).stdout.strip()


class Evil:
    """Scripts that append their name to a marker file in ``markers/`` and pass their input through."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.markers = base / "markers"
        self.markers.mkdir(parents=True, exist_ok=True)

    def script(self, name: str, body: str = "cat") -> str:
        path = self.base / f"{name}.sh"
        path.write_text(f"#!/bin/sh\necho {name} >> '{self.markers / name}'\n{body}\n")
        path.chmod(0o755)
        return str(path)

    def hooks(self) -> str:
        folder = self.base / "hooks"
        folder.mkdir(exist_ok=True)
        for hook in HOOKS:
            (folder / hook).write_text(f"#!/bin/sh\necho {hook} >> '{self.markers / 'hook'}'\nexit 0\n")
            (folder / hook).chmod(0o755)
        return str(folder)

    def ran(self) -> list[str]:
        return sorted(p.name for p in self.markers.iterdir())


def _project(base: Path) -> tuple[Path, str]:
    """A repository with a filtered, textconv'd CSV and a text file committed; its HEAD commit."""
    repo = base / "project"
    repo.mkdir(parents=True)
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "config", "user.email", "t@example.org")
    _git(repo, "config", "user.name", "T")
    (repo / ".gitattributes").write_text("*.csv filter=evil diff=evil\n*.tsv filter=proc\n")
    (repo / "data.csv").write_text("a\n1\n")
    (repo / "kept.csv").write_text("k\n1\n")
    (repo / "table.tsv").write_text("t\t1\n")
    (repo / "notes.txt").write_text("x\n")
    _git(repo, "add", ".")
    _git(repo, "commit", "-qm", "data")
    _git(repo, "remote", "add", "origin", "https://bot:ghp_16C7e42F292c6912E7710c838347Ae178B4a@github.com/o/r.git")
    return repo, _git(repo, "rev-parse", "HEAD")


def _arm(repo: Path, settings: dict[str, str]) -> None:
    """Write ``settings`` into the repository's own config (no git runs after this but the code under test)."""
    with (repo / ".git" / "config").open("a") as config:
        for key, value in settings.items():
            section, _, rest = key.partition(".")
            sub, _, name = rest.rpartition(".")
            header = f'[{section} "{sub}"]' if sub else f"[{section}]"
            config.write(f'{header}\n\t{name} = "{value}"\n')


def _modify(repo: Path) -> None:
    """Changes git can only judge by reading the files: status and diff would run filters and drivers."""
    (repo / "data.csv").write_text("a\n2\n")
    (repo / "table.tsv").write_text("t\t2\n")
    (repo / "notes.txt").write_text("y\n")
    (repo / "new.txt").write_text("untracked\n")


def _every_setting(evil: Evil) -> dict[str, str]:
    return {
        "core.fsmonitor": evil.script("fsmonitor", "exit 0"),
        "core.hooksPath": evil.hooks(),
        "core.pager": evil.script("pager"),
        "pager.diff": evil.script("pager-diff"),
        "pager.status": evil.script("pager-status"),
        "core.editor": evil.script("editor"),
        "core.sshCommand": evil.script("ssh"),
        "core.askPass": evil.script("askpass"),
        "core.alternateRefsCommand": evil.script("alternate-refs"),
        "credential.helper": "!" + evil.script("credential"),
        "gpg.program": evil.script("gpg"),
        "log.showSignature": "true",
        "uploadpack.packObjectsHook": evil.script("pack-objects-hook"),
        "diff.external": evil.script("diff-external", "exit 0"),
        "diff.evil.textconv": evil.script("textconv"),
        "diff.evil.command": evil.script("diff-command", "exit 0"),
        "filter.evil.clean": evil.script("clean"),
        "filter.evil.smudge": evil.script("smudge"),
        "filter.proc.process": evil.script("process", "exit 1"),
        "protocol.file.allow": "always",
    }


EXPECTED_DIRTY = ["data.csv", "notes.txt", "table.tsv"]


def _check_facts(state: Optional[dict], commit: str) -> None:
    assert state is not None and "error" not in state, state
    assert state["commit"] == commit and state["branch"] == "main"
    assert state["dirty"] == EXPECTED_DIRTY and state["untracked"] == 1
    assert state["remote"] == "https://github.com/o/r.git"
    assert state["diff_hash"]


def test_git_state_runs_no_repository_program_and_records_the_same_facts(tmp_path: Path) -> None:
    repo, commit = _project(tmp_path)
    plain = git_state(repo)  # before any setting: what the capture must still record once they are there
    evil = Evil(tmp_path)
    _arm(repo, _every_setting(evil))
    _modify(repo)
    state = git_state(repo)
    # The check's and the export's judge of inputs reads the committed blobs of the same repository.
    preservation = Preservation(repo)
    kept, changed = str(repo / "kept.csv"), str(repo / "data.csv")
    verdicts = [preservation.where(p, hash_file(p), set(), None) for p in (kept, changed)]
    assert evil.ran() == []
    _check_facts(state, commit)
    assert verdicts == ["git", None]
    assert state is not None and plain is not None and state["root"] == plain["root"] == str(repo)
    # The diff is what git gives without any driver: the same as for a twin repository with no settings.
    twin, _ = _project(tmp_path / "twin")
    _modify(twin)
    twin_state = git_state(twin)
    assert twin_state is not None and twin_state["diff_hash"] == state["diff_hash"]


# Each setting alone, with the marker it would leave; every one of these ran under the GitPython capture.
ONE_AT_A_TIME = {
    "fsmonitor": lambda evil: {"core.fsmonitor": evil.script("fsmonitor", "exit 0")},
    "clean": lambda evil: {"filter.evil.clean": evil.script("clean")},
    "process": lambda evil: {"filter.proc.process": evil.script("process", "exit 1")},
    "diff-external": lambda evil: {"diff.external": evil.script("diff-external", "exit 0")},
    "smudge": lambda evil: {"filter.evil.smudge": evil.script("smudge"),  # smudged for the external diff's files
                            "diff.external": evil.script("diff-external", "exit 0")},
    "textconv": lambda evil: {"diff.evil.textconv": evil.script("textconv")},
    "diff-command": lambda evil: {"diff.evil.command": evil.script("diff-command", "exit 0")},
    "hook": lambda evil: {"core.hooksPath": evil.hooks()},
}


@pytest.mark.parametrize("marker", list(ONE_AT_A_TIME))
def test_each_setting_alone_is_not_run(tmp_path: Path, marker: str) -> None:
    repo, commit = _project(tmp_path)
    evil = Evil(tmp_path)
    _arm(repo, ONE_AT_A_TIME[marker](evil))
    _modify(repo)
    state = git_state(repo)
    assert marker not in evil.ran() and evil.ran() == []
    _check_facts(state, commit)


def test_preservation_never_lazily_fetches_in_a_partial_clone(tmp_path: Path) -> None:
    """A blob missing from a partial clone would be fetched from the promisor remote, running the
    repository's `remote.<name>.uploadpack` (or ssh, or an `ext::` command)."""
    server = tmp_path / "server"
    server.mkdir()
    _git(server, "init", "-q", "-b", "main")
    (server / "data.csv").write_text("a\n1\n")
    _git(server, "add", ".")
    _git(server, "-c", "user.email=t@example.org", "-c", "user.name=T", "commit", "-qm", "data")
    _git(server, "config", "uploadpack.allowFilter", "true")
    _git(server, "config", "uploadpack.allowAnySHA1InWant", "true")
    client = tmp_path / "client"
    _git(tmp_path, "clone", "-q", "--filter=blob:none", "--no-checkout", server.as_uri(), str(client))
    evil = Evil(tmp_path)
    _arm(client, {"remote.origin.uploadpack": evil.script("upload-pack", 'exec git-upload-pack "$@"'),
                  "protocol.file.allow": "always"})
    (client / "data.csv").write_text("a\n1\n")
    path = str(client / "data.csv")
    verdict = Preservation(client).where(path, hash_file(path), set(), None)
    assert evil.ran() == []
    assert verdict is None  # not fetched, so not known to be kept: the flag asks to snapshot or commit it


def test_every_git_command_carries_the_overrides(tmp_path: Path) -> None:
    repo, _ = _project(tmp_path)
    _arm(repo, {"filter.evil.clean": "x", "filter.a.b.process": "y", "protocol.ext.allow": "always"})
    git = SafeGit.open(repo)
    assert git is not None
    argv = git.command("status")
    assert argv[1:3] == ["--no-pager", "--no-optional-locks"] and argv[-1] == "status"
    settings = dict(a.split("=", 1) for a in argv[3:-1] if a != "-c")
    assert settings["core.fsmonitor"] == "" and settings["core.hooksPath"] == "/dev/null"
    assert settings["protocol.allow"] == "never" and settings["protocol.ext.allow"] == "never"
    for driver in ("evil", "a.b"):
        assert [settings[f"filter.{driver}.{key}"] for key in ("clean", "smudge", "process", "required")] == [
            "", "", "", "false"]
    assert set(SAFE_CONFIG) <= set(settings.items())
    assert git.filters_off
    # Outside a repository there is nothing to record; a bare one is recorded as unreadable, with the reason.
    assert SafeGit.open(tmp_path) is None and git_state(tmp_path) is None
    _git(tmp_path, "init", "-q", "--bare", "bare.git")
    with pytest.raises(GitFailed, match="work tree"):
        SafeGit.open(tmp_path / "bare.git")
    bare = git_state(tmp_path / "bare.git")
    assert bare is not None and bare["root"] is None and "work tree" in bare["error"]


def test_a_filter_that_cannot_be_switched_off_stops_the_diffs(tmp_path: Path) -> None:
    """`-c` cannot spell a driver name holding '=': then nothing that compares files (and so would run its
    clean filter) runs, and the record says why."""
    repo, commit = _project(tmp_path)
    evil = Evil(tmp_path)
    (repo / ".gitattributes").write_text("*.csv filter=a=b\n")
    _arm(repo, {"filter.a=b.clean": evil.script("clean")})
    _modify(repo)
    state = git_state(repo)
    assert evil.ran() == []
    assert state is not None and state["commit"] == commit and "filter driver" in state["error"]
    assert state["untracked"] == 1 and "dirty" not in state
    assert named_overrides(["filter.a=b.clean"])[0] == ("filter.a=b.clean", "")


@pytest.mark.slow
def test_repro_start_and_check_in_a_repository_that_names_programs(tmp_path: Path) -> None:
    """Through a real kernel: `%repro start` records the git state, a cell reads a committed file, and
    `check` judges it kept in git; no marker appears."""
    repo, commit = _project(tmp_path)
    (repo / ".gitignore").write_text(".repro/\n*.ipynb\n")
    evil = Evil(tmp_path)
    _arm(repo, _every_setting(evil))
    _modify(repo)
    sources = [START, "kept = open('kept.csv').read()"]
    with LiveKernel(repo) as k:
        k.run(START, check=True)
        k.run(sources[1], cell_id="read", check=True)
        status = k.run("%repro status")["outputs"][0]["data"]["text/plain"]
    assert evil.ran() == []
    assert commit[:10] in status and "(dirty)" in status
    with Journal(repo / ".repro", create=False) as journal:
        state = journal.sessions()[0]["environment"]["git"]
    assert state["commit"] == commit and state["branch"] == "main"
    assert state["dirty"] == EXPECTED_DIRTY and state["untracked"] == 2  # new.txt and .gitignore
    nbformat.write(make_notebook(sources), repo / "nb.ipynb")
    report = analyze_notebook(repo / "nb.ipynb")
    assert not [f for f in report.flags if f.kind == "unsnapshotted-data"], report.flags
    assert evil.ran() == []
