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
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from repro_kernel.core.dataflow import analyze_code
from repro_kernel.core.names import IPYTHON_NAMES

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
    facts.lazy_used = {owner: set(names) - IPYTHON_NAMES for owner, names in static.lazy_used.items()}
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
    facts.used -= IPYTHON_NAMES
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
