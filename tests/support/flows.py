"""Helpers that drive the authorization code flow the way a browser and a client would."""

import base64
import hashlib
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qs, urlencode, urlsplit

from django.db import connection
from django.test import Client

from tests.support.http import TOKEN_URL, basic_auth, form_post

REDIRECT_URI = "https://web.test/callback"


@dataclass
class Pkce:
    verifier: str
    challenge: str

    @classmethod
    def new(cls) -> "Pkce":
        verifier = secrets.token_urlsafe(48)
        digest = hashlib.sha256(verifier.encode()).digest()
        return cls(verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode())


def authorize_url(client_id: str, scope: str, pkce: Pkce | None, **extra) -> str:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": "st-123",
    }
    if pkce is not None:
        params.update(code_challenge=pkce.challenge, code_challenge_method="S256")
    params.update(extra)
    return "/o/authorize/?" + urlencode({k: v for k, v in params.items() if v is not None})


def redirect_params(response) -> dict[str, str]:
    """The query parameters of a redirect to the client's redirect URI."""
    assert response.status_code == 302, response.status_code
    location = response["Location"]
    assert location.startswith(REDIRECT_URI + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def approve(browser: Client, client_id: str, scope: str, pkce: Pkce, **extra) -> dict[str, str]:
    """GET the authorization page and, if the consent screen shows, press Allow."""
    response = browser.get(authorize_url(client_id, scope, pkce, **extra))
    if response.status_code == 200:
        form = response.context["form"]
        data = {name: value for name, value in form.initial.items() if value is not None}
        response = browser.post("/o/authorize/", {**data, "allow": "Authorize"})
    return redirect_params(response)


def error_page_code(response) -> str:
    """The OAuth error code an authorization error page shows (asserting it is not a redirect)."""
    assert "Location" not in response, response["Location"]
    return response.context["error"].error


def consent_form_data(response) -> dict[str, str]:
    return {k: v for k, v in response.context["form"].initial.items() if v is not None}


def redeem(api: Client, credentials, code: str, verifier: str | None, redirect_uri: str = REDIRECT_URI, **extra: str):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri, **extra}
    if verifier is not None:
        data["code_verifier"] = verifier
    return form_post(
        api,
        TOKEN_URL,
        data,
        HTTP_AUTHORIZATION=basic_auth(credentials.client.client_id, credentials.client_secret),
    )


def refresh(api: Client, credentials, refresh_token: str, **extra):
    return form_post(
        api,
        TOKEN_URL,
        {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra},
        HTTP_AUTHORIZATION=basic_auth(credentials.client.client_id, credentials.client_secret),
    )


def race(attempts: int, request: Callable[[], int]) -> list[int]:
    """Run ``request`` from ``attempts`` threads released at the same instant, each on its
    own database connection; returns the sorted status codes."""
    results: list[int] = []
    barrier = threading.Barrier(attempts)

    def attempt() -> None:
        barrier.wait()
        try:
            results.append(request())
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(results)
