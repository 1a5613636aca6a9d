"""What the recorder carries from one hook to the next, and across cells.

:class:`PendingCell` is what ``pre_run_cell`` noted about the cell now running. :class:`RandomBook` keeps, across
the cells of a session, which random sources were seeded and which states are already stored, and turns a
cell's before and after states into the ``random`` part of its CellRecord. :class:`ModuleBook` keeps which
modules are known, and says which ones a cell brought in.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Optional

from repro_kernel.core.dataflow import CodeFacts, to_python
from repro_kernel.core.environment import STANDARD_MODULES, distribution_of, kernel_distributions
from repro_kernel.kernel import randomness

RandomStates = dict[str, tuple[Any, str]]  # source -> (state, fingerprint), as randomness.capture() reads them
Store = Callable[[bytes], str]  # stores a blob in the journal's objects, returns its digest


@dataclass
class PendingCell:
    """What ``pre_run_cell`` noted about the cell now running."""

    code: str
    cell_id: Optional[str]
    started_at: float
    perf_start: float
    rng: RandomStates
    module_count: int
    display_hash: Any = None
    displays: int = 0
    generators: list[dict[str, Any]] = field(default_factory=list)
    rng_marks: Optional[dict[str, Any]] = None
    bindings: dict[str, Any] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # recorder faults so far, for the record's recorder_errors
    rng_failed: bool = False  # the states before the cell could not be read: the record has no random part
    namespace_before: Optional[dict[str, tuple[int, type]]] = None  # star imports, %run: id and type per name


@dataclass
class RandomBook:
    """Per source: whether it was ever seeded in this session, and the last state stored; and the states read
    after the last cell, which stand for the next cell's "before" as long as nothing has drawn since."""

    seeded: dict[str, bool] = field(default_factory=dict)
    stored_fp: dict[str, str] = field(default_factory=dict)
    stored_ref: dict[str, str] = field(default_factory=dict)
    last: Optional[tuple[RandomStates, dict[str, Any]]] = None
    # Generators held in variables: name -> (state bytes, ref) as read after the last cell, which stands for
    # the next cell's state "before" (no code runs between two cells). Bounded: a session holds a few.
    held: dict[str, tuple[bytes, str]] = field(default_factory=dict)
    HELD_LIMIT = 32

    def before_cell(self, faults: Optional[randomness.Faults] = None) -> tuple[RandomStates, dict[str, Any]]:
        """Random states before the cell (those read after the last cell, unless anything moved since)
        and their cheap marks; a source that cannot be read is left out and noted in ``faults``."""
        marks = randomness.marks(faults)
        if self.last is not None:
            states, last_marks = self.last
            if randomness.same_marks(marks, last_marks):
                return states, marks
        return randomness.capture(faults), marks

    def forget_stored(self) -> None:
        """The journal's objects were lost (its folder deleted): store every state again when next seen."""
        self.stored_fp.clear()
        self.stored_ref.clear()

    def cell_facts(
        self, pending: PendingCell, facts: CodeFacts, store: Store, user_ns: dict[str, Any],
        faults: Optional[randomness.Faults] = None,
    ) -> dict[str, Any]:
        """The record's ``random`` part: each source's state before and after the cell (states given to
        ``store`` the first time they are seen), the generators the cell made, its seeds, and whether it
        drew from a source never seeded."""
        for _call, source, _value in facts.seeds:
            for seeded in (randomness.SOURCES if source in ("all", None) else (source,)):
                self.seeded[seeded] = True
        marks_after = randomness.marks(faults)
        if randomness.same_marks(marks_after, pending.rng_marks) and set(pending.rng) == set(marks_after):
            after = pending.rng  # nothing drew: skip reading the full states again
        else:
            after = randomness.capture(faults)
        self.last = (after, marks_after)
        sources: dict[str, Any] = {}
        unseeded = False
        for source, (state, fp) in pending.rng.items():
            ref = self.stored_ref.get(source)
            if self.stored_fp.get(source) != fp:
                ref = store(randomness.serialize(source, state))
                self.stored_fp[source], self.stored_ref[source] = fp, ref
            fp_after = after.get(source, (None, None))[1]
            sources[source] = {"before": fp, "after": fp_after, "state_ref": ref}
            if fp_after is not None and fp_after != fp and not self.seeded.get(source):
                unseeded = True  # (an after-state that could not be read is a fault, not a draw)
        for source, (state, fp) in after.items():
            if source in sources:
                continue
            # Imported during this cell: "before" is the state it was seeded with at import, when known.
            entry: dict[str, Any] = {"before": None, "after": fp, "state_ref": None}
            initial = randomness.initial_state(source)
            if initial is not None:
                entry["before"] = initial[1]
                entry["state_ref"] = store(randomness.serialize(source, initial[0]))
                self.stored_fp[source], self.stored_ref[source] = initial[1], entry["state_ref"]
                drawn = initial[1] != fp
            else:
                drawn = source == "numpy" and numpy_drawn_since_seeding(state)
            if drawn and not self.seeded.get(source):
                unseeded = True
            sources[source] = entry
        # Generators in call order, as the default_rng tap saw them; then generators bound to names that
        # the tap could not see (NumPy imported in this very cell, RandomState, random.Random).
        generators = list(pending.generators)
        tapped = {g["entropy"] for g in generators if g.get("entropy") is not None}
        for name in facts.defined:
            value = user_ns.get(name)
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
        if unseeded and imports_only(pending.code):
            # A library that draws while being imported (scikit-learn does) is not the notebook drawing.
            unseeded = False
        found = {
            "sources": sources,
            "generators": generators,
            "seeds": [{"call": c, "source": s, "value": v} for c, s, v in facts.seeds],
            "unseeded_draw": unseeded,
        }
        held = self.held_states(facts, store, user_ns)
        if held:
            found["held"] = held
        return found

    def held_states(self, facts: CodeFacts, store: Store, user_ns: dict[str, Any]) -> dict[str, str]:
        """The states, before this cell, of the generators variables held (name -> stored state), and the
        states after it, kept for the next cell. Only names known to hold a generator, or bound by this
        cell, are read: the cost does not grow with the namespace."""
        before = {name: ref for name, (_blob, ref) in self.held.items()}
        names = list(self.held) + [n for n in facts.defined if n not in self.held]
        after: dict[str, tuple[bytes, str]] = {}
        for name in names:
            blob = randomness.held_state(user_ns.get(name)) if len(after) < self.HELD_LIMIT else None
            if blob is None:
                continue
            last = self.held.get(name)
            after[name] = last if last is not None and last[0] == blob else (blob, store(blob))
        self.held = after
        return before


@dataclass
class ModuleBook:
    """The modules a session knows (top-level names), those attributed to a cell already, and the kernel's own
    distributions (read once, when a cell first imports something)."""

    known: set[str] = field(default_factory=lambda: {name.partition(".")[0] for name in list(sys.modules)})
    attributed: set[str] = field(default_factory=set)
    kernel_dists: Optional[frozenset[str]] = None

    def new_modules(self, module_count: int, facts: CodeFacts) -> list[dict[str, Any]]:
        """Modules a cell brought in: new in ``sys.modules`` (which held ``module_count`` before it), or imported
        by name for the first time although the kernel had them loaded already (``import psutil``, ``from
        jinja2 import Template``)."""
        explicit = [n for n in facts.imported_modules if n not in self.attributed and n not in STANDARD_MODULES]
        if len(sys.modules) == module_count and not explicit:
            return []
        if self.kernel_dists is None:
            self.kernel_dists = kernel_distributions()
        now = {name.partition(".")[0] for name in list(sys.modules)}
        new = sorted({n for n in now - self.known if not n.startswith("_")} | set(explicit))
        self.known |= now
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
                self.attributed.add(name)
                file = getattr(module, "__file__", None) or ""
                if not file or file.startswith(sys.base_prefix):
                    continue
            if dist in self.kernel_dists and name not in facts.imported_modules and name not in facts.defined:
                continue  # imported by the kernel itself (tracebacks, display), not by the cell
            self.attributed.add(name)
            found.append({"name": name, "distribution": dist, "version": version})
        return found


@lru_cache(maxsize=1024)
def imports_only(code: str) -> bool:
    """True when the cell does nothing but import (IPython magics such as %matplotlib allowed)."""
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


def numpy_drawn_since_seeding(state: Any) -> bool:
    """NumPy's global MT19937 sits at position 623 with no cached Gaussian right after importing NumPy
    seeds it from OS entropy (NumPy 1.26 and 2.x alike); anything else means a draw happened since."""
    try:
        return int(state["state"]["pos"]) != 623 or bool(state["has_gauss"])
    except (KeyError, TypeError, ValueError):
        return False
