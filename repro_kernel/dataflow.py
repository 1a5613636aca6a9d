"""Names a piece of cell code defines, uses, deletes and mutates, read from its AST.

The analysis is static and cached by the code's hash, so the recorder pays for it once per distinct cell
source. IPython syntax is turned into plain Python first (``%magic`` becomes a ``run_line_magic`` call,
``!cmd`` a ``system`` call), so magics never make parsing fail.
"""

from __future__ import annotations

import ast
import builtins
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional

_BUILTINS = frozenset(dir(builtins)) | {"get_ipython", "display", "In", "Out", "exit", "quit"}

# Methods that change their receiver in place (lists, dicts, sets, pandas, NumPy).
MUTATING_METHODS = frozenset(
    {
        "append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse", "update",
        "setdefault", "popitem", "add", "discard", "difference_update", "intersection_update",
        "symmetric_difference_update", "fill", "resize", "put", "itemset", "setflags",
        "drop_duplicates", "fillna", "dropna", "rename", "set_index", "reset_index", "replace",
        "sort_values", "sort_index", "interpolate", "clip", "where", "mask", "drop", "fit",
        "partial_fit",
    }
)

# Calls that seed a random source; the value is the source they seed.
SEED_CALLS = {
    "random.seed": "python",
    "seed": None,  # bare `seed(...)` after `from random import seed` or similar: source unknown
    "np.random.seed": "numpy",
    "numpy.random.seed": "numpy",
    "torch.manual_seed": "torch",
    "torch.cuda.manual_seed": "torch_cuda",
    "torch.cuda.manual_seed_all": "torch_cuda",
    "tf.random.set_seed": "tensorflow",
    "tensorflow.random.set_seed": "tensorflow",
    "tf.keras.utils.set_random_seed": "all",
    "keras.utils.set_random_seed": "all",
    "set_random_seed": "all",
    "seed_everything": "all",
    "pl.seed_everything": "all",
    "lightning.seed_everything": "all",
}

# Constructors of random generators: seeded if called with an argument.
GENERATOR_CALLS = frozenset(
    {"default_rng", "RandomState", "Generator", "PCG64", "MT19937", "Philox", "SFC64", "Random"}
)


@dataclass
class CodeFacts:
    """What the static analysis found in one cell's code."""

    defined: list[str] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    mutated: list[str] = field(default_factory=list)
    seeds: list[tuple[str, Optional[str], str]] = field(default_factory=list)  # (call, source, value)
    unseeded_generators: list[str] = field(default_factory=list)
    star_imports: list[str] = field(default_factory=list)
    magics: list[str] = field(default_factory=list)
    syntax_error: Optional[str] = None


def _dotted(node: ast.AST) -> Optional[str]:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _root_name(node: ast.AST) -> Optional[str]:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred)):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


class _Visitor(ast.NodeVisitor):
    def __init__(self) -> None:
        self.defined: dict[str, None] = {}
        self.used: dict[str, None] = {}
        self.deleted: dict[str, None] = {}
        self.mutated: dict[str, None] = {}
        self.seeds: list[tuple[str, Optional[str], str]] = []
        self.unseeded: list[str] = []
        self.star_imports: list[str] = []
        self.magics: list[str] = []
        self._scopes: list[set[str]] = []  # local names of enclosing functions/comprehensions

    # -- helpers
    def _local(self, name: str) -> bool:
        return any(name in scope for scope in self._scopes)

    def _use(self, name: str) -> None:
        if self._scopes and self._local(name):
            return
        if name not in self.defined and name not in _BUILTINS:
            self.used.setdefault(name)

    def _define(self, name: str) -> None:
        if self._scopes:
            self._scopes[-1].add(name)
            return
        self.defined.setdefault(name)
        self.deleted.pop(name, None)

    def _target(self, node: ast.AST) -> None:
        if isinstance(node, ast.Name):
            self._define(node.id)
        elif isinstance(node, (ast.Tuple, ast.List)):
            for elt in node.elts:
                self._target(elt)
        elif isinstance(node, ast.Starred):
            self._target(node.value)
        elif isinstance(node, (ast.Attribute, ast.Subscript)):
            root = _root_name(node)
            if root is not None and not self._local(root):
                self._use(root)
                if not self._scopes:
                    self.mutated.setdefault(root)
            self.visit(node.value)
            if isinstance(node, ast.Subscript):
                self.visit(node.slice)

    # -- statements
    def visit_Assign(self, node: ast.Assign) -> None:
        self.visit(node.value)
        for target in node.targets:
            self._target(target)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        if node.value is not None:
            self.visit(node.value)
            self._target(node.target)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self.visit(node.value)
        root = _root_name(node.target)
        if root is not None:
            self._use(root)
            if isinstance(node.target, ast.Name):
                self._define(root)
            elif not self._scopes:
                self.mutated.setdefault(root)
        if not isinstance(node.target, ast.Name):
            self.visit(node.target.value)  # type: ignore[attr-defined]

    def visit_NamedExpr(self, node: ast.NamedExpr) -> None:
        self.visit(node.value)
        self._target(node.target)

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name) and not self._scopes:
                self.defined.pop(target.id, None)
                self.deleted.setdefault(target.id)
            else:
                root = _root_name(target)
                if root is not None and not self._local(root):
                    self._use(root)
                    self.mutated.setdefault(root)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._define(alias.asname or alias.name.split(".")[0])

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        for alias in node.names:
            if alias.name == "*":
                self.star_imports.append(node.module or "")
            else:
                self._define(alias.asname or alias.name)

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        for default in node.args.defaults + [d for d in node.args.kw_defaults if d is not None]:
            self.visit(default)
        if not isinstance(node, ast.Lambda):
            for dec in node.decorator_list:
                self.visit(dec)
            self._define(node.name)
        args = node.args
        params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        if args.vararg:
            params.add(args.vararg.arg)
        if args.kwarg:
            params.add(args.kwarg.arg)
        body = node.body if isinstance(node.body, list) else [node.body]
        local = params | _assigned_locals(body)
        self._scopes.append(local)
        for stmt in body:
            self.visit(stmt)
        self._scopes.pop()

    visit_FunctionDef = _visit_function  # type: ignore[assignment]
    visit_AsyncFunctionDef = _visit_function  # type: ignore[assignment]
    visit_Lambda = _visit_function  # type: ignore[assignment]

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        for base in node.bases + node.decorator_list + [k.value for k in node.keywords]:
            self.visit(base)
        self._define(node.name)
        self._scopes.append(_assigned_locals(node.body))
        for stmt in node.body:
            self.visit(stmt)
        self._scopes.pop()

    def visit_Global(self, node: ast.Global) -> None:
        if self._scopes:
            for name in node.names:
                self._scopes[-1].discard(name)
                self.defined.setdefault(name)

    def _visit_comprehension(self, node: ast.AST) -> None:
        generators = node.generators  # type: ignore[attr-defined]
        self.visit(generators[0].iter)
        local: set[str] = set()
        for gen in generators:
            local |= _target_names(gen.target)
        self._scopes.append(local)
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

    # -- expressions
    def visit_Name(self, node: ast.Name) -> None:
        if isinstance(node.ctx, ast.Load):
            self._use(node.id)
        elif isinstance(node.ctx, ast.Store):
            self._define(node.id)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        dotted = _dotted(func)
        if dotted is None and isinstance(func, ast.Attribute):
            dotted = func.attr  # e.g. get_ipython().run_line_magic(...)
        if dotted is not None:
            self._note_call(dotted, node)
        if isinstance(func, ast.Attribute) and func.attr in MUTATING_METHODS:
            root = _root_name(func.value)
            if root is not None and not self._local(root) and not self._scopes:
                self.mutated.setdefault(root)
        for kw in node.keywords:
            if kw.arg == "inplace" and isinstance(kw.value, ast.Constant) and kw.value.value is True:
                root = _root_name(func.value) if isinstance(func, ast.Attribute) else None
                if root is not None and not self._scopes:
                    self.mutated.setdefault(root)
        self.generic_visit(node)

    def _note_call(self, dotted: str, node: ast.Call) -> None:
        if dotted.endswith(("run_line_magic", "run_cell_magic", "system", "getoutput")) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                self.magics.append(first.value)
                if dotted.endswith("run_line_magic") and first.value == "repro" and len(node.args) > 1:
                    arg = node.args[1]
                    if isinstance(arg, ast.Constant) and str(arg.value).split()[:1] == ["seed"]:
                        self.seeds.append(("%repro seed", "all", str(arg.value).split(maxsplit=1)[-1]))
        last = dotted.rsplit(".", 1)[-1]
        source: Optional[str] = SEED_CALLS.get(dotted, "missing")  # type: ignore[assignment]
        if source == "missing" and last == "seed" and dotted.startswith(("random.", "np.", "numpy.")):
            source = "numpy" if dotted.startswith(("np.", "numpy.")) else "python"
        if source != "missing":
            value = ast.unparse(node.args[0]) if node.args else ""
            self.seeds.append((dotted, source, value))
        elif last in GENERATOR_CALLS and not node.args and not node.keywords:
            if dotted.startswith(("np.", "numpy.", "random.")) or dotted in GENERATOR_CALLS:
                self.unseeded.append(dotted)


def _target_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _assigned_locals(body: list[ast.stmt]) -> set[str]:
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
            elif isinstance(node, ast.Global):
                globals_.update(node.names)
    return names - globals_


def to_python(code: str) -> str:
    """Turn IPython syntax into plain Python; leave plain Python unchanged."""
    if "%" not in code and "!" not in code and "?" not in code:
        return code
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(code)
    except Exception:  # the transformer rejects some half-written input; parse what we have
        return code


@lru_cache(maxsize=4096)
def analyze_code(code: str) -> CodeFacts:
    """Return the names ``code`` defines, uses, deletes and mutates (cached by the code's text)."""
    source = to_python(code)
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return CodeFacts(syntax_error=f"{exc.msg} (line {exc.lineno})")
    visitor = _Visitor()
    for stmt in tree.body:
        visitor.visit(stmt)
    mutated = [n for n in visitor.mutated if n not in visitor.defined]
    return CodeFacts(
        defined=list(visitor.defined),
        used=list(visitor.used),
        deleted=list(visitor.deleted),
        mutated=mutated,
        seeds=visitor.seeds,
        unseeded_generators=visitor.unseeded,
        star_imports=visitor.star_imports,
        magics=visitor.magics,
    )
