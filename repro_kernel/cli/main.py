"""``jupyter repro``: the command line (``jupyter-repro`` on PATH, so ``jupyter repro ...`` works)."""

from __future__ import annotations

import os
import sys
import traceback
from typing import Optional

from repro_kernel._version_info import version
from repro_kernel.cli.app import DEBUG_ENV, OneLineUsage, internal_error

SUBCOMMANDS = {
    "export": (
        "repro_kernel.cli.export:ExportApp",
        "Write a linear replay script, notebook, manifest and binder/ folder from a recorded session.",
    ),
    "verify": (
        "repro_kernel.cli.verify:VerifyApp",
        "Replay an export in a fresh kernel and compare every step's outputs with the recorded ones.",
    ),
    "diff": (
        "repro_kernel.cli.diff:DiffApp",
        "Show what differs between two runs, most likely cause of the first differing output first.",
    ),
    "check": (
        "repro_kernel.cli.check:CheckApp",
        "Report what would stop a notebook from reproducing (for CI and pre-commit).",
    ),
    "sessions": (
        "repro_kernel.cli.sessions:SessionsApp",
        "List a notebook's recorded sessions and how well each matches the saved file.",
    ),
    "install-kernel": (
        "repro_kernel.cli.kernelspec:InstallKernelApp",
        "Install a kernelspec that records from the first cell with a fixed hash seed.",
    ),
}


class ReproApp(OneLineUsage):
    """Make notebook sessions reproducible."""

    name = "jupyter-repro"
    version = version
    description = __doc__
    subcommands = {
        name: (target.replace(":", "."), help_text) for name, (target, help_text) in SUBCOMMANDS.items()
    }
    examples = """
    jupyter repro check analysis.ipynb
    jupyter repro export analysis.ipynb
    jupyter repro verify analysis.repro
    jupyter repro install-kernel --user
    """

    def start(self) -> None:
        if self.subapp is None:
            print(f"jupyter repro: error: name a subcommand: {', '.join(self.subcommands)} "
                  "(see `jupyter repro --help`)", file=sys.stderr)
            self.exit(2)
        super().start()


def _skip_iri_grammar() -> None:
    """jsonschema (which nbformat imports to validate) checks the "iri" formats with rfc3987-syntax when it is
    installed, and that package builds its grammar at import: over a second before every command. Neither the
    notebook schema nor ours uses those formats, so this process, which is ours alone, goes without it."""
    if "jsonschema" not in sys.modules:
        # A None entry is how Python spells "not installed" to an import.
        sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]


def main(argv: Optional[list[str]] = None) -> None:
    """Entry point of the ``jupyter-repro`` console script."""
    _skip_iri_grammar()
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) > 1 and args[0] == "--debug" and args[1] in ReproApp.subcommands:
        args = [args[1], "--debug", *args[2:]]  # `jupyter repro --debug check nb.ipynb`: the subcommand's flag
    if args and not args[0].startswith("-") and args[0] not in ReproApp.subcommands:
        print(
            f"jupyter repro: error: unknown subcommand {args[0]!r}; choose one of "
            f"{', '.join(ReproApp.subcommands)}",
            file=sys.stderr,
        )
        sys.exit(2)
    try:
        ReproApp.launch_instance(argv=args)
    except Exception as exc:  # a bug while parsing the command line: one line too (subcommands guard their run)
        if "--debug" in args or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
            traceback.print_exc()
        print(internal_error("jupyter repro", exc), file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
