"""apps/protocol/replay.py: one-time JWT ids, in the database or in Redis."""

import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from apps.protocol import replay
from apps.protocol.models import UsedJwtId

pytestmark = pytest.mark.django_db


def later(seconds: int = 60):
    return timezone.now() + timedelta(seconds=seconds)


# --- the database ------------------------------------------------------------------------------


def test_an_id_is_accepted_once():
    jti = uuid.uuid4().hex
    assert replay.first_use(kind="client_assertion", issuer="svc", jti=jti, expires=later()) is True
    assert replay.first_use(kind="client_assertion", issuer="svc", jti=jti, expires=later()) is False
    assert UsedJwtId.objects.count() == 1


def test_ids_are_kept_apart_by_issuer_and_kind():
    jti = uuid.uuid4().hex
    assert replay.first_use(kind="client_assertion", issuer="a", jti=jti, expires=later())
    assert replay.first_use(kind="client_assertion", issuer="b", jti=jti, expires=later())
    assert replay.first_use(kind="dpop", issuer="a", jti=jti, expires=later())
    assert replay.first_use(kind="client_assertion", issuer="a", jti=jti, expires=later()) is False


def test_the_stored_key_is_a_fixed_length_digest_whatever_the_id():
    assert replay.first_use(kind="client_assertion", issuer="svc", jti="x" * 10_000, expires=later())
    (row,) = UsedJwtId.objects.all()
    assert len(row.key) == 64
    assert "x" not in row.key


def test_the_row_expires_with_the_jwt_and_forget_expired_deletes_only_expired_rows():
    expires = later(120)
    replay.first_use(kind="client_assertion", issuer="svc", jti="live", expires=expires)
    replay.first_use(kind="client_assertion", issuer="svc", jti="old", expires=timezone.now() - timedelta(seconds=1))

    assert replay.forget_expired() == 1

    (row,) = UsedJwtId.objects.all()
    assert row.expires == expires
    # Until expiry the live one is still refused; an expired one is forgotten.
    assert replay.first_use(kind="client_assertion", issuer="svc", jti="live", expires=expires) is False
    assert replay.forget_expired(now=expires + timedelta(seconds=1)) == 1
    assert not UsedJwtId.objects.exists()


# --- Redis -------------------------------------------------------------------------------------


@pytest.fixture
def redis(settings):
    pytest.importorskip("django_redis")
    settings.REDIS_URL = "redis://127.0.0.1:6379/15"
    settings.CACHES = {"default": {"BACKEND": "django_redis.cache.RedisCache", "LOCATION": settings.REDIS_URL}}
    try:
        cache.set("replay-test", 1, timeout=5)
    except Exception as exc:  # noqa: BLE001 (any connection error)
        pytest.skip(f"no Redis at 127.0.0.1:6379 ({exc})")
    return cache


def test_with_redis_an_id_is_accepted_once_and_kept_only_until_expiry(redis):
    jti = uuid.uuid4().hex

    assert replay.first_use(kind="client_assertion", issuer="svc", jti=jti, expires=later(45)) is True
    assert replay.first_use(kind="client_assertion", issuer="svc", jti=jti, expires=later(45)) is False

    assert not UsedJwtId.objects.exists()
    (key,) = [key for key in redis.keys(replay.CACHE_PREFIX + "*") if key == replay.CACHE_PREFIX + _digest(jti)]
    assert 40 <= redis.ttl(key) <= 45
    redis.delete(key)


def test_with_redis_an_id_past_its_expiry_is_kept_a_second_at_least(redis):
    jti = uuid.uuid4().hex
    assert replay.first_use(kind="client_assertion", issuer="svc", jti=jti, expires=timezone.now())
    key = replay.CACHE_PREFIX + _digest(jti)
    assert redis.ttl(key) == 1
    redis.delete(key)


def test_when_redis_does_not_answer_the_database_remembers(settings):
    pytest.importorskip("django_redis")
    # A port nothing listens on, with the production option that turns errors into None.
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    jti = uuid.uuid4().hex

    assert replay.first_use(kind="client_assertion", issuer="svc", jti=jti, expires=later()) is True
    assert replay.first_use(kind="client_assertion", issuer="svc", jti=jti, expires=later()) is False
    assert UsedJwtId.objects.count() == 1


def test_an_id_used_while_redis_was_down_is_refused_once_redis_is_back(settings, redis):
    jti = uuid.uuid4().hex
    redis_settings = (settings.REDIS_URL, settings.CACHES)
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": settings.REDIS_URL,
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
    assert replay.first_use(kind="client_assertion", issuer="svc", jti=jti, expires=later()) is True

    settings.REDIS_URL, settings.CACHES = redis_settings  # Redis answers again
    assert replay.first_use(kind="client_assertion", issuer="svc", jti=jti, expires=later()) is False
    cache.delete(replay.CACHE_PREFIX + _digest(jti))


def _digest(jti: str) -> str:
    return replay._key("client_assertion", "svc", jti)
