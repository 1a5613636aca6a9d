"""``jupyter repro verify DIR|nb.ipynb``: replay an export in a fresh kernel and compare every step.

Before any code runs: the manifest is validated and its integrity seal checked (tampering: exit 2), every
input file's hash is compared with the recorded one (changed or missing data: exit 1), and the kernel's
environment is checked for the pinned packages (missing: exit 2). Then ``replay.ipynb``'s steps run in a
fresh kernel through nbclient, each prepared by the replay runtime exactly as when a user runs the notebook,
and each step's outputs are compared with the recorded ones (:mod:`repro_kernel.export.normalize`): the saved
notebook's outputs where the export carries them, the recorder's output hash otherwise, the ok/error status
always. Exit 0 when every step reproduced, 1 when some differ.
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

import nbformat

from repro_kernel.core.hashing import hash_file
from repro_kernel.core.notebook import read_notebook
from repro_kernel.core.paths import NotRegularFileError, inside, relative_name
from repro_kernel.core.volatile import describe
from repro_kernel.exceptions import BadInputError, DataChangedError, ManifestError, NotebookError
from repro_kernel.export.manifest import load_manifest
from repro_kernel.export.normalize import (
    IGNORE_OUTPUT_TAGS,
    RAISES_TAGS,
    SKIP_TAGS,
    compare_outputs,
    read_sanitizers,
    short_diff,
)
from repro_kernel.export.workdir_guard import KeepProjectFiles
from repro_kernel.export.write import export_notebook
from repro_kernel.runtime import clean_relative, project_root, within

_ENV_CHECK = """
import json as _j, importlib.metadata as _m
def _v(n):
    try:
        return _m.version(n)
    except _m.PackageNotFoundError:
        return None
print(_j.dumps({n: _v(n) for n in %s}))
del _j, _m, _v
"""


# Run first in the replay kernel: leave the kernel's own folder, enter the export, and load the runtime from the
# bytes the seal covers, whatever sits on sys.path or in a __pycache__.
_PRELUDE = """
import hashlib as _h, os as _o, sys as _s
_s.path[:] = [_e for _e in _s.path if not _e or _o.path.realpath(_e) != %(home)r]
_o.chdir(%(folder)r)
with open(%(runtime)r, "rb") as _f:
    _b = _f.read()
if _h.sha256(_b).hexdigest() != %(sha256)r:
    raise RuntimeError(%(runtime)r + " changed after its seal was checked")
_m = _s.modules["repro_replay"] = type(_s)("repro_replay")
_m.__file__ = _o.path.join(%(folder)r, %(runtime)r)
exec(compile(_b, _m.__file__, "exec"), _m.__dict__)
del _h, _o, _s, _f, _b, _m
"""
_CRAFTED = "the export folder was crafted or edited: export the notebook again"
_CODE_SUFFIXES = tuple(importlib.machinery.all_suffixes())
_KERNEL_NAME = re.compile(r"[a-z0-9._\-]+", re.IGNORECASE | re.ASCII)  # jupyter_client's rule for kernel names


@dataclass
class StepResult:
    """One step's verdict."""

    index: int
    label: str
    outcome: str  # reproduced | nondeterministic | differs | error | not-run
    compared: str  # outputs | hash | status
    detail: str = ""
    seconds: float = 0.0
    cell_id: Optional[str] = None  # the notebook cell the step came from (JupyterLab's id), when recorded


@dataclass
class Report:
    """The verify report (``--json`` prints it)."""

    folder: str
    kernel: str
    steps: list[StepResult] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    replay_seconds: float = 0.0
    total_seconds: float = 0.0
    exit_code: int = 0
    environment: dict[str, Any] = field(default_factory=lambda: {"fresh": False})  # where it ran (freshenv.py)

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for step in self.steps:
            counts[step.outcome] = counts.get(step.outcome, 0) + 1
        return {
            "folder": self.folder,
            "kernel": self.kernel,
            "reproduced": self.exit_code == 0,
            "exit_code": self.exit_code,
            "counts": counts,
            "steps": [asdict(s) for s in self.steps],
            "problems": self.problems,
            "warnings": self.warnings,
            "replay_seconds": round(self.replay_seconds, 4),
            "total_seconds": round(self.total_seconds, 4),
            "environment": self.environment,
        }


def _input_problems(folder: Path, manifest: dict[str, Any]) -> tuple[list[str], int]:
    """One line per input that is missing, changed or unreadable, and the exit code they call for (changed
    data 1, unreadable 2). Bundled copies are read only inside the folder; a digest is printed only for a file
    inside the project (a crafted manifest may name ``/etc/passwd`` or a key)."""
    workdir = (folder / manifest["replay"]["workdir"]).resolve()
    project = project_root(folder)
    problems, code = [], 0
    for item in manifest["inputs"]:
        if item.get("bundled"):
            path = inside(folder, item["bundled"], what=f"bundled input {item['path']!r}", hint=_CRAFTED)
        elif item.get("rel") is not None:
            path = workdir / relative_name(item["rel"], what=f"input {item['path']!r}", hint=_CRAFTED)
        else:
            path = Path(item["abspath"])
        shown = item["path"]
        if not os.path.lexists(path):
            problems.append(f"changed data: {shown} is missing (expected at {path}, recorded {item['hash']})")
            code = max(code, DataChangedError.exit_code)
            continue
        try:
            now = hash_file(str(path))
        except NotRegularFileError as exc:
            problems.append(f"changed data: {shown} is now {exc.strerror} (at {path}, recorded {item['hash']})")
            code = max(code, DataChangedError.exit_code)
            continue
        except OSError as exc:
            problems.append(f"cannot read input {shown} at {path} ({exc.strerror or exc}): make it readable and "
                            "verify again")
            code = max(code, 2)
            continue
        if now != item["hash"]:
            if not within(project, path):
                now = f"other content (its digest is not shown: {path} lies outside the project {project})"
            problems.append(f"changed data: {shown} recorded {item['hash']}, now {now}")
            code = max(code, DataChangedError.exit_code)
    return problems, code


def _unsealed_code(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """Python a replay could import that the seal does not cover: modules, packages, compiled extensions and
    bytecode anywhere in the export folder, other than the sealed files, the bundled inputs (checked by hash)
    and the bytecode caches of sealed sources (verify loads the runtime from its checked bytes, never a cache)."""
    sealed = set(manifest["integrity"]["files"])
    listed = sealed | {clean_relative(i["bundled"]) for i in manifest["inputs"] if i.get("bundled")}
    found = []
    for parent, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if d != ".ipynb_checkpoints")  # Jupyter's copies: never importable
        here = Path(parent)
        for name in sorted(files) + [d for d in dirs if (here / d).is_symlink()]:
            rel = (here / name).relative_to(folder).as_posix()
            if (here / name).is_dir():  # a link to a folder: a package when it holds an __init__
                if any((here / name / f"__init__{suffix}").exists() for suffix in _CODE_SUFFIXES):
                    found.append(rel)
                continue
            if not name.endswith(_CODE_SUFFIXES) or rel in listed:
                continue
            if here.name == "__pycache__" and name.endswith(".pyc"):
                source = (here.parent / (name.split(".", 1)[0] + ".py")).relative_to(folder).as_posix()
                if source in sealed:
                    continue
            found.append(rel)
    return found


def _replay_notebook(folder: Path, rel: str) -> nbformat.NotebookNode:
    """The export's replay.ipynb, read by the one notebook reader (only a regular file inside the folder)."""
    path = inside(folder, rel, what="replay notebook", hint=_CRAFTED)
    try:
        return read_notebook(path)
    except NotebookError as exc:
        raise ManifestError(f"the export's {exc.message}", hint=_CRAFTED) from None


def _step_cells(nb: nbformat.NotebookNode) -> dict[int, Any]:
    """The replay notebook's step cells by step number (``metadata.repro.step``, which the exporter writes)."""
    cells: dict[int, Any] = {}
    for position, cell in enumerate(nb.cells, 1):
        marker = cell.metadata.get("repro") if cell.cell_type == "code" else None
        if marker is None:
            continue
        step = marker.get("step") if isinstance(marker, dict) else None
        if type(step) is not int:
            raise ManifestError(f"replay.ipynb cell {position} is marked as a step without a step number "
                                f"(metadata.repro is {json.dumps(marker, default=str)[:80]})", hint=_CRAFTED)
        cells[step] = cell
    return cells


def _hash_seed(seed: str) -> str:
    """The manifest's ``hash_seed`` as PYTHONHASHSEED takes it (a kernel given anything else does not start)."""
    if seed != "random" and not (seed.isascii() and seed.isdigit() and int(seed) <= 4294967295):
        raise ManifestError(f"the manifest's hash_seed {seed[:40]!r} is not a PYTHONHASHSEED value "
                            "(random or 0 to 4294967295)", hint=_CRAFTED)
    return seed


@contextlib.contextmanager
def _kernel_started(client: Any, name: str, **kwargs: Any) -> Iterator[None]:
    """``client.setup_kernel(**kwargs)``, where a kernel that does not start is one BadInputError line."""
    with contextlib.ExitStack() as stack:
        try:
            stack.enter_context(client.setup_kernel(**kwargs))
        except (RuntimeError, TimeoutError, OSError) as exc:
            detail = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise BadInputError(f"kernel {name!r} did not start ({detail})",
                                hint="check it with `jupyter kernelspec list`, or choose another with --kernel") from None
        yield


def _kernel_name(manifest: dict[str, Any], requested: Optional[str]) -> str:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    recorded = (manifest["notebook"].get("kernelspec") or {}).get("name")
    if recorded is not None and not (isinstance(recorded, str) and _KERNEL_NAME.fullmatch(recorded)
                                     and recorded not in (".", "..")):
        raise ManifestError(f"the manifest names the kernel {str(recorded)[:40]!r}, which is not a kernel name",
                            hint=_CRAFTED)
    name = requested or recorded or "python3"
    try:
        KernelSpecManager().get_kernel_spec(name)
    except NoSuchKernel:
        available = ", ".join(sorted(KernelSpecManager().find_kernel_specs())) or "none"
        if requested:
            raise BadInputError(f"no kernel named {name!r}", hint=f"choose one of: {available}") from None
        name = "python3"
    return name


def _stream_text(cell: Any) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream"
                   and o.get("name") == "stdout")


def _error_text(cell: Any) -> Optional[str]:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {out.get('evalue')}"
    return None


@dataclass
class Tuning:
    """How outputs are compared: tolerances, the user's sanitizers (``--sanitize-with``), diff length."""

    rtol: float = 0.0
    image_tolerance: Optional[float] = None
    sanitizers: list[Any] = field(default_factory=list)
    diff_lines: int = 6


def verify_export(
    target: Path,
    *,
    rtol: float = 0.0,
    image_tolerance: Optional[float] = None,
    kernel: Optional[str] = None,
    timeout: Optional[float] = None,
    progress: bool = False,
    sanitize_with: Optional[Path] = None,
    save_replayed: Optional[Path] = None,
    full_diff: bool = False,
    kernel_manager: Any = None,
) -> Report:
    """Replay the export at ``target`` (a folder, or a notebook to export first) and compare every step.

    ``sanitize_with``: an nbval sanitize file whose regexes apply to both sides; ``save_replayed``: where to
    write the replayed notebook; ``full_diff``: whole unified diffs instead of short ones; ``kernel_manager``: the
    kernel to replay in instead of a kernelspec's (a fresh environment's, :mod:`repro_kernel.export.freshenv`)."""
    started = time.perf_counter()
    target = Path(target)
    tuning = Tuning(rtol, image_tolerance, diff_lines=1_000_000 if full_diff else 6)
    if sanitize_with is not None:
        try:
            tuning.sanitizers = read_sanitizers(sanitize_with)
        except ValueError as exc:
            raise BadInputError(str(exc), hint="see nbval's format: [name] then regex: and replace: lines") from None
    if save_replayed is not None:
        try:
            writable = not os.path.isdir(save_replayed) and os.path.isdir(save_replayed.parent) and \
                len(save_replayed.name.encode()) < 256
        except (OSError, ValueError):  # a NUL byte, a name past the file system's limit
            writable = False
        if not writable:
            raise BadInputError(f"cannot write the replayed notebook to {str(save_replayed)[:120]}",
                                hint="name a .ipynb file in an existing folder")
    if not (target.suffix == ".ipynb" and target.is_file()) and not target.is_dir():
        raise BadInputError(f"{target} is neither an export folder nor a notebook",
                            hint="pass the folder `jupyter repro export` wrote, or a .ipynb")
    cleanup: Optional[Path] = None
    try:
        if target.is_dir():
            folder = target
        else:
            cleanup = Path(tempfile.mkdtemp(prefix="repro-verify-"))
            folder = export_notebook(target, output=cleanup / (target.stem + ".repro"), force=True)
        return _verify_folder(folder.resolve(), tuning, kernel, timeout, progress, started, save_replayed,
                              kernel_manager)
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)


def _verify_folder(
    folder: Path, tuning: Tuning, kernel: Optional[str], timeout: Optional[float], progress: bool, started: float,
    save_replayed: Optional[Path] = None, kernel_manager: Any = None,
) -> Report:
    from nbclient import NotebookClient
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    manifest = load_manifest(folder)
    unsealed = _unsealed_code(folder, manifest)
    if unsealed:
        raise ManifestError(
            f"{folder} holds {unsealed[0]}{f' (and {len(unsealed) - 1} more)' if len(unsealed) > 1 else ''}, "
            "Python code its seal does not list, which a replay could import",
            hint="remove it, or export the notebook again, then verify",
        )
    report = Report(folder=str(folder), kernel=kernel_manager.kernel_name if kernel_manager is not None
                    else _kernel_name(manifest, kernel))
    report.problems, report.exit_code = _input_problems(folder, manifest)
    if report.problems:
        report.total_seconds = time.perf_counter() - started
        return report
    report.warnings += [f"not guaranteed: {c}" for c in manifest["not_guaranteed"]]

    nb = _replay_notebook(folder, manifest["replay"]["notebook"])
    setup_cells = [c for c in nb.cells if c.cell_type == "code" and "repro-setup" in c.metadata.get("tags", [])]
    step_cells = _step_cells(nb)
    steps = manifest["steps"]
    if str((manifest.get("notebook") or {}).get("name") or "").startswith("IPython session"):
        for entry in steps:  # a session exported with no notebook: its steps were typed, not cells
            entry["_where"] = "terminal input"
    work = nbformat.v4.new_notebook(metadata=nb.metadata)
    env = dict(os.environ)
    env.pop("REPRO_REPLAY_REEXEC", None)
    if manifest.get("hash_seed") is not None:
        env["PYTHONHASHSEED"] = _hash_seed(manifest["hash_seed"])
    # The kernel starts in an empty folder of its own (`python -m ipykernel_launcher` puts its working
    # directory first on sys.path), then moves into the export and loads the runtime from its sealed bytes.
    home = Path(tempfile.mkdtemp(prefix="repro-verify-kernel-"))
    client = NotebookClient(work, km=kernel_manager, timeout=timeout or None, allow_errors=True, kernel_name=report.kernel,
                            resources={"metadata": {"path": str(home)}})
    client.owns_km = True  # a kernel_manager passed in is this replay's alone: shut its kernel down after it too

    def run(source: str) -> Any:
        cell = nbformat.v4.new_code_cell(source)
        work.cells.append(cell)
        client.execute_cell(cell, len(work.cells) - 1)
        return cell

    bar = _progress(progress, len(steps))
    # The kernel's own log (e.g. its transport warning) goes to a file, not into our one-line report.
    kernel_log = tempfile.TemporaryFile(mode="w+")
    try:
        keep = KeepProjectFiles((folder / manifest["replay"]["workdir"]).resolve(),
                                [w for entry in steps for w in entry.get("writes") or ()])
        with keep, _kernel_started(client, report.kernel, env=env, stderr=kernel_log, stdout=kernel_log):
            runtime_name = manifest["replay"]["runtime"]
            prelude = run(_PRELUDE % {"home": os.path.realpath(home), "folder": str(folder), "runtime": runtime_name,
                                      "sha256": manifest["integrity"]["files"][runtime_name]})
            if _error_text(prelude):
                raise BadInputError(f"the replay runtime failed to load ({_error_text(prelude)})",
                                    hint="export the notebook again")
            requirements = [r["distribution"] for r in manifest["requirements"]]
            versions = json.loads(_stream_text(run(_ENV_CHECK % json.dumps(requirements))) or "{}")
            for req in manifest["requirements"]:
                have = versions.get(req["distribution"])
                if have is None:
                    report.problems.append(
                        f"missing package: {req['distribution']}=={req['version']} is not installed for kernel "
                        f"{report.kernel}; pip install -r {folder / 'requirements.txt'}")
                elif req["version"] and have != req["version"]:
                    report.warnings.append(f"version drift: {req['distribution']} {have} installed, "
                                           f"{req['version']} recorded")
            if report.problems:
                report.exit_code = 2
                return report
            for cell in setup_cells:
                setup = run(cell.source)
                error = _error_text(setup)
                if error:
                    raise BadInputError(f"the replay runtime failed to start ({error})",
                                        hint="export the notebook again")
            replay_started = time.perf_counter()
            replay_clock = time.time()
            recorded_clock = _recorded_clock(manifest)
            stop = None
            for entry in steps:
                index = entry["index"]
                source = step_cells[index].source if index in step_cells else None
                if source is None:
                    raise BadInputError(f"replay.ipynb has no cell for step {index}", hint="export again")
                if stop is not None:
                    report.steps.append(StepResult(index, _label(entry), "not-run", "status", stop))
                    continue
                t0 = time.perf_counter()
                try:
                    cell = run(source)
                except CellTimeoutError:
                    stop = f"step {index} timed out"
                    report.steps.append(StepResult(index, _label(entry), "error", "status",
                                                   f"timed out after {timeout} s"))
                    continue
                except DeadKernelError:
                    stop = f"the kernel died in step {index}"
                    report.steps.append(StepResult(index, _label(entry), "error", "status", "the kernel died"))
                    continue
                seconds = time.perf_counter() - t0
                # The replay runs each step on the recorded clock (the runtime sets it), or on its own.
                clock = (recorded_clock, [*recorded_clock, (replay_clock, time.time())])
                report.steps.append(_judge(entry, step_cells[index], cell, tuning, seconds, clock))
                if report.steps[-1].detail.startswith("InputChangedError"):
                    stop = "an input changed before this step"
                if bar is not None:
                    bar[0].advance(bar[1])
            report.replay_seconds = time.perf_counter() - replay_started
            hashes = {}
            if stop is None or stop.startswith("an input changed"):  # (a dead or timed-out kernel cannot say)
                hashes = json.loads(_stream_text(run("print(_repro.report())")) or "{}")
    finally:
        kernel_log.close()
        if keep.restored:
            report.warnings.append(f"put back as they were the files the replay rewrote: {', '.join(keep.restored)}")
        shutil.rmtree(home, ignore_errors=True)
        if save_replayed is not None:
            nbformat.write(work, save_replayed)  # what ran, setup cells included, with the outputs it gave
        if bar is not None:
            bar[0].stop()
    _apply_hashes(report, steps, hashes)
    cell_ids = {entry["index"]: entry.get("cell_id") for entry in steps}
    for result in report.steps:
        result.cell_id = cell_ids.get(result.index)
    report.exit_code = 0 if all(s.outcome in ("reproduced", "nondeterministic") for s in report.steps) else 1
    report.total_seconds = time.perf_counter() - started
    return report


def _label(entry: dict[str, Any]) -> str:
    count = entry.get("execution_count")
    where = f"In[{count}]" if count is not None else "-"
    cell = (f"cell {entry['cell_index'] + 1}" if entry.get("cell_index") is not None
            else entry.get("_where") or "deleted/edited cell")
    return f"{where} {cell}"


def _recorded_clock(manifest: dict[str, Any]) -> list[tuple[float, float]]:
    """When the recorded sessions ran (epoch seconds): a session still open ends at the export."""
    exported: Optional[float] = None
    try:
        exported = datetime.fromisoformat(str(manifest.get("created_at"))).timestamp()
    except ValueError:
        pass
    windows = []
    for session in manifest.get("sessions") or ():
        start, end = session.get("started_at"), session.get("ended_at") or exported
        if isinstance(start, (int, float)):  # (the export's stamp is to the second: it may read before the start)
            windows.append((float(start), max(float(start), float(end if isinstance(end, (int, float)) else start))))
    return windows


def _judge(entry: dict[str, Any], recorded_cell: Any, cell: Any, tuning: Tuning, seconds: float,
           clock: tuple[list[tuple[float, float]], list[tuple[float, float]]] = ([], [])) -> StepResult:
    error = _error_text(cell)
    label = _label(entry)
    if error and error.startswith("InputChangedError"):
        return StepResult(entry["index"], label, "error", "status", error, seconds)
    expected_error = entry.get("error")
    tags = set((recorded_cell.get("metadata") or {}).get("tags") or ())
    if error and tags & RAISES_TAGS:
        return StepResult(entry["index"], label, "reproduced", "status",
                          f"raised {error[:120]}, as its {sorted(tags & RAISES_TAGS)[0]} tag expects", seconds)
    # A traceback the recorded cell showed too without failing (a display formatter's, which IPython prints
    # and goes on) is one of its outputs: compared as such below.
    if entry["status"] == "ok" and error and error != _error_text(recorded_cell or {}):
        return StepResult(entry["index"], label, "error", "status", f"raised {error[:200]}", seconds)
    if entry["status"] == "error" and not error:
        return StepResult(entry["index"], label, "differs", "status",
                          f"raised {expected_error} when recorded, ran cleanly now", seconds)
    if entry["status"] == "error" and error and expected_error and not error.startswith(expected_error + ":"):
        return StepResult(entry["index"], label, "differs", "status",
                          f"raised {expected_error} when recorded, {error[:120]} now", seconds)
    untested = tags & (SKIP_TAGS | IGNORE_OUTPUT_TAGS)
    if untested:
        return StepResult(entry["index"], label, "reproduced", "none",
                          f"outputs not compared ({sorted(untested)[0]} tag)", seconds)
    if entry["recorded_outputs"]:
        comparison = compare_outputs(recorded_cell.get("outputs", []), cell.get("outputs", []), rtol=tuning.rtol,
                                     image_tolerance=tuning.image_tolerance, clock=clock,
                                     sanitizers=tuning.sanitizers, diff_lines=tuning.diff_lines)
        if not comparison.same and entry.get("volatile"):
            return _nondeterministic(entry, label, "outputs", comparison.diff, seconds)
        return StepResult(entry["index"], label, "reproduced" if comparison.same else "differs", "outputs",
                          comparison.diff, seconds)
    return StepResult(entry["index"], label, "reproduced", "status", "", seconds)


def _nondeterministic(entry: dict[str, Any], label: str, compared: str, diff: str, seconds: float) -> StepResult:
    """A differing output the step could never show twice (flag ``nondeterministic-output``): not a failure."""
    calls = ", ".join(describe(c) for c in entry["volatile"])
    return StepResult(entry["index"], label, "nondeterministic", compared,
                      f"shows {calls}, which cannot be the same twice; {diff}".rstrip("; "), seconds)


def _apply_hashes(report: Report, steps: list[dict[str, Any]], hashes: dict[str, Any]) -> None:
    """Steps without recorded outputs: compare the recorder's output hash with the replay's."""
    by_index = {s["index"]: s for s in steps}
    for result in report.steps:
        entry = by_index[result.index]
        if result.compared != "status" or result.outcome != "reproduced" or entry["recorded_outputs"]:
            continue
        seen = hashes.get(str(result.index))
        if seen is None or entry.get("session_id") is None:
            continue
        if entry["output_hash"] == seen.get("output_hash"):
            result.compared = "hash" if entry["output_hash"] else "status"
        else:
            detail = f"output hash {str(entry['output_hash'])[:19]} recorded, {str(seen.get('output_hash'))[:19]} now"
            if entry.get("volatile"):
                volatile = _nondeterministic(entry, result.label, "hash", detail, result.seconds)
                result.outcome, result.compared, result.detail = volatile.outcome, volatile.compared, volatile.detail
            else:
                result.outcome, result.compared, result.detail = "differs", "hash", detail


def _progress(enabled: bool, total: int) -> Optional[tuple[Any, Any]]:
    if not enabled:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    if not console.is_terminal:
        return None
    bar = Progress(TextColumn("replaying"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                   console=console, transient=True)
    task = bar.add_task("replay", total=total)
    bar.start()
    return bar, task


def render_report(report: Report) -> str:
    """The table ``jupyter repro verify`` prints (rich, plain when not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(record=True, width=120, file=open(os.devnull, "w"))
    if report.problems:
        for problem in report.problems:
            console.print(problem, markup=False, highlight=False)
        return console.export_text()
    table = Table(title=f"jupyter repro verify {report.folder}", title_justify="left")
    for column in ("step", "cell", "result", "compared", "details"):
        table.add_column(column, overflow="fold")
    styles = {"reproduced": "green", "nondeterministic": "cyan", "differs": "yellow", "error": "red", "not-run": "dim"}
    for step in report.steps:
        table.add_row(str(step.index), step.label, f"[{styles[step.outcome]}]{step.outcome}[/]", step.compared,
                      step.detail or "")
    console.print(table)
    counts: dict[str, int] = {}
    for step in report.steps:
        counts[step.outcome] = counts.get(step.outcome, 0) + 1
    summary = ", ".join(f"{n} {k}" for k, n in counts.items())
    console.print(f"{len(report.steps)} step{'' if len(report.steps) == 1 else 's'}: {summary} ({report.replay_seconds:.2f} s replay, "
                  f"{report.total_seconds:.2f} s in all)", markup=False, highlight=False)
    console.print(f"checked: seal, inputs, pinned packages; fresh environment: "
                  f"{'yes' if report.environment.get('fresh') else 'no'}", markup=False, highlight=False)
    for warning in report.warnings:
        console.print(f"  {warning}", markup=False, highlight=False)
    return console.export_text()


__all__ = ["verify_export", "Report", "StepResult", "short_diff"]
