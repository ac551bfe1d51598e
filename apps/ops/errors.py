"""The project's answer to an unhandled exception (``handler500`` in idp/urls.py).

A database that is down or restarting is an outage, not a bug: every endpoint then answers
503 with ``Retry-After`` and, for clients that speak OAuth, RFC 6749's JSON error
``temporarily_unavailable``, so callers retry instead of giving up, and load balancers see
an unavailable instance. Django closes the broken connection at the end of the request
(``close_old_connections``), so the next request reconnects by itself once the database is
back. Anything else stays a 500.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.views.defaults import server_error as django_server_error

from apps.protocol.errors import TemporarilyUnavailable, error_response

RETRY_AFTER_SECONDS = 2


def server_error(request: HttpRequest) -> HttpResponse:
    error = sys.exc_info()[1]  # Django calls this handler while handling the exception
    if isinstance(error, OperationalError | InterfaceError):
        unavailable = TemporarilyUnavailable(description="The service is unavailable; retry shortly.", status_code=503)
        response = error_response(unavailable)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        return response
    return django_server_error(request)
