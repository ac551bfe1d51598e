"""python manage.py create_client --name N --grant G [--grant G2] --scope S [--scope S2]
[--redirect-uri U] [--resource R] [--client-id ID] [--json]   (contract in DESIGN.md: keep it
stable; the client id is made from the name unless --client-id chooses it)"""

import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.clients.services import save_client
from apps.oauth.models import GrantType


class Command(BaseCommand):
    help = "Create an OAuth client and print its credentials (the secret is shown only now)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--grant", action="append", required=True, choices=GrantType.values, dest="grants")
        parser.add_argument("--scope", action="append", default=[], dest="scopes")
        parser.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
        parser.add_argument("--resource", help="Audience of the API resource this client acts as.")
        parser.add_argument(
            "--client-id",
            help="The client id (default: made from the name, e.g. 'shopping-basket'). It cannot change later.",
        )
        parser.add_argument("--json", action="store_true", help="Print the credentials as JSON.")

    def handle(self, *args, **options) -> None:
        try:
            credentials = save_client(
                name=options["name"],
                grant_types=options["grants"],
                scopes=options["scopes"],
                redirect_uris=options["redirect_uris"],
                resource=options["resource"],
                client_id=options["client_id"],
                new=True,  # never reconfigures (nor gives a new secret to) an existing client
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        data = {"name": options["name"], **credentials.as_dict()}
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        for key, value in data.items():
            self.stdout.write(f"{key}: {' '.join(value) if isinstance(value, list) else value}")
        self.stdout.write("Store the client secret now: it is not shown again.")
