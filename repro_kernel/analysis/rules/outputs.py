"""The ``nondeterministic-output`` flag: a cell shows a value that cannot be the same twice.

Its own code calls something whose result no replay can bring back (:mod:`repro_kernel.core.volatile`:
``np.empty``'s uninitialised memory, ``id()``, ``uuid4()``, ``os.getpid()``, the monotonic clocks, temporary
file names), and it showed an output: a result or display by the recorded output hash, or a ``print`` /
``display`` call (the same live, where the frontend sends no outputs, and in ``check``). Verify reports such a
step's differing output as ``nondeterministic``.
"""

from __future__ import annotations

import re

from repro_kernel.analysis.model import Cell, Execution, Flag
from repro_kernel.core.volatile import volatile_calls

_PRINTS = re.compile(r"\b(?:print|display|pprint)\s*\(")
FIX = ("show a value that is defined (np.zeros or np.full instead of np.empty, a counter instead of id() or "
       "uuid4()), or tag the cell repro-ignore-output; verify does not count its output as a failure")


def nondeterministic(last: dict[str, Execution], by_id: dict[str, Cell]) -> list[Flag]:
    """One flag per cell whose last execution called a volatile function and showed an output."""
    flags = []
    for cell_id, execution in last.items():
        calls = volatile_calls(execution.code)
        if not calls:
            continue
        cell = by_id.get(cell_id)
        # Judged alike live and offline: the recorded output hash (a result or a display), a print or display
        # call in the code, and only without a journal the saved outputs.
        if execution.record is not None:
            shown = bool(execution.record.get("output_hash")) or bool(_PRINTS.search(execution.code))
        else:
            shown = bool(cell is not None and cell.outputs) or bool(_PRINTS.search(execution.code))
        if not shown:
            continue
        names = ", ".join(f"{call.removeprefix('builtins.')}()" for call in calls)
        flags.append(Flag("nondeterministic-output", [cell_id],
                          f"this cell shows the result of {names}, which cannot be the same twice", FIX,
                          details={"calls": list(calls)}))
    return flags
