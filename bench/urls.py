"""The project's URLs plus two reference views, served as the token endpoint is:

- ``/bench/ceiling``: the cheapest JSON view Django can serve: the framework's ceiling;
- ``/bench/floor``: the ceiling plus the two statements a stored client-credentials token
  cannot do without (read the client's row, insert the token's row), with parameters
  prepared once: what the database alone costs, before any of our code runs.
"""

import hashlib
import os
import uuid
from datetime import timedelta
from functools import cache

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.urls import path
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from apps.oauth.models import AccessToken, Application
from idp.sql import _columns, _insert_sql, column, table
from idp.urls import urlpatterns as idp_urlpatterns


@csrf_exempt
def ceiling(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


@cache
def _floor_statements() -> tuple[str, str, list, int, int]:
    application = Application.objects.get(client_id=os.environ.get("BENCH_FLOOR_CLIENT", "eventcatalog-admin"))
    row = AccessToken(
        application=application,
        subject=application.client_id,
        audience=["eventcatalog"],
        scope="eventcatalog.read",
        expires=timezone.now() + timedelta(days=1),
        token_checksum="0" * 64,
    )
    fields = _columns(AccessToken)
    params = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    names = [field.name for field in fields]
    select = (
        f"SELECT {column(Application, 'id')}, {column(Application, 'client_secret')} FROM {table(Application)}"  # noqa: S608
        f" WHERE {column(Application, 'client_id')} = %s"
    )
    return (
        select,
        _insert_sql(AccessToken, connection.vendor),
        params,
        names.index("token_checksum"),
        names.index("jti"),
    )


@csrf_exempt
def floor(request: HttpRequest) -> JsonResponse:
    select, insert, params, checksum_at, jti_at = _floor_statements()
    params = list(params)
    jti = uuid.uuid4()
    params[checksum_at] = hashlib.sha256(jti.bytes).hexdigest()
    params[jti_at] = AccessToken._meta.get_field("jti").get_db_prep_save(jti, connection)
    with connection.cursor() as cursor:
        cursor.execute(select, [os.environ.get("BENCH_FLOOR_CLIENT", "eventcatalog-admin")])
        cursor.fetchone()
        cursor.execute(insert, params)
    return JsonResponse({"ok": True})


urlpatterns = [
    path("bench/ceiling", ceiling, name="bench-ceiling"),
    path("bench/floor", floor, name="bench-floor"),
    *idp_urlpatterns,
]
