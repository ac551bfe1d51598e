"""The configuration is checked at start-up (idp/checks.py): each bad shape gets its own id,
and the project's own settings get none."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from idp import checks
from idp.conf import DEFAULTS

ROOT = Path(__file__).resolve().parent.parent


def check_ids() -> list[str]:
    """The ids of every message the project's configuration checks give, in order."""
    return [message.id for message in run_checks(tags=[checks.TAG])]


@pytest.fixture
def idp(settings):
    """Sets IDP keys over the test settings, deriving DOT's issuer as the settings do, so that
    each test sees only the message it provokes."""

    def configure(**values: Any) -> None:
        settings.IDP = {**settings.IDP, **values}
        issuer = settings.IDP.get("ISSUER", DEFAULTS["ISSUER"])
        settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": issuer}

    return configure


def test_the_test_settings_pass_every_check():
    assert [message for message in run_checks() if message.is_serious()] == []


def test_manage_py_check_is_clean():
    out = StringIO()
    call_command("check", stdout=out)
    assert "System check identified no issues" in out.getvalue()


def test_manage_py_check_stops_on_a_configuration_error(idp):
    idp(RATE_LIMTS={"client": (1, 60)})
    with pytest.raises(SystemCheckError, match=r"idp\.E001"):
        call_command("check", stdout=StringIO())


# --- idp.E001: unknown keys -------------------------------------------------------------------


def test_a_misspelt_key_is_an_error_that_suggests_the_right_one(idp):
    idp(RATE_LIMTS={"client": (1, 60)})
    [message] = run_checks(tags=[checks.TAG])
    assert message.id == "idp.E001"
    assert message.msg.startswith('IDP["RATE_LIMTS"] is not a setting')
    assert message.hint == "Did you mean 'RATE_LIMITS'?"


def test_idp_that_is_not_a_dict_is_an_error(settings):
    settings.IDP = [("ISSUER", "https://idp.test")]
    assert "idp.E001" in check_ids()


# --- idp.E002: types and ranges ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("DEFAULT_ACCESS_TOKEN_LIFETIME", 0),
        ("DEFAULT_ACCESS_TOKEN_LIFETIME", -600),
        ("DEFAULT_ACCESS_TOKEN_LIFETIME", "600"),
        ("DEFAULT_ACCESS_TOKEN_LIFETIME", True),
        ("DEFAULT_ACCESS_TOKEN_LIFETIME", 24 * 3600 + 1),  # beyond any token's longest life
        ("SIGNING_KEY_CACHE_SECONDS", -1),
        ("CLIENT_CONFIG_MAX_AGE_SECONDS", 1.5),
        ("JWKS_MAX_AGE_SECONDS", None),
        ("CONSENT_LIFETIME_DAYS", 0),
        ("REMEMBER_ME_DAYS", "14"),
        ("METRICS_ENABLED", 1),
        ("METRICS_ALLOW_UNAUTHENTICATED", "false"),
        ("METRICS_TOKEN", None),
        ("METRICS_TOKEN", "s3cret!pw"),  # not RFC 6750 token characters: every scrape would be a 400
        ("METRICS_TOKEN", "two words"),
        ("RATE_LIMITING", "yes"),
        ("TRUSTED_PROXY_COUNT", -1),
        ("TRUSTED_PROXY_COUNT", "1"),
        ("SERVICE_ENDPOINTS", "oauth2_provider:token"),
        ("SERVICE_ENDPOINTS", ["oauth2_provider:token", 1]),
        ("TRUST_DOMAIN", None),
        ("TRUST_DOMAIN", " shop.example"),  # would never equal a request's audience
        ("TRUST_DOMAIN", "shop\nexample"),
        ("TRUST_DOMAIN", "x" * 256),
    ],
)
def test_a_value_of_the_wrong_type_or_range_is_an_error_naming_it(idp, key, value):
    idp(**{key: value})
    [message] = run_checks(tags=[checks.TAG])
    assert message.id == "idp.E002"
    assert message.msg.startswith(f'IDP["{key}"] is {value!r}: it must be ')


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("SIGNING_KEY_CACHE_SECONDS", 0),  # reload every time: meaningful for caches
        ("CLIENT_CONFIG_MAX_AGE_SECONDS", 0),
        ("JWKS_MAX_AGE_SECONDS", 0),
        ("DEFAULT_ACCESS_TOKEN_LIFETIME", 24 * 3600),
        ("TRUSTED_PROXY_COUNT", 0),
        ("TRUSTED_PROXY_COUNT", 2),
        ("METRICS_ENABLED", True),
        ("METRICS_TOKEN", "a-token"),
        ("SERVICE_ENDPOINTS", ("oauth2_provider:token", "jwks")),
        ("SERVICE_ENDPOINTS", []),
        ("TRUST_DOMAIN", ""),  # the issuer
        ("TRUST_DOMAIN", "shop.example"),
        ("TRUST_DOMAIN", "https://shop.example"),
    ],
)
def test_values_in_range_pass(idp, key, value):
    idp(**{key: value})
    assert check_ids() == []


@pytest.mark.parametrize("key", sorted(DEFAULTS))
def test_every_known_key_is_checked(idp, key):
    idp(**{key: object()})
    assert check_ids(), f"IDP[{key!r}] = object() passed every check"


# --- idp.E003: rate limits ---------------------------------------------------------------------

GOOD_LIMITS = {
    "client": (6000, 60),
    "address_failures": (300, 60),
    "login": (30, 60),
    "login_username": (10, 60),
    "account_mail": (5, 3600),
}


def test_rate_limits_as_lists_pass(idp):
    # Settings read from JSON have lists, not tuples; the middleware unpacks either.
    idp(RATE_LIMITS={name: list(pair) for name, pair in GOOD_LIMITS.items()})
    assert check_ids() == []


@pytest.mark.parametrize(
    "limits",
    [
        [("client", (6000, 60))],
        {**GOOD_LIMITS, "logins": (30, 60)},  # unknown name
        {name: pair for name, pair in GOOD_LIMITS.items() if name != "login"},  # the middleware would KeyError
        {**GOOD_LIMITS, "client": (0, 60)},
        {**GOOD_LIMITS, "client": (6000, 0)},
        {**GOOD_LIMITS, "client": (6000,)},
        {**GOOD_LIMITS, "client": (6000, 60, 1)},
        {**GOOD_LIMITS, "client": "6000/60"},
        {**GOOD_LIMITS, "client": (True, 60)},
        {**GOOD_LIMITS, "client": (6000.0, 60)},
    ],
)
def test_a_bad_rate_limit_is_an_error(idp, limits):
    idp(RATE_LIMITS=limits)
    assert check_ids() == ["idp.E003"]


def test_a_bad_rate_limit_is_named_with_its_value(idp):
    idp(RATE_LIMITS={**GOOD_LIMITS, "login_username": (10, -60)})
    [message] = run_checks(tags=[checks.TAG])
    assert message.msg.startswith('IDP["RATE_LIMITS"]["login_username"] is (10, -60): ')


# --- idp.E004 / idp.E005: signing --------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["RS256", "ES256"])
def test_the_algorithms_the_idp_signs_with_pass(idp, algorithm):
    idp(DEFAULT_SIGNING_ALGORITHM=algorithm)
    assert check_ids() == []


@pytest.mark.parametrize("algorithm", ["HS256", "rs256", "none", "PS256", None])
def test_another_default_signing_algorithm_is_an_error(idp, algorithm):
    idp(DEFAULT_SIGNING_ALGORITHM=algorithm)
    assert check_ids() == ["idp.E004"]


@pytest.mark.parametrize("algorithm", ["HS256", "none", None])
def test_another_transaction_token_algorithm_is_an_error(idp, algorithm):
    idp(TRANSACTION_TOKEN_SIGNING_ALGORITHM=algorithm)
    [message] = run_checks(tags=[checks.TAG])
    assert message.id == "idp.E004"
    assert message.msg.startswith(f'IDP["TRANSACTION_TOKEN_SIGNING_ALGORITHM"] is {algorithm!r}: ')


@pytest.mark.parametrize("size", [1024, 2047, "2048", True, 2048.0])
def test_an_rsa_key_below_2048_bits_is_an_error(idp, size):
    idp(RSA_KEY_SIZE=size)
    assert check_ids() == ["idp.E005"]


@pytest.mark.parametrize("size", [2048, 3072, 4096])
def test_rsa_keys_of_2048_bits_or_more_pass(idp, size):
    idp(RSA_KEY_SIZE=size)
    assert check_ids() == []


# --- idp.E010 - idp.E013: the issuer -----------------------------------------------------------


@pytest.mark.parametrize(
    "issuer",
    [
        "https://idp.example.com",
        "https://idp.example.com:8443",
        "https://example.com/idp",  # an IdP mounted under a path
        "http://127.0.0.1:8000",
        "http://127.9.8.7",  # all of 127.0.0.0/8 is loopback
        "http://[::1]:8000",
        "http://localhost:8000",
    ],
)
def test_an_https_or_loopback_issuer_passes(idp, issuer):
    idp(ISSUER=issuer)
    assert check_ids() == []


@pytest.mark.parametrize(
    "issuer",
    [
        "idp.example.com",
        "//idp.example.com",
        "ftp://idp.example.com",
        "https://",
        "https://idp.example.com?tenant=1",
        "https://idp.example.com?",
        "https://idp.example.com#top",
        "https://user:secret@idp.example.com",
        "https://idp.example.com:99999",
        "",
        42,
    ],
)
def test_an_issuer_that_is_no_absolute_url_is_an_error(idp, issuer):
    idp(ISSUER=issuer)
    assert check_ids() == ["idp.E010"]


@pytest.mark.parametrize(
    "issuer",
    ["http://idp.example.com", "http://10.0.0.1:8000", "http://128.0.0.1", "http://localhost.example.com"],
)
def test_a_plain_http_issuer_is_an_error_outside_debug(idp, issuer):
    idp(ISSUER=issuer)
    assert check_ids() == ["idp.E011"]


def test_a_plain_http_issuer_is_allowed_in_debug(idp, settings):
    settings.DEBUG = True
    idp(ISSUER="http://idp.dev.example.com:8000")
    assert check_ids() == []


@pytest.mark.parametrize("issuer", ["https://idp.example.com/", "https://example.com/idp/"])
def test_an_issuer_with_a_trailing_slash_is_an_error(idp, issuer):
    idp(ISSUER=issuer)
    [message] = run_checks(tags=[checks.TAG])
    assert message.id == "idp.E012"
    assert repr(issuer.rstrip("/")) in message.hint


@pytest.mark.parametrize("dots", ["https://other.test", "https://idp.test/", ""])
def test_dots_issuer_set_apart_from_ours_is_an_error(settings, dots):
    settings.OAUTH2_PROVIDER = {**settings.OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": dots}
    [message] = run_checks(tags=[checks.TAG])
    assert message.id == "idp.E013"
    assert f"is {dots!r} but IDP[\"ISSUER\"] is 'https://idp.test'" in message.msg


def test_dots_issuer_left_out_is_an_error(settings):
    # DOT would then take the issuer of authorization responses from the Host header.
    settings.OAUTH2_PROVIDER = {k: v for k, v in settings.OAUTH2_PROVIDER.items() if k != "OIDC_ISS_ENDPOINT"}
    assert check_ids() == ["idp.E013"]


# --- idp.E020: service endpoints ---------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "oauth2_provider:tokens",  # a typo
        "token",  # without its namespace
        "admin:auth_user_change",  # a URL that takes an argument
    ],
)
def test_a_service_endpoint_that_does_not_resolve_is_an_error_naming_it(idp, name):
    idp(SERVICE_ENDPOINTS=[*DEFAULTS["SERVICE_ENDPOINTS"], name])
    [message] = run_checks(tags=[checks.TAG])
    assert message.id == "idp.E020"
    assert repr(name) in message.msg


# --- idp.E030: middleware order ----------------------------------------------------------------


def moved(middleware: list[str], path: str, *, after: str) -> list[str]:
    """``middleware`` with ``path`` taken out and put back right after ``after``."""
    rest = [m for m in middleware if m != path]
    return [*rest[: rest.index(after) + 1], path, *rest[rest.index(after) + 1 :]]


@pytest.mark.parametrize(
    ("path", "after", "earlier", "later"),
    [
        # The service-endpoint bypass behind the browser middleware it is meant to skip.
        (checks.SERVICE_ENDPOINTS, checks.CSRF, checks.SERVICE_ENDPOINTS, checks.SESSION),
        (checks.LOCALE, checks.RATE_LIMIT, checks.SERVICE_ENDPOINTS, checks.LOCALE),
        (checks.RATE_LIMIT, checks.SERVICE_ENDPOINTS, checks.RATE_LIMIT, checks.SERVICE_ENDPOINTS),
        (checks.SECURITY, checks.SERVICE_ENDPOINTS, checks.SECURITY, checks.SERVICE_ENDPOINTS),
        (checks.REQUEST_ID, checks.RATE_LIMIT, checks.REQUEST_ID, checks.RATE_LIMIT),
        (checks.SESSION, checks.AUTHENTICATION, checks.SESSION, checks.AUTHENTICATION),
        (checks.AXES, checks.MESSAGES, "django.middleware.clickjacking.XFrameOptionsMiddleware", checks.AXES),
    ],
)
def test_middleware_in_the_wrong_order_is_an_error_naming_both(settings, path, after, earlier, later):
    settings.MIDDLEWARE = moved(settings.MIDDLEWARE, path, after=after)
    messages = run_checks(tags=[checks.TAG])
    assert {message.id for message in messages} == {"idp.E030"}
    assert f"MIDDLEWARE: {earlier!r} must come before {later!r}" in [m.msg.split(" (")[0] for m in messages]


def test_the_order_rules_name_middleware_the_project_installs(settings):
    # A rule applies only when both middleware are installed: one that names a moved or
    # renamed class would pass silently.
    named = {path for rule in checks.MIDDLEWARE_ORDER for path in rule[:2]} | {checks.AXES}
    assert named - set(settings.MIDDLEWARE) == set()


def test_middleware_left_out_is_no_order_error(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m not in {checks.RATE_LIMIT, checks.SERVICE_ENDPOINTS}]
    assert check_ids() == []


# --- ops.W001 stays ----------------------------------------------------------------------------


def test_metrics_without_a_token_is_still_a_warning(idp):
    idp(METRICS_ENABLED=True, METRICS_TOKEN="")
    assert [message.id for message in run_checks()] == ["ops.W001"]


# --- the project's settings modules, as processes start them -----------------------------------


def manage_py_check(settings_module: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DATABASE_URL", "REDIS_URL", "IDP_ISSUER"}}
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env={**clean, "DJANGO_SETTINGS_MODULE": settings_module, "SECRET_KEY": "x" * 50, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_base_settings_with_a_loopback_issuer_pass():
    result = manage_py_check("idp.settings.base", IDP_ISSUER="http://127.0.0.1:8000")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_base_settings_refuse_a_plain_http_issuer_outside_debug():
    result = manage_py_check("idp.settings.base", IDP_ISSUER="http://idp.example.com")
    assert result.returncode == 1
    assert "(idp.E011) IDP[\"ISSUER\"] (IDP_ISSUER) is 'http://idp.example.com'" in result.stderr


def test_demo_settings_pass():
    result = manage_py_check("demo.settings", DEMO_SERVICE="shoppingbasket")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
