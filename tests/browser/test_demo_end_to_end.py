"""The GloboTicket demo end to end: the IdP and four services as real processes, alice in a
real browser, and the discount service receiving an exchanged token."""

import json
import os
import socket

import pytest
import requests

from demo import run


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture
def demo(tmp_path):
    idp_port, *service_ports = free_ports(5)
    ports = dict(zip(("web", "eventcatalog", "shoppingbasket", "discount"), service_ports, strict=True))
    # Its own database: the IdP runs in another process, not on the test database.
    idp_env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'idp.sqlite3'}"}
    env = {**os.environ, **idp_env, "DEBUG": "1", "IDP_ISSUER": f"http://127.0.0.1:{idp_port}"}
    run.manage("migrate", "--noinput", env=env)
    run.manage("seed_demo", "--json", env=env)
    web = json.loads(
        run.manage(
            "create_client", "--name", "e2e-web", "--grant", "authorization_code", "--grant", "refresh_token",
            "--scope", "openid", "--scope", "profile", "--scope", "eventcatalog.read",
            "--scope", "shoppingbasket.fullaccess",
            "--redirect-uri", f"http://127.0.0.1:{ports['web']}/callback", "--json", env=env,
        )
    )  # fmt: skip
    processes, seeded = run.start(idp_port, ports, idp_env, web_client=web)
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}

    def user_token(username: str, *scopes: str) -> str:
        args = ["issue_token", "--user", username, "--client", web["client_id"]]
        for scope in scopes:
            args += ["--scope", scope]
        return run.manage(*args, env=env).strip()

    yield {"urls": urls, "demo": seeded, "idp": f"http://127.0.0.1:{idp_port}", "user_token": user_token}
    run.stop(processes)


def test_alice_shops_and_the_discount_service_gets_an_exchanged_token(chromium, demo):
    context = chromium.new_context()
    page = context.new_page()
    page.goto(demo["urls"]["web"])
    page.click("#login")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill(demo["demo"]["users"]["alice"]["password"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("button", name="Allow").click()
    page.get_by_role("button", name="Add John Egbert Live").click()

    assert page.locator("#basket").inner_text() == "John Egbert Live"
    assert page.locator("#to-pay").inner_text() == "58.5"  # 65 minus the 10% discount
    seen = page.locator("#discount-seen").inner_text()
    assert "aud=['discount']" in seen
    assert "act={'sub': 'shoppingbasket'}" in seen
    page.wait_for_load_state("networkidle")
    context.close()


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
    assert rate["discount_saw"] == {"percent": 10, "sub": "shoppingbasket", "aud": ["discount"], "act": None}
