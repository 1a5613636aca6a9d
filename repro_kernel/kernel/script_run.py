"""``%repro start`` partway through code terminal IPython is already running: ``ipython script.ipy``, ``%run
script.ipy``, ``ipython -c "..."``, ``ipython notebook.ipynb``.

IPython runs a ``.ipy`` file as ONE silent ``run_cell`` (``safe_execfile_ipy``), and a silent cell fires no
``pre_run_cell`` / ``post_run_cell``; ``-c`` code is one cell too, which was already running when ``%repro
start`` registered the callbacks. Either way nothing after ``%repro start`` would be recorded. So
:func:`take_over` runs the rest of that cell itself, one top-level statement (or one ``# %%`` section, or one
notebook cell) per ``run_cell``, which the recorder records like cells typed at the prompt, and then ends the
outer cell quietly so nothing runs twice. What the script shows is kept: a bare expression that the script would
not have displayed gets IPython's own ``;``, so the replay does not display it either.

A kernel (ipykernel) is left alone: a notebook's cell that starts recording is replayed from the saved notebook.
"""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path
from types import FrameType
from typing import Any, Callable, NamedTuple, Optional


class TakenOver(Exception):
    """Ends the outer cell after its rest ran as recorded executions (shown as nothing)."""


class Running(NamedTuple):
    raw: str  # the cell as IPython got it
    silent: bool  # run silently (a file): no values displayed
    line: int  # the line of the cell the `%repro start` call is on (IPython's transformed cell)
    file: Optional[Path]  # the .ipy / .ipynb file being run, if any


def _frames() -> list[FrameType]:
    frames, frame = [], sys._getframe(1)
    while frame is not None:
        frames.append(frame)
        frame = frame.f_back  # type: ignore[assignment]
    return frames


def running_cell(shell: Any) -> tuple[Optional[Running], Optional[Path]]:
    """The cell ``%repro start`` is running in, when terminal IPython runs one; and a ``.py`` file that
    ``ipython script.py`` (or ``%run``) executes with ``exec`` (no cell at all), if that is where it is."""
    line: Optional[int] = None
    for frame in _frames():
        name, here = frame.f_code.co_name, frame.f_locals
        if line is None and name == "<module>" and frame.f_globals is getattr(shell, "user_global_ns", None):
            line = frame.f_lineno
        elif name == "safe_execfile" and here.get("self") is shell:
            return None, Path(str(here.get("fname")))
        elif name == "run_cell_async" and here.get("self") is shell and line is not None:
            file = None
            for outer in _frames():
                if outer.f_code.co_name == "safe_execfile_ipy" and outer.f_locals.get("self") is shell:
                    file = Path(str(outer.f_locals.get("fname")))
                    break
            raw = here.get("raw_cell")
            return (Running(raw, bool(here.get("silent")), line, file) if isinstance(raw, str) else None), None
    return None, None


def _suppress(text: str, node: ast.stmt, raw_line: str, transformed_line: str) -> str:
    """``text`` (ending at ``node``) with a ``;`` after its last expression, so IPython does not display it."""
    if not isinstance(node, ast.Expr) or raw_line != transformed_line or node.end_col_offset is None:
        return text  # a magic or shell line: IPython's syntax, left as written
    call = node.value
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "print":
        return text  # shows nothing either way
    lines = text.splitlines(keepends=True)
    last = lines[-1]
    col = len(last.encode("utf-8")[:node.end_col_offset].decode("utf-8", "ignore"))
    lines[-1] = last[:col] + ";" + last[col:]
    return "".join(lines)


def split_rest(shell: Any, running: Running) -> Optional[tuple[list[str], int]]:
    """The code after the ``%repro start`` line, as chunks to run one at a time (top-level statements, or the
    ``# %%`` sections when the code has them), each with what it would display as the outer cell would; and
    how many statements ran before it. None when the rest cannot be told apart from the start line."""
    transformed = shell.transform_cell(running.raw)
    raw_lines = running.raw.splitlines(keepends=True)
    t_lines = transformed.splitlines(keepends=True)
    if len(raw_lines) != len(t_lines):
        return None
    body = ast.parse(transformed).body
    at = next((i for i, n in enumerate(body) if n.lineno <= running.line <= (n.end_lineno or n.lineno)), None)
    if at is None or not isinstance(body[at], ast.Expr) or body[at].lineno != body[at].end_lineno:
        return None  # inside a block (`if ...: %repro start`): no clean line to split at
    interactivity = "none" if running.silent else shell.ast_node_interactivity
    groups: list[list[tuple[str, ast.stmt, int]]] = []  # per section: (text, statement, its last line)
    start, section = body[at].end_lineno or body[at].lineno, None
    marked = any(t.lstrip().startswith("# %%") for t in raw_lines[start:])  # sections, else statements
    for node in body[at + 1:]:
        end = node.end_lineno or node.lineno
        if end <= start:
            continue  # `a = 1; b = 2`: already in the previous statement's text
        here = sum(1 for t in raw_lines[:node.lineno - 1] if t.lstrip().startswith("# %%"))
        if here != section or not groups or not marked:
            groups.append([])
        groups[-1].append(("".join(raw_lines[start:end]), node, end))
        start, section = end, here
    chunks = []
    for g, group in enumerate(groups):
        text, node, end = group[-1]
        if not (interactivity == "all" or (interactivity != "none" and g == len(groups) - 1)):
            group[-1] = (_suppress(text, node, raw_lines[end - 1], t_lines[end - 1]), node, end)
        chunk = "".join(t for t, _, _ in group).strip("\n")
        if chunk.strip():
            chunks.append(chunk + "\n")
    before = sum(1 for n in body[:at] if not _is_repro_line(t_lines, n))
    return chunks, before


def _is_repro_line(lines: list[str], node: ast.stmt) -> bool:
    text = "".join(lines[node.lineno - 1:node.end_lineno or node.lineno])
    return "run_line_magic('load_ext', 'repro_kernel')" in text or "run_line_magic('repro'," in text


def _later_cells(file: Path, raw: str) -> list[str]:
    """The code cells of notebook ``file`` after the one whose source is ``raw`` (``ipython notebook.ipynb``
    runs each cell silently, one after another)."""
    try:
        cells = json.loads(file.read_text("utf-8")).get("cells") or []
    except (OSError, ValueError, AttributeError):
        return []
    sources = ["".join(c.get("source") or "") if isinstance(c.get("source"), list) else str(c.get("source") or "")
               for c in cells if isinstance(c, dict) and c.get("cell_type") == "code"]
    if raw not in sources:
        return []
    return [s for s in sources[sources.index(raw) + 1:] if s.strip()]


def take_over(shell: Any, say: Callable[..., None]) -> None:
    """After ``%repro start`` succeeded: when terminal IPython is partway through running code, record the rest
    of it (see the module docstring), then end the outer cell; otherwise return."""
    if getattr(shell, "kernel", None) is not None:
        return  # ipykernel: the notebook's own cells are the unit
    running, plain = running_cell(shell)
    if plain is not None:
        say(f"jupyter-repro: {plain.name} runs as plain Python (exec), which IPython records nothing of; "
            "rename it to .ipy and run `ipython " + plain.with_suffix(".ipy").name + "` to record each statement",
            error=True)
        return
    if running is None:
        return
    split = split_rest(shell, running)
    if split is None:
        say("jupyter-repro: `%repro start` is not on a line of its own at the top level of this code, so what "
            "follows it here is not recorded; put it on its own line, or start recording from IPython's config "
            "(c.InteractiveShellApp.exec_lines)", error=True)
        return
    chunks, before = split
    if running.file is not None and running.file.suffix == ".ipynb":
        chunks += _later_cells(running.file, running.raw)
    if not chunks:
        return
    what = running.file.name if running.file is not None else "this input"
    say(f"jupyter-repro: recording the rest of {what} as {len(chunks)} executions (one per statement or cell)"
        + (f"; the {before} statements before `%repro start` ran unrecorded (put it first to record them)"
           if before else ""))
    ok = True
    for chunk in chunks:
        result = shell.run_cell(chunk, store_history=True)
        if not result.success:
            ok = False  # as a script stops at its first error
            break
    _end_quietly(shell, ok)
    raise TakenOver()


def _end_quietly(shell: Any, ok: bool) -> None:
    """Let :class:`TakenOver` end the outer cell with no traceback, and leave IPython's exit status to what the
    recorded executions did (``ipython script.ipy`` exits 1 when one raised, as it would have)."""
    previous = (shell.custom_exceptions, shell.CustomTB)

    def quiet(_shell: Any, etype: Any, value: Any, tb: Any, tb_offset: Any = None) -> list[str]:
        shell.custom_exceptions, shell.CustomTB = previous
        return []

    def status() -> None:
        shell.last_execution_succeeded = ok
        shell.events.unregister("post_execute", status)

    shell.set_custom_exc((TakenOver,), quiet)
    shell.events.register("post_execute", status)
