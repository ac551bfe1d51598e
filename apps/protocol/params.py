"""Reading token-endpoint parameters from a Django request (RFC 6749 section 3.2)."""

from django.http import QueryDict

from apps.protocol.errors import InvalidRequest, shown

# RFC 8707 and RFC 8693 define these as repeatable; every other parameter appears once.
REPEATABLE_PARAMETERS = frozenset({"resource", "audience"})


def repeated_parameters(params: QueryDict) -> list[str]:
    """RFC 6749 sections 3.1 and 3.2 (and RFC 7662, RFC 7009): request parameters MUST NOT be
    included more than once. The names that were, other than the repeatable ones."""
    return sorted(key for key, values in params.lists() if len(values) > 1 and key not in REPEATABLE_PARAMETERS)


def repeated_parameters_error(repeated: list[str]) -> InvalidRequest:
    return InvalidRequest(description=f"Parameter sent more than once: {shown(', '.join(repeated))}.")


def reject_repeated_parameters(params: QueryDict) -> None:
    if repeated := repeated_parameters(params):
        raise repeated_parameters_error(repeated)


def scope_list(scope: str | None) -> list[str] | None:
    """RFC 6749 section 3.3: space-delimited, as oauthlib splits it (so "a  b" names an
    empty scope, which no client is allowed)."""
    return None if scope is None else scope.strip().split(" ")
