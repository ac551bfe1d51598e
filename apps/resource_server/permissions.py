"""DRF permissions on scopes, per view or per HTTP method. Fails closed."""

from collections.abc import Collection, Mapping

from rest_framework import permissions

from apps.resource_server.bearer import InsufficientScope, realm_of


def required_scopes_for(required: object, method: str) -> frozenset[str]:
    """The scopes ``method`` needs, from a view's ``required_scopes``; empty means refused.

    A dict lists methods: a method not in it falls back to ``"*"`` and otherwise needs scopes
    no token has (default deny); ``HEAD`` follows ``GET`` (Django serves HEAD with the GET
    handler, so it reveals as much). ``OPTIONS`` is not implied by anything: it reveals the
    view's metadata, so it is allowed only when listed (or under ``"*"`` or a plain list).
    A plain list (or one string) applies to every method."""
    if isinstance(required, Mapping):
        fallback = required.get("GET") if method == "HEAD" else None
        required = required.get(method, fallback if fallback is not None else required.get("*", ()))
    if isinstance(required, str):
        required = [required]
    return frozenset(required) if isinstance(required, Collection) else frozenset()


class HasScopes(permissions.BasePermission):
    """The token must carry every scope the view requires for this method::

        class EventView(APIView):
            required_scopes = {"GET": ["eventcatalog.read"], "POST": ["eventcatalog.write"]}

    A list instead of a dict applies to every method. Missing scope: 403 ``insufficient_scope``
    with the RFC 6750 challenge naming the scopes needed (section 3.1). A view, or a method,
    with no scope listed is refused, not opened: a public endpoint does not use this
    permission (see :func:`required_scopes_for` for HEAD and OPTIONS). No token: DRF's 401."""

    message = "insufficient_scope"

    def has_permission(self, request, view) -> bool:
        scopes = getattr(request.user, "scopes", None)
        if scopes is None:
            return False  # not authenticated by a token: DRF answers 401 with the challenge
        required = required_scopes_for(getattr(view, "required_scopes", None), request.method)
        if not required or not required <= scopes:
            raise InsufficientScope(required, realm=realm_of(request))
        return True
