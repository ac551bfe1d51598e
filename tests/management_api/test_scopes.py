"""Scopes: CRUD by name, attached to an API by its audience (or none: identity scope)."""

import pytest

from apps.resources.models import ApiScope

pytestmark = pytest.mark.django_db


def test_crud_round_trip(api, make_resource):
    make_resource("reporting")
    created = api("post", "scopes/", {"name": "reporting.read", "resource": "reporting", "description": "Read"})
    assert created.status_code == 201
    assert created.json() == {"name": "reporting.read", "resource": "reporting", "description": "Read"}
    assert api("get", "scopes/reporting.read/").json()["resource"] == "reporting"

    changed = api("put", "scopes/reporting.read/", {"name": "reporting.view", "resource": "reporting"})
    assert changed.status_code == 200
    assert changed.json() == {"name": "reporting.view", "resource": "reporting", "description": "Read"}
    assert api("get", "scopes/reporting.read/").status_code == 404

    assert api("delete", "scopes/reporting.view/").status_code == 204
    assert not ApiScope.objects.filter(name__startswith="reporting.").exists()


def test_identity_scope_and_names_with_slashes(api):
    created = api("post", "scopes/", {"name": "https://api.test/read"})
    assert created.status_code == 201
    assert created.json()["resource"] is None
    assert api("get", "scopes/https://api.test/read/").json()["name"] == "https://api.test/read"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "bad scope"}, "name"),
        ({"name": 'quote"'}, "name"),
        ({"name": "x.read", "resource": "nowhere"}, "resource"),
        ({"name": "idp.admin.read"}, "name"),  # exists
    ],
)
def test_invalid_input_is_400_on_the_field(api, body, field):
    response = api("post", "scopes/", body)
    assert response.status_code == 400
    assert list(response.json()) == [field]
