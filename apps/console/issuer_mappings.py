"""Who may map a trusted issuer's tokens to one of our identities (IssuerMapping,
apps/oauth/models/trusted_issuer.py). A mapping lets whoever holds the issuer's signing keys
act as the client or person it names, so it is granted as that identity's powers are:

- a client holding the management API's powers (apps/resources/privileged.py) or an
  operator's account (staff or superuser): by a superuser only, as those powers are granted
  and those accounts changed by superusers only (docs/operators.md);
- a person's ordinary account: by an operator who may change users (``auth.change_user``,
  whoever acts on people's accounts), or a superuser: else a Client manager could register an
  issuer of their own keys and sign in as anyone;
- any other client: by whoever may change trusted issuers.

An issuer is under the rule of its strongest mapping: changing its keys, its ``iss`` or its
audience hands every mapping to another key holder. The console applies this
(apps/console/admin.py); the management API refuses what needs a superuser
(apps/management_api/views.py). The trusted command-line tools (``import_config``) are not
limited.
"""

from enum import IntEnum
from typing import Any

from django.db.models import QuerySet

from apps.oauth.models import Application, TrustedIssuer
from apps.resources.privileged import PRIVILEGED_AUDIENCES, grants_privilege

# The permission of those who act on people's accounts (the Security admin group holds it).
PEOPLE_PERMISSION = "auth.change_user"


class MappingPrivilege(IntEnum):
    """What a mapping needs of whoever makes, changes or deletes it; ordered."""

    ANY_OPERATOR = 0
    PEOPLE = 1  # a person's ordinary account
    SUPERUSER = 2  # a privileged client or an operator's account


def is_privileged_client(client: Application) -> bool:
    return grants_privilege(scopes=client.allowed_scopes.all(), resource=client.resource)


def is_operator_account(user: Any) -> bool:
    return bool(user.is_staff or user.is_superuser)


def mapping_privilege(*, client: Application | None, user: Any) -> MappingPrivilege:
    """What a mapping to ``client`` or ``user`` needs."""
    if client is not None and is_privileged_client(client):
        return MappingPrivilege.SUPERUSER
    if user is not None:
        return MappingPrivilege.SUPERUSER if is_operator_account(user) else MappingPrivilege.PEOPLE
    return MappingPrivilege.ANY_OPERATOR


def issuer_privilege(issuer: TrustedIssuer) -> MappingPrivilege:
    """What changing or deleting ``issuer`` needs: its strongest mapping's."""
    if issuer.pk is None:
        return MappingPrivilege.ANY_OPERATOR
    mappings = issuer.mappings.select_related("client__resource", "user")
    return max(
        (mapping_privilege(client=mapping.client, user=mapping.user) for mapping in mappings),
        default=MappingPrivilege.ANY_OPERATOR,
    )


def may_map(operator: Any, privilege: MappingPrivilege) -> bool:
    """Whether ``operator`` (a console user) may make, change or delete what needs ``privilege``."""
    if operator.is_superuser:
        return True
    if privilege is MappingPrivilege.SUPERUSER:
        return False
    return privilege is MappingPrivilege.ANY_OPERATOR or bool(operator.has_perm(PEOPLE_PERMISSION))


def mappable_clients(queryset: QuerySet[Application]) -> QuerySet[Application]:
    """``queryset`` without the clients only a superuser may map to."""
    return queryset.exclude(resource__audience__in=PRIVILEGED_AUDIENCES).exclude(
        allowed_scopes__resource__audience__in=PRIVILEGED_AUDIENCES
    )
