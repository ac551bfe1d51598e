"""Fixtures for the operations tests: the token-exchange scenario of tests/oauth, and /metrics
switched on and read back as numbers."""

from collections.abc import Callable

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.oauth.conftest import (  # noqa: F401 - fixtures, shared with the OAuth tests
    alice,
    alice_token,
    basket,
    basket_policy,
    browser,
    exchange,
    make_policy,
    web,
)

METRICS_URL = "/metrics"
METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef"


@pytest.fixture
def metrics_enabled(settings) -> str:
    """/metrics on, behind METRICS_TOKEN; returns the Authorization header value to scrape with."""
    settings.IDP = {**settings.IDP, "METRICS_ENABLED": True, "METRICS_TOKEN": METRICS_TOKEN}
    return f"Bearer {METRICS_TOKEN}"


def sample_value(exposition: str, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly ``labels`` in a text exposition; 0 when
    the series does not exist yet (a counter that never moved)."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0


@pytest.fixture
def metric(client, metrics_enabled) -> Callable[..., float]:
    """Scrape /metrics as Prometheus would and read one sample."""

    def read(name: str, **labels: str) -> float:
        response = client.get(METRICS_URL, HTTP_AUTHORIZATION=metrics_enabled)
        assert response.status_code == 200, response.status_code
        return sample_value(response.content.decode(), name, **labels)

    return read
