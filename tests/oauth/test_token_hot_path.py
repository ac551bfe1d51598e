"""The token endpoint's hot path: fixed query counts, a configuration cache that is never
stale, rows inserted exactly as save() would, and no browser middleware."""

import hashlib
import re

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext

from apps.audit import services as audit
from apps.audit.models import AuditEvent
from apps.clients.config_cache import GENERATION_ROW
from apps.clients.services import rotate_client_secret
from apps.oauth.models import AccessToken, Application, ConfigGeneration
from apps.resources.models import ApiResource, ApiScope
from apps.resources.services import plan_token
from apps.tokens.issuance import access_token_row, issue_access_token, store_access_token
from idp.sql import insert_rows
from tests.support.http import JWKS_URL, TOKEN_URL, basic_auth, form_post, oauth_error
from tests.support.tokens import ACCESS_TOKEN_TYPE, TOKEN_EXCHANGE

CC = {"grant_type": "client_credentials", "scope": "eventcatalog.read"}


@pytest.fixture
def catalog_admin(apis, make_client):
    return make_client("catalog-admin", scopes=["eventcatalog.read", "eventcatalog.write"])


def data_statements(queries) -> list[str]:
    """The SELECT/INSERT/UPDATE/DELETE statements run (not transaction control, which
    differs between databases)."""
    statements = [query["sql"] for query in queries.captured_queries]
    return [sql for sql in statements if re.match(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b", sql, re.I)]


def generation() -> int:
    return ConfigGeneration.objects.get(pk=GENERATION_ROW).value


@pytest.mark.django_db
def test_client_credentials_runs_two_statements(token_request, catalog_admin):
    token_request(catalog_admin, CC)  # loads the client's configuration into this process
    with CaptureQueriesContext(connection) as queries:
        response = token_request(catalog_admin, CC)
    assert response.status_code == 200
    select, insert = data_statements(queries)
    # 1. the client's secret and enabled flag, with the configuration generation
    assert select.startswith("SELECT") and "oauth_application" in select and "oauth_configgeneration" in select
    # 2. the token's row (checksum, audience, expiry) for revocation and introspection
    assert insert.startswith('INSERT INTO "oauth_accesstoken"')


@pytest.mark.django_db
def test_token_exchange_reads_two_rows_and_writes_two(token_request, basket, basket_policy, alice_token):
    exchange = {
        "grant_type": TOKEN_EXCHANGE,
        "subject_token": alice_token,
        "subject_token_type": ACCESS_TOKEN_TYPE,
        "scope": "discount.fullaccess",
    }
    # The first exchange creates the ES256 keys, which reloads the published keys once more.
    for _ in range(2):
        assert token_request(basket, exchange).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        response = token_request(basket, exchange)
    assert response.status_code == 200
    client_row, subject_row, *writes = data_statements(queries)
    assert "oauth_application" in client_row
    assert "oauth_accesstoken" in subject_row and "auth_user" in subject_row  # revoked? user enabled?
    if connection.vendor == "postgresql":
        # The token and its audit event in one statement, atomic by itself: no COMMIT round trip.
        (both,) = writes
        assert both.startswith('WITH row0 AS (INSERT INTO "oauth_accesstoken"')
        assert 'INSERT INTO "audit_auditevent"' in both
    else:
        token_row, audit_row = writes
        assert token_row.startswith('INSERT INTO "oauth_accesstoken"')
        assert audit_row.startswith('INSERT INTO "audit_auditevent"')


@pytest.mark.django_db
def test_every_configuration_change_moves_the_generation(apis, catalog_admin, basket_policy):
    seen = {generation()}
    changes = [
        lambda: catalog_admin.client.allowed_scopes.remove(ApiScope.objects.get(name="eventcatalog.write")),
        lambda: catalog_admin.client.save(),
        lambda: ApiResource.objects.filter(audience="eventcatalog").first().save(),
        lambda: ApiScope.objects.create(name="eventcatalog.audit", resource=apis["eventcatalog"]),
        lambda: basket_policy.scopes.clear(),
        lambda: basket_policy.subject_audiences.add(apis["eventcatalog"]),
        lambda: basket_policy.delete(),
    ]
    for change in changes:
        change()
        seen.add(generation())
    assert len(seen) == len(changes) + 1


@pytest.mark.django_db
def test_removed_scope_is_refused_on_the_next_request(token_request, catalog_admin):
    assert token_request(catalog_admin, CC).status_code == 200
    catalog_admin.client.allowed_scopes.remove(ApiScope.objects.get(name="eventcatalog.read"))
    assert oauth_error(token_request(catalog_admin, CC)) == (400, "invalid_scope")


@pytest.mark.django_db
def test_resource_lifetime_change_applies_on_the_next_request(token_request, catalog_admin, apis):
    assert token_request(catalog_admin, CC).json()["expires_in"] == apis["eventcatalog"].access_token_lifetime
    apis["eventcatalog"].access_token_lifetime = 123
    apis["eventcatalog"].save()
    assert token_request(catalog_admin, CC).json()["expires_in"] == 123


@pytest.mark.django_db
def test_change_made_by_another_process_is_seen(token_request, catalog_admin):
    """Another process's change reaches this one only through the database: a scope renamed
    without signals here, then the generation moved, as the other process's signal does."""
    assert token_request(catalog_admin, CC).status_code == 200
    ApiScope.objects.filter(name="eventcatalog.read").update(name="eventcatalog.view")
    assert token_request(catalog_admin, CC).status_code == 200  # same generation: cached
    ConfigGeneration.objects.filter(pk=GENERATION_ROW).update(value=F("value") + 1)
    assert oauth_error(token_request(catalog_admin, CC)) == (400, "invalid_scope")
    assert token_request(catalog_admin, {**CC, "scope": "eventcatalog.view"}).status_code == 200


@pytest.mark.django_db
def test_disabling_a_client_applies_at_once_even_without_signals(token_request, catalog_admin):
    assert token_request(catalog_admin, CC).status_code == 200
    Application.objects.filter(pk=catalog_admin.client.pk).update(is_active=False)  # no signal
    assert oauth_error(token_request(catalog_admin, CC)) == (401, "invalid_client")


@pytest.mark.django_db
def test_rotated_secret_applies_at_once(client, token_request, catalog_admin):
    assert token_request(catalog_admin, CC).status_code == 200
    new_secret = rotate_client_secret(client=Application.objects.get(pk=catalog_admin.client.pk))
    assert oauth_error(token_request(catalog_admin, CC)) == (401, "invalid_client")
    response = form_post(
        client, TOKEN_URL, CC, HTTP_AUTHORIZATION=basic_auth(catalog_admin.client.client_id, new_secret)
    )
    assert response.status_code == 200


@pytest.mark.django_db
def test_missing_generation_row_means_no_caching(token_request, catalog_admin):
    ConfigGeneration.objects.all().delete()
    assert token_request(catalog_admin, CC).status_code == 200
    ApiScope.objects.filter(name="eventcatalog.read").update(name="eventcatalog.view")  # no signal
    assert oauth_error(token_request(catalog_admin, CC)) == (400, "invalid_scope")


@pytest.mark.django_db
def test_inserted_row_is_what_save_would_store(apis, catalog_admin):
    client = catalog_admin.client
    plan = plan_token(allowed_scopes=client.allowed_scope_objects(), requested_scopes=["eventcatalog.read"])
    issued = issue_access_token(client_id=client.client_id, user=None, plan=plan)
    insert_rows(access_token_row(issued=issued, application=client, user=None))  # as the token endpoint does
    row = AccessToken.objects.get(jti=issued.jti)
    assert row.token == ""  # RFC 9700: never the bearer token itself
    assert row.token_checksum == hashlib.sha256(issued.token.encode()).hexdigest()
    assert (row.application_id, row.user_id, row.parent_id) == (client.pk, None, None)
    assert (row.subject, row.audience, row.scope) == (client.client_id, ["eventcatalog"], "eventcatalog.read")
    assert row.expires == issued.expires_at and row.act is None and row.resource == []
    assert row.created is not None and row.updated is not None


@pytest.mark.django_db
def test_service_endpoints_skip_sessions_but_keep_security_headers(client, token_request, catalog_admin):
    response = token_request(catalog_admin, CC)
    assert response.status_code == 200
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "no-store" and response["Pragma"] == "no-cache"
    assert not response.cookies  # no session or CSRF cookie for a service
    assert client.get(JWKS_URL).status_code == 200


@pytest.mark.django_db
def test_service_endpoint_without_trailing_slash_takes_the_usual_path(client, catalog_admin):
    response = form_post(client, TOKEN_URL.rstrip("/"), CC)
    assert response.status_code in (301, 404)  # CommonMiddleware's APPEND_SLASH, never the view


@pytest.mark.django_db
def test_signal_less_change_is_seen_once_the_cache_is_old(settings, token_request, catalog_admin):
    settings.IDP = {**settings.IDP, "CLIENT_CONFIG_MAX_AGE_SECONDS": 0}
    assert token_request(catalog_admin, CC).status_code == 200
    ApiScope.objects.filter(name="eventcatalog.read").update(name="eventcatalog.view")  # no signal
    assert oauth_error(token_request(catalog_admin, CC)) == (400, "invalid_scope")


@pytest.mark.django_db
def test_responses_carry_content_length(token_request, catalog_admin):
    response = token_request(catalog_admin, CC)
    assert int(response["Content-Length"]) == len(response.content)


@pytest.mark.django_db
def test_query_parameters_are_refused(client, catalog_admin):
    response = form_post(
        client,
        TOKEN_URL + "?scope=eventcatalog.write",
        CC,
        HTTP_AUTHORIZATION=basic_auth(catalog_admin.client.client_id, catalog_admin.client_secret),
    )
    assert oauth_error(response) == (400, "invalid_request")


@pytest.mark.django_db
@pytest.mark.parametrize("client_id", ["a\x00b", "x" * 300, "tab\there"])
def test_unusable_client_id_in_basic_header_is_invalid_client(client, apis, client_id):
    response = form_post(client, TOKEN_URL, CC, HTTP_AUTHORIZATION=basic_auth(client_id, "secret"))
    assert oauth_error(response) == (401, "invalid_client")


@pytest.mark.django_db
def test_non_ascii_basic_header_is_not_ignored_for_body_credentials(client, catalog_admin):
    body = {**CC, "client_id": catalog_admin.client.client_id, "client_secret": catalog_admin.client_secret}
    response = form_post(client, TOKEN_URL, body, HTTP_AUTHORIZATION="Basic dÃ©jà")
    assert oauth_error(response) == (401, "invalid_client")


def test_service_endpoints_are_found_under_a_script_prefix(rf):
    from django.urls import set_script_prefix

    from apps.endpoints.middleware import ServiceEndpointMiddleware

    middleware = ServiceEndpointMiddleware(lambda request: "passed on")
    set_script_prefix("/idp/")
    try:
        request = rf.get("/.well-known/jwks.json")
        assert middleware.matches()["/.well-known/jwks.json"].url_name == "jwks"
        assert middleware(rf.get("/accounts/login/")) == "passed on"
    finally:
        set_script_prefix("/")
    assert request.path_info == "/.well-known/jwks.json"


def test_unknown_service_endpoint_name_is_a_configuration_error(settings):
    from django.core.exceptions import ImproperlyConfigured

    from apps.endpoints.middleware import ServiceEndpointMiddleware

    settings.IDP = {**settings.IDP, "SERVICE_ENDPOINTS": ["no-such-url"]}
    with pytest.raises(ImproperlyConfigured):
        ServiceEndpointMiddleware(lambda request: None).matches()


@pytest.mark.django_db
def test_a_new_row_stores_every_column_as_a_model_save_would(apis, catalog_admin, alice):
    """idp.sql.NewRow adapts values without the fields' methods: for every column of the
    token's row (and the audit event's), the stored value is the one Model.save() stores."""
    client = catalog_admin.client
    plan = plan_token(allowed_scopes=client.allowed_scope_objects(), requested_scopes=["eventcatalog.read"])
    extra = {"act": {"sub": "basket", "act": {"sub": "gateway"}}, "acr": "urn:acr:x", "auth_time": 1_700_000_000}
    issued = issue_access_token(client_id=client.client_id, user=alice, plan=plan, extra_claims=extra, jkt="thumb")
    parent = store_access_token(issued=issued, application=client, user=alice)  # Model.save()
    twin = issue_access_token(client_id=client.client_id, user=alice, plan=plan, extra_claims=extra, jkt="thumb")
    insert_rows(access_token_row(issued=twin, application=client, user=alice, parent=parent))
    saved, inserted = AccessToken.objects.get(jti=issued.jti), AccessToken.objects.get(jti=twin.jti)
    differ = {"id", "jti", "token_checksum", "parent", "created", "updated", "expires"}
    for field in AccessToken._meta.concrete_fields:
        if field.name not in differ:
            assert getattr(inserted, field.attname) == getattr(saved, field.attname), field.name
    assert inserted.parent_id == parent.pk and inserted.expires == twin.expires_at
    assert inserted.token_checksum == hashlib.sha256(twin.token.encode()).hexdigest()
    assert abs((inserted.created - saved.created).total_seconds()) < 60

    details = {"policy": 1, "act": extra["act"], "name": "Zoë"}
    audit.write(
        audit.event(event_type="t", granted=False, client_id="c", audience=["a"], scopes=["s"], details=details)
    )
    AuditEvent.objects.create(
        event_type="t", outcome="refused", client_id="c", audience=["a"], scopes="s", details=details
    )
    written, created = AuditEvent.objects.order_by("pk")
    for field in AuditEvent._meta.concrete_fields:
        if field.name not in {"id", "created"}:
            assert getattr(written, field.attname) == getattr(created, field.attname), field.name
