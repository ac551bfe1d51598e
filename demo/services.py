"""The GloboTicket demo: three APIs and a web front end, each protected by the toolkit."""

import base64
import hashlib
import secrets
import threading
from typing import TypedDict
from urllib.parse import urlencode

import requests
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.utils.html import escape
from rest_framework.response import Response
from rest_framework.views import APIView

from apps.resource_server.authentication import JwtAccessTokenAuthentication
from apps.resource_server.exchange import TokenClient
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
        claims = request.auth
        return Response({"percent": 10, "sub": claims["sub"], "aud": claims["aud"], "act": claims.get("act")})


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
        downstream = token_client().on_behalf_of(incoming, audience="discount", scope="discount.fullaccess")
        discount = requests.get(
            f"{config.URLS['discount']}/discount", headers={"Authorization": f"Bearer {downstream}"}, timeout=10
        ).json()
        return Response(
            {"user": request.user.sub, "items": items, "total": total, "discount": discount,
             "to_pay": round(total * (100 - discount["percent"]) / 100, 2)}
        )  # fmt: skip

    def post(self, request):
        event_id = int(request.data.get("event_id", 0))
        if event_id not in EVENTS:
            return Response({"error": "unknown event"}, status=400)
        with _baskets_lock:
            _baskets.setdefault(request.user.sub, []).append(event_id)
        return Response({"added": event_id}, status=201)


class DiscountRate(Protected):
    """The basket's own call, with no user: a client-credentials token of the basket."""

    required_scopes = ["shoppingbasket.fullaccess"]

    def get(self, request):
        downstream = token_client().client_credentials(scope="discount.fullaccess")
        discount = requests.get(
            f"{config.URLS['discount']}/discount", headers={"Authorization": f"Bearer {downstream}"}, timeout=10
        ).json()
        return Response({"percent": discount["percent"], "discount_saw": discount})


# --- web front end ----------------------------------------------------------------------------

SCOPE = "openid profile eventcatalog.read shoppingbasket.fullaccess"


def _redirect_uri(request: HttpRequest) -> str:
    return f"{config.URLS['web']}/callback"


def login(request: HttpRequest) -> HttpResponse:
    verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    request.session.update({"verifier": verifier, "state": state})
    query = urlencode(
        {"response_type": "code", "client_id": config.CLIENT_ID, "redirect_uri": _redirect_uri(request),
         "scope": SCOPE, "state": state, "code_challenge": challenge, "code_challenge_method": "S256"}
    )  # fmt: skip
    return HttpResponseRedirect(f"{config.IDP_URL}/o/authorize/?{query}")


def callback(request: HttpRequest) -> HttpResponse:
    if not request.GET.get("code") or request.GET.get("state") != request.session.get("state"):
        return HttpResponseBadRequest("Bad state or no code.")
    response = requests.post(
        f"{config.IDP_URL}/o/token/",
        data={"grant_type": "authorization_code", "code": request.GET["code"], "redirect_uri": _redirect_uri(request),
              "code_verifier": request.session["verifier"]},
        auth=(config.CLIENT_ID, config.CLIENT_SECRET),
        timeout=10,
    )  # fmt: skip
    if response.status_code != 200:
        return HttpResponseBadRequest(f"Token request failed: {escape(response.text)}")
    request.session["access_token"] = response.json()["access_token"]
    return HttpResponseRedirect("/")


def home(request: HttpRequest) -> HttpResponse:
    token = request.session.get("access_token")
    if not token:
        return HttpResponse('<h1>GloboTicket</h1><p><a id="login" href="/login">Sign in</a></p>')
    headers = {"Authorization": f"Bearer {token}"}
    if request.method == "POST":
        requests.post(f"{config.URLS['shoppingbasket']}/basket", json={"event_id": request.POST.get("event_id")},
                      headers=headers, timeout=10)  # fmt: skip
        return HttpResponseRedirect("/")
    events = requests.get(f"{config.URLS['eventcatalog']}/events", headers=headers, timeout=10)
    basket = requests.get(f"{config.URLS['shoppingbasket']}/basket", headers=headers, timeout=10)
    if events.status_code != 200 or basket.status_code != 200:
        return HttpResponse(
            f"<h1>GloboTicket</h1><p id='error'>events: {events.status_code} {escape(events.text)}; "
            f"basket: {basket.status_code} {escape(basket.text)}</p>"
            "<p><a id='login' href='/login'>Sign in again</a></p>",
            status=502,
        )
    events, basket = events.json(), basket.json()
    rows = "".join(
        f'<li>{escape(e["name"])} ({e["price"]}) <form method="post" style="display:inline">'
        f'<input type="hidden" name="csrfmiddlewaretoken" value="{get_token(request)}">'
        f'<input type="hidden" name="event_id" value="{e["id"]}"><button>Add {escape(e["name"])}</button></form></li>'
        for e in events
    )
    items = "".join(f"<li>{escape(i['name'])}</li>" for i in basket["items"])
    discount = basket["discount"]
    return HttpResponse(
        f"<h1>GloboTicket</h1><h2>Events</h2><ul>{rows}</ul><h2>Your basket</h2><ul id='basket'>{items}</ul>"
        f"<p id='total'>Total {basket['total']}, discount {discount['percent']}%, to pay "
        f"<strong id='to-pay'>{basket['to_pay']}</strong></p>"
        f"<p id='discount-seen'>discount service saw aud={escape(str(discount['aud']))} "
        f"act={escape(str(discount['act']))}</p>"
    )
