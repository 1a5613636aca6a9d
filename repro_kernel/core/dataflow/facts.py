"""CodeFacts: what the static analysis of one cell's code found (built by :func:`repro_kernel.core.dataflow.analyze_code`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional


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
    # -- the analysis view (see repro_kernel.core.dataflow)
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
    # -- the replay view (the export's slice)
    stateful: bool = False  # changes process-wide state no name shows (magics, options, cwd, star imports)
    defines_callable: bool = False
    # What the bodies of the callables the cell defines write, for those the same cell seems to call.
    own_call_writes: dict[str, str] = field(default_factory=dict)
    # Names a method call may change (``rng.normal()``, ``model.step()``: any method not known to be pure).
    maybe_mutated: list[str] = field(default_factory=list)
    # Identifiers written as strings (``display('df1a')``, ``eval('x + 1')``, ``getattr(ns, 'y')``): uses when
    # a session variable has that name.
    maybe_used: list[str] = field(default_factory=list)
    # (name, name it may share its value with): ``y = x``, ``s = arr[5:8]``, ``t = arr.T``, ``v = arr.view()``.
    aliases: list[tuple[str, str]] = field(default_factory=list)
    # Calls of imported functions whose result is dropped (``init_printing()``, ``sns.set_style(...)``).
    dropped_calls: list[str] = field(default_factory=list)
    # Names mutated only by a mutating method on a fresh call result that the cell binds to a name
    # (``res = smf.ols(f, df).fit()``, ``sc = StandardScaler().fit(X)``): when such a name is a module or a class
    # an import bound, the object changed is the new one, not the name's.
    bound_fresh_mutations: list[str] = field(default_factory=list)

    @property
    def lazy_only(self) -> set[str]:
        """Names only a function body binds (``global x`` inside a ``def``): the cell itself does not."""
        return set(self.defined) - set(self.eager_defined)
