"""Rate limits on the token, introspection and revocation endpoints and on sign-in.

- **Per client** (``client``): requests a client made that succeeded (2xx) count against its
  own budget. Only successes count, so nobody can spend a client's budget by sending its
  client_id with a wrong secret: that is a failure, and failures count against the sender.
  A public client proves nothing but its client_id (the ``none`` method): anyone can push an
  authorization request for it (RFC 9126), and any one of its users can redeem and refresh
  their own tokens in a loop; so its requests count against its budget *at the caller's
  address* (same numbers, counted as ``public_client``), never against one budget all its
  users share. Each address then gets the client's budget, and its failures still count
  against the address.
- **Per address, failures** (``address_failures``): 4xx answers (bad credentials, bad grants,
  garbage) count against the caller's address, so one noisy or hostile caller is slowed down
  without touching the clients that behave.
- **Per address, sign-in** (``login``): every sign-in POST counts against the address, on top
  of the lockout of a (username, address) pair (django-axes).
- **Per username, failed sign-ins** (``login_username``): from any address. It slows a guesser
  spread over many addresses for the rest of the window. A browser the user has signed in
  with before (it carries a signed "known device" cookie for that username, OWASP's device
  cookies) is neither slowed nor counted, so a guessing campaign never keeps the user out of
  their own browser.

Both sign-in limits hold on /accounts/login/, the one sign-in page (/admin/login/ sends
operators there).

- **Account mail** (``account_mail``): password-reset requests and registrations, each of
  which may send a mail, per address and per email address named, so neither one caller nor many can flood
  an inbox (or the mail server's reputation).

Over a limit the answer is 429 with ``Retry-After``: JSON ``temporarily_unavailable`` (RFC 6749
section 4.1.2.1) on the OAuth endpoints, a page on sign-in. Limits and windows are
``IDP["RATE_LIMITS"]``; ``IDP["RATE_LIMITING"]`` turns them off.
"""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, TooManyFieldsSent
from django.core.signing import BadSignature
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from apps.accounts import second_step
from apps.accounts.languages import authorization_request_language
from apps.clients.authentication import claimed_method
from apps.endpoints.middleware import service_path
from apps.oauth.models import GrantType
from apps.protocol.errors import TemporarilyUnavailable, error_response
from apps.protocol.forms import parse_form
from apps.ratelimit.limits import Limit, Limiter, now
from apps.resource_server.jose import unverified_claims
from idp.conf import idp_settings
from idp.http import client_address

OAUTH_ENDPOINTS = (
    "oauth2_provider:token",
    "oauth2_provider:introspect",
    "oauth2_provider:revoke-token",
    "oauth2_provider:pushed-authorization-request",
)
# Pages whose POST may send a mail.
ACCOUNT_MAIL_PAGES = ("accounts:password-reset", "accounts:register")

# Set on a successful sign-in: this browser knows that username's password (signed, so it
# cannot be made up; it holds a hash of the username, not the name).
KNOWN_DEVICE_COOKIE = "idp_known_device"
KNOWN_DEVICE_SALT = "apps.ratelimit.known_device"
KNOWN_DEVICE_SECONDS = 180 * 24 * 3600


SIGN_IN_HEADLINE = _("Too many sign-in attempts")
MAIL_HEADLINE = _("Too many requests for mail")


def too_many_requests(
    retry_after: int, *, json: bool, request: HttpRequest | None = None, headline: str | Promise = SIGN_IN_HEADLINE
) -> HttpResponse:
    if json:
        error = TemporarilyUnavailable(description=f"Too many requests: try again in {retry_after} s.", status_code=429)
        response: HttpResponse = error_response(error)
    else:
        context = {"retry_after": retry_after, "headline": headline}
        # This middleware answers before LocaleMiddleware has chosen the language: the page
        # chooses it as the sign-in page would (the form posts to the page's URL, ``next``
        # and its ui_locales included).
        language = None
        if request is not None:
            next_url = request.GET.get("next", "")
            language = authorization_request_language(next_url) or translation.get_language_from_request(request)
        with translation.override(language):
            page = render_to_string("accounts/slow_down.html", context, request=request)
        response = HttpResponse(page, status=429)
        response["Content-Language"] = language or settings.LANGUAGE_CODE
        patch_vary_headers(response, ("Accept-Language",))
    response["Retry-After"] = str(retry_after)
    return response


def _key(username: str) -> str | None:
    """A username as a fixed-size counter and cookie key, as people type it (any case)."""
    username = username.strip().lower()
    return hashlib.sha256(username.encode()).hexdigest()[:32] if username else None


def _username_key(request: HttpRequest) -> str | None:
    """The key of the username a sign-in POST names (None when there is none or the body
    cannot be read: the sign-in view answers that itself)."""
    try:
        username = request.POST.get("username", "")
    except (RequestDataTooBig, TooManyFieldsSent, BadRequest, MultiPartParserError):
        return None
    return _key(username)


def _known_device(request: HttpRequest, username: str) -> bool:
    try:
        value = request.get_signed_cookie(KNOWN_DEVICE_COOKIE, salt=KNOWN_DEVICE_SALT, max_age=KNOWN_DEVICE_SECONDS)
    except (KeyError, BadSignature):
        return False
    return value == username


def _remember_device(response: HttpResponse, username: str) -> None:
    response.set_signed_cookie(
        KNOWN_DEVICE_COOKIE,
        username,
        salt=KNOWN_DEVICE_SALT,
        max_age=KNOWN_DEVICE_SECONDS,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def _failed_sign_in(response: HttpResponse) -> bool:
    # A failed sign-in shows the form again (200) or the lockout page (429); success redirects.
    return response.status_code in (200, 429)


def _signed_in_as(request: HttpRequest, response: HttpResponse, username: str) -> bool:
    """Whether this POST ended signed in as the user it named, or with that user's password
    accepted and their second factor asked next: either way this browser knows the password.
    (A browser already signed in is redirected whatever it posts: the name in the form must
    be its own user's.)"""
    if response.status_code != 302:
        return False
    user = getattr(request, "user", None)  # set by login() during the view
    if user is None or not user.is_authenticated:
        waiting = second_step.pending(request)
        user = waiting.user if waiting is not None else None
    return user is not None and _key(user.get_username()) == username


@dataclass(frozen=True)
class ClientBudget:
    limiter: Limiter
    key: str


def _asserted_budget_key(request: HttpRequest) -> str | None:
    """The budget an RFC 7523 JWT bearer request spends, by what its assertion claims: a
    client's own assertion (``iss`` = ``sub``, its client_id) spends that client's budget,
    shared with its other grants; a trusted issuer's spends one of that issuer's subject (a
    workload), so that one token held cannot mint tokens without end. Unverified, but only
    successes are charged: naming someone else's identity spends nothing of theirs."""
    if request.POST.get("grant_type") != GrantType.JWT_BEARER or "requested_token_use" in request.POST:
        return None
    claims = unverified_claims(request.POST.get("assertion") or "") or {}
    iss, sub = claims.get("iss"), claims.get("sub")
    if not isinstance(iss, str) or not isinstance(sub, str) or not iss or not sub or " " in iss:
        return None
    return iss[:255] if iss == sub else f"{iss[:255]} {sub[:255]}"


class RateLimitMiddleware:
    """Before ServiceEndpointMiddleware, which answers the OAuth endpoints itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self._paths: tuple[frozenset[str], frozenset[str], frozenset[str]] | None = None
        self._limiters: dict[str, Limiter] = {}

    def limiter(self, name: str, *, counted_as: str | None = None) -> Limiter:
        """The limiter of ``IDP["RATE_LIMITS"][name]``; with ``counted_as``, the same numbers
        counted under that name instead (counters of their own)."""
        requests, seconds = idp_settings.RATE_LIMITS[name]
        limit = Limit(counted_as or name, requests, seconds)
        limiter = self._limiters.get(limit.name)
        if limiter is None or limiter.limit != limit:
            limiter = self._limiters[limit.name] = Limiter(limit)
        return limiter

    def client_budget(self, request: HttpRequest, address: str) -> ClientBudget | None:
        """The budget a request's successes count against: the client's own for a client that
        proves itself (a secret or a signed assertion); the client's at ``address`` for a
        public one, which only names itself (RFC 8414 ``none``), so that no caller can spend
        it for everyone else. None when the request names no client."""
        authorization = request.META.get("HTTP_AUTHORIZATION") or ""
        method = claimed_method(request)
        if method is None or method.PUBLIC:
            # RFC 7523: the assertion is the credential, and needs no client authentication.
            if (asserted := _asserted_budget_key(request)) is not None:
                return ClientBudget(self.limiter("client"), asserted)
        client_id = (method.client_id(authorization, request.POST) or "") if method is not None else ""
        if method is None or not client_id:
            return None
        if method.PUBLIC:
            # An address has no space in it: the key cannot be read as another pair.
            return ClientBudget(self.limiter("client", counted_as="public_client"), f"{address} {client_id}")
        return ClientBudget(self.limiter("client"), client_id)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not idp_settings.RATE_LIMITING:
            return self.get_response(request)
        if self._paths is None:  # on the first request: the URLconf is loaded by then
            self._paths = (
                frozenset(service_path(name) for name in OAUTH_ENDPOINTS),
                frozenset({service_path("accounts:login")}),
                frozenset(service_path(name) for name in ACCOUNT_MAIL_PAGES),
            )
        oauth_paths, login_paths, mail_paths = self._paths
        if request.path_info in oauth_paths:
            return self.oauth_endpoint(request)
        if request.path_info in login_paths and request.method == "POST":
            return self.sign_in(request)
        if request.path_info in mail_paths and request.method == "POST":
            return self.account_mail(request)
        return self.get_response(request)

    def account_mail(self, request: HttpRequest) -> HttpResponse:
        at, address, limiter = now(), client_address(request), self.limiter("account_mail")
        try:
            email = _key(request.POST.get("email", ""))
        except (RequestDataTooBig, TooManyFieldsSent, BadRequest, MultiPartParserError):
            email = None  # the view answers an unreadable form itself
        wait = limiter.retry_after(address, at) or (email is not None and limiter.retry_after("mail:" + email, at))
        if wait:
            return too_many_requests(wait, json=False, request=request, headline=MAIL_HEADLINE)
        limiter.charge(address, at)
        if email is not None:
            limiter.charge("mail:" + email, at)
        return self.get_response(request)

    def oauth_endpoint(self, request: HttpRequest) -> HttpResponse:
        at, address = now(), client_address(request)
        failures = self.limiter("address_failures")
        if wait := failures.retry_after(address, at):
            return too_many_requests(wait, json=True)
        # The client is named in the body: parse it as the endpoint would (same answer).
        response = parse_form(request)
        budget = self.client_budget(request, address) if response is None else None
        if budget is not None and (wait := budget.limiter.retry_after(budget.key, at)):
            return too_many_requests(wait, json=True)
        if response is None:
            response = self.get_response(request)
        if 200 <= response.status_code < 300:
            if budget is not None:
                budget.limiter.charge(budget.key, at)
        elif 400 <= response.status_code < 500:
            failures.charge(address, at)
        return response

    def sign_in(self, request: HttpRequest) -> HttpResponse:
        at, address, username = now(), client_address(request), _username_key(request)
        addresses, usernames = self.limiter("login"), self.limiter("login_username")
        # The user's own browser is exempt from the per-username limit (the pair lockout and
        # the per-address limit still hold for it).
        limited_username = username if username is not None and not _known_device(request, username) else None
        wait = addresses.retry_after(address, at) or (
            limited_username is not None and usernames.retry_after(limited_username, at)
        )
        if wait:
            return too_many_requests(wait, json=False, request=request)
        addresses.charge(address, at)
        response = self.get_response(request)
        if limited_username is not None and _failed_sign_in(response):
            usernames.charge(limited_username, at)
        if username is not None and _signed_in_as(request, response, username):
            _remember_device(response, username)
        return response
