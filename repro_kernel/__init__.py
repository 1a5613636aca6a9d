"""jupyter-repro: record a notebook session so it can be replayed and checked.

In a notebook: ``%load_ext repro_kernel`` then ``%repro start``.
"""

from __future__ import annotations

from typing import Any, Optional

from repro_kernel._version_info import version as __version__  # noqa: F401  (re-exported)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-repro"}]


# What each shell has loaded: (recorder, comm, magics). `%reload_ext` runs this module again (after unloading,
# before loading): these tables must outlive that, so a reload finds them as they were.
_STATE: dict[int, Any] = globals().get("_STATE", {})
# A recorder that was recording when the extension was unloaded, with the execution count it was unloaded in:
# loading again in that same cell (`%reload_ext`) carries its session on instead of silently ending it.
_PAUSED: dict[int, tuple[Any, Optional[int]]] = globals().get("_PAUSED", {})


def load_ipython_extension(ip: Any) -> None:
    """Register ``%repro``, the recorder and the ``repro`` comm target with this shell."""
    if id(ip) in _STATE:
        return
    from repro_kernel.kernel.comm import ReproComm
    from repro_kernel.kernel.magics import ReproMagics
    from repro_kernel.kernel.recorder import Recorder

    paused = _PAUSED.pop(id(ip), None)
    resuming = paused is not None and paused[1] == getattr(ip, "execution_count", None)
    recorder = paused[0] if paused is not None and resuming else Recorder(ip, parent=ip)
    channel = ReproComm(recorder, analyze=_analyze_live, export=_export_notebook, judge_inputs=_judge_inputs)
    channel.register()
    magics = ReproMagics(ip, recorder, export=_export_session)
    ip.register_magics(magics)
    _STATE[id(ip)] = (recorder, channel, magics)
    if resuming:
        for message in recorder.resume():
            recorder.say(message)
    elif recorder.autostart:
        for message in recorder.start():
            recorder.say(message)


# The analysis and export layers load on the sidebar's first request, not with the extension: `%load_ext` stays
# a fraction of a second, and a kernel with no sidebar (a runner, a terminal) never loads them (until
# `%repro export`).
def _analyze_live(*args: Any, **kwargs: Any) -> Any:
    from repro_kernel.analysis import analyze_live

    return analyze_live(*args, **kwargs)


def _judge_inputs(*args: Any, **kwargs: Any) -> Any:
    from repro_kernel.analysis import judge_inputs

    return judge_inputs(*args, **kwargs)


def _export_notebook(*args: Any, **kwargs: Any) -> Any:
    from repro_kernel.export.write import export_notebook

    return export_notebook(*args, **kwargs)


def _export_session(*args: Any, **kwargs: Any) -> Any:
    from repro_kernel.export.write import export_session

    return export_session(*args, **kwargs)


def unload_ipython_extension(ip: Any) -> None:
    """Undo exactly what :func:`load_ipython_extension` did (a recording session ends; if the extension is
    loaded again in the same cell, as ``%reload_ext`` does, it carries on)."""
    state = _STATE.pop(id(ip), None)
    if state is None:
        return
    recorder, channel, magics = state
    recording = recorder.recording
    recorder.close(suspend=recording)
    if recording:
        _PAUSED[id(ip)] = (recorder, getattr(ip, "execution_count", None))
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
