"""Fewer indexes to maintain on every token INSERT (measured by bench/token_bench.py).

- ``jti``: unique by construction (uuid4) and never looked up; its unique index is dropped.
- PostgreSQL only: Django adds a ``varchar_pattern_ops`` twin to the unique index of
  ``token_checksum`` for LIKE queries; the checksum is only ever matched exactly.
"""

import uuid

from django.db import migrations, models


def drop_checksum_like_index(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    table = apps.get_model("oauth", "AccessToken")._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE tablename = %s AND indexname LIKE %s",
            [table, f"{table}_token_checksum_%_like"],
        )
        for (name,) in cursor.fetchall():
            schema_editor.execute(f"DROP INDEX IF EXISTS {schema_editor.quote_name(name)}")


class Migration(migrations.Migration):
    dependencies = [
        ("oauth", "0002_config_generation"),
    ]

    operations = [
        migrations.AlterField(
            model_name="accesstoken",
            name="jti",
            field=models.UUIDField(default=uuid.uuid4, editable=False, verbose_name="JWT ID"),
        ),
        migrations.RunPython(drop_checksum_like_index, migrations.RunPython.noop),
    ]
