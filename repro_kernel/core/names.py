"""The names IPython binds in a user's namespace by itself: never the user's state, never hidden state."""

from __future__ import annotations

import re

ALWAYS_BOUND = frozenset({"In", "Out", "get_ipython", "exit", "quit", "display"})
"""Bound in every IPython shell from the start, like builtins."""

OUTPUT_HISTORY = frozenset({"_", "__", "___"})
"""The last three results; bound once a cell has shown a value."""

IPYTHON_NAMES = ALWAYS_BOUND | OUTPUT_HISTORY

_HISTORY_NAME = re.compile(r"^(_+|_i+|_i?\d+|_(ih|oh|dh|ii|iii))$")


def is_ipython_name(name: str) -> bool:
    """Whether IPython itself binds ``name`` (``In``, ``_``, ``_i3``, ``_5``, ``_oh`` ...)."""
    return name in IPYTHON_NAMES or _HISTORY_NAME.match(name) is not None
