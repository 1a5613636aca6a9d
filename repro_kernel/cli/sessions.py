"""``jupyter repro sessions NOTEBOOK``: the recorded sessions of a notebook and how well each matches the file.

The session marked ``*`` is the one ``check``, ``export`` and ``verify`` judge (the engine's one session model,
:func:`repro_kernel.analysis.sessions.choose_session`); ``--session ID`` on those commands picks another.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any, Optional

from traitlets import Bool

from repro_kernel.analysis.sessions import SessionMatch, cells_from_dicts, choose_session, find_journal, rank_sessions
from repro_kernel.cli.app import ReproSubApp
from repro_kernel.core.notebook import read_notebook
from repro_kernel.exceptions import JournalError


def _when(stamp: Any) -> Optional[str]:
    try:
        return datetime.datetime.fromtimestamp(float(stamp), datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _mapping(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> Optional[str]:
    return value if isinstance(value, str) else None


def describe(match: SessionMatch, shown_cells: int, chosen: bool) -> dict[str, Any]:
    """One session as ``--json`` lists it (what the journal holds; a part of another shape than the recorder
    writes is shown as unknown rather than trusted)."""
    env = _mapping(match.session.get("environment"))
    python, kernel = _mapping(env.get("python")), _mapping(env.get("kernel"))
    same_output, same_id, same_code, by_count = match.score
    return {
        "session_id": match.session_id,
        "notebook": match.session.get("notebook"),
        "started_at": match.session.get("started_at"),
        "ended_at": match.session.get("ended_at"),
        "started": _when(match.session.get("started_at")),
        "python": _text(python.get("version")),
        "executable": _text(python.get("executable")),
        "ipykernel": _text(kernel.get("ipykernel")),
        "executions": len(match.records),
        "cells_shown": shown_cells,
        "match": {"same_output": same_output, "same_id_and_code": same_id, "same_code": same_code,
                  "same_count": by_count},
        "chosen": chosen,
    }


class SessionsApp(ReproSubApp):
    """List the recorded sessions of a notebook and how well each matches the saved file."""

    name = "jupyter-repro-sessions"
    usage = "jupyter repro sessions [--json] NOTEBOOK.ipynb"
    exit_codes = "0 listed (also when none was recorded), 2 bad input or usage"
    description = __doc__
    examples = """
    jupyter repro sessions analysis.ipynb
    jupyter repro sessions analysis.ipynb --json
    jupyter repro check analysis.ipynb --session 3f2a
    """
    json_output = Bool(False, help="Print the sessions as JSON.").tag(config=True)
    flags = {"json": ({"SessionsApp": {"json_output": True}}, json_output.help)}

    def run(self) -> int:
        (target,) = self.positional(1, "one notebook path (jupyter repro sessions NOTEBOOK.ipynb)")
        path = Path(target)
        nb = read_notebook(path)
        cells = cells_from_dicts([dict(c, source=c.get("source")) for c in nb.cells])
        shown = sum(1 for c in cells if c.cell_type == "code" and c.execution_count is not None)
        try:
            journal = find_journal(path, nb)
        except JournalError as exc:
            if "no .repro journal" not in exc.message:
                raise
            ranked, chosen = [], None
        else:
            with journal:
                ranked = rank_sessions(journal, path.name, cells)
                chosen = choose_session(journal, path.name, cells)
        rows = [describe(m, shown, chosen is not None and m.session_id == chosen.session_id) for m in ranked]
        if self.json_output:
            print(json.dumps({"notebook": str(path), "sessions": rows}, indent=1))
            return 0
        if not rows:
            print(f"{path}: no recorded session (record one with `%load_ext repro_kernel` and `%repro start`)")
            return 0
        print(f"{path}: {len(rows)} recorded session{'s' if len(rows) != 1 else ''}; * = the one check, export "
              f"and verify judge ({shown} cells show outputs)")
        for row in rows:
            m = row["match"]
            print(f"{'*' if row['chosen'] else ' '} {str(row['session_id'])[:12]:<12}  {row['started'] or 'unknown time':<23}"
                  f"  python {row['python'] or '?':<8} {row['executions']:>5} executions  matches {m['same_output']} "
                  f"by output, {m['same_id_and_code']} "
                  f"by id+code, {m['same_code']} by code, {m['same_count']} by count"
                  f"{'' if row['notebook'] else '  (recorded without a notebook path)'}")
        return 0
