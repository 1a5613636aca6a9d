"""One batch from start to end, as ``jupyter repro verify|check PATH...`` runs it: expand the paths, skip what
``--since-last`` allows, run the rest here (``--jobs``) or on Dask (``--dask``), with one progress bar, then write
the reports and print the summary table (or ``--json``). Returns the batch's exit code."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from repro_kernel.exceptions import BadInputError
from repro_kernel.export.batch import BatchResult, batch_exit_code, default_jobs, expand_paths, is_export, run_local
from repro_kernel.export.batch_dask import run_dask
from repro_kernel.export.batch_report import dumps, render_summary, to_json, write_html, write_junit
from repro_kernel.export.batch_state import STATE_NAME, BatchState, fingerprint


@dataclass
class BatchRequest:
    """What the command line asked of a batch."""

    command: str  # verify | check
    paths: list[str]
    options: list[str] = field(default_factory=list)  # passed on to every item's process
    jobs: int = 0  # 0: the number of cores
    dask: str = ""
    task_timeout: Optional[float] = None
    json_output: bool = False
    junit: str = ""
    html: str = ""
    since_last: bool = False
    state_file: str = ""


def _report_path(option: str, value: str) -> Optional[Path]:
    if not value:
        return None
    path = Path(value)
    try:
        writable = not path.is_dir() and (path.parent if str(path.parent) else Path(".")).is_dir() and \
            len(path.name.encode("utf-8", "surrogateescape")) < 256
    except (OSError, ValueError):  # a NUL byte, a name past the file system's limit
        writable = False
    if not writable:
        raise BadInputError(f"cannot write the {option} report to {value[:120]}", hint="name a file in an existing folder")
    return path


class _Bar:
    """One rich progress bar for the whole batch, on stderr when it is a terminal."""

    def __init__(self, enabled: bool, command: str, total: int) -> None:
        self.progress: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        console = Console(stderr=True)
        if not console.is_terminal:
            return
        self.progress = Progress(TextColumn(f"{command}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                                 TextColumn("{task.fields[failed]} failed"), console=console, transient=True)
        self.task = self.progress.add_task(command, total=total, failed=0)
        self.failed = 0
        self.progress.start()

    def advance(self, result: BatchResult) -> None:
        if self.progress is not None:
            self.failed += not result.passed
            self.progress.update(self.task, advance=1, failed=self.failed)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def run_batch(request: BatchRequest) -> int:
    command = request.command
    junit, page = _report_path("--junit", request.junit), _report_path("--html", request.html)
    items = expand_paths(request.paths, command)
    started = time.perf_counter()
    state = BatchState(Path(request.state_file or STATE_NAME)) if request.since_last else None
    prints: dict[Path, Optional[str]] = {}
    results: dict[Path, BatchResult] = {}
    for item in items:
        if state is None:
            continue
        prints[item] = fingerprint(item, [command, *request.options]) if is_export(item) else None
        if state.unchanged(command, item, prints[item]):
            results[item] = BatchResult(str(item), "skipped", 0, 0.0, "",
                                        warnings=["unchanged since its last success (--since-last)"])
    todo = [item for item in items if item not in results]
    jobs: Any = f"dask {request.dask}" if request.dask else (request.jobs or default_jobs())
    bar = _Bar(not request.json_output, command, len(todo))
    try:
        if request.dask:
            done = run_dask(request.dask, command, [os.path.abspath(i) for i in todo], request.options,
                            task_timeout=request.task_timeout, on_done=bar.advance)
        else:
            done = run_local(command, [str(i) for i in todo], request.options, jobs=int(jobs),
                             task_timeout=request.task_timeout, on_done=bar.advance)
    finally:
        bar.stop()
    for item, result in zip(todo, done):
        result.path = str(item)
        results[item] = result
        if state is not None:
            state.record(command, item, prints.get(item), result.status, result.passed)
    ordered = [results[item] for item in items]
    wall = time.perf_counter() - started
    if state is not None:
        state.save()
    if junit is not None:
        write_junit(junit, command, ordered, wall)
    if page is not None:
        write_html(page, command, ordered, wall, jobs)
    if request.json_output:
        print(dumps(to_json(command, ordered, wall, jobs)))
    else:
        print(render_summary(command, ordered, wall, jobs), end="")
        for where, what in ((junit, "JUnit"), (page, "HTML")):
            if where is not None:
                print(f"{what} report: {where}")
    sys.stdout.flush()
    return batch_exit_code(ordered)
