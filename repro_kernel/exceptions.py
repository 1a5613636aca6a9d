"""One exception tree for everything jupyter-repro reports to a user.

Every message says what went wrong *and* what to do next; the CLI prints it as one line and exits with
the exception's ``exit_code``.
"""

from __future__ import annotations


class ReproError(Exception):
    """Base class: a problem the user can act on."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(self.one_line())

    def one_line(self) -> str:
        text = " ".join(self.message.split())
        if self.hint:
            text = f"{text}; {' '.join(self.hint.split())}"
        return text


class BadInputError(ReproError):
    """The user gave us something we cannot read (a corrupt notebook, a missing file, a bad option)."""


class UsageError(BadInputError):
    """The command line is wrong: an unknown option, a bad option value, a missing or extra argument."""


class NotebookError(BadInputError):
    """A notebook is missing, unreadable or not valid nbformat."""


class JournalError(BadInputError):
    """The `.repro/` journal is missing, corrupt or from an unknown format version."""


class ManifestError(BadInputError):
    """A manifest fails its schema or its integrity check (tampered, truncated, unknown version)."""


class DataChangedError(ReproError):
    """An input file no longer has the content it had when the session was recorded."""

    exit_code = 1


class NotReproducibleError(ReproError):
    """A replay finished but did not give the recorded results."""

    exit_code = 1
