"""Two stateless IdP processes behind one load balancer: one PostgreSQL database and one Redis,
nothing shared in memory. Tokens issued by either validate at the other, and a key rotation
done through one is picked up by the other without a restart."""

import base64
import json
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import quote, urlencode

import psycopg
import pytest
import redis
from django.db import connection

from apps.resource_server.authentication import validate_access_token
from apps.resource_server.jwks import JwksCache, http_fetch
from tests.deployment.processes import idp_environment, run_role, web_process

ISSUER = "https://idp.shared.test"
KEY_CACHE_SECONDS = 2


@pytest.fixture
def shared_database():
    """A database of its own (the test run's is inside a transaction no other process sees)."""
    if connection.vendor != "postgresql":
        pytest.skip("the shared database of a multi-process deployment is PostgreSQL")
    try:
        redis.Redis.from_url("redis://127.0.0.1:6379/0", socket_connect_timeout=1).ping()
    except redis.RedisError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    settings = connection.settings_dict
    name = f"idp_two_processes_{uuid.uuid4().hex[:8]}"
    server = f"{settings['HOST'] or '127.0.0.1'}:{settings['PORT'] or 5432}"
    admin = f"postgresql://{settings['USER']}@{server}/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgres://{settings['USER']}@{server}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def post(url: str, data: dict, client: dict) -> tuple[int, dict]:
    raw = f"{quote(client['client_id'], safe='')}:{quote(client['client_secret'], safe='')}".encode()
    request = urllib.request.Request(
        url,
        data=urlencode(data).encode(),
        headers={"Authorization": "Basic " + base64.b64encode(raw).decode()},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")  # revocation: empty body
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def client_credentials(base: str, client: dict) -> str:
    status, body = post(f"{base}/o/token/", {"grant_type": "client_credentials", "scope": "eventcatalog.read"}, client)
    assert status == 200, body
    return body["access_token"]


def header(token: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))


def validate(token: str, base: str) -> None:
    """As a resource server does, against the JWKS one process publishes."""
    jwks = JwksCache(http_fetch(f"{base}/.well-known/jwks.json"))
    user = validate_access_token(token, issuer=ISSUER, audience="eventcatalog", jwks=jwks)
    assert user.client_id == "eventcatalog-admin"


def test_tokens_validate_across_processes_and_a_rotation_reaches_both(shared_database):
    env = idp_environment(
        DATABASE_URL=shared_database,
        REDIS_URL="redis://127.0.0.1:6379/0",
        IDP_ISSUER=ISSUER,
        IDP_SIGNING_KEY_CACHE_SECONDS=str(KEY_CACHE_SECONDS),
    )
    assert run_role("migrate", env=env).returncode == 0
    seeded = run_role("manage", "seed_demo", "--json", env=env)
    assert seeded.returncode == 0, seeded.stderr
    admin = json.loads(seeded.stdout)["clients"]["eventcatalog-admin"]
    created = run_role(
        "manage", "create_client", "--name", "eventcatalog-api", "--resource", "eventcatalog",
        "--grant", "client_credentials", "--scope", "eventcatalog.read", "--json", env=env,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    api = json.loads(created.stdout)  # introspects the tokens for its API (and only those)

    with web_process(env) as first, web_process(env) as second:
        from_first, from_second = client_credentials(first, admin), client_credentials(second, admin)
        assert header(from_first)["kid"] == header(from_second)["kid"]
        for token in (from_first, from_second):
            for base in (first, second):
                validate(token, base)
                status, body = post(f"{base}/o/introspect/", {"token": token}, api)
                assert (status, body["active"], body["aud"]) == (200, True, ["eventcatalog"])

        # Rotate through the first process's deployment (same image, same database).
        rotated = run_role("manage", "rotate_keys", "--algorithm", "RS256", env=env)
        assert rotated.returncode == 0, rotated.stderr
        old_kid = header(from_first)["kid"]
        deadline = time.monotonic() + KEY_CACHE_SECONDS + 5
        while header(client_credentials(second, admin))["kid"] == old_kid:
            assert time.monotonic() < deadline, "the second process still signs with the retired key"
            time.sleep(0.3)
        new_token = client_credentials(second, admin)
        assert header(client_credentials(first, admin))["kid"] == header(new_token)["kid"] != old_kid

        for base in (first, second):
            validate(new_token, base)  # the new key was published before it signed anything
            validate(from_first, base)  # and the retired one stays published for its tokens
        assert post(f"{second}/o/revoke_token/", {"token": from_first}, admin) == (200, {})
        status, body = post(f"{first}/o/introspect/", {"token": from_first}, api)
        assert (status, body) == (200, {"active": False})
