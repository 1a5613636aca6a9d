"""``jupyter repro verify DIR|NOTEBOOK``: replay an export in a fresh kernel and compare every step."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from traitlets import Bool, Enum, Float, List, Unicode

from repro_kernel.cli.check import BatchApp
from repro_kernel.exceptions import ReproError
from repro_kernel.export.drift import drift_json, upgrade_argv, verify_upgrade
from repro_kernel.export.freshenv import Sources, verify_fresh
from repro_kernel.export.mlflow_log import log_verify, require_mlflow, untracked_store_note
from repro_kernel.export.verify import render_report, verify_export


class VerifyApp(BatchApp):
    """Replay an export in a fresh kernel and compare every step's outputs with the recorded ones."""

    name = "jupyter-repro-verify"
    usage = "jupyter repro verify [options] EXPORT_DIR | NOTEBOOK.ipynb | PATH..."
    exit_codes = ("0 every step reproduced, 1 some step differs or an input changed, 2 bad input or usage "
                  "(tampered export, missing packages)")
    description = __doc__
    examples = """
    jupyter repro verify analysis.repro
    jupyter repro verify analysis.ipynb --rtol 1e-9 --json
    jupyter repro verify analysis.repro --kernel python3 --timeout 600
    jupyter repro verify analysis.repro --sanitize-with sanitize.cfg --diff full --save-replayed replayed.ipynb
    jupyter repro verify notebooks/ 'exports/*.repro' --jobs 4 --junit verify.xml --html verify.html
    jupyter repro verify analysis.repro --fresh-env --find-links wheels/
    jupyter repro verify analysis.repro --upgrade pandas numpy==2.1.0
    """
    rtol = Float(0.0, help="Numbers in text outputs match within this relative tolerance.").tag(config=True)
    image_tolerance = Float(None, allow_none=True, help="Images match when their mean pixel difference (0-255) is "
                            "at most this (default: identical bytes).").tag(config=True)
    json_output = Bool(False, help="Print the report as JSON on stdout.").tag(config=True)
    kernel = Unicode("", help="Kernel to replay in (default: the notebook's kernelspec).").tag(config=True)
    timeout = Float(0.0, help="Seconds one step may run (0: no limit).").tag(config=True)
    sanitize_with = Unicode("", help="An nbval sanitize file: [sections] of regex: and replace: lines applied to "
                            "both sides before comparing.").tag(config=True)
    save_replayed = Unicode("", help="Write the replayed notebook (with the outputs the replay gave) here.").tag(
        config=True)
    diff = Enum(["short", "full"], "short", help="Differences as short diffs (a few lines) or full unified "
                "diffs.").tag(config=True)
    mlflow = Unicode(None, allow_none=True, help="Also log what verify found as metrics of the export's MLflow "
                     "run, at this tracking URI (--mlflow alone: MLFLOW_TRACKING_URI, else sqlite mlflow.db beside "
                     "the export); needs `pip install 'jupyter-repro[mlflow]'`.").tag(config=True)
    fresh_env = Bool(False, help="Replay in a new environment built with uv from the export's own pins, on the "
                     "recorded Python (cached by the pins: see docs/environment.md).").tag(config=True)
    upgrade = Bool(False, help="Replay with the newest allowed releases of the pinned packages (--upgrade PKG ...: "
                   "only those; PKG==VERSION: that release) and name the package that changed each differing "
                   "step.").tag(config=True)
    upgrade_package = List(Unicode(), help="A package for --upgrade (repeatable).").tag(config=True)
    find_links = List(Unicode(), help="A folder of wheels uv also installs from (--fresh-env, --upgrade; "
                      "repeatable).").tag(config=True)
    index_url = Unicode("", help="The package index uv installs from (--fresh-env, --upgrade).").tag(config=True)
    aliases = {"find-links": "VerifyApp.find_links", "index-url": "VerifyApp.index_url",
               "upgrade-package": "VerifyApp.upgrade_package",
               "mlflow": "VerifyApp.mlflow", "rtol": "VerifyApp.rtol", "kernel": "VerifyApp.kernel", "timeout": "VerifyApp.timeout",
               "image-tolerance": "VerifyApp.image_tolerance", "sanitize-with": "VerifyApp.sanitize_with",
               "save-replayed": "VerifyApp.save_replayed", "diff": "VerifyApp.diff", **BatchApp.batch_aliases("VerifyApp")}
    flags = {"json": ({"VerifyApp": {"json_output": True}}, json_output.help),
             "mlflow": ({"VerifyApp": {"mlflow": ""}}, "Also log the results to the export's MLflow run."),
             "fresh-env": ({"VerifyApp": {"fresh_env": True}}, fresh_env.help),
             "upgrade": ({"VerifyApp": {"upgrade": True}}, upgrade.help),
             **BatchApp.batch_flags("VerifyApp")}

    def parse_command_line(self, argv: Any = None) -> None:
        super().parse_command_line(upgrade_argv(argv) if argv is not None else argv)

    def run(self) -> int:
        if self.mlflow and not self.extra_args and Path(self.mlflow).exists():
            self.extra_args, self.mlflow = [self.mlflow], ""  # `--mlflow DIR`: the flag took no URI
        batch = self.wants_batch("verify")
        (target,) = [""] if batch else self.positional(1, "one export folder or notebook")
        if self.mlflow is not None:
            require_mlflow(self.mlflow or None)
        self.number("--rtol", self.rtol, what="a relative tolerance of 0 or more, e.g. 1e-9")
        self.number("--timeout", self.timeout, what="a number of seconds, 0 for no limit")
        if self.image_tolerance is not None:
            self.number("--image-tolerance", self.image_tolerance, high=255.0,
                        what="a mean pixel difference from 0 to 255")
        if batch:  # each item in a `jupyter repro verify ITEM --json` process of its own (docs/batch.md)
            if self.save_replayed:
                self.usage_error("--save-replayed takes one export; verify a batch without it")
            return self.batch("verify", json_output=self.json_output)
        if (self.fresh_env or self.upgrade) and self.kernel:
            self.usage_error("--kernel names the kernel to replay in; --fresh-env and --upgrade build their own")
        drift = None
        try:
            options = dict(
                rtol=self.rtol, timeout=self.timeout or None,
                image_tolerance=self.image_tolerance,
                progress=not self.json_output,
                sanitize_with=Path(self.sanitize_with) if self.sanitize_with else None,
                save_replayed=Path(self.save_replayed) if self.save_replayed else None,
                full_diff=self.diff == "full",
            )
            for folder in self.find_links:
                try:
                    found = Path(folder).is_dir()
                except (OSError, ValueError):  # a name past the file system's limit, a NUL byte
                    found = False
                if not found:
                    self.usage_error(f"--find-links {folder[:120]} is not a folder; name a folder of wheels")
            sources = Sources(list(self.find_links), self.index_url or None)
            if self.upgrade or self.upgrade_package:
                drift = verify_upgrade(Path(target), self.upgrade_package, sources, **options)
                report = drift.report
            elif self.fresh_env:
                report = verify_fresh(Path(target), sources, **options)
            else:
                report = verify_export(Path(target), kernel=self.kernel or None, **options)  # type: ignore[arg-type]
        except ReproError as exc:
            if self.json_output:
                print(json.dumps({"folder": target, "reproduced": False, "exit_code": exc.exit_code,
                                  "problems": [exc.one_line()], "steps": []}))
            raise
        if self.json_output:
            print(json.dumps(report.to_json() if drift is None else drift_json(drift), indent=1))
        elif report.problems:
            for problem in report.problems:
                print(f"jupyter repro verify: {problem}", file=sys.stderr)
        else:
            print(render_report(report), end="")
        if self.mlflow is not None and not report.problems and Path(report.folder).is_dir():
            logged = log_verify(report.folder, report.to_json().get("counts") or {}, exit_code=report.exit_code,
                                seconds=report.total_seconds, tracking_uri=self.mlflow or None)
            out = sys.stderr if self.json_output else sys.stdout
            print(f"logged the verify results to MLflow run {logged.run_id} at {logged.tracking_uri}", file=out)
            note = untracked_store_note(logged.tracking_uri)
            if note:
                print(f"  note: {note}", file=out)
        return report.exit_code
