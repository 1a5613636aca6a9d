"""The recorder's taps on library functions (``numpy.random.default_rng``) are invisible to the notebook:
the tapped function pickles by reference, crosses into worker processes, and keeps its name, module,
signature and ``help()`` text."""

from __future__ import annotations

import inspect
import pydoc
from pathlib import Path

import numpy as np

from repro_kernel.testing import START, LiveKernel, journal_records

CHECKS = """
import concurrent.futures, inspect, json, multiprocessing, pickle, pydoc
import numpy as np
tapped = np.random.default_rng
found = {"tapped": getattr(tapped, "__wrapped__", None) is not None}
def check(name, compute):
    try:
        found[name] = compute()
    except Exception as exc:
        found[name] = f"{type(exc).__name__}: {exc}"
check("module", lambda: tapped.__module__)
check("qualname", lambda: tapped.__qualname__)
check("name", lambda: tapped.__name__)
check("round_trip", lambda: pickle.loads(pickle.dumps(tapped)) is tapped)
check("pickled", lambda: pickle.dumps(tapped, protocol=2).decode("latin-1"))
check("signature", lambda: str(inspect.signature(tapped)))
check("help", lambda: pydoc.render_doc(tapped, renderer=pydoc.plaintext))
check("same_name_same_object", lambda: imported_before is np.random.default_rng)
def pool_map():
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=spawn) as pool:
        return [int(g.integers(1_000_000)) for g in pool.map(np.random.default_rng, [1, 2])]
check("pool", pool_map)
print(json.dumps(found))
"""


def test_tapped_default_rng_pickles_crosses_processes_and_keeps_its_face(notebook_dir: Path) -> None:
    with LiveKernel(notebook_dir) as k:
        k.run(START)
        # The tap goes in once NumPy is imported; a name bound to the function before then follows it.
        k.run("import numpy as np\nfrom numpy.random import default_rng as imported_before", cell_id="import")
        found = k.printed_json(CHECKS, timeout=120)
        inline = k.run("x = np.random.default_rng().random()", cell_id="inline")
        assert inline["reply"]["status"] == "ok"
        k.run("original = np.random.default_rng.__wrapped__")
        k.run("%repro stop")  # and the tap goes with the recording
        assert k.value("np.random.default_rng is original and imported_before is original") is True
    assert found["tapped"] is True, "the tap is not in place: this test would prove nothing"
    original = np.random.default_rng
    assert found["module"] == original.__module__
    assert found["qualname"] == original.__qualname__ and found["name"] == original.__name__
    assert found["round_trip"] is True, found["round_trip"]
    assert f"{original.__module__}\n{original.__qualname__}" in found["pickled"]  # by reference
    assert "repro_kernel" not in found["pickled"] and "<locals>" not in found["pickled"]
    try:  # NumPy 1.26's builtin has no text signature: then the tapped one must fail the same way
        expected_signature = str(inspect.signature(original))
    except ValueError as exc:
        expected_signature = f"ValueError: {exc}"
    assert found["signature"] == expected_signature
    ours = pydoc.render_doc(original, renderer=pydoc.plaintext).splitlines()
    theirs = found["help"].splitlines()
    assert f"in module {original.__module__}" in theirs[0], theirs[0]
    assert theirs[1:] == ours[1:], "help() must read as the original's"
    assert found["same_name_same_object"] is True
    expected = [int(np.random.default_rng(seed).integers(1_000_000)) for seed in (1, 2)]
    assert found["pool"] == expected, found["pool"]

    # The tap still sees the unseeded generator made inline, so the replay can hand its entropy back.
    inline_record = next(r for r in journal_records(notebook_dir) if r["cell_id"] == "inline")
    generators = inline_record["random"]["generators"]
    assert generators and generators[0]["kind"] == "numpy.default_rng" and generators[0]["entropy"]
