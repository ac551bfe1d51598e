"""Creating clients and rotating their secrets. The plaintext secret is returned once."""

from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from apps.clients.secrets import generate_client_secret
from apps.oauth.models import Application
from apps.resources.models import ApiResource, ApiScope


@dataclass(frozen=True)
class ClientCredentials:
    client: Application
    client_secret: str  # plaintext, shown once; empty for public clients

    def as_dict(self) -> dict:
        return {
            "client_id": self.client.client_id,
            "client_secret": self.client_secret,
            "redirect_uris": self.client.redirect_uris.split(),
            "scopes": [scope.name for scope in self.client.allowed_scopes.order_by("name")],
        }


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
) -> ClientCredentials:
    """Create a client, or reconfigure the one with ``client_id``, with a fresh secret.

    Raises ``ValidationError`` for unknown scopes, resources or an invalid configuration.
    """
    secret = generate_client_secret() if client_type == Application.CLIENT_CONFIDENTIAL else ""
    client = Application.objects.filter(client_id=client_id).first() if client_id else None
    client = client or Application(**({"client_id": client_id} if client_id else {}))
    client.name = name
    client.client_type = client_type
    client.allowed_grant_types = list(dict.fromkeys(grant_types))
    client.redirect_uris = " ".join(redirect_uris)
    client.post_logout_redirect_uris = " ".join(post_logout_redirect_uris)
    client.resource = _resource_by_audience(resource)
    client.skip_authorization = skip_authorization
    client.algorithm = Application.RS256_ALGORITHM
    client.client_secret = secret
    client.full_clean(exclude=["client_secret", "client_id"])
    client.save()
    client.allowed_scopes.set(_scopes_by_name(scopes))
    return ClientCredentials(client=client, client_secret=secret)


def rotate_client_secret(*, client: Application) -> str:
    """Replace the client's secret; the old one stops working at once."""
    secret = generate_client_secret()
    client.client_secret = secret
    client.save(update_fields=["client_secret", "secret_hint", "updated"])
    return secret
