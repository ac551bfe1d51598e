"""Signing keys: generation, the active key per algorithm, rotation and the JWKS.

Life cycle: a key is created as ``next`` and published in the JWKS before it signs
anything, so resource servers that cache the JWKS already know it when ``rotate_keys``
makes it ``active``. The key it replaces becomes ``retired``: it signs nothing but stays
published until every token it signed has expired (one maximum token lifetime).
"""

import base64
import functools
import hashlib
import json
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from jwcrypto import jwk
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

from apps.audit import services as audit
from apps.oauth.models import KeyState, SigningKey
from apps.resource_server.jwks import JwksCache
from apps.resources.models import MAX_ACCESS_TOKEN_LIFETIME, ApiResource, SigningAlgorithm
from idp.conf import idp_settings

# RFC 7638 section 3.2: the members that make up the thumbprint, per key type.
_THUMBPRINT_MEMBERS = {"RSA": ("e", "kty", "n"), "EC": ("crv", "kty", "x", "y")}


# The private keys of our signing algorithms (RS256, ES256): the kinds PyJWT signs with.
SigningPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    algorithm: str
    private_key: SigningPrivateKey


# PyJWT's signers, by algorithm: the signature bytes of a JWS (raw r||s for ES256, RFC 7518 3.4).
_SIGNERS = jwt.algorithms.get_default_algorithms()


def _segment(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


@functools.lru_cache(maxsize=64)
def _header_segment(kid: str, algorithm: str, typ: str) -> bytes:
    # As PyJWT writes it (compact, keys sorted): the same bytes, computed once per key.
    header = {"alg": algorithm, "kid": kid, "typ": typ}
    return _segment(json.dumps(header, separators=(",", ":"), sort_keys=True).encode())


def sign_jwt(claims: dict[str, Any], key: LoadedKey, *, typ: str) -> str:
    """``claims`` as a JWS compact serialization (RFC 7515) signed with ``key``, header
    ``{"alg", "kid", "typ"}``: what ``jwt.encode`` gives for them, byte for byte, without
    building and encoding the header on every token (the token endpoint signs one per request)."""
    payload = _segment(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = _header_segment(key.kid, key.algorithm, typ) + b"." + payload
    signature = _SIGNERS[key.algorithm].sign(signing_input, key.private_key)
    return (signing_input + b"." + _segment(signature)).decode()


LIVE_STATES = (KeyState.ACTIVE, KeyState.NEXT)
CLOCK_SKEW_SECONDS = 60

UNKNOWN_KID_RELOAD_SECONDS = 1

_cache: dict[str, tuple[LoadedKey, float]] = {}  # algorithm -> active signing key
# kid -> the key parsed from its PEM. A kid is the key's own thumbprint, so what it names never
# changes: the periodic reload asks the database which kid is active (one indexed row) and
# parses a PEM only for a kid it has not seen, never on a live request every 30 s (an RSA
# PEM costs milliseconds to load, which showed in the p99).
_parsed: dict[str, LoadedKey] = {}
MAX_PARSED_KEYS = 32  # a few algorithms times a few rotations; cleared beyond
_published: JwksCache | None = None  # our own JWKS, as resource servers cache it
_cache_lock = threading.Lock()


def _new_private_key(algorithm: str) -> SigningPrivateKey:
    if algorithm == SigningAlgorithm.RS256:
        return rsa.generate_private_key(public_exponent=65537, key_size=idp_settings.RSA_KEY_SIZE)
    if algorithm == SigningAlgorithm.ES256:
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"Unsupported signing algorithm {algorithm!r}")


def _public_jwk(private_key: SigningPrivateKey, algorithm: str) -> dict[str, Any]:
    public_key = private_key.public_key()
    if algorithm == SigningAlgorithm.RS256:
        assert isinstance(public_key, rsa.RSAPublicKey)  # _new_private_key made it for RS256
        public = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    else:
        assert isinstance(public_key, ec.EllipticCurvePublicKey)
        public = ECAlgorithm.to_jwk(public_key, as_dict=True)
    members = {name: public[name] for name in _THUMBPRINT_MEMBERS[public["kty"]]}
    digest = hashlib.sha256(json.dumps(members, separators=(",", ":"), sort_keys=True).encode()).digest()
    kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return {**members, "kid": kid, "alg": algorithm, "use": "sig"}


def create_key(*, algorithm: str, state: str) -> SigningKey:
    private_key = _new_private_key(algorithm)
    public_jwk = _public_jwk(private_key, algorithm)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    now = timezone.now()
    # A key this process creates is published to itself at once (this connection sees the
    # row), and again once the row is committed: another thread reloading in between would
    # otherwise cache the key set without it.
    clear_key_cache()
    transaction.on_commit(clear_key_cache)
    return SigningKey.objects.create(
        kid=public_jwk["kid"],
        algorithm=algorithm,
        state=state,
        private_key_pem=pem,
        public_jwk=public_jwk,
        activated_at=now if state == KeyState.ACTIVE else None,
    )


def _load(key: SigningKey) -> LoadedKey:
    # Only for our own keys: the PEM is one create_key wrote, from a key OpenSSL generated,
    # read back from our database. Checking the RSA key's consistency again costs about
    # 35 ms per load (each process's first token and every cache expiry) and would catch
    # only a row changed by someone who could as well have replaced the key outright.
    private_key = serialization.load_pem_private_key(
        key.private_key_pem.encode(), password=None, unsafe_skip_rsa_key_validation=True
    )
    # create_key stores only keys of our signing algorithms.
    assert isinstance(private_key, SigningPrivateKey)
    return LoadedKey(kid=key.kid, algorithm=key.algorithm, private_key=private_key)


def _ensure_keys(algorithm: str) -> None:
    """Make sure ``algorithm`` has an active key and a published successor.

    On first use both are created; if the active key is missing (deleted by hand), the
    published ``next`` key takes over, since resource servers already know it. Another
    process may race us: the one-key-per-state constraints decide and we re-read."""
    try:
        with transaction.atomic():
            keys = SigningKey.objects.select_for_update().filter(algorithm=algorithm, state__in=LIVE_STATES)
            states = {key.state: key for key in keys}
            if KeyState.ACTIVE not in states:
                successor = states.pop(KeyState.NEXT, None)
                if successor is None:
                    create_key(algorithm=algorithm, state=KeyState.ACTIVE)
                else:
                    successor.state, successor.activated_at = KeyState.ACTIVE, timezone.now()
                    successor.save(update_fields=["state", "activated_at"])
            if KeyState.NEXT not in states:
                create_key(algorithm=algorithm, state=KeyState.NEXT)
    except IntegrityError:
        pass


def _active_key_row(algorithm: str) -> SigningKey:
    key = SigningKey.objects.filter(algorithm=algorithm, state=KeyState.ACTIVE).first()
    if key is None:
        _ensure_keys(algorithm)
        key = SigningKey.objects.get(algorithm=algorithm, state=KeyState.ACTIVE)
    return key


def get_signing_key(algorithm: str) -> LoadedKey:
    """The active key for ``algorithm``, parsed once and reused for SIGNING_KEY_CACHE_SECONDS."""
    now = time.monotonic()
    cached = _cache.get(algorithm)
    if cached is not None and now - cached[1] < idp_settings.SIGNING_KEY_CACHE_SECONDS:
        return cached[0]
    kid = SigningKey.objects.filter(algorithm=algorithm, state=KeyState.ACTIVE).values_list("kid", flat=True).first()
    loaded = _parsed.get(kid) if kid is not None else None
    if loaded is None:
        loaded = _load(_active_key_row(algorithm))
    with _cache_lock:
        if len(_parsed) >= MAX_PARSED_KEYS:
            _parsed.clear()
        _parsed[loaded.kid] = loaded
        _cache[algorithm] = (loaded, now)
    return loaded


def clear_key_cache() -> None:
    global _published
    with _cache_lock:
        _cache.clear()
        _parsed.clear()
        _published = None


def published_key(kid: Any) -> jwt.PyJWK | None:
    """The public key of a published key by ``kid`` (to verify our own tokens when they come
    back): the JWKS document, cached like the signing keys. An unknown kid reloads it at most
    once per UNKNOWN_KID_RELOAD_SECONDS, so tokens with made-up kids cost no queries."""
    global _published
    published = _published
    if published is None:
        published = _published = JwksCache(
            jwks_document,
            ttl=idp_settings.SIGNING_KEY_CACHE_SECONDS,
            min_refresh_interval=UNKNOWN_KID_RELOAD_SECONDS,
        )
    return published.key_for(kid)


def retired_key_retention() -> timedelta:
    """How long a retired key stays published: the longest a token can live, plus the time
    other processes may keep signing with their cached copy, plus clock skew. A stored
    lifetime beyond the models' bound (saved before it existed) counts as the bound: taken
    as stored, ``now - retention`` could fall before year 1 and every JWKS request fail."""
    longest = ApiResource.objects.aggregate(longest=Max("access_token_lifetime"))["longest"] or 0
    longest = min(longest, MAX_ACCESS_TOKEN_LIFETIME)
    lifetime = max(longest, idp_settings.DEFAULT_ACCESS_TOKEN_LIFETIME)
    return timedelta(seconds=lifetime + idp_settings.SIGNING_KEY_CACHE_SECONDS + CLOCK_SKEW_SECONDS)


def published_keys(now: datetime | None = None) -> list[SigningKey]:
    now = now or timezone.now()
    retired_since = now - retired_key_retention()
    keys = SigningKey.objects.filter(state__in=[KeyState.ACTIVE, KeyState.NEXT]) | SigningKey.objects.filter(
        state=KeyState.RETIRED, retired_at__gt=retired_since
    )
    return list(keys.order_by("algorithm", "state", "-created"))


def jwks_document() -> dict[str, list[dict[str, Any]]]:
    """RFC 7517 JWK Set of the public halves of every published key (never private material)."""
    return {"keys": [key.public_jwk for key in published_keys()]}


def rotate_keys(*, algorithms: list[str] | None = None) -> list[SigningKey]:
    """Promote each algorithm's published ``next`` key to ``active``, retire the old active
    key, create a new ``next`` key and delete retired keys no token can still need.

    A key is never made active without having been published first: an algorithm with no
    ``next`` key only gets one (and a first active key if it had none). Other processes
    switch within SIGNING_KEY_CACHE_SECONDS, signing meanwhile with the retired key, which
    stays published. Returns the active keys."""
    now = timezone.now()
    active = []
    with transaction.atomic():
        for algorithm in algorithms or SigningAlgorithm.values:
            successor = SigningKey.objects.filter(algorithm=algorithm, state=KeyState.NEXT).first()
            retired = list(
                SigningKey.objects.filter(algorithm=algorithm, state=KeyState.ACTIVE).values_list("kid", flat=True)
            )
            if successor is not None:
                SigningKey.objects.filter(algorithm=algorithm, state=KeyState.ACTIVE).update(
                    state=KeyState.RETIRED, retired_at=now
                )
                successor.state, successor.activated_at = KeyState.ACTIVE, now
                successor.save(update_fields=["state", "activated_at"])
            _ensure_keys(algorithm)
            new_active = SigningKey.objects.get(algorithm=algorithm, state=KeyState.ACTIVE)
            active.append(new_active)
            # Key ids only: public names of the keys, never their private halves.
            audit.record(
                event_type=audit.KEY_ROTATED,
                granted=True,
                details={
                    "algorithm": algorithm,
                    "activated": new_active.kid,
                    "retired": retired if successor is not None else [],
                    "next": SigningKey.objects.filter(algorithm=algorithm, state=KeyState.NEXT)
                    .values_list("kid", flat=True)
                    .first(),
                },
            )
        expired = SigningKey.objects.filter(state=KeyState.RETIRED, retired_at__lte=now - retired_key_retention())
        unpublished = sorted(expired.values_list("kid", flat=True))
        expired.delete()
        if unpublished:
            audit.record(event_type=audit.KEY_WITHDRAWN, granted=True, details={"kids": unpublished, "expired": True})
    clear_key_cache()
    return active


def ensure_signing_keys() -> list[SigningKey]:
    """Create the active and next key of every algorithm that has none (a new installation);
    change nothing otherwise. A release step (``manage.py ensure_keys``), so that a new
    deployment is ready (``/readyz``) before its first token request."""
    for algorithm in SigningAlgorithm.values:
        _ensure_keys(algorithm)
    return list(SigningKey.objects.filter(state=KeyState.ACTIVE).order_by("algorithm"))


def withdraw_key(kid: str) -> SigningKey:
    """Unpublish a retired key now, before its tokens expire: for a key that leaked. The JWKS
    drops it at once; the IdP's processes refuse its tokens when their cached copy of the
    published keys expires (SIGNING_KEY_CACHE_SECONDS), resource servers when theirs does.
    An active or next key must be rotated out first (``rotate_keys``), so that something
    else signs."""
    key = SigningKey.objects.filter(kid=kid).first()
    if key is None:
        raise ValueError(f"No signing key with kid {kid!r}.")
    if key.state != KeyState.RETIRED:
        raise ValueError(f"Key {kid} is {key.state}: rotate it out first (rotate_keys --algorithm {key.algorithm}).")
    key.delete()
    audit.record(
        event_type=audit.KEY_WITHDRAWN,
        granted=True,
        details={"kids": [kid], "algorithm": key.algorithm, "expired": False},
    )
    clear_key_cache()
    return key


_id_token_keys: dict[str, jwk.JWK] = {}


def active_jwk_for_id_tokens() -> jwk.JWK:
    """DOT signs ID tokens with a jwcrypto key; give it our active RS256 key (its RFC 7638
    thumbprint, which DOT puts in ``kid``, is our kid)."""
    key = get_signing_key(SigningAlgorithm.RS256)
    if key.kid not in _id_token_keys:
        _id_token_keys.clear()
        _id_token_keys[key.kid] = jwk.JWK.from_pyca(key.private_key)
    return _id_token_keys[key.kid]
