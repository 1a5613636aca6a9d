"""The environment a session ran in: interpreter, OS, hardware, packages, git, allowed variables.

Captured once when recording starts (it costs tens of milliseconds, never per cell); modules imported later
are resolved to their distributions through a map built here.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
from collections.abc import Mapping
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

from repro_kernel.core.gitsafe import GitFailed, SafeGit
from repro_kernel.core.redact import filter_environment, redact_url


def installed_distributions() -> dict[str, str]:
    """Every installed distribution and its version, by normalised name.

    Names and versions are read from the ``<name>-<version>.dist-info`` folder names (what installers
    write), which is hundreds of times faster than parsing every METADATA file; only other layouts (old
    ``.egg-info``) fall back to the metadata.
    """
    found: dict[str, str] = {}
    for dist in metadata.distributions():
        folder = getattr(dist, "_path", None)
        name = getattr(folder, "name", "")
        if name.endswith(".dist-info") and "-" in name:
            dist_name, version = name[: -len(".dist-info")].rsplit("-", 1)
            found.setdefault(_normalise(dist_name), version)
            continue
        names = dist.metadata.get_all("Name") if dist.metadata else None  # the first one is what .get() gives
        meta_name = names[0] if names else None
        if meta_name:
            found.setdefault(_normalise(meta_name), dist.version)
    return dict(sorted(found.items()))


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@lru_cache(maxsize=1)
def _module_to_distributions() -> Mapping[str, list[str]]:
    return metadata.packages_distributions()


# Top-level modules of Python itself: no distribution provides them.
STANDARD_MODULES = frozenset(getattr(sys, "stdlib_module_names", ())) | frozenset(sys.builtin_module_names)


def _installed_since_cached(module: str) -> bool:
    """Whether a module missing from the cached table may come from a distribution installed since (a
    `%pip install` in the session): only then is the table, which costs ~100 ms to build, read again."""
    if module in STANDARD_MODULES:
        return False
    found = sys.modules.get(module)
    file = getattr(found, "__file__", None) or ""
    return "site-packages" in file or "dist-packages" in file


def distribution_of(module: str) -> tuple[Optional[str], Optional[str]]:
    """The (distribution, version) that provides top-level ``module``, or (None, None) if none does."""
    dists = _module_to_distributions().get(module)
    if not dists and _installed_since_cached(module):
        _module_to_distributions.cache_clear()
        dists = _module_to_distributions().get(module)
    if not dists:
        return None, None
    name = dists[0]
    try:
        return _normalise(name), metadata.version(name)
    except metadata.PackageNotFoundError:
        return _normalise(name), None


def kernel_distributions(roots: tuple[str, ...] = ("ipykernel", "ipython", "jupyter-repro")) -> frozenset[str]:
    """Distributions the kernel itself needs (and imports lazily, e.g. to format a traceback).

    Modules from these are not attributed to a cell unless the cell imports them by name.
    """
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        name = _normalise(todo.pop())
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for req in requires:
            if "extra ==" in req:
                continue
            dep = req.split(";")[0].strip()
            for stop in "<>=!~[ (":
                dep = dep.split(stop)[0]
            if dep:
                todo.append(dep)
    return frozenset(seen)


def _memory_bytes() -> Optional[int]:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def _cpu_model() -> Optional[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def gpus() -> list[dict[str, Any]]:
    """GPUs seen by ``nvidia-smi``; an empty list when there are none or no driver."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return []
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    found = []
    for line in out.strip().splitlines():
        parts = [p.strip() for p in line.split(",")]
        if len(parts) == 3:
            found.append({"name": parts[0], "memory": parts[1], "driver": parts[2]})
    return found


def git_state(path: Path) -> Optional[dict[str, Any]]:
    """Commit, branch, remote and dirty files of the git repository holding ``path``, or None.

    Every git command goes through :class:`~repro_kernel.core.gitsafe.SafeGit`, so nothing the repository
    configures (fsmonitor, filters, diff drivers, hooks) runs. Files under a filter driver are therefore
    compared as they are on disk, and a submodule counts as dirty only when its checked-out commit changed.
    """
    try:
        repo = SafeGit.open(path)
    except Exception as exc:  # a repository git refuses is recorded as such, never raised into the cell
        return {"root": None, "error": _failure(exc)}
    if repo is None:
        return None
    state: dict[str, Any] = {"root": str(repo.root)}
    try:
        state["commit"] = repo.text("rev-parse", "--verify", "-q", "HEAD^{commit}", ok=(0, 1)) or None
        ref = repo.text("symbolic-ref", "-q", "HEAD", ok=(0, 1))
        state["branch"] = ref[len("refs/heads/"):] if ref.startswith("refs/heads/") else None
        names = repo.text("remote").splitlines()
        remote = None
        if names:
            name = "origin" if "origin" in names else names[0]
            urls = repo.text("remote", "get-url", "--all", name, ok=(0, 2)).splitlines()
            remote = redact_url(urls[0] if urls else "") or None
        state["remote"] = remote
        state["untracked"] = len(_paths(repo.run("ls-files", "--others", "--exclude-standard", "-z")))
        dirty = _paths(repo.diff("--name-only", "-z", "--no-renames"))
        if state["commit"]:
            dirty |= _paths(repo.diff("--cached", "--name-only", "-z", "--no-renames", "HEAD"))
        state["dirty"] = sorted(dirty)
        state["diff_hash"] = repo.diff_digest("HEAD") if state["commit"] else None
        return state
    except Exception as exc:  # a broken repository is recorded as such, never raised into the cell
        return {**state, "error": _failure(exc)}


def _failure(exc: Exception) -> str:
    return str(exc) if isinstance(exc, GitFailed) else f"{type(exc).__name__}: {exc}"


def _paths(output: bytes) -> set[str]:
    return {p for p in output.decode("utf-8", "surrogateescape").split("\0") if p}


def _version_of(dist: str) -> Optional[str]:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _fixed_hash_seed() -> Optional[str]:
    value = os.environ.get("PYTHONHASHSEED")
    if value is None or value == "random":
        return "0" if not sys.flags.hash_randomization else None
    return value


def _timezone() -> dict[str, Any]:
    import time

    return {"names": list(time.tzname), "utc_offset_s": -time.timezone, "dst": bool(time.daylight)}


def _locale() -> dict[str, Optional[str]]:
    import locale

    try:
        language, encoding = locale.getlocale()
    except ValueError:
        language, encoding = None, None
    return {"language": language, "encoding": encoding, "preferred_encoding": locale.getpreferredencoding(False)}


def capture_environment(
    notebook_dir: Path, notebook: Optional[str], extra_env: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Everything about the session's environment that could change a result."""
    distributions = installed_distributions()
    env = {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "prefix": sys.prefix,
            # The seed of str hashes (and so of set iteration order) when it is fixed; None when random.
            "hash_seed": _fixed_hash_seed(),
        },
        "os": {"system": platform.system(), "release": platform.release(), "platform": platform.platform(),
               # What formats dates and numbers when no variable says: the process's own settings.
               "timezone": _timezone(), "locale": _locale()},
        "machine": {
            "arch": platform.machine(),
            "cpu": _cpu_model(),
            "cpu_count": os.cpu_count(),
            "memory_bytes": _memory_bytes(),
            "gpus": gpus(),
        },
        "kernel": {
            "ipython": _version_of("ipython"),
            "ipykernel": _version_of("ipykernel"),
            "jupyter_client": _version_of("jupyter-client"),
            "jupyter_core": _version_of("jupyter-core"),
            "jupyter_repro": _version_of("jupyter-repro"),
        },
        "notebook": notebook,
        "cwd": os.getcwd(),
        "git": git_state(notebook_dir),
        "environment_variables": filter_environment(os.environ, extra_env),
        "distributions": distributions,
    }
    env["fingerprint"] = environment_fingerprint(env)
    return env


def environment_fingerprint(env: dict[str, Any]) -> str:
    """A short digest of what decides results: Python version, platform and package versions."""
    key = {
        "python": env["python"]["version"],
        "system": env["os"]["system"],
        "arch": env["machine"]["arch"],
        "distributions": env["distributions"],
    }
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:12]
