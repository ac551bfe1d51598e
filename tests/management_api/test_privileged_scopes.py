"""Automation never grants the management API's powers, nor takes over a client that holds
them (apps/resources/privileged.py): every way a write token could do either is 403, audited,
and changes nothing. A superuser does it in the admin (tests/console/test_privileged_scopes.py)."""

import pytest

from apps.audit.models import AuditEvent, Outcome
from apps.management_api.authentication import READ_SCOPE, WRITE_SCOPE
from apps.management_api.services import MANAGEMENT_API_CHANGE
from apps.oauth.models import ExchangePolicy
from apps.resources.models import ApiResource, ApiScope
from apps.resources.privileged import MANAGEMENT_API_AUDIENCE
from tests.console.test_privileged_scopes import state

pytestmark = pytest.mark.django_db

REFUSED = {
    "detail": "The idp-admin API's scopes are granted by a superuser, in the admin: the management API neither "
    "grants them nor changes, deletes or rotates the secret of a client or policy that holds them."
}
ORDINARY = {"name": "reporting", "client_type": "confidential", "allowed_grant_types": ["client_credentials"]}


@pytest.fixture
def other_automation(make_client):
    """Another client a superuser granted the management API's scopes."""
    return make_client("deployer", scopes=[READ_SCOPE]).client


@pytest.fixture
def admin_policy(web) -> ExchangePolicy:
    policy = ExchangePolicy.objects.create(
        client=web.client, target=ApiResource.objects.get(audience=MANAGEMENT_API_AUDIENCE)
    )
    policy.scopes.set(ApiScope.objects.filter(name=READ_SCOPE))
    return policy


@pytest.fixture
def ordinary_policy(basket_policy) -> ExchangePolicy:
    return basket_policy


def policy(client_id: str, target: str, *scopes: str) -> dict:
    return {"client": client_id, "target": target, "scopes": list(scopes)}


# method, path, body: each from the fixtures (w: web, the caller's own kind of ordinary client;
# a: the automation client calling, o: another automation client, p: a policy into idp-admin,
# q: an ordinary policy).
PATHS = {
    "POST clients/ (scopes)": lambda w, a, o, p, q: (
        "post", "clients/", {**ORDINARY, "allowed_scopes": [READ_SCOPE, WRITE_SCOPE]}
    ),
    "POST clients/ (one scope)": lambda w, a, o, p, q: (
        "post", "clients/", {**ORDINARY, "allowed_scopes": [READ_SCOPE]}
    ),
    "POST clients/ (resource)": lambda w, a, o, p, q: ("post", "clients/", {**ORDINARY, "resource": "idp-admin"}),
    "PATCH clients/ordinary (scopes)": lambda w, a, o, p, q: (
        "patch", f"clients/{w}/", {"allowed_scopes": ["openid", WRITE_SCOPE]}
    ),
    "PATCH clients/ordinary (resource)": lambda w, a, o, p, q: ("patch", f"clients/{w}/", {"resource": "idp-admin"}),
    "PUT clients/ordinary": lambda w, a, o, p, q: (
        "put", f"clients/{w}/", {"name": "web", "client_type": "confidential", "allowed_scopes": [READ_SCOPE]}
    ),
    "PATCH clients/privileged": lambda w, a, o, p, q: (
        "patch", f"clients/{o}/", {"redirect_uris": ["https://evil.test/cb"]}
    ),
    "PUT clients/privileged": lambda w, a, o, p, q: (
        "put", f"clients/{o}/", {"name": "deployer", "client_type": "confidential", "allowed_scopes": []}
    ),
    "DELETE clients/privileged": lambda w, a, o, p, q: ("delete", f"clients/{o}/", None),
    "DELETE clients/itself": lambda w, a, o, p, q: ("delete", f"clients/{a}/", None),
    "rotate-secret of another": lambda w, a, o, p, q: ("post", f"clients/{o}/rotate-secret/", None),
    "rotate-secret of itself": lambda w, a, o, p, q: (
        "post", f"clients/{a}/rotate-secret/", {"grace_period_seconds": 3600}
    ),
    "POST exchange-policies/": lambda w, a, o, p, q: (
        "post", "exchange-policies/", policy(a, "idp-admin", WRITE_SCOPE)
    ),
    "PATCH exchange-policies/ordinary": lambda w, a, o, p, q: (
        "patch", f"exchange-policies/{q}/", {"target": "idp-admin", "scopes": [READ_SCOPE]}
    ),
    "PATCH exchange-policies/privileged": lambda w, a, o, p, q: (
        "patch", f"exchange-policies/{p}/", {"max_depth": 3}
    ),
    "PUT exchange-policies/privileged": lambda w, a, o, p, q: (
        "put", f"exchange-policies/{p}/", policy(w, "idp-admin", READ_SCOPE)
    ),
    "DELETE exchange-policies/privileged": lambda w, a, o, p, q: ("delete", f"exchange-policies/{p}/", None),
}  # fmt: skip


@pytest.mark.parametrize("path", PATHS)
def test_every_way_to_grant_or_take_over_the_management_apis_powers_is_403(
    path, api, automation, other_automation, admin_policy, ordinary_policy, web
):
    before = state()
    method, url, body = PATHS[path](
        web.client.client_id,
        automation.client.client_id,
        other_automation.client_id,
        admin_policy.pk,
        ordinary_policy.pk,
    )
    response = api(method, url, body)
    assert (response.status_code, response.json()) == (403, REFUSED)
    assert "client_secret" not in response.content.decode()
    assert state() == before
    # Refused, in the trail, by the calling client; nothing was recorded as changed.
    (event,) = AuditEvent.objects.filter(event_type=MANAGEMENT_API_CHANGE)
    assert (event.outcome, event.reason, event.client_id) == (Outcome.REFUSED, "privileged", "automation")


def test_ordinary_clients_and_policies_are_still_managed(api, apis, web, ordinary_policy):
    assert api("post", "clients/", {**ORDINARY, "allowed_scopes": ["eventcatalog.read"]}).status_code == 201
    assert api("patch", f"clients/{web.client.client_id}/", {"resource": "discount"}).status_code == 200
    assert api("post", f"clients/{web.client.client_id}/rotate-secret/").status_code == 200
    assert api("patch", f"exchange-policies/{ordinary_policy.pk}/", {"max_depth": 2}).status_code == 200
    assert api("delete", f"exchange-policies/{ordinary_policy.pk}/").status_code == 204
    assert not AuditEvent.objects.filter(event_type=MANAGEMENT_API_CHANGE, outcome=Outcome.REFUSED).exists()
