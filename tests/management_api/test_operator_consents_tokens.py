"""Operator accounts (staff or superuser) are acted on by a superuser, in the admin, never by
automation: their consents and their tokens are refused (403, audited) as their accounts are
(tests/management_api/test_users.py)."""

import pytest
from django.contrib.auth import get_user_model

from apps.audit import services as audit
from apps.audit.models import AuditEvent, Outcome
from apps.consent.models import Consent
from apps.consent.services import remember_consent
from apps.management_api.services import MANAGEMENT_API_CHANGE
from apps.oauth.models import AccessToken
from apps.tokens.issuance import issue_user_token

pytestmark = pytest.mark.django_db

User = get_user_model()
REFUSED = {
    "detail": "The management API does not act on operator accounts (staff or superuser): "
    "a superuser does, in the admin."
}
OPERATORS = {"staff": {"is_staff": True}, "superuser": {"is_staff": True, "is_superuser": True}}


@pytest.fixture(params=OPERATORS)
def operator(request):
    return User.objects.create_user(
        f"ops-{request.param}", password="pw-for-tests-only-123", **OPERATORS[request.param]
    )


def test_an_operators_token_is_not_revoked(api, web, operator, automation):
    issued = issue_user_token(client=web.client, user=operator, scopes=["eventcatalog.read"])
    response = api("post", f"tokens/{issued.jti}/revoke/")
    assert (response.status_code, response.json()) == (403, REFUSED)
    assert AccessToken.objects.filter(jti=issued.jti).exists()
    (event,) = AuditEvent.objects.filter(event_type=MANAGEMENT_API_CHANGE)
    assert (event.outcome, event.reason, event.subject, event.client_id) == (
        Outcome.REFUSED,
        "operator account",
        operator.username,
        "automation",
    )


def test_an_operators_consent_is_not_revoked(api, web, operator):
    consent = remember_consent(user=operator, application=web.client, scopes=["openid"])
    issued = issue_user_token(client=web.client, user=operator, scopes=["eventcatalog.read"])
    response = api("delete", f"consents/{consent.pk}/")
    assert (response.status_code, response.json()) == (403, REFUSED)
    assert Consent.objects.filter(pk=consent.pk).exists()
    assert AccessToken.objects.filter(jti=issued.jti).exists()
    (event,) = AuditEvent.objects.filter(event_type=audit.CONSENT_REVOKED)
    assert (event.outcome, event.reason, event.subject) == (Outcome.REFUSED, "operator account", operator.username)


def test_a_persons_token_and_consent_and_a_clients_own_token_still_are(
    api, web, alice, make_client, client_credentials_token
):
    consent = remember_consent(user=alice, application=web.client, scopes=["openid"])
    issued = issue_user_token(client=web.client, user=alice, scopes=["eventcatalog.read"])
    assert api("post", f"tokens/{issued.jti}/revoke/").status_code == 200
    assert api("delete", f"consents/{consent.pk}/").status_code == 204
    service = make_client("reader", scopes=["eventcatalog.read"])
    client_credentials_token(service)
    own = AccessToken.objects.get(application=service.client)
    assert api("post", f"tokens/{own.jti}/revoke/").status_code == 200
