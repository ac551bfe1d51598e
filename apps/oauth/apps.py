from django.apps import AppConfig


class OAuthConfig(AppConfig):
    """The OAuth data model: DOT's swappable models (clients, tokens, codes, ID tokens) and
    ours (signing keys, exchange policies). Behaviour lives in the apps that use them."""

    name = "apps.oauth"
    label = "oauth"
    verbose_name = "OAuth clients, tokens and keys"
