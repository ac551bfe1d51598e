"""Structured logs: one JSON object per line with the request id, secrets cut out, chosen
by LOG_FORMAT."""

import io
import json
import logging
import sys
from collections.abc import Iterator

import pytest

from apps.ops.logs import REDACTED, JsonFormatter, RedactSecretsFilter, redact
from tests.support.http import TOKEN_URL, form_post
from tests.test_settings import settings_value

JWT = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"


@pytest.fixture
def console() -> Iterator[io.StringIO]:
    """What the configured console handler (LOGGING in idp/settings/base.py) writes."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    stream = io.StringIO()
    previous = handler.setStream(stream)
    yield stream
    handler.setStream(previous)


def lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def record(message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("apps.test", logging.WARNING, __file__, 1, message, args, exc_info)


def test_a_record_is_one_json_line(console):
    try:
        raise ValueError("boom\nsecond line")
    except ValueError:
        logging.getLogger("apps.test").exception("Token request failed for %s", "client-1")
    (line,) = console.getvalue().splitlines()  # the traceback's newlines are escaped
    entry = json.loads(line)
    assert set(entry) == {"timestamp", "level", "logger", "message", "request_id", "exception"}
    assert entry["level"] == "ERROR" and entry["logger"] == "apps.test"
    assert entry["message"] == "Token request failed for client-1"
    assert entry["request_id"] == ""  # outside a request
    assert entry["exception"].startswith("Traceback") and "ValueError: boom" in entry["exception"]
    assert entry["timestamp"].endswith("+00:00")


@pytest.mark.django_db
def test_records_written_during_a_request_carry_its_id(client, console):
    # Django logs "Bad Request" after the middleware chain has returned: the id is still set.
    form_post(client, TOKEN_URL, {"grant_type": "client_credentials"}, HTTP_X_REQUEST_ID="trace-42")
    (entry,) = [e for e in lines(console) if e["logger"] == "django.request"]
    assert entry == {**entry, "level": "WARNING", "message": "Unauthorized: /o/token/", "request_id": "trace-42"}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"token {JWT} refused", f"token {REDACTED} refused"),
        ("client_id=web&client_secret=s3cr3t-value&scope=a", f"client_id=web&client_secret={REDACTED}&scope=a"),
        ("Authorization: Basic d2ViOnMzY3IzdA==", f"Authorization: {REDACTED}"),
        ("{'HTTP_AUTHORIZATION': 'Bearer abc.def'}", f"{{'HTTP_AUTHORIZATION': '{REDACTED}'}}"),
        ('{"password": "hunter2", "username": "bob"}', f'{{"password": "{REDACTED}", "username": "bob"}}'),
        ("subject_token=opaque-123&subject_token_type=urn:x", f"subject_token={REDACTED}&subject_token_type=urn:x"),
        ("refresh_token: abc123", f"refresh_token: {REDACTED}"),
        ("VALUES ('-----BEGIN PRIVATE KEY-----\\nMIGH\\n-----END PRIVATE KEY-----\\n')", f"VALUES ('{REDACTED}\\n')"),
        ("10 tokens issued for client web", "10 tokens issued for client web"),
    ],
)
def test_secret_shapes_are_redacted(text, expected):
    assert redact(text) == expected


def test_the_filter_redacts_the_message_its_args_and_the_exception():
    try:
        raise RuntimeError(f"could not decode {JWT}")
    except RuntimeError:
        entry = record("login for %s with password=%s, header %r", "bob", "hunter2", {"Authorization": "Basic x"})
        entry.exc_info = sys.exc_info()
    assert RedactSecretsFilter().filter(entry)
    formatted = json.loads(JsonFormatter().format(entry))
    assert formatted["message"] == f"login for bob with password={REDACTED}, header {{'Authorization': '{REDACTED}'}}"
    assert JWT not in formatted["exception"] and REDACTED in formatted["exception"]


def test_the_filter_leaves_a_malformed_record_to_the_formatter():
    entry = record("%d tokens", "not a number")
    assert RedactSecretsFilter().filter(entry)
    assert entry.msg == "%d tokens"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "json"),
        ({"DEBUG": "1"}, "text"),
        ({"DEBUG": "1", "LOG_FORMAT": "json"}, "json"),
        ({"LOG_FORMAT": "TEXT"}, "text"),
    ],
)
def test_log_format_follows_the_environment(env, expected):
    result = settings_value("s.LOGGING['handlers']['console']['formatter']", SECRET_KEY="x" * 50, **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == expected


def test_an_unknown_log_format_is_refused():
    result = settings_value("s.LOG_FORMAT", SECRET_KEY="x" * 50, LOG_FORMAT="xml")
    assert result.returncode != 0
    assert "LOG_FORMAT must be json or text" in result.stderr


@pytest.mark.logs_secrets
def test_the_suite_wide_log_scan_sees_a_token_before_the_console_redacts_it():
    from tests.support.logs import scanning_logs

    with scanning_logs() as scanner:
        logging.getLogger("apps.example").warning("presented %s", "eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl")
    assert len(scanner.leaks) == 1 and "eyJhbGciOi" in scanner.leaks[0]
