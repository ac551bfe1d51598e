"""Fixed-window hit counters: shared in Redis when the cache is Redis, else per process.

A Redis outage must not stop token issuance: the counters then fall back to this process's
memory (each process enforcing the same limits on its own traffic) and try Redis again after
``RETRY_REDIS_AFTER_SECONDS``, so an outage costs one failed round trip per process per retry
interval, not one per request."""

import logging
import threading
import time
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)

RETRY_REDIS_AFTER_SECONDS = 5.0


class LocalCounters:
    """This process's counters. Old windows are dropped as new ones start, per window length:
    window numbers of limits with different lengths (60 s, 3600 s) cannot be compared."""

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._windows: dict[int, dict[int, set[str]]] = {}  # expires_in -> window index -> keys
        self._lock = threading.Lock()

    def hit(self, key: str, window_index: int, expires_in: int) -> int:
        with self._lock:
            windows = self._windows.setdefault(expires_in, {})
            for stale in [index for index in windows if index < window_index - 1]:
                for old_key in windows.pop(stale):
                    self._counts.pop(old_key, None)
            windows.setdefault(window_index, set()).add(key)
            self._counts[key] = self._counts.get(key, 0) + 1
            return self._counts[key]


class SharedCounters:
    """Redis INCR + EXPIRE in one round trip, falling back to :class:`LocalCounters`."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._local = LocalCounters()
        self._redis_down_until = 0.0

    def hit(self, key: str, window_index: int, expires_in: int) -> int:
        if time.monotonic() >= self._redis_down_until:
            try:
                pipe = self._client.pipeline(transaction=False)
                pipe.incr(key)
                pipe.expire(key, expires_in)
                return int(pipe.execute()[0])
            except Exception:  # redis.RedisError, and socket errors it does not wrap
                self._redis_down_until = time.monotonic() + RETRY_REDIS_AFTER_SECONDS
                logger.warning("rate limits: Redis unreachable, counting in this process for now", exc_info=True)
        return self._local.hit(key, window_index, expires_in)


_counters: LocalCounters | SharedCounters | None = None
_lock = threading.Lock()


def counters() -> LocalCounters | SharedCounters:
    """The process's counters, chosen once from the cache configuration."""
    global _counters
    if _counters is None:
        with _lock:
            if _counters is None:
                _counters = _make_counters()
    return _counters


def _make_counters() -> LocalCounters | SharedCounters:
    backend = settings.CACHES["default"]["BACKEND"]
    if isinstance(backend, str) and backend.startswith("django_redis."):
        from django_redis import get_redis_connection  # type: ignore[import-untyped]  # ships no type hints

        return SharedCounters(get_redis_connection("default"))
    return LocalCounters()


def reset_counters() -> None:
    """Forget every count and the backend choice (tests, settings changes)."""
    global _counters
    with _lock:
        _counters = None
