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
