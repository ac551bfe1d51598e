"""Benchmark settings: the production settings plus the ceiling view (bench/urls.py),
served the way the token endpoint is (past the browser middleware)."""

from idp.conf import DEFAULTS
from idp.settings.base import *  # noqa: F403
from idp.settings.base import IDP

ROOT_URLCONF = "bench.urls"
IDP = {**IDP, "SERVICE_ENDPOINTS": [*DEFAULTS["SERVICE_ENDPOINTS"], "bench-ceiling", "bench-floor"]}
