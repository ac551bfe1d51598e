"""The admin's registered models and the permissions operators are given in tests."""

from django.contrib import admin
from django.contrib.auth.models import Permission


def registered_admins() -> list[tuple[str, admin.ModelAdmin]]:
    return sorted((model._meta.label_lower, model_admin) for model, model_admin in admin.site._registry.items())


def permissions(*codenames: str) -> list[Permission]:
    """Permissions by "app_label.codename"."""
    found = []
    for name in codenames:
        app_label, codename = name.split(".")
        found.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return found


def view_permissions() -> list[Permission]:
    """ "Can view" on every model the admin shows."""
    return [
        Permission.objects.get(content_type__app_label=model._meta.app_label, codename=f"view_{model._meta.model_name}")
        for model in admin.site._registry
    ]
