"""A generator held in a variable is named for what it is, with the fix that fits it."""

from __future__ import annotations

from typing import Any

import pytest

from repro_kernel.analysis import Cell, Context, analyze, build_executions, map_executions
from tests.analysis.scenarios import rec

CASES = [
    ("import random\nr = random.Random()\nr.random()", "random.Random", "a `random.Random` instance",
     "random.Random(42)"),
    ("import numpy as np\ng = np.random.default_rng()\ng.random()", "numpy.default_rng", "a NumPy Generator",
     "np.random.default_rng(42)"),
    ("import numpy as np\nrs = np.random.RandomState()\nrs.rand()", "numpy.RandomState", "a NumPy RandomState",
     "np.random.RandomState(42)"),
]


def flags_for(code: str, record: dict[str, Any] | None) -> list[Any]:
    cells = [Cell("c1", 0, "code", code, 1)]
    if record is None:  # the saved notebook alone: the code says which generator
        context = Context(have_journal=False)
        records: list[dict[str, Any]] = []
    else:
        context, records = Context(), [record]
    executions = build_executions(records, map_executions(records, cells))
    return [f for f in analyze(executions, cells, context)[0] if f.kind == "unseeded-randomness"]


@pytest.mark.parametrize(("code", "kind", "named", "fix"), CASES)
def test_recorded_generators_are_named_by_kind(code: str, kind: str, named: str, fix: str) -> None:
    record = rec(1, code, "c1", random={"sources": {}, "generators": [{"kind": kind, "seeded": False,
                                                                       "name": code.split()[3]}],
                                        "seeds": [], "unseeded_draw": True})
    (flag,) = flags_for(code, record)
    assert named in flag.message and fix in flag.fix
    if kind == "random.Random":
        assert "NumPy" not in flag.message and "np." not in flag.fix


@pytest.mark.parametrize(("code", "kind", "named", "fix"), CASES)
def test_generators_in_a_bare_notebook_are_named_by_their_call(code: str, kind: str, named: str, fix: str) -> None:
    (flag,) = flags_for(code, None)
    assert named in flag.message and fix in flag.fix
