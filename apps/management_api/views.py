"""The management API's views: parse, authorise, delegate to services.py."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, Q
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import filters, mixins, pagination, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied, UnsupportedMediaType, ValidationError
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from apps.accounts.operator_actions import ActionRefused, MailNotSent, Revoked, account_overview
from apps.audit.models import AuditEvent
from apps.clients.services import MAX_GRACE_PERIOD, has_client_secret
from apps.consent.models import Consent
from apps.console.issuer_mappings import MappingPrivilege, issuer_privilege, mapping_privilege
from apps.management_api import actions, services
from apps.management_api.authentication import (
    AUDIENCE,
    AdminCaller,
    AdminScopes,
    IdpAccessTokenAuthentication,
    exception_handler,
)
from apps.management_api.parsers import BoundedJSONParser
from apps.management_api.serializers import (
    AccessTokenSerializer,
    ApiResourceSerializer,
    ApiScopeSerializer,
    AuditEventSerializer,
    ClientSerializer,
    ClientWithSecretSerializer,
    ConsentSerializer,
    ExchangePolicySerializer,
    FactorsResetSerializer,
    PasswordResetSentSerializer,
    RevokedSerializer,
    RotateKeysSerializer,
    SigningKeySerializer,
    TokensRevokedSerializer,
    TransactionTokenPolicySerializer,
    TrustedIssuerSerializer,
    UnlockedSerializer,
    UserDetailSerializer,
    UserSerializer,
)
from apps.oauth.models import (
    AccessToken,
    Application,
    ExchangePolicy,
    IssuerMapping,
    SigningKey,
    TransactionTokenPolicy,
    TrustedIssuer,
)
from apps.resources.models import ApiResource, ApiScope
from apps.resources.privileged import PRIVILEGED_AUDIENCES, grants_privilege, is_privileged_resource


class Pagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class ExactMatchFilter(filters.BaseFilterBackend):
    """``?name=value`` for each name in the view's ``filter_fields``: exact matches, all of them."""

    def filter_queryset(self, request, queryset, view):
        params = request.query_params
        return queryset.filter(**{name: params[name] for name in view.filter_fields if name in params})

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        return [
            {"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
            for name in view.filter_fields
        ]


@dataclass(frozen=True)
class QueryFilter:
    """``?name=value``: an exact match of ``lookup``; a boolean takes ``true`` or ``false``."""

    name: str
    lookup: str
    description: str
    boolean: bool = False

    def condition(self, value: str) -> Q:
        if not self.boolean:
            return Q(**{self.lookup: value})
        if value not in ("true", "false"):
            raise ValidationError({self.name: ["Must be true or false."]})
        return Q(**{self.lookup: value == "true"})


class AudienceQueryFilter(QueryFilter):
    """Tokens whose ``aud`` includes the value. Index lookups work on every database (JSON
    "contains" does not on SQLite); a token names a handful of APIs at most."""

    MAX_AUDIENCES = 10

    def condition(self, value: str) -> Q:
        match = Q()
        for index in range(self.MAX_AUDIENCES):
            match |= Q(**{f"{self.lookup}__{index}": value})
        return match


class QueryFilters(filters.BaseFilterBackend):
    """The view's ``query_filters``, all of them that the query string names."""

    def filter_queryset(self, request, queryset, view):
        for query_filter in view.query_filters:
            if query_filter.name in request.query_params:
                queryset = queryset.filter(query_filter.condition(request.query_params[query_filter.name]))
        return queryset

    def get_schema_operation_parameters(self, view) -> list[dict[str, Any]]:
        return [
            {
                "name": query_filter.name,
                "in": "query",
                "required": False,
                "description": query_filter.description,
                "schema": {"type": "boolean"} if query_filter.boolean else {"type": "string"},
            }
            for query_filter in view.query_filters
        ]


class ManagementViewSet(viewsets.GenericViewSet):
    """Bearer tokens of ours only, JSON only."""

    authentication_classes = [IdpAccessTokenAuthentication]
    permission_classes = [AdminScopes]
    renderer_classes = [renderers.JSONRenderer]
    parser_classes = [BoundedJSONParser]
    pagination_class = Pagination
    # Natural keys contain dots (eventcatalog.read); DRF's default pattern stops at them.
    lookup_value_regex = "[^/]+"

    def get_exception_handler(self):
        return exception_handler

    def actor(self) -> services.Actor:
        caller = self.request.user
        assert isinstance(caller, AdminCaller)  # AdminScopes lets no other caller in
        return services.Actor(client_id=caller.client_id, subject=caller.subject)


class AuditedModelViewSet(
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    mixins.ListModelMixin,
    ManagementViewSet,
):
    """CRUD where every change is committed with its audit event."""

    def related_values(self, instance: Any) -> dict[str, Any]:
        """What the audit event records beyond the model's own fields (objects nested in this
        one), by the name the request gives them."""
        return {}

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        services.save_object(serializer=serializer, actor=self.actor(), related_values=self.related_values)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        services.save_object(serializer=serializer, actor=self.actor(), related_values=self.related_values)

    def perform_destroy(self, instance: Any) -> None:
        services.delete_object(instance=instance, actor=self.actor(), related_values=self.related_values)


if TYPE_CHECKING:
    # For the type checker the mixin is the viewset it is mixed into: its super() calls reach it.
    _ViewSetBase = AuditedModelViewSet
else:
    _ViewSetBase = object


class ProtectsOwnApi(_ViewSetBase):
    """This API cannot change or delete its own resource and scopes, nor add one to it: one
    call (store_tokens off, a deleted scope) would lock every automation client out, and a
    scope moved in would be a management scope no operator granted. Operators use the admin."""

    # Each view's: the API resource an object of its belongs to.
    own_resource: Callable[[Any], ApiResource | None]

    def refuse_own(self, resource: ApiResource | None) -> None:
        if resource is not None and resource.audience == AUDIENCE:
            raise PermissionDenied(f"The {AUDIENCE} API is changed in the admin, not through itself.")

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        self.refuse_own(serializer.validated_data.get("resource"))
        super().perform_create(serializer)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        self.refuse_own(self.own_resource(serializer.instance))
        self.refuse_own(serializer.validated_data.get("resource"))  # moved into it
        super().perform_update(serializer)

    def perform_destroy(self, instance: Any) -> None:
        self.refuse_own(self.own_resource(instance))
        super().perform_destroy(instance)


class ApiResourceViewSet(ProtectsOwnApi, AuditedModelViewSet):
    """API resources: one audience per API."""

    queryset = ApiResource.objects.prefetch_related("scopes")
    serializer_class = ApiResourceSerializer
    lookup_field = "audience"

    @staticmethod
    def own_resource(instance: ApiResource) -> ApiResource:
        return instance


class ApiScopeViewSet(ProtectsOwnApi, AuditedModelViewSet):
    """Scopes, each of one API (or none: an OpenID identity scope)."""

    queryset = ApiScope.objects.select_related("resource")
    serializer_class = ApiScopeSerializer
    lookup_field = "name"
    # RFC 6749 scope tokens may contain "/"; this view has no nested routes to confuse it with.
    lookup_value_regex = ".+"

    @staticmethod
    def own_resource(instance: ApiScope) -> ApiResource | None:
        return instance.resource


REFUSED_PRIVILEGE = "privileged"


class RefusesPrivilege(_ViewSetBase):
    """Automation never grants the management API's powers, nor takes over a client that holds
    them: a client holding a privileged API's scopes (apps/resources/privileged.py) or acting
    as one, an exchange policy into one, and a transaction-token policy granting its scopes or
    taking its tokens, are neither made, changed, deleted nor given a new secret here (403,
    audited). Else a write token could mint itself a permanent second
    credential, or hand admin powers to a client whose secret its caller chose to read.
    Superusers do it in the admin."""

    # Each view's: the names of the field holding the scopes granted and of the API concerned.
    privilege_fields: tuple[str, str]
    refusal = (
        f"The {', '.join(sorted(PRIVILEGED_AUDIENCES))} API's scopes are granted by a superuser, in the admin: "
        "the management API neither grants them nor changes, deletes or rotates the secret of a client or "
        "policy that holds them."
    )

    def holds_privilege(self, instance: Any, values: dict[str, Any] | None = None) -> bool:
        """Whether ``instance`` (None: a new object) with ``values`` about to be saved holds it."""
        values = values or {}
        scopes_field, resource_field = self.privilege_fields
        if scopes_field in values:
            scopes = values[scopes_field]
        else:
            scopes = getattr(instance, scopes_field).all() if instance is not None else []
        resource = values[resource_field] if resource_field in values else getattr(instance, resource_field, None)
        return grants_privilege(scopes=scopes, resource=resource)

    def refuse_privilege(self, action: str, instance: Any, values: dict[str, Any] | None = None) -> None:
        privileged = self.holds_privilege(instance, values) or (
            instance is not None and values is not None and self.holds_privilege(instance)
        )
        if not privileged:
            return
        assert self.queryset is not None  # every view of this kind names its model by its queryset
        services.record_refusal(
            actor=self.actor(), action=action, instance=instance, model=self.queryset.model, reason=REFUSED_PRIVILEGE
        )
        raise PermissionDenied(self.refusal)

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        self.refuse_privilege("added", None, dict(serializer.validated_data))
        super().perform_create(serializer)

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        # Refused if it holds privilege now, or would once changed.
        self.refuse_privilege("changed", serializer.instance, dict(serializer.validated_data))
        super().perform_update(serializer)

    def perform_destroy(self, instance: Any) -> None:
        self.refuse_privilege("deleted", instance)
        super().perform_destroy(instance)


def optional_json_body(request) -> Any:
    """The options of an action that also works without any: a JSON body, or none at all (an
    empty form, as some HTTP clients send, counts as none); form fields are refused (415),
    never ignored."""
    if request.content_type.startswith("application/json"):
        return request.data
    if request._request.POST:
        raise UnsupportedMediaType(request.content_type)
    return {}


class RotateSecretSerializer(serializers.Serializer):
    grace_period_seconds = serializers.IntegerField(
        min_value=0,
        max_value=int(MAX_GRACE_PERIOD.total_seconds()),
        default=0,
        help_text=(
            "How long the secret being replaced keeps working beside the new one, so that the service can "
            "switch without an outage. 0 (the default, for a secret that leaked): it stops at once."
        ),
    )


class ClientViewSet(RefusesPrivilege, AuditedModelViewSet):
    """OAuth clients. The secret is in the response to creation and to rotate-secret, and
    nowhere else: it is stored hashed."""

    queryset = Application.objects.prefetch_related("allowed_scopes").order_by("name", "client_id")
    serializer_class = ClientSerializer
    lookup_field = "client_id"
    privilege_fields = ("allowed_scopes", "resource")

    @extend_schema(responses={201: ClientWithSecretSerializer})
    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        config = dict(serializer.validated_data)
        self.refuse_privilege("added", None, config)
        for name in ("redirect_uris", "post_logout_redirect_uris"):
            config[name] = config.get(name, "").split()
        credentials = services.create_client(actor=self.actor(), **config)
        return self._with_secret(credentials.client, credentials.client_secret, status.HTTP_201_CREATED)

    @extend_schema(request=RotateSecretSerializer, responses={200: ClientWithSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, *args: Any, **kwargs: Any) -> Response:
        client = self.get_object()
        self.refuse_privilege("changed", client)
        if client.client_type != Application.CLIENT_CONFIDENTIAL:
            raise serializers.ValidationError({"client_type": "A public client has no secret to rotate."})
        options = RotateSecretSerializer(data=self._rotation_options(request))
        options.is_valid(raise_exception=True)
        grace_period = timedelta(seconds=options.validated_data["grace_period_seconds"])
        secret = services.rotate_secret(client=client, actor=self.actor(), grace_period=grace_period)
        return self._with_secret(client, secret, status.HTTP_200_OK)

    @extend_schema(request=None, responses={200: ClientSerializer})
    @action(detail=True, methods=["post"], url_path="remove-secret")
    def remove_secret(self, request, *args: Any, **kwargs: Any) -> Response:
        """The last step of moving a service to private_key_jwt: the client's secret (and a
        previous one in its grace period) stops working at once; its keys alone authenticate
        it. 400 while it has no keys (or no secret)."""
        client = self.get_object()
        self.refuse_privilege("changed", client)
        if not has_client_secret(client):
            raise serializers.ValidationError({"client_secret": "This client has no secret."})
        try:
            services.remove_secret(client=client, actor=self.actor())
        except ValueError as exc:
            raise serializers.ValidationError({"jwks": str(exc)}) from None
        return Response(ClientSerializer(client).data)

    @staticmethod
    def _rotation_options(request) -> Any:
        """The optional JSON body of rotate-secret. The endpoint took no body before it had
        options, so a POST without one (or with an empty form, as some HTTP clients send)
        still rotates, with no grace period."""
        return optional_json_body(request)

    def _with_secret(self, client: Application, secret: str, status_code: int) -> Response:
        data = ClientWithSecretSerializer(client, context={"client_secret": secret}).data
        # The plaintext secret must not outlive this response in any cache.
        return Response(data, status=status_code, headers={"Cache-Control": "no-store"})


class ExchangePolicyViewSet(RefusesPrivilege, AuditedModelViewSet):
    """RFC 8693 token exchange policies: which client may exchange which tokens (ours, for
    which APIs; trusted issuers', of which issuers) into which API."""

    queryset = (
        ExchangePolicy.objects.select_related("client__resource", "target")
        .prefetch_related("subject_audiences", "trusted_issuers", "scopes")
        .order_by("id")
    )
    serializer_class = ExchangePolicySerializer
    privilege_fields = ("scopes", "target")


class TransactionTokenPolicyViewSet(RefusesPrivilege, AuditedModelViewSet):
    """Transaction-token policies (draft-ietf-oauth-transaction-tokens, "TTS Issuance
    Policies"): which client may exchange which access tokens for Txn-Tokens, with which scopes
    and context. One per client, by its client_id."""

    queryset = (
        TransactionTokenPolicy.objects.select_related("client__resource")
        .prefetch_related("subject_audiences", "scopes")
        .order_by("client__client_id")
    )
    serializer_class = TransactionTokenPolicySerializer
    lookup_field = "client__client_id"
    lookup_url_kwarg = "client_id"

    def holds_privilege(self, instance: Any, values: dict[str, Any] | None = None) -> bool:
        """Its scopes include a privileged API's, or its subject audiences name one: a Txn-Token
        made from an idp-admin token would carry an automation client's transaction (and, with
        them, its scopes) down the call chain. As the admin decides (apps/console/admin.py)."""
        values = values or {}
        current = {
            name: getattr(instance, name).all() if instance is not None else []
            for name in ("scopes", "subject_audiences")
        }
        scopes = values.get("scopes", current["scopes"])
        audiences = values.get("subject_audiences", current["subject_audiences"])
        return grants_privilege(scopes=scopes) or any(is_privileged_resource(resource) for resource in audiences)


class TrustedIssuerViewSet(RefusesPrivilege, AuditedModelViewSet):
    """Trusted issuers (apps/oauth/models/trusted_issuer.py): other identity providers whose
    tokens are exchanged here or serve as JWT bearer assertions, by name, their mappings
    nested. Whoever holds an issuer's keys acts as what its mappings name: a mapping to an
    operator's account or to a client holding the management API's powers is a superuser's,
    in the admin (apps/console/issuer_mappings.py), and so is every change to an issuer that
    has one (new keys would hand the mapping to their holder): 403, audited."""

    queryset = TrustedIssuer.objects.prefetch_related(
        Prefetch("mappings", queryset=IssuerMapping.objects.select_related("client", "user"))
    ).order_by("name")
    serializer_class = TrustedIssuerSerializer
    lookup_field = "name"
    refusal = (
        "A mapping to an operator's account (staff or superuser) or to a client holding the "
        f"{', '.join(sorted(PRIVILEGED_AUDIENCES))} API's powers is made by a superuser, in the admin: the "
        "management API neither makes, changes nor deletes one, nor changes or deletes an issuer that has one."
    )

    def holds_privilege(self, instance: Any, values: dict[str, Any] | None = None) -> bool:
        """Whether the issuer's mappings (those given, else those stored) include one only a
        superuser may make."""
        values = values or {}
        if "mappings" in values:
            return any(
                mapping_privilege(client=m.get("client"), user=m.get("user")) is MappingPrivilege.SUPERUSER
                for m in values["mappings"]
            )
        return instance is not None and issuer_privilege(instance) is MappingPrivilege.SUPERUSER

    def related_values(self, instance: TrustedIssuer) -> dict[str, Any]:
        mappings = instance.mappings.select_related("client", "user").order_by("pk")
        return {"mappings": [f"{m.claims_text()} -> {m.identity_text()}" for m in mappings]}


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ManagementViewSet):
    """The audit trail, newest first. Read only: events are append-only."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    filter_backends = [ExactMatchFilter]
    filter_fields = ("event_type", "outcome", "client_id")


# --- people, consents, tokens and keys -----------------------------------------------------------


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"
    default_detail = "The account is not in a state this action can work on."


class MailUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "mail_unavailable"
    default_detail = "The mail could not be sent. Nothing was changed: try again later."


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()


def refusal(error: ActionRefused) -> APIException:
    """The HTTP answer to a refused action on a person: 403 for an operator account, 503 when
    the mail server failed, 409 when the account's state does not allow it (no address, no
    usable password, disabled)."""
    if isinstance(error, actions.OperatorAccountRefused):
        return PermissionDenied(str(error))
    if isinstance(error, MailNotSent):
        return MailUnavailable(str(error))
    return Conflict(str(error))


REFUSED = {
    403: OpenApiResponse(DetailSerializer, description="An operator account (staff or superuser): not acted on."),
    404: OpenApiResponse(DetailSerializer, description="No such user."),
}


def _action_schema(
    summary: str, response: type[serializers.Serializer], more: dict[int, OpenApiResponse] | None = None
) -> Callable:
    return extend_schema(summary=summary, request=None, responses={200: response, **REFUSED, **(more or {})})


@extend_schema_view(
    list=extend_schema(summary="List people's accounts"),
    retrieve=extend_schema(summary="Read one account"),
)
class UserViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ManagementViewSet):
    """People's accounts, by username, and the console's actions on them (each audited as in
    the console, with the calling client as operator and ``client_id``). Operator accounts
    (staff or superuser) are shown but never acted on: 403. Never a password hash, a session
    key or a second factor's secret."""

    queryset = get_user_model().objects.order_by("username")
    serializer_class = UserSerializer
    lookup_field = "username"
    filter_backends = [QueryFilters]
    query_filters = (
        QueryFilter("username", "username", "The exact username."),
        QueryFilter("active", "is_active", "true: enabled accounts; false: disabled ones.", boolean=True),
    )

    @extend_schema(summary="Read one account", responses={200: UserDetailSerializer})
    def retrieve(self, request, *args: Any, **kwargs: Any) -> Response:
        """One account, with a summary of its second factors, lockout and sessions."""
        user = self.get_object()
        return Response(UserDetailSerializer(user, context={"overview": account_overview(user)}).data)

    def _act(self, service: Callable[..., Any]) -> tuple[Any, Any]:
        user = self.get_object()
        try:
            return user, service(actor=self.actor(), user=user)
        except ActionRefused as error:
            raise refusal(error) from None

    @staticmethod
    def _revoked(user: Any, revoked: Revoked) -> dict[str, Any]:
        return RevokedSerializer(
            {
                "username": user.get_username(),
                "active": user.is_active,
                "sessions_ended": revoked.sessions,
                "refresh_tokens_revoked": revoked.refresh_tokens,
                "access_tokens_revoked": revoked.access_tokens,
            }
        ).data

    @_action_schema("Disable the account, end its sessions and revoke its tokens", RevokedSerializer)
    @action(detail=True, methods=["post"])
    def disable(self, request, *args: Any, **kwargs: Any) -> Response:
        """The person can no longer sign in; every session ends and every token is revoked at
        once, in one transaction (``user.disabled``). Enabling again is done in the admin."""
        user, revoked = self._act(actions.disable)
        return Response(self._revoked(user, revoked))

    @_action_schema("Unlock the account after too many failed sign-ins", UnlockedSerializer)
    @action(detail=True, methods=["post"])
    def unlock(self, request, *args: Any, **kwargs: Any) -> Response:
        """Forgets the failed sign-ins from every address: the lockout ends and the count
        starts again (``user.unlocked``)."""
        user, cleared = self._act(actions.unlock)
        return Response(UnlockedSerializer({"username": user.get_username(), "records_cleared": cleared}).data)

    @_action_schema("Sign the person out everywhere", RevokedSerializer)
    @action(detail=True, methods=["post"], url_path="sign-out")
    def sign_out(self, request, *args: Any, **kwargs: Any) -> Response:
        """Ends every browser session and revokes every token the person's apps hold; they
        can sign in again (``user.signed_out_everywhere``)."""
        user, revoked = self._act(actions.sign_out_everywhere)
        return Response(self._revoked(user, revoked))

    @_action_schema("Remove the person's second factors", FactorsResetSerializer)
    @action(detail=True, methods=["post"], url_path="reset-factors")
    def reset_factors(self, request, *args: Any, **kwargs: Any) -> Response:
        """Removes the authenticator app, passkeys and recovery codes and ends the sessions, for
        a person who lost their device: they sign in with their password and set up anew
        (``user.factors_reset``)."""
        user, reset = self._act(actions.reset_second_factors)
        return Response(
            FactorsResetSerializer(
                {
                    "username": user.get_username(),
                    "authenticator_app": reset.authenticator_app,
                    "passkeys": reset.passkeys,
                    "recovery_codes": reset.recovery_codes,
                    "sessions_ended": reset.sessions,
                }
            ).data
        )

    @_action_schema(
        "Mail the person a password-reset link",
        PasswordResetSentSerializer,
        {
            409: OpenApiResponse(
                DetailSerializer, description="No valid address, no usable password, or a disabled account."
            ),
            503: OpenApiResponse(DetailSerializer, description="The mail server failed: try again later."),
        },
    )
    @action(detail=True, methods=["post"], url_path="send-password-reset")
    def send_password_reset(self, request, *args: Any, **kwargs: Any) -> Response:
        """As the people's reset page does: the link goes to the account's own address and is
        never returned (``user.password_reset_sent``)."""
        user, address = self._act(actions.send_password_reset)
        return Response(PasswordResetSentSerializer({"username": user.get_username(), "sent_to": address}).data)


@extend_schema_view(
    list=extend_schema(summary="List consents"),
    retrieve=extend_schema(summary="Read one consent"),
    destroy=extend_schema(
        summary="Revoke a consent, with the client's tokens for the person",
        responses={
            204: None,
            403: OpenApiResponse(DetailSerializer, description="An operator account's consent: not revoked."),
            404: OpenApiResponse(DetailSerializer, description="No such consent."),
        },
    ),
)
class ConsentViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, ManagementViewSet):
    """What people allowed clients to do. Deleting one revokes it as the person's connected-apps
    page does: the client's codes, refresh tokens and access tokens for the person go too (with
    every token exchanged from them), and the next sign-in asks again."""

    queryset = Consent.objects.select_related("user", "application").order_by("id")
    serializer_class = ConsentSerializer
    filter_backends = [QueryFilters]
    query_filters = (
        QueryFilter("user", "user__username", "The person's exact username."),
        QueryFilter("client", "application__client_id", "The client's client_id."),
    )

    def perform_destroy(self, instance: Consent) -> None:
        try:
            actions.revoke_consent(consent=instance, actor=self.actor())
        except ActionRefused as error:
            raise refusal(error) from None


@extend_schema_view(
    list=extend_schema(summary="List unexpired access tokens"),
    retrieve=extend_schema(summary="Read one access token"),
)
class AccessTokenViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ManagementViewSet):
    """Unexpired access tokens, by ``jti``, newest first; never their value or checksum. Tokens
    of APIs that chose self-contained tokens are not stored, so not listed."""

    serializer_class = AccessTokenSerializer
    lookup_field = "jti"
    lookup_value_regex = "[0-9a-fA-F-]{32,36}"
    filter_backends = [QueryFilters]
    query_filters = (
        QueryFilter("user", "user__username", "The exact username of the person the token is for."),
        QueryFilter("client", "application__client_id", "The client_id of the client holding it."),
        AudienceQueryFilter("audience", "audience", "An audience (API) the token is for."),
    )

    def get_queryset(self) -> Any:
        return (
            AccessToken.objects.filter(expires__gt=timezone.now())
            .select_related("application", "user", "parent")
            .order_by("-created", "-id")
        )

    @extend_schema(
        summary="Revoke the token and every token exchanged from it",
        request=None,
        responses={
            200: TokensRevokedSerializer,
            403: OpenApiResponse(DetailSerializer, description="An operator account's token: not revoked."),
            404: OpenApiResponse(DetailSerializer, description="No such token."),
        },
    )
    @action(detail=True, methods=["post"])
    def revoke(self, request, *args: Any, **kwargs: Any) -> Response:
        """As the admin's action and the revocation endpoint: the token stops working at once
        (for services that introspect it or ask the IdP), its refresh token is revoked too, and
        so is every token exchanged from it, at any depth."""
        try:
            revoked = actions.revoke_token(token=self.get_object(), actor=self.actor())
        except ActionRefused as error:
            raise refusal(error) from None
        data = {"revoked": revoked.jtis, "refresh_token_revoked": revoked.refresh_token_revoked}
        return Response(TokensRevokedSerializer(data).data)


@extend_schema_view(
    list=extend_schema(summary="List signing keys"),
    retrieve=extend_schema(summary="Read one signing key"),
)
class SigningKeyViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ManagementViewSet):
    """The IdP's signing keys, by ``kid``: their public facts only. Each algorithm has an active
    key, a published next one, and retired keys published until their tokens expire."""

    queryset = SigningKey.objects.all()
    serializer_class = SigningKeySerializer
    lookup_field = "kid"

    @extend_schema(
        summary="Rotate the signing keys",
        request=RotateKeysSerializer,
        responses={200: SigningKeySerializer(many=True)},
    )
    @action(detail=False, methods=["post"], pagination_class=None, filter_backends=[])
    def rotate(self, request, *args: Any, **kwargs: Any) -> Response:
        """The published next key becomes active, the active one retires (still published until
        its tokens expire) and a new next key is published (``key.rotated``). Optional JSON body
        ``{"algorithm": "RS256"}``: that algorithm only. Answers with the active keys."""
        options = RotateKeysSerializer(data=optional_json_body(request))
        options.is_valid(raise_exception=True)
        active = actions.rotate_signing_keys(actor=self.actor(), algorithm=options.validated_data.get("algorithm"))
        return Response(SigningKeySerializer(active, many=True).data)


# --- the explorer -------------------------------------------------------------------------------


class ApiExplorerView(SpectacularSwaggerSplitView):
    """Swagger UI over the API's schema, for operators signed in to the console (urls.py puts
    the admin site's own check in front). Its files come from this IdP (drf-spectacular-sidecar):
    no CDN, and it works offline. Its script is a file of its own (the "split" view), as the
    people's pages' CSP requires; Swagger UI's stylesheet draws its icons as data: images, the
    one thing this page allows beyond that policy."""

    authentication_classes: list[type] = []  # the console's session, checked before this view
    permission_classes = [AllowAny]
    schema = None  # a page about the API, not an endpoint of it
    url_name = "management_api:schema"
    template_name = "management_api/explorer.html"
    title = "IdP management API"
    CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

    def get(self, request, *args: Any, **kwargs: Any) -> Response:
        response = super().get(request, *args, **kwargs)
        response["Content-Security-Policy"] = self.CSP
        return response
