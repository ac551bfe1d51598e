"""Access to the project's namespaced ``IDP`` settings dict, with defaults (STYLE.md 7).

Read on every access so ``override_settings(IDP=...)`` works in tests. What is configured
is checked at start-up (idp/checks.py): an unknown key or a value of the wrong shape stops
``manage.py check``, ``migrate`` and ``runserver``.
"""

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # The ``iss`` of every token and the base of every URL in discovery.
    "ISSUER": "http://127.0.0.1:8000",
    # Lifetime of access tokens whose audience is no API resource (e.g. userinfo-only).
    "DEFAULT_ACCESS_TOKEN_LIFETIME": 600,
    # Algorithm used when a token's audiences do not all ask for the same one.
    "DEFAULT_SIGNING_ALGORITHM": "RS256",
    "RSA_KEY_SIZE": 2048,
    # How long a process keeps using the signing key it loaded. Safe because a key is
    # published in the JWKS (state "next") before it becomes active, and stays published
    # after it retires, so a briefly stale signer still produces verifiable tokens.
    "SIGNING_KEY_CACHE_SECONDS": 30,
    # Longest a process reuses a client's configuration (scopes, APIs, exchange policies)
    # that changed without Django signals (QuerySet.update(), raw SQL). Saves through the
    # ORM or the admin apply on the next request (apps/clients/config_cache.py).
    "CLIENT_CONFIG_MAX_AGE_SECONDS": 60,
    # URL names served past the browser middleware (apps/endpoints/middleware.py).
    "SERVICE_ENDPOINTS": [
        "oauth2_provider:token",
        "oauth2_provider:introspect",
        "oauth2_provider:revoke-token",
        "oauth2_provider:pushed-authorization-request",
        "jwks",
        # Probes and scrapes: load balancers and Prometheus carry no session or CSRF token.
        "ops:healthz",
        "ops:readyz",
        "ops:metrics",
    ],
    # How long a pushed authorization request's request_uri may be brought to /o/authorize/
    # (RFC 9126 section 2.2: "expires_in"): long enough for the redirect, short because the
    # URI stands for the request in anyone's hands.
    "PUSHED_AUTHORIZATION_REQUEST_LIFETIME": 60,
    # Cache-Control max-age of the JWKS document.
    "JWKS_MAX_AGE_SECONDS": 300,
    # How long a remembered consent spares the user the consent screen.
    "CONSENT_LIFETIME_DAYS": 90,
    # How long audit events are kept: manage.py prune_audit_events deletes older ones.
    "AUDIT_RETENTION_DAYS": 365,
    # Session length when "keep me signed in" is ticked (otherwise: until the browser closes).
    "REMEMBER_ME_DAYS": 14,
    # /metrics (docs/operations.md): 404 unless enabled; then a bearer token equal to
    # METRICS_TOKEN is required, unless no token is set and unauthenticated scrapes are
    # explicitly allowed (the network alone decides who reaches it).
    "METRICS_ENABLED": False,
    "METRICS_TOKEN": "",
    "METRICS_ALLOW_UNAUTHENTICATED": False,
    # Rate limits (apps/ratelimit/middleware.py): (requests, seconds) per fixed window.
    # "client": successful requests per client to the token, introspection and revocation
    # endpoints; "address_failures": 4xx answers there per caller address; "login": sign-in
    # POSTs per address; "login_username": failed sign-ins per username from any address (it
    # slows a guesser spread over many addresses; it never locks the account); "account_mail":
    # password-reset requests per address and per email address (each may send a mail).
    # Services cache their tokens, so 100/s per client is generous.
    "RATE_LIMITING": True,
    "RATE_LIMITS": {
        "client": (6000, 60),
        "address_failures": (300, 60),
        "login": (30, 60),
        "login_username": (10, 60),
        "account_mail": (5, 3600),
    },
    # Whether people may create their own account at /accounts/register/ (verified by mail
    # before it can sign in). Off: accounts are made by operators.
    "SELF_REGISTRATION": False,
    # Proxies in front of us that append the caller's address to X-Forwarded-For.
    "TRUSTED_PROXY_COUNT": 0,
    # DPoP proofs (RFC 9449 section 4.3, apps/protocol/dpop.py): how old a proof's iat may
    # be, and how far ahead of our clock (the client's may run fast). Each proof's jti is
    # remembered this long, so a replay inside the window is refused too.
    "DPOP_PROOF_MAX_AGE_SECONDS": 60,
    "DPOP_PROOF_MAX_FUTURE_SECONDS": 5,
    # RFC 9449 section 8: whether the token endpoint requires a nonce of ours in every proof
    # (a client's first request gets use_dpop_nonce and the nonce in DPoP-Nonce). Off: proofs
    # are judged by iat alone, which trusts client clocks within the window above. A nonce
    # is valid for its window of this many seconds and the next.
    "DPOP_NONCES": False,
    "DPOP_NONCE_WINDOW_SECONDS": 60,
    # private_key_jwt clients that publish their keys at a jwks_uri (apps/clients/client_keys.py):
    # how long fetched keys are used before they are fetched again (never longer: a failed
    # fetch refuses the client rather than trust keys past this age), and the shortest time
    # between two fetches of one URI (an assertion naming an unknown kid, the sign of a
    # rotation, fetches again at most this often, so made-up kids cannot hammer the client).
    "CLIENT_JWKS_CACHE_SECONDS": 300,
    "CLIENT_JWKS_MIN_REFETCH_SECONDS": 30,
    # Transaction tokens (draft-ietf-oauth-transaction-tokens, docs/transaction-tokens.md):
    # the trust domain every Txn-Token is for (its aud; "" means ISSUER), and the algorithm
    # they are signed with (they live seconds and are made per call chain: ES256 is cheap).
    "TRUST_DOMAIN": "",
    "TRANSACTION_TOKEN_SIGNING_ALGORITHM": "ES256",
}


class IdpSettings:
    def __getattr__(self, name: str) -> Any:
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown IDP setting {name!r}")
        return getattr(settings, "IDP", {}).get(name, DEFAULTS[name])


idp_settings = IdpSettings()


def trust_domain() -> str:
    """The ``aud`` of every Txn-Token: ``IDP["TRUST_DOMAIN"]``, or the issuer when unset."""
    return idp_settings.TRUST_DOMAIN or idp_settings.ISSUER
