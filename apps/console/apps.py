from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operators' console: who may see and do what in the admin, and the operator groups."""

    name = "apps.console"
    label = "console"
    verbose_name = "Operator console"

    def ready(self) -> None:
        from apps.console import checks  # noqa: F401  (registers the system check)
