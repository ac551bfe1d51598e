"""The toolkit's one RFC 6750 implementation (apps/resource_server/bearer.py): reading the
credential, the challenge and body of each error, and the DRF authentication with the remote
JWKS verifier (JwtAccessTokenAuthentication) and HasScopes. The IdP's two in-process users of
the module are tested where they live: tests/management_api/test_authentication.py and
tests/ops/test_metrics.py."""

import pytest
from django.test import Client, RequestFactory
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from apps.resource_server import authentication, bearer
from apps.resource_server.authentication import JwtAccessTokenAuthentication
from apps.resource_server.bearer import (
    InsufficientScope,
    InvalidBearerRequest,
    InvalidToken,
    TokenRequired,
    bearer_token,
    token_from_header,
    verified,
)
from apps.resource_server.jwks import JwksCache
from apps.resource_server.permissions import HasScopes

JWKS_URI = "https://idp.test/jwks"
FORM = "application/x-www-form-urlencoded"
TWO_TOKENS = (
    'Bearer realm="api", error="invalid_request", '
    "error_description=\"The Authorization header must be 'Bearer <token>'.\""
)
IN_QUERY_OR_BODY = (
    'Bearer realm="api", error="invalid_request", '
    'error_description="Send the access token in the Authorization header, not in the URL or body."'
)


# --- reading the credential (section 2.1) ---------------------------------------------------------


@pytest.mark.parametrize("header", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Bearertoken"])
def test_no_bearer_credentials_is_no_token(header):
    assert token_from_header(header) is None


@pytest.mark.parametrize(
    "header, token",
    [
        ("Bearer abc.def.ghi", "abc.def.ghi"),
        ("bearer abc", "abc"),  # the scheme is case-insensitive (RFC 9110 section 11.1)
        ("BEARER abc", "abc"),
        ("Bearer   abc", "abc"),  # 1*SP
        ("Bearer a-b_c~d+e/f==", "a-b_c~d+e/f=="),  # every b64token character
    ],
)
def test_one_b64token_after_the_scheme_is_the_token(header, token):
    assert token_from_header(header) == token


@pytest.mark.parametrize("header", ["Bearer a b", "Bearer a, Bearer b", "Bearer a=b", 'Bearer "a"', "Bearer tök"])
def test_more_than_one_token_or_not_a_b64token_is_invalid_request(header):
    with pytest.raises(InvalidBearerRequest) as refused:
        token_from_header(header)
    assert (refused.value.status_code, refused.value.error) == (400, "invalid_request")


@pytest.mark.parametrize(
    "path, body",
    [
        ("/r?access_token=abc", None),  # section 2.3
        ("/r", "access_token=abc"),  # section 2.2
        ("/r", "other=1&access_token="),
    ],
)
def test_a_token_in_the_query_or_a_form_body_is_invalid_request_even_with_the_header(path, body):
    factory = RequestFactory()
    for headers in ({}, {"HTTP_AUTHORIZATION": "Bearer abc"}):
        if body is None:
            request = factory.get(path, **headers)
        else:
            request = factory.post(path, body, content_type="application/x-www-form-urlencoded", **headers)
        with pytest.raises(InvalidBearerRequest):
            bearer_token(request)


def test_access_token_in_a_json_body_is_just_data():
    # Section 2.2 is about form-encoded bodies; a JSON API may well have such a field.
    request = RequestFactory().post("/r", '{"access_token": "x"}', content_type="application/json")
    assert bearer_token(request) is None


def test_a_form_body_read_for_the_check_is_still_there_for_the_view():
    request = RequestFactory().post("/r", "name=x", content_type="application/x-www-form-urlencoded")
    assert bearer_token(request) is None
    assert request.POST["name"] == "x"


# --- errors: challenge and body (section 3) -------------------------------------------------------


def test_no_credentials_gets_a_challenge_without_an_error_code():
    assert TokenRequired(realm="api").challenge() == 'Bearer realm="api"'
    assert TokenRequired().challenge() == "Bearer"
    assert TokenRequired().body() == {}


def test_each_error_has_its_status_code_and_body():
    cases = [
        (InvalidBearerRequest("bad header"), 400, "invalid_request"),
        (InvalidToken("expired"), 401, "invalid_token"),
        (InsufficientScope(["a.read"]), 403, "insufficient_scope"),
    ]
    for error, status, code in cases:
        assert (error.status_code, error.error) == (status, code)
        assert error.body() == {"error": code, "error_description": error.description}


def test_insufficient_scope_names_the_scopes_needed():
    error = InsufficientScope(["b.write", "a.read"], realm="api")
    assert error.challenge() == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="This request needs the scopes a.read b.write.", scope="a.read b.write"'
    )
    one = InsufficientScope(["a.read"], realm="api")
    assert one.description == "This request needs the a.read scope."
    # A method open to no scope: nothing to name, the scope parameter is left out.
    assert InsufficientScope([], realm="api").challenge() == (
        'Bearer realm="api", error="insufficient_scope", error_description="No scope gives access to this method."'
    )


def test_quotes_and_backslashes_are_escaped_and_controls_replaced():
    error = InvalidToken('say "hi" \\ then\r\nSet-Cookie: x=1', realm='r"1')
    assert error.challenge() == (
        'Bearer realm="r\\"1", error="invalid_token", error_description="say \\"hi\\" \\\\ then??Set-Cookie: x=1"'
    )
    assert error.body()["error_description"] == 'say "hi" \\ then\r\nSet-Cookie: x=1'  # JSON carries it as is


def test_a_realm_set_by_the_verifier_is_kept():
    assert InvalidToken("x", realm="own").in_realm("api").realm == "own"
    assert InvalidToken("x").in_realm("api").realm == "api"


# --- the framework-neutral core for a plain view ----------------------------------------------------


def only_good(token: str) -> str:
    if token != "good":
        raise InvalidToken("Not good.")
    return "principal"


@pytest.mark.parametrize(
    "path, authorization, error, status, challenge",
    [
        ("/plain", None, None, 401, 'Bearer realm="plain"'),
        ("/plain", "Basic abc", None, 401, 'Bearer realm="plain"'),
        ("/plain", "Bearer bad", "invalid_token", 401, 'Bearer realm="plain", error="invalid_token", '
         'error_description="Not good."'),
        ("/plain", "Bearer a b", "invalid_request", 400, TWO_TOKENS.replace('"api"', '"plain"')),
        ("/plain?access_token=good", None, "invalid_request", 400, IN_QUERY_OR_BODY.replace('"api"', '"plain"')),
    ],
)  # fmt: skip
def test_verified_raises_the_error_in_the_views_realm(path, authorization, error, status, challenge):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    with pytest.raises(bearer.BearerError) as refused:
        verified(RequestFactory().get(path, **headers), only_good, realm="plain")
    assert (refused.value.status_code, refused.value.error) == (status, error)
    assert refused.value.headers() == {"WWW-Authenticate": challenge}


def test_verified_returns_the_principal():
    request = RequestFactory().get("/plain", HTTP_AUTHORIZATION="Bearer good")
    assert verified(request, only_good, realm="plain") == "principal"


# --- the DRF authentication with the remote JWKS verifier, and HasScopes ------------------------------


class CatalogView(APIView):
    """A service protected by the toolkit, answering with the RFC 6750 body."""

    authentication_classes = [JwtAccessTokenAuthentication]
    permission_classes = [HasScopes]
    renderer_classes = [JSONRenderer]
    required_scopes = {"GET": ["eventcatalog.read"], "POST": ["eventcatalog.write"]}

    def get_exception_handler(self):
        return bearer.exception_handler

    def get(self, request):
        return Response({"sub": request.user.sub, "aud": request.auth["aud"]})

    def post(self, request):
        return Response({"written": True})


class StockHandlerCatalogView(CatalogView):
    """The same with DRF's own exception handler (as the demo services run)."""

    def get_exception_handler(self):
        return APIView.get_exception_handler(self)


@pytest.fixture
def catalog(apis, settings, make_client, client_credentials_token):
    """The toolkit pointed at this IdP's JWKS (read through the test client, no network);
    returns a genuine read-only client-credentials token for eventcatalog."""
    settings.RESOURCE_SERVER = {"ISSUER": "https://idp.test", "AUDIENCE": "eventcatalog", "JWKS_URI": JWKS_URI}
    authentication._jwks[JWKS_URI] = JwksCache(lambda: Client().get("/.well-known/jwks.json").json())
    reader = make_client("catalog-reader", scopes=["eventcatalog.read"])
    yield client_credentials_token(reader, scope="eventcatalog.read")["access_token"]
    authentication._jwks.clear()


def call(view, method: str = "get", path: str = "/events/", authorization: str | None = None, **kwargs):
    headers = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    request = getattr(APIRequestFactory(), method)(path, **kwargs, **headers)
    response = view.as_view()(request)
    response.render()
    return response


def test_a_good_token_reaches_the_view_with_its_claims(catalog):
    response = call(CatalogView, authorization=f"Bearer {catalog}")
    assert response.status_code == 200
    assert response.data["aud"] == ["eventcatalog"]


@pytest.mark.parametrize("authorization", [None, "Basic dXNlcjpwYXNz", "Bearer"])
def test_toolkit_no_bearer_credentials_is_401_without_an_error_code(catalog, authorization):
    response = call(CatalogView, authorization=authorization)
    assert response.status_code == 401
    # The JWT authentication accepts DPoP-bound tokens too (RFC 9449 section 7.2).
    assert response["WWW-Authenticate"] == 'Bearer realm="api", DPoP realm="api", algs="ES256 PS256 RS256"'
    assert "error" not in response.data


@pytest.mark.parametrize("view", [CatalogView, StockHandlerCatalogView])
def test_toolkit_two_tokens_is_invalid_request(catalog, view):
    response = call(view, authorization=f"Bearer {catalog} {catalog}")
    assert response.status_code == 400
    assert response["WWW-Authenticate"] == TWO_TOKENS
    assert error_of(view, response) == "invalid_request"


@pytest.mark.parametrize("view", [CatalogView, StockHandlerCatalogView])
def test_toolkit_token_in_the_query_is_invalid_request(catalog, view):
    response = call(view, path=f"/events/?access_token={catalog}")
    assert response.status_code == 400
    assert response["WWW-Authenticate"] == IN_QUERY_OR_BODY
    assert error_of(view, response) == "invalid_request"


def test_toolkit_token_in_a_form_body_is_invalid_request(catalog):
    body = f"access_token={catalog}"
    response = call(CatalogView, "post", data=body, content_type=FORM)
    assert response.status_code == 400
    assert response["WWW-Authenticate"] == IN_QUERY_OR_BODY
    assert response.data == {
        "error": "invalid_request",
        "error_description": "Send the access token in the Authorization header, not in the URL or body.",
    }


@pytest.mark.parametrize("view", [CatalogView, StockHandlerCatalogView])
def test_toolkit_bad_token_is_invalid_token(catalog, view):
    response = call(view, authorization="Bearer not-a-jwt")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_token", error_description="Malformed token."'
    )
    assert error_of(view, response) == "invalid_token"


def test_toolkit_token_for_another_audience_is_invalid_token(catalog, settings):
    settings.RESOURCE_SERVER = {**settings.RESOURCE_SERVER, "AUDIENCE": "discount"}
    response = call(CatalogView, authorization=f"Bearer {catalog}")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token", error_description=')
    assert response.data["error"] == "invalid_token"


@pytest.mark.parametrize("view", [CatalogView, StockHandlerCatalogView])
def test_toolkit_missing_scope_is_insufficient_scope_with_the_scope(catalog, view):
    response = call(view, "post", authorization=f"Bearer {catalog}")
    assert response.status_code == 403
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_scope", '
        'error_description="This request needs the eventcatalog.write scope.", scope="eventcatalog.write"'
    )
    assert error_of(view, response) == "insufficient_scope"


def test_toolkit_rfc_6750_body_under_its_handler(catalog):
    response = call(CatalogView, "post", authorization=f"Bearer {catalog}")
    assert response.data == {
        "error": "insufficient_scope",
        "error_description": "This request needs the eventcatalog.write scope.",
    }


def error_of(view, response) -> str:
    """The error code in the body: ``error`` under bearer.exception_handler; under DRF's own
    handler, ``detail`` (an error's detail is its code)."""
    return response.data["error"] if view is CatalogView else response.data["detail"]


class FormView(CatalogView):
    required_scopes = ["eventcatalog.read"]

    def post(self, request):
        return Response(request.data.dict())


def test_a_form_body_read_for_the_check_still_reaches_drfs_parser(catalog):
    body = "name=concert&price=50"
    response = call(FormView, "post", authorization=f"Bearer {catalog}", data=body, content_type=FORM)
    assert (response.status_code, response.data) == (200, {"name": "concert", "price": "50"})
