"""Changes made through the management API, each committed together with its audit event:
a change is never kept without its record, nor recorded without being kept."""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.db import models, transaction
from rest_framework.serializers import BaseSerializer

from apps.audit import services as audit
from apps.clients.services import NO_GRACE, ClientCredentials, remove_client_secret, rotate_client_secret, save_client
from apps.console.policy import secret_fields
from apps.oauth.models import Application
from apps.resources.models import ApiResource, ApiScope

MANAGEMENT_API_CHANGE = "management_api.change"


@dataclass(frozen=True)
class Actor:
    """Who made a change: the calling client and its token's ``sub``."""

    client_id: str
    subject: str


def record_change(
    *, actor: Actor, action: str, instance: models.Model, changed: Iterable[str] = (), **details: Any
) -> None:
    """An audit event shaped like the admin's (apps/audit/receivers.py), by a client instead of a user."""
    audit.record(
        event_type=MANAGEMENT_API_CHANGE,
        granted=True,
        client_id=actor.client_id,
        subject=actor.subject,
        details={
            "action": action,
            "model": instance._meta.label_lower,
            "object_id": str(instance.pk),
            "object": str(instance)[:200],
            "changed": sorted(changed),
            **details,
        },
    )


def record_refusal(
    *, actor: Actor, action: str, instance: models.Model | None, model: type[models.Model], reason: str
) -> None:
    """A change the API refused for a reason worth seeing in the trail (an automation client
    reaching for the management API's own powers), committed whatever the request's outcome."""
    audit.record(
        event_type=MANAGEMENT_API_CHANGE,
        granted=False,
        client_id=actor.client_id,
        subject=actor.subject,
        reason=reason,
        details={
            "action": action,
            "model": model._meta.label_lower,
            "object_id": str(instance.pk) if instance is not None else "",
            "object": str(instance)[:200] if instance is not None else "",
        },
    )


def audited_values(instance: models.Model, names: Iterable[str]) -> dict[str, Any]:
    # The operator policy's secret fields are left out here as in the admin's events.
    return audit.field_values(instance, names, secret=secret_fields(type(instance)))


def _all_fields(instance: models.Model) -> list[str]:
    # What a caller could set: a non-editable column is the system's (a hash, a hint, a time).
    fields = [*instance._meta.concrete_fields, *instance._meta.many_to_many]
    return [field.name for field in fields if field.editable]


# The values of what is nested in an object (a trusted issuer's mappings), by field name.
RelatedValues = Callable[[Any], dict[str, Any]]


def _no_related_values(instance: Any) -> dict[str, Any]:
    return {}


@transaction.atomic
def save_object(
    *, serializer: BaseSerializer, actor: Actor, related_values: RelatedValues = _no_related_values
) -> models.Model:
    """Create or update the object of a validated serializer; the event has the values of the
    fields it was given, before and after (``related_values``: those nested in it)."""
    fields = list(serializer.validated_data)

    def values_of(instance: models.Model) -> dict[str, Any]:
        related = {name: value for name, value in related_values(instance).items() if name in fields}
        return {**audited_values(instance, fields), **related}

    if serializer.instance is None:
        instance = serializer.save()
        values = audit.changes({}, values_of(instance))
        record_change(actor=actor, action="added", instance=instance, values=values)
    else:
        before = values_of(serializer.instance)
        instance = serializer.save()
        values = audit.changes(before, values_of(instance))
        record_change(actor=actor, action="changed", instance=instance, changed=fields, values=values)
    return instance


@transaction.atomic
def delete_object(*, instance: models.Model, actor: Actor, related_values: RelatedValues = _no_related_values) -> None:
    """Delete as the admin does: with everything that cascades from it (a client's tokens,
    codes and exchange policies; the tokens exchanged from those tokens; an issuer's
    mappings), counted in the event."""
    pk = instance.pk
    before = {**audited_values(instance, _all_fields(instance)), **related_values(instance)}
    _total, deleted = instance.delete()
    instance.pk = pk  # delete() clears it; the event names the row that was
    values = audit.changes(before, dict.fromkeys(before))
    record_change(actor=actor, action="deleted", instance=instance, deleted=deleted, values=values)


@transaction.atomic
def create_client(
    *,
    actor: Actor,
    name: str,
    client_type: str,
    allowed_grant_types: Sequence[str] = (),
    allowed_scopes: Sequence[ApiScope] = (),
    redirect_uris: Sequence[str] = (),
    post_logout_redirect_uris: Sequence[str] = (),
    resource: ApiResource | None = None,
    skip_authorization: bool = False,
    is_active: bool = True,
    one_token_per_audience: bool = False,
    require_second_factor: bool = False,
    jwks: dict[str, Any] | None = None,
    jwks_uri: str = "",
    require_pushed_authorization_requests: bool = False,
    dpop_bound_access_tokens: bool = False,
) -> ClientCredentials:
    """A new client with a fresh secret (returned once; stored hashed), or, registered with
    its public keys, none: it authenticates with private_key_jwt (a secret can be rotated in)."""
    credentials = save_client(
        jwks=jwks,
        jwks_uri=jwks_uri,
        with_secret=jwks is None and not jwks_uri,
        name=name,
        client_type=client_type,
        grant_types=allowed_grant_types,
        scopes=[scope.name for scope in allowed_scopes],
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=post_logout_redirect_uris,
        resource=resource.audience if resource is not None else None,
        skip_authorization=skip_authorization,
    )
    client = credentials.client
    # Settings save_client leaves at their defaults.
    options = {
        "is_active": is_active,
        "one_token_per_audience": one_token_per_audience,
        "require_second_factor": require_second_factor,
        "require_pushed_authorization_requests": require_pushed_authorization_requests,
        "dpop_bound_access_tokens": dpop_bound_access_tokens,
    }
    changed = [name for name, value in options.items() if getattr(client, name) != value]
    if changed:
        for name in changed:
            setattr(client, name, options[name])
        client.save(update_fields=[*changed, "updated"])
    record_change(actor=actor, action="added", instance=client)
    return credentials


@transaction.atomic
def remove_secret(*, client: Application, actor: Actor) -> None:
    """The last step of moving a client to private_key_jwt: its secret stops working at once.
    ``ValueError`` when it has no keys to authenticate with instead."""
    remove_client_secret(client=client, removed_by=actor.subject)
    record_change(actor=actor, action="changed", instance=client, changed=["client_secret"])


@transaction.atomic
def rotate_secret(*, client: Application, actor: Actor, grace_period: timedelta = NO_GRACE) -> str:
    """A new secret for a confidential client; the old one keeps working for ``grace_period``."""
    secret = rotate_client_secret(client=client, grace_period=grace_period, rotated_by=actor.subject)
    record_change(actor=actor, action="changed", instance=client, changed=["client_secret"])
    return secret
