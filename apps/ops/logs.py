"""Log records as one JSON object per line, tagged with the request id, scrubbed of secrets.

Standard library only (see apps/ops/request_id.py): gunicorn's master loads these too.
"""

import json
import logging
import re
from datetime import UTC, datetime

from apps.ops.request_id import current_request_id

REDACTED = "[redacted]"

# Defence in depth: nothing here should ever log a credential, but if a library or a
# careless message does, these shapes are cut out before the line is written.
_SECRET_SHAPES = [
    # A PEM private key: a signing key's row in SQL logged with its parameters (DEBUG only).
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----"), REDACTED),
    # A JWS/JWE compact serialization: our access and ID tokens, client assertions.
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*){0,2}"), REDACTED),
    # An Authorization header as text, a header dict or WSGI environ: scheme and credentials.
    (
        re.compile(
            r"""\b((?:HTTP_)?Authorization['"]?\s*[:=]\s*['"]?)(?:(?:Basic|Bearer|DPoP)\s+)?[^\s'",;}]+""", re.I
        ),
        rf"\1{REDACTED}",
    ),
    # name=value, name: value or 'name': 'value' for the parameters that carry credentials.
    (
        re.compile(
            r"""\b((?:client_secret|password|access_token|refresh_token|id_token_hint|subject_token|actor_token"""
            r"""|assertion|code_verifier|token)['"]?\s*[:=]\s*['"]?)(?!\[redacted\])[^\s'"&,;})\]]+""",
            re.I,
        ),
        rf"\1{REDACTED}",
    ),
]


def redact(text: str) -> str:
    for pattern, replacement in _SECRET_SHAPES:
        text = pattern.sub(replacement, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Rewrites a record's message (after %-formatting with its args) and exception text
    with credentials cut out. Attach it to handlers: a logger's filters do not see the
    records its children propagate."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the formatter's to report
            return True
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when set, so the redacted traceback is what they print.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record (``%(request_id)s``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: timestamp (UTC), level, logger, message, request_id and,
    when there is one, the exception. Extra attributes are left out on purpose: Django puts
    the whole request object on some records."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        # ensure_ascii (the default) escapes every line separator: one record, one line.
        return json.dumps(entry)
