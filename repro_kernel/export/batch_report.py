"""What a batch reports: the summary table, ``--json``, ``--junit FILE`` and ``--html FILE``.

JUnit: one ``<testsuite>`` named after the command, one ``<testcase>`` per item (``classname`` the item's
folder, ``name`` its file name); a failure's message is its status and first problem, its text the first
differing steps with their diffs; a skipped item (``--since-last``) is ``<skipped>``; bad input is ``<error>``.
HTML: one static page with no script and no outside resource, every text escaped.
"""

from __future__ import annotations

import html
import json
import os
import platform
import re
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from repro_kernel.export.batch import BatchResult, batch_exit_code

STATUS_STYLE = {"reproduced": "green", "clean": "green", "skipped": "dim", "not-reproduced": "yellow",
                "flagged": "yellow", "bad-input": "red", "timeout": "red", "crashed": "red"}


def totals(results: Sequence[BatchResult]) -> dict[str, Any]:
    counts = Counter(r.status for r in results)
    return {"items": len(results), "passed": sum(r.passed for r in results),
            "failed": sum(not r.passed for r in results), "by_status": dict(sorted(counts.items())),
            "seconds": round(sum(r.seconds for r in results), 3)}


def to_json(command: str, results: Sequence[BatchResult], wall_seconds: float, jobs: Any) -> dict[str, Any]:
    """The ``--json`` document of a batch."""
    return {"command": command, "exit_code": batch_exit_code(results), "jobs": jobs,
            "wall_seconds": round(wall_seconds, 3), "totals": totals(results), "results": [r.to_json() for r in results]}


def describe(step: dict[str, Any]) -> str:
    """One differing step (verify) or flag (check) as a line, its diff on the lines below."""
    if "outcome" in step:
        head = f"step {step.get('index')} ({step.get('label')}): {step.get('outcome')}"
        return head + (f"\n{step['detail']}" if step.get("detail") else "")
    return f"{step.get('severity')} {step.get('kind')}: {step.get('message')}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def note(result: BatchResult) -> str:
    """What a passing item still says: its steps whose outputs cannot repeat (verify's ``nondeterministic``)."""
    volatile = sum(s.get("outcome") == "nondeterministic" for s in result.steps)
    return f"{plural(volatile, 'nondeterministic step')} (outputs that cannot repeat)" if volatile else ""


def failure_text(result: BatchResult) -> str:
    parts = list(result.problems) + [describe(s) for s in result.first_failures()]
    return "\n".join(parts) or result.status


def render_summary(command: str, results: Sequence[BatchResult], wall_seconds: float, jobs: Any) -> str:
    """The table printed at the end of a batch (rich; plain text when not a terminal)."""
    from rich.console import Console
    from rich.table import Table

    console = Console(record=True, width=140, file=open(os.devnull, "w"))
    table = Table(title=f"jupyter repro {command}: {plural(len(results), 'item')}", title_justify="left")
    for column in ("item", "status", "seconds", "worker", "first difference / note"):
        table.add_column(column, overflow="fold")
    for result in results:
        first = failure_text(result).splitlines()[0] if not result.passed else note(result)
        first = first if len(first) <= 160 else first[:159] + "…"
        style = STATUS_STYLE.get(result.status, "")
        table.add_row(result.path, f"[{style}]{result.status}[/]", f"{result.seconds:.2f}", result.worker, first)
    console.print(table)
    count = totals(results)
    summary = ", ".join(f"{n} {status}" for status, n in count["by_status"].items())
    console.print(f"{plural(len(results), 'item')}: {summary} ({wall_seconds:.2f} s wall, jobs {jobs})", markup=False,
                  highlight=False)
    return console.export_text()


# What XML 1.0 cannot hold (a terminal escape in a diff, a lone surrogate in a name): written as \xNN instead.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def write_junit(path: Path, command: str, results: Sequence[BatchResult], wall_seconds: float) -> None:
    suite = ET.Element("testsuite", {
        "name": f"jupyter-repro {command}", "tests": str(len(results)),
        "failures": str(sum(r.status not in ("bad-input",) and not r.passed for r in results)),
        "errors": str(sum(r.status == "bad-input" for r in results)),
        "skipped": str(sum(r.status == "skipped" for r in results)),
        "time": f"{wall_seconds:.3f}", "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "hostname": platform.node(),
    })
    for result in results:
        item = Path(result.path)
        case = ET.SubElement(suite, "testcase", {"classname": xml_text(str(item.parent)), "name": xml_text(item.name),
                                                 "file": xml_text(result.path), "time": f"{result.seconds:.3f}"})
        if result.status == "skipped":
            ET.SubElement(case, "skipped", {"message": "unchanged since its last success (--since-last)"})
        elif not result.passed:
            first = (result.problems or [describe(s).splitlines()[0] for s in result.first_failures()] or [""])[0]
            tag = "error" if result.status == "bad-input" else "failure"
            element = ET.SubElement(case, tag, {"type": result.status,
                                                "message": xml_text(f"{result.status}: {first}"[:1000])})
            element.text = xml_text(failure_text(result))
        if result.worker or result.warnings or note(result):
            out = ET.SubElement(case, "system-out")
            out.text = xml_text("\n".join([f"worker: {result.worker}"] + result.warnings + [note(result)]).strip())
    root = ET.Element("testsuites", {"name": "jupyter-repro", "tests": suite.get("tests", "0"),
                                     "failures": suite.get("failures", "0"), "errors": suite.get("errors", "0"),
                                     "time": suite.get("time", "0")})
    root.append(suite)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


_CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;width:100%}th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.reproduced,.clean{color:#1a7f37}.skipped{color:#777}
.not-reproduced,.flagged{color:#9a6700}.bad-input,.timeout,.crashed{color:#cf222e}
pre{background:#f6f8fa;padding:8px;overflow:auto;white-space:pre-wrap}
"""


def render_html(command: str, results: Sequence[BatchResult], wall_seconds: float, jobs: Any) -> str:
    """One self-contained page: totals, a table of every item, and each failure's differences."""
    esc = html.escape
    count = totals(results)
    rows, details = [], []
    for number, result in enumerate(results, 1):
        anchor = f"item-{number}"
        status = f'<td class="status {esc(result.status)}">{esc(result.status)}</td>'
        link = f'<a href="#{anchor}">details</a>' if not result.passed else esc(note(result))
        rows.append(f"<tr id=\"row-{number}\"><td class=\"path\">{esc(result.path)}</td>{status}"
                    f"<td>{result.seconds:.2f}</td><td>{esc(result.worker)}</td><td>{link}</td></tr>")
        if result.passed:
            continue
        body = [f"<li>{esc(p)}</li>" for p in result.problems]
        steps = "".join(f"<h4>{esc(describe(s).splitlines()[0])}</h4><pre class=\"diff\">"
                        f"{esc(str(s.get('detail') or s.get('fix') or ''))}</pre>" for s in result.first_failures(20))
        details.append(f"<section class=\"failure\" id=\"{anchor}\"><h3>{esc(result.path)} "
                       f"<span class=\"{esc(result.status)}\">{esc(result.status)}</span></h3>"
                       f"{'<ul>' + ''.join(body) + '</ul>' if body else ''}{steps}</section>")
    summary = ", ".join(f"{n} {esc(s)}" for s, n in count["by_status"].items())
    verdict = "all passed" if batch_exit_code(results) == 0 else f"{count['failed']} of {count['items']} failed"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>jupyter repro {esc(command)}: {esc(verdict)}</title><style>{_CSS}</style></head><body>"
        f"<h1>jupyter repro {esc(command)}</h1>"
        f"<p id=\"totals\" data-items=\"{count['items']}\" data-failed=\"{count['failed']}\">{count['items']} items: "
        f"{summary} &middot; {esc(verdict)} &middot; {wall_seconds:.1f} s wall, jobs {esc(str(jobs))} &middot; "
        f"{esc(time.strftime('%Y-%m-%d %H:%M:%S'))}</p>"
        "<table id=\"results\"><thead><tr><th>item</th><th>status</th><th>seconds</th><th>worker</th><th></th></tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table>"
        f"{'<h2>Failures</h2>' + ''.join(details) if details else ''}</body></html>\n"
    )


def write_html(path: Path, command: str, results: Sequence[BatchResult], wall_seconds: float, jobs: Any) -> None:
    path.write_text(render_html(command, results, wall_seconds, jobs), encoding="utf-8")


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=1)
