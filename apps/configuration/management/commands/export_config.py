"""python manage.py export_config [--format json|yaml] [--output FILE]"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from apps.configuration.formats import FORMATS, dumps, format_for
from apps.configuration.services import export_configuration


class Command(BaseCommand):
    help = (
        "Print the configuration (APIs, scopes, clients without secrets, trusted issuers with their mappings, "
        "exchange and transaction-token policies, groups) "
        "as JSON or YAML, sorted so that a diff shows exactly what changed."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--format", choices=FORMATS, help="json (the default) or yaml; else as the --output file's extension."
        )
        parser.add_argument("--output", help="Write to this file instead of standard output.")

    def handle(self, *args, **options) -> None:
        text = dumps(export_configuration(), format_for(options["output"], options["format"]))
        if options["output"]:
            try:
                Path(options["output"]).write_text(text, encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"Cannot write {options['output']}: {exc}") from exc
            return
        self.stdout.write(text, ending="")
