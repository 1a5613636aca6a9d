"""The ``%repro`` line magic."""

from __future__ import annotations

import argparse
import html
import json
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

from IPython.core.magic import Magics, line_magic, magics_class

from repro_kernel.exceptions import ReproError
from repro_kernel.kernel import randomness
from repro_kernel.kernel.recorder import Recorder
from repro_kernel.kernel.script_run import take_over

USAGE = ("usage: %repro start [--notebook PATH] [--durable] | stop | status | seed N | snapshot PATH... | env | "
         "export [DIR] [--force] [--bundle-data]")
# What writes an export of a recorded session (injected by repro_kernel/__init__.py: the kernel layer does not
# import the export layer): (session id, output folder or None, force, journal folder, bundle_data) -> folder.
SessionExporter = Callable[..., Path]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise ValueError(f"{message}\n{USAGE}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="%repro", add_help=False)
    sub = parser.add_subparsers(dest="command")
    start = sub.add_parser("start", add_help=False)
    start.add_argument("--notebook", help="path of the notebook this kernel runs (when the frontend cannot say)")
    start.add_argument("--durable", action="store_true", help="sync the journal to disk at every cell")
    sub.add_parser("stop", add_help=False)
    sub.add_parser("status", add_help=False)
    seed = sub.add_parser("seed", add_help=False)
    seed.add_argument("value", type=int)
    snap = sub.add_parser("snapshot", add_help=False)
    snap.add_argument("paths", nargs="+")
    sub.add_parser("env", add_help=False)
    export = sub.add_parser("export", add_help=False)
    export.add_argument("directory", nargs="?", default=None)
    export.add_argument("--force", action="store_true")
    export.add_argument("--bundle-data", action="store_true")
    return parser


class StatusView:
    """What ``%repro status`` shows: rich HTML in a notebook, plain text in a terminal."""

    def __init__(self, status: dict[str, Any], faults: int, fault_kinds: Optional[str] = None, held: int = 0) -> None:
        self.status = status
        self.faults = faults
        self.fault_kinds = fault_kinds
        self.held = held

    def _rows(self) -> list[tuple[str, str]]:
        s = self.status
        git = s.get("git") or {}
        inputs = s.get("inputs") or []
        randomness_cells = sum(1 for t in s.get("timeline", []) if t["random"])
        return [
            ("recording", "yes" if s["recording"] else "no"),
            ("session", (s.get("session_id") or "-")[:8]),
            ("notebook", s.get("notebook") or "(unknown)"),
            ("executions recorded", str(s.get("executions", 0))),
            ("cells that drew randomness", str(randomness_cells)),
            ("data inputs", ", ".join(i["path"] for i in inputs) or "none"),
            ("python / ipykernel", f"{s['kernel'].get('python')} / {s['kernel'].get('ipykernel')}"),
            ("environment", s.get("environment_fingerprint") or "-"),
            ("git", f"{(git.get('commit') or '-')[:10]}{' (dirty)' if git.get('dirty') else ''}" if git else "not a git repository"),
            ("journal", s.get("journal") or "-"),
            ("recorder faults", str(self.faults) + (f" ({self.fault_kinds})" if self.fault_kinds else "")),
            *([("held in memory", f"{self.held} executions waiting for the journal")] if self.held else []),
        ]

    def __repr__(self) -> str:
        width = max(len(k) for k, _ in self._rows())
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in self._rows())

    def _repr_html_(self) -> str:
        rows = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th><td style='text-align:left'>{html.escape(v)}</td></tr>"
            for k, v in self._rows()
        )
        return f"<table class='repro-status'><caption>jupyter-repro</caption>{rows}</table>"


def _refuse(recorder: Recorder, message: str) -> None:
    """One line on stderr for a request the magic cannot carry out; the cell itself still succeeds."""
    recorder.say(f"jupyter-repro: {message}", error=True)


@magics_class
class ReproMagics(Magics):
    """``%repro``: start, stop and inspect recording."""

    def __init__(self, shell: Any, recorder: Recorder, export: Optional[SessionExporter] = None) -> None:
        super().__init__(shell)
        self.recorder = recorder
        self.export = export

    @line_magic
    def repro(self, line: str) -> Any:
        """Record this notebook session for reproducibility.

        %repro start [--notebook PATH]   start recording every executed cell
        %repro start --durable           ... and sync the journal to disk at every cell (c.Recorder.durable)
        %repro stop                      stop recording
        %repro status                    what is recorded so far
        %repro seed N                    seed every loaded random generator with N (and record it)
        %repro snapshot PATH...          preserve files' exact content in .repro/objects
        %repro env                       the environment as recorded
        %repro export [DIR] [--force]    write a replay folder of this session (default: session-<id>.repro
                                         here) that `jupyter repro verify DIR` replays; for terminal IPython
                                         and scripts, where there is no notebook (--bundle-data: copy inputs)
        """
        recorder = self.recorder
        say = recorder.say  # not print: a cell may have replaced it, or sys.stdout
        try:
            args = _parser().parse_args(shlex.split(line))
        except ValueError as exc:
            say(str(exc), error=True)
            return None
        if args.command is None:
            say(USAGE, error=True)
            return None
        if args.command == "start":
            try:
                messages = recorder.start(args.notebook, durable=args.durable)
            except ReproError as exc:
                return _refuse(recorder, exc.one_line())
            for message in messages:
                say(message)
            if recorder.recording:
                take_over(self.shell, say)  # `ipython script.ipy`, `-c`: records the rest of the running code
        elif args.command == "export":
            return self._export(args)
        elif args.command == "stop":
            say(recorder.stop())
        elif args.command == "status":
            writer = recorder.writer
            return StatusView(recorder.status(), recorder.fault_log.count, recorder.fault_log.summary(),
                              writer.held if writer is not None else 0)
        elif args.command == "seed":
            seeded = randomness.seed_all(args.value)
            say(f"jupyter-repro: seeded {', '.join(seeded)} with {args.value}")
        elif args.command == "snapshot":
            if not recorder.recording:
                say("jupyter-repro is not recording: run `%repro start` first.", error=True)
                return None
            try:
                done = recorder.snapshot(args.paths)
            except OSError as exc:
                return _refuse(recorder, f"{exc}; check the path and try again")
            except ReproError as exc:
                return _refuse(recorder, exc.one_line())
            for item in done:
                say(f"jupyter-repro: snapshot of {item['path']} ({item['size']} bytes, {item['hash'][:19]})")
            recorder._notify("status", recorder.status())
        elif args.command == "env":
            if not recorder.environment:
                say("jupyter-repro is not recording: run `%repro start` first.", error=True)
                return None
            env = dict(recorder.environment)
            dists = env.pop("distributions", {})
            env["distributions"] = f"{len(dists)} installed (see the manifest for the list)"
            say(json.dumps(env, indent=2, default=str))
        return None

    def _export(self, args: argparse.Namespace) -> None:
        """``%repro export [DIR]``: this session, from the journal, as a replay folder (no notebook needed)."""
        recorder = self.recorder
        if recorder.session_id is None or recorder.writer is None or self.export is None:
            return _refuse(recorder, "nothing recorded to export: run `%repro start` first, then the code to record")
        writer = recorder.writer
        writer.wait_for_hashes(recorder.hash_wait)
        if not writer.settle():
            return _refuse(recorder, f"{writer.held} executions are still held in memory, not yet in the journal "
                           f"({writer.journal.directory}); free the disk or the lock, then export again")
        try:
            folder = self.export(recorder.session_id, output=args.directory, force=args.force,
                                 journal=writer.journal.directory, bundle_data=args.bundle_data)
        except ReproError as exc:
            return _refuse(recorder, exc.one_line())
        except Exception as exc:  # an export must never break the cell it runs in
            return _refuse(recorder, f"export failed ({type(exc).__name__}: {exc}); "
                           "`jupyter repro export --session " + recorder.session_id[:8] + "` says more")
        recorder.say(f"jupyter-repro: wrote {folder}; replay and compare it with `jupyter repro verify {folder}`")
        return None
