"""Our OAuth2Validator: DOT's persistence and policy hooks, bent to per-API audiences."""

from typing import Any

import jwt
from django.utils import timezone
from jwcrypto import jwk
from oauth2_provider.models import revoke_access_token
from oauth2_provider.oauth2_validators import OAuth2Validator as DotOAuth2Validator

from apps.clients import authentication as client_auth
from apps.keys.services import active_jwk_for_id_tokens, get_signing_key
from apps.oauth.models import AccessToken, Application, Grant, RefreshToken
from apps.protocol import dpop
from apps.protocol.errors import InvalidClient, OAuth2Error, UnsupportedResponseType
from apps.resources.claims import USER_CLAIMS, user_claims
from apps.resources.models import SigningAlgorithm
from apps.resources.services import TokenPlan, default_scopes, scopes_for_audience
from apps.tokens.issuance import user_token_plan
from idp.conf import idp_settings


def resource_indicators(request) -> list[str]:
    """Every ``resource`` of the authorization request (RFC 8707 section 2.1: a query
    parameter, which may repeat; oauthlib keeps only the last one as an attribute). The
    consent form posts to the same address, so its POST sees the same values."""
    return [value for key, value in request.uri_query_params if key == "resource"]


def authorization_plan(client: Application, scopes: list[str], request) -> TokenPlan:
    """What an authorization request for ``scopes`` (and its ``resource`` values) grants."""
    return user_token_plan(client, scopes, resource_indicators(request))


def revoke_tokens_from_code(grant: Grant) -> None:
    """Revoke what an authorization code produced: its access token, its refresh token family
    (every rotation since) and every token exchanged from them."""
    if grant.token_family is not None:
        RefreshToken.revoke_family(grant.token_family)
    access_token = AccessToken.objects.filter(pk=grant.access_token_id).first() if grant.access_token_id else None
    if access_token is not None:
        revoke_access_token(access_token)


class OAuth2Validator(DotOAuth2Validator):
    def authenticate_client(self, request, *args, **kwargs) -> bool:
        """The rule of apps/clients/authentication.py, for the endpoints oauthlib serves
        (introspection, revocation): one method per request, confidential clients only."""
        # Every parameter a method may read (apps/clients/authentication.py METHODS), as sent.
        form = {
            name: getattr(request, name, None)
            for name in ("client_id", "client_secret", "client_assertion", "client_assertion_type")
        }
        try:
            request.client = client_auth.authenticate(request.headers.get("HTTP_AUTHORIZATION"), form)
        except InvalidClient:
            return False
        return True

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs) -> bool:
        """Grant types are checked by their RFC names against the client's list."""
        return grant_type in client.allowed_grant_types

    def get_default_scopes(self, client_id, request, *args, **kwargs) -> list[str]:
        return default_scopes(request.client.allowed_scope_objects())

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs) -> bool:
        """At the authorization endpoint (the only caller): resolve scopes and RFC 8707
        ``resource`` into the code's plan; raises ``invalid_scope`` or ``invalid_target``
        with a description of what was refused."""
        try:
            plan = authorization_plan(client, scopes, request)
        except OAuth2Error as error:
            # Re-raised with the request, so that at the authorization endpoint the error goes
            # back to the client's redirect URI with its state (RFC 6749 section 4.1.2.1).
            raise type(error)(description=error.description, request=request) from None
        request.scopes = list(plan.scopes)
        return True

    def validate_response_type(self, client_id, response_type, client, request, *args, **kwargs) -> bool:
        """RFC 9700 section 2.1.2: only ``code``; implicit and hybrid responses are not offered."""
        if response_type != "code":
            raise UnsupportedResponseType(request=request)
        return client.allows_grant_type(Application.GRANT_AUTHORIZATION_CODE)

    def validate_silent_login(self, request) -> bool:
        # prompt=none: the authorization view answers login_required / consent_required
        # itself (it knows the Django session; oauthlib's request does not).
        return True

    def validate_silent_authorization(self, request) -> bool:
        return True

    def _create_authorization_code(self, request, code, expires=None) -> Grant:
        # RFC 8707 section 2.2: the code remembers every API it was authorized for (named by
        # resource, or implied by its scopes); a resource at the token endpoint may only
        # narrow that. DOT stores request.resource on the Grant. The plan is made again from
        # the scopes validate_scopes settled on: the same inputs, the same APIs.
        plan = authorization_plan(request.client, request.scopes, request)
        request.resource = [resource.resource_uri for resource in plan.resources]
        # RFC 9449 section 10: dpop_jkt binds the code to the client's DPoP key, so a code
        # stolen on its way back through the browser cannot be redeemed without that key.
        # Read (and a malformed one refused) before anything is stored.
        jkt = dpop.requested_jkt(request)
        # The session's sign-in time (auth_time) is added by the authorization view, which
        # knows the session.
        grant = super()._create_authorization_code(request, code, expires)
        if jkt:
            grant.dpop_jkt = jkt
            grant.save(update_fields=["dpop_jkt"])
        return grant

    def _check_and_set_request_resource(self, request) -> None:
        # DOT's RFC 8707 support matches audiences as URL prefixes of the protected
        # resource's address (and refuses URNs). Our audiences are named API resources,
        # resolved by plan_token (validate_scopes at the authorization endpoint, the grants
        # at the token endpoint) and stored in
        # AccessToken.audience, so DOT's columns on the tokens stay empty.
        request.resource = []

    def _load_access_token(self, token) -> AccessToken | None:
        """The stored row of a bearer token, only while its user and client are enabled.
        Every bearer-token check (DOT's validate_bearer_token, so userinfo; introspection)
        loads through here: DOT checks the client only (``is_usable``), never the user, and
        disabling a user must end the tokens they already hold (RFC 6750 section 3.1
        ``invalid_token``; RFC 7662 section 2.2 ``active: false``)."""
        access_token = super()._load_access_token(token)
        if access_token is None:
            return None
        user, application = access_token.user, access_token.application
        if (user is not None and not user.is_active) or (application is not None and not application.is_active):
            return None
        return access_token

    def validate_bearer_token(self, token, scopes, request) -> bool:
        """DOT's check of a token presented to userinfo, plus its DPoP binding (RFC 9449
        section 7): a bound token counts only with a proof of its key (verified by the view,
        apps/endpoints/views.py UserInfoView), never as Bearer (a copy without the key is
        what binding makes worthless); a token presented with a proof must be bound to that
        proof's key."""
        if not super().validate_bearer_token(token, scopes, request):
            return False
        presented = dpop.presented_key.get()
        if (request.access_token.jkt or None) != presented:
            description = (
                "The token is DPoP-bound: present it with the DPoP scheme and a proof of its key."
                if presented is None
                else "The token is not bound to the DPoP proof's key."
            )
            request.oauth2_error = {"error": "invalid_token", "error_description": description}
            return False
        return True

    def validate_jwt_bearer_token(self, token, scopes, request) -> bool:
        # oauthlib's OIDC server scores every "ey..." bearer token as an ID token; our
        # access tokens are JWTs too, and are validated like any stored access token.
        return self.validate_bearer_token(token, scopes, request)

    # --- OpenID Connect --------------------------------------------------------------------

    def get_oidc_issuer_endpoint(self, request) -> str:
        return idp_settings.ISSUER

    # DOT signs and checks ID tokens with ``request.client.jwk_key``, a key per client from
    # settings; ours are the IdP's active RS256 key (its kid is the RFC 7638 thumbprint DOT
    # would put there), so the two methods that use the client's key are replaced.

    def finalize_id_token(self, id_token, token, token_handler, request) -> str:
        claims, expiration_time = self.get_id_token_dictionary(token, token_handler, request)
        id_token.update(**claims)
        if "nonce" not in id_token and request.nonce:  # oauthlib bug #746, as DOT works around
            id_token["nonce"] = request.nonce
        key = get_signing_key(SigningAlgorithm.RS256)
        signed = jwt.encode(id_token, key.private_key, algorithm=key.algorithm, headers={"typ": "JWT", "kid": key.kid})
        self._save_id_token(id_token["jti"], request, expiration_time)
        return signed

    def _get_key_for_token(self, token) -> jwk.JWK | None:
        """The key an ID token of ours (``id_token_hint``, the row lookup after signing) is
        checked with, if its ``aud`` names one of our clients (as DOT decides)."""
        try:
            claims = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            return None
        audience = claims.get("aud")
        if isinstance(audience, str):
            audience = [audience]
        # Anything but a string or a list of strings names no client (and DOT's lookup would
        # fail on it).
        if not isinstance(audience, list) or not all(isinstance(value, str) for value in audience):
            return None
        if self._get_client_by_audience(audience) is None:
            return None
        return active_jwk_for_id_tokens()

    def get_additional_claims(self, request) -> dict[str, Any]:
        """User claims for ID tokens and userinfo; DOT releases each only with its scope
        (``oidc_claim_scope``: profile -> names, email -> email)."""
        claims = user_claims(request.user, USER_CLAIMS)
        if request.user.email:
            claims["email_verified"] = False  # we do not verify addresses
        return claims

    def introspect_token(self, token, token_type_hint, request, *args, **kwargs) -> dict[str, Any] | None:
        """RFC 7662: only for the API the token is for. Anything else is ``active: false``."""
        caller: Application = request.client
        # oauthlib lets a public client through with its client_id alone; it proves nothing.
        if caller.client_type != Application.CLIENT_CONFIDENTIAL or caller.resource_id is None:
            return None
        access_token = self._load_access_token(token)
        if access_token is None or access_token.expires <= timezone.now():
            return None
        resource = caller.resource
        assert resource is not None  # resource_id is set (checked above)
        if resource.audience not in access_token.audience:
            return None
        claims: dict[str, Any] = {
            # RFC 9068 section 2.2.3: the API sees its own scopes; the row also keeps the
            # identity scopes granted with them, for userinfo.
            "scope": " ".join(scopes_for_audience(scopes=access_token.scope.split(), audience=access_token.audience)),
            "client_id": access_token.application.client_id,
            # RFC 9449 section 6.2: a bound token says so, and to which key.
            "token_type": "DPoP" if access_token.jkt else "Bearer",
            **({"cnf": {"jkt": access_token.jkt}} if access_token.jkt else {}),
            "exp": int(access_token.expires.timestamp()),
            "iat": int(access_token.created.timestamp()),
            "sub": access_token.subject,
            **({"act": access_token.act} if access_token.act else {}),
            "aud": access_token.audience,
            "iss": idp_settings.ISSUER,
            "jti": str(access_token.jti),
            # RFC 9470 section 6.2: the sign-in behind a user's token.
            **({"acr": access_token.acr} if access_token.acr else {}),
            **({"auth_time": int(access_token.auth_time.timestamp())} if access_token.auth_time else {}),
        }
        # RFC 7662 section 2.2's ``username`` is a user claim: only for an API that receives it.
        if access_token.user is not None and "preferred_username" in resource.user_claims:
            claims["username"] = access_token.user.get_username()
        return claims
