"""OAuth clients as operators and services see them: registration, secrets (generated,
hashed, rotated), the client-authentication methods and the per-process configuration cache.
The rows are oauth.Application."""
