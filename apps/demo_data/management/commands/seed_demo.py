import json

from django.core.management.base import BaseCommand

from apps.demo_data.services import seed_demo


class Command(BaseCommand):
    help = (
        "Create or refresh the GloboTicket demo and print its credentials (fresh on every run). With --json, "
        "client_keys holds the private keys the demo's services sign their token requests with (private_key_jwt)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the credentials as one JSON object.")

    def handle(self, *args, **options) -> None:
        demo = seed_demo()
        if options["json"]:
            self.stdout.write(json.dumps(demo, indent=2))
            return
        self.stdout.write(f"Issuer: {demo['issuer']}")
        for name, client in demo["clients"].items():
            self.stdout.write(f"client {name}: id={client['client_id']} secret={client['client_secret']}")
        for name, user in demo["users"].items():
            self.stdout.write(f"user {name}: password={user['password']}")
        for name, key in demo["client_keys"].items():
            # The private keys only with --json (what the demo's services read): a terminal is
            # no place for them. Their public halves are registered with the clients.
            self.stdout.write(f"client {name}: signs with key {key['key_id']} ({key['algorithm']}, private_key_jwt)")
