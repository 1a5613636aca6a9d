"""``jupyter repro check nb.ipynb``: what would stop a notebook from reproducing, for CI and pre-commit.

Runs the same engine as the live sidebar (:func:`repro_kernel.analysis.analyze_notebook`), with the
notebook's ``.repro`` journal when there is one and from the saved notebook alone otherwise. Exit codes:
0 no flag at or above ``--fail-on``, 1 some, 2 bad input (one line on stderr).
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

from traitlets import Bool, Float, Int, Unicode

from repro_kernel.analysis import KINDS, SEVERITIES, Report, analyze_notebook
from repro_kernel.cli.app import ReproSubApp
from repro_kernel.exceptions import ReproError
from repro_kernel.export.batch import GLOB_CHARS, MANIFEST
from repro_kernel.export.batch_command import BatchRequest, run_batch

FORMATS = ("text", "json")
BATCH_OPTIONS = ("jobs", "junit", "html", "since-last", "state-file", "dask", "task-timeout")


class BatchApp(ReproSubApp):
    """The options ``check`` and ``verify`` share for many paths at once (:mod:`repro_kernel.export.batch`)."""

    jobs = Int(0, help="Items to run at once, each in its own process (0: the number of cores).").tag(config=True)
    junit = Unicode("", help="Also write a JUnit XML report here (one test case per item).").tag(config=True)
    html = Unicode("", help="Also write a static HTML page here: every item, its status, each failure's diff."
                   ).tag(config=True)
    since_last = Bool(False, help="Skip exports unchanged since their last success (see --state-file).").tag(
        config=True)
    state_file = Unicode("", help="The --since-last state file (default: .jupyter-repro-state.json here; delete "
                         "it to start over).").tag(config=True)
    dask = Unicode("", help="Run each item as a task on the Dask distributed scheduler at this address "
                   "(e.g. tcp://127.0.0.1:8786); the workers read the paths from a shared file system.").tag(config=True)
    task_timeout = Float(0.0, help="Seconds one item of a batch may run in all before it is stopped (0: no "
                         "limit).").tag(config=True)

    @classmethod
    def batch_aliases(cls, section: str) -> dict[str, str]:
        return {name: f"{section}.{name.replace('-', '_')}" for name in BATCH_OPTIONS if name != "since-last"}

    @classmethod
    def batch_flags(cls, section: str) -> dict[str, Any]:
        return {"since-last": ({section: {"since_last": True}}, cls.since_last.help)}

    def wants_batch(self, command: str) -> bool:
        """A batch when several paths (or none), a folder of items, a glob, or a batch option is given; one
        export or notebook alone keeps the one-item command and its output."""
        args = [str(a) for a in self.extra_args]
        if not args:
            return False
        if len(args) > 1 or self.jobs or self.junit or self.html or self.since_last or self.dask or self.task_timeout:
            return True
        (path,) = args
        if not os.path.lexists(path):
            return bool(GLOB_CHARS & set(path))  # a glob: the batch says what it matched
        return os.path.isdir(path) and (command == "check" or not os.path.isfile(os.path.join(path, MANIFEST)))

    def forwarded_options(self) -> list[str]:
        """The options given on this command line that each item's own process must be given too."""
        out: list[str] = []
        batch = {name.replace("-", "_") for name in BATCH_OPTIONS} | {"json_output", "format", "debug"}
        seen: set[str] = set()
        for name, target in self.aliases.items():
            trait = str(target).rpartition(".")[2]
            if not isinstance(name, str) or trait in batch or trait in seen or not self.has_trait(trait):
                continue
            value, default = getattr(self, trait), self.trait_defaults(trait)
            if value is None or value == default:
                continue
            seen.add(trait)
            for each in value if isinstance(value, (list, tuple)) else [value]:
                if isinstance(each, str) and each and os.path.exists(each):
                    each = os.path.abspath(each)  # a Dask worker may run in another folder
                out.append(f"--{name}={each}")
        for name, (config, _) in self.flags.items():
            values: dict[str, Any] = next(iter(config.values()), {}) if isinstance(config, dict) else {}
            if not isinstance(name, str) or not values or set(values) & (batch | seen):
                continue
            if all(self.has_trait(t) and getattr(self, t) == v != self.trait_defaults(t) for t, v in values.items()):
                out.append(f"--{name}")
        return out

    def batch(self, command: str, json_output: bool) -> int:
        if self.jobs < 0:
            self.usage_error(f"--jobs must be a whole number, 0 (the number of cores) or more, not {self.jobs}")
        self.number("--task-timeout", self.task_timeout, what="a number of seconds, 0 for no limit")
        if not self.extra_args:
            self.usage_error(f"expected one or more paths: exports, notebooks, folders or globs; see "
                             f"`{self._command} --help`")
        try:
            return run_batch(BatchRequest(
                command, [str(a) for a in self.extra_args], self.forwarded_options(), jobs=self.jobs, dask=self.dask,
                task_timeout=self.task_timeout or None, json_output=json_output, junit=self.junit, html=self.html,
                since_last=self.since_last, state_file=self.state_file))
        except ReproError as exc:
            if json_output:  # `> report.json` still gets a document that says why nothing ran
                print(json.dumps({"command": command, "exit_code": exc.exit_code, "problems": [exc.one_line()],
                                  "results": []}))
            raise


class CheckApp(BatchApp):
    """Report what would stop a notebook from reproducing."""

    name = "jupyter-repro-check"
    usage = "jupyter repro check [options] NOTEBOOK.ipynb | PATH..."
    description = __doc__
    examples = """
    jupyter repro check analysis.ipynb
    jupyter repro check analysis.ipynb --format json --fail-on error
    jupyter repro check analysis.ipynb --no-journal
    jupyter repro check notebooks/ --jobs 4 --junit check.xml
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
        **BatchApp.batch_aliases("CheckApp"),
    }
    flags = {
        "no-journal": ({"CheckApp": {"no_journal": True}}, "Ignore the .repro journal."),
        "json": ({"CheckApp": {"format": "json"}}, "Same as --format json."),
        **BatchApp.batch_flags("CheckApp"),
    }

    def run(self) -> int:
        batch = self.wants_batch("check")
        if not batch:
            self.positional(1, "one notebook path (jupyter repro check NOTEBOOK.ipynb)")
        if self.format not in FORMATS:
            self.usage_error(f"--format must be one of {', '.join(FORMATS)}, not {self.format!r}")
        if self.fail_on not in (*SEVERITIES, "none"):
            self.usage_error(f"--fail-on must be one of error, warning, info, none, not {self.fail_on!r}")
        if batch:
            return self.batch("check", json_output=self.format == "json")
        path = str(self.extra_args[0])
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
