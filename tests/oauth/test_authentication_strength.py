"""Authentication strength in the protocol: what the tokens say about the user's sign-in
(``amr``, ``acr``, ``auth_time``), the step-up at the authorization endpoint, and the
``insufficient_user_authentication`` refusals of the token endpoint (issue 17)."""

import json
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.accounts.sessions import METHODS_KEY, SESSION_KEY
from apps.audit.models import AuditEvent
from apps.factors import totp as authenticator_app
from apps.oauth.models import Grant, RefreshToken
from apps.protocol.errors import InsufficientUserAuthentication, error_response
from apps.protocol.strength import ACR_MFA, ACR_SFA
from apps.resources.models import ApiResource
from tests.support.authenticator import totp_code
from tests.support.flows import REDIRECT_URI, Pkce, approve, authorize_url, redeem, redirect_params, refresh
from tests.support.http import INTROSPECT_URL, basic_auth, form_post, oauth_error
from tests.support.tokens import ID_TOKEN_TYPE, row_counts

SCOPE = "openid shoppingbasket.fullaccess"
SECOND_FACTOR_URL = "/accounts/login/second-factor/"
SECURITY_URL = "/accounts/security/"
ON_BEHALF_OF = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def claims_of(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


def step_up(browser: Client, methods: list[str]) -> None:
    """The session as the second-factor page leaves it (apps/accounts/sessions.py)."""
    session = browser.session
    session[METHODS_KEY] = methods
    session.save()


def sign_in_time(browser: Client) -> int:
    return browser.session[SESSION_KEY]


def tokens_for(browser: Client, web, scope: str = SCOPE, **extra) -> dict:
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, scope, pkce, **extra)["code"]
    response = redeem(Client(), web, code, pkce.verifier)
    assert response.status_code == 200, response.content
    return response.json()


def require_second_factor(thing) -> None:
    thing.require_second_factor = True
    thing.save()  # through save(): the token endpoint's configuration cache sees the change


def insufficient(response, *, naming: str) -> None:
    """The one refusal: 400 ``insufficient_user_authentication`` naming who requires what,
    and the level required in ``acr_values``."""
    assert oauth_error(response) == (400, "insufficient_user_authentication")
    body = response.json()
    assert body["acr_values"] == ACR_MFA
    assert naming in body["error_description"]
    assert response["Cache-Control"] == "no-store"


@pytest.fixture
def totp(alice) -> TOTPDevice:
    return TOTPDevice.objects.create(user=alice, name="phone", confirmed=True)


# --- what ID tokens and access tokens say ---------------------------------------------------


def test_a_password_sign_in_is_pwd_and_sfa_in_both_tokens(browser, web):
    tokens = tokens_for(browser, web)
    id_token, access_token = claims_of(tokens["id_token"]), claims_of(tokens["access_token"])
    assert (id_token["amr"], id_token["acr"], id_token["auth_time"]) == (["pwd"], ACR_SFA, sign_in_time(browser))
    # RFC 9470 section 6: the access token names the level and time, not the methods.
    assert (access_token["acr"], access_token["auth_time"]) == (ACR_SFA, sign_in_time(browser))
    assert "amr" not in access_token


def test_a_stepped_up_sign_in_is_mfa_in_both_tokens(browser, web):
    step_up(browser, ["pwd", "otp"])
    tokens = tokens_for(browser, web)
    id_token, access_token = claims_of(tokens["id_token"]), claims_of(tokens["access_token"])
    assert (id_token["amr"], id_token["acr"]) == (["pwd", "otp", "mfa"], ACR_MFA)
    assert id_token["auth_time"] == sign_in_time(browser)
    assert (access_token["acr"], access_token["auth_time"]) == (ACR_MFA, sign_in_time(browser))


def test_the_code_records_how_the_session_signed_in(browser, web):
    step_up(browser, ["swk", "mfa"])
    approve(browser, web.client.client_id, SCOPE, Pkce.new())
    assert Grant.objects.get().amr == "swk mfa"


def test_refresh_keeps_the_original_sign_in(browser, web, alice):
    step_up(browser, ["pwd", "otp"])
    first = tokens_for(browser, web)
    auth_time = sign_in_time(browser)
    # A later sign-in elsewhere must not change what this family says (DOT would use last_login).
    Client().force_login(alice)
    second = refresh(Client(), web, first["refresh_token"]).json()
    third = refresh(Client(), web, second["refresh_token"]).json()
    for body in (second, third):
        id_token, access_token = claims_of(body["id_token"]), claims_of(body["access_token"])
        assert (id_token["amr"], id_token["acr"], id_token["auth_time"]) == (["pwd", "otp", "mfa"], ACR_MFA, auth_time)
        assert (access_token["acr"], access_token["auth_time"]) == (ACR_MFA, auth_time)
    assert set(RefreshToken.objects.values_list("amr", flat=True)) == {"pwd otp mfa"}
    assert {int(t.timestamp()) for t in RefreshToken.objects.values_list("auth_time", flat=True)} == {auth_time}


def introspect(basket, token: str) -> dict:
    response = form_post(
        Client(),
        INTROSPECT_URL,
        {"token": token},
        HTTP_AUTHORIZATION=basic_auth(basket.client.client_id, basket.client_secret),
    )
    assert response.status_code == 200
    return response.json()


def test_introspection_tells_the_api_the_sign_in(browser, web, basket):
    # RFC 9470 section 6.2: what the JWT says, for an API that introspects instead.
    step_up(browser, ["pwd", "otp"])
    answer = introspect(basket, tokens_for(browser, web)["access_token"])
    assert (answer["active"], answer["acr"], answer["auth_time"]) == (True, ACR_MFA, sign_in_time(browser))


def test_introspection_of_a_token_without_a_user_says_no_sign_in(basket, client_credentials_token, make_client):
    service = make_client("reporting", grants=["client_credentials"], scopes=["shoppingbasket.fullaccess"])
    answer = introspect(basket, client_credentials_token(service)["access_token"])
    assert answer["active"] is True
    assert "acr" not in answer and "auth_time" not in answer


def test_client_credentials_tokens_carry_no_sign_in(basket, client_credentials_token, apis):
    require_second_factor(apis["discount"])  # no user: nothing to require of
    claims = claims_of(client_credentials_token(basket)["access_token"])
    assert "acr" not in claims and "auth_time" not in claims


# --- token exchange: carried on, never raised; refused into an API that requires more -------


@pytest.fixture
def exchange_token(basket, basket_policy, exchange):
    def post(subject_token: str, **params):
        return exchange(basket, subject_token, **params)

    return post


def basket_token(browser, web) -> str:
    """alice's token for the shopping basket, from a sign-in in ``browser``."""
    return tokens_for(browser, web, "shoppingbasket.fullaccess")["access_token"]


@pytest.mark.parametrize("methods, acr", [(["pwd"], ACR_SFA), (["pwd", "otp"], ACR_MFA)])
def test_an_exchanged_token_carries_the_subject_tokens_sign_in(browser, web, exchange_token, methods, acr):
    step_up(browser, methods)
    response = exchange_token(basket_token(browser, web))
    assert response.status_code == 200, response.content
    claims = claims_of(response.json()["access_token"])
    assert (claims["aud"], claims["acr"], claims["auth_time"]) == (["discount"], acr, sign_in_time(browser))


def test_an_exchange_never_adds_a_sign_in_the_subject_token_lacks(alice_token, exchange_token):
    # A token from before acr was recorded (issue_user_token makes one as a test would).
    claims = claims_of(exchange_token(alice_token).json()["access_token"])
    assert "acr" not in claims and "auth_time" not in claims


def test_an_exchange_into_an_api_requiring_a_second_factor_is_refused(browser, web, apis, exchange_token):
    subject_token = basket_token(browser, web)
    require_second_factor(apis["discount"])
    before = row_counts()
    insufficient(exchange_token(subject_token), naming="API discount")
    assert row_counts() == {**before, "audit_events": before["audit_events"] + 1}
    event = AuditEvent.objects.get(event_type="token.exchange")
    assert event.outcome == "refused"
    assert event.reason.startswith("insufficient_user_authentication: ")


def test_an_exchange_into_an_api_requiring_a_second_factor_is_allowed_after_one(browser, web, apis, exchange_token):
    step_up(browser, ["pwd", "otp"])
    subject_token = basket_token(browser, web)
    require_second_factor(apis["discount"])
    response = exchange_token(subject_token)
    assert response.status_code == 200, response.content
    assert claims_of(response.json()["access_token"])["acr"] == ACR_MFA


def test_an_exchange_by_a_client_requiring_a_second_factor_is_refused_without_one(browser, web, basket, exchange_token):
    subject_token = basket_token(browser, web)
    require_second_factor(basket.client)  # the calling service, not the API
    insufficient(exchange_token(subject_token), naming=f"client {basket.client.client_id}")
    step_up(browser, ["pwd", "otp"])
    assert exchange_token(basket_token(browser, web)).status_code == 200


def test_a_subject_token_without_acr_meets_no_requirement(alice_token, apis, exchange_token):
    require_second_factor(apis["discount"])
    insufficient(exchange_token(alice_token), naming="API discount")


def test_an_id_token_as_subject_is_judged_by_its_acr(browser, web, apis, basket, make_policy, exchange):
    make_policy(basket.client, "discount", accept_id_token=True)
    step_up(browser, ["pwd", "otp"])
    # The ID token must be the exchanging client's own: the basket signs alice in here.
    basket.client.redirect_uris = REDIRECT_URI
    basket.client.allowed_grant_types = [*basket.client.allowed_grant_types, "authorization_code"]
    basket.client.allowed_scopes.add(*web.client.allowed_scopes.filter(name="openid"))
    basket.client.save()
    id_token = tokens_for(browser, basket, "openid")["id_token"]
    require_second_factor(apis["discount"])
    response = exchange(basket, id_token, subject_token_type=ID_TOKEN_TYPE)
    assert response.status_code == 200, response.content
    assert claims_of(response.json()["access_token"])["acr"] == ACR_MFA


def test_on_behalf_of_is_refused_as_the_exchange_is(browser, web, apis, basket, basket_policy, token_request):
    subject_token = basket_token(browser, web)
    require_second_factor(apis["discount"])
    response = token_request(
        basket,
        {"grant_type": ON_BEHALF_OF, "requested_token_use": "on_behalf_of", "assertion": subject_token},
    )
    insufficient(response, naming="API discount")


def test_the_error_renders_acr_values_beside_the_rfc_6749_members():
    response = error_response(InsufficientUserAuthentication(acr_values=ACR_MFA, description="Why."))
    assert response.status_code == 400
    assert json.loads(response.content) == {
        "error": "insufficient_user_authentication",
        "error_description": "Why.",
        "acr_values": ACR_MFA,
    }


# --- the token endpoint judges the sign-in behind codes and refresh tokens --------------------


def test_a_code_is_refused_once_the_client_requires_a_second_factor(browser, web):
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, SCOPE, pkce)["code"]
    require_second_factor(web.client)
    before = row_counts()
    insufficient(redeem(Client(), web, code, pkce.verifier), naming=f"client {web.client.client_id}")
    assert row_counts() == before


def test_a_code_is_refused_once_an_api_of_it_requires_a_second_factor(browser, web, apis):
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, SCOPE, pkce)["code"]
    require_second_factor(apis["shoppingbasket"])
    insufficient(redeem(Client(), web, code, pkce.verifier), naming="API shoppingbasket")


def test_a_code_for_other_apis_is_not_judged_by_an_api_it_is_not_for(browser, web, apis):
    pkce = Pkce.new()
    code = approve(browser, web.client.client_id, SCOPE, pkce)["code"]
    require_second_factor(apis["discount"])
    assert redeem(Client(), web, code, pkce.verifier).status_code == 200


def test_a_refresh_is_refused_once_the_client_requires_a_second_factor(browser, web):
    tokens = tokens_for(browser, web)
    require_second_factor(web.client)
    insufficient(refresh(Client(), web, tokens["refresh_token"]), naming=f"client {web.client.client_id}")


def test_a_refresh_narrowed_to_an_api_that_asks_nothing_is_allowed(browser, web, apis):
    tokens = tokens_for(browser, web, "openid eventcatalog.read shoppingbasket.fullaccess")
    require_second_factor(apis["shoppingbasket"])
    insufficient(refresh(Client(), web, tokens["refresh_token"]), naming="API shoppingbasket")
    response = refresh(Client(), web, tokens["refresh_token"], scope="eventcatalog.read")
    assert response.status_code == 200, response.content


def test_a_stepped_up_family_meets_a_requirement_turned_on_later(browser, web):
    step_up(browser, ["pwd", "otp"])
    tokens = tokens_for(browser, web)
    require_second_factor(web.client)
    assert refresh(Client(), web, tokens["refresh_token"]).status_code == 200


# --- the authorization endpoint steps the session up ------------------------------------------


def step_up_target(response) -> tuple[str, str]:
    """(page, next) of a redirect to a step-up page."""
    assert response.status_code == 302, response.status_code
    location = urlsplit(response["Location"])
    return location.path, parse_qs(location.query)["next"][0]


def test_a_client_requiring_a_second_factor_asks_for_it(browser, web, totp):
    require_second_factor(web.client)
    url = authorize_url(web.client.client_id, SCOPE, Pkce.new())
    assert step_up_target(browser.get(url)) == (SECOND_FACTOR_URL, url)
    assert not Grant.objects.exists()


def test_a_user_without_a_second_factor_is_sent_to_set_one_up(browser, web):
    require_second_factor(web.client)
    url = authorize_url(web.client.client_id, SCOPE, Pkce.new())
    assert step_up_target(browser.get(url)) == (SECURITY_URL, url)


def test_after_the_step_up_the_code_is_issued(browser, web, totp):
    require_second_factor(web.client)
    step_up(browser, ["pwd", "otp"])
    assert "code" in approve(browser, web.client.client_id, SCOPE, Pkce.new())
    assert Grant.objects.get().amr == "pwd otp mfa"


def test_prompt_none_is_interaction_required(browser, web, totp):
    tokens_for(browser, web)  # consent remembered: only the strength is missing
    require_second_factor(web.client)
    params = redirect_params(browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), prompt="none")))
    assert params["error"] == "interaction_required"
    assert (params["state"], params["iss"]) == ("st-123", "https://idp.test")


@pytest.mark.parametrize("acr_values", [ACR_MFA, f"urn:unknown {ACR_MFA}"])
def test_acr_values_asking_for_mfa_steps_up(browser, web, totp, acr_values):
    url = authorize_url(web.client.client_id, SCOPE, Pkce.new(), acr_values=acr_values)
    assert step_up_target(browser.get(url)) == (SECOND_FACTOR_URL, url)


@pytest.mark.parametrize("acr_values", ["urn:unknown", "urn:unknown urn:other", ACR_SFA, f"{ACR_SFA} {ACR_MFA}"])
def test_acr_values_a_password_meets_or_that_we_do_not_know_ask_nothing(browser, web, totp, acr_values):
    # Unknown values are voluntary (OpenID Connect Core 3.1.2.1); of several, any is acceptable.
    tokens = tokens_for(browser, web, acr_values=acr_values)
    assert claims_of(tokens["id_token"])["acr"] == ACR_SFA


@pytest.mark.parametrize("acr_values", ["x" * 1001, " ".join(["urn:a"] * 21)])
def test_an_oversized_acr_values_is_invalid_request(browser, web, acr_values):
    params = redirect_params(browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), acr_values=acr_values)))
    assert params["error"] == "invalid_request"


def test_an_api_of_the_requested_scopes_requiring_a_second_factor_asks_for_it(browser, web, apis, totp):
    require_second_factor(apis["eventcatalog"])
    url = authorize_url(web.client.client_id, "openid eventcatalog.read", Pkce.new())
    assert step_up_target(browser.get(url)) == (SECOND_FACTOR_URL, url)
    # Scopes of other APIs only: nothing asked.
    assert "code" in approve(browser, web.client.client_id, SCOPE, Pkce.new())


@pytest.mark.parametrize("resource, steps_up", [("urn:test:shoppingbasket", True), ("urn:test:eventcatalog", False)])
def test_the_resource_parameter_decides_which_apis_are_asked(browser, web, apis, totp, resource, steps_up):
    require_second_factor(apis["shoppingbasket"])
    scope = "openid eventcatalog.read shoppingbasket.fullaccess"
    url = authorize_url(web.client.client_id, scope, Pkce.new(), resource=resource)
    response = browser.get(url)
    if steps_up:
        assert step_up_target(response) == (SECOND_FACTOR_URL, url)
    else:
        assert response.status_code == 200  # the consent screen


def test_an_anonymous_user_signs_in_first_and_is_judged_on_the_way_back(web, alice, totp):
    require_second_factor(web.client)
    browser = Client()
    url = authorize_url(web.client.client_id, SCOPE, Pkce.new())
    login = browser.get(url)
    assert login.status_code == 302 and login["Location"].startswith("/accounts/login/")
    browser.force_login(alice)
    assert step_up_target(browser.get(url)) == (SECOND_FACTOR_URL, url)


def test_max_age_exceeded_still_means_signing_in_again(browser, web, totp):
    require_second_factor(web.client)
    session = browser.session
    session[SESSION_KEY] -= 3600
    session.save()
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new(), max_age="60"))
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_step_up_page_brings_the_session_back_to_a_code(browser, web, alice, settings):
    """The whole way: sent to the second-factor page, an authenticator-app code, back to the
    authorization URL, and a code that records both factors."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    device = authenticator_app.begin_enrolment(alice)
    authenticator_app.confirm_enrolment(alice, totp_code(device))
    require_second_factor(web.client)
    pkce = Pkce.new()
    url = authorize_url(web.client.client_id, SCOPE, pkce)
    page, next_url = step_up_target(browser.get(url))
    # The code after the one that confirmed the app (a code is accepted once).
    code = totp_code(authenticator_app.authenticator_app(alice))
    proved = browser.post(f"{page}?{urlencode({'next': next_url})}", {"method": "totp", "code": code})
    assert (proved.status_code, proved["Location"]) == (302, url)
    issued = approve(browser, web.client.client_id, SCOPE, pkce)["code"]
    tokens = redeem(Client(), web, issued, pkce.verifier).json()
    assert claims_of(tokens["id_token"])["amr"] == ["pwd", "otp", "mfa"]


def test_the_consent_form_is_judged_again_when_posted(browser, web, totp):
    response = browser.get(authorize_url(web.client.client_id, SCOPE, Pkce.new()))
    assert response.status_code == 200
    form = {name: value for name, value in response.context["form"].initial.items() if value is not None}
    require_second_factor(web.client)
    posted = browser.post("/o/authorize/", {**form, "allow": "Authorize"})
    assert step_up_target(posted)[0] == SECOND_FACTOR_URL
    assert not Grant.objects.exists()


# --- operators and discovery ----------------------------------------------------------------------


def test_require_second_factor_is_off_by_default(web, apis):
    assert web.client.require_second_factor is False
    assert not ApiResource.objects.filter(require_second_factor=True).exists()


@pytest.mark.parametrize("path", ["/.well-known/openid-configuration", "/.well-known/oauth-authorization-server"])
def test_discovery_lists_the_levels(client, db, path):
    metadata = client.get(path).json()
    assert metadata["acr_values_supported"] == [ACR_SFA, ACR_MFA]


def test_discovery_lists_amr_and_acr_as_claims(client, db):
    claims = client.get("/.well-known/openid-configuration").json()["claims_supported"]
    assert {"amr", "acr", "auth_time"} <= set(claims)
