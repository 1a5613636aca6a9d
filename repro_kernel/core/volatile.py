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


def _dotted(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return ""


@lru_cache(maxsize=4096)
def volatile_calls(code: str) -> tuple[str, ...]:
    """The calls in ``code`` whose result cannot be the same twice, as ``module.name`` (``numpy.empty``), in
    the order they first appear; empty when there are none or the code does not parse."""
    try:
        tree = ast.parse(to_python(code))
    except (SyntaxError, ValueError):
        return ()
    aliases = dict(_ALIASES)
    imported: dict[str, str] = {}  # local name -> module.name, for `from numpy import empty as e`
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.partition(".")[0]] = alias.name if alias.asname else \
                    alias.name.partition(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if node.module in _VOLATILE.get(alias.name, ()):
                    imported[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        if isinstance(node.func, ast.Attribute) and node.func.attr in ("run_line_magic", "run_cell_magic"):
            # The Python a magic runs (`%time x = np.empty(2)`, `%%capture`) is a string argument.
            for arg in node.args[1:]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found += [hit for hit in volatile_calls(arg.value) if hit not in found]
            continue
        name = _dotted(node.func)
        base, _, attr = name.rpartition(".")
        if not base:
            hit = imported.get(attr) or ("builtins." + attr if "" in _VOLATILE.get(attr, ()) else None)
        else:
            module = aliases.get(base, base)
            hit = f"{module}.{attr}" if module in _VOLATILE.get(attr, ()) else None
        if hit and hit not in found:
            found.append(hit)
    return tuple(found)
