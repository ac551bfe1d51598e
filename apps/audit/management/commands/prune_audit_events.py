"""``manage.py prune_audit_events [--dry-run]``: delete the audit events older than
``IDP["AUDIT_RETENTION_DAYS"]`` (the only way events are ever deleted), in batches, and record
that it was done (an ``audit.pruned`` event). Run it daily, as clear_expired_tokens is."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from apps.audit import services


class Command(BaseCommand):
    help = "Delete audit events older than IDP['AUDIT_RETENTION_DAYS'] days."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="Count the events that would go; delete nothing.")
        parser.add_argument("--batch-size", type=int, default=1000, help="Events deleted per transaction.")

    def handle(self, *args: Any, dry_run: bool, batch_size: int, **options: Any) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be 1 or more.")
        cutoff = services.prune_cutoff()
        if dry_run:
            count = services.prunable(cutoff).count()
            self.stdout.write(f"{count} audit event(s) created before {cutoff.isoformat()} would be deleted.")
            return
        deleted = services.prune(cutoff=cutoff, batch_size=batch_size)
        self.stdout.write(f"Deleted {deleted} audit event(s) created before {cutoff.isoformat()}.")
