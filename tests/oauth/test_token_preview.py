"""The admin's token preview: the decoded token a client would get, or the refusal; nothing issued."""

import json
import re

from apps.oauth.models import AccessToken


def preview(admin_client, client, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return admin_client.get(f"/admin/oauth/application/{client.pk}/preview/?{query}").content.decode()


def claims_in(page: str) -> dict:
    match = re.search(r'<pre id="preview-claims">(.*?)</pre>', page, re.S)
    assert match, "claims are shown"
    return json.loads(match.group(1).replace("&quot;", '"'))


def test_client_credentials_preview(admin_client, basket, basket_policy):
    page = preview(admin_client, basket.client, user="")
    claims = claims_in(page)
    assert claims["aud"] == ["discount"]
    assert claims["sub"] == basket.client.client_id
    assert not AccessToken.objects.exists()


def test_user_preview_for_a_browser_client(admin_client, web, alice):
    from apps.resources.models import ApiScope

    scope = ApiScope.objects.get(name="shoppingbasket.fullaccess")
    claims = claims_in(preview(admin_client, web.client, user=alice.username, scopes=scope.pk))
    assert (claims["aud"], claims["sub"], claims["scope"]) == (["shoppingbasket"], str(alice.pk), scope.name)


def test_exchange_preview_shows_act(admin_client, basket, basket_policy, alice, apis):
    claims = claims_in(preview(admin_client, basket.client, user=alice.username, exchange_target=apis["discount"].pk))
    assert claims["aud"] == ["discount"]
    assert claims["act"] == {"sub": basket.client.client_id}
    assert claims["exp"] - claims["iat"] <= 300
    assert not AccessToken.objects.exists()


def test_exchange_preview_explains_a_refusal(admin_client, basket, basket_policy, alice, apis):
    page = preview(admin_client, basket.client, user=alice.username, exchange_target=apis["eventcatalog"].pk)
    assert "invalid_target: No exchange policy lets this client reach eventcatalog." in page


def test_client_page_links_to_the_preview(admin_client, basket):
    page = admin_client.get(f"/admin/oauth/application/{basket.client.pk}/change/").content.decode()
    assert f"/admin/oauth/application/{basket.client.pk}/preview/" in page


def test_client_credentials_preview_refuses_as_the_grant_does(admin_client, web, apis):
    """The preview runs the grant's own planning: a browser client without the grant is
    refused, as /o/token/ would refuse it."""
    page = preview(admin_client, web.client, user="")
    assert "unauthorized_client" in page
    assert 'id="preview-claims"' not in page


def test_client_credentials_preview_leaves_out_scopes_of_disabled_apis(admin_client, basket, apis, make_client):
    service = make_client("two-apis", scopes=["discount.fullaccess", "eventcatalog.read"])
    apis["eventcatalog"].enabled = False
    apis["eventcatalog"].save()
    assert claims_in(preview(admin_client, service.client, user=""))["aud"] == ["discount"]
