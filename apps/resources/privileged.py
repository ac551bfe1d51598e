"""The APIs whose scopes only a superuser grants: the management API's (``idp-admin``), whose
scopes let a client disable people, reset their second factors, revoke tokens and rotate keys:
more than any operator group holds in the console.

The one definition the console (apps/console) and the management API (apps/management_api)
apply: a client holding such a scope or acting as such an API, and an exchange policy into
one, are made, changed, deleted and given a new secret by a superuser only, in the console;
never through the management API. The trusted command-line tools (``create_client``,
``import_config``) are run by whoever runs the IdP and are not limited."""

from collections.abc import Iterable

from django.db.models import QuerySet

from apps.resources.models import ApiResource, ApiScope

# The management API's audience (apps/management_api/migrations/0001_idp_admin_resource.py).
MANAGEMENT_API_AUDIENCE = "idp-admin"
PRIVILEGED_AUDIENCES = frozenset({MANAGEMENT_API_AUDIENCE})


def is_privileged_resource(resource: ApiResource | None) -> bool:
    return resource is not None and resource.audience in PRIVILEGED_AUDIENCES


def privileged_scopes() -> QuerySet[ApiScope]:
    return ApiScope.objects.filter(resource__audience__in=PRIVILEGED_AUDIENCES)


def privileged_scope_ids() -> frozenset[int]:
    return frozenset(privileged_scopes().values_list("pk", flat=True))


def is_privileged_scope(scope: ApiScope) -> bool:
    return scope.resource_id is not None and scope.pk in privileged_scope_ids()


def grants_privilege(*, scopes: Iterable[ApiScope], resource: ApiResource | None = None) -> bool:
    """Whether a client with ``scopes`` acting as ``resource``, or an exchange policy into
    ``resource`` granting ``scopes``, holds the powers of a privileged API."""
    if is_privileged_resource(resource):
        return True
    privileged = privileged_scope_ids()
    return any(scope.pk in privileged for scope in scopes)


def grantable_scopes(queryset: QuerySet[ApiScope]) -> QuerySet[ApiScope]:
    """``queryset`` without the privileged APIs' scopes: what someone who is not a superuser may grant."""
    return queryset.exclude(resource__audience__in=PRIVILEGED_AUDIENCES)


def grantable_resources(queryset: QuerySet[ApiResource]) -> QuerySet[ApiResource]:
    """``queryset`` without the privileged APIs."""
    return queryset.exclude(audience__in=PRIVILEGED_AUDIENCES)
