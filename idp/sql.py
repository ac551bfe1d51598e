"""Statements of the token endpoint's hot path, built once per process from model metadata.

The ORM compiles its SQL on every call, which costs more than the statement takes to run.
The few statements /o/token/ runs on every request are written here once instead, with
table and column names taken from the models (so they follow the schema) and every value
passed as a parameter.
"""

import logging
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache
from typing import Any

from django.db import InterfaceError, OperationalError, connection, models, transaction
from django.db.backends.utils import CursorWrapper
from django.utils import timezone
from oauth2_provider.models import ResourceJSONField

logger = logging.getLogger(__name__)


def table(model: type[models.Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def column(model: type[models.Model], name: str) -> str:
    # Callers name concrete columns. get_field's type also covers reverse relations and generic
    # foreign keys, which have none; an isinstance check would add work to this hot-path module.
    return connection.ops.quote_name(model._meta.get_field(name).column)  # type: ignore[union-attr, arg-type]


def first_read(sql: str, params: Sequence[Any]) -> tuple | None:
    """The first row of a read-only statement (it may run twice) that opens a request's use of
    the database (the client's row on /o/token/), or None.

    With health checks on (``DB_CONN_HEALTH_CHECKS``), Django pings a reused connection with
    ``SELECT 1`` before a request's first statement, so that a connection the database dropped
    (a restart, a failover) is replaced instead of failing the request: one round trip of three
    on every token request. Here the statement itself is the check: it runs without the ping,
    and only if it fails on a connection that turns out to be unusable is that connection
    closed and the statement run once more on a new one. The same outcome, paid for only when
    a connection was lost. Inside a transaction nothing can be re-run: Django's own check
    applies there."""
    db: Any = connection  # django-stubs do not know the health-check attributes (Django 4.1)
    retry = db.health_check_enabled and not db.health_check_done
    retry = retry and db.connection is not None and not db.in_atomic_block
    if retry:
        db.health_check_done = True  # this statement checks the connection
        try:
            return _fetch_one(sql, params)
        except (OperationalError, InterfaceError) as lost:
            if connection.is_usable():
                raise  # the statement failed, not the connection
            # Worth a line in the log: many at once mean a restart or a failover.
            logger.warning("Database connection lost (%s); reconnecting", lost)
            connection.close()
    return _fetch_one(sql, params)


def _fetch_one(sql: str, params: Sequence[Any]) -> tuple | None:
    with hot_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def hot_cursor() -> CursorWrapper:
    """A cursor for the statements every token request runs, used as ``connection.cursor()``
    is (the same error translation, health check and execute wrappers).

    On PostgreSQL it binds parameters on the server (psycopg's ``Cursor``), where Django's
    default ``ClientCursor`` quotes every value into the SQL text in Python: a token's INSERT
    has 19 parameters, and quoting them took a quarter of the INSERT's CPU in this process
    (bench/profile_token.py; 6% of a worker's busy time under load). psycopg then prepares a
    statement run 5 times on a connection, so PostgreSQL stops parsing and planning it;
    ``DB_PREPARED_STATEMENTS=0`` turns that off for a pooler that cannot carry prepared
    statements (PgBouncer before 1.21 in transaction mode). Everything else keeps Django's
    cursor: client-side binding is what its queries are built and tested for."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    server_binding_cursor, timestamptz_loader = _postgresql()
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    db: Any = connection
    if db.timezone != timestamptz_loader(db.connection).timezone:
        # Settings changed since the connection was made (tests): Django's cursor handles that.
        return connection.cursor()
    # What BaseDatabaseWrapper._cursor() and the backend's create_cursor() do, with the cursor
    # class swapped; the adapters (JSON, time zone) are the connection's, which it shares.
    with db.wrap_database_errors:
        return db._prepare_cursor(server_binding_cursor(db.connection))


@cache
def _postgresql() -> tuple[Callable[[Any], Any], Callable[[Any], Any]]:
    # Imported on first use: SQLite runs need no psycopg.
    import psycopg
    from psycopg.postgres import types
    from psycopg.pq import Format

    timestamptz = types["timestamptz"].oid
    return psycopg.Cursor, lambda conn: conn.adapters.get_loader(timestamptz, Format.TEXT)


@cache
def _columns(model: type[models.Model]) -> tuple[models.Field, ...]:
    return tuple(field for field in model._meta.concrete_fields if not field.primary_key)


@cache
def _insert_sql(model: type[models.Model], vendor: str) -> str:
    fields = _columns(model)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    placeholders = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {table(model)} ({columns}) VALUES ({placeholders})"  # noqa: S608 - names only


@dataclass(frozen=True)
class NewRow:
    """A new row as its columns' Python values, by attribute name (``user_id``, not ``user``),
    for the hot path: no model instance is built and no field method runs per value (about a
    third of a token request's CPU went there). A column left out takes its field's default;
    ``auto_now``/``auto_now_add`` columns take the time of the insert. The values must be what
    the fields hold (a ``str`` for a CharField, a primary key for a foreign key, an aware
    ``datetime``): they are adapted for the database as the fields would, nothing more."""

    model: type[models.Model]
    values: dict[str, Any]


Adapt = Callable[[Any], Any]


def _same(value: Any) -> Any:
    return value


def _adapter(field: models.Field) -> Adapt:
    """What ``field.get_db_prep_save`` does to a value of the field's own type, as one call,
    for the field types the hot path writes; any other field is asked itself."""
    ops, kind = connection.ops, type(field)
    if kind in (models.CharField, models.TextField) or isinstance(field, models.ForeignKey):
        return _same
    if kind is models.DateTimeField:
        adapt_datetime = ops.adapt_datetimefield_value
        return lambda value: None if value is None else adapt_datetime(value)
    if kind is models.UUIDField:
        if connection.features.has_native_uuid_field:
            return _same
        return lambda value: None if value is None else (value if isinstance(value, str) else value.hex)
    # DOT's ResourceJSONField only checks, before adapting as JSONField does, that the value is
    # a list of strings: the rows written here hold lists they built themselves.
    if kind in (models.JSONField, ResourceJSONField) and isinstance(field, models.JSONField):
        adapt_json, encoder = ops.adapt_json_value, field.encoder
        return lambda value: None if value is None else adapt_json(value, encoder)
    return lambda value: field.get_db_prep_save(value, connection)


@cache
def _plan(model: type[models.Model], vendor: str) -> tuple[tuple[str, Adapt, models.Field, bool], ...]:
    """Per column: its attribute name, its adapter, its field, and whether it is the insert's time."""
    return tuple((field.attname, _adapter(field), field, _stamped(field)) for field in _columns(model))


def _stamped(field: models.Field) -> bool:
    return bool(getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False))


def _row_params(row: NewRow) -> list:
    now = None
    params = []
    values = row.values
    for attname, adapt, field, stamped in _plan(row.model, connection.vendor):
        if stamped:
            now = now or timezone.now()
            value = now
        elif attname in values:
            value = values[attname]
        else:
            value = field.get_default()
        params.append(adapt(value))
    return params


def _params(obj: models.Model | NewRow) -> list:
    if isinstance(obj, NewRow):
        return _row_params(obj)
    return [field.get_db_prep_save(field.pre_save(obj, True), connection) for field in _columns(type(obj))]


def _model(obj: models.Model | NewRow) -> type[models.Model]:
    return obj.model if isinstance(obj, NewRow) else type(obj)


def insert_row(obj: models.Model | NewRow) -> None:
    """Insert ``obj`` as a new row, as ``obj.save()`` would: each column computed by its field
    (``pre_save``: auto_now, DOT's token checksum; ``get_db_prep_save``: JSON, UUID and
    datetime adaptation per database). No signals are sent and the new primary key is not
    read back: only for rows nothing else refers to yet."""
    with hot_cursor() as cursor:
        cursor.execute(_insert_sql(_model(obj), connection.vendor), _params(obj))


@cache
def _insert_all_sql(models_: tuple[type[models.Model], ...]) -> str:
    """PostgreSQL: several INSERTs as one statement (data-modifying WITH clauses), which is
    atomic by itself: one round trip instead of an INSERT each and a COMMIT."""
    *first, last = models_
    clauses = ", ".join(f"row{i} AS ({_insert_sql(model, 'postgresql')})" for i, model in enumerate(first))
    return f"WITH {clauses} {_insert_sql(last, 'postgresql')}"


def insert_rows(*objs: models.Model | NewRow) -> None:
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
    sql = _insert_all_sql(tuple(_model(obj) for obj in objs))
    # Inside a transaction (a test's, or a caller's), a savepoint keeps a refused statement
    # from breaking it; outside one, the statement is its own transaction.
    with transaction.atomic() if connection.in_atomic_block else nullcontext(), hot_cursor() as cursor:
        cursor.execute(sql, params)
    return None
