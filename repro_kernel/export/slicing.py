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
dependency: the replay restores it before every kept step. ``res = smf.ols(...).fit()`` mutates the model
``smf.ols`` made, not ``smf``: a name only imports bind is not counted as mutated by a mutating method called on a
fresh call result that the cell binds (a bare ``mod.registry().append(x)`` still is).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Optional

from repro_kernel.core.dataflow import TRANSPARENT_CELL_MAGICS, CodeFacts, analyze_code, cell_magic
from repro_kernel.core.names import IPYTHON_NAMES


def _recorded(record: dict[str, Any], key: str, facts: CodeFacts, transparent: bool) -> set[str]:
    """A record-view name set (``defined``, ``used`` ...), widened by the body of a ``%%time``-like cell magic."""
    names = set(record.get(key) or ())
    if transparent:
        names |= set(getattr(facts, key))
    return names


class _Execution:
    """One record as the slice sees it: the record's names and files with the code's facts
    (:class:`~repro_kernel.core.dataflow.CodeFacts`: the one facts type) beside them."""

    __slots__ = ("facts", "defined", "used", "mutated", "deleted", "reads", "writes", "failed", "changed", "lazy_used",
                 "maybe_mutated", "process_changed")

    def __init__(self, record: dict[str, Any]) -> None:
        code = record.get("code") or ""
        self.facts = facts = analyze_code(code)
        transparent = cell_magic(code) in TRANSPARENT_CELL_MAGICS
        self.defined = _recorded(record, "defined", facts, transparent)
        self.used = _recorded(record, "used", facts, transparent) - IPYTHON_NAMES
        self.mutated = _recorded(record, "mutated", facts, transparent)
        self.deleted = _recorded(record, "deleted", facts, transparent)
        self.reads = {f["path"] for f in record.get("files_read") or () if f.get("path")}
        self.writes = {f["path"] for f in record.get("files_written") or () if f.get("path")}
        self.failed = record.get("status") == "error"  # its assignments may not have happened
        self.process_changed = list(record.get("process_changed") or ())  # what the recorder saw change
        changed = record.get("namespace_changed")  # the bindings the recorder saw really change
        self.changed: Optional[set[str]] = set(changed) if isinstance(changed, list) else None
        self.lazy_used = {owner: set(names) - IPYTHON_NAMES for owner, names in facts.lazy_used.items()}
        self.maybe_mutated = set(facts.maybe_mutated) - IPYTHON_NAMES

    def binds(self) -> set[str]:
        """Names the cell itself (not a function body it defines) may bind."""
        return self.defined - self.facts.lazy_only

    def kills(self) -> set[str]:
        """Names whose earlier value this execution certainly replaced."""
        if self.failed:
            return set()
        killed = self.binds() - self.used - self.mutated - self.maybe_mutated
        if self.changed is not None:
            killed &= self.changed
        return killed


@dataclass
class Slice:
    """The kept executions (by position in the session list) and why each was kept."""

    kept: list[int]
    reasons: dict[int, str]
    unresolved: set[str]


def backward_slice(records: list[dict[str, Any]], targets: Iterable[int]) -> Slice:
    """Positions of ``records`` (in run order) needed to reproduce the executions at ``targets``."""
    facts = [_Execution(r) for r in records]
    target_set = set(targets)
    # Names a function or class body uses, by the position that defined it: a call needs them at call time.
    closure_uses: dict[int, set[str]] = {
        i: f.used for i, f in enumerate(facts) if f.facts.defines_callable
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
            for written in facts[j].facts.lazy_defined.get(name, ()):
                writes.setdefault(written, name)
            needs |= body_uses
            stack.extend(body_uses - seen)
        return needs, writes

    # Safety over size: what the code alone cannot rule out counts too. Names bound by an import are modules
    # (a call on them is a dropped call, below); a name may share its value with another (`s = arr[5:8]`): a
    # change to one is a change to both.
    imported = {name for f in facts for name, key in f.facts.value_keys.items() if key.startswith("import:")}
    # `res = smf.ols(...).fit()` changes the model smf.ols made, not the module: a name only imports bind is not
    # mutated by it (else every cell fitting a model would be a definer of `smf`).
    rebound = {name for f in facts for name in f.binds() if not f.facts.value_keys.get(name, "").startswith("import:")}
    for f in facts:
        f.mutated -= (imported - rebound) & set(f.facts.bound_fresh_mutations)
    shares: dict[str, set[str]] = {}
    for f in facts:
        for name, source in f.facts.aliases:
            if source not in imported:
                shares.setdefault(name, set()).add(source)
                shares.setdefault(source, set()).add(name)

    def sharing(names: set[str]) -> set[str]:
        found, stack = set(names), list(names)
        while stack:
            for other in shares.get(stack.pop(), ()):
                if other not in found:
                    found.add(other)
                    stack.append(other)
        return found

    def global_call(f: _Execution) -> Optional[str]:
        # A dropped call of an imported function may change what no name shows (`init_printing()`).
        return next((c for c in f.facts.dropped_calls if c.split(".", 1)[0] in imported), None)

    live: set[str] = set()
    live_files: set[str] = set()
    kept: list[int] = []
    reasons: dict[int, str] = {}
    for i in range(len(records) - 1, -1, -1):
        f = facts[i]
        maybe = {n for n in f.maybe_mutated - imported if n in definers}  # `open(p).read()`: open is no variable
        # Strings that name a variable some earlier step binds (`display('df1a')`, `eval('x')`) are uses.
        named = {n for n in f.facts.maybe_used if definer_before(n, i) is not None}
        uses = f.used | f.mutated | maybe | named
        needs, call_writes = call_effects(uses, i)
        for name, owner in f.facts.own_call_writes.items():
            call_writes.setdefault(name, owner)
        reason = None
        direct = (f.binds() | f.mutated) & live
        shared = (sharing(f.mutated | maybe) - f.mutated - maybe) & live
        through_calls = sorted(set(call_writes) & live)
        dropped = global_call(f)
        if i in target_set:
            reason = "its output is shown in the saved notebook"
        elif direct:
            reason = "defines " + ", ".join(sorted(direct)[:5])
        elif maybe & live:
            reason = "may change " + ", ".join(sorted(maybe & live)[:5]) + " (a method call)"
        elif shared:
            reason = "changes " + ", ".join(sorted(shared)[:5]) + " (through a name that shares its value)"
        elif through_calls:
            reason = "changes " + ", ".join(f"{n} (through {call_writes[n]})" for n in through_calls[:5])
        elif f.deleted & live:
            reason = "deletes " + ", ".join(sorted(f.deleted & live)[:5])
        elif f.writes & live_files:
            reason = "writes a file a later step reads"
        elif f.facts.stateful:
            reason = "changes global state (magic, options, working directory)"
        elif f.process_changed:
            reason = "changed process-wide state (" + ", ".join(f.process_changed[:5]) + ")"
        elif dropped is not None:
            reason = f"calls {dropped}(), which may change global state"
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
