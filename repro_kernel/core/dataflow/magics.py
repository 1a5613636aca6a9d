"""IPython syntax for the code-facts analysis: turned into plain Python before the AST is read.

``%magic`` becomes a ``run_line_magic`` call and ``!cmd`` a ``system`` call, which the visitor
(:mod:`repro_kernel.core.dataflow.calls`) then reads like any other call; :func:`strip_options` leaves the Python
part of a ``%timeit``-style argument line.
"""

from __future__ import annotations

from typing import Any

_transformer: Any = None  # IPython's TransformerManager, built on first use


def to_python(code: str) -> str:
    """Turn IPython syntax into plain Python; leave plain Python unchanged."""
    if "%" not in code and "!" not in code and "?" not in code:
        return code
    global _transformer
    try:
        if _transformer is None:
            # Imported here so that analysing plain Python (most cells, and the offline check) never loads IPython.
            from IPython.core.inputtransformer2 import TransformerManager

            _transformer = TransformerManager()
        return _transformer.transform_cell(code)
    except Exception:  # the transformer rejects some half-written input; parse what we have
        return code


def strip_options(line: str) -> str:
    """The Python part of ``%timeit -n1 -r 3 f(x)``-style magic arguments."""
    words = line.split(" ")
    while words and (words[0].startswith("-") or not words[0]):
        word = words.pop(0)
        if word in ("-n", "-r", "-p", "-s", "-l", "-T", "-D") and words:
            words.pop(0)
    return " ".join(words)
