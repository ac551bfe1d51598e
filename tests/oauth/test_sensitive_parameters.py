"""Django's error reports never show a secret a client posted to an OAuth endpoint: each
endpoint marks every secret-bearing parameter it accepts as sensitive."""

import pytest
from django.test import Client

from tests.support.http import INTROSPECT_URL, REVOKE_URL, TOKEN_URL, form_post

# Every parameter of the token endpoint that carries a credential or a token:
# RFC 6749 sections 2.3.1, 4.1.3 and 6; RFC 7636 section 4.5; RFC 7521 section 4.2 (and
# Entra's on-behalf-of); RFC 8693 section 2.1. Plus RFC 7662 / RFC 7009 ``token``.
SECRET_PARAMETERS = {
    "client_secret",
    "client_assertion",
    "code",
    "code_verifier",
    "refresh_token",
    "assertion",
    "subject_token",
    "actor_token",
    "token",
}


@pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, REVOKE_URL])
def test_every_secret_bearing_parameter_is_sensitive(db, url):
    response = form_post(Client(), url, {name: "x" for name in SECRET_PARAMETERS})
    marked = response.wsgi_request.sensitive_post_parameters
    assert SECRET_PARAMETERS <= set(marked), sorted(SECRET_PARAMETERS - set(marked))
