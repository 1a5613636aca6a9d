"""The analysis engine's types: flags, page cells, executions, the writes they made, the context, the report.

Flag kinds and their default severities are the contract of docs/contracts.md ("Flags").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional

from repro_kernel.core.dataflow import CodeFacts

REPORT_SCHEMA_VERSION = 1

KINDS = (
    "out-of-order", "stale", "edited-since-run", "never-run", "hidden-state", "unsnapshotted-data",
    "changed-data", "network-input", "unseeded-randomness", "environment-drift", "absolute-path",
    "nondeterministic-gpu", "nondeterministic-output", "secret",
)
SEVERITIES = ("info", "warning", "error")
SEVERITY_RANK = {name: rank for rank, name in enumerate(SEVERITIES)}
DEFAULT_SEVERITY = {
    "out-of-order": "error", "stale": "warning", "edited-since-run": "warning", "never-run": "warning",
    "hidden-state": "error", "unsnapshotted-data": "warning", "changed-data": "error",
    "network-input": "warning", "unseeded-randomness": "warning", "environment-drift": "warning",
    "absolute-path": "warning", "nondeterministic-gpu": "warning",
    "nondeterministic-output": "warning", "secret": "error",
}
# Kinds that need the page (cell order and current sources) to be judged.
PAGE_KINDS = ("out-of-order", "edited-since-run", "never-run", "hidden-state")


@dataclass
class Flag:
    """One reason the notebook may not reproduce (docs/contracts.md, "Flags")."""

    kind: str
    cells: list[str]
    message: str
    fix: str
    severity: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.severity = self.severity or DEFAULT_SEVERITY[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "severity": self.severity, "cells": list(self.cells),
                "message": self.message, "fix": self.fix, "details": self.details}


@dataclass
class Cell:
    """A cell now on the page. ``index`` is its 0-based position among all cells (markdown included).

    ``source`` is redacted as recorded code is (``redacted``: it held something ``redact_code`` took out);
    ``outputs`` and ``errors`` are the text its saved outputs and error output show (empty live: the frontend
    sends no outputs)."""

    id: str
    index: int
    cell_type: str
    source: str
    execution_count: Optional[int] = None
    redacted: bool = False
    outputs: str = ""
    errors: str = ""
    output_hashes: tuple[str, ...] = ()  # what the recorder's output hash would be for what it shows (if known)

    @property
    def label(self) -> str:
        return f"cell {self.index + 1}"


@dataclass
class Execution:
    """One execution of the analysed session, mapped to the cell it came from (None: no cell now)."""

    seq: int
    cell: Optional[str]
    code: str
    execution_count: Optional[int]
    ok: bool
    facts: CodeFacts
    record: Optional[dict[str, Any]] = None
    writes: dict[str, Optional[str]] = field(default_factory=dict)  # name -> value key (None: unknown)
    seen: dict[str, Optional["Write"]] = field(default_factory=dict)  # name read -> the write it saw
    tags: frozenset[str] = frozenset()  # which rules have anything to look at here (computed once)

    def __post_init__(self) -> None:
        facts, record = self.facts, self.record or {}
        random = record.get("random") or {}
        tags = set()
        if facts.seeds or facts.random_draws or facts.unseeded_generators or random.get("unseeded_draw"):
            tags.add("random")
        if facts.imported_modules or record.get("modules") or facts.determinism or facts.gpu_uses:
            tags.add("gpu")
        if record.get("modules") or facts.installs:
            tags.add("environment")
        if record.get("files_read") or record.get("files_written"):
            tags.add("files")
        if record.get("network"):
            tags.add("network")
        self.tags = frozenset(tags)


@dataclass
class Write:
    """A binding, rebinding, mutation or deletion of a global name by one execution."""

    name: str
    execution: Execution
    key: Optional[str]
    seq: int = 0

    def __post_init__(self) -> None:
        self.seq = self.execution.seq

    def same_value_as(self, other: Optional["Write"]) -> bool:
        return other is not None and self.key is not None and self.key == other.key


@dataclass
class Context:
    """What the rules may know beyond the executions and the page."""

    environment: dict[str, Any] = field(default_factory=dict)  # the analysed session's, at its start
    previous_environment: Optional[dict[str, Any]] = None  # an earlier session of the same notebook
    current_environment: Optional[dict[str, Any]] = None  # where the check runs now (offline)
    snapshot_hashes: set[str] = field(default_factory=set)
    file_facts: Optional[Callable[[str], Any]] = None  # path -> hashing.FileFacts now
    notebook_dir: Optional[Path] = None
    have_journal: bool = True
    positions_known: bool = True
    notebook_metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Report:
    """The result of analysing one notebook (offline) or one live session."""

    flags: list[Flag]
    cells: list[Cell]
    notebook: Optional[str] = None
    journal: Optional[str] = None
    session_id: Optional[str] = None
    executions: int = 0
    not_judged: dict[str, str] = field(default_factory=dict)  # kind -> why it could not be judged

    @property
    def judged(self) -> list[str]:
        return [k for k in KINDS if k not in self.not_judged]

    def cell_kinds(self) -> dict[str, list[str]]:
        """``{cell_id: [kind, ...]}`` for the cell badges."""
        found: dict[str, list[str]] = {}
        for flag in self.flags:
            for cell in flag.cells:
                kinds = found.setdefault(cell, [])
                if flag.kind not in kinds:
                    kinds.append(flag.kind)
        return found

    def count(self, severity: str) -> int:
        return sum(1 for f in self.flags if f.severity == severity)

    def exit_code(self, fail_on: str = "warning") -> int:
        """0 when no flag is at or above ``fail_on`` (``none`` never fails), else 1."""
        if fail_on == "none":
            return 0
        threshold = SEVERITY_RANK[fail_on]
        return 1 if any(SEVERITY_RANK[f.severity] >= threshold for f in self.flags) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": REPORT_SCHEMA_VERSION,
            "notebook": self.notebook,
            "journal": self.journal,
            "session_id": self.session_id,
            "executions": self.executions,
            "flags": [f.to_dict() for f in self.flags],
            "cells": self.cell_kinds(),
            "cell_index": {c.id: c.index for c in self.cells},
            "judged": self.judged,
            "not_judged": dict(self.not_judged),
            "summary": {s: self.count(s) for s in reversed(SEVERITIES)},
        }
