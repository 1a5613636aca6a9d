"""The recorder: IPython event callbacks that turn each executed cell into a CellRecord.

Hot path: ``pre_run_cell`` notes the time, the code and the random-state fingerprints and switches the audit
hook on; ``post_run_cell`` switches it off and does the rest (hash files read, diff random states and imported
modules, read names from the cached AST, commit one journal transaction, notify listeners). Files beyond a small
budget per cell (bytes and count) are left ``pending`` there and hashed by a background thread
(``journal_writer.PendingHashes``), which completes the record in memory and in the journal. Each part of a
record is built on its own: a fault in one is noted in the record (``recorder_errors``), told to the user once
per kind (``faults``), and never reaches the user's cell, nor stops the next cells from being recorded.
Journal writes that cannot happen now are held in memory until they can (``journal_writer``).

Beside it: ``views`` (what the sidebar and ``%repro status`` read, mixed into :class:`Recorder`), ``cell_state``
(what the hooks carry: the cell now running and the book of random states) and ``notebook_path`` (which
notebook the kernel serves, and where it is).
"""

from __future__ import annotations

import atexit
import os
import sys
import time
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import blake3
from traitlets import Bool, Float, Int, List, Unicode
from traitlets.config import Configurable

from repro_kernel.core.dataflow import CodeFacts, analyze_code
from repro_kernel.core.environment import capture_environment
from repro_kernel.core.hashing import FileHashCache, hash_text, output_hash
from repro_kernel.core.journal import JOURNAL_DIRNAME, Journal
from repro_kernel.core.records import CellRecord, FileAccess
from repro_kernel.core.redact import redact_url
from repro_kernel.kernel import audit, randomness
from repro_kernel.kernel.cell_state import ModuleBook, PendingCell, RandomBook
from repro_kernel.kernel.faults import FaultLog
from repro_kernel.kernel.journal_writer import JournalWriter, PendingHashes
from repro_kernel.kernel.notebook_path import locate_notebook, notebook_from_environment, papermill_notebook
from repro_kernel.kernel.process_state import ProcessState
from repro_kernel.kernel.scrub import Scrubber
from repro_kernel.kernel.views import RecorderViews
from repro_kernel.runtime import hash_display

Listener = Callable[[str, dict[str, Any]], None]


class Recorder(RecorderViews, Configurable):
    """Records every executed cell of one IPython shell into the `.repro/` journal (views: :class:`RecorderViews`)."""

    autostart = Bool(
        False, help="Start recording as soon as the extension loads (used by the repro kernelspec)."
    ).tag(config=True)
    journal_dir = Unicode(
        "", help="Where to keep the journal; empty means `.repro/` beside the notebook."
    ).tag(config=True)
    hash_files = Bool(True, help="Hash the content of every file a cell reads or writes.").tag(config=True)
    max_files_per_cell = Int(
        50_000, help="Files beyond this many in one cell are counted but not hashed."
    ).tag(config=True)
    extra_environment_variables = List(
        Unicode(), help="Environment variable names to record in addition to the built-in allow-list."
    ).tag(config=True)
    inline_hash_bytes = Int(8 << 20, help="Bytes of files one cell hashes before it returns; bigger files and the "
                            "rest are hashed by a background thread (`pending` in the record until then).").tag(config=True)
    inline_hash_files = Int(64, help="Files one cell hashes before it returns (the others: in the background).").tag(
        config=True)
    hash_wait = Float(60.0, help="Seconds `%repro stop` and kernel shutdown wait for background hashing.").tag(config=True)
    durable = Bool(False, help="Sync the journal to disk at every cell (SQLite synchronous=FULL): a power loss or OS "
                   "crash then loses no completed cell, for a disk flush per cell. Also REPRO_DURABLE=1 or "
                   "`%repro start --durable`.").tag(config=True)

    def __init__(self, shell: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shell = shell
        self.recording = False
        self.session_id: Optional[str] = None
        self.started_at: Optional[float] = None
        self.notebook: Optional[str] = None
        self.notebook_dir = Path.cwd()
        self.writer: Optional[JournalWriter] = None
        self.environment: dict[str, Any] = {}
        self.records: list[dict[str, Any]] = []
        self._timeline: list[dict[str, Any]] = []
        self._inputs: dict[str, dict[str, Any]] = {}
        self._written: set[str] = set()
        self.listeners: list[Listener] = []
        self.file_cache = FileHashCache()
        self.scrubber = Scrubber.for_kernel()  # every text kept or told passes through it (kernel/scrub.py)
        self.fault_log = FaultLog(shell, self.scrubber.text)  # captures the kernel's streams now, before any cell can replace them
        self._pending: Optional[PendingCell] = None
        self._suspended: Optional[tuple[Optional[PendingCell], list[tuple[Any, ...]]]] = None
        self._seq = 0
        self._random = RandomBook()
        self._modules = ModuleBook()
        self._process = ProcessState(shell)
        self._ignore_dirs: tuple[str, ...] = ()
        self._rng_tap = randomness.DefaultRngTap()
        self._deferred: dict[str, tuple[int, int, int]] = {}  # this cell's files left to the hashing thread
        self._rel_prefix = ("", "")
        self._durable = False  # this session syncs every commit (c.Recorder.durable, --durable, REPRO_DURABLE)

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self, notebook: Optional[str] = None, *, durable: bool = False) -> list[str]:
        """Begin a new recording session (``durable``: as ``c.Recorder.durable``); returns messages for the user."""
        if self.recording:
            return ["jupyter-repro is already recording this kernel (`%repro status` shows what)."]
        messages: list[str] = []
        self._durable = durable or self.durable or os.environ.get("REPRO_DURABLE", "").strip().lower() in (
            "1", "true", "yes", "on")
        self.fault_log.capture()
        self.scrubber = Scrubber.for_kernel()  # knows this shell's secret variables as they are now
        self.fault_log.scrub = self.scrubber.text
        self.notebook_dir, self.notebook = locate_notebook(notebook or notebook_from_environment(self.shell))
        journal, warning = self._open_journal()
        if self.writer is not None:
            self.writer.close(self.hash_wait)  # the previous session's (start after stop)
        self.writer = self._new_writer(journal)
        if warning:
            messages.append(warning)
        self._ignore_dirs = self._journal_dirs()
        self.session_id = uuid.uuid4().hex
        self.started_at = time.time()
        self.environment = self.scrubber.json(capture_environment(
            self.notebook_dir, self.notebook, tuple(self.extra_environment_variables)
        ))
        self.writer.begin_session(self.session_id, self.notebook, self.environment, self.started_at)
        self.records = []
        self._timeline = []
        self._inputs = {}
        self._written = set()
        self._seq = 0
        self._random = RandomBook()
        self._modules = ModuleBook(kernel_dists=self._modules.kernel_dists)
        self._process.start()
        self._suspended = None
        self._hook()
        self._notify("status", self.status())
        messages.append(
            f"jupyter-repro: recording session {self.session_id[:8]} of "
            f"{self.notebook or 'this kernel'} to {journal.directory}"
        )
        return [self.scrubber.text(m) for m in messages]

    def resume(self) -> list[str]:
        """Carry on the session that unloading the extension paused in this very cell (``%reload_ext``): the
        same session, its sequence and its cell now running; returns messages for the user."""
        if self.recording or self.session_id is None or self._suspended is None:
            return []
        pending, events = self._suspended
        self._suspended = None
        journal, warning = self._open_journal()
        self.writer = self._new_writer(journal)
        self._ignore_dirs = self._journal_dirs()
        assert self.started_at is not None
        self.writer.begin_session(self.session_id, self.notebook, self.environment, self.started_at)
        self._hook()
        if pending is not None:
            self._pending = pending
            self._rng_tap.calls = pending.generators
            self._hook_displays()
            audit.resume(events)
        self._notify("status", self.status())
        return [self.scrubber.text(m) for m in ([warning] if warning else []) + [
            f"jupyter-repro: extension reloaded; still recording session {self.session_id[:8]} to {journal.directory}"
        ]]

    def stop(self, *, suspend: bool = False) -> str:
        """End the session (``suspend``: pause it so that :meth:`resume`, in this same cell, carries it on)."""
        if not self.recording:
            return "jupyter-repro is not recording (start with `%repro start`)."
        for event, callback in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:
                pass
        events = audit.end()
        self._rng_tap.uninstall(self.shell.user_ns)
        self._suspended = (self._pending, events) if suspend else None
        self._unhook_displays()
        self._pending = None
        assert self.writer is not None and self.session_id is not None
        self.writer.wait_for_hashes(self.hash_wait)
        self.writer.end_session(self.session_id, time.time())
        self.recording = False
        self._notify("status", self.status())
        held = "" if self.writer.settle() else (
            f" ({self.writer.held} of them still held in memory: they are written when the journal can be, at the "
            "next `%repro start`, or lost when the kernel stops)")
        return self.scrubber.text(
            f"jupyter-repro: stopped; {len(self.records)} executions recorded in {self.writer.journal.directory}" + held)

    def close(self, *, suspend: bool = False) -> None:
        if self.recording:
            self.stop(suspend=suspend)
        if self.writer is not None:
            self.writer.close(self.hash_wait)
            self.writer = None
        atexit.unregister(self._at_exit)

    def _at_exit(self) -> None:
        """The kernel is shutting down: wait (bounded) for pending hashes, write what is held, or say it is lost."""
        if self.writer is not None:
            self.writer.close(self.hash_wait)
            self.writer = None

    def _open_journal(self) -> tuple[Journal, Optional[str]]:
        """The journal for this session: the configured folder, else `.repro/` beside the notebook (or the
        per-user fallback, with a warning, when that folder cannot be written)."""
        if self.journal_dir:
            return Journal(Path(self.journal_dir), durable=self._durable), None
        return Journal.for_notebook_dir(self.notebook_dir, durable=self._durable)

    def _new_writer(self, journal: Journal) -> JournalWriter:
        """The session's writer, with its hashing thread, which fills the same cache the cells read (a view
        asking for a big file's hash is told it is pending, and the thread hashes it)."""
        writer = JournalWriter(journal, self.fault_log.say, self._open_journal, self.scrubber, self._scrub_landed)
        writer.hashes = PendingHashes(writer, self.file_cache, self._hashes_landed)
        self.file_cache.defer_over = max(0, self.inline_hash_bytes)
        self.file_cache.on_deferred = writer.hashes.warm
        return writer

    def _journal_dirs(self) -> tuple[str, ...]:
        """What the audit hook must not charge to a cell: the journal's own files."""
        assert self.writer is not None
        directory = self.writer.journal.directory
        return tuple({str(directory.resolve()) + os.sep, str(directory) + os.sep})

    def _hook(self) -> None:
        atexit.register(self._at_exit)
        audit.install()
        self._rng_tap.install(self.shell.user_ns)
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        self.recording = True

    def say(self, text: str, *, error: bool = False) -> None:
        """Show the user a message of the recorder's, whatever a cell did to ``print`` or ``sys.stdout``."""
        self.fault_log.say(text, error=error)

    def set_notebook(self, notebook: str) -> None:
        """The frontend told us which notebook this kernel serves."""
        name = Path(notebook).name
        if self.notebook == name or not name.endswith(".ipynb"):
            return
        self.notebook = name
        if self.recording and self.writer is not None and self.session_id is not None:
            self.writer.set_session_notebook(self.session_id, name)

    # -- the hot path ----------------------------------------------------------------------------------

    def pre_run_cell(self, info: Any) -> None:
        if getattr(info, "silent", False):
            self._pending = None
            return
        try:
            pending = PendingCell(
                code=info.raw_cell or "",
                cell_id=getattr(info, "cell_id", None),
                started_at=time.time(),
                perf_start=0.0,
                rng={},
                module_count=len(sys.modules),
            )
        except Exception as exc:
            self._pending = None
            self.report_fault("pre_run_cell", exc, "this cell is not recorded; the next cells are")
            return
        self._pending = pending
        # Each part on its own: a fault in one leaves the record without that part, never without the cell.
        faults: randomness.Faults = []
        try:
            pending.rng, pending.rng_marks = self._random.before_cell(faults)
        except Exception as exc:
            pending.rng_failed = True
            self._random.last = None
            self._part_fault(pending.errors, "random", exc)
        for source, fault in faults:
            self._part_fault(pending.errors, f"random ({source})", fault)
        try:
            facts = analyze_code(pending.code)
            pending.bindings = self._note_bindings(facts)
            if facts.star_imports or "run" in facts.magics or "load" in facts.magics:
                pending.namespace_before = {k: (id(v), type(v)) for k, v in self.shell.user_ns.items()}
        except Exception as exc:
            self._part_fault(pending.errors, "bindings", exc)
        try:
            self._hook_displays()
        except Exception as exc:
            self._part_fault(pending.errors, "outputs", exc)
        self._rng_tap.calls = pending.generators
        pending.perf_start = time.perf_counter()
        audit.begin()

    _MISSING = object()

    def _note_bindings(self, facts: CodeFacts) -> dict[str, Any]:
        """What the names this cell will bind are bound to now: a weak reference where the object takes
        one (so a big array or frame is never kept alive by us), else its id and type."""
        noted: dict[str, Any] = {}
        user_ns = self.shell.user_ns
        for name in facts.defined:
            value = user_ns.get(name, self._MISSING)
            try:
                noted[name] = weakref.ref(value)
            except TypeError:
                noted[name] = (id(value), type(value))
        return noted

    def _changed_bindings(self, pending: PendingCell) -> list[str]:
        user_ns = self.shell.user_ns
        changed = []
        for name, before in pending.bindings.items():
            value = user_ns.get(name, self._MISSING)
            if isinstance(before, weakref.ref):
                same = before() is value
            else:
                same = before == (id(value), type(value))
            if not same:
                changed.append(name)
        return changed

    def post_run_cell(self, result: Any) -> None:
        events = audit.end()
        self._rng_tap.calls = None
        pending, self._pending = self._pending, None
        if pending is None or not self.recording:
            return
        duration = time.perf_counter() - pending.perf_start
        try:
            self._unhook_displays()
        except Exception as exc:
            self._part_fault(pending.errors, "outputs", exc)
        self._keep_journal()
        try:
            record = self._build_record(pending, result, events, duration)
        except Exception as exc:
            self.report_fault("post_run_cell", exc, "this cell could not be recorded; your cell's own result "
                              "stands, and the next cells are recorded as usual")
            return
        self.records.append(record)
        try:
            self._index(record)
        except Exception as exc:
            self.report_fault("status", exc, "the sidebar's view of this cell is incomplete; its record is kept")
        deferred, self._deferred = self._deferred, {}
        try:
            assert self.writer is not None
            if deferred and self.writer.hashes is not None:
                self.writer.hashes.submit(record, deferred)  # before the write: readers then know to wait
            if self.notebook is None and papermill_notebook(self.shell.user_ns):
                # papermill's --inject-paths named the output notebook in the cell that just ran
                self.set_notebook(papermill_notebook(self.shell.user_ns) or "")
            self.writer.append(record, self.notebook)
        except Exception as exc:
            self.report_fault("journal", exc, "this cell's record could not be written to the journal")
        self._notify("record", record)

    def _keep_journal(self) -> None:
        """A journal folder deleted while recording is recreated, with this session written into it again."""
        writer = self.writer
        if writer is None or not writer.lost():
            return
        try:
            self.records[:] = writer.recreate(self.records)
        except Exception as exc:
            self.report_fault("journal", exc, "the journal folder was deleted and cannot be recreated; the records "
                              "are held in memory and it is tried again at the next cell")
            return
        self._random.forget_stored()  # the states stored so far went with the folder
        self._ignore_dirs = self._journal_dirs()

    # -- building the record -------------------------------------------------------------------------

    def _build_record(
        self, pending: PendingCell, result: Any, events: list[tuple[Any, ...]], duration: float
    ) -> dict[str, Any]:
        self._seq += 1
        assert self.session_id is not None
        errors = pending.errors
        error = result.error_in_exec or result.error_before_exec
        try:
            facts = analyze_code(pending.code)
        except Exception as exc:
            facts = CodeFacts()
            self._part_fault(errors, "names", exc)
        try:
            shown = self._output_hash(pending, result)
        except Exception as exc:
            shown = None
            self._part_fault(errors, "output hash", exc)
        record = CellRecord(
            session_id=self.session_id,
            seq=self._seq,
            execution_count=result.execution_count,
            cell_id=pending.cell_id,
            # As typed here: the journal writer redacts it, with every other text, before anything is written
            # (kernel/scrub.py), and takes code_hash again, of the code as kept.
            code=pending.code,
            code_hash=hash_text(pending.code),
            started_at=pending.started_at,
            duration_s=duration,
            status="error" if error is not None else "ok",
            error=type(error).__name__ if error is not None else None,
            output_hash=shown,
            defined=list(facts.defined),  # facts are cached per code: never extend their lists
            used=facts.used,
            deleted=facts.deleted,
            mutated=facts.mutated,
        )
        # Each part is independent: a fault in one is noted in the record and the others still run.
        steps: tuple[tuple[str, Callable[[], None]], ...] = (
            ("modules", lambda: setattr(record, "modules", self._modules.new_modules(pending.module_count, facts))),
            ("files", lambda: self._files(record, events, errors)),
            ("random", lambda: setattr(record, "random", self._random_facts(pending, facts, errors))),
            ("namespace", lambda: self._namespace_changes(record, pending)),
            ("bindings", lambda: setattr(record, "namespace_changed", self._changed_bindings(pending))),
            ("process state", lambda: setattr(record, "process_changed", self._process.after_cell(pending.code))),
        )
        for step, action in steps:
            try:
                action()
            except Exception as exc:
                self._part_fault(errors, step, exc)
        record.recorder_errors = errors
        return record.to_dict()

    def _files(self, record: CellRecord, events: list[tuple[Any, ...]], errors: list[str]) -> None:
        reads, writes, network = audit.classify(events, self._ignore_dirs)
        for endpoint in network:
            if endpoint.get("url"):
                endpoint["url"] = redact_url(endpoint["url"])
        record.network = network
        budget = self.max_files_per_cell
        # Hashed before the cell returns: up to inline_hash_files files and inline_hash_bytes bytes; for the
        # others, a stat and a cache lookup here, the hash from the background thread.
        inline_bytes, inline_files = self.inline_hash_bytes, self.inline_hash_files
        lookup, rel, deferred = self.file_cache.lookup, self._rel, self._deferred
        deferred.clear()
        for paths, target in ((reads, record.files_read), (writes, record.files_written)):
            for path in paths:
                if budget <= 0 or not self.hash_files:
                    target.append(FileAccess(path, rel(path), None, None, None, "not hashed"))
                    continue
                budget -= 1
                facts, hashed = lookup(path, inline_bytes if inline_files > 0 else -1)
                if hashed:
                    inline_bytes -= facts.size or 0
                    inline_files -= 1
                elif facts.pending and facts.key is not None:
                    deferred[path] = facts.key
                target.append(
                    FileAccess(path, rel(path), facts.size, facts.mtime, facts.hash, facts.error, facts.pending)
                )
        if budget < 0 or len(reads) + len(writes) > self.max_files_per_cell:
            errors.append(
                f"files: {len(reads) + len(writes)} files touched; only {self.max_files_per_cell} hashed"
            )

    def _rel(self, path: str) -> Optional[str]:
        """``path`` relative to the notebook's folder, in POSIX form (None outside it); string work only, as
        a cell may touch thousands of files (``path`` is absolute and normalised by the audit's classify)."""
        folder, prefix = self._rel_prefix
        if folder != str(self.notebook_dir):
            folder = str(self.notebook_dir)
            root = str(Path(folder))
            prefix = root if root.endswith(os.sep) else root + os.sep
            self._rel_prefix = folder, prefix
        if path.startswith(prefix):
            rest = path[len(prefix):]
            return rest.replace(os.sep, "/") if os.sep != "/" else rest
        if path + os.sep == prefix:
            return "."
        return None

    def _random_facts(self, pending: PendingCell, facts: CodeFacts, errors: list[str]) -> dict[str, Any]:
        """The record's ``random`` part (see :meth:`RandomBook.cell_facts`); a NumPy imported by this cell
        gets its ``default_rng`` tapped from the next cell on. Empty when the states before the cell could not
        be read (that fault is already in ``errors``)."""
        if pending.rng_failed:
            return {}
        faults: randomness.Faults = []
        assert self.writer is not None
        found = self._random.cell_facts(pending, facts, self.writer.put_object, self.shell.user_ns, faults)
        for source, fault in faults:
            self._part_fault(errors, f"random ({source})", fault)
        if "numpy.random" in sys.modules:
            self._rng_tap.install(self.shell.user_ns)
        return found

    def _namespace_changes(self, record: CellRecord, pending: PendingCell) -> None:
        """Star imports and %run define names the AST cannot see: take them from the namespace, as names
        new or rebound since the cell began (so a ``%reset`` in between changes nothing)."""
        before = pending.namespace_before
        if before is None:
            return
        hidden = getattr(self.shell, "user_ns_hidden", {})
        known = set(record.defined)
        for name, value in list(self.shell.user_ns.items()):
            if name.startswith("_") or name in hidden or name in known:
                continue
            if before.get(name) != (id(value), type(value)):
                record.defined.append(name)

    # -- outputs ---------------------------------------------------------------------------------------

    def _hook_displays(self) -> None:
        pub = getattr(self.shell, "display_pub", None)
        if pub is not None and hasattr(pub, "register_hook"):
            pub.register_hook(self._display_hook)
        elif pub is not None:
            # Terminal IPython's publisher has no hooks: see each display as it is published (as ipykernel's
            # hook would), so `display()` enters the output hash the replay's kernel computes.
            if not hasattr(pub.publish, "_repro_recorder"):
                publish = pub.publish

                def tapped(data: Any, metadata: Any = None, *args: Any, **kwargs: Any) -> Any:
                    live = tapped._repro_recorder()  # type: ignore[attr-defined]
                    if live is not None and live._pending is not None and isinstance(data, dict):
                        live._display_hook({"content": {"data": data}})
                    return publish(data, metadata, *args, **kwargs)

                pub.publish = tapped
            pub.publish._repro_recorder = weakref.ref(self)  # the recorder loaded last

    def _unhook_displays(self) -> None:
        pub = getattr(self.shell, "display_pub", None)
        if pub is not None and hasattr(pub, "unregister_hook"):
            pub.unregister_hook(self._display_hook)

    def _display_hook(self, msg: dict[str, Any]) -> dict[str, Any]:
        pending = self._pending
        if pending is not None:
            try:
                if pending.display_hash is None:
                    pending.display_hash = blake3.blake3()
                hash_display(pending.display_hash, msg)
                pending.displays += 1
            except Exception as exc:
                self.report_fault("display", exc)
        return msg

    def _output_hash(self, pending: PendingCell, result: Any) -> Optional[str]:
        display = pending.display_hash.digest() if pending.display_hash is not None else None
        return output_hash(display, getattr(result, "result", None))

    # -- faults and listeners --------------------------------------------------------------------------

    def report_fault(self, where: str, exc: BaseException, consequence: str = "your cell is unaffected") -> str:
        """Count a recorder fault and tell the user the first time one of its kind is seen; never raise.
        Returns the fault's one-line text."""
        try:
            return self.fault_log.report(where, exc, consequence)
        except Exception:
            return f"{where}: {type(exc).__name__}"

    def _part_fault(self, errors: list[str], step: str, exc: BaseException) -> None:
        """A part of the record could not be built: the record says so, and so is the user, once per kind."""
        text = self.report_fault(step, exc, f"this cell's record is kept without its {step} part, and your cell is "
                                 "unaffected")
        if text not in errors:
            errors.append(text)

    def _notify(self, kind: str, payload: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, payload)
            except Exception as exc:
                self.report_fault(f"listener {kind}", exc)


__all__ = ["Recorder", "JOURNAL_DIRNAME", "notebook_from_environment"]
