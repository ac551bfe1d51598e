"""drf-spectacular glue for the management API's schema, with no global setting: the views
name drf-spectacular's AutoSchema themselves (settings for the schema view are in urls.py)."""

from collections.abc import Callable
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema


def management_endpoints_only(endpoints: list[tuple[str, str, str, Any]], **kwargs: Any) -> list:
    """Preprocessing hook: the schema describes this API alone, whatever other DRF views the
    project mounts."""
    return [endpoint for endpoint in endpoints if endpoint[3].cls.__module__.startswith("apps.management_api.")]


def documented(**overrides: Any) -> Callable:
    """``@extend_schema`` for one view method. On a method it builds on DRF's
    DEFAULT_SCHEMA_CLASS unless the method already names a schema class: name ours."""

    def decorator(method: Callable) -> Callable:
        method.kwargs = {**getattr(method, "kwargs", {}), "schema": AutoSchema}
        return extend_schema(**overrides)(method)

    return decorator
