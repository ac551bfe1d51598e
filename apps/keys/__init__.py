"""The IdP's signing keys: generation, loading and caching, rotation, withdrawal and the
published JWKS. The rows are oauth.SigningKey."""
