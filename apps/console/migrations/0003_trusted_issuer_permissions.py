"""Trusted issuers and their mappings in the predefined operator groups (docs/operators.md),
as exchange policies are: the Client manager runs them, the Auditor and the Security admin
read them. (Which mappings a Client manager may make is narrowed in the console:
apps/console/issuer_mappings.py.) Only these permissions are added (or, going back, taken
away): whatever else an installation changed in its groups stays as it is."""

from django.db import migrations

MODELS = [("oauth", "trustedissuer"), ("oauth", "issuermapping")]
GROUPS = {
    "Auditor": ["view"],
    "Client manager": ["add", "change", "delete", "view"],
    "Security admin": ["view"],
}


def _permissions(apps, actions):
    Permission = apps.get_model("auth", "Permission")
    return Permission.objects.filter(
        content_type__app_label="oauth",
        codename__in=[f"{action}_{model}" for _app_label, model in MODELS for action in actions],
    )


def add_permissions(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations ran; the groups need them now.
    app_config = apps.get_app_config("oauth")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.add(*_permissions(apps, GROUPS[group.name]))


def remove_permissions(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for group in Group.objects.filter(name__in=GROUPS):
        group.permissions.remove(*_permissions(apps, GROUPS[group.name]))


class Migration(migrations.Migration):
    dependencies = [
        ("console", "0002_transaction_token_policy_permissions"),
        ("oauth", "0012_trusted_issuers"),
    ]

    operations = [migrations.RunPython(add_permissions, remove_permissions)]
