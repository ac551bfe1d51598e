"""Suite-wide rules every test runs under; the shared fixtures are the plugins below
(helpers to import are in tests/support/)."""

import pytest

from apps.clients.config_cache import clear_client_cache
from apps.keys.services import clear_key_cache
from tests.support.logs import scanning_logs

pytest_plugins = ["tests.support.key_pool", "tests.support.fixtures"]


@pytest.fixture(autouse=True)
def _fresh_process_caches():
    # Keys and clients live in the database, which each test rolls back; the process caches
    # must follow.
    clear_key_cache()
    clear_client_cache()
    yield
    clear_key_cache()
    clear_client_cache()


@pytest.fixture(autouse=True)
def _no_secret_in_any_log_record(request):
    """Across the whole suite: no log record carries a token, a secret, a password or a
    private key (the shapes apps/ops/logs.py redacts). Tests that log one on purpose, to
    check the redaction itself, are marked ``logs_secrets``."""
    with scanning_logs() as scanner:
        yield
    if scanner.leaks and request.node.get_closest_marker("logs_secrets") is None:
        pytest.fail("a secret reached the logs:\n" + "\n".join(scanner.leaks[:5]))
