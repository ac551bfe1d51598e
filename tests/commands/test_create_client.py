"""create_client: the command-line contract from DESIGN.md."""

import json
from io import StringIO

import jwt
import pytest
from django.core.management import CommandError, call_command

from apps.oauth.models import Application
from tests.support.http import basic_auth, form_post


def create(*args: str) -> str:
    out = StringIO()
    call_command("create_client", *args, stdout=out)
    return out.getvalue()


def test_creates_a_client_and_prints_working_credentials(client, apis):
    data = json.loads(
        create(
            "--name", "reporting", "--grant", "client_credentials",
            "--scope", "eventcatalog.read", "--scope", "shoppingbasket.fullaccess",
            "--resource", "discount", "--json",
        )
    )  # fmt: skip
    assert data["name"] == "reporting"
    assert data["scopes"] == ["eventcatalog.read", "shoppingbasket.fullaccess"]
    assert len(data["client_secret"]) >= 43
    app = Application.objects.get(client_id=data["client_id"])
    assert app.resource.audience == "discount"
    assert app.allowed_grant_types == ["client_credentials"]

    response = form_post(
        client,
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "eventcatalog.read"},
        HTTP_AUTHORIZATION=basic_auth(data["client_id"], data["client_secret"]),
    )
    assert response.status_code == 200
    assert jwt.decode(response.json()["access_token"], options={"verify_signature": False})["aud"] == ["eventcatalog"]


def test_several_grants_and_a_redirect_uri(apis):
    data = json.loads(
        create(
            "--name", "web", "--grant", "authorization_code", "--grant", "refresh_token",
            "--scope", "openid", "--redirect-uri", "https://web.test/callback", "--json",
        )
    )  # fmt: skip
    assert data["redirect_uris"] == ["https://web.test/callback"]
    assert Application.objects.get(client_id=data["client_id"]).allowed_grant_types == [
        "authorization_code",
        "refresh_token",
    ]


def test_plain_output_warns_the_secret_is_shown_once(apis):
    out = create("--name", "svc", "--grant", "client_credentials", "--scope", "eventcatalog.read")
    assert "client_secret: " in out
    assert "not shown again" in out


@pytest.mark.parametrize(
    "args",
    [
        ["--scope", "no.such.scope", "--grant", "client_credentials"],
        ["--scope", "eventcatalog.read", "--grant", "client_credentials", "--resource", "nope"],
        ["--scope", "openid", "--grant", "authorization_code", "--redirect-uri", "http://evil.test/cb"],
        ["--scope", "openid", "--grant", "authorization_code"],
    ],
)
def test_invalid_configuration_is_a_command_error_and_creates_nothing(apis, args):
    with pytest.raises(CommandError):
        create("--name", "bad", *args)
    assert not Application.objects.exists()


def test_unknown_grant_type_is_rejected_by_the_parser(apis):
    with pytest.raises(CommandError):
        create("--name", "bad", "--grant", "password", "--scope", "eventcatalog.read")


def test_the_client_id_is_made_from_the_name(apis):
    data = json.loads(create("--name", "Shopping basket", "--grant", "client_credentials", "--json"))
    assert data["client_id"] == "shopping-basket"
    assert (
        json.loads(create("--name", "Shopping basket", "--grant", "client_credentials", "--json"))["client_id"]
        == "shopping-basket-2"
    )


def test_client_id_flag_chooses_the_id(apis):
    data = json.loads(
        create("--name", "Reporting", "--client-id", "reports.job", "--grant", "client_credentials", "--json")
    )
    assert data["client_id"] == "reports.job"
    assert Application.objects.get(client_id="reports.job").name == "Reporting"


@pytest.mark.parametrize("client_id", ["reports", "bad:id"])
def test_a_taken_or_malformed_client_id_is_a_command_error_and_changes_nothing(apis, client_id):
    existing = json.loads(create("--name", "reports", "--grant", "client_credentials", "--json"))
    stored = Application.objects.get(client_id="reports").client_secret
    with pytest.raises(CommandError):
        create("--name", "other", "--client-id", client_id, "--grant", "client_credentials")
    # Never a new secret for (nor a change to) the client that holds the id.
    assert Application.objects.get(client_id=existing["client_id"]).client_secret == stored
    assert Application.objects.count() == 1
