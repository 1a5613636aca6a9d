"""The ``nondeterministic-output`` flag: a cell shows a value that cannot be the same twice.

Its own code shows the result of something no replay can bring back (:mod:`repro_kernel.core.volatile`:
``np.empty``'s uninitialised memory, ``id()``, ``uuid4()``, ``os.getpid()``, the monotonic clocks, temporary
file names, the time elapsed between two wall-clock reads): as its last expression, in a ``print`` or
``display`` call, or through a name bound to it. Judged on the code alone, so alike live (where the frontend
sends no outputs) and in ``check``. Verify reports such a step's differing output as ``nondeterministic``; a
cell that only computes with such a value (``buf = np.empty(3)``) is not flagged, and a difference it shows
stays a difference.
"""

from __future__ import annotations

from repro_kernel.analysis.model import Cell, Execution, Flag
from repro_kernel.core.volatile import describe, shown_volatile_calls

FIX = ("show a value that is defined (np.zeros or np.full instead of np.empty, a counter instead of id() or "
       "uuid4()), or tag the cell repro-ignore-output; verify does not count its output as a failure")


def nondeterministic(last: dict[str, Execution], by_id: dict[str, Cell]) -> list[Flag]:
    """One flag per cell whose last execution showed the value of a call that cannot repeat."""
    flags = []
    for cell_id, execution in last.items():
        calls = shown_volatile_calls(execution.code)
        if not calls or cell_id not in by_id:
            continue
        names = ", ".join(describe(call) for call in calls)
        flags.append(Flag("nondeterministic-output", [cell_id],
                          f"this cell shows the result of {names}, which cannot be the same twice", FIX,
                          details={"calls": list(calls)}))
    return flags
