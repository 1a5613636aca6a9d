"""The CellRecord: what one execution of one cell left in the journal.

Records are plain JSON-able dictionaries at rest (in the journal, over the comm, in manifests); this module
builds them, names their fields once, and validates them against the shipped JSON Schema.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
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
    pending: bool = False  # the hash is left to the recorder's background worker (``hash`` is null until then)

    def to_dict(self) -> dict[str, Any]:
        found = {
            "path": self.path,
            "rel": self.rel,
            "size": self.size,
            "mtime": self.mtime,
            "hash": self.hash,
            "error": self.error,
        }
        if self.pending:
            found["pending"] = True
        return found


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


@cache
def _fast_validator() -> Callable[[Any], Any]:
    """The CellRecord schema compiled to Python (fastjsonschema, which nbformat brings): some microseconds a
    record, against a few hundred for jsonschema; jsonschema's compiled validator where it is missing."""
    schema = load_schema("cell-record")
    try:
        import fastjsonschema
    except ImportError:
        import jsonschema

        checker = jsonschema.validators.validator_for(schema)(schema)
        return checker.validate
    return fastjsonschema.compile(schema)


def record_problem(record: Any) -> Optional[str]:
    """What is wrong with ``record`` as a CellRecord, in a few words; None when it is one. Cheap enough to
    run on every record read from a journal."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    missing = [name for name in load_schema("cell-record")["required"] if name not in record]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        return f"no {', '.join(missing[:3])}{more}"
    try:
        _fast_validator()(record)
    except Exception as exc:  # fastjsonschema's JsonSchemaValueException, jsonschema's ValidationError
        text = " ".join(str(getattr(exc, "message", exc)).split())
        return text if len(text) <= 160 else text[:157] + "..."
    return None


def pending_paths(record: dict[str, Any]) -> list[str]:
    """The files of ``record`` whose hash the recorder's background worker has not written yet."""
    return [f["path"] for kind in ("files_read", "files_written") for f in record.get(kind) or ()
            if isinstance(f, dict) and f.get("pending")]


def complete_hashes(record: dict[str, Any], hashes: Mapping[str, Optional[str]],
                    errors: Optional[Mapping[str, str]] = None) -> int:
    """Put the hashes that landed into ``record``'s pending file entries (``hashes``: path -> hash, or None
    with the reason in ``errors``); returns how many entries were completed. Each entry is replaced whole, in
    one assignment, so a reader on another thread sees it pending or complete, never half-way."""
    done = 0
    for kind in ("files_read", "files_written"):
        files = record.get(kind) or []
        for index, entry in enumerate(files):
            if not (isinstance(entry, dict) and entry.get("pending") and entry.get("path") in hashes):
                continue
            path = entry["path"]
            complete = {k: v for k, v in entry.items() if k != "pending"}
            complete["hash"] = hashes[path]
            if hashes[path] is None:
                complete["error"] = (errors or {}).get(path) or "not hashed"
            files[index] = complete
            done += 1
    return done


SAVED_COPY_KEY = "repro"
SAVED_COPY_VERSION = 1


def saved_copy(metadata: Any) -> Optional[dict[str, Any]]:
    """The compact copy the sidebar keeps in a notebook's ``metadata.repro`` (docs/contracts.md, "Saved
    copy"), or None when there is none of a version this code reads."""
    saved = metadata.get(SAVED_COPY_KEY) if isinstance(metadata, dict) else None
    if isinstance(saved, dict) and saved.get("version") == SAVED_COPY_VERSION:
        return saved
    return None
