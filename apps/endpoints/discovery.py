"""Server metadata: RFC 8414 and OpenID Connect Discovery 1.0, derived from what is wired up."""

from typing import Any

from django.conf import settings
from django.urls import reverse

from apps.clients.authentication import (
    CONFIDENTIAL_METHOD_NAMES,
    METHOD_NAMES,
    TOKEN_ENDPOINT_AUTH_SIGNING_ALG_VALUES_SUPPORTED,
)
from apps.protocol import dpop, strength
from apps.resources.claims import USER_CLAIMS
from apps.resources.models import ApiScope, SigningAlgorithm
from idp.conf import idp_settings

# The ID token's claims besides the user's: amr and acr say how the user signed in.
PROTOCOL_CLAIMS = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr"]


def server_metadata(*, grant_types: list[str], openid: bool) -> dict[str, Any]:
    issuer = idp_settings.ISSUER.rstrip("/")

    def url(name: str) -> str:
        return issuer + reverse(name)

    metadata: dict[str, Any] = {
        "issuer": idp_settings.ISSUER,
        "authorization_endpoint": url("oauth2_provider:authorize"),
        "token_endpoint": url("oauth2_provider:token"),
        "introspection_endpoint": url("oauth2_provider:introspect"),
        "revocation_endpoint": url("oauth2_provider:revoke-token"),
        "jwks_uri": url("jwks"),
        "grant_types_supported": grant_types,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "scopes_supported": list(ApiScope.objects.order_by("name").values_list("name", flat=True)),
        # "none": public clients, at the token endpoint for the code and refresh grants only;
        # RFC 7009 lets them revoke their own tokens; only confidential clients introspect.
        "token_endpoint_auth_methods_supported": METHOD_NAMES,
        "introspection_endpoint_auth_methods_supported": CONFIDENTIAL_METHOD_NAMES,
        "revocation_endpoint_auth_methods_supported": METHOD_NAMES,
        # private_key_jwt (RFC 7523): what a client may sign its assertions with, at each endpoint.
        "token_endpoint_auth_signing_alg_values_supported": TOKEN_ENDPOINT_AUTH_SIGNING_ALG_VALUES_SUPPORTED,
        "introspection_endpoint_auth_signing_alg_values_supported": TOKEN_ENDPOINT_AUTH_SIGNING_ALG_VALUES_SUPPORTED,
        "revocation_endpoint_auth_signing_alg_values_supported": TOKEN_ENDPOINT_AUTH_SIGNING_ALG_VALUES_SUPPORTED,
        # RFC 9126: pushed authorization requests; required per client
        # (Application.require_pushed_authorization_requests), not for every client.
        "pushed_authorization_request_endpoint": url("oauth2_provider:pushed-authorization-request"),
        "require_pushed_authorization_requests": False,
        # RFC 9449: the algorithms a DPoP proof may be signed with, at the token endpoint and at
        # APIs using the toolkit.
        "dpop_signing_alg_values_supported": list(dpop.SIGNING_ALGORITHMS),
        # RFC 9701: introspection answers as a signed JWT on request, with the caller API's
        # algorithm.
        "introspection_signing_alg_values_supported": SigningAlgorithm.values,
        "code_challenge_methods_supported": ["S256"],
        # RFC 9068 access tokens are signed with these; each API resource picks one.
        "access_token_signing_alg_values_supported": SigningAlgorithm.values,
        "authorization_response_iss_parameter_supported": True,
        # RFC 9101 / OpenID Connect Core 6: the authorization endpoint refuses request objects
        # (request_not_supported); left out, request_uri would default to supported.
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        # The levels acr_values may ask for and tokens' acr names (apps/protocol/strength.py).
        "acr_values_supported": list(strength.ACR_LEVELS),
        # The languages of the sign-in and consent pages (ui_locales, OpenID Connect Core 3.1.2.1).
        "ui_locales_supported": [code for code, _name in settings.LANGUAGES],
    }
    if openid:
        metadata.update(
            {
                "userinfo_endpoint": url("oauth2_provider:user-info"),
                "end_session_endpoint": url("oauth2_provider:rp-initiated-logout"),
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "claims_supported": [*PROTOCOL_CLAIMS, *USER_CLAIMS],
            }
        )
    return metadata
