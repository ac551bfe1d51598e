"""The audit trail in the console: read-only (apps/console/policy.py), filtered by person,
client, type and time, and exported as filtered (JSON Lines or CSV) by whoever may view it."""

import datetime
from collections.abc import Iterator
from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db.models import Field, Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.urls import URLPattern, path
from django.utils import timezone

from apps.audit import selectors, services
from apps.audit.models import AuditEvent

EXPORT_FORMATS = {
    "jsonl": ("application/jsonl; charset=utf-8", selectors.json_lines),
    "csv": ("text/csv; charset=utf-8", selectors.csv_lines),
}


def _other_parameters(changelist: ChangeList, own: list[str]) -> list[tuple[str, str]]:
    """The query string's other parameters, as hidden fields of a filter's form (submitting it
    keeps the other filters, the search and the ordering)."""
    return [(name, value) for name, values in changelist.filter_params.items() if name not in own for value in values]


class InputFilter(admin.SimpleListFilter):
    """A filter typed rather than picked: a list of every person or client would be long, and
    would show them all to whoever may read the trail."""

    template = "admin/audit/input_filter.html"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[Any, str]]:
        return []

    def has_output(self) -> bool:
        return True

    # The stubs' choice has only Django's keys; its template reads the "form" key too.
    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:  # type: ignore[override]
        assert self.parameter_name is not None  # set by each subclass
        yield {
            "selected": self.value() is None,
            "query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": "All",
            "form": {
                "name": self.parameter_name,
                "value": self.value() or "",
                "hidden": _other_parameters(changelist, [self.parameter_name]),
            },
        }


class UserFilter(InputFilter):
    title = "user (username)"
    parameter_name = "subject"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return selectors.by_user(queryset, value) if value else queryset


class ClientFilter(InputFilter):
    title = "client (client id)"
    parameter_name = "client_id"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(client_id=value) if value else queryset


class DateRangeFilter(admin.FieldListFilter):
    """From a day (inclusive) to a day (exclusive): ``created__gte`` and ``created__lt``, as
    dates (YYYY-MM-DD) in the console's time zone."""

    template = "admin/audit/date_range_filter.html"

    def __init__(
        self,
        field: "Field[Any, Any]",
        request: HttpRequest,
        params: dict[str, Any],
        model: type[Model],
        model_admin: Any,
        field_path: str,
    ) -> None:
        self.lookup_from, self.lookup_before = f"{field_path}__gte", f"{field_path}__lt"
        super().__init__(field, request, params, model, model_admin, field_path)

    def expected_parameters(self) -> list[str | None]:
        return [self.lookup_from, self.lookup_before]

    def has_output(self) -> bool:
        return True

    def _value(self, lookup: str) -> str:
        # Django keeps every value a parameter was given; the last one counts, as in a form.
        value = self.used_parameters.get(lookup)
        return str(value[-1] if isinstance(value, list) and value else value or "")

    def _day(self, lookup: str) -> datetime.datetime | None:
        value = self._value(lookup)
        if not value:
            return None
        try:
            day = datetime.date.fromisoformat(value)
        except ValueError as error:
            raise IncorrectLookupParameters(error) from error
        return timezone.make_aware(datetime.datetime.combine(day, datetime.time.min))

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        bounds = {lookup: self._day(lookup) for lookup in (self.lookup_from, self.lookup_before)}
        return queryset.filter(**{lookup: day for lookup, day in bounds.items() if day is not None})

    def choices(self, changelist: ChangeList) -> Iterator[dict[str, Any]]:  # type: ignore[override]  # as above
        own = [self.lookup_from, self.lookup_before]
        yield {
            "selected": not any(self._value(lookup) for lookup in own),
            "query_string": changelist.get_query_string(remove=own),
            "display": "All",
            "form": {
                "from": {"name": self.lookup_from, "value": self._value(self.lookup_from)},
                "before": {"name": self.lookup_before, "value": self._value(self.lookup_before)},
                "hidden": _other_parameters(changelist, own),
            },
        }


class AuditEventChangeList(ChangeList):
    def get_results(self, request: HttpRequest) -> None:
        super().get_results(request)
        # The page's usernames in one query, for the Subject column.
        names = selectors.subject_names(self.result_list)
        for event in self.result_list:
            event.subject_name = selectors.subject_name(event, names)


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only, as every record is (apps/console/policy.py)."""

    list_display = ("created", "event_type", "outcome", "client_id", "subject_name", "audience", "reason")
    list_filter = (UserFilter, ClientFilter, "event_type", "outcome", ("created", DateRangeFilter))
    search_fields = ("client_id", "subject", "request_id", "reason")
    date_hierarchy = "created"

    @admin.display(description="subject", ordering="subject")
    def subject_name(self, event: AuditEvent) -> str:
        # Set for the changelist's page (AuditEventChangeList); a username for events that
        # stored a user's database id.
        return getattr(event, "subject_name", event.subject)

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[ChangeList]:
        return AuditEventChangeList

    def get_urls(self) -> list[URLPattern]:
        export = self.admin_site.admin_view(self.export_view)
        return [path("export/<str:file_format>/", export, name="audit_auditevent_export"), *super().get_urls()]

    def export_view(self, request: HttpRequest, file_format: str) -> HttpResponse | StreamingHttpResponse:
        """The list as it is filtered, searched and ordered (the changelist's own query
        string, checked as the changelist checks it), every page of it."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        if file_format not in EXPORT_FORMATS:
            return HttpResponseBadRequest("Export as jsonl or csv.")
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return HttpResponseBadRequest("These filters do not apply to audit events.")
        services.record(
            event_type=services.EXPORTED,
            granted=True,
            subject=request.user.get_username(),
            details={
                "format": file_format,
                "filters": changelist.get_query_string(),
                "events": changelist.result_count,
            },
        )
        content_type, render = EXPORT_FORMATS[file_format]
        response = StreamingHttpResponse(render(selectors.export_rows(changelist.queryset)), content_type=content_type)
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="audit-events-{stamp}.{file_format}"'
        return response
