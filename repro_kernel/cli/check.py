"""``jupyter repro check nb.ipynb``: what would stop a notebook from reproducing, for CI and pre-commit.

Runs the same engine as the live sidebar (:func:`repro_kernel.analysis.analyze_notebook`), with the
notebook's ``.repro`` journal when there is one and from the saved notebook alone otherwise. Exit codes:
0 no flag at or above ``--fail-on``, 1 some, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import json
import sys
from typing import Any

from traitlets import Bool, Unicode

from repro_kernel.analysis import KINDS, SEVERITIES, Report, analyze_notebook
from repro_kernel.cli.app import ReproSubApp

FORMATS = ("text", "json")


class CheckApp(ReproSubApp):
    """Report what would stop a notebook from reproducing."""

    name = "jupyter-repro-check"
    usage = "jupyter repro check [options] NOTEBOOK.ipynb"
    description = __doc__
    examples = """
    jupyter repro check analysis.ipynb
    jupyter repro check analysis.ipynb --format json --fail-on error
    jupyter repro check analysis.ipynb --no-journal
    """

    format = Unicode("text", help="Output format: text or json.").tag(config=True)
    fail_on = Unicode(
        "warning", help="Exit 1 when a flag is at or above this severity: error, warning, info or none."
    ).tag(config=True)
    session = Unicode("", help="Analyse this recorded session (id or unique prefix; see `jupyter repro sessions`) instead of "
                        "the one the saved cells show.").tag(
        config=True
    )
    no_journal = Bool(False, help="Ignore the .repro journal and judge from the saved notebook alone.").tag(
        config=True
    )

    aliases = {
        "format": "CheckApp.format",
        "fail-on": "CheckApp.fail_on",
        "session": "CheckApp.session",
    }
    flags = {
        "no-journal": ({"CheckApp": {"no_journal": True}}, "Ignore the .repro journal."),
        "json": ({"CheckApp": {"format": "json"}}, "Same as --format json."),
    }

    def run(self) -> int:
        (path,) = self.positional(1, "one notebook path (jupyter repro check NOTEBOOK.ipynb)")
        if self.format not in FORMATS:
            self.usage_error(f"--format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        if self.fail_on not in (*SEVERITIES, "none"):
            self.usage_error(f"--fail-on must be one of error, warning, info, none, not {self.fail_on!r}")
        report = analyze_notebook(path, journal=False if self.no_journal else None, session=self.session or None)
        if self.format == "json":
            out: dict[str, Any] = report.to_dict()
            out["fail_on"] = self.fail_on
            print(json.dumps(out, indent=2))
        else:
            print(render_text(report))
        return report.exit_code(self.fail_on)


def render_text(report: Report) -> str:
    """The human-readable report: one line per flag, its fix below it, then what could not be judged."""
    index = {c.id: c.index for c in report.cells}
    counts = ", ".join(f"{report.count(s)} {s}{'s' if report.count(s) != 1 else ''}"
                       for s in reversed(SEVERITIES) if report.count(s))
    source = (f"journal session {report.session_id[:8]}, {report.executions} executions"
              if report.session_id else "no journal: judged from the saved notebook alone")
    lines = [f"{report.notebook}: {len(report.flags)} flag{'s' if len(report.flags) != 1 else ''}"
             f"{f' ({counts})' if counts else ''} [{source}]"]
    for flag in report.flags:
        where = ", ".join(str(index[c] + 1) for c in flag.cells if c in index)
        lines.append(f"  {flag.severity:<7} {flag.kind:<20} {('cells ' + where) if where else '':<12} {flag.message}")
        lines.append(f"  {'':<7} {'':<20} {'':<12} fix: {flag.fix}")
    if report.not_judged:
        kinds = [k for k in KINDS if k in report.not_judged]
        lines.append(f"  not judged: {', '.join(kinds)}")
        for kind in kinds:
            lines.append(f"    {kind}: {report.not_judged[kind]}")
    if not report.flags:
        lines.append("  nothing found that would stop this notebook from reproducing")
    return "\n".join(lines)


def main() -> None:  # pragma: no cover - `python -m repro_kernel.cli.check`
    CheckApp.launch_instance()
    sys.exit(0)


if __name__ == "__main__":  # pragma: no cover
    main()
