"""Tokens issued per hour, counted so that the count outlives the tokens (the dashboard's).

Counting rows of ``oauth_accesstoken`` misses what revocation, ``clear_expired_tokens`` and
self-contained tokens (APIs that store none) took away. So the token endpoint counts each
token when it issues it, here:

- :func:`token_issued` adds one to this process's pending count for (hour, grant type,
  audience): a lock and a dict update, no I/O, no SQL statement in the request
  (about 1 µs; docs/operations.md has the measurement).
- :func:`flush` adds every pending count to the ``ops_tokencount`` table in one UPSERT
  (``count = count + excluded.count``), so several processes' counts add up and survive
  restarts. Rows are written in one order (sorted), so two processes flushing at once
  on PostgreSQL take the rows' locks in the same order and cannot deadlock.
- Only the processes that serve HTTP flush (idp/wsgi.py calls :func:`flush_in_background`):
  a daemon thread flushes every :data:`FLUSH_SECONDS`, on its own database connection, never
  on a request's thread, and once more when the process exits (``atexit``). A crash
  (SIGKILL, out of memory) loses at most the last :data:`FLUSH_SECONDS` of that process's
  counts. A flush the database refuses keeps its counts pending for the next one.

Why not Redis ``INCR``: a round trip per token on the hottest request, Redis is optional
here (and an LRU-evicting cache may drop keys), and the table already sums processes with
one statement per process every few seconds.
"""

import atexit
import logging
import os
import threading
import time
from collections.abc import Sequence
from contextlib import nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from apps.ops.models import TokenCount
from idp.sql import column, table

logger = logging.getLogger(__name__)

# The most a crash can lose, and how stale the dashboard can be.
FLUSH_SECONDS = 5.0
# Hours kept in the table: the dashboard shows 24; a week lets operators compare by hand.
KEEP = timedelta(days=7)
# Rows per UPSERT: 4 parameters each stays under SQLite's oldest limit of 999 variables.
ROWS_PER_STATEMENT = 200
SECONDS_PER_HOUR = 3600

# (hour as seconds since the epoch // 3600, grant type, audience) -> tokens not yet flushed
Key = tuple[int, str, str]
_pending: dict[Key, int] = {}
_lock = threading.Lock()
_background = False  # set by flush_in_background(): this process serves and flushes
_flusher: threading.Thread | None = None
_interval = FLUSH_SECONDS
_stop = threading.Event()
_pruned_hour = 0  # the hour this process last pruned old hours in


def token_issued(*, grant: str, audience: Sequence[str]) -> None:
    """Count one access token issued with ``grant`` for ``audience``."""
    key = (int(time.time()) // SECONDS_PER_HOUR, grant, ",".join(sorted(audience))[:255])
    with _lock:
        _pending[key] = _pending.get(key, 0) + 1
    if _background and _flusher is None:
        _start_flusher()


def pending() -> dict[Key, int]:
    """This process's counts not yet in the table (a copy)."""
    with _lock:
        return dict(_pending)


def flush() -> int:
    """Add this process's pending counts to the table; returns how many (hour, grant,
    audience) rows it wrote. If the database refuses, the counts stay pending."""
    global _pending
    with _lock:
        counts, _pending = _pending, {}
    if not counts:
        return 0
    rows = sorted(counts.items())
    try:
        # Inside a transaction (a test's), a savepoint keeps a refused statement from
        # breaking it; outside one, each statement is its own transaction.
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
            for start in range(0, len(rows), ROWS_PER_STATEMENT):
                _upsert(rows[start : start + ROWS_PER_STATEMENT])
            _prune_once_an_hour()
    except Exception:
        with _lock:
            for key, count in counts.items():
                _pending[key] = _pending.get(key, 0) + count
        logger.warning("Token counts not flushed; kept for the next flush.", exc_info=True)
        return 0
    return len(rows)


def flush_in_background(interval: float = FLUSH_SECONDS) -> None:
    """Flush every ``interval`` seconds from a daemon thread, started in each process (a
    gunicorn worker forked after this call too) when it counts its first token, and at exit."""
    global _background, _interval
    _background, _interval = True, interval
    _stop.clear()
    atexit.register(stop_flushing)


def stop_flushing() -> None:
    """Stop the background thread and flush what is pending (at exit)."""
    global _background, _flusher
    _background = False
    _stop.set()
    if _flusher is not None:
        _flusher.join(timeout=_interval + 1)
        _flusher = None
    flush()


def _start_flusher() -> None:
    global _flusher
    with _lock:
        if _flusher is not None:
            return
        _flusher = threading.Thread(target=_flush_every_interval, name="token-counts", daemon=True)
    _flusher.start()


def _flush_every_interval() -> None:
    while not _stop.wait(_interval):
        # The thread's own connection, kept or replaced as a request's would be
        # (CONN_MAX_AGE, health checks): a database restart costs one failed flush. Nothing
        # may end the thread: counts would wait in memory until the process exits.
        try:
            close_old_connections()
        except Exception:
            logger.warning("Token counts: the flusher's connection could not be renewed.", exc_info=True)
        flush()
    close_old_connections()


def _forget_parent_state() -> None:
    """In a forked child: the parent's pending counts are the parent's to flush, and its
    thread did not come along."""
    global _pending, _flusher, _lock
    _pending, _flusher, _lock = {}, None, threading.Lock()


os.register_at_fork(after_in_child=_forget_parent_state)


def _upsert(rows: list[tuple[Key, int]]) -> None:
    hour, grant, audience, count = (column(TokenCount, name) for name in ("hour", "grant_type", "audience", "count"))
    name, values = table(TokenCount), ", ".join(["(%s, %s, %s, %s)"] * len(rows))
    # ON CONFLICT ... DO UPDATE: PostgreSQL 9.5+ and SQLite 3.24+; adds, never overwrites.
    sql = (
        f"INSERT INTO {name} ({hour}, {grant}, {audience}, {count}) VALUES {values} "  # noqa: S608 - names only
        f"ON CONFLICT ({hour}, {grant}, {audience}) DO UPDATE SET {count} = {name}.{count} + excluded.{count}"
    )
    params: list[Any] = []
    for (hour_number, grant_type, aud), n in rows:
        start = datetime.fromtimestamp(hour_number * SECONDS_PER_HOUR, tz=UTC)
        params += [connection.ops.adapt_datetimefield_value(start), grant_type, aud, n]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def _prune_once_an_hour() -> None:
    """Delete hours older than :data:`KEEP`, at most once an hour per process."""
    global _pruned_hour
    hour = int(time.time()) // SECONDS_PER_HOUR
    if hour == _pruned_hour:
        return
    TokenCount.objects.filter(hour__lt=timezone.now() - KEEP).delete()
    _pruned_hour = hour
