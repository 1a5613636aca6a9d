"""Which recorded executions a replay needs: the backward slice from the outputs the notebook shows.

The slice walks the session backwards from its last execution, keeping a set of *live* names and files:
an execution is kept when it is a target (its output is what the saved notebook shows), when it defines or
mutates a live name, when it writes a live file, or when it changes global state the code cannot show as a
name (``%matplotlib``, ``os.chdir``, ``pd.set_option`` ...). A step that calls a function or class an earlier
step defined also writes what that body writes (``data.append(x)``, ``global x``), transitively through the
callables the body uses. A kept execution makes the names it uses (and, for functions and classes it calls,
the names their bodies use) live before it.

Only a definite rebinding *kills* a live name (makes the earlier definer unnecessary): a step that raised
kills nothing, and where the recorder confirmed which bindings really changed (``namespace_changed``) only
those can be killed, so ``if flag: x = 5`` that did not assign keeps the earlier ``x``. Random state needs no
dependency: the replay restores it before every kept step.
"""

from __future__ import annotations

import re
import sys
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from repro_kernel.core.dataflow import analyze_code
from repro_kernel.core.hashing import hash_text
from repro_kernel.core.records import saved_copy
from repro_kernel.core.redact import redact_code
from repro_kernel.runtime import code_key

# Magics whose effect outlives the cell and cannot be seen as a name.
STATEFUL_MAGICS = frozenset(
    {
        "matplotlib", "pylab", "config", "cd", "env", "run", "load", "load_ext", "reload_ext",
        "autoreload", "aimport", "pip", "conda", "sx", "system", "alias", "precision", "store",
        "sql", "writefile", "bash", "sh", "script", "capture",
    }
)
# Cell magics that run their body as ordinary Python in the user's namespace.
TRANSPARENT_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
# Calls that change process-wide state: kept whatever names they touch.
GLOBAL_STATE = re.compile(
    r"set_option|set_printoptions|seterr|style\.use|rcParams|rc\(|filterwarnings|simplefilter|chdir|"
    r"sys\.path|os\.environ|putenv|setlocale|set_theme|sns\.set|set_config|torch\.use_deterministic|"
    r"register_|sys\.setrecursionlimit|np\.seterr"
)
_IGNORED_NAMES = frozenset({"In", "Out", "_", "__", "___", "get_ipython", "display", "exit", "quit"})


@dataclass
class Facts:
    """Def/use of one execution, completed where the recorder's facts are thin (cell magics)."""

    defined: set[str] = field(default_factory=set)
    used: set[str] = field(default_factory=set)
    mutated: set[str] = field(default_factory=set)
    deleted: set[str] = field(default_factory=set)
    reads: set[str] = field(default_factory=set)
    writes: set[str] = field(default_factory=set)
    stateful: bool = False
    defines_callable: bool = False
    # Names only a function body binds (``global x`` inside a ``def``): the cell itself does not bind them.
    lazy_only: set[str] = field(default_factory=set)
    # Per function or class the cell defines: the globals its body reads / writes when it is called.
    lazy_used: dict[str, set[str]] = field(default_factory=dict)
    lazy_defined: dict[str, set[str]] = field(default_factory=dict)
    # What the bodies of the callables the cell defines write, for those the same cell seems to call.
    own_call_writes: dict[str, str] = field(default_factory=dict)
    failed: bool = False  # the execution raised: its assignments may not have happened
    changed: Optional[set[str]] = None  # the bindings the recorder saw really change (None: unknown)

    def binds(self) -> set[str]:
        """Names the cell itself (not a function body it defines) may bind."""
        return self.defined - self.lazy_only

    def kills(self) -> set[str]:
        """Names whose earlier value this execution certainly replaced."""
        if self.failed:
            return set()
        killed = self.binds() - self.used - self.mutated
        if self.changed is not None:
            killed &= self.changed
        return killed


def _cell_magic(code: str) -> str | None:
    first = code.lstrip().split("\n", 1)[0]
    if first.startswith("%%"):
        return first[2:].split()[0] if first[2:].split() else ""
    return None


def facts_of(record: dict[str, Any]) -> Facts:
    """Def/use facts of one CellRecord."""
    code = record.get("code") or ""
    facts = Facts(
        defined=set(record.get("defined") or ()),
        used=set(record.get("used") or ()),
        mutated=set(record.get("mutated") or ()),
        deleted=set(record.get("deleted") or ()),
        reads={f["path"] for f in record.get("files_read") or () if f.get("path")},
        writes={f["path"] for f in record.get("files_written") or () if f.get("path")},
    )
    static = analyze_code(code)
    magic = _cell_magic(code)
    if magic is not None:
        if magic in TRANSPARENT_CELL_MAGICS:
            body = analyze_code(code.split("\n", 1)[1] if "\n" in code else "")
            facts.defined |= set(body.defined)
            facts.used |= set(body.used)
            facts.mutated |= set(body.mutated)
            facts.deleted |= set(body.deleted)
            static = body
        else:
            facts.stateful = True
    if static.syntax_error or static.star_imports:
        facts.stateful = True
    if any(m in STATEFUL_MAGICS for m in static.magics):
        facts.stateful = True
    if GLOBAL_STATE.search(code):
        facts.stateful = True
    facts.defines_callable = bool(re.search(r"^\s*(async\s+def|def|class)\s", code, re.M)) or "lambda" in code
    facts.lazy_only = set(static.defined) - set(static.eager_defined)
    facts.lazy_used = {owner: set(names) - _IGNORED_NAMES for owner, names in static.lazy_used.items()}
    facts.lazy_defined = {owner: set(names) for owner, names in static.lazy_defined.items()}
    for owner, names in facts.lazy_defined.items():
        # `def add(x): ...` then `add(1)` in one cell: the name appears beyond its definition (a guess that
        # errs towards keeping the cell).
        if len(re.findall(rf"(?<![\w.]){re.escape(owner)}\b", code)) > 1:
            for name in names:
                facts.own_call_writes.setdefault(name, owner)
    facts.failed = record.get("status") == "error"
    changed = record.get("namespace_changed")
    facts.changed = set(changed) if isinstance(changed, list) else None
    facts.used -= _IGNORED_NAMES
    return facts


@dataclass
class Slice:
    """The kept executions (by position in the session list) and why each was kept."""

    kept: list[int]
    reasons: dict[int, str]
    unresolved: set[str]


def backward_slice(records: list[dict[str, Any]], targets: Iterable[int]) -> Slice:
    """Positions of ``records`` (in run order) needed to reproduce the executions at ``targets``."""
    facts = [facts_of(r) for r in records]
    target_set = set(targets)
    # Names a function or class body uses, by the position that defined it: a call needs them at call time.
    closure_uses: dict[int, set[str]] = {
        i: f.used for i, f in enumerate(facts) if f.defines_callable
    }
    definers: dict[str, list[int]] = {}  # name -> positions that bind it, in run order
    for i, f in enumerate(facts):
        for name in f.binds():
            definers.setdefault(name, []).append(i)

    def definer_before(name: str, before: int) -> Optional[int]:
        positions = definers.get(name)
        if not positions:
            return None
        at = bisect_left(positions, before)
        return positions[at - 1] if at else None

    def call_effects(names: set[str], before: int) -> tuple[set[str], dict[str, str]]:
        """For a step at ``before`` that uses ``names``: the names the bodies of the callables among them need
        when called, and the names those bodies write (each with the callable whose body writes it), following
        the callables those bodies use in turn."""
        needs: set[str] = set()
        writes: dict[str, str] = {}
        seen: set[str] = set()
        stack = list(names)
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            seen.add(name)
            j = definer_before(name, before)
            if j is None:
                continue
            body_uses = closure_uses.get(j, set()) | facts[j].lazy_used.get(name, set())
            for written in facts[j].lazy_defined.get(name, ()):
                writes.setdefault(written, name)
            needs |= body_uses
            stack.extend(body_uses - seen)
        return needs, writes

    live: set[str] = set()
    live_files: set[str] = set()
    kept: list[int] = []
    reasons: dict[int, str] = {}
    for i in range(len(records) - 1, -1, -1):
        f = facts[i]
        uses = f.used | f.mutated
        needs, call_writes = call_effects(uses, i)
        for name, owner in f.own_call_writes.items():
            call_writes.setdefault(name, owner)
        reason = None
        direct = (f.binds() | f.mutated) & live
        through_calls = sorted(set(call_writes) & live)
        if i in target_set:
            reason = "its output is shown in the saved notebook"
        elif direct:
            reason = "defines " + ", ".join(sorted(direct)[:5])
        elif through_calls:
            reason = "changes " + ", ".join(f"{n} (through {call_writes[n]})" for n in through_calls[:5])
        elif f.deleted & live:
            reason = "deletes " + ", ".join(sorted(f.deleted & live)[:5])
        elif f.writes & live_files:
            reason = "writes a file a later step reads"
        elif f.stateful:
            reason = "changes global state (magic, options, working directory)"
        if reason is None:
            continue
        kept.append(i)
        reasons[i] = reason
        live -= f.kills()
        if not f.failed:
            live_files -= f.writes - f.reads
        live |= uses | needs
        live_files |= f.reads
    kept.reverse()
    defined_anywhere = set().union(*(f.defined | f.mutated for f in facts)) if facts else set()
    unresolved = {n for n in live if n not in defined_anywhere}
    return Slice(kept=kept, reasons=reasons, unresolved=unresolved)


# -- the plan: which steps an export replays, with what code, state and inputs ------------------------------------

_REPRO_LINE = re.compile(r"^[ \t]*%(load_ext|reload_ext)[ \t]+repro_kernel[ \t]*$|^[ \t]*%repro\b(?![ \t]+seed\b).*$",
                         re.M)
_REPRO_SEED = re.compile(r"^([ \t]*)%repro[ \t]+seed[ \t]+(-?\d+)[ \t]*$", re.M)
_SYSTEM_PREFIXES = ("/usr/", "/lib", "/etc/", "/proc/", "/sys/", "/dev/", "/opt/conda/", "/System/")


def replay_code(code: str) -> str:
    """The code a replay runs for a recorded step: recording magics removed, ``%repro seed`` kept as a call."""
    code = _REPRO_SEED.sub(r"\1__import__('repro_replay').seed_all(\2)", code)
    code = _REPRO_LINE.sub("", code)
    return code.strip("\n").rstrip() + "\n" if code.strip() else ""


@dataclass
class Step:
    """One step of the replay."""

    index: int
    code: str
    record: Optional[dict[str, Any]] = None
    execution_count: Optional[int] = None
    cell_index: Optional[int] = None
    outputs: Optional[list[dict[str, Any]]] = None
    reason: str = ""
    random: dict[str, Optional[str]] = field(default_factory=dict)
    generators: list[dict[str, Any]] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return self.record["status"] if self.record else "unknown"

    def label(self) -> str:
        where = f"In[{self.execution_count}]" if self.execution_count is not None else "not run"
        cell = f"cell {self.cell_index + 1}" if self.cell_index is not None else "cell no longer in the notebook"
        seq = f"seq {self.record['seq']}" if self.record else "not recorded"
        raised = f", raised {self.record['error']}" if self.record and self.status == "error" else ""
        return f"{where}, {cell}, {seq}{raised}"

    def manifest_entry(self) -> dict[str, Any]:
        record = self.record or {}
        return {
            "index": self.index,
            "session_id": record.get("session_id"),
            "seq": record.get("seq"),
            "execution_count": self.execution_count,
            "cell_id": record.get("cell_id"),
            "cell_index": self.cell_index,
            "code_hash": record.get("code_hash") or hash_text(self.code),
            "replay_code_sha256": code_key(self.code),
            "status": self.status,
            "error": record.get("error"),
            "output_hash": record.get("output_hash"),
            "recorded_outputs": self.outputs is not None,
            "random": dict(self.random),
            "generators": self.generators,
            "inputs": self.inputs,
            "duration_s": record.get("duration_s"),
            "reason": self.reason,
        }


@dataclass
class ExportPlan:
    """What an export replays, before anything is rendered."""

    mode: str
    recorded: bool
    steps: list[Step]
    inputs: list[dict[str, Any]]
    network: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    environment: Optional[dict[str, Any]]
    hash_seed: Optional[str]
    modules: list[dict[str, Any]]
    workdir: Path
    not_guaranteed: list[str]
    notes: list[str] = field(default_factory=list)


def _library_file(path: str, env: Optional[dict[str, Any]]) -> bool:
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    if env:
        prefixes.add((env.get("python") or {}).get("prefix") or sys.prefix)
    home = str(Path.home())
    if any(p and path.startswith(p.rstrip("/") + "/") for p in prefixes):
        return True
    if "/site-packages/" in path or "/dist-packages/" in path or "/.ipynb_checkpoints/" in path:
        return True
    if path.startswith((home + "/.cache/", home + "/.config/", home + "/.matplotlib/", home + "/.local/share/")):
        return True
    if "/.repro/" in path:
        return True
    return path.startswith(_SYSTEM_PREFIXES)


def _choose_session(journal: Any, nb_name: str, counts: set[int]) -> Optional[dict[str, Any]]:
    sessions = journal.sessions(notebook=nb_name)
    if len(sessions) == 1:
        return sessions[0]
    best, best_score = None, -1
    for session in sessions:  # oldest first: a later session wins ties
        records = journal.executions(session_id=session["session_id"])
        score = sum(1 for r in records if r.get("execution_count") in counts)
        if records and score >= best_score:
            best, best_score = session, score
    return best


def inputs_from_saved_copy(nb: Any, folder: Path, steps: list[Step]) -> list[dict[str, Any]]:
    """The data inputs of the compact copy the sidebar saves in ``metadata.repro`` (path and content hash
    of each file the recording kernel saw read), for an export without a journal. Each is checked before the
    first step whose code names the file, or before the first step."""
    saved = saved_copy(nb.get("metadata")) or {}
    listed = (saved.get("status") or {}).get("inputs") or []
    found: list[dict[str, Any]] = []
    for entry in listed:
        if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str) or not entry.get("path"):
            continue
        shown, recorded_abs = str(entry["path"]), str(entry.get("abspath") or entry["path"])
        rel = None if Path(shown).is_absolute() else shown
        abspath = str(folder / rel) if rel is not None else recorded_abs
        name = Path(shown).name
        first = next((st for st in steps if name and name in st.code), steps[0] if steps else None)
        item = {"id": f"input-{len(found) + 1}", "path": shown, "rel": rel, "abspath": abspath,
                "size": entry.get("size"), "hash": entry["hash"], "steps": [first.index] if first else []}
        if first is not None:
            first.inputs.append(item["id"])
        found.append(item)
    return found


def plan_steps(
    notebook_path: Path, nb: Any, journal: Any, mode: str, slicer: Any = None
) -> ExportPlan:
    """Decide the steps of the export of ``notebook_path`` from its journal (or, without one, its cells)."""
    slicer = slicer or backward_slice
    nb_name = notebook_path.name
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    by_count = {c.get("execution_count"): (i, c) for i, c in code_cells if c.get("execution_count") is not None}
    not_guaranteed: list[str] = []
    notes: list[str] = []
    session = _choose_session(journal, nb_name, set(by_count)) if journal is not None else None
    records: list[dict[str, Any]] = journal.executions(session_id=session["session_id"]) if session else []
    env = session["environment"] if session else None

    steps: list[Step] = []
    if not records:
        if mode == "document":
            chosen = [(i, c) for i, c in code_cells]
        else:
            chosen = sorted(by_count.values(), key=lambda ic: ic[1]["execution_count"])
            skipped = sum(1 for _, c in code_cells if c.get("execution_count") is None)
            if skipped:
                not_guaranteed.append(f"{skipped} code cells never ran and are left out")
        for i, cell in chosen:
            code = replay_code(cell.source)
            if code:
                steps.append(Step(index=len(steps) + 1, code=code, execution_count=cell.get("execution_count"),
                                  cell_index=i, outputs=list(cell.outputs) if cell.get("execution_count") else None,
                                  reason="saved cell"))
        saved_inputs = inputs_from_saved_copy(nb, notebook_path.parent, steps)
        inputs_checked = (f"the {len(saved_inputs)} input files the recording kernel listed in the notebook's "
                          "metadata.repro are checked by hash (before the first step whose code names them)"
                          if saved_inputs else "input files are not checked")
        not_guaranteed.insert(0, (
            "no recorded session was found for this notebook (it ran without `%repro start`): the replay follows "
            "the saved cells " + ("top to bottom" if mode == "document" else "in the order of their execution "
                                  "counts") + f"; random states are not restored, {inputs_checked}, "
            "executions overwritten by re-runs are unknown, and requirements are what is installed now"
        ))
        return _finish(ExportPlan(mode, False, steps, saved_inputs, [], [], None, None, _modules_from_code(steps),
                                  notebook_path.parent, not_guaranteed))
    assert session is not None  # the records came from it

    # Which execution produced each saved cell's output: execution counts are unique within a session.
    exec_by_count = {r["execution_count"]: r for r in records if r.get("execution_count") is not None}
    matched: dict[int, int] = {}  # record position -> cell index
    position = {id(r): n for n, r in enumerate(records)}
    for count, (i, _cell) in by_count.items():
        record = exec_by_count.get(count)
        if record is not None:
            matched[position[id(record)]] = i
    unmatched = [i for count, (i, _c) in by_count.items() if count not in exec_by_count]

    # The cell that started recording is not in the journal; its other lines are part of the replay.
    prelude: Optional[Step] = None
    first_count = records[0].get("execution_count") or 0
    for i, cell in code_cells:
        if re.search(r"^[ \t]*%repro[ \t]+start\b", cell.source, re.M):
            code = replay_code(cell.source)
            if code:
                prelude = Step(index=0, code=code, execution_count=cell.get("execution_count"), cell_index=i,
                               outputs=None, reason="ran in the cell that started recording (from the saved "
                               "notebook; the journal starts after it)")
                not_guaranteed.append(f"cell {i + 1} started recording and also ran other code; that code is "
                                      "replayed from the saved notebook, without a recorded random state")
            unmatched = [u for u in unmatched if u != i]
            break
    before = [i for i in unmatched if (nb.cells[i].get("execution_count") or 0) < first_count]
    if before:
        not_guaranteed.append(f"cells {', '.join(str(i + 1) for i in before)} show output from before recording "
                              "started; their effects are not part of the replay")
    later = [i for i in unmatched if i not in before]
    if later:
        not_guaranteed.append(f"cells {', '.join(str(i + 1) for i in later)} show outputs the journal has no "
                              "execution for (recorded in another kernel?); they are not replayed")

    if mode == "document":
        chosen_steps = []
        cell_to_record = {cell_i: pos for pos, cell_i in matched.items()}
        for i, cell in code_cells:
            pos = cell_to_record.get(i)
            code = replay_code(cell.source)
            if not code:
                continue
            record = records[pos] if pos is not None else None
            chosen_steps.append(Step(index=0, code=code, record=record, execution_count=cell.get("execution_count"),
                                     cell_index=i, outputs=list(cell.outputs) if pos is not None else None,
                                     reason="current cell source, top to bottom"))
            if record is not None and replay_code(record["code"]) != replay_code(redact_code(cell.source)):
                not_guaranteed.append(f"cell {i + 1} was edited after it ran; document mode replays the new "
                                      "source, so its recorded output may not reproduce")
        steps = chosen_steps
    else:
        if mode == "slice":
            targets = [pos for pos, i in matched.items() if nb.cells[i].get("outputs")]
            sliced = slicer(records, targets)
            keep, reasons = sliced.kept, sliced.reasons
            if sliced.unresolved:
                prelude_defines = set(analyze_code(prelude.code).defined) if prelude else set()
                hidden = sorted(sliced.unresolved - prelude_defines)
                if hidden:
                    not_guaranteed.append("names used but defined by no recorded execution: " + ", ".join(hidden[:10])
                                          + " (defined before recording started?)")
        else:
            keep, reasons = list(range(len(records))), {}
        for pos in keep:
            record = records[pos]
            code = replay_code(record["code"])
            if not code:
                continue
            cell_index = matched.get(pos)
            steps.append(Step(index=0, code=code, record=record, execution_count=record.get("execution_count"),
                              cell_index=cell_index,
                              outputs=list(nb.cells[cell_index].outputs) if cell_index is not None else None,
                              reason=reasons.get(pos, "recorded execution")))
        dropped = len(records) - len(keep)
        if mode == "slice" and dropped:
            notes.append(f"{dropped} of {len(records)} recorded executions are not needed for the saved outputs "
                         "and are left out (use --mode history to keep them)")
    if prelude is not None:
        steps.insert(0, prelude)
    for n, step in enumerate(steps, 1):
        step.index = n

    # Random state and generators per step.
    for step in steps:
        record = step.record
        if not record:
            continue
        if record.get("code_hash") and hash_text(record.get("code") or "") != record["code_hash"]:
            not_guaranteed.append(f"step {step.index} had credentials in its code, recorded as `<redacted>`: "
                                  "put them back (or read them from the environment) before replaying")
        rnd = record.get("random") or {}
        step.random = {src: info.get("state_ref") for src, info in (rnd.get("sources") or {}).items()
                       if info.get("state_ref")}
        for src, info in (rnd.get("sources") or {}).items():
            if info.get("state_ref") is None and info.get("after") and re.search(
                    r"random\.\w+\(|\.rand\w*\(|shuffle\(|choice\(|normal\(|sample\(|permutation\(", record["code"]):
                not_guaranteed.append(f"step {step.index} imported {src}'s random module and may draw from it in "
                                      "the same cell; the state it started from was not recorded")
        for gen in rnd.get("generators") or []:
            if gen.get("seeded"):
                continue
            if gen.get("kind") in ("numpy.default_rng", "numpy.Generator") and gen.get("entropy") is not None:
                step.generators.append({"kind": gen["kind"], "name": gen.get("name"), "entropy": gen["entropy"]})
            else:
                not_guaranteed.append(f"step {step.index} creates an unseeded {gen.get('kind')} "
                                      f"({gen.get('name')}); its draws cannot be restored")

    # Data inputs: files read that no earlier execution of the session wrote.
    written_before: set[str] = set()
    inputs: dict[tuple[str, str], dict[str, Any]] = {}
    kept_ids = {id(s.record): s for s in steps if s.record}
    network: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for record in records:
        kept_step = kept_ids.get(id(record))
        for f in record.get("files_read") or []:
            path = f.get("path")
            if not path or path in written_before or _library_file(path, env):
                continue
            if f.get("hash") is None:
                if kept_step is not None:
                    not_guaranteed.append(f"step {kept_step.index} read {f.get('rel') or path} but it could not be "
                                          f"hashed ({f.get('error')}); it is not checked")
                continue
            key = (path, f["hash"])
            item = inputs.get(key)
            if item is None:
                item = inputs[key] = {"id": f"input-{len(inputs) + 1}", "path": f.get("rel") or path,
                                      "rel": f.get("rel"), "abspath": path, "size": f.get("size"),
                                      "hash": f["hash"], "steps": []}
            if kept_step is not None:
                item["steps"].append(kept_step.index)
                if item["id"] not in kept_step.inputs:
                    kept_step.inputs.append(item["id"])
        for f in record.get("files_written") or []:
            if f.get("path"):
                written_before.add(f["path"])
        if kept_step is not None:
            for net in record.get("network") or []:
                net_key = (net.get("host"), net.get("port"), net.get("url"))
                entry = network.setdefault(net_key, {"host": net.get("host"), "port": net.get("port"),
                                                     "url": net.get("url"), "steps": []})
                entry["steps"].append(kept_step.index)
    used_inputs = [i for i in inputs.values() if i["steps"]]
    paths = [i["abspath"] for i in used_inputs]
    for p in sorted({p for p in paths if paths.count(p) > 1}):
        not_guaranteed.append(f"{p} was read with different contents during the session; only a snapshot of "
                              "each version lets the replay pass its hash checks")
    for used in used_inputs:
        if used["rel"] is None:
            not_guaranteed.append(f"{used['abspath']} is read through an absolute path outside the notebook's folder")
    for entry in network.values():
        not_guaranteed.append(f"steps {', '.join(map(str, entry['steps']))} read from the network "
                              f"({entry['url'] or entry['host']}): that data may have changed")

    recorded = (env or {}).get("python") or {}
    if "hash_seed" in recorded:  # the recorder says outright whether the seed was fixed
        hash_seed = recorded["hash_seed"]
    else:
        hash_seed = ((env or {}).get("environment_variables") or {}).get("PYTHONHASHSEED")
    if hash_seed in (None, "random", "<redacted>"):
        hash_seed = None
        not_guaranteed.append("the session ran with a random hash seed (PYTHONHASHSEED unset): anything that "
                              "depends on the iteration order of a set of strings may differ")
    modules = [m for r in records for m in (r.get("modules") or [])]
    modules += _modules_from_code(steps, env, modules)
    all_sessions = journal.sessions(notebook=nb_name)
    sessions = [{"session_id": s["session_id"], "started_at": s["started_at"], "ended_at": s["ended_at"],
                 "executions": journal.count_executions(s["session_id"]),
                 "replayed": s["session_id"] == session["session_id"]} for s in all_sessions]
    others = [s for s in sessions if not s["replayed"]]
    if others:
        not_guaranteed.append(f"{len(others)} other recorded sessions of this notebook (before a kernel restart) "
                              "are not part of the replay")
    # Jupyter starts a notebook's kernel in the notebook's folder; relative reads resolve there, wherever the
    # project has moved since it was recorded.
    for item in used_inputs:
        item["current"] = str(notebook_path.parent / item["rel"]) if item["rel"] is not None else item["abspath"]
    return _finish(ExportPlan(mode, True, steps, used_inputs, list(network.values()), sessions, env, hash_seed,
                              modules, notebook_path.parent, not_guaranteed, notes))


def _finish(plan: ExportPlan) -> ExportPlan:
    seen: set[str] = set()
    plan.not_guaranteed = [c for c in plan.not_guaranteed if not (c in seen or seen.add(c))]  # type: ignore[func-returns-value]
    return plan


def _modules_from_code(steps: list[Step], env: Optional[dict[str, Any]] = None,
                       known: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    """Top-level modules the steps import, with the distribution that provides them (when known)."""
    from importlib import metadata

    names: set[str] = set()
    for step in steps:
        for match in re.finditer(r"^[ \t]*(?:from[ \t]+([A-Za-z_][\w]*)|import[ \t]+([A-Za-z_][\w]*(?:[ \t]*,[ \t]*"
                                 r"[A-Za-z_][\w.]*)*))", step.code, re.M):
            if match.group(1):
                names.add(match.group(1))
            else:
                names |= {n.strip().split(".")[0] for n in match.group(2).split(",")}
    names -= set(getattr(sys, "stdlib_module_names", ()))
    names -= {m["name"] for m in known}
    if not names:
        return []
    recorded = (env or {}).get("distributions") or {}
    found = []
    unresolved = []
    for name in sorted(names):
        guess = _ALIASES.get(name, name.lower().replace("_", "-"))
        if guess in recorded:
            found.append({"name": name, "distribution": guess, "version": recorded[guess]})
        else:
            unresolved.append(name)
    if unresolved:  # packages_distributions() reads every installed distribution's metadata: slow, so last
        mapping = metadata.packages_distributions()
        for name in unresolved:
            dists = mapping.get(name)
            if not dists:
                continue
            dist = dists[0].lower().replace("_", "-").replace(".", "-")
            version = recorded.get(dist) if env else None
            if version is None and env is None:
                try:
                    version = metadata.version(dists[0])
                except metadata.PackageNotFoundError:
                    version = None
            found.append({"name": name, "distribution": dist, "version": version})
    return found


_ALIASES = {"sklearn": "scikit-learn", "skimage": "scikit-image", "cv2": "opencv-python", "PIL": "pillow",
            "yaml": "pyyaml", "bs4": "beautifulsoup4", "dateutil": "python-dateutil", "mpl_toolkits": "matplotlib",
            "attr": "attrs", "google": "protobuf"}
