"""One realistic recorded session, exported once per test module: the export tests' shared material."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import nbformat
import pytest

from repro_kernel.testing import START, execute_notebook, make_notebook

CSV = "city,temp\nOslo,3.5\nLima,19.25\nCairo,24.0\nQuito,13.75\n"

# The saved notebook (cell 3 is edited after it ran; a cell that ran is deleted before saving).
SOURCES = [
    START,                                                                   # 0
    "import random\nimport numpy as np\nimport pandas as pd",                # 1
    "x = np.random.rand(4)\nx",                                              # 2  unseeded global NumPy
    "rng = np.random.default_rng()\nsample = rng.normal(size=3)\nsample",    # 3  unseeded Generator
    "df = pd.read_csv('weather.csv')\ndf.describe()",                        # 4  CSV input
    "pick = random.choice(list(df.city))\nprint(pick)",                      # 5  Python random
    "%time total = df.temp.sum() + x.sum()\n!echo shell-ok",                 # 6  IPython syntax
    "print(round(total, 6))\nwords = {'alpha', 'beta', 'gamma', 'delta'}\nprint(list(words))",  # 7 hash seed
    "ratio = total / 0",                                                     # 8  error mid-session
    "unused = 123",                                                          # 9  never needed
    "summary = {'n': len(df), 'pick': pick, 'noise': float(sample.sum())}\nsummary",  # 10
]
# Realistic order: run top to bottom, re-run the random cell, go back and re-run the CSV cell.
ORDER = [0, 1, 2, 3, 4, 5, 2, 6, 7, 8, 9, 4, 10]


def record_session(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "weather.csv").write_text(CSV)
    git = ["git", "-C", str(folder), "-c", "user.name=t", "-c", "user.email=t@example.org"]
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    subprocess.run(git + ["remote", "add", "origin", "git@github.com:example/weather.git"], check=True)
    subprocess.run(git + ["add", "weather.csv"], check=True)
    subprocess.run(git + ["commit", "-qm", "data"], check=True)
    nb = make_notebook(SOURCES)
    path = folder / "weather.ipynb"
    execute_notebook(nb, path, order=ORDER, env={"PYTHONHASHSEED": "0"})
    # Edit cell 3 after it ran and delete the `unused` cell, then save: the replay keeps the code as it ran.
    nb.cells[3].source = "rng = np.random.default_rng(7)\nsample = rng.normal(size=3)\nsample"
    del nb.cells[9]
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="session")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The saved notebook of one recorded session (read-only: copy it before changing anything)."""
    return record_session(tmp_path_factory.mktemp("weather") / "project")


@pytest.fixture
def project(recorded: Path, tmp_path: Path) -> Path:
    """A private copy of the recorded project (notebook, data, journal)."""
    import shutil

    target = tmp_path / "project"
    shutil.copytree(recorded.parent, target, ignore=shutil.ignore_patterns("weather.repro"))
    return target / recorded.name


def manifest_of(folder: Path) -> dict[str, Any]:
    return json.loads((folder / "manifest.json").read_text())
