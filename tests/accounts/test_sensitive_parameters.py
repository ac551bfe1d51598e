"""Every page that receives a password, a code or a recovery code keeps it out of error
reports (Django's sensitive_post_parameters): the report of a failure while handling such a
request shows stars in its place."""

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.views.debug import SafeExceptionReporterFilter

from apps.factors import totp
from tests.support.authenticator import totp_code

PASSWORD = "correct horse battery staple"
HIDDEN = SafeExceptionReporterFilter.cleansed_substitute


@pytest.fixture(autouse=True)
def _registration_open(settings):
    settings.IDP = {**settings.IDP, "SELF_REGISTRATION": True}


@pytest.fixture
def browser(db) -> Client:
    user = get_user_model().objects.create_user("ida", password=PASSWORD)
    device = totp.begin_enrolment(user)
    totp.confirm_enrolment(user, totp_code(device))
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    ("url", "fields"),
    [
        ("/accounts/login/", ["username", "password"]),
        ("/accounts/login/second-factor/", ["code"]),
        ("/accounts/security/app/begin/", ["password", "code"]),
        ("/accounts/security/app/confirm/", ["password", "code"]),
        ("/accounts/security/app/remove/", ["password"]),
        ("/accounts/security/passkeys/remove/", ["password"]),
        ("/accounts/security/recovery-codes/", ["password"]),
        ("/accounts/password/", ["old_password", "new_password1", "new_password2"]),
        ("/accounts/reset/MQ/set-password/", ["new_password1", "new_password2"]),
        ("/accounts/register/", ["password1", "password2"]),
        ("/accounts/register/verify/MQ/x-y/", ["password"]),
    ],
)
def test_secrets_are_hidden_from_error_reports(browser, url, fields):
    response = browser.post(url, {field: "s3cret" for field in fields} | {"method": "totp"})
    assert response.status_code < 500
    shown = SafeExceptionReporterFilter().get_post_parameters(response.wsgi_request)
    assert {field: shown[field] for field in fields} == {field: HIDDEN for field in fields}
