"""Service-to-service endpoints skip the middleware that only browsers need."""

from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, Resolver404, ResolverMatch, get_script_prefix, resolve, reverse

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
        self._matches: dict[str, ResolverMatch] | None = None

    def matches(self) -> dict[str, ResolverMatch]:
        if self._matches is None:  # on the first request: the URLconf is loaded by then
            matches = {}
            for name in idp_settings.SERVICE_ENDPOINTS:
                try:
                    path = service_path(name)
                    matches[path] = resolve(path)
                except (NoReverseMatch, Resolver404) as exc:
                    raise ImproperlyConfigured(f'IDP["SERVICE_ENDPOINTS"]: {name!r} is not a URL: {exc}') from exc
            self._matches = matches
        return self._matches

    def __call__(self, request: HttpRequest) -> HttpResponse:
        match = self.matches().get(request.path_info)
        if match is None:
            return self.get_response(request)
        request.resolver_match = match  # as Django's handler sets it (the metrics label by it)
        return match.func(request, *match.args, **match.kwargs)


def service_path(name: str) -> str:
    """The path of URL ``name`` as ``request.path_info`` has it: reverse() includes the
    script prefix (an IdP mounted under /idp/), path_info does not."""
    return "/" + reverse(name).removeprefix(get_script_prefix())
