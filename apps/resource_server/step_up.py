"""RFC 9470, the resource server's side: a request that needs a stronger or a more recent
sign-in than the one behind its token is refused with ``insufficient_user_authentication``
(:class:`~apps.resource_server.bearer.InsufficientUserAuthentication`), whose challenge tells
the client what to ask the authorization server for.

The token says how the user signed in: ``acr``, the authentication context class reached,
and ``auth_time``, when the user last actively authenticated (RFC 9068 section 2.2.1; RFC
9470 section 6.1). A request needs ``acr`` to be one of ``acr_values`` (this module does not
rank values it cannot know: list every one the request accepts, preferred first) and/or
``auth_time`` no more than ``max_age`` seconds ago. Three ways to ask:

- per view: ``permission_classes = [HasScopes, requires_authentication_strength(acr_values=[MFA])]``;
- per request, when a condition decides (an amount): ``require_authentication_strength(request, ...)``;
- without DRF: ``check_authentication_strength(claims, ..., realm=...)``.
"""

import time
from collections.abc import Collection, Mapping
from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from apps.resource_server.bearer import InsufficientUserAuthentication, realm_of


def check_authentication_strength(
    claims: Mapping[str, Any], *, acr_values: Collection[str] = (), max_age: int | None = None,
    realm: str | None = None, now: float | None = None,
) -> None:  # fmt: skip
    """Raise :class:`InsufficientUserAuthentication` unless the token's ``claims`` show a
    sign-in at one of ``acr_values`` (when given) and no more than ``max_age`` seconds ago
    (when given). The challenge always names every requirement, so that one new sign-in
    meets them all. Asking for neither is a programming error (nothing would be checked)."""
    acr_values = _listed(acr_values)
    if not acr_values and max_age is None:
        raise ValueError("Name the acr_values or the max_age a request needs.")
    if acr_values and claims.get("acr") not in acr_values:
        raise InsufficientUserAuthentication(
            "A different authentication level is required.", acr_values=acr_values, max_age=max_age, realm=realm
        )
    if max_age is not None:
        auth_time = claims.get("auth_time")
        # A bool is an int to Python, not a time to anyone.
        if isinstance(auth_time, bool) or not isinstance(auth_time, int | float):
            auth_time = None
        if auth_time is None or (time.time() if now is None else now) - auth_time > max_age:
            raise InsufficientUserAuthentication(
                "More recent authentication is required.", acr_values=acr_values, max_age=max_age, realm=realm
            )


def _listed(acr_values: Collection[str]) -> tuple[str, ...]:
    # One string is the wire form, space-separated (RFC 9470 section 3), not its characters.
    return tuple(acr_values.split()) if isinstance(acr_values, str) else tuple(acr_values)


def _claims(request: Request) -> Mapping[str, Any]:
    # The verified token's claims: TokenUser.claims (JwtAccessTokenAuthentication), or a
    # principal of another verifier that keeps them the same way; nothing otherwise, which
    # meets no requirement.
    claims = getattr(request.user, "claims", None)
    return claims if isinstance(claims, Mapping) else {}


def require_authentication_strength(
    request: Request, *, acr_values: Collection[str] = (), max_age: int | None = None
) -> None:
    """For a view whose need depends on the request (say, an amount): raise
    :class:`InsufficientUserAuthentication` in the realm of the authentication that admitted
    the request unless its token meets ``acr_values`` / ``max_age``. DRF answers it as 401
    with the RFC 9470 challenge."""
    check_authentication_strength(_claims(request), acr_values=acr_values, max_age=max_age, realm=realm_of(request))


class _RequiresAuthenticationStrength(permissions.BasePermission):
    acr_values: tuple[str, ...] = ()
    max_age: int | None = None

    def has_permission(self, request, view) -> bool:
        if not getattr(request.user, "is_authenticated", False):
            return False  # no token: DRF answers 401 with the plain challenge
        require_authentication_strength(request, acr_values=self.acr_values, max_age=self.max_age)
        return True


def requires_authentication_strength(
    *, acr_values: Collection[str] = (), max_age: int | None = None
) -> type[permissions.BasePermission]:
    """A DRF permission class: every method of the view needs a token from a sign-in at one
    of ``acr_values`` and/or no more than ``max_age`` seconds old::

        class Payouts(APIView):
            permission_classes = [HasScopes, requires_authentication_strength(acr_values=[MFA], max_age=300)]

    Raises ``ValueError`` at once when asked for neither."""
    if not _listed(acr_values) and max_age is None:
        raise ValueError("Name the acr_values or the max_age a request needs.")
    return type(
        "RequiresAuthenticationStrength",
        (_RequiresAuthenticationStrength,),
        {"acr_values": _listed(acr_values), "max_age": max_age},
    )
