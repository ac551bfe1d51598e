"""A client as the token endpoint sees it: fresh credentials, cached configuration.

Every token request reads the client's secret, enabled flag and type (confidential or
public), together with the configuration generation (:class:`~apps.oauth.models.ConfigGeneration`), in one query.
What else a token request needs (the client's own API, its allowed scopes with their APIs,
its exchange and transaction-token policies) takes a few more queries, made only when the generation changed
since this process last loaded that client. Every save or delete of a client, API
resource, scope, exchange or transaction-token policy changes the generation (:func:`configuration_changed`),
so every process sees such a change on its next request. Writes that send no signals
(``QuerySet.update()``, raw SQL, data migrations) do not change it: those are picked up
within ``IDP["CLIENT_CONFIG_MAX_AGE_SECONDS"]``, after which a client's configuration is
reloaded anyway. The secret (and the previous one, during a rotation's grace period), the
enabled flag and the client type are never cached: a cached client whose type differs from
the stored one is reloaded.
"""

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from django.db import connection
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.oauth.models import Application, ConfigGeneration, ExchangePolicy, TransactionTokenPolicy
from apps.resources.models import ApiResource, ApiScope
from idp.conf import idp_settings
from idp.sql import column, first_read, table

GENERATION_ROW = 1
MAX_CACHED_CLIENTS = 10_000


@dataclass(frozen=True)
class ClientRecord:
    application: Application  # configuration as of ``generation``, shared by requests: read only
    client_secret: str  # read by this request
    is_active: bool  # read by this request
    client_type: str  # read by this request
    previous_client_secret: str  # read by this request; "" when there is none
    previous_secret_expires: datetime | None  # read by this request

    def previous_secret_accepted(self, now: datetime) -> bool:
        """Whether the secret a rotation replaced still authenticates: only until its grace
        period ends, judged by the expiry stored now, so every process refuses it at once."""
        return (
            bool(self.previous_client_secret)
            and self.previous_secret_expires is not None
            and now < (self.previous_secret_expires)
        )


_clients: dict[str, tuple[int, float, Application]] = {}  # client_id -> (generation, loaded at, client)
_lock = threading.Lock()


@cache
def _credentials_sql(vendor: str) -> str:
    """SELECT id, secret, enabled, type, previous secret and its expiry, generation for one
    client_id (the previous secret comes along: checking it costs no statement of its own)."""
    app, gen = Application, ConfigGeneration
    return (
        f"SELECT a.{column(app, 'id')}, a.{column(app, 'client_secret')}, a.{column(app, 'is_active')},"  # noqa: S608
        f" a.{column(app, 'client_type')}, a.{column(app, 'previous_client_secret')},"
        f" a.{column(app, 'previous_secret_expires')}, g.{column(gen, 'value')} FROM {table(app)} a"
        f" LEFT JOIN {table(gen)} g ON g.{column(gen, 'id')} = %s WHERE a.{column(app, 'client_id')} = %s"
    )


def _load(client_id: str) -> Application | None:
    application = Application.objects.filter(client_id=client_id).first()  # with its own API
    if application is not None:
        application.allowed_scope_objects()
        application.enabled_exchange_policies()
        application.enabled_transaction_token_policy()
    return application


def client_record(client_id: str) -> ClientRecord | None:
    """The client registered as ``client_id``, or None. One query while its configuration is
    unchanged; the secret, enabled flag and type are always the ones stored now."""
    row = first_read(_credentials_sql(connection.vendor), [GENERATION_ROW, client_id])
    if row is None:
        return None
    pk, client_secret, is_active, client_type, previous_secret, previous_expires, generation = row
    cached = _clients.get(client_id)
    now = time.monotonic()
    application: Application | None
    if (
        cached is not None
        and generation is not None
        and cached[0] == generation
        and now - cached[1] < idp_settings.CLIENT_CONFIG_MAX_AGE_SECONDS
        and cached[2].pk == pk
        and cached[2].client_type == client_type
    ):
        application = cached[2]
    else:
        application = _load(client_id)
        if application is None:  # deleted since the first query
            return None
        if generation is not None:
            with _lock:
                if len(_clients) >= MAX_CACHED_CLIENTS:
                    _clients.clear()
                _clients[client_id] = (generation, now, application)
    return ClientRecord(
        application=application,
        client_secret=client_secret,
        is_active=bool(is_active),
        client_type=client_type,
        previous_client_secret=previous_secret,
        previous_secret_expires=_as_datetime(previous_expires),
    )


def _as_datetime(value: datetime | str | None) -> datetime | None:
    """A datetime column as a raw cursor returns it: a datetime from PostgreSQL, text from
    SQLite (which Django writes in UTC when USE_TZ is on)."""
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(value)
    if parsed is None:
        return None
    return parsed if timezone.is_aware(parsed) else parsed.replace(tzinfo=UTC)


def forget_expired_previous_secret(record: ClientRecord) -> None:
    """Drop the hash of a previous secret whose grace period is over (it authenticates nothing
    any more). Conditional on the expiry read, so a rotation made meanwhile is kept; an update
    without signals, since no cached configuration holds the secret."""
    Application.objects.filter(pk=record.application.pk, previous_secret_expires=record.previous_secret_expires).update(
        previous_client_secret="", previous_secret_hint="", previous_secret_expires=None
    )


def clear_client_cache() -> None:
    with _lock:
        _clients.clear()


def configuration_changed(**kwargs: Any) -> None:
    """Signal receiver: a client, API, scope or policy changed. The new generation commits
    with the change (a rolled-back change leaves the old value in place)."""
    if kwargs.get("action", "post_").startswith("pre_"):
        return  # m2m_changed fires before and after; the change is only done after
    ConfigGeneration.objects.filter(pk=GENERATION_ROW).update(value=secrets.randbits(62))
    clear_client_cache()


def connect_signals() -> None:
    for model in (Application, ApiResource, ApiScope, ExchangePolicy, TransactionTokenPolicy):
        post_save.connect(configuration_changed, sender=model, dispatch_uid=f"config-save-{model.__name__}")
        post_delete.connect(configuration_changed, sender=model, dispatch_uid=f"config-delete-{model.__name__}")
    for through in (
        Application.allowed_scopes.through,
        ExchangePolicy.scopes.through,
        ExchangePolicy.subject_audiences.through,
        ExchangePolicy.trusted_issuers.through,
        TransactionTokenPolicy.scopes.through,
        TransactionTokenPolicy.subject_audiences.through,
    ):
        m2m_changed.connect(configuration_changed, sender=through, dispatch_uid=f"config-m2m-{through.__name__}")
