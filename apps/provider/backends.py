"""DOT's OAUTH2_BACKEND_CLASS seam: how a Django request becomes an oauthlib request."""

from dataclasses import dataclass
from typing import Any

from oauth2_provider.oauth2_backends import OAuthLibCore as DotOAuthLibCore
from oauthlib.common import Request as OAuthlibRequest

from apps.oauth.models import Application
from apps.protocol.errors import InvalidRequest, OAuth2Error


@dataclass(frozen=True)
class Introspection:
    """An introspection request's outcome: the RFC 7662 response for the authenticated
    ``caller``, or the error that refused the request."""

    response: dict[str, Any] | None = None
    caller: Application | None = None
    error: OAuth2Error | None = None


class OAuthLibCore(DotOAuthLibCore):
    def extract_body(self, request) -> list[tuple[str, str]]:
        # DOT keeps the last value of a repeated parameter; pass every value on, as sent
        # (repeats other than resource/audience were refused by the view, OAuthEndpoint).
        return [(key, value) for key, values in request.POST.lists() for value in values]

    def introspect(self, request) -> Introspection:
        """RFC 7662, through oauthlib's IntrospectEndpoint checks and our validator's
        introspect_token: oauthlib's create_introspect_response, keeping the caller it
        authenticated (an RFC 9701 JWT answer is addressed to it)."""
        uri, http_method, body, headers = self._extract_params(request)
        oauthlib_request = OAuthlibRequest(uri, http_method, body, headers)
        try:
            self.server.validate_introspect_request(oauthlib_request)
        except OAuth2Error as error:
            return Introspection(error=error)
        claims = self.server.request_validator.introspect_token(
            oauthlib_request.token, oauthlib_request.token_type_hint, oauthlib_request
        )
        response = {"active": False} if claims is None else {"active": True, **claims}
        return Introspection(response=response, caller=oauthlib_request.client)

    def create_userinfo_response(self, request):
        # RFC 9700 section 4.3.2 / RFC 6750 section 5.3: never an access token in a URL
        # (DOT enforces this for protected resources, not for its userinfo endpoint).
        if "access_token" in request.GET:
            error = InvalidRequest(description="Send the access token in the Authorization header.")
            return None, {"WWW-Authenticate": 'Bearer error="invalid_request"'}, error.json, error.status_code
        return super().create_userinfo_response(request)
