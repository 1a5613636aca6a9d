"""Base class for ``jupyter repro <subcommand>`` applications.

Each subcommand is a small ``JupyterApp`` that implements :meth:`ReproSubApp.run` and returns an exit code.
Errors from the :class:`~repro_kernel.exceptions.ReproError` tree become one line on stderr and their exit
code; nothing else is ever printed as a bare traceback for bad input.
"""

from __future__ import annotations

import sys
from typing import Any

from jupyter_core.application import JupyterApp

from repro_kernel._version_info import version
from repro_kernel.exceptions import ReproError


class ReproSubApp(JupyterApp):
    """A ``jupyter repro`` subcommand."""

    version = version
    # Subcommands do not read or write Jupyter config files of their own.
    config_file_name = ""

    def run(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def start(self) -> None:
        try:
            code = self.run()
        except ReproError as exc:
            print(f"{self._command}: error: {exc.one_line()}", file=sys.stderr)
            self.exit(exc.exit_code)
        except KeyboardInterrupt:
            print("jupyter repro: interrupted", file=sys.stderr)
            self.exit(130)
        self.exit(code or 0)

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
