"""The export manifest: schema validation and the integrity seal that catches tampering.

The manifest is validated against ``schemas/manifest.schema.json`` (``schema_version`` 1) when written and
when read. Its ``integrity`` block holds the SHA-256 of the canonical manifest (itself excluded) and of every
file the replay depends on (script, notebook, runtime, random states; bundled data files are checked
against the content hashes the manifest lists for its inputs), so a hand-edited manifest, script, state or
data file is reported in one line instead of replaying something else. The seal detects
edits, not forgery: anyone can recompute it, so treat an export from someone else as you treat their code.
"""

from __future__ import annotations

import hashlib
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from repro_kernel.core.paths import inside, open_regular
from repro_kernel.core.records import load_schema
from repro_kernel.exceptions import BadInputError, ManifestError
from repro_kernel.runtime import file_digest

MANIFEST_SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"


def canonical(manifest: dict[str, Any]) -> bytes:
    """The bytes the seal covers: sorted-key JSON without the integrity block's own digest.

    A lone surrogate (``"\\udcff"`` in the JSON text) is sealed as its own code unit rather than refused, so
    a manifest that holds one is judged by its seal like any other."""
    body = dict(manifest)
    integrity = dict(body.get("integrity") or {})
    integrity.pop("manifest", None)
    body["integrity"] = integrity
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8",
                                                                                            "surrogatepass")


def sha256_file(path: Path) -> str:
    return file_digest(path, "sha256").split(":", 1)[1]


def seal(manifest: dict[str, Any], folder: Path, files: list[str]) -> dict[str, Any]:
    """Fill ``manifest['integrity']`` for ``files`` (paths relative to ``folder``) and the manifest itself."""
    return seal_digests(manifest, {rel: sha256_file(folder / rel) for rel in files})


def seal_bytes(manifest: dict[str, Any], contents: dict[str, bytes]) -> dict[str, Any]:
    """:func:`seal` for files still in memory (the nbconvert exporter), by relative path."""
    return seal_digests(manifest, {rel: hashlib.sha256(data).hexdigest() for rel, data in contents.items()})


def seal_digests(manifest: dict[str, Any], digests: dict[str, str]) -> dict[str, Any]:
    """Fill ``manifest['integrity']`` from the files' SHA-256 digests, then seal the manifest itself."""
    manifest["integrity"] = {"algorithm": "sha256", "files": dict(sorted(digests.items()))}
    manifest["integrity"]["manifest"] = hashlib.sha256(canonical(manifest)).hexdigest()
    return manifest


@lru_cache(maxsize=1)
def _fast_validator() -> Any:
    """fastjsonschema's compiled validator (the schema uses only draft-07 keywords), or None."""
    try:
        import fastjsonschema
    except ImportError:
        return None
    schema = dict(load_schema("manifest"), **{"$schema": "http://json-schema.org/draft-07/schema#"})
    return fastjsonschema.compile(schema)


def validate_manifest(manifest: Any, where: str = "manifest.json") -> None:
    """Raise :class:`ManifestError` (one line) if ``manifest`` does not match the shipped schema.

    A compiled validator checks a 1,000-step manifest in milliseconds; jsonschema (the reference) runs when
    it fails, to name the best-matching error.
    """
    import jsonschema

    if not isinstance(manifest, dict):
        raise ManifestError(f"{where} is not a JSON object", hint="export the notebook again")
    version = manifest.get("schema_version")
    if version != MANIFEST_SCHEMA_VERSION:
        raise ManifestError(
            f"{where} has schema_version {version!r}; this jupyter-repro reads {MANIFEST_SCHEMA_VERSION}",
            hint="export again with this version, or install the jupyter-repro that wrote it",
        )
    fast = _fast_validator()
    if fast is not None:
        try:
            fast(manifest)
            return
        except Exception:
            pass  # fall through to the reference validator for a precise message
    validator = jsonschema.Draft202012Validator(load_schema("manifest"))
    error = jsonschema.exceptions.best_match(validator.iter_errors(manifest))
    if error is not None:
        at = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise ManifestError(
            f"{where} does not match the manifest schema at {at}: {error.message[:160]}",
            hint="the manifest was edited or truncated; export the notebook again",
        )


def _regular_inside(folder: Path, rel: str, what: str) -> Path:
    """``folder / rel`` for reading, refused (one ManifestError line) when links take it out of the folder."""
    try:
        return inside(Path(folder), rel, what=what, hint="the export folder was crafted or edited: export again")
    except BadInputError as exc:
        raise ManifestError(exc.message, hint=exc.hint) from None


def _refuse_nul_in_paths(manifest: dict[str, Any], where: str) -> None:
    """A path with a NUL byte cannot name a file (the OS refuses it with a ValueError, not an OSError)."""
    named = [*manifest["integrity"]["files"], *manifest["replay"].values(),
             *(item.get(key) for item in manifest["inputs"] for key in ("bundled", "rel", "abspath", "path"))]
    bad = next((name for name in named if isinstance(name, str) and "\0" in name), None)
    if bad is not None:
        raise ManifestError(f"{where} names the path {bad!r}, which holds a NUL byte",
                            hint="the manifest was crafted or edited: export the notebook again")


def load_manifest(folder: Path, *, check_files: bool = True) -> dict[str, Any]:
    """Read, validate and integrity-check ``folder/manifest.json``; every failure is one ManifestError line.

    Only regular files inside ``folder`` are read (a link out of it, a FIFO or a folder is refused), and the
    files the replay runs (``replay.notebook``, ``replay.runtime``) must be ones the seal lists.
    """
    path = Path(folder) / MANIFEST_NAME
    if not os.path.lexists(path):
        raise ManifestError(
            f"{folder} has no {MANIFEST_NAME}", hint="pass a folder written by `jupyter repro export`"
        )
    try:
        with open_regular(_regular_inside(folder, MANIFEST_NAME, "manifest")) as handle:
            data = handle.read()
    except OSError as exc:
        raise ManifestError(f"{path} cannot be read ({exc.strerror or exc})",
                            hint="pass a folder written by `jupyter repro export`, or export again") from None
    try:
        manifest = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # ValueError: JSON, or a 5000-digit number
        what = "nested too deeply" if isinstance(exc, RecursionError) else " ".join(str(exc).split())[:160]
        raise ManifestError(
            f"{path} is not valid JSON ({what})", hint="the manifest was truncated or edited; export again"
        ) from None
    validate_manifest(manifest, str(path))
    _refuse_nul_in_paths(manifest, str(path))
    integrity = manifest["integrity"]
    if hashlib.sha256(canonical(manifest)).hexdigest() != integrity["manifest"]:
        raise ManifestError(
            f"{path} was modified after export (its integrity hash does not match)",
            hint="export the notebook again rather than editing the manifest",
        )
    for role in ("notebook", "runtime"):
        named = manifest["replay"][role]
        if named not in integrity["files"]:
            raise ManifestError(f"{path} names {named!r} as the replay's {role}, a file its seal does not cover",
                                hint="export the notebook again rather than editing the manifest")
    if check_files:
        for rel, expected in sorted(integrity["files"].items()):
            target = _regular_inside(folder, rel, "sealed file")
            if not os.path.lexists(target):
                raise ManifestError(
                    f"{Path(folder) / rel} is missing from the export", hint="copy the whole folder, or export again"
                )
            try:
                actual = sha256_file(target)
            except OSError as exc:
                raise ManifestError(f"{Path(folder) / rel} cannot be read ({exc.strerror or exc})",
                                    hint="copy the whole folder again, or export again") from None
            if actual != expected:
                raise ManifestError(
                    f"{Path(folder) / rel} was modified after export (sha256 {actual[:12]}..., "
                    f"manifest says {expected[:12]}...)",
                    hint="export the notebook again rather than editing the replay",
                )
    return manifest
