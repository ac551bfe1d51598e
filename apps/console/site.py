"""The admin site operators use: Django's, with :class:`~apps.console.policy.OperatorPolicy`
applied to every ModelAdmin it registers, whoever registers it (our apps, Django's auth,
django-axes). Installed as the default ``admin.site`` by
:class:`~apps.console.admin_config.OperatorAdminConfig`."""

from collections.abc import Iterable
from typing import Any

from django.contrib import admin
from django.db.models import Model
from django.db.models.base import ModelBase

from apps.console.policy import OperatorPolicy


def with_policy(admin_class: type[admin.ModelAdmin]) -> type[admin.ModelAdmin]:
    if issubclass(admin_class, OperatorPolicy):
        return admin_class
    return type(admin_class.__name__, (OperatorPolicy, admin_class), {"__module__": admin_class.__module__})


class OperatorAdminSite(admin.AdminSite):
    site_header = "GloboTicket IdP operator console"
    site_title = "GloboTicket IdP"
    index_title = "Operator console"

    def register(
        self,
        model_or_iterable: type[Model] | Iterable[type[Model]],
        admin_class: type[admin.ModelAdmin] | None = None,
        **options: Any,
    ) -> None:
        models = [model_or_iterable] if isinstance(model_or_iterable, ModelBase) else model_or_iterable
        for model in models:
            super().register(model, with_policy(admin_class or admin.ModelAdmin), **options)
