"""Fetching a package's sdist for its notebooks, without building it: pip downloads it with a metadata-only
stand-in for its build backend (setuptools, meson-python), the sha256 recorded for it is checked, and it is
unpacked under ``CACHE/src``. Shared by the real corpus and the drift corpus."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

_STUB = (
    "import os\ndef get_requires_for_build_wheel(config_settings=None):\n    return []\n"
    "def prepare_metadata_for_build_wheel(directory, config_settings=None):\n"
    "    name, version = os.environ['STUB_SDIST'].split('==')\n"
    "    info = os.path.join(directory, f'{name}-{version}.dist-info')\n    os.makedirs(info)\n"
    "    open(os.path.join(info, 'METADATA'), 'w').write(f'Metadata-Version: 2.1\\nName: {name}\\nVersion: {version}\\n')\n"
    "    return os.path.basename(info)\n"
)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(sdist: dict[str, Any], cache: Path) -> Path:
    """Download (once), check and unpack ``sdist`` ({package, version, file, sha256}); the archive's path. Exits
    with one line when the archive is not the one recorded."""
    stubs = cache / "stubs"
    (stubs / "setuptools").mkdir(parents=True, exist_ok=True)
    (stubs / "_stub.py").write_text(_STUB)
    (stubs / "setuptools" / "__init__.py").write_text("")
    (stubs / "setuptools" / "build_meta.py").write_text("from _stub import *\n")
    (stubs / "mesonpy.py").write_text("from _stub import *\n")
    archive = cache / sdist["file"]
    if not archive.exists():
        pin = f"{sdist['package']}=={sdist['version']}"
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-binary", ":all:", "--no-deps",
                        "--no-build-isolation", pin, "-d", str(cache)], check=True,
                       env={**os.environ, "STUB_SDIST": pin, "PYTHONPATH": str(stubs)})
    if sha256(archive) != sdist["sha256"]:
        sys.exit(f"{archive}: not the sha256 recorded for {sdist['package']} {sdist['version']}")
    with tarfile.open(archive) as tar:
        tar.extractall(cache / "src", filter="data")
    return archive
