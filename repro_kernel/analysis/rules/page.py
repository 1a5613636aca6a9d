"""Rules about the page and the order things ran: stale outputs, out-of-order cells, never-run cells, hidden
state, cells edited since they ran. They need the executions mapped to page cells (analysis.sessions)."""

from __future__ import annotations

from functools import lru_cache
from typing import Optional

from repro_kernel.analysis.model import Cell, Context, Execution, Flag, Write
from repro_kernel.analysis.sessions import _is_code, _is_control, normalize_source
from repro_kernel.core.dataflow import analyze_code
from repro_kernel.core.elements import only_appends_to, reads_only_elements
from repro_kernel.core.names import is_ipython_name


def _label(cell_id: Optional[str], by_id: dict[str, Cell], execution: Optional[Execution] = None) -> str:
    if cell_id is not None and cell_id in by_id:
        return by_id[cell_id].label
    if execution is not None and execution.execution_count is not None:
        return f"the execution [{execution.execution_count}]"
    return "a deleted cell"


def _names(names: list[str], limit: int = 3) -> str:
    shown = ", ".join(f"`{n}`" for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def stale(executions: list[Execution], last: dict[str, Execution], final: dict[str, Write],
           by_id: dict[str, Cell]) -> list[Flag]:
    """Cells whose inputs changed after they last ran, one flag per execution that changed them."""
    groups: dict[int, tuple[Execution, dict[str, list[str]]]] = {}
    for cell_id, execution in last.items():
        if cell_id not in by_id:
            continue
        changed: list[Write] = []
        seq = execution.seq
        get = final.get
        for name, seen in execution.seen.items():
            now = get(name)
            if now is None or now.seq <= seq:
                continue
            if now.key is not None and (now.key == (seen.key if seen is not None else "<deleted>")):
                continue  # rebound to the same value (or deleted before it was ever defined)
            if any(source == name and getattr(get(alias), "execution", None) is now.execution
                   for alias, source in execution.facts.aliases):
                continue  # it bound a name to this value, which changed in place with it: still what it holds
            if reads_only_elements(execution.code, name) and _only_appended(name, seq, executions):
                continue  # it read lst[0]; lst was only appended to since
            changed.append(now)
        if changed:
            latest = max(changed, key=lambda w: w.execution.seq).execution
            group = groups.setdefault(latest.seq, (latest, {}))[1]
            group[cell_id] = sorted(w.name for w in changed)
    flags = []
    for writer, stale in groups.values():
        cells = sorted(stale, key=lambda c: by_id[c].index)
        names = sorted({n for ns in stale.values() for n in ns})
        which = _cell_list([by_id[c] for c in cells])
        flags.append(Flag(
            "stale", cells,
            f"{which} read {_names(names)}, changed since by {_label(writer.cell, by_id, writer)}: "
            f"{'its output' if len(cells) == 1 else 'their outputs'} may not match the state",
            f"re-run {which} (or restart and run all)",
            details={"names": names, "changed_by": writer.cell, "by_cell": stale},
        ))
    return flags


def _only_appended(name: str, since: int, executions: list[Execution]) -> bool:
    """Whether every execution after ``since`` that changed ``name`` only appended to it."""
    return all(only_appends_to(e.code, name) for e in executions if e.seq > since and name in e.writes)


def _cell_list(cells: list[Cell], limit: int = 4) -> str:
    if len(cells) == 1:
        return cells[0].label
    shown = ", ".join(str(c.index + 1) for c in cells[:limit])
    return f"cells {shown}" + (f" and {len(cells) - limit} more" if len(cells) > limit else "")


def out_of_order(executions: list[Execution], last: dict[str, Execution], by_id: dict[str, Cell],
                  cells: list[Cell], context: Context) -> list[Flag]:
    flags = []
    flagged: set[str] = set()
    for cell_id, execution in last.items():
        cell = by_id.get(cell_id)
        if cell is None:
            continue
        below: dict[str, str] = {}
        itself: list[str] = []
        for name, seen in execution.seen.items():
            if seen is None or seen.execution.cell is None or seen.execution.cell not in by_id:
                continue
            writer = by_id[seen.execution.cell]
            if writer.index > cell.index:
                below[name] = writer.id
            elif writer.id == cell_id and context.have_journal and seen.key is None and name in execution.writes:
                itself.append(name)
        if below:
            writers = sorted(set(below.values()), key=lambda c: by_id[c].index)
            names = sorted(below)
            flagged.add(cell_id)
            flags.append(Flag(
                "out-of-order", [cell_id] + writers,
                f"{cell.label} uses {_names(names)}, last defined by {', '.join(by_id[w].label for w in writers)} "
                "below it: run top to bottom, it would fail or differ",
                f"move the defining code above {cell.label}, then restart and run all",
                details={"names": names, "defined_below_by": writers},
            ))
        elif itself:
            flagged.add(cell_id)
            flags.append(Flag(
                "out-of-order", [cell_id],
                f"{cell.label} ran more than once and read what its own previous run wrote ({_names(sorted(itself))})",
                f"make {cell.label} safe to re-run (don't update a name in place), then restart and run all",
                details={"names": sorted(itself), "reran": True},
            ))
    if not context.have_journal:
        flags += _count_inversions(cells, flagged)
    return flags


def _count_inversions(cells: list[Cell], flagged: set[str]) -> list[Flag]:
    """Execution counts that go backwards down the page (the only order evidence a bare notebook has)."""
    flags = []
    counted = [c for c in cells if c.cell_type == "code" and c.execution_count is not None]
    smallest_below: Optional[Cell] = None
    inversions: list[tuple[Cell, Cell]] = []
    for cell in reversed(counted):
        if smallest_below is not None and cell.execution_count > smallest_below.execution_count:  # type: ignore[operator]
            inversions.append((cell, smallest_below))
        if smallest_below is None or cell.execution_count < smallest_below.execution_count:  # type: ignore[operator]
            smallest_below = cell
    for cell, below in reversed(inversions):
        if cell.id in flagged:
            continue
        flags.append(Flag(
            "out-of-order", [cell.id, below.id],
            f"{cell.label} [{cell.execution_count}] ran after {below.label} [{below.execution_count}] below it",
            "restart the kernel and run all cells top to bottom, then save",
            severity="warning", details={"execution_counts": [cell.execution_count, below.execution_count]},
        ))
    return flags


def never_run(cells: list[Cell], last: dict[str, Execution], context: Context) -> list[Flag]:
    flags = []
    ran_below = False
    for cell in reversed(cells):
        if cell.cell_type != "code":
            continue
        ran = cell.id in last
        if not ran and ran_below and _is_code(cell) and not _is_control(cell.source):
            flags.append(Flag(
                "never-run", [cell.id],
                f"{cell.label} never ran{' in this session' if context.have_journal else ''}, "
                "but cells below it did",
                f"run {cell.label}, or delete it if it is not needed, then restart and run all",
            ))
        ran_below = ran_below or ran
    flags.reverse()
    return flags


def _defines_now(cells: list[Cell]) -> tuple[set[str], bool]:
    names: set[str] = set()
    star = False
    for cell in cells:
        if cell.cell_type == "code":
            defined, opaque = _cell_defines(cell.source)
            names.update(defined)
            star = star or opaque
    return names, star


@lru_cache(maxsize=16384)
def _cell_defines(source: str) -> tuple[tuple[str, ...], bool]:
    """Names a cell's source defines, and whether it may define more than the AST shows (star, %run)."""
    facts = analyze_code(source)
    opaque = bool(facts.star_imports) or any(m.split()[:1] in (["run"], ["load"]) for m in facts.magics)
    return tuple(facts.defined), opaque


def hidden_state(last: dict[str, Execution], cells: list[Cell], by_id: dict[str, Cell]) -> list[Flag]:
    defined_now, has_star = _defines_now(cells)
    flags = []
    for cell_id, execution in last.items():
        if cell_id not in by_id or not execution.ok:
            continue
        hidden: dict[str, str] = {}
        for name, seen in execution.seen.items():
            if name in defined_now or is_ipython_name(name):
                continue
            if seen is None:
                if has_star:
                    continue  # may come from a star import or %run: nothing to go on
                hidden[name] = "defined before recording started" if execution.record else "no cell defines it"
            elif seen.execution.cell is None or seen.execution.cell not in by_id:
                hidden[name] = "defined by code no cell holds now: " + _snippet(seen.execution.code)
            elif by_id[seen.execution.cell].source != normalize_source(seen.execution.code):
                hidden[name] = f"defined by an earlier version of {by_id[seen.execution.cell].label}"
        if not hidden:
            continue
        names = sorted(hidden)
        flags.append(Flag(
            "hidden-state", [cell_id],
            f"{by_id[cell_id].label} depends on {_names(names)}, which no cell in the notebook defines now",
            f"add the code that defines {_names(names, 2)} back to a cell above {by_id[cell_id].label}",
            details={"names": names, "origin": hidden},
        ))
    return flags


def _snippet(code: str) -> str:
    line = next((ln.strip() for ln in code.splitlines() if ln.strip()), "")
    return repr(line[:60] + ("..." if len(line) > 60 else ""))


def edited(last: dict[str, Execution], by_id: dict[str, Cell]) -> list[Flag]:
    flags = []
    for cell_id, execution in last.items():
        cell = by_id.get(cell_id)
        if cell is None or normalize_source(execution.code) == cell.source:
            continue
        flags.append(Flag(
            "edited-since-run", [cell_id],
            f"{cell.label} was edited after it last ran: its output comes from other code",
            f"run {cell.label} again (or undo the edit)",
            details={"ran": execution.code[:2000]},
        ))
    return flags
