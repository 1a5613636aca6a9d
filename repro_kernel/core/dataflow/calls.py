"""What calls and literals reveal: the part of the code-facts visitor that classifies them.

:class:`FactsVisitor` adds to the name binding of :class:`~repro_kernel.core.dataflow.scopes.NameVisitor`:
seeds, unseeded generators and draws from global random states; absolute path and URL literals; network calls
and package installs; GPU use and determinism settings; calls that mutate their receiver or first argument;
and the magics a cell runs, whose Python bodies (``%%time``, ``%timeit``...) are analysed and folded in. The
tables it reads are in :mod:`repro_kernel.core.dataflow.tables`.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Callable
from typing import Optional

from repro_kernel.core.dataflow.facts import CodeFacts
from repro_kernel.core.dataflow.magics import strip_options
from repro_kernel.core.dataflow.scopes import NameVisitor, _root_name
from repro_kernel.core.dataflow.tables import (
    ABSOLUTE_PATH,
    ARG_MUTATING_FUNCTIONS,
    ARG_MUTATING_MODULES,
    BUILTIN_NAMES,
    DETERMINISM_ATTRIBUTES,
    DETERMINISM_CALLS,
    DETERMINISM_ENV,
    DRAW_PREFIXES,
    GENERATOR_CALLS,
    GPU_WORDS,
    MUTATING_METHODS,
    NETWORK_CALLS,
    NETWORK_MODULE_PREFIXES,
    NOT_DRAWS,
    PURE_FUNCTIONS,
    PURE_METHODS,
    PYTHON_CELL_MAGICS,
    PYTHON_LINE_MAGICS,
    RANDOM_STATE_CALLS,
    SEED_CALLS,
    SHELL_INSTALL,
    SHELL_NETWORK,
    TORCH_DRAWS,
    URL,
    VIEW_ATTRIBUTES,
    VIEW_METHODS,
)


def dotted_name(node: ast.AST) -> Optional[str]:
    """``a.b.c`` for a chain of attributes on a name; None for anything else (a call's result, a subscript)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None



def _through_call(node: ast.AST) -> bool:
    """Whether ``node`` (a method's receiver) is, or is an attribute of, a call's result: ``f(...)``, ``m.f(...).x``."""
    while isinstance(node, (ast.Attribute, ast.Subscript)):
        node = node.value
    return isinstance(node, ast.Call)


def _shared_with(value: ast.AST) -> list[str]:
    """The session names whose values ``value`` may share memory with: ``x``, ``x[5:8]``, ``x.T``, ``x.view()``,
    ``x.reshape(2, 3)``, ``np.asarray(x)`` (both ``np`` and ``x``: the slice drops module names)."""
    names: list[Optional[str]] = []
    if isinstance(value, ast.Name):
        names.append(value.id)
    elif isinstance(value, ast.Subscript):
        names.append(_root_name(value.value))
    elif isinstance(value, ast.Attribute) and value.attr in VIEW_ATTRIBUTES:
        names.append(_root_name(value.value))
    elif isinstance(value, ast.Call):
        func = value.func
        last = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if last in VIEW_METHODS or last in ("asarray", "asanyarray", "frombuffer"):
            if isinstance(func, ast.Attribute):
                names.append(_root_name(func.value))
            if value.args:
                names.append(_root_name(value.args[0]))
    return [n for n in names if n is not None]


def _is_true(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is True



def _draw_source(dotted: str, last: str) -> Optional[str]:
    if last in NOT_DRAWS or last.startswith("_"):
        return None
    for prefix, source in DRAW_PREFIXES:
        if dotted.startswith(prefix):
            if source == "torch" and (dotted.count(".") != 1 or last not in TORCH_DRAWS):
                return None
            if source == "python" and dotted.count(".") != 1:
                return None
            return source
    return None


class FactsVisitor(NameVisitor):
    """Everything :class:`~repro_kernel.core.dataflow.CodeFacts` holds, read in one walk of a cell's AST.

    ``analyze`` is what it calls on the Python a magic runs (``analyze_code``, with its cache).
    """

    def __init__(self, analyze: Callable[[str], CodeFacts]) -> None:
        super().__init__()
        self.seeds: list[tuple[str, Optional[str], str]] = []
        self.unseeded: list[str] = []
        self.magics: list[str] = []
        self.draws: list[tuple[str, str]] = []
        self.paths: list[tuple[str, str]] = []
        self.urls: list[str] = []
        self.network: list[str] = []
        self.installs: list[str] = []
        self.gpu: list[str] = []
        self.determinism: list[tuple[str, str]] = []
        self.maybe_mutated: dict[str, None] = {}
        self.maybe_used: dict[str, None] = {}
        self.aliases: list[tuple[str, str]] = []
        self.dropped_calls: list[str] = []
        # Roots mutated only by a mutating method on a fresh call result the cell binds (`res = smf.ols(...).fit()`),
        # and roots mutated any other way.
        self._fresh_mutated: dict[str, None] = {}
        self._direct_mutated: dict[str, None] = {}
        self._bound_values: set[int] = set()  # ids of the expressions an assignment binds to a name
        self._fresh = False
        self._call_name = ""  # the call whose arguments are being read (for path literals)
        self._analyze = analyze

    def facts(self) -> CodeFacts:
        """What the walk found, once every statement of the cell has been visited."""
        mutated = [n for n in self.mutated if n not in self.defined]
        for name in self.mutated:
            self.value_keys.pop(name, None)  # `x = []; x.append(1)`: the literal is not the value
        return CodeFacts(
            defined=list(self.defined),
            used=list(self.used),
            deleted=list(self.deleted),
            mutated=mutated,
            seeds=self.seeds,
            unseeded_generators=self.unseeded,
            star_imports=self.star_imports,
            magics=self.magics,
            eager_used=list(self.eager_used),
            eager_defined=list(self.eager_defined),
            lazy_used={k: list(v) for k, v in self.lazy_used.items()},
            lazy_defined={k: list(v) for k, v in self.lazy_defined.items()},
            value_keys={k: v for k, v in self.value_keys.items() if v is not None and k in self.eager_defined},
            imported_modules=list(self.imported),
            random_draws=self.draws,
            path_literals=self.paths,
            urls=self.urls,
            network_calls=self.network,
            installs=self.installs,
            gpu_uses=self.gpu,
            determinism=self.determinism,
            maybe_mutated=[n for n in self.maybe_mutated if n not in self.mutated],
            maybe_used=list(self.maybe_used),
            aliases=self.aliases,
            dropped_calls=self.dropped_calls,
            bound_fresh_mutations=[n for n in self._fresh_mutated if n not in self._direct_mutated],
        )

    # -- what the export's slice must not miss: method calls, names in strings, views, dropped calls
    def _module_level(self) -> bool:
        return self._owner is None and all(scope.comprehension for scope in self._scopes)

    def _maybe_mutate(self, node: ast.AST) -> None:
        root = _root_name(node)
        if root is None or (root in BUILTIN_NAMES and root not in self.defined):
            return
        if root not in self._imports and not self._local(root) and self._module_level():
            self.maybe_mutated.setdefault(root)

    def _mutate(self, node: ast.AST) -> None:
        root = _root_name(node)
        if root is not None:
            (self._fresh_mutated if self._fresh else self._direct_mutated).setdefault(root)
        super()._mutate(node)

    def visit_Assign(self, node: ast.Assign) -> None:
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            self._bound_values.add(id(node.value))
        super().visit_Assign(node)
        target = node.targets[0] if len(node.targets) == 1 else None
        if isinstance(target, ast.Name) and self._module_level():
            for source in _shared_with(node.value):
                if source != target.id and source not in self._imports:
                    self.aliases.append((target.id, source))

    def visit_Expr(self, node: ast.Expr) -> None:
        call = node.value
        if isinstance(call, ast.Call) and self._module_level():
            dotted = dotted_name(call.func)
            if dotted is not None and dotted.rsplit(".", 1)[-1] not in PURE_FUNCTIONS:
                self.dropped_calls.append(dotted)  # the slice keeps it when its head is an imported name
        self.generic_visit(node)

    def _target(self, node: ast.AST, key: Optional[str] = None) -> None:
        super()._target(node, key)
        # Assignments that make a framework deterministic: `torch.backends.cudnn.deterministic = True`,
        # `os.environ["CUBLAS_WORKSPACE_CONFIG"] = ...`.
        if isinstance(node, (ast.Attribute, ast.Subscript)):
            dotted = dotted_name(node) if isinstance(node, ast.Attribute) else None
            if dotted in DETERMINISM_ATTRIBUTES:
                self.determinism.append((dotted, DETERMINISM_ATTRIBUTES[dotted]))  # type: ignore[index]
            if isinstance(node, ast.Subscript) and dotted_name(node.value) == "os.environ":
                name = node.slice.value if isinstance(node.slice, ast.Constant) else None
                if isinstance(name, str) and name in DETERMINISM_ENV:
                    self.determinism.append((f"os.environ[{name!r}]", DETERMINISM_ENV[name]))

    # -- expressions
    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if isinstance(value, str) and len(value) <= 64 and value.isidentifier() and not keyword.iskeyword(value):
            self.maybe_used.setdefault(value)
        if not isinstance(value, str) or len(value) > 500 or len(value) < 2:
            return
        if URL.match(value):
            self.urls.append(value)
        elif ABSOLUTE_PATH.match(value) and not value.startswith(("/dev/", "/proc/")):
            self.paths.append((value, self._call_name))
        if GPU_WORDS.search(value) and len(value) < 40:
            self.gpu.append(value)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        first = node.values[0] if node.values else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            if URL.match(first.value):
                self.urls.append(first.value + "...")
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                self.visit(value)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "cuda" and isinstance(node.ctx, ast.Load):
            self.gpu.append(dotted_name(node) or ".cuda")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        dotted = dotted_name(func)
        if dotted is None and isinstance(func, ast.Attribute):
            dotted = func.attr  # e.g. get_ipython().run_line_magic(...)
        if dotted is not None:
            self._note_call(self._canonical(dotted), node)
        if isinstance(func, ast.Attribute):
            attr = func.attr
            if attr in MUTATING_METHODS or (attr.endswith("_") and not attr.startswith("_")):
                # `res = smf.ols(...).fit()`: fit changes the object smf.ols made, which only `res` holds
                self._fresh = id(node) in self._bound_values and _through_call(func.value)
                self._mutate(func.value)
                self._fresh = False
            if any(kw.arg == "inplace" and _is_true(kw.value) for kw in node.keywords):
                self._mutate(func.value)
            elif attr not in MUTATING_METHODS and attr not in PURE_METHODS and not attr.startswith("__"):
                self._maybe_mutate(func.value)
        last = dotted.rsplit(".", 1)[-1] if dotted else ""
        if node.args and last in ARG_MUTATING_FUNCTIONS and (
            isinstance(func, ast.Name)
            or last == "shuffle"
            or (isinstance(func, ast.Attribute) and dotted_name(func.value) in ARG_MUTATING_MODULES)
        ):
            self._mutate(node.args[0])
        outer, self._call_name = self._call_name, last
        self.generic_visit(node)
        self._call_name = outer

    def _canonical(self, dotted: str) -> str:
        """Spell a call with the module it was imported from: `npr.rand` after `import numpy.random as npr`."""
        head, _, rest = dotted.partition(".")
        module = self._imports.get(head)
        if module is None or module == head:
            return dotted
        canonical = module.replace("numpy", "np", 1) if module.startswith("numpy") else module
        return f"{canonical}.{rest}" if rest else canonical

    def _note_call(self, dotted: str, node: ast.Call) -> None:
        if dotted.endswith(("run_line_magic", "run_cell_magic", "system", "getoutput")) and node.args:
            self._note_magic(dotted, node)
        last = dotted.rsplit(".", 1)[-1]
        source: Optional[str] = SEED_CALLS.get(dotted, "missing")  # type: ignore[assignment]
        if source == "missing" and last == "seed" and dotted.startswith(("random.", "np.", "numpy.")):
            source = "numpy" if dotted.startswith(("np.", "numpy.")) else "python"
        if source != "missing":
            value = ast.unparse(node.args[0]) if node.args else ""
            self.seeds.append((dotted, source, value))
        elif last in GENERATOR_CALLS:
            if not node.args and not node.keywords and (
                dotted.startswith(("np.", "numpy.", "random.")) or dotted in GENERATOR_CALLS
            ):
                self.unseeded.append(dotted)
        else:
            draw = _draw_source(dotted, last)
            if draw is None and last in RANDOM_STATE_CALLS and not any(
                kw.arg in ("random_state", "seed") for kw in node.keywords
            ):
                draw = "numpy"  # scikit-learn without random_state draws from NumPy's global state
            if draw is not None:
                self.draws.append((dotted, draw))
        setting = DETERMINISM_CALLS.get(dotted) or DETERMINISM_CALLS.get(last)
        if setting is not None and (not node.args or not (
            isinstance(node.args[0], ast.Constant) and node.args[0].value is False
        )):
            self.determinism.append((dotted, setting))
        if last in NETWORK_CALLS or dotted.startswith(NETWORK_MODULE_PREFIXES):
            self.network.append(dotted)
        if last in ("to", "device", "cuda") and any(
            isinstance(a, ast.Constant) and isinstance(a.value, str) and GPU_WORDS.search(a.value)
            for a in node.args
        ):
            self.gpu.append(dotted)
        if last in ("putenv", "setdefault") and node.args and isinstance(node.args[0], ast.Constant):
            name = node.args[0].value
            if isinstance(name, str) and name in DETERMINISM_ENV:
                self.determinism.append((f"{dotted}({name!r})", DETERMINISM_ENV[name]))

    def _note_magic(self, dotted: str, node: ast.Call) -> None:
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
            return
        name = first.value
        self.magics.append(name)
        rest = [a.value for a in node.args[1:] if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        line = rest[0] if rest else ""
        if dotted.endswith("run_line_magic"):
            if name == "repro" and line.split()[:1] == ["seed"]:
                self.seeds.append(("%repro seed", "all", line.split(maxsplit=1)[-1]))
            elif name in PYTHON_LINE_MAGICS and line.strip():
                self._merge(self._analyze(strip_options(line)))
            elif name in ("pip", "conda", "mamba", "uv") and line.split()[:1] in (
                ["install"], ["update"], ["upgrade"], ["uninstall"], ["remove"]
            ):
                self.installs.append(f"%{name} {line}")
            elif name == "store" and line.startswith("-r"):
                for stored in line.split()[1:]:
                    self._define(stored)
            elif name in ("env", "set_env"):
                var = re.split(r"[=\s]", line.strip(), maxsplit=1)[0]
                if var in DETERMINISM_ENV:
                    self.determinism.append((f"%env {var}", DETERMINISM_ENV[var]))
        elif dotted.endswith("run_cell_magic"):
            body = rest[1] if len(rest) > 1 else ""
            if name in PYTHON_CELL_MAGICS:
                self._merge(self._analyze(body))
                if name != "capture" and line.strip():
                    self._merge(self._analyze(strip_options(line)))  # %%timeit's setup line
                if name == "capture" and line.split():
                    target = [w for w in line.split() if not w.startswith("-")]
                    if target:
                        self._define(target[0])
            elif name in ("bash", "sh", "script", "system"):
                self._note_shell(body)
        else:  # system / getoutput: a `!command`
            self._note_shell(name)

    def _note_shell(self, command: str) -> None:
        if SHELL_INSTALL.search(command):
            self.installs.append(f"!{command.strip()[:200]}")
        if SHELL_NETWORK.search(command):
            self.network.append(f"!{command.strip()[:200]}")
        for word in command.split():
            if URL.match(word.strip("'\"")):
                self.urls.append(word.strip("'\""))

    def _merge(self, facts: CodeFacts) -> None:
        """Fold in the facts of Python run by a magic (``%%time`` body, ``%timeit`` line)."""
        for name in facts.eager_used:
            self._use(name)
        for name in facts.eager_defined:
            self._define(name, facts.value_keys.get(name))
        for name in facts.mutated:
            self.mutated.setdefault(name)
        for name in facts.deleted:
            self.deleted.setdefault(name)
            self.defined.pop(name, None)
            self.eager_defined.pop(name, None)
        for owner, names in facts.lazy_used.items():
            self.lazy_used.setdefault(owner, {}).update(dict.fromkeys(names))
        for owner, names in facts.lazy_defined.items():
            self.lazy_defined.setdefault(owner, {}).update(dict.fromkeys(names))
        self.seeds += facts.seeds
        self.unseeded += facts.unseeded_generators
        self.star_imports += facts.star_imports
        self.magics += facts.magics
        self.imported.update(dict.fromkeys(facts.imported_modules))
        self.draws += facts.random_draws
        self.paths += facts.path_literals
        self.urls += facts.urls
        self.network += facts.network_calls
        self.installs += facts.installs
        self.gpu += facts.gpu_uses
        self.determinism += facts.determinism
