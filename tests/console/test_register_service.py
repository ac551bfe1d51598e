"""Register a service in one flow (apps/console/register.py): the API, its scopes, the client
acting as it and its exchange policies, in one transaction from one admin page."""

import ast
import html
import json
import re

import pytest
from django.contrib.auth.models import Permission
from django.template.loader import render_to_string

from apps.audit.models import AuditEvent
from apps.clients.services import ClientCredentials
from apps.console.register import REQUIRED_PERMISSIONS, SERVICE_REGISTERED
from apps.oauth.models import Application, ExchangeMode, ExchangePolicy, GrantType
from apps.resources.models import ApiResource, ApiScope
from apps.tokens.issuance import issue_user_token
from tests.support.admin import permissions, view_permissions
from tests.support.http import ISSUER, basic_auth, form_post
from tests.support.tokens import verify

URL = "/admin/register-service/"


def service_form(**overrides) -> dict:
    """The page's POST: the Payments API with two scopes, exchanging users' tokens into
    discount and calling eventcatalog as itself."""
    data = {
        "name": "Payments",
        "audience": "payments",
        "resource_uri": "urn:globoticket:payments",
        "client_id": "",
        "scopes-TOTAL_FORMS": "4",
        "scopes-INITIAL_FORMS": "0",
        "scopes-MIN_NUM_FORMS": "1",
        "scopes-MAX_NUM_FORMS": "1000",
        "scopes-0-name": "payments.read",
        "scopes-0-description": "Read payments",
        "scopes-1-name": "payments.write",
        "scopes-1-description": "Make payments",
        "calls_on_behalf": "on",
        "exchange_scopes": [str(ApiScope.objects.get(name="discount.fullaccess").pk)],
        "calls_as_itself": "on",
        "client_credentials_scopes": [str(ApiScope.objects.get(name="eventcatalog.read").pk)],
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def created() -> dict[str, int]:
    return {
        "apis": ApiResource.objects.count(),
        "scopes": ApiScope.objects.count(),
        "clients": Application.objects.count(),
        "policies": ExchangePolicy.objects.count(),
        "registered": AuditEvent.objects.filter(event_type=SERVICE_REGISTERED).count(),
    }


def shown_secret(response) -> str:
    match = re.search(r'<code class="client-secret">([^<]+)</code>', response.content.decode())
    assert match, "the page shows the secret"
    return match.group(1)


def test_one_post_creates_the_api_its_client_and_policies_and_shows_the_configuration(admin_client, admin_user, apis):
    response = admin_client.post(URL, service_form())

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    api = ApiResource.objects.get(audience="payments")
    assert (api.name, api.resource_uri) == ("Payments", "urn:globoticket:payments")
    assert {(s.name, s.description) for s in api.scopes.all()} == {
        ("payments.read", "Read payments"),
        ("payments.write", "Make payments"),
    }
    client = Application.objects.get(resource=api)
    assert client.client_id == "payments"  # readable, from the name
    assert client.client_type == Application.CLIENT_CONFIDENTIAL
    assert client.allowed_grant_types == [GrantType.TOKEN_EXCHANGE, GrantType.CLIENT_CREDENTIALS]
    assert [s.name for s in client.allowed_scopes.all()] == ["eventcatalog.read"]
    policy = ExchangePolicy.objects.get(client=client)
    assert policy.target == apis["discount"]
    assert [s.name for s in policy.scopes.all()] == ["discount.fullaccess"]
    assert (policy.mode, policy.max_depth, policy.enabled) == (ExchangeMode.DELEGATION, 1, True)
    assert not policy.subject_audiences.exists()  # the client's own API: payments

    secret = shown_secret(response)
    assert client.client_secret != secret  # stored hashed
    configuration = re.search(r'<pre id="service-configuration">(.*?)</pre>', response.content.decode(), re.S)
    assert configuration is not None
    text = html.unescape(configuration.group(1))
    for line in (
        f'"ISSUER": "{ISSUER}",',
        '"AUDIENCE": "payments",',
        f'"JWKS_URI": "{ISSUER}/.well-known/jwks.json",',
        f'IDP_TOKEN_ENDPOINT = "{ISSUER}/o/token/"',
        'IDP_CLIENT_ID = "payments"',
        f'IDP_CLIENT_SECRET = "{secret}"',
        'token_client.on_behalf_of(caller_token, audience="discount")  # discount.fullaccess',
        'token_client.client_credentials(scope="eventcatalog.read")',
        "HasScopes' required_scopes: payments.read payments.write",
    ):
        assert line in text, line

    # Audited once, by type and content; never the secret.
    event = AuditEvent.objects.get(event_type=SERVICE_REGISTERED)
    assert (event.outcome, event.client_id, event.subject) == ("granted", "payments", admin_user.username)
    assert event.audience == ["payments"]
    assert event.scopes == "payments.read payments.write"
    assert event.details == {
        "name": "Payments",
        "resource_uri": "urn:globoticket:payments",
        "grant_types": [GrantType.TOKEN_EXCHANGE, GrantType.CLIENT_CREDENTIALS],
        "client_credentials_scopes": ["eventcatalog.read"],
        "policies": [{"target": "discount", "scopes": ["discount.fullaccess"]}],
    }
    # Each object's history says it was added, as its own admin page would.
    added = AuditEvent.objects.filter(event_type="admin.change", details__action="added")
    assert sorted(e.details["model"] for e in added) == [
        "oauth.application",
        "oauth.exchangepolicy",
        "resources.apiresource",
    ]
    trail = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert secret not in trail and client.client_secret not in trail


def test_the_registered_service_works_at_the_token_endpoint(admin_client, apis, web, alice, client, exchange):
    response = admin_client.post(URL, service_form(client_id="payments-service"))
    secret = shown_secret(response)
    service = Application.objects.get(client_id="payments-service")

    # As itself: client credentials, for the scope chosen.
    token = form_post(
        client,
        "/o/token/",
        {"grant_type": "client_credentials"},
        HTTP_AUTHORIZATION=basic_auth(service.client_id, secret),
    )
    assert token.status_code == 200
    assert verify(client, token.json()["access_token"], "eventcatalog")["scope"] == "eventcatalog.read"

    # On alice's behalf: her token for payments, exchanged into discount; act names the service.
    web.client.allowed_scopes.add(ApiScope.objects.get(name="payments.read"))
    alice_token = issue_user_token(client=web.client, user=alice, scopes=["payments.read"]).token

    exchanged = exchange(ClientCredentials(client=service, client_secret=secret), alice_token, audience="discount")
    assert exchanged.status_code == 200, exchanged.content
    claims = verify(client, exchanged.json()["access_token"], "discount")
    assert (claims["sub"], claims["act"], claims["scope"]) == (
        str(alice.pk),
        {"sub": "payments-service"},
        "discount.fullaccess",
    )


def test_a_service_that_calls_nothing_gets_a_client_that_only_introspects(admin_client, apis):
    response = admin_client.post(
        URL,
        service_form(calls_on_behalf=None, exchange_scopes=None, calls_as_itself=None, client_credentials_scopes=None),
    )
    assert response.status_code == 200
    client = Application.objects.get(client_id="payments")
    assert client.allowed_grant_types == []
    assert client.resource.audience == "payments"
    assert not ExchangePolicy.objects.exists()
    assert AuditEvent.objects.get(event_type=SERVICE_REGISTERED).details["policies"] == []


def test_one_policy_per_target_api(admin_client, apis):
    scopes = ApiScope.objects.filter(name__in=["discount.fullaccess", "eventcatalog.read", "eventcatalog.write"])
    admin_client.post(URL, service_form(exchange_scopes=[str(s.pk) for s in scopes]))
    policies = {p.target.audience: sorted(s.name for s in p.scopes.all()) for p in ExchangePolicy.objects.all()}
    assert policies == {
        "discount": ["discount.fullaccess"],
        "eventcatalog": ["eventcatalog.read", "eventcatalog.write"],
    }
    assert AuditEvent.objects.get(event_type=SERVICE_REGISTERED).details["policies"] == [
        {"target": "discount", "scopes": ["discount.fullaccess"]},
        {"target": "eventcatalog", "scopes": ["eventcatalog.read", "eventcatalog.write"]},
    ]


def test_the_client_id_is_made_from_the_name_with_a_suffix_when_taken(admin_client, apis, make_client):
    make_client("Shopping basket")  # takes shopping-basket
    admin_client.post(URL, service_form(name="Shopping basket", audience="basket2", resource_uri="urn:test:basket2"))
    assert Application.objects.get(resource__audience="basket2").client_id == "shopping-basket-2"


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"audience": "discount"}, "audience", "API resource with this Audience already exists."),
        ({"resource_uri": "urn:test:discount"}, "resource_uri", "API resource with this Resource URI already exists."),
        ({"resource_uri": "not a uri"}, "resource_uri", "Must be an absolute URI without a fragment"),
        ({"audience": "bad audience"}, "audience", "Use letters, digits"),
        ({"client_id": "bad:id"}, "client_id", "Use letters, digits, &#x27;.&#x27;, &#x27;_&#x27; or &#x27;-&#x27;"),
        ({"scopes-0-name": "discount.fullaccess"}, "scopes", "A scope with this name exists."),
        ({"scopes-1-name": "payments.read"}, "scopes", "A scope is named twice: payments.read."),
        ({"scopes-0-name": "", "scopes-0-description": "", "scopes-1-name": "", "scopes-1-description": ""},
         "scopes", "Please submit at least 1 form."),
        ({"exchange_scopes": None}, "exchange_scopes", "Choose the scopes it needs."),
        ({"calls_as_itself": None}, "calls_as_itself", "Tick this for the scopes chosen below, or clear them."),
        ({"name": ""}, "name", "This field is required."),
    ],
)  # fmt: skip
def test_invalid_input_is_a_form_error_and_creates_nothing(admin_client, apis, make_client, overrides, field, message):
    before = created()
    response = admin_client.post(URL, service_form(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode(), field
    assert "client-secret" not in response.content.decode()
    assert created() == before


def test_a_chosen_client_id_that_is_taken_is_a_form_error(admin_client, apis, make_client):
    make_client("Other", client_id="payments-service")
    before = created()
    response = admin_client.post(URL, service_form(client_id="payments-service"))
    assert "A client with the id payments-service exists." in response.content.decode()
    assert created() == before


def test_the_page_needs_every_add_permission_it_uses(operator_client, apis):
    granted = permissions(*REQUIRED_PERMISSIONS)
    browser = operator_client(granted)
    assert browser.get(URL).status_code == 200
    assert browser.post(URL, service_form()).status_code == 200
    assert Application.objects.filter(client_id="payments").exists()


@pytest.mark.parametrize("missing", REQUIRED_PERMISSIONS)
def test_without_one_of_them_the_page_is_403_and_changes_nothing(operator_client, apis, missing):
    browser = operator_client(permissions(*(p for p in REQUIRED_PERMISSIONS if p != missing)))
    before = created()
    assert browser.get(URL).status_code == 403
    assert browser.post(URL, service_form()).status_code == 403
    assert created() == before


def test_a_view_only_operator_gets_403_and_no_link(operator_client, apis):
    browser = operator_client(view_permissions())
    before = created()
    assert browser.get(URL).status_code == 403
    assert browser.post(URL, service_form()).status_code == 403
    assert created() == before
    assert URL not in browser.get("/admin/resources/apiresource/").content.decode()


def test_the_api_list_links_to_the_page_for_those_who_may_use_it(operator_client, apis):
    granted = [*permissions(*REQUIRED_PERMISSIONS), Permission.objects.get(codename="view_apiresource")]
    page = operator_client(granted).get("/admin/resources/apiresource/").content.decode()
    assert f'href="{URL}"' in page


def test_the_index_link_template_renders_for_those_who_may_use_it():
    html = render_to_string("admin/console/register_service_link.html", {"may_register_service": True})
    assert f'href="{URL}"' in html
    assert render_to_string("admin/console/register_service_link.html", {"may_register_service": False}).strip() == ""


def test_anonymous_visitors_are_sent_to_sign_in(client, apis):
    response = client.get(URL)
    assert response.status_code == 302
    assert not ApiResource.objects.filter(audience="payments").exists()


def test_the_configuration_is_python_whatever_the_name_holds(admin_client, apis):
    """The name goes into a comment of the settings to paste: a line break in it must not
    end the comment and start code; every value is a Python string literal."""
    name = 'Pay"ments\nimport os\r\nX = "'
    response = admin_client.post(URL, service_form(name=name))
    assert response.status_code == 200
    configuration = re.search(r'<pre id="service-configuration">(.*?)</pre>', response.content.decode(), re.S)
    assert configuration is not None
    text = html.unescape(configuration.group(1))

    tree = ast.parse(text)
    assigned = {
        ast.unparse(node.targets[0]): ast.literal_eval(node.value) for node in tree.body if isinstance(node, ast.Assign)
    }
    assert [type(node) for node in tree.body] == [ast.Assign] * 5  # no statement of the name's
    assert set(assigned) == {
        "RESOURCE_SERVER",
        "REST_FRAMEWORK",
        "IDP_TOKEN_ENDPOINT",
        "IDP_CLIENT_ID",
        "IDP_CLIENT_SECRET",
    }
    assert assigned["RESOURCE_SERVER"]["AUDIENCE"] == "payments"
    assert assigned["IDP_CLIENT_SECRET"] == shown_secret(response)
    assert text.splitlines()[0] == ('# settings.py of the Pay"ments import os X = " service (apps.resource_server)')
