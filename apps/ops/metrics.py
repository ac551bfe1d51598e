"""Prometheus metrics: what the IdP counts, and the exposition /metrics serves.

Counting is in-process and cheap (no queries, no I/O without multiprocess mode): a label
set's child is looked up once and kept. Under gunicorn with several workers, set
PROMETHEUS_MULTIPROC_DIR: each worker then writes its values to files there and /metrics
adds up every worker's (docs/operations.md).
"""

import os
from collections.abc import Sequence
from typing import Any

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.metrics import MetricWrapperBase

TOKENS_ISSUED = Counter(
    "idp_tokens_issued",
    "Access tokens issued, by grant and audience (the token's aud, comma-joined).",
    ["grant", "audience"],
)
TOKEN_EXCHANGES = Counter(
    "idp_token_exchanges",
    "Token exchanges (RFC 8693 and on-behalf-of) decided; reason is the OAuth error code of a refusal.",
    ["outcome", "reason"],
)
REQUEST_DURATION = Histogram(
    "idp_request_duration_seconds",
    "Time to answer a request, by URL name (unmatched: no URL pattern).",
    ["endpoint"],
    # The token endpoint answers in milliseconds; pages and the admin in tens to hundreds.
    buckets=(0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
LOGIN_FAILURES = Counter("idp_login_failures", "Failed sign-ins (wrong credentials, or refused by the lockout).")
LOCKOUTS = Counter("idp_lockouts", "Sign-ins refused by django-axes' lockout, counting the attempt that triggered it.")

# grant_type values that are URNs, as their short label (others are their own label).
_GRANT_LABELS = {
    "urn:ietf:params:oauth:grant-type:token-exchange": "token_exchange",  # RFC 8693
    # RFC 7523, and its on-behalf-of form (requested_token_use), which also counts as an exchange.
    "urn:ietf:params:oauth:grant-type:jwt-bearer": "jwt_bearer",
}

_children: dict[tuple[Any, ...], Any] = {}


def _child(metric: MetricWrapperBase, *labels: str) -> Any:
    """``metric.labels(*labels)``, without its lock and argument checks after the first time."""
    key = (metric, *labels)
    child = _children.get(key)
    if child is None:
        child = _children[key] = metric.labels(*labels)
    return child


def token_issued(*, grant: str, audience: Sequence[str]) -> None:
    _child(TOKENS_ISSUED, _GRANT_LABELS.get(grant, grant), ",".join(sorted(audience))).inc()


def exchange_granted(*, grant: str, audience: Sequence[str]) -> None:
    """A token exchange (or on-behalf-of) that issued its token."""
    _child(TOKEN_EXCHANGES, "granted", "").inc()
    token_issued(grant=grant, audience=audience)


def exchange_refused(*, reason: str) -> None:
    """``reason``: the OAuth error code the client got (the audit event keeps the description,
    which names scopes and audiences: too many values for a label)."""
    _child(TOKEN_EXCHANGES, "refused", reason).inc()


def request_served(*, endpoint: str, seconds: float) -> None:
    _child(REQUEST_DURATION, endpoint).observe(seconds)


def login_failed() -> None:
    LOGIN_FAILURES.inc()


def locked_out() -> None:
    LOCKOUTS.inc()


def exposition() -> bytes:
    """The text format of every metric: this process's, or in multiprocess mode all workers'."""
    # prometheus_client picks its storage from this variable when it is imported; reading
    # the same variable here (not a setting that could disagree) keeps both in step.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)
