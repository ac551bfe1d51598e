"""create_client: the command-line contract from DESIGN.md."""

import json
import re
from io import StringIO

import jwt
import pytest
from django.core.management import CommandError, call_command
from jwt.algorithms import ECAlgorithm

from apps.oauth.models import Application
from tests.support.http import basic_auth, form_post
from tests.support.service_keys import jwks_of, new_private_key, signer_for, token_client, write_jwks


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


# --- private_key_jwt: keys instead of (or beside) a secret ------------------------------------


def test_private_key_jwt_client_gets_no_secret_and_its_assertions_work(client, apis, tmp_path):
    signer = signer_for("reporting")
    path = write_jwks(tmp_path, jwks_of(signer))
    data = json.loads(
        create(
            "--name", "reporting", "--grant", "client_credentials", "--scope", "eventcatalog.read",
            "--auth", "private_key_jwt", "--jwks", path, "--json",
        )
    )  # fmt: skip
    # The contract's keys, unchanged; the secret is null (not made, nothing to store).
    assert list(data) == ["name", "client_id", "client_secret", "redirect_uris", "scopes"]
    assert data["client_secret"] is None
    stored = Application.objects.get(client_id="reporting")
    assert stored.jwks == jwks_of(signer)
    assert stored.secret_hint == ""
    assert stored.client_type == Application.CLIENT_CONFIDENTIAL

    token = token_client(client, "reporting", signer=signer).client_credentials(scope="eventcatalog.read")
    assert jwt.decode(token, options={"verify_signature": False})["client_id"] == "reporting"


def test_plain_output_says_there_is_no_secret(apis, tmp_path):
    path = write_jwks(tmp_path, jwks_of(signer_for("svc")))
    out = create("--name", "svc", "--grant", "client_credentials", "--auth", "private_key_jwt", "--jwks", path)
    assert "client_secret: none" in out
    assert "not shown again" not in out


def test_a_jwks_uri_registers_the_client(apis):
    data = json.loads(
        create(
            "--name", "svc", "--grant", "client_credentials", "--auth", "private_key_jwt",
            "--jwks-uri", "https://svc.test/.well-known/jwks.json", "--json",
        )
    )  # fmt: skip
    assert data["client_secret"] is None
    stored = Application.objects.get(client_id=data["client_id"])
    assert (stored.jwks, stored.jwks_uri) == (None, "https://svc.test/.well-known/jwks.json")


def test_a_secret_and_keys_at_once_both_authenticate(client, apis, tmp_path):
    """How a service migrates: the secret it uses today keeps working beside its new key."""
    signer = signer_for("basket")
    path = write_jwks(tmp_path, jwks_of(signer))
    data = json.loads(
        create(
            "--name", "basket", "--grant", "client_credentials", "--scope", "eventcatalog.read",
            "--auth", "client_secret_basic", "--jwks", path, "--json",
        )
    )  # fmt: skip
    assert len(data["client_secret"]) >= 43
    assert Application.objects.get(client_id="basket").jwks == jwks_of(signer)
    with_secret = token_client(client, "basket", secret=data["client_secret"])
    with_key = token_client(client, "basket", signer=signer)
    assert with_secret.client_credentials(scope="eventcatalog.read")
    assert with_key.client_credentials(scope="eventcatalog.read")


def test_the_default_is_a_secret_without_keys(apis):
    data = json.loads(create("--name", "svc", "--grant", "client_credentials", "--json"))
    assert len(data["client_secret"]) >= 43
    stored = Application.objects.get(client_id=data["client_id"])
    assert (stored.jwks, stored.jwks_uri) == (None, "")


def _private_jwks() -> dict:
    # What an operator might paste by mistake: the whole key pair, "d" included.
    return {"keys": [ECAlgorithm.to_jwk(new_private_key(), as_dict=True)]}


@pytest.mark.parametrize(
    ("contents", "message"),
    [
        ("{not json", "is not JSON"),
        ('["a", "list"]', "is not a JWKS"),
        (None, "--jwks: Key 1: a private or symmetric key: register the public key only."),
        ('{"keys": []}', '--jwks: A JWKS is a JSON object with a non-empty "keys" list.'),
    ],
)
def test_a_bad_jwks_file_is_a_command_error_and_creates_nothing(apis, tmp_path, contents, message):
    path = tmp_path / "jwks.json"
    path.write_text(contents if contents is not None else json.dumps(_private_jwks()))
    with pytest.raises(CommandError, match=re.escape(message)):
        create("--name", "svc", "--grant", "client_credentials", "--auth", "private_key_jwt", "--jwks", str(path))
    assert not Application.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jwks-uri", "http://svc.test/jwks.json"], "--jwks-uri: Use https"),
        ([], "needs the client's public keys"),
        (["--jwks", "/no/such/file.json"], "cannot read /no/such/file.json"),
    ],
)
def test_bad_key_options_are_command_errors(apis, args, message):
    with pytest.raises(CommandError, match=re.escape(message)):
        create("--name", "svc", "--grant", "client_credentials", "--auth", "private_key_jwt", *args)
    assert not Application.objects.exists()


def test_jwks_and_jwks_uri_together_are_refused_by_the_parser(apis, tmp_path):
    path = write_jwks(tmp_path, jwks_of(signer_for("svc")))
    with pytest.raises(CommandError):
        create("--name", "svc", "--grant", "client_credentials", "--jwks", path, "--jwks-uri", "https://svc.test/j")
    assert not Application.objects.exists()
