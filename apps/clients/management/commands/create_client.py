"""python manage.py create_client --name N --grant G [--grant G2] --scope S [--scope S2]
[--redirect-uri U] [--resource R] [--client-id ID] [--auth METHOD] [--jwks FILE | --jwks-uri URL]
[--json]   (contract in DESIGN.md: keep it stable; the client id is made from the name unless
--client-id chooses it)"""

import json
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.clients.services import save_client
from apps.oauth.models import GrantType

SECRET_METHODS = ("client_secret_basic", "client_secret_post")
PRIVATE_KEY_JWT = "private_key_jwt"


class Command(BaseCommand):
    help = (
        "Create an OAuth client and print its credentials (the secret is shown only now). "
        "With --auth private_key_jwt the client authenticates with assertions signed by its private key: "
        "give its public keys (--jwks FILE or --jwks-uri URL); no secret is made, and client_secret is "
        "printed as null in --json output ('client_secret: none' otherwise). With a secret method and "
        "--jwks/--jwks-uri the client gets both, which is how a service moves from its secret to its keys."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True)
        parser.add_argument("--grant", action="append", required=True, choices=GrantType.values, dest="grants")
        parser.add_argument("--scope", action="append", default=[], dest="scopes")
        parser.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
        parser.add_argument("--resource", help="Audience of the API resource this client acts as.")
        parser.add_argument(
            "--client-id",
            help="The client id (default: made from the name, e.g. 'shopping-basket'). It cannot change later.",
        )
        parser.add_argument(
            "--auth",
            choices=[*SECRET_METHODS, PRIVATE_KEY_JWT],
            default="client_secret_basic",
            help=(
                "How the client authenticates: with a secret (client_secret_basic, the default, or "
                "client_secret_post: either way of sending it works), or private_key_jwt: signed "
                "assertions (RFC 7523), no secret."
            ),
        )
        keys = parser.add_mutually_exclusive_group()
        keys.add_argument("--jwks", metavar="FILE", help="A JWKS JSON file of the client's public keys.")
        keys.add_argument("--jwks-uri", metavar="URL", default="", help="Where the client publishes its JWKS (https).")
        parser.add_argument("--json", action="store_true", help="Print the credentials as JSON.")

    def handle(self, *args: Any, **options: Any) -> None:
        jwks = _read_jwks(options["jwks"]) if options["jwks"] else None
        if options["auth"] == PRIVATE_KEY_JWT and jwks is None and not options["jwks_uri"]:
            raise CommandError("--auth private_key_jwt needs the client's public keys: --jwks FILE or --jwks-uri URL.")
        try:
            credentials = save_client(
                name=options["name"],
                grant_types=options["grants"],
                scopes=options["scopes"],
                redirect_uris=options["redirect_uris"],
                resource=options["resource"],
                client_id=options["client_id"],
                new=True,  # never reconfigures (nor gives a new secret to) an existing client
                jwks=jwks,
                jwks_uri=options["jwks_uri"],
                with_secret=options["auth"] != PRIVATE_KEY_JWT,
            )
        except ValidationError as exc:
            raise CommandError("; ".join(_messages(exc))) from exc
        data = {"name": options["name"], **credentials.as_dict()}
        if options["json"]:
            self.stdout.write(json.dumps(data, indent=2))
            return
        for key, value in data.items():
            shown = " ".join(value) if isinstance(value, list) else "none" if value is None else value
            self.stdout.write(f"{key}: {shown}")
        if credentials.client_secret:
            self.stdout.write("Store the client secret now: it is not shown again.")
        else:
            self.stdout.write("No secret: the client authenticates with assertions signed by its private key.")


def _read_jwks(path: str) -> dict[str, Any]:
    """The JWKS file as JSON; what its keys hold is checked with the client (Application.clean())."""
    try:
        text = Path(path).read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"--jwks: cannot read {path}: {exc}") from None
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise CommandError(f"--jwks: {path} is not JSON ({exc}).") from None
    if not isinstance(document, dict):
        raise CommandError(f'--jwks: {path} is not a JWKS (a JSON object with a "keys" list).')
    return document


def _messages(exc: ValidationError) -> list[str]:
    """Each message, prefixed with the option it is about when the model names a field."""
    if not hasattr(exc, "error_dict"):
        return exc.messages
    options = {"jwks": "--jwks", "jwks_uri": "--jwks-uri", "redirect_uris": "--redirect-uri", "resource": "--resource"}
    return [
        f"{options[field]}: {message}" if field in options else message
        for field, errors in exc.error_dict.items()
        for error in errors
        for message in error.messages
    ]
