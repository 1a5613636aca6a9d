"""The corpus's own judgement (it never calls ``verify``): the saved notebook's outputs against a fresh run of replay.ipynb.

Each code cell of the saved notebook that ran is matched to the replay step that recorded it (the manifest's
``cell_id`` and ``execution_count``, the latest session winning) and the outputs are compared after these
normalisations, and only these (``NORMALISATIONS`` says them in words for the results):

- memory addresses ``0x7f...`` (object reprs, ``<Figure at 0x...>``);
- the random ids pandas gives each ``Styler`` table (``<table id="T_36827">``, its CSS selectors), from uuid4;
- the temporary file names IPython gives cells (``/tmp/ipykernel_123/456.py``) in warnings;
- wall-clock stamps that fall inside the recording's or the replay's own time window (statsmodels' ``summary()``
  prints ``Date: Wed, 02 Dec 2026`` and ``Time: 06:34:27``): a date or time outside those windows is data and stays;
- tracebacks are compared by exception name and message (their frames hold file paths and colour codes);
- images by their pixels (a PNG's bytes may differ where its pixels do not), exactly.

A cell whose saved outputs are empty and that the slice left out is reproduced trivially (nothing to show).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import re
from typing import Any, Optional

NORMALISATIONS = [
    "memory addresses (0x...)",
    "pandas Styler table ids (T_xxxxx, random per table)",
    "IPython's per-cell file names (/tmp/ipykernel_N/M.py) in warnings",
    "dates and HH:MM:SS stamps inside the recording's or the replay's time window",
    "tracebacks: compared by exception name and message only",
    "images: compared by decoded pixels (exactly), not PNG bytes",
]

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,16}|\bT_[0-9a-f]{5}(?=[_\"\s])")
_CELLFILE = re.compile(r"/tmp/ipykernel_\d+/\d+\.py|<ipython-input-\d+-[0-9a-f]+>")
_TIME = re.compile(r"\b([01]\d|2[0-3]):([0-5]\d):([0-5]\d)\b")
_DATE_FORMATS = ("%a, %d %b %Y", "%Y-%m-%d", "%d %b %Y", "%b %d, %Y")


class Windows:
    """The time windows (UTC and local, as a summary prints local time) whose stamps are normalised."""

    def __init__(self, spans: list[tuple[float, float]]) -> None:
        self.spans = [(a - 120, b + 120) for a, b in spans]
        self.dates: set[str] = set()
        self.times: list[tuple[int, int]] = []  # seconds of day, per span, local and UTC
        for a, b in self.spans:
            for stamp in (a, b):
                for when in (dt.datetime.fromtimestamp(stamp), dt.datetime.fromtimestamp(stamp, dt.timezone.utc)):
                    self.dates.update(when.strftime(f) for f in _DATE_FORMATS)
            for to_dt in (dt.datetime.fromtimestamp, lambda s: dt.datetime.fromtimestamp(s, dt.timezone.utc)):
                start, end = to_dt(a), to_dt(b)
                self.times.append((_sod(start), _sod(end) + (86400 if end.date() > start.date() else 0)))

    def normalise(self, text: str) -> str:
        for date in sorted(self.dates, key=len, reverse=True):
            text = text.replace(date, "<DATE>")

        def time(match: re.Match[str]) -> str:
            s = int(match[1]) * 3600 + int(match[2]) * 60 + int(match[3])
            inside = any(lo <= s <= hi or lo <= s + 86400 <= hi for lo, hi in self.times)
            return "<TIME>" if inside else match[0]

        return _TIME.sub(time, text)


def _sod(when: dt.datetime) -> int:
    return when.hour * 3600 + when.minute * 60 + when.second


def _text(value: Any) -> str:
    return "".join(value) if isinstance(value, list) else str(value)


def _pixels(data: str) -> Optional[bytes]:
    try:
        from PIL import Image

        image = Image.open(io.BytesIO(base64.b64decode(data)))
        return bytes(image.convert("RGBA").tobytes()) + repr(image.size).encode()
    except Exception:
        return None


def canonical(outputs: list[Any], windows: Windows) -> list[tuple[str, str, str]]:
    """The outputs as (kind, mimetype or stream name, normalised content); streams of one name joined."""
    items: list[tuple[str, str, str]] = []
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            text = windows.normalise(_CELLFILE.sub("<CELL>", _ADDRESS.sub("0x?", _text(out.get("text", "")))))
            if items and items[-1][0] == "stream" and items[-1][1] == out.get("name"):
                items[-1] = ("stream", items[-1][1], items[-1][2] + text)
            else:
                items.append(("stream", str(out.get("name")), text))
        elif kind == "error":
            items.append(("error", str(out.get("ename")), windows.normalise(_ADDRESS.sub("0x?", str(out.get("evalue"))))))
        elif kind in ("execute_result", "display_data"):
            for mime, value in sorted((out.get("data") or {}).items()):
                if mime.startswith("image/") and mime != "image/svg+xml":
                    pixels = _pixels(_text(value))
                    content = hashlib.sha256(pixels).hexdigest() if pixels is not None else _text(value)
                else:
                    content = windows.normalise(_ADDRESS.sub("0x?", _text(value)))
                items.append((str(kind), mime, content))
    return items


def first_difference(saved: list[tuple[str, str, str]], replayed: list[tuple[str, str, str]]) -> str:
    """A short account of where two canonical output lists differ."""
    if len(saved) != len(replayed):
        kinds_s = [f"{k}:{m}" for k, m, _ in saved]
        kinds_r = [f"{k}:{m}" for k, m, _ in replayed]
        return f"{len(saved)} outputs saved {kinds_s[:6]}, {len(replayed)} replayed {kinds_r[:6]}"
    for (k, m, a), (_, m2, b) in zip(saved, replayed):
        if m != m2:
            return f"{k}: saved {m}, replayed {m2}"
        if a != b:
            if m.startswith("image/"):
                return f"{k} {m}: the pixels differ"
            i = next((j for j, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))
            return f"{k} {m}: saved ...{a[max(0, i - 40):i + 60]!r} vs replayed ...{b[max(0, i - 40):i + 60]!r}"
    return ""


def only_stderr(saved: list[tuple[str, str, str]], replayed: list[tuple[str, str, str]]) -> bool:
    """Whether the two differ only in stderr streams (warnings a library shows once per process)."""
    def strip(items: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
        return [i for i in items if not (i[0] == "stream" and i[1] == "stderr")]
    return strip(saved) == strip(replayed)


def judge(saved_nb: Any, replay_nb: Any, manifest: dict[str, Any], windows: Windows) -> list[dict[str, Any]]:
    """Per saved code cell that ran: reproduced or not, and why not."""
    steps = manifest.get("steps") or []
    replay_cells = {c.metadata.get("repro", {}).get("step"): c for c in replay_nb.cells
                    if c.cell_type == "code" and c.metadata.get("repro")}
    results = []
    for position, cell in enumerate(c for c in saved_nb.cells if c.cell_type == "code"):
        if cell.get("execution_count") is None:
            continue
        matches = [s for s in steps if s.get("cell_id") == cell.get("id")
                   and s.get("execution_count") == cell.get("execution_count")]
        matches.sort(key=lambda s: s.get("started_at") or 0)
        saved = canonical(cell.outputs, windows)
        entry: dict[str, Any] = {"cell": position, "execution_count": cell.execution_count, "outputs": len(saved)}
        if not matches:
            entry.update(reproduced=not saved, step=None,
                         detail="" if not saved else "the step that showed these outputs is not in the replay")
            results.append(entry)
            continue
        step = matches[-1]["index"]
        replayed_cell = replay_cells.get(step)
        replayed = canonical(replayed_cell.outputs if replayed_cell is not None else [], windows)
        same = saved == replayed
        entry.update(step=step, reproduced=same, detail="" if same else first_difference(saved, replayed))
        if not same:
            entry["stderr_only"] = only_stderr(saved, replayed)
            if entry["stderr_only"]:  # which warnings one side shows and the other does not
                def warns(items: list[tuple[str, str, str]]) -> list[str]:
                    return [line for k, m, t in items if m == "stderr" for line in t.splitlines() if "Warning" in line]
                entry["warnings_saved"], entry["warnings_replayed"] = warns(saved)[:3], warns(replayed)[:3]
        results.append(entry)
    return results
