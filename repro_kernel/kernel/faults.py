"""What the recorder tells the user, and how it keeps count of its own faults.

A cell may replace ``print``, ``sys.stdout`` or ``sys.stderr``; the recorder's messages must still reach the
notebook, so they are written to the streams the kernel had when the recorder was made (in ipykernel, the
streams that publish to the frontend, tied to the cell now running), falling back to the process's own
``sys.__stderr__``. Each kind of
fault (where it happened and the exception's type) is told once, when first seen; every fault is counted and
the latest ones kept for ``%repro status``. Every message goes through the recorder's redaction first (``scrub``:
the recorder's :class:`~repro_kernel.kernel.scrub.Scrubber`), since an exception's message may quote a path, a
URL or a value that holds a secret, and what is printed lands in the notebook's saved outputs.
"""

from __future__ import annotations

import io
import logging
import sys
import traceback
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, Optional

from repro_kernel.core.redact import REDACTED
from repro_kernel.core.secrets import redact

log = logging.getLogger("repro_kernel")


class FaultLog:
    """The recorder's voice and its tally of faults."""

    KEPT = 200  # messages of the latest faults kept for `%repro status`

    def __init__(self, shell: Any = None, scrub: Optional[Callable[[str], str]] = None) -> None:
        self.shell = shell
        self.scrub: Callable[[str], str] = scrub or redact
        self.stdout: Any = None
        self.stderr: Any = None
        self.capture()
        self.count = 0
        self.kinds: Counter[str] = Counter()
        self.latest: deque[str] = deque(maxlen=self.KEPT)

    def capture(self) -> None:
        """Take the streams the messages go to from ``sys`` now (when the recorder is made, and at each
        ``%repro start``), unless they are a capture buffer (``%%capture``, ``redirect_stdout``) of this cell."""
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is not None and not isinstance(stream, io.StringIO):
                setattr(self, name, stream)

    def _scrubbed(self, text: str) -> str:
        try:
            return self.scrub(text)
        except Exception:  # never show a text that could not be searched for secrets
            return REDACTED

    def say(self, text: str, *, error: bool = True) -> None:
        """Show ``text`` to the user (on the kernel's own stderr, or stdout), whatever a cell did to ``sys``;
        secrets in it are redacted first."""
        text = self._scrubbed(text)
        for stream in (self.stderr if error else self.stdout, sys.__stderr__):
            if stream is None or getattr(stream, "closed", False):
                continue
            try:
                self._follow_cell(stream)
                stream.write(text.rstrip("\n") + "\n")
                stream.flush()
                return
            except Exception:  # a closed or broken stream: try the next one
                continue
        log.warning("%s", text)

    def _follow_cell(self, stream: Any) -> None:
        """ipykernel ties its streams' output to the cell now running only for the streams ``sys`` holds: a
        stream a cell took out of ``sys`` is tied to it here, or its text would show under an earlier cell."""
        if stream is sys.stdout or stream is sys.stderr:
            return
        tie, parent = getattr(stream, "set_parent", None), getattr(self.shell, "get_parent", None)
        if callable(tie) and callable(parent):
            header = parent()
            if header:
                tie(header)

    def report(self, where: str, exc: BaseException, consequence: str) -> str:
        """Count a fault; tell the user the first time this kind is seen. Returns the fault's one-line text."""
        text = self._scrubbed(f"{where}: {type(exc).__name__}: {exc}")
        kind = f"{where}:{type(exc).__name__}"
        self.count += 1
        self.latest.append(text)
        self.kinds[kind] += 1
        if log.isEnabledFor(logging.DEBUG):  # the traceback too, redacted as the rest
            log.debug("recorder fault: %s\n%s", text, self._scrubbed("".join(traceback.format_exception(exc))))
        if self.kinds[kind] == 1:
            self.say(
                f"jupyter-repro: recorder fault in {where} ({type(exc).__name__}: {exc}); {consequence}. "
                "Later faults of this kind are only counted (see `%repro status`)."
            )
        return text

    def summary(self) -> Optional[str]:
        """The kinds of fault seen, most frequent first, for ``%repro status``; None when there were none."""
        if not self.kinds:
            return None
        return ", ".join(f"{kind} ({n}x)" for kind, n in self.kinds.most_common(5))
