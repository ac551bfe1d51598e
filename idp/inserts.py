"""INSERT one row with a statement built once per model (the token endpoint's hot path).

``Model.save()`` compiles its INSERT on every call, which costs more than the statement
itself takes to run. :func:`insert_row` computes each column exactly as ``save()`` would
(``pre_save``: auto_now, DOT's token checksum; ``get_db_prep_save``: JSON, UUID and
datetime adaptation per database) but reuses the SQL text. No signals are sent, and the
new row's primary key is not read back: use it only for rows nothing else refers to yet.
"""

from functools import cache

from django.db import connection, models


@cache
def _columns(model: type[models.Model]) -> tuple[models.Field, ...]:
    return tuple(field for field in model._meta.concrete_fields if not field.primary_key)


@cache
def _insert_sql(model: type[models.Model], vendor: str) -> str:
    quote = connection.ops.quote_name
    fields = _columns(model)
    columns = ", ".join(quote(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    # Only names from the model's metadata are formatted in; every value is a parameter.
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({placeholders})"  # noqa: S608


def insert_row(obj: models.Model) -> None:
    """Insert ``obj`` as a new row, as ``obj.save()`` would, minus signals and the pk."""
    model = type(obj)
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in _columns(model)]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, connection.vendor), params)
