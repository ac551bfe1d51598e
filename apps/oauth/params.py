"""Reading token-endpoint parameters from a Django request (RFC 6749 section 3.2)."""

from collections.abc import Iterable
from typing import Any

from django.http import QueryDict

from apps.oauth.errors import InvalidRequest

# RFC 8707 and RFC 8693 define these as repeatable; every other parameter appears once.
REPEATABLE_PARAMETERS = frozenset({"resource", "audience"})


def reject_repeated(names: Iterable[str], **error_arguments: Any) -> None:
    """RFC 6749 section 3.2 (and RFC 7662, RFC 7009): request parameters MUST NOT be included
    more than once; ``names`` are those that were."""
    repeated = sorted(set(names) - REPEATABLE_PARAMETERS)
    if repeated:
        raise InvalidRequest(description=f"Parameter sent more than once: {', '.join(repeated)}.", **error_arguments)


def reject_repeated_parameters(params: QueryDict) -> None:
    reject_repeated(key for key, values in params.lists() if len(values) > 1)


def scope_list(scope: str | None) -> list[str] | None:
    """RFC 6749 section 3.3: space-delimited, as oauthlib splits it (so "a  b" names an
    empty scope, which no client is allowed)."""
    return None if scope is None else scope.strip().split(" ")
