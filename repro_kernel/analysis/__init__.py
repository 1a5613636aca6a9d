"""The analysis engine: what would stop a recorded session from reproducing, as flags.

One engine for every view: the kernel runs it live for the sidebar (:func:`analyze_live`), ``jupyter repro
check`` and the export run it offline on a saved notebook and its journal (:func:`analyze_notebook`). Both
choose the session and map its records to cells the same way (:mod:`repro_kernel.analysis.sessions`) and run
the same rules (:func:`analyze`, one module per family under ``rules/``).
"""

from repro_kernel.analysis.engine import analyze
from repro_kernel.analysis.live import analyze_live, judge_inputs, live_report
from repro_kernel.analysis.model import KINDS, SEVERITIES, Cell, Context, Flag, Report
from repro_kernel.analysis.offline import analyze_notebook
from repro_kernel.analysis.sessions import build_executions, map_executions

__all__ = ["KINDS", "SEVERITIES", "Cell", "Context", "Flag", "Report", "analyze", "analyze_live", "analyze_notebook",
           "build_executions", "judge_inputs", "live_report", "map_executions"]
