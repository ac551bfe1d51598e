"""The token endpoint: the grant registry, each grant, the token-exchange decision and the
one pipeline every grant goes through (authentication, permission, issuance, storage,
audit, metrics)."""
