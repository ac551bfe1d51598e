"""The token preview says why: the exchange policy that applied (linked), the algorithm and
lifetime with the setting each comes from, the scopes left out, and the times as dates."""

import re
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from apps.resources.models import ApiScope
from tests.oauth.test_token_preview import claims_in, preview
from tests.support.admin import permissions


def reason(page: str, topic: str) -> str:
    found = re.findall(rf'<dd class="reason-{topic}">(.*?)</dd>', page, re.S)
    assert found, f"a {topic} reason is shown"
    return " ".join(found).replace("&#x27;", "'")


@pytest.fixture
def exchange_page(admin_client, basket, basket_policy, alice, apis):
    return preview(admin_client, basket.client, user=alice.username, exchange_target=apis["discount"].pk)


def test_an_exchange_names_and_links_its_policy(exchange_page, basket_policy):
    text = reason(exchange_page, "policy")
    assert text.startswith("The exchange policy basket -&gt; discount applies. Mode: Delegation")
    assert "actor chain at most 1 deep; tokens live at most 300 seconds (5 min)." in text
    assert f'href="/admin/oauth/exchangepolicy/{basket_policy.pk}/change/"' in exchange_page


def test_the_policy_is_linked_only_for_those_who_may_open_it(apis, basket, basket_policy, alice):
    operator = get_user_model().objects.create_user("operator", is_staff=True)
    operator.user_permissions.set(permissions("oauth.view_application"))
    viewer = Client()
    viewer.force_login(operator)
    page = viewer.get(
        f"/admin/oauth/application/{basket.client.pk}/preview/?exchange_target={apis['discount'].pk}"
    ).content.decode()
    assert "basket -&gt; discount" in reason(page, "policy")
    assert "/admin/oauth/exchangepolicy/" not in page


def test_an_exchange_lifetime_is_the_least_of_api_policy_and_subject_token(exchange_page, apis):
    claims = claims_in(exchange_page)
    assert claims["exp"] - claims["iat"] == 300
    text = reason(exchange_page, "lifetime")
    assert text.startswith("300 seconds (5 min): the exchange policy's maximum, the least of three")
    assert f"the API's lifetime (discount): {apis['discount'].access_token_lifetime} seconds" in text


def test_an_exchange_lifetime_capped_by_the_subject_token(admin_client, basket, basket_policy, alice, apis):
    basket_policy.max_lifetime = 3600
    basket_policy.save()
    apis["discount"].access_token_lifetime = 3600
    apis["discount"].save()
    apis["shoppingbasket"].access_token_lifetime = 120  # the user's token for the basket's own API
    apis["shoppingbasket"].save()
    page = preview(admin_client, basket.client, user=alice.username, exchange_target=apis["discount"].pk)
    claims = claims_in(page)
    assert claims["exp"] - claims["iat"] <= 120
    assert ": the subject token's remaining life, the least of three" in reason(page, "lifetime")


def test_the_algorithm_is_the_apis_setting(exchange_page):
    assert reason(exchange_page, "algorithm") == "ES256: the signing algorithm set on the API (discount)."


def test_apis_asking_for_different_algorithms_get_the_default(admin_client, apis, make_client):
    both = make_client("both", scopes=["discount.fullaccess", "eventcatalog.read"])
    page = preview(admin_client, both.client, user="")
    assert claims_in(page)["aud"] == ["discount", "eventcatalog"]
    text = reason(page, "algorithm")
    assert text.startswith(
        "RS256: the token's APIs ask for different algorithms (discount: ES256, eventcatalog: RS256)"
    )
    assert "DEFAULT_SIGNING_ALGORITHM" in text
    assert "the shortest access-token lifetime of the token's APIs" in reason(page, "lifetime")


def test_a_client_credentials_lifetime_is_the_apis(admin_client, apis, make_client):
    apis["eventcatalog"].access_token_lifetime = 900
    apis["eventcatalog"].save()
    reader = make_client("reader", scopes=["eventcatalog.read"])
    page = preview(admin_client, reader.client, user="")
    assert (
        reason(page, "lifetime")
        == "900 seconds (15 min): the access-token lifetime set on the API eventcatalog: 900 s."
    )


def test_identity_scopes_left_out_of_the_scope_claim_are_named(admin_client, web, alice):
    picked = ApiScope.objects.filter(name__in=["openid", "profile", "eventcatalog.read"])
    query = "&".join(f"scopes={scope.pk}" for scope in picked)
    page = admin_client.get(
        f"/admin/oauth/application/{web.client.pk}/preview/?user={alice.username}&{query}"
    ).content.decode()
    assert claims_in(page)["scope"] == "eventcatalog.read"
    assert "Not in the token's scope claim: openid profile. Identity scopes are the IdP's" in reason(page, "scopes")


def test_scopes_of_a_disabled_api_left_out_are_named(admin_client, apis, make_client):
    service = make_client("two-apis", scopes=["discount.fullaccess", "eventcatalog.read", "eventcatalog.write"])
    apis["eventcatalog"].enabled = False
    apis["eventcatalog"].save()
    page = preview(admin_client, service.client, user="")
    assert reason(page, "scopes").startswith("Left out: eventcatalog.read eventcatalog.write. No scope was chosen")


def test_times_are_shown_as_dates_beside_the_numbers(exchange_page):
    claims = claims_in(exchange_page)
    for name in ("iat", "exp"):
        date = datetime.fromtimestamp(claims[name], tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
        assert re.search(rf"<td>{claims[name]}</td><td class=\"time-{name}\">{date} UTC</td>", exchange_page)


def test_a_refusal_gives_no_reasons(admin_client, web):
    page = preview(admin_client, web.client, user="")
    assert "unauthorized_client" in page and "preview-reasons" not in page
