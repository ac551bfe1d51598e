"""The operations endpoints. Each is a service endpoint (IDP["SERVICE_ENDPOINTS"]): no
session, CSRF or login middleware, and exempt from the HTTPS redirect (docs/operations.md)."""

import hmac

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from apps.ops import health, metrics
from idp.conf import idp_settings


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


def _presented_token(request: HttpRequest) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def metrics_allowed(request: HttpRequest) -> bool:
    """A bearer token equal to METRICS_TOKEN (compared in constant time), or nothing at all
    when the operator said so with METRICS_ALLOW_UNAUTHENTICATED and set no token."""
    expected = idp_settings.METRICS_TOKEN
    if not expected:
        return idp_settings.METRICS_ALLOW_UNAUTHENTICATED
    presented = _presented_token(request)
    return presented is not None and hmac.compare_digest(presented.encode(), expected.encode())


@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Prometheus text exposition. Off unless METRICS_ENABLED: then it is a URL like any
    that does not exist."""
    if not idp_settings.METRICS_ENABLED:
        raise Http404
    if not metrics_allowed(request):
        response = HttpResponse(status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return _no_store(response)
    return _no_store(HttpResponse(metrics.exposition(), content_type=CONTENT_TYPE_LATEST))
