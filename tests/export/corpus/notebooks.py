"""A corpus of realistic notebooks and the scrambled orders they are run in (re-runs, edits, deletions).

Each entry is ``(name, cells, actions)``: ``cells`` are the notebook's sources (a ``%repro start`` cell is
put first), ``actions`` what the user did: an int runs that cell, ``("edit", i, source)`` changes a cell
after it ran, ``("delete", i)`` deletes one. ``data`` files are written beside the notebook first.
"""

from __future__ import annotations

from typing import Any, Union

Action = Union[int, tuple[Any, ...]]

CSV_SALES = "region,month,units,price\n" + "\n".join(
    f"{r},{m},{(i * 37) % 91 + 5},{(i * 13) % 17 + 1.25}"
    for i, (r, m) in enumerate((r, m) for r in ("north", "south", "east", "west") for m in range(1, 13))
) + "\n"
CSV_IRIS_LIKE = "a,b,c,d,label\n" + "\n".join(
    f"{(i * 7) % 23 / 3:.3f},{(i * 11) % 19 / 4:.3f},{(i * 5) % 13 / 2:.3f},{(i * 3) % 7 / 5:.3f},{i % 3}"
    for i in range(90)
) + "\n"
CSV_TS = "day,value\n" + "\n".join(f"{d},{(d * 17) % 29 + d * 0.5:.2f}" for d in range(60)) + "\n"

DATA = {"sales.csv": CSV_SALES, "measurements.csv": CSV_IRIS_LIKE, "series.csv": CSV_TS}

SETUP = "%load_ext repro_kernel\n%repro start"


def _numpy(n: int) -> tuple[str, list[str], list[Action]]:
    seeded = n % 2 == 0
    cells = [
        "import numpy as np",
        "np.random.seed(%d)" % (n + 1) if seeded else "print('no seed set')",
        f"a = np.random.normal(size=({n + 3}, 3))\na.round(4)",
        "b = a @ a.T\nprint(b.shape, round(float(b.trace()), 6))",
        "idx = np.random.permutation(len(a))\nidx",
        "m = a[idx].mean(axis=0)\nm.round(6)",
        "rng = np.random.default_rng()\nnoise = rng.uniform(size=3)\nnoise.round(6)",
        "total = float((m + noise).sum())\nprint(f'{total:.6f}')",
    ]
    actions: list[Action] = [0, 1, 2, 3, 4, 2, 5, 6, 7, 4, 5, 7]
    return f"numpy_{n}", cells, actions


def _pandas(n: int) -> tuple[str, list[str], list[Action]]:
    cells = [
        "import pandas as pd\nimport numpy as np",
        "sales = pd.read_csv('sales.csv')\nsales.head()",
        "sales['revenue'] = sales.units * sales.price\nsales.revenue.sum().round(2)",
        "by_region = sales.groupby('region').revenue.sum().sort_values()\nby_region",
        f"sample = sales.sample({n + 4})\nsample[['region', 'units']]",
        "pivot = sales.pivot_table(index='month', columns='region', values='units')\npivot.iloc[:4]",
        "top = by_region.idxmax()\nprint('top region:', top)",
        "sales.describe().round(3)",
    ]
    actions: list[Action] = [0, 1, 2, 3, 4, 5, 6, 4, ("edit", 6, "top = by_region.idxmin()\nprint('low', top)"),
                             3, 7]
    return f"pandas_{n}", cells, actions


def _sklearn(n: int) -> tuple[str, list[str], list[Action]]:
    seeded = n % 2 == 1
    state = f"random_state={n}" if seeded else "random_state=None"
    cells = [
        "import numpy as np\nimport pandas as pd\nfrom sklearn.model_selection import train_test_split\n"
        "from sklearn.linear_model import LogisticRegression\nfrom sklearn.ensemble import RandomForestClassifier",
        "df = pd.read_csv('measurements.csv')\nX, y = df[['a', 'b', 'c', 'd']].values, df.label.values\nX.shape",
        f"X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, {state})\nlen(X_train)",
        "clf = LogisticRegression(max_iter=500).fit(X_train, y_train)\nprint(round(clf.score(X_test, y_test), 6))",
        f"forest = RandomForestClassifier(n_estimators=20, {state}).fit(X_train, y_train)\n"
        "print(round(forest.score(X_test, y_test), 6))",
        "importances = pd.Series(forest.feature_importances_, index=list('abcd')).round(6)\nimportances",
        "pred = forest.predict(X_test[:5])\npred",
    ]
    actions: list[Action] = [0, 1, 2, 3, 4, 5, 2, 3, 4, 6, 5]
    return f"sklearn_{n}", cells, actions


def _matplotlib(n: int) -> tuple[str, list[str], list[Action]]:
    cells = [
        "%matplotlib inline\nimport matplotlib\nimport matplotlib.pyplot as plt\nimport numpy as np\n"
        "import pandas as pd",
        "series = pd.read_csv('series.csv')\nseries.tail(3)",
        f"jitter = np.random.normal(scale=0.{n + 1}, size=len(series))\nseries['noisy'] = series.value + jitter\n"
        "series.noisy.round(4).head()",
        "fig, ax = plt.subplots(figsize=(4, 3))\nax.plot(series.day, series.noisy)\nax.set_title('noisy')\n"
        "plt.show()",
        "rolling = series.noisy.rolling(7).mean()\nrolling.dropna().round(4).tail()",
        "fig, ax = plt.subplots(figsize=(4, 3))\nax.hist(series.noisy, bins=10)\nplt.show()",
    ]
    actions: list[Action] = [0, 1, 2, 3, 4, 2, 3, 5, 4]
    return f"matplotlib_{n}", cells, actions


def _statsmodels(n: int) -> tuple[str, list[str], list[Action]]:
    cells = [
        "import numpy as np\nimport pandas as pd\nimport statsmodels.api as sm",
        "sales = pd.read_csv('sales.csv')\nsales['t'] = np.arange(len(sales))",
        f"sales['shock'] = np.random.normal(size=len(sales)) * {n + 1}\nsales.shock.round(4).head()",
        "model = sm.OLS(sales.units, sm.add_constant(sales[['t', 'price', 'shock']])).fit()\n"
        "model.params.round(6)",
        "print(round(model.rsquared, 6))",
        "resid = model.resid\nresid.abs().max().round(6)",
        "bad = model.params['missing']",
        "sm.stats.durbin_watson(resid).round(6)",
    ]
    actions: list[Action] = [0, 1, 2, 3, 4, 6, 5, 2, 3, 4, 7]
    return f"statsmodels_{n}", cells, actions


def _python_random(n: int) -> tuple[str, list[str], list[Action]]:
    cells = [
        "import random\nimport collections",
        "names = ['ada', 'grace', 'linus', 'guido', 'barbara', 'ken']\nrandom.shuffle(names)\nnames",
        "team = random.sample(names, 3)\nprint(team)",
        "counts = collections.Counter(random.choice('abc') for _ in range(50))\nsorted(counts.items())",
        "letters = {c for c in 'reproducible'}\nprint(sorted(letters))",
        "def score(name):\n    return sum(map(ord, name)) % 10\n\nscores = {n: score(n) for n in team}\nscores",
        "1 / len([])",
        "best = max(scores, key=scores.get)\nbest",
    ]
    actions: list[Action] = [0, 1, 2, 3, 4, 5, 6, 2, 5, 7, ("delete", 4)]
    return f"random_{n}", cells, actions


BUILDERS = [_numpy, _pandas, _sklearn, _matplotlib, _statsmodels, _python_random]


def corpus(count: int = 30) -> list[tuple[str, list[str], list[Action]]]:
    """``count`` notebooks, cycling through the kinds above with varied parameters."""
    found = []
    for i in range(count):
        builder = BUILDERS[i % len(BUILDERS)]
        found.append(builder(i // len(BUILDERS)))
    return found
