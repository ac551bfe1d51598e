"""A grant is a class in the registry, and the token endpoint's pipeline gives it everything
else: a dummy grant of a few lines gets client authentication, the repeated-parameter
refusal, permission checks, issuance and storage, audit, metrics, its discovery entry and its
secret parameters hidden from error reports, with no code of its own."""

import jwt
import pytest
from django.test import Client
from prometheus_client import REGISTRY

from apps.audit.models import AuditEvent, Outcome
from apps.endpoints.views import secret_parameters
from apps.grants.base import Decision, Grant, TokenRequest
from apps.grants.registry import GRANTS, register, unregister
from apps.oauth.models import AccessToken
from apps.protocol.errors import InvalidGrant
from apps.resources.services import plan_token
from tests.support.http import TOKEN_URL, basic_auth, form_post, oauth_error

ECHO = "urn:example:params:oauth:grant-type:echo"


class EchoGrant(Grant):
    """The dummy: a token for eventcatalog.read to whoever knows the password."""

    GRANT_TYPE = ECHO
    SECRET_PARAMETERS = frozenset({"echo_password"})

    def decide(self, request: TokenRequest) -> Decision:
        if request.params.get("echo_password") != "open sesame":
            raise InvalidGrant(description="Wrong echo password.")
        scopes = request.client.allowed_scope_objects()
        return Decision(plan=plan_token(allowed_scopes=scopes, requested_scopes=["eventcatalog.read"]))


@pytest.fixture
def echo_grant():
    register(EchoGrant)
    yield GRANTS[ECHO]
    unregister(ECHO)


@pytest.fixture
def echo_client(apis, make_client):
    credentials = make_client("echoer", scopes=["eventcatalog.read"])
    # The client's grant list names the new grant (Application.clean knows only the built-in
    # grant types; saving directly is what a migration adding the grant's choice would allow).
    credentials.client.allowed_grant_types = [ECHO]
    credentials.client.save()
    return credentials


def echo(client: Client, credentials, **params):
    data = {"grant_type": ECHO, "echo_password": "open sesame", **params}
    auth = basic_auth(credentials.client.client_id, credentials.client_secret)
    return form_post(client, TOKEN_URL, data, HTTP_AUTHORIZATION=auth)


def issued_count(audience: str) -> float:
    return REGISTRY.get_sample_value("idp_tokens_issued_total", {"grant": ECHO, "audience": audience}) or 0.0


@pytest.mark.django_db
def test_the_dummy_grant_issues_a_stored_audited_counted_token(client, echo_grant, echo_client):
    before = issued_count("eventcatalog")
    response = echo(client, echo_client)
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["token_type"], body["scope"]) == ("Bearer", "eventcatalog.read")
    assert response["Cache-Control"] == "no-store"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    client_id = echo_client.client.client_id
    assert (claims["aud"], claims["sub"], claims["client_id"]) == (["eventcatalog"], client_id, client_id)
    assert AccessToken.objects.filter(jti=claims["jti"], application=echo_client.client).exists()
    event = AuditEvent.objects.get()
    assert (event.event_type, event.outcome, event.client_id) == (
        "token.issued",
        Outcome.GRANTED,
        echo_client.client.client_id,
    )
    assert event.details["grant_type"] == ECHO and event.audience == ["eventcatalog"]
    assert issued_count("eventcatalog") == before + 1


@pytest.mark.django_db
def test_the_dummy_grant_gets_client_authentication(client, echo_grant, echo_client):
    data = {"grant_type": ECHO, "echo_password": "open sesame"}
    wrong = basic_auth(echo_client.client.client_id, "not-the-secret")
    response = form_post(client, TOKEN_URL, data, HTTP_AUTHORIZATION=wrong)
    assert oauth_error(response) == (401, "invalid_client")
    assert response["WWW-Authenticate"] == 'Basic realm="oauth", error="invalid_client"'
    assert oauth_error(form_post(client, TOKEN_URL, data)) == (401, "invalid_client")
    refused = AuditEvent.objects.filter(outcome=Outcome.REFUSED, details__grant_type=ECHO)
    assert refused.count() == 2 and refused.first().reason.startswith("invalid_client")


@pytest.mark.django_db
def test_the_dummy_grant_needs_the_clients_permission(client, echo_grant, apis, make_client):
    other = make_client("other", scopes=["eventcatalog.read"])  # client credentials only
    assert oauth_error(echo(client, other)) == (400, "unauthorized_client")


@pytest.mark.django_db
def test_the_dummy_grant_gets_the_repeated_parameter_refusal(client, echo_grant, echo_client):
    auth = basic_auth(echo_client.client.client_id, echo_client.client_secret)
    data = [("grant_type", ECHO), ("echo_password", "open sesame"), ("echo_password", "open sesame")]
    response = form_post(client, TOKEN_URL, data, HTTP_AUTHORIZATION=auth)
    assert oauth_error(response) == (400, "invalid_request")
    assert response.json()["error_description"] == "Parameter sent more than once: echo_password."
    assert not AccessToken.objects.exists()
    assert AuditEvent.objects.get().outcome == Outcome.REFUSED


@pytest.mark.django_db
def test_the_dummy_grants_own_refusal_is_rendered_and_audited(client, echo_grant, echo_client):
    response = echo(client, echo_client, echo_password="wrong")
    assert oauth_error(response) == (400, "invalid_grant")
    assert response.json()["error_description"] == "Wrong echo password."
    assert AuditEvent.objects.get().reason == "invalid_grant: Wrong echo password."


@pytest.mark.django_db
def test_discovery_lists_exactly_the_registered_grants(client, echo_grant):
    listed = client.get("/.well-known/openid-configuration").json()["grant_types_supported"]
    assert ECHO in listed and listed == list(GRANTS)
    unregister(ECHO)
    assert ECHO not in client.get("/.well-known/oauth-authorization-server").json()["grant_types_supported"]
    register(EchoGrant)


@pytest.mark.django_db
def test_the_dummy_grants_secret_parameters_are_hidden_from_error_reports(client, echo_grant, echo_client):
    assert "echo_password" in secret_parameters()
    response = echo(client, echo_client)
    assert "echo_password" in response.wsgi_request.sensitive_post_parameters


def test_an_unregistered_grant_type_is_unsupported(client, db):
    response = form_post(client, TOKEN_URL, {"grant_type": ECHO})
    assert oauth_error(response) == (400, "unsupported_grant_type")
