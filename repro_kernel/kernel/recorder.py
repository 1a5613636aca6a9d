"""The recorder: IPython event callbacks that turn each executed cell into a CellRecord.

Hot path: ``pre_run_cell`` notes the time, the code and the random-state fingerprints and switches the audit
hook on; ``post_run_cell`` switches it off and does the rest (hash files read, diff random states and imported
modules, read names from the cached AST, commit one journal transaction, notify listeners). Any fault in here
is caught, reported once, and never reaches the user's cell.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

from traitlets import Bool, Int, List, Unicode
from traitlets.config import Configurable

from repro_kernel.core.dataflow import analyze_code
from repro_kernel.core.environment import STANDARD_MODULES, capture_environment, distribution_of, kernel_distributions
from repro_kernel.core.hashing import FileHashCache, hash_text, output_hash
from repro_kernel.core.journal import JOURNAL_DIRNAME, Journal
from repro_kernel.core.records import CellRecord, FileAccess
from repro_kernel.core.redact import redact_code, redact_url
from repro_kernel.kernel import audit, randomness

log = logging.getLogger("repro_kernel")

Listener = Callable[[str, dict[str, Any]], None]


@dataclass
class _Pending:
    """What ``pre_run_cell`` noted about the cell now running."""

    code: str
    cell_id: Optional[str]
    started_at: float
    perf_start: float
    rng: dict[str, tuple[Any, str]]
    module_count: int
    display_hash: Any = None
    displays: int = 0
    generators: list[dict[str, Any]] = field(default_factory=list)
    rng_marks: Optional[dict[str, Any]] = None
    bindings: dict[str, Any] = field(default_factory=dict)


@dataclass
class _RandomBook:
    """Per source: whether it was ever seeded in this session, and the last state stored."""

    seeded: dict[str, bool] = field(default_factory=dict)
    stored_fp: dict[str, str] = field(default_factory=dict)
    stored_ref: dict[str, str] = field(default_factory=dict)


def notebook_from_environment(shell: Any) -> Optional[str]:
    """The notebook path the frontend told the kernel about, if any: jupyter_server's `JPY_SESSION_NAME`,
    IPython's `__session__`, VS Code's `__vsc_ipynb_file__`."""
    user_ns = shell.user_ns
    for candidate in (os.environ.get("JPY_SESSION_NAME"), user_ns.get("__session__"),
                      user_ns.get("__vsc_ipynb_file__")):
        if isinstance(candidate, str) and candidate.endswith(".ipynb"):
            return candidate
    return None


@lru_cache(maxsize=1024)
def _imports_only(code: str) -> bool:
    """True when the cell does nothing but import (IPython magics such as %matplotlib allowed)."""
    import ast

    from repro_kernel.core.dataflow import to_python

    try:
        body = ast.parse(to_python(code)).body
    except SyntaxError:
        return False
    has_import = False
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            has_import = True
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Call)
                  and getattr(node.value.func, "attr", "") in ("run_line_magic", "run_cell_magic")):
            return False
    return has_import


def _numpy_drawn_since_seeding(state: Any) -> bool:
    """NumPy's global MT19937 sits at position 623 with no cached Gaussian right after importing NumPy
    seeds it from OS entropy (NumPy 1.26 and 2.x alike); anything else means a draw happened since."""
    try:
        return int(state["state"]["pos"]) != 623 or bool(state["has_gauss"])
    except (KeyError, TypeError, ValueError):
        return False


class Recorder(Configurable):
    """Records every executed cell of one IPython shell into the `.repro/` journal."""

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
        self._pending: Optional[_Pending] = None
        self._seq = 0
        self._random = _RandomBook()
        self._known_modules: set[str] = set()
        self._attributed_modules: set[str] = set()
        self._ignore_dirs: tuple[str, ...] = ()
        self._seen_names: set[str] = set()
        self._kernel_dists: Optional[frozenset[str]] = None
        self._rng_tap = randomness.DefaultRngTap()
        self._rng_last: Optional[tuple[dict[str, tuple[Any, str]], dict[str, Any]]] = None

    # -- lifecycle ------------------------------------------------------------------------------------

    def start(self, notebook: Optional[str] = None) -> list[str]:
        """Begin a new recording session; returns messages for the user."""
        if self.recording:
            return ["jupyter-repro is already recording this kernel (`%repro status` shows what)."]
        messages: list[str] = []
        notebook = notebook or notebook_from_environment(self.shell)
        if notebook:
            path = Path(notebook)
            if not path.is_absolute():
                candidate = Path.cwd() / path
                here = Path.cwd() / path.name
                if not candidate.is_file() and (here.is_file() or not candidate.parent.is_dir()):
                    # A path from the server's root (older jupyter_server) while the kernel runs in the
                    # notebook's own folder: the name is what locates it.
                    candidate = here
                path = candidate
            self.notebook_dir = path.parent
            self.notebook = path.name
        else:
            self.notebook_dir = Path.cwd()
            self.notebook = None
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
        self._random = _RandomBook()
        self._rng_last = None
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
            rng, rng_marks = self._rng_before()
            self._pending = _Pending(
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

    def _rng_before(self) -> tuple[dict[str, tuple[Any, str]], dict[str, Any]]:
        """Random states before the cell (those read after the last cell, unless anything moved since)
        and their cheap marks."""
        marks = randomness.marks()
        if self._rng_last is not None:
            states, last_marks = self._rng_last
            if randomness.same_marks(marks, last_marks):
                return states, marks
        return randomness.capture(), marks

    _MISSING = object()

    def _note_bindings(self, code: str) -> dict[str, Any]:
        """What the names this cell will bind are bound to now: a weak reference where the object takes
        one (so a big array or frame is never kept alive by us), else its id and type."""
        import weakref

        noted: dict[str, Any] = {}
        user_ns = self.shell.user_ns
        for name in analyze_code(code).defined:
            value = user_ns.get(name, self._MISSING)
            try:
                noted[name] = weakref.ref(value)
            except TypeError:
                noted[name] = (id(value), type(value))
        return noted

    def _changed_bindings(self, pending: _Pending) -> list[str]:
        import weakref

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
        self, pending: _Pending, result: Any, events: list[tuple[Any, ...]], duration: float
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

    def _new_modules(self, pending: _Pending, facts: Any) -> list[dict[str, Any]]:
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

    def _random_facts(self, pending: _Pending, facts: Any) -> dict[str, Any]:
        book = self._random
        for _call, source, _value in facts.seeds:
            for seeded in (randomness.SOURCES if source in ("all", None) else (source,)):
                book.seeded[seeded] = True
        marks_after = randomness.marks()
        if randomness.same_marks(marks_after, pending.rng_marks) and set(pending.rng) == set(marks_after):
            after = pending.rng  # nothing drew: skip reading the full states again
        else:
            after = randomness.capture()
        self._rng_last = (after, marks_after)
        sources: dict[str, Any] = {}
        unseeded = False
        for source, (state, fp) in pending.rng.items():
            ref = book.stored_ref.get(source)
            if book.stored_fp.get(source) != fp:
                assert self.journal is not None
                ref = self.journal.put_object(randomness.serialize(source, state))
                book.stored_fp[source], book.stored_ref[source] = fp, ref
            fp_after = after.get(source, (None, None))[1]
            sources[source] = {"before": fp, "after": fp_after, "state_ref": ref}
            if fp_after != fp and not book.seeded.get(source):
                unseeded = True
        for source, (state, fp) in after.items():
            if source in sources:
                continue
            # Imported during this cell: "before" is the state it was seeded with at import, when known.
            entry: dict[str, Any] = {"before": None, "after": fp, "state_ref": None}
            initial = randomness.initial_state(source)
            if initial is not None:
                assert self.journal is not None
                entry["before"] = initial[1]
                entry["state_ref"] = self.journal.put_object(randomness.serialize(source, initial[0]))
                book.stored_fp[source], book.stored_ref[source] = initial[1], entry["state_ref"]
                drawn = initial[1] != fp
            else:
                drawn = source == "numpy" and _numpy_drawn_since_seeding(state)
            if drawn and not book.seeded.get(source):
                unseeded = True
            sources[source] = entry
        # Generators in call order, as the default_rng tap saw them; then generators bound to names that
        # the tap could not see (NumPy imported in this very cell, RandomState, random.Random).
        generators = list(pending.generators)
        tapped = {g["entropy"] for g in generators if g.get("entropy") is not None}
        for name in facts.defined:
            value = self.shell.user_ns.get(name)
            described = randomness.generator_facts(value)
            if described is None:
                continue
            entropy = described.get("entropy")
            if entropy is not None and entropy in tapped:
                for g in generators:
                    if g.get("entropy") == entropy:
                        g.setdefault("name", name)
                continue
            described["name"] = name
            described["seeded"] = not any(
                call.rsplit(".", 1)[-1] in ("default_rng", described["kind"].rsplit(".", 1)[-1])
                for call in facts.unseeded_generators
            )
            generators.append(described)
        if any(not g.get("seeded", True) for g in generators):
            unseeded = True
        if facts.unseeded_generators and not generators:
            unseeded = True
        if unseeded and _imports_only(pending.code):
            # A library that draws while being imported (scikit-learn does) is not the notebook drawing.
            unseeded = False
        if "numpy.random" in sys.modules:
            self._rng_tap.install(self.shell.user_ns)
        return {
            "sources": sources,
            "generators": generators,
            "seeds": [{"call": c, "source": s, "value": v} for c, s, v in facts.seeds],
            "unseeded_draw": unseeded,
        }

    def _namespace_changes(self, record: CellRecord, facts: Any) -> None:
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
                import blake3

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

    def _output_hash(self, pending: _Pending, result: Any) -> Optional[str]:
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

    # -- views -----------------------------------------------------------------------------------------

    TIMELINE_LIMIT = 500

    def status(self, timeline_limit: Optional[int] = TIMELINE_LIMIT) -> dict[str, Any]:
        """The status object of the comm protocol (docs/contracts.md).

        Built from tables kept up to date as records arrive, so its cost does not grow with the session;
        the timeline holds the latest ``timeline_limit`` executions (``executions`` counts them all).
        """
        git = self.environment.get("git") or None
        timeline = self._timeline if timeline_limit is None else self._timeline[-timeline_limit:]
        return {
            "recording": self.recording,
            "session_id": self.session_id,
            "started_at": self.started_at,
            "notebook": self.notebook,
            "executions": len(self.records),
            "kernel": {
                "python": self.environment.get("python", {}).get("version"),
                "ipython": self.environment.get("kernel", {}).get("ipython"),
                "ipykernel": self.environment.get("kernel", {}).get("ipykernel"),
            },
            "environment_fingerprint": self.environment.get("fingerprint"),
            "git": None
            if not git or "commit" not in git
            else {"commit": git.get("commit"), "branch": git.get("branch"), "dirty": bool(git.get("dirty"))},
            "journal": str(self.journal.database_path) if self.journal else None,
            "inputs": self.inputs(),
            "timeline": list(timeline),
            "faults": len(self.faults),
        }

    def timeline_entry(self, index: int) -> dict[str, Any]:
        return dict(self._timeline[index])

    def _index(self, record: dict[str, Any]) -> None:
        """Keep the timeline and the table of inputs current, one record at a time."""
        random = record["random"]
        self._timeline.append(
            {
                "seq": record["seq"],
                "cell_id": record["cell_id"],
                "execution_count": record["execution_count"],
                "duration_s": record["duration_s"],
                "status": record["status"],
                "random": any(s["before"] != s["after"] for s in random.get("sources", {}).values())
                or bool(random.get("generators")),
                "data": bool(record["files_read"]),
            }
        )
        for f in record["files_read"]:
            if f["path"] not in self._inputs and f["path"] not in self._written:
                self._inputs[f["path"]] = {
                    "path": f["rel"] or f["path"],
                    "abspath": f["path"],
                    "hash": f["hash"],
                    "size": f["size"],
                }
        # A file this session wrote is its own output, not an input, when it is read later.
        self._written.update(f["path"] for f in record["files_written"])

    def inputs(self) -> list[dict[str, Any]]:
        """Files read this session with the hash first seen, whether preserved and whether changed since."""
        snapshots = self.journal.snapshot_hashes() if self.journal and self._inputs else set()
        found = []
        for item in self._inputs.values():
            current = self.file_cache.facts(item["abspath"])
            found.append({**item, "changed": current.hash != item["hash"], "preserved": item["hash"] in snapshots})
        return found

    def snapshot(self, paths: list[str]) -> list[dict[str, Any]]:
        """Copy files into the journal's content-addressed store."""
        if self.journal is None:
            raise RuntimeError("not recording")
        done = []
        for raw in paths:
            path = Path(raw).expanduser()
            if not path.is_absolute():
                path = Path.cwd() / path
            facts = self.file_cache.facts(str(path))
            if facts.hash is None:
                raise FileNotFoundError(f"cannot snapshot {raw}: {facts.error or 'not a file'}")
            self.journal.snapshot_file(path, facts.hash)
            done.append({"path": str(path), "hash": facts.hash, "size": facts.size})
        return done


__all__ = ["Recorder", "JOURNAL_DIRNAME"]
