"""Keep secrets out of the journal and manifests.

Environment variables are kept by allow-list only; even an allowed variable, or any other recorded string
(git remotes, URLs), is redacted when its name or its value looks like a credential.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"

# Variables that change what a notebook computes, and nothing else.
ALLOWED_NAMES = frozenset(
    {
        "PYTHONHASHSEED", "PYTHONPATH", "PYTHONIOENCODING", "PYTHONUTF8",
        "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
        "NUMEXPR_MAX_THREADS", "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS", "NUMBA_NUM_THREADS",
        "CUDA_VISIBLE_DEVICES", "CUDA_LAUNCH_BLOCKING", "CUBLAS_WORKSPACE_CONFIG",
        "CUDNN_DETERMINISTIC", "TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC",
        "TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS", "JAX_ENABLE_X64", "TORCH_DETERMINISTIC",
        "MKL_CBWR", "KMP_DETERMINISTIC_REDUCTION",
        "LANG", "LANGUAGE", "TZ", "CONDA_DEFAULT_ENV", "VIRTUAL_ENV",
    }
)
ALLOWED_PREFIXES = ("LC_",)

_SECRET_NAME = re.compile(
    r"(SECRET|TOKEN|PASSW(OR)?D|PASSWD|PWD|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE|AUTH|SESSION|COOKIE|SIGNATURE|_KEY$)",
    re.IGNORECASE,
)

_SECRET_VALUE_PATTERNS = [
    re.compile(r"\bA(KIA|SIA)[0-9A-Z]{16}\b"),  # AWS access key id
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}\b"),  # GitHub tokens
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}\b"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"),  # Slack
    re.compile(r"\bsk-[A-Za-z0-9_-]{16,}\b"),  # OpenAI-style keys
    re.compile(r"\bAIza[0-9A-Za-z_-]{30,}\b"),  # Google API keys
    re.compile(r"\bglpat-[A-Za-z0-9_-]{16,}\b"),  # GitLab
    re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"),  # Hugging Face
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}"),  # JWT
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i)(?<![A-Za-z0-9])(password|passwd|pwd|secret|token|api[_-]?key)\s*[=:]\s*['\"]?(?!<redacted>)[^\s'\"]+"),
    re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"),  # credentials inside a URL
]


def looks_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def looks_secret_value(value: str) -> bool:
    """True for strings that look like keys, tokens, JWTs, private keys or passwords in URLs."""
    if any(p.search(value) for p in _SECRET_VALUE_PATTERNS):
        return True
    # A long unbroken run of mixed characters with high entropy is almost always a key.
    for token in re.findall(r"[A-Za-z0-9+/=_-]{32,}", value):
        kinds = sum(
            bool(re.search(p, token)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[+/=_-]")
        )
        if kinds >= 3 and _entropy(token) > 4.0:
            return True
    return False


def filter_environment(environ: Mapping[str, str], extra_allowed: Iterable[str] = ()) -> dict[str, str]:
    """Return the allow-listed variables of ``environ``, credential-looking ones redacted."""
    allowed = ALLOWED_NAMES | frozenset(extra_allowed)
    kept: dict[str, str] = {}
    for name in sorted(environ):
        if name in allowed or name.startswith(ALLOWED_PREFIXES):
            value = environ[name]
            kept[name] = REDACTED if looks_secret_name(name) or looks_secret_value(value) else value
    return kept


def redact_url(url: str) -> str:
    """Drop user info and credential-looking query parameters from a URL."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return REDACTED
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = parts.query
    if query:
        pairs = [
            (k, REDACTED if looks_secret_name(k) or looks_secret_value(v) else v)
            for k, v in parse_qsl(query, keep_blank_values=True)
        ]
        query = urlencode(pairs, safe="<>")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_ASSIGNED_SECRET = re.compile(
    r"(?i)(?<![A-Za-z0-9])((?:password|passwd|pwd|secret|token|api[_-]?key)\s*[=:]\s*['\"]?)(?!<redacted>)([^\s'\"]+)"
)


def redact_text(text: str) -> str:
    """Replace every credential-looking piece of free text (keeping `name =` before a secret)."""
    for pattern in _SECRET_VALUE_PATTERNS:
        if pattern.pattern.startswith("(?i)"):
            continue
        text = pattern.sub(REDACTED, text)
    text = _ASSIGNED_SECRET.sub(lambda m: m.group(1) + REDACTED, text)
    return text


_QUOTED_SECRET = re.compile(
    r"(?i)(?<![A-Za-z0-9])((?:password|passwd|pwd|secret|token|api[_-]?key)\s*[=:]\s*['\"])(?!<redacted>)([^'\"\n]+)"
)
_CODE_PATTERNS = [p for p in _SECRET_VALUE_PATTERNS if not p.pattern.startswith("(?i)")]


@lru_cache(maxsize=2048)
def redact_code(code: str) -> str:
    """Cell code with credential-looking literals replaced (the code hash is kept of the original).

    Only unmistakable token formats and string literals assigned to secret-sounding names are touched,
    so ordinary code such as ``token = tokenizer(text)`` is recorded, and replays, unchanged.
    """
    if not any(p.search(code) for p in _CODE_PATTERNS) and not _QUOTED_SECRET.search(code):
        return code
    for pattern in _CODE_PATTERNS:
        code = pattern.sub(REDACTED, code)
    return _QUOTED_SECRET.sub(lambda m: m.group(1) + REDACTED, code)
