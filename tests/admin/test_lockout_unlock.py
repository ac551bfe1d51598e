"""The lockout list's unlock follows the person page's rule: an operator account's lockout is
lifted by a superuser only (lifting it helps whoever guesses that account's password)."""

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client

from tests.support.admin import permissions

URL = "/admin/axes/accessattempt/"


def locked(username: str) -> AccessAttempt:
    return AccessAttempt.objects.create(
        username=username, ip_address="203.0.113.9", user_agent="x", failures_since_start=5, path_info="/"
    )


@pytest.fixture
def security_admin(db):
    operator = get_user_model().objects.create_user("sec", password="pw-sec-operator", is_staff=True)
    operator.user_permissions.set(permissions("axes.view_accessattempt", "axes.delete_accessattempt"))
    http = Client()
    http.force_login(operator)
    return http


def unlock(http: Client, *attempts: AccessAttempt):
    return http.post(URL, {"action": "unlock", "_selected_action": [a.pk for a in attempts]}, follow=True)


def test_an_operator_unlocks_a_person(security_admin):
    get_user_model().objects.create_user("carol")
    attempt = locked("carol")
    unlock(security_admin, attempt)
    assert not AccessAttempt.objects.filter(pk=attempt.pk).exists()


@pytest.mark.parametrize("flags", [{"is_staff": True}, {"is_superuser": True}])
def test_only_a_superuser_unlocks_an_operator_account(security_admin, admin_client, flags):
    get_user_model().objects.create_user("root2", **flags)
    get_user_model().objects.create_user("carol")
    theirs, hers = locked("root2"), locked("carol")
    response = unlock(security_admin, theirs, hers)
    assert "Only a superuser may unlock an operator account (root2); nothing was unlocked." in response.content.decode()
    assert AccessAttempt.objects.count() == 2  # neither: a selection is done whole or not at all
    unlock(admin_client, theirs, hers)
    assert AccessAttempt.objects.count() == 0
