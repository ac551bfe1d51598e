"""The id that ties together one request's log lines, audit events and the caller's logs.

Standard library only: the logging configuration (apps/ops/logs.py) imports this before
Django's apps are loaded, and so does gunicorn's master process.
"""

import uuid
from contextvars import ContextVar

REQUEST_ID_HEADER = "X-Request-ID"
MAX_LENGTH = 64  # AuditEvent.request_id's column

# Per thread under gunicorn's gthread workers: each request sets its own.
_current: ContextVar[str] = ContextVar("request_id", default="")


def request_id_from(supplied: str | None) -> str:
    """The caller's X-Request-ID (``supplied``, to correlate with their logs), or a new one.

    Taken as is only when it is safe to echo in a response header and to write on one log
    line: ASCII, printable (no CR/LF to forge headers or lines) and at most MAX_LENGTH."""
    supplied = (supplied or "").strip()
    if supplied and len(supplied) <= MAX_LENGTH and supplied.isascii() and supplied.isprintable():
        return supplied
    return uuid.uuid4().hex


def current_request_id() -> str:
    """The id of the request being served on this thread ("" outside a request)."""
    return _current.get()


def set_request_id(request_id: str) -> None:
    _current.set(request_id)
