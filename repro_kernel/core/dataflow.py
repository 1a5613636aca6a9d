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
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Optional

_BUILTINS = frozenset(dir(builtins)) | {"get_ipython", "display", "In", "Out", "exit", "quit"}

# Methods that change their receiver in place (lists, dicts, sets, NumPy, estimators). pandas methods that
# only mutate with ``inplace=True`` are not here: that keyword is handled on its own.
MUTATING_METHODS = frozenset(
    {
        "append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse", "update",
        "setdefault", "popitem", "add", "discard", "difference_update", "intersection_update",
        "symmetric_difference_update", "fill", "resize", "put", "itemset", "setflags",
        "fit", "partial_fit", "fit_transform", "fit_predict", "set_params", "load_state_dict",
        "appendleft", "extendleft", "rotate", "move_to_end", "write", "writelines", "seek", "close",
        "set_index_inplace", "__setitem__", "__delitem__",
    }
)

# Functions that change their first argument in place: ``random.shuffle(x)``, ``np.copyto(dst, src)``...
ARG_MUTATING_FUNCTIONS = frozenset(
    {
        "shuffle", "copyto", "fill_diagonal", "put", "place", "putmask", "heappush", "heappop", "heapify",
        "heappushpop", "heapreplace", "insort", "insort_left", "insort_right", "setattr", "delattr",
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

# Module prefixes whose functions draw from a global random state, and the source each one draws from.
_DRAW_PREFIXES = (
    ("np.random.", "numpy"),
    ("numpy.random.", "numpy"),
    ("random.", "python"),
    ("torch.", "torch"),
    ("tf.random.", "tensorflow"),
    ("tensorflow.random.", "tensorflow"),
)
_NOT_DRAWS = frozenset(
    {"seed", "get_state", "set_state", "getstate", "setstate", "default_rng", "RandomState", "Generator",
     "PCG64", "MT19937", "Philox", "SFC64", "SeedSequence", "Random", "SystemRandom", "BitGenerator",
     "manual_seed", "set_seed", "get_rng_state", "set_rng_state", "initial_seed", "get_global_generator",
     "set_global_generator", "stateless_normal", "stateless_uniform"}
)
_TORCH_DRAWS = frozenset(
    {"rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like", "normal",
     "bernoulli", "multinomial", "poisson"}
)

# scikit-learn callables that draw from NumPy's global state unless given ``random_state``.
RANDOM_STATE_CALLS = frozenset(
    {"train_test_split", "RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier",
     "ExtraTreesRegressor", "GradientBoostingClassifier", "GradientBoostingRegressor", "KMeans", "MiniBatchKMeans",
     "TSNE", "ShuffleSplit", "StratifiedShuffleSplit", "MLPClassifier", "MLPRegressor", "SGDClassifier",
     "SGDRegressor", "IsolationForest", "RandomizedSearchCV", "make_classification", "make_regression",
     "make_blobs", "DecisionTreeClassifier", "DecisionTreeRegressor"}
)

# Magics whose argument or body is Python that runs in the user's namespace.
PYTHON_LINE_MAGICS = frozenset({"time", "timeit", "prun", "debug", "capture"})
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "prun", "debug", "capture", "memit", "snakeviz"})

# Settings that make a GPU framework deterministic (what the `nondeterministic-gpu` flag looks for).
DETERMINISM_CALLS = {
    "torch.use_deterministic_algorithms": "torch",
    "use_deterministic_algorithms": "torch",
    "tf.config.experimental.enable_op_determinism": "tensorflow",
    "tensorflow.config.experimental.enable_op_determinism": "tensorflow",
    "enable_op_determinism": "tensorflow",
}
DETERMINISM_ATTRIBUTES = {"torch.backends.cudnn.deterministic": "torch"}
DETERMINISM_ENV = {
    "CUBLAS_WORKSPACE_CONFIG": "torch",
    "TF_DETERMINISTIC_OPS": "tensorflow",
    "TF_CUDNN_DETERMINISTIC": "tensorflow",
    "XLA_FLAGS": "jax",
}

# Calls that fetch data from the network, by their last name (plus URL literals anywhere).
NETWORK_CALLS = frozenset(
    {"urlopen", "urlretrieve", "fetch_openml", "fetch_california_housing", "fetch_20newsgroups",
     "fetch_covtype", "fetch_lfw_people", "fetch_olivetti_faces", "load_dataset", "get_file", "hf_hub_download",
     "snapshot_download", "download_url", "read_html"}
)
_NETWORK_MODULE_PREFIXES = ("requests.", "httpx.", "urllib.request.", "wget.", "gdown.", "boto3.", "kaggle.")
_ARG_MUTATING_MODULES = frozenset({"np", "numpy", "random", "heapq", "bisect", "np.random", "numpy.random"})
_SHELL_NETWORK = re.compile(r"\b(wget|curl|kaggle|gsutil|aws\s+s3|git\s+clone|gdown)\b")
_SHELL_INSTALL = re.compile(r"\b(pip3?|conda|mamba|micromamba|uv\s+pip|poetry|apt(-get)?)\s+(install|add|update|upgrade)\b")
_URL = re.compile(r"^(https?|ftp|s3|gs|gcs|az|hf)://", re.IGNORECASE)
_ABSOLUTE = re.compile(r"^(?:~[/\\]|/(?!/)|[A-Za-z]:[\\/])[^\n\r\t<>|*?\"]*[\w.]$")
_GPU_WORDS = re.compile(r"\b(cuda(:\d+)?|gpu(:\d+)?|mps)\b", re.IGNORECASE)
_WRITE_CALL = re.compile(r"(save|dump|write|^to_|mkdir|makedirs|savefig|export|chdir|rmtree|remove|unlink)")


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
    # -- the analysis view (see the module docstring)
    eager_used: list[str] = field(default_factory=list)
    eager_defined: list[str] = field(default_factory=list)
    lazy_used: dict[str, list[str]] = field(default_factory=dict)
    lazy_defined: dict[str, list[str]] = field(default_factory=dict)
    # name -> a key that is equal for two bindings exactly when the code alone makes their values equal
    # (the same import, the same function text, the same literal); absent when the value is computed.
    value_keys: dict[str, str] = field(default_factory=dict)
    imported_modules: list[str] = field(default_factory=list)
    random_draws: list[tuple[str, str]] = field(default_factory=list)  # (call, source)
    path_literals: list[tuple[str, str]] = field(default_factory=list)  # (absolute path, call it is passed to)
    urls: list[str] = field(default_factory=list)
    network_calls: list[str] = field(default_factory=list)
    installs: list[str] = field(default_factory=list)
    gpu_uses: list[str] = field(default_factory=list)
    determinism: list[tuple[str, str]] = field(default_factory=list)  # (setting, framework)


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
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Starred, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_true(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


class _Scope:
    __slots__ = ("names", "comprehension")

    def __init__(self, names: set[str], comprehension: bool = False) -> None:
        self.names = names
        self.comprehension = comprehension


class _Visitor(ast.NodeVisitor):
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
        self.seeds: list[tuple[str, Optional[str], str]] = []
        self.unseeded: list[str] = []
        self.star_imports: list[str] = []
        self.magics: list[str] = []
        self.imported: dict[str, None] = {}
        self.draws: list[tuple[str, str]] = []
        self.paths: list[tuple[str, str]] = []
        self.urls: list[str] = []
        self.network: list[str] = []
        self.installs: list[str] = []
        self.gpu: list[str] = []
        self.determinism: list[tuple[str, str]] = []
        self._scopes: list[_Scope] = []
        self._owner: Optional[str] = None  # the module-level function/class whose body is being read
        self._class: Optional[str] = None  # the module-level class whose body is being read
        self._call_name = ""  # the call whose arguments are being read (for path literals)
        self._imports: dict[str, str] = {}  # local alias -> module, to recognise `np.random` etc.

    # -- helpers
    def _local(self, name: str) -> bool:
        return any(name in scope.names for scope in self._scopes)

    def _use(self, name: str) -> None:
        if self._scopes and self._local(name):
            return
        if name in _BUILTINS and name not in self.defined:
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
            dotted = _dotted(node) if isinstance(node, ast.Attribute) else None
            if dotted in DETERMINISM_ATTRIBUTES:
                self.determinism.append((dotted, DETERMINISM_ATTRIBUTES[dotted]))  # type: ignore[index]
            if isinstance(node, ast.Subscript) and _dotted(node.value) == "os.environ":
                name = node.slice.value if isinstance(node.slice, ast.Constant) else None
                if isinstance(name, str) and name in DETERMINISM_ENV:
                    self.determinism.append((f"os.environ[{name!r}]", DETERMINISM_ENV[name]))

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

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        if not isinstance(value, str) or len(value) > 500 or len(value) < 2:
            return
        if _URL.match(value):
            self.urls.append(value)
        elif _ABSOLUTE.match(value) and not value.startswith(("/dev/", "/proc/")):
            self.paths.append((value, self._call_name))
        if _GPU_WORDS.search(value) and len(value) < 40:
            self.gpu.append(value)

    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        first = node.values[0] if node.values else None
        if isinstance(first, ast.Constant) and isinstance(first.value, str):
            if _URL.match(first.value):
                self.urls.append(first.value + "...")
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                self.visit(value)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "cuda" and isinstance(node.ctx, ast.Load):
            self.gpu.append(_dotted(node) or ".cuda")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        dotted = _dotted(func)
        if dotted is None and isinstance(func, ast.Attribute):
            dotted = func.attr  # e.g. get_ipython().run_line_magic(...)
        if dotted is not None:
            self._note_call(self._canonical(dotted), node)
        if isinstance(func, ast.Attribute):
            attr = func.attr
            if attr in MUTATING_METHODS or (attr.endswith("_") and not attr.startswith("_")):
                self._mutate(func.value)
            if any(kw.arg == "inplace" and _is_true(kw.value) for kw in node.keywords):
                self._mutate(func.value)
        last = dotted.rsplit(".", 1)[-1] if dotted else ""
        if node.args and last in ARG_MUTATING_FUNCTIONS and (
            isinstance(func, ast.Name)
            or last == "shuffle"
            or (isinstance(func, ast.Attribute) and _dotted(func.value) in _ARG_MUTATING_MODULES)
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
        if last in NETWORK_CALLS or dotted.startswith(_NETWORK_MODULE_PREFIXES):
            self.network.append(dotted)
        if last in ("to", "device", "cuda") and any(
            isinstance(a, ast.Constant) and isinstance(a.value, str) and _GPU_WORDS.search(a.value)
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
                self._merge(analyze_code(_strip_options(line)))
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
                self._merge(analyze_code(body))
                if name != "capture" and line.strip():
                    self._merge(analyze_code(_strip_options(line)))  # %%timeit's setup line
                if name == "capture" and line.split():
                    target = [w for w in line.split() if not w.startswith("-")]
                    if target:
                        self._define(target[0])
            elif name in ("bash", "sh", "script", "system"):
                self._note_shell(body)
        else:  # system / getoutput: a `!command`
            self._note_shell(name)

    def _note_shell(self, command: str) -> None:
        if _SHELL_INSTALL.search(command):
            self.installs.append(f"!{command.strip()[:200]}")
        if _SHELL_NETWORK.search(command):
            self.network.append(f"!{command.strip()[:200]}")
        for word in command.split():
            if _URL.match(word.strip("'\"")):
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


def _strip_options(line: str) -> str:
    """The Python part of ``%timeit -n1 -r 3 f(x)``-style magic arguments."""
    words = line.split(" ")
    while words and (words[0].startswith("-") or not words[0]):
        word = words.pop(0)
        if word in ("-n", "-r", "-p", "-s", "-l", "-T", "-D") and words:
            words.pop(0)
    return " ".join(words)


def _draw_source(dotted: str, last: str) -> Optional[str]:
    if last in _NOT_DRAWS or last.startswith("_"):
        return None
    for prefix, source in _DRAW_PREFIXES:
        if dotted.startswith(prefix):
            if source == "torch" and (dotted.count(".") != 1 or last not in _TORCH_DRAWS):
                return None
            if source == "python" and dotted.count(".") != 1:
                return None
            return source
    return None


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


_transformer = None


def to_python(code: str) -> str:
    """Turn IPython syntax into plain Python; leave plain Python unchanged."""
    if "%" not in code and "!" not in code and "?" not in code:
        return code
    global _transformer
    try:
        if _transformer is None:
            from IPython.core.inputtransformer2 import TransformerManager

            _transformer = TransformerManager()
        return _transformer.transform_cell(code)
    except Exception:  # the transformer rejects some half-written input; parse what we have
        return code


@lru_cache(maxsize=8192)
def analyze_code(code: str) -> CodeFacts:
    """Return the names ``code`` defines, uses, deletes and mutates (cached by the code's text)."""
    source = to_python(code)
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError) as exc:
        lineno = getattr(exc, "lineno", None)
        return CodeFacts(syntax_error=f"{getattr(exc, 'msg', exc)} (line {lineno})")
    except RecursionError:
        return CodeFacts(syntax_error="code nested too deeply to analyse")
    visitor = _Visitor()
    try:
        for stmt in tree.body:
            visitor.visit(stmt)
    except RecursionError:
        return CodeFacts(syntax_error="code nested too deeply to analyse")
    mutated = [n for n in visitor.mutated if n not in visitor.defined]
    for name in visitor.mutated:
        visitor.value_keys.pop(name, None)  # `x = []; x.append(1)`: the literal is not the value
    eager_defined = list(visitor.eager_defined)
    return CodeFacts(
        defined=list(visitor.defined),
        used=list(visitor.used),
        deleted=list(visitor.deleted),
        mutated=mutated,
        seeds=visitor.seeds,
        unseeded_generators=visitor.unseeded,
        star_imports=visitor.star_imports,
        magics=visitor.magics,
        eager_used=list(visitor.eager_used),
        eager_defined=eager_defined,
        lazy_used={k: list(v) for k, v in visitor.lazy_used.items()},
        lazy_defined={k: list(v) for k, v in visitor.lazy_defined.items()},
        value_keys={k: v for k, v in visitor.value_keys.items() if v is not None and k in visitor.eager_defined},
        imported_modules=list(visitor.imported),
        random_draws=visitor.draws,
        path_literals=visitor.paths,
        urls=visitor.urls,
        network_calls=visitor.network,
        installs=visitor.installs,
        gpu_uses=visitor.gpu,
        determinism=visitor.determinism,
    )
