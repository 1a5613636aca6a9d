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
    process_changed: Optional[list[str]] = None  # process-wide state the cell changed (None: not read)
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
            "process_changed": self.process_changed,
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


# -- shapes readers rely on ----------------------------------------------------------------------------------
# What is read back from a journal or a notebook was written by someone else's copy (a clone, an edit, another
# version): its shape is checked once, where it is read, so that the code past the reader can trust the types.
_TEXT = {"type": ["string", "null"]}
# A path some file system can name: no NUL byte, and no surrogate but the ones os.fsdecode makes of bytes that
# are not UTF-8 (U+DC80..U+DCFF); a recorder only lists paths that were opened.
_PATH = {"type": "string", "pattern": "^[^\x00\ud800-\udc7f\udd00-\udfff]*$"}
_PATH_OR_NULL = dict(_PATH, type=["string", "null"])  # (a pattern applies to text only)
_FILES = {"type": "array", "items": {"type": "object", "properties": {"path": _PATH, "rel": _PATH_OR_NULL}}}
SHAPES: dict[str, dict[str, Any]] = {
    # Beyond the shipped CellRecord schema, which leaves the items of random.generators and random.seeds open.
    # Beyond it too: the paths of files read and written, which the shipped schema takes as any text.
    "record-parts": {"type": "object", "properties": {"files_read": _FILES, "files_written": _FILES,
                                                      "random": {"type": "object", "properties": {
        "generators": {"type": "array", "items": {"type": "object", "properties": {
            "kind": _TEXT, "name": _TEXT, "seeded": {"type": "boolean"},
            "entropy": {"type": ["string", "integer", "null"]}}}},
        "seeds": {"type": "array", "items": {"type": "object"}}}}}},
    # A session's environment (core/environment.py capture_environment): every part optional, typed when there.
    "environment": {"type": "object", "properties": {
        "python": {"type": "object", "properties": {
            name: _TEXT for name in ("version", "implementation", "executable", "prefix", "hash_seed")}},
        "os": {"type": "object"},
        "machine": {"type": "object", "properties": {"gpus": {"type": ["array", "null"]}}},
        "kernel": {"type": "object", "additionalProperties": _TEXT},
        "notebook": _TEXT, "cwd": _TEXT, "fingerprint": _TEXT,
        "git": {"type": ["object", "null"], "properties": {
            **{name: _TEXT for name in ("root", "commit", "branch", "remote", "diff_hash", "error")},
            "dirty": {"type": "array"}, "untracked": {"type": ["integer", "null"]}}},
        "environment_variables": {"type": "object", "additionalProperties": _TEXT},
        "distributions": {"type": "object", "additionalProperties": _TEXT}}},
    # The saved copy in a notebook's metadata.repro (docs/contracts.md): its containers, then each item.
    "saved-copy": {"type": "object", "properties": {
        "status": {"type": "object", "properties": {"inputs": {"type": "array"}}},
        "flags": {"type": "array"},
        "cells": {"type": "object", "additionalProperties": {"type": "array"}}}},
    "saved-input": {"type": "object", "required": ["path"], "properties": {
        "path": _PATH, "abspath": _PATH_OR_NULL, "hash": _TEXT,
        "size": {"type": ["integer", "null"]}}},
    "saved-flag": {"type": "object", "required": ["kind"], "properties": {
        "kind": {"type": "string"}, "severity": _TEXT, "cells": {"type": "array"}, "message": {"type": "string"},
        "fix": {"type": "string"}, "details": {"type": ["object", "null"]}}},
}


@cache
def _fast_validator(name: str = "cell-record") -> Callable[[Any], Any]:
    """The CellRecord schema (or one of :data:`SHAPES`) compiled to Python (fastjsonschema, which nbformat
    brings): some microseconds a record, against a few hundred for jsonschema; jsonschema's compiled validator
    where it is missing."""
    schema = load_schema(name) if name == "cell-record" else SHAPES[name]
    try:
        import fastjsonschema
    except ImportError:
        import jsonschema

        checker = jsonschema.validators.validator_for(schema)(schema)
        return checker.validate
    return fastjsonschema.compile(schema)


def shape_problem(name: str, value: Any) -> Optional[str]:
    """What is wrong with ``value`` as the shape ``name`` (``cell-record`` or one of :data:`SHAPES`), in a few
    words; None when it has that shape."""
    try:
        _fast_validator(name)(value)
    except Exception as exc:  # fastjsonschema's JsonSchemaValueException, jsonschema's ValidationError
        text = " ".join(str(getattr(exc, "message", exc)).split()).replace(
            f"must match pattern {_PATH['pattern']}", "must be a path a file system can name")
        text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)  # a NUL, a surrogate: escaped
        return text if len(text) <= 160 else text[:157] + "..."
    return None


def record_problem(record: Any) -> Optional[str]:
    """What is wrong with ``record`` as a CellRecord, in a few words; None when it is one. Cheap enough to
    run on every record read from a journal."""
    if not isinstance(record, dict):
        return f"a JSON {type(record).__name__}, not an object"
    missing = [name for name in load_schema("cell-record")["required"] if name not in record]
    if missing:
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
        return f"no {', '.join(missing[:3])}{more}"
    return shape_problem("cell-record", record) or shape_problem("record-parts", record)


def environment_problem(environment: Any) -> Optional[str]:
    """What is wrong with ``environment`` as a session's environment (read back from a journal), in a few words
    that follow "its environment is"; None when its every part has the type the recorder writes."""
    if not isinstance(environment, dict):
        return f"a JSON {type(environment).__name__}, not an object"
    problem = shape_problem("environment", environment)
    return None if problem is None else f"not what the recorder writes ({problem})"


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
    copy"), or None when there is none of a version and shape this code reads.

    It is a cache of what the recording kernel knew, in a file anyone may edit: one whose ``status``,
    ``status.inputs``, ``flags`` or ``cells`` has another type is none; the items of ``status.inputs`` and
    ``flags`` that have another shape are left out of the copy returned (the rest is still carried)."""
    saved = metadata.get(SAVED_COPY_KEY) if isinstance(metadata, dict) else None
    if not isinstance(saved, dict) or saved.get("version") != SAVED_COPY_VERSION:
        return None
    if shape_problem("saved-copy", saved) is not None:
        return None
    found = dict(saved)
    if isinstance(saved.get("status"), dict) and "inputs" in saved["status"]:
        found["status"] = dict(saved["status"], inputs=[
            item for item in saved["status"]["inputs"] if shape_problem("saved-input", item) is None])
    if "flags" in saved:
        found["flags"] = [item for item in saved["flags"] if shape_problem("saved-flag", item) is None]
    return found
