"""Base class for ``jupyter repro <subcommand>`` applications.

Each subcommand is a small ``JupyterApp`` that implements :meth:`ReproSubApp.run` and returns an exit code.
Errors from the :class:`~repro_kernel.exceptions.ReproError` tree become one line on stderr and their exit
code; nothing else is ever printed as a bare traceback for bad input.

The command line is parsed by traitlets, whose own reports are argparse's usage block (an unknown value), a
warning that lets the command carry on (an unknown option) or a ``CRITICAL`` log line and exit 1 (a value of the
wrong type). :class:`OneLineUsage` turns each into one line naming the option and ``--help``, and exit 2.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import math
import os
import re
import sys
import traceback
from collections.abc import Generator, Iterator
from textwrap import dedent, indent
from typing import Any, NoReturn, Optional

from jupyter_core.application import JupyterApp
from traitlets import Bool, TraitError, default
from traitlets.config.loader import _DOT_REPLACEMENT, ArgumentError, KVArgParseConfigLoader, _KVArgParser

from repro_kernel._version_info import version
from repro_kernel.exceptions import ReproError, UsageError

EXIT_CODES = "0 reproducible / nothing found, 1 not reproducible / flags found, 2 bad input or usage"
DEBUG_ENV = "JUPYTER_REPRO_DEBUG"

# traitlets' report of a value of the wrong type, and how a user would say the type.
_TRAIT_ERROR = re.compile(r"The '(?P<trait>\w+)' trait of an? (?P<cls>\w+) instance expected (?P<expected>.+?), "
                          r"not the \w+ (?P<value>.+?)\.?$", re.DOTALL)
_TYPE_WORDS = {"a float": "a number", "an int": "a whole number", "a boolean": "true or false",
               "a unicode string": "text"}


class _Explained(UsageError):
    """A command-line error already worded for the user (traitlets' own would be caught and logged as CRITICAL)."""


class _Parser(_KVArgParser):
    """argparse that raises what it would print with its usage block (and exit) instead, and takes options
    between the paths (``verify a.repro --jobs 2 b.repro``), as argparse's intermixed parsing does."""

    _intermixing = False

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)

    def parse_known_args(self, args: Any = None, namespace: Any = None) -> Any:
        if self._intermixing:  # (the intermixed parse calls this twice itself)
            return super().parse_known_args(args, namespace)
        self._intermixing = True
        try:
            return super().parse_known_intermixed_args(args, namespace)
        finally:
            self._intermixing = False


class _Loader(KVArgParseConfigLoader):
    """traitlets' loader, where an unknown ``--name`` or ``--Class.trait`` is an error rather than a warning."""

    parser_class = _Parser

    def _convert_to_config(self) -> None:
        for dest in vars(self.parsed_data):
            name = dest.replace(_DOT_REPLACEMENT, ".")
            if dest not in ("extra_args", "_flags") and name not in self.argparse_traits:
                raise UsageError(f"unknown option --{name}")
        try:
            super()._convert_to_config()
        except ArgumentError as exc:  # e.g. `--format json --format text`
            raise UsageError(str(exc)) from None


class OneLineUsage(JupyterApp):
    """A JupyterApp whose command-line errors are one line on stderr and exit 2 (see the module docstring)."""

    @property
    def _command(self) -> str:
        if self.name == "jupyter-repro":
            return "jupyter repro"
        return "jupyter repro " + self.name.removeprefix("jupyter-repro-")

    def usage_error(self, message: str) -> NoReturn:
        """Report bad usage in one line and exit 2."""
        print(f"{self._command}: error: {' '.join(message.split())}", file=sys.stderr)
        self.exit(2)
        raise SystemExit(2)  # pragma: no cover - exit() raises

    def _create_loader(self, argv: Optional[list[str]], aliases: Any, flags: Any, classes: Any) -> _Loader:
        return _Loader(argv, aliases, flags, classes=classes, log=self.log, subcommands=self.subcommands)

    def parse_command_line(self, argv: Any = None) -> None:
        with self._one_line_config_errors():
            super().parse_command_line(argv)

    @default("raise_config_file_errors")
    def _raise_config_errors(self) -> bool:
        return True  # a broken jupyter_config.py is raised (and said in one line below), not logged with a traceback

    def load_config_file(self, suppress_errors: bool = True) -> None:  # type: ignore[override]
        try:
            super().load_config_file(suppress_errors)
        except SystemExit:
            raise
        except Exception as exc:
            where = f" {exc.filename}" if isinstance(exc, SyntaxError) and exc.filename else ""
            if isinstance(exc, (UsageError, TraitError)):
                what = self._explain(exc)
            else:
                what = f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
            self.usage_error(f"a Jupyter config file{where} cannot be used ({what}); fix it or move it aside "
                             "(`jupyter --paths` lists the config folders)")

    def update_config(self, config: Any) -> None:
        # A value of the wrong type raises here, inside methods traitlets wraps to log it as CRITICAL and exit 1.
        try:
            super().update_config(config)
        except TraitError as exc:
            raise _Explained(self._explain(exc)) from None

    @contextlib.contextmanager
    def _one_line_config_errors(self) -> Iterator[None]:
        try:
            yield
        except (UsageError, TraitError, ArgumentError) as exc:
            self.usage_error(f"{self._explain(exc)}; see `{self._command} --help`")

    # -- naming options as the user typed them --------------------------------------------------------------

    def _option_names(self) -> Iterator[tuple[str, Optional[str]]]:
        """(``--name``, the ``Class.trait`` it sets or None for a flag) for every alias and flag."""
        for keys, target in self.aliases.items():
            for key in keys if isinstance(keys, tuple) else (keys,):
                yield ("-" if len(key) == 1 else "--") + key, target
        for keys in self.flags:
            for key in keys if isinstance(keys, tuple) else (keys,):
                yield ("-" if len(key) == 1 else "--") + key, None

    def _spelling(self, dotted: str) -> str:
        """How a user spells the option that sets ``Class.trait`` (``CheckApp.format`` -> ``--format``)."""
        dotted = dotted.lstrip("-").replace(_DOT_REPLACEMENT, ".")
        section, _, trait = dotted.rpartition(".")
        names = list(self._option_names())
        exact = [option for option, target in names if target == dotted]
        # an alias that sets the trait through a parent class's section (`--log-level`: Application.log_level)
        inherited = [option for option, target in names if target and target.rpartition(".")[2] == trait
                     and section in self.section_names()]
        return max(exact or inherited, key=len, default=f"--{dotted}")

    def _explain(self, exc: BaseException) -> str:
        text = " ".join(str(exc).split()) or type(exc).__name__
        if isinstance(exc, _Explained):
            return text
        if isinstance(exc, TraitError):
            match = _TRAIT_ERROR.match(text)
            if match:
                expected = _TYPE_WORDS.get(match["expected"], match["expected"])
                return f"{self._spelling(match['cls'] + '.' + match['trait'])} expects {expected}, not {match['value']}"
            return text[:200]
        if "only accepts one value" in text:  # a scalar option given twice
            match = re.match(r"Error loading argument (?P<name>[\w.]+)=", text)
            if match:
                return f"{self._spelling(match['name'])} is given more than once"
        unknown = re.match(r"(?:unknown option|unrecognized arguments:) (?P<option>\S+)", text)
        if unknown:
            return self._unknown(unknown["option"])
        argument = re.match(r"argument (?P<option>[^:\s]+)(?:/\S+)?: (?P<what>.*)", text)
        if argument:
            option, what = argument["option"], argument["what"]
            known = {name for name, _ in self._option_names()}
            spelled = self._spelling(option) if "." in option else option
            if spelled not in known and "." not in option.lstrip("-"):
                return self._unknown(option)
            if what == "expected one argument":
                return f"{spelled} needs a value"
            ignored = re.match(r"ignored explicit argument (?P<value>.*)", what)
            if ignored:
                return f"{spelled} takes no value (got {ignored['value']})"
            return f"{spelled}: {what}"
        return text[:200]

    def _unknown(self, option: str) -> str:
        name = option.split("=", 1)[0].replace(_DOT_REPLACEMENT, ".")
        name = name if name.startswith("-") else f"--{name}"
        known = [n for n, _ in self._option_names()]
        close = difflib.get_close_matches(name, known, n=1)
        return f"unknown option {name}" + (f" (did you mean {close[0]}?)" if close else "")


class ReproSubApp(OneLineUsage):
    """A ``jupyter repro`` subcommand."""

    version = version
    # Subcommands do not read or write Jupyter config files of their own.
    config_file_name = ""
    # The usage line `--help` starts with (positional arguments in capitals) and what the exit codes mean.
    usage = "jupyter repro SUBCOMMAND [options]"
    exit_codes = EXIT_CODES

    debug = Bool(False, help=f"On an internal error, print its traceback too (also {DEBUG_ENV}=1).").tag(config=True)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Every subcommand takes --debug (its own `flags` replace JupyterApp's, which hold traitlets' --debug).
        cls.flags = {**cls.flags, "debug": ({"ReproSubApp": {"debug": True}}, cls.debug.help)}

    def run(self) -> int:  # pragma: no cover - abstract
        raise NotImplementedError

    def start(self) -> None:
        for stream in (sys.stdout, sys.stderr):
            # A name or output that holds a lone surrogate or a character the terminal cannot show is printed
            # escaped, not turned into a UnicodeEncodeError halfway through a report.
            if isinstance(stream, io.TextIOWrapper):
                stream.reconfigure(errors="backslashreplace")
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
        except Exception as exc:  # a bug, not bad input: still one line, the traceback on request
            if self.debug or os.environ.get(DEBUG_ENV, "") not in ("", "0"):
                traceback.print_exc()
            print(internal_error(self._command, exc), file=sys.stderr)
            self.exit(2)
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

    def positional(self, count: int, what: str) -> list[str]:
        """The positional arguments, checked for ``count`` (an exact number) with a one-line error."""
        args: list[Any] = list(self.extra_args)
        if len(args) != count:
            self.usage_error(f"expected {what}; see `{self._command} --help`")
        return [str(a) for a in args]

    def number(self, option: str, value: float, *, low: float = 0.0, high: float = math.inf, what: str) -> float:
        """``value`` of ``option`` when it is finite and within [low, high]; else one usage line (exit 2)."""
        if not (math.isfinite(value) and low <= value <= high):
            self.usage_error(f"{option} must be {what}, not {value!r}; see `{self._command} --help`")
        return value


def internal_error(command: str, exc: BaseException) -> str:
    """The one line a bug gets: what broke, and how to report it."""
    detail = " ".join(str(exc).split())[:200]
    return (f"{command}: internal error: {type(exc).__name__}{': ' + detail if detail else ''} "
            f"(please report it with --debug output)")
