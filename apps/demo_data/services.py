"""The GloboTicket demo (DESIGN.md): three APIs, three clients, two users.

Idempotent: running it again keeps the data and issues fresh secrets, keys and passwords, so
the credentials it returns are always the valid ones.

The demo's services (the shopping basket, the catalog's administration) also get a key pair
each: the public key is registered with their client, the private key returned under
``client_keys`` for the service to sign its token requests with (private_key_jwt): a service
of the demo shows how services should authenticate, with nothing shared that a leak of the
IdP's database or of a request would give away. Their secrets stay too, for the tools (and the
README's curl examples) that use them.
"""

import secrets
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.contrib.auth import get_user_model
from django.db import transaction

from apps.clients.services import save_client
from apps.oauth.models import Application, ExchangeMode, ExchangePolicy, GrantType, TransactionTokenPolicy
from apps.resource_server.client_assertion import ClientAssertionSigner
from apps.resources.models import ApiResource, ApiScope
from idp.conf import idp_settings

DEMO_APIS = {
    # audience: (name, scopes with descriptions, user claims its tokens may carry, algorithm)
    "eventcatalog": (
        "GloboTicket event catalog",
        {"eventcatalog.read": "Read the event catalog", "eventcatalog.write": "Change the event catalog"},
        [],
        "RS256",
    ),
    "shoppingbasket": (
        "GloboTicket shopping basket",
        {"shoppingbasket.fullaccess": "Use your shopping basket"},
        ["preferred_username"],
        "RS256",
    ),
    "discount": ("GloboTicket discounts", {"discount.fullaccess": "Apply discounts"}, [], "ES256"),
}
IDENTITY_SCOPES = {
    "openid": "Sign you in",
    "profile": "Your name and username",
    "email": "Your email address",
}
DEFAULT_WEB_URL = "http://127.0.0.1:8001"
DEMO_CLIENTS: dict[str, dict[str, Any]] = {
    "globoticket-web": {
        "grant_types": [GrantType.AUTHORIZATION_CODE, GrantType.REFRESH_TOKEN],
        "scopes": ["openid", "profile", "email", "eventcatalog.read", "shoppingbasket.fullaccess"],
        # redirect_uris and post_logout_redirect_uris: web_client_uris()
    },
    "shoppingbasket": {
        "grant_types": [GrantType.CLIENT_CREDENTIALS, GrantType.TOKEN_EXCHANGE],
        "scopes": ["discount.fullaccess"],
        "resource": "shoppingbasket",
    },
    "eventcatalog-admin": {
        "grant_types": [GrantType.CLIENT_CREDENTIALS],
        "scopes": ["eventcatalog.read", "eventcatalog.write"],
    },
}
DEMO_USERS = {"alice": "Alice Smith", "bob": "Bob Jones"}
# The clients that are services (no user at their keyboard): they authenticate with keys.
SERVICE_CLIENTS = ("shoppingbasket", "eventcatalog-admin")


def _service_key(client_id: str) -> tuple[ClientAssertionSigner, dict[str, str]]:
    """A fresh EC P-256 key pair (ES256) for ``client_id``: its signer, whose public JWK is
    registered, and the private key as the service reads it."""
    key = ec.generate_private_key(ec.SECP256R1())
    signer = ClientAssertionSigner(client_id=client_id, private_key=key)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    return signer, {"key_id": signer.key_id, "algorithm": signer.algorithm, "private_key_pem": pem.decode()}


def web_client_uris(issuer: str) -> dict[str, list[str]]:
    """Where the demo's web front end takes the user back after sign-in and sign-out: one port
    above an IdP on loopback (demo/run.py's DEMO_PORT_BASE moves both), and 8001 (where
    docker-compose.yml runs it whatever the issuer). Registered exactly: the IdP matches
    redirect URIs as strings, ports included."""
    parts = urlsplit(issuer)
    webs = [DEFAULT_WEB_URL]
    if parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.port is not None and parts.port < 65535:
        webs.insert(0, f"http://127.0.0.1:{parts.port + 1}")
    webs = list(dict.fromkeys(webs))
    return {
        "redirect_uris": [f"{web}/callback" for web in webs],
        "post_logout_redirect_uris": [f"{web}/" for web in webs],
    }


def _seed_scopes() -> None:
    for audience, (name, scopes, user_claims, algorithm) in DEMO_APIS.items():
        resource, _ = ApiResource.objects.update_or_create(
            audience=audience,
            defaults={
                "name": name,
                "resource_uri": f"urn:globoticket:{audience}",
                "user_claims": user_claims,
                "signing_algorithm": algorithm,
            },
        )
        for scope, description in scopes.items():
            ApiScope.objects.update_or_create(name=scope, defaults={"resource": resource, "description": description})
    for scope, description in IDENTITY_SCOPES.items():
        ApiScope.objects.update_or_create(name=scope, defaults={"resource": None, "description": description})


def _seed_user(username: str, full_name: str) -> dict[str, str]:
    first, last = full_name.split(" ", 1)
    user, _ = get_user_model().objects.get_or_create(
        username=username,
        defaults={"first_name": first, "last_name": last, "email": f"{username}@globoticket.example"},
    )
    password = secrets.token_urlsafe(12)
    user.set_password(password)
    user.save()
    return {"username": username, "password": password}


def _seed_exchange_policy() -> None:
    """The shopping basket may exchange tokens issued for it into discount tokens (delegation)."""
    policy, _ = ExchangePolicy.objects.update_or_create(
        client=Application.objects.get(client_id="shoppingbasket"),
        target=ApiResource.objects.get(audience="discount"),
        defaults={"mode": ExchangeMode.DELEGATION, "max_depth": 1, "max_lifetime": 300, "enabled": True},
    )
    policy.subject_audiences.clear()  # the default: the basket's own API
    policy.scopes.set(ApiScope.objects.filter(name="discount.fullaccess"))


def _seed_transaction_token_policy() -> None:
    """The shopping basket, the first service of the trust domain alice's request reaches,
    may exchange her token for a Txn-Token of the shopping transaction: what she does
    (``action``) and for how much (``amount``) go into ``tctx`` with the channel the policy
    asserts; the discount service checks it on every call the basket makes for her."""
    policy, _ = TransactionTokenPolicy.objects.update_or_create(
        client=Application.objects.get(client_id="shoppingbasket"),
        defaults={
            "request_details_keys": "action amount",
            "request_context_keys": "",
            "transaction_context": {"channel": "globoticket-web"},
            "max_lifetime": 60,
            "accept_txn_tokens": False,
            "enabled": True,
        },
    )
    policy.subject_audiences.clear()  # the default: the basket's own API
    policy.scopes.set(ApiScope.objects.filter(name="shoppingbasket.fullaccess"))


@transaction.atomic
def seed_demo() -> dict[str, Any]:
    _seed_scopes()
    configs = {
        **DEMO_CLIENTS,
        "globoticket-web": {**DEMO_CLIENTS["globoticket-web"], **web_client_uris(idp_settings.ISSUER)},
    }
    keys = {name: _service_key(name) for name in SERVICE_CLIENTS}
    clients = {
        name: save_client(
            name=name, client_id=name, jwks={"keys": [keys[name][0].public_jwk()]} if name in keys else None, **config
        ).as_dict()
        for name, config in configs.items()
    }
    _seed_exchange_policy()
    _seed_transaction_token_policy()
    users = {username: _seed_user(username, full_name) for username, full_name in DEMO_USERS.items()}
    client_keys = {name: private for name, (_signer, private) in keys.items()}
    return {"issuer": idp_settings.ISSUER, "clients": clients, "users": users, "client_keys": client_keys}
