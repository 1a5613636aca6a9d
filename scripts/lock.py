"""Regenerate requirements/lock.txt: what pip resolves `.[test,test-torch]` to, pinned.

Resolution only (`pip install --dry-run --report`); nothing is installed. The pins already in the lock file hold
(a new dependency gets only what it adds); `--upgrade` resolves everything afresh.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADER = """# Pinned versions of every Python package the test environment resolves to (the project's lock file).
# scripts/setup.sh installs with these as constraints, so CI and every developer get the same versions.
# Regenerate after changing dependencies in pyproject.toml:
#   python scripts/lock.py
"""


def main() -> int:
    lock = ROOT / "requirements" / "lock.txt"
    keep = ["-c", str(lock)] if lock.exists() and "--upgrade" not in sys.argv[1:] else []
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--dry-run", "--ignore-installed",
             "--report", str(report), *keep, "-e", ".[test,test-torch]"],
            cwd=ROOT, check=True, env={**os.environ, "SKIP_JUPYTER_BUILDER": "1"},
        )
        resolved = json.loads(report.read_text())["install"]
    pins = sorted(
        (f"{item['metadata']['name']}=={item['metadata']['version']}" for item in resolved
         if item["metadata"]["name"].lower() != "jupyter-repro"),
        key=str.lower,
    )
    lock.write_text(HEADER + "\n".join(pins) + "\n")
    print(f"requirements/lock.txt: {len(pins)} packages pinned")
    return 0


if __name__ == "__main__":
    sys.exit(main())
