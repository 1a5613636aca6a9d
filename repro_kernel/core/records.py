"""The CellRecord: what one execution of one cell left in the journal.

Records are plain JSON-able dictionaries at rest (in the journal, over the comm, in manifests); this module
builds them, names their fields once, and validates them against the shipped JSON Schema.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any, Optional

CELL_RECORD_SCHEMA_VERSION = 1


@dataclass
class FileAccess:
    """A file a cell read or wrote, with its content hash after the cell."""

    path: str
    rel: Optional[str]
    size: Optional[int]
    mtime: Optional[float]
    hash: Optional[str]
    error: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "rel": self.rel,
            "size": self.size,
            "mtime": self.mtime,
            "hash": self.hash,
            "error": self.error,
        }


@dataclass
class CellRecord:
    """One execution. Field meanings are documented in docs/contracts.md."""

    session_id: str
    seq: int
    execution_count: Optional[int]
    cell_id: Optional[str]
    code: str
    code_hash: str
    started_at: float
    duration_s: float = 0.0
    status: str = "ok"
    error: Optional[str] = None
    output_hash: Optional[str] = None
    defined: list[str] = field(default_factory=list)
    used: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    mutated: list[str] = field(default_factory=list)
    modules: list[dict[str, Any]] = field(default_factory=list)
    files_read: list[FileAccess] = field(default_factory=list)
    files_written: list[FileAccess] = field(default_factory=list)
    network: list[dict[str, Any]] = field(default_factory=list)
    random: dict[str, Any] = field(default_factory=dict)
    recorder_errors: list[str] = field(default_factory=list)
    namespace_changed: Optional[list[str]] = None
    redacted: bool = False  # a secret was removed from ``code``; ``code_hash`` is of the code as recorded

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": CELL_RECORD_SCHEMA_VERSION,
            "session_id": self.session_id,
            "seq": self.seq,
            "execution_count": self.execution_count,
            "cell_id": self.cell_id,
            "code": self.code,
            "code_hash": self.code_hash,
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "status": self.status,
            "error": self.error,
            "output_hash": self.output_hash,
            "defined": self.defined,
            "used": self.used,
            "deleted": self.deleted,
            "mutated": self.mutated,
            "modules": self.modules,
            "files_read": [f.to_dict() for f in self.files_read],
            "files_written": [f.to_dict() for f in self.files_written],
            "network": self.network,
            "random": self.random,
            "recorder_errors": self.recorder_errors,
            "namespace_changed": self.namespace_changed,
            "redacted": self.redacted,
        }


@cache
def load_schema(name: str) -> dict[str, Any]:
    """Load a JSON Schema shipped in ``repro_kernel/schemas/`` (e.g. ``cell-record``)."""
    text = resources.files("repro_kernel.schemas").joinpath(f"{name}.schema.json").read_text("utf-8")
    return json.loads(text)


def validate_record(record: dict[str, Any]) -> None:
    """Raise ``jsonschema.ValidationError`` if ``record`` does not match the CellRecord schema."""
    import jsonschema

    jsonschema.validate(record, load_schema("cell-record"))


SAVED_COPY_KEY = "repro"
SAVED_COPY_VERSION = 1


def saved_copy(metadata: Any) -> Optional[dict[str, Any]]:
    """The compact copy the sidebar keeps in a notebook's ``metadata.repro`` (docs/contracts.md, "Saved
    copy"), or None when there is none of a version this code reads."""
    saved = metadata.get(SAVED_COPY_KEY) if isinstance(metadata, dict) else None
    if isinstance(saved, dict) and saved.get("version") == SAVED_COPY_VERSION:
        return saved
    return None
