"""Client secrets: generated with 256 bits of entropy, stored with a fast keyed hash.

A client secret is not a human password: it is 256 random bits, so brute force is out of
reach without key stretching. PBKDF2 (DOT's default) would cost ~600 ms on every token
request for no gain; one HMAC-SHA256 costs microseconds. Comparison is constant time.
"""

import hashlib
import hmac
import secrets
from typing import TYPE_CHECKING

from django.contrib.auth.hashers import BasePasswordHasher, identify_hasher, mask_hash
from django.utils.crypto import constant_time_compare, get_random_string
from oauth2_provider.generators import BaseHashGenerator

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

SECRET_BYTES = 32  # 256 bits


def generate_client_secret() -> str:
    return secrets.token_urlsafe(SECRET_BYTES)


def verify_client_secret(presented: str, stored: str) -> bool:
    """Constant-time check of a presented secret against the stored hash (or, for a secret
    stored unhashed, against the secret itself). An empty secret never matches: a client made
    confidential after it was saved as public has none until one is rotated in."""
    if not presented or not stored:
        return False
    try:
        hasher = identify_hasher(stored)
    except ValueError:
        return constant_time_compare(presented, stored)
    # The hasher itself, not check_password(): that would identify it a second time and weigh
    # an upgrade to the default (PBKDF2) hasher on every token request.
    return hasher.verify(presented, stored)


class ClientSecretGenerator(BaseHashGenerator):
    """DOT's CLIENT_SECRET_GENERATOR_CLASS seam."""

    def hash(self) -> str:
        return generate_client_secret()


class RandomSecretHasher(BasePasswordHasher):
    """``idp_secret_sha256$<salt>$<hex HMAC-SHA256(salt, secret)>``; only for random secrets."""

    algorithm = "idp_secret_sha256"

    def salt(self) -> str:
        return get_random_string(16)

    def encode(self, password: str, salt: str) -> str:
        # Django's own argument check (django-stubs does not declare this private helper).
        self._check_encode_args(password, salt)  # type: ignore[attr-defined]
        digest = hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded: str) -> dict[str, str]:
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password: str, encoded: str) -> bool:
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded: str) -> "dict[StrOrPromise, str]":
        decoded = self.decode(encoded)
        return {
            "algorithm": decoded["algorithm"],
            "salt": mask_hash(decoded["salt"]),
            "hash": mask_hash(decoded["hash"]),
        }

    def must_update(self, encoded: str) -> bool:
        return False

    def harden_runtime(self, password: str, encoded: str) -> None:
        # Nothing to equalise: every secret costs the same single HMAC.
        return None
