"""The first two middleware of every request, service endpoints included (they come before
apps.endpoints.middleware.ServiceEndpointMiddleware, which ends the chain for those)."""

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.ops import metrics
from apps.ops.request_id import REQUEST_ID_HEADER, request_id_from, set_request_id

REQUEST_ID_META = "HTTP_" + REQUEST_ID_HEADER.upper().replace("-", "_")


class RequestIdMiddleware:
    """Gives the request its id (the caller's X-Request-ID if usable, else a new one) for log
    records and audit events, and echoes it in the response's X-Request-ID.

    The id stays set until the response is closed (apps/ops/receivers.py), so Django's own
    "Bad Request" / "Internal Server Error" records, written after the middleware chain
    returns, carry it too."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        # From META: request.headers would copy every header into a new mapping on first use.
        request_id = request_id_from(request.META.get(REQUEST_ID_META))
        set_request_id(request_id)
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        return response


UNMATCHED = "unmatched"


class RequestMetricsMiddleware:
    """Times every request into ``idp_request_duration_seconds``, labelled by URL name (the
    raw path would give one series per admin object or scanner's guess)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    @staticmethod
    def endpoint(request: HttpRequest) -> str:
        match = request.resolver_match  # set by Django's handler, or by ServiceEndpointMiddleware
        return match.view_name if match is not None else UNMATCHED

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        metrics.request_served(endpoint=self.endpoint(request), seconds=time.perf_counter() - started)
        return response
