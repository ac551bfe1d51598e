"""The management API's views: parse, authorise, delegate to services.py."""

from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from drf_spectacular.utils import extend_schema
from rest_framework import filters, mixins, pagination, renderers, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, UnsupportedMediaType
from rest_framework.response import Response

from apps.audit.models import AuditEvent
from apps.clients.services import MAX_GRACE_PERIOD
from apps.management_api import services
from apps.management_api.authentication import (
    AUDIENCE,
    AdminCaller,
    AdminScopes,
    IdpAccessTokenAuthentication,
    exception_handler,
)
from apps.management_api.parsers import BoundedJSONParser
from apps.management_api.serializers import (
    ApiResourceSerializer,
    ApiScopeSerializer,
    AuditEventSerializer,
    ClientSerializer,
    ClientWithSecretSerializer,
    ExchangePolicySerializer,
)
from apps.oauth.models import Application, ExchangePolicy
from apps.resources.models import ApiResource, ApiScope


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

    def perform_create(self, serializer: serializers.BaseSerializer) -> None:
        services.save_object(serializer=serializer, actor=self.actor())

    def perform_update(self, serializer: serializers.BaseSerializer) -> None:
        services.save_object(serializer=serializer, actor=self.actor())

    def perform_destroy(self, instance: Any) -> None:
        services.delete_object(instance=instance, actor=self.actor())


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


class ClientViewSet(AuditedModelViewSet):
    """OAuth clients. The secret is in the response to creation and to rotate-secret, and
    nowhere else: it is stored hashed."""

    queryset = Application.objects.prefetch_related("allowed_scopes").order_by("name", "client_id")
    serializer_class = ClientSerializer
    lookup_field = "client_id"

    @extend_schema(responses={201: ClientWithSecretSerializer})
    def create(self, request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        config = dict(serializer.validated_data)
        for name in ("redirect_uris", "post_logout_redirect_uris"):
            config[name] = config.get(name, "").split()
        credentials = services.create_client(actor=self.actor(), **config)
        return self._with_secret(credentials.client, credentials.client_secret, status.HTTP_201_CREATED)

    @extend_schema(request=RotateSecretSerializer, responses={200: ClientWithSecretSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request, *args: Any, **kwargs: Any) -> Response:
        client = self.get_object()
        if client.client_type != Application.CLIENT_CONFIDENTIAL:
            raise serializers.ValidationError({"client_type": "A public client has no secret to rotate."})
        options = RotateSecretSerializer(data=self._rotation_options(request))
        options.is_valid(raise_exception=True)
        grace_period = timedelta(seconds=options.validated_data["grace_period_seconds"])
        secret = services.rotate_secret(client=client, actor=self.actor(), grace_period=grace_period)
        return self._with_secret(client, secret, status.HTTP_200_OK)

    @staticmethod
    def _rotation_options(request) -> Any:
        """The optional JSON body of rotate-secret. The endpoint took no body before it had
        options, so a POST without one (or with an empty form, as some HTTP clients send)
        still rotates, with no grace period; form fields are refused, never ignored."""
        if request.content_type.startswith("application/json"):
            return request.data
        if request._request.POST:
            raise UnsupportedMediaType(request.content_type)
        return {}

    def _with_secret(self, client: Application, secret: str, status_code: int) -> Response:
        data = ClientWithSecretSerializer(client, context={"client_secret": secret}).data
        # The plaintext secret must not outlive this response in any cache.
        return Response(data, status=status_code, headers={"Cache-Control": "no-store"})


class ExchangePolicyViewSet(AuditedModelViewSet):
    """RFC 8693 token exchange policies: which client may exchange which tokens into which API."""

    queryset = (
        ExchangePolicy.objects.select_related("client__resource", "target")
        .prefetch_related("subject_audiences", "scopes")
        .order_by("id")
    )
    serializer_class = ExchangePolicySerializer


class AuditEventViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ManagementViewSet):
    """The audit trail, newest first. Read only: events are append-only."""

    queryset = AuditEvent.objects.all()
    serializer_class = AuditEventSerializer
    filter_backends = [ExactMatchFilter]
    filter_fields = ("event_type", "outcome", "client_id")
