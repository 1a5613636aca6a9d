"""What the rules read of a session besides the page: the last execution of each cell and, per rule family, the
executions that family has anything to look at.

:func:`~repro_kernel.analysis.engine.analyze` takes a :class:`SessionIndex`. Offline it is built from scratch
(:meth:`SessionIndex.build`); live, :class:`~repro_kernel.analysis.incremental.IncrementalSession` keeps one up
to date record by record, so that the rules over families (files, network, randomness, environment, GPU,
secrets) walk only their own executions and the page rules only the cells, never the whole session. The rules
skip every execution without their tag, so running them on a family's list instead of the whole session gives
the same flags.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from repro_kernel.analysis.compaction import FamilyCompactor
from repro_kernel.analysis.model import Execution
from repro_kernel.analysis.rules.secrets import _code_was_redacted, _kinds

TAGS = ("files", "network", "random", "environment", "gpu")


def holds_secret(execution: Execution) -> bool:
    """Whether :func:`~repro_kernel.analysis.rules.secrets.secrets_in` finds anything in this execution's own
    texts (its code, the code hash it was recorded with, its error and fault messages)."""
    record = execution.record or {}
    code_hash = record.get("code_hash")
    if record.get("redacted") or (isinstance(code_hash, str) and _code_was_redacted(execution.code, code_hash)):
        return True
    if _kinds(execution.code, True):
        return True
    return any(isinstance(m, str) and _kinds(m, False) for m in [record.get("error"), *(record.get("recorder_errors") or ())])


@dataclass
class SessionIndex:
    """``last``: cell id -> the latest execution mapped to it; ``tagged``: tag -> its executions, in order;
    ``secret``: the executions whose own texts hold a secret, in order."""

    last: dict[str, Execution] = field(default_factory=dict)
    tagged: dict[str, list[Execution]] = field(default_factory=lambda: {t: [] for t in TAGS})
    secret: list[Execution] = field(default_factory=list)
    compactor: Optional[FamilyCompactor] = None  # live, mapped by cell ids: re-runs that change no flag left out

    @classmethod
    def build(cls, executions: list[Execution]) -> "SessionIndex":
        index = cls()
        for execution in executions:
            index.add(execution)
        return index

    def add(self, execution: Execution) -> None:
        """Index one more execution (the latest of the session), already mapped to its cell."""
        if execution.cell is not None:
            self.last[execution.cell] = execution
        self.add_to_families(execution)

    def add_to_families(self, execution: Execution) -> None:
        """Index one more execution in the rule families (which do not depend on the page)."""
        compactor = self.compactor
        for tag in execution.tags:
            if tag in self.tagged and (compactor is None or compactor.admits(tag, execution)):
                self.tagged[tag].append(execution)
        if holds_secret(execution):
            self.secret.append(execution)

    def refill(self, executions: list[Execution], compact: bool) -> None:
        """The family lists again, from ``executions`` (compacted or not)."""
        self.tagged = {t: [] for t in TAGS}
        self.secret = []
        self.compactor = FamilyCompactor() if compact else None
        for execution in executions:
            self.add_to_families(execution)

    def of(self, tag: str) -> list[Execution]:
        return self.tagged.get(tag, [])

    def latest(self, cell: str) -> Optional[Execution]:
        return self.last.get(cell)
