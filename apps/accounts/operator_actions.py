"""What an operator sees of a person and does to their account from the console (the user's
page in apps/accounts/admin.py).

One typed service per action: each refuses what the operator may not do (:func:`may_act_on`)
by raising :class:`ActionRefused` with nothing changed, and writes its audit event, whose
``subject`` is the person and whose ``details`` name the operator: a user in the console, or
a :class:`ClientOperator` (the management API's calling client, also the event's
``client_id``). :func:`account_overview` reads what the page shows; it never holds a secret
(session keys, token values and checksums, TOTP keys, recovery-code digests).
"""

from dataclasses import dataclass
from datetime import datetime
from smtplib import SMTPException
from typing import Any

from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from axes.utils import reset as reset_lockout
from django.conf import settings
from django.contrib.auth.forms import PasswordResetForm
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.models import UserSession
from apps.accounts.password_reset import mail_reset_links
from apps.accounts.sessions import end_sessions, live_sessions, revoke_refresh_tokens
from apps.audit.services import record
from apps.consent.models import Consent
from apps.factors import passkeys, totp
from apps.factors.models import Passkey, RecoveryCode
from apps.factors.recovery import delete_recovery_codes
from apps.oauth.models import AccessToken, Grant, RefreshToken
from apps.tokens.lineage import LineageNode, lineage_root, lineage_tree

UNLOCKED = "user.unlocked"
DISABLED = "user.disabled"
SIGNED_OUT_EVERYWHERE = "user.signed_out_everywhere"
FACTORS_RESET = "user.factors_reset"
PASSWORD_RESET_SENT = "user.password_reset_sent"

# The page lists a person's most recent tokens, not every one they ever held.
MAX_TOKENS_SHOWN = 50


class ActionRefused(Exception):
    """The operator may not do this to this account, or it cannot be done: nothing changed."""


class MailNotSent(ActionRefused):
    """The password-reset mail could not be sent (the mail server's fault, not the account's):
    worth trying again later."""


@dataclass(frozen=True)
class ClientOperator:
    """The operator when a program acts through the management API: its client. Never a
    superuser, so it acts on no operator account (:func:`may_act_on`): automation must not be
    able to lock an administrator out."""

    client_id: str
    is_superuser: bool = False
    pk: None = None  # no account of its own to protect (:func:`disable`)

    def get_username(self) -> str:
        return self.client_id


def is_operator_account(user: Any) -> bool:
    return bool(user.is_staff or user.is_superuser)


def may_act_on(*, operator: Any, user: Any) -> bool:
    """Operator accounts (staff or superuser) are acted on by superusers only, as they are
    changed only by superusers (docs/operators.md): otherwise whoever may change users could
    sign an administrator out, strip their second factors or lock them out of the console."""
    return bool(operator.is_superuser) or not is_operator_account(user)


def _check(*, operator: Any, user: Any) -> None:
    if not may_act_on(operator=operator, user=user):
        raise ActionRefused("Only a superuser may act on an operator account.")


def _audit(
    event_type: str, *, operator: Any, user: Any, granted: bool = True, reason: str = "", **details: Any
) -> None:
    record(
        event_type=event_type,
        granted=granted,
        client_id=operator.client_id if isinstance(operator, ClientOperator) else "",
        subject=user.get_username(),
        reason=reason,
        details={"operator": operator.get_username(), **details},
    )


# --- the actions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Revoked:
    """What ending a person's sign-ins took away."""

    sessions: int
    refresh_tokens: int
    access_tokens: int


def unlock(*, operator: Any, user: Any) -> int:
    """Forget ``user``'s failed sign-ins (django-axes), from every address: the lockout ends
    and the count starts again. Returns how many records were removed."""
    _check(operator=operator, user=user)
    cleared = reset_lockout(username=user.get_username())
    _audit(UNLOCKED, operator=operator, user=user, records_cleared=cleared)
    return cleared


def _end_everything(user: Any) -> Revoked:
    """End every session of ``user`` and revoke every token they hold: codes not redeemed,
    refresh tokens, and access tokens with every token exchanged from them."""
    live_refresh = RefreshToken.objects.filter(user=user, revoked__isnull=True)
    refresh_count = live_refresh.count()
    access_count = AccessToken.objects.filter(user=user, expires__gt=timezone.now()).count()
    sessions = end_sessions(user)
    Grant.objects.filter(user=user, redeemed_at__isnull=True).delete()
    revoke_refresh_tokens(user=user)  # each family, with its access tokens
    for token in live_refresh:  # those left: tokens from before families were kept
        token.revoke()
    # The rest (tokens without a refresh token); ``parent`` cascades to what was exchanged.
    AccessToken.objects.filter(user=user).delete()
    return Revoked(sessions=sessions, refresh_tokens=refresh_count, access_tokens=access_count)


def _audit_revoked(event_type: str, *, operator: Any, user: Any, revoked: Revoked) -> None:
    _audit(
        event_type,
        operator=operator,
        user=user,
        sessions_ended=revoked.sessions,
        refresh_tokens_revoked=revoked.refresh_tokens,
        access_tokens_revoked=revoked.access_tokens,
    )


def sign_out_everywhere(*, operator: Any, user: Any) -> Revoked:
    """End all of ``user``'s browser sessions and revoke every token their apps hold for
    them: they must sign in again everywhere (which they still can)."""
    _check(operator=operator, user=user)
    with transaction.atomic():
        revoked = _end_everything(user)
        _audit_revoked(SIGNED_OUT_EVERYWHERE, operator=operator, user=user, revoked=revoked)
    return revoked


def disable(*, operator: Any, user: Any) -> Revoked:
    """Disable ``user``'s account and, in the same transaction, end their sessions and revoke
    their tokens (a disabled account is refused everywhere; this also takes back what it was
    given). Also run when an operator unticks "active" on the person's page."""
    _check(operator=operator, user=user)
    if user.pk == operator.pk:
        raise ActionRefused("You cannot disable your own account.")
    with transaction.atomic():
        type(user)._default_manager.filter(pk=user.pk).update(is_active=False)
        user.is_active = False
        revoked = _end_everything(user)
        _audit_revoked(DISABLED, operator=operator, user=user, revoked=revoked)
    return revoked


@dataclass(frozen=True)
class FactorsReset:
    authenticator_app: bool
    passkeys: int
    recovery_codes: int
    sessions: int


def reset_second_factors(*, operator: Any, user: Any) -> FactorsReset:
    """Remove ``user``'s authenticator app (and one being set up), passkeys and recovery
    codes, and end their sessions (a session keeps the strength a removed factor gave it).
    For a person who lost their device: they sign in with their password and set up anew.
    The factors' own services remove them (each removal in the audit trail too); the operator's
    permission stands in for the password those services' callers ask of the person."""
    _check(operator=operator, user=user)
    with transaction.atomic():
        codes = RecoveryCode.objects.filter(user=user).count()  # before the last factor takes them
        had_app = totp.authenticator_app(user) is not None
        if had_app:
            totp.remove(user)
        TOTPDevice.objects.filter(user=user).delete()  # one being set up, never confirmed
        passkey_ids = list(Passkey.objects.filter(user=user).values_list("pk", flat=True))
        for passkey_id in passkey_ids:
            passkeys.remove(user=user, passkey_id=passkey_id)
        delete_recovery_codes(user)
        sessions = end_sessions(user)
        reset = FactorsReset(
            authenticator_app=had_app, passkeys=len(passkey_ids), recovery_codes=codes, sessions=sessions
        )
        _audit(
            FACTORS_RESET,
            operator=operator,
            user=user,
            authenticator_app=reset.authenticator_app,
            passkeys=reset.passkeys,
            recovery_codes=reset.recovery_codes,
            sessions_ended=reset.sessions,
        )
    return reset


class _ResetMailForOnePerson(PasswordResetForm):
    """Django's reset form for the person's own address, mailing them alone (another account
    sharing the address gets nothing), and failing loudly: the operator must know whether the
    mail left (Django's form only logs a failure, so the page can answer the same)."""

    def __init__(self, person: Any) -> None:
        super().__init__(data={"email": getattr(person, person.get_email_field_name(), "")})
        self.person = person

    def get_users(self, email: str) -> Any:
        return (user for user in super().get_users(email) if user.pk == self.person.pk)

    def send_mail(
        self,
        subject_template_name: str,
        email_template_name: str,
        context: dict[str, Any],
        from_email: str | None,
        to_email: str,
        html_email_template_name: str | None = None,
    ) -> None:
        subject = "".join(render_to_string(subject_template_name, context).splitlines())
        EmailMultiAlternatives(subject, render_to_string(email_template_name, context), from_email, [to_email]).send()


def send_password_reset(*, operator: Any, user: Any) -> str:
    """Mail ``user`` a password-reset link, as the people's reset page does (Django's form, the
    link on the issuer). The link goes to their address only and is never returned: the
    operator learns the address it went to."""
    _check(operator=operator, user=user)
    form = _ResetMailForOnePerson(user)
    if not form.is_valid():
        raise ActionRefused("This account has no valid email address.")
    address = form.cleaned_data["email"]
    if not any(form.get_users(address)):
        if not user.is_active:
            raise ActionRefused("This account is disabled: enable it first.")
        raise ActionRefused("This account has no usable password to reset: set one with “Set a new password”.")
    try:
        mail_reset_links(form)
    except (SMTPException, OSError) as error:
        _audit(PASSWORD_RESET_SENT, operator=operator, user=user, granted=False, reason="mail not sent", to=address)
        raise MailNotSent("The mail could not be sent. Nothing was changed: try again later.") from error
    _audit(PASSWORD_RESET_SENT, operator=operator, user=user, to=address)
    return address


# --- what the page shows --------------------------------------------------------------------


@dataclass(frozen=True)
class FailedSignIns:
    """django-axes' count of one address's failed sign-ins for the person."""

    ip_address: str | None
    failures: int
    last_attempt: datetime
    locked_until: datetime | None  # None: not locked out (or locked with no cool-off)
    locked_out: bool


@dataclass(frozen=True)
class SecondFactors:
    authenticator_app: TOTPDevice | None
    app_being_set_up: bool
    passkeys: list[Passkey]
    recovery_codes: int
    recovery_codes_left: int

    @property
    def any(self) -> bool:
        return bool(self.authenticator_app or self.app_being_set_up or self.passkeys or self.recovery_codes)


@dataclass(frozen=True)
class AccountOverview:
    sessions: list[UserSession]
    consents: list[Consent]
    token_families: list[LineageNode]  # each tree from its root: who acted for whom
    refresh_tokens: list[RefreshToken]
    factors: SecondFactors
    failed_sign_ins: list[FailedSignIns]

    @property
    def locked_out(self) -> bool:
        return any(attempt.locked_out for attempt in self.failed_sign_ins)


def _failed_sign_ins(user: Any) -> list[FailedSignIns]:
    now, cool_off = timezone.now(), get_cool_off()
    rows = []
    for attempt in AccessAttempt.objects.filter(username=user.get_username()).order_by("-attempt_time"):
        until = attempt.attempt_time + cool_off if cool_off else None
        fresh = until is None or until > now  # axes counts only attempts within the cool-off
        locked = fresh and attempt.failures_since_start >= settings.AXES_FAILURE_LIMIT
        rows.append(
            FailedSignIns(
                ip_address=attempt.ip_address,
                failures=attempt.failures_since_start,
                last_attempt=attempt.attempt_time,
                locked_until=until if locked else None,
                locked_out=locked,
            )
        )
    return rows


def _token_families(user: Any) -> list[LineageNode]:
    """The person's unexpired access tokens, each shown in its family (from the token it was
    exchanged from, down to what was exchanged from it)."""
    active = AccessToken.objects.filter(user=user, expires__gt=timezone.now()).select_related("application", "parent")
    roots: dict[int, AccessToken] = {}
    for token in active.order_by("-created")[:MAX_TOKENS_SHOWN]:
        root = lineage_root(token)
        roots.setdefault(root.pk, root)
    return [lineage_tree(root) for root in roots.values()]


def account_overview(user: Any) -> AccountOverview:
    codes = RecoveryCode.objects.filter(user=user)
    return AccountOverview(
        sessions=live_sessions(user),
        consents=list(Consent.objects.filter(user=user).select_related("application")),
        token_families=_token_families(user),
        refresh_tokens=list(
            RefreshToken.objects.filter(user=user, revoked__isnull=True)
            .select_related("application")
            .order_by("-created")[:MAX_TOKENS_SHOWN]
        ),
        factors=SecondFactors(
            authenticator_app=totp.authenticator_app(user),
            app_being_set_up=totp.pending_enrolment(user) is not None,
            passkeys=list(Passkey.objects.filter(user=user)),
            recovery_codes=codes.count(),
            recovery_codes_left=codes.filter(used__isnull=True).count(),
        ),
        failed_sign_ins=_failed_sign_ins(user),
    )
