"""Trusted issuers in the configuration document (``trusted_issuers``, one entry per name,
their mappings in it; exchange policies name them in ``trusted_issuers``): exported sorted,
imported all or nothing through the models' clean(), pruned and dry-run as the other sections.
A file written before the section existed leaves them, and which ones a policy names, alone."""

import json
from io import StringIO
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEvent
from apps.configuration.services import ConfigurationError, export_configuration, import_configuration
from apps.oauth.models import ExchangePolicy, IssuerMapping, TrustedIssuer
from tests.configuration.conftest import K8S, configuration_rows, entry, export_text, wipe_configuration
from tests.support.service_keys import jwks_of, signer_for

SECTION = "trusted_issuers"
BASKET_SA = "system:serviceaccount:shop:basket"


def kubernetes(document: dict[str, Any]) -> dict[str, Any]:
    return entry(document, SECTION, "name", "kubernetes")


def basket_policy(document: dict[str, Any]) -> dict[str, Any]:
    return entry(document, "exchange_policies", "client", "shoppingbasket")


def stored() -> list[tuple]:
    """Every issuer, its mappings (claims, client_id, username) and the policies naming it."""
    return [
        (
            i.name,
            i.issuer,
            i.jwks_uri,
            i.jwks,
            " ".join(sorted(i.algorithm_names)),
            i.audience,
            i.enabled,
            sorted(
                (
                    json.dumps(m.claims, sort_keys=True),
                    m.client.client_id if m.client else None,
                    m.user.username if m.user else None,
                )
                for m in i.mappings.select_related("client", "user")
            ),
            sorted(str(policy) for policy in i.exchange_policies.all()),
        )
        for i in TrustedIssuer.objects.order_by("name")
    ]


# --- export --------------------------------------------------------------------------------


def test_the_entry_lists_every_field_algorithms_and_mappings_sorted(demo):
    document = export_configuration()
    assert list(document) == [
        "version",
        "apis",
        "identity_scopes",
        "clients",
        SECTION,
        "exchange_policies",
        "transaction_token_policies",
        "groups",
    ]
    assert document[SECTION] == [
        {
            "name": "kubernetes",
            "issuer": K8S,
            "jwks_uri": f"{K8S}/openid/v1/jwks",
            "jwks": None,
            "algorithms": ["ES256", "RS256"],  # stored "RS256 ES256"
            "audience": "https://idp.test/federation",
            "enabled": True,
            "mappings": [
                {"claims": {"sub": "partner|alice-1"}, "client": None, "user": "alice"},
                {"claims": {"sub": BASKET_SA, "tenant": "shop"}, "client": "shoppingbasket", "user": None},
            ],
        }
    ]
    # Claims with their keys sorted, whatever order the database keeps them in.
    assert list(document[SECTION][0]["mappings"][1]["claims"]) == ["sub", "tenant"]
    assert basket_policy(document)["trusted_issuers"] == ["kubernetes"]
    assert list(basket_policy(document))[:4] == ["client", "target", "subject_audiences", "trusted_issuers"]


def test_entries_are_sorted_by_name_and_inline_keys_by_key(demo):
    keys = jwks_of(signer_for("ci"))
    for name in ("zz-last", "aa-first"):
        TrustedIssuer.objects.create(name=name, issuer=f"https://{name}.example", jwks=keys)
    document = export_configuration()
    assert [issuer["name"] for issuer in document[SECTION]] == ["aa-first", "kubernetes", "zz-last"]
    assert entry(document, SECTION, "name", "aa-first")["jwks"] == keys
    assert list(entry(document, SECTION, "name", "aa-first")["jwks"]["keys"][0]) == sorted(keys["keys"][0])


def test_no_policy_names_an_issuer_is_an_empty_list(demo, make_client):
    ExchangePolicy.objects.get().trusted_issuers.clear()
    assert basket_policy(export_configuration())["trusted_issuers"] == []


# --- import --------------------------------------------------------------------------------


def test_exported_wiped_and_imported_the_issuers_are_the_same(demo):
    exported = export_text()
    rows = stored()
    wipe_configuration()
    assert not TrustedIssuer.objects.exists() and not IssuerMapping.objects.exists()

    report = import_configuration(json.loads(exported))

    assert report.changes[SECTION].created == ["kubernetes"]
    assert export_text() == exported
    assert stored() == rows
    # Algorithms are stored space-separated, in the file's (sorted) order (seeded "RS256 ES256").
    assert TrustedIssuer.objects.get().algorithms == "ES256 RS256"


def test_a_yaml_round_trip_keeps_them(demo, tmp_path):
    path = tmp_path / "idp.yaml"
    call_command("export_config", "--output", str(path))
    exported = export_text()
    wipe_configuration()
    call_command("import_config", str(path), stdout=StringIO())
    assert export_text() == exported


def test_importing_it_again_changes_nothing(demo, edited):
    document = edited()
    # The same algorithms, mappings and claims in another order: the same issuer.
    issuer = kubernetes(document)
    issuer["algorithms"] = ["RS256", "ES256"]
    issuer["mappings"].reverse()
    issuer["mappings"][0]["claims"] = {"tenant": "shop", "sub": BASKET_SA}
    mapping_ids = sorted(IssuerMapping.objects.values_list("pk", flat=True))
    before = configuration_rows()
    report = import_configuration(document)
    assert report.changes[SECTION].unchanged == ["kubernetes"]
    assert report.changes["exchange_policies"].unchanged == ["shoppingbasket -> discount"]
    assert not report.changed
    assert configuration_rows() == before  # not even the configuration generation
    assert sorted(IssuerMapping.objects.values_list("pk", flat=True)) == mapping_ids


def test_a_changed_entry_updates_the_issuer_and_keeps_the_mappings_it_still_lists(demo, edited):
    document = edited()
    keys = jwks_of(signer_for("kubernetes"))
    kept = IssuerMapping.objects.get(client__client_id="shoppingbasket").pk
    kubernetes(document).update(
        jwks_uri="",
        jwks=keys,
        algorithms=["ES256"],
        audience="",
        enabled=False,
        mappings=[
            {"claims": {"sub": BASKET_SA, "tenant": "shop"}, "client": "shoppingbasket"},
            {"claims": {"sub": "web"}, "client": "globoticket-web"},
        ],
    )
    report = import_configuration(document)
    assert report.changes[SECTION].updated == ["kubernetes"]
    assert stored() == [
        (
            "kubernetes",
            K8S,
            "",
            keys,
            "ES256",
            "",
            False,
            [
                ('{"sub": "system:serviceaccount:shop:basket", "tenant": "shop"}', "shoppingbasket", None),
                ('{"sub": "web"}', "globoticket-web", None),
            ],
            ["shoppingbasket -> discount"],
        )
    ]
    # The mapping the file still lists is the same row (the audit trail names it by its id).
    assert IssuerMapping.objects.filter(pk=kept).exists()


def test_a_mapping_changes_identity(demo, edited):
    document = edited()
    mapping = next(m for m in kubernetes(document)["mappings"] if m["client"] == "shoppingbasket")
    mapping.update(client="globoticket-web")
    import_configuration(document)
    assert IssuerMapping.objects.get(claims__sub=BASKET_SA).client.client_id == "globoticket-web"


def test_a_new_entry_takes_the_models_defaults(demo, edited):
    document = edited()
    document[SECTION].append(
        {
            "name": "ci",
            "issuer": "https://token.actions.githubusercontent.com",
            "jwks_uri": "https://token.actions.githubusercontent.com/.well-known/jwks",
        }
    )
    report = import_configuration(document)
    assert report.changes[SECTION].created == ["ci"]
    issuer = TrustedIssuer.objects.get(name="ci")
    assert (issuer.jwks, issuer.algorithms, issuer.audience, issuer.enabled) == (None, "ES256 RS256", "", True)
    assert not issuer.mappings.exists()


def test_references_may_point_to_what_the_same_file_creates(demo, edited):
    document = edited()
    document["clients"].append({"client_id": "checkout", "name": "Checkout", "client_type": "confidential"})
    document[SECTION].append(
        {
            "name": "ci",
            "issuer": "https://ci.example",
            "jwks_uri": "https://ci.example/jwks",
            "mappings": [{"claims": {"sub": "repo:shop/checkout"}, "client": "checkout"}],
        }
    )
    basket_policy(document)["trusted_issuers"] = ["ci", "kubernetes"]
    report = import_configuration(document)
    assert report.changes[SECTION].created == ["ci"]
    assert report.changes["exchange_policies"].updated == ["shoppingbasket -> discount"]
    assert IssuerMapping.objects.get(issuer__name="ci").client.client_id == "checkout"
    assert sorted(ExchangePolicy.objects.get().trusted_issuers.values_list("name", flat=True)) == ["ci", "kubernetes"]


def test_a_policy_naming_no_issuer_in_a_file_with_the_section_names_none(demo, edited):
    """A field left out takes its default, as everywhere: where the file speaks of issuers."""
    document = edited()
    del basket_policy(document)["trusted_issuers"]
    report = import_configuration(document)
    assert report.changes["exchange_policies"].updated == ["shoppingbasket -> discount"]
    assert not ExchangePolicy.objects.get().trusted_issuers.exists()


def test_a_mapping_to_an_operators_account_is_imported(demo, edited, admin_user):
    """import_config is a trusted operator tool (as create_client): not limited by the
    console's rule that only a superuser maps to an operator's account."""
    document = edited()
    kubernetes(document)["mappings"].append({"claims": {"sub": "root"}, "user": admin_user.username})
    import_configuration(document)
    assert IssuerMapping.objects.get(claims__sub="root").user == admin_user


def _mapping(document: dict[str, Any], **changes: Any) -> None:
    kubernetes(document)["mappings"].append({"claims": {"sub": "new"}, "client": "globoticket-web", **changes})


INVALID = {
    "an issuer over http": (
        lambda d: kubernetes(d).update(issuer="http://kubernetes.example"),
        "trusted issuer 'kubernetes': issuer: Use https (http only for loopback hosts).",
    ),
    "this IdP itself": (
        lambda d: kubernetes(d).update(issuer="https://idp.test"),
        "trusted issuer 'kubernetes': issuer: This is this IdP's own issuer.",
    ),
    "no keys": (
        lambda d: kubernetes(d).update(jwks_uri=""),
        "trusted issuer 'kubernetes': jwks_uri: Give a JWKS URL or inline keys, one of the two.",
    ),
    "keys twice": (
        lambda d: kubernetes(d).update(jwks=jwks_of(signer_for("x"))),
        "trusted issuer 'kubernetes': jwks_uri: Give a JWKS URL or inline keys, one of the two.",
    ),
    "inline keys that are no JWKS": (
        lambda d: kubernetes(d).update(jwks_uri="", jwks={"keys": []}),
        "trusted issuer 'kubernetes': jwks: A JWKS is a JSON object with a non-empty \"keys\" list.",
    ),
    "inline keys that are a list": (
        lambda d: kubernetes(d).update(jwks_uri="", jwks=[{"kty": "EC"}]),
        "trusted issuer 'kubernetes': 'jwks': must be a mapping or null.",
    ),
    "an algorithm not offered": (
        lambda d: kubernetes(d).update(algorithms=["HS256", "RS256"]),
        "trusted issuer 'kubernetes': algorithms: Choose from: ES256 PS256 RS256.",
    ),
    "algorithms as one string": (
        lambda d: kubernetes(d).update(algorithms="RS256 ES256"),
        "trusted issuer 'kubernetes': 'algorithms': must be a list of strings without spaces.",
    ),
    "a name that is no slug": (
        lambda d: kubernetes(d).update(name="kube rnetes"),
        "trusted issuer 'kube rnetes': name: Enter a valid “slug”",
    ),
    "an issuer URL another issuer has": (
        lambda d: d[SECTION].append({"name": "copy", "issuer": K8S, "jwks_uri": f"{K8S}/jwks"}),
        "trusted issuer 'copy': issuer: Trusted issuer with this Issuer already exists.",
    ),
    "an unknown field": (
        lambda d: kubernetes(d).update(keys=[]),
        "trusted issuer 'kubernetes': unknown field(s): keys.",
    ),
    "a name twice": (
        lambda d: d[SECTION].append(dict(kubernetes(d))),
        "Trusted issuer 'kubernetes' appears more than once.",
    ),
    "not a list": (lambda d: d.update({SECTION: {"kubernetes": {}}}), "trusted issuer: must be a list."),
    "mappings not a list": (
        lambda d: kubernetes(d).update(mappings={"sub": "x"}),
        "trusted issuer 'kubernetes': 'mappings': must be a list.",
    ),
    "a mapping on a claim every token is checked for": (
        lambda d: _mapping(d, claims={"aud": "x"}),
        'trusted issuer \'kubernetes\': mapping {"aud": "x"}: claims: Checked for every token, not a mapping: aud.',
    ),
    "a mapping value that is no string": (
        lambda d: _mapping(d, claims={"sub": 1}),
        "trusted issuer 'kubernetes': mapping {\"sub\": 1}: claims: Each value a non-empty string",
    ),
    "a mapping to a client and a user": (
        lambda d: _mapping(d, user="alice"),
        'trusted issuer \'kubernetes\': mapping {"sub": "new"}: client: Map to a client or to a user, one of the two.',
    ),
    "a mapping to nobody": (
        lambda d: _mapping(d, client=None),
        'trusted issuer \'kubernetes\': mapping {"sub": "new"}: client: Map to a client or to a user, one of the two.',
    ),
    "a mapping's claims not an object": (
        lambda d: _mapping(d, claims=["sub"]),
        "trusted issuer 'kubernetes': mapping 3: 'claims': must be a JSON object",
    ),
    "an unknown field of a mapping": (
        lambda d: _mapping(d, username="alice"),
        "trusted issuer 'kubernetes': mapping 3: unknown field(s): username.",
    ),
    "the same claims twice": (
        lambda d: _mapping(d, claims={"sub": "partner|alice-1"}),
        "Trusted issuer 'kubernetes': a mapping of the claims '{\"sub\": \"partner|alice-1\"}' appears more than once.",
    ),
    "a mapping to an unknown client": (
        lambda d: _mapping(d, client="ghost"),
        "trusted issuer 'kubernetes': unknown client(s): ghost.",
    ),
    "a mapping to an unknown user": (
        lambda d: _mapping(d, client=None, user="nobody"),
        "trusted issuer 'kubernetes': unknown user(s): nobody.",
    ),
    "a policy naming an unknown issuer": (
        lambda d: basket_policy(d).update(trusted_issuers=["kubernetes", "ghost"]),
        "exchange policy 'shoppingbasket -> discount': unknown trusted issuer(s): ghost.",
    ),
}


@pytest.mark.parametrize("mistake", INVALID, ids=list(INVALID))
def test_an_invalid_entry_is_named_and_nothing_changes(demo, edited, mistake):
    edit, message = INVALID[mistake]
    document = edited()
    # Valid changes next to the mistake, that must not be kept either.
    entry(document, "apis", "audience", "eventcatalog")["name"] = "Renamed"
    kubernetes(document)["audience"] = ""
    document[SECTION].append({"name": "ci", "issuer": "https://ci.example", "jwks_uri": "https://ci.example/jwks"})
    edit(document)
    before = configuration_rows()

    with pytest.raises(ConfigurationError) as raised:
        import_configuration(document)

    assert [m for m in raised.value.messages if m.startswith(message)], raised.value.messages
    assert configuration_rows() == before
    assert not AuditEvent.objects.filter(event_type="config.imported").exists()


def test_the_command_names_the_entry_and_changes_nothing(demo, edited, tmp_path):
    document = edited()
    kubernetes(document)["issuer"] = "https://idp.test"
    path = tmp_path / "idp.json"
    path.write_text(json.dumps(document))
    before = configuration_rows()
    with pytest.raises(CommandError) as raised:
        call_command("import_config", str(path), stdout=StringIO())
    assert str(raised.value) == (
        "The configuration was not imported (nothing was changed):\n"
        "- trusted issuer 'kubernetes': issuer: This is this IdP's own issuer."
    )
    assert configuration_rows() == before


# --- a file without the section ---------------------------------------------------------------


def test_a_file_without_the_section_leaves_the_issuers_and_the_policies_naming_them_alone(demo, edited):
    """As a file exported before the section existed: its exchange policies have no
    trusted_issuers either, which there means "as they are", not "none"."""
    document = edited()
    del document[SECTION]
    del basket_policy(document)["trusted_issuers"]
    before = configuration_rows()
    report = import_configuration(document, prune=True)
    assert report.counts()[SECTION] == {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0}
    assert report.changes["exchange_policies"].unchanged == ["shoppingbasket -> discount"]
    assert configuration_rows() == before


def test_a_file_without_the_section_may_still_name_stored_issuers_in_a_policy(demo, edited):
    document = edited()
    del document[SECTION]
    TrustedIssuer.objects.create(name="ci", issuer="https://ci.example", jwks_uri="https://ci.example/jwks")
    basket_policy(document)["trusted_issuers"] = ["ci"]
    import_configuration(document, prune=True)
    assert list(ExchangePolicy.objects.get().trusted_issuers.values_list("name", flat=True)) == ["ci"]
    assert TrustedIssuer.objects.count() == 2  # kubernetes stays: the file says nothing of it


def test_a_file_without_the_section_reports_an_issuer_losing_a_mapping_to_a_client_it_prunes(demo, edited):
    document = edited()
    del document[SECTION]
    document["clients"].remove(entry(document, "clients", "client_id", "shoppingbasket"))
    document["exchange_policies"] = []
    document["transaction_token_policies"] = []
    report = import_configuration(document, prune=True)
    assert report.changes[SECTION].updated == ["kubernetes"]  # said, not changed unsaid
    assert [m.user.username for m in IssuerMapping.objects.all()] == ["alice"]


# --- prune and dry run -------------------------------------------------------------------------


def test_without_prune_an_issuer_absent_from_the_section_stays(demo, edited):
    document = edited()
    document[SECTION] = []
    basket_policy(document)["trusted_issuers"] = []
    report = import_configuration(document)
    assert report.changes["exchange_policies"].updated == ["shoppingbasket -> discount"]
    assert TrustedIssuer.objects.filter(name="kubernetes").exists()


def test_prune_deletes_an_issuer_the_section_does_not_name(demo, edited):
    document = edited()
    document[SECTION] = []
    basket_policy(document)["trusted_issuers"] = []
    report = import_configuration(document, prune=True)
    assert {kind: changes.deleted for kind, changes in report.changes.items() if changes.deleted} == {
        SECTION: ["kubernetes"]
    }
    assert not TrustedIssuer.objects.exists() and not IssuerMapping.objects.exists()
    assert get_user_model().objects.filter(username="alice").exists()  # people are no configuration
    assert export_configuration() == document


def test_with_prune_a_policy_naming_an_issuer_the_file_leaves_out_is_an_error(demo, edited):
    document = edited()
    document[SECTION] = []
    before = configuration_rows()
    with pytest.raises(ConfigurationError) as raised:
        import_configuration(document, prune=True)
    assert raised.value.messages == [
        "exchange policy 'shoppingbasket -> discount': unknown trusted issuer(s): kubernetes "
        "(not in the file, so --prune would delete it)."
    ]
    assert configuration_rows() == before


def test_with_prune_a_mapping_to_a_client_the_file_leaves_out_is_an_error(demo, edited):
    document = edited()
    document["clients"].remove(entry(document, "clients", "client_id", "shoppingbasket"))
    document["exchange_policies"] = []
    document["transaction_token_policies"] = []
    with pytest.raises(ConfigurationError) as raised:
        import_configuration(document, prune=True)
    assert raised.value.messages == [
        "trusted issuer 'kubernetes': unknown client(s): shoppingbasket (not in the file, so --prune would delete it)."
    ]


def test_a_dry_run_reports_and_changes_nothing(demo, edited):
    document = edited()
    document[SECTION] = [{"name": "ci", "issuer": "https://ci.example", "jwks_uri": "https://ci.example/jwks"}]
    basket_policy(document)["trusted_issuers"] = ["ci"]
    before = configuration_rows()
    report = import_configuration(document, prune=True, dry_run=True)
    assert (report.changes[SECTION].created, report.changes[SECTION].deleted) == (["ci"], ["kubernetes"])
    assert configuration_rows() == before


def test_the_report_and_the_audit_event_count_them(demo, edited, tmp_path):
    document = edited()
    kubernetes(document)["enabled"] = False
    path = tmp_path / "idp.json"
    path.write_text(json.dumps(document))
    out = StringIO()
    call_command("import_config", str(path), stdout=out)
    assert "trusted_issuers: 0 created, 1 updated, 0 unchanged, 0 deleted\n  updated: kubernetes\n" in out.getvalue()
    event = AuditEvent.objects.get(event_type="config.imported")
    assert event.details["counts"][SECTION] == {"created": 0, "updated": 1, "unchanged": 0, "deleted": 0}
