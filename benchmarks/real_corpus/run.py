"""Issue 11's evidence: real notebooks from PyPI sdists, recorded in real kernels top to bottom and in messy orders,
exported with the defaults, judged by our own comparison (compare.py) and by ``jupyter repro verify --json``.

    python benchmarks/real_corpus/run.py setup              # sdists into the cache, the pinned venv + kernelspec
    python benchmarks/real_corpus/run.py run [NAME ...] [--orders top,messy1,messy2,messy3] [--history-replay messy1]
    python benchmarks/real_corpus/run.py reexport [NAME ...] [--before UNIXTIME]  # export+judge again, no recording
    python benchmarks/real_corpus/run.py rejudge            # the own judgement again from the work folders
    python benchmarks/real_corpus/run.py report             # results/*.json -> results/summary.json + results.md

``run`` must run under the corpus venv's Python (``/work/corpus-venv/bin/python``; ``setup`` says so), one notebook
at a time (an entry's ``files``, beside the notebook in the sdist, are copied into its work folder first); each
(notebook, order) writes results/NAME__ORDER.json and is skipped next time unless ``--force``.
Work folders (journals, exports) go to ``--work`` (default /work/corpus-work), outside git.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from sdists import fetch  # noqa: E402

ROOT = HERE.parent.parent
CACHE = Path(os.environ.get("REPRO_CORPUS_CACHE", "/work/corpus-cache"))
VENV = Path(os.environ.get("REPRO_CORPUS_VENV", "/work/corpus-venv"))
KERNEL = "repro-corpus"
ORDERS = ("top", "messy1", "messy2", "messy3")
RESULTS = HERE / "results"
ENV = {"PYTHONHASHSEED": "0", "MPLCONFIGDIR": str(CACHE / "mplconfig")}


def catalog() -> dict[str, Any]:
    return json.loads((HERE / "notebooks.json").read_text())


def setup() -> None:
    """Fetch each sdist (sdists.py: pip, no build, a metadata-only stand-in backend; its sha256 checked), and
    build the venv from requirements.txt with the lock as constraints; install the kernelspec."""
    CACHE.mkdir(parents=True, exist_ok=True)
    for sdist in catalog()["sdists"]:
        fetch(sdist, CACHE)
    if not (VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run([*pip, "-r", str(HERE / "requirements.txt"), "-c", str(ROOT / "requirements" / "lock.txt")], check=True)
    subprocess.run([*pip, "-e", str(ROOT), "--no-deps"], check=True)
    subprocess.run([str(VENV / "bin" / "python"), "-m", "ipykernel", "install", "--prefix", str(VENV),
                    "--name", KERNEL, "--display-name", "repro corpus"], check=True)
    print(f"ready: run it with {VENV / 'bin' / 'python'} {Path(__file__)} run")


def source_notebook(entry: dict[str, Any]) -> Path:
    sdist = next(s for s in catalog()["sdists"] if s["package"] == entry["package"])
    return CACHE / "src" / sdist["root"] / entry["path"]


def run_one(entry: dict[str, Any], order: str, work: Path, history_replay: bool) -> dict[str, Any]:
    # The imports that need the corpus venv's packages (repro_kernel, nbclient) live in record.py.
    from record import judge_export, record

    name = entry["name"]
    folder = work / name / order
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    for name_ in entry.get("files", ()):  # the files the notebook reads beside it (images, data), as shipped
        shutil.copy2(source_notebook(entry).parent / name_, folder / name_)
    result: dict[str, Any] = {"notebook": name, "package": entry["package"], "path": entry["path"], "order": order}
    result.update(record(source_notebook(entry), folder, name, order, KERNEL, ENV))
    if result.get("record_error"):
        return result
    result.update(judge_export(folder, name, KERNEL, ENV, history_replay, result["window"]))
    return result


def run(args: argparse.Namespace) -> None:
    if Path(sys.prefix).resolve() != VENV.resolve():
        sys.exit(f"run this under the corpus venv: {VENV / 'bin' / 'python'} {' '.join(sys.argv)}")
    RESULTS.mkdir(exist_ok=True)
    entries = [e for e in catalog()["notebooks"] if not e.get("skip")]
    if args.names:
        entries = sorted((e for e in entries if e["name"] in args.names), key=lambda e: args.names.index(e["name"]))
    orders = args.orders.split(",")
    for entry in entries:
        for order in orders:
            out = RESULTS / f"{entry['name']}__{order}.json"
            if out.exists() and not args.force:
                continue
            top = RESULTS / f"{entry['name']}__top.json"
            if order != "top" and top.exists() and json.loads(top.read_text()).get("too_slow"):
                continue
            started = time.monotonic()
            want_history = args.history_replay in ("all", order)
            try:
                result = run_one(entry, order, Path(args.work), want_history)
            except Exception as exc:  # one notebook's trouble must not stop the corpus
                result = {"notebook": entry["name"], "order": order, "driver_error": f"{type(exc).__name__}: {exc}"}
            result["driver_seconds"] = round(time.monotonic() - started, 1)
            if order == "top" and result.get("record_seconds", 0) > args.slow:
                result["too_slow"] = True
            out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
            own = result.get("own", {})
            print(f"{entry['name']:45s} {order:7s} {result['driver_seconds']:6.1f}s "
                  f"own {own.get('reproduced', '?')}/{own.get('steps', '?')} verify={result.get('verify', {}).get('exit_code')}"
                  f" {result.get('record_error') or result.get('driver_error') or ''}", flush=True)


def reexport(args: argparse.Namespace) -> None:
    """The export and both judgements again from each recording kept in the work folder (no new recording)."""
    from record import judge_export

    for out in sorted(RESULTS.glob("*__*.json")):
        result = json.loads(out.read_text())
        if "own" not in result or (args.names and result["notebook"] not in args.names):
            continue
        if args.before is not None and out.stat().st_mtime >= args.before:
            continue
        folder = Path(args.work) / result["notebook"] / result["order"]
        started = time.monotonic()
        for key in ("own", "verify", "slice_export", "history_export", "slice_reasons"):
            result.pop(key, None)
        result.update(judge_export(folder, result["notebook"], KERNEL, ENV, False, result["window"]))
        result["reexported_seconds"] = round(time.monotonic() - started, 1)
        out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
        print(f"{result['notebook']:45s} {result['order']:7s} own {result['own']['reproduced']}/{result['own']['steps']} "
              f"verify={result['verify'].get('exit_code')} slice {result['slice_export'].get('steps')}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup")
    r = sub.add_parser("run")
    r.add_argument("names", nargs="*")
    r.add_argument("--orders", default=",".join(ORDERS))
    r.add_argument("--work", default="/work/corpus-work")
    r.add_argument("--force", action="store_true")
    r.add_argument("--slow", type=float, default=90.0, help="a top-to-bottom recording slower than this skips the rest")
    r.add_argument("--history-replay", default="messy1",
                   help="which order (or all, none) also replays the --mode history export (its replay seconds)")
    j = sub.add_parser("rejudge", help="recompute the own judgement from the work folders (no kernels)")
    j.add_argument("--work", default="/work/corpus-work")
    x = sub.add_parser("reexport", help="export, replay, judge and verify the recordings again (after a slice fix)")
    x.add_argument("names", nargs="*")
    x.add_argument("--work", default="/work/corpus-work")
    x.add_argument("--before", type=float, default=None, help="only results written before this Unix time")
    sub.add_parser("report")
    args = parser.parse_args()
    if args.command == "setup":
        setup()
    elif args.command == "run":
        run(args)
    elif args.command == "reexport":
        reexport(args)
    elif args.command == "rejudge":
        from record import rejudge

        for out in sorted(RESULTS.glob("*__*.json")):
            result = json.loads(out.read_text())
            if "own" in result:
                rejudge(Path(args.work) / result["notebook"] / result["order"], result["notebook"], result)
                out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    else:
        from report import report

        report(RESULTS, catalog())


if __name__ == "__main__":
    main()
