"""Corpus reproduction rate: record each corpus notebook in a real kernel in a scrambled order, export it
(history and slice modes), verify it in a fresh kernel, and count the steps that reproduce identically.

    python benchmarks/export_corpus.py [--count 30] [--out DIR] [--json results.json]

Prints one line per notebook and the totals; every step that does not reproduce is listed with its diff.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.export.corpus.notebooks import corpus  # noqa: E402
from tests.export.corpus.run import evaluate, record  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=30)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--modes", default="history,slice")
    args = parser.parse_args()
    base = args.out or Path(tempfile.mkdtemp(prefix="repro-corpus-"))
    results = []
    totals: dict[str, list[int]] = {}
    # How each reproduced step was judged: by its saved outputs, by the recorded output hash, or (when the
    # step showed nothing) by its ok/error status alone, which is a weaker check.
    compared_by: dict[str, dict[str, int]] = {}
    started = time.perf_counter()
    for name, cells, actions in corpus(args.count):
        folder = base / name
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.perf_counter()
        path = record(folder, name, cells, actions)
        for mode in args.modes.split(","):
            result = evaluate(path, mode)
            steps = result["steps"]
            good = sum(1 for s in steps if s[1] == "reproduced")
            tally = totals.setdefault(mode, [0, 0])
            tally[0] += good
            tally[1] += len(steps)
            for _index, outcome, compared, _detail in steps:
                if outcome == "reproduced":
                    by = compared_by.setdefault(mode, {})
                    by[compared] = by.get(compared, 0) + 1
            results.append(result)
            print(f"{name:16s} {mode:8s} {good:3d}/{len(steps):3d} steps reproduced  exit {result['exit_code']}  "
                  f"({time.perf_counter() - t0:.1f} s)", flush=True)
            for index, outcome, compared, detail in steps:
                if outcome != "reproduced":
                    print(f"    step {index}: {outcome} ({compared}) {detail.splitlines()[0] if detail else ''}")
            for problem in result["problems"]:
                print(f"    problem: {problem}")
    print()
    for mode, (good, total) in totals.items():
        print(f"{mode}: {good}/{total} steps reproduced identically = {100 * good / max(total, 1):.1f}%"
              f"  (judged by: {', '.join(f'{k} {v}' for k, v in sorted(compared_by.get(mode, {}).items()))})")
    print(f"{args.count} notebooks in {time.perf_counter() - started:.0f} s; material in {base}")
    if args.json:
        args.json.write_text(json.dumps({"totals": totals, "compared_by": compared_by, "results": results},
                                        indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
