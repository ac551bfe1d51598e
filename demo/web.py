"""The GloboTicket web front end: a confidential OpenID Connect client of the IdP.

- Sign-in: authorization code with PKCE (RFC 7636), ``state``, ``nonce`` and the RFC 9207
  ``iss`` check; the ID token verified against the IdP's JWKS (OpenID Connect Core 3.1.3.7).
- The access token goes to the event catalog and the shopping basket. It is renewed with the
  refresh token (RFC 6749 section 6) shortly before it expires, and when a service refuses it
  (RFC 6750 ``invalid_token``); when it cannot be renewed, the user signs in again.
- Step-up (RFC 9470): a service that answers 401 ``insufficient_user_authentication`` gets no
  token renewal; the user is sent back to the IdP's authorization endpoint with the
  challenge's ``acr_values`` (and ``max_age``), and what she was doing (placing an order) is
  done again after the callback, with the stronger token. Once only: refused again, she gets
  a page, not a loop.
- Sign-out: OpenID Connect RP-Initiated Logout at the IdP, with ``id_token_hint`` and the
  ``post_logout_redirect_uri`` seed_demo registers (``/`` of this app).
- Every page shows, for each hop, the token the service there saw (``sub``, ``aud``,
  ``scope``, ``act``, and how it came: Bearer, or DPoP-bound to the caller's key, as the
  basket's tokens for the discount service are); a service that fails gets a page saying
  which one and why.

The tokens live in the session, a signed cookie (demo/settings.py): signed, not encrypted. Fine
for a demo on loopback; a real front end keeps them on the server side.
"""

import base64
import functools
import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
import requests
from django.contrib.sessions.backends.base import SessionBase
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_POST

from apps.resource_server.authentication import jwks_for
from apps.resource_server.bearer import InsufficientUserAuthentication
from demo import config

SCOPE = "openid profile eventcatalog.read shoppingbasket.fullaccess"
# Renewed this long before it expires, so that it does not lapse on its way through the
# services (a token exchanged from it never outlives it).
RENEW_BEFORE_SECONDS = 5
SERVICE_NAMES = {"eventcatalog": "The event catalog", "shoppingbasket": "The shopping basket"}
TOKEN_KEYS = ("access_token", "expires_at", "refresh_token", "id_token", "user")


class SignInAgain(Exception):
    """The session holds no token that works or can be renewed: the user signs in again."""


class ServiceFailed(Exception):
    """A service (or the IdP) did not answer, or answered with an error: shown as a page."""

    def __init__(self, service: str, problem: str) -> None:
        self.service, self.problem = service, problem
        super().__init__(f"{service}: {problem}")


# --- the IdP's token endpoint -----------------------------------------------------------------


def _token_request(data: dict[str, str]) -> requests.Response:
    try:
        return requests.post(
            f"{config.IDP_URL}/o/token/", data=data, auth=(config.CLIENT_ID, config.CLIENT_SECRET), timeout=10
        )
    except requests.RequestException as error:
        raise ServiceFailed("The IdP", f"did not answer ({type(error).__name__}).") from None


def _keep_tokens(session: SessionBase, body: dict[str, Any]) -> None:
    session["access_token"] = body["access_token"]
    session["expires_at"] = time.time() + int(body.get("expires_in", 0))
    # The IdP rotates refresh tokens: each renewal answers with the one to use next time.
    for name in ("refresh_token", "id_token"):
        if body.get(name):
            session[name] = body[name]


def _forget_tokens(session: SessionBase) -> None:
    for name in TOKEN_KEYS:
        session.pop(name, None)


def _renew(session: SessionBase) -> str:
    """A new access token from the refresh token (RFC 6749 section 6)."""
    refresh_token = session.get("refresh_token")
    if not refresh_token:
        raise SignInAgain
    response = _token_request({"grant_type": "refresh_token", "refresh_token": refresh_token})
    if response.status_code in (400, 401):
        # invalid_grant: expired, revoked (the user signed out at the IdP) or already used.
        _forget_tokens(session)
        raise SignInAgain
    if response.status_code != 200:
        raise ServiceFailed("The IdP", f"answered {response.status_code} to the refresh of your token.")
    _keep_tokens(session, response.json())
    return session["access_token"]


def _access_token(session: SessionBase) -> str:
    token = session.get("access_token")
    if not token:
        raise SignInAgain
    if time.time() >= session.get("expires_at", 0) - RENEW_BEFORE_SECONDS:
        return _renew(session)
    return token


# --- calling the services -------------------------------------------------------------------


def _send(method: str, service: str, path: str, token: str, **kwargs: Any) -> requests.Response:
    try:
        return requests.request(
            method, f"{config.URLS[service]}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=10, **kwargs
        )
    except requests.RequestException as error:
        raise ServiceFailed(SERVICE_NAMES[service], f"did not answer ({type(error).__name__}).") from None


def _problem(response: requests.Response) -> str:
    """What went wrong, in the service's words when it gave some (never its HTML page)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        words = body.get("detail") or body.get("error_description") or body.get("error")
        if words:
            return f"answered {response.status_code}: {words}"
    return f"answered {response.status_code} {response.reason}."


def _step_up_asked(response: requests.Response) -> InsufficientUserAuthentication | None:
    """The service's RFC 9470 challenge: the token is fine, the sign-in behind it is not."""
    if response.status_code != 401:
        return None
    return InsufficientUserAuthentication.from_challenge(response.headers.get("WWW-Authenticate"))


def call(request: HttpRequest, method: str, service: str, path: str, **kwargs: Any) -> Any:
    """The service's JSON answer to a call with the user's access token. Raises
    :class:`InsufficientUserAuthentication` when the service asks for a stronger sign-in."""
    response = _send(method, service, path, _access_token(request.session), **kwargs)
    if response.status_code == 401 and _step_up_asked(response) is None:
        # Refused although not yet expired here (a clock ahead of ours, a key the service no
        # longer trusts...): renew once and try again. Not for a step-up: a renewed token
        # carries the same sign-in.
        response = _send(method, service, path, _renew(request.session), **kwargs)
    if (step_up := _step_up_asked(response)) is not None:
        raise step_up
    if response.status_code >= 400:
        raise ServiceFailed(SERVICE_NAMES[service], _problem(response))
    try:
        return response.json()
    except ValueError:
        raise ServiceFailed(SERVICE_NAMES[service], "answered something that is not JSON.") from None


# --- what each hop saw -------------------------------------------------------------------------


@dataclass(frozen=True)
class Hop:
    """One call and the token that reached it, as the receiving service saw it."""

    key: str
    route: str
    how: str
    sub: str
    aud: str
    scope: str
    act: str
    jti: str
    acr: str
    lineage_url: str
    # RFC 9449: the thumbprint of the key the token is bound to (cnf.jkt), when it came with
    # the DPoP scheme and a proof of that key; "" for a Bearer token.
    jkt: str = ""
    # The transaction the call was part of (the Txn-Token's txn), "" for none; with
    # txn_started, the hop where the basket started it rather than one that received it.
    txn: str = ""
    txn_started: bool = False

    @property
    def acr_name(self) -> str:
        """The profile's last segment (``sfa``, ``mfa`` for the REFEDS URIs): the table shows
        it, with the full value as its title."""
        return self.acr.rstrip("/").rsplit("/", 1)[-1]

    @property
    def caller(self) -> str:
        """Who called (and, for a bound token, holds its key): the route's first party."""
        return self.route.split(" → ", 1)[0]

    @classmethod
    def seen(
        cls, key: str, route: str, how: str, claims: dict[str, Any], user: dict[str, str], *, started: str = ""
    ) -> "Hop":
        """What a service answered it saw (``claims``); ``started``: the transaction that
        service started for this call (the basket's, for the calls it makes next)."""
        audience = claims.get("aud") or []
        return cls(
            key=key,
            route=route,
            how=how,
            sub=str(claims.get("sub", "")),
            aud=", ".join(audience) if isinstance(audience, list) else str(audience),
            scope=str(claims.get("scope", "")),
            act=", ".join(_actors(claims.get("act"))),
            jti=str(claims.get("jti", "")),
            acr=str(claims.get("acr") or ""),
            lineage_url=_lineage_url(claims, user),
            jkt=_bound_key(claims),
            txn=started or str(claims.get("txn") or ""),
            txn_started=bool(started),
        )


def _bound_key(seen: dict[str, Any]) -> str:
    """The key a token is bound to (``cnf.jkt``), when the service saw it presented with the
    DPoP scheme (a bound token as Bearer is refused, so one seen is always DPoP)."""
    cnf = seen.get("cnf")
    jkt = cnf.get("jkt") if isinstance(cnf, dict) else None
    return str(jkt) if jkt and seen.get("scheme") == "DPoP" else ""


def _actors(act: Any) -> list[str]:
    """The delegation chain, most recent actor first (RFC 8693 section 4.1)."""
    chain = []
    while isinstance(act, dict):
        chain.append(str(act.get("sub", "?")))
        act = act.get("act")
    return chain


def _lineage_url(claims: dict[str, Any], user: dict[str, str]) -> str:
    """The IdP admin's access tokens, searched by this token's client and user: the row with
    this jti opens the token's page, which shows its lineage (who acted for whom). For
    operators: the admin asks them to sign in."""
    terms = [str(claims.get("client_id", ""))]
    if claims.get("sub") == user.get("sub"):  # the user's token, not a client's own
        terms.append(user.get("name", ""))
    return f"{config.IDP_URL}/admin/oauth/accesstoken/?{urlencode({'q': ' '.join(filter(None, terms))})}"


# --- pages ---------------------------------------------------------------------------------------


def _page(
    request: HttpRequest, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> HttpResponse:
    user = request.session.get("user") or {}
    return render(
        request,
        f"demo/{template}",
        {"signed_in_as": user.get("name"), "idp_url": config.IDP_URL, **(context or {})},
        status=status,
    )


def _failure(request: HttpRequest, service: str, problem: str, status: int) -> HttpResponse:
    return _page(request, "error.html", {"service": service, "problem": problem}, status=status)


def _answered(request: HttpRequest, view: Callable[[HttpRequest], HttpResponse]) -> HttpResponse:
    """``view``'s page: sign in again when the token is gone for good, or more strongly when a
    service asks for it (back to ``/`` afterwards), a readable page (502, the failure was
    further up) when a service fails."""
    try:
        return view(request)
    except SignInAgain:
        return HttpResponseRedirect("/login")
    except InsufficientUserAuthentication as step_up:
        return _authorize(request, acr_values=step_up.acr_values, max_age=step_up.max_age)
    except ServiceFailed as failure:
        return _failure(request, failure.service, failure.problem, status=502)


def front_end(view: Callable[[HttpRequest], HttpResponse]) -> Callable[[HttpRequest], HttpResponse]:
    """A page that calls the services (:func:`_answered`)."""

    @functools.wraps(view)
    def page(request: HttpRequest) -> HttpResponse:
        return _answered(request, view)

    return page


@front_end
def home(request: HttpRequest) -> HttpResponse:
    if "access_token" not in request.session:
        state = request.GET.get("state")
        signed_out = state is not None and state == request.session.pop("signed_out_state", None)
        return _page(request, "signed_out.html", {"signed_out": signed_out})
    if request.method == "POST":
        call(request, "POST", "shoppingbasket", "/basket", json={"event_id": request.POST.get("event_id")})
        return HttpResponseRedirect("/")
    events = call(request, "GET", "eventcatalog", "/events")
    basket = call(request, "GET", "shoppingbasket", "/basket")
    user = request.session["user"]
    hops = [
        Hop.seen(
            "sign-in", "web → event catalog, shopping basket",
            "Your token from sign-in (authorization code + PKCE): one token, both services' audiences.",
            basket["token"], user, started=basket["transaction"]["txn"],
        ),
        Hop.seen(
            "exchange", "shopping basket → discount",
            "Exchanged by the basket on your behalf (token exchange, RFC 8693): still you, the basket acting.",
            basket["discount"], user,
        ),
    ]  # fmt: skip
    context = {"events": events, "basket": basket, "hops": hops, "user": user}
    return _page(request, "home.html", {**context, "step_up_above": config.DISCOUNT_STEP_UP_ABOVE})


@front_end
def client_credentials(request: HttpRequest) -> HttpResponse:
    """The basket calling the discount service for itself: a client-credentials token, no user."""
    if "access_token" not in request.session:
        return HttpResponseRedirect("/")
    rate = call(request, "GET", "shoppingbasket", "/discount-rate")
    hop = Hop.seen(
        "client-credentials", "shopping basket → discount",
        "The basket's own token (client credentials): no user, nobody acting for anyone.",
        rate["discount_saw"], request.session["user"],
    )  # fmt: skip
    return _page(request, "client_credentials.html", {"hops": [hop], "percent": rate["percent"]})


# --- placing an order (RFC 9470 step-up) ---------------------------------------------------------

PLACE_ORDER = "place-order"  # the one action the web app does again after a step-up


def _place_order(request: HttpRequest, *, stepped_up: bool) -> HttpResponse:
    """The basket's order, discounted by the discount service. A large order needs a second
    factor: the basket relays the discount service's challenge, and alice goes to the IdP
    with its acr_values, then back here (:func:`callback`). After that, a challenge again
    means the IdP could not give the sign-in asked for: a page, not another round."""
    try:
        placed = call(request, "POST", "shoppingbasket", "/order")
    except InsufficientUserAuthentication as step_up:
        if stepped_up:
            problem = f"still refused the order after you signed in again: {step_up.description}"
            return _failure(request, "The discount service", problem, status=403)
        return _authorize(request, acr_values=step_up.acr_values, max_age=step_up.max_age, resume=PLACE_ORDER)
    # Kept for the order page (after a redirect, so that reloading it orders nothing).
    request.session["order"] = {
        "items": [item["name"] for item in placed["items"]], "total": placed["total"],
        "percent": placed["percent"], "to_pay": placed["to_pay"], "discount_saw": placed["discount"],
        "transaction": placed["transaction"],
    }  # fmt: skip
    return HttpResponseRedirect("/order")


@front_end
def order(request: HttpRequest) -> HttpResponse:
    """POST: place the order of the basket; GET: the order last placed."""
    if "access_token" not in request.session:
        return HttpResponseRedirect("/")
    if request.method == "POST":
        return _place_order(request, stepped_up=False)
    placed = request.session.get("order")
    if not placed:
        return HttpResponseRedirect("/")
    hop = Hop.seen(
        "order", "shopping basket → discount",
        "Exchanged by the basket on your behalf to discount the order; the discount service read acr.",
        placed["discount_saw"], request.session["user"],
    )  # fmt: skip
    return _page(request, "order.html", {"order": placed, "hops": [hop], "acr": hop.acr})


# --- signing in and out -------------------------------------------------------------------------


def _redirect_uri() -> str:
    return f"{config.URLS['web']}/callback"


def _authorize(
    request: HttpRequest, *, acr_values: str = "", max_age: int | None = None, resume: str | None = None
) -> HttpResponse:
    """To the IdP's authorization endpoint. For a step-up, with the ``acr_values`` and
    ``max_age`` a service's challenge named (RFC 9470 section 4), and the action to do again
    after the callback (``resume``), kept with this request's state so that no other sign-in
    picks it up."""
    verifier, state, nonce = secrets.token_urlsafe(48), secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    request.session.update({"verifier": verifier, "state": state, "nonce": nonce})
    if resume:
        request.session["resume"] = resume
    else:
        request.session.pop("resume", None)
    query = {
        "response_type": "code", "client_id": config.CLIENT_ID, "redirect_uri": _redirect_uri(), "scope": SCOPE,
        "state": state, "nonce": nonce, "code_challenge": challenge, "code_challenge_method": "S256",
    }  # fmt: skip
    if acr_values:
        query["acr_values"] = acr_values
    if max_age is not None:
        query["max_age"] = str(max_age)
    return HttpResponseRedirect(f"{config.IDP_URL}/o/authorize/?{urlencode(query)}")


def login(request: HttpRequest) -> HttpResponse:
    return _authorize(request)


def _verified_id_token(id_token: str, *, nonce: str | None) -> dict[str, Any]:
    """OpenID Connect Core 3.1.3.7: signed with one of the IdP's keys, by the IdP, for this
    client, unexpired, answering this sign-in's nonce. Raises ``jwt.PyJWTError``."""
    key = jwks_for(f"{config.IDP_URL}/.well-known/jwks.json").key_for(jwt.get_unverified_header(id_token).get("kid"))
    if key is None:
        raise jwt.InvalidTokenError("signed with a key the IdP does not publish")
    claims = jwt.decode(
        id_token,
        key.key,
        algorithms=[key.algorithm_name],
        audience=config.CLIENT_ID,
        issuer=config.IDP_URL,
        options={"require": ["iss", "aud", "exp", "iat", "sub", "nonce"]},
    )
    if nonce is None or not secrets.compare_digest(str(claims["nonce"]), nonce):
        raise jwt.InvalidTokenError("its nonce is not this sign-in's")
    return claims


def callback(request: HttpRequest) -> HttpResponse:
    session = request.session
    state, verifier, nonce = session.pop("state", None), session.pop("verifier", None), session.pop("nonce", None)
    resume = session.pop("resume", None)
    if request.GET.get("iss", config.IDP_URL) != config.IDP_URL:
        # RFC 9207: an answer from another authorization server than the one asked (mix-up).
        return _failure(request, "The sign-in", "came back from another issuer.", status=400)
    if state is None or request.GET.get("state") != state or verifier is None:
        return _failure(request, "The sign-in", "was not started here, or was already used (state).", status=400)
    if "error" in request.GET:
        words = request.GET.get("error_description") or request.GET["error"]
        return _failure(request, "The IdP", f"did not sign you in: {words}", status=400)
    response = _token_request(
        {"grant_type": "authorization_code", "code": request.GET.get("code", ""), "redirect_uri": _redirect_uri(),
         "code_verifier": verifier}
    )  # fmt: skip
    if response.status_code != 200:
        return _failure(request, "The IdP", f"refused the code: {_problem(response)}", status=400)
    body = response.json()
    try:
        claims = _verified_id_token(body.get("id_token", ""), nonce=nonce)
    except jwt.PyJWTError as error:
        return _failure(request, "The IdP's ID token", f"was refused: {error}", status=400)
    before = (session.get("user") or {}).get("sub")
    _keep_tokens(session, body)
    session["user"] = {"sub": str(claims["sub"]), "name": str(claims.get("preferred_username") or claims["sub"])}
    # Only for the person who was placing the order (another may have signed in at the IdP).
    if resume == PLACE_ORDER and before == session["user"]["sub"]:
        return _answered(request, functools.partial(_place_order, stepped_up=True))
    return HttpResponseRedirect("/")


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Sign out here, then at the IdP, which ends its session, revokes this app's tokens and
    sends the browser back to ``/`` with our ``state``."""
    id_token = request.session.get("id_token")
    request.session.flush()
    if not id_token:
        return HttpResponseRedirect("/")
    state = secrets.token_urlsafe(16)
    request.session["signed_out_state"] = state
    query = urlencode({"id_token_hint": id_token, "post_logout_redirect_uri": f"{config.URLS['web']}/", "state": state})
    return HttpResponseRedirect(f"{config.IDP_URL}/o/logout/?{query}")
