"""gunicorn settings (read from the working directory by `gunicorn idp.wsgi`).

Threads per worker overlap the database round trips of one request with the work of
another, and gthread workers keep client connections alive, which services calling
/o/token/ on every hop rely on. Set WEB_CONCURRENCY (worker processes; gunicorn reads it
itself) and GUNICORN_THREADS in the environment.
"""

import os
from pathlib import Path
from typing import TYPE_CHECKING

from prometheus_client import multiprocess

if TYPE_CHECKING:
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
keepalive = 5

# The access log is off unless asked for (GUNICORN_CMD_ARGS="--access-logfile -"). Its lines
# carry the path without the query string (%(U)s, not the request line %(r)s), and neither
# the Referer nor the Basic-auth user name: query strings can hold an ID token
# (id_token_hint at logout) or an authorization code, and referers repeat them. The request
# id joins each line to the application's log records.
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(M)sms "%(a)s" %({x-request-id}o)s'

# Prometheus multiprocess mode (docs/operations.md): each worker writes its metrics to files
# in this directory, and /metrics adds them up.
PROMETHEUS_MULTIPROC_DIR = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "")


def on_starting(server: "Arbiter") -> None:
    """A previous run's files would be added to this run's counts: start from none."""
    if PROMETHEUS_MULTIPROC_DIR:
        for stale in Path(PROMETHEUS_MULTIPROC_DIR).glob("*.db"):
            stale.unlink()


def worker_exit(server: "Arbiter", worker: "Worker") -> None:
    """A worker that ends (restart, scale-down, max_requests) writes the token counts it has
    not flushed yet (apps/ops/counters.py), whether or not the interpreter's atexit runs."""
    from apps.ops import counters  # in the worker, with Django loaded by idp.wsgi

    counters.stop_flushing()


def child_exit(server: "Arbiter", worker: "Worker") -> None:
    """A dead worker's live gauges must stop counting (its counters stay in the totals)."""
    if PROMETHEUS_MULTIPROC_DIR:
        multiprocess.mark_process_dead(worker.pid)
