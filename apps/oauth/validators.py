"""Our OAuth2Validator: DOT's persistence and policy hooks, bent to per-API audiences."""

import hashlib
from typing import Any

from django.utils import timezone
from oauth2_provider.oauth2_validators import OAuth2Validator as DotOAuth2Validator

from apps.oauth.errors import InvalidScope
from apps.oauth.models import AccessToken, Application
from apps.oauth.tokens import store_access_token
from apps.resources.services import default_scopes, plan_token
from idp.conf import idp_settings


def request_values(request, name: str) -> list[str]:
    """Every value of a body parameter (oauthlib keeps only the last one as an attribute)."""
    return [value for key, value in (request.decoded_body or []) if key == name]


def request_value(request, name: str) -> str | None:
    """One body parameter; oauthlib only predefines the RFC 6749 ones as attributes."""
    return getattr(request, name, None)


class OAuth2Validator(DotOAuth2Validator):
    def _extract_basic_auth(self, request) -> str | None:
        # DOT would crash (500) base64-decoding a non-ASCII header; such a header is no
        # credential at all.
        auth_string = super()._extract_basic_auth(request)
        return auth_string if auth_string is None or auth_string.isascii() else None

    def authenticate_client(self, request, *args, **kwargs) -> bool:
        """RFC 6749 section 2.3: one authentication method per request. With a Basic header,
        body credentials are neither a fallback nor allowed alongside. Only confidential
        clients authenticate: a public client has no secret to prove."""
        if self._extract_basic_auth(request) is not None:
            if getattr(request, "client_secret", None) is not None:
                return False
            authenticated = self._authenticate_basic_auth(request)
        else:
            authenticated = self._authenticate_request_body(request)
        return authenticated and request.client.client_type == Application.CLIENT_CONFIDENTIAL

    def validate_grant_type(self, client_id, grant_type, client, request, *args, **kwargs) -> bool:
        """Grant types are checked by their RFC names against the client's list."""
        return grant_type in client.allowed_grant_types

    def _allowed_scopes(self, client: Application, request) -> list:
        allowed = client.allowed_scope_objects()
        if request.grant_type == "client_credentials":
            # No user is involved, so identity scopes (openid, profile, ...) mean nothing.
            return [scope for scope in allowed if not scope.is_identity_scope]
        return allowed

    def get_default_scopes(self, client_id, request, *args, **kwargs) -> list[str]:
        return default_scopes(self._allowed_scopes(request.client, request))

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs) -> bool:
        """Resolve scopes and RFC 8707 ``resource`` into the token's plan; raises
        ``invalid_scope`` or ``invalid_target`` with a description of what was refused."""
        plan = plan_token(
            allowed_scopes=self._allowed_scopes(client, request),
            requested_scopes=scopes,
            resource_uris=request_values(request, "resource"),
            one_token_per_audience=client.one_token_per_audience,
        )
        if request.grant_type == "client_credentials" and not plan.resources:
            raise InvalidScope(description="No API scope granted: a client-credentials token must be for an API.")
        request.token_plan = plan
        request.scopes = list(plan.scopes)
        return True

    def save_bearer_token(self, token, request, *args, **kwargs) -> None:
        # Without a refresh token the save is one INSERT: it needs no transaction of its own
        # (DOT opens one regardless; that is two extra round trips on every token request).
        if "refresh_token" not in token:
            return self._save_bearer_token(token, request, *args, **kwargs)
        return super().save_bearer_token(token, request, *args, **kwargs)

    def _check_and_set_request_resource(self, request) -> None:
        # DOT's RFC 8707 support matches audiences as URL prefixes of the protected
        # resource's address. Our audiences are named API resources, resolved in
        # validate_scopes and stored in AccessToken.audience, so DOT's column stays empty.
        request.resource = []

    def _create_access_token(self, expires, request, token, source_refresh_token=None) -> AccessToken:
        # DOT's ``expires`` is recomputed from ``expires_in``; the JWT's own exp is the truth.
        id_token = token.get("id_token")
        return store_access_token(
            issued=request.issued_access_token,
            application=request.client,
            user=request.user,
            id_token=self._load_id_token(id_token) if id_token else None,
            source_refresh_token=source_refresh_token,
            parent=getattr(request, "parent_token", None),
        )

    def validate_jwt_bearer_token(self, token, scopes, request) -> bool:
        # oauthlib's OIDC server scores every "ey..." bearer token as an ID token; our
        # access tokens are JWTs too, and are validated like any stored access token.
        return self.validate_bearer_token(token, scopes, request)

    def introspect_token(self, token, token_type_hint, request, *args, **kwargs) -> dict[str, Any] | None:
        """RFC 7662: only for the API the token is for. Anything else is ``active: false``."""
        caller: Application = request.client
        # oauthlib lets a public client through with its client_id alone; it proves nothing.
        if caller.client_type != Application.CLIENT_CONFIDENTIAL or caller.resource_id is None:
            return None
        checksum = hashlib.sha256(token.encode()).hexdigest()
        access_token = (
            AccessToken.objects.select_related("application", "user", "application__resource")
            .filter(token_checksum=checksum)
            .first()
        )
        if access_token is None or access_token.expires <= timezone.now():
            return None
        if caller.resource.audience not in access_token.audience:
            return None
        claims: dict[str, Any] = {
            "scope": access_token.scope,
            "client_id": access_token.application.client_id,
            "token_type": "Bearer",
            "exp": int(access_token.expires.timestamp()),
            "iat": int(access_token.created.timestamp()),
            "sub": access_token.subject,
            **({"act": access_token.act} if access_token.act else {}),
            "aud": access_token.audience,
            "iss": idp_settings.ISSUER,
            "jti": str(access_token.jti),
        }
        if access_token.user is not None:
            claims["username"] = access_token.user.get_username()
        return claims
