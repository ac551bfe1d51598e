"""Faults and load against real processes, loopback only, bounded in time (issue 8).

    .venv/bin/python bench/reliability.py              # every scenario, ~4 minutes
    .venv/bin/python bench/reliability.py load rotation  # some of them

Scenarios (each on its own fresh PostgreSQL database, dropped at the end):

- ``load``: 60 s at 64 keep-alive connections mixing client credentials, token exchange and
  introspection. Must show zero 5xx, every issued token found active by introspection
  afterwards, and flat worker memory (RSS at the end within 10% of RSS after the first 10 s).
- ``postgres``: PostgreSQL stopped for 8 s during load. While it is down the IdP answers 503
  with a JSON error (never 500); once it is back the IdP serves again by itself; no token
  answered 200 is missing, and no row is orphaned or half-written.
- ``redis``: Redis stopped for 6 s during load: every request still gets its token.
- ``rotation``: a key rotation during load, with a demo resource server validating every token
  locally: zero validation failures.

Stops and restarts the machine's PostgreSQL and Redis (as root, with the commands they were
started with): run it on a development machine, never next to anything else using them.
Prints a markdown report (docs/reliability.md keeps the last one).
"""

import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.token_bench import basic, exchange_body, free_port, peak_rss_mib, search, wait_until_serving  # noqa: E402

PYTHON = sys.executable
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/13"
PG_CLUSTER = ["pg_ctlcluster", "--skip-systemctl-redirect"]
REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "--port", "6379", "--save", "",
               "--appendonly", "no"]  # fmt: skip


# --- the services this script stops and starts --------------------------------------------


def pg_cluster() -> list[str]:
    version = sorted(os.listdir("/etc/postgresql"))[0]
    return [*PG_CLUSTER, version, "main"]


def postgres(action: str) -> None:
    subprocess.run([*pg_cluster(), action, *(["-m", "fast"] if action == "stop" else [])], check=True)


def postgres_ready(timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1"]).returncode != 0:
        if time.monotonic() > deadline:
            raise SystemExit("PostgreSQL did not come back")
        time.sleep(0.2)


def redis_stop() -> None:
    subprocess.run(["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], capture_output=True)


def redis_start() -> None:
    subprocess.run(REDIS_START, check=True, capture_output=True)
    deadline = time.monotonic() + 10
    while subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True).returncode != 0:
        if time.monotonic() > deadline:
            raise SystemExit("Redis did not come back")
        time.sleep(0.1)


def wait_answering(url: str, process: subprocess.Popen, timeout: float = 30) -> None:
    """Until ``url`` answers at all (a protected resource answers 401)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{process.args!r} exited")
        if Connection(url.rsplit("/", 1)[0]).get("/" + url.rsplit("/", 1)[1], "")[0]:
            return
        time.sleep(0.2)
    raise SystemExit(f"{url} did not answer within {timeout}s")


def sql(database: str, statement: str) -> list[tuple]:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{database}", autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


# --- one IdP deployment ---------------------------------------------------------------------


@dataclass
class Deployment:
    database: str
    env: dict[str, str]
    base: str = ""
    clients: dict = field(default_factory=dict)
    processes: list[subprocess.Popen] = field(default_factory=list)

    def manage(self, *args: str) -> str:
        # DEBUG for the management commands only: issue_token is a development command.
        env = {**self.env, "DEBUG": "1"}
        return subprocess.run(
            [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
        ).stdout

    def subject_token(self) -> str:
        return self.manage("issue_token", "--user", "alice", "--client", "globoticket-web",
                           "--scope", "shoppingbasket.fullaccess").strip()  # fmt: skip

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def deploy(name: str, *, redis: bool = False, key_cache_seconds: int = 30) -> Deployment:
    database = f"idp_reliability_{name}"
    sql("postgres", f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    sql("postgres", f'CREATE DATABASE "{database}"')
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "IDP_", "REDIS_"))},
        "DJANGO_SETTINGS_MODULE": "idp.settings.base",
        "DEBUG": "0",
        "SECRET_KEY": "reliability-only-" + "x" * 40,
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": "127.0.0.1",
        "IDP_ISSUER": f"http://127.0.0.1:{port}",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "IDP_SIGNING_KEY_CACHE_SECONDS": str(key_cache_seconds),
        # The load comes from one address and three clients: budgets far above it.
        "RATE_LIMIT_CLIENT": "10000000/60",
        "RATE_LIMIT_ADDRESS_FAILURES": "10000000/60",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_THREADS": "4",
    }
    if redis:
        env["REDIS_URL"] = REDIS_URL
    deployment = Deployment(database=database, env=env)
    deployment.manage("migrate", "--noinput")
    deployment.clients = json.loads(deployment.manage("seed_demo", "--json"))["clients"]
    for api, scope in (("eventcatalog", "eventcatalog.read"), ("discount", "discount.fullaccess")):
        created = deployment.manage("create_client", "--name", f"{api}-api", "--resource", api,
                                    "--grant", "client_credentials", "--scope", scope, "--json")  # fmt: skip
        deployment.clients[f"{api}-api"] = json.loads(created)
    server = subprocess.Popen(
        [PYTHON, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "idp.wsgi"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stderr=subprocess.DEVNULL,
    )
    deployment.processes.append(server)
    deployment.base = f"http://127.0.0.1:{port}"
    wait_until_serving(f"{deployment.base}/.well-known/jwks.json", server)
    return deployment


def drop(deployment: Deployment) -> None:
    deployment.stop()
    postgres_ready()
    sql("postgres", f'DROP DATABASE IF EXISTS "{deployment.database}" WITH (FORCE)')


# --- load -----------------------------------------------------------------------------------


@dataclass
class Outcome:
    at: float
    operation: str
    status: int  # 0: no answer (connection error or timeout)
    body: dict
    seconds: float


class Connection:
    """One keep-alive connection; reconnects after a failure."""

    def __init__(self, base: str) -> None:
        self.host, self.port = base.removeprefix("http://").split(":")
        self.conn: http.client.HTTPConnection | None = None

    def post(self, path: str, body: str, authorization: str = "") -> tuple[int, dict]:
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if authorization:
            headers["Authorization"] = authorization
        return self.request("POST", path, body, headers)

    def get(self, path: str, authorization: str) -> tuple[int, dict]:
        return self.request("GET", path, None, {"Authorization": authorization})

    def request(self, method: str, path: str, body: str | None, headers: dict) -> tuple[int, dict]:
        try:
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=15)
            self.conn.request(method, path, body, headers)
            response = self.conn.getresponse()
            raw = response.read()
            try:
                payload = json.loads(raw) if raw else {}
            except ValueError:
                payload = {"_raw": raw[:200].decode(errors="replace")}
            return response.status, payload
        except (OSError, http.client.HTTPException):
            if self.conn is not None:
                self.conn.close()
            self.conn = None
            return 0, {}


Operation = Callable[[Connection], tuple[str, int, dict]]


def run_load(base: str, operations: list[Operation], *, connections: int, seconds: float,
             during: Callable[[float], None] | None = None) -> list[Outcome]:  # fmt: skip
    """``connections`` threads, each cycling through ``operations`` until time is up;
    ``during(elapsed)`` is called about every 100 ms from the main thread (to inject faults)."""
    outcomes: list[Outcome] = []
    lock = threading.Lock()
    started = time.monotonic()
    deadline = started + seconds

    def worker(offset: int) -> None:
        conn, local, i = Connection(base), [], offset
        while time.monotonic() < deadline:
            began = time.monotonic()
            name, status, body = operations[i % len(operations)](conn)
            local.append(Outcome(began - started, name, status, body, time.monotonic() - began))
            i += 1
            if status == 0:
                time.sleep(0.05)  # the server is gone: do not spin
        with lock:
            outcomes.extend(local)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(connections)]
    for thread in threads:
        thread.start()
    while time.monotonic() < deadline:
        if during is not None:
            during(time.monotonic() - started)
        time.sleep(0.1)
    for thread in threads:
        thread.join(30)
    return outcomes


def client_credentials_op(client: dict, scope: str) -> Operation:
    body, auth = urlencode({"grant_type": "client_credentials", "scope": scope}), basic(client)

    def op(conn: Connection) -> tuple[str, int, dict]:
        status, payload = conn.post("/o/token/", body, auth)
        return "client_credentials", status, payload

    return op


def exchange_op(client: dict, subject_token: str) -> Operation:
    body, auth = exchange_body(subject_token), basic(client)

    def op(conn: Connection) -> tuple[str, int, dict]:
        status, payload = conn.post("/o/token/", body, auth)
        return "token_exchange", status, payload

    return op


def introspection_op(api: dict, token: str) -> Operation:
    body, auth = urlencode({"token": token}), basic(api)

    def op(conn: Connection) -> tuple[str, int, dict]:
        status, payload = conn.post("/o/introspect/", body, auth)
        if status == 200 and payload.get("active") is not True:
            status = -1  # answered, but wrongly: counted as a failure
        return "introspection", status, payload

    return op


def issued_tokens(outcomes: list[Outcome]) -> dict[str, list[str]]:
    """Tokens answered 200, by API audience."""
    tokens: dict[str, list[str]] = {"eventcatalog": [], "discount": []}
    for outcome in outcomes:
        if outcome.status == 200 and "access_token" in outcome.body:
            scope = outcome.body.get("scope", "")
            tokens["discount" if scope.startswith("discount") else "eventcatalog"].append(outcome.body["access_token"])
    return tokens


def lost_tokens(deployment: Deployment, tokens: dict[str, list[str]]) -> int:
    """Introspect every issued token as its API, 16 at a time: how many are not active."""
    work = [(deployment.clients[f"{audience}-api"], token) for audience, issued in tokens.items() for token in issued]
    lost: list[str] = []

    def check(chunk: list[tuple[dict, str]]) -> None:
        conn = Connection(deployment.base)
        for api, token in chunk:
            if introspection_op(api, token)(conn)[1] != 200:
                lost.append(token)  # list.append is atomic under the GIL

    threads = [threading.Thread(target=check, args=(work[i::16],)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(lost)


def statuses(outcomes: list[Outcome]) -> str:
    counts = Counter(outcome.status for outcome in outcomes)
    return ", ".join(
        f"{'no answer' if s == 0 else 'wrong answer' if s == -1 else s}: {n:,}" for s, n in sorted(counts.items())
    )


def worker_rss_mib(deployment: Deployment) -> list[float]:
    children = Path(f"/proc/{deployment.processes[0].pid}/task/{deployment.processes[0].pid}/children")
    sizes = []
    for pid in children.read_text().split():
        status = Path(f"/proc/{pid}/status").read_text()
        sizes.append(int(search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024)
    return sizes


def orphaned_rows(deployment: Deployment) -> dict[str, int]:
    """Rows that only a half-finished write could leave behind."""
    db = deployment.database
    return {
        # An exchanged token is written with its audit event in one transaction.
        "exchanged tokens without their audit event": sql(
            db,
            "SELECT (SELECT count(*) FROM oauth_accesstoken WHERE act IS NOT NULL)"
            " - (SELECT count(*) FROM audit_auditevent WHERE event_type = 'token.exchange' AND outcome = 'granted')",
        )[0][0],
        "tokens whose parent is gone": sql(
            db,
            "SELECT count(*) FROM oauth_accesstoken t WHERE t.parent_id IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM oauth_accesstoken p WHERE p.id = t.parent_id)",
        )[0][0],
        "tokens without a checksum": sql(db, "SELECT count(*) FROM oauth_accesstoken WHERE token_checksum = ''")[0][0],
    }


# --- scenarios ------------------------------------------------------------------------------


def mixed_operations(deployment: Deployment) -> list[Operation]:
    clients = deployment.clients
    subject = deployment.subject_token()
    cc = client_credentials_op(clients["eventcatalog-admin"], "eventcatalog.read")
    probe = Connection(deployment.base)
    introspected = cc(probe)[2]["access_token"]
    return [
        cc,
        exchange_op(clients["shoppingbasket"], subject),
        introspection_op(clients["eventcatalog-api"], introspected),
    ]


def scenario_load(report: list[str]) -> bool:
    deployment = deploy("load")
    try:
        operations = mixed_operations(deployment)
        samples: list[tuple[float, list[float]]] = []

        def sample(elapsed: float) -> None:
            if not samples or elapsed - samples[-1][0] >= 5:
                samples.append((elapsed, worker_rss_mib(deployment)))

        outcomes = run_load(deployment.base, operations, connections=64, seconds=60, during=sample)
        server_errors = sum(1 for o in outcomes if o.status >= 500 or o.status <= 0)
        tokens = issued_tokens(outcomes)
        lost = lost_tokens(deployment, tokens)
        early = next(rss for at, rss in samples if at >= 10)
        late = samples[-1][1]
        growth = max(b / a - 1 for a, b in zip(early, late, strict=True))
        by_operation = Counter(o.operation for o in outcomes if o.status == 200)
        latencies = _latencies(outcomes)
        report += [
            "## Load: 60 s, 64 connections, client credentials + token exchange + introspection (PostgreSQL)",
            "",
            f"- requests: {len(outcomes):,} ({len(outcomes) / 60:,.0f}/s); statuses: {statuses(outcomes)}",
            f"- answered 200 by operation: {dict(by_operation)}",
            f"- 5xx or no answer: {server_errors}",
            f"- tokens issued: {sum(map(len, tokens.values())):,}; not found active by introspection: {lost}",
            f"- worker RSS after 10 s: {mib(early)}; at the end: {mib(late)} ({growth:+.1%});"
            f" peak: {mib(peak_rss_mib(deployment.processes[0].pid))}",
            f"- latency p50 / p99: {latencies}",
            "",
        ]
        return server_errors == 0 and lost == 0 and growth < 0.10
    finally:
        drop(deployment)


def mib(sizes: list[float]) -> str:
    return ", ".join(f"{size:.0f}" for size in sizes) + " MiB"


def _latencies(outcomes: list[Outcome]) -> str:
    by_operation: dict[str, list[float]] = {}
    for outcome in outcomes:
        by_operation.setdefault(outcome.operation, []).append(outcome.seconds * 1000)
    parts = []
    for name, values in sorted(by_operation.items()):
        cuts = statistics.quantiles(values, n=100)
        parts.append(f"{name} {cuts[49]:.0f} / {cuts[98]:.0f} ms")
    return "; ".join(parts)


def scenario_postgres(report: list[str]) -> bool:
    deployment = deploy("postgres")
    events: list[str] = []
    try:
        operations = mixed_operations(deployment)[:2]  # token requests: what must not be lost
        state: dict[str, float | None] = {"stopped": None, "started": None}

        def fault(elapsed: float) -> None:
            if state["stopped"] is None and elapsed >= 6:
                postgres("stop")
                state["stopped"] = time.monotonic()
                events.append(f"{elapsed:.1f} s: PostgreSQL stopped")
            elif state["started"] is None and state["stopped"] and elapsed >= 14:
                postgres("start")
                postgres_ready()
                state["started"] = elapsed
                events.append(f"{elapsed:.1f} s: PostgreSQL started")

        outcomes = run_load(deployment.base, operations, connections=16, seconds=30, during=fault)
        back_at = state["started"]
        if back_at is None:  # fault() starts it again at 14 s of the 30, or raises
            raise SystemExit("PostgreSQL was not started again during the run")
        during = [o for o in outcomes if 6.5 <= o.at <= back_at]
        after = [o for o in outcomes if o.at > back_at]
        first_ok = min((o.at for o in after if o.status == 200), default=None)
        bad_during = [o for o in during if o.status not in (200, 503)]
        not_json = [o for o in during if o.status == 503 and o.body.get("error") != "temporarily_unavailable"]
        server_errors = [o for o in outcomes if o.status == 500]
        late_failures = [o for o in after if first_ok is not None and o.at > first_ok + 5 and o.status != 200]
        tokens = issued_tokens(outcomes)
        lost = lost_tokens(deployment, tokens)
        orphans = orphaned_rows(deployment)
        report += [
            "## PostgreSQL stopped for 8 s under load (16 connections, client credentials + token exchange)",
            "",
            *[f"- {event}" for event in events],
            f"- while it was down: {statuses(during)}; 503 answers without the JSON error: {len(not_json)}",
            f"- 500 answers over the whole run: {len(server_errors)}",
            f"- first token after it came back: {first_ok - back_at:.1f} s later"
            if first_ok
            else "- no token after it came back",
            f"- after it came back: {statuses(after)}",
            f"- tokens answered 200: {sum(map(len, tokens.values())):,}; not found active afterwards: {lost}",
            f"- orphaned or half-written rows: {orphans}",
            "",
        ]
        return (
            not bad_during and not not_json and not server_errors and first_ok is not None
            and not late_failures and lost == 0 and not any(orphans.values())
        )  # fmt: skip
    finally:
        postgres_ready()
        drop(deployment)


def scenario_redis(report: list[str]) -> bool:
    deployment = deploy("redis", redis=True)
    events: list[str] = []
    try:
        operations = mixed_operations(deployment)[:2]
        state = {"stopped": False, "started": False}

        def fault(elapsed: float) -> None:
            if not state["stopped"] and elapsed >= 4:
                redis_stop()
                state["stopped"] = True
                events.append(f"{elapsed:.1f} s: Redis stopped")
            elif not state["started"] and elapsed >= 10:
                redis_start()
                state["started"] = True
                events.append(f"{elapsed:.1f} s: Redis started")

        outcomes = run_load(deployment.base, operations, connections=16, seconds=16, during=fault)
        failures = [o for o in outcomes if o.status != 200]
        report += [
            "## Redis stopped for 6 s under load (16 connections, client credentials + token exchange)",
            "",
            *[f"- {event}" for event in events],
            f"- statuses: {statuses(outcomes)}",
            f"- requests not answered 200: {len(failures)}",
            "",
        ]
        return not failures
    finally:
        if subprocess.run(["redis-cli", "-h", "127.0.0.1", "ping"], capture_output=True).returncode != 0:
            redis_start()
        drop(deployment)


def scenario_rotation(report: list[str]) -> bool:
    deployment = deploy("rotation", key_cache_seconds=2)
    try:
        port = free_port()
        service = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "demo.wsgi", "-b", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"],
            cwd=ROOT,
            env={
                **os.environ,
                "DJANGO_SETTINGS_MODULE": "demo.settings",
                "DEMO_SERVICE": "eventcatalog",
                "IDP_URL": deployment.base,
            },  # fmt: skip
            start_new_session=True,
            stderr=subprocess.DEVNULL,
        )
        deployment.processes.append(service)
        wait_answering(f"http://127.0.0.1:{port}/events", service)
        cc = client_credentials_op(deployment.clients["eventcatalog-admin"], "eventcatalog.read")
        kids: Counter = Counter()

        def call_service(conn: Connection) -> tuple[str, int, dict]:
            status, body = cc(conn)[1:]
            if status != 200:
                return "token", status, body
            token = body["access_token"]
            kids[json.loads(_b64(token.split(".")[0]))["kid"]] += 1
            api = Connection(f"http://127.0.0.1:{port}")
            result = api.get("/events", f"Bearer {token}")
            return "eventcatalog", result[0], result[1]

        events: list[str] = []

        def rotate(elapsed: float) -> None:
            if not events and elapsed >= 8:
                deployment.manage("rotate_keys", "--algorithm", "RS256")
                events.append(f"{elapsed:.1f} s: rotate_keys --algorithm RS256")

        outcomes = run_load(deployment.base, [call_service], connections=16, seconds=20, during=rotate)
        failures = [o for o in outcomes if o.status != 200]
        report += [
            "## Key rotation under load (16 connections: a token, then a call to the eventcatalog demo service)",
            "",
            *[f"- {event}" for event in events],
            f"- calls: {len(outcomes):,}; statuses: {statuses(outcomes)}",
            f"- tokens by signing key: {', '.join(f'{kid[:8]}...: {n:,}' for kid, n in kids.items())}",
            f"- validation failures at the resource server: {len(failures)}",
            "",
        ]
        return not failures and len(kids) == 2
    finally:
        drop(deployment)


def _b64(segment: str) -> bytes:
    import base64

    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


SCENARIOS = {
    "load": scenario_load,
    "postgres": scenario_postgres,
    "redis": scenario_redis,
    "rotation": scenario_rotation,
}


def main() -> None:
    names = sys.argv[1:] or list(SCENARIOS)
    report = [f"# Reliability run, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", ""]
    results = {}
    for name in names:
        started = time.monotonic()
        results[name] = SCENARIOS[name](report)
        report.insert(
            len(report) - 1, f"- **{'passed' if results[name] else 'FAILED'}** in {time.monotonic() - started:.0f} s"
        )
    print("\n".join(report))
    print("\n" + ", ".join(f"{name}: {'passed' if ok else 'FAILED'}" for name, ok in results.items()))
    sys.exit(0 if all(results.values()) else 1)


if __name__ == "__main__":
    main()
