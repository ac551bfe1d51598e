from django.apps import AppConfig


class OAuthConfig(AppConfig):
    name = "apps.oauth"
    label = "oauth"
    verbose_name = "OAuth clients, tokens and keys"

    def ready(self) -> None:
        from apps.oauth.services.client_config import connect_signals

        connect_signals()
