"""What the management API reads and writes. Related objects are named by their natural
keys (audience, scope name, client_id), never by database ids."""

import copy
from typing import TYPE_CHECKING, Any

from django.core.validators import RegexValidator
from django.db.models import Model
from rest_framework import serializers

from apps.audit.models import AuditEvent
from apps.oauth.models import Application, ExchangePolicy, GrantType
from apps.resources.claims import USER_CLAIMS
from apps.resources.models import ApiResource, ApiScope

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
        many_to_many = {field.name for field in model._meta.many_to_many}
        for name, value in attrs.items():
            if name not in many_to_many:
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
            "signing_algorithm", "user_claims", "store_tokens", "require_second_factor", "scopes",
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
    """A client without its secret: only a hint of it is ever readable."""

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
            "skip_authorization", "secret_hint", "created", "updated",
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
    rotation. Null for a public client."""

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
    target = serializers.SlugRelatedField(slug_field="audience", queryset=ApiResource.objects.all())
    scopes = serializers.SlugRelatedField(
        slug_field="name", many=True, allow_empty=False, queryset=ApiScope.objects.all()
    )
    summary = serializers.CharField(read_only=True)

    class Meta:
        model = ExchangePolicy
        fields = [
            "id", "client", "subject_audiences", "target", "scopes", "mode", "max_depth",
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


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = [
            "id", "created", "event_type", "outcome", "client_id", "subject",
            "audience", "scopes", "reason", "request_id", "details",
        ]  # fmt: skip
        read_only_fields = fields
