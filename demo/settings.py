"""Django settings shared by the GloboTicket demo services (one process per service); the
demo's own configuration (which service, the IdP, the other services) is demo/config.py."""

import os
from pathlib import Path
from typing import Any

from demo.config import IDP_URL, SERVICE, TRUST_DOMAIN, URLS

SECRET_KEY = os.environ.get("SECRET_KEY", f"demo-only-{SERVICE}-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "demo.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    # A request with a Txn-Token header gets it checked (403 invalid_txn_token) before any view.
    "apps.resource_server.transaction.TransactionTokenMiddleware",
]
# The demo keeps no database: baskets live in memory, the web session in a signed cookie.
DATABASES: dict[str, dict[str, Any]] = {}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
# The IdP shares the host (cookies ignore ports): keep the demo's cookies apart from its.
SESSION_COOKIE_NAME = "globoticket_session"
CSRF_COOKIE_NAME = "globoticket_csrf"
# The web front end's pages (demo/templates/demo/), with the IdP's look.
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": False,
    }
]
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
    # RFC 6750 bodies, and a step-up challenge relayed from downstream in this service's realm.
    "EXCEPTION_HANDLER": "apps.resource_server.bearer.exception_handler",
}
RESOURCE_SERVER = {
    "ISSUER": IDP_URL,
    "AUDIENCE": SERVICE,
    "JWKS_URI": f"{IDP_URL}/.well-known/jwks.json",
    "TRUST_DOMAIN": TRUST_DOMAIN,  # a Txn-Token's aud
    # The URL the other services call this one at: a DPoP proof's htu names it (the basket's
    # calls to the discount service), whatever Host header a proxy in between passes on.
    **({"URL": URLS[SERVICE]} if SERVICE in URLS else {}),
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
