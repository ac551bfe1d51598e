"""The management API's own API resource, as data (STYLE.md 6): audience ``idp-admin`` with
scopes ``idp.admin.read`` and ``idp.admin.write``. Created if missing, never overwritten; an
operator grants the scopes to an automation client (client credentials)."""

from django.db import migrations

AUDIENCE = "idp-admin"
SCOPES = {
    "idp.admin.read": "Read the IdP's configuration and audit trail (management API).",
    "idp.admin.write": "Change the IdP's configuration (management API).",
}


def create_admin_resource(apps, schema_editor):
    ApiResource = apps.get_model("resources", "ApiResource")
    ApiScope = apps.get_model("resources", "ApiScope")
    resource, _created = ApiResource.objects.get_or_create(
        audience=AUDIENCE,
        defaults={"name": "IdP management API", "resource_uri": "urn:idp:admin", "access_token_lifetime": 300},
    )
    for name, description in SCOPES.items():
        ApiScope.objects.get_or_create(name=name, defaults={"resource": resource, "description": description})


class Migration(migrations.Migration):
    dependencies = [("resources", "0002_store_tokens")]

    # Reversing keeps the rows: operators may have granted these scopes to clients.
    operations = [migrations.RunPython(create_admin_resource, migrations.RunPython.noop)]
