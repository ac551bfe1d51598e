"""Transaction-token policies: which workload may ask for Txn-Tokens, with which scopes and
which context (draft-ietf-oauth-transaction-tokens, section "TTS Issuance Policies").

A Txn-Token is the signed context of one transaction inside the trust domain: whose it is
(``sub``), what for (``scope``), and its details (``tctx``, ``rctx``). The workload that
first receives a user's request asks for one with the user's access token; which workloads
may, and what they may put in it, is this policy: one per workload (the client).
"""

import json
import re

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.resources.models import ApiResource, ApiScope

# "Seconds to a few minutes" (draft section "Txn-Token Lifetime"): a Txn-Token lives as long
# as one call chain takes.
MAX_TRANSACTION_TOKEN_LIFETIME = 300
# Members of rctx the IdP sets itself: no request may set them.
RESERVED_REQUEST_CONTEXT = frozenset({"call_chain"})
MAX_TRANSACTION_CONTEXT_BYTES = 2048
MEMBER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{0,63}")


def member_names(value: str) -> frozenset[str]:
    """The member names of a space-separated list (as stored in the ``*_keys`` fields)."""
    return frozenset(value.split())


class TransactionTokenPolicy(models.Model):
    """``client`` may exchange access tokens issued for ``subject_audiences`` (by default: the
    client's own API) into Txn-Tokens carrying at most ``scopes`` (and never more than the
    subject token carried), with the named members of its ``request_context`` copied into
    ``rctx``, of its ``request_details`` into ``tctx``, and ``transaction_context`` added to
    ``tctx`` by the policy itself."""

    client = models.OneToOneField(
        "oauth.Application", on_delete=models.CASCADE, related_name="transaction_token_policy"
    )
    subject_audiences = models.ManyToManyField(
        ApiResource,
        blank=True,
        related_name="+",
        help_text="Subject tokens must be for one of these APIs. Empty: the client's own API only.",
    )
    scopes = models.ManyToManyField(
        ApiScope,
        related_name="+",
        help_text="The most a Txn-Token may carry; never more than the subject token carried.",
    )
    request_context_keys = models.CharField(
        max_length=500,
        blank=True,
        help_text="Space-separated names of request_context members copied into rctx (e.g. req_ip). "
        "Any other member is refused.",
    )
    request_details_keys = models.CharField(
        max_length=500,
        blank=True,
        help_text="Space-separated names of request_details members copied into tctx (e.g. action amount). "
        "Any other member is refused.",
    )
    transaction_context = models.JSONField(
        default=dict,
        blank=True,
        help_text="A JSON object the IdP adds to every tctx of this workload's Txn-Tokens (e.g. "
        '{"channel": "web"}); its members cannot also come from request_details.',
    )
    max_lifetime = models.PositiveIntegerField(
        default=60,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_TRANSACTION_TOKEN_LIFETIME)],
        help_text=f"Seconds, at most {MAX_TRANSACTION_TOKEN_LIFETIME}; never beyond the subject token.",
    )
    accept_txn_tokens = models.BooleanField(
        default=False,
        help_text="Also replace Txn-Tokens: the client presents one and gets one with the same txn, sub and "
        "aud, narrower scope and added context, expiring no later.",
    )
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "transaction-token policy"
        verbose_name_plural = "transaction-token policies"

    def __str__(self) -> str:
        return f"Txn-Tokens for {self.client}"

    @property
    def request_context_names(self) -> frozenset[str]:
        return member_names(self.request_context_keys)

    @property
    def request_details_names(self) -> frozenset[str]:
        return member_names(self.request_details_keys)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        for name in ("request_context_keys", "request_details_keys"):
            invalid = sorted(key for key in member_names(getattr(self, name)) if not MEMBER_NAME.fullmatch(key))
            if invalid:
                errors[name] = f"Not a member name: {' '.join(invalid)} (a letter, then letters, digits, _ . -)."
        reserved = sorted(self.request_context_names & RESERVED_REQUEST_CONTEXT)
        if reserved and "request_context_keys" not in errors:
            errors["request_context_keys"] = f"Set by the IdP itself: {' '.join(reserved)}."
        context = self.transaction_context
        length = _json_length(context) if isinstance(context, dict) else None
        if length is None:
            errors["transaction_context"] = "Must be a JSON object."
        elif length > MAX_TRANSACTION_CONTEXT_BYTES:
            errors["transaction_context"] = f"At most {MAX_TRANSACTION_CONTEXT_BYTES} bytes of JSON."
        else:
            both = sorted(set(context) & self.request_details_names)
            if both:
                errors["transaction_context"] = (
                    f"Also named in request_details_keys: {' '.join(both)} (the policy's value would be ambiguous)."
                )
        if errors:
            raise ValidationError(errors)

    def summary(self) -> str:
        """The policy as one sentence, e.g. "shoppingbasket may get Txn-Tokens for
        shoppingbasket [shoppingbasket.fullaccess], tctx from action amount, 1 min"."""
        subjects = [r.audience for r in self.subject_audiences.all()]
        if not subjects and self.client.resource is not None:
            subjects = [self.client.resource.audience]
        scopes = " ".join(sorted(s.name for s in self.scopes.all()))
        minutes, seconds = divmod(self.max_lifetime, 60)
        lifetime = f"{minutes} min" if not seconds else f"{self.max_lifetime} s"
        parts = [f"{self.client} may get Txn-Tokens for {', '.join(subjects) or 'nothing'} [{scopes}]"]
        if self.request_details_keys:
            parts.append(f"tctx from {self.request_details_keys}")
        if self.request_context_keys:
            parts.append(f"rctx from {self.request_context_keys}")
        if self.accept_txn_tokens:
            parts.append("replaces Txn-Tokens")
        parts.append(lifetime + ("" if self.enabled else " (disabled)"))
        return ", ".join(parts)


def _json_length(value: object) -> int | None:
    """Length of ``value`` as strict JSON, or None when it has no JSON form: NaN and
    Infinity (Python's json writes them, JSON and the verifiers' parsers do not) or
    objects that are not JSON at all."""
    try:
        return len(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError):
        return None
