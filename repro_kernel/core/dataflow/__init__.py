"""Names a piece of cell code defines, uses, deletes and mutates, read from its AST.

The analysis is static and cached by the code's text, so the recorder pays for it once per distinct cell
source. IPython syntax is turned into plain Python first (``%magic`` becomes a ``run_line_magic`` call,
``!cmd`` a ``system`` call); the bodies of magics that run Python (``%%time``, ``%timeit``, ``%%capture``...)
are analysed as Python, so magics never make parsing fail and never hide a definition.

Two views of the same facts:

* the record view (``defined``, ``used``, ``deleted``, ``mutated``), conservative, stored in every CellRecord;
* the analysis view: ``eager_used`` / ``eager_defined`` are what the cell reads and binds *when it runs*;
  ``lazy_used`` / ``lazy_defined`` are, per function or class the cell defines, the globals its body reads or
  rebinds when it is *called*. The engine charges those to the cells that call the function, which is what
  keeps ``def f(): return k`` above ``k = 3`` from looking out of order.

This module is the entry point (:func:`analyze_code`, :class:`CodeFacts`, :func:`to_python` and the library
tables other layers read). The work sits beside it: ``tables`` (which calls seed, draw, mutate, fetch
or configure what), ``magics`` (IPython syntax to Python), ``scopes`` (name binding and
scopes), ``calls`` (what calls and literals reveal) and ``facts`` (the CodeFacts record).
"""

from __future__ import annotations

import ast
import re
from functools import lru_cache
from typing import Optional

from repro_kernel.core.dataflow.calls import FactsVisitor
from repro_kernel.core.dataflow.facts import CodeFacts
from repro_kernel.core.dataflow.magics import to_python
from repro_kernel.core.dataflow.tables import (
    ARG_MUTATING_FUNCTIONS,
    DETERMINISM_ATTRIBUTES,
    DETERMINISM_CALLS,
    DETERMINISM_ENV,
    GENERATOR_CALLS,
    GLOBAL_STATE,
    MUTATING_METHODS,
    NETWORK_CALLS,
    PYTHON_CELL_MAGICS,
    PYTHON_LINE_MAGICS,
    RANDOM_STATE_CALLS,
    SEED_CALLS,
    STATEFUL_MAGICS,
    TRANSPARENT_CELL_MAGICS,
    WRITE_CALL,
)

# The name repro_kernel.analysis.rules.data imports (kept for it and any other caller of the old name).
_WRITE_CALL = WRITE_CALL


@lru_cache(maxsize=8192)
def analyze_code(code: str) -> CodeFacts:
    """Return the names ``code`` defines, uses, deletes and mutates (cached by the code's text)."""
    return _with_replay_view(_analyze(code), code)


def cell_magic(code: str) -> Optional[str]:
    """The name of the cell magic ``code`` starts with (``""`` for a bare ``%%``), or None."""
    first = code.lstrip().split("\n", 1)[0]
    if first.startswith("%%"):
        return first[2:].split()[0] if first[2:].split() else ""
    return None


def _with_replay_view(facts: CodeFacts, code: str) -> CodeFacts:
    """Fill in what the export's slice needs beyond names: effects no name shows, callables and their writes."""
    magic = cell_magic(code)
    facts.stateful = bool(
        (magic is not None and magic not in TRANSPARENT_CELL_MAGICS)
        or facts.syntax_error or facts.star_imports
        or any(m in STATEFUL_MAGICS for m in facts.magics)
        or GLOBAL_STATE.search(code)
    )
    facts.defines_callable = bool(re.search(r"^\s*(async\s+def|def|class)\s", code, re.M)) or "lambda" in code
    for owner, names in facts.lazy_defined.items():
        # `def add(x): ...` then `add(1)` in one cell: the name appears beyond its definition (a guess that
        # errs towards keeping the cell).
        if len(re.findall(rf"(?<![\w.]){re.escape(owner)}\b", code)) > 1:
            for name in names:
                facts.own_call_writes.setdefault(name, owner)
    return facts


def _analyze(code: str) -> CodeFacts:
    source = to_python(code)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        lineno = getattr(exc, "lineno", None)
        return CodeFacts(syntax_error=f"{getattr(exc, 'msg', exc)} (line {lineno})")
    except RecursionError:
        return CodeFacts(syntax_error="code nested too deeply to analyse")
    visitor = FactsVisitor(analyze_code)
    try:
        for stmt in tree.body:
            visitor.visit(stmt)
    except RecursionError:
        return CodeFacts(syntax_error="code nested too deeply to analyse")
    return visitor.facts()


__all__ = [
    "ARG_MUTATING_FUNCTIONS",
    "DETERMINISM_ATTRIBUTES",
    "DETERMINISM_CALLS",
    "DETERMINISM_ENV",
    "GENERATOR_CALLS",
    "MUTATING_METHODS",
    "NETWORK_CALLS",
    "PYTHON_CELL_MAGICS",
    "PYTHON_LINE_MAGICS",
    "RANDOM_STATE_CALLS",
    "SEED_CALLS",
    "WRITE_CALL",
    "GLOBAL_STATE",
    "STATEFUL_MAGICS",
    "TRANSPARENT_CELL_MAGICS",
    "CodeFacts",
    "analyze_code",
    "cell_magic",
    "to_python",
]
