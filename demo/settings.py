"""Settings shared by the GloboTicket demo services (one process per service).

DEMO_SERVICE   eventcatalog | shoppingbasket | discount | web
IDP_URL        the IdP's issuer, e.g. http://127.0.0.1:8000
DEMO_URLS      JSON: {"eventcatalog": "http://127.0.0.1:8002", ...}
CLIENT_ID / CLIENT_SECRET   this service's client at the IdP (basket and web)
DEMO_CREDENTIALS_FILE       or: the JSON `seed_demo --json` wrote (docker-compose.yml)
"""

import json
import os

SERVICE = os.environ["DEMO_SERVICE"]
IDP_URL = os.environ.get("IDP_URL", "http://127.0.0.1:8000").rstrip("/")
URLS = json.loads(os.environ.get("DEMO_URLS", "{}"))
CLIENT_ID = os.environ.get("CLIENT_ID", "")
CLIENT_SECRET = os.environ.get("CLIENT_SECRET", "")
CLIENT_NAMES = {"shoppingbasket": "shoppingbasket", "web": "globoticket-web"}
if not CLIENT_ID and os.environ.get("DEMO_CREDENTIALS_FILE") and SERVICE in CLIENT_NAMES:
    with open(os.environ["DEMO_CREDENTIALS_FILE"]) as credentials:
        client = json.load(credentials)["clients"][CLIENT_NAMES[SERVICE]]
    CLIENT_ID, CLIENT_SECRET = client["client_id"], client["client_secret"]

SECRET_KEY = os.environ.get("SECRET_KEY", f"demo-only-{SERVICE}-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "demo.urls"
INSTALLED_APPS = ["django.contrib.contenttypes", "django.contrib.auth", "rest_framework"]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
]
# The demo keeps no database: baskets live in memory, the web session in a signed cookie.
DATABASES = {}
SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
# The IdP shares the host (cookies ignore ports): keep the demo's cookies apart from its.
SESSION_COOKIE_NAME = "globoticket_session"
CSRF_COOKIE_NAME = "globoticket_csrf"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "DIRS": [], "APP_DIRS": False}]
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "UNAUTHENTICATED_USER": None,
}
RESOURCE_SERVER = {
    "ISSUER": IDP_URL,
    "AUDIENCE": SERVICE,
    "JWKS_URI": f"{IDP_URL}/.well-known/jwks.json",
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django.request": {"handlers": ["console"], "level": "ERROR"}},
}
