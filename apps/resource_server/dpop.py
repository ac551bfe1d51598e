"""DPoP (RFC 9449): making proofs, checking them, and the resource server's side of it.

A DPoP proof is a JWT the client signs with its own key for one HTTP request (method and
URL) and sends in the ``DPoP`` header; a token issued with a proof is bound to that key
(``cnf.jkt``, the key's RFC 7638 thumbprint) and is useless without the private key.

- :func:`make_proof`: a proof for a request (what a client, e.g. a service calling another
  service, sends);
- :func:`verify_proof`: the checks of RFC 9449 section 4.3 that need nothing but the proof and
  the request (the IdP's token endpoint and a resource server add replay, nonces and the
  token's binding);
- :class:`DPoPAuthentication`: DRF authentication accepting ``Authorization: DPoP <token>``
  with its proof (section 7.1) beside RFC 6750 Bearer (section 7.2), refusing a bound token
  sent as Bearer.

This module is part of the toolkit services import: it knows nothing of the IdP (the IdP's
token endpoint imports it, not the other way round).
"""

import base64
import hashlib
import hmac
import json
import math
import re
import secrets
import string
import time
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from django.core.cache import cache
from rest_framework.request import Request

from apps.resource_server.bearer import (
    ACCESS_TOKEN_PARAMETER,
    B64TOKEN,
    BearerAuthentication,
    BearerError,
    InvalidBearerRequest,
    InvalidToken,
    TokenRequired,
    _form_fields,
)

# key_thumbprint is re-exported: a client making proofs names its key by it (dpop_jkt, RFC 9449
# section 10).
from apps.resource_server.jwk import PrivateKey, b64url, public_jwk, thumbprint
from apps.resource_server.jwk import key_thumbprint as key_thumbprint

PROOF_TYPE = "dpop+jwt"  # RFC 9449 section 4.2
# Asymmetric only (section 4.3 check 5: never "none", never a MAC). ES256 is what clients
# generate by default; RS256 and PS256 for RSA keys.
ALGORITHMS: tuple[str, ...] = ("ES256", "PS256", "RS256")
MIN_RSA_BITS = 2048
MAX_PROOF_LENGTH = 8192  # an RSA-4096 key in the header is about 1 KB; anything far beyond is not a proof
MAX_JTI_LENGTH = 256
# RFC 7517 private members (RSA, EC, oct): a jwk carrying any is not a public key.
PRIVATE_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
THUMBPRINT = re.compile(r"[A-Za-z0-9_-]{43}")  # base64url of a SHA-256 digest
DPOP_SCHEME = "DPoP"


class ProofError(Exception):
    """A proof that fails a check; the message says which (for ``error_description``)."""


@dataclass(frozen=True)
class Proof:
    """A proof that passed :func:`verify_proof`."""

    jkt: str  # the RFC 7638 thumbprint of its key: what a token is bound to
    jti: str
    iat: float
    nonce: str | None
    # Until when it is acceptable (its iat plus the window): how long to remember its jti.
    acceptable_until: float


def access_token_hash(access_token: str) -> str:
    """RFC 9449 section 4.2 ``ath``: base64url(SHA-256(the ASCII access token))."""
    return b64url(hashlib.sha256(access_token.encode("ascii", "replace")).digest())


# --- the target URI (RFC 9449 section 4.3 check 9, RFC 3986 section 6.2) ------------------------

_UNRESERVED = frozenset(string.ascii_letters + string.digits + "-._~")
_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _percent(match: re.Match[str]) -> str:
    char = chr(int(match.group(1), 16))
    return char if char in _UNRESERVED else "%" + match.group(1).upper()


def _remove_dot_segments(path: str) -> str:
    output: list[str] = []
    segments = path.split("/")[1:]
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == "..":
            if output:
                output.pop()
        elif segment != ".":
            output.append(segment)
            continue
        if last:
            output.append("")  # "/a/.." is "/", "/a/." is "/a/"
    return "/" + "/".join(output)


def normalized_uri(uri: str) -> str:
    """``uri`` without query and fragment, after RFC 3986's syntax-based (section 6.2.2: case
    of scheme, host and percent-encodings, unreserved characters decoded, dot segments) and
    scheme-based (section 6.2.3: default port, empty path) normalization, which section 4.3
    recommends before comparing ``htu``."""
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise ProofError("htu is not a URL.") from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in _DEFAULT_PORTS or not host or "@" in parts.netloc:
        raise ProofError("htu must be an http(s) URL with a host and no user info.")
    if ":" in host:
        host = f"[{host}]"  # IPv6
    netloc = host if port in (None, _DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    path = _remove_dot_segments(_PERCENT.sub(_percent, parts.path or "/"))
    return f"{scheme}://{netloc}{path}"


def without_query(url: str) -> str:
    """The htu a client puts in its proof: the URL without query and fragment, as requested."""
    return url.split("#", 1)[0].split("?", 1)[0]


# --- making proofs --------------------------------------------------------------------------------


def generate_key() -> ec.EllipticCurvePrivateKey:
    """A new P-256 key for ES256 proofs (what clients use unless they have a reason not to)."""
    return ec.generate_private_key(ec.SECP256R1())


def make_proof(
    private_key: PrivateKey,
    method: str,
    url: str,
    access_token: str | None = None,
    nonce: str | None = None,
    *,
    algorithm: str | None = None,
) -> str:
    """A DPoP proof (RFC 9449 section 4.2) for one request: ``method`` and ``url`` (its query
    and fragment are left out), ``ath`` when the request carries ``access_token``, and the
    server's ``nonce`` when it asked for one (a ``DPoP-Nonce`` header). Signed ES256 with a
    P-256 key, RS256 with an RSA key unless ``algorithm`` says PS256. Send it as the ``DPoP``
    header; make a new one for every request (its ``jti`` is accepted once)."""
    if algorithm is None:
        algorithm = "ES256" if isinstance(private_key, ec.EllipticCurvePrivateKey) else "RS256"
    claims: dict[str, Any] = {
        "jti": secrets.token_urlsafe(16),
        "htm": method.upper(),
        "htu": without_query(url),
        "iat": int(time.time()),
    }
    if access_token is not None:
        claims["ath"] = access_token_hash(access_token)
    if nonce is not None:
        claims["nonce"] = nonce
    headers = {"typ": PROOF_TYPE, "jwk": public_jwk(private_key)}
    return jwt.encode(claims, private_key, algorithm=algorithm, headers=headers)


# --- checking proofs (RFC 9449 section 4.3) ----------------------------------------------------------


def _segment_json(segment: str) -> Any:
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except ValueError:
        return None


def _proof_key(header: Mapping[str, Any]) -> tuple[jwt.PyJWK, str]:
    """Checks 4, 5 and 7: the type, an asymmetric algorithm we accept, and a public key fit for
    it; the key and its thumbprint."""
    if header.get("typ") != PROOF_TYPE:
        raise ProofError(f"The proof's typ must be {PROOF_TYPE}.")
    algorithm = header.get("alg")
    if algorithm not in ALGORITHMS:
        raise ProofError(f"The proof's alg must be one of {' '.join(ALGORITHMS)}.")
    jwk = header.get("jwk")
    if not isinstance(jwk, dict):
        raise ProofError("The proof's header must carry its public key as jwk.")
    if PRIVATE_MEMBERS & set(jwk):
        raise ProofError("The proof's jwk must be a public key: it holds private key material.")
    expected_kty = "EC" if algorithm.startswith("ES") else "RSA"
    if jwk.get("kty") != expected_kty or (expected_kty == "EC" and jwk.get("crv") != "P-256"):
        raise ProofError(f"The proof's jwk does not fit alg {algorithm}.")
    try:
        key = jwt.PyJWK(jwk, algorithm=algorithm)
    except (jwt.PyJWTError, ValueError, TypeError):
        raise ProofError("The proof's jwk is not a valid public key.") from None
    if isinstance(key.key, rsa.RSAPublicKey) and key.key.key_size < MIN_RSA_BITS:
        raise ProofError(f"The proof's RSA key must have at least {MIN_RSA_BITS} bits.")
    try:
        return key, thumbprint(jwk)
    except ValueError as error:
        raise ProofError(str(error)) from None


def _finite_number(value: Any) -> bool:
    """A number of seconds: not a bool, not NaN (JSON parsers accept it, and it fails every
    comparison, so it would pass the iat window and never expire) nor infinite, nor an integer
    too large for a float (it would overflow wherever it becomes a time)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


def verify_proof(
    proof: str,
    *,
    method: str,
    url: str,
    access_token: str | None = None,
    max_age: int = 60,
    max_future: int = 5,
    now: float | None = None,
) -> Proof:
    """The checks of RFC 9449 section 4.3 that need only the proof and the request: one
    well-formed JWT (check 2) of type ``dpop+jwt`` (4), signed with an algorithm of
    :data:`ALGORITHMS` (5) by the public key in its header (6, 7), with ``jti``, ``htm``,
    ``htu`` and ``iat`` (3), for this ``method`` (8) and ``url`` (9, normalized, query and
    fragment ignored), created at most ``max_age`` seconds ago and ``max_future`` ahead (11),
    and with ``ath`` of ``access_token`` when one is presented (12). Raises
    :class:`ProofError`. The caller checks the rest: that the ``jti`` is new (section 11.1),
    the ``nonce`` (check 10) and the key a token is bound to (check 12)."""
    if len(proof) > MAX_PROOF_LENGTH or proof.count(".") != 2:
        raise ProofError("The DPoP header must be one JWT.")
    header = _segment_json(proof.partition(".")[0])
    if not isinstance(header, dict):
        raise ProofError("The DPoP header must be one JWT.")
    key, jkt = _proof_key(header)
    try:
        claims = jwt.decode(
            proof,
            key.key,
            algorithms=[key.algorithm_name],
            options={"verify_aud": False, "verify_iat": False, "require": ["jti", "htm", "htu", "iat"]},
        )
    except jwt.MissingRequiredClaimError as error:
        raise ProofError(f"The proof lacks its {error.claim} claim.") from None
    except jwt.InvalidSignatureError:
        raise ProofError("The proof's signature does not verify with its jwk.") from None
    except jwt.PyJWTError:
        raise ProofError("The proof is not a valid JWT.") from None
    jti, htm, htu, iat = claims["jti"], claims["htm"], claims["htu"], claims["iat"]
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise ProofError("The proof's jti must be a string.")
    if not _finite_number(iat):
        raise ProofError("The proof's iat must be a number.")
    if not isinstance(htm, str) or htm != method:
        raise ProofError(f"The proof is for another HTTP method (htm must be {method}).")
    if not isinstance(htu, str) or normalized_uri(htu) != normalized_uri(url):
        raise ProofError(f"The proof is for another URL (htu must be {without_query(url)}).")
    now = time.time() if now is None else now
    if iat < now - max_age or iat > now + max_future:
        raise ProofError("The proof's iat is outside the accepted window: make a new proof.")
    if access_token is not None:
        ath = claims.get("ath")
        if not isinstance(ath, str) or not hmac.compare_digest(ath, access_token_hash(access_token)):
            raise ProofError("The proof's ath does not match the access token.")
    nonce = claims.get("nonce")
    return Proof(
        jkt=jkt,
        jti=jti,
        iat=float(iat),
        nonce=nonce if isinstance(nonce, str) else None,
        acceptable_until=float(iat) + max_age,
    )


def bound_key(claims: Mapping[str, Any]) -> str | None:
    """The ``cnf.jkt`` a token's claims bind it to (RFC 9449 section 6.1), or None."""
    cnf = claims.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return jkt if isinstance(jkt, str) else None


# --- the resource server (RFC 9449 section 7) ----------------------------------------------------


class InvalidDPoPProof(BearerError):
    """``invalid_dpop_proof`` (RFC 9449 section 7.1): the request's DPoP proof is missing,
    malformed, replayed, for another request, or for another access token."""

    error = "invalid_dpop_proof"
    status_code = 401


def dpop_challenge(error: BearerError | None = None, *, realm: str | None = None) -> str:
    """``DPoP algs="ES256 PS256 RS256"``, with the error's realm, code and description first
    when there is one (RFC 9449 section 7.1)."""
    parameters = dict(error.parameters()) if error is not None else {"realm": realm}
    parameters.pop("scope", None)
    parameters["algs"] = " ".join(ALGORITHMS)
    quoted = [f'{name}="{_quoted(value)}"' for name, value in parameters.items() if value]
    return f"{DPOP_SCHEME} " + ", ".join(quoted)


def _quoted(value: str) -> str:
    printable = "".join(c if " " <= c <= "~" else "?" for c in value)
    return printable.replace("\\", "\\\\").replace('"', '\\"')


def presented_credentials(request: Request) -> tuple[str, str] | None:
    """``("Bearer" | "DPoP", token)`` from the ``Authorization`` header (scheme
    case-insensitive), or None when it carries neither scheme. A token elsewhere (query, form
    body), more than one token, or one that is not a b64token is :class:`InvalidBearerRequest`."""
    if ACCESS_TOKEN_PARAMETER in request.GET or ACCESS_TOKEN_PARAMETER in _form_fields(request):
        raise InvalidBearerRequest("Send the access token in the Authorization header, not in the URL or body.")
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if not parts or parts[0].lower() not in ("bearer", "dpop") or len(parts) == 1:
        return None
    scheme = "Bearer" if parts[0].lower() == "bearer" else DPOP_SCHEME
    if len(parts) > 2 or not B64TOKEN.fullmatch(parts[1]):
        raise InvalidBearerRequest(f"The Authorization header must be '{scheme} <token>'.")
    return scheme, parts[1]


def first_use(jkt: str, jti: str, *, seconds: float) -> bool:
    """Whether this is the first time the proof ``jti`` of key ``jkt`` is seen (RFC 9449
    section 11.1), remembering it for ``seconds`` in the Django cache: a cache all the
    service's processes share (Redis) sees a replay sent to any of them; the default
    per-process cache only replays to the same process."""
    key = "dpop-jti:" + hashlib.sha256(f"{jkt}\x00{jti}".encode()).hexdigest()
    return bool(cache.add(key, 1, timeout=max(1, int(seconds) + 1)))


class DPoPAuthentication(BearerAuthentication):
    """DRF authentication by ``Authorization: DPoP <token>`` with a ``DPoP`` proof (RFC 9449
    section 7.1) and, unless the API requires DPoP, ``Authorization: Bearer <token>`` (RFC 6750)
    for tokens that are not bound. A subclass plugs in :meth:`verify` (returning a principal
    whose token claims :meth:`claims_of` reads) as for :class:`BearerAuthentication`.

    Service settings, in ``RESOURCE_SERVER`` (all optional)::

        "REQUIRE_DPOP": False,        # True: Bearer tokens, and tokens not bound, are refused
        "URL": "https://discount.example.com",  # the service's external base URL (behind a
                                      # proxy); proofs' htu is this + the request's path.
                                      # Default: the URL the request was made to.
        "DPOP_PROOF_MAX_AGE_SECONDS": 60, "DPOP_PROOF_MAX_FUTURE_SECONDS": 5,

    Refusals: a bound token sent as Bearer, or with a proof of another key, is
    ``invalid_token`` (sections 7.2 and 7.1); a missing or bad proof is ``invalid_dpop_proof``.
    The challenges list ``DPoP`` (with ``algs``) and ``Bearer`` when both are accepted."""

    @abstractmethod
    def claims_of(self, principal: Any) -> Mapping[str, Any]:
        """The verified token's claims (for ``cnf``)."""

    @staticmethod
    def dpop_settings() -> dict[str, Any]:
        return {
            "REQUIRE_DPOP": False,
            "URL": None,
            "DPOP_PROOF_MAX_AGE_SECONDS": 60,
            "DPOP_PROOF_MAX_FUTURE_SECONDS": 5,
            **getattr(settings, "RESOURCE_SERVER", {}),
        }

    def authenticate(self, request: Request) -> tuple[Any, Any] | None:
        config = self.dpop_settings()
        scheme = "Bearer"  # until the header says otherwise: RFC 6750's answers stay as they were
        offer_dpop = False
        try:
            credentials = presented_credentials(request)
            if credentials is None:
                return None
            scheme, token = credentials
            if scheme == "Bearer" and config["REQUIRE_DPOP"]:
                raise InvalidToken("This API accepts DPoP-bound tokens only: send Authorization: DPoP with a proof.")
            principal = self.verify(token)
            bound_to = bound_key(self.claims_of(principal))
            if scheme == "Bearer":
                if bound_to is not None:
                    # RFC 9449 section 7.2: a bound token used as Bearer is a stolen token or a
                    # downgrade; either way without its key it is worth nothing. The answer
                    # names the DPoP scheme too.
                    offer_dpop = True
                    raise InvalidToken("The token is DPoP-bound: send it as Authorization: DPoP with a proof.")
                return principal, self.auth_for(principal, token)
            if bound_to is None:
                raise InvalidToken("The token is not DPoP-bound: send it as Authorization: Bearer.")
            self.check_proof(request, token=token, bound_to=bound_to, config=config)
        except BearerError as error:
            error.in_realm(self.realm)
            raise self._challenging(error, scheme=scheme, offer_dpop=offer_dpop, config=config) from None
        return principal, self.auth_for(principal, token)

    def check_proof(self, request: Request, *, token: str, bound_to: str, config: Mapping[str, Any]) -> None:
        """RFC 9449 section 7.1: exactly one proof, valid for this request and this token,
        never seen before, signed by the key the token is bound to."""
        values = request.META.get("HTTP_DPOP")
        if not values:
            raise InvalidDPoPProof("A DPoP-bound token needs a DPoP proof header.")
        if "," in values:  # headers sent twice arrive joined by commas; a JWT has none
            raise InvalidDPoPProof("Send exactly one DPoP header.")
        base = config["URL"]
        url = base.rstrip("/") + request.path_info if base else request.build_absolute_uri(request.path)
        max_age = config["DPOP_PROOF_MAX_AGE_SECONDS"]
        try:
            proof = verify_proof(
                values.strip(),
                method=request.method or "",
                url=url,
                access_token=token,
                max_age=max_age,
                max_future=config["DPOP_PROOF_MAX_FUTURE_SECONDS"],
            )
        except ProofError as error:
            raise InvalidDPoPProof(str(error)) from None
        if not hmac.compare_digest(proof.jkt, bound_to):
            # The example of RFC 9449 section 7.1 ("Invalid DPoP key binding"): the proof is
            # sound, but the token is not this key's.
            raise InvalidToken("The token is bound to another key than the proof's.")
        if not first_use(proof.jkt, proof.jti, seconds=max_age + config["DPOP_PROOF_MAX_FUTURE_SECONDS"]):
            raise InvalidDPoPProof("The DPoP proof was already used: make a new one for every request.")

    def _challenging(
        self, error: BearerError, *, scheme: str, offer_dpop: bool, config: Mapping[str, Any]
    ) -> BearerError:
        """The error with the challenges of the schemes this API accepts (RFC 9449 section
        7.2): a DPoP request's error in the DPoP challenge, the Bearer one listed after it; a
        Bearer request's error as RFC 6750 answers it, with the DPoP challenge after it only
        when the token turned out to be DPoP-bound."""
        bearer = not config["REQUIRE_DPOP"]
        if scheme == DPOP_SCHEME or not bearer:
            others = [TokenRequired(realm=self.realm).challenge()] if bearer else []
            return error.answered_with(dpop_challenge(error), *others)
        if offer_dpop:
            return error.answered_with(error.challenge(), dpop_challenge(realm=self.realm))
        return error

    def authenticate_header(self, request: Request) -> str:
        """No credentials: the challenges of every scheme accepted (RFC 9449 section 7.2)."""
        if self.dpop_settings()["REQUIRE_DPOP"]:
            return dpop_challenge(realm=self.realm)
        return f"{TokenRequired(realm=self.realm).challenge()}, {dpop_challenge(realm=self.realm)}"
