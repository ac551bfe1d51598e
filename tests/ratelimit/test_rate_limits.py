"""Rate limits: a noisy or hostile caller is slowed down; the clients that behave are not."""

import pytest
import redis
from django.test import Client

from apps.ratelimit import counters as counters_module
from apps.ratelimit import middleware
from apps.ratelimit.counters import LocalCounters, SharedCounters
from idp.http import client_address
from tests.support.http import INTROSPECT_URL, TOKEN_URL, basic_auth, form_post, oauth_error

WINDOW_START = 1_800_000_000  # a multiple of every window below: Retry-After is the whole window


@pytest.fixture
def clock(monkeypatch):
    """The limits' wall clock, frozen at the start of a window (tests must not straddle one)."""
    current = [float(WINDOW_START)]
    monkeypatch.setattr(middleware, "now", lambda: current[0])
    return current


@pytest.fixture
def limits(rate_limits, clock):
    return rate_limits


@pytest.fixture
def service(apis, make_client):
    return make_client("reporting", scopes=["eventcatalog.read"])


def client_credentials(http: Client, credentials, secret: str | None = None, address: str = "10.0.0.1"):
    auth = basic_auth(credentials.client.client_id, secret or credentials.client_secret)
    return form_post(
        http, TOKEN_URL, {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=auth, REMOTE_ADDR=address
    )


def test_a_client_over_its_budget_gets_429_with_retry_after_and_others_are_served(limits, service, make_client):
    limits(client=(3, 60))
    other = make_client("billing", scopes=["eventcatalog.read"])
    http = Client()
    assert [client_credentials(http, service).status_code for _ in range(3)] == [200, 200, 200]

    refused = client_credentials(http, service)
    assert oauth_error(refused) == (429, "temporarily_unavailable")
    assert refused["Retry-After"] == "60"
    assert refused["Cache-Control"] == "no-store"
    assert client_credentials(http, other).status_code == 200


def test_the_budget_comes_back_when_the_window_ends(limits, service, clock):
    limits(client=(2, 60))
    http = Client()
    assert [client_credentials(http, service).status_code for _ in range(3)] == [200, 200, 429]
    clock[0] += 45
    assert client_credentials(http, service)["Retry-After"] == "15"
    clock[0] += 15
    assert client_credentials(http, service).status_code == 200


def test_wrong_secrets_sent_with_a_clients_id_spend_the_senders_budget_not_the_clients(limits, service):
    limits(client=(3, 60), address_failures=(5, 60))
    http = Client()
    attacker, service_host = "203.0.113.9", "10.0.0.1"
    statuses = [client_credentials(http, service, secret="guess", address=attacker).status_code for _ in range(6)]
    assert statuses == [401, 401, 401, 401, 401, 429]

    assert oauth_error(client_credentials(http, service, address=attacker)) == (429, "temporarily_unavailable")
    assert [client_credentials(http, service, address=service_host).status_code for _ in range(3)] == [200] * 3


def test_introspection_counts_against_the_calling_client(limits, apis, make_client):
    limits(client=(2, 60))
    api = make_client("eventcatalog-api", scopes=["eventcatalog.read"], resource="eventcatalog")
    http = Client()
    auth = basic_auth(api.client.client_id, api.client_secret)
    statuses = [form_post(http, INTROSPECT_URL, {"token": "x"}, HTTP_AUTHORIZATION=auth).status_code for _ in range(2)]
    assert statuses == [200, 200]
    refused = form_post(http, INTROSPECT_URL, {"token": "x"}, HTTP_AUTHORIZATION=auth)
    assert oauth_error(refused) == (429, "temporarily_unavailable")
    assert refused["Retry-After"] == "60"


def test_sign_in_attempts_are_limited_per_address(limits, db):
    limits(login=(3, 60))
    http = Client()
    statuses = [
        http.post("/accounts/login/", {"username": "nobody", "password": "x"}, REMOTE_ADDR="198.51.100.7").status_code
        for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]
    refused = http.post("/accounts/login/", {"username": "nobody", "password": "x"}, REMOTE_ADDR="198.51.100.7")
    assert refused["Retry-After"] == "60"
    assert "Too many sign-in attempts" in refused.content.decode()
    assert (
        http.post("/accounts/login/", {"username": "x", "password": "x"}, REMOTE_ADDR="198.51.100.8").status_code == 200
    )
    assert http.get("/accounts/login/", REMOTE_ADDR="198.51.100.7").status_code == 200  # the page itself is not limited


def test_turned_off_nothing_is_limited(settings, limits, service):
    limits(client=(1, 60))
    settings.IDP = {**settings.IDP, "RATE_LIMITING": False}
    http = Client()
    assert [client_credentials(http, service).status_code for _ in range(3)] == [200, 200, 200]


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (0, "198.51.100.1", "10.0.0.2"),  # no proxy trusted: the header is the caller's to forge
        (1, "198.51.100.1", "198.51.100.1"),
        (1, "6.6.6.6, 198.51.100.1", "198.51.100.1"),  # what the caller claimed comes first
        (2, "6.6.6.6, 198.51.100.1, 10.1.1.1", "198.51.100.1"),
        (1, "", "10.0.0.2"),
    ],
)
def test_the_callers_address_is_the_one_the_trusted_proxy_saw(settings, rf, proxies, forwarded, expected):
    settings.IDP = {**settings.IDP, "TRUSTED_PROXY_COUNT": proxies}
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=forwarded)
    assert client_address(request) == expected


@pytest.fixture
def redis_client():
    client = redis.Redis.from_url("redis://127.0.0.1:6379/14", socket_connect_timeout=1)
    try:
        client.flushdb()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    yield client
    client.flushdb()


def test_with_redis_two_processes_share_one_budget(limits, service, redis_client, monkeypatch):
    limits(client=(3, 60))
    monkeypatch.setattr(counters_module, "_counters", SharedCounters(redis_client))
    first, second = Client(), Client()  # two handlers: two middleware instances, as two processes
    assert client_credentials(first, service).status_code == 200
    assert client_credentials(second, service).status_code == 200
    assert client_credentials(first, service).status_code == 200  # the third: the shared budget is spent
    assert client_credentials(first, service).status_code == 429
    # The second process learns it from its own next count: at most one request over per process.
    assert client_credentials(second, service).status_code == 200
    assert client_credentials(second, service).status_code == 429
    assert int(redis_client.get(f"rl:client:{service.client.client_id}:{WINDOW_START // 60}")) == 4


def test_with_redis_down_tokens_are_still_issued_and_limits_hold_per_process(limits, service, monkeypatch):
    limits(client=(2, 60))
    unreachable = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, socket_timeout=0.2)
    shared = SharedCounters(unreachable)
    monkeypatch.setattr(counters_module, "_counters", shared)
    http = Client()
    assert [client_credentials(http, service).status_code for _ in range(3)] == [200, 200, 429]
    assert isinstance(shared._local, LocalCounters) and shared._redis_down_until > 0


@pytest.mark.parametrize("limiting", [True, False], ids=["limits-on", "limits-off"])
@pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, "/o/revoke_token/"])
def test_an_unparseable_body_gets_the_endpoints_own_answer_with_or_without_limits(
    settings, limits, service, limiting, url
):
    """The limiter reads the body to find the client: a body Django cannot parse must still
    get the endpoint's answer, not an empty form's."""
    limits()
    settings.IDP = {**settings.IDP, "RATE_LIMITING": limiting}
    response = Client().post(
        url,
        b"grant_type=client_credentials",
        content_type="multipart/form-data",  # no boundary: Django's parser refuses it
        HTTP_AUTHORIZATION=basic_auth(service.client.client_id, service.client_secret),
        REMOTE_ADDR="10.0.0.1",
    )
    assert oauth_error(response) == (400, "invalid_request")
    assert response.json()["error_description"] == "Request body cannot be parsed."


def test_local_counters_of_limits_with_different_windows_do_not_drop_each_other():
    """A 60 s window's number is far larger than a 3600 s window's: starting one must not
    count the other as an old window and forget it (a per-username limit over an hour was
    reset by every sign-in's per-address count)."""
    local = LocalCounters()
    hour, minute = WINDOW_START // 3600, WINDOW_START // 60
    assert local.hit(f"rl:login_username:olivia:{hour}", hour, 3601) == 1
    assert local.hit(f"rl:login:10.0.0.1:{minute}", minute, 61) == 1
    assert local.hit(f"rl:login_username:olivia:{hour}", hour, 3601) == 2
    # Old windows of the same length are still dropped as new ones start.
    assert local.hit(f"rl:login:10.0.0.1:{minute + 2}", minute + 2, 61) == 1
    assert f"rl:login:10.0.0.1:{minute}" not in local._counts
