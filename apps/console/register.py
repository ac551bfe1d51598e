"""Register a service in one flow: the API it is (audience, resource URI, scopes), the
confidential client that acts as that API, and the exchange policies it needs to call other
APIs on users' behalf, made in one transaction from one admin page. The page after it shows
the client secret once and the configuration to paste into the service.

Doing it by hand takes four admin pages in the right order, and a step left out (the grant,
the client's API) saves without error and fails only at the service's first exchange."""

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib.admin import AdminSite
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Model
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy

from apps.audit import services as audit
from apps.clients.services import CLIENT_ID_MAX_LENGTH, check_new_client_id, save_client
from apps.oauth.models import Application, ExchangePolicy, GrantType
from apps.resources.models import (
    ApiResource,
    ApiScope,
    audience_validator,
    scope_token_validator,
    validate_absolute_uri,
)
from idp.conf import idp_settings

SERVICE_REGISTERED = "service.registered"

# Everything the page creates, each under its own "add" permission: the page is no way
# around the admin's.
REQUIRED_PERMISSIONS = (
    "resources.add_apiresource",
    "resources.add_apiscope",
    "oauth.add_application",
    "oauth.add_exchangepolicy",
)


def may_register_service(request: HttpRequest) -> bool:
    return request.user.has_perms(REQUIRED_PERMISSIONS)


# --- the service ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewScope:
    name: str
    description: str = ""


@dataclass(frozen=True)
class RegisteredService:
    resource: ApiResource
    client: Application
    client_secret: str  # plaintext, shown once
    policies: list[ExchangePolicy]


@transaction.atomic
def register_service(
    *,
    name: str,
    audience: str,
    resource_uri: str,
    scopes: Sequence[NewScope],
    client_id: str = "",
    exchange_scopes: Sequence[ApiScope] = (),
    client_credentials_scopes: Sequence[ApiScope] = (),
    registered_by: str,
) -> RegisteredService:
    """Create the API ``audience`` with ``scopes``, the confidential client acting as it
    (``client_id``, or one made from ``name``) and one delegation policy per API of
    ``exchange_scopes``. The client gets the token-exchange grant with ``exchange_scopes`` and
    the client-credentials grant with ``client_credentials_scopes`` (neither: it introspects).

    All or nothing: raises ``ValidationError`` (as the admin validates each object) and
    creates nothing. Audited as ``service.registered``; never the secret."""
    resource = ApiResource(audience=audience, resource_uri=resource_uri, name=name)
    resource.full_clean()
    resource.save()
    for scope in scopes:
        new_scope = ApiScope(name=scope.name, description=scope.description, resource=resource)
        new_scope.full_clean()
        new_scope.save()
    grant_types = [
        *([GrantType.TOKEN_EXCHANGE.value] if exchange_scopes else []),
        *([GrantType.CLIENT_CREDENTIALS.value] if client_credentials_scopes else []),
    ]
    credentials = save_client(
        name=name,
        grant_types=grant_types,
        scopes=[scope.name for scope in client_credentials_scopes],
        resource=audience,
        client_id=client_id or None,
        new=True,
    )
    client = credentials.client
    by_target: dict[ApiResource, list[ApiScope]] = defaultdict(list)
    for target_scope in exchange_scopes:
        if target_scope.resource is None:
            raise ValidationError(gettext("%(scope)s is no API's scope.") % {"scope": target_scope.name})
        by_target[target_scope.resource].append(target_scope)
    policies = []
    for target, target_scopes in sorted(by_target.items(), key=lambda item: item[0].audience):
        # The model's defaults: delegation, depth 1, five minutes, the client's own API's tokens.
        policy = ExchangePolicy.objects.create(client=client, target=target)
        policy.scopes.set(target_scopes)
        policies.append(policy)
    audit.record(
        event_type=SERVICE_REGISTERED,
        granted=True,
        client_id=client.client_id,
        subject=registered_by,
        audience=[audience],
        scopes=[scope.name for scope in scopes],
        details={
            "name": name,
            "resource_uri": resource_uri,
            "grant_types": grant_types,
            "client_credentials_scopes": sorted(scope.name for scope in client_credentials_scopes),
            "policies": [
                {"target": policy.target.audience, "scopes": sorted(scope.name for scope in by_target[policy.target])}
                for policy in policies
            ],
        },
    )
    return RegisteredService(
        resource=resource, client=client, client_secret=credentials.client_secret, policies=policies
    )


def service_configuration(service: RegisteredService) -> str:
    """What the service puts in its Django settings: the toolkit's ``RESOURCE_SERVER``
    (docs/resource-servers.md) and its client's credentials for ``TokenClient``."""
    issuer = idp_settings.ISSUER.rstrip("/")
    client = service.client
    scopes = " ".join(scope.name for scope in service.resource.scopes.order_by("name"))
    lines = [
        f"# settings.py of the {_one_line(service.resource.name)} service (apps.resource_server)",
        "RESOURCE_SERVER = {",
        f'    "ISSUER": {_literal(idp_settings.ISSUER)},',
        f'    "AUDIENCE": {_literal(service.resource.audience)},',
        f'    "JWKS_URI": {_literal(issuer + reverse("jwks"))},',
        "}",
        'REST_FRAMEWORK = {"EXCEPTION_HANDLER": "apps.resource_server.bearer.exception_handler"}',
        f"# Its scopes, for HasScopes' required_scopes: {scopes}",
        "",
        "# Its client at the IdP, for apps.resource_server.exchange.TokenClient (and introspection).",
        "# Keep the secret out of the repository: an environment variable or a secret store.",
        f"IDP_TOKEN_ENDPOINT = {_literal(issuer + reverse('oauth2_provider:token'))}",
        f"IDP_CLIENT_ID = {_literal(client.client_id)}",
        f"IDP_CLIENT_SECRET = {_literal(service.client_secret)}",
        "# token_client = TokenClient(IDP_TOKEN_ENDPOINT, IDP_CLIENT_ID, IDP_CLIENT_SECRET)",
    ]
    for policy in service.policies:
        target_scopes = " ".join(sorted(scope.name for scope in policy.scopes.all()))
        lines.append(
            f"# token_client.on_behalf_of(caller_token, audience={_literal(policy.target.audience)})  # {target_scopes}"
        )
    own_scopes = " ".join(scope.name for scope in client.allowed_scopes.order_by("name"))
    if own_scopes:
        lines.append(f"# token_client.client_credentials(scope={_literal(own_scopes)})")
    return "\n".join(lines) + "\n"


def _literal(value: str) -> str:
    """A Python string literal of ``value`` (a JSON string is one): a quote or a line break
    in it cannot end the string and start code of its own in the service's settings."""
    return json.dumps(value)


def _one_line(text: str) -> str:
    """``text`` for a comment: a line break in a name would end the comment and start code."""
    return " ".join(text.split())


# --- the page -----------------------------------------------------------------------------------


def _api_scopes_field(label: str, help_text: str) -> forms.ModelMultipleChoiceField:
    # Imported here: the admin module registers models on the site this module is wired into.
    from apps.console.admin import ScopesByApiField

    field = ScopesByApiField(widget=forms.CheckboxSelectMultiple, required=False, label=label, help_text=help_text)
    field.queryset = ApiScope.objects.filter(resource__isnull=False).select_related("resource")
    return field


class ServiceForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200, help_text=gettext_lazy("E.g. Discount."))
    audience = forms.CharField(
        label=gettext_lazy("Audience"),
        max_length=100,
        validators=[audience_validator],
        help_text=gettext_lazy("The aud value in tokens for this service, e.g. discount."),
    )
    resource_uri = forms.CharField(
        label=gettext_lazy("Resource URI"),
        max_length=255,
        validators=[validate_absolute_uri],
        help_text=gettext_lazy("Its RFC 8707 resource indicator, e.g. urn:globoticket:discount."),
    )
    client_id = forms.CharField(
        label=gettext_lazy("Client ID"),
        required=False,
        max_length=CLIENT_ID_MAX_LENGTH,
        help_text=gettext_lazy(
            "The service's own client. Empty: made from the name (“Shopping basket” becomes shopping-basket). "
            "It cannot be changed later: tokens (act.sub) and the audit trail name the service by it."
        ),
    )
    calls_on_behalf = forms.BooleanField(
        label=gettext_lazy("It calls other APIs on users' behalf (token exchange)"), required=False
    )
    calls_as_itself = forms.BooleanField(
        label=gettext_lazy("It calls other APIs as itself (client credentials)"), required=False
    )

    def __init__(self, *args, may_grant_privilege: bool, **kwargs) -> None:
        # Imported here: the admin module registers models on the site this module is wired into.
        from apps.console.admin import withhold_privilege

        super().__init__(*args, **kwargs)
        self.fields["exchange_scopes"] = _api_scopes_field(
            gettext("Scopes it may ask for on users' behalf"),
            gettext("One exchange policy (delegation) is created for each API whose scopes are ticked."),
        )
        self.fields["client_credentials_scopes"] = _api_scopes_field(gettext("Scopes it may ask for as itself"), "")
        if not may_grant_privilege:
            # As on the client's and the policy's pages (apps/resources/privileged.py).
            withhold_privilege(self, "exchange_scopes", "client_credentials_scopes")

    def clean_client_id(self) -> str:
        client_id = self.cleaned_data["client_id"].strip()
        if client_id:
            check_new_client_id(client_id)
        return client_id

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        pairs = [("calls_on_behalf", "exchange_scopes"), ("calls_as_itself", "client_credentials_scopes")]
        for ticked, scopes in pairs:
            if cleaned.get(ticked) and not cleaned.get(scopes):
                self.add_error(scopes, gettext("Choose the scopes it needs."))
            if cleaned.get(scopes) and not cleaned.get(ticked):
                self.add_error(ticked, gettext("Tick this for the scopes chosen below, or clear them."))
        if {"name", "audience", "resource_uri"} <= cleaned.keys():
            api = ApiResource(name=cleaned["name"], audience=cleaned["audience"], resource_uri=cleaned["resource_uri"])
            try:
                api.full_clean()
            except ValidationError as error:
                self.add_error(None, error)  # by field: audience or resource URI taken, the URI's form
        return cleaned


class ScopeForm(forms.Form):
    name = forms.CharField(
        label=gettext_lazy("Scope"), max_length=100, validators=[scope_token_validator], required=True
    )
    description = forms.CharField(label=gettext_lazy("Description"), max_length=255, required=False)

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if ApiScope.objects.filter(name=name).exists():
            raise ValidationError(gettext("A scope with this name exists."))
        return name


class BaseScopeFormSet(forms.BaseFormSet):
    def clean(self) -> None:
        names = [form.cleaned_data["name"] for form in self.forms if form.cleaned_data.get("name")]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValidationError(gettext("A scope is named twice: %(names)s.") % {"names": ", ".join(repeated)})


# Several scopes: the first is required, empty rows are left out.
ScopeFormSet = forms.formset_factory(ScopeForm, formset=BaseScopeFormSet, extra=3, min_num=1, validate_min=True)


def register_service_view(request: HttpRequest, site: AdminSite) -> HttpResponse:
    if not may_register_service(request):
        raise PermissionDenied
    data = request.POST if request.method == "POST" else None
    form = ServiceForm(data, may_grant_privilege=request.user.is_superuser)
    scope_forms = ScopeFormSet(data, prefix="scopes")
    if data is not None and form.is_valid() and scope_forms.is_valid():
        try:
            service = register_service(
                **{name: form.cleaned_data[name] for name in ("name", "audience", "resource_uri", "client_id")},
                scopes=[NewScope(f.cleaned_data["name"], f.cleaned_data["description"]) for f in _filled(scope_forms)],
                exchange_scopes=list(form.cleaned_data["exchange_scopes"]),
                client_credentials_scopes=list(form.cleaned_data["client_credentials_scopes"]),
                registered_by=request.user.get_username(),
            )
        except ValidationError as error:
            # What the form could not see coming (a name taken in between): nothing was made.
            form.add_error(None, error.messages)
        else:
            _log_additions(request, [service.resource, service.client, *service.policies])
            return _registered(request, site, service)
    context = {
        **site.each_context(request),
        "title": gettext("Register a service"),
        "form": form,
        "api_fields": [form[name] for name in ("name", "audience", "resource_uri", "client_id")],
        "calls": [
            (form["calls_on_behalf"], form["exchange_scopes"]),
            (form["calls_as_itself"], form["client_credentials_scopes"]),
        ],
        "scope_forms": scope_forms,
    }
    return TemplateResponse(request, "admin/console/register_service.html", context)


def _filled(scope_forms: forms.BaseFormSet) -> list[forms.Form]:
    return [form for form in scope_forms.forms if form.cleaned_data.get("name")]


def _log_additions(request: HttpRequest, objects: Sequence[Model]) -> None:
    """Each object's history (and the audit trail, as ``admin.change``) says it was added, as
    if made on its own admin page."""
    assert request.user.is_authenticated  # the admin serves signed-in staff only
    for obj in objects:
        LogEntry.objects.log_actions(
            user_id=request.user.pk,
            queryset=[obj],
            action_flag=ADDITION,
            change_message=[{"added": {}}],
            single_object=True,
        )


def _registered(request: HttpRequest, site: AdminSite, service: RegisteredService) -> HttpResponse:
    """The one page that shows the secret. Not cached, not stored anywhere else."""
    context = {
        **site.each_context(request),
        "title": gettext("Service registered"),
        "service": service,
        "configuration": service_configuration(service),
    }
    response = TemplateResponse(request, "admin/console/register_service_done.html", context)
    response["Cache-Control"] = "no-store"
    return response
