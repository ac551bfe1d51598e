"""The IdP's endpoints and how clients talk to them: form posts, client_secret_basic, and the
shape of OAuth errors (RFC 6749 section 5.2) and Bearer challenges (RFC 6750 section 3)."""

import base64
import json
import re
from collections.abc import Sequence
from urllib.parse import quote, urlencode

from django.http import HttpResponse
from django.test import Client

TOKEN_URL = "/o/token/"
INTROSPECT_URL = "/o/introspect/"
REVOKE_URL = "/o/revoke_token/"
JWKS_URL = "/.well-known/jwks.json"
LOGIN_URL = "/accounts/login/"
ISSUER = "https://idp.test"


def basic_auth(client_id: str, secret: str) -> str:
    # RFC 6749 section 2.3.1: form-urlencode each part before joining.
    raw = f"{quote(client_id, safe='')}:{quote(secret, safe='')}".encode()
    return "Basic " + base64.b64encode(raw).decode()


def form_post(client: Client, url: str, data: Sequence[tuple[str, str]] | dict, **headers):
    body = urlencode(list(data.items()) if isinstance(data, dict) else list(data), doseq=True)
    return client.post(url, body, content_type="application/x-www-form-urlencoded", **headers)


def introspect(api: Client, credentials, token: str, **extra: str):
    auth = basic_auth(credentials.client.client_id, credentials.client_secret)
    return form_post(api, INTROSPECT_URL, {"token": token, **extra}, HTTP_AUTHORIZATION=auth)


def revoke(api: Client, credentials, token: str):
    auth = basic_auth(credentials.client.client_id, credentials.client_secret)
    return form_post(api, REVOKE_URL, {"token": token}, HTTP_AUTHORIZATION=auth)


def oauth_error(response: HttpResponse) -> tuple[int, str]:
    """(status, error code) of an OAuth error response; asserts it is RFC 6749 5.2 JSON."""
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = json.loads(response.content)
    return response.status_code, body["error"]


def challenge(response: HttpResponse) -> dict[str, str]:
    """The parameters of a ``WWW-Authenticate: Bearer ...`` challenge (RFC 6750 section 3)."""
    header = response["WWW-Authenticate"]
    assert header.startswith("Bearer "), header
    return dict(re.findall(r'(\w+)="([^"]*)"', header))
