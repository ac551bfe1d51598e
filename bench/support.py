"""The benchmark's in-process steps, run by bench/token_bench.py in the benchmark's own
environment (settings and database), each printing one JSON object:

    python bench/support.py seed            # migrate, seed the demo, issue alice's token
    python bench/support.py fill ROWS       # exactly ROWS stored tokens, then a fresh token for alice
    python bench/support.py validate        # resource-server JWT validation, in-process
"""

import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from apps.demo_data.services import seed_demo  # noqa: E402
from apps.oauth.models import AccessToken, Application  # noqa: E402
from apps.tokens.issuance import issue_user_token  # noqa: E402


def alice_token() -> str:
    """alice's token for the shopping basket, as the web app holds it after sign-in."""
    return issue_user_token(
        client=Application.objects.get(client_id="globoticket-web"),
        user=get_user_model().objects.get(username="alice"),
        scopes=["shoppingbasket.fullaccess"],
    ).token


def register_bench_key(client_id: str) -> dict:
    """An EC P-256 key pair whose public half ``client_id`` registers beside its secret (a
    client may hold both while it migrates), so the benchmark can authenticate it with
    private_key_jwt: the private key as PEM and its kid."""
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    private_key = ec.generate_private_key(ec.SECP256R1())
    public_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(private_key.public_key()))
    public_jwk.update({"kid": "bench-1", "use": "sig", "alg": "ES256"})
    client = Application.objects.get(client_id=client_id)
    client.jwks = {"keys": [public_jwk]}
    client.save(update_fields=["jwks"])
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {"client_id": client_id, "kid": "bench-1", "private_key_pem": pem}


def seed() -> dict:
    call_command("migrate", verbosity=0)
    demo = seed_demo()
    return {"demo": demo, "subject_token": alice_token(), "bench_key": register_bench_key("shoppingbasket")}


def _fill_sql(rows: int) -> str:
    """One INSERT ... SELECT of ``rows`` unexpired filler tokens with random checksums."""
    table = AccessToken._meta.db_table
    columns = "token, token_checksum, expires, scope, resource, created, updated, jti, subject, audience, acr, jkt"
    if connection.vendor == "postgresql":
        return (
            f"INSERT INTO {table} ({columns}) SELECT '', md5(random()::text) || md5(random()::text),"
            " now() + interval '1 day', 'filler', '[]', now(), now(), gen_random_uuid(), 'filler', '[\"filler\"]',"
            f" '', '' FROM generate_series(1, {rows})"
        )
    return (
        f"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows})"
        f" INSERT INTO {table} ({columns}) SELECT '', lower(hex(randomblob(32))),"
        " strftime('%Y-%m-%d %H:%M:%f', 'now', '+1 day'), 'filler', '[]',"
        " strftime('%Y-%m-%d %H:%M:%f', 'now'), strftime('%Y-%m-%d %H:%M:%f', 'now'),"
        " lower(hex(randomblob(16))), 'filler', '[\"filler\"]', '', '' FROM n"
    )


def fill(rows: int) -> dict:
    """Exactly ``rows`` stored access tokens (the last one alice's, for exchange)."""
    started = time.monotonic()
    table = AccessToken._meta.db_table
    with transaction.atomic(), connection.cursor() as cursor:
        # The benchmark's own database: nothing else refers to its tokens (no refresh tokens,
        # no codes), so one DELETE, rather than the ORM's cascade that loads every row.
        cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - the model's table name
        cursor.execute(_fill_sql(rows - 1))
    token = alice_token()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {AccessToken._meta.db_table}")
    return {"rows": AccessToken.objects.count(), "subject_token": token, "seconds": time.monotonic() - started}


def validate(count: int = 20_000) -> dict:
    """Per-call time of the toolkit's validate_access_token on a cached JWKS, both algorithms."""
    from apps.keys.services import jwks_document
    from apps.resource_server.authentication import validate_access_token
    from apps.resource_server.jwks import JwksCache
    from apps.resources.models import ApiResource
    from apps.resources.services import TokenPlan
    from apps.tokens.issuance import issue_access_token
    from idp.conf import idp_settings

    call_command("migrate", verbosity=0)
    results = {}
    for algorithm in ("RS256", "ES256"):
        resource = ApiResource(audience="bench", signing_algorithm=algorithm)
        plan = TokenPlan(scopes=("bench.read",), resources=(resource,), lifetime=600, signing_algorithm=algorithm)
        token = issue_access_token(client_id="bench", user=None, plan=plan).token
        jwks = JwksCache(jwks_document)

        def once(token: str = token, jwks: JwksCache = jwks) -> None:
            validate_access_token(token, issuer=idp_settings.ISSUER, audience="bench", jwks=jwks)

        once()  # fills the JWKS cache
        samples = []
        for _ in range(count // 100):
            started = time.perf_counter()
            for _ in range(100):
                once()
            samples.append((time.perf_counter() - started) / 100 * 1000)
        results[algorithm] = {
            "median_ms": statistics.median(samples),
            "p99_ms": sorted(samples)[len(samples) * 99 // 100],
        }
    return results


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "seed":
        result = seed()
    elif command == "fill":
        result = fill(int(sys.argv[2]))
    elif command == "validate":
        result = validate()
    else:
        raise SystemExit(__doc__)
    print(json.dumps(result))
