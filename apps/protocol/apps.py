from django.apps import AppConfig


class ProtocolConfig(AppConfig):
    name = "apps.protocol"
    label = "protocol"
    verbose_name = "OAuth protocol vocabulary"
