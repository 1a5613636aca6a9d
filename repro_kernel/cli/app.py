"""Base class for ``jupyter repro <subcommand>`` applications.

Each subcommand is a small ``JupyterApp`` that implements :meth:`ReproSubApp.run` and returns an exit code.
Errors from the :class:`~repro_kernel.exceptions.ReproError` tree become one line on stderr and their exit
code; nothing else is ever printed as a bare traceback for bad input.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Generator
from textwrap import dedent, indent
from typing import Any

from jupyter_core.application import JupyterApp

from repro_kernel._version_info import version
from repro_kernel.exceptions import ReproError

EXIT_CODES = "0 reproducible / nothing found, 1 not reproducible / flags found, 2 bad input or usage"


class ReproSubApp(JupyterApp):
    """A ``jupyter repro`` subcommand."""

    version = version
    # Subcommands do not read or write Jupyter config files of their own.
    config_file_name = ""
    # The usage line `--help` starts with (positional arguments in capitals) and what the exit codes mean.
    usage = "jupyter repro SUBCOMMAND [options]"
    exit_codes = EXIT_CODES

    def run(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def start(self) -> None:
        try:
            code = self.run()
            sys.stdout.flush()
        except BrokenPipeError:
            # `jupyter repro check nb.ipynb | head -3`: the reader left; say nothing more, exit as SIGPIPE would.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            self.exit(141)
        except ReproError as exc:
            print(f"{self._command}: error: {exc.one_line()}", file=sys.stderr)
            self.exit(exc.exit_code)
        except KeyboardInterrupt:
            print("jupyter repro: interrupted", file=sys.stderr)
            self.exit(130)
        self.exit(code or 0)

    # -- help: a usage line and the exit codes first, options without traitlets' preamble, examples aligned --

    def emit_description(self) -> Generator[str, None, None]:
        yield f"Usage: {self.usage}"
        yield ""
        yield from super().emit_description()
        yield f"Exit codes: {self.exit_codes}."
        yield ""

    def emit_options_help(self) -> Generator[str, None, None]:
        if not self.flags and not self.aliases:
            return
        yield "Options"
        yield "======="
        yield from self.emit_flag_help()
        yield from self.emit_alias_help()
        yield ""

    def emit_examples(self) -> Generator[str, None, None]:
        if self.examples:
            yield "Examples"
            yield "--------"
            yield ""
            yield indent(dedent(self.examples).strip("\n"), "    ")
            yield ""

    @property
    def _command(self) -> str:
        return "jupyter repro " + self.name.removeprefix("jupyter-repro-")

    def usage_error(self, message: str) -> None:
        """Report bad usage in one line and exit 2."""
        print(f"{self._command}: error: {message}", file=sys.stderr)
        self.exit(2)

    def positional(self, count: int, what: str) -> list[str]:
        """The positional arguments, checked for ``count`` (an exact number) with a one-line error."""
        args: list[Any] = list(self.extra_args)
        if len(args) != count:
            self.usage_error(f"expected {what}; see `{self.name.replace('-', ' ')} --help`")
        return [str(a) for a in args]
