"""``jupyter repro diff A B``: what differs between two runs, most likely explanation of the first differing output
first (:mod:`repro_kernel.export.rundiff`)."""

from __future__ import annotations

import json

from traitlets import Enum

from repro_kernel.cli.app import ReproSubApp
from repro_kernel.export.rundiff import diff_runs, render_diff


class DiffApp(ReproSubApp):
    """Compare two runs: two exports, two sessions of one journal (NOTEBOOK.ipynb:SESSION), or an export and a
    notebook."""

    name = "jupyter-repro-diff"
    usage = "jupyter repro diff [--format text|json] A B   (an export folder, NOTEBOOK.ipynb or NOTEBOOK.ipynb:SESSION)"
    exit_codes = "0 the runs are equivalent, 1 they are not, 2 bad input or usage"
    description = __doc__
    examples = """
    jupyter repro diff monday.repro friday.repro
    jupyter repro diff analysis.repro analysis.ipynb
    jupyter repro diff analysis.ipynb:3f2a analysis.ipynb:9c01 --format json
    """
    format = Enum(["text", "json"], "text", help="Print the comparison as text or JSON.").tag(config=True)
    aliases = {"format": "DiffApp.format"}

    def run(self) -> int:
        a, b = self.positional(2, "two runs: export folders, notebooks or NOTEBOOK.ipynb:SESSION")
        diff, detail = diff_runs(a, b)
        if self.format == "json":
            print(json.dumps(dict(diff.to_json(), first_difference_detail=detail), indent=1, default=str))
        else:
            print(render_diff(diff, detail), end="")
        return 0 if diff.equivalent else 1
