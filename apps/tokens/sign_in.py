"""The sign-in behind a user's tokens: how strong it was, what that strength must be, and the
claims that tell clients and APIs about it.

A code records how the session that approved it signed in (``amr``) and when (``auth_time``);
its refresh token family carries both on. The level that takes (``acr``,
apps/protocol/strength.py) is judged against what the client and the APIs of the token
require (``require_second_factor``), at the authorization endpoint before a code is issued
and again at the token endpoint, where a requirement turned on since then still holds.
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from apps.oauth.models import Application
from apps.protocol import strength
from apps.protocol.errors import InsufficientUserAuthentication, shown
from apps.resources.models import ApiResource


@dataclass(frozen=True)
class SignIn:
    """How and when the user behind a code or a refresh token family signed in."""

    amr: tuple[str, ...]
    auth_time: datetime | None = None

    @classmethod
    def recorded(cls, *, amr: str, auth_time: datetime | None) -> "SignIn":
        """From a row's space-separated ``amr``; a row from before methods were recorded was
        approved by a password sign-in (as apps/accounts/sessions.py reads old sessions)."""
        return cls(amr=tuple(strength.methods(amr.split()) or [strength.PASSWORD]), auth_time=auth_time)

    @property
    def acr(self) -> str:
        return strength.acr_of(self.amr)

    def access_token_claims(self) -> dict[str, Any]:
        """RFC 9470 section 6: an access token names the level and time of its user's sign-in."""
        claims: dict[str, Any] = {"acr": self.acr}
        if self.auth_time is not None:
            claims["auth_time"] = int(self.auth_time.timestamp())
        return claims

    def id_token_claims(self) -> dict[str, Any]:
        """OpenID Connect Core 2: ``amr`` and ``acr`` beside ``auth_time``."""
        return {"amr": list(self.amr), **self.access_token_claims()}


def required_acr(
    *, client: Application | None, resources: Iterable[ApiResource], acr_values: str | None = None
) -> str | None:
    """The level a token for ``client`` and ``resources`` needs: the strongest of what the
    request asked for (``acr_values``), the client's and each API's requirement."""
    return strength.stronger(
        strength.required_level(acr_values),
        strength.ACR_MFA if client is not None and client.require_second_factor else None,
        *(strength.ACR_MFA for resource in resources if resource.require_second_factor),
    )


def require_strength(*, acr: str | None, client: Application | None, resources: Iterable[ApiResource]) -> None:
    """Raise ``insufficient_user_authentication`` unless a sign-in at level ``acr`` meets what
    ``client`` and ``resources`` require; the description names who requires more."""
    resources = list(resources)
    required = required_acr(client=client, resources=resources)
    if strength.satisfies(acr, required):
        return
    assert required is not None  # nothing required is always satisfied
    demanding = [f"API {resource.audience}" for resource in resources if resource.require_second_factor]
    if client is not None and client.require_second_factor:
        demanding.insert(0, f"client {client.client_id}")
    verb = "requires" if len(demanding) == 1 else "require"
    raise InsufficientUserAuthentication(
        acr_values=required,
        description=shown(f"The user signed in without a second factor; {' and '.join(demanding)} {verb} one.", 300),
    )
