"""Admin classes, wired in through DOT's *_ADMIN_CLASS settings. What an operator may see and
do is decided by apps/console/policy.py for every one of them: secrets and private keys are
never displayed or filtered on (a client shows its secret hint, a key its public half), issued
tokens, codes and keys are read-only, and every action names the permission it needs."""

import json
from datetime import timedelta
from typing import Any, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, Q
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.choices import BaseChoiceIterator
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, gettext_lazy
from oauth2_provider.admin import AccessTokenAdmin as DotAccessTokenAdmin
from oauth2_provider.admin import GrantAdmin as DotGrantAdmin
from oauth2_provider.admin import IDTokenAdmin as DotIDTokenAdmin
from oauth2_provider.admin import RefreshTokenAdmin as DotRefreshTokenAdmin

from apps.clients.secrets import generate_client_secret
from apps.clients.services import (
    CLIENT_ID_MAX_LENGTH,
    check_new_client_id,
    has_client_keys,
    has_client_secret,
    remove_client_secret,
    rotate_client_secret,
    save_new_client,
)
from apps.console.consistency import problems_involving
from apps.console.issuer_mappings import (
    is_operator_account,
    issuer_privilege,
    mappable_clients,
    mapping_privilege,
    may_map,
)
from apps.console.policy import model_permission
from apps.grants.preview import preview_token
from apps.keys.services import retired_key_retention, rotate_keys, withdraw_key
from apps.oauth.models import (
    AccessToken,
    Application,
    ExchangePolicy,
    GrantType,
    IssuerMapping,
    KeyState,
    SigningKey,
    TransactionTokenPolicy,
    TrustedIssuer,
)
from apps.resources.models import ApiResource, ApiScope
from apps.resources.privileged import (
    PRIVILEGED_AUDIENCES,
    grantable_resources,
    grantable_scopes,
    grants_privilege,
    is_privileged_resource,
)
from apps.tokens.lineage import LineageNode, lineage_tree


class ScopesByApi(BaseChoiceIterator):
    """Choices for the scope checkboxes: grouped under each API (identity scopes first) and
    labelled with their descriptions. Read lazily, when the form is rendered."""

    IDENTITY = "OpenID identity scopes"

    def __init__(self, queryset) -> None:
        self.queryset = queryset

    def __iter__(self):
        groups: dict[str, list[tuple[int, str]]] = {self.IDENTITY: []}
        for scope in self.queryset.order_by("resource__audience", "name"):
            group = scope.resource.audience if scope.resource else self.IDENTITY
            label = f"{scope.name} — {scope.description}" if scope.description else scope.name
            groups.setdefault(group, []).append((scope.pk, label))
        return iter([(group, choices) for group, choices in groups.items() if choices])

    def __len__(self) -> int:
        return self.queryset.count()


class KeyCheckedMultipleChoiceField(forms.ModelMultipleChoiceField):
    """Each value posted is checked as a key of the model before any query: Django's own
    check lets an id beyond the column's range ("99999999999999999999999") reach the database,
    which raises (SQLite OverflowError, PostgreSQL DataError): a 500 instead of a form error."""

    def _check_values(self, value: Any) -> Any:
        assert self.queryset is not None  # a model field's choices
        key = self.queryset.model._meta.pk
        if self.to_field_name is None and isinstance(value, (list, tuple)):
            for pk in value:
                try:
                    key.run_validators(key.to_python(pk))  # the validators bound an integer's range
                except ValidationError:
                    raise ValidationError(
                        self.error_messages["invalid_pk_value"], code="invalid_pk_value", params={"pk": pk}
                    ) from None
        return super()._check_values(value)  # type: ignore[misc]  # private Django API, not in the stubs


class ScopesByApiField(KeyCheckedMultipleChoiceField):
    def __init__(self, **kwargs) -> None:
        super().__init__(queryset=ApiScope.objects.select_related("resource"), **kwargs)

    def _get_choices(self) -> ScopesByApi:
        return ScopesByApi(self.queryset)

    # django-stubs model ChoiceField.choices as a typed descriptor; at runtime it is a property.
    choices = property(_get_choices, cast(property, forms.ModelMultipleChoiceField.choices).fset)


PRIVILEGED_CHOICE = (
    "%(value)s is not one of the choices offered: the "
    + ", ".join(sorted(PRIVILEGED_AUDIENCES))
    + " API and its scopes are granted by a superuser only."
)


def withhold_privilege(form: forms.BaseForm, *names: str) -> None:
    """Offer none of the privileged APIs (apps/resources/privileged.py) or their scopes in
    the fields ``names``; one posted anyway is refused as a choice not offered, and says why."""
    for name in names:
        field = form.fields.get(name)  # absent from a read-only page
        if isinstance(field, forms.ModelChoiceField) and field.queryset is not None:
            if field.queryset.model is ApiScope:
                field.queryset = grantable_scopes(field.queryset)
            elif field.queryset.model is ApiResource:
                field.queryset = grantable_resources(field.queryset)
            field.error_messages = {**field.error_messages, "invalid_choice": PRIVILEGED_CHOICE}


class LimitsPrivilege(admin.ModelAdmin):
    """For the admin of an object that can hold a privileged API's powers (a client, an
    exchange or transaction-token policy): whoever is not a superuser is offered none of them, and may view such an
    object but not change or delete it (nor rotate its secret): else a "Client manager" could
    give a client of theirs the management API's scopes, or take over an automation client
    holding them, and with it powers over people and keys the console denies them."""

    # The form's fields that offer APIs or scopes to grant.
    privileged_choices: tuple[str, ...] = ()

    # The object's fields naming what it grants: its scopes, and its API (a client's own, a
    # policy's target).
    scopes_field = "allowed_scopes"
    resource_field = "resource"

    def holds_privilege(self, obj: Any) -> bool:
        return grants_privilege(
            scopes=getattr(obj, self.scopes_field).all(), resource=getattr(obj, self.resource_field)
        )

    def may_touch(self, request: HttpRequest, obj: Any) -> bool:
        return obj is None or request.user.is_superuser or not self.holds_privilege(obj)

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change, **kwargs)
        if request.user.is_superuser:
            return form
        names = self.privileged_choices

        class WithoutPrivilege(form):  # type: ignore[valid-type,misc]  # a class made at run time
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                withhold_privilege(self, *names)

        return WithoutPrivilege

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self.may_touch(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self.may_touch(request, obj)


class ApplicationForm(forms.ModelForm):
    # On the add form only (read-only once saved: tokens and the audit trail name it).
    client_id = forms.CharField(
        label=gettext_lazy("Client ID"),
        required=False,
        max_length=CLIENT_ID_MAX_LENGTH,
        help_text=gettext_lazy(
            "Empty: made from the name (“Shopping basket” becomes shopping-basket). It cannot be changed "
            "later: tokens (act.sub) and the audit trail name the client by it."
        ),
    )
    allowed_grant_types = forms.MultipleChoiceField(
        choices=GrantType.choices, widget=forms.CheckboxSelectMultiple, required=False
    )
    allowed_scopes = ScopesByApiField(widget=forms.CheckboxSelectMultiple, required=False)
    jwks_uri = forms.URLField(
        label=Application._meta.get_field("jwks_uri").verbose_name,
        help_text=Application._meta.get_field("jwks_uri").help_text,
        max_length=2000,
        required=False,
        assume_scheme="https",
    )

    class Meta:
        model = Application
        fields = [
            "name", "client_type", "is_active", "allowed_grant_types", "allowed_scopes", "resource",
            "one_token_per_audience", "require_second_factor", "redirect_uris", "post_logout_redirect_uris",
            "skip_authorization", "jwks", "jwks_uri", "require_pushed_authorization_requests",
            "dpop_bound_access_tokens",
        ]  # fmt: skip
        labels = {"skip_authorization": "First-party: skip the consent screen"}
        # Public keys, pasted as a JWKS document: what is wrong in it (a private key, a
        # malformed one) is shown under the field by Application.clean().
        widgets = {"jwks": forms.Textarea(attrs={"rows": 8, "cols": 80, "class": "vLargeTextField jwks"})}

    def clean_client_id(self) -> str:
        client_id = self.cleaned_data["client_id"].strip()
        if client_id:
            check_new_client_id(client_id)
        return client_id


class TokenPreviewForm(forms.Form):
    # A username typed in, not a list of accounts: the preview is for whoever may view the
    # client, and only those who may also view users get this field at all.
    user = forms.CharField(
        required=False,
        label="Username",
        help_text="Empty: the client's own token (client credentials).",
    )
    scopes = ScopesByApiField(widget=forms.CheckboxSelectMultiple, required=False)
    exchange_target = forms.ModelChoiceField(
        queryset=ApiResource.objects.order_by("audience"),
        required=False,
        empty_label="(no exchange)",
        help_text="Preview exchanging the user's token for this client's own API into this API.",
    )

    def __init__(self, *args, may_view_users: bool, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not may_view_users:
            del self.fields["user"]

    def clean_user(self):
        username = self.cleaned_data["user"].strip()
        if not username:
            return None
        user_model = get_user_model()
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None:
            raise forms.ValidationError("No user has this username.")
        return user


class RotateSecretForm(forms.Form):
    """How long the secret being replaced keeps working (apps/clients/services.py)."""

    GRACE_PERIODS = [
        (0, "None: the current secret stops working at once"),
        (3600, "1 hour"),
        (86400, "24 hours"),
        (604800, "7 days"),
    ]

    grace_period = forms.TypedChoiceField(
        choices=GRACE_PERIODS,
        coerce=int,
        initial=0,
        widget=forms.RadioSelect,
        label="Keep the current secret working for",
    )

    def grace(self) -> timedelta:
        return timedelta(seconds=self.cleaned_data["grace_period"])


class ApplicationAdmin(LimitsPrivilege):
    """Clients. The secret is generated by the IdP and shown once, on the page after saving a
    new client or rotating its secret; afterwards only its hint is ever displayed."""

    form = ApplicationForm
    list_display = ("name", "client_id", "client_type", "resource", "is_active", "secret_hint")
    list_filter = ("client_type", "is_active", "resource")
    search_fields = ("name", "client_id")
    readonly_fields = ("client_id", "secret_hint", "previous_secret", "created", "updated")
    actions = ["rotate_secret"]
    view_on_site = False  # DOT's client detail pages are not served here
    secret_template = "admin/oauth/application/secret_once.html"
    rotate_template = "admin/oauth/application/rotate_secret.html"
    remove_secret_template = "admin/oauth/application/remove_secret.html"
    change_form_template = "admin/oauth/application/change_form.html"
    privileged_choices = ("allowed_scopes", "resource")

    def get_urls(self):
        preview = path(
            "<int:pk>/preview/",
            self.admin_site.admin_view(self.preview_view),
            name="oauth_application_preview",
        )
        rotate = path(
            "<int:pk>/rotate-secret/",
            self.admin_site.admin_view(self.rotate_secret_view),
            name="oauth_application_rotate_secret",
        )
        remove = path(
            "<int:pk>/remove-secret/",
            self.admin_site.admin_view(self.remove_secret_view),
            name="oauth_application_remove_secret",
        )
        return [preview, rotate, remove, *super().get_urls()]

    @admin.display(description="previous secret")
    def previous_secret(self, client: Application) -> str:
        """The secret a rotation replaced, while it still works: its hint and its end."""
        expires = client.previous_secret_expires
        if not client.previous_secret_hint or expires is None or expires <= timezone.now():
            return "None"
        return format_html(
            "<code>{}</code> works until <span class='previous-secret-expires'>{}</span>",
            client.previous_secret_hint,
            timezone.localtime(expires).strftime("%Y-%m-%d %H:%M %Z"),
        )

    def preview_view(self, request, pk: int) -> HttpResponse:
        """Keycloak's "evaluate" tab: the decoded token this client would get, or why not.
        Nothing is issued, signed or stored."""
        client = self.get_object(request, str(pk))
        if client is None or not self.has_view_permission(request, client):
            raise PermissionDenied
        form = TokenPreviewForm(request.GET or None, may_view_users=request.user.has_perm("auth.view_user"))
        scopes_field = form.fields["scopes"]
        assert isinstance(scopes_field, ScopesByApiField)
        scopes_field.queryset = client.allowed_scopes.select_related("resource")
        result = None
        if form.is_bound and form.is_valid():
            result = preview_token(
                client=client,
                user=form.cleaned_data.get("user"),
                scopes=[scope.name for scope in form.cleaned_data["scopes"]],
                exchange_target=form.cleaned_data["exchange_target"],
            )
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "original": client,
            "form": form,
            "result": result,
            "claims_json": json.dumps(result.claims, indent=2) if result and result.claims else "",
            "header_json": json.dumps(result.header, indent=2) if result and result.header else "",
            # The policy that applied is named to whoever may preview; linked for those who may open it.
            "may_view_policy": request.user.has_perm("oauth.view_exchangepolicy"),
            "title": f"Token preview for {client}",
        }
        return TemplateResponse(request, "admin/oauth/application/preview.html", context)

    def get_fieldsets(self, request: HttpRequest, obj: Application | None = None) -> list[tuple[Any, Any]]:
        # The client id is chosen once, on the add form; afterwards it and the secret's hints
        # are read only. The policy mixin still removes any secret column from these.
        identity = (
            ["name", "client_id", "client_type", "is_active"]
            if obj is None
            else ["client_id", "name", "client_type", "is_active"]
        )
        secret = [] if obj is None else ["secret_hint", "previous_secret"]
        return [
            (None, {"fields": identity}),
            (
                "What it may get",
                {"fields": ["allowed_grant_types", "allowed_scopes", "resource", "one_token_per_audience"]},
            ),
            (
                "Users' sign-in",
                {
                    "fields": [
                        "redirect_uris",
                        "post_logout_redirect_uris",
                        "skip_authorization",
                        "require_second_factor",
                    ]
                },
            ),  # fmt: skip
            (
                "How it authenticates",
                {
                    "fields": [*secret, "jwks", "jwks_uri"],
                    "description": (
                        "A confidential client proves itself with its secret or, with no secret shared, with "
                        "assertions signed by its private key (private_key_jwt): register the public keys here, "
                        "inline or at a URL. With both it may use either: a service moving to keys keeps its "
                        "secret until it signs, then “Remove secret” ends the secret."
                    ),
                },
            ),
            (
                "Request and token protection",
                {"fields": ["require_pushed_authorization_requests", "dpop_bound_access_tokens"]},
            ),
        ]

    def get_readonly_fields(self, request, obj=None) -> tuple[str, ...]:
        return self.readonly_fields if obj else ()

    def save_model(self, request, obj: Application, form, change: bool) -> None:
        if not change:
            # Never chosen by a person: 256 random bits; none for a public client, nor for one
            # registered with its public keys (it authenticates with private_key_jwt; a secret
            # can be rotated in later), as import_config does.
            wants_secret = obj.client_type == obj.CLIENT_CONFIDENTIAL and not has_client_keys(obj)
            obj.client_secret = generate_client_secret() if wants_secret else ""
            request.new_client_secret = obj.client_secret
            save_new_client(obj, client_id=form.cleaned_data.get("client_id", ""))
            return
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        warn_about_problems(request, form.instance)

    def response_add(self, request, obj: Application, post_url_continue=None) -> HttpResponse:
        if getattr(request, "new_client_secret", ""):
            return self._show_secrets(request, [(obj, request.new_client_secret)])
        return super().response_add(request, obj, post_url_continue)

    def rotate_secret_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The client page's "Rotate secret" button: the confirmation page, then the new secret."""
        client = self.get_object(request, str(pk))
        if client is None:
            raise Http404
        if not self.has_change_permission(request, client):
            raise PermissionDenied
        if client.client_type != Application.CLIENT_CONFIDENTIAL:
            self.message_user(request, "A public client has no secret to rotate.", level="warning")
            return HttpResponseRedirect(reverse("admin:oauth_application_change", args=[client.pk]))
        return self._confirm_rotation(request, [client], selected=False)

    def remove_secret_view(self, request: HttpRequest, pk: int) -> HttpResponse:
        """The client page's "Remove secret" button: the last step of moving a service to
        private_key_jwt. A confirmation page, then the secret (and a previous one in its grace
        period) stops working at once. Refused while the client has no keys to use instead."""
        client = self.get_object(request, str(pk))
        if client is None:
            raise Http404
        if not self.has_change_permission(request, client):
            raise PermissionDenied
        change_page = HttpResponseRedirect(reverse("admin:oauth_application_change", args=[client.pk]))
        if not has_client_secret(client):
            self.message_user(request, "This client has no secret.", level="warning")
            return change_page
        if not has_client_keys(client):
            self.message_user(
                request,
                "Register the client's public keys first: without a secret it can only authenticate with them.",
                level="error",
            )
            return change_page
        if request.method == "POST" and request.POST.get("post") == "yes":
            remove_client_secret(client=client, removed_by=request.user.get_username())
            self.log_change(request, client, "Removed the client secret: it authenticates with its keys only.")
            self.message_user(request, f"The secret of {client} no longer works: it authenticates with its keys.")
            return change_page
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "client": client,
            "now": timezone.now(),
            "title": f"Remove the secret of {client}",
        }
        return TemplateResponse(request, self.remove_secret_template, context)

    # Whoever sees the new secret can act as the client: as much as changing the client does.
    @admin.action(permissions=["change"], description="Rotate the secret of selected clients")
    def rotate_secret(self, request, queryset) -> HttpResponse | None:
        clients = [client for client in queryset if client.client_type == Application.CLIENT_CONFIDENTIAL]
        # The action's permission is the model's; a client holding privilege needs more.
        if not all(self.may_touch(request, client) for client in clients):
            raise PermissionDenied
        if not clients:
            self.message_user(request, "Public clients have no secret to rotate.", level="warning")
            return None
        return self._confirm_rotation(request, clients, selected=True)

    def _confirm_rotation(self, request: HttpRequest, clients: list[Application], *, selected: bool) -> HttpResponse:
        """Nothing changes until the operator confirms, with the grace period chosen."""
        confirmed = request.method == "POST" and request.POST.get("post") == "yes"
        form = RotateSecretForm(request.POST if confirmed else None)
        if confirmed and form.is_valid():
            grace = form.grace()
            rotated = []
            for client in clients:
                secret = rotate_client_secret(client=client, grace_period=grace, rotated_by=request.user.get_username())
                self.log_change(request, client, f"Rotated the client secret (previous one kept for {grace}).")
                rotated.append((client, secret))
            return self._show_secrets(request, rotated, rotation=True)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "clients": clients,
            "form": form,
            "selected": selected,  # from the list's action: post the selection back
            "action_checkbox_name": ACTION_CHECKBOX_NAME,
            "now": timezone.now(),
            "title": "Rotate client secrets" if len(clients) > 1 else f"Rotate the secret of {clients[0]}",
        }
        return TemplateResponse(request, self.rotate_template, context)

    def _show_secrets(self, request, clients: list[tuple[Application, str]], *, rotation: bool = False) -> HttpResponse:
        """The one page that ever shows a secret. Not cached, not stored anywhere else."""
        response = TemplateResponse(
            request,
            self.secret_template,
            {
                **self.admin_site.each_context(request),
                "clients": clients,
                "rotation": rotation,
                "opts": self.model._meta,
            },
        )
        response["Cache-Control"] = "no-store"
        return response


class ActiveFilter(admin.SimpleListFilter):
    title = "active"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("yes", "Active"), ("no", "Expired")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(expires__gt=timezone.now())
        if self.value() == "no":
            return queryset.filter(expires__lte=timezone.now())
        return queryset


class AudienceFilter(admin.SimpleListFilter):
    title = "audience"
    parameter_name = "audience"
    MAX_AUDIENCES = 5  # tokens name a handful of APIs at most

    def lookups(self, request, model_admin):
        # The list of every API, only to those who may see the APIs.
        if not request.user.has_perm("resources.view_apiresource"):
            return []
        return [(r.audience, r.audience) for r in ApiResource.objects.order_by("audience")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        # Index lookups work on every database (JSON "contains" does not on SQLite).
        match = Q()
        for index in range(self.MAX_AUDIENCES):
            match |= Q(**{f"audience__{index}": self.value()})
        return queryset.filter(match)


class AccessTokenAdmin(DotAccessTokenAdmin):
    """DOT's "Revoke selected access tokens" action deletes the rows; AccessToken.parent
    cascades, so every token exchanged from a revoked one goes with it. The change page
    shows the token's lineage: who acted for whom."""

    list_display = ("pk", "jti", "application", "user", "audience", "act", "expires")
    list_filter = ("application", AudienceFilter, ActiveFilter)
    raw_id_fields = ("user", "source_refresh_token", "id_token", "parent")
    exclude = ("token", "token_checksum")
    readonly_fields = ("jti", "subject", "audience", "act", "lineage")

    @admin.action(
        permissions=["revoke"], description="Revoke selected access tokens (and every token exchanged from them)"
    )
    def revoke_tokens(self, request, queryset) -> None:
        # Logged one by one (so each is audited) before the rows and their descendants go.
        for token in queryset:
            self.log_change(request, token, "Revoked, with every token exchanged from it.")
        super().revoke_tokens(request, queryset)

    @admin.display(description="lineage (exchanged tokens)")
    def lineage(self, token: AccessToken) -> str:
        if token.pk is None:
            return "-"
        return format_html("<ul class='lineage'>{}</ul>", self._render(lineage_tree(token), token.pk))

    def _render(self, node: LineageNode, current: int) -> str:
        token = node.token
        actor = f", acting: {token.act['sub']}" if token.act else ""
        label = format_html(
            "<a href='{}'>#{}</a> {} → {} [{}] sub {}{}",
            reverse("admin:oauth_accesstoken_change", args=[token.pk]),
            token.pk,
            str(token.application) if token.application else "-",
            ", ".join(token.audience),
            token.scope,
            token.subject,
            actor,
        )
        if token.pk == current:
            label = format_html("<strong>{}</strong>", label)
        children = format_html_join("", "{}", ((self._render(child, current),) for child in node.children))
        return format_html("<li>{}<ul>{}</ul></li>", label, children)


class RefreshTokenAdmin(DotRefreshTokenAdmin):
    exclude = ("token", "token_checksum")

    @admin.action(permissions=["revoke"], description="Revoke selected refresh tokens (and their access tokens)")
    def revoke_tokens(self, request, queryset) -> None:
        for token in queryset:
            self.log_change(request, token, "Revoked, with its access token.")
        super().revoke_tokens(request, queryset)


class GrantAdmin(DotGrantAdmin):
    exclude = ("code",)


class IDTokenAdmin(DotIDTokenAdmin):
    pass


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):
    """Keys come and go by rotation (rotate_keys) and, for a key that leaked, withdrawal
    (withdraw_key), never by hand: deleting a published key would fail every token it signed.
    Both actions show what will happen and act only once confirmed. The private half is never
    shown."""

    list_display = ("kid", "algorithm", "state", "created", "activated_at", "retired_at")
    list_filter = ("algorithm", "state")
    fields = ("kid", "algorithm", "state", "public_jwk", "created", "activated_at", "retired_at")
    readonly_fields = fields
    actions = ["rotate", "withdraw"]

    def has_rotate_permission(self, request) -> bool:
        return model_permission(request, self.opts, "rotate_signingkey")

    @staticmethod
    def _confirmed(request: HttpRequest) -> bool:
        return request.POST.get("post") == "yes"

    def _confirmation(self, request: HttpRequest, template: str, **context: Any) -> TemplateResponse:
        return TemplateResponse(
            request,
            template,
            {
                **self.admin_site.each_context(request),
                "opts": self.model._meta,
                "action_checkbox_name": ACTION_CHECKBOX_NAME,
                **context,
            },
        )

    @admin.action(permissions=["rotate"], description="Rotate the keys of the selected keys' algorithms")
    def rotate(self, request, queryset) -> HttpResponse | None:
        algorithms = sorted({key.algorithm for key in queryset})
        if not self._confirmed(request):
            live_keys = SigningKey.objects.filter(algorithm__in=algorithms, state__in=[KeyState.ACTIVE, KeyState.NEXT])
            live = {(key.algorithm, key.state): key for key in live_keys}
            # Per algorithm: the key that retires and the published one that starts signing.
            plan = [(alg, live.get((alg, KeyState.ACTIVE)), live.get((alg, KeyState.NEXT))) for alg in algorithms]
            return self._confirmation(
                request,
                "admin/oauth/signingkey/confirm_rotation.html",
                title="Rotate signing keys",
                selected=queryset,
                plan=plan,
                retention_minutes=int(retired_key_retention().total_seconds() // 60),
            )
        for key in rotate_keys(algorithms=algorithms):
            self.log_change(request, key, "Rotated: this key is now active.")
            self.message_user(request, f"{key.algorithm}: {key.kid} is now the active key.")
        return None

    # Withdrawing is the end of a key's life cycle that rotation starts: the same permission.
    @admin.action(permissions=["rotate"], description="Withdraw the selected retired keys (a key that leaked)")
    def withdraw(self, request, queryset) -> HttpResponse | None:
        keys = list(queryset)
        live = [key for key in keys if key.state != KeyState.RETIRED]
        if live:
            # As withdraw_key (and the command) refuses: something must go on signing.
            names = ", ".join(f"{key.kid} ({key.get_state_display()})" for key in live)
            self.message_user(
                request,
                f"Only retired keys can be withdrawn; rotate the active key out first. Not retired: {names}.",
                level="error",
            )
            return None
        if not self._confirmed(request):
            return self._confirmation(
                request,
                "admin/oauth/signingkey/confirm_withdrawal.html",
                title="Withdraw signing keys",
                keys=keys,
                withdraw_label="Withdraw the keys" if len(keys) > 1 else "Withdraw the key",
            )
        for key in keys:
            # Logged before the row goes: the history and the audit trail name the operator.
            self.log_change(request, key, "Withdrawn: no longer published.")
            withdraw_key(key.kid)
            self.message_user(request, f"{key.algorithm} key {key.kid} withdrawn: no longer published.")
        return None


class ExchangePolicyForm(forms.ModelForm):
    scopes = ScopesByApiField(widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = ExchangePolicy
        field_classes = {
            "subject_audiences": KeyCheckedMultipleChoiceField,
            "trusted_issuers": KeyCheckedMultipleChoiceField,
        }
        widgets = {
            "subject_audiences": forms.CheckboxSelectMultiple,
            "trusted_issuers": forms.CheckboxSelectMultiple,
        }
        fields = [
            "client", "subject_audiences", "trusted_issuers", "target", "scopes", "mode",
            "max_depth", "max_lifetime", "accept_id_token", "enabled",
        ]  # fmt: skip

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        target, scopes = cleaned.get("target"), cleaned.get("scopes")
        if target is not None and scopes is not None:
            foreign = sorted(s.name for s in scopes if s.resource_id != target.pk)
            if foreign:
                self.add_error("scopes", f"Not scopes of {target}: {', '.join(foreign)}")
        return cleaned


def warn_about_problems(
    request: HttpRequest, *objects: Application | ExchangePolicy | TransactionTokenPolicy | TrustedIssuer
) -> None:
    """Saved, but it cannot work with the rest (apps/console/consistency.py): say so now,
    where it was made, rather than when a service's request is refused."""
    for problem in problems_involving(*objects):
        messages.warning(
            request,
            format_html('{} <a href="{}">{}</a>', problem.message, problem.fix_url, gettext("Fix it")),
        )


@admin.register(ExchangePolicy)
class ExchangePolicyAdmin(LimitsPrivilege):
    form = ExchangePolicyForm
    privileged_choices = ("target", "scopes")

    scopes_field, resource_field = "scopes", "target"

    list_display = ("summary", "enabled")
    list_filter = ("enabled", "mode", "target")
    search_fields = ("client__name", "client__client_id", "target__audience")
    list_select_related = ("client", "client__resource", "target")

    def get_queryset(self, request: HttpRequest) -> Any:
        # The summary names the subject audiences, trusted issuers and scopes of every row.
        return super().get_queryset(request).prefetch_related("subject_audiences", "trusted_issuers", "scopes")

    def save_related(self, request, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        policy = form.instance
        warn_about_problems(request, policy, policy.client)

    @admin.display(description="policy")
    def summary(self, policy: ExchangePolicy) -> str:
        return policy.summary()


class TransactionTokenPolicyForm(forms.ModelForm):
    """What the model's ``clean()`` refuses (a member name that is not one, ``call_chain``, a
    context that is not an object or repeats a request_details member) shows under its field."""

    scopes = ScopesByApiField(widget=forms.CheckboxSelectMultiple)

    class Meta:
        model = TransactionTokenPolicy
        field_classes = {"subject_audiences": KeyCheckedMultipleChoiceField}
        widgets = {
            "subject_audiences": forms.CheckboxSelectMultiple,
            "transaction_context": forms.Textarea(attrs={"rows": 4, "cols": 80, "class": "vLargeTextField"}),
        }
        fields = [
            "client", "subject_audiences", "scopes", "request_details_keys", "request_context_keys",
            "transaction_context", "max_lifetime", "accept_txn_tokens", "enabled",
        ]  # fmt: skip

    def clean_transaction_context(self) -> Any:
        value = self.cleaned_data["transaction_context"]
        if value is None and not str(self["transaction_context"].data or "").strip():
            return {}  # an emptied field: the policy adds nothing to tctx (a typed null is refused)
        try:
            # Python's JSON reader takes NaN and Infinity, which no JSON document (a token's
            # tctx) may hold, and PostgreSQL's jsonb refuses: a form error, not a 500.
            json.dumps(value, allow_nan=False)
        except ValueError:
            raise ValidationError("NaN and Infinity are not JSON values.") from None
        return value


@admin.register(TransactionTokenPolicy)
class TransactionTokenPolicyAdmin(LimitsPrivilege):
    """Which workloads get Txn-Tokens (draft-ietf-oauth-transaction-tokens, "TTS Issuance
    Policies"): one policy per client."""

    form = TransactionTokenPolicyForm
    # A Txn-Token carrying the management API's scopes, or made from one of its tokens, would
    # carry its powers down the call chain: as an exchange policy into it, a superuser's to grant.
    privileged_choices = ("scopes", "subject_audiences")
    scopes_field = "scopes"

    list_display = ("summary", "enabled")
    list_filter = ("enabled", "accept_txn_tokens")
    search_fields = ("client__name", "client__client_id")
    list_select_related = ("client", "client__resource")
    readonly_fields = ("created",)

    def get_queryset(self, request: HttpRequest) -> Any:
        # The summary names the subject audiences and scopes of every row.
        return super().get_queryset(request).prefetch_related("subject_audiences", "scopes")

    def holds_privilege(self, obj: Any) -> bool:
        return grants_privilege(scopes=obj.scopes.all()) or any(
            is_privileged_resource(resource) for resource in obj.subject_audiences.all()
        )

    def save_related(self, request, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        policy = form.instance
        warn_about_problems(request, policy, policy.client)

    @admin.display(description="policy")
    def summary(self, policy: TransactionTokenPolicy) -> str:
        return policy.summary()


# --- trusted issuers -------------------------------------------------------------------------


def json_without_nan(value: Any) -> Any:
    """Python's JSON reader takes NaN and Infinity, which no JSON document may hold and
    PostgreSQL's jsonb refuses: a form error, not a 500."""
    try:
        json.dumps(value, allow_nan=False)
    except ValueError:
        raise ValidationError("NaN and Infinity are not JSON values.") from None
    return value


class ModelCheckAfterFields(forms.ModelForm):
    """The model's ``clean()`` checks the object as a whole, once every field is valid: run
    with a field the form refused, it would report that field again, as the value it never
    got (claims "not an object" under "Enter a valid JSON.", "map to a client or to a user"
    under "No user has this username.")."""

    def _post_clean(self) -> None:
        if not self._errors:  # type: ignore[attr-defined]  # private Django API, not in the stubs
            super()._post_clean()  # type: ignore[misc]  # private Django API, not in the stubs


class TrustedIssuerForm(ModelCheckAfterFields):
    """What the model's ``clean()`` refuses (an issuer that is not an https URL or is this
    IdP, keys given twice or not at all, a private or weak key, an algorithm not offered)
    shows under its field."""

    class Meta:
        model = TrustedIssuer
        fields = ["name", "issuer", "jwks_uri", "jwks", "algorithms", "audience", "enabled"]
        widgets = {"jwks": forms.Textarea(attrs={"rows": 8, "cols": 80, "class": "vLargeTextField jwks"})}

    def clean_jwks(self) -> Any:
        return json_without_nan(self.cleaned_data["jwks"])


SUPERUSERS_MAPPING = "mapped by a superuser only (whoever holds the issuer's keys would act as it)"


class IssuerMappingForm(ModelCheckAfterFields):
    """One mapping: exact claim values, and the client or the person (by username, typed in:
    no list of every account) they stand for. ``operator`` (set per request by the inline) is
    who is making it: see apps/console/issuer_mappings.py."""

    operator: Any = None

    username = forms.CharField(
        required=False,
        max_length=150,
        label="User",
        help_text="Or a person's username (one of the two).",
    )

    class Meta:
        model = IssuerMapping
        fields = ["claims", "client"]
        widgets = {"claims": forms.Textarea(attrs={"rows": 2, "cols": 50})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.user_id is not None:
            self.initial.setdefault("username", self.instance.user.get_username())
        client = self.fields.get("client")  # absent from a read-only page
        if isinstance(client, forms.ModelChoiceField) and self.operator is not None and not self.operator.is_superuser:
            assert client.queryset is not None  # a model field's choices
            client.queryset = mappable_clients(client.queryset)
            client.error_messages = {
                **client.error_messages,
                "invalid_choice": "%(value)s is not one of the choices offered: a client holding the "
                + ", ".join(sorted(PRIVILEGED_AUDIENCES))
                + " API's powers is "
                + SUPERUSERS_MAPPING
                + ".",
            }

    def clean_claims(self) -> Any:
        return json_without_nan(self.cleaned_data["claims"])

    def clean_username(self) -> Any:
        username = self.cleaned_data["username"].strip()
        if not username:
            return None
        user_model = get_user_model()
        user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
        if user is None:
            raise ValidationError("No user has this username.")
        if self.operator is not None and not may_map(self.operator, mapping_privilege(client=None, user=user)):
            if is_operator_account(user):
                raise ValidationError(f"An operator's account (staff or superuser) is {SUPERUSERS_MAPPING}.")
            raise ValidationError(
                "A person's account is mapped by an operator who may change users, or a superuser "
                "(whoever holds the issuer's keys would act as them)."
            )
        return user

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        if "username" in cleaned:  # else its own error says why
            # Before the model's clean(), which wants a client or a user, one of the two.
            self.instance.user = cleaned["username"]
        return cleaned


class IssuerMappingFormSet(BaseInlineFormSet):
    def clean(self) -> None:
        """The same claims twice in one submission: the model's check against the stored
        mappings sees neither while the issuer is being added."""
        super().clean()
        seen: set[str] = set()
        for form in self.forms:
            if not form.has_changed() and form.instance.pk is None:
                continue
            if self.can_delete and self._should_delete_form(form):  # type: ignore[attr-defined]  # not in the stubs
                continue
            claims = form.cleaned_data.get("claims") if hasattr(form, "cleaned_data") else None
            if not isinstance(claims, dict):
                continue
            text = json.dumps(claims, sort_keys=True)
            if text in seen:
                form.add_error("claims", "This issuer already has a mapping for exactly these claims.")
            seen.add(text)


class IssuerMappingInline(admin.TabularInline):
    """The issuer's mappings, on its page. Inlines are not wrapped by the operator policy:
    IssuerMapping has no secret field (apps/console/checks.py checks it stays so), and its
    add, change and delete permissions are its own, narrowed here by the issuer's privilege."""

    model = IssuerMapping
    form = IssuerMappingForm
    formset = IssuerMappingFormSet
    fields = ("claims", "client", "username", "created")
    readonly_fields = ("created",)
    extra = 1

    def get_formset(self, request: HttpRequest, obj: Any = None, **kwargs: Any) -> Any:
        formset = super().get_formset(request, obj, **kwargs)
        # Each form knows who is making the mapping: what it may map to depends on them.
        formset.form = type("ForOperator", (formset.form,), {"operator": request.user})
        return formset

    @admin.display(description="user")
    def username(self, mapping: IssuerMapping) -> str:
        # The read-only page's column (the form's field when it is editable).
        return mapping.user.get_username() if mapping.user is not None else "-"

    def _may_touch(self, request: HttpRequest, issuer: TrustedIssuer | None) -> bool:
        return issuer is None or may_map(request.user, issuer_privilege(issuer))

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_add_permission(request, obj) and self._may_touch(request, obj)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_change_permission(request, obj) and self._may_touch(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return super().has_delete_permission(request, obj) and self._may_touch(request, obj)


@admin.register(TrustedIssuer)
class TrustedIssuerAdmin(LimitsPrivilege):
    """Other identity providers whose tokens are accepted (workload and partner identity
    federation), with their mappings inline. Whoever holds an issuer's keys acts as the
    identities its mappings name: an issuer mapping to a privileged client or an operator's
    account is a superuser's, one mapping to a person's account is for those who may change
    users (apps/console/issuer_mappings.py); others may view it, not change or delete it."""

    form = TrustedIssuerForm
    inlines = [IssuerMappingInline]

    list_display = ("summary", "mapping_count", "enabled")
    list_filter = ("enabled", "mappings__client")
    search_fields = ("name", "issuer", "audience", "mappings__client__client_id", "mappings__user__username")
    readonly_fields = ("created",)

    def get_queryset(self, request: HttpRequest) -> Any:
        return super().get_queryset(request).annotate(mapping_total=Count("mappings", distinct=True))

    def may_touch(self, request: HttpRequest, obj: Any) -> bool:
        return obj is None or may_map(request.user, issuer_privilege(obj))

    def save_related(self, request, form, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        issuer = form.instance
        warn_about_problems(request, issuer)

    @admin.display(description="issuer")
    def summary(self, issuer: TrustedIssuer) -> str:
        return issuer.summary()

    @admin.display(description="mappings", ordering="mapping_total")
    def mapping_count(self, issuer: TrustedIssuer) -> int:
        return getattr(issuer, "mapping_total", 0)
