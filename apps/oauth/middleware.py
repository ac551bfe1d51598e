"""Service-to-service endpoints skip the middleware that only browsers need."""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, Resolver404, get_script_prefix, resolve, reverse

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
            views = {}
            for name in idp_settings.SERVICE_ENDPOINTS:
                # reverse() includes the script prefix (an IdP mounted under /idp/);
                # request.path_info, which this compares with, does not.
                try:
                    path = "/" + reverse(name).removeprefix(get_script_prefix())
                    views[path] = resolve(path).func
                except (NoReverseMatch, Resolver404) as exc:
                    raise ImproperlyConfigured(f'IDP["SERVICE_ENDPOINTS"]: {name!r} is not a URL: {exc}') from exc
            self._views = views
        return self._views

    def __call__(self, request: HttpRequest) -> HttpResponse:
        view = self.views().get(request.path_info)
        if view is None:
            return self.get_response(request)
        return view(request)
