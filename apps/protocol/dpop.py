"""DPoP (RFC 9449) at the IdP: the token endpoint's proof, and our server nonces.

The checks that need only the proof and the request are the toolkit's
(:func:`apps.resource_server.dpop.verify_proof`, which services use too); this module adds
what only the IdP knows: the URL it is reached at (``IDP["ISSUER"]``, never the ``Host``
header, which a proxy may rewrite), single use of each proof's ``jti`` across processes
(:mod:`apps.protocol.replay`), its nonces (section 8), and the typed OAuth errors.

Error codes: a bad proof is ``invalid_dpop_proof`` (section 5); a missing or stale nonce
``use_dpop_nonce`` with the nonce in ``DPoP-Nonce`` (section 8).
"""

import base64
import hmac
import time
from contextvars import ContextVar
from datetime import UTC, datetime

from django.http import HttpRequest
from django.utils.crypto import salted_hmac

from apps.protocol import replay
from apps.protocol.errors import InvalidDPoPProof, InvalidRequest, UseDPoPNonce
from apps.resource_server import dpop as toolkit
from apps.resource_server.bearer import InvalidToken
from apps.resource_server.dpop import ALGORITHMS, THUMBPRINT, Proof, ProofError, verify_proof
from idp.conf import idp_settings

DPOP_HEADER = "HTTP_DPOP"
NONCE_HEADER = "DPoP-Nonce"
# RFC 9449 section 5.1 and RFC 8414: the algorithms we accept in proofs.
SIGNING_ALGORITHMS: tuple[str, ...] = ALGORITHMS
DPOP_JKT_PARAMETER = "dpop_jkt"  # RFC 9449 section 10
_NONCE_SALT = "apps.protocol.dpop.nonce"
DPOP_SCHEME = "dpop"  # RFC 9449 section 7.1: Authorization: DPoP <token>

# The key whose proof came with the access token that the request being served presents to one
# of our protected resources (userinfo): set by the view once the proof verified, read by the
# oauthlib validator (which sees only the token) to check the token is bound to that key.
# None: the token came as Bearer, without a proof.
presented_key: ContextVar[str | None] = ContextVar("dpop_presented_key", default=None)


# --- server nonces (RFC 9449 section 8) ---------------------------------------------------------


def _nonce_for(window: int) -> str:
    # Stateless: a keyed digest of the time window, the same in every process that shares
    # SECRET_KEY, so no store is needed and any process accepts any process's nonce.
    digest = salted_hmac(_NONCE_SALT, str(window), algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:24]).decode("ascii")


def _window(now: float) -> int:
    return int(now) // idp_settings.DPOP_NONCE_WINDOW_SECONDS


def current_nonce(now: float | None = None) -> str:
    """The nonce clients are told to use now (valid for this window and the next)."""
    return _nonce_for(_window(time.time() if now is None else now))


def nonce_is_valid(nonce: str | None, now: float | None = None) -> bool:
    """Whether ``nonce`` is this window's or the previous one's."""
    if not nonce:
        return False
    window = _window(time.time() if now is None else now)
    return any(hmac.compare_digest(nonce, _nonce_for(w)) for w in (window, window - 1))


def nonce_headers() -> dict[str, str]:
    """The headers of a successful token response: a fresh ``DPoP-Nonce`` while nonces are
    required (section 8: the client keeps using it, sparing a round trip when it goes stale)."""
    return {NONCE_HEADER: current_nonce()} if idp_settings.DPOP_NONCES else {}


# --- the token endpoint's proof (RFC 9449 section 5) ---------------------------------------------


def endpoint_url(request: HttpRequest) -> str:
    """The URL a client reached this endpoint at, as discovery names it: the issuer's
    scheme, host and any prefix, and the request's path."""
    return idp_settings.ISSUER.rstrip("/") + request.path


def token_request_proof(request: HttpRequest) -> Proof | None:
    """The request's verified DPoP proof (RFC 9449 section 4.3), or None when it sends no
    ``DPoP`` header. Raises :class:`InvalidDPoPProof` or :class:`UseDPoPNonce`."""
    if request.META.get(DPOP_HEADER) is None:
        return None
    return _verified_proof(request, access_token=None, nonces=idp_settings.DPOP_NONCES)


def resource_request_proof(request: HttpRequest, access_token: str) -> Proof:
    """The verified proof of a request to one of our own protected resources (userinfo) that
    presents ``access_token`` with the ``DPoP`` scheme (RFC 9449 section 7.1): as at the token
    endpoint, plus ``ath``, the token's hash. Whether the token is bound to the proof's key is
    the caller's check. Raises :class:`InvalidDPoPProof` (also for a missing proof)."""
    if request.META.get(DPOP_HEADER) is None:
        raise InvalidDPoPProof(description="A DPoP-bound token needs a DPoP proof.")
    # Server nonces are the token endpoint's (section 8), not asked here (section 9 is optional).
    return _verified_proof(request, access_token=access_token, nonces=False)


def resource_challenge(error: str, description: str) -> str:
    """The ``WWW-Authenticate`` of a refusal at one of our protected resources for a request
    that used the DPoP scheme (RFC 9449 section 7.1), as the toolkit answers for services."""
    refusal = toolkit.InvalidDPoPProof(description) if error == "invalid_dpop_proof" else InvalidToken(description)
    return toolkit.dpop_challenge(refusal)


def _verified_proof(request: HttpRequest, *, access_token: str | None, nonces: bool) -> Proof:
    value = request.META.get(DPOP_HEADER) or ""
    # Check 1: exactly one header. A header sent twice reaches Django joined by a comma,
    # which no JWT contains.
    if "," in value or not value.strip():
        raise InvalidDPoPProof(description="Send exactly one DPoP header.")
    max_age = idp_settings.DPOP_PROOF_MAX_AGE_SECONDS
    try:
        proof = verify_proof(
            value.strip(),
            method=request.method or "",
            url=endpoint_url(request),
            access_token=access_token,
            max_age=max_age,
            max_future=idp_settings.DPOP_PROOF_MAX_FUTURE_SECONDS,
        )
    except ProofError as error:
        raise InvalidDPoPProof(description=str(error)) from None
    # Check 10: the nonce is judged once the signature is known to be the key holder's.
    if nonces and not nonce_is_valid(proof.nonce):
        description = "A DPoP nonce is required." if proof.nonce is None else "The DPoP nonce is stale."
        raise UseDPoPNonce(nonce=current_nonce(), description=f"{description} Use the one in DPoP-Nonce.")
    # Section 11.1: each proof once. Remembered until it would be refused as too old anyway;
    # keyed by its key's thumbprint, so one client's ids never collide with another's.
    until = datetime.fromtimestamp(proof.acceptable_until + idp_settings.DPOP_PROOF_MAX_FUTURE_SECONDS + 1, tz=UTC)
    if not replay.first_use(kind="dpop", issuer=proof.jkt, jti=proof.jti, expires=until):
        raise InvalidDPoPProof(description="The DPoP proof was already used: make a new one for every request.")
    return proof


# --- the authorization request's dpop_jkt (RFC 9449 section 10) ---------------------------------


DPOP_JKT_PROBLEM = "dpop_jkt must be the base64url SHA-256 JWK thumbprint of the DPoP key (RFC 9449 section 10)."


def dpop_jkt_problem(value: str | None) -> str | None:
    """What is wrong with an authorization request's ``dpop_jkt`` (for the endpoint's
    ``malformed`` checks, before sign-in), or None when it is absent or well-formed."""
    return None if not value or THUMBPRINT.fullmatch(value) else DPOP_JKT_PROBLEM


def requested_jkt(request: object) -> str:
    """The ``dpop_jkt`` of an oauthlib authorization request (the thumbprint its code will be
    bound to), or "" when it sends none; a malformed one is ``invalid_request``."""
    value = getattr(request, DPOP_JKT_PARAMETER, None)
    if not isinstance(value, str) or not value:
        return ""
    if dpop_jkt_problem(value):
        raise InvalidRequest(description=DPOP_JKT_PROBLEM, request=request)
    return value
