"""``pytest --repro PATH...``: every export (and every recorded notebook) under the paths is one test item.

Registered as the ``repro`` pytest11 entry point, so pytest loads it in every run: importing it costs only the
standard library, and without ``--repro`` it collects nothing. With ``--repro``, pytest's own walk of the paths
offers us each file: a ``manifest.json`` stands for its export folder (one item: ``jupyter repro verify FOLDER``),
and a notebook beside a ``.repro/`` journal with no ``<name>.repro`` export beside it is one item too (exported on
the fly). Each item runs ``jupyter repro verify ... --json`` in a process of its own (its own kernel), so
``pytest -n 4`` (pytest-xdist) spreads them over workers and every CI's JUnit reader sees one test per export. A
failure shows the first differing steps with their diffs; ``--repro-option=--rtol=1e-9`` passes an option on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

MANIFEST = "manifest.json"
SHOWN_STEPS = 5


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("repro", "jupyter-repro: verify exported notebooks")
    group.addoption("--repro", action="store_true", default=False,
                    help="collect every jupyter-repro export (and recorded notebook) under the given paths as a test")
    group.addoption("--repro-option", action="append", default=[], metavar="OPTION",
                    help="pass this option on to `jupyter repro verify` (repeat for several), e.g. --repro-option=--rtol=1e-9")
    group.addoption("--repro-timeout", type=float, default=0.0, metavar="SECONDS",
                    help="seconds one export may take in all before its test fails (0: no limit)")


def _inside_export(path: Path) -> bool:
    return any((parent / MANIFEST).is_file() for parent in path.parents)


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> Optional[pytest.Collector]:
    if not parent.config.getoption("repro", False):
        return None
    if file_path.name == MANIFEST and (file_path.parent / "replay.ipynb").is_file():
        return ReproExport.from_parent(parent, path=file_path)
    if (file_path.suffix == ".ipynb" and (file_path.parent / ".repro").is_dir()
            and not (file_path.parent / (file_path.stem + ".repro") / MANIFEST).is_file()
            and ".ipynb_checkpoints" not in file_path.parts and not _inside_export(file_path)):
        return ReproExport.from_parent(parent, path=file_path)
    return None


class ReproExport(pytest.File):
    """An export folder (found by its manifest) or a recorded notebook: one item."""

    def collect(self) -> Iterator[pytest.Item]:
        target = self.path.parent if self.path.name == MANIFEST else self.path
        yield ReproItem.from_parent(self, name=target.name, target=target)


class ReproFailure(Exception):
    """An export that did not reproduce (or could not be verified): the report to show."""


class ReproItem(pytest.Item):
    """``jupyter repro verify TARGET --json`` in its own process."""

    def __init__(self, *, target: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target = target
        self.add_marker(pytest.mark.repro)

    def runtest(self) -> None:
        options = list(self.config.getoption("repro_option") or [])
        timeout = self.config.getoption("repro_timeout") or None
        command = [sys.executable, "-m", "repro_kernel.cli", "verify", "--json", *options, "--", str(self.target)]
        try:
            done = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                                  env={**os.environ, "PYTHONUNBUFFERED": "1"})
        except subprocess.TimeoutExpired:
            raise ReproFailure(f"{self.target}: still running after {timeout:g} s (--repro-timeout)") from None
        if done.returncode == 0:
            return
        try:
            report = json.loads(done.stdout)
        except ValueError:
            report = {}
        lines = [f"{self.target}: exit {done.returncode}"]
        lines += [f"  {problem}" for problem in report.get("problems") or []]
        failing = [s for s in report.get("steps") or [] if s.get("outcome") != "reproduced"]
        for step in failing[:SHOWN_STEPS]:
            lines.append(f"  step {step.get('index')} ({step.get('label')}): {step.get('outcome')}")
            lines += [f"    {line}" for line in str(step.get("detail") or "").splitlines()]
        if len(failing) > SHOWN_STEPS:
            lines.append(f"  ... and {len(failing) - SHOWN_STEPS} more steps")
        if not report:
            lines += [f"  {line}" for line in done.stderr.strip().splitlines()[-3:]]
        raise ReproFailure("\n".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, ReproFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, Optional[int], str]:
        return self.target, None, f"jupyter repro verify {self.target}"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "repro: an export verified by jupyter-repro (pytest --repro)")
