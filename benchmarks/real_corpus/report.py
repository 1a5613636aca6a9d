"""Totals of the corpus run: results/*.json -> results/summary.json and results.md (beside this file)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from compare import NORMALISATIONS


def _load(results: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(results.glob("*__*.json"))]


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    by_order: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    notebooks: dict[str, dict[str, Any]] = {}
    failures: list[dict[str, Any]] = []
    for r in runs:
        name, order = r["notebook"], r["order"]
        nb = notebooks.setdefault(name, {"orders": 0, "own_ok": True, "verify_ok": True, "steps": 0})
        if r.get("record_error") or r.get("driver_error") or "own" not in r:
            failures.append({"notebook": name, "order": order, "kind": "driver",
                             "detail": r.get("record_error") or r.get("driver_error")
                             or (r.get("slice_export") or {}).get("stderr")})
            nb["broken"] = True
            continue
        own, verify = r["own"], r.get("verify") or {}
        o = by_order[order]
        o["runs"] += 1
        o["steps"] += own["steps"]
        o["own_reproduced"] += own["reproduced"]
        o["own_runs_ok"] += own["reproduced"] == own["steps"]
        verify_ok = verify.get("exit_code") == 0
        o["verify_runs_ok"] += verify_ok
        o["verify_steps"] += sum((verify.get("counts") or {}).values())
        o["verify_reproduced"] += (verify.get("counts") or {}).get("reproduced", 0)
        o["executions"] += r["executions"]
        o["slice_steps"] += r["slice_export"]["steps"]
        o["history_steps"] += r["history_export"]["steps"]
        o["slice_replay_s"] += own["replay_seconds"]
        if "history" in r:
            o["paired_runs"] += 1
            o["paired_slice_s"] += own["replay_seconds"]
            o["paired_history_s"] += r["history"]["replay_seconds"]
            o["history_runs_ok"] += r["history"]["reproduced"] == r["history"]["steps"]
        nb["orders"] += 1
        nb["steps"] += own["steps"]
        nb["own_ok"] &= own["reproduced"] == own["steps"]
        nb["verify_ok"] &= verify_ok
        for f in own["failures"]:
            cause = "unexplained"
            if f.get("stderr_only") and not f.get("warnings_saved") and f.get("warnings_replayed"):
                cause = "a warning the recording kernel swallowed (detect_secrets' logging.captureWarnings(True))"
            elif f.get("step") is None:
                cause = "the slice left out the step that showed these outputs"
            failures.append({"notebook": name, "order": order, "kind": "own", "cell": f["cell"], "step": f.get("step"),
                             "stderr_only": f.get("stderr_only", False), "cause": cause,
                             "detail": (f.get("warnings_replayed") or [f["detail"]])[0][:300]})
        for f in verify.get("failures") or []:
            failures.append({"notebook": name, "order": order, "kind": "verify", "step": f.get("index"),
                             "outcome": f.get("outcome"), "detail": str(f.get("detail"))[:300]})
        if verify.get("exit_code") not in (0, None) and not verify.get("failures"):
            failures.append({"notebook": name, "order": order, "kind": "verify", "outcome": f"exit {verify.get('exit_code')}",
                             "detail": str(verify.get("problems") or verify.get("stderr"))[:300]})
    totals: dict[str, float] = defaultdict(float)
    for o in by_order.values():
        for k, v in o.items():
            totals[k] += v
    complete = [n for n, v in notebooks.items() if v["orders"] >= 4 and not v.get("broken")]
    return {"notebooks": len(notebooks), "notebooks_all_orders": len(complete),
            "notebooks_own_ok": sum(1 for n in complete if notebooks[n]["own_ok"]),
            "notebooks_verify_ok": sum(1 for n in complete if notebooks[n]["verify_ok"]),
            "by_order": {k: dict(v) for k, v in sorted(by_order.items())}, "totals": dict(totals),
            "per_notebook": notebooks, "failures": failures}


def report(results: Path, catalog: dict[str, Any]) -> None:
    summary = summarise(_load(results))
    (results / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    t = summary["totals"]
    skipped = [e for e in catalog["notebooks"] if e.get("skip")]
    lines = [
        "# Real-corpus results (issue 11's evidence)", "",
        f"Notebooks: statsmodels 0.15.0 sdist examples/notebooks: {len(catalog['notebooks'])} shipped, "
        f"{len(skipped)} skipped (network at run time or pymc/arviz; see notebooks.json), "
        f"{summary['notebooks']} run, {summary['notebooks_all_orders']} in all 4 orders (top + 3 messy).", "",
        f"- own judgement (saved outputs vs a fresh nbclient run of replay.ipynb): "
        f"{summary['notebooks_own_ok']}/{summary['notebooks_all_orders']} notebooks in every order; "
        f"{int(t.get('own_reproduced', 0))}/{int(t.get('steps', 0))} steps; "
        f"{int(t.get('own_runs_ok', 0))}/{int(t.get('runs', 0))} recordings",
        f"- `jupyter repro verify --json`: {summary['notebooks_verify_ok']}/{summary['notebooks_all_orders']} notebooks; "
        f"{int(t.get('verify_reproduced', 0))}/{int(t.get('verify_steps', 0))} steps; "
        f"{int(t.get('verify_runs_ok', 0))}/{int(t.get('runs', 0))} recordings exit 0",
        f"- slice vs history: {int(t.get('slice_steps', 0))} vs {int(t.get('history_steps', 0))} steps "
        f"({int(t.get('executions', 0))} executions recorded); replay of the same recordings "
        f"({int(t.get('paired_runs', 0))} paired): {t.get('paired_slice_s', 0):.0f} s vs {t.get('paired_history_s', 0):.0f} s; "
        f"history reproduced {int(t.get('history_runs_ok', 0))}/{int(t.get('paired_runs', 0))}", "",
        "| order | recordings | steps | own ok | verify ok | slice steps | history steps |", "|---|---|---|---|---|---|---|",
    ]
    for order, o in summary["by_order"].items():
        lines.append(f"| {order} | {int(o['runs'])} | {int(o['steps'])} | {int(o['own_reproduced'])} | "
                     f"{int(o['verify_reproduced'])}/{int(o['verify_steps'])} | {int(o['slice_steps'])} | {int(o['history_steps'])} |")
    causes: dict[str, int] = defaultdict(int)
    for f in summary["failures"]:
        causes[f"{f['kind']}: {f.get('cause') or f.get('outcome') or 'see detail'}"] += 1
    lines += ["", "## Failures by cause", ""] + [f"- {n} x {c}" for c, n in sorted(causes.items())]
    lines += ["", "## How it was judged", "",
              "Own judgement (compare.py, never calls verify): each saved code cell that ran against the replay step "
              "that recorded it (manifest cell_id + execution_count), stdout, stderr, results, displays and errors. "
              "Normalised: " + "; ".join(NORMALISATIONS) + ". verify compares stdout and results but never stderr "
              "(by design), so a warning shown on one side only fails the own judgement alone.", "",
              "Rerun: `/work/corpus-venv/bin/python benchmarks/real_corpus/run.py setup` once, then `... run` "
              "(resumable, one notebook at a time), `... report`; `... reexport` re-exports and re-judges the kept "
              "recordings after a slice change."]
    lines += ["", "## Failures", ""]
    for f in summary["failures"]:
        where = f"{f['notebook']} [{f['order']}]"
        lines.append(f"- {where} {f['kind']} step {f.get('step')} cell {f.get('cell', '-')}"
                     f"{' (stderr only)' if f.get('stderr_only') else ''} {f.get('outcome', '')}: {f['detail']}")
    if not summary["failures"]:
        lines.append("none")
    (results.parent / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:12]))
