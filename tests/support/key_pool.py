"""A session-wide pool of signing keys, handed out in place of freshly generated ones.

Every test starts on an empty database, so the first token it issues makes the IdP create
an active and a next key per algorithm (apps/keys/services.py). A 2048-bit RSA key costs about
0.14 s to generate; across the suite that was most of the run time. The keys are generated
once per session instead, by the application's own generator, and each test gets them in
the same order: within one test no pooled key is handed out twice, so every key a test
creates has its own kid, as with real generation. Across tests the keys repeat: a failure
that depends on one key's value (a kid starting with "-" read as an option by a command's
argument parser, say) shows in every test that takes that key, for one session only.
"""

import threading
from collections import Counter
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from apps.keys import services as keys
from apps.resources.models import SigningAlgorithm
from idp.conf import idp_settings

# The generator the pool calls for a key it does not hold yet (bound before any patching).
_generate: Callable[[str], PrivateKeyTypes] = keys._new_private_key


class KeyPool:
    def __init__(self) -> None:
        self._keys: dict[tuple[str, int | None], list[PrivateKeyTypes]] = {}
        self._handed_out: Counter[tuple[str, int | None]] = Counter()
        # Threads of one test (race tests, the browser tests' live server) share the pool.
        self._lock = threading.Lock()

    def start_test(self) -> None:
        with self._lock:
            self._handed_out.clear()

    def take(self, algorithm: str) -> PrivateKeyTypes:
        """The next key of this test for ``algorithm``: pooled if the session has one to
        spare, generated (and kept for later tests) otherwise. An RSA key also depends on
        RSA_KEY_SIZE, which a test may override."""
        size = idp_settings.RSA_KEY_SIZE if algorithm == SigningAlgorithm.RS256 else None
        kind = (algorithm, size)
        with self._lock:
            pooled = self._keys.setdefault(kind, [])
            index = self._handed_out[kind]
            if index == len(pooled):
                pooled.append(_generate(algorithm))  # raises for an unsupported algorithm
            self._handed_out[kind] += 1
            return pooled[index]


@pytest.fixture(scope="session")
def signing_key_pool() -> KeyPool:
    return KeyPool()


@pytest.fixture(autouse=True)
def _pooled_signing_keys(signing_key_pool: KeyPool, monkeypatch: pytest.MonkeyPatch) -> None:
    signing_key_pool.start_test()
    monkeypatch.setattr(keys, "_new_private_key", signing_key_pool.take)
