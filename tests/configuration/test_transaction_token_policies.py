"""Transaction-token policies in the configuration document (``transaction_token_policies``,
one entry per client, keyed by client_id): exported sorted, imported all or nothing through
the model's clean(), pruned and dry-run as exchange policies are. A file written before the
section existed leaves them alone."""

import datetime
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEvent
from apps.configuration.services import ConfigurationError, export_configuration, import_configuration
from apps.oauth.models import Application, TransactionTokenPolicy
from apps.resources.models import ApiScope
from tests.configuration.conftest import configuration_rows, entry, export_text, wipe_configuration

SECTION = "transaction_token_policies"


def basket(document: dict[str, Any]) -> dict[str, Any]:
    return entry(document, SECTION, "client", "shoppingbasket")


def stored() -> list[tuple]:
    return [
        (
            p.client.client_id,
            tuple(p.subject_audiences.order_by("audience").values_list("audience", flat=True)),
            tuple(p.scopes.order_by("name").values_list("name", flat=True)),
            tuple(sorted(p.request_context_names)),
            tuple(sorted(p.request_details_names)),
            p.transaction_context,
            p.max_lifetime,
            p.accept_txn_tokens,
            p.enabled,
        )
        for p in TransactionTokenPolicy.objects.select_related("client").order_by("client__client_id")
    ]


# --- export --------------------------------------------------------------------------------


def test_the_entry_lists_every_field_names_sorted_and_the_context_by_key(demo):
    document = export_configuration()
    assert list(document) == [
        "version",
        "apis",
        "identity_scopes",
        "clients",
        "trusted_issuers",
        "exchange_policies",
        SECTION,
        "groups",
    ]
    assert document[SECTION] == [
        {
            "client": "shoppingbasket",
            "subject_audiences": ["shoppingbasket"],
            "scopes": ["shoppingbasket.fullaccess"],
            "request_context_keys": ["req_ip"],
            "request_details_keys": ["action", "amount"],  # stored "amount action"
            "transaction_context": {"channel": "web", "region": {"ids": [1, 2], "zone": "eu"}},
            "max_lifetime": 90,
            "accept_txn_tokens": True,
            "enabled": True,
        }
    ]
    # Keys sorted at every level, whatever order the database keeps them in.
    assert list(document[SECTION][0]["transaction_context"]) == ["channel", "region"]
    assert list(document[SECTION][0]["transaction_context"]["region"]) == ["ids", "zone"]


def test_entries_are_sorted_by_client(demo, make_client):
    for client_id in ("zz-last", "aa-first"):
        client = make_client(client_id, client_id=client_id, scopes=["eventcatalog.read"]).client
        TransactionTokenPolicy.objects.create(client=client).scopes.set(ApiScope.objects.filter(name="openid"))
    clients = [policy["client"] for policy in export_configuration()[SECTION]]
    assert clients == ["aa-first", "shoppingbasket", "zz-last"]


# --- import --------------------------------------------------------------------------------


def test_exported_wiped_and_imported_the_policy_is_the_same(demo):
    exported = export_text()
    rows = stored()
    wipe_configuration()
    assert not TransactionTokenPolicy.objects.exists()

    report = import_configuration(json.loads(exported))

    assert report.changes[SECTION].created == ["shoppingbasket"]
    assert export_text() == exported
    assert stored() == rows
    # Member names are stored space-separated, in the file's (sorted) order.
    assert TransactionTokenPolicy.objects.get().request_details_keys == "action amount"


def test_a_yaml_round_trip_keeps_the_context(demo, tmp_path):
    path = tmp_path / "idp.yaml"
    call_command("export_config", "--output", str(path))
    exported = export_text()
    wipe_configuration()
    call_command("import_config", str(path), stdout=StringIO())
    assert export_text() == exported


def test_importing_it_again_changes_nothing(demo, edited):
    document = edited()
    # The same names in another order, the same object written in another order: the same policy.
    basket(document)["request_details_keys"] = ["amount", "action"]
    basket(document)["transaction_context"] = {"region": {"zone": "eu", "ids": [1, 2]}, "channel": "web"}
    before = configuration_rows()
    report = import_configuration(document)
    assert report.changes[SECTION].unchanged == ["shoppingbasket"]
    assert not report.changed
    assert configuration_rows() == before  # not even the configuration generation


def test_a_changed_entry_updates_the_policy(demo, edited):
    document = edited()
    basket(document).update(
        subject_audiences=[],
        scopes=["shoppingbasket.fullaccess", "eventcatalog.read"],
        request_context_keys=[],
        request_details_keys=["action"],
        transaction_context={},
        max_lifetime=300,
        accept_txn_tokens=False,
        enabled=False,
    )
    report = import_configuration(document)
    assert report.changes[SECTION].updated == ["shoppingbasket"]
    assert stored() == [
        ("shoppingbasket", (), ("eventcatalog.read", "shoppingbasket.fullaccess"), (), ("action",), {}, 300)
        + (False, False)
    ]


def test_a_new_entry_takes_the_models_defaults(demo, edited):
    document = edited()
    document[SECTION].append({"client": "globoticket-web", "scopes": ["eventcatalog.read"]})
    report = import_configuration(document)
    assert report.changes[SECTION].created == ["globoticket-web"]
    policy = TransactionTokenPolicy.objects.get(client__client_id="globoticket-web")
    assert (policy.request_context_keys, policy.request_details_keys, policy.transaction_context) == ("", "", {})
    assert (policy.max_lifetime, policy.accept_txn_tokens, policy.enabled) == (60, False, True)
    assert not policy.subject_audiences.exists()


def test_references_may_point_to_what_the_same_file_creates(demo, edited):
    document = edited()
    document["clients"].append({"client_id": "checkout", "name": "Checkout", "client_type": "confidential"})
    document[SECTION].append({"client": "checkout", "scopes": ["shoppingbasket.fullaccess"]})
    report = import_configuration(document)
    assert report.changes[SECTION].created == ["checkout"]


def _yaml_date(document):
    basket(document)["transaction_context"] = {"opened": datetime.date(2026, 1, 1)}


INVALID = {
    "a member name that is not one": (
        lambda d: basket(d).update(request_details_keys=["action", "1amount"]),
        "transaction-token policy 'shoppingbasket': request_details_keys: Not a member name: 1amount "
        "(a letter, then letters, digits, _ . -).",
    ),
    "a member the IdP sets": (
        lambda d: basket(d).update(request_context_keys=["call_chain"]),
        "transaction-token policy 'shoppingbasket': request_context_keys: Set by the IdP itself: call_chain.",
    ),
    "a member name with a space": (
        lambda d: basket(d).update(request_context_keys=["req ip"]),
        "transaction-token policy 'shoppingbasket': 'request_context_keys': must be a list of strings without spaces.",
    ),
    "member names as one string": (
        lambda d: basket(d).update(request_details_keys="action amount"),
        "transaction-token policy 'shoppingbasket': 'request_details_keys': must be a list of strings without spaces.",
    ),
    "a context that is a list": (
        lambda d: basket(d).update(transaction_context=["channel", "web"]),
        "transaction-token policy 'shoppingbasket': 'transaction_context': must be a JSON object",
    ),
    "a context that is null": (
        lambda d: basket(d).update(transaction_context=None),
        "transaction-token policy 'shoppingbasket': 'transaction_context': must be a JSON object",
    ),
    "a context holding NaN": (
        lambda d: basket(d).update(transaction_context={"ratio": float("nan")}),
        "transaction-token policy 'shoppingbasket': 'transaction_context': must be a JSON object",
    ),
    "a context holding a YAML date": (
        _yaml_date,
        "transaction-token policy 'shoppingbasket': 'transaction_context': must be a JSON object",
    ),
    "a context with a number for a key": (
        lambda d: basket(d).update(transaction_context={1: "one"}),
        "transaction-token policy 'shoppingbasket': 'transaction_context': must be a JSON object",
    ),
    "a context member also from request_details": (
        lambda d: basket(d).update(transaction_context={"amount": 5}),
        "transaction-token policy 'shoppingbasket': transaction_context: Also named in request_details_keys: "
        "amount (the policy's value would be ambiguous).",
    ),
    "a context too large": (
        lambda d: basket(d).update(transaction_context={"note": "x" * 3000}),
        "transaction-token policy 'shoppingbasket': transaction_context: At most 2048 bytes of JSON.",
    ),
    "a lifetime beyond minutes": (
        lambda d: basket(d).update(max_lifetime=301),
        "transaction-token policy 'shoppingbasket': max_lifetime: Ensure this value is less than or equal to 300.",
    ),
    "no lifetime": (
        lambda d: basket(d).update(max_lifetime=0),
        "transaction-token policy 'shoppingbasket': max_lifetime: Ensure this value is greater than or equal to 1.",
    ),
    "no scope": (
        lambda d: basket(d).update(scopes=[]),
        "transaction-token policy 'shoppingbasket': scopes: at least one scope is required.",
    ),
    "no scopes field": (
        lambda d: basket(d).pop("scopes"),
        "transaction-token policy 'shoppingbasket': 'scopes' is required.",
    ),
    "an unknown scope": (
        lambda d: basket(d).update(scopes=["no.such.scope"]),
        "transaction-token policy 'shoppingbasket': unknown scope(s): no.such.scope.",
    ),
    "an unknown subject audience": (
        lambda d: basket(d).update(subject_audiences=["nowhere"]),
        "transaction-token policy 'shoppingbasket': unknown API(s): nowhere.",
    ),
    "an unknown client": (
        lambda d: basket(d).update(client="ghost"),
        "transaction-token policy 'ghost': unknown client: ghost.",
    ),
    "an unknown field": (
        lambda d: basket(d).update(target="discount"),
        "transaction-token policy 'shoppingbasket': unknown field(s): target.",
    ),
    "a client twice": (
        lambda d: d[SECTION].append(dict(basket(d))),
        "Transaction-token policy for 'shoppingbasket' appears more than once.",
    ),
    "not a list": (
        lambda d: d.update({SECTION: {"shoppingbasket": {}}}),
        "transaction-token policy: must be a list.",
    ),
}


@pytest.mark.parametrize("mistake", INVALID, ids=list(INVALID))
def test_an_invalid_entry_is_named_and_nothing_changes(demo, edited, mistake):
    edit, message = INVALID[mistake]
    document = edited()
    # Valid changes next to the mistake, that must not be kept either.
    entry(document, "apis", "audience", "eventcatalog")["name"] = "Renamed"
    document[SECTION].append({"client": "globoticket-web", "scopes": ["eventcatalog.read"]})
    edit(document)
    before = configuration_rows()

    with pytest.raises(ConfigurationError) as raised:
        import_configuration(document)

    assert [m for m in raised.value.messages if m.startswith(message)], raised.value.messages
    assert configuration_rows() == before
    assert not AuditEvent.objects.filter(event_type="config.imported").exists()


def test_the_command_names_the_entry_and_changes_nothing(demo, edited, tmp_path):
    document = edited()
    basket(document)["request_context_keys"] = ["call_chain"]
    path = tmp_path / "idp.json"
    path.write_text(json.dumps(document))
    before = configuration_rows()
    with pytest.raises(CommandError) as raised:
        call_command("import_config", str(path), stdout=StringIO())
    assert str(raised.value) == (
        "The configuration was not imported (nothing was changed):\n"
        "- transaction-token policy 'shoppingbasket': request_context_keys: Set by the IdP itself: call_chain."
    )
    assert configuration_rows() == before


# --- a file without the section ---------------------------------------------------------------


def test_a_file_without_the_section_imports_and_leaves_the_policies_alone(demo, edited):
    """As a file exported before the section existed."""
    document = edited()
    del document[SECTION]
    before = configuration_rows()
    report = import_configuration(document, prune=True)
    assert report.counts()[SECTION] == {"created": 0, "updated": 0, "unchanged": 0, "deleted": 0}
    assert configuration_rows() == before


def test_a_file_without_the_section_prunes_the_policy_of_a_client_it_prunes(demo, edited):
    document = edited()
    del document[SECTION]
    document["clients"].remove(entry(document, "clients", "client_id", "shoppingbasket"))
    document["trusted_issuers"] = []  # its issuer maps to it
    document["exchange_policies"] = []
    report = import_configuration(document, prune=True)
    assert report.changes["clients"].deleted == ["shoppingbasket"]
    assert report.changes[SECTION].deleted == ["shoppingbasket"]  # said, not gone with its client unsaid
    assert not TransactionTokenPolicy.objects.exists()


# --- prune and dry run -------------------------------------------------------------------------


def test_without_prune_a_policy_absent_from_the_section_stays(demo, edited):
    document = edited()
    document[SECTION] = []
    report = import_configuration(document)
    assert not report.changed
    assert TransactionTokenPolicy.objects.filter(client__client_id="shoppingbasket").exists()


def test_prune_deletes_a_policy_the_section_does_not_name_and_keeps_its_client(demo, edited):
    document = edited()
    document[SECTION] = []
    report = import_configuration(document, prune=True)
    assert {kind: changes.deleted for kind, changes in report.changes.items() if changes.deleted} == {
        SECTION: ["shoppingbasket"]
    }
    assert not TransactionTokenPolicy.objects.exists()
    assert Application.objects.filter(client_id="shoppingbasket").exists()
    assert export_configuration() == document


def test_a_dry_run_reports_and_changes_nothing(demo, edited):
    document = edited()
    document[SECTION] = [{"client": "globoticket-web", "scopes": ["eventcatalog.read"]}]
    before = configuration_rows()
    report = import_configuration(document, prune=True, dry_run=True)
    assert (report.changes[SECTION].created, report.changes[SECTION].deleted) == (
        ["globoticket-web"],
        ["shoppingbasket"],
    )
    assert configuration_rows() == before


def test_with_prune_a_policy_for_a_client_the_file_leaves_out_is_an_error(demo, edited):
    document = edited()
    document["clients"].remove(entry(document, "clients", "client_id", "shoppingbasket"))
    document["trusted_issuers"] = []  # its issuer maps to it
    document["exchange_policies"] = []
    before = configuration_rows()
    with pytest.raises(ConfigurationError) as raised:
        import_configuration(document, prune=True)
    assert raised.value.messages == [
        "transaction-token policy 'shoppingbasket': unknown client: shoppingbasket "
        "(not in the file, so --prune would delete it)."
    ]
    assert configuration_rows() == before


def test_the_report_and_the_audit_event_count_them(demo, edited, tmp_path):
    document = edited()
    basket(document)["max_lifetime"] = 30
    path = tmp_path / "idp.json"
    path.write_text(json.dumps(document))
    out = StringIO()
    call_command("import_config", str(path), stdout=out)
    assert "transaction_token_policies: 0 created, 1 updated, 0 unchanged, 0 deleted\n  updated: shoppingbasket\n" in (
        out.getvalue()
    )
    event = AuditEvent.objects.get(event_type="config.imported")
    assert event.details["counts"][SECTION] == {"created": 0, "updated": 1, "unchanged": 0, "deleted": 0}
