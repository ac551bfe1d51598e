"""What the management API does beyond configuration: actions on people, consents, tokens and
keys. The console's own services do the work (apps/accounts/operator_actions.py, the consent
and key services, DOT's revocation), with the calling client as the operator; each action is
audited with that client as ``client_id``, committed with the action itself."""

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from oauth2_provider.models import revoke_access_token

from apps.accounts import operator_actions
from apps.accounts.operator_actions import ActionRefused, ClientOperator, FactorsReset, Revoked
from apps.audit import services as audit
from apps.consent import services as consent_services
from apps.consent.models import Consent
from apps.keys.services import clear_key_cache, rotate_keys
from apps.management_api.services import MANAGEMENT_API_CHANGE, Actor, audited_values, record_change
from apps.oauth.models import AccessToken, RefreshToken, SigningKey

REFUSED_OPERATOR_ACCOUNT = "operator account"


class OperatorAccountRefused(ActionRefused):
    """The account is an operator's (staff or superuser): automation does not act on it."""


# --- people ---------------------------------------------------------------------------------------


def _operator(*, actor: Actor, user: Any, event_type: str) -> ClientOperator:
    """The calling client as the operator of an action on ``user``, unless ``user`` is an
    operator: refused here, with the refusal in the trail (an automation client trying to lock
    out an administrator is worth seeing). The services refuse it too (may_act_on)."""
    _refuse_operator_account(actor=actor, user=user, event_type=event_type)
    return ClientOperator(client_id=actor.client_id)


def _refuse_operator_account(*, actor: Actor, user: Any, event_type: str) -> None:
    """Raises :class:`OperatorAccountRefused`, audited, if ``user`` is an operator's account:
    what the API does to a person's account, their consents or their tokens, it does to
    people's only (a superuser acts on operators' in the admin)."""
    if user is not None and operator_actions.is_operator_account(user):
        audit.record(
            event_type=event_type,
            granted=False,
            client_id=actor.client_id,
            subject=user.get_username(),
            reason=REFUSED_OPERATOR_ACCOUNT,
            details={"operator": actor.client_id},
        )
        raise OperatorAccountRefused(
            "The management API does not act on operator accounts (staff or superuser): a superuser does, in the admin."
        )


def disable(*, actor: Actor, user: Any) -> Revoked:
    """Disable the account, end its sessions and revoke its tokens (``user.disabled``)."""
    operator = _operator(actor=actor, user=user, event_type=operator_actions.DISABLED)
    return operator_actions.disable(operator=operator, user=user)


def unlock(*, actor: Actor, user: Any) -> int:
    """Forget the failed sign-ins that locked the account (``user.unlocked``)."""
    operator = _operator(actor=actor, user=user, event_type=operator_actions.UNLOCKED)
    return operator_actions.unlock(operator=operator, user=user)


def sign_out_everywhere(*, actor: Actor, user: Any) -> Revoked:
    """End every session and revoke every token (``user.signed_out_everywhere``)."""
    operator = _operator(actor=actor, user=user, event_type=operator_actions.SIGNED_OUT_EVERYWHERE)
    return operator_actions.sign_out_everywhere(operator=operator, user=user)


def reset_second_factors(*, actor: Actor, user: Any) -> FactorsReset:
    """Remove the authenticator app, passkeys and recovery codes (``user.factors_reset``)."""
    operator = _operator(actor=actor, user=user, event_type=operator_actions.FACTORS_RESET)
    return operator_actions.reset_second_factors(operator=operator, user=user)


def send_password_reset(*, actor: Actor, user: Any) -> str:
    """Mail a password-reset link to the person (``user.password_reset_sent``); returns the address."""
    operator = _operator(actor=actor, user=user, event_type=operator_actions.PASSWORD_RESET_SENT)
    return operator_actions.send_password_reset(operator=operator, user=user)


# --- consents, tokens, keys -----------------------------------------------------------------------


def revoke_consent(*, consent: Consent, actor: Actor) -> None:
    """Forget the consent and revoke what its client holds for the person, as the person's
    connected-apps page and the admin do (``consent.revoked``, plus the change by ``actor``).
    An operator's consent is refused: :class:`OperatorAccountRefused` (its event kept, outside
    the transaction of the revocation)."""
    _refuse_operator_account(actor=actor, user=consent.user, event_type=audit.CONSENT_REVOKED)
    with transaction.atomic():
        before = audited_values(consent, ["user", "application", "scopes", "granted_at", "expires_at"])
        consent_services.revoke_consent(user=consent.user, application=consent.application)
        values = audit.changes(before, dict.fromkeys(before))
        record_change(actor=actor, action="deleted", instance=consent, values=values)


@dataclass(frozen=True)
class TokensRevoked:
    jtis: list[str]  # the token's, then those exchanged from it, level by level
    refresh_token_revoked: bool


def _exchanged_from(token: AccessToken) -> list[str]:
    """The jti of ``token`` and of every token exchanged from it, at any depth."""
    jtis, level = [str(token.jti)], [token.pk]
    while level:
        children = list(AccessToken.objects.filter(parent_id__in=level).values_list("pk", "jti"))
        level = [pk for pk, _jti in children]
        jtis += [str(jti) for _pk, jti in children]
    return jtis


def revoke_token(*, token: AccessToken, actor: Actor) -> TokensRevoked:
    """Revoke an access token as the admin's action and the revocation endpoint do (DOT's
    revoke_access_token: its refresh token too, if it has one); ``parent`` cascades, so every
    token exchanged from it goes with it. A token of an operator's is refused, audited:
    :class:`OperatorAccountRefused` (signing an administrator out is a superuser's call)."""
    _refuse_operator_account(actor=actor, user=token.user, event_type=MANAGEMENT_API_CHANGE)
    return _revoke_token(token=token, actor=actor)


@transaction.atomic
def _revoke_token(*, token: AccessToken, actor: Actor) -> TokensRevoked:
    pk, jtis = token.pk, _exchanged_from(token)
    has_refresh_token = RefreshToken.objects.filter(access_token=token, revoked__isnull=True).exists()
    revoke_access_token(token)
    # A refresh token revoked meanwhile makes DOT's call a no-op: the row must go all the same.
    AccessToken.objects.filter(pk=pk).delete()
    token.pk = pk  # delete() clears it; the event names the row that was
    record_change(
        actor=actor,
        action="revoked",
        instance=token,
        jti=jtis[0],
        revoked=jtis,
        refresh_token_revoked=has_refresh_token,
    )
    return TokensRevoked(jtis=jtis, refresh_token_revoked=has_refresh_token)


@transaction.atomic
def rotate_signing_keys(*, actor: Actor, algorithm: str | None = None) -> list[SigningKey]:
    """Rotate the keys of ``algorithm`` (of every algorithm if None) as ``rotate_keys`` and the
    admin do (``key.rotated`` per algorithm, plus the change by ``actor``). Returns the active keys."""
    active = rotate_keys(algorithms=[algorithm] if algorithm else None)
    for key in active:
        record_change(actor=actor, action="rotated", instance=key, changed=["state"], activated=key.kid)
    # rotate_keys cleared this process's cache inside this transaction: a token signed before
    # the commit could cache the old key again; clear once more when the rotation is visible.
    transaction.on_commit(clear_key_cache)
    return active
