"""django-oauth-toolkit's seams: the oauthlib server, the request validator and the request
backend behind the authorization, introspection, revocation and userinfo endpoints (and the
code and refresh grants, which run oauthlib's grant classes with it)."""
