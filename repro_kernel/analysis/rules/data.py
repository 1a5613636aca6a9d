"""Rules about what came into the session from outside the code: files, network, randomness, environment, GPU.

Part of the analysis engine (``analysis.py`` holds the entry points and the dataflow rules). Everything here
that touches the disk (git blobs, DVC files, hashes of current files) is cached, so a live update stays cheap.
"""

from __future__ import annotations

import hashlib
import os
import platform
import time
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

if TYPE_CHECKING:
    from repro_kernel.analysis.engine import Cell, Context, Execution, Flag

GPU_FRAMEWORKS = {"torch": "torch", "tensorflow": "tensorflow", "jax": "jax", "cupy": "cupy",
                  "mxnet": "mxnet", "paddle": "paddle", "keras": "tensorflow"}
_DETERMINISM_FIX = {
    "torch": "call torch.use_deterministic_algorithms(True) and set CUBLAS_WORKSPACE_CONFIG=:4096:8",
    "tensorflow": "call tf.config.experimental.enable_op_determinism() (or set TF_DETERMINISTIC_OPS=1)",
    "jax": "set XLA_FLAGS=--xla_gpu_deterministic_ops=true before importing jax",
}
_DETERMINISM_ENV_VALUES = {
    "CUBLAS_WORKSPACE_CONFIG": ("torch", None),
    "TF_DETERMINISTIC_OPS": ("tensorflow", ("1", "true", "True")),
    "TF_CUDNN_DETERMINISTIC": ("tensorflow", ("1", "true", "True")),
    "XLA_FLAGS": ("jax", "deterministic"),
}
_LOOPBACK = ("127.", "::1", "localhost", "0.0.0.0")
_SOURCES_NAMES = {"python": "Python's `random`", "numpy": "NumPy's global RNG", "torch": "torch",
                  "torch_cuda": "torch (CUDA)", "tensorflow": "TensorFlow", "generator": "a NumPy Generator"}


def analyze_data(executions: list["Execution"], cells: list["Cell"], context: "Context") -> tuple[list["Flag"], dict[str, str]]:
    """Flags for data, network, randomness, environment and GPU; and the kinds that could not be judged."""
    flags: list[Flag] = []
    not_judged: dict[str, str] = {}
    by_id = {c.id: c for c in cells}
    if context.have_journal:
        flags += _files(executions, context, by_id)
        flags += _network_recorded(executions, by_id)
    else:
        not_judged["changed-data"] = "needs the journal: a saved notebook does not keep the hashes of what was read"
        not_judged["unsnapshotted-data"] = "needs the journal: a saved notebook does not say which files were read"
        flags += _absolute_static(executions, cells, by_id)
        flags += _network_static(executions, by_id)
    flags += _randomness(executions, cells, context, by_id)
    flags += _environment(executions, context, by_id)
    flags += _gpu(executions, context, by_id)
    return flags, not_judged


def _cells_of(executions: list["Execution"], by_id: dict[str, "Cell"]) -> list[str]:
    found: list[str] = []
    for execution in executions:
        if execution.cell is not None and execution.cell in by_id and execution.cell not in found:
            found.append(execution.cell)
    return sorted(found, key=lambda c: by_id[c].index)


def _labels(cells: list[str], by_id: dict[str, "Cell"], executions: list["Execution"] = ()) -> str:  # type: ignore[assignment]
    if cells:
        names = [by_id[c].label for c in cells[:4]]
        return ", ".join(names) + (f" and {len(cells) - 4} more" if len(cells) > 4 else "")
    counts = [e.execution_count for e in executions if e.execution_count is not None]
    return "executions " + ", ".join(f"[{c}]" for c in counts[:4]) if counts else "deleted cells"


# -- files -------------------------------------------------------------------------------------------

def project_root(context: "Context") -> Path:
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


def _files(executions: list["Execution"], context: "Context", by_id: dict[str, "Cell"]) -> list["Flag"]:
    from repro_kernel.analysis.engine import Flag

    history: dict[str, list[tuple[str, Optional[str], "Execution", Any]]] = {}
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
        if reason:
            flags.append(Flag(
                "changed-data", cells, f"{shown} {reason}: {_labels(cells, by_id, readers)} read other content",
                f"restore the original {shown} (see `%repro snapshot`), or re-run the cells that read it",
                details={"path": path, "recorded_hash": known, "current_hash": now.hash if now else None},
            ))
        if not is_input:
            continue
        digest = reads[0][1]
        where = preservation.where(path, digest, context.snapshot_hashes, context.file_facts) if digest else None
        if where is None:
            flags.append(Flag(
                "unsnapshotted-data", cells,
                f"{shown} was read but its content is kept nowhere (not in git, DVC or the .repro snapshot store)",
                f"run `%repro snapshot {shown}`, or commit it to git or track it with DVC",
                details={"path": path, "hash": digest},
            ))
        spelled = [lit for e in readers for lit, _call in e.facts.path_literals if _names_path(lit, path)]
        if (_outside(path, root) and not _personal_cache(path)) or spelled:
            flags.append(Flag(
                "absolute-path", cells,
                f"{_labels(cells, by_id, readers)} read {path} through an absolute path"
                f"{' outside the project' if _outside(path, root) else ''}: it will not exist elsewhere",
                "copy the file into the project folder and read it by a relative path",
                details={"path": path, "literal": spelled[0] if spelled else None},
            ))
    return flags


def _names_path(literal: str, path: str) -> bool:
    expanded = os.path.expanduser(literal).rstrip("/\\")
    return bool(expanded) and (path == expanded or path.startswith(expanded + os.sep))


def _absolute_static(executions: list["Execution"], cells: list["Cell"], by_id: dict[str, "Cell"]) -> list["Flag"]:
    from repro_kernel.analysis.engine import Flag
    from repro_kernel.core.dataflow import _WRITE_CALL, analyze_code

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
    """Where a file's exact content is kept: the .repro snapshot store, git (HEAD), or DVC."""

    _by_root: dict[str, "Preservation"] = {}

    def __init__(self, root: Path) -> None:
        self.root = root
        self._cache: dict[tuple[str, str, str], Optional[str]] = {}
        self._repos: dict[str, Any] = {}

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
        if head is None:
            return None
        try:
            import git

            folder = str(Path(path).parent)
            repo = self._repos.get(folder)
            if repo is None:
                repo = self._repos[folder] = git.Repo(folder, search_parent_directories=True)
            if repo.working_tree_dir is None:  # a bare repository: no checked-out file to compare
                return None
            rel = Path(path).resolve().relative_to(Path(repo.working_tree_dir).resolve()).as_posix()
            blob = repo.head.commit.tree / rel
            data = blob.data_stream.read()
        except Exception:
            return None
        import blake3

        if "blake3:" + blake3.blake3(data).hexdigest() == digest:
            return "git"
        if data.startswith(b"version https://git-lfs") and b"oid sha256:" in data:
            oid = data.split(b"oid sha256:", 1)[1].split()[0].decode()
            if _current_digest(path, digest, "sha256") == oid:
                return "git-lfs"
        return None

    def _dvc(self, path: str, digest: str, file_facts: Any) -> Optional[str]:
        target = Path(path)
        for folder in [target.parent, *target.parent.parents]:
            candidates = [folder / "dvc.lock"]
            if folder == target.parent:
                candidates.insert(0, Path(path + ".dvc"))
            for meta in candidates:
                for out_path, md5 in _dvc_outs(meta):
                    out = (meta.parent / out_path).resolve()
                    resolved = target.resolve()
                    if out == resolved and md5 and _current_digest(path, digest, "md5") == md5:
                        return "dvc"
                    if md5 and md5.endswith(".dir") and out in resolved.parents:
                        return "dvc"
            if folder == self.root or (folder / ".git").exists() or (folder / ".dvc").is_dir():
                break
        return None


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
        from repro_kernel.core.hashing import hash_file

        try:
            if hash_file(path) != recorded:
                _digest_cache[key] = None
            else:
                h = hashlib.new(algorithm)
                with open(path, "rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 22), b""):
                        h.update(chunk)
                _digest_cache[key] = h.hexdigest()
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


# -- network ---------------------------------------------------------------------------------------

def _network_recorded(executions: list["Execution"], by_id: dict[str, "Cell"]) -> list["Flag"]:
    from repro_kernel.analysis.engine import Flag

    hosts: dict[str, list["Execution"]] = {}
    for execution in executions:
        if "network" not in execution.tags:
            continue
        for access in (execution.record or {}).get("network") or ():
            host = str(access.get("host") or access.get("url") or "?")
            if host.startswith(_LOOPBACK):
                continue
            hosts.setdefault(host, [])
            if execution not in hosts[host]:
                hosts[host].append(execution)
    flags = []
    for host, readers in hosts.items():
        cells = _cells_of(readers, by_id)
        urls = [a.get("url") for e in readers for a in (e.record or {}).get("network") or () if a.get("url")]
        flags.append(Flag(
            "network-input", cells, f"{_labels(cells, by_id, readers)} fetched data from {host} at run time",
            "download the data once into the project, snapshot it (`%repro snapshot`) and read the local copy",
            details={"host": host, "urls": urls[:10]},
        ))
    return flags


def _network_static(executions: list["Execution"], by_id: dict[str, "Cell"]) -> list["Flag"]:
    from repro_kernel.analysis.engine import Flag

    flags = []
    for execution in executions:
        facts = execution.facts
        what = facts.urls[:1] or facts.network_calls[:1]
        if what and execution.cell in by_id:
            flags.append(Flag(
                "network-input", [execution.cell], f"{by_id[execution.cell].label} fetches {what[0]} at run time",
                "download the data once into the project and read the local copy",
                details={"urls": facts.urls, "calls": facts.network_calls},
            ))
    return flags


# -- randomness --------------------------------------------------------------------------------------

def _randomness(executions: list["Execution"], cells: list["Cell"], context: "Context", by_id: dict[str, "Cell"]) -> list["Flag"]:
    from repro_kernel.analysis.engine import Flag

    seeded: set[str] = set()
    unseeded: dict[str, list["Execution"]] = {}
    if not context.have_journal:
        # a bare notebook: page order is the best guess of what a reader would run
        order = sorted(executions, key=lambda e: by_id[e.cell].index if e.cell in by_id else 10**9)
        ran = {e.cell for e in executions}
        from repro_kernel.analysis.engine import Execution
        from repro_kernel.core.dataflow import analyze_code

        order += [Execution(0, c.id, c.source, None, True, analyze_code(c.source)) for c in cells
                  if c.cell_type == "code" and c.id not in ran]
        order.sort(key=lambda e: by_id[e.cell].index if e.cell in by_id else 10**9)
        executions = order
    for execution in executions:
        if "random" not in execution.tags:
            continue
        facts = execution.facts
        for _call, source, _value in facts.seeds:
            seeded.update(("python", "numpy", "torch", "torch_cuda", "tensorflow") if source in ("all", None) else (source,))
        random = execution.record.get("random") if execution.record else None
        if not (facts.random_draws or facts.unseeded_generators or (random and random.get("unseeded_draw"))):
            continue
        random = random or {}
        sources = random.get("sources") or {}
        found: list[str] = []
        if random.get("unseeded_draw"):
            found += [s for s, fp in sources.items() if fp.get("before") and fp.get("before") != fp.get("after")
                      and s not in seeded]
            found += ["generator" for g in random.get("generators") or () if not g.get("seeded")]
        for _call, source in facts.random_draws:
            before = (sources.get(source) or {}).get("before", None)
            if source not in seeded and (not execution.record or before is None):
                found.append(source)  # a draw the state diff could not see (the module was imported here)
        if facts.unseeded_generators and (not execution.record or not random.get("generators")):
            found.append("generator")
        if random.get("unseeded_draw") and not found:
            found.append("numpy" if "numpy" in sources else "python")
        for source in dict.fromkeys(found):
            unseeded.setdefault(source, []).append(execution)
    flags = []
    for source, drawn in unseeded.items():
        cells_ = _cells_of(drawn, by_id)
        fix = ("pass a seed: np.random.default_rng(42)" if source == "generator"
               else "seed it once at the top, e.g. `%repro seed 42` (seeds random, NumPy, torch, TensorFlow)")
        flags.append(Flag(
            "unseeded-randomness", cells_,
            f"{_labels(cells_, by_id, drawn)} drew from {_SOURCES_NAMES.get(source, source)} with no seed set",
            fix, details={"source": source},
        ))
    return flags


# -- environment ----------------------------------------------------------------------------------

@lru_cache(maxsize=1)
def current_environment() -> dict[str, Any]:
    """Python version and installed distributions of the process running the check."""
    from repro_kernel.core.environment import installed_distributions

    return {"python": {"version": platform.python_version()}, "distributions": installed_distributions()}


def previous_environment(journal: Any, notebook: Optional[str], session_id: Optional[str],
                         cache: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The environment of the session of ``notebook`` recorded just before ``session_id`` (cached)."""
    key = f"prev:{getattr(journal, 'database_path', '')}:{notebook}:{session_id}"
    if key in cache:
        return cache[key]
    found = None
    try:
        sessions = journal.sessions(notebook=notebook) if notebook else []
        ids = [s["session_id"] for s in sessions]
        if session_id in ids:
            index = ids.index(session_id)
            found = sessions[index - 1]["environment"] if index > 0 else None
    except Exception:
        found = None
    cache[key] = found
    return found


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _environment(executions: list["Execution"], context: "Context", by_id: dict[str, "Cell"]) -> list["Flag"]:
    from repro_kernel.analysis.engine import Flag

    flags = []
    start = (context.environment or {}).get("distributions") or {}
    imported: dict[str, tuple[Optional[str], "Execution"]] = {}
    changed: list[tuple[str, str, str, "Execution"]] = []
    for execution in executions:
        if "environment" not in execution.tags:
            continue
        for module in (execution.record or {}).get("modules") or ():
            dist = module.get("distribution")
            if not dist:
                continue
            dist = _normalise(dist)
            imported.setdefault(dist, (module.get("version"), execution))
            before = start.get(dist)
            if before and module.get("version") and module["version"] != before:
                changed.append((dist, before, module["version"], execution))
    installers = [e for e in executions if "environment" in e.tags and e.facts.installs]
    if installers or changed:
        cells = _cells_of(installers + [c[3] for c in changed], by_id)
        what = (f"{changed[0][0]} went from {changed[0][1]} to {changed[0][2]}" if changed
                else f"packages were installed by {installers[0].facts.installs[0][:60]!r}")
        flags.append(Flag(
            "environment-drift", cells, f"the environment changed during the session: {what}",
            "put the packages in requirements.txt/environment.yml, restart the kernel and run all",
            details={"changed": [{"distribution": d, "from": a, "to": b} for d, a, b, _e in changed],
                     "installs": [i for e in installers for i in e.facts.installs]},
        ))
    recorded_python = ((context.environment or {}).get("python") or {}).get("version")
    for label, other in (("an earlier session of this notebook", context.previous_environment),
                         ("this environment", context.current_environment)):
        if not other or not context.environment:
            continue
        differences = []
        other_python = (other.get("python") or {}).get("version")
        if recorded_python and other_python and recorded_python.rsplit(".", 1)[0] != other_python.rsplit(".", 1)[0]:
            differences.append(f"Python {recorded_python} vs {other_python}")
        other_dists = other.get("distributions") or {}
        for dist, (version, _e) in imported.items():
            if version and dist in other_dists and other_dists[dist] != version:
                differences.append(f"{dist} {version} vs {other_dists[dist]}")
            elif version and other_dists and dist not in other_dists and label == "this environment":
                differences.append(f"{dist} {version} vs not installed")
        if differences:
            cells = _cells_of([e for _v, e in imported.values()], by_id)
            flags.append(Flag(
                "environment-drift", cells,
                f"the session ran with {', '.join(differences[:3])}{' ...' if len(differences) > 3 else ''} "
                f"({label})", "pin the versions the session used (requirements.txt from `jupyter repro export`)",
                details={"compared_with": label, "differences": differences},
            ))
    if not context.have_journal:
        language = (context.notebook_metadata.get("language_info") or {}).get("version")
        here = platform.python_version()
        if language and language.rsplit(".", 1)[0] != here.rsplit(".", 1)[0] and language[0] == "3":
            flags.append(Flag(
                "environment-drift", [], f"the notebook was saved by Python {language}; this is Python {here}",
                "run it with the Python version it was written for, or re-run and save it here",
                details={"saved_with": language, "here": here},
            ))
    return flags


# -- GPU ------------------------------------------------------------------------------------------

def _gpu(executions: list["Execution"], context: "Context", by_id: dict[str, "Cell"]) -> list["Flag"]:
    from repro_kernel.analysis.engine import Flag

    frameworks: dict[str, list["Execution"]] = {}
    settings: set[str] = set()
    gpu_hint: list["Execution"] = []
    for execution in executions:
        if "gpu" not in execution.tags:
            continue
        facts = execution.facts
        modules = execution.record.get("modules") if execution.record else None
        names = list(facts.imported_modules) + [m.get("name") for m in modules or ()]
        for name in names:
            framework = GPU_FRAMEWORKS.get(str(name))
            if framework:
                frameworks.setdefault(framework, []).append(execution)
        settings.update(framework for _setting, framework in execution.facts.determinism)
        if execution.facts.gpu_uses:
            gpu_hint.append(execution)
    variables = (context.environment or {}).get("environment_variables") or {}
    for name, (framework, accepted) in _DETERMINISM_ENV_VALUES.items():
        value = variables.get(name)
        if value is None:
            continue
        if accepted is None or (isinstance(accepted, tuple) and value in accepted) or (
            isinstance(accepted, str) and accepted in str(value)
        ):
            settings.add(framework)
    has_gpu = bool(((context.environment or {}).get("machine") or {}).get("gpus")) or bool(gpu_hint)
    flags: list[Flag] = []
    if not has_gpu:
        return flags
    for framework, users in frameworks.items():
        if framework in settings:
            continue
        cells = _cells_of(users + gpu_hint, by_id)
        flags.append(Flag(
            "nondeterministic-gpu", cells,
            f"{framework} ran with a GPU available but without its deterministic settings: results can vary run to run",
            _DETERMINISM_FIX.get(framework, f"enable {framework}'s deterministic mode") + " in the first cell",
            details={"framework": framework},
        ))
    return flags


__all__ = ["analyze_data", "current_environment", "previous_environment", "Preservation"]
