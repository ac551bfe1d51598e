"""Fixtures for the operations tests: /metrics switched on and read back as numbers."""

from collections.abc import Callable

import pytest

from tests.support.metrics import METRICS_TOKEN, METRICS_URL, sample_value


@pytest.fixture
def metrics_enabled(settings) -> str:
    """/metrics on, behind METRICS_TOKEN; returns the Authorization header value to scrape with."""
    settings.IDP = {**settings.IDP, "METRICS_ENABLED": True, "METRICS_TOKEN": METRICS_TOKEN}
    return f"Bearer {METRICS_TOKEN}"


@pytest.fixture
def metric(client, metrics_enabled) -> Callable[..., float]:
    """Scrape /metrics as Prometheus would and read one sample."""

    def read(name: str, **labels: str) -> float:
        response = client.get(METRICS_URL, HTTP_AUTHORIZATION=metrics_enabled)
        assert response.status_code == 200, response.status_code
        return sample_value(response.content.decode(), name, **labels)

    return read
