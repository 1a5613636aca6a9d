#!/usr/bin/env python
"""Recording with the sidebar open, over a long session: plain ipykernel vs jupyter-repro with the `repro` comm.

    python benchmarks/overhead_comm.py                 # 10,000 cells per workload (the issue's figure)
    python benchmarks/overhead_comm.py --cells 1000    # while iterating
    python benchmarks/overhead_comm.py --quick         # 300 cells, CI smoke

Configurations, all started at once and driven alternately in blocks (shuffled each round) so that the noise
of a shared machine hits them alike:
  plain       ipykernel from this interpreter
  repro       + ``%load_ext repro_kernel`` + ``%repro start`` (no comm)
  repro+comm  as ``repro``, plus a ``repro`` comm opened with the ``hello`` handshake as the sidebar sends it

Workloads (each in fresh kernels): ``trivial`` (``x = N``, distinct cells, JupyterLab cell ids on a 20-cell
page) and ``mix`` (re-runs of page cells, small data reads, unseeded random draws, and every 25 cells an
edit sent by the frontend as a ``notebook`` message).

Per cell, the kernel's clock (``execute_input`` to ``execute_reply`` header dates). The flags-update latency
is taken every ``--probe-every`` cells: one cell, then the wait for the kernel's next flags push (``flags``,
or the next ``delta``, which carries the cell and the flags that changed); latency = that push's header date - the cell's ``execute_reply`` date (both the
kernel's clock). At the end: the recorder's deep size and the journal's size on disk.

Results go to benchmarks/results/overhead-comm-<date>[-quick].{json,md}.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import queue
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Optional

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from overhead import PROBE, RECORDER_SETUP, log, machine_facts, med, prepare_kernels  # noqa: E402

from repro_kernel.testing import LiveKernel  # noqa: E402

RESULTS = HERE / "results"
CONFIGS = ("plain", "repro", "repro+comm")
PAGE = 20
TARGET_ADDED_MS = 0.30
TARGET_DRIFT = 1.15


class Driven:
    """One kernel, driven straight on its channels so that every message's kernel-side date is kept."""

    def __init__(self, config: str, kernel: LiveKernel) -> None:
        self.config = config
        self.k = kernel
        self.comm_id: Optional[str] = None
        self.pushes: list[tuple[dt.datetime, dict[str, Any]]] = []  # (header date, data) of every comm push
        self.push_bytes = 0

    def _take(self, out: dict[str, Any]) -> None:
        if out["msg_type"] == "comm_msg":
            data = out["content"].get("data") or {}
            self.pushes.append((out["header"]["date"], data))
            self.push_bytes += len(json.dumps(data))

    def run(self, code: str, cell_id: Optional[str]) -> tuple[float, dt.datetime]:
        """Execute; return (kernel seconds, the reply's date)."""
        kc = self.k.kc
        msg = kc.session.msg("execute_request", {"code": code, "silent": False, "store_history": True,
                                                 "user_expressions": {}, "allow_stdin": False, "stop_on_error": True})
        if cell_id is not None:
            msg["metadata"]["cellId"] = cell_id
        kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        started: Optional[dt.datetime] = None
        while True:
            out = kc.get_iopub_msg(timeout=120)
            if out["parent_header"].get("msg_id") != msg_id:
                self._take(out)
                continue
            kind = out["msg_type"]
            if kind == "execute_input":
                started = out["header"]["date"]
            elif kind == "error":
                raise RuntimeError(f"{self.config}: the cell raised: {code!r}: {out['content'].get('evalue')}")
            elif kind.startswith("comm"):
                self._take(out)
            elif kind == "status" and out["content"]["execution_state"] == "idle":
                break
        reply = kc.get_shell_msg(timeout=120)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = kc.get_shell_msg(timeout=120)
        ended = reply["header"]["date"]
        assert started is not None
        return (ended - started).total_seconds(), ended

    def send(self, data: dict[str, Any]) -> None:
        if self.comm_id is None:
            return
        self.k.kc.shell_channel.send(self.k.kc.session.msg("comm_msg", {"comm_id": self.comm_id, "data": data}))

    def wait_flags(self, after: dt.datetime, timeout: float = 10.0) -> Optional[float]:
        """Seconds from ``after`` to the first flags push dated later (kernel clock); None if none came."""
        deadline = time.monotonic() + timeout
        seen = len(self.pushes)
        while True:
            for date, data in self.pushes[seen:]:
                # protocol 1: the `flags` push; deltas: the first delta after the cell (it carries the cell's
                # entry and whatever flags changed, computed before it is sent)
                if date >= after and data.get("type") in ("flags", "delta"):
                    return (date - after).total_seconds()
            seen = len(self.pushes)
            if time.monotonic() > deadline:
                return None
            try:
                self._take(self.k.kc.get_iopub_msg(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                return None

    def drain(self, quiet: float = 0.2) -> None:
        while True:
            try:
                self._take(self.k.kc.get_iopub_msg(timeout=quiet))
            except queue.Empty:
                return


def page_cells(sources: list[str]) -> list[dict[str, Any]]:
    return [{"id": f"c{i}", "cell_type": "code", "source": s, "execution_count": None} for i, s in enumerate(sources)]


def mix_sources(data_dir: Path) -> list[str]:
    """The 20 cells of the realistic page: definitions, data reads, random draws, uses of earlier names."""
    out = []
    for i in range(PAGE):
        kind = i % 5
        if kind == 0:
            out.append(f"a{i} = {i}\ndef f{i}(v):\n    return v + a{i}")
        elif kind == 1:
            out.append(f"with open({str(data_dir / f'd{i % 3}.csv')!r}) as fh:\n    raw{i} = fh.read()")
        elif kind == 2:
            out.append(f"import random\nr{i} = random.random()")
        elif kind == 3:
            out.append(f"items{i} = [f{i - 3}(j) for j in range(5)]")
        else:
            out.append(f"total{i} = sum(items{i - 1}) + len(raw{i - 3})")
    return out


def workload(name: str, cells: int, data_dir: Path, seed: int) -> list[tuple[str, Optional[str], Optional[list[dict[str, Any]]]]]:
    """[(code, cell id, page to send first or None)] of one workload."""
    rng = random.Random(seed)
    steps: list[tuple[str, Optional[str], Optional[list[dict[str, Any]]]]] = []
    if name == "trivial":
        for n in range(cells):
            steps.append((f"x = {n}", f"c{n % PAGE}", None))
        return steps
    sources = mix_sources(data_dir)
    for n in range(cells):
        page = None
        if n and n % 25 == 0:  # the user edits a cell: the frontend sends the page again
            i = rng.randrange(PAGE)
            sources[i] = sources[i].split("\n# edit")[0] + f"\n# edit {n}"
            page = page_cells(sources)
        i = n % PAGE if n < PAGE else rng.choice([rng.randrange(PAGE), n % PAGE])  # top to bottom, then re-runs
        steps.append((sources[i], f"c{i}", page))
    return steps


def start(configs: dict[str, str], base: Path, tag: str, first_page: list[dict[str, Any]]) -> dict[str, Driven]:
    driven = {}
    for config in CONFIGS:
        folder = base / f"{tag}-{config.replace('+', '-')}"
        folder.mkdir(parents=True)
        k = LiveKernel(folder, notebook=None, kernel_name=configs["plain"], timeout=900, startup_timeout=120,
                       graceful=True)
        d = driven[config] = Driven(config, k)
        k.run(PROBE, check=True)
        if config != "plain":
            k.run(RECORDER_SETUP, check=True)
        if config == "repro+comm":
            d.comm_id = uuid.uuid4().hex
            k.open_comm(d.comm_id, {"type": "hello", "version": 1, "request_id": "bench", "notebook": "bench.ipynb",
                                    "accept": ["delta"]})
            d.send({"type": "notebook", "cells": first_page})
        d.drain()
    return driven


def measure(configs: dict[str, str], base: Path, name: str, cells: int, block: int, probe_every: int) -> dict[str, Any]:
    data_dir = base / "data"
    data_dir.mkdir(exist_ok=True)
    for n in range(3):
        (data_dir / f"d{n}.csv").write_text("a,b\n1,2\n" * 50)
    first = page_cells(mix_sources(data_dir) if name == "mix" else [f"x = {n}" for n in range(PAGE)])
    driven = start(configs, base, name, first)
    steps = workload(name, cells, data_dir, seed=7)
    times: dict[str, list[float]] = {c: [] for c in CONFIGS}
    latency: list[tuple[int, Optional[float]]] = []
    rng = random.Random(11)
    order = list(CONFIGS)
    t0 = time.perf_counter()
    try:
        for d in driven.values():  # warm-up: imports and caches
            for code, cell_id, _page in steps[:3]:
                d.run(code, cell_id)
        for start_at in range(0, cells, block):
            rng.shuffle(order)
            for config in order:
                d = driven[config]
                for code, cell_id, page in steps[start_at:start_at + block]:
                    if page is not None:
                        d.send({"type": "notebook", "cells": page})
                    times[config].append(d.run(code, cell_id)[0])
            done = start_at + block
            if done % probe_every == 0 or done >= cells:
                d = driven["repro+comm"]
                d.drain(0.05)
                _s, ended = d.run("y = 1", "c0")
                latency.append((done, d.wait_flags(ended)))
                shown = "none" if latency[-1][1] is None else f"{latency[-1][1] * 1000:.1f} ms"
                log(f"{name}: {done}/{cells} cells, {time.perf_counter() - t0:.0f}s; flags latency {shown}")
                if latency[-1][1] is None:
                    log(f"  last pushes: {[(str(t), p.get('type')) for t, p in d.pushes[-5:]]}, reply at {ended}")
        memory = {}
        deep_code = ("import repro_kernel as _rk; _rec = _rk.get_recorder(); _gc.collect()\n"
                     "print(_j.dumps({'records': len(_rec.records), 'deep_bytes': _bench_deep(_rec), "
                     "'rss': _bench_rss(), "
                     "'journal_bytes': sum(p.stat().st_size for p in _rec.journal.directory.rglob('*') if p.is_file())}))")
        for config in ("repro", "repro+comm"):
            memory[config] = driven[config].k.printed_json(deep_code)
        memory["plain"] = {"rss": driven["plain"].k.printed_json("print(_j.dumps(_bench_rss()))")}
        push_bytes = driven["repro+comm"].push_bytes
        pushes = len(driven["repro+comm"].pushes)
    finally:
        for d in driven.values():
            try:
                d.k.shutdown()
            except Exception as exc:  # pragma: no cover - best effort
                log(f"shutdown: {exc}")
    tenth = max(1, cells // 10)
    summary: dict[str, Any] = {"cells": cells, "configs": {}}
    plain = times["plain"]
    for config in CONFIGS:
        ks = times[config]
        row: dict[str, Any] = {"median_ms": med(ks) * 1000, "first_tenth_ms": med(ks[:tenth]) * 1000,
                               "last_tenth_ms": med(ks[-tenth:]) * 1000}
        if config != "plain":
            added = [a - b for a, b in zip(ks, plain)]  # same cell, same position in the session
            row["added_median_ms"] = (med(ks) - med(plain)) * 1000
            row["added_paired_median_ms"] = med(added) * 1000
            row["added_first_tenth_ms"] = (med(ks[:tenth]) - med(plain[:tenth])) * 1000
            row["added_last_tenth_ms"] = (med(ks[-tenth:]) - med(plain[-tenth:])) * 1000
            first_added = row["added_first_tenth_ms"]
            row["drift_ratio"] = (row["last_tenth_ms"] - med(plain[-tenth:]) * 1000) / first_added if first_added > 0.01 else None
            row["last_over_first"] = row["last_tenth_ms"] / row["first_tenth_ms"]
        summary["configs"][config] = row
    summary["flags_latency_ms"] = [(n, v * 1000 if v is not None else None) for n, v in latency]
    summary["memory"] = memory
    summary["comm"] = {"pushes": pushes, "push_bytes": push_bytes,
                       "bytes_per_cell": push_bytes / max(1, cells + len(latency))}
    return summary


def engine_scaling(records_total: int, checkpoints: int = 10) -> dict[str, Any]:
    """The live analysis alone, in this process: one update after each new record of a realistic mix on a
    20-cell page (and a page edit every 25 records), timed at checkpoints up to ``records_total`` records."""
    sys.path.insert(0, str(HERE.parent))
    from types import SimpleNamespace

    from repro_kernel.analysis import analyze_live
    from repro_kernel.core.hashing import FileHashCache
    from repro_kernel.core.journal import Journal
    from tests.analysis.scenarios import rec

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n in range(3):
            (folder / f"d{n}.csv").write_text("a,b\n1,2\n" * 50)
        sources = mix_sources(folder)
        journal = Journal(folder / ".repro")
        journal.begin_session("bench", "bench.ipynb", {}, 0.0)
        recorder = SimpleNamespace(records=[], journal=journal, file_cache=FileHashCache(), notebook_dir=folder,
                                   notebook="bench.ipynb", session_id="bench",
                                   environment={"python": {"version": "3.11.9"}, "distributions": {},
                                                "machine": {"gpus": []}, "environment_variables": {}, "git": None})
        cells = page_cells(sources)
        digest = {n: FileHashCache().facts(str(folder / f"d{n}.csv")).hash for n in range(3)}
        rng = random.Random(3)
        every = max(1, records_total // checkpoints)
        after_cell: dict[int, list[float]] = {}
        after_edit: dict[int, list[float]] = {}
        for seq in range(1, records_total + 1):
            i = rng.randrange(PAGE)
            extra: dict[str, Any] = {}
            if i % 5 == 1:
                path = folder / f"d{i % 3}.csv"
                extra["files_read"] = [{"path": str(path), "rel": path.name, "size": 100, "mtime": 1.0,
                                        "hash": digest[i % 3], "error": None}]
            if i % 5 == 2:
                extra["random"] = {"sources": {"python": {"before": f"a{seq}", "after": f"b{seq}", "state_ref": None}},
                                   "generators": [], "seeds": [], "unseeded_draw": True}
            recorder.records.append(rec(seq, sources[i], f"c{i}", **extra))
            cells = [dict(c) for c in cells]
            cells[i]["execution_count"] = seq
            t = time.perf_counter()
            analyze_live(recorder, cells)
            spent = time.perf_counter() - t
            bucket = (seq - 1) // every
            after_cell.setdefault(bucket, []).append(spent)
            if seq % 25 == 0:
                j = rng.randrange(PAGE)
                cells = [dict(c) for c in cells]
                cells[j]["source"] = sources[j] + f"\n# edit {seq}"
                t = time.perf_counter()
                analyze_live(recorder, cells)
                after_edit.setdefault(bucket, []).append(time.perf_counter() - t)
        journal.close()
    return {"records": records_total,
            "after_cell_ms": [((b + 1) * every, med(v) * 1000) for b, v in sorted(after_cell.items())],
            "after_edit_ms": [((b + 1) * every, med(v) * 1000) for b, v in sorted(after_edit.items())]}


def render(r: dict[str, Any]) -> str:
    lines = [f"# Recording with the sidebar open — {r['date']}", "",
             f"Machine: {r['machine'].get('cpu', '?')}, {r['machine'].get('cpus')} CPUs, load average "
             f"{r['machine'].get('loadavg')}, commit {r['machine'].get('git', '?')}. Kernel clock "
             "(execute_input → execute_reply). Added = recorded minus plain, same cells in the same run.", ""]
    e = r.get("engine")
    if e:
        lines += [f"## The live analysis alone: one update per new record, up to {e['records']} records", "",
                  "Median ms per update, by records so far (in this process, realistic mix on a 20-cell page): "
                  "after a new record " + ", ".join(f"{n}: {v:.2f}" for n, v in e["after_cell_ms"])
                  + "; after a page edit " + ", ".join(f"{n}: {v:.2f}" for n, v in e["after_edit_ms"]) + ".", ""]
    for name, w in r["workloads"].items():
        lines += [f"## {name}: {w['cells']} cells", "",
                  "| measure | plain | repro | repro+comm | target |", "|---|---|---|---|---|"]
        c = w["configs"]

        def cell(config: str, key: str, spec: str = ".3f") -> str:
            v = c[config].get(key)
            return "—" if v is None else format(v, spec)

        lines.append(f"| median ms per cell | {cell('plain', 'median_ms')} | {cell('repro', 'median_ms')} | "
                     f"{cell('repro+comm', 'median_ms')} | — |")
        lines.append(f"| median added ms | — | {cell('repro', 'added_median_ms')} | {cell('repro+comm', 'added_median_ms')} "
                     f"| ≤ {TARGET_ADDED_MS} |")
        lines.append(f"| added ms, first 10% → last 10% | — | {cell('repro', 'added_first_tenth_ms')} → "
                     f"{cell('repro', 'added_last_tenth_ms')} | {cell('repro+comm', 'added_first_tenth_ms')} → "
                     f"{cell('repro+comm', 'added_last_tenth_ms')} | — |")
        lines.append(f"| added cost last/first 10% | — | {cell('repro', 'drift_ratio', '.2f')} | "
                     f"{cell('repro+comm', 'drift_ratio', '.2f')} | ≤ {TARGET_DRIFT} |")
        lines.append(f"| ms per cell, last/first 10% | {c['plain']['last_tenth_ms'] / c['plain']['first_tenth_ms']:.2f} | "
                     f"{cell('repro', 'last_over_first', '.2f')} | {cell('repro+comm', 'last_over_first', '.2f')} | — |")
        lat = ", ".join(f"{n}: {v:.1f}" if v is not None else f"{n}: none" for n, v in w["flags_latency_ms"])
        lines += ["", f"Flags-update latency after a cell (kernel clock, ms, by cells done): {lat}.", ""]
        mem = w["memory"]
        for config in ("repro", "repro+comm"):
            m = mem[config]
            lines.append(f"- {config}: recorder holds {m['deep_bytes'] / 2**20:.2f} MiB for {m['records']} records "
                         f"({m['deep_bytes'] / max(1, m['records']) / 1024:.2f} KiB each); journal "
                         f"{m['journal_bytes'] / 2**20:.2f} MiB on disk; RSS {m['rss'] / 2**20:.0f} MiB "
                         f"(plain {mem['plain']['rss'] / 2**20:.0f} MiB)")
        lines.append(f"- comm: {w['comm']['pushes']} pushes, {w['comm']['bytes_per_cell']:.0f} bytes per cell")
        lines.append("")
    return "\n".join(lines) + "\n"


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=10_000)
    parser.add_argument("--quick", action="store_true", help="300 cells per workload")
    parser.add_argument("--workloads", default="trivial,mix")
    parser.add_argument("--block", type=int, default=50)
    parser.add_argument("--probe-every", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--no-engine", action="store_true", help="leave out the in-process analysis figure")
    parser.add_argument("--tag", default="", help="suffix for the result files (e.g. 'before')")
    args = parser.parse_args(argv)
    cells = 300 if args.quick else args.cells
    probe_every = min(args.probe_every, max(args.block, cells // 5))
    probe_every -= probe_every % args.block
    args.no_ipyflow = True
    base = Path(tempfile.mkdtemp(prefix="repro-bench-comm-"))
    results: dict[str, Any] = {"date": dt.date.today().isoformat(), "params": vars(args) | {"cells": cells}}
    t0 = time.perf_counter()
    try:
        configs = prepare_kernels(base, args)
        if not args.no_engine:
            log("the live analysis alone")
            results["engine"] = engine_scaling(cells)
            log(f"engine: {results['engine']['after_cell_ms']}")
        results["workloads"] = {name: measure(configs, base, name, cells, args.block, probe_every)
                                for name in args.workloads.split(",")}
    finally:
        shutil.rmtree(base, ignore_errors=True)
    results["elapsed_s"] = time.perf_counter() - t0
    results["machine"] = machine_facts()
    report = render(results)
    print(report)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"overhead-comm-{results['date']}{'-quick' if args.quick else ''}{'-' + args.tag if args.tag else ''}"
    (args.out / f"{stem}.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    (args.out / f"{stem}.md").write_text(report)
    log(f"wrote {args.out / stem}.md and .json in {results['elapsed_s']:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
