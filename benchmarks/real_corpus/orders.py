"""The orders a corpus notebook is recorded in: top to bottom, and messy ones as people work, seeded by its name.

An order is a list of operations on the notebook's code cells (positions among the code cells):
``("run", i)`` runs cell i; ``("edit", i, source)`` replaces cell i's source (a numeric literal changed: a
parameter edit; the next ``run`` of i runs the new source); ``("restart",)`` starts a new kernel (``%repro start``
again) as a restart does. Each messy order mixes go-backs (re-run a few cells above and carry on), a parameter edit
and re-runs after it, re-runs at the end and a restart in the middle (then "run all above" and carry on, as people
do), chosen and placed by a generator seeded with the notebook's name and the order's number.
"""

from __future__ import annotations

import ast
import random
from typing import Any, Optional

Op = tuple[Any, ...]

# Which moves each messy order makes (its positions and cells vary per notebook).
MESSY = {
    "messy1": ("goback", "goback", "tail"),
    "messy2": ("edit", "goback", "tail"),
    "messy3": ("restart", "edit", "tail"),
}


def _numeric_literals(source: str) -> list[tuple[int, int, int, Any, bool]]:
    """(line, col, end_col, value, is_parameter) of each int/float literal outside imports; a literal assigned to
    a name (``nobs = 100``) or passed as a keyword (``alpha=0.05``) is a parameter."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    params: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
            params.add(id(node.value))
        elif isinstance(node, ast.keyword) and isinstance(node.value, ast.Constant):
            params.add(id(node.value))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Constant) and type(node.value) in (int, float) and node.lineno == node.end_lineno
                and node.value not in (0, 1)):
            found.append((node.lineno, node.col_offset, node.end_col_offset or 0, node.value, id(node) in params))
    return sorted(found)


def edited(source: str, rng: random.Random) -> Optional[tuple[str, str]]:
    """``source`` with one numeric literal changed (a parameter if there is one) and a note saying which; None if
    it has none."""
    literals = _numeric_literals(source)
    if not literals:
        return None
    params = [lit for lit in literals if lit[4]]
    line, col, end, value, _ = rng.choice(params or literals)
    new: Any = value + max(1, abs(value) // 10) if isinstance(value, int) else round(value * 1.1, 6)
    lines = source.split("\n")
    text = lines[line - 1]
    # ast offsets are in UTF-8 bytes
    raw = text.encode()
    lines[line - 1] = (raw[:col] + repr(new).encode() + raw[end:]).decode()
    return "\n".join(lines), f"line {line}: {value!r} -> {new!r}"


def top_to_bottom(n: int) -> list[Op]:
    return [("run", i) for i in range(n)]


def messy(name: str, order: str, sources: list[str]) -> tuple[list[Op], list[str]]:
    """A messy order of the cells ``sources`` (the moves of ``MESSY[order]``), and a note of each move."""
    n = len(sources)
    rng = random.Random(f"{name}:{order}")
    moves = MESSY[order]
    base: list[Op] = [("run", i) for i in range(n)]
    notes: list[str] = []
    inserts: dict[int, list[Op]] = {}  # after running cell p (position in base), these ops
    if n < 3:
        return base + [("run", n - 1)], ["re-run the last cell"]
    used_points: set[int] = set()

    def point(lo: int, hi: int) -> int:
        candidates = [p for p in range(max(1, lo), max(lo + 1, hi)) if p not in used_points and p < n] or [n - 1]
        p = rng.choice(candidates)
        used_points.add(p)
        return p

    for move in moves:
        if move == "goback":
            p = point(2, n)
            start = rng.randrange(max(0, p - 4), p)
            back: list[Op] = [("run", i) for i in range(start, p + 1)]
            inserts.setdefault(p, []).extend(back)
            notes.append(f"after cell {p}: went back and re-ran cells {start}..{p}")
        elif move == "edit":
            editable = [i for i, s in enumerate(sources) if _numeric_literals(s)]
            if not editable:
                notes.append("no numeric literal to edit: went back instead")
                p = point(2, n)
                inserts.setdefault(p, []).extend(("run", i) for i in range(max(0, p - 2), p + 1))
                continue
            params = [i for i in editable if any(lit[4] for lit in _numeric_literals(sources[i]))]
            cell = rng.choice(params or editable)
            result = edited(sources[cell], rng)
            assert result is not None
            source, what = result
            after = min(n - 1, cell + rng.randint(0, 2))
            follow = [("run", i) for i in range(cell + 1, min(n, cell + 1 + rng.randint(1, 3)))]
            inserts.setdefault(after, []).extend([("edit", cell, source), ("run", cell), *follow])
            used_points.add(after)
            notes.append(f"after cell {after}: edited cell {cell} ({what}), re-ran it and {len(follow)} after it")
        elif move == "restart":
            p = point(n // 3, (2 * n) // 3 + 1)
            inserts.setdefault(p, []).extend([("restart",), *(("run", i) for i in range(p + 1))])
            notes.append(f"after cell {p}: restarted the kernel, re-ran cells 0..{p}")
        elif move == "tail":
            k = min(n, rng.randint(2, 4))
            picks = sorted(rng.sample(range(n), k))
            inserts.setdefault(n - 1, []).extend(("run", i) for i in picks)
            notes.append(f"at the end: re-ran cells {picks}")
    ops: list[Op] = []
    for op in base:
        ops.append(op)
        ops.extend(inserts.get(op[1], ()))
    return ops, notes
