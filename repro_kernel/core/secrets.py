"""One scanner for everything that leaves the machine: the journal the recorder writes (``.repro/``, which users
commit and share: every text of it passes through :func:`redact`, see ``kernel/scrub.py``), the export folder,
the flags saved in ``metadata.repro`` and an MLflow run.

:func:`redact_secrets` takes a text and returns it with every secret replaced by ``<redacted>``
(:data:`~repro_kernel.core.redact.REDACTED`), the text around it kept, and what was found (its kind, never its
value). It runs, in order:

1. :mod:`repro_kernel.core.redact`'s rules (``redact_code`` for code, ``redact_text`` for outputs, messages and
   paths): token formats, PEM bodies, URL passwords, secret-named literals, ``name=value`` pairs, auth headers,
   random-looking runs;
2. what those miss: credential-named URL query parameters (``?access_token=``, ``&sig=``), a token as a URL's
   user, ``%env NAME=value`` / ``%env NAME value`` / ``export NAME=value`` with a secret-like name, "my
   password is X" in comments and prose, and the literal parts of an f-string bound to a secret name;
3. detect-secrets' format plugins (AWS, GitHub, GitLab, Slack, Stripe, JWT, PyPI, npm ... used in-process on
   the string, not through its CLI; the entropy and bare-keyword plugins are left out: hashes and ids are
   everywhere in an export, and step 1 already reads names);
4. a :class:`Scanner` also replaces every value it has seen as a secret before (a password in a step's code,
   printed by a later step) and the values of this process's secret-named environment variables
   (``MY_TOKEN``, ``JUPYTER_TOKEN``), wherever they show up.

Steps 1 to 3 are cached by text, so that a value scanned twice (the same code in ``replay.py`` and
``replay.ipynb``, the same cell checked again) costs once.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fnmatch import fnmatch
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

_SHOW_WARNING = warnings.showwarning
from detect_secrets.filters.heuristic import is_potential_uuid, is_sequential_string, is_templated_secret  # noqa: E402

if warnings.showwarning is not _SHOW_WARNING:
    # detect-secrets' logger turns on logging.captureWarnings when it is imported, which would send the user's
    # warnings to a logger instead of the cell's stderr: the recorder must not change what a cell shows.
    logging.captureWarnings(False)

from repro_kernel.core.redact import REDACTED, looks_secret_name, looks_secret_parameter, looks_secret_value, redact_code, redact_text  # noqa: E402

__all__ = ["REDACTED", "Finding", "Scanner", "is_inert", "redact", "redact_secrets", "sensitive_file", "text_of_outputs"]

# What is only ever a location or a placeholder, never a credential.
_PLACEHOLDER = re.compile(r"<redacted>|%s|%\(\w+\)s|\$\w+|\$\{\w+\}|\{[^{}]*\}|\*+|x+|\.\.\.")
_URL_USERINFO = re.compile(r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]*://(?P<user>[^/\s:@'\"<>\\{}]+)(?::(?P<password>[^/\s@'\"<>\\]*))?@")
_URL_PARAMETER = re.compile(r"[?&;](?P<name>[A-Za-z_][\w.\-]{0,60})=(?P<value>[^&#\s'\"<>\\]+)")
_ENV_LINE = re.compile(
    r"^(?P<lead>[ \t]*(?:%env|%set_env|!?export|!?set)[ \t]+(?P<name>[A-Za-z_]\w*)(?:[ \t]*=[ \t]*|[ \t]+)(?P<q>['\"]?))"
    r"(?P<value>[^\n'\"]*[^\s'\"])",
    re.M,
)
# A .env file printed, or what `%env NAME=value` echoes (`env: NAME=value`).
_DOTENV_LINE = re.compile(
    r"^(?P<lead>[ \t]*(?:env:[ \t]*|export[ \t]+)?(?P<name>[A-Z][A-Z0-9_]*)[ \t]*=[ \t]*(?P<q>['\"]?))"
    r"(?P<value>[^\n'\"]*[^\s'\"])",
    re.M,
)
# `user:password@host` without a scheme (a host name as a socket call saw it, a connection string's middle).
_BARE_USERINFO = re.compile(
    r"(?<![\w.+/-])[A-Za-z][\w.+-]*:(?P<password>[^\s:@/'\"<>]{3,})@(?=[A-Za-z0-9][\w-]*(?:\.[\w-]+)*(?:[:/\s'\"]|$))"
)
_PROSE = re.compile(
    r"(?i)\b(?P<word>passwords?|passwd|passphrase|passcode|pwd|pin|secret|token|(?:api|access|secret)[ _-]?key)"
    r"[ \t]+(?:is|was|is:|was:|is[ \t]+now)[ \t]+(?P<q>[\"'`]?)(?P<value>[^\s\"'`<>]{3,})"
)
_STRONG_PROSE = ("pass", "pwd", "pin")
_PROSE_WORDS = frozenset(
    "the a an not set stored required empty none null read kept in from missing wrong correct invalid valid "
    "expired changed needed optional given provided hidden secret private encrypted hashed saved taken used sent "
    "same different too also still now then here there below above ok fine true false defined unset blank reset "
    "never always only just what where how why this that it its your my our their being".split()
)
_COMMENT = re.compile(r"#[^\n]*")
_FSTRING = re.compile(
    r"(?<!\w)(?P<name>[A-Za-z_]\w*)['\"]?\]?[ \t]*(?:=|:)[ \t]*(?:[rR]?[fF]|[fF][rR])(?P<q>['\"])(?P<body>(?:[^\\\n'\"]|\\.)*)(?P=q)"
)
_FSTRING_NAME = re.compile(
    r"(?i)(?:^|_)(?:pass(?:word|wd|phrase)?|pwd|secret|api_?key|access_?key|private_?key|credentials?"
    r"|(?:access|auth|api|bearer|refresh|session|id)?_?token)s?$"
)
_FIELD = re.compile(r"\{\{|\}\}|\{[^{}]*\}")
_FILE_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,8}$")
_INERT = re.compile(r"(?:blake3:|sha256:)?[0-9a-f]*|[0-9 .,:eE+T_-]*|[A-Za-z_.-]{0,7}")
_MIN_KNOWN = 6  # shorter values are replaced only where a rule finds them, not wherever they occur
_SKIPPED_MIMES = ("image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "application/pdf")

# Credential files that --bundle-data leaves out without --bundle-secrets (matched on the lower-cased name).
SENSITIVE_NAMES = (
    ".env", ".env.*", "*.env", "*.pem", "*.key", "id_rsa*", "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc",
    "_netrc", "credentials*", "*.p12", "*.pfx", ".pgpass", ".npmrc", ".pypirc", "secrets.*", ".git-credentials",
)
_CONTENT_LIMIT = 1 << 20  # a bundled file is searched for secrets in its first MiB


@dataclass(frozen=True)
class Finding:
    """One secret found: what kind (a rule or a detect-secrets type) and where, never the value."""

    kind: str
    where: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "where": self.where}


# -- our patterns ------------------------------------------------------------------------------------------------


def _placeholder(value: str) -> bool:
    return REDACTED in value or bool(_PLACEHOLDER.fullmatch(value))


class _Pass:
    """One substitution pass that keeps what it took out (kind and value)."""

    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []

    def take(self, kind: str, value: str) -> str:
        self.found.append((kind, value))
        return REDACTED


def _url_userinfo(p: _Pass, m: re.Match[str]) -> str:
    """``scheme://user:password@``: the password taken, and the user too when it is a token."""
    user, password = m.group("user"), m.group("password")
    if not _placeholder(user) and looks_secret_value(user):
        user = p.take("url-credentials", user)
    if password and not _placeholder(password):
        password = p.take("url-credentials", password)
    scheme = m.group()[: m.start("user") - m.start()]
    return f"{scheme}{user}{'' if password is None else ':' + password}@"


def _bare_userinfo(p: _Pass, m: re.Match[str]) -> str:
    password = m.group("password")
    if _placeholder(password) or password.isdigit():  # `host:8080@...` is a port
        return m.group()
    return m.group()[: m.start("password") - m.start()] + p.take("url-credentials", password) + "@"


def _url_parameter(p: _Pass, m: re.Match[str]) -> str:
    value = m.group("value")
    if len(value) < 3 or _placeholder(value) or not looks_secret_parameter(m.group("name")):
        return m.group()
    return m.group()[: m.start("value") - m.start()] + p.take("url-parameter", value)


def _env_assignment(p: _Pass, m: re.Match[str]) -> str:
    name, value = m.group("name"), m.group("value")
    if name == "PWD" or len(value) < 3 or _placeholder(value) or not looks_secret_name(name):
        return m.group()
    return m.group("lead") + p.take("environment-assignment", value)


def _prose_value(m: re.Match[str]) -> Optional[str]:
    value = m.group("value").rstrip(".,;)")
    if len(value) < 4 or value.lower() in _PROSE_WORDS:
        return None
    if m.group("word").lower().startswith(_STRONG_PROSE):
        after = m.string[m.start("value") + len(value):]
        last_word = not re.match(r"[ \t]+[a-z]", after)
        return value if last_word or not value.isalpha() or not value.islower() else None
    has_digit = any(c.isdigit() for c in value)
    return value if len(value) >= 8 and has_digit and any(c.isalpha() for c in value) else None


def _prose(p: _Pass, text: str) -> str:
    def replace(m: re.Match[str]) -> str:
        value = _prose_value(m)
        if value is None:
            return m.group()
        start = m.start("value") - m.start()
        return m.group()[:start] + p.take("password-in-prose", value) + m.group()[start + len(value):]

    return _PROSE.sub(replace, text)


def _fstring(p: _Pass, m: re.Match[str]) -> str:
    if not _FSTRING_NAME.search(m.group("name")):
        return m.group()
    body = m.group("body")
    pieces, done = [], 0
    for field in [*_FIELD.finditer(body), None]:
        end = field.start() if field is not None else len(body)
        part = body[done:end]
        if (len(part.strip()) >= 4 and not _placeholder(part) and not part.startswith(("/", "~", ".")) and "://" not in part
                and not _FILE_SUFFIX.search(part)):
            part = p.take("f-string", part)
        pieces.append(part)
        if field is not None:
            pieces.append(field.group())
            done = field.end()
    new = "".join(pieces)
    return m.group() if new == body else m.group()[: m.start("body") - m.start()] + new + m.group()[m.end("body") - m.start():]


def _our_patterns(text: str, code: bool) -> tuple[str, list[tuple[str, str]]]:
    p = _Pass()
    if "://" in text and "@" in text:
        text = _URL_USERINFO.sub(lambda m: _url_userinfo(p, m), text)
    if "=" in text and ("?" in text or "&" in text or ";" in text):
        text = _URL_PARAMETER.sub(lambda m: _url_parameter(p, m), text)
    if "env" in text or "export" in text or "set" in text:
        text = _ENV_LINE.sub(lambda m: _env_assignment(p, m), text)
    if not code and "=" in text:
        text = _DOTENV_LINE.sub(lambda m: _env_assignment(p, m), text)
    if not code and "@" in text and ":" in text:
        text = _BARE_USERINFO.sub(lambda m: _bare_userinfo(p, m), text)
    lowered = text.lower()
    if any(word in lowered for word in ("pass", "pwd", "pin", "secret", "token", "key")):
        if code:
            text = _COMMENT.sub(lambda m: _prose(p, m.group()), text) if "#" in text else text
            if "f'" in lowered or 'f"' in lowered:
                text = _FSTRING.sub(lambda m: _fstring(p, m), text)
        else:
            text = _prose(p, text)
    return text, p.found


# -- detect-secrets ----------------------------------------------------------------------------------------------

# Each plugin runs only when its literal marker is in the text (matched lower-cased for the case-blind ones),
# so that a megabyte of output costs a few substring searches; None: always run.
_PLUGIN_GATES: dict[str, Optional[tuple[str, ...]]] = {
    "ArtifactoryDetector": ("AKC", "AP"), "AWSKeyDetector": ("A3T", "ABIA", "ACCA", "AKIA", "ASIA", "aws"),
    "AzureStorageKeyDetector": ("AccountKey=",), "BasicAuthDetector": ("://",), "DiscordBotTokenDetector": None,
    "GitHubTokenDetector": ("gh",), "GitLabTokenDetector": ("gl", "GR1348941"), "JwtTokenDetector": ("eyJ",),
    "MailchimpDetector": ("-us",), "NpmDetector": ("_authToken",), "OpenAIDetector": ("T3BlbkFJ",),
    "PypiTokenDetector": ("pypi-",), "SendGridDetector": ("SG.",), "SlackDetector": ("xox", "hooks.slack"),
    "SquareOAuthDetector": ("sq0csp-",), "StripeDetector": ("k_live_",), "TelegramBotTokenDetector": (":",),
    "TwilioKeyDetector": ("AC", "SK"),
    # Keyword-context plugins: run on the lines that name a credential only.
    "CloudantDetector": ("cl",), "IbmCloudIamDetector": ("key", "token", "pass", "pw"),
    "IbmCosHmacDetector": ("secret",), "SoftlayerDetector": ("sl", "softlayer"),
}
_LINE_PLUGINS = frozenset({"CloudantDetector", "IbmCloudIamDetector", "IbmCosHmacDetector", "SoftlayerDetector"})
_HINT_WORDS = ("key", "token", "pass", "pw", "secret")


# detect-secrets' format plugins, by module and class.
_PLUGINS = (
    ("artifactory", "ArtifactoryDetector"), ("aws", "AWSKeyDetector"), ("azure_storage_key", "AzureStorageKeyDetector"),
    ("basic_auth", "BasicAuthDetector"), ("cloudant", "CloudantDetector"), ("discord", "DiscordBotTokenDetector"),
    ("github_token", "GitHubTokenDetector"), ("gitlab_token", "GitLabTokenDetector"),
    ("ibm_cloud_iam", "IbmCloudIamDetector"), ("ibm_cos_hmac", "IbmCosHmacDetector"), ("jwt", "JwtTokenDetector"),
    ("mailchimp", "MailchimpDetector"), ("npm", "NpmDetector"), ("openai", "OpenAIDetector"),
    ("pypi_token", "PypiTokenDetector"), ("sendgrid", "SendGridDetector"), ("slack", "SlackDetector"),
    ("softlayer", "SoftlayerDetector"), ("square_oauth", "SquareOAuthDetector"), ("stripe", "StripeDetector"),
    ("telegram_token", "TelegramBotTokenDetector"), ("twilio", "TwilioKeyDetector"),
)


# Imported with this module, not on first use: the kernel loads it before recording starts, so detect-secrets
# and what it imports (requests) are never taken for modules a cell imported.
_PLUGIN_CLASSES = tuple(getattr(importlib.import_module(f"detect_secrets.plugins.{module}"), name)
                        for module, name in _PLUGINS)
_HEURISTICS = (is_sequential_string, is_potential_uuid, is_templated_secret)


@lru_cache(maxsize=1)
def _plugins() -> list[tuple[str, Any]]:
    """The plugins, instantiated once."""
    return [(cls.__name__, cls()) for cls in _PLUGIN_CLASSES]


# Every gate's markers, looked for once a text (then each plugin's gate is a set intersection).
_MARKERS = tuple(sorted({g for gate in _PLUGIN_GATES.values() if gate for g in gate}))
_GATE_SETS = {name: frozenset(gate) for name, gate in _PLUGIN_GATES.items() if gate is not None}


def detect_secrets_in(text: str) -> list[tuple[str, str]]:
    """``(secret type, value)`` for each secret detect-secrets' format plugins find in ``text``.

    The plugins' own patterns (``denylist``) are matched here rather than through ``analyze_string``, which
    yields a pattern's first group: for the GitHub pattern that is the ``ghp`` prefix, not the token."""
    lowered = text.lower()
    present = {g for g in _MARKERS if g in text or g in lowered}
    hint_lines: Optional[str] = None
    found: list[tuple[str, str]] = []
    for name, plugin in _plugins():
        gate = _GATE_SETS.get(name)
        if gate is not None and present.isdisjoint(gate):
            continue
        target = text
        if name in _LINE_PLUGINS:
            if hint_lines is None:
                hint_lines = "\n".join(line for line in text.splitlines()
                                       if any(word in line.lower() for word in _HINT_WORDS))
            target = hint_lines
        valid = getattr(plugin, "is_formally_valid", None)
        for pattern in plugin.denylist:
            for m in pattern.finditer(target):
                value = _matched_secret(m)
                if (len(value) < 6 or REDACTED in value or value not in text or (valid and not valid(value))
                        or any(f(value) for f in _HEURISTICS)):
                    continue
                found.append((plugin.secret_type, value))
    return found


def _matched_secret(m: re.Match[str]) -> str:
    """The secret in a plugin's match: the group that ends it (a password before ``@``, a key in quotes), else
    the whole match without the blanks, quotes and ``=`` / ``:`` some patterns take around it."""
    for group in range(1, (m.re.groups or 0) + 1):
        if m.group(group) and m.end() - m.end(group) <= 2:
            value = m.group(group)
            return "" if _placeholder(value) else value
    return m.group().strip(" \t\r\n=:\"'")


# -- the scanner -------------------------------------------------------------------------------------------------


def _taken_out(original: str, redacted: str) -> list[str]:
    """The values a redaction replaced by ``REDACTED`` (it only ever replaces substrings by the marker; a
    marker already in ``original`` is passed over)."""
    pieces = redacted.split(REDACTED)
    values: list[str] = []
    at = len(pieces[0])
    for index, piece in enumerate(pieces[1:], 1):
        last = index == len(pieces) - 1
        after = at + len(REDACTED)
        if original.startswith(REDACTED, at) and original.startswith(piece, after) and (
                not last or after + len(piece) == len(original)):
            at = after + len(piece)
            continue
        end = len(original) - len(piece) if last else (original.find(piece, at + 1) if piece else at + 1)
        if end < at:
            return values
        values.append(original[at:end])
        at = end + len(piece)
    return values


@lru_cache(maxsize=8192)
def _scan(text: str, code: bool) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Steps 1 to 3 of the module docstring: the redacted text and ``(kind, value)`` of each secret.

    Our patterns run first, so that they see whole values (``%env MY_TOKEN=...`` keeps its name)."""
    new, found = _our_patterns(text, code)
    before = new
    new = redact_code(new) if code else redact_text(new)
    if new != before:
        found += [("credential", value) for value in _taken_out(before, new)] or [("credential", "")]
    for kind, value in detect_secrets_in(new):
        new = new.replace(value, REDACTED)
        found.append((f"detect-secrets: {kind}", value))
    return new, tuple(found)


def environment_secrets(environ: Optional[Mapping[str, str]] = None) -> set[str]:
    """Values of secret-named (or secret-looking) environment variables, paths and short values left out."""
    environ = os.environ if environ is None else environ
    found = set()
    for name, value in environ.items():
        if len(value) < 8 or "\n" in value or value.startswith(("/", "~", ".")) or name.endswith(
                ("_NAME", "_PATH", "_FILE", "_DIR", "_URL", "_HOST", "_SOCK", "_ID")):
            continue
        if looks_secret_name(name) or looks_secret_value(value):
            found.add(value)
    return found


class Scanner:
    """:func:`redact_secrets` that also replaces every value it has found before, and ``known`` ones."""

    def __init__(self, known: Iterable[str] = ()) -> None:
        self.known: set[str] = set()
        self._pattern: Optional[re.Pattern[str]] = None
        self.learn(known)

    @classmethod
    def for_export(cls) -> Scanner:
        """A scanner that knows this process's secret environment values (the shell the export runs in)."""
        return cls(environment_secrets())

    def learn(self, values: Iterable[str]) -> None:
        fresh = {v for v in values if len(v) >= _MIN_KNOWN and REDACTED not in v and v.strip() == v} - self.known
        if fresh:
            self.known |= fresh
            self._pattern = re.compile("|".join(re.escape(v) for v in sorted(self.known, key=len, reverse=True)))

    def scan(self, text: str, *, code: bool = False, where: str = "") -> tuple[str, list[Finding]]:
        """``text`` with every secret replaced by ``<redacted>``, and what was found."""
        if _INERT.fullmatch(text):  # hashes, numbers, dates, short words: nothing a rule could take
            new, findings = text, []
        else:
            new, found = _scan(text, code)
            if found:
                self.learn(value for _, value in found)
            findings = [Finding(kind, where) for kind, _ in found]
        if self._pattern is not None and self._pattern.search(new):
            new = self._pattern.sub(REDACTED, new)
            findings.append(Finding("known-value", where))
        return new, findings

    def scan_json(self, value: Any, *, where: str = "", code_keys: frozenset[str] = frozenset()) -> tuple[Any, list[Finding]]:
        """A JSON-like document with each string (keys too) scanned; image data is left as it is.

        ``code_keys``: keys whose string values are code (scanned as code)."""
        findings: list[Finding] = []

        def walk(item: Any, path: str, code: bool) -> Any:
            if isinstance(item, str):
                new, found = self.scan(item, code=code, where=path)
                findings.extend(found)
                return new
            if isinstance(item, list):
                return [walk(x, path, code) for x in item]
            if isinstance(item, dict):
                out = {}
                for key, sub in item.items():
                    if key in _SKIPPED_MIMES:
                        out[key] = sub
                        continue
                    new_key = walk(key, path, False) if isinstance(key, str) else key
                    out[new_key] = walk(sub, f"{path}.{key}" if path else str(key), key in code_keys)
                return out
            return item

        return walk(value, where, False), findings


def redact(text: str, *, code: bool = False) -> str:
    """The one redaction every text the recorder keeps passes through (code with ``code=True``): ``text`` with
    every secret replaced by ``<redacted>``, as :func:`redact_secrets` finds them. Stateless and cached by text,
    so that the same code redacted in the kernel and read back from a saved notebook (``analysis.sessions``)
    comes out the same, and so hashes the same."""
    if not code and _INERT.fullmatch(text):
        return text
    return _scan(text, code)[0]


def is_inert(text: str) -> bool:
    """Hashes, numbers, dates and short words: nothing a rule could take from them."""
    return bool(_INERT.fullmatch(text))


def redact_secrets(text: str, *, code: bool = False) -> tuple[str, list[Finding]]:
    """``text`` with every secret replaced by ``<redacted>`` (the text around it kept) and what was found.

    ``code``: read ``text`` as cell code (string literals, comments, ``%env`` and shell lines) rather than as
    free text (an output, a message, a path)."""
    new, found = _scan(text, code)
    return new, [Finding(kind) for kind, _ in found]


def text_of_outputs(outputs: Iterable[Any]) -> tuple[str, str]:
    """The text a cell's saved outputs show (streams, text and JSON displays; images left out) and the text of
    its error output (name, message, traceback)."""
    shown: list[str] = []
    errors: list[str] = []
    for out in outputs or ():
        if not isinstance(out, Mapping):
            continue
        kind = out.get("output_type")
        if kind == "stream":
            shown.append(_joined(out.get("text")))
        elif kind == "error":
            errors += [str(out.get("ename") or ""), str(out.get("evalue") or ""), _joined(out.get("traceback"), "\n")]
        elif kind in ("execute_result", "display_data"):
            for mime, data in (out.get("data") or {}).items():
                if mime not in _SKIPPED_MIMES and mime.startswith(("text/", "application/json", "image/svg")):
                    shown.append(_joined(data) if not isinstance(data, (dict, list)) or mime.startswith("text/")
                                 else repr(data))
    return "\n".join(s for s in shown if s), "\n".join(e for e in errors if e)


def _joined(value: Any, sep: str = "") -> str:
    if isinstance(value, list):
        return sep.join(str(v) for v in value)
    return "" if value is None else str(value)


def sensitive_file(name: str, path: Optional[Path] = None) -> Optional[str]:
    """Why a file must not be bundled without ``--bundle-secrets`` (its name, or what detect-secrets and our
    token formats find in its first MiB of text), or None."""
    base = Path(name).name.lower()
    for pattern in SENSITIVE_NAMES:
        if fnmatch(base, pattern):
            return f"its name marks a credential file ({pattern})"
    if path is None:
        return None
    try:
        with open(path, "rb") as handle:
            head = handle.read(_CONTENT_LIMIT)
    except OSError:
        return None
    if b"\0" in head[:8192]:
        return None  # binary data
    text = head.decode("utf-8", "replace")
    if "PRIVATE KEY-----" in text or "PuTTY-User-Key-File" in text:
        return "it holds a private key"
    found = detect_secrets_in(text)
    if found:
        return f"detect-secrets finds a {found[0][0]} in it"
    return None
