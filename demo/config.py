"""The demo's own configuration (not Django's), read from the environment once per process.

DEMO_SERVICE   eventcatalog | shoppingbasket | discount | web
IDP_URL        the IdP's issuer, e.g. http://127.0.0.1:8000
DEMO_URLS      JSON: {"eventcatalog": "http://127.0.0.1:8002", ...}
CLIENT_ID / CLIENT_SECRET   this service's client at the IdP (basket and web)
DEMO_CREDENTIALS_FILE       or: the JSON `seed_demo --json` wrote (docker-compose.yml)

A module of its own rather than attributes of demo/settings.py read through
``django.conf.settings``: these values mean nothing to Django, and a plain module is typed
the same whichever Django settings a type checker assumes (it checks the demo under the
IdP's).
"""

import json
import os

SERVICE = os.environ["DEMO_SERVICE"]
IDP_URL = os.environ.get("IDP_URL", "http://127.0.0.1:8000").rstrip("/")
URLS: dict[str, str] = json.loads(os.environ.get("DEMO_URLS", "{}"))
CLIENT_ID = os.environ.get("CLIENT_ID", "")
CLIENT_SECRET = os.environ.get("CLIENT_SECRET", "")
# The discount service asks for a second factor (RFC 9470 step-up) before it discounts an
# order above this amount; smaller orders go through with the password alone.
DISCOUNT_STEP_UP_ABOVE = 100
# The REFEDS MFA profile: the acr the IdP puts in the token of a sign-in with a second factor.
ACR_MFA = "https://refeds.org/profile/mfa"
CLIENT_NAMES = {"shoppingbasket": "shoppingbasket", "web": "globoticket-web"}
if not CLIENT_ID and os.environ.get("DEMO_CREDENTIALS_FILE") and SERVICE in CLIENT_NAMES:
    with open(os.environ["DEMO_CREDENTIALS_FILE"]) as credentials:
        client = json.load(credentials)["clients"][CLIENT_NAMES[SERVICE]]
    CLIENT_ID, CLIENT_SECRET = client["client_id"], client["client_secret"]
