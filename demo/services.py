"""The GloboTicket demo's three APIs, each protected by the toolkit (the web front end that
calls them is demo/web.py). Each answer says what the service saw of the token that reached
it, so the front end can show every hop."""

import threading
from collections.abc import Callable
from typing import Any, TypedDict

import requests
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.resource_server.authentication import JwtAccessTokenAuthentication
from apps.resource_server.exchange import TokenClient, TokenRequestFailed
from apps.resource_server.permissions import HasScopes
from demo import config


class Event(TypedDict):
    id: int
    name: str
    price: int


EVENTS: dict[int, Event] = {
    1: {"id": 1, "name": "John Egbert Live", "price": 65},
    2: {"id": 2, "name": "The State of Affairs", "price": 85},
}


class Protected(APIView):
    authentication_classes = [JwtAccessTokenAuthentication]
    permission_classes = [HasScopes]


def token_seen(claims: dict[str, Any]) -> dict[str, Any]:
    """What a service knows of the caller from its token: whose it is (``sub``), which services
    may take it (``aud``), what it allows (``scope``), who acts for the user (``act``, RFC 8693
    section 4.1), the client it was issued to and its id (``jti``)."""
    return {name: claims.get(name) for name in ("sub", "aud", "scope", "act", "client_id", "jti")}


class DownstreamFailed(Exception):
    """The basket got no token for the discount service, or no answer from it: the basket
    answers 502 with this message instead of a 500 page."""


def ask_discount(downstream_token: Callable[[], str]) -> dict[str, Any]:
    """Get a token for the discount service (``downstream_token``), then its answer."""
    try:
        token = downstream_token()
    except TokenRequestFailed as error:
        raise DownstreamFailed(f"The IdP refused the basket a token for the discount service: {error}") from None
    except requests.RequestException as error:
        raise DownstreamFailed(f"The IdP did not answer the basket ({type(error).__name__}).") from None
    try:
        response = requests.get(
            f"{config.URLS['discount']}/discount", headers={"Authorization": f"Bearer {token}"}, timeout=10
        )
    except requests.RequestException as error:
        raise DownstreamFailed(f"The discount service did not answer ({type(error).__name__}).") from None
    if response.status_code != 200:
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


class Discount(Protected):
    required_scopes = ["discount.fullaccess"]

    def get(self, request):
        # What the discount service saw: whose discount, for which audience, via whom.
        return Response({"percent": 10, **token_seen(request.auth)})


# --- shoppingbasket ---------------------------------------------------------------------------

_baskets: dict[str, list[int]] = {}
_baskets_lock = threading.Lock()
_token_client: TokenClient | None = None


def token_client() -> TokenClient:
    global _token_client
    if _token_client is None:
        _token_client = TokenClient(f"{config.IDP_URL}/o/token/", config.CLIENT_ID, config.CLIENT_SECRET)
    return _token_client


class Basket(Protected):
    required_scopes = ["shoppingbasket.fullaccess"]

    def get(self, request):
        items = [EVENTS[i] for i in _baskets.get(request.user.sub, []) if i in EVENTS]
        total = sum(item["price"] for item in items)
        # The discount service is called on the user's behalf with an exchanged token.
        incoming = request.META["HTTP_AUTHORIZATION"].split(" ", 1)[1]
        try:
            discount = ask_discount(
                lambda: token_client().on_behalf_of(incoming, audience="discount", scope="discount.fullaccess")
            )
        except DownstreamFailed as error:
            return Response({"detail": str(error)}, status=502)
        return Response(
            {"user": request.user.sub, "items": items, "total": total, "discount": discount,
             "to_pay": round(total * (100 - discount["percent"]) / 100, 2), "token": token_seen(request.auth)}
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


class DiscountRate(Protected):
    """The basket's own call, with no user: a client-credentials token of the basket."""

    required_scopes = ["shoppingbasket.fullaccess"]

    def get(self, request):
        try:
            discount = ask_discount(lambda: token_client().client_credentials(scope="discount.fullaccess"))
        except DownstreamFailed as error:
            return Response({"detail": str(error)}, status=502)
        return Response({"percent": discount["percent"], "discount_saw": discount})
