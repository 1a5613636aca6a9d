"""The labelled scenario suite: sessions with the flags they must and must not raise.

Three families, scored together (precision and recall per kind in ``score``):

* ``KERNEL`` scenarios run in real kernels (``driver.run_kernel_batch``: several per kernel, each in its own
  folder, journal and recording session), then ``analyze_notebook`` judges the saved notebook + journal;
* ``RECORD`` scenarios are hand-built CellRecords for what a test machine cannot do for real (GPUs, remote
  hosts, package upgrades, JupyterLab cell ids);
* ``BARE`` scenarios are saved notebooks with no journal at all (judged from execution counts and sources).

``must`` maps a kind to the cells (original indices) it must name; ``must_not`` is every other kind unless
listed in ``ignore``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Optional

from repro_kernel.analysis import KINDS

CSV = "a,b\n1,2\n3,4\n"


@dataclass
class Scenario:
    name: str
    cells: list[str]
    steps: Optional[list[Any]] = None  # ints run cells; tuples edit the page or the disk (driver.py)
    must: dict[str, list[int]] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    family: str = "kernel"
    records: Optional[list[dict[str, Any]]] = None  # RECORD family
    context: dict[str, Any] = field(default_factory=dict)  # RECORD family: analysis.Context fields
    counts: Optional[list[Optional[int]]] = None  # BARE family: execution counts on the page
    stale_case: bool = False  # also run under ipyflow in the side-by-side comparison

    @property
    def must_not(self) -> list[str]:
        return [k for k in KINDS if k not in self.must and k not in self.ignore]


def K(name: str, cells: list[str], steps: Optional[list[Any]] = None, **kw: Any) -> Scenario:
    return Scenario(name, cells, steps, **kw)


KERNEL: list[Scenario] = [
    # -- order, staleness, edits, deletions, moves, restarts
    K("clean-linear", ["x = 1", "y = x + 1", "print(y)"], stale_case=True),
    K("defined-below", ["y = x + 1", "x = 1"], [1, 0], must={"out-of-order": [0, 1]}),
    K("stale-after-edit", ["x = 1", "y = x * 2", "print(y)"], [0, 1, 2, ("edit", 0, "x = 5"), 0],
      must={"stale": [1]}, stale_case=True),
    K("same-value-rerun", ["x = 1", "y = x * 2"], [0, 1, 0], stale_case=True),
    K("mutation-rerun", ["lst = [1, 2]", "lst.append(3)", "total = sum(lst)"], [0, 1, 2, 1],
      must={"stale": [2], "out-of-order": [1]}, stale_case=True),
    K("edited-after-run", ["x = 1", "print(x)"], [0, 1, ("edit", 1, "print(x + 1)")],
      must={"edited-since-run": [1]}),
    K("skipped-cell", ["a = 1", "z = 99", "c = a + 1"], [0, 2], must={"never-run": [1]}),
    K("deleted-definition", ["x = 10", "y = x + 1"], [0, 1, ("delete", 0)], must={"hidden-state": [1]}),
    K("rewritten-definition", ["x = 10", "y = x + 1"], [0, 1, ("edit", 0, "w = 10")],
      must={"hidden-state": [1], "edited-since-run": [0]}),
    K("function-global-below-ok", ["def f():\n    return k * 2", "k = 3", "r = f()"], stale_case=True),
    K("function-global-changed", ["def f():\n    return k * 2", "k = 3", "r = f()", "k = 4"],
      must={"stale": [2]}, stale_case=True),
    K("function-defined-below", ["r = f()", "def f():\n    return 1"], [1, 0], must={"out-of-order": [0, 1]}),
    K("import-rerun", ["import math", "y = math.sqrt(4)"], [0, 1, 0], stale_case=True),
    K("computed-rerun", ["import random\nrandom.seed(1)\nn = random.random()", "m = n + 1"], [0, 1, 0],
      must={"stale": [1]}, stale_case=True),
    K("cell-magic-order", ["y = x + 1", "%%time\nx = 1"], [1, 0], must={"out-of-order": [0, 1]}),
    K("star-import", ["from math import *", "v = sqrt(4)"]),
    K("augmented-rerun", ["total = 0", "total += 5", "print(total)"], [0, 1, 1, 2], must={"out-of-order": [1]}),
    K("pandas-inplace", ["import pandas as pd\ndf = pd.DataFrame({'a': [1.0, None]})", "n = len(df)",
                         "df.dropna(inplace=True)"], must={"stale": [1]}, stale_case=True),
    K("pandas-copy", ["import pandas as pd\ndf = pd.DataFrame({'a': [1.0, None]})", "df2 = df.dropna()",
                      "n = len(df)"], stale_case=True),
    K("moved-dependency", ["x = 1", "y = x + 1"], [0, 1, ("move", 1, 0)], must={"out-of-order": [1, 0]}),
    K("moved-harmless", ["a = 1", "b = 2"], [0, 1, ("move", 1, 0)]),
    K("name-error-then-defined", ["y = x + 1", "x = 1"], [0, 1], must={"stale": [0]}, stale_case=True),
    K("restart-partial", ["x = 1", "y = x + 1", "z = 3"], [0, 1, 2, ("restart",), 0, 2], must={"never-run": [1]}),
    K("restart-clean", ["x = 1", "y = x + 1"], [0, 1, ("restart",), 0, 1]),
    K("comprehension-scope", ["i = 100", "sq = [i * i for i in range(3)]", "print(i)"], stale_case=True),
    # -- staleness through shared values, elements and function calls (the sound-replays issue)
    K("element-read-then-append", ["lst = [1, 2, 3]", "print(lst[0])", "lst.append(4)"]),
    K("element-read-then-set", ["lst = [1, 2, 3]", "print(lst[0])", "lst.append(4)", "lst[0] = 9"],
      must={"stale": [1]}),
    K("element-last-then-append", ["lst = [1, 2, 3]", "print(lst[-1])", "lst.append(4)"], must={"stale": [1]}),
    K("whole-read-then-append", ["lst = [1, 2, 3]", "print(lst)", "lst.append(4)"], must={"stale": [1]}),
    K("alias-mutated", ["x = [1]", "y = x", "print(y)", "x.append(1)"], must={"stale": [2]}),
    K("alias-copy-then-mutated", ["x = [1]", "y = list(x)", "print(y)", "x.append(1)"], must={"stale": [1]}),
    K("alias-rebound-not-shared", ["x = [1]", "y = x", "print(y)", "x = [5]", "x.append(1)"], must={"stale": [1]}),
    K("written-back-unchanged", ["x = 1", "y = x + 1", "x = 1"]),
    K("written-back-unchanged-list", ["x = [1, 2]", "n = len(x)", "x = [1, 2]"]),
    K("function-rebinds-global-in-defining-cell",
      ["k = 1", "print(k)", "def bump():\n    global k\n    k += 1\nbump()"], must={"stale": [1]}),
    K("function-rebinds-global-not-called", ["k = 1", "print(k)", "def bump():\n    global k\n    k += 1"]),
    K("numpy-view-mutated", ["import numpy as np\narr = np.arange(10)", "s = arr[5:8]", "print(arr.sum())",
                             "s[:] = 64"], must={"stale": [2]}),
    K("dict-value-mutated-through-alias", ["d = {'a': [1]}", "v = d['a']", "print(d)", "v.append(2)"],
      must={"stale": [2]}),
    K("pure-method-not-stale", ["s = 'abc'", "print(s)", "t = s.upper()"]),
    K("method-on-user-object", ["class C:\n    def __init__(self):\n        self.n = 0\n    def bump(self):\n"
                                "        self.n += 1", "c = C()", "print(c.n)", "c.bump()"], must={"stale": [2]}),
    K("method-on-library-object", ["import numpy as np\nrng = np.random.default_rng(0)", "print(rng.integers(9))",
                                   "x = rng.normal()"]),
    # -- outputs no run can repeat
    K("uninitialised-memory-shown", ["import numpy as np\nnp.empty(3)"], must={"nondeterministic-output": [0]}),
    K("uuid-printed", ["import uuid\nprint('run', uuid.uuid4())"], must={"nondeterministic-output": [0]}),
    K("elapsed-wall-clock-printed", ["import datetime as dt\nstart = dt.datetime.now()\ntotal = sum(range(9))\n"
                                     "print(f'took {(dt.datetime.now() - start).total_seconds()} s')"],
      must={"nondeterministic-output": [0]}),
    K("one-wall-clock-read-shown", ["import datetime as dt\nprint(dt.datetime.now().date())"]),
    K("volatile-not-shown", ["import os\npid = os.getpid()", "import numpy as np\nbuf = np.empty(3)\nbuf[:] = 1"]),
    K("defined-memory-shown", ["import numpy as np\nnp.zeros(3)"]),
    K("class-method-global", ["class A:\n    def m(self):\n        return K", "K = 2", "v = A().m()"]),
    K("walrus", ["data = [1, 2, 3]", "if (n := len(data)) > 2:\n    big = True", "print(n, big)"]),
    K("shell-and-line-magics", ["files = !ls", "%time total = len(files)", "print(total)"]),
    # -- data
    K("data-unpreserved", ["import pandas as pd", "df = pd.read_csv('data.csv')"], files={"data.csv": CSV},
      must={"unsnapshotted-data": [1]}),
    K("data-snapshotted", ["%repro snapshot data.csv", "import pandas as pd", "df = pd.read_csv('data.csv')"],
      files={"data.csv": CSV}),
    K("data-in-git", ["import pandas as pd", "df = pd.read_csv('data.csv')"],
      [("shell", "git init -q . && git add data.csv && git -c user.email=t@e -c user.name=t commit -qm data"), 0, 1],
      files={"data.csv": CSV}),
    K("data-in-git-but-dirty", ["import pandas as pd", "df = pd.read_csv('data.csv')"],
      [("shell", "git init -q . && git add data.csv && git -c user.email=t@e -c user.name=t commit -qm data"),
       ("write", "data.csv", CSV + "5,6\n"), 0, 1],
      files={"data.csv": CSV}, must={"unsnapshotted-data": [1]}),
    K("data-in-dvc", ["import pandas as pd", "df = pd.read_csv('data.csv')"], files={
        "data.csv": CSV,
        "data.csv.dvc": f"outs:\n- md5: {hashlib.md5(CSV.encode()).hexdigest()}\n  size: {len(CSV)}\n  path: data.csv\n"}),
    K("data-only-a-dvc-stage-dependency", ["import pandas as pd", "df = pd.read_csv('data.csv')"], files={
        "data.csv": CSV,
        "dvc.lock": "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    deps:\n"
                    f"    - path: data.csv\n      md5: {hashlib.md5(CSV.encode()).hexdigest()}\n"
                    f"      size: {len(CSV)}\n"}, must={"unsnapshotted-data": [1]}),
    K("data-changed-after", ["import pandas as pd", "df = pd.read_csv('data.csv')"],
      [0, 1, ("write", "data.csv", "a,b\n9,9\n")], files={"data.csv": CSV},
      must={"changed-data": [1], "unsnapshotted-data": [1]}),
    K("data-removed-after", ["text = open('data.csv').read()"], [0, ("remove", "data.csv")],
      files={"data.csv": CSV}, must={"changed-data": [0], "unsnapshotted-data": [0]}),
    K("data-written-then-read", ["with open('out.txt', 'w') as f:\n    f.write('hi')",
                                 "with open('out.txt') as f:\n    text = f.read()"]),
    K("data-changed-between-reads", ["with open('data.csv') as f:\n    first = f.read()",
                                     "with open('data.csv') as f:\n    again = f.read()"],
      [0, ("write", "data.csv", "x\n1\n"), 1], files={"data.csv": CSV},
      must={"changed-data": [0, 1], "unsnapshotted-data": [0, 1]}),  # the second read saw new, unkept content
    K("absolute-outside-project", ["with open('{root}/external/ext.csv') as f:\n    text = f.read()"],
      must={"absolute-path": [0], "unsnapshotted-data": [0]}),
    K("absolute-inside-project", ["with open('{dir}/data.csv') as f:\n    text = f.read()"],
      files={"data.csv": CSV}, must={"absolute-path": [0], "unsnapshotted-data": [0]}),
    # -- randomness
    K("numpy-unseeded", ["import numpy as np", "x = np.random.rand(3)"], must={"unseeded-randomness": [1]}),
    K("numpy-seeded", ["import numpy as np\nnp.random.seed(0)", "x = np.random.rand(3)"]),
    K("repro-seed", ["%repro seed 42", "import random\nr = random.random()"]),
    K("generator-unseeded", ["import numpy as np\nrng = np.random.default_rng()\nv = rng.normal()"],
      must={"unseeded-randomness": [0]}),
    K("generator-seeded", ["import numpy as np\nrng = np.random.default_rng(1)\nv = rng.normal()"]),
    K("python-random-unseeded", ["import random", "v = random.random()"], must={"unseeded-randomness": [1]}),
]

# Through repro_kernel.testing's execute_notebook: one fresh kernel each, `%repro start` as the first cell.
EXECUTE_NOTEBOOK: list[Scenario] = [
    K("fresh-kernel-clean", ["x = 1", "y = x + 1"]),
    K("fresh-kernel-out-of-order", ["y = x + 1", "x = 1"], [1, 0], must={"out-of-order": [0, 1]}),
    K("fresh-kernel-numpy-import-and-draw", ["import numpy as np\nx = np.random.rand(3)"],
      must={"unseeded-randomness": [0]}),
]


def rec(seq: int, code: str, cell_id: Optional[str] = None, **fields: Any) -> dict[str, Any]:
    """A CellRecord as the recorder would write it for ``code`` (fields overridable)."""
    from repro_kernel.core.dataflow import analyze_code
    from repro_kernel.core.hashing import hash_text

    facts = analyze_code(code)
    record = {
        "schema_version": 1, "session_id": "s1", "seq": seq, "execution_count": seq, "cell_id": cell_id,
        "code": code, "code_hash": hash_text(code), "started_at": 1.0 + seq, "duration_s": 0.001,
        "status": "ok", "error": None, "output_hash": None, "defined": facts.defined, "used": facts.used,
        "deleted": facts.deleted, "mutated": facts.mutated, "modules": [], "files_read": [], "files_written": [],
        "network": [], "random": {"sources": {}, "generators": [], "seeds": [], "unseeded_draw": False},
        "recorder_errors": [],
    }
    record.update(fields)
    return record


def R(name: str, cells: list[str], records: list[dict[str, Any]], **kw: Any) -> Scenario:
    return Scenario(name, cells, family="record", records=records, **kw)


_GPU = {"machine": {"gpus": [{"name": "NVIDIA H100", "memory": "80 GiB", "driver": "550"}]}}
_TORCH = [{"name": "torch", "distribution": "torch", "version": "2.5.1"}]
_DISTS = {"distributions": {"pandas": "2.2.3", "numpy": "2.1.3"}, "python": {"version": "3.11.9"}}

RECORD: list[Scenario] = [
    R("remote-host", ["import urllib.request\nraw = urllib.request.urlopen('https://example.org/d.csv').read()"],
      [rec(1, "import urllib.request\nraw = urllib.request.urlopen('https://example.org/d.csv').read()",
           network=[{"host": "example.org", "port": 443, "url": "https://example.org/d.csv"}])],
      must={"network-input": [0]}),
    R("loopback-host", ["import socket\ns = socket.create_connection(('127.0.0.1', 5432))"],
      [rec(1, "import socket\ns = socket.create_connection(('127.0.0.1', 5432))",
           network=[{"host": "127.0.0.1", "port": 5432, "url": None}])]),
    R("torch-gpu-default", ["import torch", "y = torch.ones(3).cuda() * 2"],
      [rec(1, "import torch", modules=_TORCH), rec(2, "y = torch.ones(3).cuda() * 2")],
      context={"environment": _GPU}, must={"nondeterministic-gpu": [0, 1]}),
    R("torch-gpu-deterministic", ["import torch\ntorch.use_deterministic_algorithms(True)", "y = torch.ones(3).cuda()"],
      [rec(1, "import torch\ntorch.use_deterministic_algorithms(True)", modules=_TORCH),
       rec(2, "y = torch.ones(3).cuda()")], context={"environment": _GPU}),
    R("torch-cpu-only", ["import torch", "y = torch.ones(3) * 2"],
      [rec(1, "import torch", modules=_TORCH), rec(2, "y = torch.ones(3) * 2")],
      context={"environment": {"machine": {"gpus": []}}}),
    R("tensorflow-gpu-env-deterministic", ["import tensorflow as tf", "y = tf.ones(3)"],
      [rec(1, "import tensorflow as tf", modules=[{"name": "tensorflow", "distribution": "tensorflow",
                                                   "version": "2.18.0"}]), rec(2, "y = tf.ones(3)")],
      context={"environment": {**_GPU, "environment_variables": {"TF_DETERMINISTIC_OPS": "1"}}}),
    R("upgraded-in-session", ["import pandas as pd"],
      [rec(1, "import pandas as pd", modules=[{"name": "pandas", "distribution": "pandas", "version": "2.3.0"}])],
      context={"environment": _DISTS}, must={"environment-drift": [0]}),
    R("pip-install-in-session", ["%pip install -U pandas", "import pandas as pd"],
      [rec(1, "%pip install -U pandas"),
       rec(2, "import pandas as pd", modules=[{"name": "pandas", "distribution": "pandas", "version": "2.2.3"}])],
      context={"environment": _DISTS}, must={"environment-drift": [0]}),
    R("python-changed-since-last-session", ["import pandas as pd"],
      [rec(1, "import pandas as pd", modules=[{"name": "pandas", "distribution": "pandas", "version": "2.2.3"}])],
      context={"environment": _DISTS, "previous_environment": {**_DISTS, "python": {"version": "3.10.4"}}},
      must={"environment-drift": [0]}),
    R("same-environment", ["import pandas as pd"],
      [rec(1, "import pandas as pd", modules=[{"name": "pandas", "distribution": "pandas", "version": "2.2.3"}])],
      context={"environment": _DISTS, "previous_environment": _DISTS}),
    R("jupyterlab-ids-moved", ["y = x + 1", "x = 1"],
      [rec(1, "x = 1", "c-x"), rec(2, "y = x + 1", "c-y")], context={"ids": ["c-y", "c-x"]},
      must={"out-of-order": [0, 1]}),
    R("jupyterlab-ids-deleted", ["y = x + 1"],
      [rec(1, "x = 1", "c-gone"), rec(2, "y = x + 1", "c-y")], context={"ids": ["c-y"]},
      must={"hidden-state": [0]}),
    R("jupyterlab-ids-edited", ["x = 2", "y = x + 1"],
      [rec(1, "x = 1", "c-x"), rec(2, "y = x + 1", "c-y")], context={"ids": ["c-x", "c-y"]},
      must={"edited-since-run": [0]}),
    R("recorder-saw-unseeded-draw", ["import numpy as np", "x = np.random.rand(2)"],
      [rec(1, "import numpy as np"),
       rec(2, "x = np.random.rand(2)", random={"sources": {"numpy": {"before": "a", "after": "b", "state_ref": "r"}},
                                                "generators": [], "seeds": [], "unseeded_draw": True})],
      must={"unseeded-randomness": [1]}),
    R("lazy-global-through-two-functions", ["def g():\n    return k", "def f():\n    return g() + 1", "r = f()", "k = 2"],
      [rec(1, "def g():\n    return k"), rec(2, "def f():\n    return g() + 1"), rec(3, "k = 1"),
       rec(4, "r = f()"), rec(5, "k = 2")], must={"stale": [2]}),
]


def B(name: str, cells: list[str], counts: list[Optional[int]], **kw: Any) -> Scenario:
    return Scenario(name, cells, family="bare", counts=counts, **kw)


BARE: list[Scenario] = [
    B("bare-clean", ["import math", "x = math.pi", "print(x)"], [1, 2, 3]),
    B("bare-counts-backwards", ["y = x + 1", "x = 1"], [2, 1], must={"out-of-order": [0, 1]}),
    B("bare-rerun-above", ["a = 1", "b = 2", "print(a)"], [4, 2, 3], must={"out-of-order": [0], "stale": [2]}),
    B("bare-never-run", ["a = 1", "b = 2", "c = a + 1"], [1, None, 2], must={"never-run": [1]}),
    B("bare-hidden", ["y = old_value * 2"], [5], must={"hidden-state": [0]}),
    B("bare-absolute", ["import pandas as pd\ndf = pd.read_csv('/home/alice/data/sales.csv')"], [1, 2][:1],
      must={"absolute-path": [0]}),
    B("bare-url", ["import pandas as pd\ndf = pd.read_csv('https://example.org/sales.csv')"], [1],
      must={"network-input": [0]}),
    B("bare-unseeded", ["import numpy as np\nx = np.random.randn(5)"], [1], must={"unseeded-randomness": [0]}),
    B("bare-secret-in-code", ["import requests", "token = 'ghp_' + 'x'\nheaders = {'Authorization': 'Bearer "
      "ghp_4Fq9ZtW2mLk8Rv1XyB7nC3dE5gH6jP0sQuVa'}"], [1, 2], must={"secret": [1]}),
    B("bare-seeded", ["import numpy as np\nnp.random.seed(1)", "x = np.random.randn(5)"], [1, 2]),
    B("bare-stale", ["x = 1", "y = x + 1", "x = 2"], [1, 2, 3], must={"stale": [1]}),
]

ALL = KERNEL + EXECUTE_NOTEBOOK + RECORD + BARE


def score(results: dict[str, dict[str, set[int]]]) -> dict[str, dict[str, Any]]:
    """Per kind: true/false positives, false negatives, precision and recall over the labelled scenarios.

    ``results[name][kind]`` is the set of original cell indices the flags of that kind named.
    A must-kind counts as found only when its flags name every expected cell. Cells named beyond the expected
    ones are counted per kind as ``extra_cells`` (a cell-level false positive the session-level table hides).
    """
    table: dict[str, dict[str, Any]] = {k: {"tp": 0, "fp": 0, "fn": 0, "tn": 0, "extra_cells": 0} for k in KINDS}
    for scenario in ALL:
        got = results.get(scenario.name)
        if got is None:
            continue
        for kind, cells in scenario.must.items():
            if kind in got and set(cells) <= got[kind]:
                table[kind]["tp"] += 1
            else:
                table[kind]["fn"] += 1
            extra = got.get(kind, set()) - set(cells)
            if extra:
                table[kind]["extra_cells"] += len(extra)
                table[kind].setdefault("extra_in", []).append(f"{scenario.name} {sorted(extra)}")
        for kind in scenario.must_not:
            table[kind]["fp" if kind in got else "tn"] += 1
    for row in table.values():
        row["precision"] = row["tp"] / (row["tp"] + row["fp"]) if row["tp"] + row["fp"] else None
        row["recall"] = row["tp"] / (row["tp"] + row["fn"]) if row["tp"] + row["fn"] else None
    return table
