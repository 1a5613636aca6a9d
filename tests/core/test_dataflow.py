"""Static def/use facts for every construct the engine relies on (repro_kernel/dataflow.py)."""

from __future__ import annotations

import pytest

from repro_kernel.core.dataflow import analyze_code


def facts(code: str) -> dict[str, object]:
    f = analyze_code(code)
    return {"defined": set(f.defined), "used": set(f.used), "eager_used": set(f.eager_used),
            "eager_defined": set(f.eager_defined), "deleted": set(f.deleted), "mutated": set(f.mutated)}


@pytest.mark.parametrize(
    ("code", "defined", "used"),
    [
        ("a, (b, *c) = t", {"a", "b", "c"}, {"t"}),
        ("x: int = y", {"x"}, {"y"}),
        ("x += y", {"x"}, {"x", "y"}),
        ("import os.path as osp, numpy", {"osp", "numpy"}, set()),
        ("from a.b import c as d", {"d"}, set()),
        ("for i, v in enumerate(xs):\n    total = v", {"i", "v", "total"}, {"xs"}),
        ("with open(p) as fh:\n    data = fh.read()", {"fh", "data"}, {"p"}),
        ("try:\n    r = f()\nexcept ValueError as err:\n    r = err", {"r", "err"}, {"f"}),
        ("sq = [i * k for i in range(n) if i > lo]", {"sq"}, {"k", "n", "lo"}),
        ("d = {k: v for k, v in pairs}", {"d"}, {"pairs"}),
        ("if (n := len(xs)) > 2:\n    big = n", {"n", "big"}, {"xs"}),
        ("class A(Base):\n    size = SIZE\n    def m(self):\n        return G", {"A"}, {"Base", "SIZE", "G"}),
        ("match cmd:\n    case [first, *rest]:\n        out = first", {"first", "rest", "out"}, {"cmd"}),
        ("g = (x * scale for x in xs)", {"g"}, {"scale", "xs"}),
    ],
)
def test_definitions_and_uses(code: str, defined: set[str], used: set[str]) -> None:
    got = facts(code)
    assert got["defined"] == defined
    assert got["used"] == used


@pytest.mark.parametrize(
    ("code", "mutated"),
    [
        ("df['c'] = 1", {"df"}),
        ("df.loc[0, 'a'] = 2", {"df"}),
        ("obj.attr.inner = 3", {"obj"}),
        ("lst.append(1)", {"lst"}),
        ("d.update(e)", {"d"}),
        ("df.dropna(inplace=True)", {"df"}),
        ("df['a'].fillna(0, inplace=True)", {"df"}),
        ("model.fit(X, y)", {"model"}),
        ("w.add_(1)", {"w"}),
        ("random.shuffle(deck)", {"deck"}),
        ("np.copyto(dst, src)", {"dst"}),
        ("del cache['k']", {"cache"}),
        ("counts[k] += 1", {"counts"}),
        ("setattr(cfg, 'lr', 0.1)", {"cfg"}),
    ],
)
def test_in_place_mutation(code: str, mutated: set[str]) -> None:
    assert facts(code)["mutated"] == mutated


@pytest.mark.parametrize("code", ["df2 = df.dropna()", "df2 = df.drop(columns=['a'])", "s = df.sort_values('a')",
                                  "m = arr.clip(0, 1)", "out = df.fillna(0, inplace=False)"])
def test_copies_are_not_mutations(code: str) -> None:
    assert facts(code)["mutated"] == set()


def test_deletion_and_global() -> None:
    got = facts("x = 1\ndel x, y")
    assert got["deleted"] == {"x", "y"} and "x" not in got["defined"]
    f = analyze_code("def bump():\n    global counter\n    counter += 1\n    log.append(counter)")
    assert f.eager_defined == ["bump"] and "counter" in f.defined
    assert set(f.lazy_defined["bump"]) == {"counter", "log"}
    assert set(f.lazy_used["bump"]) == {"counter", "log"}
    assert f.eager_used == []


def test_function_bodies_are_lazy_but_defaults_and_decorators_eager() -> None:
    f = analyze_code("@register(REG)\ndef f(a, b=DEFAULT):\n    return a * k + helper(b)")
    assert set(f.eager_used) == {"register", "REG", "DEFAULT"}
    assert set(f.lazy_used["f"]) == {"k", "helper"}
    lam = analyze_code("f = lambda: k\nr = df.apply(lambda row: row * m)")
    assert lam.lazy_used == {"f": ["k"]} and set(lam.eager_used) == {"df", "m"}


def test_value_keys_tell_equal_rebindings_apart() -> None:
    assert analyze_code("import numpy as np").value_keys == {"np": "import:numpy"}
    assert analyze_code("n = 3").value_keys == {"n": "const:3"}
    assert analyze_code("n = f(3)").value_keys == {}
    assert analyze_code("x = []\nx.append(1)").value_keys == {}
    one, two = analyze_code("def f():\n    return 1"), analyze_code("def f():\n    return 2")
    assert one.value_keys["f"] != two.value_keys["f"]
    assert one.value_keys == analyze_code("def f():\n    return 1\n").value_keys


@pytest.mark.parametrize(
    ("code", "defined", "used"),
    [
        ("%%time\nx = y + 1", {"x"}, {"y"}),
        ("%time z = w * 2", {"z"}, {"w"}),
        ("%timeit -n1 f(a)", set(), {"f", "a"}),
        ("files = !ls", {"files"}, set()),
        ("%%capture out\nprint(v)", {"out"}, {"v"}),
        ("%store -r saved", {"saved"}, set()),
        ("%matplotlib inline\nimport matplotlib.pyplot as plt", {"plt"}, set()),
        ("%%bash\necho $HOME", set(), set()),
        ("%%writefile helper.py\nx = 1", set(), set()),
        ("df?", set(), set()),
        ("%run helper.py", set(), set()),
    ],
)
def test_ipython_syntax(code: str, defined: set[str], used: set[str]) -> None:
    f = analyze_code(code)
    assert f.syntax_error is None
    assert set(f.defined) == defined and set(f.used) == used


def test_half_written_code_never_raises() -> None:
    for code in ["def f(:\n", "x = (", "%%time\nfor", "\x00", "(" * 500 + ")" * 500, "if x:\n  y\n z"]:
        assert analyze_code(code).syntax_error is not None or analyze_code(code).defined is not None


def test_randomness_network_paths_gpu_installs() -> None:
    f = analyze_code("import numpy as np\nfrom numpy.random import rand\nx = np.random.normal()\ny = rand(3)\n"
                     "rng = np.random.default_rng()\nimport random\nrandom.seed(0)")
    assert ("np.random.normal", "numpy") in f.random_draws and ("np.random.rand", "numpy") in f.random_draws
    assert f.unseeded_generators == ["np.random.default_rng"]
    assert ("random.seed", "python", "0") in f.seeds
    assert analyze_code("rng = np.random.default_rng(0)\nv = rng.normal()").random_draws == []
    net = analyze_code("import requests\nr = requests.get(URL)\ndf = pd.read_csv('https://x.org/a.csv')\n!wget http://h/f")
    assert "requests.get" in net.network_calls and "https://x.org/a.csv" in net.urls
    assert any(c.startswith("!wget") for c in net.network_calls)
    paths = analyze_code("df = pd.read_csv('/home/me/d.csv')\nplt.savefig('/tmp/f.png')\nsep = '/'\nw = 'a/b'")
    assert paths.path_literals == [("/home/me/d.csv", "read_csv"), ("/tmp/f.png", "savefig")]
    gpu = analyze_code("import torch\nm = net.to('cuda')\ntorch.use_deterministic_algorithms(True)")
    assert gpu.gpu_uses and gpu.determinism == [("torch.use_deterministic_algorithms", "torch")]
    assert analyze_code("torch.use_deterministic_algorithms(False)").determinism == []
    assert analyze_code("%env CUBLAS_WORKSPACE_CONFIG=:4096:8").determinism == [("%env CUBLAS_WORKSPACE_CONFIG", "torch")]
    assert analyze_code("%pip install -U pandas").installs == ["%pip install -U pandas"]
    assert analyze_code("!pip install seaborn==0.13").installs == ["!pip install seaborn==0.13"]
    assert analyze_code("%pip list").installs == []


def test_cached_by_code() -> None:
    assert analyze_code("q = 1") is analyze_code("q = 1")
