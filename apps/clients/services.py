"""Creating clients and rotating their secrets. The plaintext secret is returned once.

A new client's id is readable: a slug of its name (``shopping-basket``), because it is what
operators read in the audit trail and services in a token's ``act.sub``. It never changes
afterwards: tokens and audit events already name it."""

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _
from oauth2_provider.generators import generate_client_id

from apps.audit import services as audit
from apps.clients.secrets import generate_client_secret
from apps.oauth.models import Application
from apps.resources.models import ApiResource, ApiScope


@dataclass(frozen=True)
class ClientCredentials:
    client: Application
    client_secret: str  # plaintext, shown once; empty for public clients and keys-only clients

    def as_dict(self) -> dict:
        """``client_secret`` is null for a confidential client without one (it authenticates
        with private_key_jwt: its keys are registered, nothing is to be stored), as the
        management API answers; empty for a public client, as it always was."""
        keys_only = self.client.client_type == Application.CLIENT_CONFIDENTIAL and not self.client_secret
        return {
            "client_id": self.client.client_id,
            "client_secret": None if keys_only else self.client_secret,
            "redirect_uris": self.client.redirect_uris.split(),
            "scopes": [scope.name for scope in self.client.allowed_scopes.order_by("name")],
        }


# An id an operator types: it goes into HTTP Basic credentials (no ':'), URLs and claims. It
# holds a letter: a client's own tokens carry it as ``sub``, and a user's carry the user's
# database id (digits), so the two never collide (RFC 9068 section 2.2).
CLIENT_ID_MAX_LENGTH = 100
client_id_validator = RegexValidator(
    r"^(?=[^A-Za-z]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9._-]*\Z",
    "Use letters, digits, '.', '_' or '-', starting with a letter or digit, with at least one letter.",
)
# Room for a "-NNN" suffix within CLIENT_ID_MAX_LENGTH.
_SLUG_LENGTH = 60


def client_id_slug(name: str) -> str:
    """The name as lowercase ASCII letters, digits and hyphens ("Shopping basket" ->
    "shopping-basket"; "2024" -> "client-2024", an id needs a letter); empty when nothing of
    it is ASCII."""
    slug = re.sub(r"[-_]+", "-", slugify(name)).strip("-")
    if slug and not re.search(r"[a-z]", slug):
        slug = f"client-{slug}"
    return slug[:_SLUG_LENGTH].rstrip("-")


def readable_client_id(name: str) -> str:
    """A free client id made from ``name``: its slug, then ``slug-2``, ``slug-3``... when
    taken; the random id of django-oauth-toolkit when the name yields no slug."""
    slug = client_id_slug(name)
    if not slug:
        return generate_client_id()
    taken = set(Application.objects.filter(client_id__startswith=slug).values_list("client_id", flat=True))
    candidate, suffix = slug, 1
    while candidate in taken:
        suffix += 1
        candidate = f"{slug}-{suffix}"
    return candidate


def _taken(client_id: str) -> ValidationError:
    return ValidationError(_("A client with the id %(client_id)s exists.") % {"client_id": client_id})


def check_new_client_id(client_id: str) -> None:
    """Raise ``ValidationError`` unless ``client_id`` may name a new client."""
    if len(client_id) > CLIENT_ID_MAX_LENGTH:
        raise ValidationError(_("At most %(length)d characters.") % {"length": CLIENT_ID_MAX_LENGTH})
    client_id_validator(client_id)
    if Application.objects.filter(client_id=client_id).exists():
        raise _taken(client_id)


def save_new_client(client: Application, *, client_id: str = "") -> None:
    """Insert ``client`` under ``client_id``, or under a readable id made from its name.

    Two operators may create clients of the same name at once: a made-up id that another
    transaction took in between is made again; a chosen one is a ``ValidationError``."""
    for _attempt in range(5):
        client.client_id = client_id or readable_client_id(client.name)
        try:
            with transaction.atomic():
                client.save()
            return
        except IntegrityError:
            if not Application.objects.filter(client_id=client.client_id).exists():
                raise  # another constraint than the id's: not ours to explain
            if client_id:
                raise _taken(client_id) from None
    raise ValidationError(_("No free client id could be made from this name; choose one."))


def _scopes_by_name(names: Sequence[str]) -> list[ApiScope]:
    scopes = list(ApiScope.objects.filter(name__in=names))
    unknown = sorted(set(names) - {scope.name for scope in scopes})
    if unknown:
        raise ValidationError(f"Unknown scope(s): {', '.join(unknown)}")
    return scopes


def _resource_by_audience(audience: str | None) -> ApiResource | None:
    if not audience:
        return None
    try:
        return ApiResource.objects.get(audience=audience)
    except ApiResource.DoesNotExist:
        raise ValidationError(f"Unknown API resource: {audience}") from None


@transaction.atomic
def save_client(
    *,
    name: str,
    grant_types: Sequence[str],
    scopes: Sequence[str],
    redirect_uris: Sequence[str] = (),
    post_logout_redirect_uris: Sequence[str] = (),
    resource: str | None = None,
    client_type: str = Application.CLIENT_CONFIDENTIAL,
    skip_authorization: bool = False,
    client_id: str | None = None,
    new: bool = False,
    jwks: dict[str, Any] | None = None,
    jwks_uri: str = "",
    with_secret: bool = True,
) -> ClientCredentials:
    """Create a client, or reconfigure the one with ``client_id``, with a fresh secret.

    Without ``client_id`` the new client's id is made from its name (:func:`readable_client_id`).
    ``new``: ``client_id`` must name no client yet (a command that creates, never overwrites).
    ``jwks`` / ``jwks_uri``: the public keys its private_key_jwt assertions are signed with;
    ``with_secret=False``: a confidential client that authenticates with them only (no secret
    is made; it needs keys). With both, the client may use either while it migrates.
    Raises ``ValidationError`` for unknown scopes, resources, a taken or malformed new id or an
    invalid configuration (keys included: Application.clean()).
    """
    if new and client_id:
        check_new_client_id(client_id)
    confidential = client_type == Application.CLIENT_CONFIDENTIAL
    if confidential and not with_secret and jwks is None and not jwks_uri:
        # Reached by the command line and the management API only (each checks first): untranslated.
        raise ValidationError("A client without a secret authenticates with its keys: register a JWKS or a JWKS URI.")
    secret = generate_client_secret() if confidential and with_secret else ""
    existing = Application.objects.filter(client_id=client_id).first() if client_id else None
    client = existing or Application()
    client.name = name
    client.client_type = client_type
    client.allowed_grant_types = list(dict.fromkeys(grant_types))
    client.redirect_uris = " ".join(redirect_uris)
    client.post_logout_redirect_uris = " ".join(post_logout_redirect_uris)
    client.resource = _resource_by_audience(resource)
    client.skip_authorization = skip_authorization
    client.algorithm = Application.RS256_ALGORITHM
    client.client_secret = secret
    client.jwks, client.jwks_uri = jwks, jwks_uri
    if not secret:
        # A reconfigured client's hints named secrets it no longer has.
        client.secret_hint = ""
        client.previous_client_secret, client.previous_secret_hint, client.previous_secret_expires = "", "", None
    client.full_clean(exclude=["client_secret", "client_id"])
    if existing is None:
        save_new_client(client, client_id=client_id or "")
    else:
        client.save()
    client.allowed_scopes.set(_scopes_by_name(scopes))
    return ClientCredentials(client=client, client_secret=secret)


SECRET_ROTATED = "client.secret_rotated"
NO_GRACE = timedelta(0)
# What a rotation or a removal of the secret writes: the secret, its hint and the previous one.
SECRET_FIELDS = [
    "client_secret",
    "secret_hint",
    "previous_client_secret",
    "previous_secret_hint",
    "previous_secret_expires",
    "updated",
]
# Long enough to roll a new secret out to every instance of a service; short enough that a
# secret nobody uses any more is not kept for long.
MAX_GRACE_PERIOD = timedelta(days=7)


@transaction.atomic
def rotate_client_secret(*, client: Application, grace_period: timedelta = NO_GRACE, rotated_by: str = "") -> str:
    """Give a confidential client a new secret and return it (plaintext, to show once).

    With a grace period the secret it replaces keeps authenticating until the period ends,
    so a service can switch without an outage; without one (a secret that leaked) it stops
    at once. Only one previous secret is kept: rotating during a grace period ends the
    older secret's at once. Audited as ``client.secret_rotated`` (hints only, never a secret),
    ``rotated_by`` naming the operator. Raises ``ValueError`` for a public client or a grace
    period outside 0 .. MAX_GRACE_PERIOD.
    """
    if client.client_type != Application.CLIENT_CONFIDENTIAL:
        raise ValueError("A public client has no secret to rotate.")
    if not NO_GRACE <= grace_period <= MAX_GRACE_PERIOD:
        raise ValueError(f"The grace period must be between none and {MAX_GRACE_PERIOD.days} days.")
    # The secret being replaced as stored (hashed), locked against a concurrent rotation.
    # Only the client's row (the manager joins its API resource, which PostgreSQL cannot lock
    # on an outer join's nullable side).
    stored = Application.objects.select_for_update(of=("self",)).get(pk=client.pk)
    replaced_hint = stored.secret_hint
    keep_previous = grace_period > NO_GRACE and bool(stored.client_secret)
    client.previous_client_secret = stored.client_secret if keep_previous else ""
    client.previous_secret_hint = replaced_hint if keep_previous else ""
    client.previous_secret_expires = timezone.now() + grace_period if keep_previous else None
    secret = generate_client_secret()
    client.client_secret = secret
    client.save(update_fields=SECRET_FIELDS)
    audit.record(
        event_type=SECRET_ROTATED,
        granted=True,
        client_id=client.client_id,
        subject=rotated_by,
        details={
            "grace_period_seconds": int(grace_period.total_seconds()),
            "secret_hint": client.secret_hint,
            "previous_secret_hint": replaced_hint,
            "previous_secret_expires": (
                client.previous_secret_expires.isoformat() if client.previous_secret_expires else None
            ),
        },
    )
    return secret


SECRET_REMOVED = "client.secret_removed"


def has_client_secret(client: Application) -> bool:
    """Whether the client holds a secret: its hint is kept from the moment one is set (the
    stored column is never empty, even without a secret: DOT stores the hash of "")."""
    return bool(client.secret_hint)


def has_client_keys(client: Application) -> bool:
    return client.jwks is not None or bool(client.jwks_uri)


@transaction.atomic
def remove_client_secret(*, client: Application, removed_by: str = "") -> None:
    """The last step of moving a service to private_key_jwt: its secret (and a previous one
    still in its grace period) stops authenticating at once; its keys alone do. Audited as
    ``client.secret_removed``. Raises ``ValueError`` for a client without keys: it would be
    left with no way to authenticate (rotate a secret in again to undo)."""
    stored = Application.objects.select_for_update(of=("self",)).get(pk=client.pk)
    if not has_client_keys(stored):
        raise ValueError("Register the client's public keys first: without a secret it authenticates with them.")
    removed_hint = stored.secret_hint
    client.client_secret = ""  # stored as the hash of "", which no presented secret matches
    client.secret_hint = ""
    client.previous_client_secret, client.previous_secret_hint, client.previous_secret_expires = "", "", None
    client.save(update_fields=SECRET_FIELDS)
    audit.record(
        event_type=SECRET_REMOVED,
        granted=True,
        client_id=client.client_id,
        subject=removed_by,
        details={"secret_hint": removed_hint},
    )
