"""Recovery codes: ten, 80 random bits each, stored as digests, single use, renewed whole."""

import hashlib
import re

import pytest
from django.contrib.auth import get_user_model

from apps.audit.models import AuditEvent
from apps.factors import recovery
from apps.factors.errors import FactorError
from apps.factors.models import RecoveryCode

SHAPE = re.compile(r"^[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}-[a-z2-7]{4}$")


@pytest.fixture
def dave(db):
    return get_user_model().objects.create_user("dave", password="pw")


def test_ten_distinct_codes_stored_only_as_digests(dave):
    codes = recovery.generate_recovery_codes(dave)
    assert len(set(codes)) == 10 and all(SHAPE.match(code) for code in codes)
    stored = set(RecoveryCode.objects.filter(user=dave).values_list("digest", flat=True))
    assert stored == {hashlib.sha256(code.replace("-", "").encode()).hexdigest() for code in codes}
    assert not any(code in digest for code in codes for digest in stored)


def test_a_code_works_once_however_it_is_typed(dave):
    code = recovery.generate_recovery_codes(dave)[3]
    recovery.use_recovery_code(dave, f"  {code.replace('-', ' ').upper()} ")
    assert recovery.recovery_codes_left(dave) == 9
    with pytest.raises(FactorError) as refused:
        recovery.use_recovery_code(dave, code)
    assert refused.value.code == "used"
    assert recovery.recovery_codes_left(dave) == 9
    assert AuditEvent.objects.filter(event_type="factor.recovery_code_used", subject="dave").count() == 1


def test_a_wrong_code_or_someone_elses_is_refused(dave):
    erin = get_user_model().objects.create_user("erin", password="pw")
    theirs = recovery.generate_recovery_codes(erin)[0]
    recovery.generate_recovery_codes(dave)
    for code in (theirs, "aaaa-bbbb-cccc-dddd", ""):
        with pytest.raises(FactorError) as refused:
            recovery.use_recovery_code(dave, code)
        assert refused.value.code == "wrong"
    assert recovery.recovery_codes_left(dave) == 10 and recovery.recovery_codes_left(erin) == 10


def test_renewing_replaces_every_code(dave):
    old = recovery.generate_recovery_codes(dave)
    recovery.use_recovery_code(dave, old[0])
    new = recovery.generate_recovery_codes(dave)
    assert recovery.recovery_codes_left(dave) == 10 and not set(old) & set(new)
    with pytest.raises(FactorError) as refused:
        recovery.use_recovery_code(dave, old[1])
    assert refused.value.code == "wrong"
