"""The GloboTicket demo end to end: the IdP and four services as real processes on the ports
DEMO_PORT_BASE lays out, alice in a real browser. Each hop's token as the service there saw
it, the client-credentials path, the lineage link, renewal of an expired or refused token,
sign-out at the IdP, and a readable page when a service is down. The basket's tokens for the
discount service are DPoP-bound (RFC 9449): a copy is refused."""

import base64
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.contrib.sessions.serializers import JSONSerializer
from django.core import signing

from apps.demo_data.services import web_client_uris
from apps.resource_server.client_assertion import ClientAssertionSigner
from apps.resource_server.dpop import generate_key, key_thumbprint, make_proof
from apps.resource_server.exchange import TokenClient
from demo import run

# The demo web app's session is a signed cookie (demo/settings.py); the tests set its key to
# read and change the tokens in it as a broken or tampered session would have them.
DEMO_SECRET_KEY = "demo-end-to-end-test-key-" + "x" * 30
SESSION_COOKIE = "globoticket_session"
SESSION_SALT = "django.contrib.sessions.backends.signed_cookies"
OPERATOR_PASSWORD = "operator-password-for-the-demo-test"


def ports_free(base: int) -> bool:
    """Whether the IdP's port and the services' after it are all free."""
    sockets = [socket.socket() for _ in range(1 + max(run.PORT_OFFSETS.values()))]
    try:
        for offset, sock in enumerate(sockets):
            # A port a stopped server left connections on (TIME_WAIT) is free to listen on.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", base + offset))
        return True
    except OSError:
        return False
    finally:
        for sock in sockets:
            sock.close()


def free_port_base() -> int:
    """A DEMO_PORT_BASE whose ports are free (demo/run.py's layout: the IdP, then the services)."""
    for _ in range(100):
        base = random.randrange(20000, 60000)
        if ports_free(base):
            return base
    raise RuntimeError("no five consecutive free ports")


@pytest.fixture
def demo(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", DEMO_SECRET_KEY)
    base = free_port_base()
    ports = run.service_ports(base)
    # Its own database: the IdP runs in another process, not on the test database.
    idp_env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'idp.sqlite3'}"}
    processes, seeded = run.start(base, ports, idp_env)
    idp = f"http://127.0.0.1:{base}"
    env = {**os.environ, **idp_env, "DEBUG": "1", "IDP_ISSUER": idp}

    def manage(*args: str, **extra_env: str) -> str:
        return run.manage(*args, env={**env, **extra_env})

    def user_token(username: str, *scopes: str) -> str:
        args = ["issue_token", "--user", username, "--client", "globoticket-web"]
        for scope in scopes:
            args += ["--scope", scope]
        return manage(*args).strip()

    def stop(service: str) -> None:
        process = processes[1 + run.SERVICES.index(service)]  # after the IdP, in SERVICES' order
        run.stop([process])

    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    yield {"urls": urls, "demo": seeded, "idp": idp, "user_token": user_token, "manage": manage, "stop": stop}
    run.stop(processes)


@pytest.fixture
def context(chromium):
    context = chromium.new_context()
    yield context
    context.close()


def sign_in(page, demo, *, consent: bool = True) -> None:
    page.goto(demo["urls"]["web"])
    page.click("#login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(demo["demo"]["users"]["alice"]["password"])
    page.get_by_role("button", name="Sign in").click()
    if consent:
        page.get_by_role("button", name="Allow").click()
    page.wait_for_url(demo["urls"]["web"] + "/")


def hop(page, name: str) -> dict[str, str]:
    """The claims a hop's row shows, how the token came (``sent``, with the thumbprint of the
    key it is bound to as ``jkt``, "" for Bearer), its jti (in the lineage link) and the
    transaction (``txn``, "" for none; ``txn_how``: started there, or from a Txn-Token)."""
    row = page.locator(f"#hops tr[data-hop={name}]")
    cells = {claim: row.locator(f"td[data-claim={claim}]").inner_text() for claim in ("sub", "aud", "scope", "act")}
    txn = row.locator("td[data-claim=txn] code")
    link = row.locator("a.lineage")
    sent = row.locator("td[data-claim=cnf]")
    jkt = sent.locator("small").get_attribute("title").removeprefix("cnf.jkt ") if sent.locator("small").count() else ""
    return {
        **cells, "jti": link.get_attribute("title").removeprefix("jti "), "lineage": link.get_attribute("href"),
        "sent": sent.inner_text().splitlines()[0],
        "jkt": jkt,
        "txn": txn.get_attribute("title").removeprefix("txn ") if txn.count() else "",
        "txn_how": row.locator("td[data-claim=txn]").inner_text().splitlines()[-1],
    }  # fmt: skip


def session_of(context) -> dict:
    cookie = next(c for c in context.cookies() if c["name"] == SESSION_COOKIE)
    return signing.loads(cookie["value"], key=DEMO_SECRET_KEY, salt=SESSION_SALT, serializer=JSONSerializer)


def replace_session(context, demo, session: dict) -> None:
    value = signing.dumps(session, key=DEMO_SECRET_KEY, salt=SESSION_SALT, serializer=JSONSerializer, compress=True)
    context.add_cookies([{"name": SESSION_COOKIE, "value": value, "url": demo["urls"]["web"]}])


def test_alice_shops_and_each_hop_shows_the_token_that_reached_it(context, demo, screenshot):
    page = context.new_page()
    page.set_viewport_size({"width": 1100, "height": 800})
    sign_in(page, demo)
    assert page.title() == "Shop · GloboTicket"
    assert page.locator("#signed-in-as").inner_text() == "alice"
    page.get_by_role("button", name="Add John Egbert Live").click()

    assert page.locator("#basket").inner_text() == "John Egbert Live"
    assert page.locator("#to-pay").inner_text() == "58.5"  # 65 minus the 10% discount
    signed_in, exchanged = hop(page, "sign-in"), hop(page, "exchange")
    alice = signed_in["sub"]
    assert {k: signed_in[k] for k in ("aud", "scope", "act")} == {
        "aud": "eventcatalog, shoppingbasket",
        "scope": "eventcatalog.read shoppingbasket.fullaccess",
        "act": "nobody",
    }
    # The discount service got a token exchanged on alice's behalf: still her, the basket acting.
    assert {k: exchanged[k] for k in ("sub", "aud", "scope", "act")} == {
        "sub": alice,
        "aud": "discount",
        "scope": "discount.fullaccess",
        "act": "shoppingbasket",
    }
    assert exchanged["jti"] != signed_in["jti"]
    # Her sign-in token came as Bearer; the exchanged one with DPoP, bound to the basket's key.
    assert (signed_in["sent"], signed_in["jkt"]) == ("Bearer anyone holding it", "")
    assert exchanged["sent"] == "DPoP bound to the shopping basket's key"
    assert len(exchanged["jkt"]) == 43  # a base64url SHA-256 thumbprint (RFC 7638)
    # One transaction across the chain: the basket started it (a Txn-Token for alice's
    # view_basket) and the discount service saw the same txn in the Txn-Token header.
    assert (signed_in["txn_how"], exchanged["txn_how"]) == ("started here", "Txn-Token")
    assert signed_in["txn"] and exchanged["txn"] == signed_in["txn"]
    screenshot(page, "demo-shop")

    # Without alice: the basket's own client-credentials token.
    page.click("#client-credentials")
    assert page.title() == "Client credentials · GloboTicket"
    own = hop(page, "client-credentials")
    assert {k: own[k] for k in ("sub", "aud", "scope", "act")} == {
        "sub": "shoppingbasket",
        "aud": "discount",
        "scope": "discount.fullaccess",
        "act": "nobody",
    }
    assert (own["txn"], own["txn_how"]) == ("", "none")  # nobody's transaction
    # Its own token is bound too, to the same key: one per basket process.
    assert (own["sent"], own["jkt"]) == ("DPoP bound to the shopping basket's key", exchanged["jkt"])

    # The lineage link takes an operator to the exchanged token's page in the IdP's admin.
    demo["manage"](
        "createsuperuser", "--noinput", "--username", "operator", "--email", "ops@example.test",
        DJANGO_SUPERUSER_PASSWORD=OPERATOR_PASSWORD,
    )  # fmt: skip
    assert urlsplit(exchanged["lineage"]).path == "/admin/oauth/accesstoken/"
    assert parse_qs(urlsplit(exchanged["lineage"]).query) == {"q": ["shoppingbasket alice"]}
    operator = context.browser.new_context().new_page()
    operator.goto(exchanged["lineage"])
    # The admin signs operators in on the people's sign-in page.
    assert urlsplit(operator.url).path == "/accounts/login/"
    operator.get_by_label("Username").fill("operator")
    operator.get_by_label("Password").fill(OPERATOR_PASSWORD)
    with operator.expect_navigation():
        operator.locator("main").get_by_role("button", name="Sign in").click()
    with operator.expect_navigation():
        operator.locator("#result_list tr", has_text=exchanged["jti"]).locator("a").first.click()
    lineage = operator.locator("ul.lineage").inner_text()
    assert "globoticket-web → eventcatalog, shoppingbasket" in lineage  # the sign-in token, its parent
    assert operator.locator("ul.lineage strong").inner_text().endswith("acting: shoppingbasket")
    operator.context.close()


def test_an_expired_token_is_renewed_with_the_refresh_token(context, demo):
    # Tokens for the shopping basket (and so alice's, which is for it too) live 10 seconds; the
    # web app renews its token 5 seconds before it expires (demo/web.py).
    demo["manage"](
        "shell", "-c",
        "from apps.resources.models import ApiResource; "
        "api = ApiResource.objects.get(audience='shoppingbasket'); api.access_token_lifetime = 10; api.save()",
    )  # fmt: skip
    page = context.new_page()
    sign_in(page, demo)
    first = hop(page, "sign-in")["jti"]
    page.reload()
    assert hop(page, "sign-in")["jti"] == first  # still valid: kept

    sign_ins = []
    page.on("request", lambda request: sign_ins.append(request.url) if "/o/authorize/" in request.url else None)
    time.sleep(11)  # expired
    page.reload()
    renewed = hop(page, "sign-in")
    assert renewed["jti"] != first
    assert renewed["scope"] == "eventcatalog.read shoppingbasket.fullaccess"
    assert hop(page, "exchange")["act"] == "shoppingbasket"
    assert sign_ins == []  # renewed by the refresh token, without a trip through sign-in


def test_a_refused_token_is_renewed_and_without_a_usable_refresh_token_alice_signs_in_again(context, demo):
    page = context.new_page()
    sign_in(page, demo)
    first = hop(page, "sign-in")["jti"]
    sign_ins = []
    page.on("request", lambda request: sign_ins.append(request.url) if "/o/authorize/" in request.url else None)

    # An access token the services refuse (RFC 6750 invalid_token) though not expired here.
    session = session_of(context)
    replace_session(context, demo, {**session, "access_token": "refused"})
    page.reload()
    renewed = hop(page, "sign-in")["jti"]
    assert renewed != first
    assert sign_ins == []

    # Neither token usable: alice signs in again, without typing anything (her IdP session
    # is alive and her consent remembered).
    session = session_of(context)
    replace_session(context, demo, {**session, "access_token": "refused", "refresh_token": "unknown"})
    page.reload()
    page.wait_for_url(demo["urls"]["web"] + "/")
    assert hop(page, "sign-in")["jti"] not in (first, renewed)
    assert len(sign_ins) == 1


def test_sign_out_ends_the_demo_session_and_the_idp_session(context, demo):
    page = context.new_page()
    sign_in(page, demo)
    web = demo["demo"]["clients"]["globoticket-web"]
    refresh_token = session_of(context)["refresh_token"]

    page.click("#logout")
    page.wait_for_url(f"{demo['urls']['web']}/?state=*")
    assert page.locator("#signed-out").inner_text() == "You are signed out of GloboTicket and of the IdP."
    assert page.locator("#login").is_visible()
    # The IdP revoked the tokens it had given the web app for alice...
    refused = requests.post(
        f"{demo['idp']}/o/token/",
        data={"grant_type": "refresh_token", "refresh_token": refresh_token},
        auth=(web["client_id"], web["client_secret"]),
        timeout=10,
    )
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    # ...and ended her session there: signing in asks for her password again.
    page.click("#login")
    assert urlsplit(page.url).path == "/accounts/login/"
    sign_in(page, demo, consent=False)
    assert page.locator("#signed-in-as").inner_text() == "alice"


def test_a_service_that_is_down_gets_a_readable_page(context, demo):
    page = context.new_page()
    sign_in(page, demo)

    demo["stop"]("discount")
    response = page.reload()
    assert response.status == 502
    assert page.title() == "Something went wrong · GloboTicket"
    assert page.locator("#error").inner_text() == (
        "The shopping basket answered 502: The discount service did not answer (ConnectionError)."
    )
    demo["stop"]("eventcatalog")
    page.reload()
    assert page.locator("#error").inner_text() == "The event catalog did not answer (ConnectionError)."
    assert page.locator("#logout").is_visible()  # still signed in: nothing to do with her token


def test_the_demo_enforces_audience_scope_and_sub(demo):
    urls = demo["urls"]
    admin = demo["demo"]["clients"]["eventcatalog-admin"]
    catalog_token = requests.post(
        f"{demo['idp']}/o/token/",
        data={"grant_type": "client_credentials"},
        auth=(admin["client_id"], admin["client_secret"]),
        timeout=10,
    ).json()["access_token"]

    def call(method: str, url: str, token: str, **kwargs) -> requests.Response:
        return requests.request(method, url, headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs)

    # A token for the event catalog is refused by the shopping basket.
    assert call("GET", f"{urls['shoppingbasket']}/basket", catalog_token).status_code == 401
    # A token without eventcatalog.write is refused by the write endpoint; with it, accepted.
    alice_read = demo["user_token"]("alice", "eventcatalog.read")
    assert call("POST", f"{urls['eventcatalog']}/events", alice_read, json={"name": "x"}).status_code == 403
    assert call("POST", f"{urls['eventcatalog']}/events", catalog_token, json={"name": "x"}).status_code == 201
    # alice's basket is invisible to bob.
    alice = demo["user_token"]("alice", "shoppingbasket.fullaccess")
    bob = demo["user_token"]("bob", "shoppingbasket.fullaccess")
    assert call("POST", f"{urls['shoppingbasket']}/basket", alice, json={"event_id": 2}).status_code == 201
    assert [i["id"] for i in call("GET", f"{urls['shoppingbasket']}/basket", alice).json()["items"]] == [2]
    bobs = call("GET", f"{urls['shoppingbasket']}/basket", bob).json()
    assert bobs["items"] == []
    assert bobs["discount"]["act"] == {"sub": "shoppingbasket"}
    # Without a user, the basket calls the discount service with its own client-credentials token.
    rate = call("GET", f"{urls['shoppingbasket']}/discount-rate", alice).json()
    saw = rate["discount_saw"]
    assert {k: saw[k] for k in ("percent", "sub", "aud", "scope", "act", "client_id")} == {
        "percent": 10, "sub": "shoppingbasket", "aud": ["discount"], "scope": "discount.fullaccess", "act": None,
        "client_id": "shoppingbasket",
    }  # fmt: skip


def test_the_basket_authenticates_with_its_key_not_its_secret(demo):
    """private_key_jwt: with its secret removed at the IdP, the basket still gets its tokens
    (exchanged for a user, and its own): it signs its requests with the key seed_demo made."""
    demo["manage"](
        "shell",
        "-c",
        "from apps.clients.services import remove_client_secret; from apps.oauth.models import Application; "
        "remove_client_secret(client=Application.objects.get(client_id='shoppingbasket'))",
    )
    basket = demo["demo"]["clients"]["shoppingbasket"]
    refused = requests.post(
        f"{demo['idp']}/o/token/",
        data={"grant_type": "client_credentials"},
        auth=(basket["client_id"], basket["client_secret"]),
        timeout=10,
    )
    assert (refused.status_code, refused.json()["error"]) == (401, "invalid_client")

    alice = demo["user_token"]("alice", "shoppingbasket.fullaccess")
    headers = {"Authorization": f"Bearer {alice}"}
    url = demo["urls"]["shoppingbasket"]
    added = requests.post(f"{url}/basket", headers=headers, json={"event_id": 2}, timeout=10)
    assert added.status_code == 201
    basket_page = requests.get(f"{url}/basket", headers=headers, timeout=10).json()
    assert basket_page["discount"]["act"] == {"sub": "shoppingbasket"}  # exchanged for alice
    rate = requests.get(f"{url}/discount-rate", headers=headers, timeout=10).json()
    assert rate["discount_saw"]["client_id"] == "shoppingbasket"  # its own token


def test_a_copied_discount_token_is_refused_without_its_key(demo):
    """RFC 9449 in the demo: a discount token bound as the basket's are (exchanged for alice
    with the basket's credentials and a DPoP key) is refused by the discount service as
    Bearer, and with a proof of another key; with its own key's proof it is accepted, once."""
    basket = demo["demo"]["clients"]["shoppingbasket"]
    signer = ClientAssertionSigner.from_pem(
        demo["demo"]["client_keys"]["shoppingbasket"]["private_key_pem"], client_id=basket["client_id"],
        key_id=demo["demo"]["client_keys"]["shoppingbasket"]["key_id"],
    )  # fmt: skip
    key = generate_key()
    tokens = TokenClient(f"{demo['idp']}/o/token/", basket["client_id"], assertion_signer=signer, dpop_key=key)
    alice = demo["user_token"]("alice", "shoppingbasket.fullaccess")
    token = tokens.on_behalf_of(alice, audience="discount", scope="discount.fullaccess")
    url = f"{demo['urls']['discount']}/discount"

    copied = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert (copied.status_code, copied.json()["error"]) == (401, "invalid_token")
    assert copied.json()["error_description"] == "The token is DPoP-bound: send it as Authorization: DPoP with a proof."
    # RFC 9449 section 7.2: the Bearer refusal, then the DPoP challenge naming the scheme to use.
    assert copied.headers["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')
    assert copied.headers["WWW-Authenticate"].endswith(', DPoP realm="api", algs="ES256 PS256 RS256"')

    thief = make_proof(generate_key(), "GET", url, access_token=token)
    stolen = requests.get(url, headers={"Authorization": f"DPoP {token}", "DPoP": thief}, timeout=10)
    assert (stolen.status_code, stolen.json()["error"]) == (401, "invalid_token")
    assert stolen.headers["WWW-Authenticate"].startswith('DPoP realm="api", error="invalid_token"')
    assert stolen.json()["error_description"] == "The token is bound to another key than the proof's."

    # A call for alice carries her transaction (the next test); with it, the key's proof passes.
    txn = tokens.transaction_token(
        alice, audience=demo["idp"], scope="shoppingbasket.fullaccess", request_details={"action": "view_basket"}
    )
    held = {**tokens.authorization_headers(token, "GET", url), "Txn-Token": txn}
    answer = requests.get(url, headers=held, timeout=10)
    assert answer.status_code == 200
    assert (answer.json()["scheme"], answer.json()["cnf"]) == ("DPoP", {"jkt": key_thumbprint(key)})
    replayed = requests.get(url, headers=held, timeout=10)  # the same proof again
    assert (replayed.status_code, replayed.json()["error"]) == (401, "invalid_dpop_proof")


def test_the_discount_service_takes_a_call_for_alice_only_with_her_transaction(demo):
    """draft-ietf-oauth-transaction-tokens in the demo: the discount service refuses a call
    made for alice without a Txn-Token, with one whose context was edited (the signature no
    longer holds), and with one for an amount other than the order's; the IdP gives a
    Txn-Token only to a workload with a policy (the basket), never to the web app."""
    basket = demo["demo"]["clients"]["shoppingbasket"]
    signer = ClientAssertionSigner.from_pem(
        demo["demo"]["client_keys"]["shoppingbasket"]["private_key_pem"], client_id=basket["client_id"],
        key_id=demo["demo"]["client_keys"]["shoppingbasket"]["key_id"],
    )  # fmt: skip
    tokens = TokenClient(f"{demo['idp']}/o/token/", basket["client_id"], assertion_signer=signer)
    alice = demo["user_token"]("alice", "shoppingbasket.fullaccess")
    token = tokens.on_behalf_of(alice, audience="discount", scope="discount.fullaccess")
    url = f"{demo['urls']['discount']}/discount"

    def order(amount: int, txn: str | None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}", **({"Txn-Token": txn} if txn else {})}
        return requests.post(url, headers=headers, json={"amount": amount}, timeout=10)

    txn = tokens.transaction_token(
        alice, audience=demo["idp"], scope="shoppingbasket.fullaccess",
        request_details={"action": "place_order", "amount": 65},
    )  # fmt: skip
    none = order(65, None)
    assert (none.status_code, none.json()) == (
        403, {"error": "invalid_txn_token", "error_description": "A Txn-Token is required."}
    )  # fmt: skip
    header, payload, signature = txn.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["tctx"]["amount"] = 150
    edited = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    forged = order(150, f"{header}.{edited}.{signature}")
    assert (forged.status_code, forged.json()["error"]) == (403, "invalid_txn_token")
    other_amount = order(150, txn)
    assert (other_amount.status_code, other_amount.json()) == (403, {"detail": "The amount is not the transaction's."})
    placed = order(65, txn)
    assert placed.status_code == 200
    assert (placed.json()["to_pay"], placed.json()["txn"]) == (58.5, claims["txn"])

    web = demo["demo"]["clients"]["globoticket-web"]
    refused = requests.post(
        f"{demo['idp']}/o/token/",
        data={
            "grant_type": "urn:ietf:params:oauth:grant-type:token-exchange", "subject_token": alice,
            "subject_token_type": "urn:ietf:params:oauth:token-type:access_token", "audience": demo["idp"],
            "requested_token_type": "urn:ietf:params:oauth:token-type:txn_token", "scope": "shoppingbasket.fullaccess",
        },
        auth=(web["client_id"], web["client_secret"]),
        timeout=10,
    )  # fmt: skip
    assert (refused.status_code, refused.json()["error"]) == (400, "unauthorized_client")


# --- DEMO_PORT_BASE ----------------------------------------------------------------------------


def test_the_ports_follow_demo_port_base_and_default_to_today_s():
    assert run.port_base({}) == 8000
    assert run.service_ports(8000) == {"web": 8001, "eventcatalog": 8002, "shoppingbasket": 8003, "discount": 8004}
    assert run.service_ports(run.port_base({"DEMO_PORT_BASE": "8100"})) == {
        "web": 8101, "eventcatalog": 8102, "shoppingbasket": 8103, "discount": 8104,
    }  # fmt: skip


@pytest.mark.parametrize("value", ["web", "80", "65532", "-8100", "8100.5"])
def test_a_demo_port_base_that_is_no_usable_port_is_refused(value):
    with pytest.raises(SystemExit, match="DEMO_PORT_BASE must be a port from 1024 to 65531"):
        run.port_base({"DEMO_PORT_BASE": value})


def test_seed_demo_registers_the_web_app_one_port_above_a_loopback_idp():
    assert web_client_uris("http://127.0.0.1:8100") == {
        "redirect_uris": ["http://127.0.0.1:8101/callback", "http://127.0.0.1:8001/callback"],
        "post_logout_redirect_uris": ["http://127.0.0.1:8101/", "http://127.0.0.1:8001/"],
    }
    # On 8000, or not on loopback (docker-compose.yml with IDP_ISSUER set): 8001 alone.
    assert (
        web_client_uris("https://idp.example.com")
        == web_client_uris("http://127.0.0.1:8000")
        == {
            "redirect_uris": ["http://127.0.0.1:8001/callback"],
            "post_logout_redirect_uris": ["http://127.0.0.1:8001/"],
        }
    )


def test_demo_port_base_moves_the_idp_its_issuer_and_every_service(tmp_path):
    base = free_port_base()
    idp, web = f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 1}"
    env = {**os.environ, "DEMO_PORT_BASE": str(base), "DATABASE_URL": f"sqlite:///{tmp_path / 'idp.sqlite3'}"}
    process = subprocess.Popen(
        [sys.executable, "demo/run.py"], cwd=run.ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True, start_new_session=True,
    )  # fmt: skip
    printed: list[str] = []
    threading.Thread(target=lambda: printed.extend(process.stdout), daemon=True).start()
    try:
        deadline = time.monotonic() + 90
        while not any("GloboTicket demo: open" in line for line in printed):
            assert process.poll() is None and time.monotonic() < deadline, "demo/run.py did not start"
            time.sleep(0.2)
        assert any(f"GloboTicket demo: open {web} " in line for line in printed)
        assert requests.get(f"{idp}/.well-known/openid-configuration", timeout=10).json()["issuer"] == idp
        for service, path in (("eventcatalog", "/events"), ("shoppingbasket", "/basket"), ("discount", "/discount")):
            port = base + run.PORT_OFFSETS[service]
            assert requests.get(f"http://127.0.0.1:{port}{path}", timeout=10).status_code == 401  # no token
        # The web app sends alice to this IdP, which knows the web client at its new address.
        authorize = requests.get(f"{web}/login", allow_redirects=False, timeout=10).headers["Location"]
        assert authorize.startswith(f"{idp}/o/authorize/?")
        assert parse_qs(urlsplit(authorize).query)["redirect_uri"] == [f"{web}/callback"]
        asks_to_sign_in = requests.get(authorize, allow_redirects=False, timeout=10)
        assert asks_to_sign_in.status_code == 302
        assert urlsplit(asks_to_sign_in.headers["Location"]).path == "/accounts/login/"
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    assert process.returncode == 0
    assert ports_free(base)  # stopping it stopped every process it started
