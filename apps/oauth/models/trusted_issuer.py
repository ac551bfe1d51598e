"""Trusted issuers: other identity providers whose signed tokens this IdP accepts, and how
their tokens' claims name one of our clients or users.

A Kubernetes cluster's service-account tokens, a CI system's OIDC tokens or a partner IdP's
tokens are JWTs signed by keys that issuer publishes. An operator registers the issuer (its
``iss``, where its keys are, which algorithms and which ``aud`` its tokens must carry) and
maps exact claim values to an identity here::

    issuer https://kubernetes.default.svc, audience https://idp.example.com
    {"sub": "system:serviceaccount:shop:basket"} -> client shoppingbasket

Nothing is trusted by default: an issuer's tokens count only where an exchange policy names
the issuer (apps/grants/exchange.py) or for the RFC 7523 JWT bearer grant, and only when
exactly one mapping matches (apps/grants/federation.py).
"""

import json
import re
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse

from idp.conf import idp_settings

from .application import CLIENT_KEY_ALGORITHMS, jwks_uri_problem, parse_client_jwks

# The JWS algorithms an issuer's tokens may be signed with: those private_key_jwt accepts,
# checked by the same key rules (public RSA of 2048-8192 bits, or P-256). No "none", no HS*.
TRUSTED_ISSUER_ALGORITHMS = tuple(sorted(CLIENT_KEY_ALGORITHMS))
MAX_MAPPING_CLAIMS = 5
MAX_CLAIM_VALUE_LENGTH = 255
CLAIM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.:-]{0,63}")
# Claims a mapping may not match on: they are checked for every token already (iss, aud,
# times) or say nothing about who the token is for (jti).
UNMAPPABLE_CLAIMS = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti"})


def issuer_url_problem(value: str) -> str | None:
    """Why ``value`` cannot be a trusted issuer's ``iss``, or None: an https URL (http on a
    loopback host), as OpenID Connect Discovery asks of an issuer identifier, no query or
    fragment, and not this IdP itself (its own tokens are never "external")."""
    if _same_url(value, idp_settings.ISSUER):
        return "This is this IdP's own issuer."
    problem = jwks_uri_problem(value)
    if problem is not None:
        return problem
    if "?" in value:
        return "No query."
    return None


def _same_url(first: str, second: str) -> bool:
    """Equal but for the case of the scheme and host and a trailing slash (RFC 3986 6.2.2.1)."""

    def normal(url: str) -> tuple[str, str, str]:
        parts = urlsplit(url.strip())
        return parts.scheme.lower(), parts.netloc.lower(), parts.path.rstrip("/")

    try:
        return normal(first) == normal(second)
    except ValueError:
        return False


def own_jwks_url() -> str:
    return idp_settings.ISSUER.rstrip("/") + reverse("jwks")


class TrustedIssuer(models.Model):
    name = models.SlugField(max_length=64, unique=True, help_text="How operators refer to it (export, API).")
    issuer = models.CharField(
        max_length=255, unique=True, help_text="The exact iss of its tokens (an https URL; http on loopback only)."
    )
    jwks_uri = models.CharField(
        max_length=500,
        blank=True,
        help_text="Where it publishes its signing keys (fetched, cached for IDP CLIENT_JWKS_CACHE_SECONDS, "
        "never used past that when a fetch fails).",
    )
    jwks = models.JSONField(
        null=True, blank=True, help_text="Or its public keys inline, as a JWK Set (for an issuer with no JWKS URL)."
    )
    algorithms = models.CharField(
        max_length=64,
        default="RS256 ES256",
        help_text=f"The JWS algorithms its tokens may use, space-separated: {' '.join(TRUSTED_ISSUER_ALGORITHMS)}.",
    )
    audience = models.CharField(
        max_length=255,
        blank=True,
        help_text="The aud its tokens must carry to be exchanged here. Empty: this IdP's issuer. (The RFC 7523 "
        "grant always requires this IdP's issuer or token endpoint.)",
    )
    enabled = models.BooleanField(default=True, help_text="Off: none of its tokens is accepted.")
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def algorithm_names(self) -> frozenset[str]:
        return frozenset(self.algorithms.split())

    @property
    def required_audience(self) -> str:
        return self.audience or idp_settings.ISSUER

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if problem := issuer_url_problem(self.issuer):
            errors["issuer"] = problem
        unknown = sorted(self.algorithm_names - set(TRUSTED_ISSUER_ALGORITHMS))
        if unknown or not self.algorithm_names:
            errors["algorithms"] = f"Choose from: {' '.join(TRUSTED_ISSUER_ALGORITHMS)}."
        if bool(self.jwks_uri) == (self.jwks is not None):
            errors["jwks_uri"] = "Give a JWKS URL or inline keys, one of the two."
        elif self.jwks_uri and (problem := jwks_uri_problem(self.jwks_uri)):
            errors["jwks_uri"] = problem
        elif self.jwks_uri and _same_url(self.jwks_uri, own_jwks_url()):
            errors["jwks_uri"] = "These are this IdP's own keys: another issuer's tokens are never checked with them."
        elif self.jwks is not None:
            try:
                parse_client_jwks(self.jwks)
            except ValidationError as invalid:
                errors["jwks"] = " ".join(invalid.messages)
        if errors:
            raise ValidationError(errors)

    def summary(self) -> str:
        """e.g. "kubernetes: https://kubernetes.default.svc, RS256, aud https://idp.test, 2 mappings"."""
        keys = self.jwks_uri or "inline keys"
        disabled = "" if self.enabled else " (disabled)"
        return f"{self.name}: {self.issuer}, keys {keys}, {self.algorithms}, aud {self.required_audience}{disabled}"


class IssuerMapping(models.Model):
    """Tokens of ``issuer`` whose claims equal every one of ``claims`` are for ``client`` or
    for ``user`` (one of the two). Exact matches only: no patterns, no prefixes."""

    issuer = models.ForeignKey(TrustedIssuer, on_delete=models.CASCADE, related_name="mappings")
    claims = models.JSONField(
        help_text='Exact values, e.g. {"sub": "system:serviceaccount:shop:basket"}: every one must match.'
    )
    client = models.ForeignKey(
        "oauth.Application", null=True, blank=True, on_delete=models.CASCADE, related_name="issuer_mappings"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="issuer_mappings"
    )
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["issuer", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(client__isnull=True, user__isnull=False)
                | models.Q(client__isnull=False, user__isnull=True),
                name="issuer_mapping_names_a_client_or_a_user",
            )
        ]

    def __str__(self) -> str:
        return f"{self.issuer}: {self.claims_text()} -> {self.identity_text()}"

    def claims_text(self) -> str:
        claims = self.claims if isinstance(self.claims, dict) else {}
        return ", ".join(f"{name} = {value}" for name, value in sorted(claims.items()))

    def identity_text(self) -> str:
        if self.client_id is not None:
            return f"client {self.client}"
        return f"user {self.user}" if self.user_id is not None else "nobody"

    def matches(self, token_claims: dict[str, Any]) -> bool:
        return all(token_claims.get(name) == value for name, value in self.claims.items())

    def clean(self) -> None:
        errors: dict[str, str] = {}
        claims = self.claims
        if not isinstance(claims, dict) or not 0 < len(claims) <= MAX_MAPPING_CLAIMS:
            errors["claims"] = f"A JSON object of 1 to {MAX_MAPPING_CLAIMS} claims, each an exact string value."
        else:
            names = sorted(str(name) for name in claims)
            bad_names = [name for name in names if not CLAIM_NAME.fullmatch(name)]
            reserved = sorted(set(names) & UNMAPPABLE_CLAIMS)
            bad_values = [
                name
                for name, value in claims.items()
                if not isinstance(value, str) or not value or len(value) > MAX_CLAIM_VALUE_LENGTH
            ]
            if bad_names:
                errors["claims"] = f"Not a claim name: {' '.join(bad_names)}."
            elif reserved:
                errors["claims"] = f"Checked for every token, not a mapping: {' '.join(reserved)}."
            elif bad_values:
                errors["claims"] = (
                    f"Each value a non-empty string of at most {MAX_CLAIM_VALUE_LENGTH} characters: "
                    f"{' '.join(sorted(bad_values))}."
                )
        if (self.client_id is None) == (self.user_id is None):
            errors["client"] = "Map to a client or to a user, one of the two."
        if not errors and self.issuer_id is not None:
            text = json.dumps(claims, sort_keys=True)
            others = IssuerMapping.objects.filter(issuer_id=self.issuer_id).exclude(pk=self.pk)
            if any(json.dumps(other.claims, sort_keys=True) == text for other in others):
                errors["claims"] = "This issuer already has a mapping for exactly these claims."
        if errors:
            raise ValidationError(errors)
