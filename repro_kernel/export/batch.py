"""Batch verify and check: many exports and notebooks, N replays at once, one result per item.

``expand_paths`` turns what a user typed (exports, notebooks, folders, globs) into the items of a batch;
``run_one`` runs one item as ``jupyter repro verify|check PATH --json`` in a process of its own (its own kernel,
its own process group, killed whole on a task timeout) and turns what it printed into a :class:`BatchResult`;
``run_local`` runs a batch on this machine with ``jobs`` of them at once. The coordinator only starts processes and
reads JSON: comparing outputs stays in :func:`repro_kernel.export.verify.verify_export` and judging a notebook in
:func:`repro_kernel.analysis.analyze_notebook`, which the child runs. ``run_one`` is also the task a Dask worker
runs (:mod:`repro_kernel.export.batch_dask`): plain arguments in, a plain dict out.

How a folder is expanded: for ``verify``, every export under it (a folder holding ``manifest.json``; not searched
further) and every notebook beside a ``.repro/`` journal that has no ``<name>.repro`` export beside it; for
``check``, every notebook under it. Hidden folders, ``.ipynb_checkpoints`` and the insides of exports are skipped.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from repro_kernel.exceptions import BadInputError

MANIFEST = "manifest.json"
GLOB_CHARS = frozenset("*?[")
# What each command's exit code means for one item; timeouts and crashes come on top.
STATUS_BY_EXIT = {
    "verify": {0: "reproduced", 1: "not-reproduced", 2: "bad-input"},
    "check": {0: "clean", 1: "flagged", 2: "bad-input"},
}
PASSED = frozenset({"reproduced", "clean", "skipped"})
FAILING_OUTCOMES = frozenset({"differs", "error"})  # shown first; other outcomes (not-run, ...) after them
FIRST_STEPS = 3  # how many differing steps a failure carries into JUnit and the summary


class BatchInputError(BadInputError):
    """A path of a batch names nothing that can be verified or checked."""


@dataclass
class BatchResult:
    """One item of a batch: what its process reported (``--json``), or why it gave no report."""

    path: str
    status: str  # reproduced | not-reproduced | clean | flagged | bad-input | timeout | crashed | skipped
    exit_code: int
    seconds: float = 0.0
    worker: str = ""
    steps: list[dict[str, Any]] = field(default_factory=list)  # verify: the child's steps
    flags: list[dict[str, Any]] = field(default_factory=list)  # check: the child's flags
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    child_seconds: Optional[float] = None  # what the child itself measured (its total_seconds), when it said
    # verify: where it ran and what drifted (--fresh-env, --upgrade), as the child's report says
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.status in PASSED

    def first_failures(self, limit: int = FIRST_STEPS) -> list[dict[str, Any]]:
        """The first steps that did not reproduce (verify) or the first flags (check)."""
        failing = [s for s in self.steps if s.get("outcome") in FAILING_OUTCOMES]
        failing = failing or [s for s in self.steps if s.get("outcome") != "reproduced"]
        return (failing or self.flags)[:limit]

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(out.pop("extra"))
        out["seconds"] = round(self.seconds, 4)
        if out["child_seconds"] is not None:
            out["child_seconds"] = round(out["child_seconds"], 4)
        return out


def batch_exit_code(results: Sequence[BatchResult]) -> int:
    """0 when every item passed (or was skipped), 2 when some item was bad input, 1 otherwise."""
    if any(r.status == "bad-input" for r in results):
        return 2
    return 0 if all(r.passed for r in results) else 1


# -- which items ------------------------------------------------------------------------------------------


def is_export(path: Path) -> bool:
    return path.is_dir() and (path / MANIFEST).is_file()


def _walk(root: Path) -> Iterator[tuple[Path, list[str], list[str]]]:
    for parent, dirs, files in os.walk(root):
        here = Path(parent)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        yield here, dirs, sorted(files)


def _folder_items(root: Path, command: str) -> list[Path]:
    found: list[Path] = []
    if command == "verify" and is_export(root):
        return [root]
    for here, dirs, files in _walk(root):
        if command == "verify":
            exports = [d for d in dirs if is_export(here / d)]
            found += [here / d for d in exports]
            dirs[:] = [d for d in dirs if d not in exports]
            if (here / ".repro").is_dir():
                found += [here / f for f in files if f.endswith(".ipynb") and not is_export(here / (f[:-6] + ".repro"))]
        else:
            dirs[:] = [d for d in dirs if not is_export(here / d)]
            found += [here / f for f in files if f.endswith(".ipynb")]
    return found


def expand_paths(paths: Sequence[str], command: str) -> list[Path]:
    """The items ``paths`` name, in the order given, each once (see the module docstring for folders)."""
    if not paths:
        raise BatchInputError(f"no path given to {command}", hint="name exports, notebooks, folders or globs")
    items: list[Path] = []
    for given in paths:
        matches = [Path(given)]
        if not os.path.lexists(given) and GLOB_CHARS & set(given):
            matches = [Path(m) for m in sorted(glob.glob(given, recursive=True))]
            if not matches:
                raise BatchInputError(f"the glob {given!r} matches nothing",
                                      hint="quote it relative to the folder you run in, e.g. 'notebooks/**/*.ipynb'")
        for match in matches:
            if match.is_dir():
                inside = _folder_items(match, command)
                if not inside and len(matches) == 1:
                    what = "export or recorded notebook" if command == "verify" else "notebook"
                    raise BatchInputError(f"{match} is a folder with no {what} under it",
                                          hint=f"pass the folders `jupyter repro export` wrote, or notebooks to {command}")
                items += inside
            elif match.suffix == ".ipynb" and match.is_file():
                items.append(match)
            elif not os.path.lexists(match):
                what = "one export folder or notebook, or several exports" if command == "verify" else \
                    "one notebook path, or several notebooks"
                raise BatchInputError(f"{match} does not exist", hint=f"pass {what}, folders or globs that exist")
            else:
                raise BatchInputError(f"{match} is neither an export folder nor a notebook",
                                      hint="pass the folder `jupyter repro export` wrote, or a .ipynb")
    unique: dict[str, Path] = {}
    for item in items:
        unique.setdefault(os.path.realpath(item), item)
    return list(unique.values())


# -- one item -----------------------------------------------------------------------------------------------


def command_line(command: str, path: str, options: Sequence[str]) -> list[str]:
    """The child's command line: this interpreter running our CLI, JSON on stdout."""
    return [sys.executable, "-m", "repro_kernel.cli", command, "--json", *options, "--", path]


_RUNNING: dict[int, subprocess.Popen[str]] = {}
_RUNNING_LOCK = threading.Lock()


def _kill_group(process: subprocess.Popen[str]) -> None:
    """The child and its kernel: each child leads a process group of its own."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


def stop_all() -> None:
    """Kill every child still running (Ctrl-C on the coordinator)."""
    with _RUNNING_LOCK:
        running = list(_RUNNING.values())
    for process in running:
        _kill_group(process)


def run_one(command: str, path: str, options: Sequence[str] = (), *, task_timeout: Optional[float] = None,
            worker: str = "", cwd: Optional[str] = None) -> dict[str, Any]:
    """Run one item in its own process and return its :class:`BatchResult` as a dict (a Dask task's result)."""
    started = time.perf_counter()
    process = subprocess.Popen(command_line(command, path, options), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, cwd=cwd, start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    with _RUNNING_LOCK:
        _RUNNING[process.pid] = process
    try:
        stdout, stderr = process.communicate(timeout=task_timeout or None)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        return asdict(BatchResult(path, "timeout", 1, time.perf_counter() - started, worker,
                                  problems=[f"still running after {task_timeout:g} s (--task-timeout): stopped"]))
    finally:
        _kill_group(process)  # a kernel the child left behind
        with _RUNNING_LOCK:
            _RUNNING.pop(process.pid, None)
    seconds = time.perf_counter() - started
    return asdict(result_from_output(command, path, process.returncode, stdout, stderr, seconds, worker))


def result_from_output(command: str, path: str, code: int, stdout: str, stderr: str, seconds: float,
                       worker: str) -> BatchResult:
    """What a child's exit code and ``--json`` output say about its item."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else str(-code)
        return BatchResult(path, "crashed", 1, seconds, worker, problems=[f"the verify process was killed ({name})"])
    try:
        report = json.loads(stdout)
    except ValueError:
        report = None
    if not isinstance(report, dict) and any("DeadKernelError" in line or "Kernel died" in line for line in lines):
        return BatchResult(path, "crashed", 1, seconds, worker, problems=["the kernel died during the replay"])
    if not isinstance(report, dict) or code not in STATUS_BY_EXIT[command]:
        last = lines[-1] if lines else f"exit {code}, no report"
        status = "bad-input" if code == 2 else "crashed"
        return BatchResult(path, status, 2 if code == 2 else 1, seconds, worker, problems=[last[:500]])
    result = BatchResult(path, STATUS_BY_EXIT[command][code], code, seconds, worker,
                         problems=[str(p) for p in report.get("problems") or []],
                         warnings=[str(w) for w in report.get("warnings") or []])
    if command == "verify":
        result.steps = list(report.get("steps") or [])
        result.child_seconds = report.get("total_seconds")
        result.extra = {k: report[k] for k in ("environment", "drift", "baseline", "drift_unexplained_steps")
                        if k in report}
        if any("died" in str(s.get("detail")) for s in result.steps) and not result.problems:
            result.problems.append("the kernel died during the replay")
    else:
        result.flags = [{k: f.get(k) for k in ("kind", "severity", "message", "fix", "cells")}
                        for f in report.get("flags") or [] if isinstance(f, dict)]
    if code == 2 and not result.problems and lines:
        result.problems.append(lines[-1][:500])
    return result


# -- many items on this machine ------------------------------------------------------------------------------


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def run_local(command: str, items: Sequence[str], options: Sequence[str], *, jobs: int,
              task_timeout: Optional[float] = None,
              on_done: Callable[[BatchResult], None] = lambda result: None) -> list[BatchResult]:
    """Run ``items`` with ``jobs`` processes at once; results in the order of ``items``."""
    slots = threading.local()
    counter = iter(range(1, 1_000_000))

    def task(path: str) -> BatchResult:
        if not hasattr(slots, "name"):
            slots.name = f"local/{next(counter)}"
        return BatchResult(**run_one(command, path, options, task_timeout=task_timeout, worker=slots.name))

    results: dict[str, BatchResult] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="repro-batch")
    try:
        futures = {pool.submit(task, path): path for path in items}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            on_done(result)
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        stop_all()
        raise
    pool.shutdown()
    return [results[path] for path in items]
