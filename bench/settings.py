"""Benchmark settings: production settings plus the ceiling view (bench/urls.py)."""

from idp.settings.base import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
