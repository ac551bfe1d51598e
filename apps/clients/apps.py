from django.apps import AppConfig


class ClientsConfig(AppConfig):
    name = "apps.clients"
    label = "clients"
    verbose_name = "Clients"

    def ready(self) -> None:
        # Saves through the ORM or the admin invalidate every process's client cache.
        from apps.clients.config_cache import connect_signals

        connect_signals()
