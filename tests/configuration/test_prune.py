"""Nothing is deleted unless --prune asks for it; then what the file does not name goes."""

import pytest
from django.contrib.auth.models import Group

from apps.configuration.services import ConfigurationError, import_configuration
from apps.oauth.models import Application, ExchangePolicy
from apps.resources.models import ApiResource, ApiScope
from tests.configuration.conftest import configuration_rows, entry


def without_discount_and_basket(document):
    """The demo without the discount API, the basket client, the basket's policies and the
    trusted issuer that maps to it."""
    document["apis"].remove(entry(document, "apis", "audience", "discount"))
    document["clients"].remove(entry(document, "clients", "client_id", "shoppingbasket"))
    document["trusted_issuers"] = []
    document["exchange_policies"] = []
    document["transaction_token_policies"] = []
    document["groups"] = []
    return document


def test_without_prune_nothing_absent_from_the_file_is_deleted(demo, edited):
    report = import_configuration(without_discount_and_basket(edited()))
    assert not report.changed
    assert ApiResource.objects.filter(audience="discount").exists()
    assert Application.objects.filter(client_id="shoppingbasket").exists()
    assert ExchangePolicy.objects.exists()


def test_prune_deletes_what_the_file_does_not_name(demo, edited):
    report = import_configuration(without_discount_and_basket(edited()), prune=True)

    assert {kind: changes.deleted for kind, changes in report.changes.items()} == {
        "apis": ["discount"],
        "scopes": ["discount.fullaccess"],
        "clients": ["shoppingbasket"],
        "trusted_issuers": ["kubernetes"],
        "exchange_policies": ["shoppingbasket -> discount"],
        "transaction_token_policies": ["shoppingbasket"],
        "groups": [],  # never pruned: they hold people's permissions
    }
    assert not ApiResource.objects.filter(audience="discount").exists()
    assert not ApiScope.objects.filter(name="discount.fullaccess").exists()
    assert not Application.objects.filter(client_id="shoppingbasket").exists()
    assert not ExchangePolicy.objects.exists()
    assert Group.objects.count() == 3
    assert report.changes["clients"].unchanged == ["eventcatalog-admin", "globoticket-web"]


def test_a_dry_run_of_prune_reports_and_deletes_nothing(demo, edited):
    before = configuration_rows()
    report = import_configuration(without_discount_and_basket(edited()), prune=True, dry_run=True)
    assert report.changes["apis"].deleted == ["discount"]
    assert configuration_rows() == before


def test_with_prune_a_reference_to_what_the_file_leaves_out_is_an_error(demo, edited):
    """The file must stand on its own: the API it leaves out is about to be deleted."""
    document = edited()
    document["apis"].remove(entry(document, "apis", "audience", "discount"))
    before = configuration_rows()
    with pytest.raises(ConfigurationError) as raised:
        import_configuration(document, prune=True)
    assert raised.value.messages == [
        "client 'shoppingbasket': unknown scope(s): discount.fullaccess (not in the file, so --prune would delete it).",
        "exchange policy 'shoppingbasket -> discount': unknown API: discount "
        "(not in the file, so --prune would delete it).",
        "exchange policy 'shoppingbasket -> discount': unknown scope(s): discount.fullaccess "
        "(not in the file, so --prune would delete it).",
    ]
    assert configuration_rows() == before
    # Without prune the same file is fine: the API stays, and so do the references.
    assert not import_configuration(document).changed


def test_prune_never_deletes_the_management_apis_own_api(demo, edited):
    # A file written by hand may leave it out; no migration would bring it back.
    document = edited()
    document["apis"] = [api for api in document["apis"] if api["audience"] != "idp-admin"]
    document["identity_scopes"] = [s for s in document["identity_scopes"] if not s["name"].startswith("idp.admin")]
    assert ApiResource.objects.filter(audience="idp-admin").exists()
    report = import_configuration(document, prune=True)
    assert "idp-admin" not in report.changes["apis"].deleted
    assert ApiResource.objects.filter(audience="idp-admin").exists()
    assert set(ApiScope.objects.filter(resource__audience="idp-admin").values_list("name", flat=True)) == {
        "idp.admin.read",
        "idp.admin.write",
    }
