"""Grants we add to oauthlib's server, one module each (registered in apps/oauth/server.py)."""
