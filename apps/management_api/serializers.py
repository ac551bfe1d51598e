"""What the management API reads and writes. Related objects are named by their natural
keys (audience, scope name, client_id), never by database ids."""

import copy
import json
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from apps.audit.models import AuditEvent
from apps.consent.models import Consent
from apps.oauth.models import (
    AccessToken,
    Application,
    ExchangePolicy,
    GrantType,
    IssuerMapping,
    SigningKey,
    TransactionTokenPolicy,
    TrustedIssuer,
)
from apps.resources.claims import USER_CLAIMS
from apps.resources.models import ApiResource, ApiScope, SigningAlgorithm

if TYPE_CHECKING:
    # For the type checker the mixin is the ModelSerializer it is mixed into.
    _SerializerBase = serializers.ModelSerializer[Any]
else:
    _SerializerBase = object


class ModelCleanMixin(_SerializerBase):
    """Runs the model's ``clean()`` on the object as it would be saved, as the admin's
    ModelForm does (DRF checks field validators and uniqueness, never ``clean()``). A
    Django ValidationError raised here becomes a 400 with the same field keys."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        model: type[Model] = self.Meta.model
        candidate = copy.copy(self.instance) if self.instance is not None else model()
        # Related sets (many-to-many, and objects nested in this one) are checked by their own.
        related_sets = {field.name for field in model._meta.get_fields() if field.many_to_many or field.one_to_many}
        for name, value in attrs.items():
            if name not in related_sets:
                setattr(candidate, name, value)
        candidate.clean()
        return attrs


class SpaceSeparatedListField(serializers.ListField):
    """A list in JSON for a model field that stores its items space-separated."""

    child = serializers.CharField(validators=[RegexValidator(r"^\S+$", "No whitespace inside an item.")])

    # The stubs fix ListField's value to a list; this field's value is the model's string.
    def to_representation(self, value: str) -> list[str]:  # type: ignore[override]  # value: a string
        return value.split()

    def to_internal_value(self, data: Any) -> str:  # type: ignore[override]  # value: a string
        return " ".join(dict.fromkeys(super().to_internal_value(data)))


class ApiResourceSerializer(ModelCleanMixin, serializers.ModelSerializer):
    user_claims = serializers.ListField(child=serializers.ChoiceField(choices=list(USER_CLAIMS)), required=False)
    scopes: "serializers.SlugRelatedField[ApiScope]" = serializers.SlugRelatedField(
        slug_field="name", many=True, read_only=True
    )

    class Meta:
        model = ApiResource
        fields = [
            "audience", "resource_uri", "name", "enabled", "access_token_lifetime",
            "signing_algorithm", "user_claims", "store_tokens", "require_second_factor", "require_dpop", "scopes",
        ]  # fmt: skip


class ApiScopeSerializer(ModelCleanMixin, serializers.ModelSerializer):
    resource = serializers.SlugRelatedField(
        slug_field="audience",
        queryset=ApiResource.objects.all(),
        allow_null=True,
        required=False,
        help_text="Audience of the API this scope belongs to; null for an OpenID identity scope.",
    )

    class Meta:
        model = ApiScope
        fields = ["name", "resource", "description"]


class ClientSerializer(ModelCleanMixin, serializers.ModelSerializer):
    """A client without its secret: only a hint of it is ever readable. Its public keys
    (``jwks`` or ``jwks_uri``, for private_key_jwt) are read and written like any setting:
    nothing in them is secret, and Application.clean() refuses a private key."""

    enabled = serializers.BooleanField(source="is_active", required=False)
    allowed_grant_types = serializers.ListField(
        child=serializers.ChoiceField(choices=GrantType.choices), required=False
    )
    allowed_scopes = serializers.SlugRelatedField(
        slug_field="name", many=True, queryset=ApiScope.objects.all(), required=False
    )
    resource = serializers.SlugRelatedField(
        slug_field="audience",
        queryset=ApiResource.objects.all(),
        allow_null=True,
        required=False,
        help_text="Audience of the API this client is when it calls other services.",
    )
    redirect_uris = SpaceSeparatedListField(required=False)
    post_logout_redirect_uris = SpaceSeparatedListField(required=False)

    class Meta:
        model = Application
        fields = [
            "client_id", "name", "client_type", "enabled", "allowed_grant_types", "allowed_scopes", "resource",
            "one_token_per_audience", "require_second_factor", "redirect_uris", "post_logout_redirect_uris",
            "skip_authorization", "jwks", "jwks_uri", "require_pushed_authorization_requests",
            "dpop_bound_access_tokens", "secret_hint", "created", "updated",
        ]  # fmt: skip
        read_only_fields = ["client_id", "secret_hint", "created", "updated"]
        extra_kwargs = {"name": {"required": True, "allow_blank": False}}

    def validate_allowed_grant_types(self, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    def validate_client_type(self, value: str) -> str:
        # A secret is issued (or not) when the client is created; create a new client instead.
        if self.instance is not None and value != self.instance.client_type:
            raise serializers.ValidationError("The client type cannot change.")
        return value


class ClientWithSecretSerializer(ClientSerializer):
    """The one representation that carries the plaintext secret: after creation and
    rotation. Null for a public client, and for a client created with keys (it authenticates
    with private_key_jwt: no secret is made)."""

    client_secret = serializers.SerializerMethodField()

    class Meta(ClientSerializer.Meta):
        fields = [*ClientSerializer.Meta.fields, "client_secret"]

    def get_client_secret(self, client: Application) -> str | None:
        return self.context["client_secret"] or None


class ExchangePolicySerializer(serializers.ModelSerializer):
    client = serializers.SlugRelatedField(slug_field="client_id", queryset=Application.objects.all())
    subject_audiences = serializers.SlugRelatedField(
        slug_field="audience",
        many=True,
        queryset=ApiResource.objects.all(),
        required=False,
        help_text="Subject tokens must be for one of these APIs. Empty: the client's own API only.",
    )
    trusted_issuers = serializers.SlugRelatedField(
        slug_field="name",
        many=True,
        queryset=TrustedIssuer.objects.all(),
        required=False,
        help_text="Names of the trusted issuers whose tokens (types jwt and id_token) it also accepts as subject "
        "tokens. Empty: this IdP's own tokens only.",
    )
    target = serializers.SlugRelatedField(slug_field="audience", queryset=ApiResource.objects.all())
    scopes = serializers.SlugRelatedField(
        slug_field="name", many=True, allow_empty=False, queryset=ApiScope.objects.all()
    )
    summary = serializers.CharField(read_only=True)

    class Meta:
        model = ExchangePolicy
        fields = [
            "id", "client", "subject_audiences", "trusted_issuers", "target", "scopes", "mode", "max_depth",
            "max_lifetime", "accept_id_token", "enabled", "created", "summary",
        ]  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # As the admin form: a policy grants scopes of its target API only.
        target = attrs.get("target", getattr(self.instance, "target", None))
        assert target is not None  # required on create, and a saved policy always has one
        scopes = attrs.get("scopes", self.instance.scopes.all() if self.instance is not None else [])
        foreign = sorted(scope.name for scope in scopes if scope.resource_id != target.pk)
        if foreign:
            raise serializers.ValidationError({"scopes": f"Not scopes of {target}: {', '.join(foreign)}"})
        return attrs


class TransactionTokenPolicySerializer(ModelCleanMixin, serializers.ModelSerializer):
    """One per client, named by its client_id (which cannot change: a policy for another
    client is a new policy). Member names are lists here, as in the configuration document;
    what they and the context may be is the model's ``clean()``, as in the admin."""

    client = serializers.SlugRelatedField(
        slug_field="client_id",
        queryset=Application.objects.all(),
        validators=[
            UniqueValidator(
                queryset=TransactionTokenPolicy.objects.all(), message="This client has a transaction-token policy."
            )
        ],
    )
    subject_audiences = serializers.SlugRelatedField(
        slug_field="audience",
        many=True,
        queryset=ApiResource.objects.all(),
        required=False,
        help_text="Subject tokens must be for one of these APIs. Empty: the client's own API only.",
    )
    scopes = serializers.SlugRelatedField(
        slug_field="name",
        many=True,
        allow_empty=False,
        queryset=ApiScope.objects.all(),
        help_text="The most a Txn-Token may carry; never more than the subject token carried.",
    )
    request_context_keys = SpaceSeparatedListField(
        required=False, help_text="Names of request_context members copied into rctx; any other is refused."
    )
    request_details_keys = SpaceSeparatedListField(
        required=False, help_text="Names of request_details members copied into tctx; any other is refused."
    )
    # NaN and Infinity never reach it: the parser reads strict JSON (REST_FRAMEWORK's STRICT_JSON).
    transaction_context = serializers.JSONField(
        required=False, help_text="A JSON object added to every tctx of this client's Txn-Tokens."
    )
    summary = serializers.CharField(read_only=True)

    class Meta:
        model = TransactionTokenPolicy
        fields = [
            "client", "subject_audiences", "scopes", "request_context_keys", "request_details_keys",
            "transaction_context", "max_lifetime", "accept_txn_tokens", "enabled", "created", "summary",
        ]  # fmt: skip

    def validate_client(self, value: Application) -> Application:
        if self.instance is not None and value.pk != self.instance.client_id:
            raise serializers.ValidationError("A policy's client cannot change: create one for the other client.")
        return value

    def _within_column(self, name: str, value: str) -> str:
        # The field is a list here: the column's bound is checked on the string it is stored as
        # (else too long a list is a database error on PostgreSQL, not a 400).
        column = TransactionTokenPolicy._meta.get_field(name)
        assert isinstance(column, models.CharField) and column.max_length is not None
        limit = column.max_length
        if len(value) > limit:
            raise serializers.ValidationError(f"At most {limit} characters, spaces between names included.")
        return value

    def validate_request_context_keys(self, value: str) -> str:
        return self._within_column("request_context_keys", value)

    def validate_request_details_keys(self, value: str) -> str:
        return self._within_column("request_details_keys", value)


class IssuerMappingSerializer(ModelCleanMixin, serializers.ModelSerializer):
    """One mapping of a trusted issuer: exact claim values, and the client (by client_id) or
    the person (by username) they stand for, one of the two. What the claims may be is the
    model's ``clean()``, as in the admin."""

    claims = serializers.JSONField(
        help_text='Exact string values, e.g. {"sub": "system:serviceaccount:shop:basket"}: every one must match.'
    )
    client = serializers.SlugRelatedField(
        slug_field="client_id", queryset=Application.objects.all(), allow_null=True, required=False, default=None
    )
    user = serializers.SlugRelatedField(
        slug_field="username",
        queryset=get_user_model().objects.all(),
        allow_null=True,
        required=False,
        default=None,
        help_text="A person's username (null when the mapping names a client).",
    )

    class Meta:
        model = IssuerMapping
        fields = ["claims", "client", "user"]


def _mapping_key(claims: Any, client: Application | None, user: Any) -> tuple[str, int | None, int | None]:
    return (json.dumps(claims, sort_keys=True), client.pk if client else None, user.pk if user else None)


class TrustedIssuerSerializer(ModelCleanMixin, serializers.ModelSerializer):
    """A trusted issuer by its name, with its mappings nested: given, they replace the issuer's
    mappings (those listed again are kept as they are, the others deleted); left out of a
    PATCH, they stay. Algorithms are a list here, as in the configuration document; what the
    issuer, its keys and its mappings may be is the models' ``clean()``, as in the admin."""

    algorithms = SpaceSeparatedListField(
        required=False, help_text="The JWS algorithms its tokens may use: ES256, PS256, RS256."
    )
    mappings = IssuerMappingSerializer(many=True, required=False)
    summary = serializers.CharField(read_only=True)

    class Meta:
        model = TrustedIssuer
        fields = [
            "name", "issuer", "jwks_uri", "jwks", "algorithms", "audience", "enabled", "mappings",
            "created", "summary",
        ]  # fmt: skip

    def validate_mappings(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # The model refuses a second mapping of the same claims against the stored ones; the
        # list replaces those, so it is checked here.
        seen: set[str] = set()
        for mapping in value:
            claims = json.dumps(mapping.get("claims"), sort_keys=True)
            if claims in seen:
                raise serializers.ValidationError(f"Two mappings have the claims {claims}.")
            seen.add(claims)
        return value

    def create(self, validated_data: dict[str, Any]) -> TrustedIssuer:
        mappings = validated_data.pop("mappings", [])
        issuer = super().create(validated_data)
        self._replace_mappings(issuer, mappings)
        return issuer

    def update(self, instance: TrustedIssuer, validated_data: dict[str, Any]) -> TrustedIssuer:
        mappings = validated_data.pop("mappings", None)
        issuer = super().update(instance, validated_data)
        if mappings is not None:
            self._replace_mappings(issuer, mappings)
        return issuer

    @staticmethod
    def _replace_mappings(issuer: TrustedIssuer, mappings: list[dict[str, Any]]) -> None:
        # A PATCH leaves a nested mapping's missing client or user out rather than null.
        wanted = {_mapping_key(m["claims"], m.get("client"), m.get("user")): m for m in mappings}
        for stored in issuer.mappings.select_related("client", "user"):
            key = _mapping_key(stored.claims, stored.client, stored.user)
            if key in wanted:
                del wanted[key]  # kept as it is: the audit trail and the tokens' events name it by id
            else:
                stored.delete()
        for m in wanted.values():
            IssuerMapping.objects.create(issuer=issuer, claims=m["claims"], client=m.get("client"), user=m.get("user"))


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id", "created", "event_type", "outcome", "client_id", "subject",
            "audience", "scopes", "reason", "request_id", "details",
        ]  # fmt: skip
        read_only_fields = fields


# --- people, consents, tokens and keys -----------------------------------------------------------
# Explicit fields, read only: never a password hash, a session key, a TOTP key, a token value
# or checksum, or a private key.


class UserSerializer(serializers.ModelSerializer):
    active = serializers.BooleanField(source="is_active", read_only=True)
    staff = serializers.BooleanField(
        source="is_staff", read_only=True, help_text="An operator account: this API does not act on it."
    )
    superuser = serializers.BooleanField(source="is_superuser", read_only=True)

    class Meta:
        model = get_user_model()
        fields = [
            "id", "username", "email", "first_name", "last_name", "active", "staff", "superuser",
            "date_joined", "last_login",
        ]  # fmt: skip
        read_only_fields = fields


class SecondFactorsSerializer(serializers.Serializer):
    authenticator_app = serializers.BooleanField(help_text="Whether an authenticator app is set up (confirmed).")
    passkeys = serializers.IntegerField(help_text="How many passkeys the person registered.")
    recovery_codes_left = serializers.IntegerField(help_text="Recovery codes not used yet.")


class LockoutSerializer(serializers.Serializer):
    locked_out = serializers.BooleanField(help_text="Whether sign-in is refused now after too many failures.")
    locked_until = serializers.DateTimeField(
        allow_null=True, help_text="When the latest lockout ends by itself (null: not locked out)."
    )
    failed_sign_ins = serializers.IntegerField(help_text="Failures counted, from every address.")


class UserDetailSerializer(UserSerializer):
    """A person's account as the console's page summarises it. ``context["overview"]``: the
    account_overview of apps/accounts/operator_actions.py."""

    second_factors = serializers.SerializerMethodField()
    lockout = serializers.SerializerMethodField()
    sessions = serializers.SerializerMethodField(help_text="Browser sessions signed in now.")

    class Meta(UserSerializer.Meta):
        fields = [*UserSerializer.Meta.fields, "second_factors", "lockout", "sessions"]
        read_only_fields = fields

    @extend_schema_field(SecondFactorsSerializer)
    def get_second_factors(self, user: Any) -> dict[str, Any]:
        factors = self.context["overview"].factors
        return {
            "authenticator_app": factors.authenticator_app is not None,
            "passkeys": len(factors.passkeys),
            "recovery_codes_left": factors.recovery_codes_left,
        }

    @extend_schema_field(LockoutSerializer)
    def get_lockout(self, user: Any) -> dict[str, Any]:
        attempts = self.context["overview"].failed_sign_ins
        ends = [attempt.locked_until for attempt in attempts if attempt.locked_until is not None]
        return {
            "locked_out": any(attempt.locked_out for attempt in attempts),
            "locked_until": serializers.DateTimeField().to_representation(max(ends)) if ends else None,
            "failed_sign_ins": sum(attempt.failures for attempt in attempts),
        }

    def get_sessions(self, user: Any) -> int:
        return len(self.context["overview"].sessions)


class RevokedSerializer(serializers.Serializer):
    """What ending a person's sign-ins took away (disable, sign out everywhere)."""

    username = serializers.CharField()
    active = serializers.BooleanField()
    sessions_ended = serializers.IntegerField()
    refresh_tokens_revoked = serializers.IntegerField()
    access_tokens_revoked = serializers.IntegerField(
        help_text="Unexpired ones, not counting the tokens exchanged from them (revoked with them)."
    )


class UnlockedSerializer(serializers.Serializer):
    username = serializers.CharField()
    records_cleared = serializers.IntegerField(help_text="Failed sign-in records removed (one per address).")


class FactorsResetSerializer(serializers.Serializer):
    username = serializers.CharField()
    authenticator_app = serializers.BooleanField(help_text="Whether an authenticator app was removed.")
    passkeys = serializers.IntegerField(help_text="Passkeys removed.")
    recovery_codes = serializers.IntegerField(help_text="Recovery codes removed.")
    sessions_ended = serializers.IntegerField()


class PasswordResetSentSerializer(serializers.Serializer):
    username = serializers.CharField()
    sent_to = serializers.EmailField(help_text="The address the link went to (the link itself is never returned).")


class ConsentSerializer(serializers.ModelSerializer):
    user: "serializers.SlugRelatedField[Any]" = serializers.SlugRelatedField(slug_field="username", read_only=True)
    client: "serializers.SlugRelatedField[Application]" = serializers.SlugRelatedField(
        source="application", slug_field="client_id", read_only=True
    )
    scopes = serializers.ListField(source="scope_list", child=serializers.CharField(), read_only=True)
    active = serializers.BooleanField(source="is_active", read_only=True, help_text="Not expired yet.")

    class Meta:
        model = Consent
        fields = ["id", "user", "client", "scopes", "granted_at", "expires_at", "active"]
        read_only_fields = fields


class AccessTokenSerializer(serializers.ModelSerializer):
    """An access token by its ``jti``: never its value or checksum."""

    client: "serializers.SlugRelatedField[Application]" = serializers.SlugRelatedField(
        source="application", slug_field="client_id", read_only=True
    )
    user: "serializers.SlugRelatedField[Any]" = serializers.SlugRelatedField(
        slug_field="username", read_only=True, help_text="Null for a client's own token (client credentials)."
    )
    sub = serializers.CharField(source="subject", read_only=True)
    scopes = SpaceSeparatedListField(source="scope", read_only=True)
    parent_jti: "serializers.SlugRelatedField[AccessToken]" = serializers.SlugRelatedField(
        source="parent", slug_field="jti", read_only=True, help_text="The jti of the token this one was exchanged from."
    )

    class Meta:
        model = AccessToken
        fields = ["jti", "client", "user", "sub", "audience", "scopes", "act", "created", "expires", "parent_jti"]
        read_only_fields = fields


class TokensRevokedSerializer(serializers.Serializer):
    revoked = serializers.ListField(
        child=serializers.UUIDField(), help_text="The jti of the token and of every token exchanged from it."
    )
    refresh_token_revoked = serializers.BooleanField(help_text="Whether the token's refresh token was revoked too.")


class SigningKeySerializer(serializers.ModelSerializer):
    """A signing key's public facts (its public half is in the JWKS; the private half never leaves)."""

    class Meta:
        model = SigningKey
        fields = ["kid", "algorithm", "state", "created", "activated_at", "retired_at"]
        read_only_fields = fields


class RotateKeysSerializer(serializers.Serializer):
    algorithm = serializers.ChoiceField(
        choices=SigningAlgorithm.choices,
        required=False,
        help_text="Rotate this algorithm's keys only; every algorithm's if left out.",
    )
