"""Rules about the files a session read: changed data, data kept nowhere, absolute paths; and
:class:`Preservation`, the one judge of where a file's exact content is kept (snapshot, git, LFS, DVC)."""

from __future__ import annotations

import os
import time
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from repro_kernel.analysis.model import Cell, Context, Execution, Flag
from repro_kernel.analysis.rules.common import _cells_of, _labels
from repro_kernel.core.dataflow import _WRITE_CALL, analyze_code
from repro_kernel.core.gitsafe import GitFailed, SafeGit
from repro_kernel.core.hashing import hash_bytes, hash_file
from repro_kernel.runtime import file_digest


def project_root(context: Context) -> Path:
    git = (context.environment or {}).get("git") or {}
    root = git.get("root") if isinstance(git, dict) else None
    return Path(root) if root else (context.notebook_dir or Path.cwd())


@lru_cache(maxsize=4096)
def _outside(path: str, root: Path) -> bool:
    try:
        Path(path).resolve().relative_to(root.resolve())
        return False
    except (ValueError, OSError):
        return True


def _personal_cache(path: str) -> bool:
    """Files a library keeps for itself under the home folder (fonts, configs, model caches)."""
    home = str(Path.home())
    if not path.startswith(home + os.sep):
        return False
    first = path[len(home) + 1:].split(os.sep, 1)[0]
    return first.startswith(".") or first in ("Library", "AppData", "snap")


def changed_or_kept_nowhere(executions: list[Execution], context: Context, by_id: dict[str, Cell]) -> list[Flag]:

    history: dict[str, list[tuple[str, Optional[str], Execution, Any]]] = {}
    for execution in executions:
        if "files" not in execution.tags:
            continue
        record = execution.record or {}
        for kind in ("files_read", "files_written"):
            for access in record.get(kind) or ():
                history.setdefault(access["path"], []).append((kind, access.get("hash"), execution, access))
    flags: list[Flag] = []
    root = project_root(context)
    preservation = Preservation.for_root(root)
    for path, events in history.items():
        reads = [e for e in events if e[0] == "files_read"]
        if not reads:
            continue
        readers = [e[2] for e in reads]
        cells = _cells_of(readers, by_id)
        shown = reads[0][3].get("rel") or path
        is_input = events[0][0] == "files_read"
        # changed-data: what the session last knew of the file against the file now, and between reads
        known = next((e[1] for e in reversed(events) if e[1]), None)
        now = context.file_facts(path) if context.file_facts else None
        reason = None
        if now is not None and now.hash is None and (now.error or "").startswith(("FileNotFound", "not a")):
            reason = "is gone"
        elif now is not None and known and now.hash and now.hash != known:
            reason = "has changed since it was read"
        else:
            previous = None
            for kind, digest, _execution, _access in events:
                if kind == "files_written":
                    previous = None
                    continue
                if previous and digest and digest != previous:
                    reason = "changed while the session ran (two reads saw different content)"
                previous = digest or previous
        dvc_tracked = bool(preservation.dvc_entries(path))
        if reason:
            flags.append(Flag(
                "changed-data", cells, f"{shown} {reason}: {_labels(cells, by_id, readers)} read other content",
                (f"restore the tracked version with `dvc checkout {shown}`, or re-run the cells that read it"
                 if dvc_tracked else
                 f"restore the original {shown} (see `%repro snapshot`), or re-run the cells that read it"),
                details={"path": path, "recorded_hash": known, "current_hash": now.hash if now else None},
            ))
        if not is_input:
            continue
        digest = reads[0][1]
        where = preservation.where(path, digest, context.snapshot_hashes, context.file_facts) if digest else None
        if where is None and dvc_tracked:
            flags.append(Flag(
                "unsnapshotted-data", cells,
                f"{shown} is tracked by DVC, but the version the session read is in neither the working copy nor "
                "the DVC cache",
                f"run `dvc checkout {shown}` if the tracked version is the one read, else `dvc add {shown}` "
                "(and commit the .dvc file) once the file holds what the cells should read",
                details={"path": path, "hash": digest, "dvc": True},
            ))
        elif where is None:
            flags.append(Flag(
                "unsnapshotted-data", cells,
                f"{shown} was read but its content is kept nowhere (not in git, DVC or the .repro snapshot store)",
                f"run `%repro snapshot {shown}`, or commit it to git or track it with DVC",
                details={"path": path, "hash": digest},
            ))
        spelled = [lit for e in readers for lit, _call in e.facts.path_literals if _names_path(lit, path)]
        # A path the recorder could write relative to its own folder (the kernel's working directory) is inside
        # the recording's tree, wherever the saved notebook lies (papermill's output folder, --cwd).
        outside = reads[0][3].get("rel") is None and _outside(path, root)
        if (outside and not _personal_cache(path)) or spelled:
            flags.append(Flag(
                "absolute-path", cells,
                f"{_labels(cells, by_id, readers)} read {path} through an absolute path"
                f"{' outside the project' if outside else ''}: it will not exist elsewhere",
                "copy the file into the project folder and read it by a relative path",
                details={"path": path, "literal": spelled[0] if spelled else None},
            ))
    return flags


def _names_path(literal: str, path: str) -> bool:
    expanded = os.path.expanduser(literal).rstrip("/\\")
    return bool(expanded) and (path == expanded or path.startswith(expanded + os.sep))


def absolute_static(executions: list[Execution], cells: list[Cell], by_id: dict[str, Cell]) -> list[Flag]:

    flags = []
    for cell in cells:
        if cell.cell_type != "code":
            continue
        literals = [lit for lit, call in analyze_code(cell.source).path_literals
                    if not _WRITE_CALL.search(call or "") and not lit.startswith("/tmp")]
        if literals:
            flags.append(Flag(
                "absolute-path", [cell.id], f"{cell.label} names {literals[0]!r}, an absolute path that will not exist elsewhere",
                "put the file in the project folder and use a path relative to the notebook",
                details={"paths": literals},
            ))
    return flags


class Preservation:
    """Where a file's exact content is kept: the .repro snapshot store, git (HEAD), or DVC.

    git is read through :class:`~repro_kernel.core.gitsafe.SafeGit`: no program the repository configures runs.
    """

    _by_root: dict[str, "Preservation"] = {}

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[tuple[str, str, str], Optional[str]] = {}
        self._repos: dict[str, Optional[SafeGit]] = {}  # by folder: its work tree, or None outside one

    @classmethod
    def for_root(cls, root: Path) -> "Preservation":
        key = str(root)
        if key not in cls._by_root:
            cls._by_root[key] = cls(root)
        return cls._by_root[key]

    def where(self, path: str, digest: str, snapshots: set[str], file_facts: Any) -> Optional[str]:
        if digest in snapshots:
            return "snapshot"
        head = _git_head(Path(path).parent)
        key = (path, digest, head or "")
        if key not in self._cache:
            self._cache[key] = self._git(path, digest, head) or self._dvc(path, digest, file_facts)
        return self._cache[key]

    def _git(self, path: str, digest: str, head: Optional[str]) -> Optional[str]:
        """"git" when the commit ``head`` holds ``path`` with content ``digest``; "git-lfs" when it holds an LFS
        pointer to it. The blob is read raw (`git cat-file blob`: no smudge filter, no textconv)."""
        if head is None:
            return None
        folder = str(Path(path).parent)
        if folder not in self._repos:
            try:
                self._repos[folder] = SafeGit.open(Path(folder))
            except GitFailed:
                self._repos[folder] = None
        repo = self._repos[folder]
        if repo is None:
            return None
        try:
            rel = Path(path).resolve().relative_to(repo.root.resolve()).as_posix()
            data = repo.run("cat-file", "blob", f"{head}:{rel}")
        except (GitFailed, ValueError, OSError):
            return None
        if hash_bytes(data) == digest:
            return "git"
        if data.startswith(b"version https://git-lfs") and b"oid sha256:" in data:
            oid = data.split(b"oid sha256:", 1)[1].split()[0].decode()
            if _current_digest(path, digest, "sha256") == oid:
                return "git-lfs"
        return None

    def _dvc(self, path: str, digest: str, file_facts: Any) -> Optional[str]:
        for meta, md5, is_dir in self.dvc_entries(path):
            if is_dir:
                return "dvc"
            if md5 and (_current_digest(path, digest, "md5") == md5 or _in_dvc_cache(meta.parent, md5, digest)):
                return "dvc"
        return None

    def dvc_entries(self, path: str) -> list[tuple[Path, Optional[str], bool]]:
        """The DVC records that track ``path``: (the .dvc file or dvc.lock, its md5, whether it is a folder's)."""
        target = Path(path)
        resolved = target.resolve()
        found = []
        for folder in [target.parent, *target.parent.parents]:
            candidates = [folder / "dvc.lock"]
            if folder == target.parent:
                candidates.insert(0, Path(path + ".dvc"))
            for meta in candidates:
                for out_path, md5 in _dvc_outs(meta):
                    out = (meta.parent / out_path).resolve()
                    if out == resolved:
                        found.append((meta, md5, False))
                    elif md5 and md5.endswith(".dir") and out in resolved.parents:
                        found.append((meta, md5, True))
            if folder == self.root or (folder / ".git").exists() or (folder / ".dvc").is_dir():
                break
        return found


def _in_dvc_cache(start: Path, md5: str, digest: str) -> bool:
    """Whether the DVC cache of the project above ``start`` holds ``md5`` with the content read (``digest``):
    the version the session read is then kept even though the working copy has changed since."""
    for folder in [start, *start.parents]:
        cache = folder / ".dvc" / "cache"
        if cache.is_dir():
            for blob in (cache / "files" / "md5" / md5[:2] / md5[2:], cache / md5[:2] / md5[2:]):  # DVC 3, DVC 2
                try:
                    if blob.is_file() and hash_file(str(blob)) == digest:
                        return True
                except OSError:
                    continue
            return False
    return False


def _dvc_outs(meta: Path) -> list[tuple[str, Optional[str]]]:
    """(path, md5) of the outputs a `.dvc` file or `dvc.lock` records."""
    try:
        text = meta.read_text(encoding="utf-8")
    except OSError:
        return []
    try:
        import yaml

        data = yaml.safe_load(text) or {}
    except Exception:
        return []
    entries: list[Any] = list(data.get("outs") or []) if isinstance(data, dict) else []
    # A stage's `deps` are not kept by DVC (only its `outs` go to the cache): a dependency is preserved only
    # when some `.dvc` file or stage output, or git, keeps it.
    for stage in (data.get("stages") or {}).values() if isinstance(data, dict) else ():
        if isinstance(stage, dict):
            entries += list(stage.get("outs") or [])
    found = []
    for entry in entries:
        if isinstance(entry, dict) and entry.get("path"):
            found.append((str(entry["path"]), entry.get("md5") or entry.get("hash")))
    return found


_digest_cache: dict[tuple[str, str, str], Optional[str]] = {}


def _current_digest(path: str, recorded: str, algorithm: str) -> Optional[str]:
    """``algorithm`` digest of the file now, if its content is still what was recorded."""
    key = (path, recorded, algorithm)
    if key not in _digest_cache:
        try:
            if hash_file(path) != recorded:
                _digest_cache[key] = None
            else:
                _digest_cache[key] = file_digest(path, algorithm).split(":", 1)[1]
        except OSError:
            _digest_cache[key] = None
    return _digest_cache[key]


_head_cache: dict[Path, tuple[float, Optional[str]]] = {}


def _git_head(folder: Path) -> Optional[str]:
    """The HEAD commit of the repository holding ``folder`` (re-read at most once a second)."""
    now = time.monotonic()
    cached = _head_cache.get(folder)
    if cached is not None and now - cached[0] < 1.0:
        return cached[1]
    head = _read_git_head(folder)
    _head_cache[folder] = (now, head)
    return head


def _read_git_head(folder: Path) -> Optional[str]:
    """The HEAD commit of the repository holding ``folder``, read from .git without running git."""
    for candidate in [folder, *folder.parents]:
        dot_git = candidate / ".git"
        if dot_git.exists():
            try:
                if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
                    dot_git = (candidate / dot_git.read_text().split(":", 1)[1].strip()).resolve()
                head = (dot_git / "HEAD").read_text().strip()
                if not head.startswith("ref:"):
                    return head
                ref = head.split(":", 1)[1].strip()
                ref_file = dot_git / ref
                if ref_file.exists():
                    return ref_file.read_text().strip()
                common = dot_git / "commondir"
                base = (dot_git / common.read_text().strip()).resolve() if common.exists() else dot_git
                if (base / ref).exists():
                    return (base / ref).read_text().strip()
                for line in (base / "packed-refs").read_text().splitlines():
                    if line.endswith(" " + ref):
                        return line.split()[0]
            except OSError:
                return None
            return None
    return None
