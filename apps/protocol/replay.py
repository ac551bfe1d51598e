"""One-time JWT ids: a client assertion (RFC 7523 section 3, item 7) or a DPoP proof (RFC 9449
section 11.1) is accepted once, and its ``jti`` remembered until the JWT would expire anyway.

With Redis configured (``REDIS_URL``) the ids live there (``SET NX`` with the JWT's remaining
lifetime: every process sees them, and they expire by themselves; an id new to Redis is also
looked up in the database, which holds those seen during an outage); otherwise, or while Redis
does not answer, in the database (:class:`~apps.protocol.models.UsedJwtId`, whose primary key
makes a second INSERT fail; ``clear_expired_tokens`` deletes expired rows). Either way the
check and the remembering are one atomic step, so two concurrent requests with the same id
cannot both pass.
"""

import hashlib
import json
import math
from datetime import datetime

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.protocol.models import UsedJwtId

CACHE_PREFIX = "jti:"


def _key(kind: str, issuer: str, jti: str) -> str:
    # A digest: fixed length whatever was sent, and one issuer's ids never collide with another's.
    # JSON keeps the three apart whatever characters they hold.
    return hashlib.sha256(json.dumps([kind, issuer, jti]).encode()).hexdigest()


def first_use(*, kind: str, issuer: str, jti: str, expires: datetime) -> bool:
    """Remember ``jti`` (of ``issuer``, for ``kind`` of JWT) until ``expires``: True the first
    time, False for a replay. ``kind`` keeps e.g. a DPoP proof's id apart from an assertion's."""
    key = _key(kind, issuer, jti)
    if settings.REDIS_URL:
        seconds = max(1, math.ceil((expires - timezone.now()).total_seconds()))
        added = cache.add(CACHE_PREFIX + key, 1, timeout=seconds)
        if added is not None:
            # New to Redis, but perhaps used while Redis was down (then the database has it):
            # one primary-key read, so an outage does not reopen the ids it saw.
            return bool(added) and not UsedJwtId.objects.filter(pk=key, expires__gt=timezone.now()).exists()
        # None: Redis did not answer (the cache ignores connection errors): the database
        # remembers meanwhile. What it cannot see is an id first used before the outage
        # (then only in Redis) and replayed during it: within the JWT's few minutes of life.
    try:
        with transaction.atomic():
            UsedJwtId.objects.create(key=key, expires=expires)
    except IntegrityError:
        return False
    return True


def forget_expired(now: datetime | None = None) -> int:
    """Delete the remembered ids whose JWTs have expired (they would be refused as expired
    anyway); the number deleted."""
    deleted, _ = UsedJwtId.objects.filter(expires__lte=now or timezone.now()).delete()
    return deleted
