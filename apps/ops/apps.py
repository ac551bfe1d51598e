from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "apps.ops"
    label = "ops"
    verbose_name = "Operations (health, metrics, logs)"

    def ready(self) -> None:
        from apps.ops import checks, receivers  # noqa: F401 - registers the checks and receivers
        from idp import checks as project_checks  # noqa: F401 - the whole project's configuration (idp/checks.py)
