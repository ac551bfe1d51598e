"""The system check that keeps the admin classified (apps/console/policy.py): it runs with
``manage.py check``, ``migrate`` and ``runserver``, and the tests call :func:`policy_problems`."""

from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.core.checks import CheckMessage, Error, Tags, register
from django.core.exceptions import FieldDoesNotExist
from django.db.models import Model

from apps.console.policy import OperatorPolicy, model_policy, secret_fields, touches_secret

# The declarations that make a field visible, searchable, sortable or filterable.
_DECLARATIONS = (
    "list_display",
    "list_display_links",
    "list_editable",
    "search_fields",
    "list_filter",
    "ordering",
    "sortable_by",
    "fields",
    "readonly_fields",
    "raw_id_fields",
    "autocomplete_fields",
)


def _declared_paths(admin_class: Any) -> Iterator[tuple[str, str]]:
    for attribute in _DECLARATIONS:
        for item in getattr(admin_class, attribute, None) or ():
            if isinstance(item, (list, tuple)):
                item = item[0]  # (field, FilterClass), or a row of fields
            if isinstance(item, str):
                yield attribute, item
            ordered_by = getattr(item, "admin_order_field", None)
            if isinstance(ordered_by, str):
                yield f"{attribute} (admin_order_field)", ordered_by
    if getattr(admin_class, "fieldsets", None):
        for name in flatten_fieldsets(admin_class.fieldsets):
            yield "fieldsets", name
    if getattr(admin_class, "date_hierarchy", None):
        yield "date_hierarchy", admin_class.date_hierarchy


def _secret_declarations(name: str, model: type[Model], admin_class: Any) -> list[str]:
    return [
        f"{name} names the secret {path!r} in {attribute}"
        for attribute, path in _declared_paths(admin_class)
        if touches_secret(model, path)
    ]


def policy_problems(site: admin.AdminSite) -> list[str]:
    """Everything registered on ``site`` that the operator policy does not cover: unclassified
    models, secret fields that do not exist, secrets an admin declares visible, actions without
    permissions. Empty when the admin is fully classified."""
    problems: list[str] = []
    for model, model_admin in site._registry.items():
        name = f"{type(model_admin).__name__} ({model._meta.label_lower})"
        if model_policy(model) is None:
            problems.append(f"{name} is registered but its model is not classified in apps/console/policy.py")
            continue
        if not isinstance(model_admin, OperatorPolicy):
            problems.append(f"{name} does not apply the operator policy (register it through admin.site)")
        for field in sorted(secret_fields(model)):
            try:
                model._meta.get_field(field)
            except FieldDoesNotExist:
                problems.append(f"{name}: secret field {field!r} does not exist")
        problems += _secret_declarations(name, model, model_admin)
        for func, action, _description in model_admin._get_base_actions():  # type: ignore[attr-defined]  # private Django API, not in the stubs
            permissions = getattr(func, "allowed_permissions", None)
            if not permissions:
                problems.append(f"{name}: action {action!r} declares no permissions (@admin.action(permissions=...))")
            for permission in permissions or ():
                if not callable(getattr(model_admin, f"has_{permission}_permission", None)):
                    problems.append(f"{name}: action {action!r} needs has_{permission}_permission(), which is missing")
        for inline in model_admin.inlines:
            inline_name = f"{name} inline {inline.__name__} ({inline.model._meta.label_lower})"
            if model_policy(inline.model) is None:
                problems.append(f"{inline_name}: its model is not classified in apps/console/policy.py")
            elif not secret_fields(inline.model) <= set(inline.exclude or ()):
                hidden = sorted(secret_fields(inline.model))
                problems.append(f"{inline_name}: inlines do not apply the policy; exclude {hidden}")
            else:
                problems += _secret_declarations(inline_name, inline.model, inline)
    return problems


@register(Tags.admin)
def operator_policy(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    return [
        Error(problem, hint="See apps/console/policy.py and docs/operators.md.", id="console.E001")
        for problem in policy_problems(admin.site)
    ]
