"""DRF permissions on scopes, per view or per HTTP method."""

from rest_framework import permissions


class HasScopes(permissions.BasePermission):
    """The token must carry every scope the view requires for this method::

        class EventView(APIView):
            required_scopes = {"GET": ["eventcatalog.read"], "POST": ["eventcatalog.write"]}

    A list instead of a dict applies to every method. Missing scope: 403."""

    message = "insufficient_scope"

    def has_permission(self, request, view) -> bool:
        scopes = getattr(request.user, "scopes", None)
        if scopes is None:
            return False
        required = getattr(view, "required_scopes", [])
        if isinstance(required, dict):
            required = required.get(request.method, required.get("*", []))
        return set(required) <= scopes
