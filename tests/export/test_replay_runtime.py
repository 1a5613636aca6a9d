"""The runtime every export carries: hash seed, plain `python` replays, RNG and entropy restore, code keys."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from repro_kernel.export import export_notebook
from repro_kernel.kernel import randomness
from repro_kernel.runtime import code_key, restore_random_state
from repro_kernel.testing import START, execute_notebook, make_notebook


def test_runtime_restores_what_the_recorder_serialises() -> None:
    import random

    import numpy as np

    np.random.rand(3)
    state = randomness.capture()
    blobs = {src: randomness.serialize(src, st) for src, (st, _fp) in state.items() if src in ("python", "numpy")}
    expected = (random.random(), np.random.rand())
    random.seed(1)
    np.random.seed(1)
    for blob in blobs.values():
        restore_random_state(blob)
    assert (random.random(), np.random.rand()) == expected


def test_code_key_ignores_surrounding_blank_lines_only() -> None:
    assert code_key("\nx = 1  \n\n") == code_key("x = 1")
    assert code_key("x = 1") != code_key("x = 2")


def test_the_runtime_imports_nothing_from_jupyter_repro() -> None:
    source = (Path(__file__).resolve().parents[2] / "repro_kernel" / "runtime.py").read_text()
    assert "repro_kernel" not in source.split('"""', 2)[2]
    assert "from ." not in source


@pytest.mark.slow
@pytest.mark.parametrize("seed_env", ["17"])
def test_plain_python_replay_honours_the_hash_seed_and_restores_randomness(tmp_path: Path, seed_env: str) -> None:
    nb = make_notebook([
        START,
        "import random",
        "words = {'alpha', 'beta', 'gamma', 'delta', 'epsilon'}\nprint(list(words))",
        "print(random.random())",
    ])
    path = tmp_path / "proj" / "seeded.ipynb"
    execute_notebook(nb, path, env={"PYTHONHASHSEED": seed_env})
    folder = export_notebook(path)
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["hash_seed"] == seed_env and manifest["replay"]["ipython_syntax"] is False
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONHASHSEED"}
    run = subprocess.run([sys.executable, "replay.py"], cwd=folder, capture_output=True, text=True, env=env,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"restarting with PYTHONHASHSEED={seed_env}" in run.stderr
    recorded = [c.outputs[0]["text"] for c in nb.cells[2:]]
    assert run.stdout == "".join(recorded)


@pytest.mark.slow
def test_plain_python_refuses_ipython_syntax_with_one_line(tmp_path: Path) -> None:
    nb = make_notebook([START, "!echo hi\nx = 1"])
    path = tmp_path / "proj" / "magic.ipynb"
    execute_notebook(nb, path)
    folder = export_notebook(path)
    run = subprocess.run([sys.executable, "replay.py"], cwd=folder, capture_output=True, text=True, timeout=60)
    assert run.returncode != 0 and "run it with `ipython " in run.stderr and run.stderr.count("\n") == 1
    ok = subprocess.run([sys.executable, "-m", "IPython", "--no-banner", "replay.py"], cwd=folder,
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and "hi" in ok.stdout
