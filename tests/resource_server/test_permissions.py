"""HasScopes fails closed: a method or a view without listed scopes is refused (403)."""

import pytest
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory, force_authenticate
from rest_framework.views import APIView

from apps.resource_server.authentication import TokenUser
from apps.resource_server.permissions import HasScopes


class Scoped(APIView):
    permission_classes = [HasScopes]
    renderer_classes = [JSONRenderer]
    required_scopes: object = {"GET": ["eventcatalog.read"], "POST": ["eventcatalog.write"]}

    def get(self, request):
        return Response({"read": True})

    def post(self, request):
        return Response({"written": True})

    def put(self, request):
        return Response({"replaced": True})

    def delete(self, request):
        return Response(status=204)


def call(method: str, scopes: set[str], required_scopes: object = None):
    request = getattr(APIRequestFactory(), method)("/events/")
    force_authenticate(request, user=TokenUser(sub="u1", client_id="svc", scopes=frozenset(scopes)))
    overrides = {} if required_scopes is None else {"required_scopes": required_scopes}
    response = Scoped.as_view(**overrides)(request)
    response.render()
    return response


def refused(response) -> tuple[int, str]:
    return response.status_code, response.data["detail"]


@pytest.mark.parametrize("method", ["put", "delete", "patch"])
def test_a_method_not_listed_is_refused_whatever_the_token_carries(method):
    every_scope = {"eventcatalog.read", "eventcatalog.write"}
    assert refused(call(method, every_scope)) == (403, "insufficient_scope")


def test_head_needs_what_get_needs():
    assert refused(call("head", set())) == (403, "insufficient_scope")
    assert refused(call("head", {"eventcatalog.write"})) == (403, "insufficient_scope")
    assert call("head", {"eventcatalog.read"}).status_code == 200


def test_head_listed_on_its_own_needs_its_own_scopes():
    required = {"GET": ["eventcatalog.read"], "HEAD": ["eventcatalog.write"]}
    assert refused(call("head", {"eventcatalog.read"}, required)) == (403, "insufficient_scope")
    assert call("head", {"eventcatalog.write"}, required).status_code == 200


def test_options_is_refused_unless_listed():
    # OPTIONS reveals the view's metadata: it is not implied by GET.
    assert refused(call("options", {"eventcatalog.read", "eventcatalog.write"})) == (403, "insufficient_scope")
    listed = {"GET": ["eventcatalog.read"], "OPTIONS": ["eventcatalog.read"]}
    assert call("options", {"eventcatalog.read"}, listed).status_code == 200


def test_a_list_applies_to_every_method_head_and_options_included():
    for method in ("get", "head", "options", "post", "delete"):
        assert refused(call(method, set(), ["eventcatalog.read"])) == (403, "insufficient_scope")
        assert call(method, {"eventcatalog.read"}, ["eventcatalog.read"]).status_code in (200, 204)


def test_star_covers_the_methods_not_listed():
    required = {"GET": ["eventcatalog.read"], "*": ["eventcatalog.write"]}
    assert refused(call("delete", {"eventcatalog.read"}, required)) == (403, "insufficient_scope")
    assert call("delete", {"eventcatalog.write"}, required).status_code == 204


@pytest.mark.parametrize("required", [[], {}, {"GET": []}, (), ""])
def test_no_scope_listed_is_refused_not_allowed(required):
    assert refused(call("get", {"eventcatalog.read"}, required)) == (403, "insufficient_scope")


def test_a_view_without_required_scopes_is_refused():
    class Unscoped(APIView):
        permission_classes = [HasScopes]
        renderer_classes = [JSONRenderer]

        def get(self, request):
            return Response({"read": True})

    request = APIRequestFactory().get("/open/")
    force_authenticate(request, user=TokenUser(sub="u1", client_id="svc", scopes=frozenset({"eventcatalog.read"})))
    response = Unscoped.as_view()(request)
    assert refused(response) == (403, "insufficient_scope")


def test_a_single_scope_given_as_a_string_is_that_scope():
    assert call("get", {"eventcatalog.read"}, "eventcatalog.read").status_code == 200
    # Not its letters: a token with the scope "e" gets nothing.
    assert refused(call("get", {"e", "v", "n", "t", "c", "a", "l", "o", "g", ".", "r", "d"}, "eventcatalog.read")) == (
        403,
        "insufficient_scope",
    )
