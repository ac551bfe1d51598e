"""Profile one endpoint in-process, through the whole WSGI stack (middleware included).

    .venv/bin/python bench/profile_token.py cc_rs256 [requests]     # or cc_es256, exchange, introspect
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/test .venv/bin/python bench/profile_token.py exchange

Prints pyinstrument's call tree for ``requests`` calls (default 2,000) after a warm-up, and
the SQL statements one call runs. SQLite in a temporary folder unless DATABASE_URL is set.
"""

import io
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
workdir = tempfile.mkdtemp(prefix="idp-profile-")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{workdir}/profile.sqlite3")
os.environ.update(
    DJANGO_SETTINGS_MODULE="bench.settings",
    SECRET_KEY="profile-only",
    SECURE_SSL_REDIRECT="0",
    ALLOWED_HOSTS="127.0.0.1",
    IDP_ISSUER="http://127.0.0.1:8000",
    RATE_LIMIT_CLIENT="1000000000/60",  # on, as in production, with a budget no profile reaches
)

import django  # noqa: E402

django.setup()

from django.core.handlers.wsgi import WSGIHandler  # noqa: E402
from django.db import connection  # noqa: E402
from pyinstrument import Profiler  # noqa: E402

from bench.support import seed  # noqa: E402
from bench.token_bench import basic, exchange_body  # noqa: E402


def main() -> None:
    case = sys.argv[1] if len(sys.argv) > 1 else "cc_rs256"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 2000
    seeded = seed()
    clients, subject = seeded["demo"]["clients"], seeded["subject_token"]
    cases = {
        "cc_rs256": (
            "/o/token/",
            clients["eventcatalog-admin"],
            "grant_type=client_credentials&scope=eventcatalog.read",
        ),
        "cc_es256": ("/o/token/", clients["shoppingbasket"], "grant_type=client_credentials&scope=discount.fullaccess"),
        "exchange": ("/o/token/", clients["shoppingbasket"], exchange_body(subject)),
        "introspect": ("/o/introspect/", clients["shoppingbasket"], urlencode({"token": subject})),
        "ceiling": ("/bench/ceiling", clients["shoppingbasket"], ""),
    }
    path, client, body = cases[case]
    handler = WSGIHandler()
    encoded = body.encode()

    def call() -> bytes:
        environ = {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": path,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(encoded),
            "CONTENT_TYPE": "application/x-www-form-urlencoded",
            "CONTENT_LENGTH": str(len(encoded)),
            "HTTP_AUTHORIZATION": basic(client),
            "REMOTE_ADDR": "127.0.0.1",
        }
        statuses: list[str] = []
        written: list[bytes] = []

        def start_response(
            status: str, headers: list[tuple[str, str]], exc_info: object = None
        ) -> Callable[[bytes], object]:
            statuses.append(status)
            return written.append  # WSGI's write(): Django returns the body instead, but the contract asks for one

        response = handler(environ, start_response)
        payload = b"".join([*written, *response])
        response.close()
        if not statuses[0].startswith("200"):
            raise SystemExit(f"{statuses[0]}: {payload.decode()}")
        return payload

    for _ in range(50):
        call()
    statements: list[str] = []

    def log_sql(execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]) -> Any:
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(log_sql):
        call()
    import time

    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(count):
        call()
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{elapsed / count * 1000:.3f} ms per request, {cpu / count * 1000:.3f} ms of it on this process's CPU")
    if os.environ.get("CPROFILE"):
        import cProfile
        import pstats

        with cProfile.Profile(time.process_time) as prof:
            for _ in range(count):
                call()
        pstats.Stats(prof).sort_stats(os.environ.get("CPROFILE_SORT", "tottime")).print_stats(
            int(os.environ.get("CPROFILE_LINES", "25"))
        )
        return
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for _ in range(count):
        call()
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    print(f"{len(statements)} SQL statements per request:")
    for sql in statements:
        print("  ", sql[:300])


if __name__ == "__main__":
    main()
