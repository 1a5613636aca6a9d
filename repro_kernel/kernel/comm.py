"""The ``repro`` comm: typed JSON messages between the recorder and the JupyterLab extension.

Protocol (docs/contracts.md): requests ``{type, request_id?, ...}``, replies ``{type: "<type>-reply",
request_id, success, error?}``; the kernel also pushes ``record``, ``flags`` and ``status`` messages, or, to a
frontend that accepts them (``accept: ["delta"]`` in ``hello``), one small ``delta`` per run of cells (what
changed: new timeline entries, flags, counters), built on the flags worker's thread, off the cells' path.
"""

from __future__ import annotations

import bisect
import collections
import hashlib
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Optional

from repro_kernel.kernel import audit
from repro_kernel.kernel.recorder import Recorder

PROTOCOL_VERSION = 1
DELTA_VERSION = 1  # the `delta` push (docs/contracts.md); a frontend asks for it with `accept: ["delta"]`
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

    def __init__(self, compute: Callable[[], None], delay: float = 0.01, max_wait: float = 0.25) -> None:
        self.compute = compute
        self.delay = delay
        self.max_wait = max_wait  # cells that keep coming back to back still get an update this often
        self._due: Optional[float] = None
        self._first: Optional[float] = None  # when the oldest request not served yet came
        self._cond = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._stopped = False

    def request(self, delay: Optional[float] = None) -> None:
        with self._cond:
            now = time.monotonic()
            if self._first is None:
                self._first = now
            self._due = min(now + (self.delay if delay is None else delay), self._first + self.max_wait)
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
                self._due = self._first = None
            self.compute()


def flag_id(flag: dict[str, Any]) -> str:
    """A flag's identity in deltas: its kind, cells and message (a flag whose message changes is a new one)."""
    text = json.dumps([flag.get("cells"), flag.get("message")], sort_keys=True, default=str)
    return f"{flag.get('kind')}:{hashlib.blake2b(text.encode(), digest_size=8).hexdigest()}"


class _Sent:
    """What one comm that takes deltas was last sent, so that the next delta carries only what changed."""

    def __init__(self) -> None:
        self.seq = 0
        self.flags: Optional[dict[str, dict[str, Any]]] = None  # None: send them all (a reset)
        self.order: list[str] = []
        self.cells: dict[str, list[str]] = {}
        self.counters: Optional[dict[str, Any]] = None
        self.inputs: Optional[list[dict[str, Any]]] = None
        self.status_due = True

    def delta(self, entries: list[dict[str, Any]], dropped: int, counters: dict[str, Any],
              inputs: Optional[list[dict[str, Any]]], status: Optional[dict[str, Any]],
              analysis: Optional[dict[str, Any]]) -> Optional[dict[str, Any]]:
        """The next delta for this comm, or None when nothing changed."""
        message: dict[str, Any] = {}
        if entries or dropped:
            message["records"], message["dropped"] = entries, dropped
        if counters != self.counters:
            self.counters = message["counters"] = counters
        if inputs is not None and inputs != self.inputs:
            self.inputs = message["inputs"] = inputs
        if self.status_due and status is not None:
            message["status"], self.status_due = status, False
        if analysis is not None:
            self._flags(analysis, message)
        if not message:
            return None
        self.seq += 1
        return {"type": "delta", "delta_version": DELTA_VERSION, "seq": self.seq, **message}

    def _flags(self, analysis: dict[str, Any], message: dict[str, Any]) -> None:
        flags = {flag_id(f): f for f in analysis.get("flags") or ()}
        order = list(flags)
        cells: dict[str, list[str]] = analysis.get("cells") or {}
        reset = self.flags is None
        before = self.flags or {}
        upsert = [{**f, "id": i} for i, f in flags.items() if reset or before.get(i) != f]
        remove = [] if reset else [i for i in before if i not in flags]
        if reset or upsert or remove or order != self.order:
            message["flags"] = {"reset": reset, "upsert": upsert, "remove": remove, "order": order}
        changed = {c: k for c, k in cells.items() if reset or self.cells.get(c) != k}
        changed.update({c: [] for c in self.cells if c not in cells})
        if changed or reset:
            message["cells"] = {"reset": reset, "changed": changed}
        self.flags, self.order, self.cells = flags, order, dict(cells)


class ReproComm:
    """Owns the comm target; keeps the comms the frontend opened and pushes updates to them."""

    PUSHED_TIMELINE = 10  # timeline entries in the status pushed after each cell (each also comes as `record`)
    DELTA_RECORDS = 300  # timeline entries one delta carries at most (older ones: a `timeline` request)

    def __init__(self, recorder: Recorder, analyze: Analyze, export: Export, judge_inputs: JudgeInputs) -> None:
        """``analyze``, ``export`` and ``judge_inputs`` come from the layers above the kernel (wired in
        ``repro_kernel/__init__``), so the kernel layer never imports the engine, and every verdict the sidebar
        shows (flags, whether an input is preserved or changed) is the engine's."""
        self.recorder = recorder
        self.analyze = analyze
        self.export = export
        self.judge_inputs = judge_inputs
        self.comms: dict[str, Any] = {}
        self.sent: dict[str, _Sent] = {}  # comms that take deltas (`accept: ["delta"]` in hello), by id
        self.cells: Optional[list[dict[str, Any]]] = None
        self._entries: collections.deque[dict[str, Any]] = collections.deque()  # timeline entries not sent yet
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
            "timeline": self._timeline,
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
        comm.on_close(lambda msg, c=comm: (self.comms.pop(c.comm_id, None), self.sent.pop(c.comm_id, None)))
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
            if kind == "hello":
                self._take_deltas(comm, data, reply)
            elif kind == "flags" and comm.comm_id in self.sent:
                self.sent[comm.comm_id] = _Sent()  # the full state again, as one delta
        except Exception as exc:
            self.recorder.report_fault(f"comm {kind}", exc)
            reply.update(success=False, error=f"{type(exc).__name__}: {exc}")
        comm.send(reply)
        if kind in ("start", "stop") and reply.get("success"):
            self._status_changed()
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

    def _take_deltas(self, comm: Any, data: dict[str, Any], reply: dict[str, Any]) -> None:
        """A frontend that accepts deltas gets, after the hello reply (the full status and timeline), one
        `delta` with every flag, then one small `delta` per run of cells; the others get the pushes of
        protocol 1 (`record`, `status`, `flags`)."""
        accept = data.get("accept")
        if isinstance(accept, list) and "delta" in accept:
            self.sent[comm.comm_id] = _Sent()
            self.sent[comm.comm_id].status_due = False  # the reply carries it
            reply["delta"] = DELTA_VERSION
        else:
            self.sent.pop(comm.comm_id, None)

    def _timeline(self, data: dict[str, Any]) -> dict[str, Any]:
        """A page of the timeline: the ``limit`` (at most 1,000) entries before the execution ``before``
        (a ``seq``; default: the latest)."""
        limit = data.get("limit", 200)
        before = data.get("before")
        if not isinstance(limit, int) or not 0 < limit <= 1000:
            raise ValueError("`timeline` takes `limit`: a whole number from 1 to 1000")
        if before is not None and not isinstance(before, int):
            raise ValueError("`timeline` takes `before`: the `seq` of an execution (entries before it come back)")
        recorder = self.recorder
        # The latest entries reach back to ``before`` (seqs count the session's executions, one entry each), so
        # a page costs its distance from the end, not the session; the whole timeline when seqs have gaps.
        try:
            latest = recorder.timeline_entry(-1)["seq"] if recorder.records else 0
        except IndexError:
            latest = 0
        reach = limit + max(0, latest - before + 1) if before is not None else limit
        timeline = recorder.status(timeline_limit=reach)["timeline"]
        if before is not None and timeline and timeline[0]["seq"] >= before and len(timeline) == reach:
            timeline = recorder.status(timeline_limit=None)["timeline"]
        end = bisect.bisect_left(timeline, before, key=lambda e: e["seq"]) if before is not None else len(timeline)
        first = timeline[max(0, end - limit)]["seq"] if end else None
        return {"entries": timeline[max(0, end - limit):end], "executions": len(recorder.records),
                "more": first is not None and first > 1}

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
        self._status_changed()
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
        """A push of protocol 1, to the comms that take no deltas."""
        if len(self.comms) <= len(self.sent):
            return
        message = {"type": kind, **payload}
        for comm_id, c in list(self.comms.items()):
            if comm_id in self.sent:
                continue
            try:
                c.send(message)
            except Exception as exc:
                self.recorder.report_fault("comm push", exc)

    def _push_flags(self) -> None:
        """The worker's update: the flags (analysed once for every comm), then one delta per delta comm."""
        if not self.comms:
            self._entries.clear()
            return
        try:
            with self._analysis_lock:
                payload = self.analyze(self.recorder, self.cells)
        except Exception as exc:
            self.recorder.report_fault("analysis", exc)
            payload = None
        if payload is not None:
            self._push("flags", payload)
        if self.sent:
            self._push_deltas(payload)

    def _push_deltas(self, analysis: Optional[dict[str, Any]]) -> None:
        entries: list[dict[str, Any]] = []
        while self._entries:  # appended by the cell's thread meanwhile: popleft is safe beside it
            entries.append(self._entries.popleft())
        dropped = max(0, len(entries) - self.DELTA_RECORDS)
        entries = entries[dropped:]
        recorder = self.recorder
        counters = {"recording": recorder.recording, "session_id": recorder.session_id,
                    "executions": len(recorder.records), "faults": recorder.fault_log.count}
        try:
            raw = recorder.inputs(judging=True)
            inputs: Optional[list[dict[str, Any]]] = self.judge_inputs(recorder, raw) if raw else []
        except Exception as exc:
            recorder.report_fault("judging inputs", exc)
            inputs = None
        status = None
        if any(sent.status_due for sent in list(self.sent.values())):  # list(): hello may add one meanwhile
            status = self._status(timeline_limit=1)
            status.pop("timeline", None)
        for comm_id, sent in list(self.sent.items()):
            comm = self.comms.get(comm_id)
            message = sent.delta(entries, dropped, counters, inputs, status, analysis) if comm is not None else None
            if comm is None or message is None:
                continue
            try:
                comm.send(message)
            except Exception as exc:
                recorder.report_fault("comm push", exc)

    def _status_changed(self) -> None:
        """The status changed beyond its counters (start, stop, a snapshot, hashes that landed): the next
        delta carries it whole."""
        for sent in list(self.sent.values()):
            sent.status_due = True

    def _on_recorder_event(self, kind: str, payload: dict[str, Any]) -> None:
        if not self.comms:
            return
        legacy = len(self.comms) > len(self.sent)
        if kind == "record":
            # Kept small: the pushes after every cell must not grow with the session (full records are in
            # the journal; the full timeline comes with `hello`, `start` and `status` replies). A delta comm
            # gets nothing on the cell's path: the entry waits for the worker's next delta.
            recorder = self.recorder
            if self.sent:
                self._entries.append(recorder.timeline_entry(-1))
            if legacy:
                self._push("record", {"entry": recorder.timeline_entry(-1), "executions": len(recorder.records)})
                self._push("status", {"status": self._status(timeline_limit=self.PUSHED_TIMELINE)})
            self.flags_worker.request()
        elif kind == "status":
            if legacy:
                self._push("status", {"status": self._status()})  # ``payload`` again, with the inputs judged
            self._status_changed()
            self.flags_worker.request()

    # -- verify runs in a thread so the kernel stays responsive ------------------------------------

    def _verify_reply(self, data: dict[str, Any]) -> dict[str, Any]:
        """Run `jupyter repro verify --json` on the export (made first when the request names none)."""
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
