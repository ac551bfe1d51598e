import base64
import json

import pytest

from apps.resource_server.jose import unverified_header


def segment(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


def test_header_of_a_compact_jws():
    assert unverified_header(f"{segment({'alg': 'ES256', 'kid': 'k1'})}.e30.c2ln") == {"alg": "ES256", "kid": "k1"}


@pytest.mark.parametrize(
    "token",
    [
        "",  # empty
        "no-dot-at-all",  # not compact serialization
        f"{segment([1, 2])}.e30.c2ln",  # JSON, but not an object
        "!!!!.e30.c2ln",  # not base64url
        f"{segment('x' * 2000)}.e30.c2ln",  # oversized header
        "bm90IGpzb24.e30.c2ln",  # base64url of "not json"
        f"{segment({'alg': 'ES256', 'typ': ['at+jwt']})}.e30.c2ln",  # typ not a string
        f"{segment({'alg': None, 'kid': 'k1'})}.e30.c2ln",  # alg not a string
        f"{segment({'alg': 'ES256', 'kid': {'a': 1}})}.e30.c2ln",  # kid not a string
    ],
)
def test_anything_else_is_none(token):
    assert unverified_header(token) is None
