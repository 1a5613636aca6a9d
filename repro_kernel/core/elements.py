"""Element-level reads and appends: when a change to a list leaves what a cell read as it was.

A cell that showed ``lst[0]`` is not stale after ``lst.append(4)``: appending changes neither an element at a
non-negative index nor any element before the end. Both tests are syntactic and cached by code; anything they
cannot be sure of (a negative or computed index, ``len(lst)``, ``lst`` passed to a function, ``insert``) says
"not only", and the reader stays stale.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from typing import Optional

from repro_kernel.core.dataflow import to_python

_APPENDS = frozenset({"append", "extend"})


@lru_cache(maxsize=2048)
def _tree(code: str) -> Optional[ast.AST]:
    try:
        return ast.parse(to_python(code))
    except (SyntaxError, ValueError):
        return None


def _uses(code: str, name: str) -> Optional[list[tuple[ast.Name, dict[int, ast.AST]]]]:
    """Every ``Name`` node of ``name`` in ``code``, each with the tree's child -> parent map; None when the
    code does not parse."""
    tree = _tree(code)
    if tree is None:
        return None
    parents = {id(child): node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    return [(node, parents) for node in ast.walk(tree) if isinstance(node, ast.Name) and node.id == name]


@lru_cache(maxsize=4096)
def reads_only_elements(code: str, name: str) -> bool:
    """Whether every read of ``name`` in ``code`` is ``name[i]`` with ``i`` a non-negative int literal."""
    uses = _uses(code, name)
    if not uses:
        return False
    for node, parents in uses:
        parent = parents.get(id(node))
        index = parent.slice if isinstance(parent, ast.Subscript) and parent.value is node else None
        if not (isinstance(node.ctx, ast.Load) and isinstance(index, ast.Constant)
                and type(index.value) is int and index.value >= 0
                and isinstance(parent.ctx, ast.Load)):  # type: ignore[union-attr]
            return False
    return True


@lru_cache(maxsize=4096)
def only_appends_to(code: str, name: str) -> bool:
    """Whether ``code`` uses ``name`` only to append to it (``name.append(x)``, ``name.extend(xs)``), each call
    a statement of its own, and binds nothing else to it."""
    uses = _uses(code, name)
    if not uses:
        return False
    for node, parents in uses:
        attribute = parents.get(id(node))
        call = parents.get(id(attribute)) if attribute is not None else None
        statement = parents.get(id(call)) if call is not None else None
        if not (isinstance(attribute, ast.Attribute) and attribute.attr in _APPENDS
                and isinstance(call, ast.Call) and call.func is attribute and isinstance(statement, ast.Expr)):
            return False
    return True
