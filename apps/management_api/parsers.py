"""The management API's one parser: JSON, bounded in size and nesting.

DRF's JSONParser hands the body to ``json.load``, which recurses once per nesting level:
50,000 nested arrays raise RecursionError (a 500), and a few hundred parse but make every
later step that walks the data (validation, ``str()``, the audit event) recurse as deep.
No request of this API nests more than a few levels or needs more than a few kilobytes.
"""

import io
from typing import Any

from rest_framework import exceptions, parsers, status

MAX_BODY_BYTES = 256 * 1024
MAX_DEPTH = 32
TOO_DEEP = f"JSON parse error - nested more than {MAX_DEPTH} levels deep."


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "request_too_large"
    default_detail = f"Request body too large (at most {MAX_BODY_BYTES} bytes)."


class BoundedJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None) -> Any:
        body = stream.read(MAX_BODY_BYTES + 1)
        if len(body) > MAX_BODY_BYTES:
            raise RequestTooLarge()
        try:
            data = super().parse(io.BytesIO(body), media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError(TOO_DEEP) from None
        if _nested_deeper_than(data, MAX_DEPTH):
            raise exceptions.ParseError(TOO_DEEP)
        return data


def _nested_deeper_than(value: Any, limit: int) -> bool:
    """Whether arrays and objects in ``value`` nest more than ``limit`` deep (iteratively: a
    recursive walk would fail exactly where it matters)."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            pending.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False
