"""DOT's OAUTH2_BACKEND_CLASS seam: how a Django request becomes an oauthlib request."""

from oauth2_provider.oauth2_backends import OAuthLibCore as DotOAuthLibCore

from apps.protocol.errors import InvalidRequest

Response = tuple[dict[str, str], str, int]


class OAuthLibCore(DotOAuthLibCore):
    def extract_body(self, request) -> list[tuple[str, str]]:
        # DOT keeps the last value of a repeated parameter; pass every value on, as sent
        # (repeats other than resource/audience were refused by the view, OAuthEndpoint).
        return [(key, value) for key, values in request.POST.lists() for value in values]

    def create_introspect_response(self, request) -> Response:
        """RFC 7662, through oauthlib's IntrospectEndpoint and our validator's introspect_token."""
        uri, http_method, body, headers = self._extract_params(request)
        headers, body, status = self.server.create_introspect_response(
            uri, http_method=http_method, body=body, headers=headers
        )
        return headers, body, status

    def create_userinfo_response(self, request):
        # RFC 9700 section 4.3.2 / RFC 6750 section 5.3: never an access token in a URL
        # (DOT enforces this for protected resources, not for its userinfo endpoint).
        if "access_token" in request.GET:
            error = InvalidRequest(description="Send the access token in the Authorization header.")
            return None, {"WWW-Authenticate": 'Bearer error="invalid_request"'}, error.json, error.status_code
        return super().create_userinfo_response(request)
