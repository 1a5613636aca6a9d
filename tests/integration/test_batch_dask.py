"""`jupyter repro verify PATH... --dask ADDRESS` on a real Dask scheduler and two worker processes on 127.0.0.1,
one of them killed mid-batch: its task runs again on the other, every item gets its result, nothing hangs."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from repro_kernel.testing import environment
from tests.cli.test_batch_cli import record_exports

DASK = str(Path(sys.executable).with_name("dask"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                            env=environment(env or {}))


def stop(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


@pytest.fixture
def cluster() -> Iterator[tuple[str, dict[str, subprocess.Popen[bytes]]]]:
    """A scheduler and two single-threaded workers (no nanny: a killed worker stays dead)."""
    from distributed import Client

    address = f"tcp://127.0.0.1:{free_port()}"
    scheduler = start([DASK, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                       "--no-dashboard"])
    # Every replay sleeps a little (the env notebook reads this), so that a worker can be killed mid-task.
    workers = {name: start([DASK, "worker", address, "--name", name, "--nthreads", "1", "--no-nanny",
                            "--no-dashboard", "--host", "127.0.0.1"], env={"REPRO_BATCH_SLEEP": "3"})
               for name in ("w1", "w2")}
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(OSError, TimeoutError):
                with Client(address, timeout="5s") as client:
                    if len(client.scheduler_info()["workers"]) == 2:
                        break
            assert time.monotonic() < deadline, "the Dask cluster did not start"
            time.sleep(0.5)
        yield address, workers
    finally:
        for process in [*workers.values(), scheduler]:
            stop(process)


@pytest.mark.slow
def test_a_batch_on_dask_survives_a_worker_killed_mid_batch(
    tmp_path: Path, cluster: tuple[str, dict[str, subprocess.Popen[bytes]]]
) -> None:
    from distributed import Client

    address, workers = cluster
    material = record_exports(tmp_path / "recorded")
    exports = []
    for copy in range(4):  # four copies of the env project: each replay sleeps 3 s on its worker
        shutil.copytree(material["env"].parent, tmp_path / f"p{copy}")
        exports.append(str(tmp_path / f"p{copy}" / "env.repro"))
    exports.append(str(material["pid"]))  # one that does not reproduce: reported as such, from a worker
    batch = subprocess.Popen([sys.executable, "-m", "repro_kernel.cli", "verify", *exports, "--dask", address,
                              "--json", "--junit", str(tmp_path / "dask.xml")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with Client(address, timeout="10s") as client:
            deadline = time.monotonic() + 120
            killed_address = None
            while killed_address is None:
                assert time.monotonic() < deadline and batch.poll() is None, "no task ever ran on w1"
                info = client.scheduler_info()["workers"]
                by_name = {w["name"]: a for a, w in info.items()}
                if by_name.get("w1") and client.processing().get(by_name["w1"]):
                    time.sleep(1.0)  # mid-replay
                    stop(workers["w1"])
                    killed_address = by_name["w1"]
                else:
                    time.sleep(0.2)
        stdout, stderr = batch.communicate(timeout=300)
    finally:
        if batch.poll() is None:
            batch.kill()
    assert batch.returncode == 1, stderr[-2000:]
    document = json.loads(stdout)
    results = {r["path"]: r for r in document["results"]}
    assert list(results) == exports  # every item has its result, in order
    assert [results[p]["status"] for p in exports[:4]] == ["reproduced"] * 4, stdout
    assert results[exports[4]]["status"] == "not-reproduced"
    assert results[exports[4]]["steps"][0]["outcome"] == "differs"
    survivors = {r["worker"] for r in results.values()} - {killed_address}
    assert survivors and all(w.startswith("tcp://127.0.0.1:") for w in survivors)
    assert (tmp_path / "dask.xml").read_text().count("<testcase ") == 5


@pytest.mark.slow  # the client waits its connect timeout (10 s)
def test_an_unreachable_scheduler_is_one_line_and_exit_2(tmp_path: Path) -> None:
    from repro_kernel.testing import cli_in_process

    for name in ("a", "b"):
        (tmp_path / f"{name}.repro").mkdir()
        (tmp_path / f"{name}.repro" / "manifest.json").write_text("{}")
    result = cli_in_process("verify", "a.repro", "b.repro", "--dask", f"tcp://127.0.0.1:{free_port()}", cwd=tmp_path,
                            timeout=60)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "cannot reach the Dask scheduler" in result.stderr and "dask scheduler" in result.stderr
