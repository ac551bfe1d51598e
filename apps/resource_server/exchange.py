"""Getting downstream tokens from the IdP: on behalf of the caller (token exchange) or as the
service itself (client credentials), cached until shortly before they expire.

When the IdP refuses an exchange because the user's sign-in is too weak or too old for the
token asked (``insufficient_user_authentication``, with the ``acr_values`` / ``max_age`` that
would do), :class:`TokenClient` raises
:class:`~apps.resource_server.bearer.InsufficientUserAuthentication`: a DRF view that lets it
through answers its own caller with the RFC 9470 challenge, so the user can step up.

With a DPoP key (RFC 9449) every token the client gets is bound to it: a copy of the token
is worthless to whoever has no key, and :meth:`TokenClient.authorization_headers` gives the
``Authorization: DPoP`` header and the proof each call to the API needs.

Transaction Tokens (draft-ietf-oauth-transaction-tokens, :mod:`apps.resource_server.transaction`)
come from the same token endpoint by the same client: :meth:`TokenClient.transaction_token`
and :meth:`TokenClient.replace_transaction_token`, never cached (one per transaction)."""

import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import requests

from apps.resource_server.bearer import InsufficientUserAuthentication
from apps.resource_server.client_assertion import ClientAssertionSigner
from apps.resource_server.dpop import DPOP_SCHEME, PrivateKey, make_proof
from apps.resource_server.transaction import TOKEN_TYPE_NOT_APPLICABLE, TXN_TOKEN_URN

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token"

Post = Callable[..., Any]
NONCE_HEADER = "DPoP-Nonce"  # RFC 9449 section 8
USE_DPOP_NONCE = "use_dpop_nonce"


class TokenRequestFailed(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status, self.error = status, body.get("error", "unknown_error")
        super().__init__(f"{status} {self.error}: {body.get('error_description', '')}")


class TokenNotBound(TokenRequestFailed):
    """The IdP answered a request with a DPoP proof with a token of another type (Bearer):
    not bound to the key, so usable by anyone who copies it. Refused rather than used (RFC
    9449 section 5: the client checks ``token_type``)."""

    def __init__(self, token_type: object) -> None:
        description = f"A DPoP proof was sent but the IdP issued a {token_type or 'untyped'} token, not a DPoP one."
        super().__init__(200, {"error": "token_not_bound", "error_description": description})


class NotATransactionToken(TokenRequestFailed):
    """The IdP answered a Txn-Token request with something else: ``issued_token_type`` not
    ``urn:ietf:params:oauth:token-type:txn_token``, ``token_type`` not ``N_A``, or no token
    (draft-ietf-oauth-transaction-tokens section "Txn-Token Response"). Refused rather than
    passed on as a transaction's context."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        description = (
            f"Asked for a Txn-Token but the IdP issued a token of type {body.get('issued_token_type')!r} "
            f"with token_type {body.get('token_type')!r} (expected {TXN_TOKEN_URN!r} and "
            f"{TOKEN_TYPE_NOT_APPLICABLE!r})."
        )
        super().__init__(200, {"error": "not_a_txn_token", "error_description": description})


@dataclass
class _Cached:
    token: str
    expires_at: float


class TokenClient:
    """One per service. ``refresh_margin``: a cached token is replaced this many seconds
    before it expires, so a token handed out is never about to lapse in flight.

    The service authenticates with ``client_secret`` (HTTP Basic, client_secret_basic) or,
    with no secret shared, with ``assertion_signer``: each request then carries a fresh
    assertion signed by the service's private key, whose audience is ``token_endpoint``
    (private_key_jwt, :mod:`apps.resource_server.client_assertion`). Exactly one of them.

    ``dpop_key`` (a private key, e.g. :func:`apps.resource_server.dpop.generate_key`): each
    token request carries a fresh DPoP proof of it, so every token is bound to it (RFC 9449;
    a Bearer answer raises :class:`TokenNotBound`). The IdP's nonce (``use_dpop_nonce``) is
    followed once per request and the last one it sent kept for the next requests. Call the
    API with :meth:`authorization_headers`."""

    def __init__(
        self, token_endpoint: str, client_id: str, client_secret: str | None = None, *,
        assertion_signer: ClientAssertionSigner | None = None, refresh_margin: float = 30,
        post: Post = requests.post, dpop_key: PrivateKey | None = None,
    ) -> None:  # fmt: skip
        if (client_secret is None) == (assertion_signer is None):
            raise ValueError("Give either the client's secret or its assertion signer (exactly one).")
        if assertion_signer is not None and assertion_signer.client_id != client_id:
            raise ValueError("The assertion signer signs for another client id.")
        self._endpoint = token_endpoint
        self._auth = (client_id, client_secret) if client_secret is not None else None
        self._signer = assertion_signer
        self._margin = refresh_margin
        self._post = post
        self._dpop_key = dpop_key
        self._nonce: str | None = None  # the IdP's last DPoP-Nonce
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    @property
    def dpop_bound(self) -> bool:
        """Whether the tokens this client hands out are DPoP-bound (it has a DPoP key): a
        Bearer answer is refused, so with a key every token is bound."""
        return self._dpop_key is not None

    def authorization_headers(self, token: str, method: str, url: str) -> dict[str, str]:
        """The headers of one API call with ``token`` (one of this client's): ``Authorization:
        DPoP`` and a new proof for ``method`` and ``url`` with the token's hash (RFC 9449
        section 7.1), or ``Authorization: Bearer`` without a DPoP key. Make them anew for each
        call: an API accepts each proof once."""
        if self._dpop_key is None:
            return {"Authorization": f"Bearer {token}"}
        proof = make_proof(self._dpop_key, method, url, access_token=token)
        return {"Authorization": f"{DPOP_SCHEME} {token}", "DPoP": proof}

    def on_behalf_of(self, subject_token: str, *, audience: str | None = None, scope: str | None = None) -> str:
        """A token for the next API that still names the caller's user (RFC 8693)."""
        key = "obo:" + hashlib.sha256(f"{subject_token}|{audience}|{scope}".encode()).hexdigest()
        data = {"grant_type": TOKEN_EXCHANGE, "subject_token": subject_token, "subject_token_type": ACCESS_TOKEN_TYPE}
        return self._cached(key, {**data, **_optional(audience=audience, scope=scope)})

    def client_credentials(self, *, scope: str | None = None) -> str:
        """A token for this service itself, no user involved."""
        return self._cached(f"cc:{scope}", {"grant_type": "client_credentials", **_optional(scope=scope)})

    def transaction_token(
        self, subject_token: str, *, audience: str, scope: str, request_context: Mapping[str, Any] | None = None,
        request_details: Mapping[str, Any] | None = None, subject_token_type: str = ACCESS_TOKEN_TYPE,
    ) -> str:  # fmt: skip
        """A Txn-Token for one transaction (draft-ietf-oauth-transaction-tokens section
        "Txn-Token Request"): ``audience`` is the trust domain, ``scope`` the transaction's
        purpose, ``subject_token`` what names its subject (the caller's access token, of
        ``subject_token_type``). ``request_context`` (the environment: the caller's address,
        how it signed in) and ``request_details`` (the transaction's parameters) are sent as
        JSON objects; the IdP decides what of them goes into ``rctx`` and ``tctx``.

        Not cached: a Txn-Token is one transaction's. Send it on with
        :func:`apps.resource_server.transaction.transaction_headers` or as the ``Txn-Token``
        header; never as ``Authorization`` (section "Using Txn-Tokens")."""
        data = {
            "grant_type": TOKEN_EXCHANGE,
            "requested_token_type": TXN_TOKEN_URN,
            "audience": _required(audience=audience),
            "scope": _required(scope=scope),
            "subject_token": _required(subject_token=subject_token),
            "subject_token_type": subject_token_type,
            **_json_objects(request_context=request_context, request_details=request_details),
        }
        return self._transaction_token(data)

    def replace_transaction_token(
        self, txn_token: str, *, audience: str, scope: str, request_details: Mapping[str, Any] | None = None
    ) -> str:
        """A replacement Txn-Token (section "Txn-Token as a subject_token"): the same ``txn``,
        ``sub`` and trust domain, a scope no wider, ``request_details`` added to its context.
        The IdP refuses to replace an expired one."""
        data = {
            "grant_type": TOKEN_EXCHANGE,
            "requested_token_type": TXN_TOKEN_URN,
            "audience": _required(audience=audience),
            "scope": _required(scope=scope),
            "subject_token": _required(txn_token=txn_token),
            "subject_token_type": TXN_TOKEN_URN,
            **_json_objects(request_details=request_details),
        }
        return self._transaction_token(data)

    def _transaction_token(self, data: dict[str, str]) -> str:
        # Section "Txn-Token Response": token_type N_A (case-insensitive, RFC 6749 section
        # 5.1), issued_token_type the txn_token URN. With a DPoP key the request carries a
        # proof as every other does, but a Txn-Token is not bound: N_A is the right answer.
        body = self._token_answer(data)
        token = body.get("access_token")
        if (
            body.get("issued_token_type") != TXN_TOKEN_URN
            or str(body.get("token_type", "")).upper() != TOKEN_TYPE_NOT_APPLICABLE
            or not isinstance(token, str)
            or not token
        ):
            raise NotATransactionToken(body)
        return token

    def _token_answer(self, data: dict[str, str]) -> dict[str, Any]:
        """The token endpoint's success answer to ``data``, sent with this client's
        authentication and, with a DPoP key, a proof (the IdP's nonce followed once);
        a refusal raises."""
        if self._dpop_key is None:
            response = self._request(data)
        else:
            response = self._request(data, nonce=self._nonce)
            if response.status_code == 400 and self._remember_nonce(response) and _error(response) == USE_DPOP_NONCE:
                # RFC 9449 section 8: once more, with the nonce the IdP just gave.
                response = self._request(data, nonce=self._nonce)
                self._remember_nonce(response)
        body = response.json()
        if response.status_code != 200:
            raise _refusal(response.status_code, body)
        return body

    def _cached(self, key: str, data: dict[str, str]) -> str:
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cached.expires_at - self._margin > now:
            return cached.token
        body = self._token_answer(data)
        if self._dpop_key is not None and str(body.get("token_type", "")).lower() != DPOP_SCHEME.lower():
            raise TokenNotBound(body.get("token_type"))
        with self._lock:
            self._cache[key] = _Cached(body["access_token"], now + float(body.get("expires_in", 0)))
            for stale in [k for k, v in self._cache.items() if v.expires_at <= now]:
                del self._cache[stale]
        return body["access_token"]

    def _request(self, data: dict[str, str], *, nonce: str | None = None) -> Any:
        if self._signer is not None:
            # Signed now, for this request only: the IdP remembers each jti until it expires.
            data = {**data, **self._signer.form(self._endpoint)}
        if self._dpop_key is None:
            return self._post(self._endpoint, data=data, auth=self._auth, timeout=10)
        # A new proof for each request, a retry included: the IdP accepts each jti once.
        headers = {"DPoP": make_proof(self._dpop_key, "POST", self._endpoint, nonce=nonce)}
        return self._post(self._endpoint, data=data, auth=self._auth, timeout=10, headers=headers)

    def _remember_nonce(self, response: Any) -> bool:
        """Keeps the answer's ``DPoP-Nonce`` for the next proofs; whether it had one."""
        nonce = response.headers.get(NONCE_HEADER)
        if not nonce:
            return False
        with self._lock:
            self._nonce = nonce
        return True


def _error(response: Any) -> object:
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("error") if isinstance(body, dict) else None


def _refusal(status: int, body: dict[str, Any]) -> Exception:
    if body.get("error") == InsufficientUserAuthentication.error:
        return InsufficientUserAuthentication.from_parameters(body)
    return TokenRequestFailed(status, body)


def _optional(**values: str | None) -> dict[str, str]:
    return {name: value for name, value in values.items() if value}


def _required(**value: str) -> str:
    ((name, given),) = value.items()
    if not given:
        raise ValueError(f"A Txn-Token request needs {name}.")
    return given


def _json_objects(**values: Mapping[str, Any] | None) -> dict[str, str]:
    """Each given mapping as the JSON object string its parameter carries (section
    "Txn-Token Request": request_context and request_details are JSON objects)."""
    return {name: json.dumps(dict(value), separators=(",", ":")) for name, value in values.items() if value is not None}
