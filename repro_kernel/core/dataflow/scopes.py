"""Name binding and scopes: the part of the code-facts visitor that knows Python's scoping rules.

:class:`NameVisitor` reads which names a cell binds, reads, deletes and mutates at module level (the record
view, and the eager half of the analysis view) and, per function or class the cell defines at module level, the
globals its body reads or rebinds when it is called (the lazy half). Names local to a function, a class body or a
comprehension sit in a stack of scopes and follow Python's own rules (a walrus target leaves its comprehension, a
`global` name is not local). What calls and literals reveal (randomness, files, network, determinism, magics) is
added on top by :class:`repro_kernel.core.dataflow.calls.FactsVisitor`.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Sequence
from typing import Optional

from repro_kernel.core.dataflow.tables import BUILTIN_NAMES


def _root_name(node: ast.AST) -> Optional[str]:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


class _Scope:
    """The names local to one function, class body or comprehension being read."""

    __slots__ = ("names", "comprehension")

    def __init__(self, names: set[str], comprehension: bool = False) -> None:
        self.names = names
        self.comprehension = comprehension


class NameVisitor(ast.NodeVisitor):
    """Def/use of names at module level and, per module-level function or class, of the globals its body uses."""

    def __init__(self) -> None:
        self.defined: dict[str, None] = {}
        self.used: dict[str, None] = {}
        self.eager_used: dict[str, None] = {}
        self.eager_defined: dict[str, None] = {}
        self.deleted: dict[str, None] = {}
        self.mutated: dict[str, None] = {}
        self.lazy_used: dict[str, dict[str, None]] = {}
        self.lazy_defined: dict[str, dict[str, None]] = {}
        self.value_keys: dict[str, Optional[str]] = {}
        self.star_imports: list[str] = []
        self.imported: dict[str, None] = {}
        self._scopes: list[_Scope] = []
        self._owner: Optional[str] = None  # the module-level function/class whose body is being read
        self._class: Optional[str] = None  # the module-level class whose body is being read
        self._imports: dict[str, str] = {}  # local alias -> module, to recognise `np.random` etc.

    # -- helpers
    def _local(self, name: str) -> bool:
        return any(name in scope.names for scope in self._scopes)

    def _use(self, name: str) -> None:
        if self._scopes and self._local(name):
            return
        if name in BUILTIN_NAMES and name not in self.defined:
            return
        if self._owner is not None:
            self.lazy_used.setdefault(self._owner, {}).setdefault(name)
            if name not in self.defined:
                self.used.setdefault(name)
            return
        if name not in self.eager_defined:
            self.eager_used.setdefault(name)
        if name not in self.defined:
            self.used.setdefault(name)

    def _define(self, name: str, key: Optional[str] = None) -> None:
        for scope in reversed(self._scopes):
            if not scope.comprehension:
                scope.names.add(name)
                return
        if self._scopes and self._owner is not None:  # a walrus in a comprehension inside a function
            return
        self.defined.setdefault(name)
        self.eager_defined.setdefault(name)
        self.deleted.pop(name, None)
        self.value_keys[name] = None if name in self.value_keys else key

    def _mutate(self, node: ast.AST) -> None:
        root = _root_name(node)
        if root is None or self._local(root):
            return
        self._use(root)
        if self._owner is not None:
            self.lazy_defined.setdefault(self._owner, {}).setdefault(root)
        elif not self._scopes or all(s.comprehension for s in self._scopes):
            self.mutated.setdefault(root)

    def _target(self, node: ast.AST, key: Optional[str] = None) -> None:
        if isinstance(node, ast.Name):
            self._define(node.id, key)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                self._target(elt)
        elif isinstance(node, ast.Starred):
            self._target(node.value)
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            self._mutate(node)
            self.visit(node.value)
            if isinstance(node, ast.Subscript):
                self.visit(node.slice)

    # -- statements
    def visit_Assign(self, node: ast.Assign) -> None:
        key = _literal_key(node.value)
        if isinstance(node.value, ast.Lambda) and self._owner is None and not self._scopes:
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if names:
                self._visit_function(node.value, owner=names[0])
                for target in node.targets:
                    self._target(target)
                return
        self.visit(node.value)
        for target in node.targets:
            self._target(target, key if len(node.targets) == 1 else None)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._target(node.target, _literal_key(node.value))

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        target = node.target
        if isinstance(target, ast.Name):
            self._use(target.id)
            self._define(target.id)
        else:
            self._mutate(target)
            self.visit(target.value)  # type: ignore[attr-defined]
            if isinstance(target, ast.Subscript):
                self.visit(target.slice)

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._target(node.target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                if self._scopes:
                    continue
                self.defined.pop(target.id, None)
                self.eager_defined.pop(target.id, None)
                self.value_keys.pop(target.id, None)
                self.deleted.setdefault(target.id)
            elif isinstance(target, (ast.Tuple, ast.List)):
                self.visit_Delete(ast.Delete(targets=list(target.elts)))
            else:
                self._mutate(target)
                self.visit(target)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            name = alias.asname or alias.name.split(".")[0]
            module = alias.name if alias.asname else alias.name.split(".")[0]
            self._imports[name] = module
            if not self._scopes:
                self.imported.setdefault(alias.name.split(".")[0])
            self._define(name, f"import:{module}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        module = "." * node.level + (node.module or "")
        if not self._scopes and node.level == 0 and node.module:
            self.imported.setdefault(node.module.split(".")[0])
        for alias in node.names:
            if alias.name == "*":
                self.star_imports.append(node.module or "")
            else:
                name = alias.asname or alias.name
                self._imports[name] = f"{module}.{alias.name}"
                self._define(name, f"import:{module}.{alias.name}")

    def _visit_function(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, owner: Optional[str] = None
    ) -> None:
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(default)
        if not isinstance(node, ast.Lambda):
            for dec in node.decorator_list:
                self.visit(dec)
            if node.returns is not None and self._owner is None:
                self.visit(node.returns)
            owner = node.name
            self._define(node.name, "def:" + _text_key(node))
        args = node.args
        params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        if args.vararg:
            params.add(args.vararg.arg)
        if args.kwarg:
            params.add(args.kwarg.arg)
        body = node.body if isinstance(node.body, list) else [node.body]
        local = params | _assigned_locals(body)
        outer = self._owner
        if outer is None and owner is not None:
            if not self._scopes:
                self._owner = owner
            elif len(self._scopes) == 1 and self._class is not None:
                self._owner = self._class  # a method of a module-level class: charged to the class
        self._scopes.append(_Scope(local))
        for stmt in body:
            self.visit(stmt)
        self._scopes.pop()
        self._owner = outer

    visit_FunctionDef = _visit_function  # type: ignore[assignment]
    visit_AsyncFunctionDef = _visit_function  # type: ignore[assignment]
    visit_Lambda = _visit_function  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases + node.decorator_list + [k.value for k in node.keywords]:
            self.visit(base)
        self._define(node.name, "class:" + _text_key(node))
        outer = self._class
        if not self._scopes:
            self._class = node.name  # the class body runs now; its methods' bodies run when called
        self._scopes.append(_Scope(_assigned_locals(node.body)))
        for stmt in node.body:
            self.visit(stmt)
        self._scopes.pop()
        self._class = outer

    def visit_Global(self, node: ast.Global) -> None:
        if self._scopes:
            for name in node.names:
                self._scopes[-1].names.discard(name)
                self.defined.setdefault(name)
                if self._owner is not None:
                    self.lazy_defined.setdefault(self._owner, {}).setdefault(name)

    def _visit_comprehension(self, node: ast.AST) -> None:
        generators = node.generators  # type: ignore[attr-defined]
        self.visit(generators[0].iter)
        local: set[str] = set()
        for gen in generators:
            local |= _target_names(gen.target)
        self._scopes.append(_Scope(local, comprehension=True))
        for i, gen in enumerate(generators):
            if i:
                self.visit(gen.iter)
            for cond in gen.ifs:
                self.visit(cond)
        for attr in ("elt", "key", "value"):
            child = getattr(node, attr, None)
            if child is not None:
                self.visit(child)
        self._scopes.pop()

    visit_ListComp = _visit_comprehension
    visit_SetComp = _visit_comprehension
    visit_GeneratorExp = _visit_comprehension
    visit_DictComp = _visit_comprehension

    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.visit(node.iter)
        self._target(node.target)
        for stmt in node.body + node.orelse:
            self.visit(stmt)

    visit_AsyncFor = visit_For  # type: ignore[assignment]

    def visit_With(self, node: ast.With | ast.AsyncWith) -> None:
        for item in node.items:
            self.visit(item.context_expr)
            if item.optional_vars is not None:
                self._target(item.optional_vars)
        for stmt in node.body:
            self.visit(stmt)

    visit_AsyncWith = visit_With  # type: ignore[assignment]

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.type is not None:
            self.visit(node.type)
        if node.name:
            self._define(node.name)
        for stmt in node.body:
            self.visit(stmt)

    def visit_MatchAs(self, node: ast.AST) -> None:
        if getattr(node, "pattern", None) is not None:
            self.visit(node.pattern)  # type: ignore[attr-defined]
        if getattr(node, "name", None):
            self._define(node.name)  # type: ignore[attr-defined]

    def visit_MatchStar(self, node: ast.AST) -> None:
        if getattr(node, "name", None):
            self._define(node.name)  # type: ignore[attr-defined]

    def visit_MatchMapping(self, node: ast.AST) -> None:
        self.generic_visit(node)
        if getattr(node, "rest", None):
            self._define(node.rest)  # type: ignore[attr-defined]

    # -- expressions
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._use(node.id)
        elif isinstance(node.ctx, ast.Store):
            self._define(node.id)


def _literal_key(node: ast.AST) -> Optional[str]:
    """A key for values fixed by the code alone (literals, and containers of literals)."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None
    text = repr(value)
    return "const:" + text if len(text) <= 200 else None


def _text_key(node: ast.AST) -> str:
    return hashlib.blake2b(ast.dump(node).encode("utf-8", "surrogatepass"), digest_size=8).hexdigest()


def _target_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _assigned_locals(body: Sequence[ast.AST]) -> set[str]:
    """Names bound anywhere in a function body (Python's own rule for locals), minus `global` ones."""
    names: set[str] = set()
    globals_: set[str] = set()
    for stmt in body:
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
                names.add(node.id)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    names.add((alias.asname or alias.name).split(".")[0])
            elif isinstance(node, (ast.Global, ast.Nonlocal)):
                globals_.update(node.names)
    return names - globals_
