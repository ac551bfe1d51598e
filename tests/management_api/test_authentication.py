"""Only the IdP's own access tokens for idp-admin, with the scope for the method (RFC 6750)."""

from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from django.utils import timezone

from apps.management_api.authentication import READ_SCOPE, WRITE_SCOPE
from apps.resources.services import plan_token
from apps.tokens.issuance import issue_access_token, issue_user_token, store_access_token
from tests.management_api.helpers import NO_CREDENTIALS_CHALLENGE as NO_ERROR
from tests.support.http import REVOKE_URL, basic_auth, challenge, form_post
from tests.support.management_api import call

pytestmark = pytest.mark.django_db


def assert_invalid_token(response) -> None:
    assert response.status_code == 401
    assert challenge(response)["error"] == "invalid_token"
    assert response.json()["error"] == "invalid_token"


def test_no_token_is_401_without_an_error_code(client):
    response = call(client, "get", "clients/", None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == NO_ERROR


@pytest.mark.parametrize("token", ["not-a-jwt", "eyJhbGciOiJub25lIn0.e30.", "a.b.c"])
def test_malformed_token_is_invalid_token(client, token):
    assert_invalid_token(call(client, "get", "clients/", token))


def test_malformed_authorization_header_is_invalid_request(client, write_token):
    response = client.get("/api/admin/clients/", HTTP_AUTHORIZATION=f"Bearer {write_token} extra")
    assert response.status_code == 400
    assert challenge(response)["error"] == "invalid_request"


def test_token_for_another_audience_is_invalid_token(client, apis, make_client, client_credentials_token):
    other = make_client("reporting", scopes=["eventcatalog.read"])
    token = client_credentials_token(other)["access_token"]
    response = call(client, "get", "clients/", token)
    assert_invalid_token(response)
    assert "aud must include idp-admin" in challenge(response)["error_description"]


def test_expired_token_is_invalid_token(client, automation):
    plan = plan_token(allowed_scopes=automation.client.allowed_scope_objects(), requested_scopes=[READ_SCOPE])
    issued = issue_access_token(
        client_id=automation.client.client_id, user=None, plan=plan, now=timezone.now() - timedelta(hours=1)
    )
    store_access_token(issued=issued, application=automation.client, user=None)
    response = call(client, "get", "clients/", issued.token)
    assert_invalid_token(response)
    assert challenge(response)["error_description"].endswith("expired.")


def test_revoked_token_is_invalid_token(client, automation, write_token):
    assert call(client, "get", "clients/", write_token).status_code == 200
    auth = basic_auth(automation.client.client_id, automation.client_secret)
    assert form_post(client, REVOKE_URL, {"token": write_token}, HTTP_AUTHORIZATION=auth).status_code == 200
    assert_invalid_token(call(client, "get", "clients/", write_token))


def test_token_of_a_disabled_client_is_invalid_token(client, automation, write_token):
    automation.client.is_active = False
    automation.client.save()
    assert_invalid_token(call(client, "get", "clients/", write_token))


def test_forged_signature_is_invalid_token(client, write_token):
    claims = jwt.decode(write_token, options={"verify_signature": False})
    forger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, forger, algorithm="RS256", headers=jwt.get_unverified_header(write_token))
    assert_invalid_token(call(client, "get", "clients/", forged))


def test_read_scope_reads_but_does_not_write(client, read_token):
    assert call(client, "get", "resources/", read_token).status_code == 200
    response = call(client, "post", "scopes/", read_token, {"name": "x.read"})
    assert response.status_code == 403
    assert challenge(response)["error"] == "insufficient_scope"
    assert challenge(response)["scope"] == WRITE_SCOPE
    assert response.json()["error"] == "insufficient_scope"


def test_write_scope_alone_does_not_read(client, make_client, client_credentials_token):
    token = client_credentials_token(make_client("writer", scopes=[WRITE_SCOPE]))["access_token"]
    response = call(client, "get", "resources/", token)
    assert response.status_code == 403
    assert challenge(response) == {
        "realm": "idp-admin",
        "error": "insufficient_scope",
        "error_description": f"This request needs the {READ_SCOPE} scope.",
        "scope": READ_SCOPE,
    }


def test_session_and_basic_authentication_are_not_accepted(admin_client, automation):
    # A signed-in operator's cookie is no credential here: no CSRF surface.
    assert admin_client.get("/api/admin/clients/").status_code == 401
    auth = basic_auth(automation.client.client_id, automation.client_secret)
    assert admin_client.get("/api/admin/clients/", HTTP_AUTHORIZATION=auth).status_code == 401


def test_a_users_token_is_invalid_token_even_from_a_client_with_the_scopes(client, automation, django_user_model):
    """Otherwise anyone who signs in to that client would act as an operator."""
    user = django_user_model.objects.create_user("mallory")
    token = issue_user_token(client=automation.client, user=user, scopes=[READ_SCOPE, WRITE_SCOPE]).token
    response = call(client, "delete", "resources/idp-admin/", token)
    assert_invalid_token(response)
    assert "client-credentials tokens only" in response.json()["error_description"]


# --- RFC 6750 through the toolkit's implementation (apps/resource_server/bearer.py), exactly -------

IN_QUERY_OR_BODY = (
    'Bearer realm="idp-admin", error="invalid_request", '
    'error_description="Send the access token in the Authorization header, not in the URL or body."'
)


@pytest.mark.parametrize("authorization", ["Basic dXNlcjpwYXNz", "Token abc", "Bearer", "DPoP"])
def test_another_scheme_or_no_token_is_401_without_an_error_code(client, authorization):
    response = client.get("/api/admin/clients/", HTTP_AUTHORIZATION=authorization)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == NO_ERROR
    assert "error" not in response.json()


@pytest.mark.parametrize("authorization", ["Bearer {token} {token}", "Bearer {token},", "Bearer a=b"])
def test_two_tokens_or_a_malformed_header_is_invalid_request(client, write_token, authorization):
    response = client.get("/api/admin/clients/", HTTP_AUTHORIZATION=authorization.format(token=write_token))
    assert response.status_code == 400
    assert response["WWW-Authenticate"] == (
        'Bearer realm="idp-admin", error="invalid_request", '
        "error_description=\"The Authorization header must be 'Bearer <token>'.\""
    )
    assert response.json()["error"] == "invalid_request"


def test_token_in_the_query_is_invalid_request(client, write_token):
    response = client.get(f"/api/admin/clients/?access_token={write_token}")
    assert response.status_code == 400
    assert response["WWW-Authenticate"] == IN_QUERY_OR_BODY
    assert response.json() == {
        "error": "invalid_request",
        "error_description": "Send the access token in the Authorization header, not in the URL or body.",
    }


def test_token_in_a_form_body_is_invalid_request_even_with_the_header(client, write_token):
    response = form_post(
        client, "/api/admin/resources/", {"access_token": write_token}, HTTP_AUTHORIZATION=f"Bearer {write_token}"
    )
    assert response.status_code == 400
    assert response["WWW-Authenticate"] == IN_QUERY_OR_BODY
    assert response.json()["error"] == "invalid_request"


def test_bad_token_challenge_is_exact(client):
    response = call(client, "get", "clients/", "not-a-jwt")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == (
        'Bearer realm="idp-admin", error="invalid_token", '
        'error_description="The access token is not acceptable: not a JWT."'
    )
    assert response.json()["error"] == "invalid_token"


def test_missing_scope_challenge_is_exact(client, read_token):
    response = call(client, "delete", "resources/eventcatalog/", read_token)
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == (
        'Bearer realm="idp-admin", error="insufficient_scope", '
        f'error_description="This request needs the {WRITE_SCOPE} scope.", scope="{WRITE_SCOPE}"'
    )
    assert response.json() == {
        "error": "insufficient_scope",
        "error_description": f"This request needs the {WRITE_SCOPE} scope.",
    }


@pytest.mark.parametrize("language", ["nl", "nl-NL,nl;q=0.9"])
def test_the_api_answers_in_english_whatever_the_callers_language(client, write_token, language):
    """Programs read these messages: a Dutch Accept-Language (which the people's pages honour)
    changes nothing here."""
    no_token = call(client, "get", "clients/", None, HTTP_ACCEPT_LANGUAGE=language)
    assert no_token.json() == {"detail": "Authentication credentials were not provided."}
    missing = call(client, "get", "clients/no-such-client/", write_token, HTTP_ACCEPT_LANGUAGE=language)
    assert missing.json() == {"detail": "No Application matches the given query."}
