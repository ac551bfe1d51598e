"""What several management API test files compare against."""

from apps.resource_server.dpop import ALGORITHMS

# No credentials (RFC 9449 section 7.2): both schemes the API accepts, Bearer first, so an
# RFC 6750 client reads the answer as before.
NO_CREDENTIALS_CHALLENGE = f'Bearer realm="idp-admin", DPoP realm="idp-admin", algs="{" ".join(ALGORITHMS)}"'
