"""Rules about the environment: drift since the previous session, and GPU work that is not deterministic."""

from __future__ import annotations

import platform
from typing import Any, Optional

from repro_kernel.analysis.model import Cell, Context, Execution, Flag
from repro_kernel.analysis.rules.common import _cells_of
from repro_kernel.core.environment import installed_distributions

GPU_FRAMEWORKS = {"torch": "torch", "tensorflow": "tensorflow", "jax": "jax", "cupy": "cupy",
                  "mxnet": "mxnet", "paddle": "paddle", "keras": "tensorflow"}
_DETERMINISM_FIX = {
    "torch": "call torch.use_deterministic_algorithms(True) and set CUBLAS_WORKSPACE_CONFIG=:4096:8",
    "tensorflow": "call tf.config.experimental.enable_op_determinism() (or set TF_DETERMINISTIC_OPS=1)",
    "jax": "set XLA_FLAGS=--xla_gpu_deterministic_ops=true before importing jax",
}
_DETERMINISM_ENV_VALUES = {
    "CUBLAS_WORKSPACE_CONFIG": ("torch", None),
    "TF_DETERMINISTIC_OPS": ("tensorflow", ("1", "true", "True")),
    "TF_CUDNN_DETERMINISTIC": ("tensorflow", ("1", "true", "True")),
    "XLA_FLAGS": ("jax", "deterministic"),
}


def current_environment() -> dict[str, Any]:
    """Python version and installed distributions of the process running the check."""

    return {"python": {"version": platform.python_version()}, "distributions": installed_distributions()}


def previous_environment(journal: Any, notebook: Optional[str], session_id: Optional[str],
                         cache: dict[str, Any]) -> Optional[dict[str, Any]]:
    """The environment of the session of ``notebook`` recorded just before ``session_id`` (cached)."""
    key = f"prev:{getattr(journal, 'database_path', '')}:{notebook}:{session_id}"
    if key in cache:
        return cache[key]
    found = None
    try:
        sessions = journal.sessions(notebook=notebook) if notebook else []
        ids = [s["session_id"] for s in sessions]
        if session_id in ids:
            index = ids.index(session_id)
            found = sessions[index - 1]["environment"] if index > 0 else None
    except Exception:
        found = None
    cache[key] = found
    return found


def _normalise(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def drift(executions: list[Execution], context: Context, by_id: dict[str, Cell]) -> list[Flag]:

    flags = []
    start = (context.environment or {}).get("distributions") or {}
    imported: dict[str, tuple[Optional[str], Execution]] = {}
    changed: list[tuple[str, str, str, Execution]] = []
    for execution in executions:
        if "environment" not in execution.tags:
            continue
        for module in (execution.record or {}).get("modules") or ():
            dist = module.get("distribution")
            if not dist:
                continue
            dist = _normalise(dist)
            imported.setdefault(dist, (module.get("version"), execution))
            before = start.get(dist)
            if before and module.get("version") and module["version"] != before:
                changed.append((dist, before, module["version"], execution))
    installers = [e for e in executions if "environment" in e.tags and e.facts.installs]
    if installers or changed:
        cells = _cells_of(installers + [c[3] for c in changed], by_id)
        what = (f"{changed[0][0]} went from {changed[0][1]} to {changed[0][2]}" if changed
                else f"packages were installed by {installers[0].facts.installs[0][:60]!r}")
        flags.append(Flag(
            "environment-drift", cells, f"the environment changed during the session: {what}",
            "put the packages in requirements.txt/environment.yml, restart the kernel and run all",
            details={"changed": [{"distribution": d, "from": a, "to": b} for d, a, b, _e in changed],
                     "installs": [i for e in installers for i in e.facts.installs]},
        ))
    recorded_python = _python_version(context.environment)
    for label, other in (("an earlier session of this notebook", context.previous_environment),
                         ("this environment", context.current_environment)):
        if not other or not context.environment:
            continue
        differences = []
        other_python = _python_version(other)
        if recorded_python and other_python and recorded_python.rsplit(".", 1)[0] != other_python.rsplit(".", 1)[0]:
            differences.append(f"Python {recorded_python} vs {other_python}")
        other_dists = other.get("distributions") or {}
        for dist, (version, _e) in imported.items():
            if version and dist in other_dists and other_dists[dist] != version:
                differences.append(f"{dist} {version} vs {other_dists[dist]}")
            elif version and other_dists and dist not in other_dists and label == "this environment":
                differences.append(f"{dist} {version} vs not installed")
        if differences:
            cells = _cells_of([e for _v, e in imported.values()], by_id)
            flags.append(Flag(
                "environment-drift", cells,
                f"the session ran with {', '.join(differences[:3])}{' ...' if len(differences) > 3 else ''} "
                f"({label})", "pin the versions the session used (requirements.txt from `jupyter repro export`)",
                details={"compared_with": label, "differences": differences},
            ))
    if not context.have_journal:
        language = _text((context.notebook_metadata or {}).get("language_info"), "version")
        here = platform.python_version()
        if language and language.rsplit(".", 1)[0] != here.rsplit(".", 1)[0] and language[0] == "3":
            flags.append(Flag(
                "environment-drift", [], f"the notebook was saved by Python {language}; this is Python {here}",
                "run it with the Python version it was written for, or re-run and save it here",
                details={"saved_with": language, "here": here},
            ))
    return flags


def _text(document: Any, key: str) -> Optional[str]:
    """``document[key]`` when ``document`` is an object and that is text (the notebook's own metadata is
    anyone's to edit: nbformat leaves ``language_info.version`` untyped)."""
    value = document.get(key) if isinstance(document, dict) else None
    return value if isinstance(value, str) else None


def _python_version(environment: Optional[dict[str, Any]]) -> Optional[str]:
    return _text((environment or {}).get("python"), "version")


# -- GPU ------------------------------------------------------------------------------------------

def gpu(executions: list[Execution], context: Context, by_id: dict[str, Cell]) -> list[Flag]:

    frameworks: dict[str, list[Execution]] = {}
    settings: set[str] = set()
    gpu_hint: list[Execution] = []
    for execution in executions:
        if "gpu" not in execution.tags:
            continue
        facts = execution.facts
        modules = execution.record.get("modules") if execution.record else None
        names = list(facts.imported_modules) + [m.get("name") for m in modules or ()]
        for name in names:
            framework = GPU_FRAMEWORKS.get(str(name))
            if framework:
                frameworks.setdefault(framework, []).append(execution)
        settings.update(framework for _setting, framework in execution.facts.determinism)
        if execution.facts.gpu_uses:
            gpu_hint.append(execution)
    variables = (context.environment or {}).get("environment_variables") or {}
    for name, (framework, accepted) in _DETERMINISM_ENV_VALUES.items():
        value = variables.get(name)
        if value is None:
            continue
        if accepted is None or (isinstance(accepted, tuple) and value in accepted) or (
            isinstance(accepted, str) and accepted in str(value)
        ):
            settings.add(framework)
    has_gpu = bool(((context.environment or {}).get("machine") or {}).get("gpus")) or bool(gpu_hint)
    flags: list[Flag] = []
    if not has_gpu:
        return flags
    for framework, users in frameworks.items():
        if framework in settings:
            continue
        cells = _cells_of(users + gpu_hint, by_id)
        flags.append(Flag(
            "nondeterministic-gpu", cells,
            f"{framework} ran with a GPU available but without its deterministic settings: results can vary run to run",
            _DETERMINISM_FIX.get(framework, f"enable {framework}'s deterministic mode") + " in the first cell",
            details={"framework": framework},
        ))
    return flags
