"""Tokens of trusted issuers (apps/oauth/models/trusted_issuer.py), for the token exchange
(a subject token) and the RFC 7523 JWT bearer grant (an assertion).

Fail closed, each refusal with the grant's error and a description that says which rule:

- the issuer is named by the token's ``iss`` exactly and must be registered and enabled;
- the signature is checked with that issuer's keys only (its inline JWKS, or the set fetched
  from its own ``jwks_uri``, never past the cache life when a fetch fails:
  apps/clients/client_keys.py), with an algorithm the issuer is allowed, the key picked by
  ``kid``: a token whose ``kid`` was copied from the issuer's JWKS but which another key
  signed fails the signature check like any forgery;
- ``exp`` is required and not passed, ``nbf`` and ``iat`` not in the future (30 s of skew),
  each a number of seconds below 2**33;
- ``aud`` names what the caller requires (the issuer's audience, or this IdP for RFC 7523);
- exactly one of the issuer's mappings matches the claims, exactly, and names an enabled
  client or an active user. Two matching mappings are ambiguous, and refused. A privileged
  identity (an operator's account, a client with the management API's powers) is refused on
  every token, however the mapping came to name it.

Nothing else of the token is trusted: its ``scope``, ``act``, ``may_act``, ``acr`` and
other claims describe another issuer's world and are never copied into our tokens.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt

from apps.clients.client_keys import signing_keys
from apps.oauth.models import Application, IssuerMapping, TrustedIssuer
from apps.protocol.errors import OAuth2Error, shown
from apps.resource_server.jose import unverified_claims
from apps.resources.privileged import grants_privilege
from idp.conf import idp_settings

CLOCK_SKEW_SECONDS = 30
MAX_TOKEN_LENGTH = 16 * 1024  # a Kubernetes token with its claims fits many times over


@dataclass(frozen=True)
class ExternalIdentity:
    """A verified token of a trusted issuer and the identity its mapping names."""

    issuer: TrustedIssuer
    mapping: IssuerMapping
    claims: dict[str, Any]

    @property
    def client(self) -> Application | None:
        return self.mapping.client

    @property
    def user(self) -> Any:
        return self.mapping.user

    @property
    def subject(self) -> str:
        """The ``sub`` of the token we issue: our user's, or the client's own id."""
        if self.mapping.user is not None:
            return str(self.mapping.user.pk)
        assert self.mapping.client is not None  # a mapping names one of the two (its constraint)
        return self.mapping.client.client_id

    @property
    def expires_at(self) -> int:
        return int(self.claims["exp"])

    def audit_details(self) -> dict[str, Any]:
        """What the audit trail records: which issuer and mapping, and the token's own
        ``sub`` (the external name of the workload or person), never the token."""
        external_sub = str(self.claims.get("sub"))[:255]
        return {"issuer": self.issuer.name, "mapping": self.mapping.pk, "external_sub": external_sub}


def unverified_parts(token: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The token's header and claims, read without checking anything (they say which issuer
    and key to check it with); None for anything that is not a JWS of JSON objects. PyJWT's
    header check refuses here a ``kid`` that is not a string and any ``crit`` extension."""
    if len(token) > MAX_TOKEN_LENGTH:
        return None
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    if not isinstance(header, dict) or not isinstance(header.get("alg"), str) or not isinstance(claims, dict):
        return None
    return header, claims


def trusted_issuer_named_by(token: str) -> TrustedIssuer | None:
    """The registered issuer (enabled or not) the token's ``iss`` names; None when it names
    none (this IdP's own tokens among them: an issuer is never registered as itself)."""
    claims = unverified_claims(token) if len(token) <= MAX_TOKEN_LENGTH else None
    iss = claims.get("iss") if claims else None
    # Our own tokens (every exchange but a federated one) cost no query here.
    if not isinstance(iss, str) or not iss or len(iss) > 255 or iss == idp_settings.ISSUER:
        return None
    return TrustedIssuer.objects.filter(issuer=iss).first()


def verify_external_token(
    token: str, *, issuer: TrustedIssuer, audiences: set[str], error: type[OAuth2Error], what: str
) -> ExternalIdentity:
    """The checks of this module's docstring, for a token whose ``iss`` named ``issuer``;
    raises ``error`` (invalid_request for a subject token, RFC 8693 section 2.2.2;
    invalid_grant for an assertion, RFC 7523 section 3.1) with ``what`` in its description."""
    if not issuer.enabled:
        raise error(description=f"{what} is from issuer {issuer.name}, which is disabled here.")
    claims = _verified_claims(token, issuer=issuer, error=error, what=what)
    aud = claims.get("aud")
    values = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if not audiences & {value for value in values if isinstance(value, str)}:
        expected = next(iter(audiences)) if len(audiences) == 1 else "this IdP's issuer or token endpoint"
        raise error(description=f"{what} is not addressed to this IdP (its aud must name {shown(expected)}).")
    mapping = _mapping(issuer, claims, error=error, what=what)
    return ExternalIdentity(issuer=issuer, mapping=mapping, claims=claims)


def _verified_claims(token: str, *, issuer: TrustedIssuer, error: type[OAuth2Error], what: str) -> dict[str, Any]:
    parts = unverified_parts(token)
    if parts is None:
        raise error(description=f"{what} is not a JWT.")
    header = parts[0]
    alg, kid = header.get("alg"), header.get("kid")
    if not isinstance(alg, str) or alg not in issuer.algorithm_names:
        allowed = " ".join(sorted(issuer.algorithm_names))
        raise error(description=f"{what} is signed with {shown(str(alg))}; issuer {issuer.name} may use {allowed}.")
    for key in signing_keys(jwks=issuer.jwks, jwks_uri=issuer.jwks_uri, kid=kid, alg=alg):
        try:
            claims = jwt.decode(
                token,
                key.public_key,
                algorithms=[alg],
                issuer=issuer.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": ["iss", "exp"], "verify_aud": False},
            )
        except jwt.InvalidSignatureError:
            continue  # another key of the issuer's, without a kid to pick it
        except jwt.ExpiredSignatureError:
            raise error(description=f"{what} has expired.") from None
        except jwt.ImmatureSignatureError:
            raise error(description=f"{what} is not valid yet (nbf or iat in the future).") from None
        except jwt.MissingRequiredClaimError as missing:
            raise error(description=f"{what} has no {shown(missing.claim)} claim.") from None
        except jwt.PyJWTError as invalid:
            # PyJWT's words may quote (a character error_description may not carry).
            raise error(description=f"{what} is not acceptable: {shown(str(invalid))}.") from None
        _check_times(claims, error=error, what=what)
        return claims
    # One answer for an unknown kid, a key the issuer does not publish (a copied kid) and
    # an issuer whose keys cannot be fetched now: in each, no key of the issuer's verifies.
    raise error(description=f"{what} is not signed by a current key of issuer {issuer.name}.")


# 2**33 seconds is the year 2242: a later exp is a mistake, not a lifetime (and a date Python
# cannot represent beyond year 9999 would fail every later computation).
MAX_TIMESTAMP = 2**33


def _check_times(claims: Mapping[str, Any], *, error: type[OAuth2Error], what: str) -> None:
    """``exp``, ``nbf`` and ``iat`` as RFC 7519 section 2 defines NumericDate: numbers of
    seconds (PyJWT also takes a string of digits, or a bool), finite, within a sane range."""
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if value is None:
            continue
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if not number or not math.isfinite(value) or not 0 <= value < MAX_TIMESTAMP:
            raise error(description=f"{what}'s {name} is not a number of seconds.")


def _mapping(issuer: TrustedIssuer, claims: Mapping[str, Any], *, error: type[OAuth2Error], what: str) -> IssuerMapping:
    matching = [m for m in issuer.mappings.select_related("client", "user") if m.matches(dict(claims))]
    if not matching:
        raise error(description=f"No mapping of issuer {issuer.name} matches the claims of {what}.")
    if len(matching) > 1:
        raise error(description=f"More than one mapping of issuer {issuer.name} matches the claims of {what}.")
    mapping = matching[0]
    if is_privileged_identity(client=mapping.client, user=mapping.user):
        raise error(description=f"{what} maps to a privileged identity, which another issuer's token never reaches.")
    if mapping.client is not None and not mapping.client.is_active:
        raise error(description=f"{what} maps to a disabled client.")
    if mapping.user is not None and not mapping.user.is_active:
        raise error(description=f"{what} maps to a disabled user.")
    return mapping


def is_privileged_identity(*, client: Application | None, user: Any) -> bool:
    """An operator's account, or a client holding the management API's powers
    (apps/resources/privileged.py). Checked on every token, not only when the mapping was
    made: a client or user made privileged later is never reached through another issuer,
    whoever controls that issuer's keys. (Such identities authenticate here, with their own
    second factor or registered key.)"""
    if user is not None and (user.is_staff or user.is_superuser):
        return True
    return client is not None and grants_privilege(scopes=client.allowed_scopes.all(), resource=client.resource)
