"""JwksCache under concurrency and failure: no good token refused while a fetch is in flight."""

import threading
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import ec

from apps.resource_server.jwks import JwksCache


def jwk(kid: str) -> dict:
    public = ec.generate_private_key(ec.SECP256R1()).public_key()
    return {**jwt.algorithms.ECAlgorithm.to_jwk(public, as_dict=True), "kid": kid, "alg": "ES256", "use": "sig"}


def test_threads_asking_during_the_first_fetch_wait_for_it_instead_of_refusing():
    """A new process under load: every thread asks at once; only one fetches, all get the key."""
    calls, started = [], threading.Event()

    def slow_fetch():
        calls.append(1)
        started.set()
        time.sleep(0.2)
        return {"keys": [jwk("k1")]}

    cache = JwksCache(slow_fetch, min_refresh_interval=60)
    results: list = []
    first = threading.Thread(target=lambda: results.append(cache.key_for("k1")))
    first.start()
    assert started.wait(5)  # the first thread is inside the fetch
    others = [threading.Thread(target=lambda: results.append(cache.key_for("k1"))) for _ in range(8)]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(5)
    assert len(results) == 9 and all(key is not None for key in results)
    assert len(calls) == 1


def test_a_failed_refresh_keeps_the_cached_keys_and_is_rate_limited():
    calls = []

    def fetch():
        calls.append(1)
        if len(calls) > 1:
            raise ConnectionError("IdP unreachable")
        return {"keys": [jwk("k1")]}

    cache = JwksCache(fetch, ttl=300, min_refresh_interval=60)
    assert cache.key_for("k1") is not None
    cache._fetched_at -= 301  # the set is stale: the next call refreshes, and the fetch fails
    assert cache.key_for("k1") is not None  # still verifies tokens signed with the known key
    assert cache.key_for("k2") is None  # unknown kid: refused without another attempt
    assert len(calls) == 2


def test_an_unreachable_idp_at_first_contact_refuses_every_kid():
    calls = []

    def fetch():
        calls.append(1)
        raise ConnectionError("IdP unreachable")

    cache = JwksCache(fetch, min_refresh_interval=60)
    assert cache.key_for("k1") is None
    assert cache.key_for("k1") is None  # the next attempt waits for the interval
    assert len(calls) == 1
