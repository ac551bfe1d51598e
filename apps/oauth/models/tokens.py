"""DOT's token models, swapped so access tokens know their audience, jti and lineage."""

import uuid

from django.db import models
from django.db.models.base import ModelBase
from oauth2_provider.models import AbstractAccessToken, AbstractGrant, AbstractIDToken, AbstractRefreshToken

# ``metaclass=ModelBase`` below: DOT's abstract models are untyped (Any to mypy), so django-stubs
# would not see these classes as models. Naming the metaclass they already have lets the plugin
# type our fields and relations; at run time nothing changes.


def default_audience() -> list[str]:
    return []


# RFC 9449 section 6.1: a DPoP-bound token names its key by its RFC 7638 SHA-256 thumbprint,
# base64url without padding (43 characters).
JKT_LENGTH = 43


def jkt_field(what: str) -> models.CharField:
    return models.CharField(
        "DPoP key thumbprint",
        max_length=JKT_LENGTH,
        blank=True,
        default="",
        help_text=f"The key {what} is bound to (RFC 9449 cnf.jkt); empty: a bearer token.",
    )


class AccessToken(AbstractAccessToken, metaclass=ModelBase):
    """A stored JWT access token (by checksum only: the JWT itself is never stored).

    Revoking deletes the row (DOT's semantics); ``parent`` cascades, so revoking a token
    revokes every token exchanged from it.
    """

    # Unique by construction (uuid4) and never a lookup key (the checksum is): no index, since
    # a unique index on random values is the costliest part of every token INSERT.
    jti = models.UUIDField("JWT ID", default=uuid.uuid4, editable=False)
    subject = models.CharField(
        max_length=255, blank=True, help_text="The sub claim: a user id, or a client id when no user is involved."
    )
    audience = models.JSONField(default=default_audience, blank=True)
    act = models.JSONField(null=True, blank=True, help_text="RFC 8693 actor chain of an exchanged token.")
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="children",
        help_text="The subject token this token was exchanged from.",
    )
    # RFC 9470 section 6: what the JWT says of its user's sign-in, for introspection too.
    acr = models.CharField(
        "ACR", max_length=100, blank=True, default="", help_text="The level of the user's sign-in (the acr claim)."
    )
    auth_time = models.DateTimeField(null=True, blank=True, help_text="When the user signed in (the auth_time claim).")
    jkt = jkt_field("the token")

    class Meta(AbstractAccessToken.Meta):
        swappable = "OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL"
        indexes = [models.Index(fields=["expires"])]


# A browser session as other rows name it: a hash of its key (which is a credential: whoever
# holds the key is signed in), so that ending the session can end what it produced.
SESSION_REF_LENGTH = 64
# How a sign-in was made, as the space-separated ``amr`` values of apps/protocol/strength.py
# ("pwd otp mfa"): a handful of short words.
AMR_LENGTH = 64


class RefreshToken(AbstractRefreshToken, metaclass=ModelBase):
    session_ref = models.CharField(
        max_length=SESSION_REF_LENGTH,
        blank=True,
        db_index=True,
        help_text="The browser session whose sign-in the token family came from (a hash, never the key).",
    )
    # The sign-in the family came from, as the code had it: every rotation carries it on, so
    # the ID token of a refresh keeps the original auth_time (OpenID Connect Core 12.2) and the
    # client's or an API's second-factor requirement is judged against it.
    auth_time = models.DateTimeField(null=True, blank=True, help_text="When the user's session signed in.")
    amr = models.CharField(
        "authentication methods",
        max_length=AMR_LENGTH,
        blank=True,
        help_text="How the user's session signed in (amr values, e.g. 'pwd otp mfa').",
    )
    # RFC 9449 section 5: a public client's refresh token is bound to its DPoP key (a
    # confidential client's is bound to its authentication instead).
    jkt = jkt_field("the refresh token")

    class Meta(AbstractRefreshToken.Meta):
        swappable = "OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL"


class Grant(AbstractGrant, metaclass=ModelBase):
    """An authorization code. Kept after redemption (until it expires) so that a replay is
    recognised and the tokens issued from it are revoked (RFC 6749 section 4.1.2)."""

    redeemed_at = models.DateTimeField(null=True, blank=True)
    access_token = models.ForeignKey(
        "oauth.AccessToken", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    token_family = models.UUIDField(null=True, blank=True, help_text="Refresh token family issued from this code.")
    auth_time = models.DateTimeField(null=True, blank=True, help_text="When the user's session signed in.")
    amr = models.CharField(
        "authentication methods",
        max_length=AMR_LENGTH,
        blank=True,
        help_text="How the session that approved the code signed in (amr values, e.g. 'pwd otp mfa').",
    )
    session_ref = models.CharField(
        max_length=SESSION_REF_LENGTH,
        blank=True,
        help_text="The browser session that approved the code (a hash, never the key).",
    )
    # RFC 9449 section 10: the authorization request's dpop_jkt; the code is then redeemed
    # only with a proof by that key.
    dpop_jkt = jkt_field("the code")

    class Meta(AbstractGrant.Meta):
        swappable = "OAUTH2_PROVIDER_GRANT_MODEL"


class IDToken(AbstractIDToken, metaclass=ModelBase):
    class Meta(AbstractIDToken.Meta):
        swappable = "OAUTH2_PROVIDER_ID_TOKEN_MODEL"
