"""Keep secrets out of the journal and manifests.

Environment variables are kept by allow-list only; even an allowed variable, or any other recorded string
(git remotes, URLs), is redacted when its name or its value looks like a credential. Recorded cell code keeps
every character but the credentials written into it (`redact_code`).
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
ALLOWED_NAMES = frozenset({
    "PYTHONHASHSEED", "PYTHONPATH", "PYTHONIOENCODING", "PYTHONUTF8", "OMP_NUM_THREADS", "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS", "NUMEXPR_MAX_THREADS", "VECLIB_MAXIMUM_THREADS", "BLIS_NUM_THREADS",
    "NUMBA_NUM_THREADS", "CUDA_VISIBLE_DEVICES", "CUDA_LAUNCH_BLOCKING", "CUBLAS_WORKSPACE_CONFIG",
    "CUDNN_DETERMINISTIC", "TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC", "TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS",
    "JAX_ENABLE_X64", "TORCH_DETERMINISTIC", "MKL_CBWR", "KMP_DETERMINISTIC_REDUCTION", "LANG", "LANGUAGE", "TZ",
    "CONDA_DEFAULT_ENV", "VIRTUAL_ENV",
})
ALLOWED_PREFIXES = ("LC_",)

_SECRET_NAME = re.compile(
    r"(SECRET|TOKEN|PASSW(OR)?D|PASSWD|PWD|CREDENTIAL|API_?KEY|ACCESS_?KEY|PRIVATE|AUTH|SESSION|COOKIE|SIGNATURE|_KEY$)",
    re.IGNORECASE,
)

# Unmistakable token formats, each meant to follow a word boundary.
_TOKEN_FORMATS = (
    r"A(KIA|SIA)[0-9A-Z]{16}\b",  # AWS access key id
    r"gh[pousr]_[A-Za-z0-9]{20,}\b",  # GitHub tokens
    r"github_pat_[A-Za-z0-9_]{20,}\b",
    r"xox[abprs]-[A-Za-z0-9-]{10,}\b",  # Slack
    r"sk-[A-Za-z0-9_-]{16,}\b",  # OpenAI-style keys
    r"AIza[0-9A-Za-z_-]{30,}\b",  # Google API keys
    r"glpat-[A-Za-z0-9_-]{16,}\b",  # GitLab
    r"hf_[A-Za-z0-9]{20,}\b",  # Hugging Face
    r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{4,}",  # JWT
)

_SECRET_PARAMETERS = frozenset({"key", "sig", "pass", "pw", "apikey", "passcode"})

_SECRET_VALUE_PATTERNS = [
    *(re.compile(r"\b" + token_format) for token_format in _TOKEN_FORMATS),
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"(?i)(?<![A-Za-z0-9])(password|passwd|pwd|secret|token|api[_-]?key)\s*[=:]\s*['\"]?(?!<redacted>)[^\s'\"]+"),
    re.compile(r"[a-z][a-z0-9+.-]*://[^/\s:@]+:[^/\s@]+@"),  # credentials inside a URL
]


def looks_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def looks_secret_parameter(name: str) -> bool:
    """A URL query parameter that carries a credential: a secret-like name, or key, sig, pass, pw, apikey."""
    return looks_secret_name(name) or name.lower() in _SECRET_PARAMETERS


def _entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(c / len(text) * math.log2(c / len(text)) for c in counts.values())


def _high_entropy(token: str) -> bool:
    """Three kinds of character or more and close to as many distinct ones as a random draw would give.

    4 bits a character from 32 characters on; below that, a little under what a random string reaches.
    """
    kinds = sum(bool(re.search(p, token)) for p in (r"[a-z]", r"[A-Z]", r"[0-9]", r"[+/=_-]"))
    return kinds >= 3 and _entropy(token) > min(4.0, math.log2(len(token)) - 0.7)


def looks_secret_value(value: str) -> bool:
    """True for strings that look like keys, tokens, JWTs, private keys or passwords in URLs."""
    if any(p.search(value) for p in _SECRET_VALUE_PATTERNS):
        return True
    # A long unbroken run of mixed characters with high entropy is almost always a key.
    return any(_high_entropy(token) for token in re.findall(r"[A-Za-z0-9+/=_-]{32,}", value))


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
        pairs = [(k, REDACTED if looks_secret_parameter(k) or looks_secret_value(v) else v)
                 for k, v in parse_qsl(query, keep_blank_values=True)]
        query = urlencode(pairs, safe="<>")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


# -- cell code ---------------------------------------------------------------------------------------------

# One pattern a format and the word boundary checked by hand: a literal start lets `re` skip ahead fast.
# In code the prefixed formats also need a digit in their body: a random 20+ character body nearly always
# has one, an identifier such as `hf_downloadedcheckpoints` or a name such as `sk-learn-style-name` does not.
_TOKENS_IN_CODE = [
    re.compile(token_format)
    for token_format in (
        r"A(KIA|SIA)[0-9A-Z]{16}\b",
        r"gh[pousr]_(?=[A-Za-z]*[0-9])[A-Za-z0-9]{20,}\b",
        r"github_pat_(?=[A-Za-z_]*[0-9])[A-Za-z0-9_]{20,}\b",
        r"xox[abprs]-(?=[A-Za-z-]*[0-9])[A-Za-z0-9-]{10,}\b",
        r"sk-(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{16,}\b",
        r"AIza(?=[A-Za-z_-]*[0-9])[0-9A-Za-z_-]{30,}\b",
        r"glpat-(?=[A-Za-z_-]*[0-9])[A-Za-z0-9_-]{16,}\b",
        r"hf_(?=[A-Za-z]*[0-9])[A-Za-z0-9]{20,}\b",
        _TOKEN_FORMATS[-1],  # JWT
    )
]
_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?)-----")
_PEM_BREAKS = re.compile(r"(?:\\[nr]|\s)*")  # real or escaped line breaks and blanks
# What may stand between BEGIN and END: base64, line breaks (escaped too), the quotes of concatenated
# literals and `Proc-Type: 4,ENCRYPTED` / `DEK-Info: AES-128-CBC,...` headers; no code.
_PEM_BODY_CHARS = re.compile(r"[A-Za-z0-9+/=\s\\'\":,-]*")
# One line of a body without END: a base64 run (or an encryption header) alone on its line.
_PEM_LINE = re.compile(
    r"[ \t]*((?:Proc-Type|DEK-Info):[ \t]?[A-Za-z0-9,-]+|[A-Za-z0-9+/]+={0,2})[ \t]*(?=\\[nr]|[\r\n'\"]|\Z)"
)
_PEM_LAST_LINE = re.compile(r"(?:\\[nr]|\s)*(?:['\"]|-----|\Z)")
_URL_PASSWORD = re.compile(r"://([^/\s:@'\"]*):([^/\s@'\"{}]+)@")
_PLACEHOLDER = re.compile(r"%s|%\(\w+\)s|\$\w+|\$\{\w+\}|<redacted>")
# SQL bind parameters and format placeholders: `WHERE password = :password`, `= ?`, `= %(pw)s`, `= $1`.
_BIND_PARAMETER = re.compile(r":[A-Za-z_]\w*|\?|%s|%\(\w+\)s|\$\w+|\$\{\w+\}|\{\w*\}")

# A cell is cut into string literals, comments and shell or %env lines; everything else is left alone.
_REGION = re.compile(
    r"'''([^'\\]*(?:(?:\\[\s\S]|'(?!''))[^'\\]*)*)'''"
    r'|"""([^"\\]*(?:(?:\\[\s\S]|"(?!""))[^"\\]*)*)"""'
    r"|'([^'\\\n]*(?:\\[\s\S][^'\\\n]*)*)'"
    r'|"([^"\\\n]*(?:\\[\s\S][^"\\\n]*)*)"'
    r"|#([^\n]*)"  # group 5: a comment
    r"|\n([ \t]*(?:!(?!=)|%(?:env|set_env)\b)[^\n]*)"  # group 6: a shell or %env line
)
_PYTHON_CELL_MAGIC = re.compile(r"%%(?:time|timeit|capture|prun|debug|python3?)\b")
# Free text (comments, shell lines, the inside of a literal): `name = value` / `name: value` pairs,
# `Bearer` / `Basic` header values, long random-looking runs.
_NAMED_VALUE = re.compile(
    r"(?<![\w.])(?P<name>[A-Za-z_][\w.-]{0,99})['\"]?[ \t]*[=:](?!=)[ \t]*['\"]?"
    r"(?P<scheme>(?:[Bb]earer|[Bb]asic|[Tt]oken|Digest)[ \t]+)?(?!(?:[Bb]earer|[Bb]asic|[Tt]oken|Digest)[ \t])"
    # The value is only looked at, so that `url=https://host/?api_key=...` is read on from `https`.
    r"(?=(?P<value>[^\s'\"&,;{}()<>\[\]\\$][^\s'\"&,;{}()<>\[\]\\]{0,511}))"
)
# The credential is one token, the last word before a quote, a separator or the end: "Basic Statistics2023
# Overview" is a title. A Basic credential is base64.
_AUTH_HEADER = re.compile(
    r"\b(?:(?:[Bb]earer|BEARER)[ \t]+(?P<bearer>[A-Za-z0-9._~+/=-]{8,})|(?:[Bb]asic|BASIC)[ \t]+(?P<basic>[A-Za-z0-9+/]{8,}={0,2}))"
    r"(?![A-Za-z0-9._~+/=-])(?![ \t]+[A-Za-z0-9])"
)
_ANOTHER_WORD = re.compile(r"[ \t]+[A-Za-z0-9]")
_RUN = re.compile(r"(?<![A-Za-z0-9+/=_-])[A-Za-z0-9+/=_-]{20,}")
_LONG_WORD = re.compile(r"[^\s'\"]{20,}")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_WINDOWS_PATH = re.compile(r"[A-Za-z]:\\|\\\\|\.\.?\\|.*\\[^nrt0'\"\\]")
# A base64 blob that happens to hold a `/` (an AWS secret key) is no path.
_BASE64_BLOB = re.compile(r"[A-Za-z0-9+/]{32,}={0,2}")
_PATH_WORD = re.compile(r"(?:^|/)[a-z]{3,}[0-9]*(?:/|$)")  # `data/processed/...` is a path all the same
_AUTH_SCHEME = re.compile(r"(?:Bearer|Basic|Token|Digest|bearer|basic|token)[ \t]+")
# Every secret-sounding name holds one of these words (lower-cased): `_named_literals` starts from them.
_HINT_WORDS = ("pass", "pw", "secret", "cred", "key", "token", "auth", "cookie")
# Blanks bounded: two runs of them side by side would be quadratic on a long blank run.
_AFTER_NAME = re.compile(
    r"[\w.-]{0,80}['\"]?[ \t]{0,20}\]?[ \t]{0,20}(?::[^=\n'\"]{0,80}?)??(?:[=!:]?=|:|,)[ \t]{0,20}"
    r"[rRbBuUfF]{0,2}(?=['\"])"
)
_OPENING = re.compile(r"\w{0,80}[ \t]{0,20}(?:=[ \t]{0,20})?[(\[][ \t]{0,20}[rRbBuU]{0,2}(?=['\"])")

_NAME_WORDS = re.compile(r"[A-Z]+(?![a-z])[0-9]*|[A-Z]?[a-z]+[0-9]*|[0-9]+")
_VALUE_PARTS = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_SEPARATORS = re.compile(r"[/_.:@ -]+")
_HEX = re.compile(r"[0-9a-fA-F-]+")
_PLAIN_WORD = re.compile(r"[A-Za-z_][A-Za-z_-]*")
_PATH_OR_URL = re.compile(r"/|~/|\.\.?/|[A-Za-z]:[\\/]|[A-Za-z][A-Za-z0-9+.-]*://[^@\s]*\Z")
_FILE_NAME = re.compile(
    r"[\w./\\ -]*\.(?:csv|tsv|txt|json|jsonl|ya?ml|toml|ini|cfg|conf|env|pem|key|crt|cer|pub|p12|pfx|gpg|asc"
    r"|pkl|pickle|parquet|feather|h5|hdf5|npy|npz|pt|pth|ckpt|bin|safetensors|db|sqlite3?|sql|xml|html|py|ipynb"
    r"|zip|gz|tar|log|md)",
    re.IGNORECASE,
)
_ENV_NAME = re.compile(r"[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+")

# A name that can only hold a credential, one that often does (then only a credential-shaped value is
# taken), and the qualifiers that make a `..._key` / `..._token` something else.
# Matched in the lower-cased words joined by `_`: `secret` is the last word or followed by a credential word
# (`client_secret`, `aws_secret_access_key`), not `secretary`, `secretive`, `secret_santa`.
_STRONG_NAME = re.compile(
    r"secrets?[0-9]*$|(?<![a-z])secrets?_(?:key|token|access|value|str|string|pass|passphrase)s?(?![a-z])"
    r"|passw|passphrase|credential|api_?key|access_?key|private_?key|authorization"
    r"|(?:api|access|auth|refresh|bearer|session|oauth)_?token"
)
_STRONG_WORDS = frozenset({"pwd", "cred", "creds"})
_STRONG_LAST_WORDS = frozenset({"pass", "pw"})
_WEAK_LAST_WORDS = frozenset({"token", "key", "auth", "oauth", "cookie"})
_WEAK_WORDS = frozenset({"auth", "oauth"})
_NOT_SECRET_QUALIFIERS = frozenset({
    "sort", "primary", "foreign", "partition", "join", "group", "cache", "dict", "index", "lookup", "range", "row",
    "s3", "object", "bucket", "pad", "eos", "bos", "unk", "sep", "cls", "mask", "special", "start", "end", "stop",
    "image", "max", "min", "num",
})
# `secret_name`, `password_prompt`, `private_key_path`: about a credential, rarely one.
_ABOUT_WORDS = frozenset({
    "path", "file", "filename", "dir", "url", "uri", "endpoint", "name", "env", "var", "field", "column", "col",
    "prompt", "label", "header", "id", "type", "kind", "format", "pattern", "length", "len", "policy", "method",
    "mode", "scope", "version",
})
_NONE, _WEAK, _STRONG_PAIR, _STRONG = range(4)


def _name_level(name: str) -> int:
    return _NONE if len(name) > 100 else _short_name_level(name)


@lru_cache(maxsize=4096)
def _short_name_level(name: str) -> int:
    words = [word.lower() for word in _NAME_WORDS.findall(name)]
    if not words:
        return _NONE
    if words == ["pwd"]:  # also the working directory: `{"pwd": "working_dir"}`
        return _STRONG_PAIR
    if _STRONG_NAME.search("_".join(words)) or _STRONG_WORDS.intersection(words) or words[-1] in _STRONG_LAST_WORDS:
        return _WEAK if words[-1] in _ABOUT_WORDS else _STRONG
    if words[-1] in _WEAK_LAST_WORDS and (len(words) == 1 or words[-2] not in _NOT_SECRET_QUALIFIERS):
        return _WEAK
    return _WEAK if _WEAK_WORDS.intersection(words) else _NONE


def _wordy(text: str) -> bool:
    """Made of words and short numbers (`customer_id`, `Llama-2-7b-chat-hf`), not of a random draw."""
    return all(len(_VALUE_PARTS.findall(segment)) <= 3 for segment in _SEPARATORS.split(text))


def _looks_random(run: str) -> bool:
    # Hex digests and UUIDs are identifiers: kept unless a secret-sounding name holds them.
    return not _HEX.fullmatch(run) and _high_entropy(run) and not _wordy(run)


def _value_is_secret(value: str, level: int) -> bool:
    if not value or _PATH_OR_URL.match(value) or _FILE_NAME.fullmatch(value) or _ENV_NAME.fullmatch(value):
        return False
    if _BIND_PARAMETER.fullmatch(value):
        return False
    if level == _STRONG:
        return len(value) >= 4
    if any(c.isspace() for c in value):
        return False
    if _path_like(value):  # Key="raw/Sales2023Q1"
        return False
    if level == _STRONG_PAIR:
        return len(value) >= 4 and not _PLAIN_WORD.fullmatch(value)
    return len(value) >= 8 and not _wordy(value)


def _redact_named_values(text: str) -> str:
    pieces: list[str] = []
    done = 0
    for m in _NAMED_VALUE.finditer(text):
        start = m.start("value")
        if start < done:
            continue  # inside a value already taken out
        value = m.group("value")
        if _value_is_secret(value, _name_level(m.group("name"))) or (
            m.group("scheme") and _credential_like(value) and not _ANOTHER_WORD.match(text, start + len(value))
        ):
            pieces += (text[done:start], REDACTED)
            done = start + len(value)
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _credential_like(value: str) -> bool:
    return len(value) >= 8 and not (value.isalpha() and value.islower())  # "Basic statistics" is kept


def _auth_header_replacement(m: re.Match[str]) -> str:
    group = "bearer" if m.group("bearer") else "basic"
    if not _credential_like(m.group(group)):
        return m.group()
    return m.group()[: m.start(group) - m.start()] + REDACTED


def _mentions_hint(text: str) -> bool:
    lowered = text.lower()
    return any(word in lowered for word in _HINT_WORDS)


def _path_like(word: str) -> bool:
    """A URL (``scheme://``) or a path (``/`` or ``\\`` in it) other than a base64 blob."""
    if _SCHEME.match(word):
        return True
    if "/" in word and (not _BASE64_BLOB.fullmatch(word) or _PATH_WORD.search(word)):
        return True
    return "\\" in word and bool(_WINDOWS_PATH.match(word))


def _run_or_keep(m: re.Match[str]) -> str:
    return REDACTED if _looks_random(m.group()) else m.group()


def _redact_runs(text: str) -> str:
    """Random-looking runs taken out, but not from URLs or paths: a Sheets id, a Drive id, an S3 key stay
    (credentials in URLs are taken by their user info and their secret-named query parameters)."""
    return _LONG_WORD.sub(lambda w: w.group() if _path_like(w.group()) else _RUN.sub(_run_or_keep, w.group()), text)


def _redact_free_text(text: str) -> str:
    if ("=" in text or ":" in text) and _mentions_hint(text):
        text = _redact_named_values(text)
    if "earer" in text or "asic" in text or "EARER" in text or "ASIC" in text:
        text = _AUTH_HEADER.sub(_auth_header_replacement, text)
    if len(text) >= 20 and any(len(word) >= 20 for word in text.split()):
        text = _redact_runs(text)
    return text


def _skip_blanks(text: str, end: int) -> int:
    while text[end - 1] in " \t":
        end -= 1
    return end


def _name_start(text: str, end: int) -> int:
    while text[end - 1].isalnum() or text[end - 1] in "_.":
        end -= 1
    return end


def _prefix_start(text: str, quote_at: int) -> int:
    """Where the literal whose quote is at ``quote_at`` starts, with its ``r``, ``b``, ``f`` prefix."""
    start = quote_at
    while text[start - 1] in "rRbBuUfF" and start > quote_at - 2:
        start -= 1
    return start


def _literal_level(text: str, quote_at: int, previous: re.Match[str] | None) -> int:
    """How secret-sounding the name is that the literal at ``quote_at`` is assigned to, passed as or keyed by.

    ``previous`` is the string literal before it; ``text`` starts with a newline, so looking back never runs
    off its start.
    """
    end = _skip_blanks(text, _prefix_start(text, quote_at))
    op = text[end - 1]
    if op == ":" or op == ",":
        if previous is None or previous.end() != _skip_blanks(text, end - 1):
            return _NONE
        level = _name_level(previous.group(previous.lastindex or 0))
        if op == ":":  # {"password": "..."}
            return level
        # ("API_KEY", "..."); auth=("user", "..."), HTTPBasicAuth("user", "..."), creds = ("user", "...")
        opener = _skip_blanks(text, _prefix_start(text, previous.start()))
        if text[opener - 1] in "([":
            owner_end = _skip_blanks(text, opener - 1)
            if text[owner_end - 1] == "=":
                owner_end = _skip_blanks(text, owner_end - 1)
            owner = text[_name_start(text, owner_end) : owner_end]
            if owner and (owner.lower().endswith("auth") or _name_level(owner) == _STRONG):
                return _STRONG
        return _STRONG_PAIR if level == _STRONG else level
    if op != "=":
        return _NONE
    end -= 1
    if text[end - 1] in "=!:":  # ==, !=, :=
        end -= 1
    elif text[end - 1] in "<>+-*/%&|^@":
        return _NONE
    end = _skip_blanks(text, end)
    if text[end - 1] == "]":  # os.environ["AWS_SECRET_ACCESS_KEY"] = "..."
        if previous is None or previous.end() != _skip_blanks(text, end - 1):
            return _NONE
        return _name_level(previous.group(previous.lastindex or 0))
    name_start = _name_start(text, end)
    annotation = _skip_blanks(text, name_start)
    if text[annotation - 1] == ":":  # password: str = "..."
        name_end = _skip_blanks(text, annotation - 1)
        if _name_start(text, name_end) < name_end:
            name_start, end = _name_start(text, name_end), name_end
    return _name_level(text[name_start:end]) if name_start < end else _NONE


def _may_hide_secret(text: str) -> bool:
    """Whether free text is worth a look: `name=value`, `name: value`, an auth header or a long run."""
    return len(text) >= 20 or (
        len(text) >= 8 and ("=" in text or ":" in text or "earer" in text or "asic" in text or "ASIC" in text)
    )


def _computed(text: str, quote_at: int, body: str) -> bool:
    """An f-string with fields: its value is computed, not written down."""
    return "{" in body and "f" in text[quote_at - 2 : quote_at].lower()


def _named_literals(text: str) -> tuple[set[int], set[int]]:
    """Where the literals start that a secret-sounding name may name, and the first items of the tuples it
    may open (`auth=("user", "...")`).

    Found from the few places a hint word occurs, so that most literals need no look back.
    """
    # One character for one: offsets stay those of ``text``.
    lowered = (text if text.isascii() else text.encode("ascii", "replace").decode("ascii")).lower()
    named: set[int] = set()
    openings: set[int] = set()
    for word in _HINT_WORDS:
        at = lowered.find(word)
        while at >= 0:
            at += len(word)
            after = _AFTER_NAME.match(text, at)
            if after:
                named.add(after.end())
            opening = _OPENING.match(text, at)
            if opening:
                openings.add(opening.end())
            at = lowered.find(word, at)
    return named, openings


def _redact_regions(text: str) -> str:
    pieces: list[str] = []
    done = 0
    named, openings = _named_literals(text)
    previous: re.Match[str] | None = None  # the region before: a literal that may name this one
    for m in _REGION.finditer(text):
        start, end = m.span()
        named_here = start in named or (openings and previous is not None and previous.start() in openings)
        if not named_here and end - start < 10:  # most literals: nothing names them and they are too short
            previous = m
            continue
        group = m.lastindex or 0
        body = new = m.group(group)
        level = _literal_level(text, start, previous) if named_here and group <= 4 else _NONE
        if level and _value_is_secret(body, level) and REDACTED not in body and not _computed(text, start, body):
            scheme = _AUTH_SCHEME.match(body)
            new = (scheme.group() if scheme else "") + REDACTED
        elif _may_hide_secret(body) and not body.startswith("data:"):
            new = _redact_free_text(body)
        if new != body:
            pieces += (text[done : m.start(group)], new)
            done = m.end(group)
        previous = m
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _pem_body_end(text: str, start: int) -> int:
    """Where the base64 lines from ``start`` end, ``start`` itself when none are there.

    Lines are taken while they are a base64 run alone on their line; a short one (under 16 characters, where
    a PEM line has 64) ends the body and is only taken with its ``=`` padding or before a quote or the end of
    the text, so that `# -----BEGIN PRIVATE KEY-----\\nkey = load_key(path)` or a bare name on the next line
    stay code.
    """
    end = start
    at = start
    while True:
        line = _PEM_LINE.match(text, at)
        if not line or line.end(1) == line.start(1):
            return end
        token = line.group(1)
        if len(token) < 16:
            if token.endswith("=") or _PEM_LAST_LINE.match(text, line.end()):
                end = line.end(1)
            return end
        end = line.end(1)
        at = _match_end(_PEM_BREAKS, text, line.end())
        if at == line.end():
            return end


def _match_end(pattern: re.Pattern[str], text: str, pos: int) -> int:
    """Where a run of ``pattern`` (which may be empty) starting at ``pos`` ends."""
    found = pattern.match(text, pos)
    return found.end() if found else pos


def _strip_breaks(text: str, start: int, end: int) -> int:
    while end > start:
        if text[end - 1].isspace():
            end -= 1
        elif text[end - 2 : end] in ("\\n", "\\r") and end - 2 >= start:
            end -= 2
        else:
            break
    return end


def _redact_pem(text: str) -> str:
    """The body of each PEM private key taken out, the BEGIN and END lines kept. Linear: END is found with
    ``str.find``, a body without END is read line by line."""
    pieces: list[str] = []
    done = 0
    at = 0
    # Found once and reused while still ahead, so that many BEGIN lines stay linear too.
    ends: dict[str, int] = {}
    first_code = -1  # where the first character that cannot be in a body is, from the last look on
    while True:
        begin = _PEM_BEGIN.search(text, at)
        if not begin:
            break
        body_start = _match_end(_PEM_BREAKS, text, begin.end())
        end_line = ends.get(begin.group(1), body_start - 1)
        if 0 <= end_line < body_start:
            end_line = ends[begin.group(1)] = text.find(f"-----END {begin.group(1)}-----", body_start)
        if end_line >= 0 and first_code < body_start:
            first_code = _match_end(_PEM_BODY_CHARS, text, body_start)
        if end_line >= 0 and first_code >= end_line:
            body_end = _strip_breaks(text, body_start, end_line)
            at = end_line
        else:
            body_end = _pem_body_end(text, body_start)
            at = max(body_end, begin.end())
        if body_end > body_start:
            pieces += (text[done:body_start], REDACTED)
            done = body_end
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def _token_or_keep(m: re.Match[str]) -> str:
    before = m.string[m.start() - 1 : m.start()]
    return m.group() if before.isalnum() or before == "_" else REDACTED


def _url_password_or_keep(m: re.Match[str]) -> str:
    if _PLACEHOLDER.fullmatch(m.group(2)):
        return m.group()
    return f"://{m.group(1)}:{REDACTED}@"


@lru_cache(maxsize=2048)
def redact_code(code: str) -> str:
    """Cell code with each credential replaced by ``REDACTED``, every other character kept.

    The code hash is kept of the original. What is taken out:

    - token formats (AWS key ids, GitHub, Slack, OpenAI, Google, GitLab, Hugging Face, JWTs), anywhere;
    - the body of a PEM private key block (the BEGIN/END lines stay), and the password of ``user:pass@`` URLs;
    - a string literal assigned to, passed as, compared with, subscripted by or keyed by a name that can only
      mean a credential (``secret``, ``password``, ``passwd``, ``pwd``, ``credential``, ``api_key``,
      ``access_key``, ``private_key``, ``Authorization``, ``access_token``...), 4 characters or more; after a
      name that often means one (a final ``key``, ``token``, ``auth``: ``KEY``, ``hf_token``, ``auth``) only a
      value of 8 characters or more without spaces that is not made of words (``customer_id``, ``df_train2``)
      is taken, and ``sort_key``, ``pad_token``, ``tokenizer``, ``keyword``, ``author`` are not such names;
    - the second item of ``("DB_PASSWORD", "...")`` pairs and of ``auth=("user", "...")`` tuples;
    - ``Bearer``/``Basic`` header values (the scheme word stays), ``password=...`` inside a string, a comment or
      a shell / ``%env`` line, and the body of a ``%%bash``-like cell magic read the same way;
    - any run of 20 characters or more in a literal that has three kinds of character, near-random entropy
      (the test used on environment values) and is not made of words, outside URLs and paths (a Sheets or
      Drive id, an S3 key stay; a base64 key holding ``/`` does not): ``"meta-llama/Llama-2-7b-chat-hf"`` stays.

    Kept: paths, file names, URLs without user info and environment variable names even under a secret name
    (``password_file = "pw.txt"``, ``api_key_env = "OPENAI_API_KEY"``); f-strings with fields (computed);
    hex digests and UUIDs unless a secret-sounding name holds them (``expected_hash = "<64 hex>"`` stays);
    ``token = tokenizer(text)`` and any other code that is not a literal.
    """
    text = _redact_anywhere(code)
    if text.startswith("%%") and not _PYTHON_CELL_MAGIC.match(text):
        return _redact_free_text(text)  # %%bash, %%writefile .env ...: not Python
    return _redact_regions("\n" + text)[1:]


def _redact_anywhere(text: str) -> str:
    for token in _TOKENS_IN_CODE:
        text = token.sub(_token_or_keep, text)
    if "-----BEGIN " in text:
        text = _redact_pem(text)
    return _URL_PASSWORD.sub(_url_password_or_keep, text) if "://" in text else text


def redact_text(text: str) -> str:
    """Free text (an output, a message, a path) read as :func:`redact_code` reads a comment: token formats,
    PEM bodies and URL passwords anywhere, ``name=value`` pairs, auth headers and random-looking runs."""
    return _redact_free_text(_redact_anywhere(text))
