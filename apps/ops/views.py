"""The operations endpoints. Each is a service endpoint (IDP["SERVICE_ENDPOINTS"]): no
session, CSRF or login middleware, and exempt from the HTTPS redirect (docs/operations.md)."""

import hmac

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from apps.ops import health, metrics
from apps.resource_server.bearer import BearerError, InvalidToken, verified
from idp.conf import idp_settings

METRICS_REALM = "metrics"


def _no_store(response: HttpResponse) -> HttpResponse:
    # A cached "ok" from a proxy would hide an outage; metrics are stale by nature.
    response["Cache-Control"] = "no-store"
    return response


@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness: the process answers. Touches nothing else, so a database outage does not
    get every worker restarted."""
    return _no_store(JsonResponse({"status": "ok"}))


@require_GET
def readyz(request: HttpRequest) -> HttpResponse:
    """Readiness: this process can issue tokens (database reachable, signing keys there)."""
    checks = health.readiness()
    ready = all(result == health.OK for result in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    return _no_store(JsonResponse(body, status=200 if ready else 503))


def metrics_token(token: str) -> None:
    """The in-process verifier of /metrics: the bearer token equals METRICS_TOKEN, compared in
    constant time; with no METRICS_TOKEN set, no token is right."""
    expected = idp_settings.METRICS_TOKEN
    if not expected or not hmac.compare_digest(token.encode(), expected.encode()):
        raise InvalidToken("Not the metrics token.")


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition. Off unless METRICS_ENABLED: then it is a URL like any
    that does not exist."""
    if not idp_settings.METRICS_ENABLED:
        raise Http404
    # Open only when the operator said so and set no token (a set token always wins).
    if idp_settings.METRICS_TOKEN or not idp_settings.METRICS_ALLOW_UNAUTHENTICATED:
        try:
            verified(request, metrics_token, realm=METRICS_REALM)
        except BearerError as error:
            # The challenge names the error; the body stays empty: a scraper reads the status.
            return _no_store(HttpResponse(status=error.status_code, headers=error.headers()))
    return _no_store(HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST))
