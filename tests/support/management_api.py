"""Calling the management API (/api/admin/) with a bearer token and a JSON body."""

import json

from django.test import Client

API = "/api/admin/"


def call(client: Client, method: str, path: str, token: str | None, body=None, **headers):
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if body is not None:
        headers.update(data=json.dumps(body), content_type="application/json")
    return getattr(client, method)(API + path, **headers)
