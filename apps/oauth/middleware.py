"""Service-to-service endpoints skip the middleware that only browsers need."""

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.urls import resolve, reverse

from idp.conf import idp_settings


class ServiceEndpointMiddleware:
    """Calls the views of ``IDP["SERVICE_ENDPOINTS"]`` (the token, introspection and
    revocation endpoints and the JWKS) straight away, by exact path.

    Placed right after Django's SecurityMiddleware, so those responses keep HSTS, nosniff
    and the HTTPS redirect, while sessions, CSRF (these views are csrf_exempt: clients
    authenticate themselves), user authentication, messages and the login lockout, which
    mean nothing to a service calling with its client credentials, cost them nothing.
    Any other path, including these ones without their trailing slash, goes on as usual.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._views: dict[str, Callable[..., HttpResponse]] | None = None

    def views(self) -> dict[str, Callable[..., HttpResponse]]:
        if self._views is None:  # on the first request: the URLconf is loaded by then
            paths = [reverse(name) for name in idp_settings.SERVICE_ENDPOINTS]
            self._views = {path: resolve(path).func for path in paths}
        return self._views

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self.views().get(request.path_info)
        if view is None:
            return self.get_response(request)
        return view(request)
