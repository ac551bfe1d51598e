"""Exchange policies: which client may exchange which users' tokens into which API (RFC 8693)."""

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from apps.resources.models import MAX_ACCESS_TOKEN_LIFETIME, ApiResource, ApiScope


class ExchangeMode(models.TextChoices):
    DELEGATION = "delegation", "Delegation (the token names the client in 'act')"
    IMPERSONATION = "impersonation", "Impersonation (no 'act': the client acts as the subject)"


class ExchangePolicy(models.Model):
    """``client`` may exchange subject tokens issued for ``subject_audiences`` (by default: the
    client's own API) into tokens for ``target`` carrying at most ``scopes``."""

    client = models.ForeignKey("oauth.Application", on_delete=models.CASCADE, related_name="exchange_policies")
    subject_audiences = models.ManyToManyField(
        ApiResource,
        blank=True,
        related_name="+",
        help_text="Subject tokens must be for one of these APIs. Empty: the client's own API only.",
    )
    trusted_issuers = models.ManyToManyField(
        "oauth.TrustedIssuer",
        blank=True,
        related_name="exchange_policies",
        help_text="Also accept subject tokens of these issuers (types jwt and id_token), for the client or user "
        "a mapping of the issuer names. Empty: this IdP's own tokens only.",
    )
    target = models.ForeignKey(ApiResource, on_delete=models.CASCADE, related_name="exchange_policies")
    scopes = models.ManyToManyField(ApiScope, related_name="+", help_text="The most the issued token may carry.")
    mode = models.CharField(max_length=13, choices=ExchangeMode.choices, default=ExchangeMode.DELEGATION)
    max_depth = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1)],
        help_text="Longest actor chain ('act' nested in 'act') the issued token may carry.",
    )
    max_lifetime = models.PositiveIntegerField(
        default=300,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_ACCESS_TOKEN_LIFETIME)],
        help_text=f"Seconds, at most {MAX_ACCESS_TOKEN_LIFETIME} (one day); never beyond the subject token.",
    )
    accept_id_token = models.BooleanField(
        default=False, help_text="Also accept the client's own ID tokens as subject tokens."
    )
    enabled = models.BooleanField(default=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "exchange policies"
        constraints = [models.UniqueConstraint(fields=["client", "target"], name="one_exchange_policy_per_target")]

    def __str__(self) -> str:
        return f"{self.client} -> {self.target}"

    def summary(self) -> str:
        """The policy as one sentence, e.g. "shoppingbasket may exchange tokens for
        shoppingbasket into discount [discount.fullaccess], delegation, depth 1, 5 min"."""
        subjects = [r.audience for r in self.subject_audiences.all()]
        if not subjects and self.client.resource is not None:
            subjects = [self.client.resource.audience]
        subjects += [f"issuer {issuer.name}" for issuer in self.trusted_issuers.all()]
        scopes = " ".join(sorted(s.name for s in self.scopes.all()))
        minutes, seconds = divmod(self.max_lifetime, 60)
        lifetime = f"{minutes} min" if not seconds else f"{self.max_lifetime} s"
        disabled = "" if self.enabled else " (disabled)"
        return (
            f"{self.client} may exchange tokens for {', '.join(subjects) or 'nothing'} into {self.target} "
            f"[{scopes}], {self.mode}, depth {self.max_depth}, {lifetime}{disabled}"
        )
