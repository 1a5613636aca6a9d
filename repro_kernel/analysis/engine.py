"""The one engine that decides what stops a notebook from reproducing.

Live, the kernel calls :func:`analyze_live` after every cell and whenever the frontend sends the notebook's
cells; offline, ``jupyter repro check`` and the export call :func:`analyze_notebook`. Both build the same
inputs (the executions of the session that made the kernel's state, the cells now on the page, and what is
known of files and environments) and run the same rules (:func:`analyze`). The flag format is in
docs/contracts.md; what each kind means, and when it cannot be judged, is in docs/check.md.

Stable entry points (the comm, the export and the check command depend on them):

* ``analyze_live(recorder, cells) -> {"flags": [Flag dict], "cells": {cell_id: [kind, ...]}}``
* ``analyze_notebook(path, *, journal=None, session=None) -> Report``
* ``Report.to_dict()`` (JSON, ``schema_version`` 1), ``Report.flags``, ``Report.exit_code(fail_on)``
"""

from __future__ import annotations

from typing import Optional

from repro_kernel.analysis.index import SessionIndex
from repro_kernel.analysis.model import KINDS, PAGE_KINDS, SEVERITY_RANK, Cell, Context, Execution, Flag, Write
from repro_kernel.analysis.rules import environment, files, network, outputs, page, randomness, secrets


def resolve(executions: list[Execution]) -> dict[str, Write]:
    """Note, for every execution, the write each name it read came from; return the final writes.

    Reading a function's name charges the reader with the globals the function's body reads and rebinds
    (resolved when it runs, as Python does), so the dependency lands on the cell that calls it.
    """
    return resolve_more({}, executions, {})


def resolve_more(current: dict[str, Write], executions: list[Execution],
                 sharers: Optional[dict[str, set[str]]] = None) -> dict[str, Write]:
    """:func:`resolve` continued from the final writes ``current`` of earlier executions (updated in place).

    ``sharers`` (name -> names bound to share its value: ``y = x``, ``s = arr[5:8]``) is kept by a caller that
    resolves record by record; without it, it is rebuilt from ``current``. A change in place of one name is a
    change of every name sharing its value (a NumPy view, an alias, a list taken out of a dict).
    """
    if sharers is None:
        sharers = {}
        for name, made in current.items():
            for alias, source in made.execution.facts.aliases:
                if alias == name:
                    sharers.setdefault(source, set()).add(alias)
    for execution in executions:
        seen = execution.seen
        stack = list(reversed(execution.facts.eager_used))
        lazy_writes: list[str] = []
        while stack:
            name = stack.pop()
            if name in seen:
                continue
            write = current.get(name)
            seen[name] = write
            if write is not None:
                lazy = write.execution.facts
                stack.extend(reversed(lazy.lazy_used.get(name, ())))
                lazy_writes.extend(lazy.lazy_defined.get(name, ()))
        for name in lazy_writes:
            if name not in execution.writes:
                execution.writes[name] = None
        # A method call on an instance of a class the session defined may change it (``c.bump()``).
        changed = [n for n in execution.facts.maybe_mutated if _user_instance(current.get(n))]
        for name in changed:
            execution.writes.setdefault(name, None)
        for name in _sharing(execution.facts.mutated + changed, current, sharers):
            execution.writes.setdefault(name, None)
        for name, key in execution.writes.items():
            current[name] = Write(name, execution, key)
        for alias, source in execution.facts.aliases:
            if alias in execution.writes:
                sharers.setdefault(source, set()).add(alias)
    return current


def _user_instance(write: Optional[Write]) -> bool:
    """Whether the value of ``write`` was made by an execution that called a class the session defined."""
    return write is not None and any(seen is not None and (seen.key or "").startswith("class:")
                                     for seen in write.execution.seen.values())


def _shares(alias: str, source: str, current: dict[str, Write]) -> bool:
    """Whether ``alias`` still holds what it took from ``source``: neither was rebound since."""
    write = current.get(alias)
    return (write is not None and (alias, source) in write.execution.facts.aliases
            and write.execution.seen.get(source) is current.get(source))


def _sharing(mutated: list[str], current: dict[str, Write], sharers: dict[str, set[str]]) -> set[str]:
    """The names that share a value with a name changed in place, transitively; the changed names excluded."""
    found: set[str] = set()
    stack = list(mutated)
    while stack:
        name = stack.pop()
        partners = [a for a in sharers.get(name, ()) if _shares(a, name, current)]
        write = current.get(name)
        if write is not None:
            partners += [s for a, s in write.execution.facts.aliases if a == name and _shares(name, s, current)]
        for partner in partners:
            if partner not in found and partner not in mutated:
                found.add(partner)
                stack.append(partner)
    return found


def analyze(
    executions: list[Execution], cells: list[Cell], context: Context, final: Optional[dict[str, Write]] = None,
    index: Optional[SessionIndex] = None,
) -> tuple[list[Flag], dict[str, str]]:
    """Run every rule; return the flags and, per kind that could not be judged, the reason.

    ``final``: the result of :func:`resolve` on ``executions`` when the caller keeps it (live updates);
    ``index``: the :class:`SessionIndex` of ``executions`` when the caller keeps it (the live analysis keeps both
    up to date record by record, :mod:`repro_kernel.analysis.incremental`, so no rule walks the whole session).
    """
    not_judged: dict[str, str] = {}
    if final is None:
        final = resolve(executions)
    if index is None:
        index = SessionIndex.build(executions)
    by_id = {c.id: c for c in cells}
    last = index.last
    flags: list[Flag] = []
    flags += page.stale(executions, last, final, by_id)
    if context.positions_known:
        flags += page.out_of_order(executions, last, by_id, cells, context)
        flags += page.never_run(cells, last, context)
        flags += page.hidden_state(last, cells, by_id)
        if context.have_journal:
            flags += page.edited(last, by_id)
        else:
            not_judged["edited-since-run"] = "needs the journal: a saved notebook does not keep the code that ran"
    else:
        for kind in PAGE_KINDS:
            not_judged[kind] = "needs the notebook's cells (order and sources)"
    if context.have_journal:
        flags += files.changed_or_kept_nowhere(index.of("files"), context, by_id)
        flags += network.recorded(index.of("network"), by_id)
    else:
        not_judged["changed-data"] = "needs the journal: a saved notebook does not keep the hashes of what was read"
        not_judged["unsnapshotted-data"] = "needs the journal: a saved notebook does not say which files were read"
        flags += files.absolute_static(executions, cells, by_id)
        flags += network.static(executions, by_id)
    flags += randomness.unseeded(executions if not context.have_journal else index.of("random"), cells, context, by_id)
    flags += environment.drift(index.of("environment"), context, by_id)
    flags += environment.gpu(index.of("gpu"), context, by_id)
    flags += outputs.nondeterministic(last, by_id)
    flags += secrets.secrets_in(index.secret, cells, by_id)
    flags = secrets.scrubbed(flags)
    # A total order (ties broken by cells and message), so that an incremental update and a from-scratch
    # analysis of the same session list the same flags in the same order.
    flags.sort(key=lambda f: (-SEVERITY_RANK[f.severity], KINDS.index(f.kind),
                              min((by_id[c].index for c in f.cells if c in by_id), default=10**9),
                              [by_id[c].index if c in by_id else 10**9 for c in f.cells], f.message))
    return flags, not_judged
