from django.apps import AppConfig


class AuthorizeConfig(AppConfig):
    name = "apps.authorize"
    label = "authorize"
    verbose_name = "Authorization endpoint"
