"""The ``secret`` flag, and the scrubbing of every flag before it leaves the engine.

A cell is flagged when its code (the saved source, or the code that ran from it), its saved outputs or its
error output hold a secret as :mod:`repro_kernel.core.secrets` sees it. Flags' messages and details (paths,
URLs) go through the same scanner, so that what the comm pushes, and the sidebar saves in ``metadata.repro``,
carries no secret either. Every scan is cached by text: a big notebook checked again costs little.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Optional

from repro_kernel.analysis.model import Cell, Execution, Flag
from repro_kernel.core.hashing import hash_text
from repro_kernel.core.secrets import Scanner, environment_secrets, redact_secrets

FIX = ("move it to an environment variable or a file outside the project and read it from there; "
       "the export redacts it")
_WHERE_ORDER = ("code", "outputs", "error output")


@lru_cache(maxsize=1)
def _environment_values() -> Optional[re.Pattern[str]]:
    """The values of this process's secret-named environment variables (an echoed ``$MY_TOKEN``)."""
    values = sorted(environment_secrets(), key=len, reverse=True)
    return re.compile("|".join(re.escape(v) for v in values)) if values else None


@lru_cache(maxsize=16384)
def _kinds(text: str, code: bool) -> tuple[str, ...]:
    if not text:
        return ()
    kinds = {f.kind for f in redact_secrets(text, code=code)[1]}
    known = _environment_values()
    if known is not None and known.search(text):
        kinds.add("environment-value")
    return tuple(sorted(kinds))


@lru_cache(maxsize=16384)
def _code_was_redacted(code: str, code_hash: str) -> bool:
    """The recorder keeps the hash of the code as typed: a record whose code no longer matches it had a
    credential taken out."""
    return hash_text(code) != code_hash


def secrets_in(executions: list[Execution], cells: list[Cell], by_id: dict[str, Cell]) -> list[Flag]:
    """One ``secret`` flag per cell whose code, outputs or error output holds a secret."""
    found: dict[str, dict[str, set[str]]] = {}

    def note(cell_id: str, where: str, kinds: tuple[str, ...] | list[str]) -> None:
        if kinds:
            found.setdefault(cell_id, {}).setdefault(where, set()).update(kinds)

    for cell in cells:
        if cell.cell_type != "code":
            continue
        note(cell.id, "code", ["credential"] if cell.redacted else [])
        note(cell.id, "code", _kinds(cell.source, True))
        note(cell.id, "outputs", _kinds(cell.outputs, False))
        note(cell.id, "error output", _kinds(cell.errors, False))
    for execution in executions:
        if execution.cell not in by_id:
            continue
        record = execution.record or {}
        code_hash = record.get("code_hash")
        if record.get("redacted") or (isinstance(code_hash, str) and _code_was_redacted(execution.code, code_hash)):
            note(execution.cell, "code", ["credential"])
        note(execution.cell, "code", _kinds(execution.code, True))
        for message in [record.get("error"), *(record.get("recorder_errors") or ())]:
            if isinstance(message, str):
                note(execution.cell, "error output", _kinds(message, False))
    flags = []
    for cell_id in sorted(found, key=lambda c: by_id[c].index):
        places = [w for w in _WHERE_ORDER if w in found[cell_id]]
        kinds = sorted(set().union(*found[cell_id].values()))
        flags.append(Flag(
            "secret", [cell_id], f"{by_id[cell_id].label} holds a secret in its {' and '.join(places)} "
            f"({', '.join(kinds)})", FIX, details={"where": places, "kinds": kinds},
        ))
    return flags


@lru_cache(maxsize=16384)
def _clean(text: str) -> str:
    return redact_secrets(text)[0]


def scrubbed(flags: list[Flag]) -> list[Flag]:
    """``flags`` with any secret in their message, fix and details (paths, URLs) replaced by ``<redacted>``."""
    scanner = Scanner()
    for flag in flags:
        flag.message, flag.fix = _clean(flag.message), _clean(flag.fix)
        if flag.details:
            flag.details = scanner.scan_json(flag.details)[0]
    return flags


def scrubbed_inputs(inputs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The sidebar's input list with any secret in a path replaced (the sidebar saves it in metadata.repro)."""
    return [{**item, **{k: _clean(item[k]) for k in ("path", "abspath") if isinstance(item.get(k), str)}}
            for item in inputs]
