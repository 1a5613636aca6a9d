"""Rendering an export: the replay script and notebook, requirements, the binder/ folder, the README and the
manifest, every file's content in memory (:class:`Export`), from an :class:`~repro_kernel.export.plan.ExportPlan`.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import sys
from dataclasses import dataclass, field
from importlib import metadata, resources
from pathlib import Path
from typing import Any, Optional

import nbformat

from repro_kernel import runtime as runtime
from repro_kernel._version_info import version
from repro_kernel.analysis import analyze_notebook
from repro_kernel.analysis.sessions import recording_folder
from repro_kernel.core.hashing import FileHashCache, hash_file
from repro_kernel.core.journal import Journal
from repro_kernel.core.paths import relative_name
from repro_kernel.core.redact import REDACTED
from repro_kernel.core.secrets import Finding, Scanner, sensitive_file
from repro_kernel.exceptions import BadInputError, JournalError
from repro_kernel.export.manifest import MANIFEST_NAME, MANIFEST_SCHEMA_VERSION, sha256_file
from repro_kernel.export.normalize import COMPARE_TAGS
from repro_kernel.export.pins import dependencies
from repro_kernel.export.plan import ExportPlan, Step
from repro_kernel.export.readme import render_readme

MODES = ("slice", "history", "document")
_CRAFTED = "the journal was crafted or edited: move the .repro/ folder aside and record the notebook again"
RUNTIME_NAME = "repro_replay.py"
# Distributions the replay never pins: the recorder and the kernel machinery around it, which the replay's
# own `jupyter-repro` requirement brings. General-purpose libraries the kernel also happens to load (psutil,
# packaging, tornado, pygments ...) are pinned when the notebook imports them by name: the recorder lists
# them only then.
_NOT_PINNED = frozenset({"jupyter-repro", "ipykernel", "ipython", "jupyter-client", "jupyter-core", "comm",
                         "traitlets", "pyzmq", "debugpy", "prompt-toolkit", "jedi", "parso", "pexpect",
                         "ptyprocess", "executing", "asttokens", "stack-data", "pure-eval", "wcwidth",
                         "matplotlib-inline", "nest-asyncio", "blake3", "ipython-pygments-lexers", "setuptools"})


@dataclass
class Export:
    """Everything an export writes: text files by relative path, files copied from disk, the manifest."""

    files: dict[str, bytes] = field(default_factory=dict)
    copies: dict[str, Path] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    not_guaranteed: list[str] = field(default_factory=list)


# -- building ---------------------------------------------------------------------------------------------------


def _step_code_py(step: Step) -> tuple[str, bool]:
    """The step's code as plain Python for replay.py, and whether IPython syntax had to be translated."""
    code = step.code
    if not re.search(r"^\s*[%!]|[=(]\s*[%!]|\?\s*$", code, re.M):
        return code, False
    from IPython.core.inputtransformer2 import TransformerManager

    translated = TransformerManager().transform_cell(code)
    return translated, translated.rstrip("\n") != code.rstrip("\n")


def _render_script(plan: ExportPlan, nb_name: str) -> tuple[str, bool]:
    lines = [
        "#!/usr/bin/env python",
        f'"""Replay of {nb_name}, written by jupyter-repro {version} ({plan.mode} mode).',
        "",
        "What ran, in the order it ran, with the code as it ran. Before each step the runtime checks the",
        "input files' hashes and restores the random state recorded before that execution.",
        "Run it with `ipython replay.py` (or `python replay.py` when it uses no IPython syntax);",
        "`jupyter repro verify .` replays it in a fresh kernel and compares every output.",
        '"""',
        "import os as _os, sys as _sys",
        "",
        "# The export folder stays off the import path (a module dropped beside this script must not shadow a",
        "# library the steps import), so the runtime is loaded from its own file.",
        "_here = _os.path.dirname(_os.path.realpath(__file__))",
        "_sys.path[:] = [_p for _p in _sys.path if _os.path.realpath(_p or _os.curdir) != _here]",
        "_repro_runtime = _sys.modules['repro_replay'] = type(_sys)('repro_replay')",
        f"_repro_runtime.__file__ = _os.path.join(_here, {RUNTIME_NAME!r})",
        "with open(_repro_runtime.__file__, 'rb') as _source:",
        "    exec(compile(_source.read(), _repro_runtime.__file__, 'exec'), _repro_runtime.__dict__)",
        "",
        "_repro = _repro_runtime.start(__file__)",
    ]
    uses_ipython = False
    for step in plan.steps:
        code, translated = _step_code_py(step)
        uses_ipython |= translated
        lines += ["", "", f"# %% step {step.index}: {step.label()}", f"_repro.step({step.index}, globals())"]
        if step.status == "error":
            lines.append(f"_repro.run_cell({step.index}, {code!r}, globals())")
        else:
            lines.append(code.rstrip("\n") or "pass")
    lines += ["", "", 'print("[repro] replay finished:", len(_repro.steps), "steps", file=_sys.stderr)', ""]
    return "\n".join(lines), uses_ipython


def encodable(text: str) -> str:
    """``text`` with every lone surrogate (a JSON ``"\\udcff"`` in a notebook or journal, a file name that is
    not UTF-8) as its ``\\udcff`` escape: the one way every file of an export writes what UTF-8 cannot hold.
    JSON reads the escape back as the same code unit, so a JSON file keeps the value exactly (and the manifest's
    seal, computed on the value, still holds); a Python string literal does too."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # (only surrogates are past UTF-8)
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def utf8(text: str) -> bytes:
    """``text`` as the UTF-8 bytes of an export file, lone surrogates escaped (:func:`encodable`)."""
    return encodable(text).encode("utf-8")


def dumps_listing(document: dict[str, Any], key: str) -> str:
    """JSON of ``document`` with the list under ``key`` one item a line (C encoder) and the rest indented; lone
    surrogates escaped (:func:`encodable`), so the text always encodes to UTF-8."""
    head = {k: v for k, v in document.items() if k != key}
    items = ",\n".join("  " + json.dumps(item, ensure_ascii=False, sort_keys=True) for item in document[key])
    rest = json.dumps(head, indent=1, ensure_ascii=False, sort_keys=True)
    listing = "{\n " + json.dumps(key) + ": [\n" + items + ("\n" if items else "") + " ]"
    return encodable(listing + (",\n" + rest[2:] if head else "\n}") + "\n")


def _code_cell(cell_id: str, source: str, count: Optional[int], outputs: list[Any],
               metadata: dict[str, Any]) -> dict[str, Any]:
    return {"cell_type": "code", "id": cell_id, "source": source, "execution_count": count,
            "outputs": outputs, "metadata": metadata}


# papermill's cell tags: kept on the steps that came from those cells, so `papermill replay.ipynb -p ...`
# finds where to inject (it replaces the `injected-parameters` cell, else injects after `parameters`); and the
# tags that tune verify's comparison as nbval's do (export/normalize.py COMPARE_TAGS).
PAPERMILL_TAGS = ("parameters", "injected-parameters")
KEPT_TAGS = PAPERMILL_TAGS + COMPARE_TAGS


def _papermill_tags(nb: nbformat.NotebookNode) -> dict[int, list[str]]:
    """The kept tags (papermill's, verify's) of each saved cell that has one, by cell index."""
    found = {}
    for index, cell in enumerate(nb.cells):
        tags = (cell.get("metadata") or {}).get("tags")
        kept = [t for t in KEPT_TAGS if isinstance(tags, list) and t in tags]
        if kept:
            found[index] = kept
    return found


def papermill_parameters(nb: nbformat.NotebookNode) -> Optional[dict[str, Any]]:
    """The parameters papermill ran the notebook with (``metadata.papermill.parameters``), or None."""
    runner = nb.metadata.get("papermill")
    parameters = runner.get("parameters") if isinstance(runner, dict) else None
    return dict(parameters) if isinstance(parameters, dict) else None


def _render_notebook(plan: ExportPlan, metadata: dict[str, Any], nb_name: str,
                     tags: Optional[dict[int, list[str]]] = None) -> bytes:
    setup = _code_cell(
        "repro-setup",
        "# jupyter-repro replay: each following cell is one recorded step; running a cell first checks its\n"
        "# input files and restores the random state recorded before it.\n"
        "import repro_replay\n_repro = repro_replay.start_notebook('.')",
        None, [], {"tags": ["repro-setup"]},
    )
    intro = {"cell_type": "markdown", "id": "repro-intro", "metadata": {}, "source":
             f"# Replay of `{nb_name}`\n\nWritten by jupyter-repro {version} in *{plan.mode}* mode: "
             f"{len(plan.steps)} steps in the order they ran. Outputs below are the recorded ones."}
    cells = [intro, setup]
    for step in plan.steps:
        meta: dict[str, Any] = {"repro": {"step": step.index, "label": step.label()}}
        if tags and step.cell_index is not None and step.cell_index in tags:
            meta["tags"] = list(tags[step.cell_index])
        cells.append(_code_cell(f"step-{step.index}", step.code, step.execution_count, list(step.outputs or []),
                                meta))
    out = nbformat.from_dict({"nbformat": 4, "nbformat_minor": 5, "cells": cells, "metadata": {
        "kernelspec": metadata.get("kernelspec", {"name": "python3", "display_name": "Python 3",
                                                   "language": "python"}),
        "language_info": metadata.get("language_info", {"name": "python"}),
        "repro": {"manifest": MANIFEST_NAME},
    }})
    # nbformat.writes validates every cell and indents with the pure-Python encoder; the cells above are
    # well-formed by construction, and a 1,000-step export must stay well under a second: one cell a line.
    return utf8(dumps_listing(out, "cells"))


def _requirements(plan: ExportPlan) -> list[dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for module in plan.modules:
        dist = module.get("distribution")
        if not dist or dist in _NOT_PINNED:
            continue
        entry = found.setdefault(dist, {"distribution": dist, "version": module.get("version"), "modules": []})
        if module["name"] not in entry["modules"]:
            entry["modules"].append(module["name"])
        entry["version"] = entry["version"] or module.get("version")
    recorded = (plan.environment or {}).get("distributions") or {}
    for dist, needed_by in dependencies(found, recorded, _NOT_PINNED).items():
        found[dist] = {"distribution": dist, "version": recorded.get(dist), "modules": [], "required_by": needed_by}
    return [found[k] for k in sorted(found)]


def _requirements_txt(reqs: list[dict[str, Any]], nb_name: str, extra: list[str] = ()) -> str:  # type: ignore[assignment]
    lines = [f"# What {nb_name}'s recorded session imported, and what those require, pinned to the versions it ran with."]
    lines += [f"{r['distribution']}=={r['version']}" if r["version"] else r["distribution"] for r in reqs]
    lines += list(extra)
    return "\n".join(lines) + "\n"


def binder_url(
    git: Optional[dict[str, Any]], path_in_repo: Optional[str], ref: Optional[str] = None
) -> tuple[Optional[str], str]:
    """The mybinder.org URL for ``ref`` (default: the recorded commit), or None and the reason there is none.

    An export folder is written after the session's commit, so a link that opens the export's own
    ``replay.ipynb`` names the branch (``ref``), which holds the folder once it is committed and pushed.
    """
    if not git or not git.get("commit"):
        return None, "the notebook is not in a git repository with a commit"
    remote = git.get("remote")
    if not remote:
        return None, "the git repository has no remote to build from"
    from urllib.parse import quote

    match = re.match(r"^(?:https?://|ssh://)?(?:[^@/]+@)?(github\.com|gitlab\.com)[:/]([^/]+)/(.+?)(?:\.git)?/?$",
                     remote)
    labpath = f"?labpath={quote(path_in_repo)}" if path_in_repo else ""
    commit = ref or git["commit"]
    if match and match.group(1) == "github.com":
        url = f"https://mybinder.org/v2/gh/{match.group(2)}/{match.group(3)}/{commit}{labpath}"
    elif match:
        url = f"https://mybinder.org/v2/gl/{quote(match.group(2) + '/' + match.group(3), safe='')}/{commit}{labpath}"
    else:
        url = f"https://mybinder.org/v2/git/{quote(remote, safe='')}/{commit}{labpath}"
    note = (f"Binder builds branch {ref}: commit this export folder, copy its binder/ to the repository root "
            "and push first") if ref else "Binder builds the commit above: push it first"
    if git.get("dirty"):
        note += "; the working tree had uncommitted changes when recorded, so commit them and export again"
    if git.get("untracked"):
        note += f"; {git['untracked']} files were untracked when recorded (git add and commit what the replay needs)"
    return url, note


def _flags_at_export(notebook_path: Path, session_id: Optional[str]) -> tuple[Optional[list[dict[str, Any]]], str]:
    """The analysis engine's flags for the notebook as exported, judged on the session the export replays."""
    try:
        report = analyze_notebook(notebook_path, session=session_id) if session_id else analyze_notebook(notebook_path)
        return [f.to_dict() for f in report.flags], "repro_kernel.analysis at export time"
    except Exception as exc:  # the export must not fail because a check did
        return None, f"analysis failed ({type(exc).__name__}: {str(exc)[:120]})"


def _git_root(path: Path) -> Optional[Path]:
    for parent in path.parents:
        if (parent / ".git").exists():
            return parent
    return None


def _render(
    notebook_path: Path,
    nb: nbformat.NotebookNode,
    journal: Optional[Journal],
    plan: ExportPlan,
    bundle_data: bool,
    output_dir: Path,
    bundle_secrets: bool = False,
) -> Export:
    export = Export()
    not_guaranteed = list(plan.not_guaranteed)
    # Every text that leaves in the folder is scanned first (core/secrets.py); what is found is redacted and
    # listed (never its value) in the manifest's `redacted`.
    scanner = Scanner.for_export()
    redacted = _Redactions(scanner)
    nb_name = redacted.text(notebook_path.name, ["replay.py", "replay.ipynb", "README.md"], "notebook name")
    redacted.steps(plan, not_guaranteed)

    # Random states, copied out of the journal's object store into one file (one line per state: a
    # 1,000-step export must not write 1,000 small files).
    states: dict[str, str] = {}
    for step in plan.steps:
        for ref in step.random.values():
            if ref and ref not in states and journal is not None:
                blob = None
                if journal.has_object(ref):  # refuses (one line) a ref that is no digest, or a link out of objects/
                    try:
                        blob = journal.get_object(ref).decode("ascii")
                    except (JournalError, UnicodeDecodeError):
                        blob = None
                if blob and "\n" not in blob:
                    states[ref] = blob
                else:
                    not_guaranteed.append(f"step {step.index}: a random state ({ref[:12]}) is missing from the "
                                          "journal; that step's randomness is not restored")
                    step.random = {k: v for k, v in step.random.items() if v != ref}
    if states:
        # The recorder's blobs are canonical JSON already: embed them as they are.
        export.files[runtime.RANDOM_STATES] = "".join(
            f'{{"ref":"{ref}","state":{blob}}}\n' for ref, blob in states.items()
        ).encode("ascii")

    # Data inputs: checked by hash before use; with --bundle-data copied into files/.
    snapshots = journal.snapshot_hashes() if journal is not None else set()
    # The replay runs where the kernel ran: the recorder's folder (papermill's --cwd, not the output's folder),
    # which the recorded relative paths start from.
    kernel_dir = (recording_folder(journal, plan.environment) if journal is not None and plan.recorded
                  else None) or Path(plan.workdir)
    cache = FileHashCache()
    inputs = []
    hidden_inputs: list[str] = []
    for item in plan.inputs:
        item = dict(item)
        if item.get("rel") is not None:  # recorded relative to the notebook's folder: never climbing out of it
            item["rel"] = relative_name(item["rel"], what="recorded input", hint=_CRAFTED)
        current_path = item.pop("current", item["abspath"])
        if item.get("rel") is not None:
            current_path = str(kernel_dir / item["rel"])
        if REDACTED in str(item.get("path")) or REDACTED in str(item["abspath"]):
            # The recorder kept this file's name without the secret it held: no file has that name, so it can be
            # neither hashed again, bundled nor checked by the replay; the note says what the user must do.
            steps = ", ".join(map(str, item.get("steps") or [])) or "?"
            hidden_inputs.append(f"step{'s' if ',' in steps else ''} {steps} read {item['path']}")
            redacted.recorded(["manifest.json"], None, "inputs")
            if bundle_data:
                plan.notes.append(f"not bundled: {item['path']} (its name holds a secret, recorded as `<redacted>`)")
            for step in plan.steps:
                step.inputs = [i for i in step.inputs if i != item["id"]]
            continue
        current = cache.facts(current_path)
        sha256 = None
        source: Optional[Path] = None
        if current.hash == item["hash"]:
            source = Path(current_path)
        elif journal is not None and item["hash"] in snapshots and journal.has_object(item["hash"]):
            source = _snapshot_source(journal, item)
        if source is not None:
            sha256 = "sha256:" + sha256_file(source)
        bundled = None
        if bundle_data:
            if source is None:
                raise BadInputError(
                    f"cannot bundle {item['path']}: it changed since it was read (recorded {item['hash']}, now "
                    f"{current.hash or current.error}) and no snapshot was kept",
                    hint="restore the file, or `%repro snapshot` inputs before they change, then export again",
                )
            withheld = _withheld(item, source, scanner, bundle_secrets)
            if item.get("rel") is not None and withheld:
                steps = ", ".join(map(str, item.get("steps") or [])) or "?"
                plan.notes.append(f"not bundled: {item['rel']} ({withheld}; --bundle-secrets copies it)")
                not_guaranteed.append(f"steps {steps} read {item['rel']}, which --bundle-data left out ({withheld}): "
                                      f"put it at files/{item['rel']} before replaying")
            elif item.get("rel") is not None:
                bundled = f"files/{item['rel']}"
                export.copies[bundled] = source
            else:
                not_guaranteed.append(f"{item['path']} is read through an absolute path outside the notebook's "
                                      "folder; it cannot be bundled and must exist at that path")
        elif source is None:
            not_guaranteed.append(f"input {item['path']} has changed since it was recorded and no snapshot was "
                                  "kept: the replay will stop at its hash check")
        inputs.append({**item, "sha256": sha256, "bundled": bundled, "snapshot": item["hash"] in snapshots})
    if hidden_inputs:
        not_guaranteed.append("; ".join(hidden_inputs) + ": files whose names held a secret, recorded as `<redacted>`, "
                              "so the replay cannot find or check them: edit those steps to name each file (e.g. "
                              "read its name from an environment variable) before replaying")
    if bundle_data:
        workdir = "files"
        export.files.setdefault("files/.keep", b"")
    else:
        workdir = os.path.relpath(kernel_dir, output_dir)

    env = plan.environment
    reqs = _requirements(plan)
    git = env.get("git") if env else None
    repo_root = _git_root(notebook_path) or (Path(git["root"]) if git and git.get("root") else None)
    labpath, ref = None, None
    if repo_root is not None:
        for candidate in (output_dir / "replay.ipynb", notebook_path):
            rel = os.path.relpath(candidate, repo_root)
            if not rel.startswith(".."):
                if candidate != notebook_path and not (git or {}).get("branch"):
                    continue  # a detached HEAD: no branch will hold the export, so link the notebook
                labpath = Path(rel).as_posix()
                ref = (git or {}).get("branch") if candidate != notebook_path else None
                break
    url, note = binder_url(git, labpath, ref)
    flags, flags_note = _flags_at_export(
        notebook_path, next((x['session_id'] for x in plan.sessions if x['replayed']), None))

    script, uses_ipython = _render_script(plan, nb_name)
    export.files["replay.py"] = utf8(script)
    metadata = {k: nb.metadata[k] for k in ("kernelspec", "language_info") if k in nb.metadata}
    export.files["replay.ipynb"] = _render_notebook(plan, redacted.json(metadata, ["replay.ipynb"], "metadata"),
                                                    nb_name, _papermill_tags(nb))
    export.files[RUNTIME_NAME] = resources.files("repro_kernel").joinpath("runtime.py").read_bytes()
    python_version = (env or {}).get("python", {}).get("version") or ".".join(map(str, sys.version_info[:3]))
    clock = ["time-machine  # the replay runs each step on the clock it was recorded at"]
    export.files["requirements.txt"] = utf8(_requirements_txt(reqs, nb_name, clock))
    # The replay needs its bundled runtime (repro_replay.py) and a kernel, not jupyter-repro: a pin of it would
    # fail a Binder build wherever no index serves that version.
    export.files["binder/requirements.txt"] = utf8(_requirements_txt(
        reqs, nb_name, ["ipykernel  # the replay's kernel (Binder's image has one; a bare environment needs it)",
                        *clock]))
    export.files["binder/runtime.txt"] = utf8(f"python-{'.'.join(python_version.split('.')[:2])}\n")
    binder_line = f"[![Binder](https://mybinder.org/badge_logo.svg)]({url})" if url else f"No Binder URL: {note}."
    export.files["binder/README.md"] = utf8(
        f"# Binder environment for {nb_name}\n\n{binder_line}\n\n"
        f"{note + '.' if url else ''}\nrepo2docker reads `binder/` at the repository root: copy this folder "
        "there (or merge its requirements) before launching.\n\nThe replay needs nothing but this export folder "
        "and these requirements: open `replay.ipynb` and run all its cells (its first cell loads the bundled "
        "`repro_replay.py`, which checks the inputs and restores the recorded random states). To compare the "
        "replay with the recording step by step, install jupyter-repro in the session (`pip install "
        "jupyter-repro`, or from its source) and run `jupyter repro verify <this export folder>`.\n"
    )

    manifest: dict[str, Any] = {
        "schema_version": MANIFEST_SCHEMA_VERSION,
        "generator": {"name": "jupyter-repro", "version": version, "runtime_version": runtime.RUNTIME_VERSION},
        "created_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "mode": plan.mode,
        "recorded": plan.recorded,
        "notebook": {
            "name": notebook_path.name,
            "path": Path(os.path.relpath(notebook_path, repo_root)).as_posix() if repo_root else notebook_path.name,
            "sha256": __import__("hashlib").sha256(notebook_path.read_bytes()).hexdigest(),
            "kernelspec": dict(nb.metadata.get("kernelspec") or {}) or None,
            "language": (nb.metadata.get("language_info") or {}).get("name"),
        },
        "sessions": plan.sessions,
        "environment": env,
        "hash_seed": plan.hash_seed,
        "git": git,
        "inputs": inputs,
        "network": plan.network,
        "requirements": reqs,
        "replay": {"script": "replay.py", "notebook": "replay.ipynb", "runtime": RUNTIME_NAME,
                   "workdir": workdir, "ipython_syntax": uses_ipython,
                   "kernel_cwd": _kernel_cwd(kernel_dir, notebook_path, repo_root)},
        "parameters": papermill_parameters(nb),
        "steps": [s.manifest_entry() for s in plan.steps],
        "flags": flags,
        "flags_note": flags_note,
        "not_guaranteed": list(dict.fromkeys(not_guaranteed)),
        "notes": plan.notes,
        "binder": {"url": url, "note": note},
    }
    manifest = redacted.json(manifest, ["manifest.json"], "")
    not_guaranteed = manifest["not_guaranteed"]
    export.files["README.md"] = utf8(render_readme(nb_name, plan, uses_ipython, url, not_guaranteed, python_version))
    for rel in ("README.md", "binder/README.md", "requirements.txt", "binder/requirements.txt"):
        export.files[rel] = utf8(redacted.text(export.files[rel].decode("utf-8"), [rel], ""))
    if redacted.entries:
        manifest["redacted"] = redacted.entries
        manifest["notes"].append(redacted.note())
    export.manifest = manifest
    export.not_guaranteed = not_guaranteed
    return export


def _kernel_cwd(kernel_dir: Path, notebook_path: Path, repo_root: Optional[Path]) -> dict[str, Optional[str]]:
    """Where the kernel ran, relative to the notebook's folder and to the project (git) root."""
    project = os.path.relpath(kernel_dir, repo_root) if repo_root is not None else None
    return {"from_notebook": Path(os.path.relpath(kernel_dir, notebook_path.parent)).as_posix(),
            "from_project": Path(project).as_posix() if project and not project.startswith("..") else None}


class _Redactions:
    """What the export's scan redacted, by file, step and kind (never a value): the manifest's ``redacted``."""

    def __init__(self, scanner: Scanner) -> None:
        self.scanner = scanner
        self.entries: list[dict[str, Any]] = []

    def _add(self, files: list[str], step: Optional[int], where: str, findings: list[Finding]) -> None:
        """One entry per place: ``where``, or (a document scanned whole) the top-level key each finding is under."""
        groups: dict[str, list[Finding]] = {}
        for finding in findings:
            groups.setdefault(where or finding.where.split(".", 1)[0] or "manifest", []).append(finding)
        for place, found in groups.items():
            self.entries.append({"files": files, "step": step, "where": place,
                                 "kinds": sorted({f.kind for f in found}), "count": len(found)})

    def text(self, text: str, files: list[str], where: str, *, code: bool = False, step: Optional[int] = None) -> str:
        new, findings = self.scanner.scan(text, code=code)
        if findings:
            self._add(files, step, where or "text", findings)
        return new

    def json(self, document: Any, files: list[str], where: str, *, step: Optional[int] = None) -> Any:
        new, findings = self.scanner.scan_json(document)
        if findings:
            self._add(files, step, where, findings)
        return new

    def steps(self, plan: ExportPlan, not_guaranteed: list[str]) -> None:
        """Each step's code (all of them first, so that a value found in code is known when outputs are read),
        then its recorded outputs, scanned in place."""
        for step in plan.steps:
            code = self.text(step.code, ["replay.py", "replay.ipynb"], "code", code=True, step=step.index)
            if code != step.code:
                step.code, step.redacted = code, True
            elif step.redacted and REDACTED in code:  # redacted by the recorder, before the journal was written
                self.recorded(["replay.py", "replay.ipynb"], step.index, "code", code.count(REDACTED))
        held = [str(step.index) for step in plan.steps if step.redacted]
        if held:
            # One note for all of them: what the user must do before the replay can run.
            steps = f"steps {', '.join(held[:-1])} and {held[-1]} each" if len(held) > 1 else f"step {held[0]}"
            not_guaranteed.append(
                f"{steps} had credentials in its code, recorded as `<redacted>`: the replay cannot run them as "
                "recorded; supply each value before replaying, e.g. read it from an environment variable "
                "(`os.environ[\"NAME\"]`) in replay.py and replay.ipynb")
        for step in plan.steps:
            if not step.outputs:
                continue
            new, findings = self.scanner.scan_json(step.outputs)
            if findings:
                errors = any(f.where.rsplit(".", 1)[-1] in ("ename", "evalue", "traceback") for f in findings)
                self._add(["replay.ipynb"], step.index, "error output" if errors else "outputs", findings)
                step.outputs = new
                not_guaranteed.append(f"step {step.index}'s recorded outputs held a secret, kept as `<redacted>`: "
                                      "verify takes each `<redacted>` there for whatever the replay prints")

    def recorded(self, files: list[str], step: Optional[int], where: str, count: int = 1) -> None:
        """A secret the recorder took out before the journal was written (its ``<redacted>`` came with it)."""
        self.entries.append({"files": files, "step": step, "where": where, "kinds": ["redacted when recorded"],
                             "count": count})

    def note(self) -> str:
        places = [(f"step {e['step']} " if e["step"] else "") + (e["where"] or "manifest") for e in self.entries]
        count = sum(e["count"] for e in self.entries)
        shown = ", ".join(places[:6]) + (f" and {len(places) - 6} more" if len(places) > 6 else "")
        return f"redacted {count} secret(s) before writing ({shown}); the manifest's `redacted` lists each"


def _withheld(item: dict[str, Any], source: Path, scanner: Scanner, bundle_secrets: bool) -> Optional[str]:
    """Why ``--bundle-data`` leaves this input out: a credential file, or a name that holds a secret."""
    rel = item.get("rel")
    if rel is None:
        return None
    if scanner.scan(rel)[0] != rel:
        return "its name holds a secret"
    return None if bundle_secrets else sensitive_file(rel, source)


def _snapshot_source(journal: Journal, item: dict[str, Any]) -> Path:
    """The snapshot of ``item`` in the journal's store, checked: the store is content-addressed, so an object
    whose content is not its name was planted (a copy of another file, a link to a key) and is refused."""
    source = journal.object_path(item["hash"])
    if hash_file(str(source)) != item["hash"]:
        raise BadInputError(f"the journal's snapshot of {item['path']} ({source}) does not hold the content its "
                            "name says", hint=_CRAFTED)
    return source


# -- writing ------------------------------------------------------------------------------------------------------


def distribution_version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None
