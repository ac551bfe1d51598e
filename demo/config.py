"""The demo's own configuration (not Django's), read from the environment once per process.

DEMO_SERVICE   eventcatalog | shoppingbasket | discount | web
IDP_URL        the IdP's issuer, e.g. http://127.0.0.1:8000
IDP_TRUST_DOMAIN  the trust domain the IdP issues Txn-Tokens for (default: IDP_URL, as the IdP's)
DEMO_URLS      JSON: {"eventcatalog": "http://127.0.0.1:8002", ...}
CLIENT_ID / CLIENT_SECRET   this service's client at the IdP (basket and web)
CLIENT_PRIVATE_KEY          the basket's private key (PEM): it signs its token requests
                            (private_key_jwt) instead of sending its secret
CLIENT_KEY_ID               the kid its public key is registered under
DEMO_CREDENTIALS_FILE       or: the JSON `seed_demo --json` wrote (docker-compose.yml), whose
                            client_keys holds the private key

A module of its own rather than attributes of demo/settings.py read through
``django.conf.settings``: these values mean nothing to Django, and a plain module is typed
the same whichever Django settings a type checker assumes (it checks the demo under the
IdP's).
"""

import json
import os

SERVICE = os.environ["DEMO_SERVICE"]
IDP_URL = os.environ.get("IDP_URL", "http://127.0.0.1:8000").rstrip("/")
TRUST_DOMAIN = os.environ.get("IDP_TRUST_DOMAIN", "") or IDP_URL
URLS: dict[str, str] = json.loads(os.environ.get("DEMO_URLS", "{}"))
CLIENT_ID = os.environ.get("CLIENT_ID", "")
CLIENT_SECRET = os.environ.get("CLIENT_SECRET", "")
CLIENT_PRIVATE_KEY = os.environ.get("CLIENT_PRIVATE_KEY", "")
CLIENT_KEY_ID = os.environ.get("CLIENT_KEY_ID", "")
# The discount service asks for a second factor (RFC 9470 step-up) before it discounts an
# order above this amount; smaller orders go through with the password alone.
DISCOUNT_STEP_UP_ABOVE = 100
# The REFEDS MFA profile: the acr the IdP puts in the token of a sign-in with a second factor.
ACR_MFA = "https://refeds.org/profile/mfa"
CLIENT_NAMES = {"shoppingbasket": "shoppingbasket", "web": "globoticket-web"}
if not CLIENT_ID and os.environ.get("DEMO_CREDENTIALS_FILE") and SERVICE in CLIENT_NAMES:
    with open(os.environ["DEMO_CREDENTIALS_FILE"]) as credentials:
        seeded = json.load(credentials)
    client = seeded["clients"][CLIENT_NAMES[SERVICE]]
    CLIENT_ID, CLIENT_SECRET = client["client_id"], client["client_secret"]
    key = seeded.get("client_keys", {}).get(CLIENT_NAMES[SERVICE])
    if key is not None:
        CLIENT_PRIVATE_KEY, CLIENT_KEY_ID = key["private_key_pem"], key["key_id"]
