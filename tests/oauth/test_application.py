"""Client configuration rules enforced by Application.clean()."""

import pytest
from django.core.exceptions import ValidationError

from apps.oauth.models import Application


def build(**fields) -> Application:
    defaults = {"name": "c", "client_type": Application.CLIENT_CONFIDENTIAL, "allowed_grant_types": []}
    return Application(**{**defaults, **fields})


def errors_of(app: Application) -> dict:
    with pytest.raises(ValidationError) as excinfo:
        app.clean()
    return excinfo.value.message_dict


def test_several_grant_types_are_allowed(db):
    app = build(
        allowed_grant_types=[
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
        ],
        redirect_uris="https://app.test/cb",
    )
    app.clean()
    assert app.allows_grant_type("authorization-code")  # DOT's name for it
    assert app.allows_grant_type("client_credentials")
    assert not app.allows_grant_type("password")


def test_unknown_grant_type_is_refused(db):
    assert "allowed_grant_types" in errors_of(build(allowed_grant_types=["password"]))


def test_public_client_may_not_use_client_credentials(db):
    app = build(client_type=Application.CLIENT_PUBLIC, allowed_grant_types=["client_credentials"])
    assert "allowed_grant_types" in errors_of(app)


def test_authorization_code_needs_a_redirect_uri(db):
    assert "redirect_uris" in errors_of(build(allowed_grant_types=["authorization_code"]))


@pytest.mark.parametrize(
    "uri",
    ["http://app.test/cb", "https://app.test/cb#frag", "javascript:alert(1)", "ftp://app.test/cb", "not a uri"],
)
def test_bad_redirect_uris_are_refused(db, uri):
    app = build(allowed_grant_types=["authorization_code"], redirect_uris=uri)
    assert "redirect_uris" in errors_of(app)


@pytest.mark.parametrize("uri", ["https://app.test/cb", "http://127.0.0.1:8001/callback", "http://localhost/cb"])
def test_https_and_loopback_http_redirect_uris_are_accepted(db, uri):
    build(allowed_grant_types=["authorization_code"], redirect_uris=uri).clean()
