"""Revoking what a client holds for a user (connected apps, sign-out)."""

from django.db import transaction
from oauth2_provider.models import revoke_access_token

from apps.oauth.models import AccessToken, Application, Grant, RefreshToken


@transaction.atomic
def revoke_client_tokens(*, user, application: Application) -> None:
    """Revoke the codes not yet redeemed, the refresh tokens and the access tokens (with the
    tokens exchanged from them) that ``application`` holds for ``user``."""
    Grant.objects.filter(user=user, application=application, redeemed_at__isnull=True).delete()
    for refresh_token in RefreshToken.objects.filter(user=user, application=application, revoked__isnull=True):
        refresh_token.revoke()
    for access_token in AccessToken.objects.filter(user=user, application=application):
        revoke_access_token(access_token)
