from django.core.management.base import BaseCommand

from apps.keys.services import ensure_signing_keys


class Command(BaseCommand):
    help = (
        "Create the signing keys of a new installation (an active and a published next key per "
        "algorithm); keys that exist are left alone. Safe to run on every release."
    )

    def handle(self, *args, **options) -> None:
        for key in ensure_signing_keys():
            self.stdout.write(f"{key.algorithm}: active key {key.kid}")
