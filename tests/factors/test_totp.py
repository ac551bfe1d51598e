"""Authenticator apps: set up with a first code, one per person, codes good once, wrong and
reused codes refused with a reason, throttled guessing, removal."""

import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice

from apps.audit.models import AuditEvent
from apps.factors import recovery, totp
from apps.factors.errors import FactorError
from apps.factors.services import has_second_factor
from tests.support.authenticator import totp_code


@pytest.fixture
def no_throttle(settings):
    # django-otp makes each wrong code wait 1, 2, 4... seconds; tests that follow a wrong code
    # with a right one at once turn that off (test_wrong_codes_are_throttled keeps it).
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


@pytest.fixture
def carol(db):
    return get_user_model().objects.create_user("carol", password="pw")


def totp_at(device: TOTPDevice, when: float) -> int:
    app = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    app.time = when
    return app.token()


def enrolled(user) -> TOTPDevice:
    device = totp.begin_enrolment(user)
    totp.confirm_enrolment(user, totp_code(device))
    device.refresh_from_db()
    return device


def test_enrolment_is_confirmed_by_a_first_code_and_makes_recovery_codes(carol):
    device = totp.begin_enrolment(carol)
    assert not device.confirmed and not has_second_factor(carol)
    assert totp.authenticator_app(carol) is None
    codes = totp.confirm_enrolment(carol, totp_code(device))
    assert has_second_factor(carol)
    assert totp.authenticator_app(carol) == device
    assert len(codes) == 10 and recovery.recovery_codes_left(carol) == 10
    assert list(AuditEvent.objects.filter(subject="carol").values_list("event_type", "details")) == [
        ("factor.recovery_codes_generated", {}),
        ("factor.enrolled", {"factor": "totp"}),
    ]


def test_the_qr_code_and_the_typed_secret_carry_the_same_key(carol):
    device = totp.begin_enrolment(carol)
    svg = totp.qr_code_svg(device)
    assert svg.startswith("<svg") and "<script" not in svg and "style=" not in svg
    secret = totp.secret_for_typing(device).replace(" ", "")
    assert f"secret={secret}" in device.config_url
    assert len(secret) == 32  # 160 bits


def test_a_wrong_first_code_confirms_nothing(carol, no_throttle):
    device = totp.begin_enrolment(carol)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    with pytest.raises(FactorError) as refused:
        totp.confirm_enrolment(carol, wrong)
    assert refused.value.code == "wrong"
    with pytest.raises(FactorError) as refused:
        totp.confirm_enrolment(carol, "12ab56")
    assert refused.value.code == "malformed"
    assert not has_second_factor(carol) and recovery.recovery_codes_left(carol) == 0


def test_one_authenticator_app_per_person(carol):
    enrolled(carol)
    with pytest.raises(FactorError) as refused:
        totp.begin_enrolment(carol)
    assert refused.value.code == "exists"
    assert TOTPDevice.objects.filter(user=carol).count() == 1


def test_starting_again_replaces_an_unfinished_set_up(carol):
    first = totp.begin_enrolment(carol)
    second = totp.begin_enrolment(carol)
    assert list(TOTPDevice.objects.filter(user=carol)) == [second]
    assert second.key != first.key


def test_a_code_is_good_once(carol, no_throttle):
    device = enrolled(carol)
    code = totp_code(device)
    totp.verify(carol, code)
    with pytest.raises(FactorError) as refused:
        totp.verify(carol, code)
    assert refused.value.code == "reused"
    device.refresh_from_db()
    totp.verify(carol, totp_code(device))  # the next one is fine


def test_wrong_codes_are_throttled(carol):
    device = enrolled(carol)
    with pytest.raises(FactorError):
        totp.verify(carol, "000000" if totp_code(device) != "000000" else "111111")
    with pytest.raises(FactorError) as refused:
        totp.verify(carol, totp_code(device))  # right, but too soon after a wrong one
    assert refused.value.code == "throttled"
    device.refresh_from_db()
    device.throttling_failure_timestamp = device.throttling_failure_timestamp.replace(year=2000)
    device.save()
    totp.verify(carol, totp_code(device))


def test_a_code_from_another_time_is_wrong(carol, no_throttle):
    device = enrolled(carol)
    with pytest.raises(FactorError) as refused:
        totp.verify(carol, f"{totp_at(device, time.time() - 300):06d}")
    assert refused.value.code == "wrong"


def test_removing_the_last_factor_removes_the_recovery_codes(carol):
    enrolled(carol)
    totp.remove(carol)
    assert not has_second_factor(carol)
    assert recovery.recovery_codes_left(carol) == 0 and not recovery.has_recovery_codes(carol)
    assert AuditEvent.objects.filter(event_type="factor.removed", subject="carol").count() == 1
    with pytest.raises(FactorError) as refused:
        totp.remove(carol)
    assert refused.value.code == "none"


@pytest.mark.parametrize("code", ["¹²³⁴⁵⁶", "١٢٣٤٥٦", "１２３４５６", "12345", "1234567", "12 34 5x"])
def test_only_six_ascii_digits_are_a_code(carol, code):
    """Unicode digits pass str.isdigit() but not int(): refused as malformed, never a 500."""
    device = enrolled(carol)
    with pytest.raises(FactorError) as refused:
        totp.verify(carol, code)
    assert refused.value.code == "malformed"
    device.refresh_from_db()
    assert device.throttling_failure_count == 0  # not even a try


def test_spaces_in_a_code_are_ignored(carol, no_throttle):
    device = enrolled(carol)
    code = totp_code(device)
    totp.verify(carol, f" {code[:3]} {code[3:]} ")


def test_every_wrong_code_is_counted(carol, no_throttle):
    """Each failure is counted on the row read again under a lock: callers holding the device
    as it was before (as parallel requests do) cannot overwrite each other's count."""
    device = enrolled(carol)
    stale = [TOTPDevice.objects.get(pk=device.pk) for _ in range(3)]
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    for expected, copy in enumerate(stale, start=1):
        with pytest.raises(FactorError) as refused:
            totp._check(copy, wrong)
        assert refused.value.code == "wrong"
        device.refresh_from_db()
        assert device.throttling_failure_count == expected


def test_a_code_accepted_once_is_refused_with_a_stale_device(carol, no_throttle):
    """The check reads the device again under a lock: a caller holding the row as it was
    before the first use (as a parallel request does) cannot have the code accepted twice."""
    device = enrolled(carol)
    stale = TOTPDevice.objects.get(pk=device.pk)
    code = totp_code(device)
    totp.verify(carol, code)
    with pytest.raises(FactorError) as refused:
        totp._check(stale, code)
    assert refused.value.code == "reused"


def test_the_wait_after_wrong_codes_is_capped(carol, settings):
    """However many wrong codes someone who knows only the password sends, the owner's app
    waits at most 2**(MAX_THROTTLE_FAILURES - 1) seconds (about 34 minutes), not years."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 1
    device = enrolled(carol)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"
    for _ in range(totp.MAX_THROTTLE_FAILURES + 3):
        # The wait after the previous failure is over: the next wrong code is counted.
        TOTPDevice.objects.filter(pk=device.pk).update(throttling_failure_timestamp=timezone.now() - timedelta(days=1))
        with pytest.raises(FactorError) as refused:
            totp.verify(carol, wrong)
        assert refused.value.code == "wrong"
    device.refresh_from_db()
    assert device.throttling_failure_count == totp.MAX_THROTTLE_FAILURES == 12
    allowed, details = device.verify_is_allowed()
    assert not allowed
    wait = details["locked_until"] - device.throttling_failure_timestamp
    assert wait == timedelta(seconds=2**11)
    # After that wait the right code works again.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=2**11 + 1)
    )
    totp.verify(carol, totp_code(device))
    device.refresh_from_db()
    assert device.throttling_failure_count == 0
