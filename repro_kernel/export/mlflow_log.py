"""Log an export folder as an MLflow run (``jupyter repro export NB --mlflow [TRACKING_URI]``).

The run carries what a reader of the experiment needs to trust a result: the seeds the session set and the
git commit it ran at (params and tags, including MLflow's own ``mlflow.source.*`` tags), the parameters papermill
ran it with (the manifest's ``parameters``, as params under their own names), and the export's
``manifest.json``, ``replay.py`` and ``requirements.txt`` as artifacts. Every param, tag and artifact passes
through the export's secret scanner (:mod:`repro_kernel.core.secrets`) first: an artifact that holds one (an
export folder edited by hand) is logged as a redacted copy. MLflow is an optional extra
(``pip install jupyter-repro[mlflow]``); nothing here is imported unless the option is used.

Where the run goes: the URI given, else ``MLFLOW_TRACKING_URI``, else a local SQLite store beside the
notebook (``mlflow.db``, artifacts in ``mlruns/``), which is what ``mlflow ui`` opens when started in that
folder. The experiment is ``MLFLOW_EXPERIMENT_NAME`` or ``jupyter-repro``. Each input the manifest hashed is
logged as an MLflow dataset (name, digest, source). ``jupyter repro verify DIR --mlflow`` logs what verify found
(steps reproduced, differing, failed, not run) as metrics to the run of that export (found by the manifest's
seal, tag ``repro.manifest.sha256``; a new run when the export was never logged).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from repro_kernel._version_info import version
from repro_kernel.analysis.sessions import find_journal
from repro_kernel.core.gitsafe import GitFailed, SafeGit
from repro_kernel.core.notebook import read_notebook
from repro_kernel.core.secrets import Scanner
from repro_kernel.exceptions import BadInputError, ReproError

DEFAULT_EXPERIMENT = "jupyter-repro"
STORE_NAME = "mlflow.db"
ARTIFACTS_NAME = "mlruns"
ARTIFACTS = ("manifest.json", "replay.py", "requirements.txt")
_PARAM_VALUE_LIMIT = 6000  # MLflow's limit on a param value
INSTALL_HINT = "pip install 'jupyter-repro[mlflow]'"


class MlflowMissingError(ReproError):
    """MLflow (or the SQLite support of the local store) is not installed."""


class MlflowLogError(ReproError):
    """The tracking server or store refused the run."""

    exit_code = 1


@dataclass
class LoggedRun:
    """Where an export was logged."""

    run_id: str
    experiment_id: str
    tracking_uri: str
    artifact_uri: str


def require_mlflow(tracking_uri: Optional[str] = None) -> None:
    """Raise :class:`MlflowMissingError` (one line) unless MLflow can log to ``tracking_uri``."""
    try:
        import mlflow  # noqa: F401
    except ImportError as exc:
        raise MlflowMissingError(
            f"--mlflow needs MLflow, which is not installed ({exc.name or 'mlflow'} is missing)",
            hint=INSTALL_HINT,
        ) from exc
    if (tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or "sqlite:").startswith("sqlite:"):
        try:
            import alembic  # noqa: F401
            import sqlalchemy  # noqa: F401
        except ImportError as exc:
            raise MlflowMissingError(
                f"MLflow's local SQLite store needs {exc.name}, which is not installed",
                hint=f"{INSTALL_HINT}, or pass --mlflow=http://your-tracking-server",
            ) from exc


def default_tracking_uri(notebook_dir: Path) -> str:
    """``MLFLOW_TRACKING_URI`` if set, else a SQLite store in ``notebook_dir``."""
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return "sqlite:///" + str((Path(notebook_dir) / STORE_NAME).resolve())


def _local_store_dir(tracking_uri: str) -> Optional[Path]:
    """The folder of a local SQLite store (its artifacts go beside it), or None for other stores."""
    if tracking_uri.startswith("sqlite:///"):
        path = tracking_uri[len("sqlite:///"):]
        return Path(path if path.startswith("/") else Path.cwd() / path).resolve().parent
    return None


@contextmanager
def _quiet() -> Iterator[None]:
    """MLflow, SQLAlchemy and Alembic chatter (INFO logs, deprecations) is not the user's business here."""
    loggers = [logging.getLogger(name) for name in ("mlflow", "alembic", "sqlalchemy")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.WARNING)
    try:
        with warnings.catch_warnings():
            for category in (DeprecationWarning, PendingDeprecationWarning, FutureWarning, UserWarning):
                warnings.simplefilter("ignore", category)
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _seeds(manifest: dict[str, Any], notebook: Optional[Path]) -> list[str]:
    """Each seed the replayed steps set, as ``step N: call(value)``, read from the session's journal."""
    if notebook is None:
        return []
    replayed = next((s.get("session_id") for s in manifest.get("sessions") or [] if s.get("replayed")), None)
    try:  # where the recorder wrote it (beside the notebook, or where papermill's kernel ran)
        journal = find_journal(notebook, read_notebook(notebook), replayed if isinstance(replayed, str) else None)
    except ReproError:
        return []
    try:
        wanted = {(s.get("session_id"), s.get("seq")): s["index"] for s in manifest.get("steps", [])}
        found = []
        for session_id in {key[0] for key in wanted if key[0]}:
            for record in journal.executions(session_id=session_id):
                index = wanted.get((session_id, record.get("seq")))
                if index is None:
                    continue
                for seed in (record.get("random") or {}).get("seeds") or []:
                    found.append((index, f"step {index}: {seed.get('call')}({seed.get('value')})"))
        return [text for _, text in sorted(found)]
    finally:
        journal.close()


def run_contents(directory: Path, notebook: Optional[Path] = None) -> tuple[dict[str, str], dict[str, str]]:
    """The params and tags an export is logged with (pure: no MLflow needed)."""
    manifest = json.loads((Path(directory) / "manifest.json").read_text("utf-8"))
    git = manifest.get("git") or {}
    env = manifest.get("environment") or {}
    steps = manifest.get("steps") or []
    seeds = _seeds(manifest, notebook)
    unseeded = [s["index"] for s in steps if any(not g.get("seeded", True) for g in s.get("generators") or [])]
    flags = manifest.get("flags") or []
    params = {
        "repro.mode": manifest.get("mode"),
        "repro.steps": len(steps),
        "repro.seeds": "; ".join(seeds) if seeds else "none",
        "repro.hash_seed": manifest.get("hash_seed"),
        "repro.unseeded_generator_steps": ",".join(map(str, unseeded)) or "none",
        "repro.inputs": len(manifest.get("inputs") or []),
        "python.version": (env.get("python") or {}).get("version"),
        "git.commit": git.get("commit"),
    }
    for req in manifest.get("requirements") or []:
        params[f"requirement.{req['distribution']}"] = req.get("version") or "unpinned"
    # papermill's parameters under their own names (identifiers: no clash with the dotted names above)
    for name, value in (manifest.get("parameters") or {}).items():
        params[str(name)] = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    notebook_info = manifest.get("notebook") or {}
    tags = {
        "mlflow.source.type": "NOTEBOOK",
        "mlflow.source.name": notebook_info.get("path") or notebook_info.get("name"),
        "mlflow.source.git.commit": git.get("commit"),
        "mlflow.source.git.branch": git.get("branch"),
        "mlflow.source.git.repoURL": git.get("remote"),
        "repro.git.dirty": str(bool(git.get("dirty"))).lower() if git else None,
        "repro.notebook.sha256": notebook_info.get("sha256"),
        "repro.manifest.sha256": (manifest.get("integrity") or {}).get("manifest"),
        "repro.generator": f"jupyter-repro {version}",
        "repro.recorded": str(bool(manifest.get("recorded"))).lower(),
        "repro.flags": ",".join(sorted({f.get("kind", "?") for f in flags})) or "none",
        "repro.export_dir": str(Path(directory).resolve()),
    }
    scanner = Scanner.for_export()
    clean_params = {k: scanner.scan(str(v))[0][:_PARAM_VALUE_LIMIT] for k, v in params.items() if v is not None}
    clean_tags = {k: scanner.scan(str(v))[0] for k, v in tags.items() if v not in (None, "")}
    return clean_params, clean_tags


def _clean_artifact(path: Path, scratch: Path) -> Path:
    """``path``, or a redacted copy of it in ``scratch`` when the scanner finds a secret in it."""
    text = path.read_text("utf-8", errors="replace")
    scanner = Scanner.for_export()
    if path.suffix == ".json":
        try:
            document = json.loads(text)
        except ValueError:
            new = scanner.scan(text)[0]
        else:
            clean, findings = scanner.scan_json(document)
            new = json.dumps(clean, indent=1, ensure_ascii=False, sort_keys=True) + "\n" if findings else text
    else:
        new = scanner.scan(text, code=path.suffix == ".py")[0]
    if new == text:
        return path
    copy = scratch / path.name
    copy.write_text(new, "utf-8")
    return copy


def log_export(
    directory: Path | str,
    *,
    notebook: Optional[Path | str] = None,
    tracking_uri: Optional[str] = None,
    experiment: Optional[str] = None,
) -> LoggedRun:
    """Log the export folder ``directory`` as one finished MLflow run and say where it went."""
    directory = Path(directory).resolve()
    if not (directory / "manifest.json").is_file():
        raise BadInputError(f"{directory} holds no manifest.json", hint="export the notebook first")
    notebook_path = Path(notebook).resolve() if notebook else None
    uri = tracking_uri or default_tracking_uri(notebook_path.parent if notebook_path else directory.parent)
    require_mlflow(uri)
    params, tags = run_contents(directory, notebook_path)
    experiment = experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_EXPERIMENT
    with _quiet():
        from mlflow import MlflowClient
        from mlflow.entities import Param, RunTag
        from mlflow.exceptions import MlflowException

        try:
            client = MlflowClient(tracking_uri=uri)
            found = client.get_experiment_by_name(experiment)
            if found is not None:
                experiment_id = found.experiment_id
            else:
                store_dir = _local_store_dir(uri)
                location = (store_dir / ARTIFACTS_NAME).as_uri() if store_dir else None
                experiment_id = client.create_experiment(experiment, artifact_location=location)
            run = client.create_run(experiment_id, run_name=f"{directory.name} ({params['repro.mode']})")
            run_id = run.info.run_id
            client.log_batch(run_id, params=[Param(k, v) for k, v in params.items()],
                             tags=[RunTag(k, v) for k, v in tags.items()])
            datasets = _datasets(directory)
            if datasets:
                client.log_inputs(run_id, datasets=datasets)
            with tempfile.TemporaryDirectory(prefix="repro-mlflow-") as scratch:
                for name in ARTIFACTS:
                    if (directory / name).is_file():
                        client.log_artifact(run_id, str(_clean_artifact(directory / name, Path(scratch))))
            client.set_terminated(run_id)
            artifact_uri = client.get_run(run_id).info.artifact_uri
        except MlflowException as exc:
            message = " ".join(str(exc).split())[:200]
            raise MlflowLogError(f"MLflow could not log the export to {uri} ({message})",
                                 hint="check the tracking URI, or omit it to use the local store") from exc
    return LoggedRun(run_id=run_id, experiment_id=experiment_id, tracking_uri=uri, artifact_uri=artifact_uri)


def _manifest_digest(directory: Path) -> str:
    """The export's seal of its manifest (the run's ``repro.manifest.sha256`` tag)."""
    manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
    return str((manifest.get("integrity") or {}).get("manifest") or "")


def _datasets(directory: Path) -> list[Any]:
    """The manifest's hashed inputs as MLflow dataset inputs (the digest is the content hash, cut to the 36
    characters MLflow keeps; names and sources pass the secret scanner like every param)."""
    from mlflow.entities import Dataset, DatasetInput

    manifest = json.loads((directory / "manifest.json").read_text("utf-8"))
    scanner = Scanner.for_export()
    found = []
    for item in manifest.get("inputs") or ():
        digest, path = item.get("hash"), item.get("path") or item.get("rel")
        if isinstance(digest, str) and isinstance(path, str):
            name = scanner.scan(path)[0]
            found.append(DatasetInput(Dataset(name=name, digest=digest.split(":", 1)[-1][:36], source_type="local",
                                              source=json.dumps({"uri": name}))))
    return found


def log_verify(
    directory: Path | str,
    counts: dict[str, int],
    *,
    exit_code: int,
    seconds: float,
    tracking_uri: Optional[str] = None,
) -> LoggedRun:
    """Log what ``jupyter repro verify`` found as metrics of the export's run (logged first when it never was)."""
    directory = Path(directory).resolve()
    uri = tracking_uri or default_tracking_uri(directory.parent)
    require_mlflow(uri)
    digest = _manifest_digest(directory)
    with _quiet():
        from mlflow import MlflowClient
        from mlflow.entities import Metric, RunTag
        from mlflow.exceptions import MlflowException

        try:
            client = MlflowClient(tracking_uri=uri)
            runs = client.search_runs(
                [e.experiment_id for e in client.search_experiments()],
                filter_string=f"tags.`repro.manifest.sha256` = '{digest}'", max_results=1)
        except MlflowException as exc:
            raise MlflowLogError(f"MLflow could not search {uri} ({' '.join(str(exc).split())[:200]})",
                                 hint="check the tracking URI, or omit it to use the local store") from exc
    logged = (LoggedRun(runs[0].info.run_id, runs[0].info.experiment_id, uri, runs[0].info.artifact_uri) if runs
              else log_export(directory, tracking_uri=uri))
    with _quiet():
        try:
            now = int(__import__("time").time() * 1000)
            total = sum(counts.values())
            metrics = {f"verify.{k.replace('-', '_')}": float(v) for k, v in counts.items()}
            metrics.update({"verify.steps": float(total), "verify.exit_code": float(exit_code),
                            "verify.seconds": float(seconds)})
            client.log_batch(logged.run_id, metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
                             tags=[RunTag("repro.verified", "true" if exit_code == 0 else "false")])
        except MlflowException as exc:
            raise MlflowLogError(f"MLflow could not log the verify results to {uri} "
                                 f"({' '.join(str(exc).split())[:200]})", hint="check the tracking URI") from exc
    return logged


def untracked_store_note(tracking_uri: str) -> Optional[str]:
    """A note when the local store (``mlflow.db``, ``mlruns/``) sits in a git repository that does not ignore it."""
    store = _local_store_dir(tracking_uri)
    git = SafeGit.open(store) if store is not None else None
    if git is None or store is None:
        return None
    try:
        ignored = git.text("check-ignore", str(store / STORE_NAME), ok=(0, 1)).strip()
    except GitFailed:
        return None
    if ignored:
        return None
    return (f"the MLflow store {store / STORE_NAME} (and {ARTIFACTS_NAME}/) is in a git repository that does not "
            f"ignore it: add `{STORE_NAME}` and `{ARTIFACTS_NAME}/` to .gitignore, or pass --mlflow URI")
