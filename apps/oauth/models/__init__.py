from .application import Application, GrantType
from .config_generation import ConfigGeneration
from .exchange_policy import ExchangeMode, ExchangePolicy
from .pushed_request import PushedAuthorizationRequest
from .signing_key import KeyState, SigningKey
from .tokens import AccessToken, Grant, IDToken, RefreshToken
from .transaction_token_policy import TransactionTokenPolicy
from .trusted_issuer import IssuerMapping, TrustedIssuer

__all__ = [
    "AccessToken",
    "Application",
    "ConfigGeneration",
    "ExchangeMode",
    "ExchangePolicy",
    "Grant",
    "GrantType",
    "IDToken",
    "IssuerMapping",
    "KeyState",
    "PushedAuthorizationRequest",
    "RefreshToken",
    "SigningKey",
    "TransactionTokenPolicy",
    "TrustedIssuer",
]
