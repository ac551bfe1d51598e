from django.core.management.base import BaseCommand

from apps.keys.services import rotate_keys
from apps.resources.models import SigningAlgorithm


class Command(BaseCommand):
    help = (
        "Rotate the token signing keys: the published 'next' key starts signing, the active key "
        "retires (still published until its tokens expire) and a new 'next' key is created."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--algorithm", action="append", choices=SigningAlgorithm.values, dest="algorithms")

    def handle(self, *args, **options) -> None:
        for key in rotate_keys(algorithms=options["algorithms"]):
            self.stdout.write(f"{key.algorithm}: active key is now {key.kid}")
