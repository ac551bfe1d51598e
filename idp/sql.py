"""Statements of the token endpoint's hot path, built once per process from model metadata.

The ORM compiles its SQL on every call, which costs more than the statement takes to run.
The few statements /o/token/ runs on every request are written here once instead, with
table and column names taken from the models (so they follow the schema) and every value
passed as a parameter.
"""

from functools import cache

from django.db import connection, models


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[models.Model], name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


@cache
def _columns(model: type[models.Model]) -> tuple[models.Field, ...]:
    return tuple(field for field in model._meta.concrete_fields if not field.primary_key)


@cache
def _insert_sql(model: type[models.Model], vendor: str) -> str:
    fields = _columns(model)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {table(model)} ({columns}) VALUES ({placeholders})"  # noqa: S608 - names only


def insert_row(obj: models.Model) -> None:
    """Insert ``obj`` as a new row, as ``obj.save()`` would: each column computed by its field
    (``pre_save``: auto_now, DOT's token checksum; ``get_db_prep_save``: JSON, UUID and
    datetime adaptation per database). No signals are sent and the new primary key is not
    read back: only for rows nothing else refers to yet."""
    model = type(obj)
    params = [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in _columns(model)]
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(model, connection.vendor), params)
