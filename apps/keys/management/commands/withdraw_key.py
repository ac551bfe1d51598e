from django.core.management.base import BaseCommand, CommandError

from apps.keys.services import withdraw_key


class Command(BaseCommand):
    help = (
        "Unpublish a retired signing key at once (a leaked key): the tokens it signed are refused "
        "within SIGNING_KEY_CACHE_SECONDS. Rotate the key out first with rotate_keys."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "kid", help="The key's kid (the admin's Signing keys list shows it); after -- if it begins with -."
        )

    def handle(self, *args, **options) -> None:
        try:
            key = withdraw_key(options["kid"])
        except ValueError as error:
            raise CommandError(str(error)) from error
        self.stdout.write(
            f"{key.algorithm} key {key.kid} withdrawn: no longer published; every process refuses its tokens"
            " once its cached key set expires (SIGNING_KEY_CACHE_SECONDS)."
        )
