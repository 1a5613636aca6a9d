"""Drift corpus: real statsmodels 0.14.1 example notebooks recorded under an early-2024 stack, exported with the
defaults, then ``jupyter repro verify EXPORT --upgrade --json`` (every pin to its newest release; culprits named).

    python benchmarks/drift_corpus/run.py setup                    # sdist -> cache, the old venv + kernelspec
    /work/drift-old-venv/bin/python benchmarks/drift_corpus/run.py record [NAME ...]   # record + export (old venv)
    python benchmarks/drift_corpus/run.py verify [NAME ...]        # verify --upgrade --json with the repo's jupyter
    python benchmarks/drift_corpus/run.py fresh NAME               # verify --fresh-env timings: cold and warm
    python benchmarks/drift_corpus/run.py summary                  # results/*.json -> results/summary.json

Paths (all outside git): the venv REPRO_DRIFT_VENV (/work/drift-old-venv), the cache REPRO_DRIFT_CACHE
(/work/drift-cache: the sdist, unpacked, matplotlib's config), the work folder REPRO_DRIFT_WORK (/work/drift-work:
each notebook's recording, journal and export). Results (JSON) go to results/ beside this file. The recording
reuses benchmarks/real_corpus/record.py (``record``: nbclient-style real kernel, ``%load_ext repro_kernel`` +
``%repro start``, cell ids sent as JupyterLab does), imported, not copied.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
sys.path.insert(0, str(ROOT / "benchmarks" / "real_corpus"))

from sdists import fetch  # noqa: E402  (benchmarks/real_corpus/sdists.py)

CACHE = Path(os.environ.get("REPRO_DRIFT_CACHE", "/work/drift-cache"))
VENV = Path(os.environ.get("REPRO_DRIFT_VENV", "/work/drift-old-venv"))
WORK = Path(os.environ.get("REPRO_DRIFT_WORK", "/work/drift-work"))
JUPYTER = Path(os.environ.get("REPRO_DRIFT_JUPYTER", str(ROOT / ".venv" / "bin" / "jupyter")))
UV = shutil.which("uv") or str(ROOT / ".venv" / "bin" / "uv")
PYTHON = "/root/.pyenv/versions/3.11.7/bin/python"
KERNEL = "drift-old"
RESULTS = HERE / "results"
ENV = {"PYTHONHASHSEED": "0", "MPLCONFIGDIR": str(CACHE / "mplconfig")}
SDIST = {"package": "statsmodels", "version": "0.14.1", "file": "statsmodels-0.14.1.tar.gz",
         "root": "statsmodels-0.14.1",
         "sha256": "2260efdc1ef89f39c670a0bd8151b1d0843567781bcafec6cda0534eb47a94f6"}
# Offline notebooks of statsmodels 0.14.1's examples/notebooks, and what may drift in each (our guess before the
# run; the verdicts are in README.md).
NOTEBOOKS = {
    "chi2_fitting": "read_csv(delim_whitespace=True): deprecated in pandas 2.2, removed in 3.0",
    "tsa_dates": "date_range(freq='A-DEC'): the 'A' alias deprecated in pandas 2.2, removed in 3.0",
    "ets": "date_range(freq='AS'): deprecated in pandas 2.2, removed in 3.0; plots",
    "exponential_smoothing": "date_range(freq='A'): deprecated in pandas 2.2, removed in 3.0; plots",
    "deterministics": "period_range(freq='M'), deterministic terms",
    "statespace_forecasting": "period_range(freq='A'), date_range(freq='M'): removed aliases; plots",
    "stationarity_detrending_adf_kpss": "adfuller/kpss numbers, plots",
    "glm": "GLM summaries (likely unaffected)",
    "ols": "OLS summaries, plots (likely unaffected)",
    "predict": "OLS predict, formula (likely unaffected)",
}


def setup() -> None:
    """The sdist through pip without building it (a metadata-only stand-in for its setuptools backend), checked
    and unpacked; the venv from requirements-old.txt (uv, on pyenv's 3.11.7); jupyter-repro editable; the
    kernelspec inside the venv."""
    fetch(SDIST, CACHE)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([UV, "venv", "-q", "--python", PYTHON, str(VENV)], check=True)
    pip = [UV, "pip", "install", "-q", "--python", str(VENV / "bin" / "python")]
    subprocess.run([*pip, "-r", str(HERE / "requirements-old.txt")], check=True)
    subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
    subprocess.run([str(VENV / "bin" / "python"), "-m", "ipykernel", "install", "--prefix", str(VENV),
                    "--name", KERNEL, "--display-name", "drift corpus (old)"], check=True)
    print(f"ready: {VENV / 'bin' / 'python'} {Path(__file__)} record")


def source_notebook(name: str) -> Path:
    return CACHE / "src" / SDIST["root"] / "examples" / "notebooks" / f"{name}.ipynb"


def record_all(names: list[str], force: bool) -> None:
    if Path(sys.prefix).resolve() != VENV.resolve():
        sys.exit(f"run this under the old venv: {VENV / 'bin' / 'python'} {' '.join(sys.argv)}")
    from record import record  # benchmarks/real_corpus/record.py (needs this venv's nbclient, repro_kernel)

    RESULTS.mkdir(exist_ok=True)
    for name in names:
        out = RESULTS / f"{name}.record.json"
        if out.exists() and not force:
            continue
        folder = WORK / name
        if folder.exists():
            shutil.rmtree(folder)
        folder.mkdir(parents=True)
        result: dict[str, Any] = {"notebook": name, "source": f"{SDIST['root']}/examples/notebooks/{name}.ipynb",
                                  "expected": NOTEBOOKS.get(name)}
        result.update(record(source_notebook(name), folder, name, "top", KERNEL, ENV))
        if not result.get("record_error"):
            started = time.monotonic()
            done = subprocess.run([sys.executable, "-m", "repro_kernel.cli", "export", f"{name}.ipynb", "--force"],
                                  cwd=folder, capture_output=True, text=True, timeout=1800)
            result["export"] = {"exit_code": done.returncode, "seconds": round(time.monotonic() - started, 2),
                                "stdout": done.stdout.strip()[-500:], "stderr": done.stderr.strip()[-1500:]}
            manifest = folder / f"{name}.repro" / "manifest.json"
            if manifest.exists():
                body = json.loads(manifest.read_text())
                result["export"]["steps"] = len(body.get("steps") or [])
                result["export"]["requirements"] = body.get("requirements")
        out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        print(f"{name:36s} cells {result.get('cells')} raised {result.get('cells_raised')} "
              f"{result.get('record_seconds')}s export={result.get('export', {}).get('exit_code')} "
              f"steps={result.get('export', {}).get('steps')} {result.get('record_error') or ''}", flush=True)


def _verify(args: list[str], env: dict[str, str], timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    try:
        done = subprocess.run([str(JUPYTER), "repro", "verify", *args, "--json"], capture_output=True, text=True,
                              timeout=timeout, env={**os.environ, **ENV, **env})
    except subprocess.TimeoutExpired:
        return {"timed_out": True, "seconds": round(time.monotonic() - started, 1)}
    out: dict[str, Any] = {"exit_code": done.returncode, "seconds": round(time.monotonic() - started, 1),
                           "stderr": done.stderr.strip()[-3000:]}
    try:
        out["report"] = json.loads(done.stdout)
    except json.JSONDecodeError:
        out["stdout"] = done.stdout.strip()[-3000:]
    return out


def verify_all(names: list[str], force: bool, timeout: float) -> None:
    for name in names:
        out = RESULTS / f"{name}.upgrade.json"
        if out.exists() and not force:
            continue
        export = WORK / name / f"{name}.repro"
        if not export.exists():
            print(f"{name}: no export (record it first)")
            continue
        result = {"notebook": name, "command": f"jupyter repro verify {export} --upgrade --json",
                  **_verify([str(export), "--upgrade"], {}, timeout)}
        out.write_text(json.dumps(result, indent=1) + "\n")
        report = result.get("report") or {}
        drift = [f"{d['package']} {d['recorded']}->{d['replayed']}: {d['steps']}" for d in report.get("drift") or []
                 if d.get("steps")]
        print(f"{name:36s} exit {result.get('exit_code')} {result['seconds']}s counts {report.get('counts')} "
              f"blamed {drift} unexplained {report.get('drift_unexplained_steps')}", flush=True)


def fresh(name: str, timeout: float) -> None:
    """verify --fresh-env on one export: both caches empty (uv's and ours), uv's warm with ours empty, both warm."""
    export = str(WORK / name / f"{name}.repro")
    runs: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="drift-fresh-") as tmp:
        envs, uv_cache = Path(tmp) / "envs", Path(tmp) / "uv"
        runs["cold (empty uv cache, no environment)"] = _verify(
            [export, "--fresh-env"], {"JUPYTER_REPRO_ENV_CACHE": str(envs), "UV_CACHE_DIR": str(uv_cache)}, timeout)
        runs["warm (environment built)"] = _verify(
            [export, "--fresh-env"], {"JUPYTER_REPRO_ENV_CACHE": str(envs), "UV_CACHE_DIR": str(uv_cache)}, timeout)
        runs["uv cache warm, new environment"] = _verify(
            [export, "--fresh-env"], {"JUPYTER_REPRO_ENV_CACHE": str(Path(tmp) / "envs2"),
                                      "UV_CACHE_DIR": str(uv_cache)}, timeout)
    runs["plain verify (old venv's kernel)"] = _verify([export, "--kernel", KERNEL], {
        "JUPYTER_PATH": str(VENV / "share" / "jupyter")}, timeout)
    summary = {}
    for label, run in runs.items():
        report = run.pop("report", {}) or {}
        environment = report.get("environment") or {}
        summary[label] = {**run, "counts": report.get("counts"), "replay_seconds": report.get("replay_seconds"),
                          "build_seconds": environment.get("build_seconds"), "cached": environment.get("cached"),
                          "installed": len(environment.get("installed") or [])}
        print(f"{label:40s} {run.get('seconds')}s build {environment.get('build_seconds')} "
              f"replay {report.get('replay_seconds')} counts {report.get('counts')}", flush=True)
    (RESULTS / f"{name}.fresh.json").write_text(json.dumps({"notebook": name, "runs": summary}, indent=1) + "\n")


def summary() -> None:
    rows = []
    for name in NOTEBOOKS:
        rec = RESULTS / f"{name}.record.json"
        up = RESULTS / f"{name}.upgrade.json"
        if not rec.exists():
            continue
        r = json.loads(rec.read_text())
        row: dict[str, Any] = {"notebook": name, "cells": r.get("cells"), "cells_raised": r.get("cells_raised"),
                               "record_seconds": r.get("record_seconds"), "steps": r.get("export", {}).get("steps")}
        if up.exists():
            u = json.loads(up.read_text())
            report = u.get("report") or {}
            row.update(verify_exit=u.get("exit_code"), verify_seconds=u.get("seconds"), counts=report.get("counts"),
                       baseline=report.get("baseline"), unexplained=report.get("drift_unexplained_steps"),
                       culprits={f"{d['package']} {d['recorded']} -> {d['replayed']}": d["steps"]
                                 for d in report.get("drift") or [] if d.get("steps")},
                       differing={s["index"]: f"{s['outcome']}: {(s.get('detail') or '')[:200]}"
                                  for s in report.get("steps") or [] if s.get("outcome") != "reproduced"})
        rows.append(row)
    (RESULTS / "summary.json").write_text(json.dumps(rows, indent=1) + "\n")
    for row in rows:
        print(json.dumps(row)[:1500])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup")
    for command in ("record", "verify"):
        p = sub.add_parser(command)
        p.add_argument("names", nargs="*")
        p.add_argument("--force", action="store_true")
        p.add_argument("--timeout", type=float, default=1500)
    f = sub.add_parser("fresh")
    f.add_argument("name")
    f.add_argument("--timeout", type=float, default=1500)
    sub.add_parser("summary")
    args = parser.parse_args()
    if args.command == "setup":
        setup()
    elif args.command == "record":
        record_all(args.names or list(NOTEBOOKS), args.force)
    elif args.command == "verify":
        verify_all(args.names or list(NOTEBOOKS), args.force, args.timeout)
    elif args.command == "fresh":
        fresh(args.name, args.timeout)
    else:
        summary()


if __name__ == "__main__":
    main()
