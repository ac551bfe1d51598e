"""API resources (audiences) and their scopes: data operators edit, not settings (STYLE.md 6)."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models

from apps.resources.claims import USER_CLAIMS

# RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
scope_token_validator = RegexValidator(r"^[\x21\x23-\x5B\x5D-\x7E]+$", "Not a valid RFC 6749 scope token.")
audience_validator = RegexValidator(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$", "Use letters, digits, '.', '_', ':' or '-'.")


def validate_absolute_uri(value: str) -> None:
    """RFC 8707 section 2: a resource indicator is an absolute URI without a fragment."""
    scheme, sep, rest = value.partition(":")
    if not sep or not scheme or not scheme[0].isalpha() or not rest or "#" in value or " " in value:
        raise ValidationError("Must be an absolute URI without a fragment, e.g. urn:globoticket:discount.")


class SigningAlgorithm(models.TextChoices):
    RS256 = "RS256", "RS256 (RSA, widest support)"
    ES256 = "ES256", "ES256 (ECDSA P-256, faster, smaller)"


# The longest any token here may live, in seconds. A bearer token cannot be recalled from a
# resource server's cache, and a retired signing key stays published for this long.
MAX_ACCESS_TOKEN_LIFETIME = 24 * 3600


def default_user_claims() -> list[str]:
    return []


class ApiResource(models.Model):
    """One API (one service) = one audience. A token for one is refused by every other."""

    audience = models.CharField(
        max_length=100,
        unique=True,
        validators=[audience_validator],
        help_text="The aud value in tokens for this API, e.g. 'discount'.",
    )
    resource_uri = models.CharField(
        "resource URI",
        max_length=255,
        unique=True,
        validators=[validate_absolute_uri],
        help_text="RFC 8707 resource indicator that selects this API, e.g. 'urn:globoticket:discount'.",
    )
    name = models.CharField(max_length=200)
    enabled = models.BooleanField(default=True, help_text="Disabled APIs get no new tokens.")
    access_token_lifetime = models.PositiveIntegerField(
        default=600,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_ACCESS_TOKEN_LIFETIME)],
        help_text=f"Seconds, at most {MAX_ACCESS_TOKEN_LIFETIME} (one day).",
    )
    signing_algorithm = models.CharField(max_length=5, choices=SigningAlgorithm.choices, default=SigningAlgorithm.RS256)
    user_claims = models.JSONField(
        default=default_user_claims,
        blank=True,
        help_text=f"User claims tokens for this API may carry, from: {', '.join(USER_CLAIMS)}.",
    )
    store_tokens = models.BooleanField(
        default=True,
        help_text=(
            "Stored: client-credentials and exchanged tokens for this API can be revoked, introspected, "
            "exchanged further and are listed here. Self-contained (unticked): one INSERT less per token "
            "request, but such tokens live until they expire, introspection reports them inactive and they "
            "cannot be exchanged: keep their lifetime short. Tokens from sign-in are always stored."
        ),
    )
    require_dpop = models.BooleanField(
        "require DPoP",
        default=False,
        help_text=(
            "Tokens for this API are always bound to the caller's key (DPoP, RFC 9449): a token request without "
            "a DPoP proof is refused, so a copied token is useless without the key. Turn on only once every "
            "client of this API sends DPoP proofs."
        ),
    )
    require_second_factor = models.BooleanField(
        default=False,
        help_text=(
            "Tokens for this API carry a user only if that user signed in with a second factor (an "
            "authenticator app or a passkey): the sign-in asks for one, password-only codes and refresh "
            "tokens are refused, and so is exchanging a token from a password-only sign-in into this API. "
            "Tokens without a user (client credentials) are not affected."
        ),
    )

    class Meta:
        ordering = ["audience"]
        verbose_name = "API resource"

    def __str__(self) -> str:
        return self.audience

    def clean(self) -> None:
        unknown = set(self.user_claims or []) - set(USER_CLAIMS)
        if not isinstance(self.user_claims, list) or unknown:
            raise ValidationError({"user_claims": f"Unknown claims: {', '.join(sorted(unknown)) or self.user_claims}"})


class ApiScope(models.Model):
    """A scope: what a client may do inside one API (``eventcatalog.read``).

    A scope with no resource is an OpenID Connect identity scope (``openid``, ``profile``,
    ``email``): it releases user claims and puts no API in the token's audience.
    """

    name = models.CharField(max_length=100, unique=True, validators=[scope_token_validator])
    resource = models.ForeignKey(ApiResource, null=True, blank=True, on_delete=models.CASCADE, related_name="scopes")
    description = models.CharField(max_length=255, blank=True, help_text="Shown to users on the consent screen.")

    class Meta:
        ordering = ["name"]
        verbose_name = "scope"

    def __str__(self) -> str:
        return self.name

    @property
    def is_identity_scope(self) -> bool:
        return self.resource_id is None
