"""The ``repro`` comm: typed JSON messages between the recorder and the JupyterLab extension.

Protocol (docs/contracts.md): requests ``{type, request_id?, ...}``, replies ``{type: "<type>-reply",
request_id, success, error?}``; the kernel also pushes ``record``, ``flags`` and ``status`` messages.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from repro_kernel.kernel import audit
from repro_kernel.kernel.recorder import Recorder

PROTOCOL_VERSION = 1
TARGET_NAME = "repro"


Analyze = Callable[[Recorder, Optional[list[dict[str, Any]]]], dict[str, Any]]
"""The live analysis: ``(recorder, cells) -> {"flags": [...], "cells": {id: [kinds]}}``."""
Export = Callable[..., Path]
"""Writes an export: ``(notebook_path, mode=..., force=True) -> export folder``."""
JudgeInputs = Callable[[Recorder, list[dict[str, Any]]], list[dict[str, Any]]]
"""The engine's verdict on the status's data inputs: adds ``changed``, ``preserved`` and ``kept_in``."""


class _FlagsWorker:
    """Recomputes the flags off the cell's path: a request made while cells run back to back is folded into
    one analysis, run on a background thread once no new request came for ``delay`` seconds. One worker per
    comm, so analyses never overlap."""

    def __init__(self, compute: Callable[[], None], delay: float = 0.01) -> None:
        self.compute = compute
        self.delay = delay
        self._due: Optional[float] = None
        self._cond = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._stopped = False

    def request(self, delay: Optional[float] = None) -> None:
        with self._cond:
            self._due = time.monotonic() + (self.delay if delay is None else delay)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="repro-flags", daemon=True)
                self._thread.start()
            self._cond.notify()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _run(self) -> None:
        with audit.recorder_thread():
            self._loop()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (self._due is None or time.monotonic() < self._due):
                    timeout = None if self._due is None else max(0.0, self._due - time.monotonic())
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                self._due = None
            self.compute()


class ReproComm:
    """Owns the comm target; keeps the comms the frontend opened and pushes updates to them."""

    PUSHED_TIMELINE = 10  # timeline entries in the status pushed after each cell (each also comes as `record`)

    def __init__(self, recorder: Recorder, analyze: Analyze, export: Export, judge_inputs: JudgeInputs) -> None:
        """``analyze``, ``export`` and ``judge_inputs`` come from the layers above the kernel (wired in
        ``repro_kernel/__init__``), so the kernel layer never imports the engine, and every verdict the sidebar
        shows (flags, whether an input is preserved or changed) is the engine's."""
        self.recorder = recorder
        self.analyze = analyze
        self.export = export
        self.judge_inputs = judge_inputs
        self.comms: dict[str, Any] = {}
        self.cells: Optional[list[dict[str, Any]]] = None
        self.flags_worker = _FlagsWorker(self._push_flags)
        self._analysis_lock = threading.Lock()
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "hello": self._hello,
            "status": lambda msg: {"status": self._status()},
            "start": self._start,
            "stop": self._stop,
            "notebook": self._notebook,
            "snapshot": self._snapshot,
            "export": self._export,
            "flags": self._flags_request,
            "verify": lambda msg: {},
        }

    # -- registration -----------------------------------------------------------------------------

    def register(self) -> None:
        from comm import get_comm_manager

        manager = get_comm_manager()
        if manager is not None:
            manager.register_target(TARGET_NAME, self._on_open)
        self.recorder.listeners.append(self._on_recorder_event)

    def unregister(self) -> None:
        from comm import get_comm_manager

        manager = get_comm_manager()
        if manager is not None:
            manager.unregister_target(TARGET_NAME, self._on_open)
        if self._on_recorder_event in self.recorder.listeners:
            self.recorder.listeners.remove(self._on_recorder_event)
        self.flags_worker.stop()
        for c in list(self.comms.values()):
            try:
                c.close()
            except Exception:
                pass
        self.comms.clear()

    def _on_open(self, comm: Any, open_msg: dict[str, Any]) -> None:
        self.comms[comm.comm_id] = comm
        comm.on_msg(lambda msg, c=comm: self._on_msg(c, msg["content"]["data"]))
        comm.on_close(lambda msg, c=comm: self.comms.pop(c.comm_id, None))
        data = open_msg.get("content", {}).get("data") or {}
        if data.get("type") == "hello":
            self._on_msg(comm, data)

    # -- requests ---------------------------------------------------------------------------------

    def _on_msg(self, comm: Any, data: dict[str, Any]) -> None:
        kind = data.get("type") if isinstance(data, dict) else None
        reply: dict[str, Any] = {"type": f"{kind}-reply", "request_id": data.get("request_id") if isinstance(data, dict) else None}
        handler = self._handlers.get(kind or "")
        if handler is None:
            reply.update(success=False, error=f"unknown message type {kind!r}; known: {', '.join(sorted(self._handlers))}")
            comm.send(reply)
            return
        if kind == "verify":
            self.start_verify(comm, data)
            return
        try:
            reply.update(handler(data))
            reply["success"] = True
        except Exception as exc:
            self.recorder.report_fault(f"comm {kind}", exc)
            reply.update(success=False, error=f"{type(exc).__name__}: {exc}")
        comm.send(reply)
        if kind in ("notebook", "hello", "start", "stop", "snapshot") and reply.get("success"):
            self.flags_worker.request(delay=0.0 if kind != "notebook" else None)

    def _hello(self, data: dict[str, Any]) -> dict[str, Any]:
        client = data.get("version")
        if client is not None and client != PROTOCOL_VERSION:
            raise ValueError(
                f"the frontend speaks repro protocol {client}, this kernel's jupyter-repro speaks "
                f"{PROTOCOL_VERSION}: install the same jupyter-repro version in the kernel's environment "
                "and the server's, then restart the kernel"
            )
        notebook = data.get("notebook")
        if isinstance(notebook, str) and notebook:
            self.recorder.set_notebook(notebook)
        return {"version": PROTOCOL_VERSION, "status": self._status()}

    def _start(self, data: dict[str, Any]) -> dict[str, Any]:
        messages = self.recorder.start(data.get("notebook"))
        return {"status": self._status(), "messages": messages}

    def _stop(self, data: dict[str, Any]) -> dict[str, Any]:
        message = self.recorder.stop()
        return {"status": self._status(), "messages": [message]}

    def _notebook(self, data: dict[str, Any]) -> dict[str, Any]:
        cells = data.get("cells")
        if not isinstance(cells, list):
            raise ValueError("`notebook` needs `cells`: a list of {id, cell_type, source, execution_count}")
        self.cells = cells
        return {}

    def _snapshot(self, data: dict[str, Any]) -> dict[str, Any]:
        paths = data.get("paths")
        if not isinstance(paths, list) or not paths:
            raise ValueError("`snapshot` needs `paths`: a non-empty list of file paths")
        snapshots = self.recorder.snapshot([str(p) for p in paths])
        self._push("status", {"status": self._status()})
        return {"snapshots": snapshots}

    def _notebook_path(self, data: dict[str, Any]) -> Path:
        name = data.get("notebook") or self.recorder.notebook
        if not name:
            raise ValueError("the kernel does not know its notebook's path; send `hello` with `notebook` first")
        path = Path(name)
        return path if path.is_absolute() else self.recorder.notebook_dir / path.name

    def _export(self, data: dict[str, Any]) -> dict[str, Any]:
        notebook = self._notebook_path(data)
        directory = self.export(notebook, mode=data.get("mode") or "slice", force=True)
        return {"directory": str(directory)}

    def _flags_request(self, data: dict[str, Any]) -> dict[str, Any]:
        """The flags come as a `flags` push right after this reply (computed off the kernel's main path)."""
        self.flags_worker.request(delay=0.0)
        return {}

    def _status(self, **kwargs: Any) -> dict[str, Any]:
        """The recorder's status (its texts redacted) with the engine's verdict on its inputs (the engine reads
        their real paths, and redacts them in what it returns)."""
        status = self.recorder.status(**kwargs, judging=True)
        inputs = status.get("inputs")
        if not inputs:
            return status
        try:
            return {**status, "inputs": self.judge_inputs(self.recorder, inputs)}
        except Exception as exc:  # the sidebar then shows the inputs without a verdict, not nothing
            self.recorder.report_fault("judging inputs", exc)
            return {**status, "inputs": self.recorder.inputs()}

    # -- pushes -----------------------------------------------------------------------------------

    def _push(self, kind: str, payload: dict[str, Any]) -> None:
        if not self.comms:
            return
        message = {"type": kind, **payload}
        for c in list(self.comms.values()):
            try:
                c.send(message)
            except Exception as exc:
                self.recorder.report_fault("comm push", exc)

    def _push_flags(self) -> None:
        if not self.comms:
            return
        try:
            with self._analysis_lock:
                payload = self.analyze(self.recorder, self.cells)
        except Exception as exc:
            self.recorder.report_fault("analysis", exc)
            return
        self._push("flags", payload)

    def _on_recorder_event(self, kind: str, payload: dict[str, Any]) -> None:
        if not self.comms:
            return
        if kind == "record":
            # Kept small: the pushes after every cell must not grow with the session (full records are in
            # the journal; the full timeline comes with `hello`, `start` and `status` replies).
            recorder = self.recorder
            self._push("record", {"entry": recorder.timeline_entry(-1), "executions": len(recorder.records)})
            self._push("status", {"status": self._status(timeline_limit=self.PUSHED_TIMELINE)})
            self.flags_worker.request()
        elif kind == "status":
            self._push("status", {"status": self._status()})  # ``payload`` again, with the inputs judged
            self.flags_worker.request()

    # -- verify runs in a thread so the kernel stays responsive ------------------------------------

    def _verify_reply(self, data: dict[str, Any]) -> dict[str, Any]:
        """Run `jupyter repro verify --json` on the export (made first when the request names none)."""
        import json

        reply: dict[str, Any] = {"type": "verify-reply", "request_id": data.get("request_id")}
        try:
            directory = data.get("directory")
            if not directory:
                directory = str(self._export({"notebook": data.get("notebook")})["directory"])
            proc = subprocess.run(
                [sys.executable, "-m", "repro_kernel.cli", "verify", directory, "--json"],
                capture_output=True,
                text=True,
                timeout=data.get("timeout") or 1800,
            )
            reply["result"] = json.loads(proc.stdout) if proc.stdout.strip() else None
            reply["success"] = proc.returncode in (0, 1)
            if not reply["success"]:
                reply["error"] = (proc.stderr.strip().splitlines() or ["verify failed"])[-1]
        except Exception as exc:
            reply.update(success=False, error=f"{type(exc).__name__}: {exc}")
        return reply

    def start_verify(self, comm: Any, data: dict[str, Any]) -> None:
        def work() -> None:
            with audit.recorder_thread():
                comm.send(self._verify_reply(data))

        threading.Thread(target=work, name="repro-verify", daemon=True).start()
