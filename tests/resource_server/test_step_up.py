"""RFC 9470 in the toolkit: the insufficient_user_authentication error and its challenge
(apps/resource_server/bearer.py), the acr / auth_time checks and the DRF permission
(apps/resource_server/step_up.py), reading a downstream service's challenge and the IdP's
refusal (TokenClient), and a middle service relaying the challenge to its caller."""

import time

import pytest
from rest_framework.response import Response
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from apps.resource_server.authentication import TokenUser
from apps.resource_server.bearer import (
    BearerAuthentication,
    InsufficientUserAuthentication,
    InvalidToken,
    bearer_challenge,
    exception_handler,
)
from apps.resource_server.exchange import TokenClient, TokenRequestFailed
from apps.resource_server.permissions import HasScopes
from apps.resource_server.step_up import (
    check_authentication_strength,
    require_authentication_strength,
    requires_authentication_strength,
)

SFA = "https://refeds.org/profile/sfa"
MFA = "https://refeds.org/profile/mfa"
NOW = 1_700_000_000
WEAK = (
    'Bearer realm="api", error="insufficient_user_authentication", '
    'error_description="A different authentication level is required.", '
    'acr_values="https://refeds.org/profile/mfa"'
)
OLD = (
    'Bearer realm="api", error="insufficient_user_authentication", '
    'error_description="More recent authentication is required.", max_age="300"'
)
WEAK_AND_OLD_REQUIREMENTS = (
    'Bearer realm="api", error="insufficient_user_authentication", '
    'error_description="A different authentication level is required.", '
    'acr_values="https://refeds.org/profile/mfa", max_age="300"'
)


# --- the error and its challenge (RFC 9470 section 3) ----------------------------------------------


def test_the_challenge_names_the_acr_values_in_order_of_preference():
    error = InsufficientUserAuthentication(acr_values=[MFA, "urn:example:gold", MFA], realm="api")
    assert error.status_code == 401
    assert error.headers() == {
        "WWW-Authenticate": 'Bearer realm="api", error="insufficient_user_authentication", '
        'error_description="A different authentication level is required.", '
        f'acr_values="{MFA} urn:example:gold"'
    }
    assert error.body() == {
        "error": "insufficient_user_authentication",
        "error_description": "A different authentication level is required.",
        "acr_values": f"{MFA} urn:example:gold",
    }


def test_the_challenge_names_max_age_and_zero_is_a_value():
    assert InsufficientUserAuthentication(max_age=300, realm="api").challenge() == OLD
    now = InsufficientUserAuthentication("Sign in again.", max_age=0)
    assert now.challenge() == (
        'Bearer error="insufficient_user_authentication", error_description="Sign in again.", max_age="0"'
    )
    assert now.body() == {
        "error": "insufficient_user_authentication",
        "error_description": "Sign in again.",
        "max_age": "0",
    }


# --- the checks --------------------------------------------------------------------------------------


def refusal(claims: dict, **requirements) -> InsufficientUserAuthentication:
    with pytest.raises(InsufficientUserAuthentication) as refused:
        check_authentication_strength(claims, realm="api", now=NOW, **requirements)
    return refused.value


@pytest.mark.parametrize(
    "claims",
    [{}, {"acr": SFA}, {"acr": "mfa"}, {"acr": MFA.upper()}, {"acr": [MFA]}, {"acr": None}],
    ids=["missing", "weaker", "another name", "another case", "a list", "null"],
)
def test_an_acr_not_listed_is_refused(claims):
    assert refusal(claims, acr_values=[MFA]).challenge() == WEAK


def test_an_acr_listed_passes():
    check_authentication_strength({"acr": MFA}, acr_values=[MFA], now=NOW)
    check_authentication_strength({"acr": "urn:example:gold"}, acr_values=[MFA, "urn:example:gold"], now=NOW)
    # One string is the wire form: space-separated values, not characters.
    check_authentication_strength({"acr": MFA}, acr_values=f"urn:example:gold {MFA}", now=NOW)
    assert refusal({"acr": "h"}, acr_values=MFA).acr_values == MFA


@pytest.mark.parametrize(
    "auth_time",
    [None, NOW - 301, "1699999990", True, [NOW]],
    ids=["missing", "too old", "a string", "a bool", "a list"],
)
def test_an_auth_time_missing_or_older_than_max_age_is_refused(auth_time):
    claims = {"acr": MFA} if auth_time is None else {"acr": MFA, "auth_time": auth_time}
    assert refusal(claims, max_age=300).challenge() == OLD


def test_an_auth_time_within_max_age_passes():
    check_authentication_strength({"auth_time": NOW - 300}, max_age=300, now=NOW)
    check_authentication_strength({"auth_time": NOW - 0.5}, max_age=300, now=NOW)
    check_authentication_strength({"auth_time": NOW}, max_age=0, now=NOW)


def test_the_challenge_names_every_requirement_whichever_failed():
    # One new sign-in then meets both: no second round trip for the other one.
    assert refusal({"acr": SFA, "auth_time": NOW}, acr_values=[MFA], max_age=300).challenge() == (
        WEAK_AND_OLD_REQUIREMENTS
    )
    too_old = refusal({"acr": MFA, "auth_time": NOW - 301}, acr_values=[MFA], max_age=300)
    assert too_old.description == "More recent authentication is required."
    assert (too_old.acr_values, too_old.max_age) == (MFA, 300)


def test_asking_for_nothing_is_a_programming_error():
    with pytest.raises(ValueError, match="Name the acr_values or the max_age"):
        check_authentication_strength({"acr": MFA}, now=NOW)
    with pytest.raises(ValueError, match="Name the acr_values or the max_age"):
        requires_authentication_strength(acr_values=())
    with pytest.raises(ValueError, match="Name the acr_values or the max_age"):
        requires_authentication_strength(acr_values="  ")


# --- in DRF: the permission and the per-request call -------------------------------------------------


# Seconds before the request is verified (not before this module was imported: a long
# suite may run these tests more than max_age later).
TOKENS = {
    "password": {"sub": "alice", "acr": SFA, "signed_in_ago": 0},
    "second-factor": {"sub": "alice", "acr": MFA, "signed_in_ago": 0},
    "second-factor-long-ago": {"sub": "alice", "acr": MFA, "signed_in_ago": 3600},
    "no-acr": {"sub": "alice"},
}


class ClaimsAuthentication(BearerAuthentication):
    realm = "api"

    def verify(self, token: str) -> TokenUser:
        if token not in TOKENS:
            raise InvalidToken("Unknown token.")
        claims = dict(TOKENS[token])
        if "signed_in_ago" in claims:
            claims["auth_time"] = time.time() - claims.pop("signed_in_ago")
        return TokenUser(sub=claims["sub"], client_id="web", scopes=frozenset({"payouts"}), claims=claims)


class Payouts(APIView):
    authentication_classes = [ClaimsAuthentication]
    permission_classes = [HasScopes, requires_authentication_strength(acr_values=[MFA], max_age=600)]
    required_scopes = ["payouts"]

    def get_exception_handler(self):
        return exception_handler

    def get(self, request):
        return Response({"paid": True})


class Orders(APIView):
    """A second factor only above 100: the view decides per request."""

    authentication_classes = [ClaimsAuthentication]
    permission_classes = [HasScopes]
    required_scopes = ["payouts"]

    def get_exception_handler(self):
        return exception_handler

    def post(self, request):
        if int(request.data["amount"]) > 100:
            require_authentication_strength(request, acr_values=[MFA])
        return Response({"ordered": request.data["amount"]})


def get(view, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    return view.as_view()(APIRequestFactory().get("/payouts", **headers))


def order(token: str, amount: int):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    return Orders.as_view()(APIRequestFactory().post("/orders", {"amount": amount}, format="json", **headers))


@pytest.mark.parametrize(
    "token, description",
    [
        ("password", "A different authentication level is required."),
        ("no-acr", "A different authentication level is required."),
        ("second-factor-long-ago", "More recent authentication is required."),
    ],
)
def test_the_permission_refuses_with_401_and_the_challenge(token, description):
    response = get(Payouts, token)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == (
        'Bearer realm="api", error="insufficient_user_authentication", '
        f'error_description="{description}", acr_values="{MFA}", max_age="600"'
    )
    assert response.data == {
        "error": "insufficient_user_authentication",
        "error_description": description,
        "acr_values": MFA,
        "max_age": "600",
    }


def test_the_permission_lets_a_recent_second_factor_through():
    response = get(Payouts, "second-factor")
    assert (response.status_code, response.data) == (200, {"paid": True})


def test_without_a_token_the_permission_leaves_the_answer_to_authentication():
    response = get(Payouts, None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert get(Payouts, "forged")["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')


def test_a_view_asks_for_a_second_factor_only_when_its_condition_holds():
    assert (order("password", 100).status_code, order("password", 100).data) == (200, {"ordered": 100})
    refused = order("password", 101)
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == WEAK
    assert refused.data["error"] == "insufficient_user_authentication"
    assert order("second-factor", 101).status_code == 200


# --- reading a downstream challenge ------------------------------------------------------------------


@pytest.mark.parametrize(
    "header, params",
    [
        ('Bearer realm="api"', {"realm": "api"}),
        ("Bearer", {}),
        ("bearer error=invalid_token", {"error": "invalid_token"}),  # token form, scheme any case
        (
            'Basic realm="x", Bearer Realm="api" ,error="e", error_description="a \\"b\\", c\\\\d", max_age=5',
            {"realm": "api", "error": "e", "error_description": 'a "b", c\\d', "max_age": "5"},
        ),
        ('Newauth abc==, Bearer error="e", DPoP algs="ES256"', {"error": "e"}),
    ],
)
def test_the_bearer_challenge_is_read_from_among_others(header, params):
    assert bearer_challenge(header) == params


@pytest.mark.parametrize(
    "header",
    [None, "", 'Basic realm="x"', 'Bearer error="a", error="b"', 'Bearer error="unterminated', "Bearer =x", '"x"'],
)
def test_no_bearer_challenge_or_one_that_cannot_be_read_is_none(header):
    assert bearer_challenge(header) is None


def test_a_downstream_challenge_becomes_the_same_error_without_its_realm():
    relayed = InsufficientUserAuthentication.from_challenge(WEAK_AND_OLD_REQUIREMENTS)
    assert relayed is not None
    assert (relayed.acr_values, relayed.max_age, relayed.realm) == (MFA, 300, None)
    assert relayed.in_realm("api").challenge() == WEAK_AND_OLD_REQUIREMENTS


@pytest.mark.parametrize(
    "header",
    [
        'Bearer realm="api", error="invalid_token"',
        'Bearer realm="api", error="insufficient_scope", scope="x"',
        'DPoP error="insufficient_user_authentication", acr_values="x"',
        None,
    ],
)
def test_other_challenges_are_no_step_up(header):
    assert InsufficientUserAuthentication.from_challenge(header) is None


@pytest.mark.parametrize(
    "max_age, read",
    [('"5"', 5), ("5", 5), ('"-5"', None), ('"five"', None), ('"٥"', None), ("9" * 5000, None), ("9" * 11, None)],
)
def test_only_a_count_of_seconds_is_read_as_max_age(max_age, read):
    header = f'Bearer error="insufficient_user_authentication", max_age={max_age}'
    relayed = InsufficientUserAuthentication.from_challenge(header)
    assert relayed is not None and relayed.max_age == read


# --- the IdP refusing a token, and a middle service relaying either refusal --------------------------


class FakeResponse:
    def __init__(self, status: int, body: dict) -> None:
        self.status_code, self._body = status, body

    def json(self) -> dict:
        return self._body


def refusing(body: dict) -> TokenClient:
    return TokenClient(
        "https://idp.test/o/token/", "basket", "secret", post=lambda url, data, auth, timeout: FakeResponse(400, body)
    )


def test_the_idp_refusing_a_weak_sign_in_is_the_step_up_error():
    client = refusing(
        {"error": "insufficient_user_authentication", "error_description": "Sign in with a second factor.",
         "acr_values": MFA}
    )  # fmt: skip
    with pytest.raises(InsufficientUserAuthentication) as refused:
        client.on_behalf_of("alice-token", audience="discount")
    assert (refused.value.description, refused.value.acr_values, refused.value.max_age) == (
        "Sign in with a second factor.",
        MFA,
        None,
    )
    with pytest.raises(InsufficientUserAuthentication) as refused:
        refusing({"error": "insufficient_user_authentication", "max_age": 60}).on_behalf_of("alice-token")
    assert refused.value.max_age == 60
    assert refused.value.description == "More recent authentication is required."


def test_other_refusals_stay_token_request_failed():
    with pytest.raises(TokenRequestFailed) as refused:
        refusing({"error": "invalid_grant"}).on_behalf_of("alice-token")
    assert refused.value.error == "invalid_grant"


class Basket(APIView):
    """A middle service: its call downstream is refused for the user's sign-in."""

    authentication_classes = [ClaimsAuthentication]
    permission_classes = [HasScopes]
    required_scopes = ["payouts"]
    downstream_challenge = ""

    def get_exception_handler(self):
        return exception_handler

    def get(self, request):
        refused = InsufficientUserAuthentication.from_challenge(self.downstream_challenge)
        if refused is not None:
            raise refused
        refusing({"error": "insufficient_user_authentication", "acr_values": MFA}).on_behalf_of("alice-token")


@pytest.mark.parametrize(
    "downstream_challenge",
    ['Bearer realm="discount", error="insufficient_user_authentication", acr_values="' + MFA + '"', ""],
    ids=["a service's challenge", "the IdP's refusal"],
)
def test_a_middle_service_relays_the_challenge_in_its_own_realm(downstream_challenge):
    response = Basket.as_view(downstream_challenge=downstream_challenge)(
        APIRequestFactory().get("/basket", HTTP_AUTHORIZATION="Bearer password")
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == WEAK
    assert response.data == {
        "error": "insufficient_user_authentication",
        "error_description": "A different authentication level is required.",
        "acr_values": MFA,
    }
