"""export_config and import_config on the command line: formats, output, exit status."""

import json
import sys
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from apps.audit.models import AuditEvent
from apps.oauth.models import Application
from tests.configuration.conftest import configuration_rows, entry, export_text, wipe_configuration


def import_config(*args: str) -> str:
    out = StringIO()
    call_command("import_config", *args, stdout=out)
    return out.getvalue()


def write(path, document) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def test_export_writes_json_or_yaml_by_flag_or_file_extension(demo, tmp_path):
    assert json.loads(export_text()) == demo
    assert export_text("--format", "yaml").startswith("version: 1\n")
    call_command("export_config", "--output", str(tmp_path / "a.yml"))
    call_command("export_config", "--output", str(tmp_path / "b.json"))
    call_command("export_config", "--output", str(tmp_path / "c.txt"), "--format", "yaml")
    assert (tmp_path / "a.yml").read_text() == (tmp_path / "c.txt").read_text() == export_text("--format", "yaml")
    assert (tmp_path / "b.json").read_text() == export_text()


def test_import_prints_counts_and_the_new_secrets_once(demo, tmp_path):
    path = write(tmp_path / "idp.json", demo)
    wipe_configuration()
    out = import_config(path)
    assert "apis: 4 created, 0 updated, 0 unchanged, 0 deleted\n" in out
    assert "  created: discount, eventcatalog, idp-admin, shoppingbasket\n" in out
    assert "exchange_policies: 1 created, 0 updated, 0 unchanged, 0 deleted\n" in out
    # The demo's services register keys (seed_demo): only the web app is given a secret.
    assert out.count("client_secret=") == 1
    assert "Store the client secrets now: they are not shown again." in out

    again = import_config(path)
    assert "clients: 0 created, 0 updated, 3 unchanged, 0 deleted\n" in again
    assert "client_secret" not in again and "created:" not in again


def test_import_json_output(demo, tmp_path):
    path = write(tmp_path / "idp.json", demo)
    wipe_configuration()
    report = json.loads(import_config(path, "--json"))
    assert report["dry_run"] is False and report["prune"] is False
    assert report["changes"]["clients"] == {
        "created": ["eventcatalog-admin", "globoticket-web", "shoppingbasket"],
        "updated": [],
        "unchanged": [],
        "deleted": [],
    }
    assert set(report["client_secrets"]) == {"globoticket-web"}  # the others register keys
    assert Application.objects.count() == 3


def test_dry_run_changes_nothing_and_shows_no_secret(demo, tmp_path):
    new = {"client_id": "new", "name": "New", "client_type": "confidential"}
    document = dict(demo, clients=[*demo["clients"], new])
    path = write(tmp_path / "idp.json", document)
    before = configuration_rows()
    out = import_config(path, "--dry-run")
    assert out.startswith("Dry run: nothing was changed.")
    assert "clients: 1 created, 0 updated, 3 unchanged, 0 deleted\n  created: new\n" in out
    assert "client_secret" not in out
    assert configuration_rows() == before
    assert json.loads(import_config(path, "--dry-run", "--json"))["client_secrets"] == {}


def test_yaml_input_by_extension_or_flag(demo, tmp_path):
    yaml_text = export_text("--format", "yaml")
    (tmp_path / "idp.yaml").write_text(yaml_text)
    (tmp_path / "idp.conf").write_text(yaml_text)
    assert "apis: 0 created, 0 updated, 4 unchanged" in import_config(str(tmp_path / "idp.yaml"))
    assert "apis: 0 created, 0 updated, 4 unchanged" in import_config(str(tmp_path / "idp.conf"), "--format", "yaml")
    with pytest.raises(CommandError, match="Not valid JSON"):
        import_config(str(tmp_path / "idp.conf"))  # no extension to go by: JSON


def test_yaml_never_constructs_python_objects(demo, tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("version: 1\napis: !!python/object/apply:os.system ['echo pwned']\n")
    with pytest.raises(CommandError, match="Not valid YAML"):
        import_config(str(path))


def test_stdin(demo, monkeypatch):
    monkeypatch.setattr(sys, "stdin", StringIO(export_text()))
    assert "groups: 0 created, 0 updated, 3 unchanged" in import_config("-")


def test_an_invalid_file_exits_non_zero_naming_each_entry(demo, edited, tmp_path):
    document = edited()
    entry(document, "clients", "client_id", "globoticket-web")["scopes"].append("no.such.scope")
    path = write(tmp_path / "idp.json", document)
    before = configuration_rows()

    # (Through call_command: manage.py prints a CommandError on stderr and exits with its
    # returncode; run_from_argv would also close the test's database connection.)
    with pytest.raises(CommandError) as refused:
        import_config(path)

    assert refused.value.returncode == 1
    err = str(refused.value)
    assert "The configuration was not imported (nothing was changed):" in err
    assert "- client 'globoticket-web': unknown scope(s): no.such.scope." in err
    assert configuration_rows() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "Not valid JSON"),
        ("[]", "The configuration must be a mapping"),
        ('{"version": 1}', "Missing section(s): apis, identity_scopes, clients, exchange_policies, groups"),
    ],
)
def test_unreadable_files_are_command_errors(db, tmp_path, content, message):
    path = tmp_path / "idp.json"
    path.write_text(content)
    with pytest.raises(CommandError) as raised:
        import_config(str(path))
    assert message in str(raised.value)


def test_an_unwritable_output_is_a_command_error(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot write"):
        export_text("--output", str(tmp_path / "no" / "such" / "dir.json"))


def test_a_missing_file_is_a_command_error(db, tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        import_config(str(tmp_path / "nothing.json"))


def test_a_valid_file_exits_zero(demo, tmp_path):
    path = write(tmp_path / "idp.json", demo)
    assert "clients: 0 created, 0 updated, 3 unchanged, 0 deleted" in import_config(path)  # no CommandError


def test_each_import_writes_one_audit_event_with_the_counts(demo, edited, tmp_path):
    document = edited()
    entry(document, "apis", "audience", "discount")["name"] = "Discounts"
    import_config(write(tmp_path / "idp.json", document), "--prune")
    import_config(write(tmp_path / "idp.json", document))
    import_config(write(tmp_path / "idp.json", document), "--dry-run")  # changes nothing: no event

    first, second = AuditEvent.objects.filter(event_type="config.imported").order_by("pk")
    assert first.outcome == second.outcome == "granted"
    assert first.details["prune"] is True
    assert first.details["counts"]["apis"] == {"created": 0, "updated": 1, "unchanged": 3, "deleted": 0}
    assert second.details["counts"]["apis"] == {"created": 0, "updated": 0, "unchanged": 4, "deleted": 0}
    assert "secret" not in json.dumps(first.details)
