"""Passkeys without a browser (tests/support/authenticator.py plays the browser and its
authenticator): registration, assertions as a second factor and passwordless, and what is
refused: another origin, a challenge used twice or expired, another person's passkey, no user
verification where it is required, a counter going back, an IP-address issuer."""

import json
import time

import pytest
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore

from apps.factors import passkeys, recovery
from apps.factors.errors import FactorError
from apps.factors.models import Passkey
from apps.factors.passkeys import Ceremony
from apps.factors.services import has_second_factor
from tests.support.authenticator import SoftwareAuthenticator, unb64url

ORIGIN = "https://idp.test"  # the test settings' issuer


@pytest.fixture
def hana(db):
    return get_user_model().objects.create_user("hana", password="pw", first_name="Hana", last_name="Ito")


@pytest.fixture
def session():
    return SessionStore()


@pytest.fixture
def device():
    return SoftwareAuthenticator(origin=ORIGIN)


def register(user, session, device, name="Laptop", **create) -> tuple[Passkey, list[str]]:
    options = json.loads(passkeys.registration_options(user=user, session=session))
    credential = device.create(options, **create)
    return passkeys.register(
        user=user, session=session, credential=credential, name=name, challenge=options["challenge"]
    )


def assertion(session, device, ceremony, user=None, **get):
    options = json.loads(passkeys.authentication_options(session=session, ceremony=ceremony, user=user))
    return device.get(options, **get)


def test_the_registration_options(hana, session, device):
    options = json.loads(passkeys.registration_options(user=hana, session=session))
    assert options["rp"] == {"id": "idp.test", "name": "GloboTicket"}
    assert options["user"]["name"] == "hana" and options["user"]["displayName"] == "Hana Ito"
    assert options["authenticatorSelection"]["residentKey"] == "preferred"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert options["attestation"] == "none" and options["excludeCredentials"] == []


def test_a_registered_passkey_is_a_factor_with_recovery_codes(hana, session, device):
    passkey, codes = register(hana, session, device, name="  My   laptop ")
    assert passkey.name == "My laptop" and passkey.user == hana
    assert passkey.transports == ["internal"] and not passkey.backed_up and passkey.sign_count == 0
    assert has_second_factor(hana) and len(codes) == 10 and recovery.recovery_codes_left(hana) == 10
    # A second passkey: no new codes, the person's existing ones excluded, the same user handle.
    options = json.loads(passkeys.registration_options(user=hana, session=session))
    assert [entry["id"] for entry in options["excludeCredentials"]] == [passkey.credential_id]
    assert options["user"]["id"] == passkey.user_handle
    second, codes = passkeys.register(
        user=hana,
        session=session,
        credential=SoftwareAuthenticator(ORIGIN).create(options),
        name="Phone",
        challenge=options["challenge"],
    )
    assert codes == [] and second.user_handle == passkey.user_handle


def test_a_registration_from_another_origin_is_refused(hana, session, device):
    with pytest.raises(FactorError) as refused:
        register(hana, session, device, origin="https://idp.test.evil.example")
    assert refused.value.code == "invalid"
    assert "Unexpected client data origin" in str(refused.value.__cause__)
    assert not Passkey.objects.exists()


def test_a_registration_challenge_is_used_once(hana, session, device):
    options = json.loads(passkeys.registration_options(user=hana, session=session))
    credential = device.create(options)
    passkeys.register(user=hana, session=session, credential=credential, name="Laptop", challenge=options["challenge"])
    with pytest.raises(FactorError) as refused:
        passkeys.register(
            user=hana, session=session, credential=credential, name="Again", challenge=options["challenge"]
        )
    assert refused.value.code == "challenge"
    assert Passkey.objects.count() == 1


def test_a_registration_needs_a_name_and_a_credential(hana, session, device):
    options = json.loads(passkeys.registration_options(user=hana, session=session))
    with pytest.raises(FactorError) as refused:
        passkeys.register(
            user=hana, session=session, credential=device.create(options), name="   ", challenge=options["challenge"]
        )
    assert refused.value.code == "name"
    for garbage in ("not a credential", {"id": "x"}, {"id": "x", "rawId": "x", "response": {}, "type": "public-key"}):
        options = json.loads(passkeys.registration_options(user=hana, session=session))
        with pytest.raises(FactorError):
            passkeys.register(
                user=hana, session=session, credential=garbage, name="Laptop", challenge=options["challenge"]
            )
    assert not Passkey.objects.exists()


def test_an_expired_challenge_is_refused(hana, session, device):
    options = json.loads(passkeys.registration_options(user=hana, session=session))
    kept = session[passkeys.CHALLENGES_KEY]
    kept[Ceremony.REGISTRATION]["expires"] = time.time() - 1
    session[passkeys.CHALLENGES_KEY] = kept
    with pytest.raises(FactorError) as refused:
        passkeys.register(
            user=hana, session=session, credential=device.create(options), name="Laptop", challenge=options["challenge"]
        )
    assert refused.value.code == "challenge"


def test_as_a_second_factor(hana, session, device):
    passkey, _ = register(hana, session, device)
    options = json.loads(passkeys.authentication_options(session=session, ceremony=Ceremony.SECOND_FACTOR, user=hana))
    assert [entry["id"] for entry in options["allowCredentials"]] == [passkey.credential_id]
    assert options["userVerification"] == "preferred" and options["rpId"] == "idp.test"
    use = passkeys.authenticate(
        session=session, ceremony=Ceremony.SECOND_FACTOR, credential=device.get(options, verified=False), user=hana
    )
    assert use.passkey == passkey and use.methods == ["hwk"]
    passkey.refresh_from_db()
    assert passkey.sign_count == 1 and passkey.last_used is not None


def test_passwordless_needs_user_verification_and_gives_mfa(hana, session, device):
    register(hana, session, device)
    options = json.loads(passkeys.authentication_options(session=session, ceremony=Ceremony.PASSWORDLESS))
    assert options["userVerification"] == "required" and options["allowCredentials"] == []
    use = passkeys.authenticate(session=session, ceremony=Ceremony.PASSWORDLESS, credential=device.get(options))
    assert use.passkey.user == hana and use.methods == ["hwk", "mfa"]
    credential = assertion(session, device, Ceremony.PASSWORDLESS, verified=False)
    with pytest.raises(FactorError) as refused:
        passkeys.authenticate(session=session, ceremony=Ceremony.PASSWORDLESS, credential=credential)
    assert refused.value.code == "invalid"
    assert "User verification is required" in str(refused.value.__cause__)


def test_a_synced_passkey_is_a_software_key(hana, session, device):
    register(hana, session, device, backed_up=True)
    credential = assertion(session, device, Ceremony.PASSWORDLESS)
    use = passkeys.authenticate(session=session, ceremony=Ceremony.PASSWORDLESS, credential=credential)
    assert use.methods == ["swk", "mfa"] and use.passkey.backed_up


def test_an_assertion_from_another_origin_is_refused(hana, session, device):
    register(hana, session, device)
    credential = assertion(session, device, Ceremony.PASSWORDLESS, origin="https://phish.example")
    with pytest.raises(FactorError) as refused:
        passkeys.authenticate(session=session, ceremony=Ceremony.PASSWORDLESS, credential=credential)
    assert refused.value.code == "invalid"
    assert "Unexpected client data origin" in str(refused.value.__cause__)
    assert Passkey.objects.get().sign_count == 0


def test_an_authentication_challenge_is_used_once(hana, session, device):
    register(hana, session, device)
    credential = assertion(session, device, Ceremony.SECOND_FACTOR, user=hana)
    passkeys.authenticate(session=session, ceremony=Ceremony.SECOND_FACTOR, credential=credential, user=hana)
    with pytest.raises(FactorError) as refused:
        passkeys.authenticate(session=session, ceremony=Ceremony.SECOND_FACTOR, credential=credential, user=hana)
    assert refused.value.code == "challenge"


def test_a_failed_assertion_spends_its_challenge_too(hana, session, device):
    register(hana, session, device)
    options = json.loads(passkeys.authentication_options(session=session, ceremony=Ceremony.PASSWORDLESS))
    with pytest.raises(FactorError):
        passkeys.authenticate(
            session=session, ceremony=Ceremony.PASSWORDLESS, credential=device.get(options, origin="https://x.example")
        )
    with pytest.raises(FactorError) as refused:
        passkeys.authenticate(session=session, ceremony=Ceremony.PASSWORDLESS, credential=device.get(options))
    assert refused.value.code == "challenge"


def test_another_persons_passkey_is_no_second_factor(hana, session, device):
    register(hana, session, device)
    ivan = get_user_model().objects.create_user("ivan", password="pw")
    ivans_device = SoftwareAuthenticator(ORIGIN)
    register(ivan, session, ivans_device)
    options = json.loads(passkeys.authentication_options(session=session, ceremony=Ceremony.SECOND_FACTOR, user=hana))
    credential = ivans_device.get(options, credential=ivans_device.credentials[0])
    with pytest.raises(FactorError) as refused:
        passkeys.authenticate(session=session, ceremony=Ceremony.SECOND_FACTOR, credential=credential, user=hana)
    assert refused.value.code == "unknown"


def test_a_passwordless_answer_naming_another_person_is_refused(hana, session, device):
    register(hana, session, device)
    ivan = get_user_model().objects.create_user("ivan", password="pw")
    register(ivan, session, SoftwareAuthenticator(ORIGIN))
    # hana's authenticator answers with hana's key but names ivan (his user handle).
    device.credentials[0].user_handle = unb64url(Passkey.objects.get(user=ivan).user_handle)
    credential = assertion(session, device, Ceremony.PASSWORDLESS)
    with pytest.raises(FactorError) as refused:
        passkeys.authenticate(session=session, ceremony=Ceremony.PASSWORDLESS, credential=credential)
    assert refused.value.code == "invalid"


def test_a_counter_that_goes_back_is_refused(hana, session, device):
    register(hana, session, device)
    for _ in range(2):
        credential = assertion(session, device, Ceremony.PASSWORDLESS)
        passkeys.authenticate(session=session, ceremony=Ceremony.PASSWORDLESS, credential=credential)
    credential = assertion(session, device, Ceremony.PASSWORDLESS, sign_count=1)  # a clone's older counter
    with pytest.raises(FactorError) as refused:
        passkeys.authenticate(session=session, ceremony=Ceremony.PASSWORDLESS, credential=credential)
    assert refused.value.code == "invalid"
    assert "sign count" in str(refused.value.__cause__)
    assert Passkey.objects.get().sign_count == 2


def test_a_disabled_account_cannot_sign_in_with_its_passkey(hana, session, device):
    register(hana, session, device)
    hana.is_active = False
    hana.save()
    credential = assertion(session, device, Ceremony.PASSWORDLESS)
    with pytest.raises(FactorError):
        passkeys.authenticate(session=session, ceremony=Ceremony.PASSWORDLESS, credential=credential)


def test_removing_the_last_passkey_removes_the_recovery_codes(hana, session, device):
    first, _ = register(hana, session, device)
    second, _ = register(hana, session, SoftwareAuthenticator(ORIGIN), name="Phone")
    passkeys.remove(user=hana, passkey_id=first.pk)
    assert recovery.recovery_codes_left(hana) == 10
    ivan = get_user_model().objects.create_user("ivan", password="pw")
    with pytest.raises(FactorError):
        passkeys.remove(user=ivan, passkey_id=second.pk)  # not ivan's
    passkeys.remove(user=hana, passkey_id=second.pk)
    assert not has_second_factor(hana) and not recovery.has_recovery_codes(hana)


@pytest.mark.parametrize(
    ("issuer", "rp"),
    [
        ("https://idp.example.com", passkeys.RelyingParty("idp.example.com", "https://idp.example.com")),
        ("http://localhost:8000", passkeys.RelyingParty("localhost", "http://localhost:8000")),
        ("https://Login.Example.com/idp", passkeys.RelyingParty("login.example.com", "https://login.example.com")),
        ("http://127.0.0.1:8000", None),
        ("http://[::1]:8000", None),
    ],
)
def test_the_relying_party_is_the_issuer(settings, issuer, rp):
    settings.IDP = {**settings.IDP, "ISSUER": issuer}
    assert passkeys.relying_party() == rp


def test_an_ip_address_issuer_has_no_passkeys(settings, hana, session):
    settings.IDP = {**settings.IDP, "ISSUER": "http://127.0.0.1:8000"}
    with pytest.raises(FactorError) as refused:
        passkeys.registration_options(user=hana, session=session)
    assert refused.value.code == "unavailable"


def test_a_registration_needs_the_challenge_its_caller_allowed(hana, session, device):
    """The caller (the security page) allows one registration, with the challenge it asked the
    password for: a ceremony begun elsewhere in the session is not that one."""
    allowed = json.loads(passkeys.registration_options(user=hana, session=session))
    other = json.loads(passkeys.registration_options(user=hana, session=session))  # replaces it
    with pytest.raises(FactorError) as refused:
        passkeys.register(
            user=hana, session=session, credential=device.create(other), name="Laptop", challenge=allowed["challenge"]
        )
    assert refused.value.code == "challenge"
    assert not Passkey.objects.exists()


@pytest.mark.parametrize(
    "credential_id", ["", "a\x00b", "a" * 1401, "not/base64+url=", "ünïcode", "a b", 5, None, ["a"]]
)
def test_a_credential_id_is_checked_before_any_lookup(hana, session, device, credential_id, django_assert_num_queries):
    """A NUL or an overlong id is a database error on PostgreSQL: refused before a query."""
    register(hana, session, device)
    options = json.loads(passkeys.authentication_options(session=session, ceremony=Ceremony.PASSWORDLESS))
    credential = {**device.get(options), "id": credential_id}
    with django_assert_num_queries(0), pytest.raises(FactorError) as refused:
        passkeys.authenticate(session=session, ceremony=Ceremony.PASSWORDLESS, credential=credential)
    assert refused.value.code == "malformed"
    options = json.loads(passkeys.registration_options(user=hana, session=session))
    credential = {**SoftwareAuthenticator(ORIGIN).create(options), "id": credential_id}
    with django_assert_num_queries(0), pytest.raises(FactorError) as refused:
        passkeys.register(
            user=hana, session=session, credential=credential, name="Phone", challenge=options["challenge"]
        )
    assert refused.value.code == "malformed"


def test_only_known_transports_are_kept(hana, session, device):
    options = json.loads(passkeys.registration_options(user=hana, session=session))
    credential = device.create(options)
    credential["response"]["transports"] = [{"a": 1}, ["usb"], 7, None, "usb", "carrier-pigeon", "internal", "usb"]
    passkey, _ = passkeys.register(
        user=hana, session=session, credential=credential, name="Key", challenge=options["challenge"]
    )
    assert passkey.transports == ["usb", "internal"]


def test_a_passkey_name_keeps_no_control_characters(hana, session, device):
    passkey, _ = register(hana, session, device, name="My\x00 lap\x07top\n")
    assert passkey.name == "My laptop"
