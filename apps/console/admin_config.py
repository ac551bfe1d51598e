from django.contrib.admin.apps import AdminConfig


class OperatorAdminConfig(AdminConfig):
    """django.contrib.admin with our site as ``admin.site`` (in INSTALLED_APPS in its place)."""

    default_site = "apps.console.site.OperatorAdminSite"
