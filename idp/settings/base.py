"""Settings for the identity provider.

The environment is read here and only here (DESIGN.md, STYLE.md 7):

- ``DEBUG``         "1"/"true" turns on debug mode (never in production).
- ``SECRET_KEY``    required when DEBUG is off.
- ``DATABASE_URL``  e.g. ``postgres://user@host:5432/idp``; SQLite in ``var/`` by default.
- ``REDIS_URL``     optional shared cache (JWKS, signing keys, rate limits).
- ``IDP_ISSUER``    the ``iss`` of every token, e.g. ``https://idp.example.com``.
- ``IDP_TRUST_DOMAIN`` the ``aud`` of every transaction token; the issuer by default.
- ``ALLOWED_HOSTS`` comma-separated; defaults to loopback only.
- ``IDP_SIGNING_KEY_CACHE_SECONDS`` how long a process signs with the key it loaded (30).
- ``LOG_FORMAT``    ``json`` (one object per line) or ``text``; json unless DEBUG.
- ``METRICS_ENABLED``, ``METRICS_TOKEN``, ``METRICS_ALLOW_UNAUTHENTICATED``: /metrics
  (docs/operations.md).
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from idp.conf import DEFAULTS

BASE_DIR = Path(__file__).resolve().parent.parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "insecure-development-key-never-use-in-production"

ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h.strip()]

INSTALLED_APPS = [
    # django.contrib.admin, with the operator policy on every model admin (apps/console).
    "apps.console.admin_config.OperatorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files for the API explorer, served by us (no CDN)
    "oauth2_provider",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "apps.factors",
    "apps.accounts",
    "apps.resources",
    "apps.oauth",
    "apps.protocol",
    "apps.keys",
    "apps.clients",
    "apps.tokens",
    "apps.provider",
    "apps.grants",
    "apps.authorize",
    "apps.endpoints",
    "apps.demo_data",
    "apps.configuration",
    "apps.audit",
    "apps.consent",
    "apps.ops",
    "apps.management_api",
    "apps.ratelimit",
    "apps.console",
]

MIDDLEWARE = [
    # First, so that the request id and the timing cover every request, the service
    # endpoints too (the ServiceEndpointMiddleware below ends the chain early for those).
    "apps.ops.middleware.RequestIdMiddleware",
    "apps.ops.middleware.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Before the service endpoints are answered: per-client and per-address limits.
    "apps.ratelimit.middleware.RateLimitMiddleware",
    # The token, introspection and revocation endpoints and the JWKS stop here: what
    # follows is for browsers.
    "apps.endpoints.middleware.ServiceEndpointMiddleware",
    # Serves the admin's static files under gunicorn without a separate web server.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The people's pages in the browser's language (language cookie, Accept-Language); an
    # authorization request's ui_locales overrides it for its own pages (apps/accounts/languages.py).
    "django.middleware.locale.LocaleMiddleware",
    # The management API's messages stay English for programs, whatever Accept-Language says.
    "apps.management_api.middleware.EnglishApiMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # The signed-in session's row for the sessions page (last seen, at most every 5 minutes).
    "apps.accounts.middleware.SessionActivityMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "apps.accounts.middleware.SecurityHeadersMiddleware",
    # Last, as django-axes requires: turns a locked-out login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

# The management API's OpenAPI schema (apps/management_api; the demo services set their own).
REST_FRAMEWORK = {"DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema"}
# Its explorer at /api/admin/docs/: Swagger UI from drf-spectacular-sidecar's static files;
# no validator badge (it would load an image from swagger.io).
SPECTACULAR_SETTINGS = {
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
    # One name for the signing algorithms, on an API and on a key alike (drf_spectacular.W001
    # otherwise, which `check --deploy` counts).
    "ENUM_NAME_OVERRIDES": {"SigningAlgorithmEnum": "apps.resources.models.SigningAlgorithm"},
}

AUTHENTICATION_BACKENDS = [
    # First, so a locked-out username or address is refused before its password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]

# Lockout (django-axes): after AXES_FAILURE_LIMIT failed sign-ins of one username from one
# address, that pair is refused for the cool-off time, on /accounts/login/ and /admin/login/
# alike. Locking the pair (not the username, not the address) means a stranger cannot lock a
# user out everywhere, nor keep an operator out of the admin from the operator's own address.
# Guessing one username from many addresses is slowed by the per-username rate limit
# (RATE_LIMITS["login_username"], apps/ratelimit), and many usernames from one address by the
# per-address one ("login"); SECURITY.md explains the choice. Counters live in the database,
# shared by every process. Unknown usernames lock exactly like real ones.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "5"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "15")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
# A successful sign-in forgets that pair's failures (a user's own typos do not add up over
# days); it cannot wipe anyone else's, since every count belongs to one (username, address).
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "accounts/locked.html"
# The caller's address as the rate limits see it: behind BEHIND_TLS_PROXY, the one the proxy
# passed in X-Forwarded-For (idp/http.py), not the proxy's own.
AXES_CLIENT_IP_CALLABLE = "idp.http.client_address"
AXES_VERBOSE = False
# Lockout records are registered by apps/accounts/admin.py (read-only, with a permissioned unlock).
AXES_ENABLE_ADMIN = False
# The name an authenticator app shows beside the account (apps/factors/totp.py).
OTP_TOTP_ISSUER = "GloboTicket"

ROOT_URLCONF = "idp.urls"
WSGI_APPLICATION = "idp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'var' / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        # A health check costs one extra round trip per request; without it, a connection
        # broken by a database restart fails one request per process and is then replaced.
        conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", default=True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # An unreachable database must fail fast (503 from every endpoint, /readyz included),
    # not hang each worker thread on the driver's default of no timeout.
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", int(os.environ.get("DB_CONNECT_TIMEOUT", "5"))
    )
    # The token endpoint's statements are prepared after 5 runs on a connection (idp/sql.py
    # hot_cursor; Django's own cursors bind on the client and never prepare). Django turns
    # psycopg's preparing off unless asked. A pooler that cannot carry prepared statements
    # (PgBouncer in transaction mode before 1.21, or 1.21+ without max_prepared_statements)
    # needs DB_PREPARED_STATEMENTS=0.
    DATABASES["default"]["OPTIONS"].setdefault(
        "prepare_threshold", 5 if env_bool("DB_PREPARED_STATEMENTS", default=True) else None
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several gunicorn workers write concurrently: WAL lets readers proceed, IMMEDIATE
    # transactions queue writers instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            # A cache outage must not take token issuance down with it.
            "OPTIONS": {"IGNORE_EXCEPTIONS": True, "SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

PASSWORD_HASHERS = [
    # Human passwords: slow on purpose.
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
    # Client secrets: 256 random bits, so a single keyed hash is enough (see apps/clients/secrets.py).
    "apps.clients.secrets.RandomSecretHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# The people's pages speak these (catalogues in locale/, updated as locale/README.md says);
# English when the browser asks for none of them. Our JSON answers are not translated; the
# admin shows what Django translates itself.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("nl", "Nederlands")]
LOCALE_PATHS = [BASE_DIR / "locale"]
# English dates as the pages always wrote them ("1 Dec 2026, 14:05"), not Django's US ones.
FORMAT_MODULE_PATH = ["idp.formats"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# ``collectstatic`` target (the Dockerfile sets it). Without it, WhiteNoise serves straight
# from the apps' static folders, so `gunicorn idp.wsgi` works from a checkout as it is.
STATIC_ROOT = os.environ.get("STATIC_ROOT") or None
WHITENOISE_USE_FINDERS = True

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/accounts/"

# Mail (password resets): SMTP when EMAIL_HOST is set, else each mail is written to the
# console (make run), never lost silently: docs/settings.md.
if os.environ.get("EMAIL_HOST"):
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_HOST = os.environ["EMAIL_HOST"]
    EMAIL_PORT = int(os.environ.get("EMAIL_PORT", "587"))
    EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", default=EMAIL_PORT == 587)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", default=EMAIL_PORT == 465)
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
EMAIL_TIMEOUT = 10
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "GloboTicket sign-in <no-reply@localhost>")
# A password-reset link works once (it is bound to the password it replaces) and this long.
PASSWORD_RESET_TIMEOUT = int(os.environ.get("PASSWORD_RESET_TIMEOUT", "3600"))

# Security headers and cookies. Outside DEBUG everything is HTTPS-only.
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=not DEBUG)
# Health probes and metric scrapes reach a pod over plain HTTP, past the TLS proxy: a
# redirect to https would fail them all. (Matched against the path without its "/".)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = 0 if DEBUG else int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=not DEBUG)
if env_bool("BEHIND_TLS_PROXY"):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# Our own settings, one namespaced dict (read through idp.conf.idp_settings).
IDP = {
    "ISSUER": os.environ.get("IDP_ISSUER", f"http://127.0.0.1:{os.environ.get('PORT', '8000')}"),
    "TRUST_DOMAIN": os.environ.get("IDP_TRUST_DOMAIN", "").strip(),
    "METRICS_ENABLED": env_bool("METRICS_ENABLED"),
    "METRICS_TOKEN": os.environ.get("METRICS_TOKEN", "").strip(),
    "METRICS_ALLOW_UNAUTHENTICATED": env_bool("METRICS_ALLOW_UNAUTHENTICATED"),
}


# Rate limits as "requests/seconds", e.g. RATE_LIMIT_CLIENT=6000/60 (defaults in idp/conf.py).
def rate_limit(variable: str) -> tuple[int, int]:
    """ "requests/seconds", both positive integers: refused at start-up, not on each request."""
    requests, _, seconds = os.environ[variable].partition("/")
    if not (requests.isdigit() and seconds.isdigit() and int(requests) > 0 and int(seconds) > 0):
        raise ImproperlyConfigured(f"{variable} must be requests/seconds, e.g. 6000/60.")
    return int(requests), int(seconds)


_rate_limits = {
    name: rate_limit(variable)
    for name, variable in (
        ("client", "RATE_LIMIT_CLIENT"),
        ("address_failures", "RATE_LIMIT_ADDRESS_FAILURES"),
        ("login", "RATE_LIMIT_LOGIN"),
        ("login_username", "RATE_LIMIT_LOGIN_USERNAME"),
        ("account_mail", "RATE_LIMIT_ACCOUNT_MAIL"),
    )
    if variable in os.environ
}
if _rate_limits:
    IDP["RATE_LIMITS"] = {**DEFAULTS["RATE_LIMITS"], **_rate_limits}
if os.environ.get("SELF_REGISTRATION") is not None:
    IDP["SELF_REGISTRATION"] = env_bool("SELF_REGISTRATION")
if os.environ.get("RATE_LIMITING") is not None:
    IDP["RATE_LIMITING"] = env_bool("RATE_LIMITING")
if env_bool("BEHIND_TLS_PROXY"):
    IDP["TRUSTED_PROXY_COUNT"] = 1
if "IDP_SIGNING_KEY_CACHE_SECONDS" in os.environ:
    # How soon every process signs with a rotated key (idp/conf.py); 30 s by default.
    IDP["SIGNING_KEY_CACHE_SECONDS"] = int(os.environ["IDP_SIGNING_KEY_CACHE_SECONDS"])

OAUTH2_PROVIDER_APPLICATION_MODEL = "oauth.Application"
OAUTH2_PROVIDER_ACCESS_TOKEN_MODEL = "oauth.AccessToken"
OAUTH2_PROVIDER_REFRESH_TOKEN_MODEL = "oauth.RefreshToken"
OAUTH2_PROVIDER_GRANT_MODEL = "oauth.Grant"
OAUTH2_PROVIDER_ID_TOKEN_MODEL = "oauth.IDToken"

OAUTH2_PROVIDER = {
    # DOT's seams: our server (grants), validator (policy + persistence), backend (request parsing).
    "OAUTH2_SERVER_CLASS": "apps.provider.server.Server",
    "OIDC_SERVER_CLASS": "apps.provider.server.Server",
    "OAUTH2_VALIDATOR_CLASS": "apps.provider.validators.OAuth2Validator",
    "OAUTH2_BACKEND_CLASS": "apps.provider.backends.OAuthLibCore",
    "SCOPES_BACKEND_CLASS": "apps.resources.scopes.DatabaseScopes",
    "CLIENT_SECRET_GENERATOR_CLASS": "apps.clients.secrets.ClientSecretGenerator",
    "CLIENT_SECRET_HASHER": "idp_secret_sha256",
    "OIDC_ENABLED": True,
    # The issuer DOT itself writes into RFC 9207 "iss" authorization-response parameters
    # (left empty, DOT would take it from the request's Host header). Derived from
    # IDP["ISSUER"], the one place the issuer is set; idp.E013 refuses a different value.
    "OIDC_ISS_ENDPOINT": IDP["ISSUER"],
    "OIDC_RP_INITIATED_LOGOUT_ENABLED": True,
    "OIDC_RP_INITIATED_LOGOUT_STRICT_REDIRECT_URIS": True,
    "OIDC_RP_INITIATED_LOGOUT_ALWAYS_PROMPT": False,
    # Our logout view revokes the client's tokens itself (apps/endpoints/views.py).
    "OIDC_RP_INITIATED_LOGOUT_DELETE_TOKENS": False,
    "PKCE_REQUIRED": True,
    "ROTATE_REFRESH_TOKEN": True,
    # Absolute refresh token lifetime; also lets `cleartokens` drop expired rows.
    "REFRESH_TOKEN_EXPIRE_SECONDS": 14 * 24 * 3600,
    "REFRESH_TOKEN_REUSE_PROTECTION": True,
    # https only; Application.get_allowed_schemes adds http for loopback hosts (RFC 8252 7.3).
    "ALLOWED_REDIRECT_URI_SCHEMES": ["https"],
    # RFC 9700: no implicit / password grants, S256 only, no access token in query strings,
    # iss in authorization responses, tokens stored only as checksums.
    "COMPLIANT_BCP_RFC9700_IMPLICIT_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PASSWORD_GRANT": True,
    "COMPLIANT_BCP_RFC9700_PKCE_METHOD": True,
    "COMPLIANT_BCP_RFC9700_ACCESS_TOKEN_TRANSPORT": True,
    "COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS": True,
    "COMPLIANT_BCP_RFC9700_TOKEN_STORAGE": True,
    "COMPLIANT_BCP_RFC9700_REFRESH_TOKEN": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_SCHEME": True,
    "COMPLIANT_BCP_RFC9700_REDIRECT_URI_MATCHING": True,
    "COMPLIANT_BCP_RFC9700_PKCE_REQUIRED": True,
    "APPLICATION_ADMIN_CLASS": "apps.console.admin.ApplicationAdmin",
    "ACCESS_TOKEN_ADMIN_CLASS": "apps.console.admin.AccessTokenAdmin",
    "REFRESH_TOKEN_ADMIN_CLASS": "apps.console.admin.RefreshTokenAdmin",
    "GRANT_ADMIN_CLASS": "apps.console.admin.GrantAdmin",
    "ID_TOKEN_ADMIN_CLASS": "apps.console.admin.IDTokenAdmin",
}

LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json").strip().lower()
if LOG_FORMAT not in {"json", "text"}:
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or text, not {LOG_FORMAT!r}.")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "apps.ops.logs.RequestIdFilter"},
        "redact_secrets": {"()": "apps.ops.logs.RedactSecretsFilter"},
    },
    "formatters": {
        "json": {"()": "apps.ops.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            # On the handler, not a logger: so they also see what other loggers propagate.
            "filters": ["request_id", "redact_secrets"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
    # Configured here so Django's default handlers for it (an unformatted second console in
    # DEBUG, mail to ADMINS, of whom there are none) give way: its records go to root's.
    "loggers": {"django": {"level": "INFO"}},
}
