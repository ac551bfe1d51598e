"""The oauthlib server behind /o/authorize/ and the browser-born grants at /o/token/
(DOT's OIDC_SERVER_CLASS seam).

It is oauthlib's OpenID Connect server minus what RFC 9700 forbids, with our token
lifetime hook. Repeated parameters are refused before a request reaches it
(apps/oauth/backends.py). The service-to-service grants (client credentials, token exchange)
are served without it: apps/oauth/grants/.
"""

from oauthlib.openid import Server as OpenIDServer

from apps.oauth.errors import InvalidRequest
from apps.oauth.tokens import token_lifetime
from apps.oauth.validators import require_code_verifier

# RFC 9700 section 2.4: no resource owner password grant. The device grant is not offered.
# Client credentials are served directly (apps/oauth/grants/client_credentials.py).
REMOVED_GRANT_TYPES = ("password", "urn:ietf:params:oauth:grant-type:device_code", "client_credentials")
# RFC 9700 section 2.1.2: no implicit or hybrid responses (tokens in the front channel).
SUPPORTED_RESPONSE_TYPES = ("code", "none")


class Server(OpenIDServer):
    def __init__(
        self,
        request_validator,
        token_expires_in=None,
        token_generator=None,
        refresh_token_generator=None,
        *args,
        **kwargs,
    ):
        # Lifetimes belong to API resources, so ``expires_in`` comes from the token plan
        # rather than DOT's single ACCESS_TOKEN_EXPIRE_SECONDS.
        super().__init__(request_validator, token_lifetime, token_generator, refresh_token_generator, *args, **kwargs)
        for grant_type in REMOVED_GRANT_TYPES:
            self._grant_types.pop(grant_type, None)
        self._response_types = {k: v for k, v in self._response_types.items() if k in SUPPORTED_RESPONSE_TYPES}
        for grant in (self.auth_grant, self.openid_connect_auth):
            grant.custom_validators.pre_token.append(require_code_verifier)

    def validate_token_request(self, request) -> None:
        super().validate_token_request(request)
        # oauthlib would route a request without grant_type to the authorization code grant.
        if not request.grant_type:
            raise InvalidRequest(description="Missing grant_type parameter.", request=request)
