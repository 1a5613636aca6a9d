"""``jupyter repro diff A B``: what differs between two runs, ranked by how likely it explains the first differing
output.

A run is an export folder (its sealed manifest and ``replay.ipynb``), a notebook (the recorded session its saved
outputs show, :func:`~repro_kernel.analysis.sessions.choose_session`) or one session of a notebook's journal
(``NOTEBOOK.ipynb:SESSION``, an id or unique prefix). Steps are aligned by the hash of the code as run (so a slice
lines up with the whole session), then compared: outputs where both sides carry them (the export's recorded
outputs, the saved notebook's), else the recorder's output hash, else the status. Then the facts around them are
compared: code, input hashes, random states and seeds before each step, packages, Python, hash seed, thread counts
(BLAS, OpenMP), CPU/GPU, locale, timezone, clock and the allow-listed environment variables. Each difference gets
a score: higher when it touches the first differing step or what ran before it (an input read, a package imported,
a random state the step started from) and when that step's code uses it (sets and the hash seed, clocks and dates).
The runs are equivalent when the steps, their code, inputs and outputs, the packages and Python all agree; the
machine-level facts are listed either way.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Optional

from repro_kernel.analysis.sessions import cells_from_dicts, choose_session, find_journal
from repro_kernel.core.notebook import read_notebook
from repro_kernel.exceptions import BadInputError
from repro_kernel.export.manifest import load_manifest
from repro_kernel.export.normalize import compare_outputs

_CONTROL = re.compile(r"^\s*(%load_ext\s+repro_kernel|%repro\b)")
_THREADS = re.compile(r"_NUM_THREADS$|_MAX_THREADS$|^VECLIB_|^MKL_CBWR$|^KMP_")
# What in a step's code makes a fact a likelier cause of its new output.
_USES = {"hash seed": re.compile(r"\bset\(|frozenset|\{[^:{}]+\}|\bhash\("),
         "clock": re.compile(r"\btime\b|datetime|\bdate\b|now\(|today\("),
         "timezone": re.compile(r"tz|timezone|localtime|strftime"),
         "locale": re.compile(r"locale|strftime|format\(|:n\}"),
         "threads": re.compile(r"numpy|np\.|torch|sklearn|scipy|\.dot\(|@"),
         "random state": re.compile(r"random|rng|shuffle|sample|choice|normal\(")}


@dataclass
class Step:
    """One executed step of a run, as the two kinds of record describe it."""

    position: int  # 1-based among the run's steps
    where: str
    code_hash: str
    code: Optional[str]
    status: str
    error: Optional[str]
    output_hash: Optional[str]
    outputs: Optional[list[Any]]  # nbformat outputs, where the run carries them
    inputs: dict[str, Optional[str]]  # path -> content hash
    random: dict[str, Optional[str]]  # source -> fingerprint of the state the step started from
    modules: list[str]
    drew: set[str] = field(default_factory=set)  # the random sources the step drew from (its state moved)


@dataclass
class Run:
    label: str
    kind: str  # export | notebook | session
    steps: list[Step]
    environment: dict[str, Any]
    hash_seed: Optional[str]
    started_at: Optional[float]


@dataclass
class Difference:
    kind: str
    what: str
    a: Any
    b: Any
    score: int
    note: str = ""


@dataclass
class RunDiff:
    a: Run
    b: Run
    pairs: list[tuple[Optional[Step], Optional[Step], str]]  # (a, b, same | differs | code | only-a | only-b)
    first: Optional[int]  # index into pairs of the first step that differs
    differences: list[Difference] = field(default_factory=list)

    @property
    def equivalent(self) -> bool:
        return self.first is None and not any(d.kind in _DECISIVE for d in self.differences)

    def to_json(self) -> dict[str, Any]:
        first = self.pairs[self.first] if self.first is not None else None
        return {"a": _describe(self.a), "b": _describe(self.b), "equivalent": self.equivalent,
                "exit_code": 0 if self.equivalent else 1,
                "first_difference": None if first is None else {
                    "a": first[0].position if first[0] else None, "b": first[1].position if first[1] else None,
                    "where": _where(first), "kind": first[2]},
                "differences": [asdict(d) for d in self.differences],
                "steps": [{"a": p[0].position if p[0] else None, "b": p[1].position if p[1] else None,
                           "result": p[2]} for p in self.pairs]}


_DECISIVE = frozenset({"code", "inputs", "packages", "python"})


def _describe(run: Run) -> dict[str, Any]:
    python = (run.environment.get("python") or {}).get("version")
    return {"label": run.label, "kind": run.kind, "steps": len(run.steps), "python": python,
            "started_at": run.started_at}


def _where(pair: tuple[Optional[Step], Optional[Step], str]) -> str:
    a, b, _ = pair
    return " / ".join(f"{side} step {s.position} ({s.where})" for side, s in (("A", a), ("B", b)) if s)


# -- reading runs -------------------------------------------------------------------------------------------


def _export_run(folder: Path) -> Run:
    manifest = load_manifest(folder)
    inputs = {i["id"]: (i["rel"] or i["abspath"], i["hash"]) for i in manifest["inputs"]}
    cells: dict[int, Any] = {}
    try:
        nb = read_notebook(folder / manifest["replay"]["notebook"])
        cells = {c.metadata["repro"]["step"]: c for c in nb.cells if c.cell_type == "code"
                 and isinstance(c.metadata.get("repro"), dict) and "step" in c.metadata["repro"]}
    except BadInputError:
        pass
    modules = {m: r["distribution"] for r in manifest["requirements"] for m in r["modules"]}
    steps = []
    for n, entry in enumerate(manifest["steps"], 1):
        cell = cells.get(entry["index"])
        count = entry.get("execution_count")
        steps.append(Step(n, f"In[{count}]" if count is not None else f"step {entry['index']}", entry["code_hash"],
                          cell.source if cell is not None else None, entry["status"], entry.get("error"),
                          entry.get("output_hash"),
                          list(cell.outputs) if cell is not None and entry["recorded_outputs"] else None,
                          dict(inputs[i] for i in entry["inputs"] if i in inputs),
                          dict(entry.get("random") or {}), sorted(set(modules.values()))))
    for step, after in zip(steps, steps[1:] + [None]):  # a state that moved by the next step's start was drawn from
        step.drew = {k for k, v in step.random.items() if v and (after is None or after.random.get(k) != v)}
    started = [s["started_at"] for s in manifest["sessions"] if isinstance(s.get("started_at"), (int, float))]
    return Run(str(folder), "export", steps, manifest.get("environment") or {}, manifest.get("hash_seed"),
               min(started) if started else None)


def _session_run(path: Path, wanted: Optional[str]) -> Run:
    nb = read_notebook(path)
    with find_journal(path, nb, wanted) as journal:
        cells = cells_from_dicts([dict(c, source=c.get("source")) for c in nb.cells])
        match = choose_session(journal, path.name, cells, wanted)
    if match is None:
        raise BadInputError(f"{path} has no recorded session to compare",
                            hint="record it with `%load_ext repro_kernel` then `%repro start`")
    by_id = {c.get("id"): c for c in nb.cells}
    steps: list[Step] = []
    for pos, record in enumerate(match.records):
        code = record.get("code") or ""
        if _CONTROL.match(code) and all(_CONTROL.match(line) or not line.strip() for line in code.splitlines()):
            continue
        shown = by_id.get(match.shown.get(pos)) if wanted is None else None
        sources = (record.get("random") or {}).get("sources") or {}
        steps.append(Step(len(steps) + 1, f"In[{record.get('execution_count')}]", record["code_hash"], code,
                          record.get("status") or "unknown", record.get("error"), record.get("output_hash"),
                          list(shown.outputs) if shown is not None else None,
                          {f.get("rel") or f["path"]: f.get("hash") for f in record.get("files_read") or ()},
                          {k: (v or {}).get("state_ref") or (v or {}).get("before") for k, v in sources.items()},
                          sorted({m.get("distribution") or m["name"] for m in record.get("modules") or ()}),
                          {k for k, v in sources.items() if isinstance(v, dict) and v.get("before") != v.get("after")}))
    env = match.session.get("environment") or {}
    kind = "session" if wanted else "notebook"
    return Run(f"{path}:{match.session_id[:12]}", kind, steps, env, (env.get("python") or {}).get("hash_seed"),
               match.session.get("started_at"))


def read_run(target: str) -> Run:
    """An export folder, a notebook, or ``NOTEBOOK.ipynb:SESSION``."""
    path = Path(target)
    if path.is_dir():
        if not (path / "manifest.json").is_file():
            raise BadInputError(f"{target} is a folder without a manifest.json",
                                hint="pass an export folder (`jupyter repro export` writes one) or a notebook")
        return _export_run(path)
    if path.is_file():
        return _session_run(path, None)
    stem, sep, session = target.rpartition(":")
    if sep and session and Path(stem).is_file():
        return _session_run(Path(stem), session)
    raise BadInputError(f"{target} is neither an export folder, a notebook nor NOTEBOOK.ipynb:SESSION",
                        hint="list a notebook's sessions with `jupyter repro sessions NOTEBOOK.ipynb`")


# -- comparing ----------------------------------------------------------------------------------------------


def _same_result(a: Step, b: Step) -> tuple[bool, str]:
    """Whether two runs of one code gave the same result, and how that was told."""
    if a.status != b.status or (a.error or "").split(":")[0] != (b.error or "").split(":")[0]:
        return False, f"status {a.status}{f' ({a.error})' if a.error else ''} vs {b.status}" \
                      f"{f' ({b.error})' if b.error else ''}"
    if a.outputs is not None and b.outputs is not None:
        comparison = compare_outputs(a.outputs, b.outputs)
        return comparison.same, comparison.diff
    if a.output_hash and b.output_hash and a.output_hash != b.output_hash:
        return False, f"output hash {a.output_hash[:19]} vs {b.output_hash[:19]}"
    return True, ""


def _align(a: Run, b: Run) -> tuple[list[tuple[Optional[Step], Optional[Step], str]], Optional[int], str]:
    matcher = difflib.SequenceMatcher(a=[s.code_hash for s in a.steps], b=[s.code_hash for s in b.steps],
                                      autojunk=False)
    pairs: list[tuple[Optional[Step], Optional[Step], str]] = []
    first, detail = None, ""
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            for sa, sb in zip(a.steps[i1:i2], b.steps[j1:j2]):
                same, why = _same_result(sa, sb)
                if not same and first is None:
                    first, detail = len(pairs), why
                pairs.append((sa, sb, "same" if same else "differs"))
            continue
        left, right = a.steps[i1:i2], b.steps[j1:j2]
        for k in range(max(len(left), len(right))):
            ka = left[k] if k < len(left) else None
            kb = right[k] if k < len(right) else None
            if first is None:
                first, detail = len(pairs), "the code as run differs"
            pairs.append((ka, kb, "code" if ka and kb else ("only-a" if ka else "only-b")))
    return pairs, first, detail


def _get(env: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        env = env.get(key) if isinstance(env, dict) else None  # type: ignore[assignment]
    return env


def _uses(kind: str, code: str) -> bool:
    return bool(code) and bool(_USES[kind].search(code))


def _facts(diff: RunDiff, detail: str) -> list[Difference]:
    a, b = diff.a, diff.b
    upto = diff.pairs[: (diff.first + 1) if diff.first is not None else len(diff.pairs)]
    at = diff.pairs[diff.first] if diff.first is not None else None
    code = ((at[0] and at[0].code) or (at[1] and at[1].code) or "") if at else ""
    found: list[Difference] = []
    if at is not None and at[2] != "differs":
        sa, sb = at[0], at[1]
        patch = "".join(difflib.unified_diff((sa.code or "").splitlines(True) if sa else [],
                                             (sb.code or "").splitlines(True) if sb else [], "A", "B", n=0))
        found.append(Difference("code", f"code as run at {_where(at)}", sa.code_hash[:19] if sa else None,
                                sb.code_hash[:19] if sb else None, 100, patch[:400]))
    changed_code = [p for p in diff.pairs[len(upto):] if p[2] != "same" and p[2] != "differs"]
    if changed_code:
        found.append(Difference("code", "later steps ran other code", len([p for p in changed_code if p[0]]),
                                len([p for p in changed_code if p[1]]), 40, "steps that differ or are missing"))
    read_a = {p: h for s, _, _ in upto if s for p, h in s.inputs.items()}
    read_b = {p: h for _, s, _ in upto if s for p, h in s.inputs.items()}
    for path in sorted(set(read_a) | set(read_b)):
        if read_a.get(path) != read_b.get(path):
            found.append(Difference("inputs", f"input {path}", read_a.get(path), read_b.get(path), 90,
                                    "read before the first differing output"))
    for sa, sb, _ in upto:
        sources = sorted(k for k in set(sa.random) & set(sb.random) & (sa.drew | sb.drew)
                         if sa.random[k] and sb.random[k] and sa.random[k] != sb.random[k]) if sa and sb else []
        if sa and sb and sources:
            score = 85 if at is not None and (sa, sb) == (at[0], at[1]) else 60
            found.append(Difference("random state", f"random state ({', '.join(sources)}) before step "
                                    f"{sa.position} ({sa.where})", {k: str(sa.random[k])[:12] for k in sources},
                                    {k: str(sb.random[k])[:12] for k in sources}, score + 10 * _uses("random state", code),
                                    "the step drew from another random state"))
            break
    imported = {m for s, t, _ in upto for step in (s, t) if step for m in step.modules}
    dists_a = {_norm(k): v for k, v in (_get(a.environment, "distributions") or {}).items()}
    dists_b = {_norm(k): v for k, v in (_get(b.environment, "distributions") or {}).items()}
    for name in sorted(set(dists_a) | set(dists_b)):
        if dists_a.get(name) != dists_b.get(name):
            used = name in {_norm(m) for m in imported}
            found.append(Difference("packages", f"package {name}", dists_a.get(name), dists_b.get(name),
                                    70 if used else 15, "imported by the steps up to the first difference" if used
                                    else "not imported by the steps"))
    _environment_facts(found, a, b, code, diff.first is not None)
    return sorted(found, key=lambda d: -d.score)


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _environment_facts(found: list[Difference], a: Run, b: Run, code: str, outputs_differ: bool) -> None:
    ea, eb = a.environment, b.environment

    def fact(kind: str, what: str, va: Any, vb: Any, score: int, note: str = "") -> None:
        if va != vb:
            found.append(Difference(kind, what, va, vb, score + (20 if kind in _USES and _uses(kind, code) else 0),
                                    note))

    fact("python", "Python", _get(ea, "python", "version"), _get(eb, "python", "version"), 65)
    fact("python", "Python implementation", _get(ea, "python", "implementation"),
         _get(eb, "python", "implementation"), 65)
    if a.hash_seed != b.hash_seed:
        fact("hash seed", "hash seed (PYTHONHASHSEED)", a.hash_seed or "random", b.hash_seed or "random", 45)
    elif a.hash_seed is None and outputs_differ:
        found.append(Difference("hash seed", "hash seed random in both runs", "random", "random",
                                30 + (20 if _uses("hash seed", code) else 0),
                                "the order of a set of strings may differ from run to run"))
    vars_a = _get(ea, "environment_variables") or {}
    vars_b = _get(eb, "environment_variables") or {}
    fact("threads", "CPU count", _get(ea, "machine", "cpu_count"), _get(eb, "machine", "cpu_count"), 30)
    for name in sorted((set(vars_a) | set(vars_b)) - {"PYTHONHASHSEED"}):  # the hash seed is its own fact
        kind = "threads" if _THREADS.search(name) else "timezone" if name == "TZ" else \
            "locale" if name.startswith(("LC_", "LANG")) else "environment"
        if name in ("VIRTUAL_ENV", "CONDA_DEFAULT_ENV"):
            kind = "environment"
        fact(kind, f"environment variable {name}", vars_a.get(name), vars_b.get(name),
             {"threads": 40, "timezone": 30, "locale": 30}.get(kind, 20))
    fact("cpu", "CPU architecture", _get(ea, "machine", "arch"), _get(eb, "machine", "arch"), 55)
    fact("cpu", "CPU", _get(ea, "machine", "cpu"), _get(eb, "machine", "cpu"), 25)
    fact("gpu", "GPUs", [g.get("name") for g in _get(ea, "machine", "gpus") or ()],
         [g.get("name") for g in _get(eb, "machine", "gpus") or ()], 35)
    fact("os", "operating system", _get(ea, "os", "system"), _get(eb, "os", "system"), 35)
    fact("locale", "locale", _get(ea, "os", "locale"), _get(eb, "os", "locale"), 30)
    fact("timezone", "timezone", _get(ea, "os", "timezone", "names"), _get(eb, "os", "timezone", "names"), 30)
    day_a, day_b = _day(a.started_at), _day(b.started_at)
    if outputs_differ and day_a != day_b:
        # A step that reads the clock and prints another day: the likeliest cause there is, after its code.
        fact("clock", "clock (the day the run started)", day_a, day_b, 10 + (30 if _uses("clock", code) else 0),
             "a step that reads the clock sees another date (a replay restores the recorded one)")


def _day(stamp: Optional[float]) -> Optional[str]:
    if not isinstance(stamp, (int, float)):
        return None
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y-%m-%d")


def diff_runs(a: str, b: str) -> tuple[RunDiff, str]:
    """Compare runs ``a`` and ``b`` (see :func:`read_run`): the comparison and the first difference's detail."""
    run_a, run_b = read_run(a), read_run(b)
    pairs, first, detail = _align(run_a, run_b)
    diff = RunDiff(run_a, run_b, pairs, first)
    diff.differences = _facts(diff, detail)
    return diff, detail


def render_diff(diff: RunDiff, detail: str) -> str:
    """The text ``jupyter repro diff`` prints."""
    lines = []
    for side, run in (("A", diff.a), ("B", diff.b)):
        facts = _describe(run)
        lines.append(f"{side}: {run.kind} {run.label} ({facts['steps']} steps, Python {facts['python'] or '?'}, started "
                     f"{_day(run.started_at) or '?'})")
    same = sum(1 for p in diff.pairs if p[2] == "same")
    lines.append(f"{same} of {len(diff.pairs)} aligned steps agree")
    if diff.first is not None:
        pair = diff.pairs[diff.first]
        lines.append(f"first difference: {_where(pair)}: {' '.join(detail.split())[:200]}")
    if diff.differences:
        lines.append("what differs, most likely explanation first:")
        for n, d in enumerate(diff.differences, 1):
            note = f"  ({d.note})" if d.note and d.kind != "code" else ""
            lines.append(f"  {n}. {d.kind}: {d.what}: {_short(d.a)} -> {_short(d.b)}{note}")
            if d.kind == "code" and d.note:
                lines += [f"       {line}" for line in d.note.splitlines()[:8]]
    lines.append("equivalent: the runs agree" if diff.equivalent else "not equivalent")
    return "\n".join(lines) + "\n"


def _short(value: Any) -> str:
    text = "unset" if value is None else str(value)
    return text if len(text) <= 60 else text[:57] + "..."
