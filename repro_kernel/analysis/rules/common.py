"""Helpers the rule modules share: which cells executions came from, and how a flag names them."""

from __future__ import annotations

from repro_kernel.analysis.model import Cell, Execution


def _cells_of(executions: list[Execution], by_id: dict[str, Cell]) -> list[str]:
    found: list[str] = []
    for execution in executions:
        if execution.cell is not None and execution.cell in by_id and execution.cell not in found:
            found.append(execution.cell)
    return sorted(found, key=lambda c: by_id[c].index)


def _labels(cells: list[str], by_id: dict[str, Cell], executions: list[Execution] = ()) -> str:  # type: ignore[assignment]
    if cells:
        names = [by_id[c].label for c in cells[:4]]
        return ", ".join(names) + (f" and {len(cells) - 4} more" if len(cells) > 4 else "")
    counts = [e.execution_count for e in executions if e.execution_count is not None]
    return "executions " + ", ".join(f"[{c}]" for c in counts[:4]) if counts else "deleted cells"
