"""Development only: issue an access token for a user without the browser, to try APIs and
token exchange from the command line. Refuses to run unless DEBUG is on."""

import json

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.core.management.base import BaseCommand, CommandError

from apps.oauth.models import Application
from apps.protocol.errors import OAuth2Error
from apps.tokens.issuance import issue_user_token


class Command(BaseCommand):
    help = "DEBUG only: issue an access token for --user to --client with --scope, as if the user had consented."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--user", required=True)
        parser.add_argument("--client", required=True, help="client_id")
        parser.add_argument("--scope", action="append", required=True, dest="scopes")
        parser.add_argument("--resource", action="append", default=[], dest="resources")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **options) -> None:
        if not settings.DEBUG:
            raise CommandError("issue_token is for development only (DEBUG=1): it skips login and consent.")
        try:
            user = get_user_model().objects.get_by_natural_key(options["user"])
            client = Application.objects.get(client_id=options["client"])
            issued = issue_user_token(
                client=client, user=user, scopes=options["scopes"], resource_uris=options["resources"]
            )
        except ObjectDoesNotExist as exc:
            raise CommandError(str(exc)) from exc
        except OAuth2Error as exc:
            raise CommandError(f"{exc.error}: {exc.description}") from exc
        if options["json"]:
            self.stdout.write(json.dumps({"access_token": issued.token, "claims": issued.claims}, indent=2))
        else:
            self.stdout.write(issued.token)
