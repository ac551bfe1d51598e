"""Remembered consent: checking, recording and revoking it."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.audit import services as audit
from apps.consent.models import Consent
from apps.oauth.models import Application
from apps.resources.models import ApiResource, ApiScope
from apps.tokens.revocation import revoke_client_tokens
from idp.conf import idp_settings


@dataclass(frozen=True)
class ScopeGroup:
    """Requested scopes of one API (or the identity scopes, ``resource=None``) for the consent screen."""

    resource: ApiResource | None
    scopes: list[ApiScope]


def consent_covers(*, user, application: Application, scopes: Iterable[str]) -> bool:
    """True if an unexpired consent already includes every requested scope."""
    consent = Consent.objects.filter(user=user, application=application, expires_at__gt=timezone.now()).first()
    return consent is not None and set(scopes) <= set(consent.scope_list)


@transaction.atomic
def remember_consent(*, user, application: Application, scopes: Sequence[str]) -> Consent:
    """Record an approval; scopes approved earlier and still valid are kept alongside."""
    now = timezone.now()
    consent = Consent.objects.select_for_update().filter(user=user, application=application).first()
    approved = set(scopes)
    if consent is not None and consent.is_active():
        approved |= set(consent.scope_list)
    consent = consent or Consent(user=user, application=application)
    consent.scopes = " ".join(sorted(approved))
    consent.granted_at = now
    consent.expires_at = now + timedelta(days=idp_settings.CONSENT_LIFETIME_DAYS)
    consent.save()
    audit.record_for_user(audit.CONSENT_GIVEN, user, client_id=application.client_id, scopes=sorted(scopes))
    return consent


@transaction.atomic
def revoke_consent(*, user, application: Application) -> None:
    """Forget the consent and revoke everything the client holds for the user: codes not yet
    redeemed, refresh tokens (so it cannot come back silently) and access tokens (with the
    tokens exchanged from them)."""
    Consent.objects.filter(user=user, application=application).delete()
    revoke_client_tokens(user=user, application=application)
    audit.record_for_user(audit.CONSENT_REVOKED, user, client_id=application.client_id)


def group_scopes(names: Iterable[str]) -> list[ScopeGroup]:
    """Requested scopes grouped by API, identity scopes first, for the consent screen."""
    scopes = ApiScope.objects.filter(name__in=list(names)).select_related("resource").order_by("name")
    groups: dict[int | None, ScopeGroup] = {}
    for scope in scopes:
        key = scope.resource_id
        if key not in groups:
            groups[key] = ScopeGroup(resource=scope.resource, scopes=[])
        groups[key].scopes.append(scope)
    return sorted(groups.values(), key=lambda g: (g.resource is not None, g.resource and g.resource.name))
