"""What an operator may see and do in the admin: the one place that decides.

Every model registered in the admin is classified here, by its label:

- ``secret_fields``: columns no operator ever reads, whatever their permissions: private keys,
  secret hashes, token values and checksums, authorization codes, password hashes. They are
  never displayed, searched, ordered by or filtered on (a filter is an oracle: answering "1
  row" or "0" to ``?private_key_pem__startswith=`` leaks the key a character at a time).
- ``kind``: ``CONFIGURATION`` is what operators edit (clients, APIs, policies, users), under
  Django's add/change/delete permissions; ``RECORD`` is what the system issued or observed
  (tokens, codes, consents, keys, audit events, lockouts): read-only for everyone, superusers
  included, changed only by the actions its admin offers (revoke, rotate, unlock), each behind
  a permission of its own.

:class:`OperatorPolicy` applies this to every ModelAdmin the site registers
(apps/console/site.py); :func:`policy_problems` lists what is unclassified or contradicts the
classification, for the system check and the tests. A model or action added later is refused
until it is classified here.
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.contrib.admin import helpers
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.auth import get_permission_codename
from django.core.exceptions import BadRequest, FieldDoesNotExist, ValidationError
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from django.http import HttpRequest

from apps.audit.receivers import VALUES_MESSAGE
from apps.audit.services import changes, field_values, json_value

if TYPE_CHECKING:
    from django.db.models.options import Options

    # For the type checker the mixin is the ModelAdmin it is mixed into (site.py's
    # with_policy): its super() calls reach that class. At runtime it is a plain mixin.
    _AdminBase = admin.ModelAdmin[models.Model]
else:
    _AdminBase = object


class Kind(Enum):
    CONFIGURATION = "configuration"
    RECORD = "record"


@dataclass(frozen=True)
class ModelPolicy:
    kind: Kind
    secret_fields: frozenset[str] = frozenset()


def _policy(kind: Kind, *secret_fields: str) -> ModelPolicy:
    return ModelPolicy(kind=kind, secret_fields=frozenset(secret_fields))


CONFIGURATION, RECORD = Kind.CONFIGURATION, Kind.RECORD

# An admin action as ModelAdmin lists them: (function, name, description).
Action = tuple[Callable[..., Any], str, str]

MODEL_POLICIES: dict[str, ModelPolicy] = {
    # People and their privileges.
    "auth.user": _policy(CONFIGURATION, "password"),
    "auth.group": _policy(CONFIGURATION),
    # What operators configure.
    "oauth.application": _policy(CONFIGURATION, "client_secret", "previous_client_secret"),
    "oauth.exchangepolicy": _policy(CONFIGURATION),
    "oauth.transactiontokenpolicy": _policy(CONFIGURATION),
    "oauth.trustedissuer": _policy(CONFIGURATION),
    "oauth.issuermapping": _policy(CONFIGURATION),  # inline, on its issuer's page
    "resources.apiresource": _policy(CONFIGURATION),
    "resources.apiscope": _policy(CONFIGURATION),
    # What the system issued: revoked or rotated, never edited.
    "oauth.accesstoken": _policy(RECORD, "token", "token_checksum"),
    "oauth.refreshtoken": _policy(RECORD, "token", "token_checksum", "session_ref"),
    "oauth.grant": _policy(RECORD, "code", "session_ref"),
    "oauth.idtoken": _policy(RECORD),
    "oauth.signingkey": _policy(RECORD, "private_key_pem"),
    "consent.consent": _policy(RECORD),
    # What the system observed.
    "audit.auditevent": _policy(RECORD),
    "axes.accessattempt": _policy(RECORD, "get_data", "post_data"),
    "axes.accessfailurelog": _policy(RECORD),
    "axes.accesslog": _policy(RECORD, "session_hash"),
}


def model_policy(model: type[models.Model]) -> ModelPolicy | None:
    return MODEL_POLICIES.get(model._meta.label_lower)


def secret_fields(model: type[models.Model]) -> frozenset[str]:
    policy = model_policy(model)
    return policy.secret_fields if policy else frozenset()


def touches_secret(model: type[models.Model], path: str) -> bool:
    """Whether ``path`` (``field__relation__field__lookup``, as in a filter or a search field)
    reaches a secret field of ``model`` or of a model it follows a relation to. A model that
    is not classified at all counts as secret through and through."""
    for part in path.lstrip("^=@").split(LOOKUP_SEP):
        if model_policy(model) is None:
            return True
        if part in secret_fields(model):
            return True
        try:
            field = model._meta.get_field(part)
        except FieldDoesNotExist:
            return False  # a lookup or transform (startswith, regex, year): the path ends
        if not field.is_relation or field.related_model is None:
            return False
        # A class by now: Django resolves "self" and "app.Model" when the app registry loads.
        assert isinstance(field.related_model, type)
        model = field.related_model
    return False


def model_permission(request: HttpRequest, opts: "Options[Any]", action: str) -> bool:
    """Whether the user holds Django's ``action`` permission (add, change, delete, view, or a
    custom codename) on the model of ``opts``."""
    codename = get_permission_codename(action, opts) if action in {"add", "change", "delete", "view"} else action
    return request.user.has_perm(f"{opts.app_label}.{codename}")


def _without(names: Iterable[Any], model: type[models.Model]) -> list[Any]:
    return [name for name in names if not (isinstance(name, str) and touches_secret(model, name))]


def _filter_roots(admin_instance: "admin.ModelAdmin[Any]", request: HttpRequest) -> set[str]:
    """The query-string parameters the changelist's own filters produce (the first part of
    their lookups): what an operator can click is what they may filter on."""
    roots: set[str] = set()
    for item in admin_instance.get_list_filter(request):
        if isinstance(item, type) and issubclass(item, admin.SimpleListFilter):
            # Never None in a list that renders: Django refuses a SimpleListFilter without one.
            if item.parameter_name is not None:
                roots.add(item.parameter_name)
        elif isinstance(item, (list, tuple)):
            roots.add(str(item[0]).split(LOOKUP_SEP)[0])
        else:
            roots.add(str(item).split(LOOKUP_SEP)[0])
    if admin_instance.date_hierarchy:
        roots.add(admin_instance.date_hierarchy.split(LOOKUP_SEP)[0])
    return roots


class OperatorPolicy(_AdminBase):
    """Mixed into every ModelAdmin the site registers (before the admin's own class, so the
    policy narrows what the admin allows and never widens it)."""

    @property
    def model_policy(self) -> ModelPolicy | None:
        return model_policy(self.model)

    @property
    def is_record(self) -> bool:
        policy = self.model_policy
        return policy is None or policy.kind is Kind.RECORD

    # --- what may be done -------------------------------------------------------------------

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.model_policy is not None and super().has_module_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return self.model_policy is not None and super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return not self.is_record and super().has_add_permission(request, *args)

    def has_change_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return not self.is_record and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: models.Model | None = None) -> bool:
        return not self.is_record and super().has_delete_permission(request, obj)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        """Revoking an issued token, code or consent deletes it (DOT's semantics): it needs the
        model's "delete" permission, the only use that permission has on a record."""
        return self.model_policy is not None and model_permission(request, self.opts, "delete")

    def _filter_actions_by_permissions(self, request: HttpRequest, actions: list[Action]) -> list[Action]:
        # Django lets an action without ``allowed_permissions`` run for anyone who can view
        # the list; here such an action runs for no one (and policy_problems names it).
        declared = [action for action in actions if getattr(action[0], "allowed_permissions", None)]
        return super()._filter_actions_by_permissions(request, declared)  # type: ignore[misc]  # private Django API, not in the stubs

    def response_action(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> Any:
        """Django filters an action's selection by the ids as posted: a value that is not one
        of this model's keys ("abc", "1²", 30 nines) would raise in the query, a 500. It is a 400."""
        key = self.opts.pk
        for value in request.POST.getlist(helpers.ACTION_CHECKBOX_NAME):
            try:
                key.run_validators(key.to_python(value))  # the validators bound an integer's range
            except ValidationError:
                raise BadRequest("The selection holds something that is not an id of this list.") from None
        return super().response_action(request, queryset)

    # --- what the audit trail keeps of a change ----------------------------------------------
    # The admin's LogEntry becomes an ``admin.change`` event (apps/audit/receivers.py); its
    # change message carries the values before and after, secret fields left out.

    def construct_change_message(
        self, request: HttpRequest, form: forms.Form, formsets: Any, add: bool = False
    ) -> list[dict[str, Any]]:
        message = super().construct_change_message(request, form, formsets, add)
        values = form_changes(form, add=add)
        return [*message, {VALUES_MESSAGE: values}] if values else message

    def log_deletions(self, request: HttpRequest, queryset: Any) -> list[LogEntry]:
        """One entry per object, each with its values: Django's writes several with
        bulk_create, which sends no post_save (so the audit trail would not hear of them)."""
        assert request.user.is_authenticated  # the admin serves signed-in staff only
        hidden = secret_fields(self.model)
        entries = []
        for obj in queryset:
            before = field_values(obj, _field_names(obj), secret=hidden)
            entries.append(
                LogEntry.objects.log_actions(
                    user_id=request.user.pk,
                    queryset=[obj],
                    action_flag=DELETION,
                    change_message=[{VALUES_MESSAGE: changes(before, dict.fromkeys(before))}],
                    single_object=True,
                )
            )
        return entries

    # --- what may be seen -------------------------------------------------------------------

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest | None = None) -> bool:
        """Query-string filters: only those the changelist's own filters produce, and never
        one that reaches a secret column (Django would accept any field of the model)."""
        # The default only matches Django's signature: its changelist passes the request
        # (calling without one is deprecated since Django 5.0).
        assert request is not None
        if touches_secret(self.model, lookup):
            return False
        if lookup.split(LOOKUP_SEP)[0] not in _filter_roots(self, request):
            return False
        return super().lookup_allowed(lookup, value, request)

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        return _without(super().get_search_fields(request), self.model)

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        return _without(super().get_list_display(request), self.model)

    def get_list_display_links(  # type: ignore[override]  # the stubs leave out None, which Django returns
        self, request: HttpRequest, list_display: list[Any] | tuple[Any, ...]
    ) -> list[Any] | tuple[Any, ...] | None:
        links = super().get_list_display_links(request, list_display)
        return links if links is None else _without(links, self.model)

    def get_sortable_by(self, request: HttpRequest) -> list[Any]:
        return _without(super().get_sortable_by(request), self.model)

    def get_ordering(self, request: HttpRequest) -> list[Any]:
        return _without(super().get_ordering(request), self.model)

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        """Never a filter on a secret; and a filter on a relation offers only the related
        objects this list holds (Django's default offers every row of the related table: every
        client or user, to whoever may view tokens)."""
        filters: list[Any] = []
        for item in super().get_list_filter(request):
            if isinstance(item, (str, list, tuple)) and touches_secret(self.model, _filter_path(item)):
                continue
            if isinstance(item, str) and get_fields_from_path(self.model, item)[-1].is_relation:
                item = (item, admin.RelatedOnlyFieldListFilter)
            filters.append(item)
        return filters

    def get_exclude(self, request: HttpRequest, obj: models.Model | None = None) -> list[str]:
        return [*(super().get_exclude(request, obj) or ()), *sorted(secret_fields(self.model))]

    def get_fields(self, request: HttpRequest, obj: models.Model | None = None) -> list[Any]:
        return _without(super().get_fields(request, obj), self.model)

    def get_readonly_fields(self, request: HttpRequest, obj: models.Model | None = None) -> list[Any]:
        return _without(super().get_readonly_fields(request, obj), self.model)

    def get_fieldsets(self, request: HttpRequest, obj: models.Model | None = None) -> list[tuple[Any, Any]]:
        return [
            (title, {**options, "fields": _without_nested(options.get("fields", ()), self.model)})
            for title, options in super().get_fieldsets(request, obj)
        ]


def form_changes(form: forms.Form, *, add: bool) -> dict[str, dict[str, Any]]:
    """The model fields a ModelForm changed, before and after, never a secret field (nor a
    form field that is no model field, as a new password and its confirmation)."""
    if not isinstance(form, forms.ModelForm):
        return {}
    instance = form.instance
    names = [name for name in form.changed_data if name not in secret_fields(type(instance))]
    after = field_values(instance, names, secret=secret_fields(type(instance)))
    before = {} if add else {name: json_value(form.initial.get(name)) for name in after}
    return changes(before, after)


def _field_names(obj: models.Model) -> list[str]:
    # What an operator could set: a non-editable column is the system's (a hash, a hint, a time).
    return [field.name for field in [*obj._meta.concrete_fields, *obj._meta.many_to_many] if field.editable]


def _filter_path(item: Any) -> str:
    return str(item[0] if isinstance(item, (list, tuple)) else item)


def _without_nested(fields: Sequence[Any], model: type[models.Model]) -> list[Any]:
    """Fieldset rows may group fields in tuples (one line of the form)."""
    kept = []
    for entry in fields:
        if isinstance(entry, (list, tuple)):
            entry = tuple(_without(entry, model))
            if entry:
                kept.append(entry)
        elif not (isinstance(entry, str) and touches_secret(model, entry)):
            kept.append(entry)
    return kept
