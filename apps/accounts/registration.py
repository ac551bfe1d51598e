"""Self-registration (``IDP["SELF_REGISTRATION"]``, off by default): a person creates an
account that stays disabled until they follow the link mailed to its address.

The page answers the same whether or not the address already has an account: the owner of an
address in use gets a mail saying so (with the way to reset the password) instead of a second
account, so the form reveals no one's address. The link's token is Django's password-reset
token machinery with its own salt; it is bound to the account being disabled, so it works
once, and for ``PASSWORD_RESET_TIMEOUT``.
"""

import logging
from datetime import timedelta
from smtplib import SMTPException
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from apps.accounts.models import PendingRegistration
from idp.conf import idp_settings

logger = logging.getLogger(__name__)


class VerificationTokenGenerator(PasswordResetTokenGenerator):
    key_salt = "apps.accounts.registration.VerificationTokenGenerator"

    def _make_hash_value(self, user: Any, timestamp: int) -> str:
        # Bound to the account still waiting: once it is enabled the token no longer matches.
        return f"{user.pk}{user.is_active}{user.email}{timestamp}"


verification_tokens = VerificationTokenGenerator()


def _absolute(path: str) -> str:
    """A URL on the issuer, never on whatever Host header the request carried."""
    issuer = urlsplit(idp_settings.ISSUER)
    return f"{issuer.scheme}://{issuer.netloc}{path}"


def _mail(template: str, user: Any, **context: Any) -> None:
    context = {"user": user, **context}
    subject = render_to_string(f"accounts/{template}_subject.txt", context).strip()
    body = render_to_string(f"accounts/{template}_email.txt", context)
    send_mail(subject, body, None, [user.email])


class MailNotSent(Exception):
    """The mail server refused or could not be reached: nothing was created."""


def prune_expired() -> None:
    """Delete the registrations never confirmed in time (their links no longer work either)."""
    cutoff = timezone.now() - timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT)
    get_user_model()._default_manager.filter(is_active=False, pending_registration__created__lt=cutoff).delete()


def register(*, username: str, email: str, password: str) -> None:
    """Create the disabled account and mail its verification link (replacing a registration
    of ``email`` still waiting); or, if an account already has ``email``, tell its owner.
    Raises :class:`MailNotSent` (and keeps nothing) if the mail cannot be sent."""
    users = get_user_model()
    try:
        with transaction.atomic():
            # A registration of this address still waiting is replaced: confirming needs the
            # password it was made with, so whoever made it gains nothing by being first, and
            # the address's owner is never shut out (a reset mails only enabled accounts).
            users._default_manager.filter(
                email__iexact=email, is_active=False, pending_registration__isnull=False
            ).delete()
            existing = users._default_manager.filter(email__iexact=email).first()
            if existing is not None:
                _mail("registration_exists", existing, reset_url=_absolute(reverse("accounts:password-reset")))
                return
            user = users._default_manager.create_user(
                username=username, email=email, password=password, is_active=False
            )
            PendingRegistration.objects.create(user=user)
            uid = urlsafe_base64_encode(force_bytes(user.pk))
            token = verification_tokens.make_token(user)
            path = reverse("accounts:register-verify", kwargs={"uidb64": uid, "token": token})
            _mail("registration_verify", user, verify_url=_absolute(path))
    except (SMTPException, OSError) as error:
        logger.warning("Registration mail not sent (%s): no account was created.", type(error).__name__)
        raise MailNotSent from error


def confirm(user: Any) -> None:
    """The address is confirmed: the account works from now on."""
    with transaction.atomic():
        user.is_active = True
        user.save(update_fields=["is_active"])
        PendingRegistration.objects.filter(user=user).delete()
