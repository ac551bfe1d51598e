"""New clients get readable ids made from their names (apps/clients/services.py): they are
what tokens' act.sub and the audit trail name. Chosen at creation, fixed afterwards."""

import pytest
from django.core.exceptions import ValidationError

from apps.clients.services import client_id_slug, readable_client_id, save_client
from apps.oauth.models import Application


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Shopping basket", "shopping-basket"),
        ("  Event   Catalog (admin) ", "event-catalog-admin"),
        ("payments_v2", "payments-v2"),
        ("Crème brûlée API", "creme-brulee-api"),
        ("--odd--name--", "odd-name"),
        ("購物籃", ""),
        ("", ""),
        ("x" * 200, "x" * 60),
        # A client's own tokens carry its id as sub, a user's the user's database id: an id
        # of digits alone could be someone's.
        ("1", "client-1"),
        ("2024", "client-2024"),
        ("1-2", "client-1-2"),
    ],
)
def test_the_slug_is_lowercase_ascii_digits_and_hyphens(name, slug):
    assert client_id_slug(name) == slug


def test_a_taken_id_gets_a_numeric_suffix(db):
    assert [save_client(name="Shopping basket", grant_types=[], scopes=[]).client.client_id for _ in range(3)] == [
        "shopping-basket",
        "shopping-basket-2",
        "shopping-basket-3",
    ]


def test_an_id_that_only_starts_like_the_slug_is_no_clash(db):
    save_client(name="x", grant_types=[], scopes=[], client_id="shopping-basket-api")
    assert readable_client_id("Shopping basket") == "shopping-basket"


def test_a_name_without_ascii_gets_the_random_id(db):
    client_id = save_client(name="購物籃", grant_types=[], scopes=[]).client.client_id
    assert len(client_id) == 40 and client_id.isalnum()


def test_save_client_with_an_id_still_reconfigures_that_client(db, apis):
    """seed_demo's fixed ids: running it again changes the client, never adds one."""
    first = save_client(name="shoppingbasket", client_id="shoppingbasket", grant_types=[], scopes=[])
    again = save_client(name="shoppingbasket", client_id="shoppingbasket", grant_types=[], scopes=["openid"])
    assert again.client.pk == first.client.pk
    assert Application.objects.get().client_id == "shoppingbasket"


@pytest.mark.parametrize("client_id", ["taken", "with space", "colon:id", "-leading", "x" * 101, "1", "2024", "1.2-3"])
def test_a_new_client_id_must_be_free_and_well_formed(db, client_id):
    save_client(name="taken", client_id="taken", grant_types=[], scopes=[])
    with pytest.raises(ValidationError):
        save_client(name="new", client_id=client_id, grant_types=[], scopes=[], new=True)
    assert Application.objects.count() == 1


# --- the admin: chosen on the add form, read-only afterwards ------------------------------------------


def add_form(**overrides) -> dict:
    data = {
        "name": "Shopping basket",
        "client_id": "",
        "client_type": "confidential",
        "is_active": "on",
        "allowed_grant_types": [],
        "allowed_scopes": [],
        "resource": "",
        "redirect_uris": "",
        "post_logout_redirect_uris": "",
    }
    data.update(overrides)
    return data


def test_the_add_form_makes_the_id_from_the_name(admin_client, db):
    page = admin_client.get("/admin/oauth/application/add/").content.decode()
    assert 'name="client_id"' in page
    admin_client.post("/admin/oauth/application/add/", add_form())
    admin_client.post("/admin/oauth/application/add/", add_form())
    assert sorted(Application.objects.values_list("client_id", flat=True)) == ["shopping-basket", "shopping-basket-2"]


def test_the_add_form_takes_a_chosen_id(admin_client, db):
    response = admin_client.post("/admin/oauth/application/add/", add_form(client_id="basket.service"))
    assert response.status_code == 200
    assert Application.objects.get().client_id == "basket.service"


@pytest.mark.parametrize(
    ("client_id", "message"),
    [("taken-id", "A client with the id taken-id exists."), ("bad id", "Use letters, digits")],
)
def test_a_taken_or_malformed_chosen_id_is_a_form_error(admin_client, db, client_id, message):
    save_client(name="other", client_id="taken-id", grant_types=[], scopes=[])
    response = admin_client.post("/admin/oauth/application/add/", add_form(client_id=client_id))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert Application.objects.count() == 1


def test_the_id_is_read_only_once_the_client_exists(admin_client, db):
    client = save_client(name="Shopping basket", grant_types=[], scopes=[]).client
    url = f"/admin/oauth/application/{client.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'name="client_id"' not in page
    assert "shopping-basket" in page
    response = admin_client.post(url, add_form(client_id="renamed", name="Renamed"))
    assert response.status_code == 302
    client.refresh_from_db()
    assert (client.name, client.client_id) == ("Renamed", "shopping-basket")
