"""`jupyter repro check` on notebooks shaped like real public ones (tests/analysis/data/README.md)."""

from __future__ import annotations

from pathlib import Path

from repro_kernel.analysis import analyze_notebook

DATA = Path(__file__).parent / "data"


def kinds(name: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for flag in analyze_notebook(DATA / name, journal=False).flags:
        found.setdefault(flag.kind, []).extend(flag.cells)
    return found


def test_live_coded_pandas_tutorial() -> None:
    # `df.head()` (cell 3) ran before `df` was read again (cell 5); cells 17-18 show `country_df` as the Series
    # it was before cell 19 rebound it to a DataFrame: `type(country_df)` says Series, the state says DataFrame.
    assert kinds("gapminder_intro.ipynb") == {"stale": ["cell-3", "cell-17", "cell-18"]}


def test_kaggle_study_in_order_is_clean() -> None:
    assert kinds("allstate_intro.ipynb") == {}


def test_messy_modelling_notebook() -> None:
    assert kinds("messy_model.ipynb") == {
        "hidden-state": ["cell-7"],
        "out-of-order": ["cell-4", "cell-5"],
        "stale": ["cell-5"],
        "never-run": ["cell-8"],
        "network-input": ["cell-3"],
        "unseeded-randomness": ["cell-5", "cell-6"],
        "environment-drift": ["cell-1"],
        "absolute-path": ["cell-3"],
    }
