"""Exchange policies: CRUD; scopes must belong to the target API, one policy per target."""

import pytest

from apps.oauth.models import ExchangePolicy

pytestmark = pytest.mark.django_db


@pytest.fixture
def basket(apis, make_client):
    return make_client(
        "shoppingbasket",
        grants=["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
        scopes=["discount.fullaccess"],
        resource="shoppingbasket",
    )


def test_crud_round_trip(api, basket):
    body = {"client": basket.client.client_id, "target": "discount", "scopes": ["discount.fullaccess"]}
    created = api("post", "exchange-policies/", body)
    assert created.status_code == 201
    policy = created.json()
    assert {k: policy[k] for k in ("client", "target", "scopes", "subject_audiences", "mode", "max_depth")} == {
        **body,
        "subject_audiences": [],
        "mode": "delegation",
        "max_depth": 1,
    }
    assert policy["summary"].startswith("shoppingbasket may exchange tokens for shoppingbasket into discount")

    changed = api(
        "patch",
        f"exchange-policies/{policy['id']}/",
        {"subject_audiences": ["shoppingbasket", "eventcatalog"], "mode": "impersonation", "max_lifetime": 60},
    )
    assert changed.status_code == 200
    assert changed.json()["subject_audiences"] == ["eventcatalog", "shoppingbasket"]
    assert ExchangePolicy.objects.get(pk=policy["id"]).mode == "impersonation"
    assert [p["id"] for p in api("get", "exchange-policies/").json()["results"]] == [policy["id"]]

    assert api("delete", f"exchange-policies/{policy['id']}/").status_code == 204
    assert api("get", f"exchange-policies/{policy['id']}/").status_code == 404


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"scopes": ["eventcatalog.read"]}, "scopes"),  # not a scope of the target
        ({"scopes": []}, "scopes"),
        ({"target": "nowhere"}, "target"),
        ({"client": "nobody"}, "client"),
        ({"max_depth": 0}, "max_depth"),
        ({"max_lifetime": 86401}, "max_lifetime"),  # beyond one day
        ({"max_lifetime": 10**12}, "max_lifetime"),
        ({"mode": "both"}, "mode"),
    ],
)
def test_invalid_policy_is_400_on_the_field(api, basket, changes, field):
    body = {"client": basket.client.client_id, "target": "discount", "scopes": ["discount.fullaccess"], **changes}
    response = api("post", "exchange-policies/", body)
    assert response.status_code == 400
    assert list(response.json()) == [field]


def test_one_policy_per_client_and_target(api, basket):
    body = {"client": basket.client.client_id, "target": "discount", "scopes": ["discount.fullaccess"]}
    assert api("post", "exchange-policies/", body).status_code == 201
    response = api("post", "exchange-policies/", body)
    assert response.status_code == 400
    assert list(response.json()) == ["non_field_errors"]
