"""Configuration comes from the environment (checked in fresh interpreters)."""

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def settings_value(expression: str, **env: str) -> subprocess.CompletedProcess:
    names = {"DEBUG", "SECRET_KEY", "DATABASE_URL", "REDIS_URL", "DB_PREPARED_STATEMENTS"}
    clean = {k: v for k, v in os.environ.items() if k not in names}
    code = f"import idp.settings.base as s; print({expression})"
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={**clean, **env}, capture_output=True, text=True, timeout=60
    )


def test_secret_key_is_required_when_debug_is_off():
    result = settings_value("s.SECRET_KEY")
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_debug_runs_without_a_secret_key_on_sqlite():
    result = settings_value("s.DATABASES['default']['ENGINE'], s.CACHES['default']['BACKEND']", DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert "django.db.backends.sqlite3" in result.stdout
    assert "LocMemCache" in result.stdout


def test_database_url_redis_url_and_issuer():
    result = settings_value(
        "s.DATABASES['default']['ENGINE'], s.DATABASES['default']['NAME'], s.CACHES['default']['BACKEND'], "
        "s.IDP['ISSUER'], s.SESSION_COOKIE_SECURE",
        SECRET_KEY="x" * 50,
        DATABASE_URL="postgres://idp@db.internal:5432/idp",
        REDIS_URL="redis://cache.internal:6379/0",
        IDP_ISSUER="https://login.example.com",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "django.db.backends.postgresql idp django_redis.cache.RedisCache https://login.example.com True"
    )


def test_deploy_check_is_clean_with_production_settings():
    # DJANGO_ALLOW_ASYNC_UNSAFE: set for the browser tests in this process, never in deployment.
    dropped = {"DEBUG", "DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    clean = {k: v for k, v in os.environ.items() if k not in dropped}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env={**clean, "SECRET_KEY": secrets.token_urlsafe(50), "DJANGO_SETTINGS_MODULE": "idp.settings.base"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("value", ["6000", "6000/0", "0/60", "x/60", "-1/60"])
def test_a_malformed_rate_limit_is_refused_at_start_up(value):
    result = settings_value("s.IDP['RATE_LIMITS']", SECRET_KEY="x" * 50, RATE_LIMIT_CLIENT=value)
    assert result.returncode != 0
    assert "RATE_LIMIT_CLIENT must be requests/seconds" in result.stderr


def test_a_rate_limit_from_the_environment_replaces_only_its_own_default():
    result = settings_value(
        "s.IDP['RATE_LIMITS']", SECRET_KEY="x" * 50, RATE_LIMIT_LOGIN="10/30", RATE_LIMIT_LOGIN_USERNAME="5/600"
    )
    assert result.returncode == 0, result.stderr
    expected = {
        "client": (6000, 60),
        "address_failures": (300, 60),
        "login": (10, 30),
        "login_username": (5, 600),
        "account_mail": (5, 3600),
    }
    assert result.stdout.strip() == str(expected)


def test_prepared_statements_can_be_turned_off_for_a_pooler():
    """PgBouncer before 1.21 in transaction mode cannot carry them (idp/sql.py hot_cursor)."""
    expression = "s.DATABASES['default']['OPTIONS']['prepare_threshold']"
    database = {"SECRET_KEY": "x" * 50, "DATABASE_URL": "postgres://idp@db.internal:5432/idp"}
    assert settings_value(expression, **database).stdout.strip() == "5"
    assert settings_value(expression, **database, DB_PREPARED_STATEMENTS="0").stdout.strip() == "None"
