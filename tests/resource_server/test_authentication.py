"""The resource-server toolkit: local JWT validation against the IdP's JWKS, scope permissions."""

import base64
import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from apps.keys.services import jwks_document, rotate_keys
from apps.resource_server import authentication
from apps.resource_server.authentication import JwtAccessTokenAuthentication
from apps.resource_server.jwks import JwksCache
from apps.resource_server.permissions import HasScopes
from apps.resources.models import ApiScope
from apps.resources.services import plan_token
from apps.tokens.issuance import issue_access_token

ISSUER = "https://idp.test"


class EventView(APIView):
    authentication_classes = [JwtAccessTokenAuthentication]
    permission_classes = [HasScopes]
    renderer_classes = [JSONRenderer]
    required_scopes = {"GET": ["eventcatalog.read"], "POST": ["eventcatalog.write"]}

    def get(self, request):
        return Response({"sub": request.user.sub, "actors": request.user.actors})

    def post(self, request):
        return Response({"written": True})


@pytest.fixture
def fetches(apis, settings):
    """The toolkit pointed at this IdP's JWKS, counting the fetches."""
    settings.RESOURCE_SERVER = {"ISSUER": ISSUER, "AUDIENCE": "eventcatalog", "JWKS_URI": "https://idp.test/jwks"}
    calls = []

    def fetch():
        calls.append(1)
        return jwks_document()

    authentication._jwks["https://idp.test/jwks"] = JwksCache(fetch, min_refresh_interval=60)
    yield calls
    authentication._jwks.clear()


def token_for(*scopes: str, now=None, extra=None, **plan_overrides) -> str:
    allowed = list(ApiScope.objects.select_related("resource"))
    plan = plan_token(allowed_scopes=allowed, requested_scopes=list(scopes))
    return issue_access_token(client_id="svc", user=None, plan=plan, now=now, extra_claims=extra).token


def call(token: str | None, method: str = "get", query: str = ""):
    factory = APIRequestFactory()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    request = getattr(factory, method)(f"/events/{query}", **headers)
    response = EventView.as_view()(request)
    response.render()
    return response


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_valid_token_is_accepted_with_sub_and_act(fetches):
    token = token_for("eventcatalog.read", extra={"act": {"sub": "basket", "act": {"sub": "web"}}})
    response = call(token)
    assert response.status_code == 200
    assert response.data == {"sub": "svc", "actors": ["basket", "web"]}


def test_token_for_another_api_is_401(fetches):
    assert call(token_for("shoppingbasket.fullaccess")).status_code == 401


def test_token_from_another_issuer_is_401(fetches, settings):
    settings.IDP = {"ISSUER": "https://idp.test.evil"}
    foreign = token_for("eventcatalog.read")
    settings.IDP = {"ISSUER": ISSUER}
    assert call(foreign).status_code == 401


def test_expired_token_is_401_beyond_the_leeway(fetches):
    stale = token_for("eventcatalog.read", now=timezone.now() - timedelta(seconds=600 + 31))
    assert call(stale).status_code == 401
    within_leeway = token_for("eventcatalog.read", now=timezone.now() - timedelta(seconds=600 + 10))
    assert call(within_leeway).status_code == 200


def test_alg_none_is_401(fetches):
    token = token_for("eventcatalog.read")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    forged = b64(json.dumps({**header, "alg": "none"}).encode()) + "." + token.split(".")[1] + "."
    assert call(forged).status_code == 401


@pytest.mark.parametrize("form", ["pem", "jwk"])
def test_hs256_signed_with_the_public_key_is_401(fetches, form):
    token = token_for("eventcatalog.read")
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    published = next(k for k in jwks_document()["keys"] if k["kid"] == header["kid"])
    import jwt

    public = jwt.PyJWK(published).key
    secret = (
        public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        if form == "pem"
        else json.dumps(published).encode()
    )
    signing_input = b64(json.dumps({**header, "alg": "HS256"}).encode()) + "." + token.split(".")[1]
    signature = b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())
    assert call(f"{signing_input}.{signature}").status_code == 401


def test_tampered_payload_is_401(fetches):
    token = token_for("eventcatalog.read")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims["scope"] = "eventcatalog.read eventcatalog.write"
    assert call(f"{header}.{b64(json.dumps(claims).encode())}.{signature}", method="post").status_code == 401


def test_unknown_kid_refreshes_once_then_refuses(fetches):
    token = token_for("eventcatalog.read")
    assert call(token).status_code == 200
    assert len(fetches) == 1
    header, payload, signature = token.split(".")
    for kid in ("no-such-kid", "../../etc/passwd", "' OR 1=1 --"):
        claims = json.loads(base64.urlsafe_b64decode(header + "=="))
        forged = b64(json.dumps({**claims, "kid": kid}).encode())
        assert call(f"{forged}.{payload}.{signature}").status_code == 401
    assert len(fetches) == 1  # refreshed at most once per interval, not once per bad token


def test_a_rotation_needs_no_refresh_because_the_next_key_was_published(fetches):
    assert call(token_for("eventcatalog.read")).status_code == 200
    rotate_keys(algorithms=["RS256"])
    assert call(token_for("eventcatalog.read")).status_code == 200
    assert len(fetches) == 1


def test_a_key_unknown_to_the_cache_is_picked_up_by_one_refresh(fetches):
    assert call(token_for("eventcatalog.read")).status_code == 200
    rotate_keys(algorithms=["RS256"])
    rotate_keys(algorithms=["RS256"])  # now signing with a key created after the JWKS was fetched
    authentication._jwks["https://idp.test/jwks"]._fetched_at -= 61  # the refresh interval has passed
    assert call(token_for("eventcatalog.read")).status_code == 200
    assert len(fetches) == 2


def test_id_token_typ_is_401(fetches):
    token = token_for("eventcatalog.read")
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(header + "=="))
    forged = b64(json.dumps({**claims, "typ": "JWT"}).encode())
    assert call(f"{forged}.{payload}.{signature}").status_code == 401


def test_missing_scope_is_403_and_missing_token_is_401(fetches):
    read_only = token_for("eventcatalog.read")
    assert call(read_only, method="post").status_code == 403
    assert call(token_for("eventcatalog.write"), method="post").status_code == 200
    response = call(None)
    assert response.status_code == 401
    # RFC 9449 section 7.2: the service accepts DPoP-bound tokens too, and says so.
    assert response["WWW-Authenticate"] == 'Bearer realm="api", DPoP realm="api", algs="ES256 PS256 RS256"'


def test_token_in_the_query_string_is_invalid_request(fetches):
    # RFC 6750 section 3.1: a token sent another way than the header is a malformed request
    # (400 invalid_request; it was 401), the same answer as the management API's and /metrics'.
    response = call(None, query=f"?access_token={token_for('eventcatalog.read')}")
    assert (response.status_code, response.data) == (400, {"detail": "invalid_request"})
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="invalid_request", '
        'error_description="Send the access token in the Authorization header, not in the URL or body."'
    )


@pytest.mark.parametrize("header", ["Bearer garbage", "Bearer e30.e30.e30"])
def test_malformed_authorization_is_401(fetches, header):
    # "Bearer a b" (two tokens) is a malformed header: 400 invalid_request, in test_bearer.py.
    request = APIRequestFactory().get("/events/", HTTP_AUTHORIZATION=header)
    response = EventView.as_view()(request)
    assert response.status_code == 401
