"""python manage.py import_config FILE [--format json|yaml] [--dry-run] [--prune] [--json]"""

import json
import sys
from dataclasses import asdict
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.configuration.formats import FORMATS, format_for, loads
from apps.configuration.services import ConfigurationError, Report, import_configuration


class Command(BaseCommand):
    help = (
        "Create or update the configuration a file describes (as export_config writes it), all or nothing. "
        "New confidential clients get a secret, printed only now, unless they register public keys "
        "(jwks or jwks_uri: they authenticate with private_key_jwt); existing clients keep theirs."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", help="The configuration file, or - for standard input.")
        parser.add_argument("--format", choices=FORMATS, help="json or yaml; else as the file's extension (JSON).")
        parser.add_argument("--dry-run", action="store_true", help="Report what would change; change nothing.")
        parser.add_argument(
            "--prune",
            action="store_true",
            help=(
                "Also delete the APIs, scopes, clients, trusted issuers, exchange and transaction-token policies "
                "the file does not name (without a trusted_issuers or transaction_token_policies section, "
                "those are left alone)."
            ),
        )
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, **options) -> None:
        path = options["file"]
        try:
            text = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        try:
            data = loads(text, format_for(None if path == "-" else path, options["format"]))
            report = import_configuration(data, dry_run=options["dry_run"], prune=options["prune"])
        except ConfigurationError as exc:
            lines = "\n".join(f"- {message}" for message in exc.messages)
            raise CommandError(f"The configuration was not imported (nothing was changed):\n{lines}") from exc
        if options["json"]:
            self.stdout.write(json.dumps(as_dict(report), indent=2))
        else:
            self.write_report(report)

    def write_report(self, report: Report) -> None:
        if report.dry_run:
            self.stdout.write("Dry run: nothing was changed. The import would do this:")
        for kind, changes in report.changes.items():
            counts = ", ".join(f"{count} {outcome}" for outcome, count in changes.counts().items())
            self.stdout.write(f"{kind}: {counts}")
            for outcome in ("created", "updated", "deleted"):
                if keys := getattr(changes, outcome):
                    self.stdout.write(f"  {outcome}: {', '.join(keys)}")
        for client_id, secret in report.client_secrets.items():
            self.stdout.write(f"client {client_id}: client_secret={secret}")
        if report.client_secrets:
            self.stdout.write("Store the client secrets now: they are not shown again.")


def as_dict(report: Report) -> dict:
    return {
        "dry_run": report.dry_run,
        "prune": report.prune,
        "changes": {kind: asdict(changes) for kind, changes in report.changes.items()},
        "client_secrets": report.client_secrets,
    }
