"""An import is checked as a whole, with the admin's validation: one wrong entry and nothing
changes, and the error names the entry."""

import pytest

from apps.audit.models import AuditEvent
from apps.configuration.services import ConfigurationError, import_configuration
from tests.configuration.conftest import configuration_rows, entry


def web(document):
    return entry(document, "clients", "client_id", "globoticket-web")


def policy(document):
    return entry(document, "exchange_policies", "client", "shoppingbasket")


def new_api(document, **fields):
    api = {"audience": "tickets", "name": "Tickets", "resource_uri": "urn:test:tickets", "scopes": [], **fields}
    document["apis"].append(api)
    return api


INVALID = {
    "unknown scope": (
        lambda d: web(d)["scopes"].append("no.such.scope"),
        "client 'globoticket-web': unknown scope(s): no.such.scope.",
    ),
    "unknown API a client acts as": (
        lambda d: web(d).update(resource="nowhere"),
        "client 'globoticket-web': unknown API: nowhere.",
    ),
    "unknown grant type": (
        lambda d: web(d)["grant_types"].append("password"),
        "client 'globoticket-web': grant_types: Choose from:",
    ),
    "confidential-only grant for a public client": (
        lambda d: d["clients"].append(
            {"client_id": "spa", "name": "SPA", "client_type": "public", "grant_types": ["client_credentials"]}
        ),
        "client 'spa': grant_types: "
        "Client credentials, token exchange and the JWT bearer grant need a confidential client.",
    ),
    "refresh without the code grant": (
        lambda d: web(d).update(grant_types=["refresh_token"]),
        "client 'globoticket-web': grant_types: Refresh tokens come from the authorization code grant.",
    ),
    "http redirect URI off loopback": (
        lambda d: web(d)["redirect_uris"].append("http://evil.test/cb"),
        "client 'globoticket-web': redirect_uris: Use https (http only for loopback hosts): http://evil.test/cb",
    ),
    "bad client type": (
        lambda d: d["clients"].append({"client_id": "x", "name": "X", "client_type": "secretive"}),
        "client 'x': client_type: Value 'secretive' is not a valid choice.",
    ),
    "client type changed": (
        lambda d: web(d).update(client_type="public"),
        "client 'globoticket-web': the client type cannot change (confidential to public)",
    ),
    "client_id with a space": (
        lambda d: d["clients"].append({"client_id": "a b", "name": "X", "client_type": "confidential"}),
        "client 'a b': a client_id is printable ASCII without spaces.",
    ),
    "new client_id the console would refuse": (
        lambda d: d["clients"].append({"client_id": "a:b%", "name": "X", "client_type": "confidential"}),
        "client 'a:b%': Use letters, digits, '.', '_' or '-', starting with a letter or digit, "
        "with at least one letter.",
    ),
    "new client_id of digits alone (a user's sub)": (
        lambda d: d["clients"].append({"client_id": "42", "name": "X", "client_type": "confidential"}),
        "client '42': Use letters, digits, '.', '_' or '-', starting with a letter or digit, with at least one letter.",
    ),
    "policy for an unknown client": (
        lambda d: policy(d).update(client="ghost"),
        "exchange policy 'ghost -> discount': unknown client: ghost.",
    ),
    "policy for an unknown target": (
        lambda d: policy(d).update(target="nowhere"),
        "exchange policy 'shoppingbasket -> nowhere': unknown API: nowhere.",
    ),
    "policy granting another API's scope": (
        lambda d: policy(d).update(scopes=["discount.fullaccess", "eventcatalog.write"]),
        "exchange policy 'shoppingbasket -> discount': scopes: Not scopes of discount: eventcatalog.write.",
    ),
    "policy without scopes": (
        lambda d: policy(d).update(scopes=[]),
        "exchange policy 'shoppingbasket -> discount': scopes: at least one scope of discount is required.",
    ),
    "policy with a bad mode": (
        lambda d: policy(d).update(mode="trust-me"),
        "exchange policy 'shoppingbasket -> discount': mode: Value 'trust-me' is not a valid choice.",
    ),
    "API lifetime beyond a day": (
        lambda d: entry(d, "apis", "audience", "discount").update(access_token_lifetime=86401),
        "API 'discount': access_token_lifetime: Ensure this value is less than or equal to 86400.",
    ),
    "unknown user claim": (
        lambda d: entry(d, "apis", "audience", "discount").update(user_claims=["password"]),
        "API 'discount': user_claims: Unknown claims: password",
    ),
    "resource URI another API has": (
        lambda d: new_api(d, resource_uri="urn:globoticket:discount"),
        "API 'tickets': resource_uri: API resource with this Resource URI already exists.",
    ),
    "bad scope token": (
        lambda d: new_api(d, scopes=[{"name": 'tickets"read'}]),
        "scope 'tickets\"read': name: Not a valid RFC 6749 scope token.",
    ),
    "unknown permission": (
        lambda d: entry(d, "groups", "name", "Auditor")["permissions"].append("oauth.steal_secrets"),
        "group 'Auditor': unknown permission(s): oauth.steal_secrets.",
    ),
    # The shape of the document itself.
    "another version": (lambda d: d.update(version=2), "Unsupported 'version': 2"),
    "a version that only equals 1": (lambda d: d.update(version=True), "Unsupported 'version': True"),
    "a blank API name": (
        lambda d: entry(d, "apis", "audience", "discount").update(name=""),
        "API 'discount': name: This field cannot be blank.",
    ),
    "a section missing": (lambda d: d.pop("clients"), "Missing section(s): clients"),
    "an unknown section": (lambda d: d.update(users=[]), "Unknown section(s): users."),
    "an unknown field": (
        lambda d: web(d).update(client_secret="x"),
        "client 'globoticket-web': unknown field(s): client_secret.",
    ),
    "a required field missing": (
        lambda d: web(d).pop("name"),
        "client 'globoticket-web': 'name' is required.",
    ),
    "a string for a boolean": (
        lambda d: web(d).update(enabled="yes"),
        "client 'globoticket-web': 'enabled': must be true or false.",
    ),
    "a boolean for a number": (
        lambda d: policy(d).update(max_depth=True),
        "exchange policy 'shoppingbasket -> discount': 'max_depth': must be a whole number.",
    ),
    "a URI list with spaces inside": (
        lambda d: web(d).update(redirect_uris=["https://a.test/cb https://b.test/cb"]),
        "client 'globoticket-web': 'redirect_uris': must be a list of strings without spaces.",
    ),
    "a client twice": (lambda d: d["clients"].append(dict(web(d))), "Client 'globoticket-web' appears more than once."),
    "a scope in two places": (
        lambda d: d["identity_scopes"].append({"name": "discount.fullaccess"}),
        "Scope 'discount.fullaccess' appears more than once.",
    ),
}


@pytest.mark.parametrize("mistake", INVALID, ids=list(INVALID))
def test_an_invalid_entry_is_named_and_nothing_changes(demo, edited, mistake):
    edit, message = INVALID[mistake]
    document = edited()
    edit(document)
    # A valid change next to the mistake, that must not be kept either.
    entry(document, "apis", "audience", "eventcatalog")["name"] = "Renamed"
    before = configuration_rows()

    with pytest.raises(ConfigurationError) as raised:
        import_configuration(document)

    assert any(m.startswith(message) for m in raised.value.messages), raised.value.messages
    assert configuration_rows() == before
    assert not AuditEvent.objects.filter(event_type="config.imported").exists()


def test_every_mistake_is_reported_at_once(demo, edited):
    document = edited()
    web(document)["scopes"].append("no.such.scope")
    policy(document)["client"] = "ghost"
    entry(document, "groups", "name", "Auditor")["permissions"].append("oauth.steal_secrets")
    with pytest.raises(ConfigurationError) as raised:
        import_configuration(document)
    assert raised.value.messages == [
        "client 'globoticket-web': unknown scope(s): no.such.scope.",
        "exchange policy 'ghost -> discount': unknown client: ghost.",
        "group 'Auditor': unknown permission(s): oauth.steal_secrets.",
    ]


def test_an_entry_that_failed_is_not_reported_again_where_it_is_used(demo, edited):
    """A client acting as a new, invalid API: one message, for the API."""
    document = edited()
    new_api(document, access_token_lifetime=0, scopes=[{"name": "tickets.read"}])
    web(document)["scopes"].append("tickets.read")
    with pytest.raises(ConfigurationError) as raised:
        import_configuration(document)
    assert raised.value.messages == [
        "API 'tickets': access_token_lifetime: Ensure this value is greater than or equal to 1."
    ]


def test_references_may_point_to_what_the_same_file_creates(demo, edited):
    document = edited()
    new_api(document, scopes=[{"name": "tickets.read", "description": "Read tickets"}])
    web(document)["scopes"].append("tickets.read")
    document["exchange_policies"].append({"client": "shoppingbasket", "target": "tickets", "scopes": ["tickets.read"]})
    report = import_configuration(document)
    assert report.changes["apis"].created == ["tickets"]
    assert report.changes["scopes"].created == ["tickets.read"]
    assert report.changes["clients"].updated == ["globoticket-web"]
    assert report.changes["exchange_policies"].created == ["shoppingbasket -> tickets"]
