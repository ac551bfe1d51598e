"""Statements of the token endpoint's hot path, built once per process from model metadata.

The ORM compiles its SQL on every call, which costs more than the statement takes to run.
The few statements /o/token/ runs on every request are written here once instead, with
table and column names taken from the models (so they follow the schema) and every value
passed as a parameter.
"""

from contextlib import nullcontext
from functools import cache

from django.db import connection, models, transaction


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[models.Model], name: str) -> str:
    # Callers name concrete columns. get_field's type also covers reverse relations and generic
    # foreign keys, which have none; an isinstance check would add work to this hot-path module.
    return connection.ops.quote_name(model._meta.get_field(name).column)  # type: ignore[union-attr, arg-type]


@cache
def _columns(model: type[models.Model]) -> tuple[models.Field, ...]:
    return tuple(field for field in model._meta.concrete_fields if not field.primary_key)


@cache
def _insert_sql(model: type[models.Model], vendor: str) -> str:
    fields = _columns(model)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {table(model)} ({columns}) VALUES ({placeholders})"  # noqa: S608 - names only


def _params(obj: models.Model) -> list:
    return [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in _columns(type(obj))]


def insert_row(obj: models.Model) -> None:
    """Insert ``obj`` as a new row, as ``obj.save()`` would: each column computed by its field
    (``pre_save``: auto_now, DOT's token checksum; ``get_db_prep_save``: JSON, UUID and
    datetime adaptation per database). No signals are sent and the new primary key is not
    read back: only for rows nothing else refers to yet."""
    with connection.cursor() as cursor:
        cursor.execute(_insert_sql(type(obj), connection.vendor), _params(obj))


@cache
def _insert_all_sql(models_: tuple[type[models.Model], ...]) -> str:
    """PostgreSQL: several INSERTs as one statement (data-modifying WITH clauses), which is
    atomic by itself: one round trip instead of an INSERT each and a COMMIT."""
    *first, last = models_
    clauses = ", ".join(f"row{i} AS ({_insert_sql(model, 'postgresql')})" for i, model in enumerate(first))
    return f"WITH {clauses} {_insert_sql(last, 'postgresql')}"


def insert_rows(*objs: models.Model) -> None:
    """Insert several new rows all together or not at all, as :func:`insert_row` does one
    (an exchanged token and its audit event). Raises IntegrityError with nothing written."""
    if len(objs) == 1:
        return insert_row(objs[0])
    if connection.vendor != "postgresql":
        with transaction.atomic():
            for obj in objs:
                insert_row(obj)
        return None
    params = [param for obj in objs for param in _params(obj)]
    sql = _insert_all_sql(tuple(type(obj) for obj in objs))
    # Inside a transaction (a test's, or a caller's), a savepoint keeps a refused statement
    # from breaking it; outside one, the statement is its own transaction.
    with transaction.atomic() if connection.in_atomic_block else nullcontext(), connection.cursor() as cursor:
        cursor.execute(sql, params)
    return None
