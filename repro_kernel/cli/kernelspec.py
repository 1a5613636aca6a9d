"""``jupyter repro install-kernel``: a kernelspec that records from the very first cell.

The kernel is this Python's ipykernel with the extension loaded and recording started at launch, and
``PYTHONHASHSEED`` fixed, so ``hash()`` of strings (and everything that iterates sets of strings) repeats.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from jupyter_client.kernelspec import KernelSpecManager
from traitlets import Bool, Integer, Unicode

from repro_kernel.cli.app import ReproSubApp
from repro_kernel.exceptions import BadInputError

DEFAULT_NAME = "python3-repro"


def kernel_json(display_name: str, hash_seed: int, python: Optional[str] = None) -> dict[str, Any]:
    """The kernel.json of the recording kernel."""
    return {
        "argv": [
            python or sys.executable,
            "-m",
            "ipykernel_launcher",
            "-f",
            "{connection_file}",
            "--IPKernelApp.extensions=['repro_kernel']",
            "--Recorder.autostart=True",
        ],
        "display_name": display_name,
        "language": "python",
        "env": {"PYTHONHASHSEED": str(hash_seed)},
        "metadata": {"debugger": True, "jupyter_repro": {"autostart": True}},
    }


def install(
    name: str = DEFAULT_NAME,
    display_name: str = "Python 3 (recorded)",
    hash_seed: int = 0,
    user: bool = False,
    prefix: Optional[str] = None,
) -> str:
    """Install the kernelspec; returns where it went."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / name
        folder.mkdir()
        (folder / "kernel.json").write_text(json.dumps(kernel_json(display_name, hash_seed), indent=2))
        try:
            from ipykernel.kernelspec import RESOURCES

            for logo in Path(RESOURCES).glob("logo-*.png"):
                (folder / logo.name).write_bytes(logo.read_bytes())
        except Exception:  # logos are cosmetic
            pass
        return KernelSpecManager().install_kernel_spec(
            str(folder), kernel_name=name, user=user, prefix=prefix
        )


class InstallKernelApp(ReproSubApp):
    """Install a kernel that loads jupyter-repro and records from the first cell."""

    name = "jupyter-repro-install-kernel"
    description = __doc__

    kernel_name = Unicode(DEFAULT_NAME, help="Name of the kernelspec.").tag(config=True)
    display_name = Unicode("Python 3 (recorded)", help="Name shown in the launcher.").tag(config=True)
    hash_seed = Integer(0, help="Value of PYTHONHASHSEED in the kernel.").tag(config=True)
    user = Bool(False, help="Install for the current user instead of system-wide.").tag(config=True)
    prefix = Unicode("", help="Install under this prefix (e.g. sys.prefix of a venv).").tag(config=True)
    sys_prefix = Bool(False, help="Install under this Python's sys.prefix.").tag(config=True)

    aliases = {
        "name": "InstallKernelApp.kernel_name",
        "display-name": "InstallKernelApp.display_name",
        "hash-seed": "InstallKernelApp.hash_seed",
        "prefix": "InstallKernelApp.prefix",
    }
    flags = {
        "user": ({"InstallKernelApp": {"user": True}}, "Install for the current user."),
        "sys-prefix": ({"InstallKernelApp": {"sys_prefix": True}}, "Install into sys.prefix."),
    }

    def run(self) -> int:
        if self.extra_args:
            self.usage_error(f"unexpected argument {self.extra_args[0]!r}; options: --name, --user, --sys-prefix")
        prefix = sys.prefix if self.sys_prefix else (self.prefix or None)
        try:
            where = install(self.kernel_name, self.display_name, self.hash_seed, self.user, prefix)
        except PermissionError as exc:
            raise BadInputError(
                f"cannot write the kernelspec ({exc.filename})", hint="use --user or --sys-prefix"
            ) from exc
        print(f"Installed kernelspec {self.kernel_name} in {where}")
        return 0
