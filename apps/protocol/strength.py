"""Authentication strength: how a person signed in (``amr``, RFC 8176) and the level that
makes (``acr``, OpenID Connect Core 2), in one vocabulary for the sign-in, the tokens, the
authorization endpoint's step-up and the token exchange.

Two levels, named by the REFEDS profiles that identity federations already understand:
``ACR_SFA`` (one factor: a password) and ``ACR_MFA`` (two independent factors, or a passkey
whose authenticator verified the person). MFA satisfies a request for SFA.

The ``amr`` values we emit:

- ``pwd``: the account's password;
- ``otp``: a code from an authenticator app (TOTP) or a recovery code;
- ``hwk``: a passkey bound to one device; ``swk``: a passkey that its provider syncs (backed
  up), so its key exists outside a single device;
- ``mfa``: at least two factors of different kinds, or a passkey that verified the person
  itself (a PIN or a biometric on the authenticator), as in a passwordless sign-in.
"""

from collections.abc import Iterable

ACR_SFA = "https://refeds.org/profile/sfa"
ACR_MFA = "https://refeds.org/profile/mfa"
# Weakest first: a level satisfies every level before it.
ACR_LEVELS: tuple[str, ...] = (ACR_SFA, ACR_MFA)

PASSWORD = "pwd"
ONE_TIME_CODE = "otp"
HARDWARE_KEY = "hwk"
SOFTWARE_KEY = "swk"
MULTIPLE_FACTORS = "mfa"
AMR_VALUES: tuple[str, ...] = (PASSWORD, ONE_TIME_CODE, HARDWARE_KEY, SOFTWARE_KEY, MULTIPLE_FACTORS)

# Which kind of factor each method is: two methods of one kind (say a TOTP code and a
# passkey, both something the person has) are not two factors.
_KIND = {PASSWORD: "knowledge", ONE_TIME_CODE: "possession", HARDWARE_KEY: "possession", SOFTWARE_KEY: "possession"}


def methods(values: Iterable[str]) -> list[str]:
    """``values`` as an ``amr`` claim: known methods only, each once, in a stable order, with
    ``mfa`` when they amount to more than one kind of factor (or already said so)."""
    present = set(values)
    if len({_KIND[value] for value in present if value in _KIND}) >= 2:
        present.add(MULTIPLE_FACTORS)
    return [value for value in AMR_VALUES if value in present]


def acr_of(amr: Iterable[str]) -> str:
    """The level a sign-in by ``amr`` reached."""
    return ACR_MFA if MULTIPLE_FACTORS in methods(amr) else ACR_SFA


def satisfies(acr: str | None, required: str | None) -> bool:
    """Whether a sign-in at level ``acr`` meets ``required`` (None requires nothing; an
    unknown or missing ``acr`` meets nothing)."""
    if required is None:
        return True
    if acr not in ACR_LEVELS:
        return False
    return ACR_LEVELS.index(acr) >= ACR_LEVELS.index(required)


def required_level(acr_values: str | None) -> str | None:
    """The level an ``acr_values`` request parameter asks for at least: the weakest of the
    values we know (OpenID Connect Core 3.1.2.1 lists them in order of preference, so any of
    them is acceptable), or None if it names none we know (they are voluntary)."""
    known = [value for value in (acr_values or "").split() if value in ACR_LEVELS]
    return min(known, key=ACR_LEVELS.index) if known else None


def stronger(*levels: str | None) -> str | None:
    """The strongest of ``levels`` (None where none is required)."""
    known = [level for level in levels if level in ACR_LEVELS]
    return max(known, key=ACR_LEVELS.index) if known else None
