from django.apps import AppConfig


class ManagementApiConfig(AppConfig):
    name = "apps.management_api"
    label = "management_api"
    verbose_name = "Management API"
