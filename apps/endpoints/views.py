"""The views under /o/ and /.well-known/: parse the HTTP request, delegate, render."""

import json
from typing import Any

from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.shortcuts import redirect
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import InvalidOIDCClientError
from oauth2_provider.views.mixins import OAuthLibMixin

from apps.authorize.pushed import push_authorization_request
from apps.clients import authentication as client_auth
from apps.endpoints.discovery import server_metadata
from apps.endpoints.introspection import JWT_RESPONSE_TYPE, introspection_jwt, prefers_jwt
from apps.grants.pipeline import token_response
from apps.grants.registry import GRANTS, grant_types
from apps.keys.services import jwks_document
from apps.oauth.models import Application
from apps.protocol import dpop
from apps.protocol.errors import (
    NO_STORE,
    Endpoint,
    InvalidDPoPProof,
    InvalidRequest,
    OAuth2Error,
    error_response,
    oauth_response,
)
from apps.protocol.forms import has_control_characters, parse_form
from apps.protocol.params import reject_repeated_parameters
from apps.tokens.revocation import revoke_client_tokens
from idp.conf import idp_settings


def secret_parameters() -> tuple[str, ...]:
    """Every parameter these endpoints accept that carries a credential or a token, kept out of
    Django's error reports: each grant's, each client-authentication method's, and the
    ``token`` of introspection and revocation (RFC 7662, RFC 7009)."""
    # client_assertion (RFC 7521 section 4.2) is a credential even before a method reads it.
    names = {"token", "client_assertion"}
    for grant in GRANTS.values():
        names |= grant.SECRET_PARAMETERS
    for method in client_auth.METHODS:
        names |= method.SECRET_PARAMETERS
    return tuple(sorted(names))


@method_decorator(csrf_exempt, name="dispatch")
class OAuthEndpoint(OAuthLibMixin, View):
    """Base of the client-facing POST endpoints: every answer is RFC 6749 section 5.2 JSON,
    even for a body Django itself refuses to parse."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        # What sensitive_post_parameters() does, with names read from the registries when
        # the request comes (a grant registered later is covered too).
        request.sensitive_post_parameters = secret_parameters()  # type: ignore[attr-defined]  # read by Django's error reporter
        if (refused := parse_form(request)) is not None:
            return refused
        if has_control_characters(request):
            return error_response(InvalidRequest(description="Parameters must not contain control characters."))
        return super().dispatch(request, *args, **kwargs)


def _repeated(request: HttpRequest) -> HttpResponse | None:
    """RFC 7662 and RFC 7009 (as RFC 6749 section 3.2 for the token endpoint, whose pipeline
    checks it): a parameter sent twice is refused before oauthlib reads the request."""
    try:
        reject_repeated_parameters(request.POST)
    except InvalidRequest as error:
        return error_response(error)
    return None


class TokenView(OAuthEndpoint):
    """/o/token/ for every grant: apps/grants/pipeline.py."""

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            body = token_response(request)
        except OAuth2Error as error:
            return error_response(error)
        # RFC 9449 section 8: while nonces are required, each answer gives the next one.
        return oauth_response(json.dumps(body), 200, {**NO_STORE, **dpop.nonce_headers()})


class IntrospectView(OAuthEndpoint):
    """/o/introspect/ (RFC 7662). The caller authenticates as a client; a token is reported
    active only to the API resource it was issued for. In JSON, or as a signed JWT for a
    caller that asks for one (RFC 9701)."""

    def post(self, request: HttpRequest) -> HttpResponse:
        if (refused := _repeated(request)) is not None:
            return refused
        result = self.get_oauthlib_core().introspect(request)
        if result.error is not None:
            return error_response(result.error)
        assert result.response is not None and result.caller is not None  # no error: answered
        if prefers_jwt(request.headers.get("Accept", "")):
            # RFC 9701 section 5: the JWT is the whole body, inactive answers included.
            token = introspection_jwt(response=result.response, caller=result.caller)
            response = HttpResponse(token, content_type=JWT_RESPONSE_TYPE, headers=NO_STORE)
            response["Content-Length"] = str(len(response.content))
            return response
        return oauth_response(json.dumps(result.response), 200, NO_STORE)


class PushedAuthorizationRequestView(OAuthEndpoint):
    """/o/par/ (RFC 9126 section 2): a client pushes its authorization request and gets the
    ``request_uri`` its browser brings to /o/authorize/ instead. Confidential clients
    authenticate as at the token endpoint; a public client names itself with ``client_id``
    (section 2: allowed, its PKCE binds the code to it as ever)."""

    def post(self, request: HttpRequest) -> HttpResponse:
        try:
            # Section 2.1: the parameters come in the form body, and only there.
            if request.GET:
                raise InvalidRequest(description="Send the parameters in the request body, not in the URL.")
            reject_repeated_parameters(request.POST)
            client = client_auth.authenticate_client(request, allow_public=True)
            # RFC 9449 section 10.1: a DPoP proof sent with the push binds the code to its key.
            proof = dpop.token_request_proof(request)
            pushed = push_authorization_request(
                client=client, form=request.POST, dpop_jkt=proof.jkt if proof is not None else None
            )
        except OAuth2Error as error:
            return error_response(error)
        body = {"request_uri": pushed.request_uri, "expires_in": pushed.expires_in}
        return oauth_response(json.dumps(body), 201, {**NO_STORE, **dpop.nonce_headers()})


class RevokeTokenView(OAuthEndpoint):
    """/o/revoke_token/ (RFC 7009): a client revokes its own tokens; revoking one revokes
    every token exchanged from it (AccessToken.parent cascades)."""

    def post(self, request: HttpRequest) -> HttpResponse:
        if (refused := _repeated(request)) is not None:
            return refused
        _url, headers, body, status = self.create_revocation_response(request)
        return oauth_response(body, status, headers)


class JwksView(View):
    def get(self, request: HttpRequest) -> JsonResponse:
        response = JsonResponse(jwks_document())
        response["Cache-Control"] = f"public, max-age={idp_settings.JWKS_MAX_AGE_SECONDS}"
        return response


class MetadataView(View):
    """RFC 8414 ``/.well-known/oauth-authorization-server`` and OIDC Discovery
    ``/.well-known/openid-configuration``; the grant list is the token endpoint's registry."""

    openid = False

    def get(self, request: HttpRequest) -> JsonResponse:
        return JsonResponse(server_metadata(grant_types=grant_types(), openid=self.openid))


class RPInitiatedLogoutView(dot_views.RPInitiatedLogoutView):
    """OpenID Connect RP-Initiated Logout. DOT validates ``post_logout_redirect_uri`` against
    the client's registered URIs (exact match) and ends the session; we also revoke what that
    client holds for the user, but only when that user is the one signed in here: an old ID
    token in a stranger's hands revokes nothing."""

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)
        except Application.DoesNotExist:
            return self.error_response(InvalidOIDCClientError())

    def do_logout(self, application=None, post_logout_redirect_uri=None, state=None, token_user=None):
        user = self.request.user
        if application is not None and user.is_authenticated and token_user in (None, user):
            revoke_client_tokens(user=user, application=application)
        if post_logout_redirect_uri:
            return super().do_logout(application, post_logout_redirect_uri, state, token_user)
        # Without a destination DOT redirects to "/" under the https-only schemes (a crash on
        # http); the sign-out ends on our own page instead.
        logout(self.request)
        return redirect("accounts:signed-out")


class UserInfoView(dot_views.UserInfoView):
    """OpenID Connect userinfo, answering in JSON (DOT leaves the content type unset).

    A DPoP-bound token comes as ``Authorization: DPoP <token>`` with a proof (RFC 9449
    section 7.1): the proof is verified here, then DOT checks the token as a Bearer one and
    our validator checks that it is bound to the proof's key (apps/provider/validators.py)."""

    def _create_userinfo_response(self, request: HttpRequest) -> HttpResponse:
        scheme, _, token = (request.META.get("HTTP_AUTHORIZATION") or "").partition(" ")
        if scheme.lower() != dpop.DPOP_SCHEME:
            return self._answer(request)
        try:
            proof = dpop.resource_request_proof(request, token.strip())
        except InvalidDPoPProof as error:
            response = error_response(error, endpoint=Endpoint.PROTECTED_RESOURCE)
            response.status_code = 401  # section 7.1: a resource's refusal is 401 with a challenge
            response["WWW-Authenticate"] = dpop.resource_challenge(error.error, error.description)
            return response
        request.META["HTTP_AUTHORIZATION"] = f"Bearer {token.strip()}"
        reset = dpop.presented_key.set(proof.jkt)
        try:
            response = self._answer(request)
        finally:
            dpop.presented_key.reset(reset)
        if response.status_code == 401:
            response["WWW-Authenticate"] = dpop.resource_challenge("invalid_token", "")
        return response

    def _answer(self, request: HttpRequest) -> HttpResponse:
        _url, headers, body, status = self.create_userinfo_response(request)
        # A protected resource: its 401 keeps oauthlib's Bearer challenge (RFC 6750 section 3).
        return oauth_response(body, status, headers, endpoint=Endpoint.PROTECTED_RESOURCE)
