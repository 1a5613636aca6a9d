"""Totals of the corpus run: results/*.json -> results/summary.json and results.md (beside this file)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any, Optional

from compare import NORMALISATIONS


def _load(results: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(results.glob("*__*.json"))]


def summarise(runs: list[dict[str, Any]], packages: Optional[dict[str, str]] = None) -> dict[str, Any]:
    """Totals by order and by package (``packages``: notebook name -> its sdist's package, from the catalog).
    A step verify judged ``nondeterministic`` (the product's own ``nondeterministic-output`` flag) explains the
    own judgement's failure on the same step; nothing is explained by hand."""
    packages = packages or {}
    by_order: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    by_package: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    notebooks: dict[str, dict[str, Any]] = {}
    failures: list[dict[str, Any]] = []
    for r in runs:
        name, order = r["notebook"], r["order"]
        package = packages.get(name) or r.get("package") or "?"
        nb = notebooks.setdefault(name, {"package": package, "orders": 0, "own_ok": True, "verify_ok": True,
                                         "steps": 0})
        if r.get("record_error") or r.get("driver_error") or "own" not in r:
            failures.append({"notebook": name, "order": order, "kind": "driver",
                             "detail": r.get("record_error") or r.get("driver_error")
                             or (r.get("slice_export") or {}).get("stderr")})
            nb["broken"] = True
            continue
        own, verify = r["own"], r.get("verify") or {}
        verify_ok = verify.get("exit_code") == 0
        for o in (by_order[order], by_package[package]):
            o["runs"] += 1
            o["steps"] += own["steps"]
            o["own_reproduced"] += own["reproduced"]
            o["own_runs_ok"] += own["reproduced"] == own["steps"]
            o["verify_runs_ok"] += verify_ok
            o["verify_steps"] += sum((verify.get("counts") or {}).values())
            o["verify_reproduced"] += (verify.get("counts") or {}).get("reproduced", 0)
            o["verify_nondeterministic"] += (verify.get("counts") or {}).get("nondeterministic", 0)
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
        volatile = {f.get("index"): f.get("detail") for f in verify.get("failures") or []
                    if f.get("outcome") == "nondeterministic"}
        for f in own["failures"]:
            cause = "unexplained"
            if f.get("stderr_only") and not f.get("warnings_saved") and f.get("warnings_replayed"):
                cause = "a warning the recording kernel swallowed (detect_secrets' logging.captureWarnings(True))"
            elif f.get("step") is None:
                cause = "the slice left out the step that showed these outputs"
            elif f.get("step") in volatile:
                cause = f"flagged nondeterministic-output by the product (verify: {str(volatile[f['step']]).split(';')[0]})"
            failures.append({"notebook": name, "order": order, "kind": "own", "cell": f["cell"], "step": f.get("step"),
                             "stderr_only": f.get("stderr_only", False), "cause": cause,
                             "detail": (f.get("warnings_replayed") or [f["detail"]])[0][:300]})
        for f in verify.get("failures") or []:
            failures.append({"notebook": name, "order": order, "kind": "verify", "step": f.get("index"),
                             "outcome": f.get("outcome"), "detail": str(f.get("detail"))[:300],
                             **({"cause": "flagged nondeterministic-output: verify does not count it as a failure"}
                                if f.get("outcome") == "nondeterministic" else {})})
        if verify.get("exit_code") not in (0, None) and not verify.get("failures"):
            failures.append({"notebook": name, "order": order, "kind": "verify", "outcome": f"exit {verify.get('exit_code')}",
                             "detail": str(verify.get("problems") or verify.get("stderr"))[:300]})
    totals: dict[str, float] = defaultdict(float)
    for o in by_order.values():
        for k, v in o.items():
            totals[k] += v
    complete = [n for n, v in notebooks.items() if v["orders"] >= 4 and not v.get("broken")]
    for package, o in by_package.items():
        mine = [n for n, v in notebooks.items() if v["package"] == package]
        done = [n for n in mine if n in complete]
        o.update(notebooks=len(mine), notebooks_all_orders=len(done),
                 notebooks_own_ok=sum(1 for n in done if notebooks[n]["own_ok"]),
                 notebooks_verify_ok=sum(1 for n in done if notebooks[n]["verify_ok"]))
    for f in failures:
        f["package"] = notebooks[f["notebook"]]["package"]
    return {"notebooks": len(notebooks), "notebooks_all_orders": len(complete),
            "notebooks_own_ok": sum(1 for n in complete if notebooks[n]["own_ok"]),
            "notebooks_verify_ok": sum(1 for n in complete if notebooks[n]["verify_ok"]),
            "by_order": {k: dict(v) for k, v in sorted(by_order.items())},
            "by_package": {k: dict(v) for k, v in sorted(by_package.items())}, "totals": dict(totals),
            "per_notebook": notebooks, "failures": failures}


def report(results: Path, catalog: dict[str, Any]) -> None:
    packages = {e["name"]: e["package"] for e in catalog["notebooks"]}
    summary = summarise(_load(results), packages)
    (results / "summary.json").write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    t = summary["totals"]
    skipped = [e for e in catalog["notebooks"] if e.get("skip")]
    pending = [e for e in catalog["notebooks"] if not e.get("skip") and e["name"] not in summary["per_notebook"]]
    sdists = ", ".join(f"{s['package']} {s['version']}" for s in catalog["sdists"])
    lines = [
        "# Real-corpus results (issue 11's evidence)", "",
        f"Notebooks: the example notebooks shipped in {len(catalog['sdists'])} PyPI sdists ({sdists}): "
        f"{len(catalog['notebooks'])} shipped, {len(skipped)} skipped (see each one's reason in notebooks.json), "
        f"{summary['notebooks']} run, {len(pending)} not run yet, {summary['notebooks_all_orders']} in all 4 orders "
        f"(top + 3 messy).", "",
        f"- own judgement (saved outputs vs a fresh nbclient run of replay.ipynb): "
        f"{summary['notebooks_own_ok']}/{summary['notebooks_all_orders']} notebooks in every order; "
        f"{int(t.get('own_reproduced', 0))}/{int(t.get('steps', 0))} steps; "
        f"{int(t.get('own_runs_ok', 0))}/{int(t.get('runs', 0))} recordings",
        f"- `jupyter repro verify --json`: {summary['notebooks_verify_ok']}/{summary['notebooks_all_orders']} notebooks; "
        f"{int(t.get('verify_reproduced', 0))}/{int(t.get('verify_steps', 0))} steps reproduced, "
        f"{int(t.get('verify_nondeterministic', 0))} nondeterministic (flagged, not failures); "
        f"{int(t.get('verify_runs_ok', 0))}/{int(t.get('runs', 0))} recordings exit 0",
        f"- slice vs history: {int(t.get('slice_steps', 0))} vs {int(t.get('history_steps', 0))} steps "
        f"({int(t.get('executions', 0))} executions recorded); replay of the same recordings "
        f"({int(t.get('paired_runs', 0))} paired): {t.get('paired_slice_s', 0):.0f} s vs {t.get('paired_history_s', 0):.0f} s; "
        f"history reproduced {int(t.get('history_runs_ok', 0))}/{int(t.get('paired_runs', 0))}", "",
        "| package | shipped | skipped | run | not run yet | all 4 orders | own ok (notebooks) | own steps | own ok (recordings) "
        "| verify ok (notebooks) | verify steps | verify exit 0 (recordings) | slice steps | history steps |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for s in catalog["sdists"]:
        p = summary["by_package"].get(s["package"], {})
        shipped = [e for e in catalog["notebooks"] if e["package"] == s["package"]]
        lines.append(f"| {s['package']} {s['version']} | {len(shipped)} | {sum(1 for e in shipped if e.get('skip'))} | "
                     f"{int(p.get('notebooks', 0))} | {sum(1 for e in pending if e['package'] == s['package'])} | "
                     f"{int(p.get('notebooks_all_orders', 0))} | "
                     f"{int(p.get('notebooks_own_ok', 0))} | {int(p.get('own_reproduced', 0))}/{int(p.get('steps', 0))} | "
                     f"{int(p.get('own_runs_ok', 0))}/{int(p.get('runs', 0))} | {int(p.get('notebooks_verify_ok', 0))} | "
                     f"{int(p.get('verify_reproduced', 0))}/{int(p.get('verify_steps', 0))} | "
                     f"{int(p.get('verify_runs_ok', 0))}/{int(p.get('runs', 0))} | {int(p.get('slice_steps', 0))} | "
                     f"{int(p.get('history_steps', 0))} |")
    lines += [
        "",
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
        detail = str(f["detail"]).replace("\n", " \\n ")
        lines.append(f"- {where} {f['kind']} step {f.get('step')} cell {f.get('cell', '-')}"
                     f"{' (stderr only)' if f.get('stderr_only') else ''} {f.get('outcome', '')}: {detail}")
    if not summary["failures"]:
        lines.append("none")
    (results.parent / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines[:lines.index("## Failures by cause")]))
