"""Liveness and readiness: what a load balancer or kubelet asks before sending traffic.

Each check answers "ok" or "error: <short reason>": the reason names what is wrong, never a
connection string, host or credential, since the probes answer anyone who asks.
"""

from django.db import Error as DatabaseError
from django.db import connection

from apps.oauth.models import KeyState, SigningKey
from apps.resources.models import ApiResource, SigningAlgorithm
from idp.conf import idp_settings

OK = "ok"


def check_database() -> str:
    """One ``SELECT 1`` on this process's connection. How long a dead server can make it
    wait is the driver's connect timeout (e.g. ``?connect_timeout=3`` in DATABASE_URL)."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        # The exception's class only: its text can quote the DSN (host, user, database).
        return f"error: database unreachable ({type(exc).__name__})"
    return OK


def algorithms_in_use() -> set[str]:
    """The algorithms tokens are signed with: each enabled API's, the default one (tokens for
    several APIs that disagree) and RS256 (ID tokens)."""
    chosen = ApiResource.objects.filter(enabled=True).values_list("signing_algorithm", flat=True).distinct()
    return {idp_settings.DEFAULT_SIGNING_ALGORITHM, SigningAlgorithm.RS256, *chosen}


def check_signing_keys() -> str:
    """An active key for every algorithm in use. Only looked up: token issuance creates a
    missing key on first use, but a probe that wrote would hide a key store nobody set up."""
    try:
        needed = algorithms_in_use()
        active = set(
            SigningKey.objects.filter(state=KeyState.ACTIVE, algorithm__in=needed).values_list("algorithm", flat=True)
        )
    except DatabaseError as exc:
        return f"error: database unreachable ({type(exc).__name__})"
    missing = sorted(needed - active)
    return f"error: no active signing key for {', '.join(missing)}" if missing else OK


def readiness() -> dict[str, str]:
    database = check_database()
    # Without a database the key check can only fail the same way: say so once.
    signing_keys = check_signing_keys() if database == OK else "error: not checked (database unreachable)"
    return {"database": database, "signing_keys": signing_keys}
