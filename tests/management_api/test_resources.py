"""API resources: CRUD by audience, validated like the admin."""

import pytest

from apps.resources.models import ApiResource, ApiScope

pytestmark = pytest.mark.django_db

NEW = {"audience": "reporting", "resource_uri": "urn:test:reporting", "name": "Reporting"}


def test_crud_round_trip(api):
    created = api("post", "resources/", {**NEW, "user_claims": ["email"]})
    assert created.status_code == 201
    assert created.json() == {
        **NEW,
        "enabled": True,
        "access_token_lifetime": 600,
        "signing_algorithm": "RS256",
        "user_claims": ["email"],
        "store_tokens": True,
        "require_second_factor": False,
        "require_dpop": False,
        "scopes": [],
    }
    assert api("get", "resources/reporting/").json()["name"] == "Reporting"
    assert "reporting" in [r["audience"] for r in api("get", "resources/").json()["results"]]

    changed = api("patch", "resources/reporting/", {"access_token_lifetime": 120, "signing_algorithm": "ES256"})
    assert changed.status_code == 200
    assert ApiResource.objects.get(audience="reporting").access_token_lifetime == 120

    stricter = api("patch", "resources/reporting/", {"require_second_factor": True})
    assert (stricter.status_code, stricter.json()["require_second_factor"]) == (200, True)
    assert ApiResource.objects.get(audience="reporting").require_second_factor is True

    bound = api("patch", "resources/reporting/", {"require_dpop": True})
    assert (bound.status_code, bound.json()["require_dpop"]) == (200, True)
    assert ApiResource.objects.get(audience="reporting").require_dpop is True

    assert api("delete", "resources/reporting/").status_code == 204
    assert api("get", "resources/reporting/").status_code == 404
    assert not ApiResource.objects.filter(audience="reporting").exists()


def test_lists_its_scopes_and_looks_up_dotted_audiences(api, make_resource):
    make_resource("globo.discount", ["discount.fullaccess"])
    response = api("get", "resources/globo.discount/")
    assert response.status_code == 200
    assert response.json()["scopes"] == ["discount.fullaccess"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**NEW, "audience": "has space"}, "audience"),
        ({**NEW, "resource_uri": "not a uri"}, "resource_uri"),
        ({**NEW, "access_token_lifetime": 0}, "access_token_lifetime"),
        ({**NEW, "access_token_lifetime": 86401}, "access_token_lifetime"),  # beyond one day
        ({**NEW, "access_token_lifetime": 10**12}, "access_token_lifetime"),
        ({**NEW, "signing_algorithm": "HS256"}, "signing_algorithm"),
        ({**NEW, "user_claims": ["password"]}, "user_claims"),
        ({**NEW, "audience": "idp-admin"}, "audience"),  # exists (data migration)
    ],
)
def test_invalid_input_is_400_on_the_field(api, body, field):
    response = api("post", "resources/", body)
    assert response.status_code == 400
    assert list(response.json()) == [field]


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("patch", "resources/idp-admin/", {"store_tokens": False}),
        ("delete", "resources/idp-admin/", None),
        ("delete", "scopes/idp.admin.read/", None),
        ("patch", "scopes/idp.admin.write/", {"description": "changed"}),
        ("post", "scopes/", {"name": "idp.admin.everything", "resource": "idp-admin"}),
    ],
)
def test_the_api_cannot_change_its_own_resource_or_scopes(api, method, path, body):
    """One such call could lock every automation client out: that is the admin's to do."""
    response = api(method, path, body)
    assert response.status_code == 403
    assert "changed in the admin" in response.json()["detail"]
    assert ApiResource.objects.get(audience="idp-admin").store_tokens is True
    assert ApiScope.objects.filter(resource__audience="idp-admin").count() == 2


@pytest.mark.parametrize("method", ["patch", "put"])
@pytest.mark.parametrize("from_resource", ["reporting", None])
def test_a_scope_cannot_be_moved_into_the_apis_own_resource(api, make_resource, method, from_resource):
    """A scope moved into idp-admin would be a management scope no operator granted."""
    if from_resource is None:
        ApiScope.objects.create(name="reporting.read", description="identity-like")
    else:
        make_resource(from_resource, ["reporting.read"])
    response = api(method, "scopes/reporting.read/", {"name": "reporting.read", "resource": "idp-admin"})
    assert response.status_code == 403
    assert response.json() == {"detail": "The idp-admin API is changed in the admin, not through itself."}
    assert ApiScope.objects.get(name="reporting.read").resource_id == (
        None if from_resource is None else ApiResource.objects.get(audience=from_resource).pk
    )
    assert ApiScope.objects.filter(resource__audience="idp-admin").count() == 2


def test_lifetime_is_bounded_on_update_too(api, make_resource):
    make_resource("reporting")
    assert api("patch", "resources/reporting/", {"access_token_lifetime": 86400}).status_code == 200
    response = api("patch", "resources/reporting/", {"access_token_lifetime": 10**12})
    assert response.status_code == 400
    assert list(response.json()) == ["access_token_lifetime"]
    assert ApiResource.objects.get(audience="reporting").access_token_lifetime == 86400
