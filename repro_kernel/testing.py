"""Drive real kernels the way JupyterLab and nbclient do: the one harness of the tests, the demo and the benchmarks.

``LiveKernel`` starts a kernel in a folder, as a notebook server would, and runs code in it: with the
``cellId`` JupyterLab sends with each execute request, or without one, as nbclient runs a notebook. Each run
gives back the reply, the outputs (also as the nbformat nodes a frontend saves), the comm messages the kernel
pushed, and how long the cell took by the kernel's own clock. ``execute_notebook`` records a whole notebook,
top to bottom or in a given order, and saves it; ``run_cli`` is ``jupyter repro ...`` in its own process.
"""

from __future__ import annotations

import ast
import collections
import datetime as dt
import json
import os
import queue
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Callable, Optional, TypedDict

import nbformat
from jupyter_client.manager import KernelManager

from repro_kernel.core.journal import Journal

KERNEL_NAME = os.environ.get("REPRO_TEST_KERNEL", "python3")
START = "%load_ext repro_kernel\n%repro start"

Environment = Mapping[str, Optional[str]]


class Execution(TypedDict):
    """What one execute request gave back."""

    reply: dict[str, Any]  # the execute_reply's content
    stdout: str
    stderr: str
    outputs: list[dict[str, Any]]  # contents of the execute_result, display_data and error messages
    cell_outputs: list[Any]  # the outputs as nbformat nodes, as a frontend saves them (clear_output applied)
    timing: dict[str, str]  # the message times nbclient keeps in a cell's metadata.execution
    kernel_s: Optional[float]  # the kernel's clock: execute_input to execute_reply header dates
    client_s: float  # wall time here, from sending the request to the reply


def environment(changes: Optional[Environment] = None) -> dict[str, str]:
    """This process's environment with ``changes`` applied (a ``None`` value removes the variable)."""
    env = dict(os.environ)
    for name, value in (changes or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def _stamp(msg: dict[str, Any]) -> str:
    date = msg["header"].get("date")
    return date.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if isinstance(date, dt.datetime) else ""


class LiveKernel:
    """A real kernel started in ``folder``; run cells in it, read replies, outputs and comm messages.

    ``notebook`` is the notebook the kernel belongs to: the kernel learns ``folder/notebook`` through
    ``JPY_SESSION_NAME``, as jupyter_server tells it; with ``None`` that variable is left as this process has
    it. ``env`` changes the kernel's environment (a ``None`` value removes a variable). ``timeout`` is the
    default limit in seconds for one cell. ``stop_on_error`` is what execute requests ask by default: JupyterLab
    sends True, nbclient (letting a notebook carry on after an error) False. ``graceful`` asks the kernel to
    shut down at the end, as closing a notebook does, instead of killing it.
    """

    def __init__(
        self,
        folder: Path,
        notebook: Optional[str] = "nb.ipynb",
        *,
        kernel_name: str = KERNEL_NAME,
        env: Optional[Environment] = None,
        timeout: float = 60,
        startup_timeout: float = 60,
        stop_on_error: bool = True,
        graceful: bool = False,
    ) -> None:
        self.folder = Path(folder)
        self.timeout = timeout
        self.stop_on_error = stop_on_error
        self.graceful = graceful
        # Pushes from the kernel (the recorder's status and flags); bounded for sessions of many cells.
        self.comm_messages: collections.deque[dict[str, Any]] = collections.deque(maxlen=10_000)
        self._displays: dict[str, list[Any]] = {}  # display_id -> the output nodes showing it
        changes: dict[str, Optional[str]] = {}
        if notebook is not None:
            changes["JPY_SESSION_NAME"] = str(self.folder / notebook)
        changes.update(env or {})
        self.km = KernelManager(kernel_name=kernel_name)
        # As nbclient does: IPython's history in memory, so kernels neither share nor lock one SQLite file.
        extra = ["--HistoryManager.hist_file=:memory:"] if self.km.ipykernel else []
        self.km.start_kernel(cwd=str(self.folder), env=environment(changes), extra_arguments=extra)
        self.kc = self.km.client()
        self.kc.start_channels()
        try:
            self.kc.wait_for_ready(timeout=startup_timeout)
        except BaseException:
            self.shutdown()
            raise

    def run(
        self,
        code: str,
        cell_id: Optional[str] = None,
        *,
        timeout: Optional[float] = None,
        check: bool = False,
    ) -> Execution:
        """Execute ``code`` (as cell ``cell_id``, if given, the way JupyterLab sends it) and wait until done.

        ``check`` raises RuntimeError, with the traceback, if the cell raised.
        """
        limit = self.timeout if timeout is None else timeout
        msg = self.kc.session.msg(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": self.stop_on_error,
            },
        )
        if cell_id is not None:
            msg["metadata"]["cellId"] = cell_id
        msg_id = msg["header"]["msg_id"]
        started = time.perf_counter()
        deadline = time.monotonic() + limit
        self.kc.shell_channel.send(msg)
        stdout: list[str] = []
        stderr: list[str] = []
        outputs: list[dict[str, Any]] = []
        cell_outputs: list[Any] = []
        timing: dict[str, str] = {}
        started_at: Optional[dt.datetime] = None
        clear_before_next = False
        while True:
            out = self._next(self.kc.get_iopub_msg, deadline, limit)
            kind, content = out["msg_type"], out["content"]
            if out["parent_header"].get("msg_id") != msg_id:
                if kind.startswith("comm"):
                    self.comm_messages.append(content)
                continue
            if kind == "status":
                if content["execution_state"] == "busy":
                    timing["iopub.status.busy"] = _stamp(out)
                elif content["execution_state"] == "idle":
                    timing["iopub.status.idle"] = _stamp(out)
                    break
            elif kind == "execute_input":
                timing["iopub.execute_input"] = _stamp(out)
                started_at = out["header"].get("date")
            elif kind == "clear_output":
                if content.get("wait"):
                    clear_before_next = True
                else:
                    cell_outputs.clear()
            elif kind.startswith("comm"):
                self.comm_messages.append(content)
            elif kind in ("stream", "execute_result", "display_data", "update_display_data", "error"):
                display_id = (content.get("transient") or {}).get("display_id")
                if display_id:
                    self._update_display(display_id, content)
                if kind == "update_display_data":
                    continue
                if clear_before_next:
                    cell_outputs.clear()
                    clear_before_next = False
                node = nbformat.v4.output_from_msg(out)
                cell_outputs.append(node)
                if display_id:
                    self._displays.setdefault(display_id, []).append(node)
                if kind == "stream":
                    (stdout if content["name"] == "stdout" else stderr).append(content["text"])
                else:
                    outputs.append(content)
        reply = self._next(self.kc.get_shell_msg, deadline, limit)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self._next(self.kc.get_shell_msg, deadline, limit)
        client_s = time.perf_counter() - started
        timing["shell.execute_reply"] = _stamp(reply)
        ended_at = reply["header"].get("date")
        kernel_s = None
        if isinstance(started_at, dt.datetime) and isinstance(ended_at, dt.datetime):
            kernel_s = (ended_at - started_at).total_seconds()
        if check and reply["content"].get("status") != "ok":
            error = reply["content"]
            trace = "\n".join(error.get("traceback") or [f"{error.get('ename')}: {error.get('evalue')}"])
            raise RuntimeError(f"the cell raised:\n{code}\n{trace}")
        return {
            "reply": reply["content"],
            "stdout": "".join(stdout),
            "stderr": "".join(stderr),
            "outputs": outputs,
            "cell_outputs": cell_outputs,
            "timing": timing,
            "kernel_s": kernel_s,
            "client_s": client_s,
        }

    def run_cell(
        self,
        cell: nbformat.NotebookNode,
        *,
        send_cell_id: bool = True,
        timeout: Optional[float] = None,
        check: bool = False,
    ) -> Execution:
        """Run a notebook cell and put its outputs, execution count and message times into it, as a frontend
        saves them. ``send_cell_id=False`` runs it as nbclient does, without JupyterLab's ``cellId``."""
        result = self.run(cell.source, cell.get("id") if send_cell_id else None, timeout=timeout, check=check)
        cell.outputs = result["cell_outputs"]
        cell.execution_count = result["reply"].get("execution_count")
        cell.metadata["execution"] = result["timing"]
        return result

    def run_notebook(
        self, nb: nbformat.NotebookNode, order: Optional[Iterable[int]] = None, *, send_cell_ids: bool = False
    ) -> nbformat.NotebookNode:
        """Run ``nb``'s code cells top to bottom, or in ``order`` (indices, repeats allowed), as nbclient does
        (empty cells skipped, no cell ids unless ``send_cell_ids``); each cell keeps its outputs. Returns ``nb``."""
        for index in range(len(nb.cells)) if order is None else order:
            cell = nb.cells[index]
            if cell.cell_type == "code" and cell.source.strip():
                self.run_cell(cell, send_cell_id=send_cell_ids)
        return nb

    def printed_json(self, code: str, timeout: Optional[float] = None) -> Any:
        """Run ``code``, which must succeed and print JSON on its last line of output; return that, parsed."""
        lines = self.run(code, timeout=timeout, check=True)["stdout"].strip().splitlines()
        if not lines:
            raise RuntimeError(f"no output from {code!r}")
        return json.loads(lines[-1])

    def value(self, expression: str) -> Any:
        """Evaluate ``expression`` in the kernel (without recording it) and return its repr, evaluated."""
        msg_id = self.kc.execute(
            "", silent=True, store_history=False, user_expressions={"v": f"repr({expression})"}
        )
        reply = self.kc.get_shell_msg(timeout=30)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=30)
        data = reply["content"]["user_expressions"]["v"]
        if data.get("status") != "ok":
            raise RuntimeError(data)
        return ast.literal_eval(ast.literal_eval(data["data"]["text/plain"]))

    def open_comm(self, comm_id: str, data: dict[str, Any], target: str = "repro") -> list[dict[str, Any]]:
        """Open a comm to ``target`` as a frontend does; return what the kernel sent back until idle (see
        ``send_comm``)."""
        return self._comm_roundtrip("comm_open", {"comm_id": comm_id, "target_name": target, "data": data})

    def send_comm(self, comm_id: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Send ``data`` on an open comm; return every comm message the kernel sent in reply, until it went
        idle, as ``{"msg_type": ..., **data}``."""
        return self._comm_roundtrip("comm_msg", {"comm_id": comm_id, "data": data})

    def _comm_roundtrip(self, msg_type: str, content: dict[str, Any], timeout: float = 30) -> list[dict[str, Any]]:
        msg = self.kc.session.msg(msg_type, content)
        self.kc.shell_channel.send(msg)
        replies = []
        while True:
            out = self.kc.get_iopub_msg(timeout=timeout)
            if out["parent_header"].get("msg_id") != msg["header"]["msg_id"]:
                if out["msg_type"] == "comm_msg":
                    self.comm_messages.append(out["content"])  # a push from the kernel's background thread
                continue
            if out["msg_type"] in ("comm_msg", "comm_close"):
                replies.append({"msg_type": out["msg_type"], **out["content"].get("data", {})})
                if out["content"].get("data", {}).get("type") == "flags":
                    self.comm_messages.append(out["content"])  # for wait_for_comm too
            if out["msg_type"] == "status" and out["content"]["execution_state"] == "idle":
                return replies

    def wait_for_comm(
        self, kind: str, timeout: float = 30, where: Optional[Callable[[dict[str, Any]], bool]] = None
    ) -> dict[str, Any]:
        """Read IOPub until a comm message of type ``kind`` (for which ``where`` holds) arrives; pushes
        from the kernel's background thread can come after the kernel went idle."""

        def wanted(data: dict[str, Any]) -> bool:
            return data.get("type") == kind and (where is None or where(data))

        for seen in list(self.comm_messages):
            if wanted(seen.get("data", {})):
                self.comm_messages.remove(seen)
                return seen["data"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                out = self.kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                break
            if out["msg_type"] == "comm_msg" and wanted(out["content"]["data"]):
                return out["content"]["data"]
        raise TimeoutError(f"no {kind!r} comm message within {timeout} s")

    def pid(self) -> int:
        return self.km.provisioner.process.pid  # type: ignore[union-attr]

    def shutdown(self) -> None:
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=not self.graceful)
        else:
            self.km.cleanup_resources()

    def _update_display(self, display_id: str, content: dict[str, Any]) -> None:
        """A display shown again or updated: every output showing ``display_id`` takes the new data."""
        update = nbformat.v4.new_output("display_data", data=content.get("data", {}),
                                        metadata=content.get("metadata", {}))
        for node in self._displays.get(display_id, []):
            node["data"] = update["data"]
            node["metadata"] = update["metadata"]

    @staticmethod
    def _next(read: Callable[..., dict[str, Any]], deadline: float, limit: float) -> dict[str, Any]:
        try:
            return read(timeout=max(0.01, deadline - time.monotonic()))
        except queue.Empty:
            raise TimeoutError(f"the cell did not finish within {limit} s") from None

    def __enter__(self) -> LiveKernel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()


def make_notebook(sources: Iterable[str], kernel_name: str = KERNEL_NAME) -> nbformat.NotebookNode:
    """A v4 notebook whose code cells hold ``sources`` (a source starting with '#md ' is markdown)."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": "Python 3", "language": "python"}
    for source in sources:
        if source.startswith("#md "):
            nb.cells.append(nbformat.v4.new_markdown_cell(source[4:]))
        else:
            nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


def execute_notebook(
    nb: nbformat.NotebookNode,
    path: Path,
    *,
    order: Optional[list[int]] = None,
    timeout: float = 120,
    env: Optional[Environment] = None,
    kernel_name: str = KERNEL_NAME,
) -> nbformat.NotebookNode:
    """Run ``nb``'s code cells in a real kernel, in ``order`` (indices, repeats allowed), and save it at ``path``.

    Cells run as nbclient runs them: without cell ids, carrying on after an error. The kernel's working
    directory is the notebook's folder and the kernel is told the notebook's path (as jupyter_server does
    through JPY_SESSION_NAME), so the journal lands in ``path.parent/.repro``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with LiveKernel(path.parent, path.name, kernel_name=kernel_name, env=env, timeout=timeout,
                    stop_on_error=False, graceful=True) as kernel:
        kernel.run_notebook(nb, order)
    nbformat.write(nb, path)
    return nb


def journal_records(folder: Path) -> list[dict[str, Any]]:
    """Every execution the journal in ``folder/.repro`` holds, oldest first."""
    with Journal(Path(folder) / ".repro", create=False) as journal:
        return journal.executions()


def run_cli(
    *args: str, cwd: Optional[Path] = None, timeout: float = 240, env: Optional[Environment] = None
) -> subprocess.CompletedProcess[str]:
    """``jupyter repro ARGS`` as a user types it, in its own process (through the module, so that this
    interpreter runs it). ``env`` changes its environment (a ``None`` value removes a variable)."""
    return subprocess.run([sys.executable, "-m", "repro_kernel.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=timeout, env=environment(env) if env is not None else None)


class _Deadline(BaseException):
    """Raised by the alarm inside a call that ran too long; a BaseException, so no ``except Exception`` in the
    code under test (the CLI's last line of defence included) can turn a hang into an error line."""


def cli_in_process(
    *args: str, cwd: Optional[Path] = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``jupyter repro ARGS`` in this process, through the same entry point as the console script: the exit code,
    stdout and stderr as :func:`run_cli` gives them, in milliseconds instead of a process start. A call still
    running after ``timeout`` seconds raises TimeoutError (an alarm signal: the main thread of a POSIX process;
    elsewhere no limit applies). Application singletons are cleared before and after."""
    import contextlib
    import io
    import signal
    import threading
    import warnings

    from repro_kernel.cli.main import ReproApp, main

    def clear() -> None:
        for target, _ in ReproApp.subcommands.values():
            module, _, name = str(target).rpartition(".")
            getattr(sys.modules.get(module), name, ReproApp).clear_instance()
        ReproApp.clear_instance()

    def on_alarm(signum: int, frame: Any) -> None:
        raise _Deadline()

    alarm = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    # The console script's streams: UTF-8 text over bytes (an unencodable character fails on stdout as it would
    # on a real one, unless the CLI says otherwise), Python's default warning filters rather than the suite's.
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="strict", write_through=True)
    err = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="backslashreplace", write_through=True)
    code: Any = 0
    here = os.getcwd()
    clear()
    previous: Any = None
    left = 0.0
    started = time.monotonic()
    if alarm:  # keep an alarm already set (pytest-timeout's) and give it back what is left of it afterwards
        previous = signal.signal(signal.SIGALRM, on_alarm)
        left = signal.setitimer(signal.ITIMER_REAL, timeout)[0]
    try:
        if cwd is not None:
            os.chdir(cwd)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), warnings.catch_warnings():
            warnings.resetwarnings()
            for category in (DeprecationWarning, PendingDeprecationWarning, ImportWarning, ResourceWarning):
                warnings.simplefilter("ignore", category)
            main(list(args))
    except SystemExit as exc:
        code = exc.code
    except _Deadline:
        raise TimeoutError(f"`jupyter repro {' '.join(args)}` still ran after {timeout} s") from None
    finally:
        if alarm:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, signal.SIG_DFL if previous is None else previous)
            if left:
                signal.setitimer(signal.ITIMER_REAL, max(0.001, left - (time.monotonic() - started)))
        os.chdir(here)
        clear()
    if not isinstance(code, int):
        code = 0 if code is None else 1
    return subprocess.CompletedProcess(["jupyter", "repro", *args], code,
                                       out.buffer.getvalue().decode("utf-8", "replace"),  # type: ignore[attr-defined]
                                       err.buffer.getvalue().decode("utf-8", "replace"))  # type: ignore[attr-defined]
