"""Test settings: the base settings with a fixed key and fast user-password hashing."""

import os

os.environ.setdefault("SECRET_KEY", "test-secret-key-not-for-production")

from .base import *  # noqa: E402,F403
from .base import OAUTH2_PROVIDER, PASSWORD_HASHERS  # noqa: E402

# User passwords in tests need not resist brute force; client secrets keep their real hasher.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
SECURE_SSL_REDIRECT = False
# Tests send many requests from one address; tests/ratelimit turns the limits on itself.
IDP = {"ISSUER": "https://idp.test", "RATE_LIMITING": False}
# Derived from the issuer above, as base.py derives it (idp.E013 checks that they agree).
OAUTH2_PROVIDER = {**OAUTH2_PROVIDER, "OIDC_ISS_ENDPOINT": IDP["ISSUER"]}
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
