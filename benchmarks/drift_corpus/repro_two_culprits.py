"""Minimal reproduction of what the drift corpus found: when two upgraded packages each change a step on their own,
``verify --upgrade`` names only the first one its halving tries (alphabetical order) and prints it in front of the
upgraded replay's error, which the other package raised.

Two tiny wheels, written by hand (tests/export/test_freshenv.py's ``write_wheel``): ``jrd_aaa`` 2.0's value()
returns 3 instead of 1; ``jrd_zzz`` 2.0's parse() raises ValueError. One step prints both. Recorded at 1.0 each,
``verify --upgrade`` says ``jrd-aaa 1.0 -> 2.0: raised ValueError: jrd_zzz 2.0 removed parse()``.

    /work/main/.venv/bin/python benchmarks/drift_corpus/repro_two_culprits.py     # from the repository root
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from repro_kernel.export import export_notebook  # noqa: E402
from repro_kernel.testing import START, execute_notebook, make_notebook, run_cli  # noqa: E402
from tests.export.test_freshenv import write_wheel  # noqa: E402

A, Z = "jrd_aaa", "jrd_zzz"


def main() -> None:
    where = Path(tempfile.mkdtemp(prefix="drift-two-culprits-"))
    wheels = where / "wheels"
    for version, value in (("1.0", 1), ("2.0", 3)):
        write_wheel(wheels, A, version, f"def value():\n    return {value}\n")
    write_wheel(wheels, Z, "1.0", "def parse():\n    return 'ok'\n")
    write_wheel(wheels, Z, "2.0", "def parse():\n    raise ValueError('jrd_zzz 2.0 removed parse()')\n")
    site = where / "site"
    for name in (A, Z):
        with zipfile.ZipFile(wheels / f"{name}-1.0-py3-none-any.whl") as wheel:
            wheel.extractall(site)
    nb = make_notebook([START, f"import {A}, {Z}", f"print({A}.value())\nprint({Z}.parse())"])
    path = where / "project" / "two.ipynb"
    execute_notebook(nb, path, env={"PYTHONPATH": str(site), "PYTHONHASHSEED": "0"})
    export = export_notebook(path, mode="history")
    env = {"JUPYTER_REPRO_ENV_CACHE": str(where / "envs")}
    for name, value in env.items():
        os.environ[name] = value
    result = run_cli("verify", str(export), "--upgrade", "--find-links", str(wheels), "--json", env=env)
    report = json.loads(result.stdout)
    for step in report["steps"]:
        print(step["index"], step["outcome"], step.get("detail"))
    print("drift:", report["drift"])
    print(f"(export and wheels in {where})")


if __name__ == "__main__":
    main()
