"""System checks for the operations settings (run by `manage.py check` and at startup)."""

from typing import Any

from django.core.checks import CheckMessage, Warning, register

from idp.conf import idp_settings


@register()
def metrics_protection(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if idp_settings.METRICS_ENABLED and not idp_settings.METRICS_TOKEN:
        if not idp_settings.METRICS_ALLOW_UNAUTHENTICATED:
            return [
                Warning(
                    "METRICS_ENABLED is set but METRICS_TOKEN is empty: /metrics refuses every scrape (401).",
                    hint="Set METRICS_TOKEN (e.g. `openssl rand -hex 32`), or METRICS_ALLOW_UNAUTHENTICATED=1 "
                    "if only your network decides who reaches /metrics.",
                    id="ops.W001",
                )
            ]
    return []
