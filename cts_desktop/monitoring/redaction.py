"""Keep secrets out of every log sink (file, DB, console): a redactor of known values plus key-shaped patterns.

Why two passes: the known-value pass is exact — `SecretStore` hands every secret it stores or reads to
`SecretRedactor.add` (its ``on_secret`` listener) before anything can log it. The pattern pass catches credentials we
were never told about (a key typed into a URL, an ``X-BAPI-API-KEY`` header in a ccxt verbose dump, a password inside
a database URL). Both replace the value with «redacted» and keep the surrounding text, so lines stay readable.

`RedactingFilter` goes on handlers, not loggers: a logger's filters never see records propagated from child loggers,
a handler's filters see every record the sink writes. It rewrites the record in place (message with its arguments
merged, exception text formatted and cached, stack text, string extras) and drops ``exc_info``, so no later formatter
or sink can render the raw exception again. Rewriting is idempotent, so the filter may sit on every handler.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "«redacted»"
MIN_SECRET_LENGTH = 4  # shorter values would shred ordinary text; they are also not credible secrets

_KEY_NAMES = (
    r"api[-_]?key|apikey|api[-_]?secret|api[-_]?passphrase|secret[-_]?key|client[-_]?secret|secret|passphrase"
    r"|password|passwd|pwd|access[-_]?token|refresh[-_]?token|auth[-_]?token|token|signature|x-[a-z0-9]+-sign"
)
_VALUE = r"""(?P<val>"[^"\n]*"|'[^'\n]*'|[^\s&;,'"<>(){}\[\]]+)"""

# key=value, key: value, "key": "value", 'key': 'value' (query strings, headers, dict/JSON dumps, DSNs).
_KEY_VALUE = re.compile(rf"""(?P<pre>["']?\b(?:{_KEY_NAMES})\b["']?\s*[=:]\s*){_VALUE}""", re.IGNORECASE)
# Authorization: Bearer xyz / Basic xyz
_AUTHORIZATION = re.compile(
    r"""(?P<pre>\bauthorization["']?\s*[=:]\s*["']?(?:(?:bearer|basic|token)\s+)?)(?P<val>[^\s"',;]+)""",
    re.IGNORECASE,
)
# scheme://user:password@host — the password part only.
_URL_PASSWORD = re.compile(r"(?P<pre>\b[a-z][a-z0-9+.\-]*://[^\s:/?#@]*:)(?P<val>[^\s@/?#]+)(?=@)", re.IGNORECASE)
# "apiKey abc123..." without a separator: only values that look like generated keys (long, with a digit), so prose
# such as 'requires "apiKey" credential' is left alone.
_KEY_SPACE_VALUE = re.compile(
    r"""(?P<pre>\b(?:api[-_]?key|apikey|api[-_]?secret|secret|token|passphrase)["']?\s+)"""
    r"(?P<val>(?=[A-Za-z0-9_\-+/=.]*\d)[A-Za-z0-9_\-+/=.]{12,})",
    re.IGNORECASE,
)


def _replace_value(match: re.Match[str]) -> str:
    value = match.group("val")
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return f"{match.group('pre')}{value[0]}{REDACTED}{value[0]}"
    return f"{match.group('pre')}{REDACTED}"


def redact_patterns(text: str) -> str:
    """Only the generic pass: credentials recognisable by their key name or URL position."""
    for pattern in (_URL_PASSWORD, _AUTHORIZATION, _KEY_VALUE, _KEY_SPACE_VALUE):
        text = pattern.sub(_replace_value, text)
    return text


def _variants(secret: str) -> set[str]:
    """The forms a secret takes in logged text: raw, URL-encoded, and escaped as in repr()/JSON."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
        secret.encode("unicode_escape").decode("ascii"),
        json.dumps(secret)[1:-1],
    }
    return {form for form in forms if len(form) >= MIN_SECRET_LENGTH}


class SecretRedactor:
    """The set of known secret values and the text pass that removes them. Thread-safe; values are never removed.

    A secret that was deleted from the store may still sit in old tracebacks or buffered records, so it stays known
    for the life of the process.
    """

    def __init__(self, secrets: Iterable[str] = (), *, patterns: bool = True) -> None:
        self._lock = threading.Lock()
        self._secrets: set[str] = set()
        self._regex: re.Pattern[str] | None = None
        self._patterns = patterns
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        """Register a secret (and its encoded forms); values shorter than MIN_SECRET_LENGTH are ignored."""
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            return
        forms = _variants(secret)
        with self._lock:
            if forms <= self._secrets:
                return
            self._secrets |= forms
            # Longest first so a secret containing another is replaced whole.
            ordered = sorted(self._secrets, key=lambda s: (-len(s), s))
            self._regex = re.compile("|".join(re.escape(s) for s in ordered))

    __call__ = add  # so the redactor itself can be passed as SecretStore(on_secret=...)

    def __len__(self) -> int:
        return len(self._secrets)

    def __contains__(self, text: object) -> bool:
        return isinstance(text, str) and text in self._secrets

    def redact(self, text: str) -> str:
        regex = self._regex  # one read: a concurrent add() swaps in a complete new pattern
        if regex is not None:
            text = regex.sub(REDACTED, text)
        if self._patterns:
            text = redact_patterns(text)
        return text


_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
}
_EXCEPTION_FORMATTER = logging.Formatter()


class RedactingFilter(logging.Filter):
    """A handler filter that rewrites each record so the sink only ever sees redacted text. Never drops a record."""

    def __init__(self, redactor: SecretRedactor, name: str = "") -> None:
        super().__init__(name)
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        redact = self.redactor.redact
        try:
            message = record.getMessage()
        except Exception:  # a bad format/args pair: keep both, redacted, instead of losing the record
            message = f"{record.msg!s} (unformatted arguments: {record.args!r})"
        record.msg = redact(message)
        record.args = None
        if record.exc_info is not None:
            if not record.exc_text and record.exc_info[0] is not None:
                record.exc_text = _EXCEPTION_FORMATTER.formatException(record.exc_info)
            # The exception object still holds the raw values; no later formatter may render it again.
            record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        for key, value in list(record.__dict__.items()):
            if isinstance(value, str) and (key == "message" or key not in _STANDARD_ATTRIBUTES):
                setattr(record, key, redact(value))  # string extras, e.g. a category or a URL passed via extra=
        return True


def attach_redaction(redactor: SecretRedactor, handlers: Iterable[logging.Handler]) -> RedactingFilter:
    """Put one shared RedactingFilter on each handler (skipping handlers that already have one); return it."""
    redacting = RedactingFilter(redactor)
    for handler in handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(redacting)
    return redacting
