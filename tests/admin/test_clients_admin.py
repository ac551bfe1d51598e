"""Operators manage clients in the admin; the secret is shown exactly once."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.audit.models import AuditEvent
from apps.oauth.models import Application, KeyState, SigningKey
from apps.resources.models import ApiScope
from tests.support.http import basic_auth, form_post


def new_client_form(apis, **overrides) -> dict:
    data = {
        "name": "reporting",
        "client_type": "confidential",
        "is_active": "on",
        "allowed_grant_types": ["client_credentials"],
        "allowed_scopes": [ApiScope.objects.get(name="eventcatalog.read").pk],
        "resource": "",
        "redirect_uris": "",
        "post_logout_redirect_uris": "",
    }
    data.update(overrides)
    return data


def shown_secret(response) -> str:
    match = re.search(r'<code class="client-secret">([^<]+)</code>', response.content.decode())
    assert match, "the secret page shows the secret"
    return match.group(1)


def test_new_client_secret_is_shown_once_and_works(admin_client, apis, client):
    response = admin_client.post("/admin/oauth/application/add/", new_client_form(apis))
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    secret = shown_secret(response)
    assert len(secret) >= 43
    app = Application.objects.get(name="reporting")
    assert app.client_secret != secret  # stored hashed
    token = form_post(
        client, "/o/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=basic_auth(app.client_id, secret)
    )
    assert token.status_code == 200

    # Afterwards, no admin page shows it; the hint is all there is.
    for path in (
        f"/admin/oauth/application/{app.pk}/change/",
        "/admin/oauth/application/",
        f"/admin/oauth/application/{app.pk}/history/",
        "/admin/audit/auditevent/",
        "/admin/",
    ):
        page = admin_client.get(path).content.decode()
        assert secret not in page, path
        assert app.client_secret not in page, path
    assert app.secret_hint == "…" + secret[-4:]
    assert app.secret_hint in admin_client.get("/admin/oauth/application/").content.decode()


def test_add_form_offers_grant_checkboxes_and_scopes_grouped_by_api(admin_client, apis):
    page = admin_client.get("/admin/oauth/application/add/").content.decode()
    assert 'type="checkbox" name="allowed_grant_types" value="urn:ietf:params:oauth:grant-type:token-exchange"' in page
    assert "OpenID identity scopes" in page
    assert "eventcatalog.read — eventcatalog.read description" in page
    assert 'name="client_secret"' not in page


def test_invalid_redirect_uri_is_a_form_error(admin_client, apis):
    form = new_client_form(
        apis, allowed_grant_types=["authorization_code"], redirect_uris="http://evil.test/cb", allowed_scopes=[]
    )
    response = admin_client.post("/admin/oauth/application/add/", form)
    assert response.status_code == 200
    assert "http only for loopback hosts" in response.content.decode()
    assert not Application.objects.exists()


def test_rotating_a_secret_shows_the_new_one_once(admin_client, apis, make_client, client):
    service = make_client("svc", scopes=["eventcatalog.read"])
    response = admin_client.post(
        "/admin/oauth/application/",
        {"action": "rotate_secret", "_selected_action": [service.client.pk], "post": "yes", "grace_period": "0"},
    )
    new_secret = shown_secret(response)
    old = form_post(
        client,
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(service.client.client_id, service.client_secret),
    )
    new = form_post(
        client,
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(service.client.client_id, new_secret),
    )
    assert (old.status_code, new.status_code) == (401, 200)


def test_admin_changes_are_audited(admin_client, apis):
    admin_client.post("/admin/oauth/application/add/", new_client_form(apis))
    event = AuditEvent.objects.get(event_type="admin.change")
    assert event.subject == "admin"
    assert event.details["action"] == "added"
    assert event.details["model"] == "oauth.application"
    assert event.details["object"] == "reporting"


def test_rotate_keys_action(admin_client, db):
    from apps.keys.services import get_signing_key

    old = get_signing_key("RS256").kid
    key = SigningKey.objects.get(kid=old)
    admin_client.post("/admin/oauth/signingkey/", {"action": "rotate", "_selected_action": [key.pk], "post": "yes"})
    assert SigningKey.objects.get(kid=old).state == KeyState.RETIRED
    assert get_signing_key("RS256").kid != old


@pytest.mark.parametrize("path", ["/admin/", "/admin/oauth/application/", "/admin/audit/auditevent/"])
def test_non_staff_users_get_no_admin_page(db, path):
    user = get_user_model().objects.create_user("plain", password="pw-plain-user")
    browser = Client()
    browser.force_login(user)
    response = browser.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_dashboard_counts_tokens_and_exchanges_of_the_last_day(admin_client, apis, make_client, client):
    from apps.audit import services as audit
    from apps.keys.services import get_signing_key
    from apps.ops import counters
    from apps.ops.models import TokenCount

    counters.flush()  # earlier tests' counts, pending in this process
    TokenCount.objects.all().delete()
    service = make_client("svc", scopes=["eventcatalog.read"])
    for _ in range(3):
        form_post(
            client,
            "/o/token/",
            {"grant_type": "client_credentials"},
            HTTP_AUTHORIZATION=basic_auth(service.client.client_id, service.client_secret),
        )
    audit.record(event_type=audit.EXCHANGE, granted=True)
    audit.record(event_type=audit.EXCHANGE, granted=False, reason="invalid_target: x")
    audit.record(event_type=audit.EXCHANGE, granted=False, reason="invalid_scope: y")
    get_signing_key("ES256")
    counters.flush()  # what a serving process's flusher does every few seconds

    page = admin_client.get("/admin/").content.decode()
    assert '<strong class="tokens-issued">3</strong>' in page
    assert '<strong class="exchanges-granted">1</strong>' in page
    assert '<strong class="exchanges-refused">2</strong>' in page
    assert page.count('class="key-age">active for 0 d 0 h') == 2  # RS256 and ES256
    assert "<svg" in page


def test_revoking_tokens_and_consents_in_the_admin_is_audited(admin_client, apis, make_client, client, db):
    from django.contrib.auth import get_user_model

    from apps.consent.models import Consent
    from apps.consent.services import remember_consent
    from apps.oauth.models import AccessToken

    service = make_client("svc", scopes=["eventcatalog.read"])
    form_post(
        client,
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(service.client.client_id, service.client_secret),
    )
    form_post(
        client,
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(service.client.client_id, service.client_secret),
    )
    selected = list(AccessToken.objects.values_list("pk", flat=True))
    admin_client.post("/admin/oauth/accesstoken/", {"action": "revoke_tokens", "_selected_action": selected})
    assert not AccessToken.objects.exists()

    user = get_user_model().objects.create_user("carol")
    consent = remember_consent(user=user, application=service.client, scopes=["eventcatalog.read"])
    admin_client.post("/admin/consent/consent/", {"action": "revoke", "_selected_action": [consent.pk]})
    assert not Consent.objects.exists()

    audited = [e.details["model"] for e in AuditEvent.objects.filter(event_type="admin.change")]
    assert audited.count("oauth.accesstoken") == 2  # one event per revoked token
    assert audited.count("consent.consent") == 1


def test_deleting_several_objects_at_once_audits_each(admin_client, apis):
    scopes = list(ApiScope.objects.filter(resource__audience="eventcatalog"))
    response = admin_client.post(
        "/admin/resources/apiscope/",
        {"action": "delete_selected", "_selected_action": [scope.pk for scope in scopes], "post": "yes"},
    )
    assert response.status_code == 302
    assert not ApiScope.objects.filter(pk__in=[scope.pk for scope in scopes]).exists()
    deleted = AuditEvent.objects.filter(event_type="admin.change", details__action="deleted")
    assert sorted(deleted.values_list("details__object", flat=True)) == sorted(scope.name for scope in scopes)
    assert {event.subject for event in deleted} == {"admin"}


def test_deleting_one_object_through_the_action_audits_it_once(admin_client, apis):
    scope = ApiScope.objects.get(name="eventcatalog.write")
    admin_client.post(
        "/admin/resources/apiscope/", {"action": "delete_selected", "_selected_action": [scope.pk], "post": "yes"}
    )
    deleted = AuditEvent.objects.filter(event_type="admin.change", details__action="deleted")
    assert list(deleted.values_list("details__object", flat=True)) == ["eventcatalog.write"]


def test_operators_require_a_second_factor_of_a_client_and_of_an_api(admin_client, apis):
    response = admin_client.post("/admin/oauth/application/add/", new_client_form(apis, require_second_factor="on"))
    assert response.status_code == 200
    assert Application.objects.get(name="reporting").require_second_factor is True

    api = apis["discount"]
    page = admin_client.get(f"/admin/resources/apiresource/{api.pk}/change/").content.decode()
    assert 'name="require_second_factor"' in page
    form = {
        "audience": api.audience,
        "resource_uri": api.resource_uri,
        "name": api.name,
        "enabled": "on",
        "access_token_lifetime": api.access_token_lifetime,
        "signing_algorithm": api.signing_algorithm,
        "user_claims": "[]",
        "store_tokens": "on",
        "require_second_factor": "on",
        "scopes-TOTAL_FORMS": "0",
        "scopes-INITIAL_FORMS": "0",
    }
    changed = admin_client.post(f"/admin/resources/apiresource/{api.pk}/change/", form)
    assert changed.status_code == 302, changed.context["adminform"].errors if changed.context else changed
    api.refresh_from_db()
    assert api.require_second_factor is True
