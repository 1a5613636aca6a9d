"""``jupyter repro install-kernel``: a kernelspec that records from the very first cell.

The kernel is this Python's ipykernel with the extension loaded and recording started at launch, and
``PYTHONHASHSEED`` fixed, so ``hash()`` of strings (and everything that iterates sets of strings) repeats.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any, Optional

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_core.paths import SYSTEM_JUPYTER_PATH
from traitlets import Bool, Integer, Unicode

from repro_kernel.cli.app import ReproSubApp
from repro_kernel.exceptions import BadInputError

DEFAULT_NAME = "python3-repro"
# jupyter_client's rule for kernel names (jupyter_client.kernelspec._kernel_name_pat).
_KERNEL_NAME = re.compile(r"[a-z0-9._\-]+", re.IGNORECASE | re.ASCII)
_MAX_HASH_SEED = 4294967295  # PYTHONHASHSEED: "random" or an integer in [0; 4294967295]


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


def check_options(name: str, hash_seed: int, user: bool, prefix: Optional[str]) -> None:
    """Refuse, before anything is written, what would install outside the kernels folder or a kernel that
    cannot start: one :class:`BadInputError` line each."""
    if not _KERNEL_NAME.fullmatch(name) or name in (".", ".."):
        raise BadInputError(f"--name {name!r} is not a kernel name (letters, digits, '.', '-' and '_' only)",
                            hint=f"choose e.g. --name {DEFAULT_NAME}")
    if not 0 <= hash_seed <= _MAX_HASH_SEED:
        raise BadInputError(f"--hash-seed {hash_seed} is out of range: PYTHONHASHSEED takes 0 to {_MAX_HASH_SEED}",
                            hint="choose a seed in that range, e.g. --hash-seed 0")
    if user and prefix:
        raise BadInputError("--user and --prefix/--sys-prefix name two places", hint="choose one of them")
    if prefix:
        existing = Path(prefix).absolute()
        while not existing.exists() and not existing.is_symlink() and existing != existing.parent:
            existing = existing.parent
        if not existing.is_dir():
            raise BadInputError(f"--prefix {prefix}: {existing} is not a folder",
                                hint="name a folder (e.g. sys.prefix of a virtual environment)")
    destination = _destination(name.lower(), user, prefix)
    if destination.is_symlink():
        raise BadInputError(f"{destination} is a symbolic link; the kernelspec is installed as a real folder",
                            hint="remove the link, or choose another --name")


def _destination(name: str, user: bool, prefix: Optional[str]) -> Path:
    """Where KernelSpecManager.install_kernel_spec puts kernel ``name`` (its own rule, which is private)."""
    if user:
        return Path(KernelSpecManager().user_kernel_dir) / name
    if prefix:
        return Path(prefix).absolute() / "share" / "jupyter" / "kernels" / name
    return Path(SYSTEM_JUPYTER_PATH[0]) / "kernels" / name


def install(
    name: str = DEFAULT_NAME,
    display_name: str = "Python 3 (recorded)",
    hash_seed: int = 0,
    user: bool = False,
    prefix: Optional[str] = None,
) -> str:
    """Install the kernelspec; returns where it went. Options are checked first (:func:`check_options`)."""
    check_options(name, hash_seed, user, prefix)
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
    usage = "jupyter repro install-kernel [--user | --sys-prefix | --prefix=DIR] [--name=NAME] [options]"
    exit_codes = "0 installed, 2 bad input or usage"
    description = __doc__
    examples = """
    jupyter repro install-kernel --user
    jupyter repro install-kernel --sys-prefix --name python3-repro --hash-seed 0
    jupyter repro install-kernel --prefix /opt/venvs/analysis --display-name "Analysis (recorded)"
    """

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
        except OSError as exc:
            raise BadInputError(f"cannot install the kernelspec ({exc.strerror or exc}: {exc.filename})",
                                hint="choose another --prefix, or use --user") from exc
        print(f"Installed kernelspec {self.kernel_name} in {where}")
        return 0
