"""User claims that tokens may carry, and how each is read from a Django user."""

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib.auth.models import AbstractBaseUser

USER_CLAIMS: dict[str, Callable[[Any], Any]] = {
    "preferred_username": lambda user: user.get_username(),
    "name": lambda user: user.get_full_name() or user.get_username(),
    "given_name": lambda user: user.first_name,
    "family_name": lambda user: user.last_name,
    "email": lambda user: user.email,
}


def user_claims(user: AbstractBaseUser, names: Iterable[str]) -> dict[str, Any]:
    """The named claims for ``user``, leaving out empty values."""
    claims = {}
    for name in sorted(names):
        value = USER_CLAIMS[name](user)
        if value:
            claims[name] = value
    return claims
