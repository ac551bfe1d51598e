"""Transaction Tokens (draft-ietf-oauth-transaction-tokens) at a service: the Txn-Token a
workload receives in the ``Txn-Token`` header, checked against the IdP's JWKS, held for the
request, required by a DRF permission, and passed on unmodified to the next workload.

A Txn-Token carries the context of one transaction (its ``txn`` id, the ``sub`` it is done
for, the ``scope`` of what it is for, the immutable ``tctx`` and the request's ``rctx``)
through a call chain inside one trust domain. It is neither an access token (section "Transaction
Tokens Are Not OAuth 2.0 Access Tokens": told apart by ``typ``, ``txntoken+jwt`` against
``at+jwt``, though the IdP signs both with the same keys) nor a credential (section
"Transaction Tokens Are Not Authentication Credentials"): a refusal here is a plain 403
``invalid_txn_token`` with no ``WWW-Authenticate`` challenge.

- :func:`validate_transaction_token`: the checks of section "Txn-Token Validation" and of
  section "Txn-Token Format" (header, required claims), raising :class:`InvalidTransactionToken`;
- :class:`TransactionTokenMiddleware`: a request with a ``Txn-Token`` header gets it checked
  before any view runs; a bad one is answered 403 at once (a service never acts on a
  context it cannot trust), a good one is :func:`current_transaction_token` for the
  request's duration, and only for it;
- :class:`HasTransactionToken`: the DRF permission requiring one, with the scopes the view
  lists in ``required_transaction_scopes`` and the same subject as the access token's;
- :func:`transaction_headers`: the header of an outbound call, carrying the token exactly as
  it was received (section "Txn-Token Validation": outbound calls MUST include it unmodified).

Settings, in the service's Django settings (the keys the access-token authentication reads,
:mod:`apps.resource_server.authentication`, plus one)::

    MIDDLEWARE = [..., "apps.resource_server.transaction.TransactionTokenMiddleware", ...]
    RESOURCE_SERVER = {
        "ISSUER": "https://idp.example.com",   # a Txn-Token's iss, when it has one, must be this
        "JWKS_URI": "https://idp.example.com/.well-known/jwks.json",  # the same cached key set
        "TRUST_DOMAIN": "https://idp.example.com",  # its aud, exactly; default: ISSUER
        "LEEWAY_SECONDS": 30,                  # clock skew for exp / iat
    }

The raw token is never logged (section "Logging": Txn-Tokens MUST NOT be logged verbatim);
a refusal is logged with its reason and a SHA-256 fingerprint of the token, which correlates
with the IdP's records without being replayable.

This module is part of the toolkit services import: it knows nothing of the IdP.
"""

import hashlib
import logging
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, ClassVar

import jwt
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from rest_framework import exceptions, permissions

from apps.resource_server.authentication import jwks_for
from apps.resource_server.jose import unverified_header
from apps.resource_server.jwks import JwksCache
from apps.resource_server.permissions import required_scopes_for

logger = logging.getLogger(__name__)

TXN_TOKEN_TYPE = "txntoken+jwt"  # section "JWT Header": typ MUST be this
HEADER = "Txn-Token"  # section '"Txn-Token" HTTP Header'
TXN_TOKEN_URN = "urn:ietf:params:oauth:token-type:txn_token"  # section "Txn-Token Request"
TOKEN_TYPE_NOT_APPLICABLE = "N_A"  # section "Txn-Token Response": token_type (RFC 8693 2.2.1)
ALGORITHMS = {"RS256", "ES256"}  # asymmetric only: no "none", no HS* (RFC 8725 section 3.1)
# Section "JWT Body Claims": REQUIRED (iss is OPTIONAL, checked when present).
REQUIRED_CLAIMS = ["iat", "exp", "aud", "txn", "sub", "scope", "req_wl"]
STRING_CLAIMS = ("txn", "sub", "req_wl")  # identifiers: a non-empty string each
CONTEXT_CLAIMS = ("tctx", "rctx")  # JSON objects when present

INVALID_TXN_TOKEN = "invalid_txn_token"
INSUFFICIENT_SCOPE = "insufficient_scope"


# --- errors ----------------------------------------------------------------------------------------


class TransactionTokenError(exceptions.APIException):
    """A refusal on account of the Txn-Token: HTTP 403 with the JSON body ``{"error",
    "error_description"}`` (as RFC 6749 section 5.2 renders errors), and no
    ``WWW-Authenticate``: a Txn-Token is no credential, so there is nothing to challenge for.

    A DRF ``APIException`` whose ``detail`` is that body, so DRF's exception handler and the
    toolkit's (:func:`apps.resource_server.bearer.exception_handler`, which changes only
    Bearer errors) both answer it as is; outside DRF, :meth:`response`. A subclass per
    error code."""

    error: ClassVar[str]
    status_code = 403

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(self.body())

    def __str__(self) -> str:
        return self.description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}

    def response(self) -> HttpResponse:
        """The answer of a plain Django view or middleware."""
        response = JsonResponse(self.body(), status=self.status_code)
        response["Cache-Control"] = "no-store"
        return response


class InvalidTransactionToken(TransactionTokenError):
    """``invalid_txn_token``: no Txn-Token where one is required, or one that fails a check
    (signature, ``typ``, trust domain, expiry, a claim), or more than one, or one for another
    subject than the access token's."""

    error = INVALID_TXN_TOKEN


class InsufficientTransactionScope(TransactionTokenError):
    """``insufficient_scope``: a valid Txn-Token whose ``scope`` (the purpose of the
    transaction, section "Scope claim") does not cover what this request does."""

    error = INSUFFICIENT_SCOPE

    def __init__(self, required: frozenset[str]) -> None:
        if not required:
            description = "No Txn-Token scope gives access to this method."
        else:
            description = f"This request needs a Txn-Token with the scopes {' '.join(sorted(required))}."
        super().__init__(description)


# --- validation -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransactionToken:
    """A Txn-Token that passed :func:`validate_transaction_token`. ``raw`` is the token as
    received (what :func:`transaction_headers` passes on); it and the claims, which may hold
    personal data (section "Handling of Personal Information"), are kept out of ``repr`` so
    that logging the object logs neither."""

    raw: str = field(repr=False)
    txn: str
    sub: str
    scopes: frozenset[str]
    req_wl: str
    tctx: dict[str, Any] = field(default_factory=dict, repr=False)
    rctx: dict[str, Any] = field(default_factory=dict, repr=False)
    claims: dict[str, Any] = field(default_factory=dict, repr=False)


def validate_transaction_token(
    token: str, *, trust_domain: str, issuer: str, jwks: JwksCache, leeway: float = 30
) -> TransactionToken:
    """Check one Txn-Token as section "Txn-Token Validation" asks (signature, ``aud`` is this
    workload's trust domain, not expired) and as section "Txn-Token Format" defines it
    (``typ``, the required claims and their types); raises :class:`InvalidTransactionToken`.

    The checks are the access token's (:func:`~apps.resource_server.authentication.validate_access_token`)
    for what they share: a key from the IdP's JWKS by ``kid`` and the key's own algorithm."""
    header = unverified_header(token)
    if header is None:
        raise InvalidTransactionToken("Malformed Txn-Token.")
    _check_type(header)
    key = _signing_key(header, jwks)
    claims = _verified_claims(token, key=key, trust_domain=trust_domain, leeway=leeway)
    _check_issuer(claims, issuer)
    _check_identifiers(claims)
    _check_scope(claims)
    _check_contexts(claims)
    return TransactionToken(
        raw=token,
        txn=claims["txn"],
        sub=claims["sub"],
        scopes=frozenset(claims["scope"].split()),
        req_wl=claims["req_wl"],
        tctx=claims.get("tctx", {}),
        rctx=claims.get("rctx", {}),
        claims=claims,
    )


def _check_type(header: Mapping[str, Any]) -> None:
    """Section "JWT Header": ``typ`` MUST be ``txntoken+jwt``. This is what keeps an access
    token (``at+jwt``, signed by the same keys) from passing for a Txn-Token."""
    if header.get("typ") != TXN_TOKEN_TYPE:
        raise InvalidTransactionToken(f"Not a Txn-Token (typ must be {TXN_TOKEN_TYPE}).")
    if header.get("alg") not in ALGORITHMS:
        raise InvalidTransactionToken("Txn-Token algorithm not accepted.")


def _signing_key(header: Mapping[str, Any], jwks: JwksCache) -> jwt.PyJWK:
    # The key by kid from the IdP's published set: jku, x5u and an embedded jwk are ignored.
    key = jwks.key_for(header.get("kid"))
    if key is None:
        raise InvalidTransactionToken("Unknown Txn-Token signing key.")
    return key


def _verified_claims(token: str, *, key: jwt.PyJWK, trust_domain: str, leeway: float) -> dict[str, Any]:
    """The signature (with the key's algorithm, not the header's), ``exp``, ``iat``, the
    required claims, and ``aud``: exactly the trust domain, one string (section "JWT Body
    Claims": a Txn-Token MUST NOT be accepted outside the trust domain its ``aud`` names)."""
    try:
        return jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm_name],
            audience=trust_domain,
            leeway=leeway,
            options={"require": REQUIRED_CLAIMS, "strict_aud": True},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidTransactionToken("Txn-Token expired.") from None
    except jwt.InvalidAudienceError:
        raise InvalidTransactionToken("The Txn-Token is for another trust domain.") from None
    except jwt.PyJWTError as error:
        raise InvalidTransactionToken(f"Txn-Token rejected: {error}") from None


def _check_issuer(claims: Mapping[str, Any], issuer: str) -> None:
    """``iss`` is OPTIONAL (section "JWT Body Claims"); when present it names our IdP."""
    if "iss" in claims and claims["iss"] != issuer:
        raise InvalidTransactionToken("The Txn-Token was issued by another issuer.")


def _check_identifiers(claims: Mapping[str, Any]) -> None:
    for name in STRING_CLAIMS:
        if not isinstance(claims[name], str) or not claims[name]:
            raise InvalidTransactionToken(f"The Txn-Token's {name} must be a non-empty string.")


def _check_scope(claims: Mapping[str, Any]) -> None:
    # RFC 8693 section 4.2: a space-separated string; a Txn-Token states at least one purpose.
    if not isinstance(claims["scope"], str) or not claims["scope"].split():
        raise InvalidTransactionToken("The Txn-Token's scope must name at least one scope.")


def _check_contexts(claims: Mapping[str, Any]) -> None:
    for name in CONTEXT_CLAIMS:
        if name in claims and not isinstance(claims[name], dict):
            raise InvalidTransactionToken(f"The Txn-Token's {name} must be a JSON object.")


# --- the request's Txn-Token ------------------------------------------------------------------------

_current: ContextVar[TransactionToken | None] = ContextVar("transaction_token", default=None)


def current_transaction_token() -> TransactionToken | None:
    """The valid Txn-Token of the request being served, or None (no header, or outside a
    request through :class:`TransactionTokenMiddleware`)."""
    return _current.get()


def transaction_headers() -> dict[str, str]:
    """The header that carries the current Txn-Token to the next workload, the token exactly
    as received (section "Txn-Token Validation": outbound calls MUST pass it unmodified);
    ``{}`` when the request has none."""
    token = _current.get()
    return {HEADER: token.raw} if token is not None else {}


def fingerprint(token: str) -> str:
    """What a log may say of a token (section "Logging": a hash, never the token)."""
    return hashlib.sha256(token.encode()).hexdigest()[:16]


class TransactionTokenMiddleware:
    """Checks the ``Txn-Token`` header of every request that has one, before the view runs.

    A bad one (or an empty header, or more than one value: the header carries exactly one
    Txn-Token, section '"Txn-Token" HTTP Header'; a server joins repeated headers with a
    comma, which a JWS never contains) is answered 403 ``invalid_txn_token`` at once. A good
    one is :func:`current_transaction_token` until the response is returned, and reset then
    whatever happens, so that it never outlives its request on a reused thread. (A streamed
    body is produced after that: a streaming view reads the token before it returns.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        raw = request.headers.get(HEADER)
        try:
            token = None if raw is None else self.validate(raw.strip())
        except InvalidTransactionToken as error:
            logger.info("Txn-Token refused (%s): %s", fingerprint(raw or ""), error.description)
            return error.response()
        # Set even without a header, so a request never sees a token that is not its own.
        reset = _current.set(token)
        try:
            return self.get_response(request)
        finally:
            _current.reset(reset)

    @staticmethod
    def validate(raw: str) -> TransactionToken:
        if not raw:
            raise InvalidTransactionToken("The Txn-Token header is empty.")
        if "," in raw:
            raise InvalidTransactionToken("The Txn-Token header must carry exactly one Txn-Token.")
        config = {"LEEWAY_SECONDS": 30, **getattr(settings, "RESOURCE_SERVER", {})}
        return validate_transaction_token(
            raw,
            trust_domain=config.get("TRUST_DOMAIN") or config["ISSUER"],
            issuer=config["ISSUER"],
            jwks=jwks_for(config["JWKS_URI"]),
            leeway=config["LEEWAY_SECONDS"],
        )


# --- DRF -----------------------------------------------------------------------------------------------


class HasTransactionToken(permissions.BasePermission):
    """The request must carry a valid Txn-Token (through :class:`TransactionTokenMiddleware`)
    whose ``scope`` has every scope the view lists for this method::

        class OrderView(APIView):
            permission_classes = [HasScopes, HasTransactionToken]
            required_scopes = ["orders.write"]                 # the access token's
            required_transaction_scopes = {"POST": ["trade.stocks"]}  # the Txn-Token's

    ``required_transaction_scopes`` reads as ``required_scopes`` does
    (:func:`apps.resource_server.permissions.required_scopes_for`): a list for every method or a
    dict per method, and a method with none listed is refused. When an access token admitted
    the request, the Txn-Token must be about the same subject: a transaction of one user
    carried on another's token is refused.

    Refusals, all 403 without a challenge: no Txn-Token, or a subject that is not the access
    token's, ``invalid_txn_token``; scopes missing, ``insufficient_scope``."""

    def has_permission(self, request, view) -> bool:
        token = current_transaction_token()
        if token is None:
            raise InvalidTransactionToken("A Txn-Token is required.")
        user = getattr(request, "user", None)
        subject = getattr(user, "sub", None) if getattr(user, "is_authenticated", False) else None
        if subject is not None and token.sub != subject:
            raise InvalidTransactionToken("The Txn-Token's subject is not the access token's.")
        required = required_scopes_for(getattr(view, "required_transaction_scopes", None), request.method)
        if not required or not required <= token.scopes:
            raise InsufficientTransactionScope(required)
        return True
