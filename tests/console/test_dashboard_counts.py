"""The dashboard counts what happened, not the rows that survive: tokens from the hourly
counters (revoked, cleared and self-contained ones included), exchanges, sign-ins and
lockouts from the audit trail; each figure only to those who may view what it counts."""

import re
from datetime import UTC, timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from apps.audit import services as audit
from apps.console.dashboard import dashboard, first_hour
from apps.oauth.models import AccessToken
from apps.ops import counters
from apps.ops.models import TokenCount
from tests.support.admin import permissions
from tests.support.http import revoke

CC = "client_credentials"
EVERYTHING = ("oauth.view_accesstoken", "resources.view_apiresource", "audit.view_auditevent")


@pytest.fixture
def no_counts(db):
    counters.flush()
    TokenCount.objects.all().delete()


def figure(html: str, css_class: str) -> int:
    match = re.search(rf'class="{css_class}"[^>]*>(\d+)<', html)
    assert match, f"{css_class} is shown"
    return int(match.group(1))


def audience_totals(html: str) -> dict[str, int]:
    table = html.split('id="tokens-by-audience"')[1].split("</table>")[0]
    return {aud: int(n) for aud, n in re.findall(r'<tr><td>([^<]*)</td>.*?class="audience-total">(\d+)<', table)}


def test_tokens_revoked_cleared_or_never_stored_are_still_counted(
    no_counts, client, apis, make_client, client_credentials_token, operator_client
):
    apis["discount"].store_tokens = False  # self-contained: never a row
    apis["discount"].save()
    service = make_client("service", scopes=["eventcatalog.read", "discount.fullaccess"])
    revoked = client_credentials_token(service, scope="eventcatalog.read")["access_token"]
    client_credentials_token(service, scope="eventcatalog.read")  # expires, then cleared
    client_credentials_token(service, scope="discount.fullaccess")
    assert revoke(client, service, revoked).status_code == 200
    assert AccessToken.objects.count() == 1  # the revoked one's row is gone
    AccessToken.objects.update(expires=timezone.now() - timedelta(hours=1))
    call_command("clear_expired_tokens", "--quiet")
    assert not AccessToken.objects.exists()  # no row left to count
    counters.flush()  # what the serving processes' flusher does every few seconds

    html = operator_client(permissions(*EVERYTHING)).get("/admin/").content.decode()
    assert figure(html, "tokens-issued") == 3
    assert re.search(rf'data-grant="{CC}">3<', html)
    assert audience_totals(html) == {"eventcatalog": 2, "discount": 1}


def test_each_process_flush_adds_up(no_counts):
    hour = timezone.now().astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    TokenCount.objects.create(hour=hour, grant_type=CC, audience="discount", count=5)  # another process's
    counters.token_issued(grant=CC, audience=["discount"])
    counters.flush()
    board = dashboard(tokens=True, events=False, keys=False)
    assert board.total("tokens_issued") == 6
    assert board.hours[-1].tokens == {CC: 6}


def test_only_the_last_24_hours_count(no_counts):
    now = timezone.now()
    start = first_hour(now)
    TokenCount.objects.create(hour=start, grant_type=CC, audience="a", count=2)
    TokenCount.objects.create(hour=start - timedelta(hours=1), grant_type=CC, audience="a", count=7)
    board = dashboard(tokens=True, events=False, keys=False, now=now)
    assert len(board.hours) == 24 and board.hours[0].start == start
    assert board.total("tokens_issued") == 2
    assert board.hours[0].tokens == {CC: 2}


def test_exchanges_sign_ins_and_lockouts_per_hour(db, operator_client):
    for granted in (True, True, False):
        audit.record(event_type=audit.EXCHANGE, granted=granted, client_id="basket")
    audit.record(event_type=audit.SIGNED_IN, granted=True, subject="alice")
    for _ in range(4):
        audit.record(event_type=audit.SIGN_IN_FAILED, granted=False, subject="bob")
    audit.record(event_type=audit.LOCKED_OUT, granted=False, subject="bob")
    audit.record(event_type=audit.SIGNED_OUT, granted=True, subject="alice")  # not a sign-in

    board = dashboard(tokens=False, events=True, keys=False)
    this_hour = board.hours[-1]
    assert (this_hour.exchanges_granted, this_hour.exchanges_refused) == (2, 1)
    assert (this_hour.sign_ins, this_hour.sign_in_failures, this_hour.lockouts) == (1, 4, 1)

    html = operator_client(permissions("audit.view_auditevent")).get("/admin/").content.decode()
    assert [figure(html, name) for name in ("exchanges-granted", "exchanges-refused")] == [2, 1]
    # The operator's own sign-in (force_login sends user_logged_in) is one more.
    assert [figure(html, name) for name in ("sign-ins", "sign-in-failures", "lockouts")] == [2, 4, 1]
    assert "tokens-issued" not in html and "tokens-by-audience" not in html


def test_token_counts_need_view_access_token_and_audiences_view_api(no_counts, operator_client):
    counters.token_issued(grant=CC, audience=["discount"])
    counters.flush()
    tokens_only = operator_client(permissions("oauth.view_accesstoken")).get("/admin/").content.decode()
    assert figure(tokens_only, "tokens-issued") == 1
    assert 'id="tokens-by-audience"' not in tokens_only and "discount" not in tokens_only
    assert "sign-ins" not in tokens_only and "lockouts" not in tokens_only

    with_apis = operator_client(permissions("oauth.view_accesstoken", "resources.view_apiresource"), username="lead")
    assert audience_totals(with_apis.get("/admin/").content.decode()) == {"discount": 1}


def test_the_dashboard_reads_only_what_the_operator_may_see(no_counts, django_assert_num_queries):
    with django_assert_num_queries(0):
        dashboard(tokens=False, events=False, keys=False)
    with django_assert_num_queries(1):
        dashboard(tokens=True, events=False, keys=False)
