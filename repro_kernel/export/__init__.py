"""Export and verify: a recorded session becomes a folder that replays it, and a fresh kernel checks the replay.

:func:`export_notebook` writes ``<notebook>.repro/`` (the CLI, the sidebar and ``nbconvert --to repro`` share
one build); :func:`verify_export` replays such a folder and compares every step's outputs.
"""

from repro_kernel.export.render import binder_url
from repro_kernel.export.slicing import backward_slice
from repro_kernel.export.verify import render_report, verify_export
from repro_kernel.export.write import export_notebook

__all__ = ["backward_slice", "binder_url", "export_notebook", "render_report", "verify_export"]
