"""issue_token: a development shortcut that refuses to run outside DEBUG."""

import json
from io import StringIO

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command


def test_refuses_outside_debug(web, alice, settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development only"):
        call_command("issue_token", "--user", "alice", "--client", web.client.client_id, "--scope", "openid")


def test_issues_a_stored_user_token_in_debug(web, alice, settings):
    settings.DEBUG = True
    out = StringIO()
    call_command(
        "issue_token", "--user", "alice", "--client", web.client.client_id,
        "--scope", "shoppingbasket.fullaccess", "--json", stdout=out,
    )  # fmt: skip
    data = json.loads(out.getvalue())
    claims = jwt.decode(data["access_token"], options={"verify_signature": False})
    assert claims["aud"] == ["shoppingbasket"]
    assert claims["sub"] == str(get_user_model().objects.get(username="alice").pk)


def test_scope_the_client_may_not_have_is_a_command_error(web, alice, settings):
    settings.DEBUG = True
    with pytest.raises(CommandError, match="invalid_scope"):
        call_command(
            "issue_token", "--user", "alice", "--client", web.client.client_id, "--scope", "discount.fullaccess"
        )


def test_unknown_user_is_a_command_error(web, db, settings):
    settings.DEBUG = True
    with pytest.raises(CommandError):
        call_command("issue_token", "--user", "nobody", "--client", web.client.client_id, "--scope", "openid")
