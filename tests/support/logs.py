"""Watching every log record for secrets before the redaction filter sees it."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

from apps.ops.logs import redact


class _SecretScanner(logging.Handler):
    """Sees every record the logging configuration lets through, before any redaction."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.leaks: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = record.getMessage()
        except Exception:
            return
        if record.exc_info:
            text += logging.Formatter().formatException(record.exc_info)
        if redact(text) != text:  # the redaction filter would have had to cut something
            self.leaks.append(f"{record.name}: {text[:300]}")


@contextmanager
def scanning_logs() -> Iterator[_SecretScanner]:
    scanner = _SecretScanner()
    root = logging.getLogger()
    # First: the console handler's redaction filter rewrites the record in place.
    root.handlers.insert(0, scanner)
    try:
        yield scanner
    finally:
        root.removeHandler(scanner)
