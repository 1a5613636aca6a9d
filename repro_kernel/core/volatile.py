"""Calls whose result cannot be the same twice, whatever the replay restores.

Uninitialised memory (``np.empty``, ``torch.empty``), object identities (``id``), process and thread ids,
fresh UUIDs and OS randomness, names of temporary files, and the monotonic clocks (the replay sets the wall
clock, not these). A cell that shows such a value gets the ``nondeterministic-output`` flag, and verify reports
its differing output as ``nondeterministic``, not as a failure of the replay.

The test is by name, on the code's AST (magics translated first), cached by code: a call to ``empty`` through a
module alias (``np.empty``, ``numpy.empty``, ``torch.empty``) or imported by name (``from numpy import
empty``) counts; a user's own function called ``empty`` on a user object does not.
"""

from __future__ import annotations

import ast
from functools import lru_cache

from repro_kernel.core.dataflow import to_python
from repro_kernel.core.dataflow.calls import dotted_name

# name -> the modules it is volatile in ("" : a builtin, volatile wherever it is called)
_VOLATILE: dict[str, frozenset[str]] = {
    "empty": frozenset({"numpy", "torch", "cupy", "jax.numpy"}),
    "empty_like": frozenset({"numpy", "torch", "cupy", "jax.numpy"}),
    "empty_strided": frozenset({"torch"}),
    "id": frozenset({""}),
    "getpid": frozenset({"os"}), "getppid": frozenset({"os"}), "urandom": frozenset({"os"}),
    "uuid1": frozenset({"uuid"}), "uuid4": frozenset({"uuid"}),
    "token_hex": frozenset({"secrets"}), "token_bytes": frozenset({"secrets"}),
    "token_urlsafe": frozenset({"secrets"}), "randbits": frozenset({"secrets"}),
    "SystemRandom": frozenset({"random", "secrets"}),
    "perf_counter": frozenset({"time"}), "perf_counter_ns": frozenset({"time"}),
    "monotonic": frozenset({"time"}), "monotonic_ns": frozenset({"time"}),
    "process_time": frozenset({"time"}), "thread_time": frozenset({"time"}),
    "get_ident": frozenset({"threading", "_thread"}), "get_native_id": frozenset({"threading"}),
    "mkdtemp": frozenset({"tempfile"}), "mkstemp": frozenset({"tempfile"}),
    "NamedTemporaryFile": frozenset({"tempfile"}), "TemporaryDirectory": frozenset({"tempfile"}),
}
# The names people import these modules as.
_ALIASES = {"np": "numpy", "numpy": "numpy", "torch": "torch", "cp": "cupy", "cupy": "cupy", "jnp": "jax.numpy",
            "os": "os", "uuid": "uuid", "secrets": "secrets", "random": "random", "time": "time",
            "threading": "threading", "_thread": "_thread", "tempfile": "tempfile"}


# Reads of the wall clock, by the last two parts of the dotted call (``dt.datetime.now`` -> datetime.now).
_WALL_CLOCK = frozenset({"datetime.now", "datetime.utcnow", "datetime.today", "date.today", "time.time",
                         "time.time_ns", "Timestamp.now", "Timestamp.utcnow", "Timestamp.today"})
ELAPSED = "elapsed:"  # the prefix of a hit that is the time between two wall-clock reads


def describe(hit: str) -> str:
    """A hit of :func:`shown_volatile_calls` in the user's words: ``numpy.empty()``, ``id()``, or ``the time
    elapsed between datetime.now() reads``."""
    if hit.startswith(ELAPSED):
        return f"the time elapsed between {hit.removeprefix(ELAPSED)}() reads"
    return f"{hit.removeprefix('builtins.')}()"


def _dotted(node: ast.expr) -> str:
    return dotted_name(node) or ""


_SHOWING = frozenset({"print", "display", "pprint", "display_markdown", "display_html"})


class _Calls:
    """Which calls of one cell's code are volatile (``module.name`` each), by node."""

    def __init__(self, tree: ast.AST) -> None:
        self.aliases = dict(_ALIASES)
        self.imported: dict[str, str] = {}  # local name -> module.name, for `from numpy import empty as e`
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    self.aliases[alias.asname or alias.name.partition(".")[0]] = alias.name if alias.asname else \
                        alias.name.partition(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module:
                for alias in node.names:
                    if node.module in _VOLATILE.get(alias.name, ()):
                        self.imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def of(self, node: ast.Call, shown_only: bool) -> list[str]:
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("run_line_magic", "run_cell_magic"):
            # The Python a magic runs (`%time x = np.empty(2)`, `%%capture`) is a string argument.
            found: list[str] = []
            for arg in node.args[1:]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found += (shown_volatile_calls if shown_only else volatile_calls)(arg.value)
            return found
        base, _, attr = _dotted(node.func).rpartition(".")
        if not base:
            hit = self.imported.get(attr) or ("builtins." + attr if "" in _VOLATILE.get(attr, ()) else None)
        else:
            module = self.aliases.get(base, base)
            hit = f"{module}.{attr}" if module in _VOLATILE.get(attr, ()) else None
        return [hit] if hit else []

    def inside(self, node: ast.AST, shown_only: bool = False) -> list[str]:
        return [hit for sub in ast.walk(node) if isinstance(sub, ast.Call) for hit in self.of(sub, shown_only)]


def _parse(code: str) -> ast.Module | None:
    try:
        return ast.parse(to_python(code))
    except (SyntaxError, ValueError):
        return None


def _unique(hits: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(hits))


@lru_cache(maxsize=4096)
def volatile_calls(code: str) -> tuple[str, ...]:
    """The calls in ``code`` whose result cannot be the same twice, as ``module.name`` (``numpy.empty``), in
    the order they first appear; empty when there are none or the code does not parse."""
    tree = _parse(code)
    return () if tree is None else _unique(_Calls(tree).inside(tree))


@lru_cache(maxsize=4096)
def shown_volatile_calls(code: str) -> tuple[str, ...]:
    """The volatile calls whose value the cell shows: inside its last expression (the value IPython displays,
    unless a ``;`` ends the cell), inside the arguments of ``print`` / ``display``, or bound to a name (in
    the order the cell runs) that one of those then uses. ``buf = np.empty(3)`` alone shows nothing."""
    tree = _parse(code)
    if tree is None:
        return ()
    calls = _Calls(tree)
    tainted: dict[str, list[str]] = {}  # name -> the volatile calls its value came from

    clock: dict[str, str] = {}  # name -> the wall-clock read its value came from (``start = dt.datetime.now()``)

    def clock_read(node: ast.AST) -> str | None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Call):
                parts = _dotted(sub.func).split(".")
                if len(parts) >= 2 and ".".join(parts[-2:]) in _WALL_CLOCK and \
                        (parts[-2] != "time" or calls.aliases.get(parts[0]) == "time"):
                    return ".".join(parts[-2:])
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load) and sub.id in clock:
                return clock[sub.id]
        return None

    def elapsed(node: ast.AST) -> list[str]:
        """Differences of two wall-clock reads inside ``node``."""
        found = []
        for sub in ast.walk(node):
            if isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Sub):
                left, right = clock_read(sub.left), clock_read(sub.right)
                if left and right:
                    found.append(ELAPSED + left)
        return found

    def hits(node: ast.AST) -> list[str]:
        names = [n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)]
        return calls.inside(node, shown_only=True) + elapsed(node) + \
            [hit for name in names for hit in tainted.get(name, ())]

    found: list[str] = []
    for statement in tree.body:
        for node in ast.walk(statement):
            if isinstance(node, ast.Call) and _dotted(node.func).rpartition(".")[2] in _SHOWING:
                found += [hit for arg in [*node.args, *(k.value for k in node.keywords)] for hit in hits(arg)]
        if isinstance(statement, (ast.Assign, ast.AnnAssign, ast.AugAssign)) and statement.value is not None:
            value_hits = hits(statement.value)
            targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
            read = clock_read(statement.value) if not isinstance(statement, ast.AugAssign) else None
            for target in targets:
                for name in (n.id for n in ast.walk(target) if isinstance(n, ast.Name)):
                    if read is not None and isinstance(target, ast.Name):
                        clock[name] = read
                    elif not isinstance(statement, ast.AugAssign):
                        clock.pop(name, None)
                    if isinstance(statement, ast.AugAssign):
                        tainted[name] = tainted.get(name, []) + value_hits
                    elif isinstance(target, ast.Name) or value_hits:
                        tainted[name] = list(value_hits)  # rebound whole: its old value is gone
    last = tree.body[-1] if tree.body else None
    if isinstance(last, ast.Expr) and not code.rstrip().endswith(";"):
        found += hits(last.value)
    return _unique(found)
