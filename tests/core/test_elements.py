"""Element reads and appends: the syntactic tests behind "lst[0] shown, then lst.append(...): not stale"."""

from __future__ import annotations

import pytest

from repro_kernel.core.elements import only_appends_to, reads_only_elements


@pytest.mark.parametrize("code, expected", [
    ("print(lst[0])", True),
    ("a, b = lst[0], lst[2]", True),
    ("print(lst[-1])", False),      # the last element moves on append
    ("print(lst[i])", False),       # a computed index
    ("print(len(lst))", False),
    ("print(lst)", False),
    ("lst[0] = 3", False),          # a write, not a read
    ("print(lst[0:2])", False),     # a slice
    ("print(other[0])", False),     # does not read lst at all
])
def test_reads_only_elements(code: str, expected: bool) -> None:
    assert reads_only_elements(code, "lst") is expected


@pytest.mark.parametrize("code, expected", [
    ("lst.append(4)", True),
    ("lst.append(4)\nlst.extend([5, 6])", True),
    ("lst.insert(0, 4)", False),    # shifts every element
    ("lst.extend(lst)", False),     # reads it too
    ("x = lst.append(4)", False),
    ("lst.append(4)\nlst.sort()", False),
    ("lst = lst + [4]", False),
    ("other.append(1)", False),
])
def test_only_appends_to(code: str, expected: bool) -> None:
    assert only_appends_to(code, "lst") is expected
