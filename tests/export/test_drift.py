"""`jupyter repro verify --upgrade`: replay with newer releases and name the package that changed each step.

Two tiny packages recorded at 1.0 (tests/export/test_freshenv.py writes their wheels): alpha's 2.0 returns
another value, beta's 2.0 the same one. Upgrading both must blame alpha, on the step that prints its value only.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repro_kernel.exceptions import BadInputError
from repro_kernel.export.drift import parse_upgrades, upgrade_argv, verify_upgrade
from repro_kernel.export.freshenv import Sources
from repro_kernel.export.verify import render_report
from repro_kernel.testing import START, run_cli
from tests.export.test_freshenv import ALPHA, BETA, manifest_of, record_tiny_session, uv_env, write_wheel

A, B = ALPHA.replace("_", "-"), BETA.replace("_", "-")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    where = tmp_path_factory.mktemp("drift")
    export, wheels = record_tiny_session(where)
    return {"export": export, "wheels": wheels, "cache": where / "envs"}


def step_of_cell(export: Path, cell_index: int) -> int:
    return next(s["index"] for s in manifest_of(export)["steps"] if s["cell_index"] == cell_index)


def test_upgrade_words_become_options_up_to_the_export_path(tmp_path: Path) -> None:
    assert upgrade_argv([str(tmp_path), "--upgrade", "numpy", "pandas==2.2.0", "--json"]) == [
        str(tmp_path), "--upgrade", "--upgrade-package", "numpy", "--upgrade-package", "pandas==2.2.0", "--json"]
    assert upgrade_argv(["--upgrade", str(tmp_path)]) == ["--upgrade", str(tmp_path)]
    assert upgrade_argv(["--upgrade", "numpy", "nb.ipynb"]) == ["--upgrade", "--upgrade-package", "numpy", "nb.ipynb"]


def test_upgrade_names_must_be_pinned() -> None:
    pins = {"numpy": "1.26.4", "pandas": "2.0.3"}
    assert parse_upgrades([], pins) == {"numpy": None, "pandas": None}
    assert parse_upgrades(["NumPy==2.1.0"], pins) == {"numpy": "2.1.0"}
    with pytest.raises(BadInputError, match="not one of the export's pinned packages.*numpy, pandas"):
        parse_upgrades(["scipy"], pins)
    with pytest.raises(BadInputError, match="not a package name"):
        parse_upgrades(["numpy=="], pins)


@pytest.mark.slow
def test_upgrade_everything_names_the_culprit_on_the_right_step(tiny: dict[str, Path]) -> None:
    export, wheels = tiny["export"], tiny["wheels"]
    result = run_cli("verify", str(export), "--upgrade", "--find-links", str(wheels), "--json",
                     env=uv_env(tiny["cache"]))
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    report = json.loads(result.stdout)
    value_step = step_of_cell(export, 3)
    drift = {d["package"]: d for d in report["drift"]}
    assert drift[A] == {"package": A, "recorded": "1.0", "replayed": "2.0", "steps": [value_step]}
    assert drift[B] == {"package": B, "recorded": "1.0", "replayed": "2.0", "steps": []}  # changed, harmless
    steps = {s["index"]: s for s in report["steps"]}
    assert steps[value_step]["outcome"] == "differs"
    assert steps[value_step]["detail"].startswith(f"{A} 1.0 -> 2.0")
    assert all(s["outcome"] == "reproduced" for i, s in steps.items() if i != value_step)
    assert set(report["baseline"]["steps"].values()) == {"reproduced"}
    assert report["environment"]["fresh"] is True
    assert f"{A}==2.0" in report["environment"]["installed"]


@pytest.mark.slow
def test_upgrade_one_package_to_a_named_version_prints_it_on_the_steps_line(tiny: dict[str, Path],
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in uv_env(tiny["cache"]).items():
        monkeypatch.setenv(name, value)
    harmless = verify_upgrade(tiny["export"], [f"{B}==2.0"], Sources([str(tiny["wheels"])]))
    assert harmless.report.exit_code == 0 and [d.steps for d in harmless.drift] == [[]]
    culprit = verify_upgrade(tiny["export"], [f"{A}==2.0"], Sources([str(tiny["wheels"])]))
    assert culprit.report.exit_code == 1
    line = next(line for line in render_report(culprit.report).splitlines() if " differs " in line)
    assert line.split()[1] == str(step_of_cell(tiny["export"], 3)) and f"{A} 1.0 -> 2.0" in line, line


@pytest.mark.slow
def test_upgrading_a_name_the_export_does_not_pin_is_one_line(tiny: dict[str, Path]) -> None:
    result = run_cli("verify", str(tiny["export"]), "--upgrade", "scipy", env=uv_env(tiny["cache"]))
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "scipy is not one of the export's pinned packages" in result.stderr, result.stderr


def _drift_of(where: Path, wheels: Path, sources: list[str] | None = None) -> tuple[dict, Path]:
    export, _ = record_tiny_session(where, wheels, sources)
    result = run_cli("verify", str(export), "--upgrade", "--find-links", str(wheels), "--json",
                     env=uv_env(where / "envs"))
    assert result.returncode == 1, result.stdout[-3000:] + result.stderr[-2000:]
    return json.loads(result.stdout), export


@pytest.mark.slow
def test_a_release_that_breaks_without_the_others_new_ones_is_still_named(tmp_path: Path) -> None:
    # alpha 2.0 fails to import next to beta 1.0 (as pandas 1.5 does next to NumPy 2): alone it breaks every step,
    # which tells nothing; beta alone reproducing the step says alpha is needed.
    wheels = tmp_path / "wheels"
    write_wheel(wheels, ALPHA, "1.0", "def value():\n    return 1\n")
    write_wheel(wheels, ALPHA, "2.0", f"import {BETA}\nassert {BETA}.V >= 2, 'needs beta 2'\n"
                                      "def value():\n    return 2\n")
    for version in ("1.0", "2.0"):
        write_wheel(wheels, BETA, version, f"V = {int(float(version))}\ndef greet():\n    return 'hello'\n")
    report, export = _drift_of(tmp_path, wheels)
    drift = {d["package"]: d["steps"] for d in report["drift"]}
    assert drift == {A: [step_of_cell(export, 3)], B: []}, report["drift"]
    assert report["drift_unexplained_steps"] == []


@pytest.mark.slow
def test_a_release_that_needs_newer_others_is_judged_with_the_newest_that_installs(tmp_path: Path) -> None:
    # alpha 3.0 requires beta>=2.0: alone next to beta 1.0 it does not install, so alpha 2.0 stands in for it.
    wheels = tmp_path / "wheels"
    for version, value, requires in (("1.0", 1, ()), ("2.0", 2, ()), ("3.0", 2, (f"{BETA}>=2.0",))):
        write_wheel(wheels, ALPHA, version, f"def value():\n    return {value}\n", requires)
    for version in ("1.0", "2.0"):
        write_wheel(wheels, BETA, version, "def greet():\n    return 'hello'\n")
    report, export = _drift_of(tmp_path, wheels)
    alpha = next(d for d in report["drift"] if d["package"] == A)
    assert (alpha["replayed"], alpha["steps"]) == ("3.0", [step_of_cell(export, 3)]), report["drift"]
    assert any(f"judged alone with {A} 2.0" in w for w in report["warnings"]), report["warnings"]


@pytest.mark.slow
def test_two_releases_that_each_change_a_step_are_both_named(tmp_path: Path) -> None:
    # alpha 2.0's value() returns 2; beta 2.0, once imported, makes it return 3: either alone changes the step
    # that prints it, so naming the first half tried would hide the other culprit (found on real notebooks where
    # pandas and matplotlib each changed a step).
    wheels = tmp_path / "wheels"
    for version, value in (("1.0", 1), ("2.0", 2)):
        write_wheel(wheels, ALPHA, version, f"def value():\n    return {value}\n")
    write_wheel(wheels, BETA, "1.0", "def greet():\n    return 'hello'\n")
    write_wheel(wheels, BETA, "2.0", f"import {ALPHA} as _a\n_a.value = lambda: 3\n"
                                     "def greet():\n    return 'hello'\n")
    report, export = _drift_of(tmp_path, wheels)
    step = step_of_cell(export, 3)
    drift = {d["package"]: d["steps"] for d in report["drift"]}
    assert drift == {A: [step], B: [step]}, report["drift"]
    assert report["drift_unexplained_steps"] == []
    line = next(s for s in report["steps"] if s["index"] == step)["detail"]
    assert A in line and B in line and "each alone changes this step" in line, line


@pytest.mark.slow
def test_a_name_error_after_an_earlier_step_failed_names_that_steps_culprit_first(tmp_path: Path) -> None:
    # alpha 2.0's value() raises, so `v` is never defined; beta 2.0 also changes the step that uses v. The step's
    # NameError is alpha's doing (as pandas 3's removed frequency alias was, before statsmodels' own change).
    wheels = tmp_path / "wheels"
    write_wheel(wheels, ALPHA, "1.0", "def value():\n    return 1\n")
    write_wheel(wheels, ALPHA, "2.0", "def value():\n    raise ValueError('value() is gone')\n")
    for version, word in (("1.0", "v"), ("2.0", "V")):
        write_wheel(wheels, BETA, version, f"def shout(x):\n    return '{word}' * x\n")
    sources = [START, f"import {ALPHA}, {BETA}", f"v = {ALPHA}.value()", f"print({BETA}.shout(v))"]
    report, export = _drift_of(tmp_path, wheels, sources)
    failed, after = step_of_cell(export, 2), step_of_cell(export, 3)
    details = {s["index"]: s["detail"] for s in report["steps"]}
    assert details[failed].startswith(f"{A} 1.0 -> 2.0: raised ValueError"), details
    assert details[after].startswith(f"{A} 1.0 -> 2.0 (step {failed} failed first"), details
    assert "NameError" in details[after] and B in details[after], details
    drift = {d["package"]: d["steps"] for d in report["drift"]}
    assert drift[A] == [failed, after], report["drift"]
