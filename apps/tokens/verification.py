"""Verifying tokens this IdP issued, when they come back to it (token exchange).

A token is accepted only if its signature verifies with one of our published keys, its
header and claims are what we issue (RFC 8725 section 3), and it is still stored: not
revoked (revocation deletes the row and its exchanged descendants) and not expired.
Txn-Tokens are never stored: one is accepted while it is unexpired and for our trust domain.
"""

import hashlib
import uuid
from functools import cache
from typing import Any

import jwt
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.models import Field
from django.utils import timezone

from apps.keys.services import published_key
from apps.oauth.models import AccessToken, Application, IDToken
from apps.protocol.errors import InvalidRequest
from apps.resource_server.jose import unverified_header
from apps.resources.models import ApiResource
from apps.tokens.issuance import ACCESS_TOKEN_JWT_TYPE, TRANSACTION_TOKEN_JWT_TYPE
from idp.conf import idp_settings, trust_domain
from idp.sql import column, hot_cursor, table

MAX_TOKEN_LENGTH = 8192


def _reject(what: str, why: str) -> InvalidRequest:
    # RFC 8693 section 2.2.2: an invalid or unacceptable subject/actor token is invalid_request.
    return InvalidRequest(description=f"{what} is not acceptable: {why}.")


def verify_jwt(token: str, *, what: str, typ: str | None) -> dict[str, Any]:
    """Signature, algorithm, ``typ``, ``iss`` and ``exp`` of one of our JWTs; returns its claims."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise _reject(what, "empty or too long")
    header = unverified_header(token)
    if header is None:
        raise _reject(what, "not a JWT")
    if typ is not None and header.get("typ") != typ:
        raise _reject(what, f"typ must be {typ}")
    key = published_key(header.get("kid"))  # jku, x5u and embedded jwk are never followed
    if key is None:
        raise _reject(what, "unknown signing key")
    try:
        # The algorithm comes from our key, never from the token header: no "none", no HS256
        # signed with a public key.
        return jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm_name],
            issuer=idp_settings.ISSUER,
            options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise _reject(what, "expired") from None
    except jwt.InvalidIssuerError:
        raise _reject(what, "issued by someone else") from None
    except jwt.PyJWTError:
        raise _reject(what, "signature or claims invalid") from None


# The user fields a stored token's row is loaded with: what user claims and the enabled
# check read (apps/resources/claims.py). Any other field loads on first access.
_USER_FIELDS = ("first_name", "last_name", "email", "is_active")


@cache
def _stored_token_sql(vendor: str) -> tuple[str, tuple[str, ...]]:
    """The row of an unexpired stored token by checksum, with its client's enabled flag and
    its user: one statement, built once (exchange runs it on every request), and the user
    fields it loads."""
    user = get_user_model()
    present = {field.name for field in user._meta.concrete_fields}
    names = ("id", user.USERNAME_FIELD, *(name for name in _USER_FIELDS if name in present))
    t, a = AccessToken, Application
    sql = (
        f"SELECT t.{column(t, 'id')}, t.{column(t, 'application')}, a.{column(a, 'is_active')},"  # noqa: S608
        f" {', '.join(f'u.{column(user, name)}' for name in names)} FROM {table(t)} t"
        f" LEFT JOIN {table(a)} a ON a.{column(a, 'id')} = t.{column(t, 'application')}"
        f" LEFT JOIN {table(user)} u ON u.{column(user, 'id')} = t.{column(t, 'user')}"
        f" WHERE t.{column(t, 'token_checksum')} = %s AND t.{column(t, 'expires')} > %s"
    )
    attnames = []
    for name in names:
        field = user._meta.get_field(name)
        assert isinstance(field, Field)  # concrete columns: the user's id, username and _USER_FIELDS
        attnames.append(field.attname)
    return sql, tuple(attnames)


def stored_access_token(token: str) -> AccessToken | None:
    """The unexpired row of ``token`` (by checksum) with ``application`` (id and enabled flag)
    and ``user`` loaded, or None if it was revoked (deleted) or has expired."""
    sql, user_fields = _stored_token_sql(connection.vendor)
    checksum = hashlib.sha256(token.encode()).hexdigest()
    with hot_cursor() as cursor:
        cursor.execute(sql, [checksum, connection.ops.adapt_datetimefield_value(timezone.now())])
        found = cursor.fetchone()
    if found is None:
        return None
    token_id, application_id, application_active, user_id, *user_values = found
    row = _partial(AccessToken, id=token_id, application_id=application_id, user_id=user_id)
    row.application = _partial(Application, id=application_id, is_active=bool(application_active))
    if user_id is not None:
        loaded = dict(zip(user_fields, [user_id, *user_values], strict=True))
        if "is_active" in loaded:  # SQLite returns 0/1
            loaded["is_active"] = bool(loaded["is_active"])
        row.user = _partial(get_user_model(), **loaded)
    return row


def _partial(model, **values: Any):
    """A model instance with only ``values`` loaded (any other field loads on first access,
    and save() writes only these), as the ORM builds one for ``only()``."""
    loaded = [field.attname for field in model._meta.concrete_fields if field.attname in values]
    return model.from_db(connection.alias, loaded, [values[name] for name in loaded])


def active_access_token(token: str, *, what: str) -> tuple[dict[str, Any], AccessToken]:
    """A verified, stored, unexpired access token of ours, with its row."""
    claims = verify_jwt(token, what=what, typ=ACCESS_TOKEN_JWT_TYPE)
    row = stored_access_token(token)
    if row is None and _self_contained(claims):
        raise _reject(
            what, "self-contained (its API does not store tokens): the IdP cannot tell whether it was revoked"
        )
    if row is None:
        raise _reject(what, "revoked or expired")
    return claims, row


def _self_contained(claims: dict[str, Any]) -> bool:
    audiences = claims.get("aud")
    audiences = audiences if isinstance(audiences, list) else [audiences]
    resources = ApiResource.objects.filter(audience__in=[a for a in audiences if isinstance(a, str)])
    return bool(audiences) and len(resources) == len(audiences) and not any(r.store_tokens for r in resources)


def active_id_token(token: str, *, what: str) -> tuple[dict[str, Any], IDToken]:
    """A verified, stored, unexpired ID token of ours, with its row."""
    claims = verify_jwt(token, what=what, typ=None)
    try:
        jti = uuid.UUID(str(claims.get("jti")))
    except ValueError:
        raise _reject(what, "no valid jti") from None
    row = IDToken.objects.select_related("user").filter(jti=jti).first()
    if row is None or row.expires <= timezone.now():
        raise _reject(what, "revoked or expired")
    return claims, row


TRANSACTION_TOKEN_NAMES = ("txn", "sub", "req_wl")  # required, non-empty strings


def active_transaction_token(token: str, *, what: str) -> dict[str, Any]:
    """A Txn-Token of ours (typ ``txntoken+jwt``, our key, our ``iss``), unexpired and for
    our trust domain, with the claims the draft requires: its claims. Never an access token
    (its typ differs), and an expired one is refused (draft, "Txn-Token as a subject_token":
    no replacement of an expired Txn-Token)."""
    claims = verify_jwt(token, what=what, typ=TRANSACTION_TOKEN_JWT_TYPE)
    if claims.get("aud") != trust_domain():
        raise _reject(what, "for another trust domain")
    if not all(isinstance(claims.get(name), str) and claims[name] for name in TRANSACTION_TOKEN_NAMES):
        raise _reject(what, "txn, sub and req_wl are required")
    if not isinstance(claims.get("scope"), str):
        raise _reject(what, "no scope")
    for name in ("tctx", "rctx"):
        if not isinstance(claims.get(name, {}), dict):
            raise _reject(what, f"{name} is not an object")
    return claims
