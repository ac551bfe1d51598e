"""The OAuth client (DOT's swappable Application) with several grant types and its scopes."""

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePublicKey
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.base import ModelBase
from django.utils import timezone
from oauth2_provider.models import AbstractApplication, ApplicationManager
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.validators import AllowedURIValidator

from apps.oauth.models.transaction_token_policy import TransactionTokenPolicy
from apps.resources.models import ApiResource, ApiScope


class GrantType(models.TextChoices):
    """Grant types by their RFC names, as they appear in ``grant_type`` at ``/o/token/``."""

    AUTHORIZATION_CODE = "authorization_code", "Authorization code (+ PKCE)"
    REFRESH_TOKEN = "refresh_token", "Refresh token"
    CLIENT_CREDENTIALS = "client_credentials", "Client credentials"
    TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange", "Token exchange (RFC 8693)"
    JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer", "JWT bearer (RFC 7523)"


# RFC 8252 section 7.3: http redirect URIs are acceptable on the loopback interface only.
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}

# --- private_key_jwt keys (RFC 7523 section 2.2, OpenID Connect Core 9) ----------------------
# The algorithms a client may sign its assertions with, and the key type each needs. No "none"
# and no HS*: a client's registered keys are public, and an HMAC "signed" with a public key
# proves nothing.
CLIENT_KEY_ALGORITHMS = {"RS256": "RSA", "PS256": "RSA", "ES256": "EC"}
# Members only a private (or symmetric) JWK has (RFC 7518 section 6.2.2, 6.3.2, 6.4.1).
PRIVATE_JWK_MEMBERS = frozenset({"d", "p", "q", "dp", "dq", "qi", "oth", "k"})
MIN_CLIENT_RSA_BITS = 2048  # NIST SP 800-131A, as for our own keys
MAX_CLIENT_RSA_BITS = 8192  # each verification costs more with size: a bound on what one request costs
MAX_CLIENT_JWKS_KEYS = 16  # a key in use, the next one and a retired one leave plenty of room
MAX_CLIENT_JWKS_BYTES = 64 * 1024


@dataclass(frozen=True)
class ClientJwk:
    """One public key of a client, parsed: ``alg`` is the JWK's own restriction, if any."""

    kid: str | None
    kty: str  # "RSA" or "EC"
    alg: str | None
    public_key: RSAPublicKey | EllipticCurvePublicKey

    def verifies(self, alg: str) -> bool:
        """Whether a JWS signed with ``alg`` may be checked with this key."""
        return CLIENT_KEY_ALGORITHMS.get(alg) == self.kty and self.alg in (None, alg)


def _client_jwk(member: Any) -> ClientJwk:
    """One JWK of a client's set, or ``ValueError`` saying why it is not acceptable."""
    if not isinstance(member, dict):
        raise ValueError("each key is a JSON object")
    if PRIVATE_JWK_MEMBERS & set(member):
        raise ValueError("a private or symmetric key: register the public key only")
    kty, kid, alg = member.get("kty"), member.get("kid"), member.get("alg")
    if kty not in ("RSA", "EC"):
        raise ValueError(f"kty must be RSA or EC, not {kty!r}")
    if kid is not None and not (isinstance(kid, str) and 0 < len(kid) <= 200):
        raise ValueError("kid must be a non-empty string of at most 200 characters")
    if member.get("use", "sig") != "sig":
        raise ValueError("use must be sig: the key verifies signed assertions")
    if "key_ops" in member and not (isinstance(member["key_ops"], list) and "verify" in member["key_ops"]):
        raise ValueError("key_ops must include verify")
    # A string first: a list or an object is unhashable, and the dict lookup would raise.
    if alg is not None and (not isinstance(alg, str) or CLIENT_KEY_ALGORITHMS.get(alg) != kty):
        raise ValueError(f"alg must be one of {', '.join(a for a, t in CLIENT_KEY_ALGORITHMS.items() if t == kty)}")
    if kty == "EC" and member.get("crv") != "P-256":
        raise ValueError("an EC key must be on the P-256 curve (ES256)")
    try:
        # Builds the key: a malformed modulus or a point off the curve is refused here.
        public_key = jwt.PyJWK(member, algorithm="ES256" if kty == "EC" else "RS256").key
    except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"not a valid {kty} public key ({exc})") from None
    if not isinstance(public_key, RSAPublicKey | EllipticCurvePublicKey):
        raise ValueError("a private or symmetric key: register the public key only")
    if isinstance(public_key, RSAPublicKey) and not MIN_CLIENT_RSA_BITS <= public_key.key_size <= MAX_CLIENT_RSA_BITS:
        raise ValueError(f"an RSA key must have {MIN_CLIENT_RSA_BITS} to {MAX_CLIENT_RSA_BITS} bits")
    return ClientJwk(kid=kid, kty=kty, alg=alg, public_key=public_key)


def parse_client_jwks(document: Any) -> tuple[ClientJwk, ...]:
    """A client's JWKS document (RFC 7517 section 5) as keys, or ``ValidationError`` listing
    what is wrong. The one rule for inline ``jwks`` and for what a ``jwks_uri`` serves."""
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list) or not document["keys"]:
        raise ValidationError('A JWKS is a JSON object with a non-empty "keys" list.')
    if len(json.dumps(document)) > MAX_CLIENT_JWKS_BYTES:
        raise ValidationError(f"A JWKS of at most {MAX_CLIENT_JWKS_BYTES // 1024} KiB.")
    if len(document["keys"]) > MAX_CLIENT_JWKS_KEYS:
        raise ValidationError(f"At most {MAX_CLIENT_JWKS_KEYS} keys.")
    keys: list[ClientJwk] = []
    problems: list[str] = []
    for number, member in enumerate(document["keys"], start=1):
        try:
            keys.append(_client_jwk(member))
        except ValueError as exc:
            problems.append(f"Key {number}: {exc}.")
    kids = [key.kid for key in keys if key.kid is not None]
    if len(kids) != len(set(kids)):
        # The kid in an assertion's header picks the key: two keys with one kid are ambiguous.
        problems.append("Two keys have the same kid.")
    if problems:
        raise ValidationError(problems)
    return tuple(keys)


def jwks_uri_problem(uri: str) -> str | None:
    """Why ``uri`` may not be fetched for a client's keys, or None: https only (http only on a
    loopback host, as for redirect URIs), no credentials in it, no fragment."""
    try:
        parts = urlsplit(uri)
        hostname = parts.hostname
    except ValueError:
        return "Not a URL."
    if parts.scheme not in ("https", "http") or not hostname:
        return "An https URL."
    if parts.scheme == "http" and hostname not in LOOPBACK_HOSTS:
        return "Use https (http only for loopback hosts)."
    if parts.username is not None or parts.password is not None:
        return "No credentials in the URL."
    if parts.fragment or "#" in uri:
        return "No fragment."
    return None


# Grant types that authenticate the client itself, so only confidential clients may use them.
CONFIDENTIAL_ONLY_GRANTS = {GrantType.CLIENT_CREDENTIALS, GrantType.TOKEN_EXCHANGE, GrantType.JWT_BEARER}

# DOT asks ``allows_grant_type`` with its own identifiers; map them onto ours.
_DOT_GRANT_NAMES = {
    AbstractApplication.GRANT_AUTHORIZATION_CODE: GrantType.AUTHORIZATION_CODE,
    AbstractApplication.GRANT_CLIENT_CREDENTIALS: GrantType.CLIENT_CREDENTIALS,
}


class ClientManager(ApplicationManager):
    def get_queryset(self) -> models.QuerySet:
        # The client's own API is read on every introspection and exchange: fetch it along.
        return super().get_queryset().select_related("resource")


def default_grant_types() -> list[str]:
    return []


# DOT's abstract models are untyped (Any to mypy), so django-stubs would not see this class as
# a model. Naming the metaclass it already has (ModelBase, from AbstractApplication) lets the
# plugin type the fields declared here; at run time nothing changes.
class Application(AbstractApplication, metaclass=ModelBase):
    # DOT allows one grant type per client (and its column is too short for the RFC 8693
    # URN); ``allowed_grant_types`` replaces it.
    authorization_grant_type = None

    allowed_grant_types = models.JSONField(
        default=default_grant_types,
        blank=True,
        help_text="Grant types this client may use at /o/token/ (none: it only introspects).",
    )
    # Annotated because the plugin derives the implicit through model only for classes whose
    # base it can see (quoted: Django's fields are not subscriptable at run time).
    allowed_scopes: "models.ManyToManyField[ApiScope, models.Model]" = models.ManyToManyField(
        ApiScope, blank=True, related_name="clients"
    )
    resource = models.ForeignKey(
        ApiResource,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="clients",
        help_text="The API this client is when it calls other services (its own audience).",
    )
    one_token_per_audience = models.BooleanField(
        default=False,
        help_text="Refuse requests whose scopes span several APIs unless one 'resource' is named.",
    )
    require_second_factor = models.BooleanField(
        default=False,
        help_text=(
            "Users must have signed in with a second factor (an authenticator app or a passkey) to get tokens "
            "for this client: the sign-in asks for one, or to set one up, before the code is issued, and codes "
            "or refresh tokens from a password-only sign-in are refused."
        ),
    )
    is_active = models.BooleanField("enabled", default=True)
    secret_hint = models.CharField(max_length=12, blank=True, editable=False)
    # The secret a rotation replaced, accepted beside the new one until it expires so that a
    # service can switch without an outage (apps/clients/services.py). Stored as its hash.
    previous_client_secret = models.CharField(max_length=255, blank=True, editable=False)
    previous_secret_hint = models.CharField(max_length=12, blank=True, editable=False)
    previous_secret_expires = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="When the previous secret stops working (empty: none)."
    )
    # private_key_jwt (RFC 7523 section 2.2): the client proves itself with a JWT signed by one
    # of these public keys, so no secret is shared. Both may be empty (a secret-only client);
    # a client may hold a secret and keys at once while it migrates.
    jwks = models.JSONField(
        "JWKS",
        null=True,
        blank=True,
        help_text="Public keys (a JWKS document) whose signed assertions authenticate this client (private_key_jwt).",
    )
    jwks_uri = models.URLField(
        "JWKS URI",
        max_length=2000,
        blank=True,
        help_text="Or where the client publishes them (https); fetched and cached. Not both.",
    )
    require_pushed_authorization_requests = models.BooleanField(
        "require PAR",
        default=False,
        help_text="Authorization requests must first be pushed (RFC 9126); /o/authorize/ then takes a request_uri.",
    )
    dpop_bound_access_tokens = models.BooleanField(
        "require DPoP",
        default=False,
        help_text="Every token request of this client must carry a DPoP proof (RFC 9449): its tokens are always bound.",
    )

    objects = ClientManager()
    if TYPE_CHECKING:
        # What django-stubs adds to models it can see; it types ApiResource.clients.
        _default_manager: ClassVar[ClientManager]

    class Meta(AbstractApplication.Meta):
        swappable = "OAUTH2_PROVIDER_APPLICATION_MODEL"

    def natural_key(self) -> tuple[str]:
        return (self.client_id,)

    def save(self, *args, **kwargs) -> None:
        # The plaintext secret is only ever in memory before the first save; keep a hint
        # so operators can tell secrets apart without ever seeing one again.
        if self.client_secret and not self._client_secret_is_hashed(self.client_secret):
            self.secret_hint = "…" + self.client_secret[-4:]
        if self.previous_secret_expires is not None and self.previous_secret_expires <= timezone.now():
            # Its grace period is over: it authenticates nothing, so nothing of it is kept.
            self.previous_client_secret, self.previous_secret_hint, self.previous_secret_expires = "", "", None
        super().save(*args, **kwargs)

    def redirect_uri_allowed(self, uri: str) -> bool:
        """RFC 9700 section 4.1.3: exact string match with a registered URI. No normalising:
        not case, not percent-encoding, not a trailing slash."""
        return uri in self.redirect_uris.split()

    def post_logout_redirect_uri_allowed(self, uri: str) -> bool:
        return uri in self.post_logout_redirect_uris.split()

    def allows_grant_type(self, *grant_types: str) -> bool:
        names = {_DOT_GRANT_NAMES.get(g, g) for g in grant_types}
        return bool(names & set(self.allowed_grant_types))

    def is_usable(self, request) -> bool:
        return self.is_active

    def clean(self) -> None:
        errors: dict[str, list[str]] = {}
        grants = self.allowed_grant_types
        valid = set(GrantType.values)
        if not isinstance(grants, list) or not set(grants) <= valid:
            errors.setdefault("allowed_grant_types", []).append(f"Choose from: {', '.join(GrantType.values)}.")
            grants = []
        if self.client_type == self.CLIENT_PUBLIC and set(grants) & CONFIDENTIAL_ONLY_GRANTS:
            errors.setdefault("allowed_grant_types", []).append(
                "Client credentials, token exchange and the JWT bearer grant need a confidential client."
            )
        if self.client_type == self.CLIENT_PUBLIC and self.resource_id is not None:
            errors.setdefault("resource", []).append("An API acting as a client must be a confidential client.")
        if GrantType.REFRESH_TOKEN in grants and GrantType.AUTHORIZATION_CODE not in grants:
            errors.setdefault("allowed_grant_types", []).append(
                "Refresh tokens come from the authorization code grant."
            )
        uris = self.redirect_uris.split()
        if GrantType.AUTHORIZATION_CODE in grants and not uris:
            errors.setdefault("redirect_uris", []).append("The authorization code grant needs a redirect URI.")
        validator = AllowedURIValidator(
            self.get_allowed_schemes(), name="redirect uri", allow_path=True, allow_query=True
        )
        for uri in uris + self.post_logout_redirect_uris.split():
            try:
                validator(uri)
            except ValidationError as exc:
                errors.setdefault("redirect_uris", []).extend(exc.messages)
                continue
            parts = urlsplit(uri)
            if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
                errors.setdefault("redirect_uris", []).append(f"Use https (http only for loopback hosts): {uri}")
            if parts.fragment or "#" in uri:
                errors.setdefault("redirect_uris", []).append(f"A redirect URI has no fragment: {uri}")
        errors.update(self._client_key_errors())
        if self.algorithm not in ("", self.RS256_ALGORITHM):
            errors.setdefault("algorithm", []).append("ID tokens are signed with RS256 by the IdP's keys.")
        if errors:
            raise ValidationError(errors)

    def _client_key_errors(self) -> dict[str, list[str]]:
        """private_key_jwt: an inline JWKS or a jwks_uri, not both, for confidential clients only."""
        errors: dict[str, list[str]] = {}
        if self.client_type == self.CLIENT_PUBLIC and (self.jwks is not None or self.jwks_uri):
            message = "A public client authenticates with nothing: it has no keys."
            errors["jwks" if self.jwks is not None else "jwks_uri"] = [message]
            return errors
        if self.jwks is not None and self.jwks_uri:
            errors["jwks_uri"] = ["Register the keys inline or at a JWKS URI, not both."]
        if self.jwks is not None:
            try:
                parse_client_jwks(self.jwks)
            except ValidationError as exc:
                errors["jwks"] = exc.messages
        if self.jwks_uri and (problem := jwks_uri_problem(self.jwks_uri)):
            errors.setdefault("jwks_uri", []).append(problem)
        return errors

    def get_allowed_schemes(self) -> list[str]:
        # http is accepted for loopback redirect URIs only (checked in clean()).
        return [*oauth2_settings.ALLOWED_REDIRECT_URI_SCHEMES, "http"]

    def allowed_scope_objects(self) -> list[ApiScope]:
        """The client's scopes with their APIs, loaded once per instance (one query)."""
        if not hasattr(self, "_allowed_scope_objects"):
            self._allowed_scope_objects = list(self.allowed_scopes.select_related("resource"))
        return self._allowed_scope_objects

    def enabled_exchange_policies(self) -> list:
        """The client's enabled exchange policies with their targets, scopes and subject
        audiences, loaded once per instance (three queries)."""
        if not hasattr(self, "_enabled_exchange_policies"):
            self._enabled_exchange_policies = list(
                self.exchange_policies.filter(enabled=True)
                .select_related("target")
                .prefetch_related(
                    models.Prefetch("scopes", queryset=ApiScope.objects.select_related("resource")),
                    "subject_audiences",
                    "trusted_issuers",
                )
            )
        return self._enabled_exchange_policies

    def enabled_transaction_token_policy(self) -> "TransactionTokenPolicy | None":
        """The client's enabled transaction-token policy with its scopes and subject audiences,
        or None; loaded once per instance (three queries)."""
        if not hasattr(self, "_enabled_transaction_token_policy"):
            self._enabled_transaction_token_policy = (
                TransactionTokenPolicy.objects.filter(client=self, enabled=True)
                .prefetch_related(
                    models.Prefetch("scopes", queryset=ApiScope.objects.select_related("resource")),
                    "subject_audiences",
                )
                .first()
            )
        return self._enabled_transaction_token_policy
