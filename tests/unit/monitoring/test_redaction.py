"""Secrets never reach a log sink: known values and key-shaped patterns are redacted in every part of a record."""

from __future__ import annotations

import importlib.util
import io
import logging
import logging.handlers
import queue
import secrets as std_secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cts_desktop.monitoring.redaction import (
    REDACTED,
    RedactingFilter,
    SecretRedactor,
    attach_redaction,
    redact_patterns,
)
from cts_desktop.storage.keyring_memory import MemoryKeyring
from cts_desktop.storage.secrets import SecretRef, SecretStore, SecretStoreError


def new_secret() -> str:
    return std_secrets.token_urlsafe(24)


# -- the redactor ----------------------------------------------------------------------------------------------------


def test_known_secrets_are_replaced_wherever_they_appear() -> None:
    one, two = new_secret(), new_secret()
    redactor = SecretRedactor([one])
    redactor.add(two)
    text = f"key={one}; echoed {two}{one} done"
    out = redactor.redact(text)
    assert one not in out and two not in out
    assert out.count(REDACTED) == 3 and out.endswith(" done")


def test_short_values_are_ignored_and_longest_secret_wins() -> None:
    redactor = SecretRedactor(["abc", ""])
    assert len(redactor) == 0
    assert redactor.redact("abc") == "abc"
    inner = "Zq7Kx9"
    outer = inner + "Wp3Rt5"
    redactor = SecretRedactor([inner, outer])
    assert redactor.redact(f"[{outer}]") == f"[{REDACTED}]"


def test_encoded_forms_of_a_secret_are_known_too() -> None:
    password = 'p@ss w/rd"99'
    redactor = SecretRedactor([password], patterns=False)
    for form in ("p%40ss%20w%2Frd%2299", "p%40ss+w%2Frd%2299", 'p@ss w/rd\\"99'):
        assert redactor.redact(f"<{form}>") == f"<{REDACTED}>"


def test_redactor_is_a_listener_for_the_secret_store() -> None:
    redactor = SecretRedactor()
    store = SecretStore(MemoryKeyring(), on_secret=redactor)
    value = new_secret()
    store.set(SecretRef.connection(1, "api_secret"), value)
    assert value in redactor
    assert redactor.redact(value) == REDACTED


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("GET /v5/order/realtime?api_key=AbC123xyz&symbol=BTCUSDT", "api_key=«redacted»&symbol=BTCUSDT"),
        ("X-BAPI-API-KEY: Kx81mQ2pL0 X-BAPI-SIGN: 9f8e7d", "X-BAPI-API-KEY: «redacted» X-BAPI-SIGN: «redacted»"),
        ("headers={'X-BX-APIKEY': 'Yt5Gh2Jk8'}", "'X-BX-APIKEY': '«redacted»'"),
        ('{"apiKey": "k-123", "secret": "s-456", "enableRateLimit": true}', '"secret": "«redacted»"'),
        ("apiKey 8fJ2kL9qW3eR5tY7", "apiKey «redacted»"),
        ("postgresql+psycopg://trader:pa55word@10.0.0.5:5432/cts", "trader:«redacted»@10.0.0.5:5432/cts"),
        ("dsn: host=db password=hunter22 user=cts", "password=«redacted» user=cts"),
        ("Authorization: Bearer eyJhbGciOi.abc.def", "Authorization: Bearer «redacted»"),
        ("passphrase=Trade-Pass_1", "passphrase=«redacted»"),
    ],
)
def test_pattern_pass_catches_unregistered_credentials(text: str, expected: str) -> None:
    out = SecretRedactor().redact(text)
    assert expected in out
    assert out == redact_patterns(text)


@pytest.mark.parametrize(
    "text",
    [
        'bybit requires "apiKey" credential',
        "the api key field is empty",
        "password_hash column migrated",
        "connection:7:api_key stored in keyring",
        "https://api.bybit.com/v5/market/kline?symbol=BTCUSDT&interval=1",
    ],
)
def test_pattern_pass_leaves_ordinary_text_alone(text: str) -> None:
    assert SecretRedactor().redact(text) == text


@settings(max_examples=200, deadline=None)
@given(
    secret=st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789-_", min_size=4, max_size=40),
    before=st.text(max_size=30),
    after=st.text(max_size=30),
)
def test_a_registered_secret_never_survives(secret: str, before: str, after: str) -> None:
    out = SecretRedactor([secret]).redact(before + secret + after)
    assert secret not in out


# -- the logging filter through real handlers -----------------------------------------------------------------------


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger(f"cts.test.redaction.{std_secrets.token_hex(4)}")
    log.setLevel(logging.DEBUG)
    log.propagate = False
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)
        handler.close()


def _module_with_secret_in_source(tmp_path: Path, secret: str) -> object:
    """A module whose source lines contain the secret, so tracebacks and stack dumps quote it."""
    source = (
        "def fail_with(log):\n"
        f"    key = {secret!r}; raise ValueError('exchange rejected key ' + key)\n"
        "\n"
        "def dump_stack(log):\n"
        f"    log.warning('stack follows', stack_info=True)  # api_secret {secret}\n"
    )
    path = tmp_path / "leaky_module.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("leaky_module", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_file_sink_never_receives_a_secret(tmp_path: Path, logger: logging.Logger) -> None:
    secret, db_password = new_secret(), new_secret()
    redactor = SecretRedactor()
    store = SecretStore(MemoryKeyring(), on_secret=redactor.add)
    store.set(SecretRef.connection("bybit-x03", "api_secret"), secret)

    log_file = tmp_path / "cts.log"
    file_handler = logging.FileHandler(log_file, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(levelname)s %(message)s url=%(url)s", defaults={"url": "-"}))
    console = io.StringIO()
    console_handler = logging.StreamHandler(console)
    logger.addHandler(console_handler)  # first in line: must already see redacted text
    logger.addHandler(file_handler)
    attach_redaction(redactor, logger.handlers)

    url = f"postgresql+psycopg://cts:{db_password}@127.0.0.1:5432/test"
    logger.info("connected with key %s", secret, extra={"url": url})
    logger.info(f"inline f-string {secret}")
    logger.info("dict args %(k)s", {"k": secret})
    leaky = _module_with_secret_in_source(tmp_path, secret)
    try:
        leaky.fail_with(logger)  # type: ignore[attr-defined]
    except ValueError:
        logger.exception("order rejected")
    try:
        try:
            leaky.fail_with(logger)  # type: ignore[attr-defined]
        except ValueError as inner:
            raise RuntimeError(f"wrapped: {inner}") from inner
    except RuntimeError:
        logger.error("chained failure", exc_info=True)
    leaky.dump_stack(logger)  # type: ignore[attr-defined]
    file_handler.flush()

    data = log_file.read_bytes()
    for needle in (secret, db_password):
        assert needle.encode("utf-8") not in data
        assert needle not in console.getvalue()
    text = data.decode("utf-8")
    # The records themselves are all there, readable, with the secrets cut out.
    assert text.count(REDACTED) >= 8
    for expected in (
        "connected with key «redacted»",
        "url=postgresql+psycopg://cts:«redacted»@127.0.0.1",
        "order rejected",
        "ValueError: exchange rejected key «redacted»",
        "RuntimeError: wrapped",
        "The above exception was the direct cause",
        "Stack (most recent call last)",
        "leaky_module.py",
    ):
        assert expected in text


def test_exceptions_formatted_later_are_already_redacted(logger: logging.Logger) -> None:
    secret = new_secret()
    redactor = SecretRedactor([secret])
    records: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Capture()
    handler.addFilter(RedactingFilter(redactor))
    logger.addHandler(handler)
    try:
        raise ConnectionError(f"auth failed for {secret}")
    except ConnectionError:
        logger.exception("login")

    (record,) = records
    assert record.exc_info is None  # no formatter can render the raw exception any more
    assert record.exc_text is not None and "ConnectionError: auth failed for «redacted»" in record.exc_text
    assert secret not in logging.Formatter().format(record)
    assert secret not in record.getMessage()


def test_queue_handler_path_used_by_batched_sinks(tmp_path: Path, logger: logging.Logger) -> None:
    secret = new_secret()
    redactor = SecretRedactor([secret])
    records: queue.Queue[logging.LogRecord] = queue.Queue()
    queue_handler = logging.handlers.QueueHandler(records)
    logger.addHandler(queue_handler)
    attach_redaction(redactor, [queue_handler])
    try:
        raise PermissionError(secret)
    except PermissionError:
        logger.exception("denied %s", secret)
    queued = records.get_nowait()
    assert secret not in queued.getMessage()
    assert "denied «redacted»" in queued.getMessage() and "PermissionError: «redacted»" in queued.getMessage()


def test_bad_format_arguments_still_log_redacted(logger: logging.Logger) -> None:
    secret = new_secret()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    attach_redaction(SecretRedactor([secret]), [handler])
    logger.warning("value %d", secret)
    out = stream.getvalue()
    assert "value %d" in out and REDACTED in out and secret not in out


def test_a_backend_error_logged_after_a_failed_set_is_redacted(logger: logging.Logger) -> None:
    class Leaky(MemoryKeyring):
        def set_password(self, service: str, username: str, password: str) -> None:
            raise OSError(f"cannot write {password}")

    secret = new_secret()
    redactor = SecretRedactor()
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    logger.addHandler(handler)
    attach_redaction(redactor, [handler])
    store = SecretStore(Leaky(), on_secret=redactor.add)
    try:
        store.set(SecretRef.connection(2, "api_key"), secret)
    except SecretStoreError as exc:
        logger.error("could not save: %s", exc, exc_info=True)
    assert "could not save" in stream.getvalue() and secret not in stream.getvalue()


def test_attach_redaction_does_not_stack_filters() -> None:
    handler = logging.NullHandler()
    redactor = SecretRedactor()
    attach_redaction(redactor, [handler])
    attach_redaction(redactor, [handler])
    assert sum(isinstance(f, RedactingFilter) for f in handler.filters) == 1
