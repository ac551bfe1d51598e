"""The token-exchange client helper: downstream tokens, cached until shortly before expiry."""

import pytest

from apps.resource_server.exchange import TokenClient, TokenRequestFailed


class FakeResponse:
    def __init__(self, status: int, body: dict) -> None:
        self.status_code, self._body = status, body

    def json(self) -> dict:
        return self._body


@pytest.fixture
def posts():
    calls = []

    def post(url, data, auth, timeout):
        calls.append(data)
        return FakeResponse(200, {"access_token": f"token-{len(calls)}", "expires_in": 300})

    return calls, post


def test_exchange_is_cached_per_subject_audience_and_scope(posts):
    calls, post = posts
    client = TokenClient("https://idp.test/o/token/", "basket", "secret", post=post)
    first = client.on_behalf_of("alice-token", audience="discount")
    assert client.on_behalf_of("alice-token", audience="discount") == first
    assert client.on_behalf_of("bob-token", audience="discount") != first
    assert len(calls) == 2
    assert calls[0]["grant_type"] == "urn:ietf:params:oauth:grant-type:token-exchange"
    assert calls[0]["subject_token"] == "alice-token"
    assert calls[0]["audience"] == "discount"


def test_token_is_renewed_shortly_before_it_expires(posts):
    calls, post = posts
    client = TokenClient("https://idp.test/o/token/", "basket", "secret", refresh_margin=301, post=post)
    client.client_credentials(scope="discount.fullaccess")
    client.client_credentials(scope="discount.fullaccess")
    assert len(calls) == 2


def test_refusal_is_raised_with_the_oauth_error():
    def post(url, data, auth, timeout):
        return FakeResponse(400, {"error": "invalid_target", "error_description": "no policy"})

    client = TokenClient("https://idp.test/o/token/", "basket", "secret", post=post)
    with pytest.raises(TokenRequestFailed) as excinfo:
        client.on_behalf_of("alice-token", audience="eventcatalog")
    assert (excinfo.value.status, excinfo.value.error) == (400, "invalid_target")
