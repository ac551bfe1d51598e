"""The admin site operators use: Django's, with :class:`~apps.console.policy.OperatorPolicy`
applied to every ModelAdmin it registers, whoever registers it (our apps, Django's auth,
django-axes). Installed as the default ``admin.site`` by
:class:`~apps.console.admin_config.OperatorAdminConfig`."""

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.db.models.base import ModelBase
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme

from apps.console.policy import OperatorPolicy
from apps.console.register import may_register_service, register_service_view


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

    def get_urls(self) -> list[URLResolver | URLPattern]:
        register = path("register-service/", self.admin_view(self.register_service), name="register_service")
        return [register, *super().get_urls()]

    def register_service(self, request: HttpRequest) -> HttpResponse:
        return register_service_view(request, self)

    def each_context(self, request: HttpRequest) -> dict[str, Any]:
        # For the links to the page (the admin index, the API list).
        return {**super().each_context(request), "may_register_service": may_register_service(request)}

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        """One sign-in page for everyone (``LOGIN_URL``): the admin's own form would sign an
        operator in by password alone, past the second factor, lockout page and slow-down of
        the people's sign-in. A signed-in person the console does not admit is told so, rather
        than sent round to sign in again."""
        index = reverse("admin:index", current_app=self.name)
        next_url = request.GET.get(REDIRECT_FIELD_NAME, "")
        if not url_has_allowed_host_and_scheme(next_url, {request.get_host()}, request.is_secure()):
            next_url = index
        if not request.user.is_authenticated:
            return redirect_to_login(next_url, settings.LOGIN_URL)
        if not self.has_permission(request):
            raise PermissionDenied("This account has no access to the operator console.")
        return redirect(next_url)
