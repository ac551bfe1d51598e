"""The password-reset mail: Django's :class:`~django.contrib.auth.forms.PasswordResetForm`,
with its link on the issuer. Sent by the people's reset page (apps/accounts/views.py) and by
an operator from a person's page in the console (apps/accounts/operator_actions.py)."""

from typing import Any
from urllib.parse import urlsplit

from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.tokens import default_token_generator
from django.http import HttpRequest

from idp.conf import idp_settings

EMAIL_TEMPLATE = "accounts/password_reset_email.txt"
SUBJECT_TEMPLATE = "accounts/password_reset_subject.txt"


def mail_reset_links(
    form: PasswordResetForm,
    *,
    request: HttpRequest | None = None,
    token_generator: Any = default_token_generator,
    from_email: str | None = None,
) -> None:
    """Mail a single-use reset link to each account ``form`` (valid) finds for its address."""
    # The link points at the issuer, never at whatever Host header the request carried.
    issuer = urlsplit(idp_settings.ISSUER)
    form.save(
        domain_override=issuer.netloc,
        use_https=issuer.scheme == "https",
        token_generator=token_generator,
        from_email=from_email,
        email_template_name=EMAIL_TEMPLATE,
        subject_template_name=SUBJECT_TEMPLATE,
        request=request,
    )
