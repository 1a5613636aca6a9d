"""The analysis engine: what would stop a recorded session from reproducing, as flags.

One engine for every view: the kernel runs it live for the sidebar (:func:`analyze_live`), ``jupyter repro
check`` runs it offline on a saved notebook and its journal (:func:`analyze_notebook`).
"""

from repro_kernel.analysis.engine import (
    KINDS,
    SEVERITIES,
    Cell,
    Context,
    Report,
    analyze,
    analyze_live,
    analyze_notebook,
    build_executions,
    map_executions,
)

__all__ = ["KINDS", "SEVERITIES", "Cell", "Context", "Report", "analyze", "analyze_live", "analyze_notebook",
           "build_executions", "map_executions"]
