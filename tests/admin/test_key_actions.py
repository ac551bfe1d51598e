"""Signing keys in the admin: rotation and withdrawal, each shown and confirmed first, each
behind the key-rotation permission, each audited."""

from collections.abc import Callable

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.audit.models import AuditEvent
from apps.keys.services import ensure_signing_keys, get_signing_key, rotate_keys
from apps.oauth.models import KeyState, SigningKey
from tests.support.admin import permissions
from tests.support.http import JWKS_URL

KEYS = "/admin/oauth/signingkey/"


@pytest.fixture
def keys(db) -> dict[str, SigningKey]:
    """RS256's keys after one rotation: retired, active and next."""
    ensure_signing_keys()
    retired = SigningKey.objects.get(algorithm="RS256", state=KeyState.ACTIVE)
    rotate_keys(algorithms=["RS256"])
    retired.refresh_from_db()
    return {
        "retired": retired,
        "active": SigningKey.objects.get(algorithm="RS256", state=KeyState.ACTIVE),
        "next": SigningKey.objects.get(algorithm="RS256", state=KeyState.NEXT),
    }


@pytest.fixture
def operator(db) -> Callable[..., Client]:
    def make(*granted: str) -> Client:
        user = get_user_model().objects.create_user("operator", password="operator-password-1", is_staff=True)
        user.user_permissions.set(permissions(*granted))
        browser = Client()
        browser.force_login(user)
        return browser

    return make


def events_after(last_id: int, event_type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(pk__gt=last_id, event_type=event_type).order_by("pk"))


def last_event_id() -> int:
    return AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0


def published_kids(client: Client) -> set[str]:
    return {key["kid"] for key in client.get(JWKS_URL).json()["keys"]}


def states() -> dict[str, str]:
    return dict(SigningKey.objects.values_list("kid", "state"))


# --- rotation ----------------------------------------------------------------------------------


def test_rotation_shows_what_will_happen_and_changes_nothing_until_confirmed(admin_client, keys):
    before, mark = states(), last_event_id()
    page = admin_client.post(KEYS, {"action": "rotate", "_selected_action": [keys["active"].pk]})
    assert page.status_code == 200
    html = page.content.decode()
    assert "Rotate signing keys" in html
    assert (
        f"<tr><td>RS256</td><td><code>{keys['active'].kid}</code></td><td><code>{keys['next'].kid}</code></td></tr>"
        in html
    )
    assert "stays published, so the tokens it signed keep validating until they expire" in html
    assert "No token stops working." in html
    assert states() == before
    assert not events_after(mark, "key.rotated")


def test_confirmed_rotation_promotes_the_next_key_and_is_audited(admin_client, keys):
    mark = last_event_id()
    response = admin_client.post(KEYS, {"action": "rotate", "_selected_action": [keys["active"].pk], "post": "yes"})
    assert response.status_code == 302
    assert SigningKey.objects.get(pk=keys["active"].pk).state == KeyState.RETIRED
    assert SigningKey.objects.get(pk=keys["next"].pk).state == KeyState.ACTIVE
    assert get_signing_key("RS256").kid == keys["next"].kid

    (rotated,) = events_after(mark, "key.rotated")
    assert rotated.outcome == "granted"
    assert rotated.details["algorithm"] == "RS256"
    assert rotated.details["activated"] == keys["next"].kid
    assert rotated.details["retired"] == [keys["active"].kid]
    new_next = SigningKey.objects.get(algorithm="RS256", state=KeyState.NEXT)
    assert rotated.details["next"] == new_next.kid
    assert "PRIVATE KEY" not in str(rotated.details)
    # Who did it: the admin's own entry for the key that became active.
    change = events_after(mark, "admin.change")
    assert [(e.subject, str(e.details["object_id"])) for e in change] == [("admin", str(keys["next"].pk))]


# --- withdrawal --------------------------------------------------------------------------------


def test_withdrawal_shows_what_will_happen_and_changes_nothing_until_confirmed(admin_client, keys, client):
    mark = last_event_id()
    page = admin_client.post(KEYS, {"action": "withdraw", "_selected_action": [keys["retired"].pk]})
    assert page.status_code == 200
    html = page.content.decode()
    assert f"<code>{keys['retired'].kid}</code>" in html
    assert "stop validating at resource servers once they refresh the JWKS" in html
    assert "this cannot be undone" in html
    assert keys["retired"].kid in published_kids(client)
    assert SigningKey.objects.filter(pk=keys["retired"].pk).exists()
    assert not events_after(mark, "key.withdrawn")


def test_confirmed_withdrawal_unpublishes_the_key_and_is_audited(admin_client, keys, client):
    mark = last_event_id()
    retired = keys["retired"]
    response = admin_client.post(KEYS, {"action": "withdraw", "_selected_action": [retired.pk], "post": "yes"})
    assert response.status_code == 302
    assert not SigningKey.objects.filter(kid=retired.kid).exists()
    assert retired.kid not in published_kids(client)
    assert {keys["active"].kid, keys["next"].kid} <= published_kids(client)

    (withdrawn,) = events_after(mark, "key.withdrawn")
    assert withdrawn.outcome == "granted"
    assert withdrawn.details["kids"] == [retired.kid]
    assert withdrawn.details["algorithm"] == "RS256"
    assert "PRIVATE KEY" not in str(withdrawn.details)
    (change,) = events_after(mark, "admin.change")
    assert (change.subject, str(change.details["object_id"])) == ("admin", str(retired.pk))


@pytest.mark.parametrize("state", ["active", "next"])
def test_a_key_still_in_use_is_not_withdrawn_even_when_confirmed(admin_client, keys, client, state):
    mark, before = last_event_id(), states()
    key = keys[state]
    response = admin_client.post(
        KEYS, {"action": "withdraw", "_selected_action": [key.pk, keys["retired"].pk], "post": "yes"}, follow=True
    )
    assert "Only retired keys can be withdrawn; rotate the active key out first." in response.content.decode()
    assert key.kid in response.content.decode()
    assert states() == before  # not even the retired key that was selected with it
    assert {key.kid, keys["retired"].kid} <= published_kids(client)
    assert not events_after(mark, "key.withdrawn")


# --- who may ---------------------------------------------------------------------------------


def test_a_view_only_operator_can_neither_rotate_nor_withdraw(operator, keys, client):
    viewer = operator("oauth.view_signingkey")
    listed = viewer.get(KEYS)
    assert listed.status_code == 200
    assert 'value="rotate"' not in listed.content.decode()
    assert 'value="withdraw"' not in listed.content.decode()
    mark, before = last_event_id(), states()
    for action, key in (("rotate", keys["active"]), ("withdraw", keys["retired"])):
        for confirmed in ({}, {"post": "yes"}):
            response = viewer.post(KEYS, {"action": action, "_selected_action": [key.pk], **confirmed})
            assert response.status_code in (200, 302)
            assert "Rotate signing keys" not in response.content.decode()
            assert "Withdraw signing keys" not in response.content.decode()
    assert states() == before
    assert keys["retired"].kid in published_kids(client)
    assert not events_after(mark, "key.rotated") and not events_after(mark, "key.withdrawn")


def test_the_key_rotation_permission_allows_both(operator, keys, client):
    responder = operator("oauth.view_signingkey", "oauth.rotate_signingkey")
    listed = responder.get(KEYS).content.decode()
    assert 'value="rotate"' in listed and 'value="withdraw"' in listed
    responder.post(KEYS, {"action": "withdraw", "_selected_action": [keys["retired"].pk], "post": "yes"})
    assert keys["retired"].kid not in published_kids(client)
    responder.post(KEYS, {"action": "rotate", "_selected_action": [keys["active"].pk], "post": "yes"})
    assert get_signing_key("RS256").kid == keys["next"].kid
