"""The amr/acr vocabulary: which sign-ins amount to two factors, and which level satisfies which."""

import pytest

from apps.protocol import strength
from apps.protocol.strength import ACR_MFA, ACR_SFA


@pytest.mark.parametrize(
    ("given", "amr"),
    [
        (["pwd"], ["pwd"]),
        (["otp", "pwd", "pwd"], ["pwd", "otp", "mfa"]),  # knowledge + possession
        (["pwd", "hwk"], ["pwd", "hwk", "mfa"]),
        (["pwd", "swk"], ["pwd", "swk", "mfa"]),
        (["otp", "hwk"], ["otp", "hwk"]),  # two things the person has: one kind of factor
        (["hwk", "mfa"], ["hwk", "mfa"]),  # a passkey that verified the person itself
        (["pwd", "face", ""], ["pwd"]),  # unknown methods are dropped
        ([], []),
    ],
)
def test_methods_say_mfa_only_for_two_kinds_of_factor(given, amr):
    assert strength.methods(given) == amr


def test_the_level_follows_the_methods():
    assert strength.acr_of(["pwd"]) == ACR_SFA
    assert strength.acr_of(["pwd", "otp"]) == ACR_MFA
    assert strength.acr_of(["otp", "swk"]) == ACR_SFA


@pytest.mark.parametrize(
    ("acr", "required", "ok"),
    [
        (ACR_MFA, ACR_SFA, True),
        (ACR_MFA, ACR_MFA, True),
        (ACR_SFA, ACR_MFA, False),
        (ACR_SFA, None, True),
        (None, None, True),
        (None, ACR_SFA, False),
        ("urn:somebody:else", ACR_SFA, False),
    ],
)
def test_satisfies(acr, required, ok):
    assert strength.satisfies(acr, required) is ok


@pytest.mark.parametrize(
    ("acr_values", "level"),
    [
        (ACR_MFA, ACR_MFA),
        (f"{ACR_MFA} {ACR_SFA}", ACR_SFA),  # in order of preference: SFA is acceptable
        (f"urn:x {ACR_MFA}", ACR_MFA),
        ("urn:x urn:y", None),  # voluntary: values we do not know ask for nothing
        ("", None),
        (None, None),
    ],
)
def test_required_level_is_the_weakest_known_value(acr_values, level):
    assert strength.required_level(acr_values) == level


def test_stronger():
    assert strength.stronger(None, ACR_SFA, ACR_MFA) == ACR_MFA
    assert strength.stronger(None, None) is None
    assert strength.stronger(ACR_SFA, "urn:x") == ACR_SFA
