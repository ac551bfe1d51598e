"""The oauthlib server behind /o/authorize/, introspection, revocation and userinfo (DOT's
OIDC_SERVER_CLASS seam).

It is oauthlib's OpenID Connect server minus what RFC 9700 forbids. /o/token/ does not go
through it: every grant is served by our pipeline (apps/grants/pipeline.py), which uses
oauthlib's code and refresh grant classes directly where they help.
"""

from typing import Any

from oauthlib.openid import Server as OpenIDServer

# RFC 9700 section 2.1.2: no implicit or hybrid responses (tokens in the front channel).
SUPPORTED_RESPONSE_TYPES = ("code", "none")


class Server(OpenIDServer):
    def __init__(self, request_validator, *args, **kwargs):
        super().__init__(request_validator, *args, **kwargs)
        # The token endpoint is ours: no grant is served through this server's.
        self._grant_types.clear()
        self._response_types: dict[str, Any] = {
            k: v for k, v in self._response_types.items() if k in SUPPORTED_RESPONSE_TYPES
        }
