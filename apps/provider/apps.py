from django.apps import AppConfig


class ProviderConfig(AppConfig):
    name = "apps.provider"
    label = "provider"
    verbose_name = "DOT integration"
