"""RFC 6750, once: reading a Bearer token from a request, its three errors, their
``WWW-Authenticate`` challenge and JSON body, and the DRF authentication and exception handler
built on them.

The core is framework-neutral (a Django ``HttpRequest`` in, a token or a :class:`BearerError`
out; an error gives its status, headers and body), so a plain Django view uses it as DRF does.
What a token means is not decided here: a *verifier* (``verify(token) -> principal``, raising
:class:`InvalidToken`) is plugged in, e.g. the RFC 9068 check against a remote JWKS
(:mod:`apps.resource_server.authentication`) or an in-process check of the service's own.

This module is part of the toolkit services import: it knows nothing of the IdP.
"""

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping
from typing import Any, ClassVar, Protocol, Self, TypeVar

from django.http import HttpRequest, QueryDict, RawPostDataException
from rest_framework import authentication, exceptions
from rest_framework.request import Request
from rest_framework.views import exception_handler as drf_exception_handler

# RFC 6750 section 2.1: credentials = "Bearer" 1*SP b64token
B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
ACCESS_TOKEN_PARAMETER = "access_token"  # RFC 6750 sections 2.2 and 2.3
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"

Principal_co = TypeVar("Principal_co", covariant=True)


class Verifier(Protocol[Principal_co]):
    """What a presented token stands for: a principal (``request.user``), or
    :class:`InvalidToken` when the token is not one this resource accepts."""

    def __call__(self, token: str, /) -> Principal_co: ...


class BearerError(exceptions.APIException):
    """An RFC 6750 section 3 answer: its status, its ``WWW-Authenticate`` challenge (section
    3) and its JSON body (section 3.1). A subclass per error code.

    ``realm`` is the protected resource's, set by whoever protects it (a verifier does not
    know it). It is an ``APIException`` so that DRF's own exception handler already answers
    with the status and the challenge (``auth_header``); :func:`exception_handler` adds the
    RFC 6750 body. Under DRF's handler the body is ``{"detail": <the error code>}``."""

    error: ClassVar[str | None] = None
    status_code = 401

    def __init__(self, description: str = "", *, scope: Iterable[str] = (), realm: str | None = None) -> None:
        super().__init__(self.error or "")
        self.description = description
        self.scope = " ".join(sorted(set(scope)))
        self.realm = realm
        # The whole WWW-Authenticate value when it lists more than this error's Bearer
        # challenge (a resource that also accepts DPoP, RFC 9449 section 7.2).
        self.challenges: list[str] | None = None

    def in_realm(self, realm: str | None) -> Self:
        """This error as answered for ``realm`` (unless it already names one)."""
        if self.realm is None:
            self.realm = realm
        return self

    def challenge(self) -> str:
        """``Bearer realm="...", error="...", error_description="...", scope="..."``, with
        only the parameters that have a value: no ``error`` when none applies (section 3.1)."""
        quoted = [f"{name}={_quoted(value)}" for name, value in self.parameters().items() if value]
        return "Bearer " + ", ".join(quoted) if quoted else "Bearer"

    def parameters(self) -> dict[str, str | None]:
        """The challenge's auth-params in order; a subclass adds its own (RFC 6750 section 3
        lets extensions define more)."""
        return {"realm": self.realm, "error": self.error, "error_description": self.description, "scope": self.scope}

    def answered_with(self, *challenges: str) -> Self:
        """This error, answered with these challenges (in this order) instead of its own."""
        self.challenges = list(challenges)
        return self

    def www_authenticate(self) -> str:
        return ", ".join(self.challenges) if self.challenges else self.challenge()

    @property
    def auth_header(self) -> str:
        # Read by DRF's exception handler for the WWW-Authenticate header. DRF assigns this
        # attribute only on AuthenticationFailed / NotAuthenticated, which these are not, so
        # its generic challenge never replaces this one.
        return self.www_authenticate()

    def headers(self) -> dict[str, str]:
        return {"WWW-Authenticate": self.www_authenticate()}

    def body(self) -> dict[str, str]:
        """RFC 6750 section 3.1's parameters as JSON, as RFC 6749 section 5.2 renders them
        (nothing without an error code)."""
        return {"error": self.error, "error_description": self.description} if self.error else {}


class TokenRequired(BearerError):
    """No Bearer credentials at all (none, or another scheme): 401 with a challenge that
    carries no error code (RFC 6750 section 3.1)."""

    error = None
    status_code = 401


class InvalidBearerRequest(BearerError):
    """``invalid_request`` (RFC 6750 section 3.1): a malformed ``Authorization`` header, more
    than one token, or a token sent another way than the header. Named apart from RFC 6749's
    ``invalid_request`` of the token endpoint, which is another error of another endpoint."""

    error = "invalid_request"
    status_code = 400


class InvalidToken(BearerError):
    """``invalid_token`` (RFC 6750 section 3.1): expired, revoked, malformed, or not for this
    resource. What a verifier raises."""

    error = "invalid_token"
    status_code = 401


class InsufficientScope(BearerError):
    """``insufficient_scope`` (RFC 6750 section 3.1), with the ``scope`` the request needs
    (none when nothing could be enough: the method is open to no scope)."""

    error = "insufficient_scope"
    status_code = 403

    def __init__(self, scope: Iterable[str], description: str = "", *, realm: str | None = None) -> None:
        needed = sorted(set(scope))
        if not description:
            if not needed:
                description = "No scope gives access to this method."
            elif len(needed) == 1:
                description = f"This request needs the {needed[0]} scope."
            else:
                description = f"This request needs the scopes {' '.join(needed)}."
        super().__init__(description, scope=needed, realm=realm)


class InsufficientUserAuthentication(BearerError):
    """``insufficient_user_authentication`` (RFC 9470 section 3): the token is valid, but the
    sign-in behind it is too weak (``acr``) or too old (``auth_time``) for this request. The
    challenge says what would do: ``acr_values``, the acceptable authentication context
    classes in order of preference, and/or ``max_age``, the seconds allowed since the user
    last actively authenticated. The client sends the user back to the authorization server
    with these values, then retries with the new token.

    Also what :class:`~apps.resource_server.exchange.TokenClient` raises when the IdP refuses
    a token exchange for the same reason, and what :meth:`from_challenge` reads from a
    downstream service's answer: a service in the middle lets it through (or raises it again)
    and its caller gets the same challenge."""

    error = "insufficient_user_authentication"
    status_code = 401

    def __init__(
        self, description: str = "", *, acr_values: Iterable[str] = (), max_age: int | None = None,
        realm: str | None = None,
    ) -> None:  # fmt: skip
        # Kept in the given order (of preference, section 3), each once.
        self.acr_values = " ".join(dict.fromkeys(acr_values))
        self.max_age = max_age
        if not description:
            description = (
                "A different authentication level is required." if self.acr_values
                else "More recent authentication is required."
            )  # fmt: skip
        super().__init__(description, realm=realm)

    def parameters(self) -> dict[str, str | None]:
        # max_age 0 is a value (authenticate again now): only None leaves it out.
        max_age = None if self.max_age is None else str(self.max_age)
        return {**super().parameters(), "acr_values": self.acr_values, "max_age": max_age}

    def body(self) -> dict[str, str]:
        """The RFC 6750 body with the challenge's ``acr_values`` and ``max_age`` too, as the
        IdP's token endpoint answers the same error."""
        parameters = self.parameters()
        extra = {name: value for name in ("acr_values", "max_age") if (value := parameters[name])}
        return {**super().body(), **extra}

    @classmethod
    def from_challenge(cls, www_authenticate: str | None) -> Self | None:
        """The error a downstream resource server's ``WWW-Authenticate`` header states, or
        None when it carries no Bearer ``insufficient_user_authentication`` challenge. Its
        ``realm`` is not kept: the service that relays the error answers in its own."""
        params = bearer_challenge(www_authenticate)
        return cls.from_parameters(params) if params is not None and params.get("error") == cls.error else None

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> Self:
        """The error from its named values: a challenge's auth-params, or the JSON body of the
        IdP's token endpoint refusing a token for this reason (where ``max_age`` may be a
        number). A ``max_age`` that is no count of seconds (up to ten digits, as the IdP
        accepts) is left out: a hostile service's 5,000 digits would make ``int()`` raise."""
        max_age = str(params.get("max_age", ""))
        return cls(
            str(params.get("error_description") or ""),
            acr_values=str(params.get("acr_values") or "").split(),
            max_age=int(max_age) if re.fullmatch(r"[0-9]{1,10}", max_age) else None,
        )


def _quoted(value: str) -> str:
    """``value`` as an RFC 9110 section 5.6.4 quoted-string: a backslash before ``"`` and
    ``\\``. A header cannot carry control characters (a newline would split it) and RFC 6750
    allows only printable ASCII in these values: anything else becomes ``?``."""
    printable = "".join(c if " " <= c <= "~" else "?" for c in value)
    return '"' + printable.replace("\\", "\\\\").replace('"', '\\"') + '"'


# --- reading the credential (RFC 6750 section 2) -------------------------------------------------


def token_from_header(authorization: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (scheme case-insensitive, RFC 9110
    section 11.1); None when the request presents no Bearer credentials (no header, another
    scheme, or the scheme alone). More than one token, or one that is not a b64token, is
    :class:`InvalidBearerRequest`."""
    parts = (authorization or "").split()
    if not parts or parts[0].lower() != "bearer" or len(parts) == 1:
        return None
    if len(parts) > 2 or not B64TOKEN.fullmatch(parts[1]):
        raise InvalidBearerRequest("The Authorization header must be 'Bearer <token>'.")
    return parts[1]


def bearer_token(request: HttpRequest | Request) -> str | None:
    """The request's Bearer token, or None when it presents none. Only the header method
    (section 2.1) is accepted: a token in the query string (section 2.3, it ends up in logs
    and browser history) or in a form body (section 2.2) is :class:`InvalidBearerRequest`,
    whether or not the header carries one too."""
    if ACCESS_TOKEN_PARAMETER in request.GET or ACCESS_TOKEN_PARAMETER in _form_fields(request):
        raise InvalidBearerRequest("Send the access token in the Authorization header, not in the URL or body.")
    return token_from_header(request.META.get("HTTP_AUTHORIZATION"))


def _form_fields(request: HttpRequest | Request) -> QueryDict:
    # Section 2.2 applies to application/x-www-form-urlencoded bodies only. Django caches the
    # body it reads here, so the view's parser (DRF's too) still finds it.
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip().lower()
    if content_type != FORM_CONTENT_TYPE:
        return QueryDict()
    try:
        return QueryDict(request.body)
    except RawPostDataException:
        # The body was read as a stream before authentication (a view that parsed it first):
        # then what was parsed is the form.
        return request.POST


def verified(request: HttpRequest, verify: Verifier[Principal_co], *, realm: str | None) -> Principal_co:
    """For a plain Django view: the principal of the request's Bearer token, or a
    :class:`BearerError` in ``realm`` (:class:`TokenRequired` when none was presented).
    Answer it with ``error.status_code``, ``error.headers()`` and ``error.body()``."""
    try:
        token = bearer_token(request)
        if token is None:
            raise TokenRequired()
        return verify(token)
    except BearerError as error:
        error.in_realm(realm)
        raise


# --- reading another resource server's challenge (RFC 9110 section 11.6.1) -----------------------

_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_QUOTED_STRING = r'"(?:[^"\\]|\\.)*"'
_SCHEME = re.compile(rf"[\s,]*({_TOKEN})(?=[\s,]|$)")
_AUTH_PARAM = re.compile(rf"[\s,]*({_TOKEN})[ \t]*=[ \t]*({_TOKEN}|{_QUOTED_STRING})[ \t]*(?=,|$)")
_TOKEN68 = re.compile(r"[ \t]+[A-Za-z0-9\-._~+/]+=*[ \t]*(?=,|$)")


def bearer_challenge(www_authenticate: str | None) -> dict[str, str] | None:
    """The auth-params of the ``Bearer`` challenge in a ``WWW-Authenticate`` header value
    (names lower-cased, quoted values unquoted), or None when it has none or cannot be read.
    The header may list other schemes' challenges before or after it."""
    header, position = (www_authenticate or "").rstrip(" \t,"), 0
    while position < len(header):
        scheme = _SCHEME.match(header, position)
        if scheme is None:
            return None
        position, params = scheme.end(), {}
        token68 = _TOKEN68.match(header, position)
        if token68 is not None:
            position = token68.end()
        while (param := _AUTH_PARAM.match(header, position)) is not None:
            name, value = param.group(1).lower(), param.group(2)
            if name in params:
                return None  # RFC 9110: each parameter once per challenge
            params[name] = re.sub(r"\\(.)", r"\1", value[1:-1]) if value.startswith('"') else value
            position = param.end()
        if position < len(header) and _SCHEME.match(header, position) is None:
            return None  # neither a parameter nor the next challenge: not a header we can read
        if scheme.group(1).lower() == "bearer":
            return params
    return None


# --- Django REST framework ------------------------------------------------------------------------


class BearerAuthentication(authentication.BaseAuthentication, ABC):
    """DRF authentication by ``Authorization: Bearer <token>``; a subclass plugs in its
    verifier by defining :meth:`verify` and names its ``realm``. No credentials: None, so
    DRF answers 401 with :meth:`authenticate_header` (or lets the view allow anonymous
    callers). Errors are :class:`BearerError` in this realm."""

    realm: ClassVar[str | None] = None

    @abstractmethod
    def verify(self, token: str) -> Any:
        """The verifier: the principal ``token`` stands for, or :class:`InvalidToken`."""

    def auth_for(self, principal: Any, token: str) -> Any:
        """``request.auth``: the token itself unless a subclass has something better (claims)."""
        return token

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        try:
            token = bearer_token(request)
            if token is None:
                return None
            principal = self.verify(token)
        except BearerError as error:
            error.in_realm(self.realm)
            raise
        return principal, self.auth_for(principal, token)

    def authenticate_header(self, request: Request) -> str:
        return TokenRequired(realm=self.realm).challenge()


def realm_of(request: Request) -> str | None:
    """The realm of the Bearer authentication that admitted ``request``, for errors raised
    after it (a permission's :class:`InsufficientScope`)."""
    return getattr(request.successful_authenticator, "realm", None)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Any:
    """DRF's handler, with the RFC 6750 JSON body ``{"error", "error_description"}`` for a
    :class:`BearerError` (its challenge DRF's handler already sets). Use it in
    ``REST_FRAMEWORK["EXCEPTION_HANDLER"]`` or a view's ``get_exception_handler``.

    An error raised in the view without a realm (one relayed from a downstream service or
    the IdP) is answered in the realm of the authentication that admitted the request."""
    if isinstance(exc, BearerError) and context.get("request") is not None:
        exc.in_realm(realm_of(context["request"]))
    response = drf_exception_handler(exc, context)
    if isinstance(exc, BearerError) and response is not None:
        response.data = exc.body()
    return response
