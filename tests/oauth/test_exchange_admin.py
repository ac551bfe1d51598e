"""Operators revoke tokens and read exchange policies in the admin."""

import jwt

from apps.oauth.models import AccessToken


def test_admin_revoke_action_cascades_to_exchanged_tokens(admin_client, basket, basket_policy, alice_token, exchange):
    exchanged = exchange(basket, alice_token).json()["access_token"]
    parent = AccessToken.objects.get(jti=jwt.decode(alice_token, options={"verify_signature": False})["jti"])

    response = admin_client.post(
        "/admin/oauth/accesstoken/",
        {"action": "revoke_tokens", "_selected_action": [parent.pk]},
    )

    assert response.status_code == 302
    assert not AccessToken.objects.exists()
    assert exchanged  # the child row went with its parent


def test_policy_reads_as_one_sentence(admin_client, basket, basket_policy):
    assert basket_policy.summary() == (
        "basket may exchange tokens for shoppingbasket into discount [discount.fullaccess], delegation, depth 1, 5 min"
    )
    page = admin_client.get("/admin/oauth/exchangepolicy/")
    assert page.status_code == 200
    assert "basket may exchange tokens for shoppingbasket into discount" in page.content.decode()


def test_admin_refuses_policy_scopes_of_another_api(admin_client, basket, apis):
    from apps.resources.models import ApiScope

    response = admin_client.post(
        "/admin/oauth/exchangepolicy/add/",
        {
            "client": basket.client.pk,
            "target": apis["discount"].pk,
            "scopes": [ApiScope.objects.get(name="eventcatalog.write").pk],
            "mode": "delegation",
            "max_depth": 1,
            "max_lifetime": 300,
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    assert "Not scopes of discount: eventcatalog.write" in response.content.decode()


def test_token_page_shows_the_lineage_of_who_acted_for_whom(
    admin_client, basket, basket_policy, alice, alice_token, exchange, make_client, make_policy
):
    service = make_client(
        "discount-svc", grants=["urn:ietf:params:oauth:grant-type:token-exchange"], scopes=[], resource="discount"
    )
    make_policy(service.client, "eventcatalog", scopes=["eventcatalog.read"], max_depth=2)
    first = exchange(basket, alice_token).json()["access_token"]
    second = exchange(service, first).json()["access_token"]
    jti = jwt.decode(second, options={"verify_signature": False})["jti"]
    leaf = AccessToken.objects.get(jti=jti)

    page = admin_client.get(f"/admin/oauth/accesstoken/{leaf.pk}/change/").content.decode()
    root = AccessToken.objects.get(parent=None)
    middle = AccessToken.objects.get(parent=root)
    # Root, then the basket acting for alice, then the discount service acting (inside the basket).
    assert (
        page.index(f"#{root.pk}</a> web")
        < page.index(f"#{middle.pk}</a> basket")
        < page.index(f"#{leaf.pk}</a> discount-svc")
    )
    assert f"acting: {basket.client.client_id}" in page
    assert f"acting: {service.client.client_id}" in page


def test_tokens_filter_by_audience_and_activity(admin_client, basket, basket_policy, alice_token, exchange):
    exchange(basket, alice_token)

    def count(query: str) -> int:
        return admin_client.get(f"/admin/oauth/accesstoken/?{query}").context["cl"].result_count

    assert (count("audience=discount"), count("audience=shoppingbasket")) == (1, 1)
    assert (count("active=yes"), count("active=no")) == (2, 0)
