"""clear_expired_tokens: batched deletion of expired token rows, by DOT's clear_expired() rules."""

import io
import uuid
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import clear_expired

from apps.oauth.models import AccessToken, Grant, IDToken, PushedAuthorizationRequest, RefreshToken
from apps.protocol.models import UsedJwtId

pytestmark = pytest.mark.django_db

HOUR = timedelta(hours=1)
# Past the 14-day REFRESH_TOKEN_EXPIRE_SECONDS of the settings.
LONG_AGO = timedelta(days=15)


def deleted(**counts: int) -> str:
    """The summary line of a run that deleted ``counts`` (by step, the others 0)."""
    return f"Deleted expired: {_summary(counts)}."


def would_delete(**counts: int) -> str:
    return f"Dry run, nothing deleted. Would delete expired: {_summary(counts)}."


def _summary(counts: dict[str, int]) -> str:
    labels = {
        "access_tokens": "access tokens",
        "refresh_tokens": "refresh tokens",
        "id_tokens": "ID tokens",
        "grants": "grants",
        "used_jwt_ids": "used JWT ids",
        "pushed_requests": "pushed requests",
    }
    assert set(counts) <= set(labels)
    return ", ".join(f"{label} {counts.get(name, 0):,}" for name, label in labels.items())


def run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("clear_expired_tokens", *args, stdout=out)
    return out.getvalue().splitlines()


@pytest.fixture
def app(web):
    return web.client


@pytest.fixture
def access_token(app):
    def make(expires_in: timedelta | None = None, *, expires=None, **fields) -> AccessToken:
        return AccessToken.objects.create(
            application=app,
            expires=expires or timezone.now() + expires_in,
            scope="shoppingbasket.fullaccess",
            token_checksum=uuid.uuid4().hex,
            **fields,
        )

    return make


@pytest.fixture
def refresh_token(app, alice):
    def make(access_token: AccessToken | None, *, revoked_ago: timedelta | None = None) -> RefreshToken:
        return RefreshToken.objects.create(
            user=alice,
            application=app,
            access_token=access_token,
            token_checksum=uuid.uuid4().hex,
            token_family=uuid.uuid4(),
            revoked=None if revoked_ago is None else timezone.now() - revoked_ago,
        )

    return make


@pytest.fixture
def id_token(app, alice):
    def make(expires_in: timedelta) -> IDToken:
        return IDToken.objects.create(
            user=alice, application=app, jti=uuid.uuid4(), expires=timezone.now() + expires_in, scope="openid"
        )

    return make


@pytest.fixture
def grant(app, alice):
    def make(expires_in: timedelta, **fields) -> Grant:
        return Grant.objects.create(
            user=alice,
            application=app,
            code=uuid.uuid4().hex,
            expires=timezone.now() + expires_in,
            redirect_uri="https://web.test/callback",
            scope="openid",
            **fields,
        )

    return make


@pytest.fixture
def scenario(access_token, refresh_token, id_token, grant) -> dict[str, object]:
    """One row for each case of DOT's rules, named by what should become of it."""
    rows: dict[str, object] = {}
    rows["kept_at_live"] = access_token(HOUR)
    rows["gone_at_expired"] = access_token(-HOUR)
    # Expired, but its refresh token is live: kept, the refresh token's idle expiry runs from it.
    rows["kept_at_expired_refreshable"] = access_token(-HOUR)
    rows["kept_rt_live"] = refresh_token(rows["kept_at_expired_refreshable"])
    # Idle: the access token expired more than REFRESH_TOKEN_EXPIRE_SECONDS ago. The refresh token
    # goes first, which releases the access token in the same run.
    rows["gone_at_idle"] = access_token(-LONG_AGO)
    rows["gone_rt_idle"] = refresh_token(rows["gone_at_idle"])
    # Revoked (rotated) refresh tokens are kept for reuse detection until they would have expired.
    rows["kept_rt_revoked_recently"] = refresh_token(None, revoked_ago=timedelta(days=1))
    rows["gone_rt_revoked_long_ago"] = refresh_token(None, revoked_ago=LONG_AGO)
    rows["gone_rt_orphan"] = refresh_token(None)
    # ID tokens go once expired and without an access token (step 2 may release them).
    rows["kept_idt_live"] = id_token(HOUR)
    rows["gone_idt_alone"] = id_token(-HOUR)
    rows["kept_idt_with_live_at"] = id_token(-HOUR)
    rows["kept_at_with_idt"] = access_token(HOUR, id_token=rows["kept_idt_with_live_at"])
    rows["gone_idt_with_expired_at"] = id_token(-HOUR)
    rows["gone_at_with_idt"] = access_token(-HOUR, id_token=rows["gone_idt_with_expired_at"])
    rows["kept_grant_live"] = grant(HOUR)
    rows["gone_grant_expired"] = grant(-HOUR, redeemed_at=timezone.now(), access_token=rows["kept_at_live"])
    return rows


def surviving() -> dict[str, set[int]]:
    return {
        model.__name__: set(model.objects.values_list("pk", flat=True))
        for model in (AccessToken, RefreshToken, IDToken, Grant)
    }


def expected_survivors(scenario: dict[str, object]) -> dict[str, set[int]]:
    survivors: dict[str, set[int]] = {"AccessToken": set(), "RefreshToken": set(), "IDToken": set(), "Grant": set()}
    for name, row in scenario.items():
        if name.startswith("kept_"):
            survivors[type(row).__name__].add(row.pk)
    return survivors


def test_expired_access_tokens_are_deleted_and_unexpired_kept(access_token):
    kept = {access_token(HOUR).pk, access_token(timedelta(minutes=1)).pk}
    for _ in range(3):
        access_token(-HOUR)
    access_token(-LONG_AGO)

    run()

    assert set(AccessToken.objects.values_list("pk", flat=True)) == kept


def test_batches_smaller_than_the_backlog_delete_it_all_with_progress(access_token):
    live = access_token(HOUR)
    for minutes in range(7):
        access_token(-timedelta(minutes=minutes + 1))

    lines = run("--batch-size", "3")

    assert list(AccessToken.objects.values_list("pk", flat=True)) == [live.pk]
    assert [line for line in lines if line.startswith("access tokens:")] == [
        "access tokens: 3 of 7 expired deleted (42%)",
        "access tokens: 6 of 7 expired deleted (85%)",
        "access tokens: 7 of 7 expired deleted (100%)",
    ]
    assert lines[-1] == deleted(access_tokens=7)


def test_progress_counts_have_thousands_separators(app):
    expired = timezone.now() - HOUR
    AccessToken.objects.bulk_create(
        AccessToken(application=app, expires=expired, scope="x", token_checksum=uuid.uuid4().hex) for _ in range(1500)
    )

    lines = run("--batch-size", "1000")

    assert lines[:2] == [
        "access tokens: 1,000 of 1,500 expired deleted (66%)",
        "access tokens: 1,500 of 1,500 expired deleted (100%)",
    ]
    assert lines[-1] == deleted(access_tokens=1_500)
    assert lines[-1].startswith("Deleted expired: access tokens 1,500, ")
    assert not AccessToken.objects.exists()


def test_an_expired_parent_goes_with_its_exchanged_children(access_token):
    live = access_token(HOUR)
    parent = access_token(-HOUR)
    # Exchanged tokens' exp is clamped to their parent's.
    child = access_token(expires=parent.expires, parent=parent)
    grandchild = access_token(expires=parent.expires, parent=child)
    # A live parent is not touched by the deletion of its expired child (no cascade upwards).
    live_parent = access_token(HOUR)
    access_token(-HOUR, parent=live_parent)

    lines = run("--batch-size", "1")

    assert set(AccessToken.objects.values_list("pk", flat=True)) == {live.pk, live_parent.pk}
    assert not AccessToken.objects.filter(pk__in=[parent.pk, child.pk, grandchild.pk]).exists()
    # The first batch takes the oldest, the parent, and its descendants by cascade; they are
    # counted once, not again when the cursor reaches them.
    assert lines == [
        "access tokens: 3 of 4 expired deleted (75%)",
        "access tokens: 4 of 4 expired deleted (100%)",
        deleted(access_tokens=4),
    ]


def test_rows_are_cleared_by_dots_rules(scenario):
    lines = run("--batch-size", "2")

    assert surviving() == expected_survivors(scenario)
    assert lines[-1] == deleted(access_tokens=3, refresh_tokens=3, id_tokens=2, grants=1)


def test_the_same_rows_survive_as_with_dots_clear_expired(scenario):
    class Rollback(Exception):
        pass

    with pytest.raises(Rollback), transaction.atomic():
        clear_expired()
        by_dot = surviving()
        raise Rollback

    run()

    assert surviving() == by_dot == expected_survivors(scenario)


def test_dry_run_deletes_nothing_and_counts_what_a_run_deletes(scenario):
    before = surviving()

    dry = run("--dry-run")

    assert surviving() == before
    # Including the rows a real run releases on the way (the idle token's access token, the ID
    # token of a deleted access token), so the count matches the run.
    assert dry == [would_delete(access_tokens=3, refresh_tokens=3, id_tokens=2, grants=1)]
    assert run("--quiet") == [deleted(access_tokens=3, refresh_tokens=3, id_tokens=2, grants=1)]


def test_quiet_prints_only_the_summary(access_token, grant):
    for _ in range(5):
        access_token(-HOUR)
    grant(-HOUR)

    assert run("--quiet", "--batch-size", "2") == [deleted(access_tokens=5, grants=1)]
    assert not AccessToken.objects.exists()
    assert not Grant.objects.exists()


def test_nothing_expired_prints_just_the_summary(access_token):
    access_token(HOUR)
    assert run() == [deleted()]
    assert AccessToken.objects.count() == 1


@pytest.fixture
def used_jwt_id():
    def make(expires_in: timedelta) -> UsedJwtId:
        return UsedJwtId.objects.create(key=uuid.uuid4().hex, expires=timezone.now() + expires_in)

    return make


@pytest.fixture
def pushed_request(app):
    def make(expires_in: timedelta) -> PushedAuthorizationRequest:
        return PushedAuthorizationRequest.objects.create(
            reference=uuid.uuid4().hex,
            application=app,
            parameters=[["response_type", "code"]],
            expires=timezone.now() + expires_in,
        )

    return make


def test_expired_used_jwt_ids_and_pushed_requests_go_in_batches_live_ones_stay(used_jwt_id, pushed_request):
    live_id = used_jwt_id(timedelta(minutes=5))
    for seconds in range(5):
        used_jwt_id(-timedelta(seconds=seconds + 1))
    live_request = pushed_request(timedelta(seconds=60))
    pushed_request(-timedelta(seconds=1))
    pushed_request(-HOUR)

    lines = run("--batch-size", "2")

    assert list(UsedJwtId.objects.values_list("pk", flat=True)) == [live_id.pk]
    assert list(PushedAuthorizationRequest.objects.values_list("pk", flat=True)) == [live_request.pk]
    assert lines == [
        "used JWT ids: 2 of 5 expired deleted (40%)",
        "used JWT ids: 4 of 5 expired deleted (80%)",
        "used JWT ids: 5 of 5 expired deleted (100%)",
        "pushed requests: 2 of 2 expired deleted (100%)",
        deleted(used_jwt_ids=5, pushed_requests=2),
    ]


def test_dry_run_counts_used_jwt_ids_and_pushed_requests_and_keeps_them(used_jwt_id, pushed_request):
    used_jwt_id(-HOUR)
    used_jwt_id(HOUR)
    pushed_request(-HOUR)

    assert run("--dry-run") == [would_delete(used_jwt_ids=1, pushed_requests=1)]
    assert UsedJwtId.objects.count() == 2
    assert PushedAuthorizationRequest.objects.count() == 1
    assert run("--quiet") == [deleted(used_jwt_ids=1, pushed_requests=1)]
    assert UsedJwtId.objects.count() == 1
    assert not PushedAuthorizationRequest.objects.exists()


def test_batch_size_must_be_positive():
    with pytest.raises(CommandError, match="batch-size"):
        call_command("clear_expired_tokens", "--batch-size", "0", stdout=io.StringIO())
