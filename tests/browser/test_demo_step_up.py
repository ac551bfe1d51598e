"""Step-up in the GloboTicket demo (RFC 9470): an order above DISCOUNT_STEP_UP_ABOVE needs a
sign-in with a second factor. The discount service answers the challenge, the basket relays
it, the web app sends alice to the IdP with the challenge's acr_values and places the order
again after the callback.

First in process: the three services and the web app wired together with fake tokens (no
IdP, no network). Then end to end in Chromium: the IdP and the services as real processes,
alice entering an authenticator-app code on the IdP's second-factor page."""

import importlib
import json
import time
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django_otp.oath import totp
from rest_framework.test import APIRequestFactory

from apps.protocol.strength import ACR_MFA, ACR_SFA
from apps.resource_server.authentication import JwtAccessTokenAuthentication, TokenUser
from apps.resource_server.transaction import (
    TOKEN_TYPE_NOT_APPLICABLE,
    TXN_TOKEN_URN,
    InvalidTransactionToken,
    TransactionToken,
    TransactionTokenMiddleware,
)
from tests.browser.test_demo_end_to_end import context, demo, hop, sign_in  # noqa: F401 (fixtures)

URLS = {
    "web": "http://web.test",
    "eventcatalog": "http://eventcatalog.test",
    "shoppingbasket": "http://basket.test",
    "discount": "http://discount.test",
}
CHALLENGE = (
    'Bearer realm="api", error="insufficient_user_authentication", '
    f'error_description="A different authentication level is required.", acr_values="{ACR_MFA}"'
)


def claims_of(token: str) -> dict:
    """The fake tokens: ``alice-sfa`` / ``alice-mfa`` (her sign-in, for the basket),
    ``discount.<subject>`` (exchanged from it for the discount service, same acr) and
    ``shoppingbasket`` (the basket's own, client credentials)."""
    if token == "shoppingbasket":
        return {"sub": "shoppingbasket", "aud": "discount", "scope": "discount.fullaccess", "act": None,
                "client_id": "shoppingbasket", "jti": "jti-own", "acr": None, "auth_time": None}  # fmt: skip
    subject = token.removeprefix("discount.")
    user, acr = subject.split("-")
    exchanged = token.startswith("discount.")
    return {
        "sub": user, "aud": "discount" if exchanged else ["eventcatalog", "shoppingbasket"],
        "scope": "discount.fullaccess" if exchanged else "eventcatalog.read shoppingbasket.fullaccess",
        "act": {"sub": "shoppingbasket"} if exchanged else None, "client_id": "globoticket-web",
        "jti": f"jti-{token}", "acr": {"sfa": ACR_SFA, "mfa": ACR_MFA}[acr], "auth_time": int(time.time()),
    }  # fmt: skip


def txn_token(sub: str, action: str, amount: int) -> str:
    """The fake Txn-Tokens: ``txn.<sub>.<action>.<amount>``."""
    return f"txn.{sub}.{action}.{amount}"


def fake_transaction(raw: str) -> TransactionToken:
    """The discount service's check of a fake Txn-Token (the real one is tested against the
    IdP's keys in tests/resource_server and end to end below)."""
    parts = raw.split(".")
    if len(parts) != 4 or parts[0] != "txn":
        raise InvalidTransactionToken("Malformed Txn-Token.")
    _, sub, action, amount = parts
    return TransactionToken(
        raw=raw, txn=f"txn-of-{sub}-{action}", sub=sub, scopes=frozenset({"shoppingbasket.fullaccess"}),
        req_wl="shoppingbasket", tctx={"action": action, "amount": int(amount)},
    )  # fmt: skip


def fake_idp(url, data, auth, timeout):
    """The IdP's token endpoint: a Txn-Token of the subject's transaction, or the subject's
    token exchanged for the discount service (same user and sign-in)."""
    if data.get("requested_token_type") == TXN_TOKEN_URN:
        details = json.loads(data["request_details"])
        token = txn_token(data["subject_token"].split("-")[0], details["action"], details["amount"])
        return FakeResponse(200, {"access_token": token, "issued_token_type": TXN_TOKEN_URN,
                                  "token_type": TOKEN_TYPE_NOT_APPLICABLE, "expires_in": 60})  # fmt: skip
    return FakeResponse(200, {"access_token": f"discount.{data['subject_token']}", "expires_in": 300})


class FakeResponse:
    def __init__(self, status_code: int, body: object, headers: dict | None = None) -> None:
        self.status_code, self._body, self.headers, self.reason = status_code, body, headers or {}, ""

    def json(self):
        return self._body


@pytest.fixture
def shop(monkeypatch, settings):
    """The demo's modules under the demo's Django settings, each service answering in process."""
    monkeypatch.setenv("DEMO_SERVICE", "web")
    config = importlib.import_module("demo.config")
    demo_settings = importlib.import_module("demo.settings")
    services = importlib.import_module("demo.services")
    web = importlib.import_module("demo.web")
    monkeypatch.setattr(config, "URLS", URLS)
    monkeypatch.setattr(config, "IDP_URL", "http://idp.test")
    for name in ("ROOT_URLCONF", "MIDDLEWARE", "TEMPLATES", "SESSION_ENGINE", "SESSION_COOKIE_NAME", "REST_FRAMEWORK"):
        setattr(settings, name, getattr(demo_settings, name))
    settings.ALLOWED_HOSTS = ["testserver"]

    def verify(self, token: str) -> TokenUser:
        claims = claims_of(token)
        return TokenUser(sub=claims["sub"], client_id=claims["client_id"], scopes=frozenset(claims["scope"].split()),
                         act=claims["act"], claims=claims)  # fmt: skip

    monkeypatch.setattr(JwtAccessTokenAuthentication, "verify", verify)
    monkeypatch.setattr(TransactionTokenMiddleware, "validate", staticmethod(fake_transaction))
    views = {
        ("eventcatalog", "/events"): services.Events.as_view(),
        ("shoppingbasket", "/basket"): services.Basket.as_view(),
        ("shoppingbasket", "/order"): services.Order.as_view(),
        ("discount", "/discount"): services.Discount.as_view(),
    }
    calls: list[tuple[str, str, str]] = []

    def request(method, url, *, headers, timeout, json=None):
        service = next(name for name, base in URLS.items() if url.startswith(base))
        path = url.removeprefix(URLS[service])
        calls.append((method, service, path))
        factory = getattr(APIRequestFactory(), method.lower())
        data = {} if json is None else {"data": json, "format": "json"}
        txn = {"HTTP_TXN_TOKEN": headers["Txn-Token"]} if "Txn-Token" in headers else {}
        response = through_middleware(
            views[service, path], factory(path, HTTP_AUTHORIZATION=headers["Authorization"], **txn, **data)
        )
        return FakeResponse(response.status_code, body_of(response), dict(response.headers))

    monkeypatch.setattr("requests.request", request)
    exchange = services.TokenClient("http://idp.test/o/token/", "shoppingbasket", "secret", post=fake_idp)
    monkeypatch.setattr(services, "_token_client", exchange)
    monkeypatch.setattr(services, "_baskets", {})
    yield SimpleNamespace(config=config, services=services, web=web, calls=calls)


def api(view, method: str, token: str, data: dict | None = None, *, txn: str | None = None):
    """``view`` called with ``token``, and the Txn-Token ``txn`` through the middleware."""
    factory = getattr(APIRequestFactory(), method)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}", **({"HTTP_TXN_TOKEN": txn} if txn else {})}
    return through_middleware(view.as_view(), factory("/", data or {}, format="json", **headers))


def body_of(response) -> dict:
    return json.loads(response.content)


def through_middleware(view, request):
    """``view``'s rendered answer to ``request``, as the demo's middleware passes it on."""
    return TransactionTokenMiddleware(lambda request: view(request).render())(request)


# --- the discount service ------------------------------------------------------------------------


def test_the_discount_service_asks_for_a_second_factor_above_the_amount(shop):
    assert shop.config.DISCOUNT_STEP_UP_ABOVE == 100
    assert shop.config.ACR_MFA == ACR_MFA  # the IdP's value, kept apart: the demo imports no IdP app
    discount = shop.services.Discount
    at_the_amount = api(discount, "post", "discount.alice-sfa", {"amount": 100}, txn=txn_token("alice", "order", 100))
    assert at_the_amount.status_code == 200
    assert (at_the_amount.data["to_pay"], at_the_amount.data["acr"]) == (90, ACR_SFA)

    refused = api(discount, "post", "discount.alice-sfa", {"amount": 101}, txn=txn_token("alice", "order", 101))
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == CHALLENGE
    assert refused.data == {
        "error": "insufficient_user_authentication",
        "error_description": "A different authentication level is required.",
        "acr_values": ACR_MFA,
    }
    second_factor = api(discount, "post", "discount.alice-mfa", {"amount": 150}, txn=txn_token("alice", "order", 150))
    assert second_factor.status_code == 200
    assert (second_factor.data["to_pay"], second_factor.data["acr"]) == (135, ACR_MFA)
    # The rate alone (the basket page's preview) discounts no order: no second factor needed.
    assert api(discount, "get", "discount.alice-sfa", txn=txn_token("alice", "view", 0)).data["percent"] == 10


@pytest.mark.parametrize("amount", [None, "", "-5", -5, 10.5, "1e3", True, [150]])
def test_an_amount_that_is_no_whole_number_is_refused(shop, amount):
    order = txn_token("alice", "place_order", 150)
    refused = api(shop.services.Discount, "post", "discount.alice-mfa", {"amount": amount}, txn=order)
    assert (refused.status_code, refused.data) == (400, {"detail": "The amount must be a whole number."})


# --- the discount service checks the transaction (draft-ietf-oauth-transaction-tokens) ------------------


def test_a_call_for_a_user_without_her_transaction_is_refused(shop):
    refused = api(shop.services.Discount, "post", "discount.alice-mfa", {"amount": 65})
    assert (refused.status_code, body_of(refused)) == (
        403, {"error": "invalid_txn_token", "error_description": "A Txn-Token is required."}
    )  # fmt: skip
    assert "WWW-Authenticate" not in refused  # not a credential: no challenge
    bobs = api(shop.services.Discount, "post", "discount.alice-mfa", {"amount": 65}, txn=txn_token("bob", "o", 65))
    assert (bobs.status_code, body_of(bobs)["error"]) == (403, "invalid_txn_token")
    malformed = api(shop.services.Discount, "get", "discount.alice-mfa", txn="not-a-txn-token")
    assert (malformed.status_code, body_of(malformed)) == (
        403, {"error": "invalid_txn_token", "error_description": "Malformed Txn-Token."}
    )  # fmt: skip


def test_an_order_amount_that_is_not_the_transactions_is_refused(shop):
    other = api(shop.services.Discount, "post", "discount.alice-mfa", {"amount": 150}, txn=txn_token("alice", "o", 65))
    assert (other.status_code, other.data) == (403, {"detail": "The amount is not the transaction's."})


def test_the_baskets_own_call_is_nobodys_transaction(shop):
    own = api(shop.services.Discount, "get", "shoppingbasket")
    assert (own.status_code, own.data["sub"], own.data["txn"]) == (200, "shoppingbasket", None)


def test_the_basket_starts_one_transaction_per_call_and_the_discount_service_sees_it(shop):
    fill_basket(shop, "alice-sfa", 1)
    basket = api(shop.services.Basket, "get", "alice-sfa").data
    assert basket["transaction"] == {
        "txn": "txn-of-alice-view_basket", "req_wl": "shoppingbasket", "tctx": {"action": "view_basket", "amount": 65}
    }  # fmt: skip
    assert basket["discount"]["txn"] == basket["transaction"]["txn"]
    assert basket["token"]["txn"] is None  # the web app's call to the basket carries none: it starts there
    placed = api(shop.services.Order, "post", "alice-sfa").data
    assert placed["transaction"]["tctx"] == {"action": "place_order", "amount": 65}
    assert placed["discount"]["txn"] == "txn-of-alice-place_order"


def test_the_idps_refusal_of_a_txn_token_is_a_502_that_says_so(shop, monkeypatch):
    refusing = shop.services.TokenClient(
        "http://idp.test/o/token/", "shoppingbasket", "secret",
        post=lambda url, data, auth, timeout: FakeResponse(
            400, {"error": "unauthorized_client", "error_description": "No transaction-token policy for this client."}
        ),
    )  # fmt: skip
    monkeypatch.setattr(shop.services, "_token_client", refusing)
    fill_basket(shop, "alice-sfa", 1)
    refused = api(shop.services.Basket, "get", "alice-sfa")
    assert refused.status_code == 502
    assert refused.data["detail"].startswith("The IdP refused the basket a Txn-Token: ")
    assert "unauthorized_client: No transaction-token policy for this client." in refused.data["detail"]


# --- the basket relays the challenge ---------------------------------------------------------------


def fill_basket(shop, token: str, *event_ids: int) -> None:
    for event_id in event_ids:
        assert api(shop.services.Basket, "post", token, {"event_id": event_id}).status_code == 201


def test_the_basket_relays_the_discount_services_challenge_and_keeps_the_basket(shop):
    fill_basket(shop, "alice-sfa", 1, 2)  # 65 + 85 = 150
    refused = api(shop.services.Order, "post", "alice-sfa")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == CHALLENGE
    assert refused.data["error"] == "insufficient_user_authentication"
    assert [item["id"] for item in api(shop.services.Basket, "get", "alice-sfa").data["items"]] == [1, 2]

    placed = api(shop.services.Order, "post", "alice-mfa")
    assert placed.status_code == 201
    assert {k: placed.data[k] for k in ("total", "percent", "to_pay")} == {"total": 150, "percent": 10, "to_pay": 135}
    assert {k: placed.data["discount"][k] for k in ("sub", "aud", "act", "acr")} == {
        "sub": "alice", "aud": "discount", "act": {"sub": "shoppingbasket"}, "acr": ACR_MFA,
    }  # fmt: skip
    assert api(shop.services.Basket, "get", "alice-mfa").data["items"] == []


def test_a_small_order_needs_no_second_factor_and_an_empty_basket_none_at_all(shop):
    assert api(shop.services.Order, "post", "alice-sfa").data == {"detail": "The basket is empty."}
    fill_basket(shop, "alice-sfa", 2)
    placed = api(shop.services.Order, "post", "alice-sfa")
    assert (placed.status_code, placed.data["to_pay"], placed.data["discount"]["acr"]) == (201, 76.5, ACR_SFA)


def test_the_idps_refusal_to_exchange_is_relayed_too(shop, monkeypatch):
    refusing = shop.services.TokenClient(
        "http://idp.test/o/token/", "shoppingbasket", "secret",
        post=lambda url, data, auth, timeout: FakeResponse(
            400, {"error": "insufficient_user_authentication", "error_description": "A second factor is required.",
                  "acr_values": ACR_MFA},
        ),
    )  # fmt: skip
    monkeypatch.setattr(shop.services, "_token_client", refusing)
    fill_basket(shop, "alice-sfa", 1)
    refused = api(shop.services.Order, "post", "alice-sfa")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_user_authentication", '
        f'error_description="A second factor is required.", acr_values="{ACR_MFA}"'
    )


# --- the web app steps up and places the order again ------------------------------------------------


@pytest.fixture
def alice(shop, monkeypatch, settings):
    """A browser session of the web app signed in as alice with her password alone; the IdP's
    token endpoint and ID token check replaced: the code ``mfa`` gives her second-factor
    token, ``sfa`` another password-only one, ``bob-sfa`` bob's."""
    web = shop.web

    def token_request(data):
        subject = data["code"] if "-" in data["code"] else f"alice-{data['code']}"
        return FakeResponse(200, {"access_token": subject, "expires_in": 300, "id_token": f"id:{subject}"})

    monkeypatch.setattr(web, "_token_request", token_request)
    monkeypatch.setattr(
        web, "_verified_id_token", lambda id_token, nonce: {"sub": id_token[3:].split("-")[0], "preferred_username": ""}
    )
    client = Client()
    session = client.session
    session.update({"access_token": "alice-sfa", "expires_at": time.time() + 300, "user": {"sub": "alice"}})
    session.save()
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key  # the signed cookie is the session
    return client


def come_back(client, authorize_url: str, code: str):
    """The IdP's answer to the authorization request at ``authorize_url``."""
    state = parse_qs(urlsplit(authorize_url).query)["state"][0]
    return client.get("/callback", {"code": code, "state": state, "iss": "http://idp.test"})


def test_the_web_app_sends_alice_to_step_up_and_places_the_order_after_the_callback(shop, alice):
    fill_basket(shop, "alice-sfa", 1, 2)
    sent = alice.post("/order")
    assert sent.status_code == 302
    authorize = urlsplit(sent["Location"])
    assert f"{authorize.scheme}://{authorize.netloc}{authorize.path}" == "http://idp.test/o/authorize/"
    query = parse_qs(authorize.query)
    assert query["acr_values"] == [ACR_MFA]
    assert "max_age" not in query
    assert query["code_challenge_method"] == ["S256"]
    # A step-up challenge is not a token to renew: the order was asked once, the basket not renewed.
    assert shop.calls == [("POST", "shoppingbasket", "/order"), ("POST", "discount", "/discount")]

    placed = come_back(alice, sent["Location"], "mfa")
    assert (placed.status_code, placed["Location"]) == (302, "/order")
    page = alice.get("/order")
    assert page.status_code == 200
    assert '<code id="order-acr">https://refeds.org/profile/mfa</code>' in page.content.decode()
    assert '<strong id="paid">135.0</strong>' in page.content.decode()
    assert api(shop.services.Basket, "get", "alice-mfa").data["items"] == []


def test_max_age_from_the_challenge_goes_to_the_idp(shop, alice, monkeypatch):
    def recent_sign_in_only(self, request):
        raise shop.services.InsufficientUserAuthentication(acr_values=[ACR_MFA], max_age=0)

    monkeypatch.setattr(shop.services.Discount, "post", recent_sign_in_only)
    fill_basket(shop, "alice-sfa", 1, 2)
    query = parse_qs(urlsplit(alice.post("/order")["Location"]).query)
    assert (query["acr_values"], query["max_age"]) == ([ACR_MFA], ["0"])


def test_refused_again_after_the_step_up_alice_gets_a_page_not_a_loop(shop, alice):
    fill_basket(shop, "alice-sfa", 1, 2)
    sent = alice.post("/order")
    again = come_back(alice, sent["Location"], "sfa")  # the IdP gave no second factor
    assert again.status_code == 403
    assert "The discount service still refused the order after you signed in again" in again.content.decode()
    assert [item["id"] for item in api(shop.services.Basket, "get", "alice-sfa").data["items"]] == [1, 2]


def test_another_sign_in_does_not_place_the_order(shop, alice):
    fill_basket(shop, "alice-sfa", 1, 2)
    alice.post("/order")
    # alice gives up and signs in afresh: that sign-in does not place the order.
    plain = alice.get("/login")
    assert "acr_values" not in parse_qs(urlsplit(plain["Location"]).query)
    assert come_back(alice, plain["Location"], "mfa")["Location"] == "/"
    assert len(api(shop.services.Basket, "get", "alice-mfa").data["items"]) == 2


def test_a_step_up_that_comes_back_as_somebody_else_does_not_place_the_order(shop, alice):
    fill_basket(shop, "alice-sfa", 1, 2)
    sent = alice.post("/order")
    assert come_back(alice, sent["Location"], "bob-mfa")["Location"] == "/"
    assert len(api(shop.services.Basket, "get", "alice-mfa").data["items"]) == 2
    assert shop.calls.count(("POST", "shoppingbasket", "/order")) == 1  # nothing ordered for bob either


# --- end to end in Chromium ------------------------------------------------------------------------

NEW_AUTHENTICATOR_APP = (
    "from django.contrib.auth import get_user_model; "
    "from django_otp.plugins.otp_totp.models import TOTPDevice; "
    "alice = get_user_model().objects.get(username='alice'); "
    "print('key', TOTPDevice.objects.create(user=alice, name='Authenticator app', confirmed=True).key)"
)


def test_alice_steps_up_with_her_authenticator_app_to_place_a_large_order(context, demo, screenshot):  # noqa: F811 (fixtures)
    page = context.new_page()
    page.set_viewport_size({"width": 1100, "height": 800})
    sign_in(page, demo)  # her password alone: she has no second factor yet
    # Her authenticator app, in the demo IdP's database (another process, not the test's).
    printed = demo["manage"]("shell", "-c", NEW_AUTHENTICATOR_APP).splitlines()  # among the IdP's logs
    key = bytes.fromhex(next(line for line in printed if line.startswith("key ")).removeprefix("key "))
    authorizations: list[str] = []
    page.on("request", lambda request: authorizations.append(request.url) if "/o/authorize/" in request.url else None)
    main = page.locator("main")

    # An order of 65: the password is enough.
    main.get_by_role("button", name="Add John Egbert Live").click()
    main.get_by_role("button", name="Place order").click()
    page.wait_for_url(demo["urls"]["web"] + "/order")
    assert page.locator("#order-acr").inner_text() == ACR_SFA
    assert page.locator("#paid").inner_text() == "58.5"
    assert authorizations == []

    # An order of 150: the discount service asks for a second factor, and the IdP for her code.
    page.click("text=Back to the shop")
    main.get_by_role("button", name="Add John Egbert Live").click()
    main.get_by_role("button", name="Add The State of Affairs").click()
    assert page.locator("#to-pay").inner_text() == "135.0"
    main.get_by_role("button", name="Place order").click()
    page.wait_for_url(f"{demo['idp']}/accounts/login/second-factor/?next=*")
    assert len(authorizations) == 1
    assert parse_qs(urlsplit(authorizations[0]).query)["acr_values"] == [ACR_MFA]
    code = totp(key, step=30, t0=0, digits=6, drift=0)
    page.get_by_label("The 6-digit code your app shows").fill(f"{code:06d}")
    main.get_by_role("button", name="Confirm").click()

    # Back at GloboTicket, the order placed with the stronger sign-in.
    page.wait_for_url(demo["urls"]["web"] + "/order")
    assert page.title() == "Order placed · GloboTicket"
    assert page.locator("#ordered").inner_text() == "John Egbert Live\nThe State of Affairs"
    assert page.locator("#paid").inner_text() == "135.0"
    assert page.locator("#order-acr").inner_text() == ACR_MFA
    ordered = hop(page, "order")
    assert (ordered["aud"], ordered["act"]) == ("discount", "shoppingbasket")
    acr = page.locator("#hops tr[data-hop=order] td[data-claim=acr] code")
    assert (acr.inner_text(), acr.get_attribute("title")) == ("mfa", ACR_MFA)
    # The order was one transaction: the basket started it, the discount service saw it.
    assert ordered["txn"] == page.locator("#order-txn").inner_text() != ""
    # The basket's exchanged token went to the discount service DPoP-bound (RFC 9449).
    assert ordered["sent"] == "DPoP bound to the shopping basket's key"
    screenshot(page, "demo-step-up")
    page.click("text=Back to the shop")
    assert page.locator("#basket").inner_text() == ""
    # One authorization request (the IdP came back to it after the code), no second round.
    assert len({parse_qs(urlsplit(url).query)["state"][0] for url in authorizations}) == 1
