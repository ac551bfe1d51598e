"""An id beyond the database's integer range posted in a multiple-choice field (scopes, subject
audiences) is a form error, never a 500: Django's own check lets it reach the database, which
raises (SQLite OverflowError, PostgreSQL DataError)."""

import pytest

from apps.oauth.models import Application, ExchangePolicy
from tests.console.test_register_service import service_form

OVERSIZED = "99999999999999999999999"


def errors(response, field: str) -> list[str]:
    form = response.context["adminform"].form if "adminform" in response.context else response.context["form"]
    return form.errors.get(field, [])


def test_the_client_add_and_change_forms(admin_client, web):
    field = "allowed_scopes"
    data = {"name": "web", "client_type": "public", field: [OVERSIZED]}
    for url in ("/admin/oauth/application/add/", f"/admin/oauth/application/{web.client.pk}/change/"):
        response = admin_client.post(url, data)
        assert response.status_code == 200
        assert errors(response, field) == [f"“{OVERSIZED}” is not a valid value."]
    assert Application.objects.count() == 1


@pytest.mark.parametrize("field", ["scopes", "subject_audiences"])
def test_the_exchange_policy_forms(admin_client, basket_policy, basket, apis, field):
    data = {
        "client": basket.client.pk,
        "target": apis["discount"].pk,
        "scopes": [apis["discount"].scopes.get().pk],
        "mode": "delegation",
        "max_depth": 1,
        "max_lifetime": 300,
        field: [OVERSIZED],
    }
    for url in ("/admin/oauth/exchangepolicy/add/", f"/admin/oauth/exchangepolicy/{basket_policy.pk}/change/"):
        response = admin_client.post(url, data)
        assert response.status_code == 200
        assert errors(response, field) == [f"“{OVERSIZED}” is not a valid value."]
    assert ExchangePolicy.objects.count() == 1


@pytest.mark.parametrize("field", ["client_credentials_scopes", "exchange_scopes"])
def test_the_register_service_page(admin_client, apis, field):
    response = admin_client.post("/admin/register-service/", service_form(**{field: [OVERSIZED]}))
    assert response.status_code == 200
    assert errors(response, field)[0] == f"“{OVERSIZED}” is not a valid value."
    assert not Application.objects.filter(client_id="payments").exists()


def test_the_token_preview_a_view_only_operator_reaches(operator_client, web):
    from tests.support.admin import permissions

    browser = operator_client(permissions("oauth.view_application"))
    response = browser.get(f"/admin/oauth/application/{web.client.pk}/preview/", {"scopes": OVERSIZED})
    assert response.status_code == 200
    assert response.context["form"].errors["scopes"] == [f"“{OVERSIZED}” is not a valid value."]
    assert response.context["result"] is None


def test_an_id_in_range_that_names_nothing_is_still_refused_as_before(admin_client, web):
    response = admin_client.post("/admin/oauth/application/add/", {"name": "x", "allowed_scopes": ["987654321"]})
    assert errors(response, "allowed_scopes") == [
        "Select a valid choice. 987654321 is not one of the available choices."
    ]
