"""Drive a real kernel the way JupyterLab does: execute requests that carry a ``cellId``.

Used by the demo (scripts/demo.py) and the test suite; it is the smallest honest stand-in for a person
typing into JupyterLab, and it also collects outputs so a notebook can be saved as a frontend would.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable, Optional

import nbformat
from jupyter_client.manager import KernelManager

KERNEL_NAME = os.environ.get("REPRO_TEST_KERNEL", "python3")


class LiveKernel:
    """Start a kernel in ``folder`` (as a notebook server would), run cells, read replies and outputs."""

    def __init__(
        self,
        folder: Path,
        notebook: str = "nb.ipynb",
        kernel_name: str = KERNEL_NAME,
        env: Optional[dict[str, str]] = None,
    ) -> None:
        kernel_env = dict(os.environ)
        kernel_env["JPY_SESSION_NAME"] = str(Path(folder) / notebook)
        kernel_env.update(env or {})
        self.km = KernelManager(kernel_name=kernel_name)
        self.km.start_kernel(cwd=str(folder), env=kernel_env)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        self.comm_messages: list[dict[str, Any]] = []

    def run(self, code: str, cell_id: Optional[str] = None, timeout: float = 60) -> dict[str, Any]:
        """Execute ``code``; return {'reply', 'stdout', 'stderr', 'outputs' (message contents),
        'cell_outputs' (nbformat output nodes, as a frontend would save them)}."""
        msg = self.kc.session.msg(
            "execute_request",
            {
                "code": code,
                "silent": False,
                "store_history": True,
                "user_expressions": {},
                "allow_stdin": False,
                "stop_on_error": True,
            },
        )
        if cell_id is not None:
            msg["metadata"]["cellId"] = cell_id
        self.kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        stdout: list[str] = []
        stderr: list[str] = []
        outputs: list[dict[str, Any]] = []
        cell_outputs: list[Any] = []
        while True:
            out = self.kc.get_iopub_msg(timeout=timeout)
            if out["parent_header"].get("msg_id") != msg_id:
                if out["msg_type"].startswith("comm"):
                    self.comm_messages.append(out["content"])
                continue
            kind = out["msg_type"]
            if kind in ("stream", "execute_result", "display_data", "error"):
                cell_outputs.append(nbformat.v4.output_from_msg(out))
            if kind == "stream":
                (stdout if out["content"]["name"] == "stdout" else stderr).append(out["content"]["text"])
            elif kind in ("execute_result", "display_data", "error"):
                outputs.append(out["content"])
            elif kind.startswith("comm"):
                self.comm_messages.append(out["content"])
            elif kind == "status" and out["content"]["execution_state"] == "idle":
                break
        reply = self.kc.get_shell_msg(timeout=timeout)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = self.kc.get_shell_msg(timeout=timeout)
        return {
            "reply": reply["content"],
            "stdout": "".join(stdout),
            "stderr": "".join(stderr),
            "outputs": outputs,
            "cell_outputs": cell_outputs,
        }

    def wait_for_comm(
        self, kind: str, timeout: float = 30, where: Optional[Callable[[dict[str, Any]], bool]] = None
    ) -> dict[str, Any]:
        """Read IOPub until a comm message of type ``kind`` (for which ``where`` holds) arrives; pushes
        from the kernel's background thread can come after the kernel went idle."""
        import queue
        import time

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

    def value(self, expression: str) -> Any:
        """Evaluate ``expression`` in the kernel (without recording it) and return its repr, evaluated."""
        import ast

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

    def pid(self) -> int:
        return self.km.provisioner.process.pid  # type: ignore[union-attr]

    def shutdown(self) -> None:
        self.kc.stop_channels()
        if self.km.is_alive():
            self.km.shutdown_kernel(now=True)
        else:
            self.km.cleanup_resources()

    def __enter__(self) -> "LiveKernel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
