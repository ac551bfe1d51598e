"""Predefined operator groups (docs/operators.md). Frozen here as migrations are: a later
change to a group is a new migration."""

from django.db import migrations

CONFIGURATION = ["oauth.application", "oauth.exchangepolicy", "resources.apiresource", "resources.apiscope"]
EVERYTHING = [
    *CONFIGURATION,
    "auth.user",
    "auth.group",
    "oauth.accesstoken",
    "oauth.refreshtoken",
    "oauth.grant",
    "oauth.idtoken",
    "oauth.signingkey",
    "consent.consent",
    "audit.auditevent",
    "axes.accessattempt",
    "axes.accessfailurelog",
    "axes.accesslog",
]


def _view(labels):
    return [f"{label.split('.')[0]}.view_{label.split('.')[1]}" for label in labels]


GROUPS = {
    # Reads everything the console shows (never a secret: apps/console/policy.py), changes nothing.
    "Auditor": _view(EVERYTHING),
    # Runs clients, APIs, scopes and exchange policies; sees the tokens and audit trail they
    # produce; no users, no keys, no revocation.
    "Client manager": [
        *[f"{label.split('.')[0]}.{action}_{label.split('.')[1]}" for label in CONFIGURATION for action in ("add", "change", "delete")],
        *_view([*CONFIGURATION, "oauth.accesstoken", "oauth.refreshtoken", "oauth.idtoken", "consent.consent", "audit.auditevent"]),
    ],
    # Responds to incidents: revokes tokens and consents, rotates keys, unlocks and disables
    # accounts (privileges stay with superusers); changes no configuration.
    "Security admin": [
        *_view(EVERYTHING),
        "oauth.delete_accesstoken",
        "oauth.delete_refreshtoken",
        "consent.delete_consent",
        "oauth.rotate_signingkey",
        "axes.delete_accessattempt",
        "auth.change_user",
    ],
}


def create_groups(apps, schema_editor):
    from django.contrib.auth.management import create_permissions

    # Permissions are normally created after all migrations ran; these groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, granted in GROUPS.items():
        group, _ = Group.objects.get_or_create(name=name)
        for permission in granted:
            app_label, codename = permission.split(".")
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_groups(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=GROUPS).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("oauth", "0004_signingkey_rotate_permission"),
        ("resources", "0002_store_tokens"),
        ("consent", "0001_initial"),
        ("audit", "0001_initial"),
        ("axes", "0010_accessattemptexpiration"),
    ]

    operations = [migrations.RunPython(create_groups, remove_groups)]
