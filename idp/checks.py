"""System checks for the project's configuration (STYLE.md 14).

They run on ``manage.py check``, ``migrate`` and ``runserver`` (registered by
``apps.ops.apps.OpsConfig.ready``), so a setting that would fail on the first request, or
never visibly, stops the process at start-up instead. Each has a stable id:

- ``idp.E001`` ``IDP`` is not a dict, or holds a key the project does not know (a typo such
  as ``RATE_LIMTS`` would otherwise leave the default in force without a word).
- ``idp.E002`` a known ``IDP`` key has the wrong type or is out of range (lifetimes, cache
  seconds, switches, ``TRUSTED_PROXY_COUNT``, ``METRICS_TOKEN``, ``SERVICE_ENDPOINTS``' shape).
- ``idp.E003`` ``IDP["RATE_LIMITS"]`` is not a dict of every known limit name to a
  ``(requests, seconds)`` pair of positive integers.
- ``idp.E004`` ``IDP["DEFAULT_SIGNING_ALGORITHM"]`` or ``IDP["TRANSACTION_TOKEN_SIGNING_ALGORITHM"]`` is not
  an algorithm the IdP signs with.
- ``idp.E005`` ``IDP["RSA_KEY_SIZE"]`` is not an integer of at least 2048 bits.
- ``idp.E010`` ``IDP["ISSUER"]`` is not an absolute http(s) URL without query, fragment or
  user info.
- ``idp.E011`` ``IDP["ISSUER"]`` is plain http outside DEBUG on a host that is not loopback.
- ``idp.E012`` ``IDP["ISSUER"]`` ends with "/".
- ``idp.E013`` ``OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"]`` is not ``IDP["ISSUER"]``.
- ``idp.E020`` an ``IDP["SERVICE_ENDPOINTS"]`` entry is not the name of a URL.
- ``idp.E030`` two middleware in ``MIDDLEWARE`` are in the wrong order.

The checks read ``settings.IDP`` itself rather than ``idp_settings``: ``idp_settings`` answers
with the defaults, and the point here is what was configured.
"""

import difflib
import ipaddress
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import SplitResult, urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, register
from django.urls import NoReverseMatch, reverse

from apps.resource_server.bearer import B64TOKEN
from apps.resources.models import MAX_ACCESS_TOKEN_LIFETIME, SigningAlgorithm
from idp.conf import DEFAULTS

# `manage.py check --tag idp` runs only these; a plain `check` (and migrate, runserver) runs all.
TAG = "idp"

MIN_RSA_KEY_SIZE = 2048  # NIST SP 800-131A disallows smaller RSA keys for new signatures


def _configured() -> Mapping[str, Any]:
    idp = getattr(settings, "IDP", {})
    return idp if isinstance(idp, Mapping) else {}  # not a dict: idp.E001 says so


def _value(name: str) -> Any:
    return _configured().get(name, DEFAULTS[name])


def _name(key: Any, *more: str) -> str:
    """How a setting is named in messages: IDP["RATE_LIMITS"]["client"]."""
    return f"IDP[{key!r}]" if not isinstance(key, str) else "IDP" + "".join(f'["{k}"]' for k in (key, *more))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # True is an int to Python


def _positive_int(value: Any) -> bool:
    return _is_int(value) and value > 0


def _non_negative_int(value: Any) -> bool:
    return _is_int(value) and value >= 0


# --- idp.E001 / idp.E002: the keys of IDP and the shape of each plain value -----------------

# Key -> (accepts the value, what it must be). ISSUER, RATE_LIMITS, the signing algorithms
# and RSA_KEY_SIZE have checks of their own below.
SHAPES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "DEFAULT_ACCESS_TOKEN_LIFETIME": (
        lambda v: _positive_int(v) and v <= MAX_ACCESS_TOKEN_LIFETIME,
        f"a positive number of seconds, at most {MAX_ACCESS_TOKEN_LIFETIME} (the longest any token lives)",
    ),
    # 0 is meaningful for the caches: reload on every use.
    "SIGNING_KEY_CACHE_SECONDS": (_non_negative_int, "a number of seconds, 0 or more"),
    "CLIENT_CONFIG_MAX_AGE_SECONDS": (_non_negative_int, "a number of seconds, 0 or more"),
    "JWKS_MAX_AGE_SECONDS": (_non_negative_int, "a number of seconds, 0 or more"),
    "CONSENT_LIFETIME_DAYS": (_positive_int, "a positive number of days"),
    "AUDIT_RETENTION_DAYS": (_positive_int, "a positive number of days"),
    "REMEMBER_ME_DAYS": (_positive_int, "a positive number of days"),
    "METRICS_ENABLED": (lambda v: isinstance(v, bool), "True or False"),
    # Sent as "Authorization: Bearer <token>": RFC 6750's b64token characters only (hex is fine).
    "METRICS_TOKEN": (
        lambda v: isinstance(v, str) and (v == "" or B64TOKEN.fullmatch(v) is not None),
        "a string of RFC 6750 token characters (A-Z a-z 0-9 - . _ ~ + /, then =)",
    ),
    "METRICS_ALLOW_UNAUTHENTICATED": (lambda v: isinstance(v, bool), "True or False"),
    "RATE_LIMITING": (lambda v: isinstance(v, bool), "True or False"),
    "SELF_REGISTRATION": (lambda v: isinstance(v, bool), "True or False"),
    "TRUSTED_PROXY_COUNT": (_non_negative_int, "a number of proxies, 0 or more"),
    "CLIENT_JWKS_CACHE_SECONDS": (_non_negative_int, "a number of seconds, 0 or more"),
    "CLIENT_JWKS_MIN_REFETCH_SECONDS": (_non_negative_int, "a number of seconds, 0 or more"),
    "PUSHED_AUTHORIZATION_REQUEST_LIFETIME": (
        lambda v: _positive_int(v) and v <= 600,
        "a positive number of seconds, at most 600",
    ),
    "DPOP_PROOF_MAX_AGE_SECONDS": (_positive_int, "a positive number of seconds"),
    "DPOP_PROOF_MAX_FUTURE_SECONDS": (_non_negative_int, "a number of seconds, 0 or more"),
    "DPOP_NONCES": (lambda v: isinstance(v, bool), "True or False"),
    "DPOP_NONCE_WINDOW_SECONDS": (_positive_int, "a positive number of seconds"),
    # The aud of every Txn-Token: any non-empty name (a URI or a DNS name, the draft says
    # neither); "" means the issuer.
    "TRUST_DOMAIN": (
        lambda v: isinstance(v, str) and v == v.strip() and len(v) <= 255 and v.isprintable(),
        "a string of at most 255 printable characters, no surrounding spaces ('' for the issuer)",
    ),
    "SERVICE_ENDPOINTS": (
        lambda v: isinstance(v, list | tuple) and all(isinstance(name, str) for name in v),
        "a list of URL names",
    ),
}


@register(TAG)
def idp_keys(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    idp = getattr(settings, "IDP", {})
    if not isinstance(idp, Mapping):
        return [
            Error(
                f"IDP must be a dict of the project's settings, not {type(idp).__name__} {idp!r}.",
                hint="See DEFAULTS in idp/conf.py for the keys and their defaults.",
                id="idp.E001",
            )
        ]
    errors: list[CheckMessage] = []
    for key in sorted(set(idp) - set(DEFAULTS), key=str):
        close = difflib.get_close_matches(str(key), list(DEFAULTS), n=1)
        errors.append(
            Error(
                f"{_name(key)} is not a setting of this project: it is ignored.",
                hint=f"Did you mean {close[0]!r}?" if close else "The known keys are DEFAULTS in idp/conf.py.",
                id="idp.E001",
            )
        )
    return errors


@register(TAG)
def idp_value_shapes(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for key, (accepts, expected) in SHAPES.items():
        value = _value(key)
        if not accepts(value):
            errors.append(
                Error(
                    f"{_name(key)} is {value!r}: it must be {expected}.",
                    hint=f"The default is {DEFAULTS[key]!r} (idp/conf.py).",
                    id="idp.E002",
                )
            )
    return errors


# --- idp.E003: rate limits ------------------------------------------------------------------


@register(TAG)
def rate_limits(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """The middleware reads each limit by name and unpacks it (apps/ratelimit/middleware.py):
    an unknown name is never used, a missing one fails the first request that needs it."""
    limits = _value("RATE_LIMITS")
    known = DEFAULTS["RATE_LIMITS"]
    example = ", ".join(f"{name!r}: {pair!r}" for name, pair in known.items())
    if not isinstance(limits, Mapping):
        return [
            Error(
                f'IDP["RATE_LIMITS"] is {limits!r}: it must be a dict of limit name to (requests, seconds).',
                hint=f"For example {{{example}}}.",
                id="idp.E003",
            )
        ]
    errors: list[CheckMessage] = []
    for name in sorted(set(limits) - set(known), key=str):
        errors.append(
            Error(
                f'IDP["RATE_LIMITS"] names an unknown limit {name!r}.',
                hint=f"The limits are {', '.join(map(repr, known))} (apps/ratelimit/middleware.py).",
                id="idp.E003",
            )
        )
    for name in known:
        if name not in limits:
            errors.append(
                Error(
                    f'IDP["RATE_LIMITS"] has no {name!r} limit: the dict replaces the defaults whole.',
                    hint=f"Give every limit, e.g. {{**DEFAULTS['RATE_LIMITS'], ...}} (default {known[name]!r}).",
                    id="idp.E003",
                )
            )
            continue
        pair = limits[name]
        # Lists too: settings read from JSON have no tuples.
        if not (isinstance(pair, tuple | list) and len(pair) == 2 and all(map(_positive_int, pair))):
            errors.append(
                Error(
                    f"{_name('RATE_LIMITS', name)} is {pair!r}: it must be (requests, seconds), two positive integers.",
                    hint=f"The default is {known[name]!r}: {known[name][0]} requests per {known[name][1]} s.",
                    id="idp.E003",
                )
            )
    return errors


# --- idp.E004 / idp.E005: signing ------------------------------------------------------------


@register(TAG)
def signing(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name in ("DEFAULT_SIGNING_ALGORITHM", "TRANSACTION_TOKEN_SIGNING_ALGORITHM"):
        algorithm = _value(name)
        if algorithm not in SigningAlgorithm.values:
            errors.append(
                Error(
                    f'IDP["{name}"] is {algorithm!r}: the IdP signs only with {", ".join(SigningAlgorithm.values)}.',
                    hint="Algorithms are case-sensitive (RFC 7518 section 3.1).",
                    id="idp.E004",
                )
            )
    size = _value("RSA_KEY_SIZE")
    if not (_is_int(size) and size >= MIN_RSA_KEY_SIZE):
        errors.append(
            Error(
                f'IDP["RSA_KEY_SIZE"] is {size!r}: RSA signing keys must have at least {MIN_RSA_KEY_SIZE} bits.',
                hint="2048 (the default) or 3072; larger keys make every RS256 signature slower.",
                id="idp.E005",
            )
        )
    return errors


# --- idp.E010 - idp.E013: the issuer ---------------------------------------------------------


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 and "localhost": nobody else can reach them, so plain http is safe."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _parse_url(value: Any) -> SplitResult | None:
    if not isinstance(value, str):
        return None
    try:
        url = urlsplit(value)
        url.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        return None
    return url


@register(TAG)
def issuer(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """The issuer is the ``iss`` of every token, the ``issuer`` of discovery and the base of
    every URL published there (RFC 8414 section 2, OpenID Connect Discovery section 3).

    No trailing "/": tokens and discovery carry the issuer verbatim and resource servers
    compare it exactly (RFC 8414 section 3.3, RFC 9068 section 4), while every URL we publish
    is built from it without the slash (``ISSUER.rstrip("/")`` in apps/endpoints and apps/tokens), so
    "https://idp.example.com/" would be one issuer in tokens and look like another in every
    URL and in the demo's ``IDP_URL``. One spelling, without the slash, leaves no doubt.
    """
    value = _value("ISSUER")
    where = f'IDP["ISSUER"] (IDP_ISSUER) is {value!r}'
    example = "e.g. https://idp.example.com or https://example.com/idp"
    url = _parse_url(value)
    if (
        url is None
        or url.scheme not in {"http", "https"}
        or not url.hostname
        or "?" in value
        or "#" in value
        or "@" in url.netloc
    ):
        return [
            Error(
                f"{where}: it must be an absolute http(s) URL without query, fragment or user info.",
                hint=f"The URL clients reach the IdP at, {example}.",
                id="idp.E010",
            )
        ]
    errors: list[CheckMessage] = []
    if value.endswith("/"):
        errors.append(
            Error(
                f'{where}: it must not end with "/".',
                hint=f"Use {value.rstrip('/')!r}: tokens carry the issuer verbatim and relying parties "
                "compare it exactly.",
                id="idp.E012",
            )
        )
    if url.scheme == "http" and not settings.DEBUG and not is_loopback(url.hostname):
        errors.append(
            Error(
                f"{where}: outside DEBUG the issuer must use https unless its host is loopback "
                "(127.0.0.0/8, ::1, localhost).",
                hint="Clients send credentials and receive tokens there: serve the IdP over TLS "
                f"and set IDP_ISSUER to its https URL ({example}).",
                id="idp.E011",
            )
        )
    return errors


@register(TAG)
def oidc_issuer(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """DOT reads ``OIDC_ISS_ENDPOINT`` itself for the RFC 9207 ``iss`` of authorization
    responses (and, left empty, derives it from the request's Host header). It is derived
    from ``IDP["ISSUER"]`` in idp/settings; set differently, clients would see two issuers."""
    ours = _value("ISSUER")
    dots = getattr(settings, "OAUTH2_PROVIDER", {}).get("OIDC_ISS_ENDPOINT", "")
    if dots == ours:
        return []
    return [
        Error(
            f'OAUTH2_PROVIDER["OIDC_ISS_ENDPOINT"] is {dots!r} but IDP["ISSUER"] is {ours!r}: '
            "authorization responses would name another issuer than tokens and discovery.",
            hint='Set only IDP["ISSUER"] (IDP_ISSUER); OIDC_ISS_ENDPOINT is derived from it as in '
            "idp/settings/base.py.",
            id="idp.E013",
        )
    ]


# --- idp.E020: service endpoints --------------------------------------------------------------


@register(TAG)
def service_endpoints(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    """ServiceEndpointMiddleware (apps/endpoints/middleware.py) resolves these names on the first
    request; a wrong one would fail that request and every one after it."""
    names = _value("SERVICE_ENDPOINTS")
    if not SHAPES["SERVICE_ENDPOINTS"][0](names):
        return []  # idp.E002 says what is wrong with the list itself
    errors: list[CheckMessage] = []
    for name in names:
        try:
            reverse(name)
        except NoReverseMatch:
            errors.append(
                Error(
                    f'IDP["SERVICE_ENDPOINTS"] names {name!r}, which is not the name of a URL without arguments.',
                    hint="Use names as reverse() takes them, with their namespace (e.g. 'oauth2_provider:token').",
                    id="idp.E020",
                )
            )
    return errors


# --- idp.E030: middleware order ---------------------------------------------------------------

REQUEST_ID = "apps.ops.middleware.RequestIdMiddleware"
REQUEST_METRICS = "apps.ops.middleware.RequestMetricsMiddleware"
SECURITY = "django.middleware.security.SecurityMiddleware"
RATE_LIMIT = "apps.ratelimit.middleware.RateLimitMiddleware"
SERVICE_ENDPOINTS = "apps.endpoints.middleware.ServiceEndpointMiddleware"
SESSION = "django.contrib.sessions.middleware.SessionMiddleware"
LOCALE = "django.middleware.locale.LocaleMiddleware"
ENGLISH_API = "apps.management_api.middleware.EnglishApiMiddleware"
SESSION_ACTIVITY = "apps.accounts.middleware.SessionActivityMiddleware"
CSRF = "django.middleware.csrf.CsrfViewMiddleware"
AUTHENTICATION = "django.contrib.auth.middleware.AuthenticationMiddleware"
MESSAGES = "django.contrib.messages.middleware.MessageMiddleware"
AXES = "axes.middleware.AxesMiddleware"

# (earlier, later, why): what each middleware's docstring says it relies on. A rule holds
# only when both are installed; leaving one out is a choice, not an order mistake.
MIDDLEWARE_ORDER: list[tuple[str, str, str]] = [
    *(
        (first, answers_early, "the request id and timing must cover every answer, those it gives itself too")
        for first in (REQUEST_ID, REQUEST_METRICS)
        for answers_early in (SECURITY, RATE_LIMIT, SERVICE_ENDPOINTS)
    ),
    (SECURITY, SERVICE_ENDPOINTS, "service endpoint answers keep HSTS, nosniff and the HTTPS redirect"),
    (RATE_LIMIT, SERVICE_ENDPOINTS, "the OAuth endpoints are answered there: limits after it never see them"),
    *(
        (SERVICE_ENDPOINTS, browser_only, "service endpoints skip the middleware only browsers need")
        # LocaleMiddleware would add Content-Language and Vary: Accept-Language to JSON.
        for browser_only in (SESSION, LOCALE, CSRF, AUTHENTICATION, MESSAGES)
    ),
    (SESSION, AUTHENTICATION, "authentication reads request.session"),
    (AUTHENTICATION, SESSION_ACTIVITY, "the sessions page's rows are kept for request.user"),
    (LOCALE, ENGLISH_API, "the API's language overrides the one LocaleMiddleware chose"),
]


@register(TAG)
def middleware_order(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    middleware = list(settings.MIDDLEWARE)
    position = {path: index for index, path in reversed(list(enumerate(middleware)))}
    wrong = [
        (earlier, later, why)
        for earlier, later, why in MIDDLEWARE_ORDER
        if earlier in position and later in position and position[earlier] > position[later]
    ]
    if AXES in position:
        # django-axes: "AxesMiddleware should be the last middleware"; it turns a lockout
        # raised anywhere below it into the lockout page, which the rate limit counts.
        wrong += [
            (after, AXES, "django-axes requires AxesMiddleware last")
            for after in middleware[position[AXES] + 1 :]
            if after != AXES
        ]
    return [
        Error(
            f"MIDDLEWARE: {earlier!r} must come before {later!r} ({why}).",
            hint=f"Move {earlier.rsplit('.', 1)[-1]} above {later.rsplit('.', 1)[-1]} in settings.MIDDLEWARE "
            "(idp/settings/base.py has the order and says why).",
            id="idp.E030",
        )
        for earlier, later, why in wrong
    ]
