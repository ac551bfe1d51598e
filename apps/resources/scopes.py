"""DOT's SCOPES_BACKEND_CLASS seam: scopes come from the database, per client."""

from oauth2_provider.scopes import BaseScopes

from apps.resources.models import ApiScope
from apps.resources.services import default_scopes


class DatabaseScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        return {scope.name: scope.description or scope.name for scope in ApiScope.objects.all()}

    def get_available_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        if application is None:
            return []
        return [scope.name for scope in application.allowed_scopes.all()]

    def get_default_scopes(self, application=None, request=None, *args, **kwargs) -> list[str]:
        if application is None:
            return []
        return default_scopes(application.allowed_scope_objects())
