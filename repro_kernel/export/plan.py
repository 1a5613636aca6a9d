"""The replay plan: which steps an export replays, with what code, random state, generators and inputs.

:func:`plan_steps` takes the session the saved notebook shows (the analysis engine's one session model),
keeps the executions the slice (:mod:`repro_kernel.export.slicing`) says the outputs need, or all of them, or
the current cells, and attaches to each step what the replay restores and checks before it runs.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from repro_kernel.analysis.sessions import cells_from_dicts, choose_session
from repro_kernel.core.dataflow import analyze_code
from repro_kernel.core.hashing import hash_text
from repro_kernel.core.records import saved_copy
from repro_kernel.core.secrets import redact
from repro_kernel.core.volatile import shown_volatile_calls
from repro_kernel.exceptions import BadInputError, JournalError
from repro_kernel.export.slicing import backward_slice
from repro_kernel.runtime import code_key

_REPRO_LINE = re.compile(r"^[ \t]*%(load_ext|reload_ext)[ \t]+repro_kernel[ \t]*$|^[ \t]*%repro\b(?![ \t]+seed\b).*$",
                         re.M)
_REPRO_SEED = re.compile(r"^([ \t]*)%repro[ \t]+seed[ \t]+(-?\d+)[ \t]*$", re.M)
_LEAVING = frozenset({"exit", "quit", "exit()", "quit()", "%exit", "%quit", "exit;", "quit;"})
_SYSTEM_PREFIXES = ("/usr/", "/lib", "/etc/", "/proc/", "/sys/", "/dev/", "/opt/conda/", "/System/")


def replay_code(code: str) -> str:
    """The code a replay runs for a recorded step: recording magics removed, ``%repro seed`` kept as a call."""
    if code.strip() in _LEAVING:
        return ""  # the user left the shell: a replay that ran it would end its own kernel
    code = _REPRO_SEED.sub(r"\1__import__('repro_replay').seed_all(\2);", code)  # (it prints its line)
    code = _REPRO_LINE.sub("", code)
    return code.strip("\n").rstrip() + "\n" if code.strip() else ""


@dataclass
class Step:
    """One step of the replay."""

    index: int
    code: str
    record: Optional[dict[str, Any]] = None
    execution_count: Optional[int] = None
    cell_index: Optional[int] = None
    outputs: Optional[list[dict[str, Any]]] = None
    reason: str = ""
    random: dict[str, Optional[str]] = field(default_factory=dict)
    generators: list[dict[str, Any]] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    redacted: bool = False  # its code holds a value redacted as a secret (`<redacted>`): the user must supply it
    where: Optional[str] = None  # where it ran, for a session with no notebook (e.g. "terminal input")

    @property
    def status(self) -> str:
        return self.record["status"] if self.record else "unknown"

    def label(self) -> str:
        where = f"In[{self.execution_count}]" if self.execution_count is not None else "not run"
        cell = (f"cell {self.cell_index + 1}" if self.cell_index is not None
                else self.where or "cell no longer in the notebook")
        seq = f"seq {self.record['seq']}" if self.record else "not recorded"
        raised = f", raised {self.record['error']}" if self.record and self.status == "error" else ""
        return f"{where}, {cell}, {seq}{raised}"

    def manifest_entry(self) -> dict[str, Any]:
        record = self.record or {}
        return {
            "index": self.index,
            "session_id": record.get("session_id"),
            "seq": record.get("seq"),
            "execution_count": self.execution_count,
            "cell_id": record.get("cell_id"),
            "cell_index": self.cell_index,
            "code_hash": record.get("code_hash") or hash_text(self.code),
            "replay_code_sha256": code_key(self.code),
            "status": self.status,
            "error": record.get("error"),
            "output_hash": record.get("output_hash"),
            "recorded_outputs": self.outputs is not None,
            "random": dict(self.random),
            "generators": self.generators,
            "inputs": self.inputs,
            # Files it wrote when recorded (relative to the replay's working directory): verify puts them back.
            "writes": sorted({f["rel"] for f in record.get("files_written") or () if f.get("rel")}),
            "duration_s": record.get("duration_s"),
            "started_at": record.get("started_at"),  # the replay runs the step with the clock set to it
            "volatile": list(shown_volatile_calls(self.code)),  # shown values that cannot repeat (np.empty, id)
            "reason": self.reason,
        }


@dataclass
class ExportPlan:
    """What an export replays, before anything is rendered."""

    mode: str
    recorded: bool
    steps: list[Step]
    inputs: list[dict[str, Any]]
    network: list[dict[str, Any]]
    sessions: list[dict[str, Any]]
    environment: Optional[dict[str, Any]]
    hash_seed: Optional[str]
    modules: list[dict[str, Any]]
    workdir: Path
    not_guaranteed: list[str]
    notes: list[str] = field(default_factory=list)
    unbound_session: Optional[str] = None  # replayed, recorded without the notebook's path: bind it on export


def _library_file(path: str, env: Optional[dict[str, Any]]) -> bool:
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    if env:
        prefixes.add((env.get("python") or {}).get("prefix") or sys.prefix)
    home = str(Path.home())
    if any(p and path.startswith(p.rstrip("/") + "/") for p in prefixes):
        return True
    if "/site-packages/" in path or "/dist-packages/" in path or "/.ipynb_checkpoints/" in path:
        return True
    if path.startswith((home + "/.cache/", home + "/.config/", home + "/.matplotlib/", home + "/.local/share/")):
        return True
    if "/.repro/" in path:
        return True
    return path.startswith(_SYSTEM_PREFIXES)


def inputs_from_saved_copy(nb: Any, folder: Path, steps: list[Step]) -> list[dict[str, Any]]:
    """The data inputs of the compact copy the sidebar saves in ``metadata.repro`` (path and content hash
    of each file the recording kernel saw read), for an export without a journal. Each is checked before the
    first step whose code names the file, or before the first step."""
    saved = saved_copy(nb.get("metadata")) or {}
    listed = (saved.get("status") or {}).get("inputs") or []
    found: list[dict[str, Any]] = []
    for entry in listed:
        if not isinstance(entry, dict) or not isinstance(entry.get("hash"), str) or not entry.get("path"):
            continue
        shown, recorded_abs = str(entry["path"]), str(entry.get("abspath") or entry["path"])
        rel = None if Path(shown).is_absolute() else shown
        abspath = str(folder / rel) if rel is not None else recorded_abs
        name = Path(shown).name
        first = next((st for st in steps if name and name in st.code), steps[0] if steps else None)
        item = {"id": f"input-{len(found) + 1}", "path": shown, "rel": rel, "abspath": abspath,
                "size": entry.get("size"), "hash": entry["hash"], "steps": [first.index] if first else []}
        if first is not None:
            first.inputs.append(item["id"])
        found.append(item)
    return found


def plan_steps(
    notebook_path: Path, nb: Any, journal: Any, mode: str, slicer: Any = None, session_id: Optional[str] = None
) -> ExportPlan:
    """Decide the steps of the export of ``notebook_path`` from its journal (or, without one, its cells).

    The session replayed is the one ``check`` judges (:func:`~repro_kernel.analysis.sessions.choose_session`),
    or ``session_id`` when given; its records map to the saved cells the same way too.
    """
    slicer = slicer or backward_slice
    nb_name = notebook_path.name
    code_cells = [(i, c) for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    by_count = {c.get("execution_count"): (i, c) for i, c in code_cells if c.get("execution_count") is not None}
    not_guaranteed: list[str] = []
    notes: list[str] = []
    page = cells_from_dicts([dict(c, source=c.get("source")) for c in nb.cells])
    match = choose_session(journal, nb_name, page, session_id) if journal is not None else None
    session = match.session if match is not None else None
    records: list[dict[str, Any]] = match.records if match is not None else []
    env = session["environment"] if session else None

    steps: list[Step] = []
    if not records:
        if mode == "document":
            chosen = [(i, c) for i, c in code_cells]
        else:
            chosen = sorted(by_count.values(), key=lambda ic: ic[1]["execution_count"])
            skipped = sum(1 for _, c in code_cells if c.get("execution_count") is None)
            if skipped:
                not_guaranteed.append(f"{skipped} code cells never ran and are left out")
        for i, cell in chosen:
            code = replay_code(cell.source)
            if code:
                steps.append(Step(index=len(steps) + 1, code=code, execution_count=cell.get("execution_count"),
                                  cell_index=i, outputs=list(cell.outputs) if cell.get("execution_count") else None,
                                  reason="saved cell"))
        saved_inputs = inputs_from_saved_copy(nb, notebook_path.parent, steps)
        inputs_checked = (f"the {len(saved_inputs)} input files the recording kernel listed in the notebook's "
                          "metadata.repro are checked by hash (before the first step whose code names them)"
                          if saved_inputs else "input files are not checked")
        not_guaranteed.insert(0, (
            "no recorded session was found for this notebook (it ran without `%repro start`): the replay follows "
            "the saved cells " + ("top to bottom" if mode == "document" else "in the order of their execution "
                                  "counts") + f"; random states are not restored, {inputs_checked}, "
            "executions overwritten by re-runs are unknown, and requirements are what is installed now"
        ))
        return _finish(ExportPlan(mode, False, steps, saved_inputs, [], [], None, None, _modules_from_code(steps),
                                  notebook_path.parent, not_guaranteed))
    assert session is not None and match is not None  # the records came from it
    if not match.bound:
        notes.append(match.binding_note(nb_name))

    # Which execution produced each saved cell's output: the one mapping check uses too.
    index_of = {c.id: c.index for c in page}
    matched: dict[int, int] = {pos: index_of[cell_id] for pos, cell_id in match.shown.items()}  # record -> cell
    recorded_counts = {r.get("execution_count") for r in records}
    unmatched = [i for count, (i, _c) in by_count.items() if count not in recorded_counts]

    # The cell that started recording is not in the journal; its other lines are part of the replay.
    prelude: Optional[Step] = None
    first_count = records[0].get("execution_count") or 0
    for i, cell in code_cells:
        if re.search(r"^[ \t]*%repro[ \t]+start\b", cell.source, re.M):
            code = replay_code(cell.source)
            if code:
                prelude = Step(index=0, code=code, execution_count=cell.get("execution_count"), cell_index=i,
                               outputs=None, reason="ran in the cell that started recording (from the saved "
                               "notebook; the journal starts after it)")
                not_guaranteed.append(f"cell {i + 1} started recording and also ran other code; that code is "
                                      "replayed from the saved notebook, without a recorded random state")
            unmatched = [u for u in unmatched if u != i]
            break
    before = [i for i in unmatched if (nb.cells[i].get("execution_count") or 0) < first_count]
    if before:
        not_guaranteed.append(f"cells {', '.join(str(i + 1) for i in before)} show output from before recording "
                              "started; their effects are not part of the replay")
    later = [i for i in unmatched if i not in before]
    if later:
        not_guaranteed.append(f"cells {', '.join(str(i + 1) for i in later)} show outputs the journal has no "
                              "execution for (recorded in another kernel?); they are not replayed")

    if mode == "document":
        chosen_steps = []
        cell_to_record = {cell_i: pos for pos, cell_i in matched.items()}
        for i, cell in code_cells:
            pos = cell_to_record.get(i)
            code = replay_code(cell.source)
            if not code:
                continue
            record = records[pos] if pos is not None else None
            chosen_steps.append(Step(index=0, code=code, record=record, execution_count=cell.get("execution_count"),
                                     cell_index=i, outputs=list(cell.outputs) if pos is not None else None,
                                     reason="current cell source, top to bottom"))
            if record is not None and replay_code(record["code"]) != replay_code(redact(cell.source, code=True)):
                not_guaranteed.append(f"cell {i + 1} was edited after it ran; document mode replays the new "
                                      "source, so its recorded output may not reproduce")
        steps = chosen_steps
    else:
        if mode == "slice":
            # papermill's `parameters` cell stays (with what it needs): `papermill replay.ipynb -p ...` injects
            # after it, and parameters not given again keep its defaults.
            targets = [pos for pos, i in matched.items() if nb.cells[i].get("outputs")
                       or "parameters" in ((nb.cells[i].get("metadata") or {}).get("tags") or ())]
            sliced = slicer(records, targets)
            keep, reasons = sliced.kept, sliced.reasons
            if sliced.unresolved:
                prelude_defines = set(analyze_code(prelude.code).defined) if prelude else set()
                hidden = sorted(sliced.unresolved - prelude_defines)
                if hidden:
                    not_guaranteed.append("names used but defined by no recorded execution: " + ", ".join(hidden[:10])
                                          + " (defined before recording started?)")
        else:
            keep, reasons = list(range(len(records))), {}
        for pos in keep:
            record = records[pos]
            code = replay_code(record["code"])
            if not code:
                continue
            cell_index = matched.get(pos)
            steps.append(Step(index=0, code=code, record=record, execution_count=record.get("execution_count"),
                              cell_index=cell_index,
                              outputs=list(nb.cells[cell_index].outputs) if cell_index is not None else None,
                              reason=reasons.get(pos, "recorded execution")))
        dropped = len(records) - len(keep)
        if mode == "slice" and dropped:
            notes.append(f"{dropped} of {len(records)} recorded executions are not needed for the saved outputs "
                         "and are left out (use --mode history to keep them)")
    if prelude is not None:
        steps.insert(0, prelude)
    for n, step in enumerate(steps, 1):
        step.index = n

    used_inputs, network_list, hash_seed, modules = _attach(steps, records, env, not_guaranteed)
    all_sessions = journal.sessions(notebook=nb_name) if match.bound else [session]
    sessions = [{"session_id": s["session_id"], "started_at": s["started_at"], "ended_at": s["ended_at"],
                 "executions": journal.count_executions(s["session_id"]),
                 "replayed": s["session_id"] == session["session_id"]} for s in all_sessions]
    others = [s for s in sessions if not s["replayed"]]
    if others:
        not_guaranteed.append(f"{len(others)} other recorded sessions of this notebook (before a kernel restart) "
                              "are not part of the replay")
    # Jupyter starts a notebook's kernel in the notebook's folder; relative reads resolve there, wherever the
    # project has moved since it was recorded.
    for item in used_inputs:
        item["current"] = str(notebook_path.parent / item["rel"]) if item["rel"] is not None else item["abspath"]
    return _finish(ExportPlan(mode, True, steps, used_inputs, network_list, sessions, env, hash_seed,
                              modules, notebook_path.parent, not_guaranteed, notes,
                              unbound_session=None if match.bound else match.session_id))


def find_session(journal: Any, wanted: str) -> dict[str, Any]:
    """The recorded session ``wanted`` (an id or unique prefix) names in ``journal``; one line naming the
    sessions there when none or several match."""
    sessions = journal.sessions()
    matches = [s for s in sessions if s["session_id"].startswith(wanted)] if wanted else []
    if len(matches) == 1:
        return matches[0]
    listed = ", ".join(f"{s['session_id'][:8]} ({s['notebook'] or 'no notebook'}, "
                       f"{journal.count_executions(s['session_id'])} executions)" for s in sessions[-5:])
    raise JournalError(f"{'no' if not matches else 'more than one'} session in {journal.directory} matches "
                       f"{wanted!r}", hint=(f"give one of the ids there ({listed}"
                                            f"{', ...' if len(sessions) > 5 else ''}), or more of it")
                       if sessions else "record one with `%load_ext repro_kernel` then `%repro start`")


def plan_session(journal: Any, wanted: str, workdir: Path) -> ExportPlan:
    """The replay of recorded session ``wanted`` with no notebook (terminal IPython, a script): every execution
    in the order it ran (history mode: there are no saved outputs to slice for), each compared by its recorded
    output hash. ``workdir``: where the kernel ran (relative reads resolve there)."""
    session = find_session(journal, wanted)
    records = journal.executions(session_id=session["session_id"])
    env = session["environment"]
    not_guaranteed: list[str] = []
    notes: list[str] = []
    steps: list[Step] = []
    for record in records:
        code = replay_code(record["code"])
        if code:
            steps.append(Step(index=len(steps) + 1, code=code, record=record,
                              execution_count=record.get("execution_count"), reason="recorded execution",
                              where=f"{session['notebook']} (not in the saved notebook)" if session["notebook"]
                              else "terminal input"))
    if not steps:
        raise BadInputError(f"session {session['session_id'][:8]} recorded no code to replay "
                            f"({len(records)} executions, only jupyter-repro's own magics)",
                            hint="record the session's code after `%repro start`, then export again")
    unresolved = backward_slice(records, list(range(len(records)))).unresolved
    if unresolved:
        not_guaranteed.append("names used but defined by no recorded execution: " + ", ".join(sorted(unresolved)[:10])
                              + " (defined before `%repro start` ran?)")
    used_inputs, network, hash_seed, modules = _attach(steps, records, env, not_guaranteed)
    for item in used_inputs:
        item["current"] = str(workdir / item["rel"]) if item["rel"] is not None else item["abspath"]
    sessions = [{"session_id": session["session_id"], "started_at": session["started_at"],
                 "ended_at": session["ended_at"], "executions": len(records), "replayed": True}]
    return _finish(ExportPlan("history", True, steps, used_inputs, network, sessions, env, hash_seed, modules,
                              workdir, not_guaranteed, notes))


def _attach(steps: list[Step], records: list[dict[str, Any]], env: Optional[dict[str, Any]],
            not_guaranteed: list[str]) -> tuple[list[dict[str, Any]], list[dict[str, Any]], Optional[str],
                                                list[dict[str, Any]]]:
    """What the replay restores and checks before each step (random states, generators, data inputs, the
    network), the hash seed and the modules the session imported: one definition for notebook and session
    exports."""
    # Random state and generators per step.
    for step in steps:
        record = step.record
        if not record:
            continue
        if record.get("redacted") or ("redacted" not in record and record.get("code_hash")
                                      and hash_text(record.get("code") or "") != record["code_hash"]):
            step.redacted = True  # render says so, for every such step at once
        rnd = record.get("random") or {}
        step.random = {src: info.get("state_ref") for src, info in (rnd.get("sources") or {}).items()
                       if info.get("state_ref")}
        # Generators held in variables, set in place before the step ("var:NAME" -> their state before it).
        step.random.update({f"var:{name}": ref for name, ref in (rnd.get("held") or {}).items() if ref})
        seeded = {source for _call, source, _value in analyze_code(record["code"]).seeds}
        for src, info in (rnd.get("sources") or {}).items():
            if src in seeded or "all" in seeded or None in seeded:
                continue  # it seeds that source itself before drawing: the replay runs the same seeding
            if info.get("state_ref") is None and info.get("after") and re.search(
                    r"random\.\w+\(|\.rand\w*\(|shuffle\(|choice\(|normal\(|sample\(|permutation\(", record["code"]):
                not_guaranteed.append(f"step {step.index} imported {src}'s random module and may draw from it in "
                                      "the same cell; the state it started from was not recorded")
        for gen in rnd.get("generators") or []:
            if gen.get("seeded"):
                continue
            if gen.get("kind") in ("numpy.default_rng", "numpy.Generator") and gen.get("entropy") is not None:
                step.generators.append({"kind": gen["kind"], "name": gen.get("name"), "entropy": gen["entropy"]})
            else:
                not_guaranteed.append(f"step {step.index} creates an unseeded {gen.get('kind')} "
                                      f"({gen.get('name')}); its draws cannot be restored")

    # Data inputs: files read that no earlier execution of the session wrote.
    written_before: set[str] = set()
    inputs: dict[tuple[str, str], dict[str, Any]] = {}
    kept_ids = {id(s.record): s for s in steps if s.record}
    network: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for record in records:
        kept_step = kept_ids.get(id(record))
        for f in record.get("files_read") or []:
            path = f.get("path")
            if not path or path in written_before or _library_file(path, env):
                continue
            if f.get("hash") is None:
                if kept_step is not None:
                    not_guaranteed.append(f"step {kept_step.index} read {f.get('rel') or path} but it could not be "
                                          f"hashed ({f.get('error')}); it is not checked")
                continue
            key = (path, f["hash"])
            item = inputs.get(key)
            if item is None:
                item = inputs[key] = {"id": f"input-{len(inputs) + 1}", "path": f.get("rel") or path,
                                      "rel": f.get("rel"), "abspath": path, "size": f.get("size"),
                                      "hash": f["hash"], "steps": []}
            if kept_step is not None:
                item["steps"].append(kept_step.index)
                if item["id"] not in kept_step.inputs:
                    kept_step.inputs.append(item["id"])
        for f in record.get("files_written") or []:
            if f.get("path"):
                written_before.add(f["path"])
        if kept_step is not None:
            for net in record.get("network") or []:
                net_key = (net.get("host"), net.get("port"), net.get("url"))
                entry = network.setdefault(net_key, {"host": net.get("host"), "port": net.get("port"),
                                                     "url": net.get("url"), "steps": []})
                entry["steps"].append(kept_step.index)
    used_inputs = [i for i in inputs.values() if i["steps"]]
    paths = [i["abspath"] for i in used_inputs]
    for p in sorted({p for p in paths if paths.count(p) > 1}):
        not_guaranteed.append(f"{p} was read with different contents during the session; only a snapshot of "
                              "each version lets the replay pass its hash checks")
    for used in used_inputs:
        if used["rel"] is None:
            not_guaranteed.append(f"{used['abspath']} is read through an absolute path outside the notebook's folder")
    for entry in network.values():
        not_guaranteed.append(f"steps {', '.join(map(str, entry['steps']))} read from the network "
                              f"({entry['url'] or entry['host']}): that data may have changed")

    recorded = (env or {}).get("python") or {}
    if "hash_seed" in recorded:  # the recorder says outright whether the seed was fixed
        hash_seed = recorded["hash_seed"]
    else:
        hash_seed = ((env or {}).get("environment_variables") or {}).get("PYTHONHASHSEED")
    if hash_seed in (None, "random", "<redacted>"):
        hash_seed = None
        not_guaranteed.append("the session ran with a random hash seed (PYTHONHASHSEED unset): anything that "
                              "depends on the iteration order of a set of strings may differ")
    modules = [m for r in records for m in (r.get("modules") or [])]
    modules += _modules_from_code(steps, env, modules)
    return used_inputs, list(network.values()), hash_seed, modules


def _finish(plan: ExportPlan) -> ExportPlan:
    seen: set[str] = set()
    plan.not_guaranteed = [c for c in plan.not_guaranteed if not (c in seen or seen.add(c))]  # type: ignore[func-returns-value]
    return plan


def _modules_from_code(steps: list[Step], env: Optional[dict[str, Any]] = None,
                       known: list[dict[str, Any]] = ()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    """Top-level modules the steps import, with the distribution that provides them (when known)."""
    from importlib import metadata

    names: set[str] = set()
    for step in steps:
        for match in re.finditer(r"^[ \t]*(?:from[ \t]+([A-Za-z_][\w]*)|import[ \t]+([A-Za-z_][\w]*(?:[ \t]*,[ \t]*"
                                 r"[A-Za-z_][\w.]*)*))", step.code, re.M):
            if match.group(1):
                names.add(match.group(1))
            else:
                names |= {n.strip().split(".")[0] for n in match.group(2).split(",")}
    names -= set(getattr(sys, "stdlib_module_names", ()))
    names -= {m["name"] for m in known}
    if not names:
        return []
    recorded = (env or {}).get("distributions") or {}
    found = []
    unresolved = []
    for name in sorted(names):
        guess = _ALIASES.get(name, name.lower().replace("_", "-"))
        if guess in recorded:
            found.append({"name": name, "distribution": guess, "version": recorded[guess]})
        else:
            unresolved.append(name)
    if unresolved:  # packages_distributions() reads every installed distribution's metadata: slow, so last
        mapping = metadata.packages_distributions()
        for name in unresolved:
            dists = mapping.get(name)
            if not dists:
                continue
            dist = dists[0].lower().replace("_", "-").replace(".", "-")
            version = recorded.get(dist) if env else None
            if version is None and env is None:
                try:
                    version = metadata.version(dists[0])
                except metadata.PackageNotFoundError:
                    version = None
            found.append({"name": name, "distribution": dist, "version": version})
    return found


_ALIASES = {"sklearn": "scikit-learn", "skimage": "scikit-image", "cv2": "opencv-python", "PIL": "pillow",
            "yaml": "pyyaml", "bs4": "beautifulsoup4", "dateutil": "python-dateutil", "mpl_toolkits": "matplotlib",
            "attr": "attrs", "google": "protobuf"}
