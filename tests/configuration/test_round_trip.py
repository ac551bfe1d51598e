"""export_config of the demo, imported into an empty database, gives the same configuration;
importing it again changes nothing."""

import json
from io import StringIO

import jwt
import pytest
import yaml
from django.contrib.auth.models import Group
from django.core.management import call_command

from apps.configuration.services import export_configuration, import_configuration
from apps.oauth.models import Application, ExchangePolicy
from apps.resources.models import ApiResource, ApiScope
from tests.configuration.conftest import configuration_rows, entry, export_text, wipe_configuration
from tests.support.http import basic_auth, form_post


def test_the_demo_exported_and_imported_into_an_empty_database_is_the_same_configuration(demo):
    exported = export_text()
    wipe_configuration()
    assert not ApiResource.objects.exists() and not Group.objects.exists()

    report = import_configuration(json.loads(exported))

    assert export_text() == exported
    assert report.counts() == {
        "apis": {"created": 4, "updated": 0, "unchanged": 0, "deleted": 0},  # the demo's three and idp-admin
        "scopes": {"created": 9, "updated": 0, "unchanged": 0, "deleted": 0},
        "clients": {"created": 3, "updated": 0, "unchanged": 0, "deleted": 0},
        "trusted_issuers": {"created": 1, "updated": 0, "unchanged": 0, "deleted": 0},
        "exchange_policies": {"created": 1, "updated": 0, "unchanged": 0, "deleted": 0},
        "transaction_token_policies": {"created": 1, "updated": 0, "unchanged": 0, "deleted": 0},
        "groups": {"created": 3, "updated": 0, "unchanged": 0, "deleted": 0},
    }
    policy = ExchangePolicy.objects.get()
    assert (policy.client.client_id, policy.target.audience) == ("shoppingbasket", "discount")
    assert list(policy.trusted_issuers.values_list("name", flat=True)) == ["kubernetes"]
    assert Group.objects.get(name="Auditor").permissions.filter(codename="view_application").exists()


def test_the_demo_imported_into_a_freshly_migrated_database(db):
    """A new installation already holds what migrations create: those are unchanged."""
    fresh = export_text()
    call_command("seed_demo", stdout=StringIO())
    exported = export_text()
    assert exported != fresh
    wipe_configuration()
    # Back to what the migrations made, then the demo's file on top.
    import_configuration(json.loads(fresh))
    report = import_configuration(json.loads(exported))
    assert export_text() == exported
    assert report.changes["apis"].unchanged == ["idp-admin"]
    assert report.changes["apis"].created == ["discount", "eventcatalog", "shoppingbasket"]
    assert report.changes["groups"].unchanged == ["Auditor", "Client manager", "Security admin"]


def test_importing_the_same_file_twice_changes_nothing_the_second_time(demo):
    import_configuration(demo)  # the seeded rows already match: nothing to do
    before = configuration_rows()

    report = import_configuration(demo)

    assert configuration_rows() == before  # not a row, not a link, not the configuration generation
    assert not report.changed
    assert report.client_secrets == {}
    for changes in report.changes.values():
        assert changes.created == changes.updated == changes.deleted == []
    assert report.changes["clients"].unchanged == ["eventcatalog-admin", "globoticket-web", "shoppingbasket"]


def test_an_import_into_an_empty_database_then_again_changes_nothing(demo):
    wipe_configuration()
    import_configuration(demo)
    before = configuration_rows()
    assert not import_configuration(demo).changed
    assert configuration_rows() == before


def test_two_exports_are_byte_identical_in_either_format(demo):
    assert export_text() == export_text()
    assert export_text("--format", "yaml") == export_text("--format", "yaml")
    assert yaml.safe_load(export_text("--format", "yaml")) == json.loads(export_text()) == demo


def test_the_document_is_sorted_by_natural_key(demo, make_client):
    make_client("a-late-client", scopes=["eventcatalog.read"])
    document = export_configuration()
    assert [api["audience"] for api in document["apis"]] == sorted(api["audience"] for api in document["apis"])
    assert [c["client_id"] for c in document["clients"]] == sorted(c["client_id"] for c in document["clients"])
    assert [g["name"] for g in document["groups"]] == ["Auditor", "Client manager", "Security admin"]
    web = entry(document, "clients", "client_id", "globoticket-web")
    assert web["scopes"] == ["email", "eventcatalog.read", "openid", "profile", "shoppingbasket.fullaccess"]
    auditor = entry(document, "groups", "name", "Auditor")["permissions"]
    assert auditor == sorted(auditor) and "oauth.view_application" in auditor


def test_a_yaml_file_round_trips_as_a_json_file_does(demo, tmp_path):
    path = tmp_path / "idp.yaml"
    call_command("export_config", "--output", str(path))
    assert path.read_text().startswith("version: 1\napis:\n")  # YAML, by the extension
    exported_json = export_text()
    wipe_configuration()
    call_command("import_config", str(path), stdout=StringIO())
    assert export_text() == exported_json


def test_new_confidential_clients_get_a_secret_that_works(demo, client):
    for entry_ in demo["clients"]:
        entry_["jwks"] = None  # a client registering keys gets none (test_client_keys.py)
    wipe_configuration()
    report = import_configuration(demo)
    assert set(report.client_secrets) == {"eventcatalog-admin", "globoticket-web", "shoppingbasket"}
    response = form_post(
        client,
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "discount.fullaccess"},
        HTTP_AUTHORIZATION=basic_auth("shoppingbasket", report.client_secrets["shoppingbasket"]),
    )
    assert response.status_code == 200, response.content
    assert jwt.decode(response.json()["access_token"], options={"verify_signature": False})["aud"] == ["discount"]


def test_public_clients_get_no_secret(demo):
    document = {**demo, "clients": [*demo["clients"], {
        "client_id": "spa", "name": "Single-page app", "client_type": "public",
        "grant_types": ["authorization_code"], "scopes": ["openid"], "redirect_uris": ["https://spa.test/cb"],
    }]}  # fmt: skip
    report = import_configuration(document)
    assert report.changes["clients"].created == ["spa"]
    assert report.client_secrets == {}
    assert Application.objects.get(client_id="spa").client_type == "public"


def test_an_updated_client_keeps_its_secret(demo, client, edited):
    out = StringIO()
    call_command("seed_demo", "--json", stdout=out)  # fresh secrets, for this test to hold
    secret = json.loads(out.getvalue())["clients"]["eventcatalog-admin"]["client_secret"]
    document = export_configuration()  # as seeded again: its services have new keys
    admin = entry(document, "clients", "client_id", "eventcatalog-admin")
    admin["scopes"] = ["eventcatalog.read"]
    admin["name"] = "Event catalog administration"

    report = import_configuration(document)

    assert report.changes["clients"].updated == ["eventcatalog-admin"]
    assert report.client_secrets == {}
    stored = Application.objects.get(client_id="eventcatalog-admin")
    assert stored.name == "Event catalog administration"
    assert list(stored.allowed_scopes.values_list("name", flat=True)) == ["eventcatalog.read"]
    response = form_post(
        client,
        "/o/token/",
        {"grant_type": "client_credentials", "scope": "eventcatalog.read"},
        HTTP_AUTHORIZATION=basic_auth("eventcatalog-admin", secret),
    )
    assert response.status_code == 200, response.content


def test_each_change_is_reported_by_kind(demo, edited):
    document = edited()
    entry(document, "apis", "audience", "discount")["access_token_lifetime"] = 120
    entry(document, "identity_scopes", "name", "email")["description"] = "Your e-mail address"
    entry(document, "exchange_policies", "client", "shoppingbasket")["max_lifetime"] = 60
    entry(document, "groups", "name", "Auditor")["permissions"].remove("oauth.view_application")

    report = import_configuration(document)

    assert {kind: changes.updated for kind, changes in report.changes.items()} == {
        "apis": ["discount"],
        "scopes": ["email"],
        "clients": [],
        "trusted_issuers": [],
        "exchange_policies": ["shoppingbasket -> discount"],
        "transaction_token_policies": [],
        "groups": ["Auditor"],
    }
    assert ApiResource.objects.get(audience="discount").access_token_lifetime == 120
    assert ApiScope.objects.get(name="email").description == "Your e-mail address"
    assert ExchangePolicy.objects.get().max_lifetime == 60
    assert not Group.objects.get(name="Auditor").permissions.filter(codename="view_application").exists()
    assert export_configuration() == document


def test_a_field_left_out_takes_the_models_default(demo, edited):
    document = edited()
    api = entry(document, "apis", "audience", "shoppingbasket")
    del api["user_claims"], api["access_token_lifetime"]
    import_configuration(document)
    resource = ApiResource.objects.get(audience="shoppingbasket")
    assert resource.user_claims == []
    assert resource.access_token_lifetime == 600


def test_blank_text_round_trips(demo, make_client):
    """What the admin allows blank (a client's name, a scope's description) exports as "" and
    imports back as it was."""
    make_client("", scopes=["eventcatalog.read"], client_id="nameless")
    ApiScope.objects.filter(name="openid").update(description="")
    exported = export_text()
    assert entry(json.loads(exported), "clients", "client_id", "nameless")["name"] == ""
    wipe_configuration()
    import_configuration(json.loads(exported))
    assert export_text() == exported


def test_a_scope_moves_to_another_api(demo, edited):
    document = edited()
    catalog = entry(document, "apis", "audience", "eventcatalog")
    write = next(scope for scope in catalog["scopes"] if scope["name"] == "eventcatalog.write")
    catalog["scopes"].remove(write)
    entry(document, "apis", "audience", "discount")["scopes"].append(write)
    report = import_configuration(document)
    assert report.changes["scopes"].updated == ["eventcatalog.write"]
    assert ApiScope.objects.get(name="eventcatalog.write").resource.audience == "discount"


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_secrets_are_never_exported(demo, fmt):
    text = export_text("--format", fmt)
    for stored in Application.objects.all():
        assert stored.client_secret and stored.client_secret not in text
        assert stored.secret_hint and stored.secret_hint not in text
    assert "secret" not in text
    assert "secret" not in {key for client in demo["clients"] for key in client}


def test_every_operator_set_field_is_exported(demo):
    """A new field an operator sets in the admin fails this test until the document has it."""
    from apps.console.admin import ApplicationForm, ExchangePolicyForm, IssuerMappingForm, TrustedIssuerForm

    file_names = {"is_active": "enabled", "allowed_grant_types": "grant_types", "allowed_scopes": "scopes"}
    client_keys = set(demo["clients"][0])
    assert {file_names.get(name, name) for name in ApplicationForm.Meta.fields} <= client_keys
    assert set(ExchangePolicyForm.Meta.fields) <= set(demo["exchange_policies"][0])
    assert {*TrustedIssuerForm.Meta.fields, "mappings"} == set(demo["trusted_issuers"][0])
    assert {*IssuerMappingForm.Meta.fields, "user"} == set(demo["trusted_issuers"][0]["mappings"][0])
    api_fields = {f.name for f in ApiResource._meta.concrete_fields} - {"id"}
    assert api_fields | {"scopes"} == set(demo["apis"][0])
    assert {f.name for f in ApiScope._meta.concrete_fields} - {"id", "resource"} == set(demo["identity_scopes"][0])
