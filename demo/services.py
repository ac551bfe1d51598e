"""The GloboTicket demo's three APIs, each protected by the toolkit (the web front end that
calls them is demo/web.py). Each answer says what the service saw of the token that reached
it, so the front end can show every hop.

Step-up (RFC 9470): the discount service discounts an order above
``config.DISCOUNT_STEP_UP_ABOVE`` only for a token from a sign-in with a second factor
(``acr`` MFA); otherwise it answers 401 ``insufficient_user_authentication``. The basket,
which placed the order on the user's behalf, relays that challenge to the web app, which sends
the user to the IdP for the second factor and places the order again.

DPoP (RFC 9449): the basket's tokens for the discount service are bound to a key the basket
makes when it starts (in memory, one per process): it sends each call with ``Authorization:
DPoP`` and a proof signed with that key, and the discount service (the toolkit) refuses the
token without it, so a token copied from a log or a proxy is worth nothing. The other hops
stay Bearer: seed_demo's APIs do not require DPoP, since other tools call them with plain
Bearer tokens.

Transaction Tokens (draft-ietf-oauth-transaction-tokens): the basket, the first service of the
trust domain alice's request reaches, exchanges her access token for a Txn-Token of what she
does (``view_basket`` or ``place_order``, and the amount), and sends it with every call it
makes for her in the ``Txn-Token`` header. The discount service refuses a call for a user
without one of the basket's transactions, and an order whose amount is not the
transaction's; the basket's own calls (client credentials, no user) carry none. Each service
answers the ``txn`` it saw, so the web page shows one transaction id across the chain."""

import threading
from collections.abc import Callable
from typing import Any, TypedDict, cast

import requests
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.resource_server.authentication import JwtAccessTokenAuthentication
from apps.resource_server.bearer import InsufficientUserAuthentication
from apps.resource_server.client_assertion import ClientAssertionSigner
from apps.resource_server.dpop import generate_key, presented_credentials
from apps.resource_server.exchange import TokenClient, TokenRequestFailed
from apps.resource_server.permissions import HasScopes
from apps.resource_server.step_up import require_authentication_strength
from apps.resource_server.transaction import (
    HEADER as TXN_TOKEN_HEADER,
)
from apps.resource_server.transaction import (
    HasTransactionToken,
    InvalidTransactionToken,
    TransactionToken,
    TransactionTokenMiddleware,
    current_transaction_token,
)
from demo import config


class Event(TypedDict):
    id: int
    name: str
    price: int


DISCOUNT_PERCENT = 10
EVENTS: dict[int, Event] = {
    1: {"id": 1, "name": "John Egbert Live", "price": 65},
    2: {"id": 2, "name": "The State of Affairs", "price": 85},
}


class Protected(APIView):
    authentication_classes = [JwtAccessTokenAuthentication]
    permission_classes = [HasScopes]


def token_seen(request: Request) -> dict[str, Any]:
    """What a service knows of the caller from its token: whose it is (``sub``), which services
    may take it (``aud``), what it allows (``scope``), who acts for the user (``act``, RFC 8693
    section 4.1), the client it was issued to and its id (``jti``), how and when the user
    signed in (``acr``, ``auth_time``), the key it is bound to (``cnf``, RFC 9449 section 6)
    and how it came (``scheme``: ``Bearer``, or ``DPoP`` with a proof of that key); with the
    call, the transaction it is part of (``txn``, from the checked Txn-Token header; None
    without one)."""
    claims = cast(dict[str, Any], request.auth)  # JwtAccessTokenAuthentication: the token's claims
    names = ("sub", "aud", "scope", "act", "client_id", "jti", "acr", "auth_time", "cnf")
    credentials = presented_credentials(request)  # the toolkit accepted them: one of the two
    transaction = current_transaction_token()
    return {
        **{name: claims.get(name) for name in names},
        "scheme": credentials[0] if credentials else None,
        "txn": transaction.txn if transaction else None,
    }


class DownstreamFailed(Exception):
    """The basket got no token for the discount service, or no answer from it: the basket
    answers 502 with this message instead of a 500 page."""


def ask_discount(
    downstream_token: Callable[[], str], *, amount: int | None = None, transaction: TransactionToken | None = None
) -> dict[str, Any]:
    """Get a token for the discount service (``downstream_token``), then its answer: its rate,
    or with ``amount`` the discount of an order of that amount. A call for a user carries the
    user's ``transaction`` (its Txn-Token, as the IdP issued it).

    When the user's sign-in is not enough for it (the IdP refusing the exchange, or the
    discount service's RFC 9470 challenge), :class:`InsufficientUserAuthentication` goes up
    to the view, and the basket answers its caller with the same challenge."""
    try:
        token = downstream_token()
    except TokenRequestFailed as error:
        raise DownstreamFailed(f"The IdP refused the basket a token for the discount service: {error}") from None
    except requests.RequestException as error:
        raise DownstreamFailed(f"The IdP did not answer the basket ({type(error).__name__}).") from None
    method, url = "GET" if amount is None else "POST", f"{config.URLS['discount']}/discount"
    try:
        response = requests.request(
            method,
            url,
            # DPoP and a proof for this call when the basket's tokens are bound (they are, with
            # the key token_client() makes), else Bearer.
            headers={
                **token_client().authorization_headers(token, method, url),
                **({TXN_TOKEN_HEADER: transaction.raw} if transaction else {}),
            },
            json=None if amount is None else {"amount": amount},
            timeout=10,
        )
    except requests.RequestException as error:
        raise DownstreamFailed(f"The discount service did not answer ({type(error).__name__}).") from None
    if response.status_code == 401:
        step_up = InsufficientUserAuthentication.from_challenge(response.headers.get("WWW-Authenticate"))
        if step_up is not None:
            raise step_up
    if response.status_code not in (200, 201):
        raise DownstreamFailed(f"The discount service answered {response.status_code}.")
    return response.json()


# --- eventcatalog -----------------------------------------------------------------------------


class Events(Protected):
    required_scopes = {"GET": ["eventcatalog.read"], "POST": ["eventcatalog.write"]}

    def get(self, request):
        return Response(list(EVENTS.values()))

    def post(self, request):
        event_id = max(EVENTS) + 1
        EVENTS[event_id] = {"id": event_id, "name": str(request.data.get("name", "New event")), "price": 50}
        return Response(EVENTS[event_id], status=201)


# --- discount ---------------------------------------------------------------------------------


def _amount(value: Any) -> int | None:
    """An order's amount: a whole number, not negative; None for anything else."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value)
    return int(text) if text.isascii() and text.isdigit() else None


class UsersCallsCarryTheirTransaction(HasTransactionToken):
    """A call for a user must carry a Txn-Token of that user's transaction in the shop
    (``shoppingbasket.fullaccess``); a client's call for itself (client credentials: its
    ``sub`` is its ``client_id``, no user) is nobody's transaction and needs none."""

    def has_permission(self, request, view) -> bool:
        if request.user.sub == request.user.client_id:
            return True
        return super().has_permission(request, view)


class Discount(Protected):
    permission_classes = [HasScopes, UsersCallsCarryTheirTransaction]
    required_scopes = ["discount.fullaccess"]
    required_transaction_scopes = ["shoppingbasket.fullaccess"]

    def get(self, request):
        # What the discount service saw: whose discount, for which audience, via whom.
        return Response({"percent": DISCOUNT_PERCENT, **token_seen(request)})

    def post(self, request):
        """The discount of an order of ``amount``: above DISCOUNT_STEP_UP_ABOVE, only for a
        sign-in with a second factor (401 with the RFC 9470 challenge otherwise)."""
        amount = _amount(request.data.get("amount"))
        if amount is None:
            return Response({"detail": "The amount must be a whole number."}, status=400)
        transaction = current_transaction_token()
        if transaction is not None and _amount(transaction.tctx.get("amount")) != amount:
            # Why the call was made travels signed: a discount for another amount than the
            # order alice placed is not one the basket may ask for on her behalf.
            return Response({"detail": "The amount is not the transaction's."}, status=403)
        if amount > config.DISCOUNT_STEP_UP_ABOVE:
            require_authentication_strength(request, acr_values=[config.ACR_MFA])
        to_pay = round(amount * (100 - DISCOUNT_PERCENT) / 100, 2)
        return Response({"percent": DISCOUNT_PERCENT, "amount": amount, "to_pay": to_pay, **token_seen(request)})


# --- shoppingbasket ---------------------------------------------------------------------------

_baskets: dict[str, list[int]] = {}
_baskets_lock = threading.Lock()
_token_client: TokenClient | None = None
# gunicorn runs the basket with threads: two first requests must not make two clients (and keys).
_token_client_lock = threading.Lock()


def token_client() -> TokenClient:
    """The basket's client at the IdP. With a private key (seed_demo registers one) it signs
    each token request (private_key_jwt) and never sends its secret: nothing it sends could
    be replayed by whoever reads it, and the IdP holds only the public key.

    Its tokens are DPoP-bound to a key made here, kept in memory only (a new one when the
    process restarts: its bound tokens go with it, and new ones are asked for). Another
    process of the basket has its own key and its own tokens, which is fine: a token is
    only ever used by the process that holds its key."""
    global _token_client
    with _token_client_lock:
        if _token_client is None:
            endpoint, dpop_key = f"{config.IDP_URL}/o/token/", generate_key()
            if config.CLIENT_PRIVATE_KEY:
                signer = ClientAssertionSigner.from_pem(
                    config.CLIENT_PRIVATE_KEY, client_id=config.CLIENT_ID, key_id=config.CLIENT_KEY_ID or None
                )
                _token_client = TokenClient(endpoint, config.CLIENT_ID, assertion_signer=signer, dpop_key=dpop_key)
            else:
                _token_client = TokenClient(endpoint, config.CLIENT_ID, config.CLIENT_SECRET, dpop_key=dpop_key)
        return _token_client


def _items(sub: str) -> list[Event]:
    return [EVENTS[i] for i in _baskets.get(sub, []) if i in EVENTS]


def _incoming_token(request) -> str:
    return request.META["HTTP_AUTHORIZATION"].split(" ", 1)[1]


def _on_behalf_of(request) -> Callable[[], str]:
    """A token for the discount service exchanged from the caller's (RFC 8693): still the
    user, the basket acting."""
    incoming = _incoming_token(request)
    return lambda: token_client().on_behalf_of(incoming, audience="discount", scope="discount.fullaccess")


def _start_transaction(request, action: str, amount: int) -> TransactionToken:
    """A Txn-Token for what the user does here (``action``, ``amount``), exchanged from the
    user's access token, checked as every service of the trust domain checks it."""
    try:
        raw = token_client().transaction_token(
            _incoming_token(request),
            audience=config.TRUST_DOMAIN,
            scope="shoppingbasket.fullaccess",
            request_details={"action": action, "amount": amount},
        )
        return TransactionTokenMiddleware.validate(raw)
    except TokenRequestFailed as error:
        raise DownstreamFailed(f"The IdP refused the basket a Txn-Token: {error}") from None
    except requests.RequestException as error:
        raise DownstreamFailed(f"The IdP did not answer the basket ({type(error).__name__}).") from None
    except InvalidTransactionToken as error:
        raise DownstreamFailed(f"The IdP's Txn-Token was refused: {error}") from None


def _transaction_seen(transaction: TransactionToken) -> dict[str, Any]:
    """The transaction the basket started, as every hop can read it (not the token)."""
    return {"txn": transaction.txn, "req_wl": transaction.req_wl, "tctx": transaction.tctx}


class Basket(Protected):
    required_scopes = ["shoppingbasket.fullaccess"]

    def get(self, request):
        items = _items(request.user.sub)
        total = sum(item["price"] for item in items)
        try:
            transaction = _start_transaction(request, "view_basket", total)
            discount = ask_discount(_on_behalf_of(request), transaction=transaction)
        except DownstreamFailed as error:
            return Response({"detail": str(error)}, status=502)
        return Response(
            {"user": request.user.sub, "items": items, "total": total, "discount": discount,
             "to_pay": round(total * (100 - discount["percent"]) / 100, 2), "token": token_seen(request),
             "transaction": _transaction_seen(transaction)}
        )  # fmt: skip

    def post(self, request):
        try:
            event_id = int(request.data.get("event_id", 0))
        except (TypeError, ValueError):
            event_id = 0
        if event_id not in EVENTS:
            return Response({"error": "unknown event"}, status=400)
        with _baskets_lock:
            _baskets.setdefault(request.user.sub, []).append(event_id)
        return Response({"added": event_id}, status=201)


class Order(Protected):
    """Placing the order of the basket: the discount service discounts its total on the
    user's behalf. Its step-up challenge (a large order, no second factor) is answered to the
    caller as it came (ask_discount), and the basket is kept for the retry."""

    required_scopes = ["shoppingbasket.fullaccess"]

    def post(self, request):
        items = _items(request.user.sub)
        if not items:
            return Response({"detail": "The basket is empty."}, status=400)
        total = sum(item["price"] for item in items)
        try:
            transaction = _start_transaction(request, "place_order", total)
            discount = ask_discount(_on_behalf_of(request), amount=total, transaction=transaction)
        except DownstreamFailed as error:
            return Response({"detail": str(error)}, status=502)
        with _baskets_lock:
            _baskets.pop(request.user.sub, None)
        return Response(
            {"items": items, "total": total, "percent": discount["percent"], "to_pay": discount["to_pay"],
             "discount": discount, "token": token_seen(request), "transaction": _transaction_seen(transaction)},
            status=201,
        )  # fmt: skip


class DiscountRate(Protected):
    """The basket's own call, with no user: a client-credentials token of the basket."""

    required_scopes = ["shoppingbasket.fullaccess"]

    def get(self, request):
        try:
            discount = ask_discount(lambda: token_client().client_credentials(scope="discount.fullaccess"))
        except DownstreamFailed as error:
            return Response({"detail": str(error)}, status=502)
        return Response({"percent": discount["percent"], "discount_saw": discount})
