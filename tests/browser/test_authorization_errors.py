"""What a person sees when an authorization request is wrong: a page in plain words when the
application or its return address is unknown, otherwise the error goes back to the
application, loopback web apps like the demo's included."""

import http.server
import threading
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from django.contrib.auth import get_user_model

from apps.clients.services import save_client
from apps.resources.models import ApiResource, ApiScope
from tests.support.flows import Pkce
from tests.support.flows import authorize_url as _authorize_url

SCOPE = "openid shoppingbasket.fullaccess"
PASSWORD = "a-long-demo-password"


class _Callback(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.end_headers()
        self.wfile.write(b"callback")

    def log_message(self, *args) -> None:
        pass  # the query holds codes; keep it out of the test output


@pytest.fixture
def callback_uri() -> Iterator[str]:
    """The web app's callback, listening on a loopback port of its own as the demo's does
    (a browser's request routing does not see where a navigation is redirected)."""
    server = http.server.HTTPServer(("127.0.0.1", 0), _Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/callback"
    server.shutdown()
    server.server_close()


@pytest.fixture
def loopback(transactional_db, callback_uri):
    ApiScope.objects.create(name="openid", description="openid (identity)")
    basket = ApiResource.objects.create(
        audience="shoppingbasket", resource_uri="urn:test:shoppingbasket", name="Shopping basket"
    )
    ApiScope.objects.create(name="shoppingbasket.fullaccess", resource=basket, description="Use your shopping basket")
    ApiScope.objects.create(name="discount.fullaccess", description="Apply discounts")
    get_user_model().objects.create_user("alice", password=PASSWORD)
    return save_client(
        name="GloboTicket", grant_types=["authorization_code"], scopes=SCOPE.split(), redirect_uris=[callback_uri]
    )


def authorize_url(client, scope: str, **extra) -> str:
    """An authorization request to the client's own loopback redirect URI (unless given)."""
    extra.setdefault("redirect_uri", client.client.redirect_uris)
    return _authorize_url(client.client.client_id, scope, Pkce.new(), **extra)


def callback_params(page, callback_uri: str) -> dict[str, str]:
    """The query the web app's callback received (asserting the browser got there)."""
    page.wait_for_url(f"{callback_uri}?**")
    assert page.locator("body").inner_text() == "callback"
    return {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}


def test_an_unknown_application_gets_a_page_in_plain_words(chromium, live_server, loopback):
    page = chromium.new_context().new_page()
    url = _authorize_url("no-such-client", SCOPE, Pkce.new(), redirect_uri=loopback.client.redirect_uris)
    response = page.goto(live_server.url + url)
    assert response.status == 400
    headline = page.locator("h1").inner_text()
    assert headline == "Unknown application"
    assert page.title().startswith("Unknown application")
    assert page.get_by_role("alert").inner_text() == (
        "The application that sent you here is not registered with this sign-in service, so it cannot sign you in."
    )
    assert page.get_by_label("Password").count() == 0  # judged before any sign-in
    page.context.close()


def test_another_loopback_port_is_an_unknown_return_address(chromium, live_server, loopback, callback_uri):
    """RFC 9700 section 4.1.3: the port is part of the exact match."""
    page = chromium.new_context().new_page()
    port = int(urlsplit(callback_uri).port)
    other = callback_uri.replace(f":{port}/", f":{port + 1}/")
    response = page.goto(live_server.url + authorize_url(loopback, "openid discount.fullaccess", redirect_uri=other))
    assert response.status == 400
    assert page.locator("h1").inner_text() == "Unknown return address"
    assert page.url.startswith(live_server.url)
    page.context.close()


def test_a_loopback_application_receives_the_error(chromium, live_server, loopback, callback_uri):
    page = chromium.new_context().new_page()
    page.goto(live_server.url + authorize_url(loopback, "openid discount.fullaccess"))
    params = callback_params(page, callback_uri)
    assert (params["error"], params["state"], params["iss"]) == ("invalid_scope", "st-123", "https://idp.test")
    assert "code" not in params
    page.context.close()


def test_a_loopback_application_receives_a_denial_after_sign_in(chromium, live_server, loopback, callback_uri):
    page = chromium.new_context().new_page()
    page.goto(live_server.url + authorize_url(loopback, SCOPE))
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Deny").click()
    params = callback_params(page, callback_uri)
    assert (params["error"], params["state"], params["iss"]) == ("access_denied", "st-123", "https://idp.test")
    page.context.close()
