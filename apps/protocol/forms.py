"""Reading an OAuth endpoint's form safely, before anything else looks at it."""

from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError

from apps.protocol.errors import InvalidRequest, error_response

_CONTROL_CHARACTERS = frozenset(map(chr, [*range(0x20), 0x7F]))


def has_control_characters(request: HttpRequest) -> bool:
    """No OAuth parameter legitimately holds a control character; a NUL would even make
    PostgreSQL refuse the query. Such requests are refused before anything looks them up."""
    for query in (request.GET, request.POST):
        for key, values in query.lists():
            if any(not _CONTROL_CHARACTERS.isdisjoint(text) for text in (key, *values)):
                return True
    return False


def parse_form(request: HttpRequest) -> HttpResponse | None:
    """Parse a POST body now, answering ``invalid_request`` JSON for one Django cannot parse
    (None when it parsed). Whoever reads ``request.POST`` first must call this: after a
    failed parse Django leaves an empty form, and the error would be lost."""
    if request.method != "POST":
        return None
    try:
        request.POST  # noqa: B018
    except (RequestDataTooBig, TooManyFieldsSent):
        return error_response(InvalidRequest(description="Request body too large."))
    except (BadRequest, MultiPartParserError):
        # A form body in another charset than UTF-8, or a broken multipart body.
        return error_response(InvalidRequest(description="Request body cannot be parsed."))
    return None
