"""DPoP end to end with a strict third-party client over real HTTP (pytest-django's live
server): requests-oauth2client (its ``DPoPKey``, RFC 9449 proofs made by jwskate) gets
DPoP-bound client-credentials tokens, follows our ``use_dpop_nonce`` answer when server
nonces are on, and presents the token to a service protected by our toolkit, whose proof
check it passes. (Authlib has no DPoP client: its own id_jag module says "Authlib supports
neither DPoP nor mTLS".)"""

from collections.abc import Iterator

import jwt
import pytest
import requests
from requests_oauth2client import DPoPKey, DPoPToken, OAuth2Client
from requests_oauth2client.exceptions import UnknownTokenEndpointError

from apps.clients.services import save_client
from apps.resources.models import ApiResource, ApiScope


@pytest.fixture
def server(live_server, settings):
    """The live server as the issuer: the token endpoint's htu is the issuer's URL."""
    settings.IDP = {**settings.IDP, "ISSUER": live_server.url}
    return live_server.url


@pytest.fixture
def oauth(transactional_db, server) -> Iterator[OAuth2Client]:
    catalog = ApiResource.objects.create(audience="eventcatalog", resource_uri="urn:test:eventcatalog", name="Catalog")
    ApiScope.objects.create(name="eventcatalog.read", resource=catalog, description="Read the catalog")
    credentials = save_client(name="Ticketing", grant_types=["client_credentials"], scopes=["eventcatalog.read"])
    # Kept-alive connections, closed at teardown. Not "Connection: close" per request: the live
    # server then closes the socket without saying so in its answer, and a client that reuses
    # it before the close arrives (the nonce retry, on a loaded machine) finds it gone.
    session = requests.Session()
    # testing=True: the live server speaks plain http, which the client otherwise refuses.
    yield OAuth2Client(
        token_endpoint=f"{server}/o/token/",
        auth=(credentials.client.client_id, credentials.client_secret),
        testing=True,
        session=session,
    )
    session.close()


def test_requests_oauth2client_gets_a_dpop_bound_token(oauth):
    key = DPoPKey.generate(alg="ES256")
    token = oauth.client_credentials(scope="eventcatalog.read", dpop_key=key)
    assert isinstance(token, DPoPToken)
    assert token.token_type == "DPoP"
    claims = jwt.decode(token.access_token, options={"verify_signature": False})
    # Its RFC 7638 thumbprint (jwskate's) and ours agree.
    assert claims["cnf"] == {"jkt": key.dpop_jkt}


def test_requests_oauth2client_with_an_rsa_key(oauth):
    key = DPoPKey.generate(alg="PS256")
    token = oauth.client_credentials(scope="eventcatalog.read", dpop_key=key)
    assert jwt.decode(token.access_token, options={"verify_signature": False})["cnf"] == {"jkt": key.dpop_jkt}


def test_requests_oauth2client_follows_our_nonce(oauth, settings):
    settings.IDP = {**settings.IDP, "DPOP_NONCES": True}
    key = DPoPKey.generate(alg="ES256")
    token = oauth.client_credentials(scope="eventcatalog.read", dpop_key=key)
    assert token.token_type == "DPoP"
    # It retried with the nonce of our use_dpop_nonce answer, and keeps it for next time.
    assert key.as_nonce
    assert oauth.client_credentials(scope="eventcatalog.read", dpop_key=key).token_type == "DPoP"


def test_without_dpop_requests_oauth2client_gets_a_bearer_token(oauth):
    token = oauth.client_credentials(scope="eventcatalog.read")
    assert not isinstance(token, DPoPToken)
    assert token.token_type == "Bearer"


def test_a_client_that_calls_the_idp_by_another_name_is_refused(oauth, settings):
    # The proof's htu is the URL the client used; ours is the issuer's, whatever Host header
    # a proxy passes on. (A client must use the token endpoint that discovery names.)
    settings.IDP = {**settings.IDP, "ISSUER": "https://idp.example"}
    with pytest.raises(UnknownTokenEndpointError) as refused:
        oauth.client_credentials(scope="eventcatalog.read", dpop_key=DPoPKey.generate(alg="ES256"))
    assert refused.value.response.status_code == 400
    assert refused.value.error == "invalid_dpop_proof"
    assert "another URL (htu must be https://idp.example/o/token/)" in refused.value.description
