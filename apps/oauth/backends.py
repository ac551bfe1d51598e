"""DOT's OAUTH2_BACKEND_CLASS seam: how a Django request becomes an oauthlib request."""

from oauth2_provider.oauth2_backends import OAuthLibCore as DotOAuthLibCore


class OAuthLibCore(DotOAuthLibCore):
    def extract_body(self, request) -> list[tuple[str, str]]:
        # DOT keeps the last value of a repeated parameter. We pass every value on, so
        # oauthlib's ``duplicate_params`` sees repeats and the grants can refuse them
        # (apps/oauth/server.py) instead of silently picking one.
        return [(key, value) for key, values in request.POST.lists() for value in values]

    def create_introspect_response(self, request) -> tuple[dict[str, str], str, int]:
        """RFC 7662, through oauthlib's IntrospectEndpoint and our validator's introspect_token."""
        uri, http_method, body, headers = self._extract_params(request)
        headers, body, status = self.server.create_introspect_response(
            uri, http_method=http_method, body=body, headers=headers
        )
        return headers, body, status
