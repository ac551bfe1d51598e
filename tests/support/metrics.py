"""/metrics as the tests scrape it: its address, the token they send, and reading a sample."""

from prometheus_client.parser import text_string_to_metric_families

METRICS_URL = "/metrics"
METRICS_TOKEN = "metrics-token-for-tests-0123456789abcdef"


def sample_value(exposition: str, name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly ``labels`` in a text exposition; 0 when
    the series does not exist yet (a counter that never moved)."""
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return sample.value
    return 0.0
