"""The GloboTicket demo (DESIGN.md): three APIs, three clients, two users.

Idempotent: running it again keeps the data and issues fresh secrets and passwords, so the
credentials it returns are always the valid ones.
"""

import secrets
from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth import get_user_model
from django.db import transaction

from apps.clients.services import save_client
from apps.oauth.models import Application, ExchangeMode, ExchangePolicy, GrantType
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


@transaction.atomic
def seed_demo() -> dict[str, Any]:
    _seed_scopes()
    configs = {
        **DEMO_CLIENTS,
        "globoticket-web": {**DEMO_CLIENTS["globoticket-web"], **web_client_uris(idp_settings.ISSUER)},
    }
    clients = {name: save_client(name=name, client_id=name, **config).as_dict() for name, config in configs.items()}
    _seed_exchange_policy()
    users = {username: _seed_user(username, full_name) for username, full_name in DEMO_USERS.items()}
    return {"issuer": idp_settings.ISSUER, "clients": clients, "users": users}
