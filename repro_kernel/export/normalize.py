"""Output normalisation and comparison for ``jupyter repro verify``.

Text is compared exactly after these documented normalisations of parts that change from run to run
without the result changing (docs/export.md lists them):

1. ANSI colour codes are removed and line ends are ``\\n``; trailing spaces on each line are dropped.
2. Memory addresses (``0x7f3a...``, ``at 0x...``) become ``0xADDR``.
3. Temporary paths (``/tmp/...``, ``/var/folders/...``, ``C:\\...\\Temp\\...``) become ``<TMP>``.
4. Timings printed by ``%time`` / ``%timeit`` (``Wall time: 1.2 ms``, ``CPU times: ...``, ``... per loop``)
   become ``<TIME>``.
5. Ids that HTML reprs generate per render (scikit-learn's ``sk-container-id-3``, pandas Styler's
   ``T_ab12c``, UUIDs) become ``<ID>``.

Clock: wall-clock stamps (``2026-12-01 14:03:59``, ``Tue, 01 Dec 2026``, ``14:03:59``, ``time.ctime()``'s
form) become ``<CLOCK>`` when they fall inside the recorded session's time window (in the recorded output) or
the replay's own (in the replayed output), read as local time or UTC, give or take a minute; a time alone
counts when its time of day falls in the window. Any other date is data and is compared as it is.

Secrets: a ``<redacted>`` in a recorded output (a secret the recorder or the export took out) stands for any
text of one character or more in the replayed output, so that a replay that prints the real value (supplied by
the user) or the marker itself is not a difference; the text around it must match as usual.

Numbers: with ``rtol`` > 0, two texts that differ only in numbers still match when every pair of numbers
agrees within ``rtol`` (relative) or ``atol`` (absolute, for values near zero). Images are compared by the
hash of their decoded bytes; with an image tolerance, by the mean absolute pixel difference (needs Pillow).
"""

from __future__ import annotations

import base64
import calendar
import difflib
import hashlib
import math
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Optional

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{6,16}")
_TMP = re.compile(
    r"(/tmp|/var/tmp|/private/var/folders|/var/folders)/[^\s'\"<>:,)\]]+|[A-Za-z]:\\[^\s'\"<>]*\\Temp\\[^\s'\"<>]+"
)
_TIMES = re.compile(
    r"(CPU times: .*|Wall time: .*|[\d.]+ [nµmu]?s ± [\d.]+ [nµmu]?s per loop.*|"
    r"\d+ loops?, best of \d+: .*)"
)
_HTML_IDS = re.compile(
    r"sk-(container|estimator|toggleable)-id-\d+|T_[0-9a-f]{5}(?=[_\"\s])|"
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
)
_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)\b")

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"
# Each kind of stamp with the strptime formats that read it, most specific first.
_CLOCK_STAMPS: list[tuple[re.Pattern[str], tuple[str, ...], str]] = [
    (re.compile(r"\b\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?"),
     ("%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"), "moment"),
    (re.compile(rf"\b{_DAY} {_MONTH} [ \d]\d \d{{2}}:\d{{2}}:\d{{2}} \d{{4}}\b"), ("%a %b %d %H:%M:%S %Y",), "moment"),
    (re.compile(rf"\b{_DAY}, \d{{2}} {_MONTH} \d{{4}}\b"), ("%a, %d %b %Y",), "date"),
    (re.compile(r"(?<![\d-])\d{4}-\d{2}-\d{2}(?![\d:T])"), ("%Y-%m-%d",), "date"),
    (re.compile(r"(?<![\d:.])\d{2}:\d{2}:\d{2}(?![\d:])"), ("%H:%M:%S",), "time"),
]
_CLOCK_SLACK = 60.0  # seconds either side of a window
CLOCK = "<CLOCK>"

# Cell tags that tune the comparison, in nbval's spelling and ours: the step still runs (later steps may need
# what it does), but its outputs are not compared (skip, ignore-output), or an exception it raises is expected.
SKIP_TAGS = frozenset({"nbval-skip", "repro-skip"})
IGNORE_OUTPUT_TAGS = frozenset({"nbval-ignore-output", "repro-ignore-output"})
RAISES_TAGS = frozenset({"raises-exception", "repro-raises-exception"})
COMPARE_TAGS = tuple(sorted(SKIP_TAGS | IGNORE_OUTPUT_TAGS | RAISES_TAGS))

REDACTED = "<redacted>"  # as repro_kernel.core.redact writes it (and tests pin it)

TEXT_MIMES = ("text/plain", "text/html", "text/markdown", "text/latex", "application/json")
IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif", "image/svg+xml")


def normalize_text(text: str) -> str:
    """Apply the documented normalisations to one text output."""
    text = _ANSI.sub("", text).replace("\r\n", "\n")
    text = _ADDRESS.sub("0xADDR", text)
    text = _TMP.sub("<TMP>", text)
    text = _TIMES.sub("<TIME>", text)
    text = _HTML_IDS.sub("<ID>", text)
    return "\n".join(line.rstrip() for line in text.split("\n")).strip("\n")


def _parse(text: str, formats: tuple[str, ...]) -> Optional[datetime]:
    for fmt in formats:
        try:
            return datetime.strptime(text.replace("T", " ", 1) if "%H" in fmt and "-" in text else text, fmt)
        except ValueError:
            continue
    return None


def _in_window(stamp: datetime, kind: str, windows: Sequence[tuple[float, float]]) -> bool:
    """Whether a naive ``stamp`` (local time or UTC: either reading counts) lies in one of ``windows``."""
    for start, end in windows:
        lo, hi = start - _CLOCK_SLACK, end + _CLOCK_SLACK
        if kind == "moment":
            local = time.mktime(stamp.timetuple()) + stamp.microsecond / 1e6
            utc = calendar.timegm(stamp.timetuple()) + stamp.microsecond / 1e6
            if lo <= local <= hi or lo <= utc <= hi:
                return True
        elif kind == "date":
            for convert in (datetime.fromtimestamp, lambda t: datetime.fromtimestamp(t, timezone.utc)):
                day, last = convert(lo).date(), convert(hi).date()
                while day <= last:
                    if day == stamp.date():
                        return True
                    day += timedelta(days=1)
        elif hi - lo < 86400:  # a time of day: only a window shorter than a day can place it
            seconds = stamp.hour * 3600 + stamp.minute * 60 + stamp.second
            for convert in (datetime.fromtimestamp, lambda t: datetime.fromtimestamp(t, timezone.utc)):
                a, b = convert(lo), convert(hi)
                since = (a.hour * 3600 + a.minute * 60 + a.second)
                until = (b.hour * 3600 + b.minute * 60 + b.second)
                if (since <= seconds <= until) if since <= until else (seconds >= since or seconds <= until):
                    return True
    return False


def mask_clock(text: str, windows: Sequence[tuple[float, float]]) -> str:
    """``text`` with each wall-clock stamp that falls in one of ``windows`` (epoch seconds) as ``<CLOCK>``."""
    if not windows:
        return text
    for pattern, formats, kind in _CLOCK_STAMPS:
        def replace(match: re.Match[str], formats: tuple[str, ...] = formats, kind: str = kind) -> str:
            stamp = _parse(match.group(0), formats)
            return CLOCK if stamp is not None and _in_window(stamp, kind, windows) else match.group(0)

        text = pattern.sub(replace, text)
    return text


def matches_redacted(recorded: str, replayed: str) -> bool:
    """True when ``replayed`` is ``recorded`` with each ``<redacted>`` in it standing for one character or more
    (both normalised). Linear: each literal piece is found with ``str.find``, leftmost first, which is enough
    for wildcards that match anything."""
    pieces = recorded.split(REDACTED)
    if len(pieces) == 1:
        return recorded == replayed
    first, last = pieces[0], pieces[-1]
    if not replayed.startswith(first):
        return False
    at = len(first)
    for piece in pieces[1:-1]:
        found = replayed.find(piece, at + 1)  # the wildcard before it takes one character at least
        if found < 0:
            return False
        at = found + len(piece)
    return len(replayed) - len(last) >= at + 1 and replayed.endswith(last)


def numbers_close(a: str, b: str, rtol: float, atol: float = 1e-12) -> bool:
    """True when ``a`` and ``b`` differ only in numbers that agree within ``rtol`` / ``atol``."""
    if _NUMBER.sub("#", a) != _NUMBER.sub("#", b):
        return False
    for x, y in zip(_NUMBER.findall(a), _NUMBER.findall(b)):
        fx, fy = float(x), float(y)
        if math.isnan(fx) and math.isnan(fy):
            continue
        if not math.isclose(fx, fy, rel_tol=rtol, abs_tol=atol):
            return False
    return True


def image_digest(data: Any) -> str:
    raw = data.encode() if isinstance(data, str) else bytes(data)
    try:
        raw = base64.b64decode(raw, validate=False)
    except (ValueError, TypeError):
        pass
    return hashlib.sha256(raw).hexdigest()[:16]


def _images_close(a: Any, b: Any, tolerance: float) -> bool:
    try:
        import io

        from PIL import Image, ImageChops, ImageStat  # type: ignore[import-not-found]
    except ImportError:
        return False
    try:
        ia = Image.open(io.BytesIO(base64.b64decode(a))).convert("RGB")
        ib = Image.open(io.BytesIO(base64.b64decode(b))).convert("RGB")
    except Exception:
        return False
    if ia.size != ib.size:
        return False
    diff = ImageStat.Stat(ImageChops.difference(ia, ib)).mean
    return max(diff) <= tolerance


def output_items(outputs: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """Flatten nbformat outputs into comparable (kind, mime, value) items, streams merged by name."""
    items: list[tuple[str, str, Any]] = []
    streams: dict[str, list[str]] = {}
    for out in outputs:
        kind = out.get("output_type")
        if kind == "stream":
            text = out.get("text", "")
            streams.setdefault(out.get("name", "stdout"), []).append(
                "".join(text) if isinstance(text, list) else text
            )
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            for mime in sorted(data):
                if mime in IMAGE_MIMES and mime != "image/svg+xml":
                    items.append(("image", mime, data[mime]))
                elif mime.startswith("text/") or mime in TEXT_MIMES or mime == "image/svg+xml":
                    value = data[mime]
                    items.append(("text", mime, "".join(value) if isinstance(value, list) else value))
                # widget state and other JSON bundles are not compared
        elif kind == "error":
            items.append(("error", "error", f"{out.get('ename')}: {out.get('evalue')}"))
    for name in sorted(streams):
        if name == "stderr":
            continue  # warnings and progress bars: shown in the report, never compared
        items.insert(0, ("text", name, "".join(streams[name])))
    return items


@dataclass
class Comparison:
    """How one step's replayed outputs compare with the recorded ones."""

    same: bool
    diff: str = ""
    how: str = "outputs"


def compare_outputs(
    recorded: list[dict[str, Any]],
    replayed: list[dict[str, Any]],
    *,
    rtol: float = 0.0,
    image_tolerance: Optional[float] = None,
    diff_lines: int = 6,
    clock: tuple[Sequence[tuple[float, float]], Sequence[tuple[float, float]]] = ((), ()),
    sanitizers: Sequence[tuple[re.Pattern[str], str]] = (),
) -> Comparison:
    """Compare two cells' outputs after normalisation; the diff is short enough for a table cell. ``clock``:
    the recorded session's time windows and the replay's (epoch seconds), for the stamps they printed."""
    a, b = output_items(recorded), output_items(replayed)
    keys_a = [(k, m) for k, m, _ in a]
    keys_b = [(k, m) for k, m, _ in b]
    if keys_a != keys_b:
        missing = [m for m in keys_a if m not in keys_b]
        extra = [m for m in keys_b if m not in keys_a]
        parts = []
        if missing:
            parts.append("missing " + ", ".join(f"{m}" for _, m in missing))
        if extra:
            parts.append("new " + ", ".join(f"{m}" for _, m in extra))
        return Comparison(False, "; ".join(parts) or "outputs in a different order")
    for (kind, mime, va), (_, _, vb) in zip(a, b):
        if kind == "image":
            if image_digest(va) == image_digest(vb):
                continue
            if image_tolerance is not None and _images_close(va, vb, image_tolerance):
                continue
            return Comparison(False, f"{mime} differs: sha256 {image_digest(va)} recorded, {image_digest(vb)} now")
        na, nb = normalize_text(str(va)), normalize_text(str(vb))
        for pattern, replacement in sanitizers:  # the user's own (--sanitize-with), as nbval applies them
            na, nb = pattern.sub(replacement, na), pattern.sub(replacement, nb)
        if na != nb and (clock[0] or clock[1]):
            na, nb = mask_clock(na, clock[0]), mask_clock(nb, clock[1])
        if na == nb or (rtol > 0 and numbers_close(na, nb, rtol)) or (REDACTED in na and matches_redacted(na, nb)):
            continue
        return Comparison(False, f"{mime}: " + short_diff(na, nb, diff_lines))
    return Comparison(True)


def short_diff(a: str, b: str, lines: int = 6) -> str:
    """A unified diff of two texts cut to ``lines`` changed lines (recorded = -, replayed = +)."""
    diff = [
        line
        for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=0)
        if not line.startswith(("---", "+++", "@@"))
    ]
    cut = [d if len(d) <= 120 else d[:117] + "..." for d in diff[:lines]]
    if len(diff) > lines:
        cut.append(f"... {len(diff) - lines} more changed lines")
    return "\n".join(cut)


def read_sanitizers(path: Any) -> list[tuple[re.Pattern[str], str]]:
    """nbval's sanitize file (``--sanitize-with``): INI sections, each with ``regex:`` and ``replace:``. Raises
    ValueError with one line naming what is wrong."""
    import configparser

    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise ValueError(f"cannot read {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    found = []
    for section in parser.sections():
        regex, replace = parser[section].get("regex"), parser[section].get("replace", "")
        if regex is None:
            raise ValueError(f"{path}: section [{section}] has no `regex:`")
        try:
            found.append((re.compile(regex), replace))
        except re.error as exc:
            raise ValueError(f"{path}: section [{section}]: {exc}") from None
    if not found:
        raise ValueError(f"{path} has no [section] with a `regex:`")
    return found
