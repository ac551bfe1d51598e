"""An operator reads the audit trail in the console as they would: filters it by person, type
and date, and exports what the list shows as CSV and as JSON Lines."""

import csv
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone

from apps.audit import services as audit

PASSWORD = "auditor-password-for-tests"


@pytest.fixture
def auditor(transactional_db):
    """A staff member who may only read the audit trail."""
    user = get_user_model().objects.create_user("auditor", password=PASSWORD, is_staff=True)
    user.user_permissions.set([Permission.objects.get(codename="view_auditevent")])
    carol = get_user_model().objects.create_user("carol")
    # An event that names carol by database id (a token's sub), and others by username.
    audit.record(event_type=audit.EXCHANGE, granted=True, client_id="basket", subject=str(carol.pk))
    audit.record(event_type=audit.CONSENT_GIVEN, granted=True, client_id="web", subject="carol")
    audit.record(event_type=audit.SIGN_IN_FAILED, granted=False, subject="=cmd|' /C calc'!A0")
    audit.record(event_type=audit.SIGNED_IN, granted=True, subject="dave")


def download(page, link_text: str) -> str:
    with page.expect_download() as info:
        page.locator("#content").get_by_role("link", name=link_text).click()
    return open(info.value.path(), encoding="utf-8").read()


def test_an_operator_filters_the_trail_and_exports_what_it_shows(chromium, live_server, auditor, screenshot):
    page = chromium.new_context(accept_downloads=True).new_page()
    page.goto(f"{live_server.url}/admin/audit/auditevent/")
    page.fill("#id_username", "auditor")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("main button[type=submit]")
    assert page.url.endswith("/admin/audit/auditevent/")

    # By person: carol's events, including the one that stored her id, shown by username.
    page.get_by_label("user (username)").fill("carol")
    with page.expect_navigation():
        page.get_by_label("user (username)").press("Enter")
    rows = page.locator("#result_list tbody tr")
    assert rows.count() == 2
    assert set(page.locator("#result_list td.field-subject_name").all_inner_texts()) == {"carol"}

    # And by type, keeping the person; then by a date range that holds today.
    with page.expect_navigation():
        page.locator("#changelist-filter").get_by_role("link", name=audit.EXCHANGE).click()
    assert rows.count() == 1 and "subject=carol" in page.url
    today = timezone.localdate().isoformat()
    page.locator("#changelist-filter input[name=created__gte]").fill(today)
    with page.expect_navigation():
        page.locator("#changelist-filter input[name=created__gte]").press("Enter")
    assert rows.count() == 1 and f"created__gte={today}" in page.url and "event_type=" in page.url
    screenshot(page, "admin-audit-filtered")

    exported = [json.loads(line) for line in download(page, "Export JSON Lines").splitlines()]
    assert [(row["event_type"], row["subject"], row["client_id"]) for row in exported] == [
        (audit.EXCHANGE, "carol", "basket")
    ]

    # Everything, as CSV: the typed "username" that is a formula is defused.
    page.goto(f"{live_server.url}/admin/audit/auditevent/")
    table = list(csv.DictReader(io.StringIO(download(page, "Export CSV"))))
    failed = [row for row in table if row["event_type"] == audit.SIGN_IN_FAILED]
    assert [row["subject"] for row in failed] == ["'=cmd|' /C calc'!A0"]
    assert {row["subject"] for row in table} >= {"carol", "dave", "auditor"}
