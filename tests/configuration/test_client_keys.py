"""Issue 19's client and API settings in the configuration document: public keys
(private_key_jwt), the PAR and DPoP switches, an API requiring DPoP."""

import json

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from apps.configuration.services import ConfigurationError, export_configuration, import_configuration
from apps.oauth.models import Application
from apps.resource_server.client_assertion import ClientAssertionSigner
from apps.resources.models import ApiResource
from tests.configuration.conftest import entry, export_text, wipe_configuration


def public_jwks() -> dict:
    signer = ClientAssertionSigner(client_id="any", private_key=ec.generate_private_key(ec.SECP256R1()))
    return {"keys": [signer.public_jwk()]}


def test_keys_switches_and_require_dpop_round_trip(demo, edited):
    jwks = public_jwks()
    document = edited()
    admin = entry(document, "clients", "client_id", "eventcatalog-admin")
    admin["jwks"] = jwks
    admin["dpop_bound_access_tokens"] = True
    web = entry(document, "clients", "client_id", "globoticket-web")
    web["require_pushed_authorization_requests"] = True
    entry(document, "apis", "audience", "discount")["require_dpop"] = True

    report = import_configuration(document)

    assert report.changes["clients"].updated == ["eventcatalog-admin", "globoticket-web"]
    assert report.changes["apis"].updated == ["discount"]
    stored = Application.objects.get(client_id="eventcatalog-admin")
    assert (stored.jwks, stored.dpop_bound_access_tokens) == (jwks, True)
    assert Application.objects.get(client_id="globoticket-web").require_pushed_authorization_requests
    assert ApiResource.objects.get(audience="discount").require_dpop
    assert export_configuration() == document
    exported = export_text()
    wipe_configuration()
    import_configuration(json.loads(exported))
    assert export_text() == exported
    assert not import_configuration(json.loads(exported)).changed


def test_a_jwks_uri_round_trips(demo, edited):
    document = edited()
    admin = entry(document, "clients", "client_id", "eventcatalog-admin")
    admin["jwks"], admin["jwks_uri"] = None, "https://admin.test/jwks.json"  # one or the other
    import_configuration(document)
    stored = Application.objects.get(client_id="eventcatalog-admin")
    assert (stored.jwks, stored.jwks_uri) == (None, "https://admin.test/jwks.json")
    assert export_configuration() == document


def test_every_new_field_is_exported(demo):
    admin = entry(demo, "clients", "client_id", "eventcatalog-admin")
    assert admin["jwks"] == Application.objects.get(client_id="eventcatalog-admin").jwks  # seed_demo's key
    assert [key["kty"] for key in admin["jwks"]["keys"]] == ["EC"]
    assert admin["jwks_uri"] == ""
    assert admin["require_pushed_authorization_requests"] is False
    assert admin["dpop_bound_access_tokens"] is False
    assert entry(demo, "apis", "audience", "discount")["require_dpop"] is False


def test_an_older_file_without_the_new_fields_imports_with_the_models_defaults(demo, edited):
    document = edited()
    for client in document["clients"]:
        for name in ("jwks", "jwks_uri", "require_pushed_authorization_requests", "dpop_bound_access_tokens"):
            del client[name]
    for api in document["apis"]:
        del api["require_dpop"]
    wipe_configuration()
    import_configuration(document)
    exported = export_configuration()
    assert all(not client["dpop_bound_access_tokens"] and client["jwks_uri"] == "" for client in exported["clients"])


def test_a_new_client_with_keys_gets_no_secret(demo):
    document = {**demo, "clients": [*demo["clients"], {
        "client_id": "reporting", "name": "Reporting", "client_type": "confidential",
        "grant_types": ["client_credentials"], "scopes": ["eventcatalog.read"], "jwks": public_jwks(),
    }]}  # fmt: skip
    report = import_configuration(document)
    assert report.changes["clients"].created == ["reporting"]
    assert report.client_secrets == {}
    assert Application.objects.get(client_id="reporting").secret_hint == ""


def test_keys_that_are_not_a_mapping_are_refused(demo, edited):
    document = edited()
    entry(document, "clients", "client_id", "eventcatalog-admin")["jwks"] = ["a", "list"]
    with pytest.raises(ConfigurationError) as excinfo:
        import_configuration(document)
    assert excinfo.value.messages == ["client 'eventcatalog-admin': 'jwks': must be a mapping or null."]
