"""The recorder: IPython event callbacks that turn each executed cell into a CellRecord.

Hot path: ``pre_run_cell`` notes the time, the code and the random-state fingerprints and switches the audit
hook on; ``post_run_cell`` switches it off and does the rest (hash files read, diff random states and imported
modules, read names from the cached AST, commit one journal transaction, notify listeners). Any fault in here
is caught, reported once, and never reaches the user's cell.

Beside it: ``views`` (what the sidebar and ``%repro status`` read, mixed into :class:`Recorder`), ``cell_state``
(what the hooks carry: the cell now running and the book of random states) and ``notebook_path`` (which
notebook the kernel serves, and where it is).
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any, Optional

import blake3
from traitlets import Bool, Int, List, Unicode
from traitlets.config import Configurable

from repro_kernel.core.dataflow import CodeFacts, analyze_code
from repro_kernel.core.environment import STANDARD_MODULES, capture_environment, distribution_of, kernel_distributions
from repro_kernel.core.hashing import FileHashCache, hash_text, output_hash
from repro_kernel.core.journal import JOURNAL_DIRNAME, Journal
from repro_kernel.core.records import CellRecord, FileAccess
from repro_kernel.core.redact import redact_code, redact_url
from repro_kernel.kernel import audit, randomness
from repro_kernel.kernel.cell_state import PendingCell, RandomBook
from repro_kernel.kernel.notebook_path import locate_notebook, notebook_from_environment
from repro_kernel.kernel.views import RecorderViews

log = logging.getLogger("repro_kernel")

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

    def __init__(self, shell: Any, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.shell = shell
        self.recording = False
        self.session_id: Optional[str] = None
        self.started_at: Optional[float] = None
        self.notebook: Optional[str] = None
        self.notebook_dir = Path.cwd()
        self.journal: Optional[Journal] = None
        self.environment: dict[str, Any] = {}
        self.records: list[dict[str, Any]] = []
        self._timeline: list[dict[str, Any]] = []
        self._inputs: dict[str, dict[str, Any]] = {}
        self._written: set[str] = set()
        self.listeners: list[Listener] = []
        self.file_cache = FileHashCache()
        self.faults: list[str] = []
        self._pending: Optional[PendingCell] = None
        self._seq = 0
        self._random = RandomBook()
        self._known_modules: set[str] = set()
        self._attributed_modules: set[str] = set()
        self._ignore_dirs: tuple[str, ...] = ()
        self._seen_names: set[str] = set()
        self._kernel_dists: Optional[frozenset[str]] = None
        self._rng_tap = randomness.DefaultRngTap()

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self, notebook: Optional[str] = None) -> list[str]:
        """Begin a new recording session; returns messages for the user."""
        if self.recording:
            return ["jupyter-repro is already recording this kernel (`%repro status` shows what)."]
        messages: list[str] = []
        self.notebook_dir, self.notebook = locate_notebook(notebook or notebook_from_environment(self.shell))
        if self.journal_dir:
            journal, warning = Journal(Path(self.journal_dir)), None
        else:
            journal, warning = Journal.for_notebook_dir(self.notebook_dir)
        if self.journal is not None:
            self.journal.close()  # the previous session's (start after stop)
        self.journal = journal
        if warning:
            messages.append(warning)
        self._ignore_dirs = tuple(
            {str(self.journal.directory.resolve()) + os.sep, str(self.journal.directory) + os.sep}
        )
        self.session_id = uuid.uuid4().hex
        self.started_at = time.time()
        self.environment = capture_environment(
            self.notebook_dir, self.notebook, tuple(self.extra_environment_variables)
        )
        self.journal.begin_session(self.session_id, self.notebook, self.environment, self.started_at)
        self.records = []
        self._timeline = []
        self._inputs = {}
        self._written = set()
        self._seq = 0
        self._random = RandomBook()
        self._known_modules = {name.partition(".")[0] for name in list(sys.modules)}
        self._attributed_modules = set()
        self._seen_names = set(self.shell.user_ns)
        audit.install()
        self._rng_tap.install(self.shell.user_ns)
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        self.recording = True
        self._notify("status", self.status())
        where = self.journal.directory
        messages.append(
            f"jupyter-repro: recording session {self.session_id[:8]} of "
            f"{self.notebook or 'this kernel'} to {where}"
        )
        return messages

    def stop(self) -> str:
        if not self.recording:
            return "jupyter-repro is not recording (start with `%repro start`)."
        for event, callback in (("pre_run_cell", self.pre_run_cell), ("post_run_cell", self.post_run_cell)):
            try:
                self.shell.events.unregister(event, callback)
            except ValueError:
                pass
        audit.end()
        self._rng_tap.uninstall(self.shell.user_ns)
        self._pending = None
        assert self.journal is not None and self.session_id is not None
        self.journal.end_session(self.session_id)
        self.recording = False
        self._notify("status", self.status())
        return f"jupyter-repro: stopped; {len(self.records)} executions recorded in {self.journal.directory}"

    def close(self) -> None:
        if self.recording:
            self.stop()
        if self.journal is not None:
            self.journal.close()
            self.journal = None

    def set_notebook(self, notebook: str) -> None:
        """The frontend told us which notebook this kernel serves."""
        name = Path(notebook).name
        if self.notebook == name or not name.endswith(".ipynb"):
            return
        self.notebook = name
        if self.recording and self.journal is not None and self.session_id is not None:
            self.journal.set_session_notebook(self.session_id, name)

    # -- the hot path ----------------------------------------------------------------------------------

    def pre_run_cell(self, info: Any) -> None:
        if getattr(info, "silent", False):
            self._pending = None
            return
        try:
            rng, rng_marks = self._random.before_cell()
            self._pending = PendingCell(
                code=info.raw_cell or "",
                cell_id=getattr(info, "cell_id", None),
                started_at=time.time(),
                perf_start=0.0,
                rng=rng,
                module_count=len(sys.modules),
                rng_marks=rng_marks,
            )
            self._pending.bindings = self._note_bindings(self._pending.code)
            self._hook_displays()
            self._rng_tap.calls = self._pending.generators
            self._pending.perf_start = time.perf_counter()
            audit.begin()
        except Exception as exc:
            self._pending = None
            self.report_fault("pre_run_cell", exc)

    _MISSING = object()

    def _note_bindings(self, code: str) -> dict[str, Any]:
        """What the names this cell will bind are bound to now: a weak reference where the object takes
        one (so a big array or frame is never kept alive by us), else its id and type."""
        noted: dict[str, Any] = {}
        user_ns = self.shell.user_ns
        for name in analyze_code(code).defined:
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
            record = self._build_record(pending, result, events, duration)
            assert self.journal is not None
            self.journal.append(record, self.notebook)
            self.records.append(record)
            self._index(record)
        except Exception as exc:
            self.report_fault("post_run_cell", exc)
            return
        self._notify("record", record)

    # -- building the record -------------------------------------------------------------------------

    def _build_record(
        self, pending: PendingCell, result: Any, events: list[tuple[Any, ...]], duration: float
    ) -> dict[str, Any]:
        self._seq += 1
        assert self.session_id is not None
        errors: list[str] = []
        error = result.error_in_exec or result.error_before_exec
        facts = analyze_code(pending.code)
        record = CellRecord(
            session_id=self.session_id,
            seq=self._seq,
            execution_count=result.execution_count,
            cell_id=pending.cell_id,
            code=redact_code(pending.code),
            code_hash=hash_text(pending.code),
            started_at=pending.started_at,
            duration_s=duration,
            status="error" if error is not None else "ok",
            error=type(error).__name__ if error is not None else None,
            output_hash=self._output_hash(pending, result),
            defined=facts.defined,
            used=facts.used,
            deleted=facts.deleted,
            mutated=facts.mutated,
        )
        # Each part is independent: a fault in one is noted in the record and the others still run.
        steps: tuple[tuple[str, Callable[[], None]], ...] = (
            ("modules", lambda: setattr(record, "modules", self._new_modules(pending, facts))),
            ("files", lambda: self._files(record, events, errors)),
            ("random", lambda: setattr(record, "random", self._random_facts(pending, facts))),
            ("namespace", lambda: self._namespace_changes(record, facts)),
            ("bindings", lambda: setattr(record, "namespace_changed", self._changed_bindings(pending))),
        )
        for step, action in steps:
            try:
                action()
            except Exception as exc:
                errors.append(f"{step}: {type(exc).__name__}: {exc}")
                self.report_fault(step, exc)
        record.recorder_errors = errors
        return record.to_dict()

    def _new_modules(self, pending: PendingCell, facts: CodeFacts) -> list[dict[str, Any]]:
        """Modules this cell brought in: new in ``sys.modules``, or imported by name for the first time
        although the kernel had them loaded already (``import psutil``, ``from jinja2 import Template``)."""
        explicit = [n for n in facts.imported_modules
                    if n not in self._attributed_modules and n not in STANDARD_MODULES]
        if len(sys.modules) == pending.module_count and not explicit:
            return []
        if self._kernel_dists is None:
            self._kernel_dists = kernel_distributions()
        now = {name.partition(".")[0] for name in list(sys.modules)}
        new = sorted({n for n in now - self._known_modules if not n.startswith("_")} | set(explicit))
        self._known_modules |= now
        found = []
        for name in new:
            module = sys.modules.get(name)
            if module is None:
                continue  # the import failed
            if name in STANDARD_MODULES:
                continue
            dist, version = distribution_of(name)
            if dist is None:
                # The standard library, or the notebook's own modules: no distribution to pin, ever.
                self._attributed_modules.add(name)
                file = getattr(module, "__file__", None) or ""
                if not file or file.startswith(sys.base_prefix):
                    continue
            if dist in self._kernel_dists and name not in facts.imported_modules and name not in facts.defined:
                continue  # imported by the kernel itself (tracebacks, display), not by the cell
            self._attributed_modules.add(name)
            found.append({"name": name, "distribution": dist, "version": version})
        return found

    def _files(self, record: CellRecord, events: list[tuple[Any, ...]], errors: list[str]) -> None:
        reads, writes, network = audit.classify(events, self._ignore_dirs)
        for endpoint in network:
            if endpoint.get("url"):
                endpoint["url"] = redact_url(endpoint["url"])
        record.network = network
        budget = self.max_files_per_cell
        for paths, target in ((reads, record.files_read), (writes, record.files_written)):
            for path in paths:
                if budget <= 0 or not self.hash_files:
                    target.append(FileAccess(path, self._rel(path), None, None, None, "not hashed"))
                    continue
                budget -= 1
                facts = self.file_cache.facts(path)
                target.append(
                    FileAccess(path, self._rel(path), facts.size, facts.mtime, facts.hash, facts.error)
                )
        if budget < 0 or len(reads) + len(writes) > self.max_files_per_cell:
            errors.append(
                f"files: {len(reads) + len(writes)} files touched; only {self.max_files_per_cell} hashed"
            )

    def _rel(self, path: str) -> Optional[str]:
        try:
            return Path(path).relative_to(self.notebook_dir).as_posix()
        except ValueError:
            return None

    def _random_facts(self, pending: PendingCell, facts: CodeFacts) -> dict[str, Any]:
        """The record's ``random`` part (see :meth:`RandomBook.cell_facts`); a NumPy imported by this cell
        gets its ``default_rng`` tapped from the next cell on."""
        found = self._random.cell_facts(pending, facts, self.journal, self.shell.user_ns)
        if "numpy.random" in sys.modules:
            self._rng_tap.install(self.shell.user_ns)
        return found

    def _namespace_changes(self, record: CellRecord, facts: CodeFacts) -> None:
        """Star imports and %run define names the AST cannot see: take them from the namespace."""
        if not facts.star_imports and not any(m in ("run", "load") for m in facts.magics):
            return
        user_ns = self.shell.user_ns
        hidden = set(getattr(self.shell, "user_ns_hidden", {}))
        known = set(record.defined)
        for name in list(user_ns):
            if name.startswith("_") or name in hidden or name in known:
                continue
            if name not in self._seen_names:
                record.defined.append(name)
        self._seen_names = set(user_ns)

    # -- outputs ---------------------------------------------------------------------------------------

    def _hook_displays(self) -> None:
        pub = getattr(self.shell, "display_pub", None)
        if pub is not None and hasattr(pub, "register_hook"):
            pub.register_hook(self._display_hook)

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
                data = msg.get("content", {}).get("data", {})
                for mime in sorted(data):
                    value = data[mime]
                    pending.display_hash.update(mime.encode())
                    pending.display_hash.update(
                        value.encode("utf-8", "surrogatepass") if isinstance(value, str) else repr(value).encode()
                    )
                pending.displays += 1
            except Exception as exc:
                self.report_fault("display", exc)
        return msg

    def _output_hash(self, pending: PendingCell, result: Any) -> Optional[str]:
        display = pending.display_hash.digest() if pending.display_hash is not None else None
        return output_hash(display, getattr(result, "result", None))

    # -- faults and listeners --------------------------------------------------------------------------

    def report_fault(self, where: str, exc: BaseException) -> None:
        """Note a recorder fault and tell the user the first time only; never raise."""
        message = f"{where}: {type(exc).__name__}: {exc}"
        self.faults.append(message)
        log.debug("recorder fault: %s", message, exc_info=exc)
        if len(self.faults) == 1:
            try:
                print(
                    f"jupyter-repro: recorder fault (your cell is unaffected): {message}. "
                    "Further faults are only counted (see `%repro status`).",
                    file=sys.stderr,
                )
            except Exception:
                pass

    def _notify(self, kind: str, payload: dict[str, Any]) -> None:
        for listener in list(self.listeners):
            try:
                listener(kind, payload)
            except Exception as exc:
                self.report_fault(f"listener {kind}", exc)


__all__ = ["Recorder", "JOURNAL_DIRNAME", "notebook_from_environment"]
