"""Transaction Tokens at a service (draft-ietf-oauth-transaction-tokens, section "Using
Txn-Tokens"): the ``Txn-Token`` header checked by the middleware against the IdP's JWKS, the
permission that requires one, and the token passed on unmodified. Every refusal is 403 with
its exact ``error`` and no ``WWW-Authenticate`` (a Txn-Token is no credential)."""

import json
import logging
import time
import uuid
from typing import Any

import jwt
import pytest
from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from apps.keys.services import get_signing_key, jwks_document
from apps.resource_server import authentication
from apps.resource_server.authentication import JwtAccessTokenAuthentication
from apps.resource_server.bearer import exception_handler
from apps.resource_server.jwks import JwksCache
from apps.resource_server.permissions import HasScopes
from apps.resource_server.transaction import (
    HEADER,
    REQUIRED_CLAIMS,
    TXN_TOKEN_TYPE,
    HasTransactionToken,
    InvalidTransactionToken,
    TransactionTokenMiddleware,
    current_transaction_token,
    transaction_headers,
    validate_transaction_token,
)
from apps.resources.models import ApiScope
from apps.resources.services import plan_token
from apps.tokens.issuance import issue_access_token
from tests.support.forgery import alg_none, hs256_with_public_key, part, signed_by_stranger, with_header

ISSUER = "https://idp.test"  # the trust domain too, unless TRUST_DOMAIN says otherwise
JWKS_URI = "https://idp.test/jwks"
ABSENT: Any = object()  # a claim left out
REQUIRED = "A Txn-Token is required."
OTHER_SUBJECT = "The Txn-Token's subject is not the access token's."


class OrderView(APIView):
    """A service endpoint that needs both: the caller's access token and the transaction's
    context."""

    authentication_classes = [JwtAccessTokenAuthentication]
    permission_classes = [HasScopes, HasTransactionToken]
    renderer_classes = [JSONRenderer]
    required_scopes = ["eventcatalog.read"]
    required_transaction_scopes: Any = {"GET": ["trade.read"], "POST": ["trade.stocks"]}

    def get_exception_handler(self):
        return exception_handler

    def get(self, request):
        token = current_transaction_token()
        assert token is not None
        return Response({"txn": token.txn, "sub": token.sub, "tctx": token.tctx, "rctx": token.rctx,
                         "req_wl": token.req_wl, "forward": transaction_headers()})  # fmt: skip

    def post(self, request):
        return Response({"ordered": True})


class ContextOnlyView(APIView):
    """A workload deep in the call chain: no access token, the Txn-Token only."""

    authentication_classes: list = []
    permission_classes = [HasTransactionToken]
    renderer_classes = [JSONRenderer]
    required_transaction_scopes = ["trade.read"]

    def get(self, request):
        return Response({"txn": current_transaction_token().txn})  # type: ignore[union-attr]


@pytest.fixture
def toolkit(apis, settings):
    """The toolkit pointed at this IdP's JWKS, counting the fetches."""
    settings.RESOURCE_SERVER = {"ISSUER": ISSUER, "AUDIENCE": "eventcatalog", "JWKS_URI": JWKS_URI}
    fetches = []

    def fetch():
        fetches.append(1)
        return jwks_document()

    authentication._jwks[JWKS_URI] = JwksCache(fetch, min_refresh_interval=60)
    yield fetches
    authentication._jwks.clear()


@pytest.fixture
def alice_access(toolkit, alice) -> tuple[str, str]:
    """alice's access token for the service and her ``sub`` in it."""
    plan = plan_token(allowed_scopes=list(ApiScope.objects.all()), requested_scopes=["eventcatalog.read"])
    token = issue_access_token(client_id="web", user=alice, plan=plan).token
    return token, part(token, 1)["sub"]


def txn_claims(sub: str = "alice-sub", **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "iss": ISSUER, "aud": ISSUER, "iat": now, "exp": now + 120, "txn": str(uuid.uuid4()), "sub": sub,
        "scope": "trade.read trade.stocks", "req_wl": "gateway",
        "tctx": {"action": "BUY", "ticker": "MSFT", "quantity": "100"}, "rctx": {"req_ip": "192.0.2.7"},
    }  # fmt: skip
    return {name: value for name, value in {**claims, **changes}.items() if value is not ABSENT}


def sign(claims: dict[str, Any], *, algorithm: str = "ES256", **header: Any) -> str:
    """A Txn-Token as the IdP signs one: its own active key, typ txntoken+jwt, the key's kid."""
    key = get_signing_key(algorithm)
    headers = {"typ": TXN_TOKEN_TYPE, "kid": key.kid, **header}
    return jwt.encode(claims, key.private_key, algorithm=key.algorithm, headers=headers)


def txn_token(sub: str = "alice-sub", **changes: Any) -> str:
    return sign(txn_claims(sub, **changes))


def call(view=OrderView, *, txn: str | None = None, access: str | None = None, method: str = "get", **meta):
    headers = {**meta}
    if txn is not None:
        headers["HTTP_TXN_TOKEN"] = txn
    if access is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {access}"
    request = getattr(APIRequestFactory(), method)("/orders/", **headers)
    response = TransactionTokenMiddleware(view.as_view())(request)
    if hasattr(response, "render"):
        response.render()
    return response


def refusal(response) -> tuple[int, str]:
    """(status, error) of a refusal, checking its body is exactly the two members and that it
    challenges nothing."""
    assert "WWW-Authenticate" not in response
    body = json.loads(response.content)
    assert set(body) == {"error", "error_description"}
    return response.status_code, body["error"]


def described(response) -> tuple[int, str, str]:
    status, error = refusal(response)
    return status, error, json.loads(response.content)["error_description"]


# --- a valid Txn-Token ------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_a_valid_txn_token_is_the_requests_context_and_passed_on_exactly(alice_access, algorithm):
    access, sub = alice_access
    claims = txn_claims(sub)
    token = sign(claims, algorithm=algorithm)
    response = call(txn=token, access=access)
    assert response.status_code == 200
    assert response.data == {
        "txn": claims["txn"], "sub": sub, "tctx": claims["tctx"], "rctx": claims["rctx"], "req_wl": "gateway",
        "forward": {"Txn-Token": token},  # byte for byte as received
    }  # fmt: skip


def test_a_workload_with_no_access_token_needs_only_the_txn_token(toolkit):
    claims = txn_claims()
    assert call(ContextOnlyView, txn=sign(claims)).data == {"txn": claims["txn"]}


def test_iss_is_optional(toolkit):
    assert call(ContextOnlyView, txn=txn_token(iss=ABSENT)).status_code == 200


def test_a_configured_trust_domain_is_the_audience(toolkit, settings):
    settings.RESOURCE_SERVER = {**settings.RESOURCE_SERVER, "TRUST_DOMAIN": "globoticket.internal"}
    assert call(ContextOnlyView, txn=txn_token(aud="globoticket.internal")).status_code == 200
    assert described(call(ContextOnlyView, txn=txn_token())) == (
        403, "invalid_txn_token", "The Txn-Token is for another trust domain."
    )  # fmt: skip


def test_a_token_within_the_leeway_is_accepted(toolkit):
    now = int(time.time())
    assert call(ContextOnlyView, txn=txn_token(iat=now - 200, exp=now - 20)).status_code == 200


# --- refused by the middleware, before any view runs ------------------------------------------------


def test_an_expired_txn_token_is_refused(toolkit):
    now = int(time.time())
    response = call(ContextOnlyView, txn=txn_token(iat=now - 300, exp=now - 31))
    assert described(response) == (403, "invalid_txn_token", "Txn-Token expired.")


def test_a_txn_token_signed_by_another_key_with_a_copied_kid_is_refused(toolkit):
    forged = signed_by_stranger(txn_token(), typ=TXN_TOKEN_TYPE)
    assert part(forged, 0)["kid"] == get_signing_key("ES256").kid
    assert refusal(call(ContextOnlyView, txn=forged)) == (403, "invalid_txn_token")


def test_an_unknown_kid_is_refused_with_one_refresh_at_most(toolkit):
    assert call(ContextOnlyView, txn=txn_token()).status_code == 200
    for kid in ("no-such-kid", "../../etc/passwd", "k" * 200):
        response = call(ContextOnlyView, txn=with_header(txn_token(), kid=kid))
        assert described(response) == (403, "invalid_txn_token", "Unknown Txn-Token signing key.")
    assert len(toolkit) == 1


@pytest.mark.parametrize("aud", ["https://other-domain.test", ["https://idp.test", "https://other-domain.test"]])
def test_a_txn_token_for_another_trust_domain_is_refused(toolkit, aud):
    # A list naming ours among others is refused too: a Txn-Token is valid in one trust domain.
    response = call(ContextOnlyView, txn=txn_token(aud=aud))
    assert described(response) == (403, "invalid_txn_token", "The Txn-Token is for another trust domain.")


def test_a_txn_token_from_another_issuer_is_refused(toolkit):
    response = call(ContextOnlyView, txn=txn_token(iss="https://idp.test.evil"))
    assert described(response) == (403, "invalid_txn_token", "The Txn-Token was issued by another issuer.")


def test_an_access_token_presented_as_a_txn_token_is_refused(alice_access):
    # Signed by the same key as a Txn-Token would be: typ at+jwt is all that tells them apart.
    access, _ = alice_access
    response = call(txn=access, access=access)
    assert described(response) == (403, "invalid_txn_token", "Not a Txn-Token (typ must be txntoken+jwt).")


@pytest.mark.parametrize("typ", ["at+jwt", "JWT", "application/txntoken+jwt", None])
def test_any_other_typ_is_refused(toolkit, typ):
    assert refusal(call(ContextOnlyView, txn=sign(txn_claims(), typ=typ))) == (403, "invalid_txn_token")


def test_a_txn_token_presented_as_an_access_token_is_refused(alice_access):
    _, sub = alice_access
    token = txn_token(sub)
    response = call(txn=token, access=token)
    assert response.status_code == 401
    assert response.data == {"error": "invalid_token", "error_description": "Not an access token (typ must be at+jwt)."}


@pytest.mark.parametrize(
    "forge",
    [
        pytest.param(alg_none, id="none"),
        pytest.param(lambda token: hs256_with_public_key(token, "pem"), id="HS256-pem"),
        pytest.param(lambda token: hs256_with_public_key(token, "jwk"), id="HS256-jwk"),
        # The ES256 key's kid, the RS256 algorithm: the key decides, not the header.
        pytest.param(lambda token: with_header(token, alg="RS256"), id="alg-of-another-key"),
    ],
)
def test_alg_none_hs256_and_a_swapped_alg_are_refused(toolkit, forge):
    assert refusal(call(ContextOnlyView, txn=forge(txn_token()))) == (403, "invalid_txn_token")


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_a_txn_token_missing_a_required_claim_is_refused(toolkit, claim):
    response = call(ContextOnlyView, txn=txn_token(**{claim: ABSENT}))
    assert described(response) == (
        403, "invalid_txn_token", f'Txn-Token rejected: Token is missing the "{claim}" claim'
    )  # fmt: skip


@pytest.mark.parametrize(
    ("claim", "value"),
    [("txn", ""), ("txn", 42), ("sub", ""), ("req_wl", ["gateway"]), ("req_wl", None), ("scope", ""),
     ("scope", ["trade.read"]), ("tctx", "BUY"), ("rctx", ["192.0.2.7"]), ("iat", "yesterday")],
)  # fmt: skip
def test_a_claim_of_the_wrong_kind_is_refused(toolkit, claim, value):
    assert refusal(call(ContextOnlyView, txn=txn_token(**{claim: value}))) == (403, "invalid_txn_token")


@pytest.mark.parametrize("header", ["{token}, {token}", "{token},{token}", " ", "garbage", "e30.e30.e30"])
def test_two_values_an_empty_or_a_malformed_header_are_refused(toolkit, header):
    token = txn_token()
    assert refusal(call(ContextOnlyView, txn=header.format(token=token))) == (403, "invalid_txn_token")


def test_two_values_say_so(toolkit):
    token = txn_token()
    assert described(call(ContextOnlyView, txn=f"{token}, {token}")) == (
        403, "invalid_txn_token", "The Txn-Token header must carry exactly one Txn-Token."
    )  # fmt: skip


def test_a_bad_txn_token_stops_the_request_even_where_none_is_required(toolkit):
    ran = []

    def view(request):
        ran.append(1)
        return HttpResponse("done")

    request = APIRequestFactory().get("/anything/", HTTP_TXN_TOKEN=alg_none(txn_token()))
    response = TransactionTokenMiddleware(view)(request)
    assert refusal(response) == (403, "invalid_txn_token")
    assert response["Cache-Control"] == "no-store"
    assert ran == []


# --- refused by the permission ------------------------------------------------------------------------


def test_a_missing_txn_token_is_refused_where_one_is_required(alice_access):
    access, _ = alice_access
    assert described(call(access=access)) == (403, "invalid_txn_token", REQUIRED)
    assert described(call(ContextOnlyView)) == (403, "invalid_txn_token", REQUIRED)


def test_a_txn_token_without_the_scope_the_method_needs_is_refused(alice_access):
    access, sub = alice_access
    token = txn_token(sub, scope="trade.read")
    assert call(txn=token, access=access).status_code == 200
    assert described(call(txn=token, access=access, method="post")) == (
        403, "insufficient_scope", "This request needs a Txn-Token with the scopes trade.stocks."
    )  # fmt: skip


def test_a_method_with_no_txn_scope_listed_is_refused(alice_access):
    access, sub = alice_access
    response = call(txn=txn_token(sub), access=access, method="delete")
    assert described(response) == (403, "insufficient_scope", "No Txn-Token scope gives access to this method.")


def test_a_txn_token_of_another_subject_than_the_access_token_is_refused(alice_access):
    access, _ = alice_access
    assert described(call(txn=txn_token("mallory-sub"), access=access)) == (403, "invalid_txn_token", OTHER_SUBJECT)


def test_drfs_own_exception_handler_answers_the_same(alice_access):
    class DefaultHandlerView(OrderView):
        def get_exception_handler(self):
            return APIView.get_exception_handler(self)

    access, _ = alice_access
    assert described(call(DefaultHandlerView, txn=txn_token("mallory-sub"), access=access)) == (
        403, "invalid_txn_token", OTHER_SUBJECT
    )  # fmt: skip


# --- one request's context only ---------------------------------------------------------------------


def test_the_context_does_not_outlive_its_request(toolkit):
    seen = []

    def view(request):
        seen.append((current_transaction_token(), transaction_headers()))
        return HttpResponse("ok")

    middleware = TransactionTokenMiddleware(view)
    token = txn_token()
    middleware(APIRequestFactory().get("/", HTTP_TXN_TOKEN=token))
    middleware(APIRequestFactory().get("/"))  # the next request on the same thread
    (first, forwarded), (second, none_forwarded) = seen
    assert first is not None and first.raw == token and forwarded == {HEADER: token}
    assert (second, none_forwarded) == (None, {})
    assert current_transaction_token() is None and transaction_headers() == {}


def test_the_context_is_reset_when_the_view_raises(toolkit):
    def view(request):
        assert current_transaction_token() is not None
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        TransactionTokenMiddleware(view)(APIRequestFactory().get("/", HTTP_TXN_TOKEN=txn_token()))
    assert current_transaction_token() is None


def test_the_raw_token_is_never_logged_nor_in_repr(toolkit, caplog):
    token = txn_token()
    expired = txn_token(exp=int(time.time()) - 60)
    with caplog.at_level(logging.DEBUG):
        assert call(ContextOnlyView, txn=token).status_code == 200
        assert call(ContextOnlyView, txn=expired).status_code == 403
    assert any("Txn-Token refused" in record.getMessage() for record in caplog.records)
    for record in caplog.records:
        message = record.getMessage()
        assert token not in message and expired not in message
        assert token.split(".")[2] not in message and expired.split(".")[2] not in message
    validated = validate_transaction_token(
        token, trust_domain=ISSUER, issuer=ISSUER, jwks=authentication.jwks_for(JWKS_URI)
    )
    assert token.split(".")[2] not in repr(validated) and "MSFT" not in repr(validated)


def test_validate_raises_the_typed_error(toolkit):
    with pytest.raises(InvalidTransactionToken, match="Malformed Txn-Token.") as excinfo:
        validate_transaction_token(
            "nonsense", trust_domain=ISSUER, issuer=ISSUER, jwks=authentication.jwks_for(JWKS_URI)
        )
    assert (excinfo.value.status_code, excinfo.value.error) == (403, "invalid_txn_token")
