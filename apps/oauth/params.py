"""Reading token-endpoint parameters from a Django request (RFC 6749 section 3.2)."""

from django.http import QueryDict

from apps.oauth.errors import InvalidRequest

# RFC 8707 and RFC 8693 define these as repeatable; every other parameter appears once.
REPEATABLE_PARAMETERS = frozenset({"resource", "audience"})


def repeated_parameters(params: QueryDict) -> list[str]:
    return sorted(key for key, values in params.lists() if len(values) > 1 and key not in REPEATABLE_PARAMETERS)


def reject_repeated_parameters(params: QueryDict) -> None:
    """RFC 6749 section 3.2: request parameters MUST NOT be included more than once."""
    repeated = repeated_parameters(params)
    if repeated:
        raise InvalidRequest(description=f"Parameter sent more than once: {', '.join(repeated)}.")


def scope_list(scope: str | None) -> list[str] | None:
    """RFC 6749 section 3.3: space-delimited, as oauthlib splits it (so "a  b" names an
    empty scope, which no client is allowed)."""
    return None if scope is None else scope.strip().split(" ")
