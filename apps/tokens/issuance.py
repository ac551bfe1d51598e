"""RFC 9068 JWT access tokens: their claims, signing, rows and response.

The token endpoint's pipeline (apps/grants/pipeline.py) signs every access token with
:func:`issue_access_token` and stores it with :func:`access_token_row`.
"""

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from django.utils import timezone
from oauth2_provider.settings import oauth2_settings

from apps.keys.services import LoadedKey, get_signing_key, sign_jwt
from apps.oauth.models import AccessToken, Application
from apps.resources.claims import user_claims
from apps.resources.services import TokenPlan, plan_token
from idp.conf import idp_settings, trust_domain
from idp.sql import NewRow

ACCESS_TOKEN_JWT_TYPE = "at+jwt"  # RFC 9068 section 2.1
TRANSACTION_TOKEN_JWT_TYPE = "txntoken+jwt"  # draft-ietf-oauth-transaction-tokens, "JWT Header"


@dataclass(frozen=True)
class IssuedAccessToken:
    token: str
    claims: dict[str, Any]
    # Everything granted, identity scopes included; the JWT's scope claim may say less
    # (TokenPlan.audience_scopes). None: what the claim says.
    granted_scope: str | None = None

    @property
    def stored_scope(self) -> str:
        """The scope its row keeps: DOT's userinfo and the refresh grant read it."""
        return self.claims["scope"] if self.granted_scope is None else self.granted_scope

    @property
    def jti(self) -> uuid.UUID:
        return uuid.UUID(self.claims["jti"])

    @property
    def audience(self) -> list[str]:
        return self.claims["aud"]

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.claims["exp"], tz=UTC)

    @property
    def jkt(self) -> str:
        """The DPoP key this token is bound to (``cnf.jkt``, RFC 9449 section 6.1); "" for a
        bearer token."""
        cnf = self.claims.get("cnf")
        return cnf.get("jkt", "") if isinstance(cnf, dict) else ""

    @property
    def token_type(self) -> str:
        """RFC 6749 section 5.1's ``token_type``: ``DPoP`` for a bound token (RFC 9449 section 5)."""
        return "DPoP" if self.jkt else "Bearer"


def access_token_claims(
    *,
    client_id: str,
    user: Any,
    plan: TokenPlan,
    subject: str | None = None,
    now: datetime | None = None,
    extra_claims: dict[str, Any] | None = None,
    jkt: str | None = None,
) -> dict[str, Any]:
    """The claims of one access token (RFC 9068 section 2.2), unsigned; bound to the DPoP key
    whose thumbprint is ``jkt`` when one is given (RFC 9449 section 6.1)."""
    issuer = idp_settings.ISSUER
    now = (now or timezone.now()).replace(microsecond=0)
    expires_at = now + timedelta(seconds=plan.lifetime)
    if plan.not_after is not None:
        expires_at = min(expires_at, plan.not_after)
    # RFC 9068 section 2.2: without a resource owner, sub identifies the client itself.
    # An exchanged token keeps its subject token's sub (given explicitly).
    subject = subject or (str(user.pk) if user is not None else client_id)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        # A token whose scopes name no API (e.g. only "openid") is for the IdP's own userinfo.
        "aud": plan.audience or [issuer],
        "exp": int(expires_at.timestamp()),
        "iat": int(now.timestamp()),
        "jti": str(uuid.uuid4()),
        "client_id": client_id,
        # RFC 9068 section 2.2.3: only scopes that mean something to the aud. Identity scopes
        # are the IdP's, so a token for an API leaves them out; its row keeps them (userinfo
        # needs them) and the token response lists them (the client must learn openid was
        # granted, RFC 6749 section 5.1).
        "scope": " ".join(plan.audience_scopes),
    }
    if user is not None and plan.user_claims:
        claims.update(user_claims(user, plan.user_claims))
    if extra_claims:
        claims.update(extra_claims)
    if jkt:
        # Set last and from the request's own proof only: no grant's extra claims (e.g. an
        # exchanged subject token's) can bind the token to another key.
        claims["cnf"] = {"jkt": jkt}
    return claims


def _header(key: LoadedKey) -> dict[str, str]:
    return {"alg": key.algorithm, "typ": ACCESS_TOKEN_JWT_TYPE, "kid": key.kid}


def access_token_header(plan: TokenPlan) -> dict[str, str]:
    return _header(get_signing_key(plan.signing_algorithm))


def issue_access_token(*, plan: TokenPlan, **claim_arguments: Any) -> IssuedAccessToken:
    """Build and sign one access token; arguments as for :func:`access_token_claims`."""
    claims = access_token_claims(plan=plan, **claim_arguments)
    key = get_signing_key(plan.signing_algorithm)
    # The same header the admin's token preview shows.
    token = sign_jwt(claims, key, typ=ACCESS_TOKEN_JWT_TYPE)
    return IssuedAccessToken(token=token, claims=claims, granted_scope=" ".join(plan.scopes))


def access_token_values(
    *, issued: IssuedAccessToken, application: Any, user: Any, parent: Any = None
) -> dict[str, Any]:
    """The columns of the row that keeps an issued token (for revocation, introspection,
    lineage and the admin), by attribute name. Only its checksum is stored (RFC 9700 token
    storage, as DOT's set_token_value and TokenChecksumField store it), never the bearer token."""
    claims = issued.claims
    return {
        "user_id": user.pk if user is not None else None,
        "application_id": application.pk,
        "parent_id": parent.pk if parent is not None else None,
        "token": "" if oauth2_settings.COMPLIANT_BCP_RFC9700_TOKEN_STORAGE else issued.token,
        "token_checksum": hashlib.sha256(issued.token.encode()).hexdigest(),
        "jti": issued.jti,
        "subject": claims["sub"],
        "audience": issued.audience,
        "scope": issued.stored_scope,
        "act": claims.get("act"),
        "acr": claims.get("acr", ""),
        "auth_time": datetime.fromtimestamp(claims["auth_time"], tz=UTC) if "auth_time" in claims else None,
        "expires": issued.expires_at,
        "jkt": issued.jkt,
        "resource": [],
    }


def access_token_row(*, issued: IssuedAccessToken, application: Any, user: Any, parent: Any = None) -> NewRow:
    """The token's row, to insert with :func:`idp.sql.insert_rows` (the token endpoint's)."""
    return NewRow(AccessToken, access_token_values(issued=issued, application=application, user=user, parent=parent))


def store_access_token(*, issued: IssuedAccessToken, application: Any, user: Any, **fields: Any) -> AccessToken:
    """Save the issued token's row and return it (for rows other rows will refer to)."""
    values = access_token_values(issued=issued, application=application, user=user)
    row = AccessToken(**values, **fields)
    row.save()
    return row


def bearer_token_response(issued: IssuedAccessToken, plan: TokenPlan) -> dict[str, Any]:
    """RFC 6749 section 5.1, as oauthlib answers for the grants it serves; ``token_type`` is
    the token's own (``DPoP`` when bound, RFC 9449 section 5)."""
    return {
        "access_token": issued.token,
        "expires_in": plan.lifetime,
        "token_type": issued.token_type,
        "scope": " ".join(plan.scopes),
    }


def user_token_plan(client: Application, scopes: Sequence[str], resource_uris: Sequence[str] = ()) -> TokenPlan:
    """What ``client`` gets for a user who granted ``scopes`` (and named ``resource_uris``):
    the plan of the authorization endpoint, and of the admin's preview of it."""
    return plan_token(
        allowed_scopes=client.allowed_scope_objects(),
        requested_scopes=scopes,
        resource_uris=resource_uris,
        one_token_per_audience=client.one_token_per_audience,
    )


def issue_user_token(
    *, client: Application, user, scopes: Sequence[str], resource_uris: Sequence[str] = ()
) -> IssuedAccessToken:
    """Issue and store an access token for ``user`` and ``client`` as the authorization code
    grant would after consent: same audience resolution, same storage. For tests and the
    DEBUG-only ``issue_token`` command; never exposed over HTTP."""
    plan = user_token_plan(client, scopes, resource_uris)
    issued = issue_access_token(client_id=client.client_id, user=user, plan=plan)
    store_access_token(issued=issued, application=client, user=user)
    return issued


@dataclass(frozen=True)
class IssuedTransactionToken:
    """A signed Txn-Token: never stored (it lives seconds), so nothing but the JWT."""

    token: str
    claims: dict[str, Any]

    @property
    def audience(self) -> list[str]:
        return [self.claims["aud"]]

    @property
    def lifetime(self) -> int:
        return self.claims["exp"] - self.claims["iat"]


def transaction_token_claims(
    *,
    txn: str,
    subject: str,
    scopes: Sequence[str],
    requesting_workload: str,
    transaction_context: dict[str, Any],
    request_context: dict[str, Any],
    lifetime: int,
    not_after: datetime | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The claims of a Txn-Token (draft-ietf-oauth-transaction-tokens, "JWT Body Claims"):
    ``aud`` the trust domain, never an API; ``iss`` too (optional in the draft), so a
    verifier can tell our Txn-Tokens from another issuer's signed with keys it also trusts.
    No ``client_id`` or ``jti``: it is not an access token, and ``txn`` identifies it."""
    now = (now or timezone.now()).replace(microsecond=0)
    expires_at = now + timedelta(seconds=lifetime)
    if not_after is not None:
        expires_at = min(expires_at, not_after)
    return {
        "iss": idp_settings.ISSUER,
        "aud": trust_domain(),
        "iat": int(now.timestamp()),
        "exp": int(expires_at.timestamp()),
        "txn": txn,
        "sub": subject,
        "scope": " ".join(scopes),
        "req_wl": requesting_workload,
        "tctx": transaction_context,
        "rctx": request_context,
    }


def issue_transaction_token(**claim_arguments: Any) -> IssuedTransactionToken:
    """Build and sign one Txn-Token (arguments as for :func:`transaction_token_claims`) with
    our key of ``IDP["TRANSACTION_TOKEN_SIGNING_ALGORITHM"]``, published in our JWKS."""
    claims = transaction_token_claims(**claim_arguments)
    key = get_signing_key(idp_settings.TRANSACTION_TOKEN_SIGNING_ALGORITHM)
    header = {"alg": key.algorithm, "typ": TRANSACTION_TOKEN_JWT_TYPE, "kid": key.kid}
    token = jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers=header)
    return IssuedTransactionToken(token=token, claims=claims)
