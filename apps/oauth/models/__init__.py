from .application import Application, GrantType
from .signing_key import KeyState, SigningKey
from .tokens import AccessToken, Grant, IDToken, RefreshToken

__all__ = [
    "AccessToken",
    "Application",
    "Grant",
    "GrantType",
    "IDToken",
    "KeyState",
    "RefreshToken",
    "SigningKey",
]
