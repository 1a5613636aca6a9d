"""jupyter-repro: record a notebook session so it can be replayed and checked.

In a notebook: ``%load_ext repro_kernel`` then ``%repro start``.
"""

from __future__ import annotations

from typing import Any

from repro_kernel._version_info import version as __version__  # noqa: F401  (re-exported)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-repro"}]


_STATE: dict[int, Any] = {}


def load_ipython_extension(ip: Any) -> None:
    """Register ``%repro``, the recorder and the ``repro`` comm target with this shell."""
    if id(ip) in _STATE:
        return
    from repro_kernel.analysis import analyze_live, judge_inputs
    from repro_kernel.export.write import export_notebook
    from repro_kernel.kernel.comm import ReproComm
    from repro_kernel.kernel.magics import ReproMagics
    from repro_kernel.kernel.recorder import Recorder

    recorder = Recorder(ip, parent=ip)
    channel = ReproComm(recorder, analyze=analyze_live, export=export_notebook, judge_inputs=judge_inputs)
    channel.register()
    magics = ReproMagics(ip, recorder)
    ip.register_magics(magics)
    _STATE[id(ip)] = (recorder, channel, magics)
    if recorder.autostart:
        for message in recorder.start():
            print(message)


def unload_ipython_extension(ip: Any) -> None:
    """Undo exactly what :func:`load_ipython_extension` did."""
    state = _STATE.pop(id(ip), None)
    if state is None:
        return
    recorder, channel, magics = state
    recorder.close()
    channel.unregister()
    ip.magics_manager.magics["line"].pop("repro", None)
    ip.magics_manager.registry.pop(type(magics).__name__, None)


def get_recorder(ip: Any = None) -> Any:
    """The recorder attached to ``ip`` (default: the running shell), or None."""
    if ip is None:
        from IPython import get_ipython

        ip = get_ipython()
    state = _STATE.get(id(ip))
    return state[0] if state else None
