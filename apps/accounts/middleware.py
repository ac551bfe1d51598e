from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from apps.accounts.sessions import seen


class SecurityHeadersMiddleware:
    """Headers Django's SecurityMiddleware does not set: a CSP that forbids framing
    (alongside X-Frame-Options: DENY) and loading anything from elsewhere."""

    CSP = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith("/admin/"):  # the admin relies on inline styles
            response.setdefault("Content-Security-Policy", self.CSP)
        else:
            response.setdefault("Content-Security-Policy", "frame-ancestors 'none'")
        return response


class SessionActivityMiddleware:
    """Keeps each signed-in session's row (the sessions page) up to date: where it was last
    seen, at most every few minutes (apps/accounts/sessions.py). After AuthenticationMiddleware."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        seen(request)  # which looks at signed-in sessions only
        return self.get_response(request)
