"""Fresh environments for ``jupyter repro verify --fresh-env`` and ``--upgrade``: built with uv from an export's
own pins, on the Python version the session ran with, and cached so that the next verify starts in seconds.

An environment holds what the replay needs (ipykernel and IPython at their recorded versions, time-machine and
blake3 when the session had them) and the export's pinned requirements. It lives under the cache folder
(``$JUPYTER_REPRO_ENV_CACHE``, else ``$XDG_CACHE_HOME/jupyter-repro/envs``, else ``~/.cache/jupyter-repro/envs``)
in a folder named by the hash of the Python version, the requirements and the package sources; a folder is used
only once its ``repro-env.json`` is written, which the build does last. uv never downloads a Python: the one the
session ran with must be installed here (found by uv, pyenv's folder or the usual ``bin`` folders).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from repro_kernel.exceptions import BadInputError
from repro_kernel.export.manifest import load_manifest
from repro_kernel.export.verify import Report, verify_export
from repro_kernel.export.write import export_notebook

CACHE_ENV = "JUPYTER_REPRO_ENV_CACHE"
MARKER = "repro-env.json"
KERNEL_NAME = "repro-fresh-env"
# What the replay itself runs on, pinned to the recorded version when the session had it.
_REPLAY_NEEDS = ("ipykernel", "ipython", "time-machine")
_NEVER_INSTALLED = frozenset({"jupyter-repro"})  # the replay brings its own runtime (repro_replay.py)
_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?")
_NETWORK = re.compile(r"dns error|failed to connect|connection (refused|reset)|network is unreachable|timed out|"
                      r"failed to fetch|error sending request|tcp connect", re.IGNORECASE)


@dataclass
class Sources:
    """Where packages come from: uv's default index (PyPI) unless ``index_url``; ``find_links`` folders too."""

    find_links: list[str] = field(default_factory=list)
    index_url: Optional[str] = None

    def arguments(self) -> list[str]:
        args = [arg for link in self.find_links for arg in ("--find-links", link)]
        return args + (["--index-url", self.index_url] if self.index_url else [])


@dataclass
class FreshEnv:
    """A built environment: its folder, interpreter and what was installed in it."""

    root: Path
    python_version: str
    requirements: list[str]
    installed: dict[str, str]  # normalised distribution name -> version
    build_seconds: float
    cached: bool
    warnings: list[str] = field(default_factory=list)

    @property
    def python(self) -> Path:
        return self.root / "bin" / "python"

    def kernel_manager(self) -> Any:
        """A kernel manager that starts ipykernel on this environment's interpreter (its own kernelspec)."""
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import AsyncKernelManager

        specs = KernelSpecManager(kernel_dirs=[str(self.root / "share" / "jupyter" / "kernels")],
                                  ensure_native_kernel=False)
        return AsyncKernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=specs)

    def describe(self) -> dict[str, Any]:
        """The report's ``environment`` block."""
        return {"python": str(self.python), "python_version": self.python_version, "fresh": True,
                "path": str(self.root), "build_seconds": round(self.build_seconds, 3), "cached": self.cached,
                "installed": [f"{name}=={version}" for name, version in sorted(self.installed.items())]}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def cache_root() -> Path:
    """Where environments are kept (see the module docstring)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base).expanduser() / "jupyter-repro" / "envs"


def uv_binary() -> str:
    try:
        import uv
    except ImportError:
        raise BadInputError("--fresh-env and --upgrade build environments with uv, which is not installed",
                            hint="pip install 'jupyter-repro[fresh-env]'") from None
    return str(uv.find_uv_bin())


def recorded_python(manifest: dict[str, Any]) -> str:
    version = str(((manifest.get("environment") or {}).get("python") or {}).get("version") or "")
    if not _VERSION.match(version):
        raise BadInputError("the export does not say which Python version the session ran with",
                            hint="export the notebook again with this jupyter-repro")
    return version


def recorded_pins(manifest: dict[str, Any]) -> dict[str, Optional[str]]:
    """The export's pinned requirements by normalised name (a version of None: recorded without one)."""
    pins: dict[str, Optional[str]] = {}
    for req in manifest.get("requirements") or ():
        name = normalise(str(req["distribution"]))
        if name not in _NEVER_INSTALLED:
            pins[name] = req.get("version")
    return pins


def replay_needs(manifest: dict[str, Any]) -> list[str]:
    """What the replay runs on, at the versions the session had (blake3 only when inputs are checked)."""
    env = manifest.get("environment") or {}
    have = {normalise(k): v for k, v in (env.get("distributions") or {}).items()}
    names = list(_REPLAY_NEEDS) + (["blake3"] if manifest.get("inputs") else [])
    return [f"{name}=={have[name]}" if have.get(name) else name for name in names]


def requirement_lines(pins: dict[str, Optional[str]], needs: Sequence[str]) -> list[str]:
    """Requirement strings: the pins (``name==version``, or the bare name), then the replay's needs that the pins do
    not already name."""
    lines = [f"{name}=={version}" if version else name for name, version in sorted(pins.items())]
    named = set(pins)
    return lines + [need for need in needs if normalise(re.split(r"[=<>!~ ]", need)[0]) not in named]


def _python_version(executable: str) -> Optional[str]:
    try:
        out = subprocess.run([executable, "-c", "import platform; print(platform.python_version())"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def _candidates(minor: str) -> Iterator[str]:
    """Interpreters of Python ``minor`` (``3.11``) installed here, best guesses first."""
    uv = uv_binary()
    found = subprocess.run([uv, "python", "find", "--system", minor], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, UV_PYTHON_DOWNLOADS="never"))
    if found.returncode == 0 and found.stdout.strip():
        yield found.stdout.strip()
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if pyenv.is_dir():
        for folder in sorted(pyenv.glob(f"{minor}*"), reverse=True):
            yield str(folder / "bin" / "python3")
    for bin_dir in ("/usr/local/bin", "/usr/bin", "/opt/homebrew/bin"):
        yield f"{bin_dir}/python{minor}"
    if sys.version.startswith(minor + "."):
        yield sys.executable


def find_interpreter(version: str) -> tuple[str, str, list[str]]:
    """An installed interpreter of the recorded Python ``version``: (path, its version, warnings). The same patch
    release is preferred; another one of the same minor version is taken with a warning."""
    minor = ".".join(version.split(".")[:2])
    fallback: Optional[tuple[str, str]] = None
    for path in _candidates(minor):
        if not os.path.isfile(path):
            continue
        have = _python_version(path)
        if have == version:
            return path, have, []
        if have and have.startswith(minor + ".") and fallback is None:
            fallback = (path, have)
    if fallback is not None:
        return fallback[0], fallback[1], [f"python drift: Python {fallback[1]} here, {version} recorded"]
    raise BadInputError(f"Python {version}, which the session ran with, is not installed here",
                        hint=f"install Python {minor} (e.g. `uv python install {minor}` or pyenv), then verify again")


def env_key(python_version: str, requirements: Sequence[str], sources: Sources) -> str:
    body = json.dumps({"python": python_version, "requirements": sorted(requirements),
                       "find_links": [os.path.abspath(f) for f in sources.find_links], "index": sources.index_url})
    return hashlib.sha256(body.encode()).hexdigest()[:20]


def uv_error(stderr: str, what: str) -> BadInputError:
    """uv's failure as one line: no network, requirements that do not resolve, or uv's own first error line."""
    lines = [re.sub(r"^(caused by|cause|error):\s*", "", line.strip(" ×╰─▶│"), flags=re.IGNORECASE)
             for line in stderr.splitlines() if line.strip(" ×╰─▶│")]
    if _NETWORK.search(stderr):
        detail = next((line for line in lines if _NETWORK.search(line)), lines[-1] if lines else "")
        return BadInputError(f"cannot reach the package index to {what} ({detail[:160]})",
                             hint="check the network, or pass --find-links DIR / --index-url URL")
    if "no solution found" in stderr.lower() or "not found in the package registry" in stderr.lower() or \
            "because" in stderr.lower():
        reason = next((line for line in lines if line.lower().startswith("because")), lines[-1] if lines else "")
        return BadInputError(f"the pins do not resolve ({reason[:200]})",
                             hint="check the versions given to --upgrade, or fix requirements.txt's versions and "
                                  "export again, or pass --find-links DIR / --index-url URL where they are kept")
    return BadInputError(f"uv failed to {what} ({(lines[-1] if lines else 'no message')[:200]})",
                         hint="run it again with JUPYTER_REPRO_DEBUG=1 for uv's whole output")


def _run_uv(args: list[str], what: str, stdin: Optional[str] = None) -> str:
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never", UV_NO_PROGRESS="1")
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run([uv_binary(), *args], capture_output=True, text=True, input=stdin, env=env, timeout=1800)
    if done.returncode != 0:
        if os.environ.get("JUPYTER_REPRO_DEBUG", "") not in ("", "0"):
            print(done.stderr, file=sys.stderr)
        raise uv_error(done.stderr, what)
    return done.stdout


def resolve(requirements: Sequence[str], interpreter: str, sources: Sources) -> dict[str, str]:
    """What uv would install for ``requirements`` on ``interpreter``: every distribution's version, by name."""
    out = _run_uv(["pip", "compile", "-", "--python", interpreter, "--no-header", "--no-annotate", "--quiet",
                   *sources.arguments()], "resolve the requirements", stdin="\n".join(requirements) + "\n")
    return _frozen(out)


def _frozen(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        name, sep, version = line.strip().partition("==")
        if sep and not name.startswith("#"):
            found[normalise(name)] = version.split(";")[0].strip()
    return found


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One builder per environment folder at a time (another verify waits for it, then uses what it built)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        try:
            import fcntl
        except ImportError:  # not POSIX: builds of one environment are not serialised
            yield
            return
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def build_env(requirements: Sequence[str], python_version: str, sources: Optional[Sources] = None,
              interpreter: Optional[tuple[str, str, list[str]]] = None) -> FreshEnv:
    """The environment for ``requirements`` on Python ``python_version``: from the cache when it was built before,
    else built now with uv (``uv venv`` then ``uv pip install``)."""
    sources = sources or Sources()
    started = time.perf_counter()
    path, have, warnings = interpreter or find_interpreter(python_version)
    root = cache_root()
    key = env_key(have, requirements, sources)
    target = root / key
    with _locked(root / f"{key}.lock"):
        marker = target / MARKER
        if marker.is_file() and (target / "bin" / "python").exists():
            saved = json.loads(marker.read_text())
            return FreshEnv(target, saved["python_version"], list(requirements), saved["installed"],
                            time.perf_counter() - started, True, warnings)
        shutil.rmtree(target, ignore_errors=True)  # a build that stopped half way
        try:
            _run_uv(["venv", "--quiet", "--relocatable", "--python", path, str(target)], "create the environment")
            _run_uv(["pip", "install", "--quiet", "--python", str(target / "bin" / "python"), *sources.arguments(),
                     *requirements], "install the pins")
            installed = _frozen(_run_uv(["pip", "freeze", "--python", str(target / "bin" / "python")],
                                        "list the environment"))
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        _write_kernelspec(target)
        seconds = time.perf_counter() - started
        marker.write_text(json.dumps({"python_version": have, "requirements": list(requirements),
                                      "installed": installed, "build_seconds": seconds,
                                      "interpreter": path, "built_at": time.time()}, indent=1))
    return FreshEnv(target, have, list(requirements), installed, seconds, False, warnings)


def _write_kernelspec(root: Path) -> None:
    """A kernelspec inside the environment: its own interpreter, no user site, nothing from PYTHONPATH."""
    folder = root / "share" / "jupyter" / "kernels" / KERNEL_NAME
    folder.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [str(root / "bin" / "python"), "-s", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
            "display_name": "jupyter-repro fresh environment", "language": "python",
            "env": {"VIRTUAL_ENV": str(root), "PATH": f"{root / 'bin'}{os.pathsep}${{PATH}}", "PYTHONPATH": "",
                    "PYTHONNOUSERSITE": "1"}}
    (folder / "kernel.json").write_text(json.dumps(spec, indent=1))


def fresh_env_for(manifest: dict[str, Any], sources: Optional[Sources] = None) -> FreshEnv:
    """The fresh environment of an export: its pins and the replay's needs, on its recorded Python."""
    version = recorded_python(manifest)
    return build_env(requirement_lines(recorded_pins(manifest), replay_needs(manifest)), version, sources)


@contextlib.contextmanager
def export_folder(target: Path) -> Iterator[Path]:
    """``target`` as an export folder: itself, or a notebook exported first into a folder removed afterwards."""
    target = Path(target)
    if target.suffix == ".ipynb" and target.is_file():
        scratch = Path(tempfile.mkdtemp(prefix="repro-fresh-"))
        try:
            yield export_notebook(target, output=scratch / (target.stem + ".repro"), force=True)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    elif target.is_dir():
        yield target.resolve()
    else:
        raise BadInputError(f"{target} is neither an export folder nor a notebook",
                            hint="pass the folder `jupyter repro export` wrote, or a .ipynb")


def verify_in(env: FreshEnv, folder: Path, **options: Any) -> Report:
    """:func:`~repro_kernel.export.verify.verify_export` of ``folder`` in ``env``; the report says where it ran."""
    report = verify_export(folder, kernel_manager=env.kernel_manager(), **options)
    report.environment = env.describe()
    report.warnings = env.warnings + report.warnings
    return report


def verify_fresh(target: Path, sources: Optional[Sources] = None, **options: Any) -> Report:
    """``jupyter repro verify TARGET --fresh-env``: build (or reuse) the export's environment and replay there."""
    with export_folder(target) as folder:
        manifest = load_manifest(folder)  # the seal is checked before a pin is read
        return verify_in(fresh_env_for(manifest, sources), folder, **options)
