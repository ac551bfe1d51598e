"""private_key_jwt end to end with strict third-party clients over real HTTP (pytest-django's
live server): Authlib's ``PrivateKeyJWT`` and requests-oauth2client's ``PrivateKeyJwt`` each
get a client-credentials token, which then verifies against our JWKS; requests-oauth2client
also introspects and revokes with assertions made for those endpoints."""

import time

import jwt
import pytest
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from requests_oauth2client import OAuth2Client, PrivateKeyJwt
from requests_oauth2client.exceptions import InvalidClient as InvalidClientError

from apps.clients.client_keys import clear_client_keys_cache
from apps.clients.services import save_client
from apps.resources.models import ApiResource, ApiScope
from tests.clients.assertions import JWT_BEARER, ec_pair, jwks, rsa_pair


@pytest.fixture
def server(live_server, settings):
    """The live server as the issuer, so that the token endpoint URL clients put in ``aud`` is ours."""
    settings.IDP = {**settings.IDP, "ISSUER": live_server.url}
    clear_client_keys_cache()
    yield live_server.url
    clear_client_keys_cache()


@pytest.fixture
def service(transactional_db, server):
    catalog = ApiResource.objects.create(audience="eventcatalog", resource_uri="urn:test:eventcatalog", name="Catalog")
    ApiScope.objects.create(name="eventcatalog.read", resource=catalog, description="Read the catalog")
    rsa_key, ec_key = rsa_pair("svc-rsa"), ec_pair("svc-ec")
    credentials = save_client(name="Ticketing", grant_types=["client_credentials"], scopes=["eventcatalog.read"])
    credentials.client.jwks = jwks(rsa_key, ec_key)
    credentials.client.full_clean()
    credentials.client.save()
    return credentials.client.client_id, rsa_key, ec_key


def verified(server: str, access_token: str, client_id: str) -> dict:
    """The access token checked as an API would: our JWKS, our issuer, its audience."""
    header = jwt.get_unverified_header(access_token)
    key = jwt.PyJWKClient(f"{server}/.well-known/jwks.json").get_signing_key(header["kid"])
    claims = jwt.decode(access_token, key.key, algorithms=[header["alg"]], audience="eventcatalog", issuer=server)
    assert (claims["client_id"], claims["sub"], claims["scope"]) == (client_id, client_id, "eventcatalog.read")
    return claims


def test_authlib_gets_a_client_credentials_token(server, service):
    client_id, rsa_key, _ec_key = service
    token_endpoint = f"{server}/o/token/"

    def session() -> OAuth2Session:
        # Authlib signs assertions valid for an hour unless told otherwise; this server takes
        # five minutes at most, so the client sets exp (a fresh method per request: Authlib
        # writes the jti into the claims it is given).
        auth = PrivateKeyJWT(token_endpoint, claims={"exp": int(time.time()) + 60})
        return OAuth2Session(client_id, rsa_key.private_jwk(), token_endpoint_auth_method=auth)

    first = session().fetch_token(token_endpoint, grant_type="client_credentials")
    second = session().fetch_token(token_endpoint, grant_type="client_credentials")

    assert first["token_type"] == "Bearer"
    verified(server, first["access_token"], client_id)
    verified(server, second["access_token"], client_id)


def test_authlibs_default_hour_long_assertion_is_refused(server, service):
    client_id, rsa_key, _ec_key = service
    token_endpoint = f"{server}/o/token/"
    session = OAuth2Session(client_id, rsa_key.private_jwk(), token_endpoint_auth_method=PrivateKeyJWT(token_endpoint))
    with pytest.raises(OAuthError) as refused:
        session.fetch_token(token_endpoint, grant_type="client_credentials")
    assert refused.value.error == "invalid_client"
    assert "more than 300 seconds ahead" in refused.value.description


@pytest.fixture
def catalog_api(service):
    """The catalog API as a client: it introspects the tokens issued for it, with its own key."""
    key = ec_pair("catalog-1")
    credentials = save_client(name="Catalog API", grant_types=[], scopes=[], resource="eventcatalog")
    credentials.client.jwks = jwks(key)
    credentials.client.full_clean()
    credentials.client.save()
    return credentials.client.client_id, key


@pytest.mark.parametrize("key", ["rsa", "ec"])
def test_requests_oauth2client_gets_a_token_the_api_introspects_and_the_service_revokes(
    server, service, catalog_api, key
):
    client_id, rsa_key, ec_key = service
    pair = rsa_key if key == "rsa" else ec_key
    # testing=True is its only relaxation: plain http, for the loopback live server.
    ticketing = OAuth2Client(
        token_endpoint=f"{server}/o/token/",
        revocation_endpoint=f"{server}/o/revoke_token/",
        auth=PrivateKeyJwt(client_id, pair.private_jwk()),
        testing=True,
    )
    api_id, api_key = catalog_api
    api = OAuth2Client(
        token_endpoint=f"{server}/o/token/",
        introspection_endpoint=f"{server}/o/introspect/",
        auth=PrivateKeyJwt(api_id, api_key.private_jwk()),
        testing=True,
    )

    token = ticketing.client_credentials(scope="eventcatalog.read")

    verified(server, str(token.access_token), client_id)
    # Each client's assertions name the endpoint it calls as aud (RFC 7523 allows its URL).
    introspected = api.introspect_token(str(token.access_token))
    assert (introspected["active"], introspected["client_id"]) == (True, client_id)
    assert ticketing.revoke_access_token(str(token.access_token)) is True
    assert api.introspect_token(str(token.access_token)) == {"active": False}


def test_requests_oauth2client_with_an_unregistered_key_is_refused(server, service):
    client_id, _rsa_key, _ec_key = service
    stranger = ec_pair("svc-ec").private_jwk()  # the registered kid, another key
    client = OAuth2Client(f"{server}/o/token/", auth=PrivateKeyJwt(client_id, stranger), testing=True)
    with pytest.raises(InvalidClientError):
        client.client_credentials(scope="eventcatalog.read")


def test_a_replayed_assertion_over_http_is_refused(server, service):
    client_id, rsa_key, _ec_key = service
    auth = PrivateKeyJwt(client_id, rsa_key.private_jwk(), jti_gen=lambda: "always-the-same")
    form = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER}
    assertion = auth.client_assertion(f"{server}/o/token/")

    first = requests.post(f"{server}/o/token/", data={**form, "client_assertion": assertion}, timeout=10)
    again = requests.post(f"{server}/o/token/", data={**form, "client_assertion": assertion}, timeout=10)

    assert first.status_code == 200, first.text
    assert (again.status_code, again.json()["error"]) == (401, "invalid_client")
