"""DOT's OAUTH2_BACKEND_CLASS seam: how a Django request becomes an oauthlib request."""

from oauth2_provider.oauth2_backends import OAuthLibCore as DotOAuthLibCore

from apps.oauth.errors import InvalidRequest
from apps.oauth.params import reject_repeated_parameters

Response = tuple[dict[str, str], str, int]


def _repeated_parameters(request) -> Response | None:
    """RFC 6749 section 3.2 (and RFC 7662, RFC 7009): a repeated parameter is refused before
    oauthlib sees the request, so which grant runs, or which value counts, never depends on
    which copy a parser keeps."""
    try:
        reject_repeated_parameters(request.POST)
    except InvalidRequest as error:
        return error.headers, error.json, error.status_code
    return None


class OAuthLibCore(DotOAuthLibCore):
    def extract_body(self, request) -> list[tuple[str, str]]:
        # DOT keeps the last value of a repeated parameter; pass every value on, as sent
        # (repeats other than resource/audience were refused above).
        return [(key, value) for key, values in request.POST.lists() for value in values]

    def create_token_response(self, request):
        if refused := _repeated_parameters(request):
            return (None, *refused)
        return super().create_token_response(request)

    def create_introspect_response(self, request) -> Response:
        """RFC 7662, through oauthlib's IntrospectEndpoint and our validator's introspect_token."""
        if refused := _repeated_parameters(request):
            return refused
        uri, http_method, body, headers = self._extract_params(request)
        headers, body, status = self.server.create_introspect_response(
            uri, http_method=http_method, body=body, headers=headers
        )
        return headers, body, status

    def create_revocation_response(self, request):
        if refused := _repeated_parameters(request):
            return (None, *refused)
        return super().create_revocation_response(request)

    def create_userinfo_response(self, request):
        # RFC 9700 section 4.3.2 / RFC 6750 section 5.3: never an access token in a URL
        # (DOT enforces this for protected resources, not for its userinfo endpoint).
        if "access_token" in request.GET:
            error = InvalidRequest(description="Send the access token in the Authorization header.")
            return None, {"WWW-Authenticate": 'Bearer error="invalid_request"'}, error.json, error.status_code
        return super().create_userinfo_response(request)
