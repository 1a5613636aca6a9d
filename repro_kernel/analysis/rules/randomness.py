"""Rules about randomness: draws from generators nobody seeded."""

from __future__ import annotations

from repro_kernel.analysis.model import Cell, Context, Execution, Flag
from repro_kernel.analysis.rules.common import _cells_of, _labels
from repro_kernel.core.dataflow import analyze_code

_SOURCES_NAMES = {"python": "Python's `random`", "numpy": "NumPy's global RNG", "torch": "torch",
                  "torch_cuda": "torch (CUDA)", "tensorflow": "TensorFlow", "generator": "a NumPy Generator",
                  "numpy.RandomState": "a NumPy RandomState", "random.Random": "a `random.Random` instance",
                  "torch.Generator": "a torch Generator"}
_GENERATOR_FIXES = {
    "generator": "pass a seed: np.random.default_rng(42)",
    "numpy.RandomState": "pass a seed: np.random.RandomState(42)",
    "random.Random": "pass a seed: random.Random(42)",
    "torch.Generator": "seed it where it is made: torch.Generator().manual_seed(42)",
}
_GLOBAL_FIX = "seed it once at the top, e.g. `%repro seed 42` (seeds random, NumPy, torch, TensorFlow)"


def generator_source(kind: str) -> str:
    """The flag source of a generator the session made, from the recorder's ``kind`` (``numpy.default_rng``,
    ``random.Random`` ...) or the call the code spells (``np.random.RandomState``, ``Random``)."""
    last = kind.rsplit(".", 1)[-1]
    if last == "RandomState":
        return "numpy.RandomState"
    if last == "Random":
        return "random.Random"
    if kind.startswith("torch"):
        return "torch.Generator"
    return "generator"


def unseeded(executions: list[Execution], cells: list[Cell], context: Context, by_id: dict[str, Cell]) -> list[Flag]:

    seeded: set[str] = set()
    unseeded: dict[str, list[Execution]] = {}
    if not context.have_journal:
        # a bare notebook: page order is the best guess of what a reader would run
        order = sorted(executions, key=lambda e: by_id[e.cell].index if e.cell in by_id else 10**9)
        ran = {e.cell for e in executions}
        order += [Execution(0, c.id, c.source, None, True, analyze_code(c.source)) for c in cells
                  if c.cell_type == "code" and c.id not in ran]
        order.sort(key=lambda e: by_id[e.cell].index if e.cell in by_id else 10**9)
        executions = order
    for execution in executions:
        if "random" not in execution.tags:
            continue
        facts = execution.facts
        for _call, source, _value in facts.seeds:
            seeded.update(("python", "numpy", "torch", "torch_cuda", "tensorflow") if source in ("all", None) else (source,))
        random = execution.record.get("random") if execution.record else None
        if not (facts.random_draws or facts.unseeded_generators or (random and random.get("unseeded_draw"))):
            continue
        random = random or {}
        sources = random.get("sources") or {}
        found: list[str] = []
        if random.get("unseeded_draw"):
            found += [s for s, fp in sources.items() if fp.get("before") and fp.get("before") != fp.get("after")
                      and s not in seeded]
            found += [generator_source(str(g.get("kind") or "")) for g in random.get("generators") or ()
                      if not g.get("seeded")]
        for _call, source in facts.random_draws:
            before = (sources.get(source) or {}).get("before", None)
            if source not in seeded and (not execution.record or before is None):
                found.append(source)  # a draw the state diff could not see (the module was imported here)
        if facts.unseeded_generators and (not execution.record or not random.get("generators")):
            found += [generator_source(call) for call in facts.unseeded_generators]
        if random.get("unseeded_draw") and not found:
            found.append("numpy" if "numpy" in sources else "python")
        for source in dict.fromkeys(found):
            unseeded.setdefault(source, []).append(execution)
    flags = []
    for source, drawn in unseeded.items():
        cells_ = _cells_of(drawn, by_id)
        fix = _GENERATOR_FIXES.get(source, _GLOBAL_FIX)
        flags.append(Flag(
            "unseeded-randomness", cells_,
            f"{_labels(cells_, by_id, drawn)} drew from {_SOURCES_NAMES.get(source, source)} with no seed set",
            fix, details={"source": source},
        ))
    return flags
