"""A client's public keys, for ``private_key_jwt`` (RFC 7523 section 2.2, OpenID Connect Core 9).

A client registers them inline (``Application.jwks``) or publishes them at a ``jwks_uri``; both
are read by one rule, :func:`~apps.oauth.models.application.parse_client_jwks` (public RSA or
P-256 keys for signatures, nothing private).

Inline keys are parsed once per document: the parsed keys are kept by the document's text,
so a client whose keys changed (by any means, signals or not) gets its new keys at once.

Keys at a ``jwks_uri`` are fetched (https, or http on loopback; a few seconds from connecting
to the last byte and a few kilobytes at most; no redirects, no proxy or .netrc from the
environment) and used for ``IDP["CLIENT_JWKS_CACHE_SECONDS"]``. An
assertion naming a ``kid`` the cached set lacks is how a rotation shows (OpenID Connect Core
10.1.1): it fetches the set again, but at most once per ``IDP["CLIENT_JWKS_MIN_REFETCH_SECONDS"]``
per URI, so made-up kids cannot turn into a stream of requests to the client. A fetch that
fails leaves the keys in use only while they are within their cache life; after that the
client is refused until a fetch succeeds (fail closed: keys the client may have withdrawn are
never trusted past their age).
"""

import http.client
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, replace
from types import TracebackType

import requests
import urllib3
from django.core.exceptions import ValidationError
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from apps.oauth.models import Application
from apps.oauth.models.application import MAX_CLIENT_JWKS_BYTES, ClientJwk, jwks_uri_problem, parse_client_jwks
from idp.conf import idp_settings

logger = logging.getLogger(__name__)

FETCH_TIMEOUT_SECONDS = 3.0  # connect, and the whole download: a slow client cannot hold a request long
READ_SIZE = 4096  # each read returns what has arrived, at most this: the deadline is checked between
MAX_CACHED_DOCUMENTS = 10_000  # bounds memory whatever the number of clients


class KeysUnavailable(Exception):
    """The client's keys could not be fetched or are not acceptable."""


@dataclass(frozen=True)
class _Fetched:
    keys: tuple[ClientJwk, ...]
    fetched_at: float  # time.monotonic() of the fetch that produced ``keys``; -inf: none yet
    attempted_at: float  # of the last attempt, failed ones included


_inline: dict[str, tuple[ClientJwk, ...]] = {}  # the document's text -> its keys
_remote: dict[str, _Fetched] = {}  # jwks_uri -> what was fetched
_uri_locks: dict[str, threading.Lock] = {}
_lock = threading.Lock()


def clear_client_keys_cache() -> None:
    with _lock:
        _inline.clear()
        _remote.clear()
        _uri_locks.clear()


def assertion_keys(client: Application, *, kid: str | None, alg: str) -> tuple[ClientJwk, ...]:
    """The client's keys an assertion signed with ``alg`` may be checked with: the one named
    by ``kid``, or, without a kid, every key of the right type. Empty when there is none (or
    the keys cannot be had), which refuses the assertion."""
    return signing_keys(jwks=client.jwks, jwks_uri=client.jwks_uri, kid=kid, alg=alg)


def signing_keys(*, jwks: object | None, jwks_uri: str, kid: str | None, alg: str) -> tuple[ClientJwk, ...]:
    """The keys of one signer (a client, or a trusted issuer: apps/grants/federation.py),
    registered inline (``jwks``) or published at ``jwks_uri``, that a JWS signed with ``alg``
    may be checked with, by the rules of :func:`assertion_keys`. A signer's keys are only
    ever its own: the inline document or the one fetched from its own URI."""
    if jwks is not None:
        keys = _inline_keys(jwks)
    elif jwks_uri:
        keys = _remote_keys(jwks_uri, kid=kid)
    else:
        return ()
    return tuple(key for key in keys if key.verifies(alg) and (kid is None or key.kid == kid))


def _inline_keys(document: object) -> tuple[ClientJwk, ...]:
    text = json.dumps(document, sort_keys=True)
    keys = _inline.get(text)
    if keys is None:
        try:
            keys = parse_client_jwks(document)
        except ValidationError:
            # Stored without clean() (an update(), a migration): refuse rather than guess.
            logger.warning("A client's registered JWKS is not acceptable; its assertions are refused")
            keys = ()
        with _lock:
            if len(_inline) >= MAX_CACHED_DOCUMENTS:
                _inline.clear()
            _inline[text] = keys
    return keys


def _fresh(entry: _Fetched | None, now: float) -> bool:
    return entry is not None and now - entry.fetched_at < idp_settings.CLIENT_JWKS_CACHE_SECONDS


def _may_fetch(entry: _Fetched | None, now: float) -> bool:
    return entry is None or now - entry.attempted_at >= idp_settings.CLIENT_JWKS_MIN_REFETCH_SECONDS


def _known(entry: _Fetched, kid: str | None) -> bool:
    return kid is None or any(key.kid == kid for key in entry.keys)


def _remote_keys(uri: str, *, kid: str | None) -> tuple[ClientJwk, ...]:
    entry = _remote.get(uri)
    now = time.monotonic()
    if entry is not None and _fresh(entry, now) and (_known(entry, kid) or not _may_fetch(entry, now)):
        return entry.keys
    lock = _lock_for(uri)
    # A fetch takes FETCH_TIMEOUT_SECONDS at most; a request that cannot have the lock by then
    # is refused (no keys) rather than queued behind a client's slow server.
    if not lock.acquire(timeout=FETCH_TIMEOUT_SECONDS):
        logger.warning("A client's JWKS fetch is still in progress (%s); the assertion is refused", uri)
        return ()
    try:
        # Another thread may have fetched while this one waited: then its result stands.
        entry = _remote.get(uri)
        now = time.monotonic()
        fresh = _fresh(entry, now)
        if entry is not None and fresh and _known(entry, kid):
            return entry.keys
        if not _may_fetch(entry, now):
            return entry.keys if entry is not None and fresh else ()
        # The attempt is recorded before it is made: while it runs, requests holding fresh keys
        # use them and do not queue for the lock to ask again.
        _store(uri, _Fetched((), float("-inf"), now) if entry is None else replace(entry, attempted_at=now))
        try:
            keys = fetch_jwks(uri)
        except Exception as exc:  # noqa: BLE001 (whatever the client served: a failed attempt, recorded)
            # Not only KeysUnavailable: anything the client's document makes the parser raise
            # is a failed attempt too, so the min-refetch interval applies to it (an exception
            # escaping here would refetch on every assertion, and be a 500).
            logger.warning("Fetching a client's JWKS failed (%s): %s", uri, exc)
            return entry.keys if entry is not None and fresh else ()
        _store(uri, _Fetched(keys, now, now))
        return keys
    finally:
        lock.release()


def _lock_for(uri: str) -> threading.Lock:
    # One lock per URI: a slow client's fetch holds up only the requests that need its keys.
    with _lock:
        return _uri_locks.setdefault(uri, threading.Lock())


def _store(uri: str, entry: _Fetched) -> None:
    with _lock:
        if len(_remote) >= MAX_CACHED_DOCUMENTS and uri not in _remote:
            _remote.clear()
        _remote[uri] = entry


class _Deadline:
    """Shuts down a fetch's connections when its time is up, whatever the fetch is doing then
    (connecting, the TLS handshake, the status line, headers, body): a socket timeout starts
    again with every byte received, so a server sending one byte a second would otherwise hold
    the worker for as long as it likes. Used as a context manager around one fetch, in the
    thread making it (the connections it opens find it there)."""

    _current = threading.local()

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        # Duplicates of the fetch's sockets: they stay valid whatever the fetch does with its
        # own (TLS wraps and detaches it, closing it ends it), so the timer never touches a
        # descriptor number that may by then be another file's.
        self._sockets: list[socket.socket] = []
        self._expired = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    @classmethod
    def watch(cls, sock: socket.socket) -> None:
        deadline: _Deadline | None = getattr(cls._current, "deadline", None)
        if deadline is None:
            return
        duplicate = socket.socket(fileno=os.dup(sock.fileno()))
        with deadline._lock:
            deadline._sockets.append(duplicate)
            if deadline._expired:
                _shut(duplicate)

    def remaining(self) -> float:
        return self.at - time.monotonic()

    def _expire(self) -> None:
        with self._lock:
            self._expired = True
            for duplicate in self._sockets:
                _shut(duplicate)

    def __enter__(self) -> "_Deadline":
        self._current.deadline = self
        self._timer.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._timer.cancel()
        self._current.deadline = None
        with self._lock:
            self._expired = True
            for duplicate in self._sockets:
                duplicate.close()
            self._sockets.clear()


def _shut(duplicate: socket.socket) -> None:
    # shutdown() acts on the connection, not the descriptor: a read blocked on the fetch's
    # socket (or the TLS socket wrapping it) returns at once.
    try:
        duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # closed by the peer already, or closed in __exit__


class _WatchedHTTPConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _Deadline.watch(sock)
        return sock


class _WatchedHTTPSConnection(HTTPSConnection):
    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        _Deadline.watch(sock)
        return sock


class _WatchedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


def _session() -> requests.Session:
    """A session of its own for one fetch: its connections are under the fetch's deadline,
    and nothing of the environment applies (no proxy from HTTP(S)_PROXY, no credentials from
    .netrc: the registered URI is fetched directly, with nothing but what is sent here)."""
    session = requests.Session()
    session.trust_env = False
    adapter = HTTPAdapter(max_retries=0)
    adapter.poolmanager.pool_classes_by_scheme = {
        "http": _WatchedHTTPConnectionPool,
        "https": _WatchedHTTPSConnectionPool,
    }
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def fetch_jwks(uri: str) -> tuple[ClientJwk, ...]:
    """GET the client's JWKS document and parse it, or ``KeysUnavailable``: in
    ``FETCH_TIMEOUT_SECONDS`` at most, from connecting to the last byte."""
    if problem := jwks_uri_problem(uri):
        raise KeysUnavailable(problem)
    slow = KeysUnavailable(f"slower than {FETCH_TIMEOUT_SECONDS} seconds")
    try:
        with _Deadline(FETCH_TIMEOUT_SECONDS) as deadline, _session() as session:
            # No redirects: the registered URI is what the operator approved, not wherever it
            # points. Identity encoding: the size bound is on the bytes received.
            with session.get(
                uri,
                timeout=FETCH_TIMEOUT_SECONDS,
                stream=True,
                allow_redirects=False,
                headers={"Accept": "application/jwk-set+json, application/json", "Accept-Encoding": "identity"},
            ) as response:
                if response.status_code != 200:
                    raise KeysUnavailable(f"HTTP {response.status_code}")
                if response.headers.get("Content-Encoding", "identity").lower() != "identity":
                    raise KeysUnavailable("a compressed document")
                body = bytearray()
                while chunk := response.raw.read1(READ_SIZE, decode_content=False):
                    # read1 returns what has arrived (not READ_SIZE bytes or the end), so the
                    # deadline is checked as the bytes come, however slowly.
                    body += chunk
                    if len(body) > MAX_CLIENT_JWKS_BYTES:
                        raise KeysUnavailable(f"larger than {MAX_CLIENT_JWKS_BYTES} bytes")
                    if deadline.remaining() <= 0:
                        raise slow
                if deadline.remaining() <= 0:
                    raise slow  # cut off at the deadline: what arrived is not the document
    except (requests.RequestException, urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as exc:
        raise KeysUnavailable(type(exc).__name__) from None
    try:
        document = json.loads(bytes(body))
    except ValueError:
        raise KeysUnavailable("not JSON") from None
    try:
        return parse_client_jwks(document)
    except ValidationError as exc:
        raise KeysUnavailable(" ".join(exc.messages)) from None
