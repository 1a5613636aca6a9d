"""``--dask ADDRESS``: each item of a batch is one task on an existing Dask distributed cluster.

The task is :func:`repro_kernel.export.batch.run_one`: the worker runs ``jupyter repro verify|check PATH --json`` in
a process of its own (so each replay gets its own kernel, and a kernel that dies takes only its item with it) and
returns a small dict. **Exports are read from a shared path**, not shipped with the task: the coordinator sends
absolute paths, so every worker must see the exports (and their data) at the same path and have jupyter-repro and
the notebooks' packages installed; on one machine (127.0.0.1) that holds by itself, on a cluster put the
repository on a shared file system.

A worker that dies mid-task: the scheduler runs its tasks again elsewhere (up to its
``distributed.scheduler.allowed-failures``, 3 by default), then the item is reported ``crashed``. A task that runs
past ``--task-timeout`` is stopped on its worker and reported ``timeout``. With no worker left for
``NO_WORKER_GRACE`` seconds, what is still pending is reported ``crashed`` rather than waited on forever.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Sequence
from typing import Any, Callable, Optional

from repro_kernel.exceptions import BadInputError
from repro_kernel.export.batch import BatchResult, run_one

NO_WORKER_GRACE = 60.0
CONNECT_TIMEOUT = "10s"
POLL_SECONDS = 0.05


class DaskUnavailableError(BadInputError):
    """``--dask`` without distributed installed, or a scheduler that cannot be reached."""


def _task(command: str, path: str, options: Sequence[str], task_timeout: Optional[float], cwd: str) -> dict[str, Any]:
    """What a Dask worker runs for one item (a module-level function, so workers import it by name)."""
    from distributed import get_worker

    try:
        worker = get_worker().address
    except ValueError:  # pragma: no cover - run outside a worker
        worker = "dask"
    return run_one(command, path, options, task_timeout=task_timeout, worker=worker, cwd=cwd)


def _client(address: str) -> Any:
    try:
        from distributed import Client
    except ImportError:
        raise DaskUnavailableError("--dask needs dask.distributed, which is not installed",
                                   hint="pip install 'jupyter-repro[dask]'") from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        detail = " ".join(str(exc).split())[:160] or type(exc).__name__
        raise DaskUnavailableError(f"cannot reach the Dask scheduler at {address} ({detail})",
                                   hint="start one with `dask scheduler` and workers with `dask worker ADDRESS`, "
                                        "or check the address") from None


def _has_workers(client: Any) -> bool:
    try:
        return bool(client.scheduler_info().get("workers"))
    except (OSError, TimeoutError):
        return False


def _failed(path: str, exc: BaseException, seconds: float) -> BatchResult:
    name = type(exc).__name__
    if name == "KilledWorker":
        why = f"its Dask worker died while running it, on every try ({' '.join(str(exc).split())[:200]})"
    elif name == "CancelledError" or "Cancelled" in name:
        why = "its Dask task was cancelled"
    else:
        why = f"its Dask task failed: {name}: {' '.join(str(exc).split())[:300]}"
    return BatchResult(path, "crashed", 1, seconds, "dask", problems=[why])


def run_dask(address: str, command: str, items: Sequence[str], options: Sequence[str], *,
             task_timeout: Optional[float] = None,
             on_done: Callable[[BatchResult], None] = lambda result: None,
             no_worker_grace: float = NO_WORKER_GRACE) -> list[BatchResult]:
    """Run ``items`` (absolute paths) as tasks on the cluster at ``address``; results in the order of ``items``."""
    client = _client(address)
    started = time.perf_counter()
    batch = uuid.uuid4().hex[:8]
    results: dict[str, BatchResult] = {}
    try:
        futures = {client.submit(_task, command, path, list(options), task_timeout, os.getcwd(), pure=False,
                                 key=f"repro-{command}-{batch}-{number}"): path
                   for number, path in enumerate(items)}
        pending = set(futures)
        last_worker_seen = next_check = time.monotonic()
        while pending:
            done = {future for future in pending if future.done()}
            pending -= done
            for future in done:
                path = futures[future]
                if future.status == "finished":
                    result = BatchResult(**future.result())
                else:
                    result = _failed(path, future.exception() or RuntimeError(future.status),
                                     time.perf_counter() - started)
                results[path] = result
                on_done(result)
            if not pending:
                break
            now = time.monotonic()
            if now >= next_check:  # one round trip to the scheduler a second, not one a poll
                next_check = now + 1.0
                if _has_workers(client):
                    last_worker_seen = now
                elif now - last_worker_seen > no_worker_grace:
                    for future in pending:
                        result = BatchResult(futures[future], "crashed", 1, time.perf_counter() - started, "dask",
                                             problems=[f"no Dask worker left at {address} for {no_worker_grace:g} s"])
                        results[result.path] = result
                        on_done(result)
                        future.cancel()
                    break
            if not done:
                time.sleep(POLL_SECONDS)
    finally:
        client.close()
    return [results[path] for path in items]
