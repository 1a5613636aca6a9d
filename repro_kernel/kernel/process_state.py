"""Process-wide state that no variable shows: which parts of it a cell changed.

A cell can change what every later output looks like without binding a name: ``init_printing()`` registers
display formatters, ``plt.style.use`` rewrites rcParams, ``pd.set_option`` and ``np.set_printoptions`` change how
tables and arrays print, ``warnings.filterwarnings``, ``logging.basicConfig``, ``os.chdir``, ``sys.path``,
``os.environ`` and ``locale.setlocale`` change what later cells do. The recorder snapshots these after each cell
and records the parts that differ from the snapshot after the cell before (no code runs between two cells); the
export keeps every such step (``process_changed`` in the CellRecord).

Cheap and bounded: a snapshot holds references to the values (so identity, then equality, compares them), never
copies of user data; a library's part is read only once the library is imported; a cell that calls nothing,
imports nothing and touches no attribute (``x = 1``) cannot change any of it and is not read at all.
"""

from __future__ import annotations

import locale
import logging
import os
import sys
import warnings
from collections.abc import Callable
from typing import Any, Optional

Snapshot = dict[str, Any]


def _formatters(shell: Any) -> Any:
    formatter = getattr(shell, "display_formatter", None)
    if formatter is None:
        return None
    parts = [tuple(getattr(formatter, "active_types", ()) or ())]
    for mime, each in sorted(getattr(formatter, "formatters", {}).items()):
        parts.append((mime, getattr(each, "enabled", None), tuple(getattr(each, "type_printers", {}).values()),
                      tuple(getattr(each, "deferred_printers", {}).values())))
    return tuple(parts)


def _rcparams() -> Any:
    matplotlib = sys.modules.get("matplotlib")
    params = getattr(matplotlib, "rcParams", None)
    return None if params is None else tuple(dict.values(params))


def _pandas_options() -> Any:
    config = sys.modules.get("pandas._config.config")
    options = getattr(config, "_global_config", None)
    if not isinstance(options, dict):
        return None

    def flat(node: dict[str, Any]) -> tuple[Any, ...]:
        return tuple((key, flat(value) if isinstance(value, dict) else value) for key, value in node.items())

    return flat(options)


def _numpy_printoptions() -> Any:
    np = sys.modules.get("numpy")
    return None if np is None else tuple(np.get_printoptions().items())


def _logging() -> Any:
    root = logging.getLogger()
    return root.level, tuple(root.handlers), logging.root.manager.disable


PARTS: dict[str, Callable[[Any], Any]] = {
    "display formatters": _formatters,
    "matplotlib rcParams": lambda shell: _rcparams(),
    "pandas options": lambda shell: _pandas_options(),
    "numpy print options": lambda shell: _numpy_printoptions(),
    "warnings filters": lambda shell: tuple(warnings.filters),
    "logging": lambda shell: _logging(),
    "cwd": lambda shell: os.getcwd(),
    "sys.path": lambda shell: tuple(sys.path),
    "os.environ": lambda shell: dict(getattr(os.environ, "_data", os.environ)),  # (the raw mapping: no decoding)
    "locale": lambda shell: locale.setlocale(locale.LC_ALL),
}


def may_change_process_state(code: str) -> bool:
    """False only for code that calls nothing, imports nothing and touches no attribute or magic."""
    return any(mark in code for mark in ("(", ".", "import", "%", "!", "[", "@"))


class ProcessState:
    """The last snapshot, and the parts a cell changed since it."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.last: Optional[Snapshot] = None

    def snapshot(self) -> Snapshot:
        taken: Snapshot = {}
        for name, read in PARTS.items():
            try:
                taken[name] = read(self.shell)
            except Exception:  # a part that cannot be read counts as changed whenever it fails
                taken[name] = _Unreadable()
        return taken

    def start(self) -> None:
        """Before the first recorded cell."""
        self.last = self.snapshot()

    def after_cell(self, code: str) -> Optional[list[str]]:
        """The parts the cell changed; None when the cell could not have changed any (it was not read)."""
        if self.last is None or not may_change_process_state(code):
            return None
        now = self.snapshot()
        changed = [name for name, value in now.items() if _differs(value, self.last.get(name))]
        self.last = now
        return changed


class _Unreadable:
    """A part that raised when read: never equal to anything, itself included."""

    def __eq__(self, other: object) -> bool:
        return False

    __hash__ = None  # type: ignore[assignment]


def _differs(now: Any, before: Any) -> bool:
    try:
        return bool(now is not before and now != before)
    except Exception:  # a value whose comparison raises (an array in an option): compare identities only
        return True
